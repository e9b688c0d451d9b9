//! Soundness oracle: random memory programs the verifier accepts never fail a run-time check
//! when run by the checking interpreter, on random buffer contents.

use super::tests::a::*;
use super::*;
use crate::isa::opcode::*;
use crate::{Context, Interpreter, NoPlatform, Stack};
use std::boxed::Box;
use std::vec::Vec;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const LEN: u32 = 64;
/// Random programs per test; `NANOBPF_STRESS` raises it for a longer run.
fn stress() -> usize {
    std::env::var("NANOBPF_STRESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}
/// Registers the generator writes (r1 stays the buffer, r6 is scratch, r9 a loop counter,
/// r10 the frame).
const REGS: [u8; 7] = [0, 2, 3, 4, 5, 7, 8];

/// One random program: straight-line code with forward branches, loads and stores into the
/// buffer and the stack, and pointer arithmetic with bounded or unbounded offsets.
fn program(rng: &mut Rng) -> Vec<Insn> {
    let mut body: Vec<Vec<Insn>> = Vec::new();
    body.push(mov(0, 0));
    for r in REGS {
        body.push(if rng.below(2) == 0 {
            mov(r, rng.below(64) as i32)
        } else {
            ldx(rng.pick(&[1u8, 1, 2, 8]), r, 1, rng.below(56) as i16)
        });
    }
    for slot in 1..=5 {
        if rng.below(3) != 0 {
            body.push(st(8, 10, -8 * slot, rng.below(100) as i32));
        }
    }
    // Sometimes the body runs in a loop counted by r9 (which the body never writes).
    let looped = rng.below(3) == 0;
    if looped {
        body.push(mov(9, 0));
    }
    let body_start = body.len();
    let n = 4 + rng.below(16);
    let sizes = [1u8, 2, 4, 8];
    for _ in 0..n {
        let r = rng.pick(&REGS);
        let s = rng.pick(&REGS);
        let size = rng.pick(&sizes);
        let off = |rng: &mut Rng| rng.below(66) as i16 - 2;
        let item = match rng.below(14) {
            0 if rng.below(4) == 0 => {
                // The low half of a pointer, or a 32-bit difference with one.
                if rng.below(2) == 0 {
                    movr32(r, rng.pick(&[1u8, 10]))
                } else {
                    alur32(BPF_SUB, r, 1)
                }
            }
            0 => mov(r, rng.below(80) as i32 - 8),
            1 => ldx(size, r, 1, off(rng)),
            2 => {
                let op = rng.pick(&[
                    BPF_ADD, BPF_SUB, BPF_AND, BPF_OR, BPF_RSH, BPF_LSH, BPF_MOD, BPF_DIV, BPF_MUL,
                    BPF_XOR, BPF_ARSH,
                ]);
                if rng.below(2) == 0 {
                    alu(op, r, rng.below(70) as i32)
                } else if rng.below(2) == 0 {
                    alur(op, r, s)
                } else {
                    alu32(op, r, rng.below(70) as i32)
                }
            }
            3 => [
                alu(BPF_AND, s, rng.pick(&[7, 31, 63, 127])),
                movr(6, 1),
                alur(BPF_ADD, 6, s),
                ldx(size, r, 6, off(rng)),
            ]
            .concat(),
            4 => [
                alu(BPF_AND, s, rng.pick(&[7, 31, 63])),
                movr(6, 1),
                alur(BPF_ADD, 6, s),
                stx(size, 6, r, off(rng)),
            ]
            .concat(),
            5 => st(size, 10, -(rng.below(40) as i16) - 1, rng.below(100) as i32),
            6 => stx(size, 10, r, -(rng.below(40) as i16) - 1),
            7 => ldx(size, r, 10, -(rng.below(40) as i16) - 1),
            8 => {
                let sz = rng.pick(&[4u8, 8]);
                atomic(
                    sz,
                    1,
                    r,
                    off(rng),
                    ATOMIC_ADD | if rng.below(2) == 0 { ATOMIC_FETCH } else { 0 },
                )
            }
            9 => stx(size, 1, r, off(rng)),
            // A copy (linked), moved by a constant, then compared: the comparison bounds
            // `s` only through the link (the branch target is patched below).
            10 | 11 => {
                let copy = if rng.below(4) == 0 {
                    movr32(r, s)
                } else {
                    movr(r, s)
                };
                let k = rng.below(80) as i32 - 40;
                let shift = match rng.below(4) {
                    0 => alu(BPF_SUB, r, k),
                    1 => alu32(BPF_ADD, r, k),
                    2 => mov(6, 0),
                    _ => alu(BPF_ADD, r, k),
                };
                let op = rng.pick(&[BPF_JGT, BPF_JGE, BPF_JLT, BPF_JSGT, BPF_JSLT, BPF_JEQ]);
                let cmp = if rng.below(3) == 0 {
                    jmp32(op, r, rng.below(70) as i32, 0)
                } else {
                    jmp(op, r, rng.below(70) as i32, 0)
                };
                [copy, shift, cmp].concat()
            }
            // A guard on a copy of `s`, then an access through `s` that only the link can
            // have bounded (the guard skips the access).
            12 if rng.below(2) == 0 => {
                let k = rng.below(80) as i32 - 40;
                let op = rng.pick(&[BPF_JGT, BPF_JGE, BPF_JSGT, BPF_JSGE]);
                let access = if rng.below(2) == 0 {
                    ldx(size, r, 6, off(rng))
                } else {
                    stx(size, 6, r, off(rng))
                };
                [
                    movr(r, s),
                    alu(BPF_ADD, r, k),
                    jmp(op, r, rng.below(70) as i32, 3),
                    movr(6, 1),
                    alur(BPF_ADD, 6, s),
                    access,
                ]
                .concat()
            }
            // An access through a register only a linked comparison can have bounded.
            12 => [
                movr(6, 1),
                alur(BPF_ADD, 6, s),
                if rng.below(2) == 0 {
                    ldx(size, r, 6, off(rng))
                } else {
                    stx(size, 6, r, off(rng))
                },
            ]
            .concat(),
            _ => {
                // A forward branch, patched below.
                let op = rng.pick(&[
                    BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JEQ, BPF_JNE, BPF_JSGT, BPF_JSLT,
                    BPF_JSET,
                ]);
                if rng.below(2) == 0 {
                    jmp(op, r, rng.below(70) as i32, 0)
                } else {
                    jmpr(op, r, s, 0)
                }
            }
        };
        body.push(item);
    }
    if looped {
        let body_len: usize = body[body_start..].iter().map(Vec::len).sum();
        let back = -(body_len as i16 + 2);
        body.push(
            [
                alu(BPF_ADD, 9, 1),
                jmp(BPF_JLT, 9, 1 + rng.below(6) as i32, back),
            ]
            .concat(),
        );
    }
    finish(body, rng)
}

/// Patches each item's trailing branch to land on a later item (or the final exit), and
/// appends the exit.
fn finish(mut body: Vec<Vec<Insn>>, rng: &mut Rng) -> Vec<Insn> {
    // Patch branch targets to land on a later item (or the final exit).
    let starts: Vec<usize> = body
        .iter()
        .scan(0usize, |pc, item| {
            let s = *pc;
            *pc += item.len();
            Some(s)
        })
        .collect();
    let total: usize = body.iter().map(|i| i.len()).sum();
    for (k, item) in body.iter_mut().enumerate() {
        let last = item.len() - 1;
        let insn = &mut item[last];
        if matches!(insn.class(), Class::Jmp | Class::Jmp32)
            && insn.opcode != op::EXIT
            && insn.off == 0
        {
            let pc = starts[k] + last;
            let later: Vec<usize> = starts[k + 1..].iter().copied().chain([total]).collect();
            let t = later[(rng.next() % later.len() as u64) as usize];
            insn.off = (t - pc - 1) as i16;
        }
    }
    let mut prog: Vec<Insn> = body.concat();
    prog.extend(exit());
    prog
}

/// A random XDP program: packet reads and writes through `data` (r2) and a variable copy
/// (r6), guarded by random comparisons against `data_end` (r3) in all orderings.
fn xdp_program(rng: &mut Rng) -> Vec<Insn> {
    let mut body: Vec<Vec<Insn>> =
        std::vec![ldx(4, 2, 1, 0), ldx(4, 3, 1, 4), mov(0, 0), movr(6, 2)];
    for r in [5u8, 7, 8, 9] {
        body.push(mov(r, rng.below(16) as i32));
    }
    let sizes = [1u8, 2, 4, 8];
    for _ in 0..4 + rng.below(12) {
        let r = rng.pick(&[0u8, 5, 7, 8, 9]);
        let size = rng.pick(&sizes);
        let base = rng.pick(&[2u8, 6]);
        let off = rng.below(40) as i16 - 2;
        let item = match rng.below(6) {
            0 | 1 => {
                let n = rng.below(40) as i32;
                let (op, swap) = rng.pick(&[
                    (BPF_JGT, false),
                    (BPF_JGE, false),
                    (BPF_JLT, false),
                    (BPF_JLE, false),
                    (BPF_JGT, true),
                    (BPF_JGE, true),
                    (BPF_JLT, true),
                    (BPF_JLE, true),
                ]);
                let cmp = if swap {
                    jmpr(op, 3, 4, 0)
                } else {
                    jmpr(op, 4, 3, 0)
                };
                [movr(4, base), alu(BPF_ADD, 4, n), cmp].concat()
            }
            2 => ldx(size, r, base, off),
            3 => stx(size, base, r, off),
            4 => [alu(BPF_AND, r, 15), movr(6, 2), alur(BPF_ADD, 6, r)].concat(),
            _ => ldx(4, r, 1, rng.pick(&[12, 16, 20])),
        };
        body.push(item);
    }
    finish(body, rng)
}

#[test]
fn accepted_random_xdp_programs_stay_inside_the_packet() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut stack = Box::new(Stack::new());
    let platform = NoPlatform;
    let interp = Interpreter::new(HelperTable::new(&[]), &platform).with_budget(100_000);
    let env = VerifyEnv::new(ProgramType::Xdp, HelperTable::new(&[]), &[]);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..stress() {
        let prog = xdp_program(&mut rng);
        let mut insns = prog.clone();
        total += 1;
        let Ok(verified) = verify(&mut insns, &env, &mut *ws) else {
            continue;
        };
        accepted += 1;
        // The rewritten program runs on the runtime context; the frame fills its buffer, so
        // every byte past `data_end` is outside the run's regions.
        let program = Program::new(verified.insns()).unwrap();
        for _ in 0..4 {
            let len = rng.below(48) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let mut copy = buf.clone();
            let mut ctx = Context::Xdp(crate::XdpBuff::new(&mut buf, 0, len));
            let r = interp.run_checked(&program, &mut ctx, &mut stack);
            assert!(
                r.is_ok(),
                "case {case}, len {len}: verified program trapped with {r:?}: {prog:?}"
            );
            if cfg!(feature = "extra-checks") {
                let mut ctx = Context::Xdp(crate::XdpBuff::new(&mut copy, 0, len));
                assert_eq!(
                    interp.run(&verified, &mut ctx, &mut stack),
                    r,
                    "case {case}"
                );
            }
        }
    }
    assert!(
        accepted > total / 20 && accepted < total,
        "{accepted} of {total} accepted"
    );
}

#[test]
fn accepted_random_programs_pass_every_runtime_check() {
    let mut rng = Rng(0x005e_ed0f_ba5e_ba11);
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut stack = Box::new(Stack::new());
    let platform = NoPlatform;
    let interp = Interpreter::new(HelperTable::new(&[]), &platform).with_budget(100_000);
    let env = VerifyEnv::new(ProgramType::Memory { len: LEN }, HelperTable::new(&[]), &[]);
    let (mut accepted, mut total, mut loops) = (0, 0, 0);
    for case in 0..stress() {
        let prog = program(&mut rng);
        let mut insns = prog.clone();
        total += 1;
        let Ok(verified) = verify(&mut insns, &env, &mut *ws) else {
            continue;
        };
        accepted += 1;
        if prog.iter().any(|i| i.class() == Class::Jmp && i.off < 0) {
            loops += 1;
        }
        let program = Program::new(&prog).unwrap();
        for _ in 0..4 {
            let mut buf: Vec<u8> = (0..LEN).map(|_| rng.next() as u8).collect();
            let mut copy = buf.clone();
            let mut ctx = Context::Memory(&mut buf);
            let r = interp.run_checked(&program, &mut ctx, &mut stack);
            assert!(
                r.is_ok(),
                "case {case}: verified program trapped with {r:?}: {prog:?}"
            );
            // With `extra-checks`, the unchecked engine re-checks what the verifier proved.
            if cfg!(feature = "extra-checks") {
                let mut ctx = Context::Memory(&mut copy);
                assert_eq!(
                    interp.run(&verified, &mut ctx, &mut stack),
                    r,
                    "case {case}"
                );
            }
        }
    }
    std::eprintln!("mem {accepted} of {total}");
    // The generator must exercise both verdicts, and loops.
    assert!(
        accepted > total / 20 && accepted < total,
        "{accepted} of {total} accepted"
    );
    assert!(loops > accepted / 10, "{loops} loops of {accepted}");
}

/// A random program about linked scalars: a number loaded from the buffer, copies of it
/// (64- or 32-bit, moved by constants, some spilled and reloaded, some overwritten), one
/// guard on one of them, and an access through another, which the guard skips.
fn link_program(rng: &mut Rng) -> Vec<Insn> {
    let mut p: Vec<Insn> = mov(0, 0);
    let size = rng.pick(&[1u8, 1, 2, 8]);
    p.extend(ldx(size, 2, 1, rng.below(56) as i16));
    let mut holders: Vec<u8> = std::vec![2];
    let mut slots = 0i16;
    for _ in 0..1 + rng.below(4) {
        let dst = rng.pick(&[3u8, 4, 5, 7]);
        let src = rng.pick(&holders);
        p.extend(if rng.below(5) == 0 {
            movr32(dst, src)
        } else {
            movr(dst, src)
        });
        let k = rng.below(100) as i32 - 50;
        match rng.below(6) {
            0 => p.extend(alu(BPF_SUB, dst, k)),
            1 => p.extend(alu32(BPF_ADD, dst, k)),
            2 => p.extend(alu(BPF_ADD, dst, rng.pick(&[i32::MAX, i32::MIN, -1]))),
            3 | 4 => p.extend(alu(BPF_ADD, dst, k)),
            _ => {}
        }
        if rng.below(3) == 0 && slots < 4 {
            slots += 1;
            p.extend(stx(8, 10, dst, -8 * slots));
        }
        holders.push(dst);
    }
    if rng.below(4) == 0 {
        p.extend(ldx(1, rng.pick(&holders), 1, rng.below(64) as i16));
    }
    if slots > 0 && rng.below(2) == 0 {
        // Sometimes clobber a spill with a narrow store.
        p.extend(st(1, 10, -8 * (1 + rng.below(slots as u64) as i16), 7));
    }
    // The access block: maybe reload a spill into r8, then access through a holder.
    let mut access: Vec<Insn> = Vec::new();
    let mut through = rng.pick(&holders);
    if slots > 0 && rng.below(2) == 0 {
        access.extend(ldx(8, 8, 10, -8 * (1 + rng.below(slots as u64) as i16)));
        through = 8;
    }
    access.extend(movr(6, 1));
    access.extend(alur(BPF_ADD, 6, through));
    let off = rng.below(70) as i16 - 4;
    let sz = rng.pick(&[1u8, 2, 4, 8]);
    access.extend(if rng.below(2) == 0 {
        ldx(sz, 0, 6, off)
    } else {
        stx(sz, 6, 0, off)
    });
    let op = rng.pick(&[
        BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE, BPF_JEQ,
        BPF_JNE,
    ]);
    let guard = rng.pick(&holders);
    let skip = access.len() as i16;
    let imm = rng.below(90) as i32 - 10;
    p.extend(match rng.below(4) {
        0 => jmp32(op, guard, imm, skip),
        1 => {
            let other = rng.pick(&holders);
            jmpr(op, guard, other, skip)
        }
        _ => jmp(op, guard, imm, skip),
    });
    p.extend(access);
    p.extend(exit());
    p
}

#[test]
fn accepted_random_link_programs_pass_every_runtime_check() {
    let mut rng = Rng(0x1157_ed5c_a1a5_0001);
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut stack = Box::new(Stack::new());
    let platform = NoPlatform;
    let interp = Interpreter::new(HelperTable::new(&[]), &platform).with_budget(100_000);
    let env = VerifyEnv::new(ProgramType::Memory { len: LEN }, HelperTable::new(&[]), &[]);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..stress() {
        let prog = link_program(&mut rng);
        let mut insns = prog.clone();
        total += 1;
        if verify(&mut insns, &env, &mut *ws).is_err() {
            continue;
        }
        accepted += 1;
        let program = Program::new(&prog).unwrap();
        // Numbers near the guards' constants, and a few huge ones.
        for _ in 0..12 {
            let mut buf: Vec<u8> = (0..LEN)
                .map(|_| match rng.below(8) {
                    0 => 0xff,
                    1 => 0x80,
                    _ => rng.below(100) as u8,
                })
                .collect();
            let mut ctx = Context::Memory(&mut buf);
            let r = interp.run_checked(&program, &mut ctx, &mut stack);
            assert!(
                r.is_ok(),
                "case {case}: verified program trapped with {r:?}: {prog:?}"
            );
        }
    }
    std::eprintln!("links {accepted} of {total}");
    assert!(
        accepted > total / 10 && accepted < total * 9 / 10,
        "{accepted} of {total} accepted"
    );
}
