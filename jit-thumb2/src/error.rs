//! Compilation errors: small, `Copy`, and saying where.

use core::fmt;

/// Why a program could not be compiled: at which instruction slot (`pc`) for translation
/// errors, or at which byte of the code (`offset` in the kind) for check failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JitError {
    /// The instruction slot (of the program being compiled; 0 for errors of the whole code).
    pub pc: usize,
    /// What went wrong.
    pub kind: JitErrorKind,
}

/// What went wrong in a compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JitErrorKind {
    /// An opcode or operand this translator does not handle (a verified program never has one).
    Unsupported,
    /// A jump or call target outside the program, inside an `lddw`, or across a function.
    BadTarget,
    /// An `lddw` naming a map the runtime's table does not have.
    UnresolvedMap,
    /// The code buffer is too small for the code.
    BufferTooSmall,
    /// The code buffer does not start at a multiple of 4 bytes.
    BufferMisaligned,
    /// The workspace has fewer slots than the program has instructions.
    WorkspaceTooSmall,
    /// A branch or a constant out of the range its encoding can hold.
    OutOfRange,
    /// Decoding the code back found something the translation never emits.
    Check {
        /// Byte offset in the code.
        offset: u32,
        /// What the check found.
        why: CheckFailure,
    },
}

/// What the decode-back check of generated code found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckFailure {
    /// A halfword that does not decode to an instruction of the set the translation emits.
    Forbidden,
    /// The code does not end on an instruction boundary.
    Truncated,
    /// A branch to a place that is not an instruction start inside the code.
    BranchTarget,
    /// An indirect call that is not `blx r12` right after `movw`/`movt r12` of an allowed
    /// routine's address, or a 16-bit instruction not in its place.
    IndirectCall,
    /// A write to a register the design reserves (sp, pc, r10, r11) outside the instructions
    /// that may write it.
    ReservedRegister,
    /// A memory access based on sp outside push and pop, or on the state register beyond the
    /// state.
    MemoryBase,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckFailure::Forbidden => "instruction the translation never emits",
            CheckFailure::Truncated => "code ends inside an instruction",
            CheckFailure::BranchTarget => "branch target is not an instruction start",
            CheckFailure::IndirectCall => "unexpected indirect call",
            CheckFailure::ReservedRegister => "write to a reserved register",
            CheckFailure::MemoryBase => "memory access with a disallowed base",
        })
    }
}

impl fmt::Display for JitErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitErrorKind::Unsupported => f.write_str("unsupported instruction"),
            JitErrorKind::BadTarget => f.write_str("jump or call target out of its function"),
            JitErrorKind::UnresolvedMap => f.write_str("unresolved map reference"),
            JitErrorKind::BufferTooSmall => f.write_str("code buffer too small"),
            JitErrorKind::BufferMisaligned => f.write_str("code buffer not 4-byte aligned"),
            JitErrorKind::WorkspaceTooSmall => f.write_str("workspace too small"),
            JitErrorKind::OutOfRange => f.write_str("branch or constant out of range"),
            JitErrorKind::Check { offset, why } => {
                write!(f, "generated code check failed at byte {offset:#x}: {why}")
            }
        }
    }
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {}: {}", self.pc, self.kind)
    }
}

impl core::error::Error for JitError {}

impl JitError {
    pub(crate) const fn at(pc: usize, kind: JitErrorKind) -> JitError {
        JitError { pc, kind }
    }
}
