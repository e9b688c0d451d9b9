//! Tests: every program runs on the JIT and on the interpreter (the reference), and results,
//! memory and traps must agree.

mod check;
mod diff;
mod tail;
mod tc;
mod units;
mod verified;

use crate::options::JitOptions;
use crate::program::compile_insns;
use nanobpf_core::HelperTable;
use nanobpf_core::{
    assemble, Context, Insn, Interpreter, NoPlatform, Program, ProgramType, Runtime, Stack, Trap,
};
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

pub(super) use crate::fuzzing::{mix_value, TEST_HELPERS as HELPERS};

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
    let got = jit.run(&mut Context::Memory(&mut m2), &mut stack);
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
