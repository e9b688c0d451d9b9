//! Run-time traps.

/// Why a run stopped without reaching `exit`.
///
/// `#[repr(u8)]` with no zero value, so that `Result<u64, Trap>` stays small and a JIT can
/// return it in a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum Trap {
    /// The instruction budget was spent.
    BudgetExhausted = 1,
    /// A memory access outside every region the run may touch (only without a verifier proof,
    /// or with `extra-checks`).
    OutOfBounds = 2,
    /// A call to a helper id that is not in the table.
    UnknownHelper = 3,
    /// A bpf-to-bpf call deeper than the frame limit.
    CallDepth = 4,
    /// Execution reached a slot it must never reach (a checked engine's last line of defence).
    InvalidInstruction = 5,
    /// A helper reported an unrecoverable condition.
    HelperFailed = 6,
    /// A misaligned access where the engine requires alignment (atomics).
    Misaligned = 7,
    /// The context given to a run does not match the program type it was verified for.
    WrongContext = 8,
    /// An `lddw` that names a map, run without a map table that resolves it.
    UnresolvedMap = 9,
}

impl core::fmt::Display for Trap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Trap::BudgetExhausted => "instruction budget exhausted",
            Trap::OutOfBounds => "memory access out of bounds",
            Trap::UnknownHelper => "call to unknown helper",
            Trap::CallDepth => "call depth exceeded",
            Trap::InvalidInstruction => "invalid instruction",
            Trap::HelperFailed => "helper failed",
            Trap::Misaligned => "misaligned atomic access",
            Trap::WrongContext => "context does not match the program type",
            Trap::UnresolvedMap => "unresolved map reference",
        })
    }
}

impl core::error::Error for Trap {}
