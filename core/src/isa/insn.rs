//! The 8-byte instruction slot.

use super::opcode::Class;

/// One 8-byte instruction slot, laid out as on the wire (little-endian):
/// opcode, `dst:4 | src:4`, a signed 16-bit offset and a signed 32-bit immediate.
///
/// An `lddw` takes two slots; the second has opcode 0 and carries the high half of the
/// immediate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Insn {
    /// The opcode byte.
    pub opcode: u8,
    regs: u8,
    /// The signed offset field.
    pub off: i16,
    /// The signed immediate field.
    pub imm: i32,
}

const _: () = assert!(core::mem::size_of::<Insn>() == 8);
const _: () = assert!(core::mem::align_of::<Insn>() <= 8);

impl Insn {
    /// Size of one slot in bytes.
    pub const SIZE: usize = 8;

    /// An instruction from its fields. Register numbers are taken modulo 16, as the encoding
    /// has four bits for each; validity is checked by [`crate::Program::new`].
    #[inline]
    pub const fn new(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            opcode,
            regs: (dst & 0x0f) | ((src & 0x0f) << 4),
            off,
            imm,
        }
    }

    /// Decodes one slot from its 8 wire bytes.
    #[inline]
    pub const fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            opcode: b[0],
            regs: b[1],
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The 8 wire bytes of this slot.
    #[inline]
    pub const fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.opcode,
            self.regs,
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// The slot read as a little-endian `u64`, the spelling of `-- raw` conformance sections.
    #[inline]
    pub const fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }

    /// The slot from a little-endian `u64`.
    #[inline]
    pub const fn from_u64(v: u64) -> Insn {
        Insn::from_bytes(v.to_le_bytes())
    }

    /// Destination register field (0 to 15; at most 10 in a valid program).
    #[inline(always)]
    pub const fn dst(self) -> u8 {
        self.regs & 0x0f
    }

    /// Source register field (0 to 15; at most 10 in a valid program).
    #[inline(always)]
    pub const fn src(self) -> u8 {
        self.regs >> 4
    }

    /// The instruction class.
    #[inline]
    pub(crate) const fn class(self) -> Class {
        Class::of(self.opcode)
    }

    /// The bytes a load or store of this opcode moves: its size field (`BPF_B` 1, `BPF_H` 2,
    /// `BPF_W` 4, `BPF_DW` 8).
    #[inline]
    pub(crate) const fn access_size(self) -> u8 {
        match self.opcode & 0x18 {
            0x00 => 4,
            0x08 => 2,
            0x10 => 1,
            _ => 8,
        }
    }

    /// Whether this is the first slot of an `lddw`.
    #[inline]
    pub const fn is_lddw(self) -> bool {
        self.opcode == super::opcode::op::LDDW
    }
}
