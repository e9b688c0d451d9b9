//! Mnemonics: what each one encodes and which operands it takes.

use crate::isa::opcode::*;

/// What an instruction line encodes, fixed by its mnemonic; the operands fill in the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// `op dst, src|imm`: class and operation bits, and the fixed offset (1 for `sdiv`/`smod`).
    Alu { code: u8, off: i16 },
    /// `neg dst`, `le16 dst`, ...: a full opcode and a fixed immediate.
    Unary { opcode: u8, imm: i32 },
    /// `movsxSD dst, src`: the full opcode and the source width in the offset.
    MovSx { opcode: u8, off: i16 },
    /// `ldx* dst, [src+off]`.
    Load { opcode: u8 },
    /// `st* [dst+off], imm`.
    StoreImm { opcode: u8 },
    /// `stx* [dst+off], src`.
    StoreReg { opcode: u8 },
    /// `lddw dst, imm64` or `lddw dst, map...`.
    Lddw,
    /// `ja target` (offset field).
    Ja,
    /// `ja32 target` (immediate field).
    Ja32,
    /// `jcc dst, src|imm, target`: class and operation bits.
    Jcc { code: u8 },
    /// `call ...` in its four spellings.
    Call,
    /// `exit`.
    Exit,
    /// `lock [fetch] op [dst+off], src`.
    Lock,
    /// `ldabs* imm`: the full opcode.
    LdAbs { opcode: u8 },
    /// `ldind* src, imm`: the full opcode.
    LdInd { opcode: u8 },
    /// `.raw u64`: one slot given as its little-endian `u64`.
    Raw,
}

/// ALU operation names and their operation bits (`neg` and byte order are separate).
pub(super) const ALU_OPS: [(&str, u8); 12] = [
    ("add", BPF_ADD),
    ("sub", BPF_SUB),
    ("mul", BPF_MUL),
    ("div", BPF_DIV),
    ("or", BPF_OR),
    ("and", BPF_AND),
    ("lsh", BPF_LSH),
    ("rsh", BPF_RSH),
    ("mod", BPF_MOD),
    ("xor", BPF_XOR),
    ("mov", BPF_MOV),
    ("arsh", BPF_ARSH),
];

/// Conditional jump names and their operation bits.
pub(super) const JMP_OPS: [(&str, u8); 11] = [
    ("jeq", BPF_JEQ),
    ("jgt", BPF_JGT),
    ("jge", BPF_JGE),
    ("jset", BPF_JSET),
    ("jne", BPF_JNE),
    ("jsgt", BPF_JSGT),
    ("jsge", BPF_JSGE),
    ("jlt", BPF_JLT),
    ("jle", BPF_JLE),
    ("jslt", BPF_JSLT),
    ("jsle", BPF_JSLE),
];

/// Load, store and legacy packet load names with their full opcodes.
const MEM_OPS: [(&str, Shape); 21] = [
    ("ldxw", Shape::Load { opcode: 0x61 }),
    ("ldxh", Shape::Load { opcode: 0x69 }),
    ("ldxb", Shape::Load { opcode: 0x71 }),
    ("ldxdw", Shape::Load { opcode: 0x79 }),
    ("ldxsw", Shape::Load { opcode: 0x81 }),
    ("ldxsh", Shape::Load { opcode: 0x89 }),
    ("ldxsb", Shape::Load { opcode: 0x91 }),
    ("stw", Shape::StoreImm { opcode: 0x62 }),
    ("sth", Shape::StoreImm { opcode: 0x6a }),
    ("stb", Shape::StoreImm { opcode: 0x72 }),
    ("stdw", Shape::StoreImm { opcode: 0x7a }),
    ("stxw", Shape::StoreReg { opcode: 0x63 }),
    ("stxh", Shape::StoreReg { opcode: 0x6b }),
    ("stxb", Shape::StoreReg { opcode: 0x73 }),
    ("stxdw", Shape::StoreReg { opcode: 0x7b }),
    ("ldabsw", Shape::LdAbs { opcode: 0x20 }),
    ("ldabsh", Shape::LdAbs { opcode: 0x28 }),
    ("ldabsb", Shape::LdAbs { opcode: 0x30 }),
    ("ldindw", Shape::LdInd { opcode: 0x40 }),
    ("ldindh", Shape::LdInd { opcode: 0x48 }),
    ("ldindb", Shape::LdInd { opcode: 0x50 }),
];

const LE: u8 = BPF_ALU | BPF_END | BPF_K;
const BE: u8 = BPF_ALU | BPF_END | BPF_X;
const BSWAP: u8 = BPF_ALU64 | BPF_END | BPF_K;

/// Mnemonics without a class suffix.
const FIXED: [(&str, Shape); 19] = [
    ("lddw", Shape::Lddw),
    ("ja", Shape::Ja),
    ("ja32", Shape::Ja32),
    ("call", Shape::Call),
    ("exit", Shape::Exit),
    ("lock", Shape::Lock),
    (".raw", Shape::Raw),
    (
        "le16",
        Shape::Unary {
            opcode: LE,
            imm: 16,
        },
    ),
    (
        "le32",
        Shape::Unary {
            opcode: LE,
            imm: 32,
        },
    ),
    (
        "le64",
        Shape::Unary {
            opcode: LE,
            imm: 64,
        },
    ),
    (
        "be16",
        Shape::Unary {
            opcode: BE,
            imm: 16,
        },
    ),
    (
        "be32",
        Shape::Unary {
            opcode: BE,
            imm: 32,
        },
    ),
    (
        "be64",
        Shape::Unary {
            opcode: BE,
            imm: 64,
        },
    ),
    (
        "bswap16",
        Shape::Unary {
            opcode: BSWAP,
            imm: 16,
        },
    ),
    (
        "bswap32",
        Shape::Unary {
            opcode: BSWAP,
            imm: 32,
        },
    ),
    (
        "bswap64",
        Shape::Unary {
            opcode: BSWAP,
            imm: 64,
        },
    ),
    (
        "swap16",
        Shape::Unary {
            opcode: BSWAP,
            imm: 16,
        },
    ),
    (
        "swap32",
        Shape::Unary {
            opcode: BSWAP,
            imm: 32,
        },
    ),
    (
        "swap64",
        Shape::Unary {
            opcode: BSWAP,
            imm: 64,
        },
    ),
];

