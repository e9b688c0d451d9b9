//! Programs rich in arithmetic for the differential check: every ALU, byte-swap, load, store,
//! atomic and legacy packet-load form with edge-value immediates, and two helpers that show
//! wrong argument registers.
//!
//! The generator keeps programs memory-safe without a verifier: r6 holds the buffer pointer and
//! is never written or used as a value, r10 is only a base, accesses use fixed in-bounds
//! offsets, atomics only aligned stack slots, and jumps only go forward.

use nanobpf_core::fuzzing::Source;

use nanobpf_core::opcode::*;
use nanobpf_core::Insn;
use nanobpf_core::{ArgKind, Helper, HelperCall, HelperProto, HelperTable, RetKind};
use std::vec::Vec;

/// The memory length of [`alu_program`]s.
pub const ALU_MEM: usize = 64;

/// Registers programs compute in (not r6, the buffer, nor r10).
const REGS: [u8; 9] = [0, 1, 2, 3, 4, 5, 7, 8, 9];

/// Helper 100: mixes all five arguments, so a wrong argument register shows.
fn mix(_: &mut HelperCall<'_>, a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    mix_value(a, b, c, d, e)
}

/// What helper 100 (`mix`) returns.
pub fn mix_value(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    a.wrapping_mul(3)
        .wrapping_add(b << 7)
        .wrapping_sub(c ^ 0x5555)
        .wrapping_add(d.rotate_left(13))
        ^ e.wrapping_mul(0x9e37_79b9)
}

/// Helper 101: writes the 8 bytes of its second argument at the address in its first.
fn poke(env: &mut HelperCall<'_>, a: u64, b: u64, _: u64, _: u64, _: u64) -> u64 {
    env.write(a, &b.to_le_bytes()) as u64
}

const SCALARS: [ArgKind; 5] = [ArgKind::Scalar; 5];

/// The helpers of [`alu_program`]s: `mix` (100) and `poke` (101), all arguments scalars.
pub static TEST_HELPERS: [Helper; 2] = [
    Helper {
        id: 100,
        name: "mix",
        proto: HelperProto::new(SCALARS, RetKind::Integer),
        func: mix,
    },
    Helper {
        id: 101,
        name: "poke",
        proto: HelperProto::new(SCALARS, RetKind::Integer),
        func: poke,
    },
];

/// [`TEST_HELPERS`] as a table.
pub fn test_helpers() -> HelperTable<'static> {
    HelperTable::new(&TEST_HELPERS)
}

/// An immediate biased to edge values.
fn imm(s: &mut impl Source) -> i32 {
    match s.below(6) {
        0 => s.pick(&[0, 1, -1, i32::MIN, i32::MAX, 2, 31, 32, 63]),
        1 => s.below(16) as i32,
        _ => s.next_u64() as i32,
    }
}

fn gen_insn(s: &mut impl Source, out: &mut Vec<Insn>) {
    let d = s.pick(&REGS);
    let r = s.pick(&REGS);
    let ins = |op: u8, d: u8, s: u8, off: i16, imm: i32| Insn::new(op, d, s, off, imm);
    match s.below(17) {
        0..=5 => {
            let class = s.pick(&[BPF_ALU, BPF_ALU64]);
            let op = s.pick(&[
                BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG,
                BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH,
            ]);
            let x = if op == BPF_NEG {
                BPF_K
            } else {
                s.pick(&[BPF_K, BPF_X])
            };
            let signed = matches!(op, BPF_DIV | BPF_MOD) && s.below(2) == 0;
            let mut k = if x == BPF_K { imm(s) } else { 0 };
            if x == BPF_K && matches!(op, BPF_LSH | BPF_RSH | BPF_ARSH) {
                k &= if class == BPF_ALU64 { 63 } else { 31 };
            }
            if op == BPF_NEG {
                k = 0;
            }
            let mut off = signed as i16;
            if op == BPF_MOV && x == BPF_X && s.below(3) == 0 {
                off = if class == BPF_ALU64 {
                    s.pick(&[8, 16, 32])
                } else {
                    s.pick(&[8, 16])
                };
            }
            let src = if x == BPF_X { r } else { 0 };
            out.push(ins(class | op | x, d, src, off, k));
        }
        6 => {
            let (class, x) = s.pick(&[(BPF_ALU, BPF_K), (BPF_ALU, BPF_X), (BPF_ALU64, BPF_K)]);
            out.push(ins(class | BPF_END | x, d, 0, 0, s.pick(&[16, 32, 64])));
        }
        7 => {
            let v = s.next_u64();
            out.push(ins(LDDW, d, 0, 0, v as i32));
            out.push(ins(0, 0, 0, 0, (v >> 32) as i32));
        }
        8 | 9 => {
            // Loads from the stack or the buffer.
            let size = s.pick(&[BPF_B, BPF_H, BPF_W, BPF_DW]);
            let mode = if size != BPF_DW && s.below(2) == 0 {
                BPF_MEMSX
            } else {
                BPF_MEM
            };
            let (base, off) = if s.below(2) == 0 {
                (10, -8 * (1 + s.below(8) as i16))
            } else {
                (6, s.below((ALU_MEM - 8) as u64) as i16)
            };
            out.push(ins(BPF_LDX | mode | size, d, base, off, 0));
        }
        10 | 11 => {
            let size = s.pick(&[BPF_B, BPF_H, BPF_W, BPF_DW]);
            let (base, off) = if s.below(2) == 0 {
                (10, -8 * (2 + s.below(7) as i16) + s.below(4) as i16)
            } else {
                (6, s.below((ALU_MEM - 8) as u64) as i16)
            };
            if s.below(2) == 0 {
                out.push(ins(BPF_STX | BPF_MEM | size, base, r, off, 0));
            } else {
                out.push(ins(BPF_ST | BPF_MEM | size, base, 0, off, imm(s)));
            }
        }
        12 => {
            let size = s.pick(&[BPF_W, BPF_DW]);
            let op = s.pick(&[
                ATOMIC_ADD,
                ATOMIC_OR,
                ATOMIC_AND,
                ATOMIC_XOR,
                ATOMIC_ADD | ATOMIC_FETCH,
                ATOMIC_OR | ATOMIC_FETCH,
                ATOMIC_AND | ATOMIC_FETCH,
                ATOMIC_XOR | ATOMIC_FETCH,
                ATOMIC_XCHG,
                ATOMIC_CMPXCHG,
            ]);
            let off = -8 * (1 + s.below(8) as i16);
            out.push(ins(BPF_STX | BPF_ATOMIC | size, 10, r, off, op));
        }
        13 => {
            let size = s.pick(&[BPF_B, BPF_H, BPF_W]);
            if s.below(2) == 0 {
                let k = s.below(ALU_MEM as u64 + 4) as i32;
                out.push(ins(BPF_LD | BPF_ABS | size, 0, 0, 0, k));
            } else {
                out.push(ins(BPF_LD | BPF_IND | size, 0, r, 0, imm(s) & 0x3f));
            }
        }
        14 => {
            // Helper calls clobber r1 to r5 (in BPF's ABI); give them values again.
            out.push(ins(CALL, 0, CALL_HELPER, 0, 100));
            for reg in 1..=5 {
                out.push(ins(BPF_ALU64 | BPF_MOV | BPF_K, reg, 0, 0, imm(s)));
            }
        }
        15 => byte_assembly(s, d, r, out),
        _ => out.push(ins(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, imm(s))),
    }
}

