//! The verifier's output: the only program the fast engines accept.

use crate::env::ProgramType;
use crate::isa::Insn;

/// A program the verifier has proved safe for one environment: every memory access in bounds,
/// every register initialised before use, every path ending in `exit` within the budget, and
/// context accesses rewritten to the runtime's context layout.
///
/// Only the verifier makes one (and, inside this crate, tests through
/// `VerifiedProgram::assume_verified`), so an engine holding one may skip run-time checks.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedProgram<'a> {
    insns: &'a [Insn],
    prog_type: ProgramType,
    stack_depth: u32,
}

impl<'a> VerifiedProgram<'a> {
    /// Wraps instructions the verifier has accepted. `stack_depth` is the deepest stack use of
    /// any call chain, in bytes.
    pub(crate) fn assume_verified(
        insns: &'a [Insn],
        prog_type: ProgramType,
        stack_depth: u32,
    ) -> Self {
        VerifiedProgram {
            insns,
            prog_type,
            stack_depth,
        }
    }

    /// The instructions, with context accesses in the runtime layout.
    #[inline]
    pub fn insns(&self) -> &'a [Insn] {
        self.insns
    }

    /// The program type it was verified for.
    #[inline]
    pub fn prog_type(&self) -> ProgramType {
        self.prog_type
    }

    /// The deepest stack use of any call chain, in bytes.
    #[inline]
    pub fn stack_depth(&self) -> u32 {
        self.stack_depth
    }
}
