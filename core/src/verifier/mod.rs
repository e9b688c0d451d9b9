// The verifier's model and contract is `docs/verifier.md`, included here as this module's
// documentation, so that the two cannot differ: edit it there.
#![doc = include_str!("../../../docs/verifier.md")]

mod alu;
mod call;
mod cfg;
mod check;
mod error;
mod jmp;
mod liveness;
mod log;
mod mem;
mod refs;
mod rule;
mod scalar;
mod state;
mod tnum;
mod workspace;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_conformance;
#[cfg(test)]
mod tests_cve;
#[cfg(test)]
mod tests_helpers;
#[cfg(all(test, feature = "metering"))]
mod tests_random;

pub use error::{LeakTarget, TooComplexReason, VerifyError, VerifyErrorKind};
#[cfg(any(all(test, feature = "metering"), feature = "fuzzing"))]
pub use rule::Rule;
pub use workspace::VerifierWorkspace;

use crate::host::{CtxFieldKind, HelperTable, ProgramType, MAX_CALL_FRAMES, STACK_SIZE};
use crate::isa::opcode::op::LDDW;
use crate::isa::opcode::{Class, BPF_DW, BPF_LDX, BPF_MEM};
use crate::isa::{Insn, Program, RUNTIME_FORM_IMM, RUNTIME_FORM_SRC};
use crate::maps::MapTable;
use crate::verified::VerifiedProgram;

/// Linux's default limit of processed instructions.
pub(crate) const DEFAULT_BUDGET: u32 = 1_000_000;

/// What a program is verified against.
#[derive(Clone, Copy, Debug)]
pub struct VerifyTarget<'a> {
    /// The program type: context layout and what the program may do.
    pub prog_type: ProgramType,
    /// The helpers the program may call, with prototypes.
    pub helpers: HelperTable<'a>,
    /// The maps the program refers to by index (`lddw` src 1, 2, 5, 6): the verified program
    /// is bound to them. [`MapTable::definitions`] checks against definitions alone.
    pub maps: MapTable<'a>,
    /// The most instructions to process over all paths ([`VerifyTarget::DEFAULT_BUDGET`] by default).
    pub budget: u32,
}

impl<'a> VerifyTarget<'a> {
    /// Linux's default limit of processed instructions: 1,000,000.
    pub const DEFAULT_BUDGET: u32 = DEFAULT_BUDGET;

    /// An environment with the default budget.
    pub const fn new(prog_type: ProgramType, helpers: HelperTable<'a>, maps: MapTable<'a>) -> Self {
        VerifyTarget {
            prog_type,
            helpers,
            maps,
            budget: DEFAULT_BUDGET,
        }
    }
}

/// A workspace for programs of up to 4,096 instructions, with 96 chunks (12 KiB, at most 96
/// states) of explored-state cache and 192 chunks (12 KiB, at most 192 entries) of pending
/// branches: [`VerifierWorkspace::SIZE_BYTES`] is 64,352 bytes (62.8 KiB) on 64-bit targets.
///
/// Where it goes: 16 KiB of per-instruction facts (flags, live and precise registers), 1 KiB
/// of function table, two full abstract states of 10.2 KiB each (the current one and a
/// scratch one; a full state holds eight frames of eleven 80-byte registers and 64 stack
/// slots, plus 16 spilled registers and 4 references), and 26 KiB of encoded states with their index.
///
/// The pending-branch stack bounds how many two-sided branches can be unresolved along one
/// path (Linux allows 8,192); exits and loop exits are explored first so they do not count.
pub type DefaultWorkspace = VerifierWorkspace<4096, 96, 192>;

/// Verifies `insns` for `env`, then rewrites its context accesses to the runtime layout.
///
/// The rewrite is in place: once verified, `insns` hold the runtime's form of the program,
/// which the returned [`VerifiedProgram`] borrows. The rewritten slots are marked, and the
/// decoder refuses them ([`DecodeErrorKind::RuntimeForm`](crate::DecodeErrorKind::RuntimeForm)):
/// verifying the same slots again, or a copy of [`VerifiedProgram::insns`], fails at the
/// first rewritten access instead of reading runtime offsets as the program's.
///
/// # Errors
/// The first problem found, with the index of the instruction: a decoding error, a structural
/// one (unreachable code, a jump out of a function), or a safety one found while exploring
/// the paths. A program the verifier cannot finish exploring in the workspace or the budget
/// is rejected as [`VerifyErrorKind::TooComplex`].
pub fn verify<'a, const INSNS: usize, const STATES: usize, const BRANCHES: usize>(
    insns: &'a mut [Insn],
    env: &VerifyTarget<'a>,
    ws: &mut VerifierWorkspace<INSNS, STATES, BRANCHES>,
) -> Result<VerifiedProgram<'a>, VerifyError> {
    run(insns, env, ws.view(), None, 0)
}

