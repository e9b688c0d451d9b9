//! Verification errors, worded like Linux's verifier log.

use crate::isa::DecodeErrorKind;

/// Why the verifier gave up on a program it could not prove unsafe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TooComplexReason {
    /// The pending-branch stack of the workspace is full.
    BranchStackFull,
    /// The processed-instruction budget is spent.
    Budget,
    /// The program has more instructions than the workspace holds.
    ProgramTooLarge,
    /// More local functions than the verifier tracks.
    TooManyFunctions,
    /// More spilled pointers at once than a state holds.
    TooManySpills,
    /// A single state does not fit in the workspace's branch storage.
    StateTooLarge,
    /// More acquired references (reserved ring buffer records) live at once than a state
    /// holds.
    TooManyReferences,
}

/// Where a pointer would have leaked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeakTarget {
    /// Stored into a map value.
    Map,
    /// Stored into the packet.
    Packet,
    /// Stored into the context.
    Ctx,
    /// Stored into the memory buffer.
    Mem,
    /// Returned in r0 from the program.
    Return,
    /// Passed as a scalar helper argument.
    HelperArg,
}

/// What is wrong with the instruction at [`VerifyError::pc`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// Strict decoding failed.
    Decode(DecodeErrorKind),
    /// The verifier ran out of room or time ("program too complex").
    TooComplex(TooComplexReason),
    /// No path reaches this instruction.
    Unreachable,
    /// A jump leaves its function, to instruction `to`.
    JumpOutOfFunction {
        /// The target.
        to: usize,
    },
    /// A function's last instruction is neither `exit` nor a jump.
    FunctionFallsThrough,
    /// A path returns to a state it is already exploring: it never ends.
    InfiniteLoop,
    /// A local call would make more than 8 frames.
    CallTooDeep {
        /// Frames the call would make.
        frames: u8,
    },
    /// A register is read before it is written.
    UninitRegister {
        /// The register.
        reg: u8,
    },
    /// Memory access through a register that is not a pointer to accessible memory.
    InvalidMemAccess {
        /// The register.
        reg: u8,
        /// Its type name.
        ty: &'static str,
    },
    /// A packet access outside the range proven by a comparison against the packet end.
    PacketAccess {
        /// The register.
        reg: u8,
        /// Offset of the access from the pointer's base.
        off: i64,
        /// Access size.
        size: u8,
        /// The pointer's id.
        id: u32,
        /// The pointer's constant offset.
        reg_off: i32,
        /// The proven range.
        range: u16,
    },
    /// A stack access outside the frame.
    StackAccess {
        /// Offset from r10.
        off: i64,
        /// Access size.
        size: u8,
    },
    /// A stack access through a pointer with a variable offset.
    VariableStackAccess {
        /// The register.
        reg: u8,
    },
    /// A read of stack bytes never written.
    StackReadUninit {
        /// Offset from r10.
        off: i64,
        /// Access size.
        size: u8,
    },
    /// A map value access outside the value.
    MapValueAccess {
        /// Offset.
        off: i64,
        /// Access size.
        size: u8,
        /// The map's value size.
        value_size: u32,
    },
    /// A memory buffer access outside the buffer.
    MemAccess {
        /// Offset.
        off: i64,
        /// Access size.
        size: u8,
        /// Buffer length.
        len: u32,
    },
    /// A context access that is not a field of the layout, or of the wrong width or mode.
    CtxAccess {
        /// Offset.
        off: i64,
        /// Access size.
        size: u8,
    },
    /// A context access through a pointer that is not the context's start.
    ModifiedCtx {
        /// The register.
        reg: u8,
    },
    /// An access whose variable offset may be negative.
    NegativeOffset {
        /// The register.
        reg: u8,
    },
    /// An access or size whose upper bound is not known.
    UnboundedAccess {
        /// The register.
        reg: u8,
    },
    /// A pointer written where it can be observed.
    PointerLeak {
        /// The register.
        reg: u8,
        /// Where.
        into: LeakTarget,
    },
    /// An arithmetic operation that is not allowed on pointers.
    PointerArith {
        /// The register.
        reg: u8,
        /// The operator, as Linux writes it.
        op: &'static str,
    },
    /// Arithmetic on a pointer type that allows none.
    PointerArithOnType {
        /// The register.
        reg: u8,
        /// Its type.
        ty: &'static str,
    },
    /// 32-bit arithmetic other than a subtraction, or a 32-bit comparison, on a pointer.
    Pointer32 {
        /// The register.
        reg: u8,
    },
    /// A pointer offset outside the range the verifier tracks.
    PointerOutOfBounds {
        /// The register.
        reg: u8,
    },
    /// A comparison between pointers (or a pointer and a number) that proves nothing.
    PointerComparison {
        /// The register.
        reg: u8,
    },
    /// An atomic operation on memory that does not allow it.
    AtomicNotAllowed {
        /// The register.
        reg: u8,
        /// Its type.
        ty: &'static str,
    },
    /// A misaligned atomic access.
    Misaligned {
        /// Offset.
        off: i64,
        /// Access size.
        size: u8,
    },
    /// A partial store over, or a partial load of, a spilled pointer.
    CorruptSpill {
        /// Offset from r10.
        off: i64,
    },
    /// A stack pointer that would outlive its frame.
    StackPointerEscape {
        /// The register.
        reg: u8,
    },
    /// A call to a helper id that is not in the table.
    UnknownHelper {
        /// The id.
        id: i64,
    },
    /// A `callx` whose register is not a known helper id.
    CallxTarget {
        /// The register.
        reg: u8,
    },
    /// A helper argument of the wrong type.
    HelperArg {
        /// The register.
        reg: u8,
        /// What it holds.
        found: &'static str,
        /// What the prototype expects.
        expected: &'static str,
    },
    /// A map that cannot be used with this helper.
    MapHelper {
        /// The helper id.
        helper: u32,
    },
    /// A map index that is not in the map table.
    BadMap {
        /// The index.
        index: i64,
    },
    /// `lddw` of a value address (src 2 or 6) for a map type whose values have no fixed
    /// address: only array maps have one (element 0), as in Linux.
    NoDirectValueAccess {
        /// The map index.
        index: i64,
    },
    /// A legacy packet load in a program type that has no packet for it.
    LdAbsNotAllowed,
    /// A legacy packet load without the context in r6.
    LdAbsNeedsCtx,
    /// A legacy packet load while the program holds a reference: a load outside the packet
    /// ends the program, which would leave the reference held.
    LdAbsHoldingReference {
        /// The instruction that acquired the reference.
        alloc_pc: u32,
    },
    /// A store, an atomic or a helper would write a map the program may only read
    /// ([`BPF_F_RDONLY_PROG`](crate::host::BPF_F_RDONLY_PROG), as `.rodata` is).
    ReadOnlyMapWrite {
        /// The register holding the map or the pointer into its value.
        reg: u8,
    },
    /// One instruction accesses the context on one path and other memory on another.
    MixedPointers,
    /// The program exits (or tail-calls) while it still holds a reference: a reserved ring
    /// buffer record neither submitted nor discarded on this path.
    UnreleasedReference {
        /// The reference's id.
        id: u32,
        /// The instruction that acquired it.
        alloc_pc: u32,
    },
    /// A pointer passed to a release helper (`ringbuf_submit`, `ringbuf_discard`) is not the
    /// start of the object it points into.
    ReleaseOffset {
        /// The register.
        reg: u8,
    },
}

