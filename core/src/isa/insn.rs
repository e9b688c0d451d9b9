//! The 8-byte instruction slot and the register newtype.

use super::opcode::Class;

/// A register number, `r0` to `r10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reg(u8);

impl Reg {
    /// Return value, and the first register clobbered by calls.
    pub const R0: Reg = Reg(0);
    /// First argument; the context pointer at entry.
    pub const R1: Reg = Reg(1);
    /// Second argument.
    pub const R2: Reg = Reg(2);
    /// Third argument.
    pub const R3: Reg = Reg(3);
    /// Fourth argument.
    pub const R4: Reg = Reg(4);
    /// Fifth argument.
    pub const R5: Reg = Reg(5);
    /// Callee-saved.
    pub const R6: Reg = Reg(6);
    /// Callee-saved.
    pub const R7: Reg = Reg(7);
    /// Callee-saved.
    pub const R8: Reg = Reg(8);
    /// Callee-saved.
    pub const R9: Reg = Reg(9);
    /// The read-only frame pointer.
    pub const R10: Reg = Reg(10);
    /// Registers in the ISA.
    pub const COUNT: usize = 11;

    /// The register with this number, if it exists.
    #[inline]
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 {
            Some(Reg(n))
        } else {
            None
        }
    }

    /// The register number.
    #[inline]
    pub const fn number(self) -> u8 {
        self.0
    }

    /// The register number as an index.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl core::fmt::Display for Reg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "r{}", self.0)
    }
}

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
    pub const fn class(self) -> Class {
        Class::of(self.opcode)
    }

    /// Whether this is the first slot of an `lddw`.
    #[inline]
    pub const fn is_lddw(self) -> bool {
        self.opcode == super::opcode::op::LDDW
    }
}
