//! Compilation errors: small, `Copy`, and saying where.

use core::fmt;

/// Why a program could not be compiled, at which instruction slot (`pc`) for translation
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
    /// A jump or call target outside the program or inside an `lddw`.
    BadTarget,
    /// An `lddw` naming a map the runtime's table does not have.
    UnresolvedMap,
    /// The assembler refused an instruction (a code generator bug).
    Assembler,
    /// The generated code is too large.
    TooLarge,
    /// The embedder's region is smaller than the code.
    RegionTooSmall,
    /// The operating system refused to map memory.
    MapFailed,
    /// The operating system refused to make the code executable.
    ProtectFailed,
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
    /// Bytes that do not decode to an instruction.
    Undecodable,
    /// An instruction starts where none was emitted (or one was emitted where none starts).
    Boundary,
    /// The decoded instruction is not the one emitted there.
    Mismatch,
    /// An instruction outside the set the translation uses.
    Forbidden,
    /// An indirect jump or call other than the trampoline call the translation emits.
    IndirectBranch,
    /// A direct branch to a place that is not an instruction start of the code.
    BranchTarget,
    /// A memory operand with a base register the translation never uses, an index register,
    /// a segment override or a RIP-relative address.
    MemoryOperand,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckFailure::Undecodable => "undecodable bytes",
            CheckFailure::Boundary => "instruction boundary differs from the emitted one",
            CheckFailure::Mismatch => "decoded instruction differs from the emitted one",
            CheckFailure::Forbidden => "instruction the translation never emits",
            CheckFailure::IndirectBranch => "unexpected indirect jump or call",
            CheckFailure::BranchTarget => "branch target is not an instruction start",
            CheckFailure::MemoryOperand => "memory operand with a disallowed register",
        })
    }
}

impl fmt::Display for JitErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitErrorKind::Unsupported => f.write_str("unsupported instruction"),
            JitErrorKind::BadTarget => f.write_str("jump or call target out of the program"),
            JitErrorKind::UnresolvedMap => f.write_str("unresolved map reference"),
            JitErrorKind::Assembler => f.write_str("assembler rejected an instruction"),
            JitErrorKind::TooLarge => f.write_str("generated code too large"),
            JitErrorKind::RegionTooSmall => f.write_str("executable region too small"),
            JitErrorKind::MapFailed => f.write_str("could not map memory"),
            JitErrorKind::ProtectFailed => f.write_str("could not make code executable"),
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
