//! Opcode constants and the pieces of an opcode byte (class, size, mode, operation, source).
//!
//! Names follow RFC 9669 and Linux's `include/uapi/linux/bpf.h` so that a reader can look up
//! any constant in either.

/// Instruction class: the low three bits of the opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Class {
    /// Non-standard loads: `lddw` and the legacy packet loads.
    Ld = 0,
    /// Loads into a register.
    Ldx = 1,
    /// Stores of an immediate.
    St = 2,
    /// Stores of a register, and atomics.
    Stx = 3,
    /// 32-bit arithmetic.
    Alu = 4,
    /// 64-bit jumps, calls and exit.
    Jmp = 5,
    /// 32-bit jumps.
    Jmp32 = 6,
    /// 64-bit arithmetic.
    Alu64 = 7,
}

impl Class {
    /// The class of an opcode byte.
    #[inline]
    pub const fn of(opcode: u8) -> Class {
        match opcode & 0x07 {
            0 => Class::Ld,
            1 => Class::Ldx,
            2 => Class::St,
            3 => Class::Stx,
            4 => Class::Alu,
            5 => Class::Jmp,
            6 => Class::Jmp32,
            _ => Class::Alu64,
        }
    }
}

/// Class bits.
pub const BPF_LD: u8 = 0x00;
/// Class bits.
pub const BPF_LDX: u8 = 0x01;
/// Class bits.
pub const BPF_ST: u8 = 0x02;
/// Class bits.
pub const BPF_STX: u8 = 0x03;
/// Class bits.
pub const BPF_ALU: u8 = 0x04;
/// Class bits.
pub const BPF_JMP: u8 = 0x05;
/// Class bits.
pub const BPF_JMP32: u8 = 0x06;
/// Class bits.
pub const BPF_ALU64: u8 = 0x07;

/// Source bit: the immediate is the operand.
pub const BPF_K: u8 = 0x00;
/// Source bit: the source register is the operand.
pub const BPF_X: u8 = 0x08;

/// Size bits of load and store opcodes: 4 bytes.
pub const BPF_W: u8 = 0x00;
/// Size bits: 2 bytes.
pub const BPF_H: u8 = 0x08;
/// Size bits: 1 byte.
pub const BPF_B: u8 = 0x10;
/// Size bits: 8 bytes.
pub const BPF_DW: u8 = 0x18;

/// Mode bits: 64-bit immediate (`lddw`).
pub const BPF_IMM: u8 = 0x00;
/// Mode bits: legacy packet load at an absolute offset.
pub const BPF_ABS: u8 = 0x20;
/// Mode bits: legacy packet load at a register plus offset.
pub const BPF_IND: u8 = 0x40;
/// Mode bits: regular memory access.
pub const BPF_MEM: u8 = 0x60;
/// Mode bits: sign-extending load (v4).
pub const BPF_MEMSX: u8 = 0x80;
/// Mode bits: atomic read-modify-write.
pub const BPF_ATOMIC: u8 = 0xc0;

/// ALU operations (the high four bits).
pub const BPF_ADD: u8 = 0x00;
/// ALU operation.
pub const BPF_SUB: u8 = 0x10;
/// ALU operation.
pub const BPF_MUL: u8 = 0x20;
/// ALU operation (signed when `off == 1`).
pub const BPF_DIV: u8 = 0x30;
/// ALU operation.
pub const BPF_OR: u8 = 0x40;
/// ALU operation.
pub const BPF_AND: u8 = 0x50;
/// ALU operation.
pub const BPF_LSH: u8 = 0x60;
/// ALU operation.
pub const BPF_RSH: u8 = 0x70;
/// ALU operation (source bit must be `K`, no operand).
pub const BPF_NEG: u8 = 0x80;
/// ALU operation (signed when `off == 1`).
pub const BPF_MOD: u8 = 0x90;
/// ALU operation.
pub const BPF_XOR: u8 = 0xa0;
/// ALU operation (sign-extending when `off` is 8, 16 or 32).
pub const BPF_MOV: u8 = 0xb0;
/// ALU operation.
pub const BPF_ARSH: u8 = 0xc0;
/// ALU operation: byte order (`le`/`be` in `ALU`, `bswap` in `ALU64`).
pub const BPF_END: u8 = 0xd0;

