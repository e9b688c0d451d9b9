//! For engines, not for embedders: what the interpreter and the JIT crates
//! (`nanobpf-jit-x86`, `nanobpf-jit-thumb2`) build a run from.
//!
//! An embedder never needs this module: it runs programs through [`Interpreter`](crate::Interpreter)
//! or a JIT crate's compiled program. An engine checks the context ([`check_context`]), enters a
//! run ([`enter_verified`], or [`enter`] for a checked run of an unverified program), and runs
//! the program's code against the [`ActiveRun`] it is handed: entry registers, helper calls, the
//! regions a checking engine tests accesses against, the tail call a helper chose.

use crate::host::{ProgramType, Stack, Trap};
use crate::runtime::{Context, Runtime};
use crate::VerifiedProgram;

pub use crate::runtime::ActiveRun;

/// Checks that `ctx` fits a program verified for `prog_type`.
///
/// # Errors
/// [`Trap::WrongContext`] when the variant differs or a memory buffer is shorter than the
/// length verified.
#[inline]
pub fn check_context(prog_type: ProgramType, ctx: &Context<'_>) -> Result<(), Trap> {
    Runtime::check_context(prog_type, ctx)
}

/// Starts a run of `program` on `ctx` with `stack`, with the helpers and maps it was verified
/// against: builds the runtime context struct, the entry registers and the regions of the run,
/// calls `f` with the [`ActiveRun`], and writes back what the program may have changed (XDP
/// frame bounds and redirect, socket-filter fields). The caller checks the context first
/// ([`check_context`]).
#[inline]
pub fn enter_verified<'e, R>(
    rt: &Runtime<'e>,
    program: &VerifiedProgram<'_>,
    ctx: &mut Context<'_>,
    stack: &mut Stack,
    f: impl FnOnce(&mut ActiveRun<'_, 'e>) -> R,
) -> R {
    rt.enter_verified(program, ctx, stack, f)
}

/// As [`enter_verified`], for a checked run of a program that was not verified: with the
/// runtime's helpers and maps.
#[inline]
pub fn enter<'e, R>(
    rt: &Runtime<'e>,
    ctx: &mut Context<'_>,
    stack: &mut Stack,
    f: impl FnOnce(&mut ActiveRun<'_, 'e>) -> R,
) -> R {
    rt.enter(ctx, stack, f)
}
