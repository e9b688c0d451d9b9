//! Loads, stores, atomics, `lddw` and legacy packet loads.
//!
//! Ordinary accesses use the BPF register as the base, with no check: the verifier proved
//! them in bounds. Atomics compute their address in r10 and check its alignment (the
//! interpreter traps on a misaligned atomic, so the JIT does too). Legacy packet loads check
//! the offset against the packet in the run state and end the program with r0 = 0 when out of
//! bounds, as Linux does.

use super::{Emit, Emitter, Src};
use crate::error::JitErrorKind;
use crate::native::off;
use crate::regs::{bpf, STATE, T};
use iced_x86::code_asm::registers::gpr16::ax;
use iced_x86::code_asm::registers::gpr32::*;
use iced_x86::code_asm::registers::gpr64::*;
use iced_x86::code_asm::registers::gpr8::r10b;
use iced_x86::code_asm::{byte_ptr, dword_ptr, qword_ptr, word_ptr};
use nanobpf_core::opcode::*;
use nanobpf_core::Insn;

impl Emitter {
    /// `ldx` and `ldxs` (sign-extending).
    pub(super) fn load(&mut self, insn: &Insn) -> Emit {
        let d = bpf(insn.dst());
        let m = bpf(insn.src()).q + insn.off as i32;
        match (insn.opcode & 0xe0, insn.opcode & 0x18) {
            (BPF_MEM, BPF_DW) => self.a.mov(d.q, qword_ptr(m))?,
            (BPF_MEM, BPF_W) => self.a.mov(d.d, dword_ptr(m))?,
            (BPF_MEM, BPF_H) => self.a.movzx(d.d, word_ptr(m))?,
            (BPF_MEM, BPF_B) => self.a.movzx(d.d, byte_ptr(m))?,
            (BPF_MEMSX, BPF_W) => self.a.movsxd(d.q, dword_ptr(m))?,
            (BPF_MEMSX, BPF_H) => self.a.movsx(d.q, word_ptr(m))?,
            (BPF_MEMSX, BPF_B) => self.a.movsx(d.q, byte_ptr(m))?,
            _ => return Err(JitErrorKind::Unsupported),
        }
        Ok(())
    }

    /// `st`, `stx` and atomics.
    pub(super) fn store(&mut self, insn: &Insn) -> Emit {
        let size = insn.opcode & 0x18;
        let mode = insn.opcode & 0xe0;
        let m = bpf(insn.dst()).q + insn.off as i32;
        if mode == BPF_ATOMIC && insn.opcode & 0x07 == BPF_STX {
            return self.atomic(insn);
        }
        if mode != BPF_MEM {
            return Err(JitErrorKind::Unsupported);
        }
        let s = if insn.opcode & 0x07 == BPF_STX {
            Src::R(bpf(insn.src()))
        } else {
            self.imm(insn.imm)?
        };
        match (size, s) {
            (BPF_DW, Src::R(s)) => self.a.mov(qword_ptr(m), s.q)?,
            (BPF_W, Src::R(s)) => self.a.mov(dword_ptr(m), s.d)?,
            (BPF_H, Src::R(s)) => self.a.mov(word_ptr(m), s.w)?,
            (_, Src::R(s)) => self.a.mov(byte_ptr(m), s.b)?,
            (BPF_DW, Src::I(i)) => self.a.mov(qword_ptr(m), i)?,
            (BPF_W, Src::I(i)) => self.a.mov(dword_ptr(m), i)?,
            (BPF_H, Src::I(i)) => self.a.mov(word_ptr(m), i as u16 as u32)?,
            (_, Src::I(i)) => self.a.mov(byte_ptr(m), i as u8 as u32)?,
        }
        Ok(())
    }

