//! ALU and ALU64: arithmetic with RFC 9669 semantics. 32-bit operations work on 32-bit
//! registers, which zero-extends their results; shift counts are masked by the hardware as BPF
//! masks them; division and modulo test for zero (and signed for -1) in code, so the `div` and
//! `idiv` instructions can never fault.

use super::{Emit, Emitter, Src};
use crate::error::JitErrorKind;
use crate::regs::{bpf, T, X};
use iced_x86::code_asm::registers::gpr32::*;
use iced_x86::code_asm::registers::gpr64::*;
use iced_x86::code_asm::registers::gpr8::cl;
use nanobpf_core::opcode::*;
use nanobpf_core::Insn;

/// `op dst, src` at the instruction's width, for the two-operand ALU instructions.
macro_rules! binop {
    ($e:expr, $op:ident, $w64:expr, $d:expr, $s:expr) => {
        match ($w64, $s) {
            (true, Src::R(s)) => $e.a.$op($d.q, s.q)?,
            (true, Src::I(i)) => $e.a.$op($d.q, i)?,
            (false, Src::R(s)) => $e.a.$op($d.d, s.d)?,
            (false, Src::I(i)) => $e.a.$op($d.d, i)?,
        }
    };
}
pub(crate) use binop;

impl Emitter {
    pub(super) fn alu(&mut self, insn: &Insn) -> Emit {
        let w64 = insn.opcode & 0x07 == BPF_ALU64;
        let d = bpf(insn.dst());
        match insn.opcode & 0xf0 {
            BPF_ADD => {
                let s = self.src(insn)?;
                binop!(self, add, w64, d, s)
            }
            BPF_SUB => {
                let s = self.src(insn)?;
                binop!(self, sub, w64, d, s)
            }
            BPF_OR => {
                let s = self.src(insn)?;
                binop!(self, or, w64, d, s)
            }
            BPF_AND => {
                let s = self.src(insn)?;
                binop!(self, and, w64, d, s)
            }
            BPF_XOR => {
                let s = self.src(insn)?;
                binop!(self, xor, w64, d, s)
            }
            BPF_MUL => match (w64, self.src(insn)?) {
                (true, Src::R(s)) => self.a.imul_2(d.q, s.q)?,
                (true, Src::I(i)) => self.a.imul_3(d.q, d.q, i)?,
                (false, Src::R(s)) => self.a.imul_2(d.d, s.d)?,
                (false, Src::I(i)) => self.a.imul_3(d.d, d.d, i)?,
            },
            BPF_DIV | BPF_MOD => self.divmod(insn, w64, d)?,
            BPF_LSH | BPF_RSH | BPF_ARSH => self.shift(insn, w64, d)?,
            BPF_NEG if insn.opcode & BPF_X == 0 => {
                if w64 {
                    self.a.neg(d.q)?
                } else {
                    self.a.neg(d.d)?
                }
            }
            BPF_MOV => self.mov(insn, w64, d)?,
            BPF_END => self.end(insn, w64, d)?,
            _ => return Err(JitErrorKind::Unsupported),
        }
        Ok(())
    }

    fn mov(&mut self, insn: &Insn, w64: bool, d: X) -> Emit {
        if insn.opcode & BPF_X != 0 {
            let s = bpf(insn.src());
            match (w64, insn.off) {
                (true, 0) => self.a.mov(d.q, s.q)?,
                (true, 8) => self.a.movsx(d.q, s.b)?,
                (true, 16) => self.a.movsx(d.q, s.w)?,
                (true, 32) => self.a.movsxd(d.q, s.d)?,
                (false, 0 | 32) => self.a.mov(d.d, s.d)?,
                (false, 8) => self.a.movsx(d.d, s.b)?,
                (false, 16) => self.a.movsx(d.d, s.w)?,
                _ => return Err(JitErrorKind::Unsupported),
            }
            return Ok(());
        }
        let imm = insn.imm;
        match (w64, self.key()) {
            // No BPF instruction reads flags another one set, so the shorter zero idiom may
            // clobber them (at both widths: a 32-bit `xor` clears all 64 bits).
            (_, None) if imm == 0 => self.a.xor(d.d, d.d)?,
            (true, None) => self.mov_sext(d.q, imm)?,
            (false, None) => self.a.mov(d.d, imm as u32)?,
            (true, Some(k)) => {
                self.mov_sext(d.q, imm ^ k as i32)?;
                self.a.xor(d.q, k as i32)?;
            }
            (false, Some(k)) => {
                self.a.mov(d.d, (imm ^ k as i32) as u32)?;
                self.a.xor(d.d, k as i32)?;
            }
        }
        Ok(())
    }

