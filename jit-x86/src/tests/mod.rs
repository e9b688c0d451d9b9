//! Tests: every program runs on the JIT and on the interpreter (the reference), and results,
//! memory and traps must agree.

mod check;
mod diff;
mod tail;
mod units;
mod verified;

use crate::options::JitOptions;
use crate::program::compile_insns;
use nanobpf_core::env::{ArgKind, Helper, HelperEnv, HelperProto, HelperTable, RetKind};
use nanobpf_core::{
    asm::assemble, Context, Insn, Interpreter, NoPlatform, Program, ProgramType, Runtime, Stack,
    Trap,
};
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

/// Mixes all five arguments, so a wrong argument register shows.
fn mix(_: &mut HelperEnv<'_>, a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    mix_value(a, b, c, d, e)
}

pub(super) fn mix_value(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    a.wrapping_mul(3)
        .wrapping_add(b << 7)
        .wrapping_sub(c ^ 0x5555)
        .wrapping_add(d.rotate_left(13))
        ^ e.wrapping_mul(0x9e37_79b9)
}

/// Writes the 8 bytes of `b` at address `a`.
fn poke(env: &mut HelperEnv<'_>, a: u64, b: u64, _: u64, _: u64, _: u64) -> u64 {
    env.write(a, &b.to_le_bytes()) as u64
}

const SCALARS: [ArgKind; 5] = [ArgKind::Scalar; 5];

pub(super) static HELPERS: [Helper; 2] = [
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

pub(super) fn rt() -> Runtime<'static> {
    Runtime::new(HelperTable::new(&HELPERS), &NoPlatform)
}

pub(super) fn asm(text: &str) -> Vec<Insn> {
    let mut buf = vec![Insn::default(); text.lines().count() * 2 + 2];
    let n = assemble(text, &mut buf).expect("assembles");
    buf.truncate(n);
    buf
}

/// The outcome of one run: r0 or trap, and the memory buffer afterwards.
pub(super) type Outcome = (Result<u64, Trap>, Vec<u8>);

/// Runs `insns` over `mem` on the interpreter and on the JIT (with `opts`), asserts they
/// agree, and returns the outcome.
pub(super) fn both_with(
    insns: &[Insn],
    mem: &[u8],
    rt: &Runtime<'_>,
    opts: &JitOptions,
) -> Outcome {
    let (want, got) = outcomes(insns, mem, rt, opts);
    let listing = nanobpf_core::Disasm::new(insns);
    assert_eq!(got.0, want.0, "r0 or trap differs in\n{listing}");
    assert_eq!(got.1, want.1, "memory differs in\n{listing}");
    got
}

/// The interpreter's and the JIT's outcomes.
pub(super) fn outcomes(
    insns: &[Insn],
    mem: &[u8],
    rt: &Runtime<'_>,
    opts: &JitOptions,
) -> (Outcome, Outcome) {
    let program = Program::new(insns).expect("decodes");
    let mut stack = Box::new(Stack::new());
    let mut m1 = mem.to_vec();
    let want = Interpreter::with_runtime(*rt).run_checked(
        &program,
        &mut Context::Memory(&mut m1),
        &mut stack,
    );
    let jit = compile_insns(
        insns,
        ProgramType::Memory {
            len: mem.len() as u32,
        },
        rt,
        opts,
    )
    .expect("compiles");
    let mut stack = Box::new(Stack::new());
    let mut m2 = mem.to_vec();
    let got = jit.run(rt, &mut Context::Memory(&mut m2), &mut stack);
    ((want, m1), (got, m2))
}

pub(super) fn both(text: &str, mem: &[u8]) -> Outcome {
    let insns = asm(text);
    let plain = both_with(&insns, mem, &rt(), &JitOptions::default());
    let blinded = both_with(&insns, mem, &rt(), &JitOptions::blinded(0x5a5a_1234));
    assert_eq!(plain, blinded);
    plain
}

/// r0 of `text` over no memory, on both engines.
pub(super) fn r0(text: &str) -> u64 {
    both(text, &[]).0.expect("runs")
}
