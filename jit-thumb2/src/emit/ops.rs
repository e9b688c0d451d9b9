//! The translation of each instruction class.

use super::{Emit, Emitter, Loc, Opnd, FP, IP, R0, R1, R2, R3, ST, SUB_FRAME};
use crate::error::JitErrorKind;
use crate::state::{self, off, op, MAX_PUSHED_FRAMES, TAIL_CALL};
use crate::thumb::{Cond, Dp, Ins, Sh, Width, LR, PC, R};
use nanobpf_core::isa::opcode::op::{CALL, CALLX, EXIT};
use nanobpf_core::isa::opcode::*;
use nanobpf_core::Insn;

/// The two words of an immediate sign-extended to 64 bits.
fn split(imm: i32) -> (u32, u32) {
    (imm as u32, (imm >> 31) as u32)
}

impl Emitter<'_> {
    /// ALU and ALU64.
    pub(super) fn alu(&mut self, insn: &Insn) -> Emit {
        let wide = insn.opcode & 7 == BPF_ALU64;
        let d = insn.dst();
        let reg_src = insn.opcode & BPF_X != 0;
        let code = insn.opcode & 0xf0;
        match code {
            BPF_MOV => return self.mov_op(insn, wide),
            BPF_END => return self.end_op(insn),
            BPF_NEG => {
                if wide {
                    let (dl, dh) = self.pair(d, (R0, R1))?;
                    self.dp(Dp::Rsb, true, dl, dl, Opnd::I(0))?;
                    self.ins(Ins::DpReg {
                        op: Dp::Sbc,
                        s: false,
                        rd: dh,
                        rn: dh,
                        rm: dh,
                        sh: Sh::Lsl,
                        n: 1,
                    })?;
                    return self.commit(d, (dl, dh));
                }
                let dl = self.lo(d, R0)?;
                self.dp(Dp::Rsb, false, dl, dl, Opnd::I(0))?;
                return self.commit32(d, dl);
            }
            BPF_DIV | BPF_MOD if wide => return self.div64(insn),
            _ => {}
        }
        if !wide {
            let dl = self.lo(d, R0)?;
            let s = if reg_src {
                Opnd::R(self.lo(insn.src(), R2)?)
            } else {
                match code {
                    BPF_ADD | BPF_SUB | BPF_OR | BPF_AND | BPF_XOR => {
                        self.opnd(insn.imm as u32, R2)?
                    }
                    BPF_LSH | BPF_RSH | BPF_ARSH => Opnd::I(insn.imm as u32 & 31),
                    _ => {
                        self.mov32(R2, insn.imm as u32)?;
                        Opnd::R(R2)
                    }
                }
            };
            self.alu32(code, insn.off, dl, s)?;
            return self.commit32(d, dl);
        }
        let (dl, dh) = self.pair(d, (R0, R1))?;
        let (sl, sh) = if reg_src {
            let (a, b) = self.pair(insn.src(), (R2, R3))?;
            (Opnd::R(a), Opnd::R(b))
        } else {
            let (lo, hi) = split(insn.imm);
            match code {
                BPF_ADD | BPF_SUB | BPF_OR | BPF_AND | BPF_XOR => (self.opnd(lo, R2)?, Opnd::I(hi)),
                BPF_LSH | BPF_RSH | BPF_ARSH => (Opnd::I(lo & 63), Opnd::I(0)),
                _ => {
                    self.mov32(R2, lo)?;
                    self.mov32(R3, hi)?;
                    (Opnd::R(R2), Opnd::R(R3))
                }
            }
        };
        match code {
            BPF_ADD => {
                self.dp(Dp::Add, true, dl, dl, sl)?;
                self.dp(Dp::Adc, false, dh, dh, sh)?;
            }
            BPF_SUB => {
                self.dp(Dp::Sub, true, dl, dl, sl)?;
                self.dp(Dp::Sbc, false, dh, dh, sh)?;
            }
            BPF_OR | BPF_AND | BPF_XOR => {
                let op = match code {
                    BPF_OR => Dp::Orr,
                    BPF_AND => Dp::And,
                    _ => Dp::Eor,
                };
                let src_zero = if reg_src {
                    self.known_zero_hi(insn.src())
                } else {
                    insn.imm >= 0
                };
                let both_zero = src_zero && self.known_zero_hi(d);
                self.dp(op, false, dl, dl, sl)?;
                match (code, sh) {
                    (BPF_OR | BPF_XOR, Opnd::I(0)) | (BPF_AND, Opnd::I(u32::MAX)) => {}
                    _ if both_zero => {}
                    _ => self.dp(op, false, dh, dh, sh)?,
                }
                let zero = both_zero || (code == BPF_AND && src_zero);
                self.commit(d, (dl, dh))?;
                self.set_zero_hi(d, zero);
                return Ok(());
            }
            BPF_MUL => {
                let (Opnd::R(sl), Opnd::R(sh)) = (sl, sh) else {
                    return Err(JitErrorKind::Unsupported);
                };
                self.ins(Ins::Umull {
                    lo: IP,
                    hi: LR,
                    rn: dl,
                    rm: sl,
                })?;
                self.ins(Ins::Mla {
                    rd: LR,
                    rn: dl,
                    rm: sh,
                    ra: LR,
                })?;
                self.ins(Ins::Mla {
                    rd: LR,
                    rn: dh,
                    rm: sl,
                    ra: LR,
                })?;
                return self.commit(d, (IP, LR));
            }
            BPF_LSH | BPF_RSH | BPF_ARSH => match sl {
                Opnd::I(n) => self.shift64_imm(code, dl, dh, n as u8)?,
                Opnd::R(r) => self.shift64_reg(code, dl, dh, r)?,
            },
            _ => return Err(JitErrorKind::Unsupported),
        }
        self.commit(d, (dl, dh))
    }

    /// A 32-bit operation on `dl` (the result is left in `dl`).
    fn alu32(&mut self, code: u8, off: i16, dl: R, s: Opnd) -> Emit {
        let simple = |c| match c {
            BPF_ADD => Some(Dp::Add),
            BPF_SUB => Some(Dp::Sub),
            BPF_OR => Some(Dp::Orr),
            BPF_AND => Some(Dp::And),
            BPF_XOR => Some(Dp::Eor),
            _ => None,
        };
        if let Some(op) = simple(code) {
            return self.dp(op, false, dl, dl, s);
        }
        match (code, s) {
            (BPF_LSH | BPF_RSH | BPF_ARSH, Opnd::I(n)) => {
                let sh = shift_kind(code);
                if n != 0 {
                    self.dp_sh(Dp::Orr, dl, PC, dl, sh, n as u8)?;
                }
                Ok(())
            }
            (BPF_LSH | BPF_RSH | BPF_ARSH, Opnd::R(r)) => {
                self.dp(Dp::And, false, IP, r, Opnd::I(31))?;
                self.ins(Ins::ShReg {
                    sh: shift_kind(code),
                    rd: dl,
                    rn: dl,
                    rm: IP,
                })
            }
            (BPF_MUL, Opnd::R(r)) => self.ins(Ins::Mul {
                rd: dl,
                rn: dl,
                rm: r,
            }),
            (BPF_DIV | BPF_MOD, Opnd::R(r)) => {
                // Division by zero gives 0 without relying on the core's DIV_0_TRP setting;
                // modulo is `d - (d / s) * s`, which leaves `d` for a zero divisor.
                self.mov32(IP, 0)?;
                self.flags(Dp::Sub, r, Opnd::I(0))?;
                self.ins(Ins::Bcc(Cond::Eq, 4))?;
                self.ins(Ins::Div {
                    signed: off != 0,
                    rd: IP,
                    rn: dl,
                    rm: r,
                })?;
                if code == BPF_DIV {
                    self.mov(dl, IP)
                } else {
                    self.ins(Ins::Mls {
                        rd: dl,
                        rn: IP,
                        rm: r,
                        ra: dl,
                    })
                }
            }
            _ => Err(JitErrorKind::Unsupported),
        }
    }

    /// 64-bit shift by a constant `n` (0 to 63) of `dl:dh`.
    fn shift64_imm(&mut self, code: u8, dl: R, dh: R, n: u8) -> Emit {
        if n == 0 {
            return Ok(());
        }
        match code {
            BPF_LSH if n < 32 => {
                self.dp_sh(Dp::Orr, dh, PC, dh, Sh::Lsl, n)?;
                self.dp_sh(Dp::Orr, dh, dh, dl, Sh::Lsr, 32 - n)?;
                self.dp_sh(Dp::Orr, dl, PC, dl, Sh::Lsl, n)
            }
            BPF_LSH => {
                self.dp_sh(Dp::Orr, dh, PC, dl, Sh::Lsl, n - 32)?;
                self.mov32(dl, 0)
            }
            BPF_RSH | BPF_ARSH if n < 32 => {
                self.dp_sh(Dp::Orr, dl, PC, dl, Sh::Lsr, n)?;
                self.dp_sh(Dp::Orr, dl, dl, dh, Sh::Lsl, 32 - n)?;
                self.dp_sh(Dp::Orr, dh, PC, dh, shift_kind(code), n)
            }
            BPF_RSH => {
                if n == 32 {
                    self.mov(dl, dh)?;
                } else {
                    self.dp_sh(Dp::Orr, dl, PC, dh, Sh::Lsr, n - 32)?;
                }
                self.mov32(dh, 0)
            }
            BPF_ARSH => {
                if n == 32 {
                    self.mov(dl, dh)?;
                } else {
                    self.dp_sh(Dp::Orr, dl, PC, dh, Sh::Asr, n - 32)?;
                }
                self.dp_sh(Dp::Orr, dh, PC, dh, Sh::Asr, 31)
            }
            _ => Err(JitErrorKind::Unsupported),
        }
    }

    /// 64-bit shift of `dl:dh` by register `r` (masked to 6 bits). Register-specified shifts
    /// use the count's low byte, and a count of 32 or more gives 0 (lsl, lsr), which the
    /// sequences rely on.
    fn shift64_reg(&mut self, code: u8, dl: R, dh: R, r: R) -> Emit {
        let sh = |e: &mut Self, sh, rd, rn, rm| e.ins(Ins::ShReg { sh, rd, rn, rm });
        self.dp(Dp::And, false, IP, r, Opnd::I(63))?;
        let (first, second, near, far) = if code == BPF_LSH {
            (dh, dl, Sh::Lsl, Sh::Lsr)
        } else {
            (dl, dh, Sh::Lsr, Sh::Lsl)
        };
        // first = (first <near> n) | (second <far> (32 - n)) | (second <near> (n - 32)).
        sh(self, near, first, first, IP)?;
        self.dp(Dp::Rsb, false, LR, IP, Opnd::I(32))?;
        sh(self, far, LR, second, LR)?;
        self.dp(Dp::Orr, false, first, first, Opnd::R(LR))?;
        if code == BPF_ARSH {
            // For n >= 32 the low word is the high word shifted arithmetically by n - 32.
            self.dp(Dp::Sub, true, LR, IP, Opnd::I(32))?;
            self.ins(Ins::Bcc(Cond::Mi, 4))?;
            sh(self, Sh::Asr, dl, dh, LR)?;
            return sh(self, Sh::Asr, dh, dh, IP);
        }
        self.dp(Dp::Sub, false, LR, IP, Opnd::I(32))?;
        sh(self, near, LR, second, LR)?;
        self.dp(Dp::Orr, false, first, first, Opnd::R(LR))?;
        sh(self, near, second, second, IP)
    }

    /// 64-bit division and modulo, through the support routine.
    fn div64(&mut self, insn: &Insn) -> Emit {
        let d = insn.dst();
        let (dl, dh) = self.pair(d, (R0, R1))?;
        self.dual(false, dl, dh, ST, off::A)?;
        if insn.opcode & BPF_X != 0 {
            let (sl, sh) = self.pair(insn.src(), (R2, R3))?;
            self.dual(false, sl, sh, ST, off::B)?;
        } else {
            let (lo, hi) = split(insn.imm);
            self.mov32(R2, lo)?;
            self.mov32(R3, hi)?;
            self.dual(false, R2, R3, ST, off::B)?;
        }
        let code = match (insn.opcode & 0xf0, insn.off != 0) {
            (BPF_DIV, false) => op::UDIV64,
            (BPF_DIV, true) => op::SDIV64,
            (_, false) => op::UMOD64,
            (_, true) => op::SMOD64,
        };
        let support = self.routines.support;
        self.call_routine(support, Some(code), None)?;
        self.commit(d, (R0, R1))
    }

    /// `mov`, `mov32` and the sign-extending moves.
    fn mov_op(&mut self, insn: &Insn, wide: bool) -> Emit {
        let d = insn.dst();
        if insn.opcode & BPF_X == 0 {
            let (lo, hi) = split(insn.imm);
            let hi = if wide { hi } else { 0 };
            match self.loc(d)? {
                Loc::Pair(pl, ph) => {
                    self.mov32(pl, lo)?;
                    if !(hi == 0 && self.known_zero_hi(d)) {
                        self.mov32(ph, hi)?;
                    }
                }
                _ => {
                    self.mov32(R0, lo)?;
                    self.mov32(R1, hi)?;
                    self.commit(d, (R0, R1))?;
                }
            }
            self.set_zero_hi(d, hi == 0);
            return Ok(());
        }
        let s = insn.src();
        match (wide, insn.off) {
            (true, 0) => {
                let zero = self.known_zero_hi(s);
                let p = self.pair(s, (R0, R1))?;
                self.commit(d, p)?;
                self.set_zero_hi(d, zero);
                Ok(())
            }
            (false, 0) => {
                let sl = self.lo(s, R0)?;
                self.commit32(d, sl)
            }
            (_, bits @ (8 | 16 | 32)) => {
                let sl = self.lo(s, R0)?;
                let lo = if bits == 32 {
                    sl
                } else {
                    self.ins(Ins::Ext {
                        signed: true,
                        half: bits == 16,
                        rd: R0,
                        rm: sl,
                    })?;
                    R0
                };
                if wide {
                    self.commit_sext(d, lo)
                } else {
                    self.commit32(d, lo)
                }
            }
            _ => Err(JitErrorKind::Unsupported),
        }
    }

    /// Byte order conversions and swaps.
    fn end_op(&mut self, insn: &Insn) -> Emit {
        let d = insn.dst();
        let swap = insn.opcode != 0xd4;
        match (insn.imm, swap) {
            (16, _) => {
                let dl = self.lo(d, R0)?;
                if swap {
                    self.ins(Ins::Rev {
                        half: true,
                        rd: dl,
                        rm: dl,
                    })?;
                }
                self.ins(Ins::Ext {
                    signed: false,
                    half: true,
                    rd: dl,
                    rm: dl,
                })?;
                self.commit32(d, dl)
            }
            (32, _) => {
                let dl = self.lo(d, R0)?;
                if swap {
                    self.ins(Ins::Rev {
                        half: false,
                        rd: dl,
                        rm: dl,
                    })?;
                }
                self.commit32(d, dl)
            }
            (64, false) => Ok(()),
            (64, true) => {
                let (dl, dh) = self.pair(d, (R0, R1))?;
                self.ins(Ins::Rev {
                    half: false,
                    rd: IP,
                    rm: dh,
                })?;
                self.ins(Ins::Rev {
                    half: false,
                    rd: LR,
                    rm: dl,
                })?;
                self.commit(d, (IP, LR))
            }
            _ => Err(JitErrorKind::Unsupported),
        }
    }

    /// `base + off` as a register and an offset that `[reg, #off]` (and `#off + 4` when
    /// `wide`) can encode.
    fn address(
        &mut self,
        base: R,
        off: i16,
        wide: bool,
        scratch: R,
    ) -> Result<(R, i32), JitErrorKind> {
        let off = off as i32;
        let last = if wide { off + 4 } else { off };
        if (-255..=4095).contains(&off) && (-255..=4095).contains(&last) {
            return Ok((base, off));
        }
        let o = self.opnd(off as u32, scratch)?;
        self.dp(Dp::Add, false, scratch, base, o)?;
        Ok((scratch, 0))
    }

    /// `ldx` and the sign-extending loads.
    pub(super) fn load(&mut self, insn: &Insn) -> Emit {
        let d = insn.dst();
        let size = insn.opcode & 0x18;
        let signed = insn.opcode & 0xe0 == BPF_MEMSX;
        if insn.opcode & 0xe0 != BPF_MEM && !signed {
            return Err(JitErrorKind::Unsupported);
        }
        let base = self.lo(insn.src(), R2)?;
        let (base, o) = self.address(base, insn.off, size == BPF_DW, IP)?;
        let loc = self.loc(d)?;
        let (tl, th) = match loc {
            Loc::Pair(pl, ph) => (pl, ph),
            _ => (R0, R1),
        };
        if size == BPF_DW {
            // The high word first: the base may be the destination's low word.
            self.mem(true, false, Width::W, th, base, o + 4)?;
            self.mem(true, false, Width::W, tl, base, o)?;
            return self.commit(d, (tl, th));
        }
        let w = match size {
            BPF_W => Width::W,
            BPF_H => Width::H,
            _ => Width::B,
        };
        self.mem(true, signed && w != Width::W, w, tl, base, o)?;
        if signed {
            self.commit_sext(d, tl)
        } else {
            self.commit32(d, tl)
        }
    }

    /// `st`, `stx` and atomics.
    pub(super) fn store(&mut self, insn: &Insn) -> Emit {
        let mode = insn.opcode & 0xe0;
        let size = insn.opcode & 0x18;
        if mode == BPF_ATOMIC {
            return self.atomic(insn);
        }
        if mode != BPF_MEM {
            return Err(JitErrorKind::Unsupported);
        }
        let wide = size == BPF_DW;
        let (vl, vh) = if insn.opcode & 7 == BPF_STX {
            if wide {
                self.pair(insn.src(), (R0, R1))?
            } else {
                (self.lo(insn.src(), R0)?, R1)
            }
        } else {
            let (lo, hi) = split(insn.imm);
            self.mov32(R0, lo)?;
            if wide {
                self.mov32(R1, hi)?;
            }
            (R0, R1)
        };
        let base = self.lo(insn.dst(), R2)?;
        let (base, o) = self.address(base, insn.off, wide, IP)?;
        let w = match size {
            BPF_B => Width::B,
            BPF_H => Width::H,
            _ => Width::W,
        };
        self.mem(false, false, w, vl, base, o)?;
        if wide {
            self.mem(false, false, Width::W, vh, base, o + 4)?;
        }
        Ok(())
    }

    /// Atomics, inline: 32-bit ones as `ldrex`/`strex` loops, 64-bit ones under a lock word
    /// (Cortex-M has no 64-bit exclusive access), both between `dmb`s. A misaligned address
    /// traps, as in the interpreter.
    fn atomic(&mut self, insn: &Insn) -> Emit {
        let wide = insn.opcode & 0x18 == BPF_DW;
        let op = insn.imm;
        let base = self.lo(insn.dst(), R2)?;
        let o = self.opnd(insn.off as i32 as u32, IP)?;
        self.dp(Dp::Add, false, IP, base, o)?;
        self.flags(Dp::And, IP, Opnd::I(if wide { 7 } else { 3 }))?;
        let misaligned = self.stubs.trap_misaligned;
        self.b_stub(Cond::Ne, misaligned)?;
        let arith = match op & !ATOMIC_FETCH {
            ATOMIC_ADD => Some(Dp::Add),
            ATOMIC_OR => Some(Dp::Orr),
            ATOMIC_AND => Some(Dp::And),
            ATOMIC_XOR => Some(Dp::Eor),
            _ => None,
        };
        let cmpxchg = op == ATOMIC_CMPXCHG;
        if arith.is_none() && !cmpxchg && op != ATOMIC_XCHG {
            return Err(JitErrorKind::Unsupported);
        }
        if wide {
            self.atomic64(insn, arith)?;
        } else {
            self.atomic32(insn, arith)?;
        }
        let fetched = if cmpxchg {
            Some(0)
        } else if op & ATOMIC_FETCH != 0 {
            Some(insn.src())
        } else {
            None
        };
        match (fetched, wide) {
            (Some(r), true) => self.commit(r, (R0, R1)),
            (Some(r), false) => self.commit32(r, R0),
            (None, _) => Ok(()),
        }
    }

    /// The 32-bit loop on the address in r12; the old value ends in r0.
    fn atomic32(&mut self, insn: &Insn, arith: Option<Dp>) -> Emit {
        let src = self.lo(insn.src(), R2)?;
        let expected = if insn.imm == ATOMIC_CMPXCHG {
            Some(self.lo(0, R3)?)
        } else {
            None
        };
        self.ins(Ins::Dmb)?;
        let top = self.pos as u32;
        self.ins(Ins::Ldrex { rt: R0, rn: IP })?;
        let value = match (arith, expected) {
            (_, Some(e)) => {
                // Not equal: no store; skip the store, its test and the branch back.
                self.flags(Dp::Sub, R0, Opnd::R(e))?;
                self.ins(Ins::Bcc(Cond::Ne, 12))?;
                src
            }
            (Some(op), None) => {
                self.dp(op, false, R1, R0, Opnd::R(src))?;
                R1
            }
            (None, None) => src,
        };
        self.ins(Ins::Strex {
            rd: LR,
            rt: value,
            rn: IP,
        })?;
        self.flags(Dp::Sub, LR, Opnd::I(0))?;
        self.b_stub(Cond::Ne, top)?;
        self.ins(Ins::Dmb)
    }

    /// The 64-bit update of the address in r12 under the lock word; the old value ends in
    /// r0:r1.
    fn atomic64(&mut self, insn: &Insn, arith: Option<Dp>) -> Emit {
        let (sl, sh) = self.pair(insn.src(), (R2, R3))?;
        self.mov(R2, sl)?;
        self.mov(R3, sh)?;
        let lock = self.routines.lock64;
        self.mov32(LR, lock)?;
        let top = self.pos as u32;
        self.ins(Ins::Ldrex { rt: R0, rn: LR })?;
        self.flags(Dp::Sub, R0, Opnd::I(0))?;
        self.b_stub(Cond::Ne, top)?;
        self.mov32(R0, 1)?;
        self.ins(Ins::Strex {
            rd: R1,
            rt: R0,
            rn: LR,
        })?;
        self.flags(Dp::Sub, R1, Opnd::I(0))?;
        self.b_stub(Cond::Ne, top)?;
        self.ins(Ins::Dmb)?;
        self.dual(true, R0, R1, IP, 0)?;
        match arith {
            Some(Dp::Add) => {
                self.dp(Dp::Add, true, R2, R0, Opnd::R(R2))?;
                self.dp(Dp::Adc, false, R3, R1, Opnd::R(R3))?;
            }
            Some(op) => {
                self.dp(op, false, R2, R0, Opnd::R(R2))?;
                self.dp(op, false, R3, R1, Opnd::R(R3))?;
            }
            None if insn.imm == ATOMIC_CMPXCHG => match self.loc(0)? {
                Loc::Pair(el, eh) => {
                    self.flags(Dp::Sub, R0, Opnd::R(el))?;
                    self.ins(Ins::Bcc(Cond::Ne, 12))?;
                    self.flags(Dp::Sub, R1, Opnd::R(eh))?;
                    self.ins(Ins::Bcc(Cond::Ne, 4))?;
                }
                _ => {
                    self.ldr(LR, ST, state::reg(0))?;
                    self.flags(Dp::Sub, R0, Opnd::R(LR))?;
                    self.ins(Ins::Bcc(Cond::Ne, 16))?;
                    self.ldr(LR, ST, state::reg(0) + 4)?;
                    self.flags(Dp::Sub, R1, Opnd::R(LR))?;
                    self.ins(Ins::Bcc(Cond::Ne, 4))?;
                }
            },
            None => {}
        }
        self.dual(false, R2, R3, IP, 0)?;
        self.ins(Ins::Dmb)?;
        self.mov32(LR, lock)?;
        self.mov32(R2, 0)?;
        self.str(R2, LR, 0)
    }

    /// `lddw` with its value resolved at compile time.
    pub(super) fn lddw(&mut self, d: u8, v: u64) -> Emit {
        match self.loc(d)? {
            Loc::Pair(pl, ph) => {
                self.mov32(pl, v as u32)?;
                self.mov32(ph, (v >> 32) as u32)?;
            }
            _ => {
                self.mov32(R0, v as u32)?;
                self.mov32(R1, (v >> 32) as u32)?;
                self.commit(d, (R0, R1))?;
            }
        }
        self.set_zero_hi(d, v >> 32 == 0);
        Ok(())
    }

    /// Legacy packet loads, through the support routine (out of bounds ends the run with 0).
    pub(super) fn packet_load(&mut self, insn: &Insn) -> Emit {
        let size: u32 = match insn.opcode & 0x18 {
            BPF_W => 4,
            BPF_H => 2,
            BPF_B => 1,
            _ => return Err(JitErrorKind::Unsupported),
        };
        match insn.opcode & 0xe0 {
            BPF_ABS => self.mov32(IP, insn.imm as u32)?,
            BPF_IND => {
                let base = self.lo(insn.src(), IP)?;
                let o = self.opnd(insn.imm as u32, LR)?;
                self.dp(Dp::Add, false, IP, base, o)?;
            }
            _ => return Err(JitErrorKind::Unsupported),
        }
        self.str(IP, ST, off::A)?;
        let support = self.routines.support;
        self.call_routine(support, Some(op::PACKET | size << 8), None)?;
        self.stop_check()?;
        self.commit(0, (R0, R1))
    }

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

/// The shift of a shift opcode.
fn shift_kind(code: u8) -> Sh {
    match code {
        BPF_LSH => Sh::Lsl,
        BPF_RSH => Sh::Lsr,
        _ => Sh::Asr,
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