/// A big-endian 16- or 32-bit read of the buffer as clang writes it, byte by byte into `d`
/// through the temporary `t` (32- or 64-bit shifts and ORs), the shape the JIT merges; now and
/// then a byte out of place, which it must not.
fn byte_assembly(s: &mut impl Source, d: u8, t: u8, out: &mut Vec<Insn>) {
    let t = if t == d {
        if d == 0 {
            1
        } else {
            0
        }
    } else {
        t
    };
    let width = s.pick(&[2i16, 4]);
    let at = s.below((ALU_MEM - 8) as u64) as i16;
    let class = s.pick(&[BPF_ALU, BPF_ALU64]);
    let ins = |op: u8, d: u8, src: u8, off: i16, imm: i32| Insn::new(op, d, src, off, imm);
    let skew = s.below(8) == 0;
    out.push(ins(BPF_LDX | BPF_MEM | BPF_B, d, 6, at, 0));
    for i in 1..width {
        let off = if skew && i == width - 1 {
            at + i + 1
        } else {
            at + i
        };
        out.push(ins(class | BPF_LSH | BPF_K, d, 0, 0, 8));
        out.push(ins(BPF_LDX | BPF_MEM | BPF_B, t, 6, off, 0));
        out.push(ins(class | BPF_OR | BPF_X, d, t, 0, 0));
    }
}

/// A program over an [`ALU_MEM`]-byte memory buffer using [`TEST_HELPERS`]: a prologue that
/// initialises every register and stack slot, a body with forward jumps, and an epilogue
/// folding the stack into r0. Valid and memory-safe; most pass the verifier.
pub fn alu_program(s: &mut impl Source) -> Vec<Insn> {
    let mut body = Vec::new();
    let n = 4 + s.below(40) as usize;
    let mut jumps = Vec::new();
    while body.len() < n {
        if s.below(6) == 0 {
            jumps.push(body.len());
            let class = s.pick(&[BPF_JMP, BPF_JMP32]);
            let op = s.pick(&[
                BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE,
                BPF_JSLT, BPF_JSLE,
            ]);
            let x = s.pick(&[BPF_K, BPF_X]);
            let (src, k) = if x == BPF_X {
                (s.pick(&REGS), 0)
            } else {
                (0, imm(s))
            };
            body.push(Insn::new(class | op | x, s.pick(&REGS), src, 0, k));
        } else {
            gen_insn(s, &mut body);
        }
    }
    // Jump targets: forward, to a slot that is not the second half of an lddw, at most the
    // end of the body.
    let mut starts = std::vec![true; body.len() + 1];
    for (i, insn) in body.iter().enumerate() {
        if insn.opcode == LDDW {
            starts[i + 1] = false;
        }
    }
    for &j in &jumps {
        let candidates: Vec<usize> = (j + 1..=body.len()).filter(|&t| starts[t]).collect();
        let t = s.pick(&candidates);
        body[j].off = (t - j - 1) as i16;
    }
    // r6 = the buffer; every register and stack slot initialised, as a verifier wants.
    let mut p = std::vec![Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0)];
    for r in REGS {
        p.push(Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, 0));
    }
    for k in 1..=9i16 {
        p.push(Insn::new(
            BPF_ST | BPF_MEM | BPF_DW,
            10,
            0,
            -8 * k,
            k as i32,
        ));
    }
    p.extend(body);
    for k in 1..=8i16 {
        p.push(Insn::new(BPF_LDX | BPF_MEM | BPF_DW, 2, 10, -8 * k, 0));
        p.push(Insn::new(BPF_ALU64 | BPF_XOR | BPF_X, 0, 2, 0, 0));
    }
    p.push(Insn::new(EXIT, 0, 0, 0, 0));
    p
}