/// Jump operations (the high four bits).
pub const BPF_JA: u8 = 0x00;
/// Jump operation.
pub const BPF_JEQ: u8 = 0x10;
/// Jump operation.
pub const BPF_JGT: u8 = 0x20;
/// Jump operation.
pub const BPF_JGE: u8 = 0x30;
/// Jump operation.
pub const BPF_JSET: u8 = 0x40;
/// Jump operation.
pub const BPF_JNE: u8 = 0x50;
/// Jump operation.
pub const BPF_JSGT: u8 = 0x60;
/// Jump operation.
pub const BPF_JSGE: u8 = 0x70;
/// Jump class operation: call.
pub const BPF_CALL: u8 = 0x80;
/// Jump class operation: exit.
pub const BPF_EXIT: u8 = 0x90;
/// Jump operation.
pub const BPF_JLT: u8 = 0xa0;
/// Jump operation.
pub const BPF_JLE: u8 = 0xb0;
/// Jump operation.
pub const BPF_JSLT: u8 = 0xc0;
/// Jump operation.
pub const BPF_JSLE: u8 = 0xd0;

/// Atomic operation in `imm`: add.
pub const ATOMIC_ADD: i32 = 0x00;
/// Atomic operation in `imm`: or.
pub const ATOMIC_OR: i32 = 0x40;
/// Atomic operation in `imm`: and.
pub const ATOMIC_AND: i32 = 0x50;
/// Atomic operation in `imm`: xor.
pub const ATOMIC_XOR: i32 = 0xa0;
/// Atomic flag in `imm`: load the old value into the source register.
pub const ATOMIC_FETCH: i32 = 0x01;
/// Atomic operation in `imm`: exchange (always fetches).
pub const ATOMIC_XCHG: i32 = 0xe0 | ATOMIC_FETCH;
/// Atomic operation in `imm`: compare against r0 and exchange (always fetches into r0).
pub const ATOMIC_CMPXCHG: i32 = 0xf0 | ATOMIC_FETCH;

/// `call` source: helper by id.
pub const CALL_HELPER: u8 = 0;
/// `call` source: bpf-to-bpf call, `imm` is relative to the next instruction.
pub const CALL_LOCAL: u8 = 1;

/// `lddw` source: a plain 64-bit immediate.
pub const LDDW_IMM: u8 = 0;
/// `lddw` source: a map, by the embedder's map handle in `imm` (Linux: map fd).
pub const LDDW_MAP_FD: u8 = 1;
/// `lddw` source: the address of a map's value at offset `next.imm` (Linux: map value by fd).
pub const LDDW_MAP_VALUE: u8 = 2;
/// `lddw` source: a map by index into the program's map table.
pub const LDDW_MAP_IDX: u8 = 5;
/// `lddw` source: a map value address by index into the program's map table.
pub const LDDW_MAP_IDX_VALUE: u8 = 6;

/// Full opcodes used often enough to deserve a name.
pub mod op {
    use super::*;
    /// `lddw dst, imm64` (two slots).
    pub const LDDW: u8 = BPF_LD | BPF_IMM | BPF_DW;
    /// `exit`.
    pub const EXIT: u8 = BPF_JMP | BPF_EXIT;
    /// `call imm` (helper or local, by `src`).
    pub const CALL: u8 = BPF_JMP | BPF_CALL;
    /// `callx dst`: call the helper whose id is in a register.
    pub const CALLX: u8 = BPF_JMP | BPF_CALL | BPF_X;
    /// `ja off`.
    pub const JA: u8 = BPF_JMP | BPF_JA;
    /// `ja32 imm` (gotol).
    pub const JA32: u8 = BPF_JMP32 | BPF_JA;
}
