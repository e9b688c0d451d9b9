//! ALU and ALU64: 64-bit operations on register pairs, 32-bit ones on the low word, shifts,
//! division, moves and byte swaps.

use super::{Emit, Emitter, Loc, Opnd, IP, R0, R1, R2, R3, ST};
use crate::error::JitErrorKind;
use crate::state::{off, op};
use crate::thumb::{Cond, Dp, Ins, Sh, LR, PC, R};
use nanobpf_core::opcode::*;
use nanobpf_core::Insn;

/// The two words of an immediate sign-extended to 64 bits.
pub(super) fn split(imm: i32) -> (u32, u32) {
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
}

/// The shift of a shift opcode.
fn shift_kind(code: u8) -> Sh {
    match code {
        BPF_LSH => Sh::Lsl,
        BPF_RSH => Sh::Lsr,
        _ => Sh::Asr,
    }
}