    fn shift(&mut self, insn: &Insn, w64: bool, d: X) -> Emit {
        let op = insn.opcode & 0xf0;
        macro_rules! sh {
            ($dst:expr, $count:expr) => {
                match op {
                    BPF_LSH => self.a.shl($dst, $count)?,
                    BPF_RSH => self.a.shr($dst, $count)?,
                    _ => self.a.sar($dst, $count)?,
                }
            };
        }
        if insn.opcode & BPF_X != 0 {
            self.a.mov(ecx, bpf(insn.src()).d)?;
            if w64 {
                sh!(d.q, cl)
            } else {
                sh!(d.d, cl);
            }
        } else if w64 {
            sh!(d.q, (insn.imm & 63) as u32)
        } else if insn.imm & 31 == 0 {
            self.a.mov(d.d, d.d)?
        } else {
            sh!(d.d, (insn.imm & 31) as u32)
        }
        Ok(())
    }

    fn end(&mut self, insn: &Insn, w64: bool, d: X) -> Emit {
        // ALU64 | END is the unconditional `bswap`; ALU | END | X is `be` (a swap on x86), and
        // ALU | END | K is `le` (a truncation on x86).
        let swap = w64 || insn.opcode & BPF_X != 0;
        match (swap, insn.imm) {
            (false, 16) => self.a.movzx(d.d, d.w)?,
            (false, 32) => self.a.mov(d.d, d.d)?,
            (false, 64) => {}
            (true, 16) => {
                self.a.rol(d.w, 8)?;
                self.a.movzx(d.d, d.w)?;
            }
            (true, 32) => self.a.bswap(d.d)?,
            (true, 64) => self.a.bswap(d.q)?,
            _ => return Err(JitErrorKind::Unsupported),
        }
        Ok(())
    }

    /// Division and modulo. The divisor goes to r11; zero (and -1 when signed) take branches
    /// with the RFC's results; otherwise rax and rdx (BPF r0 and r3) are saved in r10 and rcx
    /// around the `div`.
    fn divmod(&mut self, insn: &Insn, w64: bool, d: X) -> Emit {
        let signed = insn.off == 1;
        if insn.off != 0 && insn.off != 1 {
            return Err(JitErrorKind::Unsupported);
        }
        let is_mod = insn.opcode & 0xf0 == BPF_MOD;
        match self.src(insn)? {
            Src::R(s) if w64 => self.a.mov(T.q, s.q)?,
            Src::R(s) => self.a.mov(T.d, s.d)?,
            Src::I(i) if w64 => self.mov_sext(T.q, i)?,
            Src::I(i) => self.a.mov(T.d, i as u32)?,
        }
        let mut zero = self.a.create_label();
        let mut minus_one = self.a.create_label();
        let mut done = self.a.create_label();
        if w64 {
            self.a.test(T.q, T.q)?;
        } else {
            self.a.test(T.d, T.d)?;
        }
        self.a.je(zero)?;
        if signed {
            if w64 {
                self.a.cmp(T.q, -1)?;
            } else {
                self.a.cmp(T.d, -1)?;
            }
            self.a.je(minus_one)?;
        }
        self.a.mov(r10, rax)?;
        self.a.mov(rcx, rdx)?;
        match (w64, signed) {
            (true, false) => {
                self.a.mov(rax, d.q)?;
                self.a.xor(edx, edx)?;
                self.a.div(T.q)?;
            }
            (true, true) => {
                self.a.mov(rax, d.q)?;
                self.a.cqo()?;
                self.a.idiv(T.q)?;
            }
            (false, false) => {
                self.a.mov(eax, d.d)?;
                self.a.xor(edx, edx)?;
                self.a.div(T.d)?;
            }
            (false, true) => {
                self.a.mov(eax, d.d)?;
                self.a.cdq()?;
                self.a.idiv(T.d)?;
            }
        }
        // The result to r11 (a 32-bit move zero-extends), then restore rax and rdx, then write
        // the destination last so that it wins when it is rax or rdx.
        match (w64, is_mod) {
            (true, false) => self.a.mov(T.q, rax)?,
            (true, true) => self.a.mov(T.q, rdx)?,
            (false, false) => self.a.mov(T.d, eax)?,
            (false, true) => self.a.mov(T.d, edx)?,
        }
        self.a.mov(rax, r10)?;
        self.a.mov(rdx, rcx)?;
        self.a.mov(d.q, T.q)?;
        self.a.jmp(done)?;

        self.bind(&mut zero)?;
        match (is_mod, w64) {
            // x / 0 = 0
            (false, _) => self.a.xor(d.d, d.d)?,
            // x % 0 = x (zero-extended at 32 bits)
            (true, true) => {}
            (true, false) => self.a.mov(d.d, d.d)?,
        }
        if signed {
            self.a.jmp(done)?;
            self.bind(&mut minus_one)?;
            match (is_mod, w64) {
                // x s/ -1 = -x, wrapping (INT_MIN stays INT_MIN)
                (false, true) => self.a.neg(d.q)?,
                (false, false) => self.a.neg(d.d)?,
                // x s% -1 = 0
                (true, _) => self.a.xor(d.d, d.d)?,
            }
        }
        self.bind(&mut done)?;
        Ok(())
    }
}
