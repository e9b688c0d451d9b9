//! Jumps, helper calls, bpf-to-bpf calls and `exit`.

use super::alu::split;
use super::{Emit, Emitter, Loc, Opnd, FP, IP, R0, R1, R2, R3, ST, SUB_FRAME};
use crate::error::JitErrorKind;
use crate::state::{off, MAX_PUSHED_FRAMES, TAIL_CALL};
use crate::thumb::{Cond, Dp, Ins, LR, PC};
use nanobpf_core::opcode::*;
use nanobpf_core::opcode::{CALL, CALLX, EXIT};
use nanobpf_core::Insn;

impl Emitter<'_> {
    /// Jumps, calls and exit.
    pub(super) fn flow(&mut self, insn: &Insn, pc: usize, n: usize) -> Emit {
        let rel_target = |rel: i64| -> Result<usize, JitErrorKind> {
            usize::try_from(pc as i64 + 1 + rel)
                .ok()
                .filter(|&t| t < n)
                .ok_or(JitErrorKind::BadTarget)
        };
        match insn.opcode {
            0x05 => return self.jump(None, rel_target(insn.off as i64)?),
            0x06 => return self.jump(None, rel_target(insn.imm as i64)?),
            EXIT => return self.exit(),
            CALL if insn.src() == CALL_LOCAL => {
                return self.local_call(rel_target(insn.imm as i64)?);
            }
            CALL => return self.helper_call(None, insn.imm as u32),
            CALLX => return self.helper_call(Some(insn.dst()), 0),
            _ => {}
        }
        let t = rel_target(insn.off as i64)?;
        let code = insn.opcode & 0xf0;
        let wide = insn.opcode & 7 == BPF_JMP;
        let reg_src = insn.opcode & BPF_X != 0;
        if !wide {
            let dl = self.lo(insn.dst(), R0)?;
            let s = if reg_src {
                Opnd::R(self.lo(insn.src(), R2)?)
            } else {
                self.opnd(insn.imm as u32, R2)?
            };
            let (op, cond) = match code {
                BPF_JSET => (Dp::And, Cond::Ne),
                _ => (Dp::Sub, cond32(code)?),
            };
            self.flags(op, dl, s)?;
            return self.jump(Some(cond), t);
        }
        // 64-bit: an immediate compared as `a > k` becomes `a >= k + 1` (and so on), so the
        // immediate stays the second operand of `cmp`/`sbcs`.
        let mut code = code;
        let mut imm = split(insn.imm);
        if !reg_src && matches!(code, BPF_JGT | BPF_JLE | BPF_JSGT | BPF_JSLE) {
            let k = insn.imm as i64;
            let unsigned = matches!(code, BPF_JGT | BPF_JLE);
            if unsigned && k == -1 {
                // Nothing is above u64::MAX; everything is at most it.
                return if code == BPF_JGT {
                    Ok(())
                } else {
                    self.jump(None, t)
                };
            }
            let k1 = k.wrapping_add(1);
            imm = (k1 as u32, (k1 >> 32) as u32);
            code = match code {
                BPF_JGT => BPF_JGE,
                BPF_JLE => BPF_JLT,
                BPF_JSGT => BPF_JSGE,
                _ => BPF_JSLT,
            };
        }
        let src_zero = if reg_src {
            self.known_zero_hi(insn.src())
        } else {
            imm.1 == 0
        };
        if src_zero && self.known_zero_hi(insn.dst()) {
            // Both operands are below 2^32: a 32-bit unsigned comparison decides, whatever
            // the signedness of the 64-bit one.
            let dl = self.lo(insn.dst(), R0)?;
            let s = if reg_src {
                Opnd::R(self.lo(insn.src(), R2)?)
            } else {
                self.opnd(imm.0, R2)?
            };
            let (op, cond) = match code {
                BPF_JSET => (Dp::And, Cond::Ne),
                BPF_JSGT => (Dp::Sub, Cond::Hi),
                BPF_JSGE => (Dp::Sub, Cond::Hs),
                BPF_JSLT => (Dp::Sub, Cond::Lo),
                BPF_JSLE => (Dp::Sub, Cond::Ls),
                c => (Dp::Sub, cond32(c)?),
            };
            self.flags(op, dl, s)?;
            return self.jump(Some(cond), t);
        }
        let (dl, dh) = self.pair(insn.dst(), (R0, R1))?;
        let (sl, sh) = if reg_src {
            let (a, b) = self.pair(insn.src(), (R2, R3))?;
            (Opnd::R(a), Opnd::R(b))
        } else {
            (self.opnd(imm.0, R2)?, self.opnd(imm.1, R3)?)
        };
        match code {
            BPF_JEQ => {
                self.flags(Dp::Sub, dl, sl)?;
                self.ins(Ins::Bcc(Cond::Ne, 8))?;
                self.flags(Dp::Sub, dh, sh)?;
                self.jump(Some(Cond::Eq), t)
            }
            BPF_JNE | BPF_JSET => {
                let op = if code == BPF_JSET { Dp::And } else { Dp::Sub };
                self.flags(op, dl, sl)?;
                self.jump(Some(Cond::Ne), t)?;
                self.flags(op, dh, sh)?;
                self.jump(Some(Cond::Ne), t)
            }
            _ => {
                // `cmp lo; sbcs hi` sets C, N and V as a 64-bit subtraction would (not Z).
                let (x, y, cond) = match code {
                    BPF_JGE => ((dl, dh), (sl, sh), Cond::Hs),
                    BPF_JLT => ((dl, dh), (sl, sh), Cond::Lo),
                    BPF_JSGE => ((dl, dh), (sl, sh), Cond::Ge),
                    BPF_JSLT => ((dl, dh), (sl, sh), Cond::Lt),
                    // Register operands only (immediates were rewritten above): b < a.
                    BPF_JGT | BPF_JLE | BPF_JSGT | BPF_JSLE => {
                        let (Opnd::R(a), Opnd::R(b)) = (sl, sh) else {
                            return Err(JitErrorKind::Unsupported);
                        };
                        let cond = match code {
                            BPF_JGT => Cond::Lo,
                            BPF_JLE => Cond::Hs,
                            BPF_JSGT => Cond::Lt,
                            _ => Cond::Ge,
                        };
                        ((a, b), (Opnd::R(dl), Opnd::R(dh)), cond)
                    }
                    _ => return Err(JitErrorKind::Unsupported),
                };
                self.flags(Dp::Sub, x.0, y.0)?;
                self.dp(Dp::Sbc, true, IP, x.1, y.1)?;
                self.jump(Some(cond), t)
            }
        }
    }

    /// `exit`: return r0 from the entry function, or return from a subprogram.
    fn exit(&mut self) -> Emit {
        if !self.in_main {
            return self.ins(Ins::Pop(SUB_FRAME & !(1 << LR) | 1 << PC));
        }
        let (lo, hi) = self.pair(0, (R0, R1))?;
        if (lo, hi) != (R0, R1) {
            self.mov(R0, lo)?;
            self.mov(R1, hi)?;
        }
        self.ins(Ins::Pop(super::SAVED | 1 << PC))
    }

    /// A helper call by id (`reg` `None`) or through a register (`callx`).
    fn helper_call(&mut self, reg: Option<u8>, id: u32) -> Emit {
        // The routine reads r1 to r5 from the state.
        self.flush(1..=5)?;
        let tail = u32::from(reg.is_none() && id == TAIL_CALL);
        let a1 = match reg {
            Some(r) => {
                let l = self.lo(r, R1)?;
                self.mov(R1, l)?;
                None
            }
            None => Some(id),
        };
        let helper = self.routines.helper;
        self.call_routine(helper, a1, Some(tail))?;
        self.forget_args();
        self.stop_check()?;
        self.commit(0, (R0, R1))
    }

    /// A bpf-to-bpf call: the depth check, r6 to r9 saved on the native stack, a new frame.
    fn local_call(&mut self, t: usize) -> Emit {
        self.ldr(IP, ST, off::DEPTH)?;
        self.flags(Dp::Sub, IP, Opnd::I(MAX_PUSHED_FRAMES))?;
        let trap = self.stubs.trap_depth;
        self.b_stub(Cond::Hs, trap)?;
        self.dp(Dp::Add, false, IP, IP, Opnd::I(1))?;
        self.str(IP, ST, off::DEPTH)?;
        for r in 6..=9u8 {
            let (lo, hi) = self.pair(r, (R0, R1))?;
            self.ins(Ins::Push(1 << lo | 1 << hi))?;
        }
        self.dp(Dp::Sub, false, FP, FP, Opnd::I(512))?;
        self.call_local(t)?;
        self.dp(Dp::Add, false, FP, FP, Opnd::I(512))?;
        for r in (6..=9u8).rev() {
            match self.loc(r)? {
                Loc::Pair(lo, hi) => self.ins(Ins::Pop(1 << lo | 1 << hi))?,
                _ => {
                    self.ins(Ins::Pop(1 << R2 | 1 << R3))?;
                    self.commit(r, (R2, R3))?;
                }
            }
        }
        self.ldr(IP, ST, off::DEPTH)?;
        self.dp(Dp::Sub, false, IP, IP, Opnd::I(1))?;
        self.forget_args();
        self.str(IP, ST, off::DEPTH)
    }
}

/// The condition of a 32-bit comparison after `cmp a, b`.
fn cond32(code: u8) -> Result<Cond, JitErrorKind> {
    Ok(match code {
        BPF_JEQ => Cond::Eq,
        BPF_JNE => Cond::Ne,
        BPF_JGT => Cond::Hi,
        BPF_JGE => Cond::Hs,
        BPF_JLT => Cond::Lo,
        BPF_JLE => Cond::Ls,
        BPF_JSGT => Cond::Gt,
        BPF_JSGE => Cond::Ge,
        BPF_JSLT => Cond::Lt,
        BPF_JSLE => Cond::Le,
        _ => return Err(JitErrorKind::Unsupported),
    })
}
