//! Converter tests: each instruction class lowered and run, every error with its location, and
//! a differential test against a reference classic interpreter with libpcap's semantics.

use super::*;
use crate::verifier::{verify, DefaultWorkspace, VerifyTarget};
use crate::{Context, Interpreter, NoPlatform, ProgramType, SkBuff};
use crate::{Insn, Stack};
use std::string::ToString;
use std::vec;
use std::vec::Vec;

const fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter::new(code, 0, 0, k)
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter::new(code, jt, jf, k)
}

use code::*;

fn conv(filter: &[SockFilter]) -> Result<Vec<Insn>, CbpfError> {
    let mut out = vec![Insn::default(); output_bound(filter.len())];
    let n = convert(filter, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Converts, verifies as a socket filter and runs on the interpreter; the verifier proves the
/// output safe and rewrites its context accesses to the runtime layout.
fn run(filter: &[SockFilter], packet: &[u8]) -> u32 {
    let mut insns = conv(filter).expect("converts");
    let env = VerifyTarget::new(
        ProgramType::SocketFilter,
        crate::helpers::standard(),
        crate::maps::MapTable::EMPTY,
    );
    let mut ws = std::boxed::Box::new(DefaultWorkspace::new());
    let program = match verify(&mut insns, &env, &mut ws) {
        Ok(p) => p,
        Err(e) => panic!("the output verifies: {e}\n{filter:?}"),
    };
    let mut pkt = packet.to_vec();
    let mut stack = Stack([0xa5; crate::host::STACK_SIZE]);
    let vm = Interpreter::new(crate::helpers::standard(), &NoPlatform);
    let mut ctx = Context::SocketFilter(SkBuff {
        packet: &mut pkt,
        fields: [0; 19],
    });
    let r0 = vm.run(&program, &mut ctx, &mut stack).expect("runs");
    assert_eq!(r0 >> 32, 0, "A stays 32-bit");
    r0 as u32
}

/// libpcap's `bpf_filter`, the reference semantics.
fn reference(prog: &[SockFilter], p: &[u8]) -> u32 {
    let (mut a, mut x, mut m) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    let load = |at: u32, n: u32| -> Option<u32> {
        let (at, n) = (at as usize, n as usize);
        let bytes = p.get(at..at.checked_add(n)?)?;
        Some(bytes.iter().fold(0u32, |v, b| v << 8 | *b as u32))
    };
    loop {
        let f = prog[pc];
        pc += 1;
        let k = f.k;
        let size = |c: u16| match c & 0x18 {
            W => 4,
            H => 2,
            _ => 1,
        };
        match f.code {
            0x20 | 0x28 | 0x30 => match load(k, size(f.code)) {
                Some(v) => a = v,
                None => return 0,
            },
            0x40 | 0x48 | 0x50 => match x.checked_add(k).and_then(|at| load(at, size(f.code))) {
                Some(v) => a = v,
                None => return 0,
            },
            0x00 => a = k,
            0x01 => x = k,
            0x60 => a = m[k as usize],
            0x61 => x = m[k as usize],
            0x80 => a = p.len() as u32,
            0x81 => x = p.len() as u32,
            0xb1 => match load(k, 1) {
                Some(v) => x = 4 * (v & 0xf),
                None => return 0,
            },
            0x02 => m[k as usize] = a,
            0x03 => m[k as usize] = x,
            0x84 => a = a.wrapping_neg(),
            c if c & 7 == ALU => {
                let v = if c & X != 0 { x } else { k };
                a = match c & 0xf0 {
                    ADD => a.wrapping_add(v),
                    SUB => a.wrapping_sub(v),
                    MUL => a.wrapping_mul(v),
                    DIV if v == 0 => return 0,
                    DIV => a / v,
                    MOD if v == 0 => return 0,
                    MOD => a % v,
                    AND => a & v,
                    OR => a | v,
                    XOR => a ^ v,
                    LSH => a.checked_shl(v).unwrap_or(0),
                    RSH => a.checked_shr(v).unwrap_or(0),
                    _ => unreachable!(),
                };
            }
            0x05 => pc += k as usize,
            c if c & 7 == JMP => {
                let v = if c & X != 0 { x } else { k };
                let hit = match c & 0xf0 {
                    JEQ => a == v,
                    JGT => a > v,
                    JGE => a >= v,
                    _ => a & v != 0,
                };
                pc += if hit { f.jt } else { f.jf } as usize;
            }
            0x06 => return k,
            0x16 => return a,
            0x0e => return x,
            0x07 => x = a,
            0x87 => a = x,
            c => panic!("reference: opcode {c:#x}"),
        }
    }
}

const PKT: [u8; 20] = [
    0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0xab, 0xcd, 10, 0, 0, 1, 10, 0, 0,
    2,
];

#[test]
fn loads_of_every_size_and_mode() {
    let cases: &[(&[SockFilter], u32)] = &[
        (&[stmt(LD | W | ABS, 0), stmt(RET | A, 0)], 0x4500_0054),
        (&[stmt(LD | H | ABS, 2), stmt(RET | A, 0)], 0x0054),
        (&[stmt(LD | B | ABS, 9), stmt(RET | A, 0)], 1),
        (
            &[
                stmt(LDX | W | IMM, 12),
                stmt(LD | W | IND, 4),
                stmt(RET | A, 0),
            ],
            0x0a00_0002,
        ),
        (
            &[
                stmt(LDX | W | IMM, 1),
                stmt(LD | H | IND, 1),
                stmt(RET | A, 0),
            ],
            0x0054,
        ),
        (
            &[
                stmt(LDX | W | IMM, 8),
                stmt(LD | B | IND, 1),
                stmt(RET | A, 0),
            ],
            1,
        ),
        (
            &[stmt(LD | IMM, 0xdead_beef), stmt(RET | A, 0)],
            0xdead_beef,
        ),
        (&[stmt(LDX | IMM, 77), stmt(RET | X, 0)], 77),
        (&[stmt(LD | W | LEN, 0), stmt(RET | A, 0)], 20),
        (
            &[
                stmt(LDX | W | LEN, 0),
                stmt(MISC | TXA, 0),
                stmt(RET | A, 0),
            ],
            20,
        ),
        (
            &[
                stmt(LDX | B | MSH, 0),
                stmt(MISC | TXA, 0),
                stmt(RET | A, 0),
            ],
            20,
        ),
        // MSH keeps A.
        (
            &[stmt(LD | IMM, 9), stmt(LDX | B | MSH, 0), stmt(RET | A, 0)],
            9,
        ),
        // Out of bounds ends the filter with 0, at any size and mode.
        (&[stmt(LD | W | ABS, 17), stmt(RET | K, 1)], 0),
        (&[stmt(LD | B | ABS, 20), stmt(RET | K, 1)], 0),
        (&[stmt(LD | H | ABS, 0xffff_ffff), stmt(RET | K, 1)], 0),
        (
            &[stmt(LDX | IMM, 19), stmt(LD | H | IND, 0), stmt(RET | K, 1)],
            0,
        ),
        (&[stmt(LDX | B | MSH, 20), stmt(RET | K, 1)], 0),
    ];
    for (i, (prog, want)) in cases.iter().enumerate() {
        assert_eq!(run(prog, &PKT), *want, "case {i}");
        assert_eq!(reference(prog, &PKT), *want, "reference, case {i}");
    }
}

#[test]
fn scratch_memory_round_trips_and_starts_zeroed() {
    let prog = [
        stmt(LD | IMM, 5),
        stmt(ST, 3),
        stmt(LDX | IMM, 9),
        stmt(STX, 15),
        stmt(LD | MEM, 15),
        stmt(LDX | MEM, 3),
        stmt(ALU | ADD | X, 0),
        stmt(LDX | MEM, 7), // never stored: reads 0 although the stack is dirty
        stmt(ALU | ADD | X, 0),
        stmt(RET | A, 0),
    ];
    assert_eq!(run(&prog, &PKT), 14);
    // Only the word read before a store needs clearing, but every word read is cleared.
    let insns = conv(&prog).unwrap();
    let clears = insns.iter().filter(|i| i.opcode == 0x62).count();
    assert_eq!(clears, 3);
}

#[test]
fn alu_with_constant_and_x() {
    let ops = [ADD, SUB, MUL, DIV, MOD, AND, OR, XOR, LSH, RSH];
    let values = [
        (0xffff_fff0u32, 7u32),
        (100, 3),
        (1, 31),
        (0x8000_0000, 1),
        (5, 32),
        (9, 33),
    ];
    for op in ops {
        for (a, v) in values {
            let k = [stmt(LD | IMM, a), stmt(ALU | op | K, v), stmt(RET | A, 0)];
            let x = [
                stmt(LD | IMM, a),
                stmt(LDX | IMM, v),
                stmt(ALU | op | X, 0),
                stmt(RET | A, 0),
            ];
            if !matches!(op, LSH | RSH) || v < 32 {
                assert_eq!(run(&k, &PKT), reference(&k, &PKT), "op {op:#x} K {a} {v}");
            }
            assert_eq!(run(&x, &PKT), reference(&x, &PKT), "op {op:#x} X {a} {v}");
        }
    }
    // A shift by X of 32 or more clears A, as in libpcap (eBPF alone would shift by X mod 32).
    let shl = [
        stmt(LD | IMM, 5),
        stmt(LDX | IMM, 33),
        stmt(ALU | LSH | X, 0),
        stmt(RET | A, 0),
    ];
    assert_eq!(run(&shl, &PKT), 0);
    let neg = [stmt(LD | IMM, 5), stmt(ALU | NEG, 0), stmt(RET | A, 0)];
    assert_eq!(run(&neg, &PKT), 5u32.wrapping_neg());
}

#[test]
fn division_by_x_zero_returns_zero() {
    for op in [DIV, MOD] {
        let prog = [
            stmt(LD | IMM, 10),
            stmt(LDX | IMM, 0),
            stmt(ALU | op | X, 0),
            stmt(RET | K, 99),
        ];
        assert_eq!(run(&prog, &PKT), 0, "op {op:#x}");
        let prog = [
            stmt(LD | IMM, 10),
            stmt(LDX | IMM, 3),
            stmt(ALU | op | X, 0),
            stmt(RET | A, 0),
        ];
        assert_eq!(
            run(&prog, &PKT),
            if op == DIV { 3 } else { 1 },
            "op {op:#x}"
        );
    }
}

#[test]
fn jumps_take_both_branches() {
    // For each jump: (A, operand, taken?).
    let cases = [
        (JEQ, 5, 5, true),
        (JEQ, 5, 6, false),
        (JGT, 6, 5, true),
        (JGT, 5, 5, false),
        (JGE, 5, 5, true),
        (JGE, 4, 5, false),
        (JSET, 6, 2, true),
        (JSET, 6, 1, false),
        // Unsigned 32-bit comparisons: a constant with the top bit set is not negative.
        (JGT, 0xffff_ffff, 0x8000_0000, true),
        (JGE, 0x7fff_ffff, 0xffff_ffff, false),
    ];
    for (op, a, v, taken) in cases {
        for (jt, jf) in [(0u8, 1u8), (1, 0), (1, 2), (2, 1), (0, 2), (2, 0)] {
            let want = |t: bool| {
                let skip = if t { jt } else { jf };
                10 + skip as u32
            };
            let mut k = vec![stmt(LD | IMM, a), jump(JMP | op | K, v, jt, jf)];
            let mut x = vec![
                stmt(LD | IMM, a),
                stmt(LDX | IMM, v),
                jump(JMP | op | X, 0, jt, jf),
            ];
            for r in 0..3 {
                k.push(stmt(RET | K, 10 + r));
                x.push(stmt(RET | K, 10 + r));
            }
            assert_eq!(run(&k, &PKT), want(taken), "{op:#x} K {a} {v} {jt}/{jf}");
            assert_eq!(run(&x, &PKT), want(taken), "{op:#x} X {a} {v} {jt}/{jf}");
        }
    }
    let ja = [
        stmt(JMP | JA, 2),
        stmt(RET | K, 1),
        stmt(RET | K, 2),
        stmt(RET | K, 3),
    ];
    assert_eq!(run(&ja, &PKT), 3);
}

#[test]
fn unreachable_instructions_are_dropped() {
    let prog = [
        stmt(JMP | JA, 2),
        stmt(LD | IMM, 1), // unreachable
        stmt(RET | A, 0),  // unreachable
        stmt(RET | K, 7),
    ];
    let insns = conv(&prog).unwrap();
    // Prologue (2: context saved, A cleared; nothing reads X), ja (1), mov + exit (2).
    assert_eq!(insns.len(), 5);
    assert_eq!(run(&prog, &PKT), 7);
}

#[test]
fn register_mapping_and_32_bit_operations() {
    let insns = conv(&[stmt(LD | H | ABS, 12), stmt(RET | A, 0)]).unwrap();
    // mov r6, r1; ldabsh 12; exit (the load sets A first, nothing reads X)
    assert_eq!(insns[0], Insn::new(0xbf, 6, 1, 0, 0));
    assert_eq!(insns[1], Insn::new(0x28, 0, 0, 0, 12));
    assert_eq!(insns[2], Insn::new(0x95, 0, 0, 0, 0));
    assert_eq!(insns.len(), 3);
    let insns = conv(&[stmt(LD | LEN, 0), stmt(ALU | ADD | X, 0), stmt(RET | A, 0)]).unwrap();
    // mov r6, r1; mov32 r7, 0 (X is read, never set); ldxw r0, [r6+0]; add32 r0, r7; exit
    assert_eq!(insns[1], Insn::new(0xb4, 7, 0, 0, 0));
    assert_eq!(
        insns[2],
        Insn::new(0x61, 0, 6, 0, 0),
        "len is __sk_buff offset 0"
    );
    assert_eq!(insns[3], Insn::new(0x0c, 0, 7, 0, 0), "add32 r0, r7");
    let insns = conv(&[
        stmt(LD | IMM, 0),
        jump(JMP | JGT | K, 0x8000_0000, 1, 0),
        stmt(RET | K, 0),
        stmt(RET | K, 1),
    ])
    .unwrap();
    assert_eq!(insns[2].opcode, 0x26, "jgt32 with an immediate");
    assert_eq!(insns[2].imm as u32, 0x8000_0000);
}

#[test]
fn a_and_x_are_cleared_only_where_a_read_could_see_it() {
    const CLEAR_A: Insn = Insn::new(0xb4, 0, 0, 0, 0);
    const CLEAR_X: Insn = Insn::new(0xb4, 7, 0, 0, 0);
    // The clearing slots right after `mov r6, r1` (the lowered instructions may clear A too).
    let prologue = |prog: &[SockFilter]| {
        let insns = conv(prog).unwrap();
        let head: Vec<Insn> = insns[1..]
            .iter()
            .take(2)
            .take_while(|i| **i == CLEAR_A || **i == CLEAR_X)
            .copied()
            .collect();
        (head.contains(&CLEAR_A), head.contains(&CLEAR_X))
    };
    // A read before any write (`ret A` first), X never read.
    assert_eq!(prologue(&[stmt(RET | A, 0)]), (true, false));
    // `txa` first: sets A, reads X.
    assert_eq!(
        prologue(&[stmt(MISC | 0x80, 0), stmt(RET | A, 0)]),
        (false, true)
    );
    // An indirect load first: sets A, reads X.
    assert_eq!(
        prologue(&[stmt(LD | B | IND, 0), stmt(RET | A, 0)]),
        (false, true)
    );
    // X set first, then read: X not cleared. A is set only later (by `txa`), so it is
    // cleared, conservatively: only the first instruction is looked at.
    assert_eq!(
        prologue(&[stmt(LDX | IMM, 3), stmt(MISC | 0x80, 0), stmt(RET | A, 0)]),
        (true, false)
    );
    // X read only on one branch, set by nothing: cleared.
    assert_eq!(
        prologue(&[
            stmt(LD | H | ABS, 12),
            jump(JMP | JEQ | K, 0x800, 0, 1),
            stmt(RET | X, 0),
            stmt(RET | K, 0),
        ]),
        (false, true)
    );
    // Each of these still runs as the reference says (X and A start at 0).
    assert_eq!(run(&[stmt(RET | A, 0)], &PKT), 0);
    assert_eq!(run(&[stmt(MISC | 0x80, 0), stmt(RET | A, 0)], &PKT), 0);
}

fn error_of(prog: &[SockFilter]) -> CbpfError {
    conv(prog).expect_err("rejected")
}

#[test]
fn errors_name_the_instruction() {
    let ok = stmt(RET | K, 0);
    let cases: &[(&[SockFilter], usize, CbpfErrorKind)] = &[
        (&[], 0, CbpfErrorKind::Empty),
        (
            &[ok, jump(JMP | JEQ | K, 0, 0, 1), ok],
            1,
            CbpfErrorKind::JumpOutOfRange { target: 3 },
        ),
        (
            &[stmt(JMP | JA, 0xffff_ffff), ok],
            0,
            CbpfErrorKind::JumpOutOfRange {
                target: 0x1_0000_0000,
            },
        ),
        (
            &[stmt(LD | IMM, 1), stmt(ALU | DIV | K, 0), ok],
            1,
            CbpfErrorKind::DivisionByZero,
        ),
        (
            &[stmt(ALU | MOD | K, 0), ok],
            0,
            CbpfErrorKind::DivisionByZero,
        ),
        (
            &[ok, stmt(ALU | LSH | K, 32), ok],
            1,
            CbpfErrorKind::ShiftTooLarge { amount: 32 },
        ),
        (
            &[ok, ok, stmt(ST, 16), ok],
            2,
            CbpfErrorKind::ScratchIndex { index: 16 },
        ),
        (
            &[stmt(LDX | MEM, 99), ok],
            0,
            CbpfErrorKind::ScratchIndex { index: 99 },
        ),
        (
            &[stmt(LD | IMM, 1), stmt(LD | IMM, 2)],
            1,
            CbpfErrorKind::NoFinalReturn,
        ),
        (
            &[ok, stmt(0x18 | RET, 0), ok],
            1,
            CbpfErrorKind::UnknownOpcode { code: 0x1e },
        ),
        (
            &[stmt(LDX | H | ABS, 0), ok],
            0,
            CbpfErrorKind::UnknownOpcode { code: 0x29 },
        ),
        (
            &[stmt(ALU | NEG | X, 0), ok],
            0,
            CbpfErrorKind::UnknownOpcode { code: 0x8c },
        ),
        (
            &[stmt(0x100 | RET, 0), ok],
            0,
            CbpfErrorKind::UnknownOpcode { code: 0x106 },
        ),
        (
            &[stmt(JMP | JA | X, 0), ok],
            0,
            CbpfErrorKind::UnknownOpcode { code: 0x0d },
        ),
    ];
    for (prog, pc, kind) in cases {
        let e = error_of(prog);
        assert_eq!((e.pc, e.kind), (*pc, *kind), "{prog:?}");
        assert!(e
            .to_string()
            .starts_with(&std::format!("classic insn {pc}: ")));
    }
    let long = vec![ok; MAX_CLASSIC_INSNS + 1];
    assert_eq!(
        error_of(&long),
        CbpfError {
            pc: MAX_CLASSIC_INSNS,
            kind: CbpfErrorKind::TooLong { len: 4097 }
        }
    );
    assert!(conv(&vec![ok; MAX_CLASSIC_INSNS]).is_ok());
}

#[test]
fn a_short_output_is_an_error_not_a_panic() {
    let prog = [
        stmt(LD | H | ABS, 12),
        jump(JMP | JEQ | K, 0x800, 0, 1),
        stmt(RET | K, 1),
        stmt(RET | K, 0),
    ];
    let full = conv(&prog).unwrap().len();
    for cap in 0..full {
        let mut out = vec![Insn::default(); cap];
        let e = convert(&prog, &mut out).unwrap_err();
        assert_eq!(e.kind, CbpfErrorKind::OutputFull { capacity: cap });
    }
    let mut out = vec![Insn::default(); full];
    assert_eq!(convert(&prog, &mut out), Ok(full));
}

/// A tiny deterministic PRNG, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random valid classic program of `len` instructions.
fn random_program(rng: &mut XorShift, len: usize) -> Vec<SockFilter> {
    let mut prog = Vec::with_capacity(len);
    for pc in 0..len - 1 {
        let left = (len - 1 - pc - 1) as u64; // instructions after the next one
        let small = |rng: &mut XorShift| match rng.below(4) {
            0 => rng.next() as u32,
            1 => rng.below(64) as u32,
            2 => rng.below(8) as u32,
            _ => 0x800,
        };
        let f = match rng.below(12) {
            0 => stmt(
                [LD | W | ABS, LD | H | ABS, LD | B | ABS][rng.below(3) as usize],
                rng.below(24) as u32,
            ),
            1 => stmt(
                [LD | W | IND, LD | H | IND, LD | B | IND][rng.below(3) as usize],
                rng.below(24) as u32,
            ),
            2 => stmt(
                [LD | IMM, LDX | IMM, LD | LEN, LDX | LEN][rng.below(4) as usize],
                small(rng),
            ),
            3 => stmt(
                [LD | MEM, LDX | MEM, ST, STX][rng.below(4) as usize],
                rng.below(16) as u32,
            ),
            4 => stmt(LDX | B | MSH, rng.below(24) as u32),
            5 | 6 => {
                let op =
                    [ADD, SUB, MUL, DIV, MOD, AND, OR, XOR, LSH, RSH, NEG][rng.below(11) as usize];
                if op == NEG {
                    stmt(ALU | NEG, 0)
                } else if rng.below(2) == 0 {
                    stmt(ALU | op | X, 0)
                } else {
                    let k = match op {
                        LSH | RSH => rng.below(32) as u32,
                        DIV | MOD => 1 + rng.below(9) as u32,
                        _ => small(rng),
                    };
                    stmt(ALU | op | K, k)
                }
            }
            7 | 8 => {
                let op = [JEQ, JGT, JGE, JSET][rng.below(4) as usize];
                let jt = rng.below(left.min(255) + 1) as u8;
                let jf = rng.below(left.min(255) + 1) as u8;
                let src = if rng.below(2) == 0 { X } else { K };
                jump(JMP | op | src, small(rng), jt, jf)
            }
            9 => stmt(JMP | JA, rng.below(left + 1) as u32),
            10 => stmt([MISC | TAX, MISC | TXA][rng.below(2) as usize], 0),
            _ => stmt(
                [RET | A, RET | X, RET | K][rng.below(3) as usize],
                small(rng),
            ),
        };
        prog.push(f);
    }
    prog.push(stmt(RET | A, 0));
    prog
}

#[test]
fn random_programs_agree_with_the_reference() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let packets: Vec<Vec<u8>> = (0..6)
        .map(|i| (0..i * 5).map(|_| rng.next() as u8).collect())
        .collect();
    for round in 0..1500 {
        let len = 2 + rng.below(30) as usize;
        let prog = random_program(&mut rng, len);
        for p in &packets {
            assert_eq!(
                run(&prog, p),
                reference(&prog, p),
                "round {round}, packet of {} bytes: {prog:?}",
                p.len()
            );
        }
    }
}
