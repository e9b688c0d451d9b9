//! Why a classic program did not convert, and at which instruction.

/// A conversion error: the classic instruction index and the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CbpfError {
    /// Index of the classic instruction at fault (0 for program-wide errors such as
    /// [`CbpfErrorKind::Empty`]).
    pub pc: usize,
    /// What is wrong.
    pub kind: CbpfErrorKind,
}

/// What is wrong with a classic program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CbpfErrorKind {
    /// The program has no instruction.
    Empty,
    /// The program has more than [`super::MAX_CLASSIC_INSNS`] instructions.
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The opcode is not a classic BPF instruction.
    UnknownOpcode {
        /// The `code` field.
        code: u16,
    },
    /// A jump lands at or past the end of the program.
    JumpOutOfRange {
        /// Index of the classic instruction the jump would land on.
        target: u64,
    },
    /// Division or remainder by the constant zero.
    DivisionByZero,
    /// A shift by a constant of 32 or more.
    ShiftTooLarge {
        /// The shift amount.
        amount: u32,
    },
    /// A scratch memory index past `M[15]`.
    ScratchIndex {
        /// The index.
        index: u32,
    },
    /// The last instruction is not a `ret`, so some path runs off the end.
    NoFinalReturn,
    /// The output slice cannot hold the converted program.
    OutputFull {
        /// Slots the output holds.
        capacity: usize,
    },
    /// A converted jump is farther than an eBPF offset can reach.
    JumpTooFar,
}

impl core::fmt::Display for CbpfErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            CbpfErrorKind::Empty => f.write_str("the program is empty"),
            CbpfErrorKind::TooLong { len } => write!(
                f,
                "{len} instructions is more than the limit of {}",
                super::MAX_CLASSIC_INSNS
            ),
            CbpfErrorKind::UnknownOpcode { code } => write!(f, "unknown opcode 0x{code:02x}"),
            CbpfErrorKind::JumpOutOfRange { target } => {
                write!(f, "jump to {target}, past the end of the program")
            }
            CbpfErrorKind::DivisionByZero => f.write_str("division by the constant zero"),
            CbpfErrorKind::ShiftTooLarge { amount } => {
                write!(f, "shift by {amount}, not less than 32")
            }
            CbpfErrorKind::ScratchIndex { index } => {
                write!(f, "scratch memory index {index} is past M[15]")
            }
            CbpfErrorKind::NoFinalReturn => {
                f.write_str("the last instruction is not a ret: a path runs off the end")
            }
            CbpfErrorKind::OutputFull { capacity } => {
                write!(f, "the output of {capacity} slots is full")
            }
            CbpfErrorKind::JumpTooFar => f.write_str("the converted jump is too far"),
        }
    }
}

impl core::fmt::Display for CbpfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "classic insn {}: {}", self.pc, self.kind)
    }
}

impl core::error::Error for CbpfError {}
