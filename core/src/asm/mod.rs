//! Text assembler and disassembler for the syntax of the bpf_conformance `.data` files
//! (AT&T-flavoured, from uBPF), with a few documented additions.
//!
//! Neither allocates: the assembler writes into the caller's slot buffer, the disassembler into
//! any [`core::fmt::Write`].
//!
//! # Syntax
//!
//! One instruction or label per line. `#` starts a comment that runs to the end of the line;
//! blank lines are ignored. Mnemonics and keywords are lower case; labels are case-sensitive.
//!
//! * **Registers**: `%r0` … `%r10`, or `r0` … `r10`. Because of the second spelling, a label
//!   cannot be named `r` followed by digits.
//! * **Operands** are separated by commas, which are optional.
//! * **Immediates** (32-bit fields): decimal from -2^31 to 2^31-1, or `0x` hex up to
//!   `0xffffffff` taken as raw bits; a leading `-` or `+` may precede either. Anything else is
//!   [`AsmErrorKind::ImmOutOfRange`].
//! * **Memory operands**: `[%rN]`, `[%rN+off]`, `[%rN-off]`; the offset, decimal or hex, must be
//!   in -32768..=32767 ([`AsmErrorKind::OffsetOutOfRange`]).
//! * **Labels**: `name:` on a line of its own; names are `[A-Za-z_.][A-Za-z0-9_.]*`. The first
//!   `exit` gets the implicit label `exit` unless the source writes a label of that name.
//! * **Jump and call targets**: a label, or a slot count relative to the next slot written with
//!   its sign, `+N` or `-N` (a bare number is not a target).
//!
//! | form | encoding |
//! |---|---|
//! | `OP dst, src` / `OP dst, imm` | ALU64 (plain or `64` suffix) or ALU (`32` suffix): `add sub mul div sdiv or and lsh rsh mod smod xor mov arsh`; `sdiv`/`smod` set offset 1 |
//! | `neg dst`, `neg32 dst` | 0x87, 0x84 |
//! | `movsx832 movsx1632 movsx864 movsx1664 movsx3264 dst, src` | `mov` (register) with the source width in the offset |
//! | `le16/32/64 dst`, `be16/32/64 dst` | 0xd4, 0xdc, imm = width |
//! | `bswap16/32/64 dst` (alias `swap16/32/64`) | 0xd7, imm = width |
//! | `ldxb ldxh ldxw ldxdw ldxsb ldxsh ldxsw dst, [src+off]` | loads, sign-extending loads |
//! | `stb sth stw stdw [dst+off], imm`, `stxb stxh stxw stxdw [dst+off], src` | stores |
//! | `lddw dst, imm64` | 0x18, two slots; decimal (also negative, down to -2^63) or hex up to `u64::MAX` |
//! | `lddw dst, map[N]` | 0x18 src 5 (map by index), imm = N, second imm 0 |
//! | `lddw dst, map_value[N]+OFF` | 0x18 src 6 (map value by index), imm = N, second imm = OFF (`+OFF` optional, may be `-OFF`) |
//! | `lddw dst, map_fd[N]`, `lddw dst, map_fd_value[N]+OFF` | the same with src 1 and src 2 (map by handle) |
//! | `ja T` / `ja32 T` | 0x05 (target in offset) / 0x06 (target in imm) |
//! | `jeq jgt jge jlt jle jset jne jsgt jsge jslt jsle dst, src\|imm, T` | JMP, or JMP32 with a `32` suffix |
//! | `call N` / `call local T` / `call runtime N` / `call %rN` | 0x85 src 0 / src 1, imm = relative target / src 2 (which [`Program::new`](crate::Program::new) rejects) / 0x8d with the register in dst |
//! | `exit` | 0x95 |
//! | `lock [fetch] add\|and\|or\|xor[32] [dst+off], src`, `lock xchg[32] …`, `lock cmpxchg[32] …` | 0xdb (64-bit) / 0xc3 (32-bit), imm = the operation |
//! | `ldabsb ldabsh ldabsw imm` | legacy packet loads 0x30, 0x28, 0x20 |
//! | `ldindb ldindh ldindw src, imm` | legacy packet loads 0x50, 0x48, 0x40 |
//! | `.raw V` | one slot given as its little-endian `u64` (any `u64`, or negative down to -2^63) |
//!
//! The assembler encodes; it does not validate (register `r10` as a destination, reserved
//! fields, jump ranges in the program are [`Program::new`](crate::Program::new)'s business). It
//! rejects only what it cannot encode.
//!
//! # Errors
//!
//! An [`AsmError`] names the first problem, with its 1-based line and byte column. Problems
//! found while reading the lines (syntax, operands, ranges, a full output buffer or label
//! table) are reported before label problems (a label defined twice, a reference to an
//! unknown label or one out of reach), which need the whole source.
//!
//! # Labels
//!
//! Two passes over the source: the first encodes with label references at zero and records each
//! label (a byte range of the source, its slot and location) in a fixed-capacity [`Labels`]
//! table; the table is then sorted so that the second pass resolves each reference by binary
//! search. [`assemble`] uses [`MAX_LABELS`] entries; [`assemble_with`] takes any capacity.
//!
//! # Disassembly
//!
//! [`disassemble_insn`] prints one instruction in the syntax above, jumps as relative `+N`/`-N`,
//! and checks that the text assembles back to exactly the same slots; a slot that does not (an
//! unknown opcode, a reserved field that is set, an `lddw` without its second slot) is printed
//! as `.raw 0x<16 hex digits>`. So every slot stream round-trips through [`Disasm`] and
//! [`assemble`].

