//! The classic BPF instruction (`struct sock_filter`) and its opcode fields.
//!
//! Names follow Linux's `include/uapi/linux/filter.h` and libpcap's `pcap/bpf.h`.

/// One classic BPF instruction, laid out as Linux's `struct sock_filter` and libpcap's
/// `struct bpf_insn`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct SockFilter {
    /// The opcode: class, size, mode, operation and source bits.
    pub code: u16,
    /// Jump offset when the condition holds, counted from the next instruction.
    pub jt: u8,
    /// Jump offset when the condition fails, counted from the next instruction.
    pub jf: u8,
    /// The generic operand: constant, offset, scratch index or jump distance.
    pub k: u32,
}

const _: () = assert!(core::mem::size_of::<SockFilter>() == 8);

impl SockFilter {
    /// Size of one instruction in bytes, as a kernel or libpcap stores it.
    pub const SIZE: usize = 8;

    /// An instruction from its fields (Linux's `BPF_JUMP`, or `BPF_STMT` with zero `jt`/`jf`).
    #[inline]
    pub const fn new(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    /// An instruction from its 8 bytes in this machine's byte order, as `struct sock_filter`
    /// is stored in memory.
    #[inline]
    pub const fn from_ne_bytes(b: [u8; 8]) -> SockFilter {
        SockFilter {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The instruction class (the low three bits of `code`).
    #[inline]
    pub const fn class(self) -> u16 {
        self.code & 0x07
    }
}

impl core::fmt::Display for SockFilter {
    /// The `tcpdump -dd` spelling: `{ 0x28, 0, 0, 0x0000000c }`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{{ 0x{:x}, {}, {}, 0x{:08x} }}",
            self.code, self.jt, self.jf, self.k
        )
    }
}

/// Classic opcode constants (`code` field), as in Linux's `filter.h`.
// The whole table: the converter names the parts it dispatches on, the tests write programs
// with every name.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod code {
    /// Class: load into A.
    pub const LD: u16 = 0x00;
    /// Class: load into X.
    pub const LDX: u16 = 0x01;
    /// Class: store A into scratch memory.
    pub const ST: u16 = 0x02;
    /// Class: store X into scratch memory.
    pub const STX: u16 = 0x03;
    /// Class: arithmetic on A.
    pub const ALU: u16 = 0x04;
    /// Class: jumps.
    pub const JMP: u16 = 0x05;
    /// Class: return.
    pub const RET: u16 = 0x06;
    /// Class: register transfers (`tax`, `txa`).
    pub const MISC: u16 = 0x07;

    /// Size: 4 bytes.
    pub const W: u16 = 0x00;
    /// Size: 2 bytes.
    pub const H: u16 = 0x08;
    /// Size: 1 byte.
    pub const B: u16 = 0x10;

    /// Mode: constant `k`.
    pub const IMM: u16 = 0x00;
    /// Mode: packet at absolute offset `k`.
    pub const ABS: u16 = 0x20;
    /// Mode: packet at offset `X + k`.
    pub const IND: u16 = 0x40;
    /// Mode: scratch word `M[k]`.
    pub const MEM: u16 = 0x60;
    /// Mode: packet length.
    pub const LEN: u16 = 0x80;
    /// Mode: `4 * (P[k] & 0xf)`, the IPv4 header length.
    pub const MSH: u16 = 0xa0;

    /// Operation: add.
    pub const ADD: u16 = 0x00;
    /// Operation: subtract.
    pub const SUB: u16 = 0x10;
    /// Operation: multiply.
    pub const MUL: u16 = 0x20;
    /// Operation: unsigned divide.
    pub const DIV: u16 = 0x30;
    /// Operation: or.
    pub const OR: u16 = 0x40;
    /// Operation: and.
    pub const AND: u16 = 0x50;
    /// Operation: left shift.
    pub const LSH: u16 = 0x60;
    /// Operation: logical right shift.
    pub const RSH: u16 = 0x70;
    /// Operation: negate.
    pub const NEG: u16 = 0x80;
    /// Operation: unsigned remainder.
    pub const MOD: u16 = 0x90;
    /// Operation: exclusive or.
    pub const XOR: u16 = 0xa0;

    /// Jump: always, by `k`.
    pub const JA: u16 = 0x00;
    /// Jump: equal.
    pub const JEQ: u16 = 0x10;
    /// Jump: unsigned greater than.
    pub const JGT: u16 = 0x20;
    /// Jump: unsigned greater or equal.
    pub const JGE: u16 = 0x30;
    /// Jump: any bit in common.
    pub const JSET: u16 = 0x40;

    /// Source: the constant `k`.
    pub const K: u16 = 0x00;
    /// Source: the X register.
    pub const X: u16 = 0x08;
    /// Return source: the A register.
    pub const A: u16 = 0x10;

    /// Misc operation: X = A.
    pub const TAX: u16 = 0x00;
    /// Misc operation: A = X.
    pub const TXA: u16 = 0x80;
}

/// Words of scratch memory, `M[0]` to `M[15]`.
pub const MEMWORDS: usize = 16;

/// The longest classic program accepted, as Linux's `BPF_MAXINSNS`.
pub const MAX_CLASSIC_INSNS: usize = 4096;
