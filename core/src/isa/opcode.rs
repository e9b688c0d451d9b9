//! Opcode constants and the pieces of an opcode byte (class, size, mode, operation, source).
//!
//! Names follow RFC 9669 and Linux's `include/uapi/linux/bpf.h` so that a reader can look up
//! any constant in either.

/// Instruction class: the low three bits of the opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum Class {
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

/// Names a full opcode per operand source: `$imm` with the immediate (`BPF_K`), `$reg` with
/// the source register (`BPF_X`).
macro_rules! both_sources {
    ($($imm:ident, $reg:ident = $base:expr, $what:literal;)*) => {$(
        #[doc = concat!("`", $what, "` with an immediate operand.")]
        pub const $imm: u8 = $base | BPF_K;
        #[doc = concat!("`", $what, "` with a register operand.")]
        pub const $reg: u8 = $base | BPF_X;
    )*};
}

/// Names full opcodes that take no source: one name each.
macro_rules! opcodes {
    ($($name:ident = $value:expr, $what:literal;)*) => {$(
        #[doc = concat!("`", $what, "`.")]
        pub const $name: u8 = $value;
    )*};
}

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

/// Full opcodes (class, size or operation, source) by name, for the interpreter's dispatch and
/// the crate's tools. The mnemonics are the assembler's. Engines outside the crate build
/// opcodes from the parts above; the whole opcodes they test for are the six above.
pub(crate) mod op {
    use super::*;

    both_sources! {
        ADD64_IMM, ADD64_REG = BPF_ALU64 | BPF_ADD, "add";
        SUB64_IMM, SUB64_REG = BPF_ALU64 | BPF_SUB, "sub";
        MUL64_IMM, MUL64_REG = BPF_ALU64 | BPF_MUL, "mul";
        DIV64_IMM, DIV64_REG = BPF_ALU64 | BPF_DIV, "div (sdiv when off is 1)";
        OR64_IMM, OR64_REG = BPF_ALU64 | BPF_OR, "or";
        AND64_IMM, AND64_REG = BPF_ALU64 | BPF_AND, "and";
        LSH64_IMM, LSH64_REG = BPF_ALU64 | BPF_LSH, "lsh";
        RSH64_IMM, RSH64_REG = BPF_ALU64 | BPF_RSH, "rsh";
        MOD64_IMM, MOD64_REG = BPF_ALU64 | BPF_MOD, "mod (smod when off is 1)";
        XOR64_IMM, XOR64_REG = BPF_ALU64 | BPF_XOR, "xor";
        MOV64_IMM, MOV64_REG = BPF_ALU64 | BPF_MOV, "mov (movsx when off is 8, 16 or 32)";
        ARSH64_IMM, ARSH64_REG = BPF_ALU64 | BPF_ARSH, "arsh";
        ADD32_IMM, ADD32_REG = BPF_ALU | BPF_ADD, "add32";
        SUB32_IMM, SUB32_REG = BPF_ALU | BPF_SUB, "sub32";
        MUL32_IMM, MUL32_REG = BPF_ALU | BPF_MUL, "mul32";
        DIV32_IMM, DIV32_REG = BPF_ALU | BPF_DIV, "div32 (sdiv32 when off is 1)";
        OR32_IMM, OR32_REG = BPF_ALU | BPF_OR, "or32";
        AND32_IMM, AND32_REG = BPF_ALU | BPF_AND, "and32";
        LSH32_IMM, LSH32_REG = BPF_ALU | BPF_LSH, "lsh32";
        RSH32_IMM, RSH32_REG = BPF_ALU | BPF_RSH, "rsh32";
        MOD32_IMM, MOD32_REG = BPF_ALU | BPF_MOD, "mod32 (smod32 when off is 1)";
        XOR32_IMM, XOR32_REG = BPF_ALU | BPF_XOR, "xor32";
        MOV32_IMM, MOV32_REG = BPF_ALU | BPF_MOV, "mov32 (movsx32 when off is 8 or 16)";
        ARSH32_IMM, ARSH32_REG = BPF_ALU | BPF_ARSH, "arsh32";
        JEQ_IMM, JEQ_REG = BPF_JMP | BPF_JEQ, "jeq";
        JGT_IMM, JGT_REG = BPF_JMP | BPF_JGT, "jgt";
        JGE_IMM, JGE_REG = BPF_JMP | BPF_JGE, "jge";
        JSET_IMM, JSET_REG = BPF_JMP | BPF_JSET, "jset";
        JNE_IMM, JNE_REG = BPF_JMP | BPF_JNE, "jne";
        JSGT_IMM, JSGT_REG = BPF_JMP | BPF_JSGT, "jsgt";
        JSGE_IMM, JSGE_REG = BPF_JMP | BPF_JSGE, "jsge";
        JLT_IMM, JLT_REG = BPF_JMP | BPF_JLT, "jlt";
        JLE_IMM, JLE_REG = BPF_JMP | BPF_JLE, "jle";
        JSLT_IMM, JSLT_REG = BPF_JMP | BPF_JSLT, "jslt";
        JSLE_IMM, JSLE_REG = BPF_JMP | BPF_JSLE, "jsle";
        JEQ32_IMM, JEQ32_REG = BPF_JMP32 | BPF_JEQ, "jeq32";
        JGT32_IMM, JGT32_REG = BPF_JMP32 | BPF_JGT, "jgt32";
        JGE32_IMM, JGE32_REG = BPF_JMP32 | BPF_JGE, "jge32";
        JSET32_IMM, JSET32_REG = BPF_JMP32 | BPF_JSET, "jset32";
        JNE32_IMM, JNE32_REG = BPF_JMP32 | BPF_JNE, "jne32";
        JSGT32_IMM, JSGT32_REG = BPF_JMP32 | BPF_JSGT, "jsgt32";
        JSGE32_IMM, JSGE32_REG = BPF_JMP32 | BPF_JSGE, "jsge32";
        JLT32_IMM, JLT32_REG = BPF_JMP32 | BPF_JLT, "jlt32";
        JLE32_IMM, JLE32_REG = BPF_JMP32 | BPF_JLE, "jle32";
        JSLT32_IMM, JSLT32_REG = BPF_JMP32 | BPF_JSLT, "jslt32";
        JSLE32_IMM, JSLE32_REG = BPF_JMP32 | BPF_JSLE, "jsle32";
    }

