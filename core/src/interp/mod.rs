//! The interpreter: runs a program over a context, with a caller-provided stack, and returns
//! r0 or a [`Trap`]. It never allocates and never panics.
//!
//! Two entry points:
//!
//! - [`Interpreter::run`] takes a [`VerifiedProgram`] and accesses memory without checks: the
//!   verifier has proved every access safe. With the `extra-checks` feature it re-checks anyway
//!   and traps on a failed check, which makes it the oracle of soundness tests.
//! - [`Interpreter::run_checked`] takes any decoded [`Program`] and checks every memory access
//!   against the regions of the run (stack, context, packet or buffer), trapping with
//!   [`Trap::OutOfBounds`]. For images without a verifier, and for untrusted experiments.
//!
//! Both share one dispatch loop, monomorphised per mode, so the verified loop has no check in it.

mod alu;
mod exec;

#[cfg(test)]
pub(crate) use alu::{sdiv32, sdiv64, smod32, smod64, udiv32, udiv64, umod32, umod64};

use crate::host::{HelperTable, Platform, Stack, Trap};
use crate::isa::Program;
use crate::maps::MapTable;
use crate::mem::Access;
use crate::runtime::{ActiveRun, Context, Runtime};
use crate::VerifiedProgram;

/// The interpreter: a [`Runtime`] and a dispatch loop. Cheap to build and `Copy`; one can
/// serve many runs on many cores.
#[derive(Clone, Copy, Debug)]
pub struct Interpreter<'e> {
    rt: Runtime<'e>,
}

impl<'e> Interpreter<'e> {
    /// An interpreter with these helpers and services and no budget.
    pub const fn new(helpers: HelperTable<'e>, platform: &'e dyn Platform) -> Self {
        Interpreter {
            rt: Runtime::new(helpers, platform),
        }
    }

    /// An interpreter over a configured runtime.
    pub const fn with_runtime(rt: Runtime<'e>) -> Self {
        Interpreter { rt }
    }

    /// The runtime.
    pub const fn runtime(&self) -> &Runtime<'e> {
        &self.rt
    }

    /// See [`Runtime::with_maps`]: the maps of checked runs.
    pub const fn with_maps(self, maps: MapTable<'e>) -> Self {
        Interpreter {
            rt: self.rt.with_maps(maps),
        }
    }

    /// See [`Runtime::with_programs`].
    pub const fn with_programs(self, programs: &'e [VerifiedProgram<'e>]) -> Self {
        Interpreter {
            rt: self.rt.with_programs(programs),
        }
    }

    /// See [`Runtime::with_budget`] (feature `metering`).
    #[cfg(feature = "metering")]
    pub const fn with_budget(self, budget: u64) -> Self {
        Interpreter {
            rt: self.rt.with_budget(budget),
        }
    }

    /// Runs a verified program.
    ///
    /// # Errors
    /// [`Trap::WrongContext`] when `ctx` does not match the program type (or a memory buffer is
    /// shorter than the length verified), [`Trap::BudgetExhausted`] when the budget is spent, and
    /// with `extra-checks`, [`Trap::OutOfBounds`] when a check fails (a verifier bug).
    pub fn run(
        &self,
        program: &VerifiedProgram<'_>,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
    ) -> Result<u64, Trap> {
        Runtime::check_context(program.prog_type(), ctx)?;
        self.rt.enter_verified(program, ctx, stack, |run| {
            let mem = Access::for_verified(program, run.regions);
            self.dispatch(program.insns(), &mem, run)
        })
    }

    /// Runs a verified program with every memory access checked anyway, as
    /// [`Interpreter::run_checked`] does: the same results as [`Interpreter::run`] (same
    /// helpers, maps and context layout), and a trap instead of undefined behaviour should the
    /// verifier be wrong. The oracle of the soundness tests.
    ///
    /// # Errors
    /// As [`Interpreter::run`], and [`Trap::OutOfBounds`] for an access the checks refuse.
    pub fn run_verified_checked(
        &self,
        program: &VerifiedProgram<'_>,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
    ) -> Result<u64, Trap> {
        Runtime::check_context(program.prog_type(), ctx)?;
        self.rt.enter_verified(program, ctx, stack, |run| {
            // The verifier's output is in the runtime layout: no view to translate.
            let mem = Access::checked(run.regions, program.maps(), None);
            self.dispatch(program.insns(), &mem, run)
        })
    }

    /// Runs a program that has not been verified, checking every memory access. It sees its
    /// context in Linux's layout (`struct xdp_md`, `struct __sk_buff`), as a verified program
    /// does: each context access is translated as the verifier rewrites it.
    ///
    /// # Errors
    /// [`Trap::OutOfBounds`] for an access outside the run's regions,
    /// [`Trap::Misaligned`] for a misaligned atomic, [`Trap::UnknownHelper`],
    /// [`Trap::CallDepth`], [`Trap::BudgetExhausted`].
    pub fn run_checked(
        &self,
        program: &Program<'_>,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
    ) -> Result<u64, Trap> {
        let view = ctx.program_type().context();
        self.rt.enter(ctx, stack, |run| {
            let mem = Access::checked(run.regions, self.rt.maps(), view);
            self.dispatch(program.insns(), &mem, run)
        })
    }

    fn dispatch<const CHECKED: bool>(
        &self,
        insns: &[crate::Insn],
        mem: &Access<'_, CHECKED>,
        run: &mut ActiveRun<'_, 'e>,
    ) -> Result<u64, Trap> {
        let (r1, r2, r10) = (run.r1(), run.r2(), run.stack_top());
        // Without the `metering` feature no budget can be set, and only the unmetered loop is
        // compiled.
        #[cfg(feature = "metering")]
        if self.rt.budget().is_some() {
            return self.exec::<CHECKED, true>(insns, mem, run, r1, r2, r10);
        }
        self.exec::<CHECKED, false>(insns, mem, run, r1, r2, r10)
    }
}

#[cfg(test)]
mod tests;