/// Sign-extending moves: name, class, source width.
const MOVSX: [(&str, u8, i16); 5] = [
    ("movsx832", BPF_ALU, 8),
    ("movsx1632", BPF_ALU, 16),
    ("movsx864", BPF_ALU64, 8),
    ("movsx1664", BPF_ALU64, 16),
    ("movsx3264", BPF_ALU64, 32),
];

/// The shape of a mnemonic, if it is one.
pub(super) fn lookup(name: &str) -> Option<Shape> {
    let find = |table: &[(&str, Shape)]| table.iter().find(|e| e.0 == name).map(|e| e.1);
    if let Some(s) = find(&FIXED).or_else(|| find(&MEM_OPS)) {
        return Some(s);
    }
    if let Some(&(_, class, off)) = MOVSX.iter().find(|e| e.0 == name) {
        let opcode = class | BPF_MOV | BPF_X;
        return Some(Shape::MovSx { opcode, off });
    }
    // ALU: plain or `64` is ALU64, `32` is ALU.
    let (base, alu_class, jmp_class) = if let Some(b) = name.strip_suffix("32") {
        (b, BPF_ALU, Some(BPF_JMP32))
    } else if let Some(b) = name.strip_suffix("64") {
        (b, BPF_ALU64, None)
    } else {
        (name, BPF_ALU64, Some(BPF_JMP))
    };
    if base == "neg" {
        let opcode = alu_class | BPF_NEG;
        return Some(Shape::Unary { opcode, imm: 0 });
    }
    let signed = match base {
        "sdiv" => Some(BPF_DIV),
        "smod" => Some(BPF_MOD),
        _ => None,
    };
    if let Some(op) = signed {
        let code = alu_class | op;
        return Some(Shape::Alu { code, off: 1 });
    }
    if let Some(&(_, op)) = ALU_OPS.iter().find(|e| e.0 == base) {
        let code = alu_class | op;
        return Some(Shape::Alu { code, off: 0 });
    }
    let class = jmp_class?;
    JMP_OPS
        .iter()
        .find(|e| e.0 == base)
        .map(|&(_, op)| Shape::Jcc { code: class | op })
}

/// The name of the ALU operation `op` (operation bits only, plain ones only).
pub(super) fn alu_name(op: u8) -> Option<&'static str> {
    ALU_OPS.iter().find(|e| e.1 == op).map(|e| e.0)
}

/// The name of the conditional jump `op` (operation bits only).
pub(super) fn jmp_name(op: u8) -> Option<&'static str> {
    JMP_OPS.iter().find(|e| e.1 == op).map(|e| e.0)
}

/// The mnemonic of a load, store or legacy packet load opcode.
pub(super) fn mem_name(opcode: u8) -> Option<&'static str> {
    MEM_OPS
        .iter()
        .find(|e| opcode_of(e.1) == Some(opcode))
        .map(|e| e.0)
}

/// The mnemonic of a fixed unary opcode (byte order) and immediate; `bswap`, not `swap`.
pub(super) fn unary_name(opcode: u8, imm: i32) -> Option<&'static str> {
    let want = Shape::Unary { opcode, imm };
    FIXED.iter().find(|e| e.1 == want).map(|e| e.0)
}

/// The mnemonic of a sign-extending move.
pub(super) fn movsx_name(class: u8, off: i16) -> Option<&'static str> {
    MOVSX
        .iter()
        .find(|e| e.1 == class && e.2 == off)
        .map(|e| e.0)
}

fn opcode_of(s: Shape) -> Option<u8> {
    match s {
        Shape::Load { opcode }
        | Shape::StoreImm { opcode }
        | Shape::StoreReg { opcode }
        | Shape::LdAbs { opcode }
        | Shape::LdInd { opcode } => Some(opcode),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_select_the_class() {
        assert_eq!(lookup("add"), Some(Shape::Alu { code: 0x07, off: 0 }));
        assert_eq!(lookup("add64"), Some(Shape::Alu { code: 0x07, off: 0 }));
        assert_eq!(lookup("add32"), Some(Shape::Alu { code: 0x04, off: 0 }));
        assert_eq!(lookup("smod32"), Some(Shape::Alu { code: 0x94, off: 1 }));
        assert_eq!(
            lookup("neg"),
            Some(Shape::Unary {
                opcode: 0x87,
                imm: 0
            })
        );
        assert_eq!(lookup("jsle32"), Some(Shape::Jcc { code: 0xd6 }));
        assert_eq!(lookup("jeq64"), None);
        assert_eq!(lookup("ja32"), Some(Shape::Ja32));
        assert_eq!(lookup("swap16"), lookup("bswap16"));
        assert_eq!(lookup("movsx3232"), None);
        assert_eq!(lookup("ldxq"), None);
        assert_eq!(unary_name(0xd7, 32), Some("bswap32"));
        assert_eq!(mem_name(0x91), Some("ldxsb"));
    }
}