/// As [`verify`], with the soundness rules `lifted` switched off: the verifier then accepts
/// programs those rules reject. For the tests that show the soundness fuzz target finds the
/// hole each rule closes; never in a runtime (only the `fuzzing` feature exports it).
///
/// # Errors
/// As [`verify`].
#[cfg(any(all(test, feature = "metering"), feature = "fuzzing"))]
pub fn verify_lifting<'a, const INSNS: usize, const STATES: usize, const BRANCHES: usize>(
    insns: &'a mut [Insn],
    env: &VerifyTarget<'a>,
    ws: &mut VerifierWorkspace<INSNS, STATES, BRANCHES>,
    lifted: &[Rule],
) -> Result<VerifiedProgram<'a>, VerifyError> {
    let bits = lifted.iter().fold(0, |b, r| b | r.bit());
    run(insns, env, ws.view(), None, bits)
}

/// As [`verify`], writing a per-instruction state trace to `log` like Linux's verifier log.
///
/// # Errors
/// As [`verify`]. Errors of `log` are ignored.
#[cfg(test)]
pub(crate) fn verify_with_log<
    'a,
    const INSNS: usize,
    const STATES: usize,
    const BRANCHES: usize,
>(
    insns: &'a mut [Insn],
    env: &VerifyTarget<'a>,
    ws: &mut VerifierWorkspace<INSNS, STATES, BRANCHES>,
    log: &mut dyn core::fmt::Write,
) -> Result<VerifiedProgram<'a>, VerifyError> {
    let r = run(insns, env, ws.view(), Some(log), 0);
    if let Err(e) = &r {
        let _ = writeln!(log, "{e}");
    }
    r
}

/// What a verification cost, in the spirit of Linux's `veristat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyStats {
    /// Instructions processed over all paths (the budget counts these).
    pub insns_processed: u32,
    /// The most explored states held in the workspace's cache at once.
    pub peak_states: u32,
    /// The most branches pending at once.
    pub peak_branches: u32,
    /// The most bytes of the workspace's state cache and branch stack in use at once (the
    /// rest of the workspace, per-instruction facts and two states, is fixed by its size).
    pub peak_bytes: u32,
}

/// As [`verify`], also returning what the verification cost, whatever its verdict; with a
/// `log`, writes a per-instruction state trace to it like Linux's verifier log (errors of
/// `log` are ignored), ending with the error of a rejection.
///
/// # Errors
/// As [`verify`].
pub fn verify_with_stats<'a, const INSNS: usize, const STATES: usize, const BRANCHES: usize>(
    insns: &'a mut [Insn],
    env: &VerifyTarget<'a>,
    ws: &mut VerifierWorkspace<INSNS, STATES, BRANCHES>,
    log: Option<&mut dyn core::fmt::Write>,
) -> (Result<VerifiedProgram<'a>, VerifyError>, VerifyStats) {
    let mut stats = VerifyStats::default();
    let r = match log {
        Some(log) => {
            let r = run_with(insns, env, ws.view(), Some(&mut *log), 0, &mut stats);
            if let Err(e) = &r {
                let _ = writeln!(log, "{e}");
            }
            r
        }
        None => run_with(insns, env, ws.view(), None, 0, &mut stats),
    };
    (r, stats)
}

/// Every `lddw` of a map, reachable or not, names a map of `env` in a way it supports: the
/// engines resolve these when a program is loaded or compiled (the JIT compiles dead code too).
fn check_map_refs(insns: &[Insn], env: &VerifyTarget<'_>) -> Result<(), VerifyError> {
    let mut pc = 0;
    while let Some(&insn) = insns.get(pc) {
        if insn.opcode == LDDW {
            let hi = insns.get(pc.saturating_add(1)).map_or(0, |n| n.imm);
            mem::lddw_value(&env.maps, insn, hi).map_err(|kind| VerifyError { pc, kind })?;
            pc = pc.saturating_add(1);
        }
        pc = pc.saturating_add(1);
    }
    Ok(())
}

fn run<'a>(
    insns: &'a mut [Insn],
    env: &VerifyTarget<'a>,
    ws: workspace::View<'_>,
    log: Option<&mut dyn core::fmt::Write>,
    lifted: u8,
) -> Result<VerifiedProgram<'a>, VerifyError> {
    run_with(insns, env, ws, log, lifted, &mut VerifyStats::default())
}

