//! Loads, stores, atomics, `lddw` and legacy packet loads.

use super::alu::split;
use super::{Emit, Emitter, Loc, Opnd, IP, R0, R1, R2, R3, ST};
use crate::error::JitErrorKind;
use crate::state::{self, off, op};
use crate::thumb::{Cond, Dp, Ins, Width, LR, R};
use nanobpf_core::opcode::*;
use nanobpf_core::Insn;

impl Emitter<'_> {
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
}
