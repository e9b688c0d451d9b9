//! Differential property test: random valid programs give the same r0 (or trap) and the same
//! memory on the JIT as on the interpreter, with and without constant blinding and budget.
//!
//! The generator keeps programs memory-safe without a verifier: r6 holds the buffer pointer and
//! is never written or used as a value, r10 is only a base, accesses use fixed in-bounds
//! offsets, atomics only aligned stack slots, and jumps only go forward.

use super::*;
use nanobpf_core::isa::opcode::op::*;
use nanobpf_core::isa::opcode::*;

/// A seeded xorshift64* generator.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// An immediate biased to edge values.
    fn imm(&mut self) -> i32 {
        match self.below(6) {
            0 => self.pick(&[0, 1, -1, i32::MIN, i32::MAX, 2, 31, 32, 63]),
            1 => self.below(16) as i32,
            _ => self.next() as i32,
        }
    }
}

pub(super) const MEM: usize = 64;
/// Registers programs compute in (not r6, the buffer, nor r10).
const REGS: [u8; 9] = [0, 1, 2, 3, 4, 5, 7, 8, 9];

fn gen_insn(rng: &mut Rng, out: &mut Vec<Insn>) {
    let d = rng.pick(&REGS);
    let s = rng.pick(&REGS);
    let ins = |op: u8, d: u8, s: u8, off: i16, imm: i32| Insn::new(op, d, s, off, imm);
    match rng.below(16) {
        0..=5 => {
            let class = rng.pick(&[BPF_ALU, BPF_ALU64]);
            let op = rng.pick(&[
                BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG,
                BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH,
            ]);
            let x = if op == BPF_NEG {
                BPF_K
            } else {
                rng.pick(&[BPF_K, BPF_X])
            };
            let signed = matches!(op, BPF_DIV | BPF_MOD) && rng.below(2) == 0;
            let mut imm = if x == BPF_K { rng.imm() } else { 0 };
            if x == BPF_K && matches!(op, BPF_LSH | BPF_RSH | BPF_ARSH) {
                imm &= if class == BPF_ALU64 { 63 } else { 31 };
            }
            if op == BPF_NEG {
                imm = 0;
            }
            let mut off = signed as i16;
            if op == BPF_MOV && x == BPF_X && rng.below(3) == 0 {
                off = if class == BPF_ALU64 {
                    rng.pick(&[8, 16, 32])
                } else {
                    rng.pick(&[8, 16])
                };
            }
            let src = if x == BPF_X { s } else { 0 };
            out.push(ins(class | op | x, d, src, off, imm));
        }
        6 => {
            let (class, x) = rng.pick(&[(BPF_ALU, BPF_K), (BPF_ALU, BPF_X), (BPF_ALU64, BPF_K)]);
            out.push(ins(class | BPF_END | x, d, 0, 0, rng.pick(&[16, 32, 64])));
        }
        7 => {
            let v = rng.next();
            out.push(ins(LDDW, d, 0, 0, v as i32));
            out.push(ins(0, 0, 0, 0, (v >> 32) as i32));
        }
        8 | 9 => {
            // Loads from the stack or the buffer.
            let size = rng.pick(&[BPF_B, BPF_H, BPF_W, BPF_DW]);
            let mode = if size != BPF_DW && rng.below(2) == 0 {
                BPF_MEMSX
            } else {
                BPF_MEM
            };
            let (base, off) = if rng.below(2) == 0 {
                (10, -8 * (1 + rng.below(8) as i16))
            } else {
                (6, rng.below((MEM - 8) as u64) as i16)
            };
            out.push(ins(BPF_LDX | mode | size, d, base, off, 0));
        }
        10 | 11 => {
            let size = rng.pick(&[BPF_B, BPF_H, BPF_W, BPF_DW]);
            let (base, off) = if rng.below(2) == 0 {
                (10, -8 * (2 + rng.below(7) as i16) + rng.below(4) as i16)
            } else {
                (6, rng.below((MEM - 8) as u64) as i16)
            };
            if rng.below(2) == 0 {
                out.push(ins(BPF_STX | BPF_MEM | size, base, s, off, 0));
            } else {
                out.push(ins(BPF_ST | BPF_MEM | size, base, 0, off, rng.imm()));
            }
        }
        12 => {
            let size = rng.pick(&[BPF_W, BPF_DW]);
            let op = rng.pick(&[
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
            let off = -8 * (1 + rng.below(8) as i16);
            out.push(ins(BPF_STX | BPF_ATOMIC | size, 10, s, off, op));
        }
        13 => {
            let size = rng.pick(&[BPF_B, BPF_H, BPF_W]);
            if rng.below(2) == 0 {
                out.push(ins(
                    BPF_LD | BPF_ABS | size,
                    0,
                    0,
                    0,
                    rng.below(MEM as u64 + 4) as i32,
                ));
            } else {
                out.push(ins(BPF_LD | BPF_IND | size, 0, s, 0, rng.imm() & 0x3f));
            }
        }
        14 => {
            // Helper calls clobber r1 to r5 (in BPF's ABI); give them values again.
            out.push(ins(CALL, 0, CALL_HELPER, 0, 100));
            for r in 1..=5 {
                out.push(ins(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, rng.imm()));
            }
        }
        _ => out.push(ins(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, rng.imm())),
    }
}

/// A random program: a prologue, a body with forward jumps, and an epilogue folding the stack
/// into r0.
pub(super) fn gen_program(rng: &mut Rng) -> Vec<Insn> {
    let mut body = Vec::new();
    let n = 4 + rng.below(40) as usize;
    let mut jumps = Vec::new();
    while body.len() < n {
        if rng.below(6) == 0 {
            jumps.push(body.len());
            let class = rng.pick(&[BPF_JMP, BPF_JMP32]);
            let op = rng.pick(&[
                BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE,
                BPF_JSLT, BPF_JSLE,
            ]);
            let x = rng.pick(&[BPF_K, BPF_X]);
            let (s, imm) = if x == BPF_X {
                (rng.pick(&REGS), 0)
            } else {
                (0, rng.imm())
            };
            body.push(Insn::new(class | op | x, rng.pick(&REGS), s, 0, imm));
        } else {
            gen_insn(rng, &mut body);
        }
    }
    // Jump targets: forward, to a slot that is not the second half of an lddw, at most the
    // end of the body.
    let mut starts = std::vec![true; body.len() + 1];
    for i in 0..body.len() {
        if body[i].opcode == LDDW {
            starts[i + 1] = false;
        }
    }
    for &j in &jumps {
        let candidates: Vec<usize> = (j + 1..=body.len()).filter(|&t| starts[t]).collect();
        let t = rng.pick(&candidates);
        body[j].off = (t - j - 1) as i16;
    }
    // r6 = the buffer; r1 = 0, so no address reaches a value.
    // Every register and stack slot initialised, as a verifier wants.
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

#[test]
fn random_programs_agree_with_the_interpreter() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = std::time::Instant::now();
    let mut ran = 0;
    let mut traps = 0;
    while ran < 300 && start.elapsed().as_millis() < 1500 {
        let p = gen_program(&mut rng);
        let mut mem = [0u8; MEM];
        for b in &mut mem {
            *b = rng.next() as u8;
        }
        let opts = if rng.below(2) == 0 {
            JitOptions::default()
        } else {
            JitOptions::blinded(rng.next() as u32)
        };
        let r = if rng.below(3) == 0 {
            let budget = rng.below(p.len() as u64 + 4);
            both_with(&p, &mem, &rt().with_budget(budget), &opts).0
        } else {
            both_with(&p, &mem, &rt(), &opts).0
        };
        traps += r.is_err() as u32;
        ran += 1;
    }
    assert!(ran >= 50, "only {ran} programs in the time box");
    assert!(traps > 0, "the budget never trapped");
}
