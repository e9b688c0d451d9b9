//! RFC 9669 conformance groups, and which ones this build supports.

use super::insn::Insn;
use super::opcode::*;

bitflags::bitflags! {
    /// Conformance groups of RFC 9669 §2.4, plus the extensions nanobpf implements.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct ConformanceGroups: u16 {
        /// 32-bit ALU and jumps, loads and stores, `call`, `exit`, `ja32`.
        const BASE32 = 1 << 0;
        /// 64-bit ALU and jumps, `lddw`.
        const BASE64 = 1 << 1;
        /// 32-bit atomics.
        const ATOMIC32 = 1 << 2;
        /// 64-bit atomics.
        const ATOMIC64 = 1 << 3;
        /// 32-bit multiply, divide and modulo.
        const DIVMUL32 = 1 << 4;
        /// 64-bit multiply, divide and modulo.
        const DIVMUL64 = 1 << 5;
        /// Legacy packet loads (`LD_ABS`, `LD_IND`).
        const PACKET = 1 << 6;
        /// `callx`: call the helper whose id is in a register (bpf_conformance's extension).
        const CALLX = 1 << 7;
    }
}

/// The groups this build executes. Every group is always compiled in.
#[inline]
pub const fn supported_groups() -> ConformanceGroups {
    ConformanceGroups::all()
}

impl ConformanceGroups {
    /// The groups an instruction belongs to (empty for the second slot of an `lddw`).
    pub fn of(insn: Insn) -> ConformanceGroups {
        let code = insn.opcode;
        match insn.class() {
            Class::Alu | Class::Alu64 => {
                let is64 = insn.class() == Class::Alu64;
                let base = if is64 {
                    ConformanceGroups::BASE32 | ConformanceGroups::BASE64
                } else {
                    ConformanceGroups::BASE32
                };
                match code & 0xf0 {
                    BPF_MUL | BPF_DIV | BPF_MOD if is64 => base | ConformanceGroups::DIVMUL64,
                    BPF_MUL | BPF_DIV | BPF_MOD => base | ConformanceGroups::DIVMUL32,
                    _ => base,
                }
            }
            Class::Jmp if code == op::CALLX => ConformanceGroups::BASE32 | ConformanceGroups::CALLX,
            Class::Jmp => {
                if matches!(code & 0xf0, BPF_CALL | BPF_EXIT | BPF_JA) {
                    ConformanceGroups::BASE32
                } else {
                    ConformanceGroups::BASE32 | ConformanceGroups::BASE64
                }
            }
            Class::Jmp32 => ConformanceGroups::BASE32,
            Class::Ld if code == op::LDDW => ConformanceGroups::BASE32 | ConformanceGroups::BASE64,
            Class::Ld if code == 0 => ConformanceGroups::empty(),
            Class::Ld => ConformanceGroups::BASE32 | ConformanceGroups::PACKET,
            Class::Ldx | Class::St | Class::Stx if code & 0x18 == BPF_DW => {
                let base = ConformanceGroups::BASE32 | ConformanceGroups::BASE64;
                if code & 0xe0 == BPF_ATOMIC {
                    base | ConformanceGroups::ATOMIC64
                } else {
                    base
                }
            }
            Class::Stx if code & 0xe0 == BPF_ATOMIC => {
                ConformanceGroups::BASE32 | ConformanceGroups::ATOMIC32
            }
            Class::Ldx | Class::St | Class::Stx => ConformanceGroups::BASE32,
        }
    }
}
