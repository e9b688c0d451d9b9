//! Where BPF registers live in x86-64 registers.
//!
//! | BPF | x86-64 | System V role | why |
//! |---|---|---|---|
//! | r0 | rax | return value | helper results arrive there |
//! | r1 | rdi | caller-saved | |
//! | r2 | rsi | caller-saved | |
//! | r3 | rdx | caller-saved | saved around `div` |
//! | r4 | r9 | caller-saved | not rcx: variable shifts need `cl` |
//! | r5 | r8 | caller-saved | |
//! | r6 | rbx | callee-saved | BPF r6 to r9 survive helper calls, as x86 callee-saved registers do |
//! | r7 | r13 | callee-saved | |
//! | r8 | r14 | callee-saved | |
//! | r9 | r15 | callee-saved | |
//! | r10 | rbp | callee-saved | frame pointer, lowered by 512 per bpf-to-bpf call |
//!
//! Scratch: rcx (shift counts, divisor saves, `cmpxchg` loop operand), r10 and r11 (addresses,
//! blinded immediates, divisors). r12 holds the run state for the whole run.
//!
//! BPF r1 to r5 are clobbered by helper calls in BPF's ABI; the translation stores them for the
//! helper and reloads them afterwards anyway, so results match the interpreter's bit for bit.

use iced_x86::code_asm::registers::gpr16::*;
use iced_x86::code_asm::registers::gpr32::*;
use iced_x86::code_asm::registers::gpr64::*;
use iced_x86::code_asm::registers::gpr8::*;
use iced_x86::code_asm::{AsmRegister16, AsmRegister32, AsmRegister64, AsmRegister8};
use iced_x86::Register;

/// One x86-64 register at every width.
#[derive(Clone, Copy, Debug)]
pub(crate) struct X {
    pub q: AsmRegister64,
    pub d: AsmRegister32,
    pub w: AsmRegister16,
    pub b: AsmRegister8,
}

const fn x(q: AsmRegister64, d: AsmRegister32, w: AsmRegister16, b: AsmRegister8) -> X {
    X { q, d, w, b }
}

/// BPF r0 to r10, indexed by register number.
pub(crate) const BPF: [X; 11] = [
    x(rax, eax, ax, al),
    x(rdi, edi, di, dil),
    x(rsi, esi, si, sil),
    x(rdx, edx, dx, dl),
    x(r9, r9d, r9w, r9b),
    x(r8, r8d, r8w, r8b),
    x(rbx, ebx, bx, bl),
    x(r13, r13d, r13w, r13b),
    x(r14, r14d, r14w, r14b),
    x(r15, r15d, r15w, r15b),
    x(rbp, ebp, bp, bpl),
];

/// Scratch register r11 at every width.
pub(crate) const T: X = x(r11, r11d, r11w, r11b);

/// The run-state register.
pub(crate) const STATE: AsmRegister64 = r12;

/// Registers a memory operand of generated code may be based on: the BPF registers, rsp (the
/// native frame), r12 (the run state), r10 and r11 (computed addresses of atomics and legacy
/// packet loads).
pub(crate) const MEMORY_BASES: [Register; 15] = [
    Register::RAX,
    Register::RDI,
    Register::RSI,
    Register::RDX,
    Register::R9,
    Register::R8,
    Register::RBX,
    Register::R13,
    Register::R14,
    Register::R15,
    Register::RBP,
    Register::RSP,
    Register::R12,
    Register::R10,
    Register::R11,
];

/// The x86 register of BPF register `r` (the decoder guarantees `r <= 10`).
#[inline]
pub(crate) fn bpf(r: u8) -> X {
    BPF[(r as usize).min(10)]
}
