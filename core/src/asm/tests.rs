//! Assembler and disassembler tests: encodings, every error kind with its location, and a
//! seeded round-trip property over random slot streams.

use std::string::String;
use std::vec::Vec;

use super::*;
use crate::isa::{validate, Insn};

fn asm(src: &str) -> Result<Vec<Insn>, AsmError> {
    let mut out = [Insn::default(); 64];
    let n = assemble(src, &mut out)?;
    Ok(out[..n].to_vec())
}

fn one(src: &str) -> Insn {
    let v = asm(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    assert_eq!(v.len(), 1, "{src}");
    v[0]
}

fn err(src: &str) -> (AsmErrorKind, u32, u32) {
    let e = asm(src).expect_err(src);
    (e.kind, e.line, e.column)
}

fn i(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn::new(op, dst, src, off, imm)
}

#[test]
fn encodes_every_form() {
    let cases: &[(&str, Insn)] = &[
        ("add %r1, %r2", i(0x0f, 1, 2, 0, 0)),
        ("add64 r1 -3", i(0x07, 1, 0, 0, -3)),
        ("add32 %r1, 0xffffffff", i(0x04, 1, 0, 0, -1)),
        ("sdiv32 %r1, %r2", i(0x3c, 1, 2, 1, 0)),
        ("smod %r1, 7", i(0x97, 1, 0, 1, 7)),
        ("neg %r3", i(0x87, 3, 0, 0, 0)),
        ("neg32 %r3", i(0x84, 3, 0, 0, 0)),
        ("movsx1632 %r1, %r2", i(0xbc, 1, 2, 16, 0)),
        ("movsx3264 %r1, %r2", i(0xbf, 1, 2, 32, 0)),
        ("le16 %r1", i(0xd4, 1, 0, 0, 16)),
        ("be64 %r1", i(0xdc, 1, 0, 0, 64)),
        ("swap32 %r1", i(0xd7, 1, 0, 0, 32)),
        ("ldxsh %r1, [%r2-4]", i(0x89, 1, 2, -4, 0)),
        ("ldxdw %r1, [%r2]", i(0x79, 1, 2, 0, 0)),
        ("stb [%r10-0x10], -1", i(0x72, 10, 0, -16, -1)),
        ("stxdw [%r1+32767], %r2", i(0x7b, 1, 2, 32767, 0)),
        ("ja -32768", i(0x05, 0, 0, -32768, 0)),
        ("ja32 +70000", i(0x06, 0, 0, 0, 70000)),
        ("jsle32 %r1, %r2, +3", i(0xde, 1, 2, 3, 0)),
        ("jset %r1, 0x80000000, -1", i(0x45, 1, 0, -1, i32::MIN)),
        ("call 5", i(0x85, 0, 0, 0, 5)),
        ("call local -2", i(0x85, 0, 1, 0, -2)),
        ("call runtime 9", i(0x85, 0, 2, 0, 9)),
        ("call %r2", i(0x8d, 2, 0, 0, 0)),
        ("exit", i(0x95, 0, 0, 0, 0)),
        ("lock add [%r1+8], %r2", i(0xdb, 1, 2, 8, 0x00)),
        ("lock fetch xor32 [%r1], %r2", i(0xc3, 1, 2, 0, 0xa1)),
        ("lock xchg32 [%r1], %r2", i(0xc3, 1, 2, 0, 0xe1)),
        ("lock cmpxchg [%r10-8], %r1", i(0xdb, 10, 1, -8, 0xf1)),
        ("ldabsh 12", i(0x28, 0, 0, 0, 12)),
        ("ldindw %r3, -2", i(0x40, 0, 3, 0, -2)),
        (
            ".raw 0x0123456789abcdef",
            Insn::from_u64(0x0123_4567_89ab_cdef),
        ),
    ];
    for &(src, want) in cases {
        assert_eq!(one(src), want, "{src}");
    }
}

#[test]
fn lddw_forms() {
    let pair = |src: &str| {
        let v = asm(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(v.len(), 2, "{src}");
        (v[0], v[1])
    };
    let (a, b) = pair("lddw %r0, 0x1122334455667788");
    assert_eq!(
        (a, b),
        (i(0x18, 0, 0, 0, 0x55667788), i(0, 0, 0, 0, 0x11223344))
    );
    assert_eq!(pair("lddw %r1, -1"), pair("lddw %r1, 0xFFFFFFFFFFFFFFFF"));
    assert_eq!(pair("lddw %r1, 18446744073709551615"), pair("lddw %r1, -1"));
    assert_eq!(pair("lddw %r1, -9223372036854775808").1.imm, i32::MIN);
    assert_eq!(
        pair("lddw %r2, map[3]"),
        (i(0x18, 2, 5, 0, 3), i(0, 0, 0, 0, 0))
    );
    assert_eq!(
        pair("lddw %r2, map_value[1]+16"),
        (i(0x18, 2, 6, 0, 1), i(0, 0, 0, 0, 16))
    );
    assert_eq!(pair("lddw %r2, map_value[1]").1.imm, 0);
    assert_eq!(pair("lddw %r2, map_fd_value[7]-4").0.src(), 2);
    assert_eq!(pair("lddw %r2, map_fd[7]").0.src(), 1);
}

#[test]
fn labels_resolve_relative_to_the_next_slot() {
    let src = "start:\n  lddw %r0, 1\n  jeq %r0, 1, done # comment\n  ja start\ndone:\n  \
               call local start\n  ja32 exit\n  exit\n";
    let v = asm(src).unwrap();
    assert_eq!(v[2], i(0x15, 0, 0, 1, 1)); // pc 2 -> done at 4
    assert_eq!(v[3], i(0x05, 0, 0, -4, 0)); // pc 3 -> start at 0
    assert_eq!(v[4], i(0x85, 0, 1, 0, -5));
    assert_eq!(v[5], i(0x06, 0, 0, 0, 0)); // implicit label at the first exit
}

#[test]
fn written_exit_label_wins_over_implicit_one() {
    let v = asm("ja exit\nexit\nexit:\nexit").unwrap();
    assert_eq!(v[0].off, 1);
    let mut labels = Labels::<4>::new();
    let src = "a:\nexit\nb:\nexit\n";
    assert_eq!(
        assemble_with(src, &mut [Insn::default(); 4], &mut labels),
        Ok(2)
    );
    assert_eq!((labels.len(), labels.lookup(src, "b")), (2, Some(1)));
    assert_eq!(labels.lookup(src, "exit"), Some(0));
    assert_eq!(labels.lookup(src, "c"), None);
}

#[test]
fn immediate_ranges() {
    assert_eq!(one("mov %r0, -2147483648").imm, i32::MIN);
    assert_eq!(one("mov %r0, 2147483647").imm, i32::MAX);
    assert_eq!(one("mov %r0, -0x80000000").imm, i32::MIN);
    assert_eq!(
        err("mov32 %r0, 2147483648"),
        (AsmErrorKind::ImmOutOfRange, 1, 12)
    );
    assert_eq!(
        err("mov32 %r0, 0x100000000"),
        (AsmErrorKind::ImmOutOfRange, 1, 12)
    );
    assert_eq!(
        err("mov %r0, -2147483649"),
        (AsmErrorKind::ImmOutOfRange, 1, 10)
    );
    assert_eq!(
        err("lddw %r0, -9223372036854775809").0,
        AsmErrorKind::ImmOutOfRange
    );
    assert_eq!(
        err("lddw %r0, 0x10000000000000000").0,
        AsmErrorKind::ImmOutOfRange
    );
    assert_eq!(err("ja32 +2147483648"), (AsmErrorKind::ImmOutOfRange, 1, 6));
    assert_eq!(err("call 0x1ffffffff").0, AsmErrorKind::ImmOutOfRange);
    assert_eq!(
        err("lddw %r1, map[0x100000000]").0,
        AsmErrorKind::ImmOutOfRange
    );
}

#[test]
fn error_kinds_with_locations() {
    use AsmErrorKind::*;
    let cases: &[(&str, (AsmErrorKind, u32, u32))] = &[
        ("mov %r0, 1\nldxq %r0, %r1", (UnknownMnemonic, 2, 1)),
        ("lock nand [%r1], %r2", (UnknownMnemonic, 1, 6)),
        ("or %r0, %r50", (BadRegister, 1, 9)),
        ("  mov r11, 1", (BadRegister, 1, 7)),
        ("add %r0, %q1", (BadRegister, 1, 10)),
        ("lddw %r0", (BadOperandCount, 1, 1)),
        ("exit %r0", (BadOperandCount, 1, 6)),
        ("add %r1, 1, 2", (BadOperandCount, 1, 13)),
        ("lock or [%r10-8]", (BadOperandCount, 1, 1)),
        ("lock fetch add [%r1], %r2, %r3", (BadOperandCount, 1, 28)),
        ("ldxb %r0, %r1", (BadOperand, 1, 11)),
        ("stxb [%r1], 5", (BadOperand, 1, 13)),
        ("mov %r0, label", (BadOperand, 1, 10)),
        ("ja 5", (BadOperand, 1, 4)),
        ("lddw %r0, %r1", (BadOperand, 1, 11)),
        ("ldxb %r0, [%r1+0x10000]", (OffsetOutOfRange, 1, 15)),
        ("ldxb %r0, [%r1-32769]", (OffsetOutOfRange, 1, 15)),
        ("ja +32768", (OffsetOutOfRange, 1, 4)),
        ("ja NOT_A_LABEL\nexit", (UnknownLabel, 1, 4)),
        ("a:\nexit\n\n  a:\nb:\nb:", (DuplicateLabel, 4, 3)),
        ("add %r0 $", (Syntax, 1, 9)),
        ("foo: exit", (Syntax, 1, 6)),
        ("add %r0,, 1", (Syntax, 1, 9)),
        ("add %r0, 1,", (Syntax, 1, 11)),
        ("ldxb %r0, [%r1", (Syntax, 1, 15)),
        ("ldxb %r0, [%r1+]", (Syntax, 1, 16)),
        ("5: exit", (Syntax, 1, 1)),
        ("lddw %r0, mapx[1]", (BadOperand, 1, 16)),
        ("lddw %r0, map[1", (Syntax, 1, 16)),
        ("-- Unknown directive", (Syntax, 1, 1)),
    ];
    for &(src, want) in cases {
        assert_eq!(err(src), want, "{src}");
    }
}

#[test]
fn jump_to_far_label_is_out_of_range() {
    let mut src = String::from("top:\n");
    for _ in 0..32768 {
        src.push_str("mov %r0, 0\n");
    }
    src.push_str("ja top\nexit\n");
    let mut out = std::vec![Insn::default(); 40000];
    let e = assemble(&src, &mut out).unwrap_err();
    assert_eq!(
        (e.kind, e.line, e.column),
        (AsmErrorKind::OffsetOutOfRange, 32770, 4)
    );
    // One slot closer fits.
    let src = src.replacen("mov %r0, 0\n", "", 1);
    assert_eq!(assemble(&src, &mut out), Ok(32769));
}

#[test]
fn full_tables_and_buffers() {
    let mut labels = Labels::<2>::new();
    let src = "a:\nb:\nexit\nc:\nexit";
    let e = assemble_with(src, &mut [Insn::default(); 8], &mut labels).unwrap_err();
    assert_eq!(
        (e.kind, e.line, e.column),
        (AsmErrorKind::TooManyLabels, 4, 1)
    );
    let e = assemble("mov %r0, 1\n lddw %r0, 1", &mut [Insn::default(); 2]).unwrap_err();
    assert_eq!((e.kind, e.line, e.column), (AsmErrorKind::OutputFull, 2, 2));
    assert_eq!(
        assemble("exit", &mut []).unwrap_err().kind,
        AsmErrorKind::OutputFull
    );
    assert_eq!(assemble("", &mut []), Ok(0));
}

#[test]
fn errors_display_their_location() {
    let e = asm("\n  ldxq").unwrap_err();
    assert_eq!(std::format!("{e}"), "line 2 column 3: unknown mnemonic");
}

#[test]
fn disassembles_readably() {
    let src = "lddw %r1, 0x1122334455667788\nlddw %r2, map_value[3]+8\njne32 %r1, -5, -3\n\
               ldxw %r0, [%r1+4]\nlock fetch add [%r10-8], %r1\ncall local +1\nexit\n";
    let v = asm(src).unwrap();
    let text = std::format!("{}", Disasm::new(&v));
    assert_eq!(text, src);
    // An lddw cut short, and an unknown opcode, print as raw slots.
    let bad = [i(0x18, 1, 0, 0, 5), i(0xff, 0, 0, 0, 0)];
    let text = std::format!("{}", Disasm::new(&bad));
    assert_eq!(text, ".raw 0x0000000500000118\n.raw 0x00000000000000ff\n");
    let mut s = String::new();
    assert_eq!(disassemble_insn(&v, 0, &mut s), Ok(2));
    assert_eq!(disassemble_insn(&bad, 0, &mut s), Ok(1));
    assert_eq!(disassemble_insn(&bad, 1, &mut s), Ok(1));
    assert!(disassemble_insn(&v, 99, &mut s).is_err());
}

/// A small deterministic xorshift generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// Every opcode the assembler can produce, found by assembling one line of each form.
fn known_opcodes() -> Vec<u8> {
    let mut lines = String::new();
    for suffix in ["", "32"] {
        for (name, _) in mnemonic::ALU_OPS.iter().chain(&[("sdiv", 0), ("smod", 0)]) {
            lines.push_str(&std::format!(
                "{name}{suffix} %r1, %r2\n{name}{suffix} %r1, 1\n"
            ));
        }
        for (name, _) in mnemonic::JMP_OPS {
            lines.push_str(&std::format!(
                "{name}{suffix} %r1, %r2, +0\n{name}{suffix} %r1, 1, +0\n"
            ));
        }
        lines.push_str(&std::format!(
            "neg{suffix} %r1\nlock add{suffix} [%r1], %r2\n"
        ));
    }
    for m in ["ldxb", "ldxh", "ldxw", "ldxdw", "ldxsb", "ldxsh", "ldxsw"] {
        lines.push_str(&std::format!("{m} %r1, [%r2]\n"));
    }
    for m in ["stb", "sth", "stw", "stdw"] {
        lines.push_str(&std::format!("{m} [%r1], 1\n"));
    }
    for m in ["stxb", "stxh", "stxw", "stxdw"] {
        lines.push_str(&std::format!("{m} [%r1], %r2\n"));
    }
    lines.push_str("le16 %r1\nbe16 %r1\nbswap16 %r1\nlddw %r1, 1\nja +0\nja32 +0\ncall 1\n");
    lines.push_str("call %r1\nexit\nldabsb 1\nldabsh 1\nldabsw 1\nldindb %r1, 1\nldindh %r1, 1\n");
    lines.push_str("ldindw %r1, 1\n");
    let mut out = [Insn::default(); 256];
    let n = assemble(&lines, &mut out).unwrap();
    let mut ops: Vec<u8> = out[..n]
        .iter()
        .map(|s| s.opcode)
        .filter(|&o| o != 0)
        .collect();
    ops.sort_unstable();
    ops.dedup();
    ops
}

/// A random slot: a known opcode with fields biased toward meaningful values, or pure noise.
fn random_slot(rng: &mut Rng, ops: &[u8]) -> Insn {
    if rng.next() % 5 == 0 {
        return Insn::from_u64(rng.next());
    }
    let r = |rng: &mut Rng| {
        if rng.next() % 8 == 0 {
            rng.next() as u8 & 15
        } else {
            rng.next() as u8 % 11
        }
    };
    let (any_off, any_imm, any_reg) = (rng.next() as i16, rng.next() as i32, r(rng));
    let off = rng.pick(&[0i16, 0, 0, 1, 8, 16, 32, -1, i16::MIN, i16::MAX, any_off]);
    let imm = rng.pick(&[
        0, 0, 1, 16, 32, 64, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1, -1, any_imm,
    ]);
    let (dst, src) = (r(rng), rng.pick(&[0, 0, 1, 2, 5, 6, any_reg]));
    Insn::new(rng.pick(ops), dst, src, off, imm)
}

fn round_trip(slots: &[Insn]) -> String {
    let text = std::format!("{}", Disasm::new(slots));
    let mut out = std::vec![Insn::default(); slots.len()];
    let n = assemble(&text, &mut out).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(&out[..n], slots, "\n{text}");
    text
}

#[test]
fn random_slot_streams_round_trip() {
    let ops = known_opcodes();
    assert!(ops.len() > 100, "{}", ops.len());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..400 {
        let len = 1 + rng.next() as usize % 16;
        let mut slots = Vec::with_capacity(len + 1);
        while slots.len() < len {
            let s = random_slot(&mut rng, &ops);
            slots.push(s);
            if s.is_lddw() && rng.next() % 4 != 0 {
                // Usually a well-formed second slot.
                slots.push(Insn::new(0, 0, 0, 0, rng.next() as i32));
            }
        }
        round_trip(&slots);
    }
}

#[test]
fn valid_instructions_never_print_raw() {
    let ops = known_opcodes();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut checked = 0;
    for _ in 0..6000 {
        let s = random_slot(&mut rng, &ops);
        // Clear each field half of the time, so that more slots are valid.
        let keep = rng.next();
        let f = |bit: u64, v: i64| if keep & bit != 0 { v } else { 0 };
        let s = Insn::new(
            s.opcode,
            f(1, s.dst().into()) as u8,
            f(2, s.src().into()) as u8,
            f(4, s.off.into()) as i16,
            f(8, s.imm.into()) as i32,
        );
        let mut prog = std::vec![s];
        if s.is_lddw() {
            prog.push(Insn::new(0, 0, 0, 0, rng.next() as i32));
        }
        prog.push(Insn::new(0x95, 0, 0, 0, 0));
        // A map by handle or index has no value offset (Linux rejects one); such a pair is
        // decodable but has no text of its own, so it prints as raw slots.
        let map_with_offset = s.is_lddw() && matches!(s.src(), 1 | 5) && prog[1].imm != 0;
        if validate(&prog).is_err() || map_with_offset {
            continue;
        }
        checked += 1;
        let text = round_trip(&prog);
        assert!(!text.contains(".raw"), "{s:?} printed as\n{text}");
    }
    assert!(
        checked > 1000,
        "only {checked} valid instructions generated"
    );
}

#[test]
fn large_source_with_many_labels() {
    // 100,000 lines, 1,000 labels, every jump resolved by name.
    let mut src = String::new();
    for l in 0..1000 {
        src.push_str(&std::format!("l{l}:\n"));
        for k in 0..98 {
            src.push_str(&std::format!("jeq %r1, {k}, l{}\n", (l + k % 5).min(999)));
        }
        src.push_str("exit\n");
    }
    let mut out = std::vec![Insn::default(); 100_000];
    let n = assemble(&src, &mut out).unwrap();
    assert_eq!(n, 99_000);
    // Line 2 (pc 0) jumps to l0 at pc 0; the jump at pc 1 (k = 1) to l1 at pc 99.
    assert_eq!((out[0].off, out[1].off), (-1, 97));
    // The last jump of the last block (l999, k = 97) goes to l999 itself.
    assert_eq!(out[98_999 - 1].off, -98);
}
