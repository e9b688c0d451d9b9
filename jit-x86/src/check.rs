//! The decode-back check: before code becomes executable, decode it with iced-x86's decoder
//! and compare it with what the translation emitted.
//!
//! The code passes when:
//!
//! 1. every byte decodes, and instructions start exactly at the emitted offsets (no hidden
//!    instruction inside another, nothing appended);
//! 2. each decoded instruction has the mnemonic that was emitted at its offset, and that
//!    mnemonic is one of the few the translation uses ([`ALLOWED`]);
//! 3. every direct branch lands on an instruction start of the code, and the only indirect
//!    branch is `call rax` right after `mov rax, imm64` loading a trampoline address;
//! 4. every memory operand is based on a register the translation uses for addresses
//!    ([`crate::regs::MEMORY_BASES`]), with no index register, no segment override and no
//!    RIP-relative address.
//!
//! The check guards against code generator bugs and against corruption of the buffer between
//! assembly and execution; a failure is a [`JitError`], never a crash.

use crate::error::{CheckFailure, JitError, JitErrorKind};
use crate::regs::MEMORY_BASES;
use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

/// The mnemonics generated code may contain.
const ALLOWED: &[Mnemonic] = &[
    Mnemonic::Mov,
    Mnemonic::Nop,
    Mnemonic::Movzx,
    Mnemonic::Movsx,
    Mnemonic::Movsxd,
    Mnemonic::Lea,
    Mnemonic::Add,
    Mnemonic::Sub,
    Mnemonic::Imul,
    Mnemonic::Div,
    Mnemonic::Idiv,
    Mnemonic::Cqo,
    Mnemonic::Cdq,
    Mnemonic::Neg,
    Mnemonic::And,
    Mnemonic::Or,
    Mnemonic::Xor,
    Mnemonic::Shl,
    Mnemonic::Shr,
    Mnemonic::Sar,
    Mnemonic::Rol,
    Mnemonic::Bswap,
    Mnemonic::Cmp,
    Mnemonic::Test,
    Mnemonic::Xadd,
    Mnemonic::Xchg,
    Mnemonic::Cmpxchg,
    Mnemonic::Push,
    Mnemonic::Pop,
    Mnemonic::Call,
    Mnemonic::Ret,
    Mnemonic::Jmp,
    Mnemonic::Je,
    Mnemonic::Jne,
    Mnemonic::Ja,
    Mnemonic::Jae,
    Mnemonic::Jb,
    Mnemonic::Jbe,
    Mnemonic::Jg,
    Mnemonic::Jge,
    Mnemonic::Jl,
    Mnemonic::Jle,
];

fn fail(offset: u64, why: CheckFailure) -> JitError {
    JitError::at(
        0,
        JitErrorKind::Check {
            offset: offset as u32,
            why,
        },
    )
}

/// Checks `code` against `emitted` (offset and mnemonic of each instruction, in order);
/// `trampolines` are the only addresses an indirect call may reach.
///
/// # Errors
/// [`JitErrorKind::Check`] with the offset of the first offending instruction.
pub(crate) fn check(
    code: &[u8],
    emitted: &[(u32, Mnemonic)],
    trampolines: &[u64],
) -> Result<(), JitError> {
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut prev = Instruction::default();
    let mut i = 0usize;
    let is_start = |target: u64| {
        emitted
            .binary_search_by_key(&target, |&(o, _)| o as u64)
            .is_ok()
    };
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        let at = insn.ip();
        if insn.is_invalid() {
            return Err(fail(at, CheckFailure::Undecodable));
        }
        let Some(&(want_at, want)) = emitted.get(i) else {
            return Err(fail(at, CheckFailure::Boundary));
        };
        if want_at as u64 != at {
            return Err(fail(at, CheckFailure::Boundary));
        }
        if want != insn.mnemonic() {
            return Err(fail(at, CheckFailure::Mismatch));
        }
        if !ALLOWED.contains(&insn.mnemonic()) {
            return Err(fail(at, CheckFailure::Forbidden));
        }
        check_branch(&insn, &prev, trampolines, &is_start)?;
        check_memory(&insn)?;
        prev = insn;
        i += 1;
    }
    if i != emitted.len() {
        return Err(fail(code.len() as u64, CheckFailure::Boundary));
    }
    Ok(())
}

fn check_branch(
    insn: &Instruction,
    prev: &Instruction,
    trampolines: &[u64],
    is_start: &impl Fn(u64) -> bool,
) -> Result<(), JitError> {
    let m = insn.mnemonic();
    let branch = matches!(m, Mnemonic::Call | Mnemonic::Jmp) || is_jcc(m);
    if !branch {
        return Ok(());
    }
    match insn.op0_kind() {
        OpKind::NearBranch64 => {
            if is_start(insn.near_branch64()) {
                Ok(())
            } else {
                Err(fail(insn.ip(), CheckFailure::BranchTarget))
            }
        }
        OpKind::Register
            if m == Mnemonic::Call
                && insn.op0_register() == Register::RAX
                && prev.code() == Code::Mov_r64_imm64
                && prev.op0_register() == Register::RAX
                && trampolines.contains(&prev.immediate64()) =>
        {
            Ok(())
        }
        _ => Err(fail(insn.ip(), CheckFailure::IndirectBranch)),
    }
}

fn is_jcc(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::Je
            | Mnemonic::Jne
            | Mnemonic::Ja
            | Mnemonic::Jae
            | Mnemonic::Jb
            | Mnemonic::Jbe
            | Mnemonic::Jg
            | Mnemonic::Jge
            | Mnemonic::Jl
            | Mnemonic::Jle
    )
}

fn check_memory(insn: &Instruction) -> Result<(), JitError> {
    for i in 0..insn.op_count() {
        if insn.op_kind(i) != OpKind::Memory {
            continue;
        }
        let ok = MEMORY_BASES.contains(&insn.memory_base())
            && insn.memory_index() == Register::None
            && insn.segment_prefix() == Register::None;
        if !ok {
            return Err(fail(insn.ip(), CheckFailure::MemoryOperand));
        }
    }
    Ok(())
}
