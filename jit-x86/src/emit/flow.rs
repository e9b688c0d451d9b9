//! Jumps, calls and `exit`.
//!
//! - Jumps compare at 64 bits (`JMP`) or 32 bits (`JMP32`) and branch to the label of the
//!   target slot; the assembler picks rel8 or rel32.
//! - Helper calls store r1 to r5 in the run state and call the trampoline through rax (the one
//!   indirect call of the code, to a constant address); a trap unwinds through the epilogue.
//!   r1 to r5 are left clobbered afterwards, as BPF's calling convention says and the verifier
//!   enforces (code compiled without the verifier, in this crate's tests, reloads them).
//! - bpf-to-bpf calls are x86 `call`s: r6 to r9 and r10 are pushed, r10 lowered by 512, the
//!   depth counted in the run state (a call from the eighth frame traps with `CallDepth`).
//! - `exit` is `ret` when the compilation has bpf-to-bpf calls: the entry prologue called the
//!   body, so the entry function's `exit` returns there and jumps to `restore`. Without them,
//!   the body follows the prologue and `exit` jumps to `restore` directly.

use super::alu::binop;
use super::{Emit, Emitter, Src};
use crate::error::JitErrorKind;
use crate::native::{off, trampoline_address, TAIL_CALL, TAIL_FLAG};
use crate::regs::{bpf, STATE};
// bpf(2) is rsi, the second argument register of the trampoline.
use iced_x86::code_asm::registers::gpr32::esi;
use iced_x86::code_asm::registers::gpr64::*;
use iced_x86::code_asm::{dword_ptr, qword_ptr};

use nanobpf_core::opcode::*;
use nanobpf_core::Insn;
use nanobpf_core::{MAX_CALL_FRAMES, STACK_FRAME_SIZE};

/// The saved registers of a bpf-to-bpf call: r6 to r9 and r10.
const CALLEE_SAVED: [AsmRegister64Ref; 5] = [rbx, r13, r14, r15, rbp];
type AsmRegister64Ref = iced_x86::code_asm::AsmRegister64;

impl Emitter {
    pub(super) fn flow(&mut self, insn: &Insn, pc: usize) -> Emit {
        let rel_target = |rel: i64| -> Result<usize, JitErrorKind> {
            usize::try_from((pc as i64 + 1).wrapping_add(rel)).map_err(|_| JitErrorKind::BadTarget)
        };
        match insn.opcode {
            JA => {
                let l = self.label(rel_target(insn.off as i64)?)?;
                self.a.jmp(l)?;
            }
            JA32 => {
                let l = self.label(rel_target(insn.imm as i64)?)?;
                self.a.jmp(l)?;
            }
            EXIT if self.inline_body => self.a.jmp(self.restore)?,
            EXIT => self.a.ret()?,
            CALL if insn.src() == CALL_LOCAL => {
                let l = self.label(rel_target(insn.imm as i64)?)?;
                self.local_call(l)?;
            }
            CALL if insn.src() == CALL_HELPER => {
                let id = insn.imm as u32;
                let tail = id == TAIL_CALL;
                self.helper_call(
                    |e| e.mov_u64(bpf(2), id as u64 | if tail { TAIL_FLAG } else { 0 }),
                    tail,
                )?;
            }
            CALLX => {
                let d = bpf(insn.dst());
                self.helper_call(|e| Ok(e.a.mov(esi, d.d)?), false)?;
            }
            _ => self.cond_jump(insn, pc)?,
        }
        Ok(())
    }

    fn cond_jump(&mut self, insn: &Insn, pc: usize) -> Emit {
        let w64 = match insn.opcode & 0x07 {
            BPF_JMP => true,
            BPF_JMP32 => false,
            _ => return Err(JitErrorKind::Unsupported),
        };
        let t = usize::try_from((pc as i64 + 1).wrapping_add(insn.off as i64))
            .map_err(|_| JitErrorKind::BadTarget)?;
        let l = self.label(t)?;
        let d = bpf(insn.dst());
        let s = self.src(insn)?;
        let op = insn.opcode & 0xf0;
        if op == BPF_JSET {
            binop!(self, test, w64, d, s);
        } else {
            binop!(self, cmp, w64, d, s);
        }
        match op {
            BPF_JEQ => self.a.je(l)?,
            BPF_JGT => self.a.ja(l)?,
            BPF_JGE => self.a.jae(l)?,
            BPF_JSET | BPF_JNE => self.a.jne(l)?,
            BPF_JSGT => self.a.jg(l)?,
            BPF_JSGE => self.a.jge(l)?,
            BPF_JLT => self.a.jb(l)?,
            BPF_JLE => self.a.jbe(l)?,
            BPF_JSLT => self.a.jl(l)?,
            BPF_JSLE => self.a.jle(l)?,
            _ => return Err(JitErrorKind::Unsupported),
        }
        Ok(())
    }

    /// Calls the trampoline with the helper id that `id` puts in esi/rsi.
    fn helper_call(&mut self, id: impl FnOnce(&mut Emitter) -> Emit, tail: bool) -> Emit {
        for r in 1..=5u8 {
            let at = off::ARGS + 8 * (r as i32 - 1);
            self.a.mov(qword_ptr(STATE + at), bpf(r).q)?;
        }
        // The id first: it may be read from rdi (r1), which the state pointer replaces.
        id(self)?;
        self.a.mov(rdi, STATE)?;
        self.calls_helpers = true;
        self.a.mov(rax, trampoline_address())?;
        self.a.call(rax)?;
        self.a.cmp(dword_ptr(STATE + off::TRAP), 0)?;
        self.a.jne(self.epilogue)?;
        if tail {
            self.a.cmp(dword_ptr(STATE + off::TAIL_PENDING), 0)?;
            self.a.jne(self.epilogue)?;
        }
        if !self.verified {
            // Unverified code (the crate's own tests) may read r1 to r5 after the call; give
            // them their values back, as the interpreter keeps them.
            for r in 1..=5u8 {
                let at = off::ARGS + 8 * (r as i32 - 1);
                self.a.mov(bpf(r).q, qword_ptr(STATE + at))?;
            }
        }
        Ok(())
    }

    fn local_call(&mut self, target: iced_x86::code_asm::CodeLabel) -> Emit {
        self.a
            .cmp(dword_ptr(STATE + off::DEPTH), (MAX_CALL_FRAMES - 1) as u32)?;
        self.a.jae(self.trap_depth)?;
        self.a.add(dword_ptr(STATE + off::DEPTH), 1)?;
        for r in CALLEE_SAVED {
            self.a.push(r)?;
        }
        self.a.sub(rbp, STACK_FRAME_SIZE as i32)?;
        self.a.call(target)?;
        for r in CALLEE_SAVED.iter().rev() {
            self.a.pop(*r)?;
        }
        self.a.sub(dword_ptr(STATE + off::DEPTH), 1)?;
        Ok(())
    }
}