mod assemble;
mod disasm;
mod labels;
mod lexer;
mod mnemonic;
mod operand;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_conformance;

pub use assemble::assemble;
pub use disasm::{disassemble_insn, Disasm};
#[cfg(test)]
use {assemble::assemble_with, labels::Labels};

/// What is wrong with a line of assembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AsmErrorKind {
    /// The first word of the line is not a mnemonic (or `lock` names no atomic operation).
    UnknownMnemonic,
    /// A register other than `%r0` to `%r10`.
    BadRegister,
    /// Too few or too many operands for the mnemonic.
    BadOperandCount,
    /// An operand of the wrong kind, such as a register where a memory operand is required.
    BadOperand,
    /// An immediate that does not fit its field.
    ImmOutOfRange,
    /// A memory offset or relative jump that does not fit in 16 signed bits.
    OffsetOutOfRange,
    /// A jump or call to a label that is not defined.
    UnknownLabel,
    /// A label defined twice.
    DuplicateLabel,
    /// More labels than the label table holds.
    TooManyLabels,
    /// The output buffer is full.
    OutputFull,
    /// A malformed token or line.
    Syntax,
    /// The source is longer than 4 GiB.
    SourceTooLong,
}

impl core::fmt::Display for AsmErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AsmErrorKind::UnknownMnemonic => "unknown mnemonic",
            AsmErrorKind::BadRegister => "invalid register",
            AsmErrorKind::BadOperandCount => "wrong number of operands",
            AsmErrorKind::BadOperand => "wrong kind of operand",
            AsmErrorKind::ImmOutOfRange => "immediate out of range",
            AsmErrorKind::OffsetOutOfRange => "offset out of range",
            AsmErrorKind::UnknownLabel => "unknown label",
            AsmErrorKind::DuplicateLabel => "label defined twice",
            AsmErrorKind::TooManyLabels => "too many labels",
            AsmErrorKind::OutputFull => "output buffer full",
            AsmErrorKind::Syntax => "syntax error",
            AsmErrorKind::SourceTooLong => "source too long",
        })
    }
}

/// An assembly error and where it is: 1-based line, and 1-based byte column within the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AsmError {
    /// Line number, from 1.
    pub line: u32,
    /// Byte column, from 1.
    pub column: u32,
    /// What is wrong.
    pub kind: AsmErrorKind,
}

impl AsmError {
    const fn new(line: u32, column: u32, kind: AsmErrorKind) -> Self {
        AsmError { line, column, kind }
    }
}

impl core::fmt::Display for AsmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.column, self.kind
        )
    }
}

impl core::error::Error for AsmError {}
