//! The instruction set: the 8-byte slot, opcode constants, conformance groups and strict
//! decoding into a [`Program`]. Encoding and decoding only; no semantics live here.

mod decode;
mod groups;
mod insn;
pub mod opcode;

#[cfg(test)]
pub(crate) use decode::validate;
pub use decode::{
    branch_offset, decode_slots, DecodeError, DecodeErrorKind, InsnField, Program, MAX_INSNS,
};
pub(crate) use decode::{RUNTIME_FORM_IMM, RUNTIME_FORM_SRC};
pub use groups::{supported_groups, ConformanceGroups};
pub use insn::Insn;

#[cfg(test)]
mod tests;
