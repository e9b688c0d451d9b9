//! Everything this crate needs from the core's runtime and maps, in one place, so a change of
//! how maps and tail-call targets reach a run touches only this module.

use nanobpf_core::engine::{self, ActiveRun};
use nanobpf_core::{Context, Insn, Runtime, Stack, Trap, VerifiedProgram};

/// Whether the runtime sets an instruction budget (code compiled for it is metered).
pub(crate) fn metered(rt: &Runtime<'_>) -> bool {
    rt.budget().is_some()
}

/// The instruction budget of a run: the runtime's, or unlimited.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
pub(crate) fn budget(rt: &Runtime<'_>) -> u64 {
    rt.budget().unwrap_or(u64::MAX)
}

/// The value of an `lddw` of `program` (constant, map handle, or map value address), in the
/// map table it was verified against.
pub(crate) fn lddw_value(program: &VerifiedProgram<'_>, insn: Insn, next: Insn) -> Option<u64> {
    program.maps().lddw_value(insn, next)
}

/// Tail-call target `i` of the runtime's table, whether `entry` may reach it: a tail call goes
/// only to a program bound like the entry program (same type, helpers and maps).
pub(crate) fn tail_program<'e>(
    rt: &Runtime<'e>,
    entry: &VerifiedProgram<'_>,
    i: u32,
) -> Option<(&'e VerifiedProgram<'e>, bool)> {
    rt.program(i).map(|p| (p, entry.same_binding(p)))
}

/// Checks that `ctx` fits a program verified for `prog_type`.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
pub(crate) fn check_context(
    prog_type: nanobpf_core::ProgramType,
    ctx: &Context<'_>,
) -> Result<(), Trap> {
    engine::check_context(prog_type, ctx)
}

/// Starts a run of `program` with its helpers and maps (context struct, entry registers,
/// regions) and calls `f` with it.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
pub(crate) fn enter<R>(
    rt: &Runtime<'_>,
    program: &VerifiedProgram<'_>,
    ctx: &mut Context<'_>,
    stack: &mut Stack,
    f: impl FnOnce(&mut ActiveRun<'_, '_>) -> R,
) -> R {
    engine::enter_verified(rt, program, ctx, stack, f)
}

/// Calls helper `id` for the run.
pub(crate) fn call_helper(
    run: &mut ActiveRun<'_, '_>,
    id: u32,
    args: [u64; 5],
) -> Result<u64, Trap> {
    run.call_helper(id, args)
}

/// The instructions of the tail-call target the last helper call chose, if any.
pub(crate) fn take_tail_call<'e>(run: &mut ActiveRun<'_, 'e>) -> Option<&'e [Insn]> {
    run.take_tail_call().map(|p| p.insns())
}