fn run_with<'a>(
    insns: &'a mut [Insn],
    env: &VerifyTarget<'a>,
    ws: workspace::View<'_>,
    log: Option<&mut dyn core::fmt::Write>,
    lifted: u8,
    stats: &mut VerifyStats,
) -> Result<VerifiedProgram<'a>, VerifyError> {
    Program::new(insns).map_err(|e| VerifyError {
        pc: e.pc,
        kind: VerifyErrorKind::Decode(e.kind),
    })?;
    if insns.len() > ws.aux.len() {
        return Err(VerifyError {
            pc: ws.aux.len(),
            kind: VerifyErrorKind::TooComplex(TooComplexReason::ProgramTooLarge),
        });
    }
    let nfuncs = cfg::check(insns, ws.aux, ws.funcs)?;
    check_map_refs(insns, env)?;
    let main_end = ws
        .funcs
        .get(1)
        .filter(|_| nfuncs > 1)
        .map_or(insns.len(), |f| f.start as usize);
    let mut ws = ws;
    let (aux, spare) = core::mem::take(&mut ws.aux).split_at_mut(insns.len());
    ws.aux = aux;
    let used = liveness::compute_all(
        insns,
        ws.aux,
        &env.helpers,
        main_end,
        ws.cache.scratch(),
        ws.branches.scratch(),
        &mut *spare,
    );
    let spare: &[u32] = spare;
    let slots = liveness::SlotTable::new(spare.get(..used).unwrap_or_default());
    let mut c = check::Checker {
        insns,
        env,
        ctx: env.prog_type.context(),
        ws,
        nfuncs,
        next_id: 0,
        processed: 0,
        log,
        lifted,
        slots,
    };
    let explored = c.run();
    *stats = VerifyStats {
        insns_processed: c.processed,
        peak_states: c.ws.cache.peak_count as u32,
        peak_branches: c.ws.branches.peak_len as u32,
        peak_bytes: c.ws.cache.peak_used.saturating_add(c.ws.branches.peak_top) as u32,
    };
    explored?;
    let depth = stack_depth(insns, &c);
    let ctx = c.ctx;
    let aux = &*c.ws.aux;
    if let Some(layout) = ctx {
        for (pc, insn) in insns.iter_mut().enumerate() {
            if aux.get(pc).is_some_and(|a| a & cfg::CTX_ACCESS != 0) {
                rewrite_ctx(insn, &layout);
            }
        }
    }
    Ok(VerifiedProgram::assume_verified(
        insns,
        env.prog_type,
        depth,
        env.helpers,
        env.maps,
    ))
}

/// The stack of the deepest call chain, each frame rounded up to 8 bytes.
fn stack_depth(insns: &[Insn], c: &check::Checker<'_, '_, '_>) -> u32 {
    let funcs = c.ws.funcs.get(..c.nfuncs).unwrap_or_default();
    let own: [u32; workspace::MAX_FUNCS] = core::array::from_fn(|i| {
        funcs
            .get(i)
            .map_or(0, |f| (f.depth as u32).next_multiple_of(8))
    });
    let mut chain = own;
    for _ in 0..MAX_CALL_FRAMES {
        for (pc, a) in c.ws.aux.iter().enumerate().take(insns.len()) {
            if a & cfg::VISITED == 0 {
                continue;
            }
            if let cfg::Flow::Call(t) = cfg::flow(insns, pc) {
                let (f, g) = (cfg::func_of(funcs, pc), cfg::func_of(funcs, t));
                let own_f = own.get(f).copied().unwrap_or(0);
                let chain_g = chain.get(g).copied().unwrap_or(0);
                if let Some(chain_f) = chain.get_mut(f) {
                    *chain_f = (*chain_f).max(own_f.saturating_add(chain_g));
                }
            }
        }
    }
    chain[0].min(STACK_SIZE as u32)
}

/// Rewrites one verified context access to the runtime layout, and marks it so that the
/// decoder refuses the result ([`crate::DecodeErrorKind::RuntimeForm`]): the rewritten offsets are
/// the runtime's, and reading them as the program's would verify a different program.
fn rewrite_ctx(insn: &mut Insn, layout: &crate::host::ContextLayout) {
    let Some(field) = layout.field_at(insn.off as i64, insn.access_size()) else {
        return;
    };
    let off = match field.kind {
        CtxFieldKind::Scalar => {
            // `insn.off` lies in the field: the result is an offset into the runtime struct.
            (field.runtime_offset as i64)
                .saturating_add(insn.off as i64)
                .saturating_sub(field.offset as i64) as i16
        }
        CtxFieldKind::PacketData | CtxFieldKind::PacketEnd | CtxFieldKind::PacketMeta => {
            // A pointer field is a 64-bit word of the runtime context, whatever width the
            // program read it with.
            insn.opcode = BPF_LDX | BPF_MEM | BPF_DW;
            field.runtime_offset as i16
        }
    };
    *insn = if insn.class() == Class::St {
        Insn::new(insn.opcode, insn.dst(), RUNTIME_FORM_SRC, off, insn.imm)
    } else {
        Insn::new(insn.opcode, insn.dst(), insn.src(), off, RUNTIME_FORM_IMM)
    };
}