    fn atomic(&mut self, insn: &Insn) -> Emit {
        let w64 = match insn.opcode & 0x18 {
            BPF_DW => true,
            BPF_W => false,
            _ => return Err(JitErrorKind::Unsupported),
        };
        let s = bpf(insn.src());
        let op = insn.imm;
        self.a.lea(r10, bpf(insn.dst()).q + insn.off as i32)?;
        self.a.test(r10b, if w64 { 7 } else { 3 })?;
        self.a.jne(self.trap_misaligned)?;
        let m = if w64 { qword_ptr(r10) } else { dword_ptr(r10) };
        macro_rules! w {
            ($f:ident($($pre:ident)?, $a:expr, $b:expr)) => {
                self.a$(.$pre())?.$f($a, $b)?
            };
        }
        match op {
            ATOMIC_ADD | ATOMIC_OR | ATOMIC_AND | ATOMIC_XOR => match (op, w64) {
                (ATOMIC_ADD, true) => w!(add(lock, m, s.q)),
                (ATOMIC_ADD, false) => w!(add(lock, m, s.d)),
                (ATOMIC_OR, true) => w!(or(lock, m, s.q)),
                (ATOMIC_OR, false) => w!(or(lock, m, s.d)),
                (ATOMIC_AND, true) => w!(and(lock, m, s.q)),
                (ATOMIC_AND, false) => w!(and(lock, m, s.d)),
                (_, true) => w!(xor(lock, m, s.q)),
                (_, false) => w!(xor(lock, m, s.d)),
            },
            // Fetching add and exchange: the old value comes back in r11 (zero-extended at 32
            // bits) and goes to the source register.
            0x01 | ATOMIC_XCHG => {
                if w64 {
                    self.a.mov(T.q, s.q)?;
                    if op == ATOMIC_XCHG {
                        self.a.xchg(m, T.q)?;
                    } else {
                        self.a.lock().xadd(m, T.q)?;
                    }
                    self.a.mov(s.q, T.q)?;
                } else {
                    self.a.mov(T.d, s.d)?;
                    if op == ATOMIC_XCHG {
                        self.a.xchg(m, T.d)?;
                    } else {
                        self.a.lock().xadd(m, T.d)?;
                    }
                    self.a.mov(s.d, T.d)?;
                }
            }
            // Compare with r0 (rax), old value to r0 (zero-extended at 32 bits).
            ATOMIC_CMPXCHG => {
                if w64 {
                    self.a.mov(T.q, s.q)?;
                    self.a.lock().cmpxchg(m, T.q)?;
                } else {
                    self.a.mov(T.d, s.d)?;
                    self.a.lock().cmpxchg(m, T.d)?;
                    self.a.mov(eax, eax)?;
                }
            }
            // Fetching or/and/xor: a cmpxchg loop with r0 spilled to the run state.
            0x41 | 0x51 | 0xa1 => {
                let mut again = self.a.create_label();
                if w64 {
                    self.a.mov(rcx, s.q)?;
                } else {
                    self.a.mov(ecx, s.d)?;
                }
                self.a.mov(qword_ptr(STATE + off::SPILL), rax)?;
                if w64 {
                    self.a.mov(rax, m)?;
                } else {
                    self.a.mov(eax, m)?;
                }
                self.bind(&mut again)?;
                self.a.mov(T.q, rax)?;
                match op & !ATOMIC_FETCH {
                    ATOMIC_OR => self.a.or(T.q, rcx)?,
                    ATOMIC_AND => self.a.and(T.q, rcx)?,
                    _ => self.a.xor(T.q, rcx)?,
                }
                if w64 {
                    self.a.lock().cmpxchg(m, T.q)?;
                } else {
                    self.a.lock().cmpxchg(m, T.d)?;
                }
                self.a.jne(again)?;
                if w64 {
                    self.a.mov(s.q, rax)?;
                } else {
                    self.a.mov(s.d, eax)?;
                }
                if insn.src() != 0 {
                    self.a.mov(rax, qword_ptr(STATE + off::SPILL))?;
                }
            }
            _ => return Err(JitErrorKind::Unsupported),
        }
        Ok(())
    }

    /// `lddw dst, v` with `v` resolved at compile time.
    pub(super) fn lddw(&mut self, dst: u8, v: u64) -> Emit {
        let d = bpf(dst);
        match self.key() {
            None => self.mov_u64(d, v),
            Some(k) => {
                let k = k as i32;
                self.a.mov(d.q, v ^ (k as i64 as u64))?;
                self.a.xor(d.q, k)?;
                Ok(())
            }
        }
    }

    /// `LD_ABS` / `LD_IND`: r0 = the big-endian 1, 2 or 4 bytes at the offset in the packet, or
    /// return 0 from the program when they are not all inside it.
    pub(super) fn packet_load(&mut self, insn: &Insn) -> Emit {
        let n: i32 = match insn.opcode & 0x18 {
            BPF_W => 4,
            BPF_H => 2,
            BPF_B => 1,
            _ => return Err(JitErrorKind::Unsupported),
        };
        // r11 = offset, a 32-bit sum as in the interpreter.
        match (insn.opcode & 0xe0, self.key()) {
            (BPF_ABS, None) => self.a.mov(T.d, insn.imm as u32)?,
            (BPF_ABS, Some(_)) => {
                self.imm(insn.imm)?;
                self.a.mov(T.d, T.d)?;
            }
            (BPF_IND, key) => {
                if key.is_some() {
                    self.imm(insn.imm)?;
                    self.a.add(T.d, bpf(insn.src()).d)?;
                } else {
                    self.a.mov(T.d, bpf(insn.src()).d)?;
                    self.a.add(T.d, insn.imm)?;
                }
            }
            _ => return Err(JitErrorKind::Unsupported),
        }
        // In bounds iff len >= n and off <= len - n (both unsigned).
        self.a.mov(r10, qword_ptr(STATE + off::PKT_LEN))?;
        self.a.sub(r10, n)?;
        self.a.jb(self.ret_zero)?;
        self.a.cmp(T.q, r10)?;
        self.a.ja(self.ret_zero)?;
        self.a.add(T.q, qword_ptr(STATE + off::PKT_START))?;
        match n {
            4 => {
                self.a.mov(eax, dword_ptr(T.q))?;
                self.a.bswap(eax)?;
            }
            2 => {
                self.a.movzx(eax, word_ptr(T.q))?;
                self.a.rol(ax, 8)?;
            }
            _ => self.a.movzx(eax, byte_ptr(T.q))?,
        }
        Ok(())
    }
}