    opcodes! {
        NEG64 = BPF_ALU64 | BPF_NEG, "neg";
        NEG32 = BPF_ALU | BPF_NEG, "neg32";
        BSWAP = BPF_ALU64 | BPF_END, "bswap16/32/64";
        TO_LE = BPF_ALU | BPF_END | BPF_K, "le16/32/64";
        TO_BE = BPF_ALU | BPF_END | BPF_X, "be16/32/64";
        LDXW = BPF_LDX | BPF_MEM | BPF_W, "ldxw";
        LDXH = BPF_LDX | BPF_MEM | BPF_H, "ldxh";
        LDXB = BPF_LDX | BPF_MEM | BPF_B, "ldxb";
        LDXDW = BPF_LDX | BPF_MEM | BPF_DW, "ldxdw";
        LDXSW = BPF_LDX | BPF_MEMSX | BPF_W, "ldxsw";
        LDXSH = BPF_LDX | BPF_MEMSX | BPF_H, "ldxsh";
        LDXSB = BPF_LDX | BPF_MEMSX | BPF_B, "ldxsb";
        STW = BPF_ST | BPF_MEM | BPF_W, "stw";
        STH = BPF_ST | BPF_MEM | BPF_H, "sth";
        STB = BPF_ST | BPF_MEM | BPF_B, "stb";
        STDW = BPF_ST | BPF_MEM | BPF_DW, "stdw";
        STXW = BPF_STX | BPF_MEM | BPF_W, "stxw";
        STXH = BPF_STX | BPF_MEM | BPF_H, "stxh";
        STXB = BPF_STX | BPF_MEM | BPF_B, "stxb";
        STXDW = BPF_STX | BPF_MEM | BPF_DW, "stxdw";
        ATOMIC_W = BPF_STX | BPF_ATOMIC | BPF_W, "the 32-bit atomics (operation in imm)";
        ATOMIC_DW = BPF_STX | BPF_ATOMIC | BPF_DW, "the 64-bit atomics (operation in imm)";
        LDABSW = BPF_LD | BPF_ABS | BPF_W, "ldabsw";
        LDABSH = BPF_LD | BPF_ABS | BPF_H, "ldabsh";
        LDABSB = BPF_LD | BPF_ABS | BPF_B, "ldabsb";
        LDINDW = BPF_LD | BPF_IND | BPF_W, "ldindw";
        LDINDH = BPF_LD | BPF_IND | BPF_H, "ldindh";
        LDINDB = BPF_LD | BPF_IND | BPF_B, "ldindb";
    }

    pub use super::{CALL, CALLX, EXIT, JA, JA32, LDDW};
}