/// A verification error at an instruction index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VerifyError {
    /// Index of the offending instruction slot.
    pub pc: usize,
    /// What is wrong.
    pub kind: VerifyErrorKind,
}

impl core::fmt::Display for TooComplexReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TooComplexReason::BranchStackFull => "the branch stack is full",
            TooComplexReason::Budget => "the processed-instruction budget is spent",
            TooComplexReason::ProgramTooLarge => "the program is larger than the workspace",
            TooComplexReason::TooManyFunctions => "too many functions",
            TooComplexReason::TooManySpills => "too many spilled pointers",
            TooComplexReason::StateTooLarge => "a state is too large for the workspace",
            TooComplexReason::TooManyReferences => "too many references held at once",
        })
    }
}

impl core::fmt::Display for LeakTarget {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            LeakTarget::Map => "leaks addr into map",
            LeakTarget::Packet => "leaks addr into packet",
            LeakTarget::Ctx => "leaks addr into ctx",
            LeakTarget::Mem => "leaks addr into mem",
            LeakTarget::Return => "leaks addr as return value",
            LeakTarget::HelperArg => "leaks addr into helper function",
        })
    }
}

impl core::fmt::Display for VerifyErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use VerifyErrorKind as K;
        match *self {
            K::Decode(k) => write!(f, "{k}"),
            K::TooComplex(r) => write!(f, "program too complex: {r}"),
            K::Unreachable => f.write_str("unreachable insn"),
            K::JumpOutOfFunction { to } => write!(f, "jump out of range to insn {to}"),
            K::FunctionFallsThrough => f.write_str("last insn is not an exit or jmp"),
            K::InfiniteLoop => f.write_str("infinite loop detected"),
            K::CallTooDeep { frames } => {
                write!(f, "the call stack of {frames} frames is too deep")
            }
            K::UninitRegister { reg } => write!(f, "R{reg} !read_ok"),
            K::InvalidMemAccess { reg, ty } => write!(f, "R{reg} invalid mem access '{ty}'"),
            K::PacketAccess {
                reg,
                off,
                size,
                id,
                reg_off,
                range,
            } => write!(
                f,
                "invalid access to packet, off={off} size={size}, R{reg}(id={id},off={reg_off},r={range})"
            ),
            K::StackAccess { off, size } => write!(f, "invalid stack off={off} size={size}"),
            K::VariableStackAccess { reg } => {
                write!(f, "R{reg} variable stack access prohibited")
            }
            K::StackReadUninit { off, size } => {
                write!(f, "invalid read from stack off {off} size {size}")
            }
            K::MapValueAccess {
                off,
                size,
                value_size,
            } => write!(
                f,
                "invalid access to map value, value_size={value_size} off={off} size={size}"
            ),
            K::MemAccess { off, size, len } => write!(
                f,
                "invalid access to memory, mem_size={len} off={off} size={size}"
            ),
            K::CtxAccess { off, size } => {
                write!(f, "invalid bpf_context access off={off} size={size}")
            }
            K::ModifiedCtx { reg } => {
                write!(f, "dereference of modified ctx ptr R{reg} disallowed")
            }
            K::NegativeOffset { reg } => write!(
                f,
                "R{reg} min value is negative, either use unsigned index or do a if (index >=0) check"
            ),
            K::UnboundedAccess { reg } => write!(
                f,
                "R{reg} unbounded memory access, make sure to bounds check any such access"
            ),
            K::PointerLeak { reg, into } => write!(f, "R{reg} {into}"),
            K::PointerArith { reg, op } => {
                write!(f, "R{reg} pointer arithmetic with {op} operator prohibited")
            }
            K::PointerArithOnType { reg, ty } => {
                write!(f, "R{reg} pointer arithmetic on {ty} prohibited")
            }
            K::Pointer32 { reg } => write!(f, "R{reg} 32-bit pointer arithmetic prohibited"),
            K::PointerOutOfBounds { reg } => {
                write!(f, "R{reg} pointer offset is out of bounds")
            }
            K::PointerComparison { reg } => write!(f, "R{reg} pointer comparison prohibited"),
            K::AtomicNotAllowed { reg, ty } => {
                write!(f, "BPF_ATOMIC stores into R{reg} {ty} is not allowed")
            }
            K::Misaligned { off, size } => {
                write!(f, "misaligned access off={off} size={size}")
            }
            K::CorruptSpill { off } => write!(f, "corrupted spill memory at stack off {off}"),
            K::StackPointerEscape { reg } => {
                write!(f, "R{reg} cannot pass a stack pointer out of its frame")
            }
            K::UnknownHelper { id } => write!(f, "invalid func unknown#{id}"),
            K::CallxTarget { reg } => {
                write!(f, "R{reg} callx target is not a known helper id")
            }
            K::HelperArg {
                reg,
                found,
                expected,
            } => write!(f, "R{reg} type={found} expected={expected}"),
            K::MapHelper { helper } => {
                write!(f, "cannot pass this map type into func #{helper}")
            }
            K::BadMap { index } => write!(f, "fd {index} is not pointing to valid bpf_map"),
            K::NoDirectValueAccess { index } => {
                write!(f, "map {index}: no direct value access support for this map type")
            }
            K::LdAbsNotAllowed => f.write_str(
                "BPF_LD_[ABS|IND] instructions not allowed for this program type",
            ),
            K::LdAbsNeedsCtx => {
                f.write_str("at the time of BPF_LD_ABS|IND R6 != pointer to skb")
            }
            K::LdAbsHoldingReference { alloc_pc } => write!(
                f,
                "BPF_LD_[ABS|IND] cannot be mixed with references (acquired at insn {alloc_pc})"
            ),
            K::ReadOnlyMapWrite { reg } => {
                write!(f, "R{reg} write into map forbidden, the map is read-only for programs")
            }
            K::MixedPointers => f.write_str("same insn cannot be used with different pointers"),
            K::UnreleasedReference { id, alloc_pc } => {
                write!(f, "Unreleased reference id={id} alloc_insn={alloc_pc}")
            }
            K::ReleaseOffset { reg } => write!(
                f,
                "R{reg} must have zero offset when passed to release func"
            ),
        }
    }
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.kind {
            VerifyErrorKind::Unreachable => write!(f, "unreachable insn {}", self.pc),
            VerifyErrorKind::InfiniteLoop => {
                write!(f, "infinite loop detected at insn {}", self.pc)
            }
            _ => write!(f, "insn {}: {}", self.pc, self.kind),
        }
    }
}

impl core::error::Error for VerifyError {}
