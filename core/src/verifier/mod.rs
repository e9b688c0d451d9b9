//! The verifier: a kernel-style abstract interpreter that proves a program safe before any
//! engine runs it, in memory the caller owns.
//!
//! # Passes
//!
//! 1. **Decode** ([`Program::new`](crate::Program::new)): every slot well formed, every jump in
//!    range.
//! 2. **Structure**: the targets of local calls start functions; jumps stay inside their
//!    function; each function ends in `exit` or a jump; every instruction is reachable.
//! 3. **Liveness and precision** (backward, per register): which registers may still be
//!    read, and which may still matter to a verdict (flow into a branch, an address, a helper
//!    argument, a spill or a callee's result); and per stack slot of the running function,
//!    at each prune point and each conditional jump's fallthrough, which slots may still be
//!    read (through `r10`, or through a pointer made from it: `rX = r10; rX += K` counts as
//!    reading every slot from `K` up, any other use of `r10` as a value as reading them all).
//! 4. **Exploration**: every path from the entry is executed on abstract values, one
//!    instruction at a time, with a stack of pending branches; of the two sides of a branch
//!    the one with the higher pc goes first (a forward jump's target, a backward jump's
//!    fallthrough), so early exits and loop exits do not stay pending. At *prune points*
//!    (jump targets: where paths meet and where every loop closes) dead registers are
//!    forgotten, numbers that cannot matter are widened to "any number", dead stack slots
//!    of the running function are forgotten (made uninitialised) unless a register or a
//!    spill points into its frame, and the state is compared with the explored-state cache.
//!    A pending branch is stored without its dead slots likewise.
//! 5. **Rewrite**: context accesses are rewritten from the program's view (`struct xdp_md`,
//!    `struct __sk_buff`) to the runtime structs; packet pointer fields become 64-bit loads.
//!
//! # Abstract domain
//!
//! A state is the call chain's frames (at most [`crate::host::MAX_CALL_FRAMES`]),
//! each with eleven registers and 64 stack slots of 8 bytes. A register is
//!
//! * *uninitialised* (reading it is an error);
//! * a *scalar*: the reduced product of a tnum (known bits) with unsigned and signed ranges
//!   of the 64-bit value and of its low 32 bits; optionally *linked* by an `id` and a
//!   constant delta `off` (Linux's scalar ids with `BPF_ADD_CONST`): all scalars of the
//!   state with one `id` (in any frame, or spilled) equal one hidden number plus their own
//!   delta, modulo 2^64. A copy (`r5 = r4`, or `w5 = w4` of a number below 2^32) shares its
//!   source's id, `r5 += K` and `r5 -= K` (64-bit, known `K`, delta within `i32`) keep it
//!   with the delta moved, and any other write unlinks the register. A comparison that
//!   refines a linked scalar narrows every member of its group to its meet with the refined
//!   value plus the difference of deltas; modular arithmetic makes that exact, so a delta
//!   that wraps a range needs no special case (the sum's range is then simply wide);
//! * a *pointer* of a kind — context, stack of frame `f`, packet, packet end, packet
//!   metadata, map value of map `m`, map value or null, map `m`, memory buffer, ring buffer
//!   record of `r` bytes (or null) — with a constant offset and a variable offset (a
//!   scalar). Packet pointers carry an `id` shared by pointers with the same variable part
//!   and a proven range `r`: `r` bytes from the pointer's variable part are inside the
//!   packet. Nullable map values and ring buffer records carry an `id` shared by their
//!   copies.
//!
//! A state also holds its *references* (at most 4): the ids of ring buffer records reserved
//! and not yet submitted or discarded, with the instruction that reserved each. Releasing one
//! makes every copy of its pointer uninitialised (so a second release or a later access is
//! rejected); a null check that finds a record null drops its reference; `exit` from the
//! program and `tail_call` need the set empty. Inclusion needs the same number of references,
//! matched one to one through the ids of the pointers.
//!
//! A stack slot records which of its bytes are initialised, and, after a full aligned 8-byte
//! store, the register stored there (a *spill*), so that pointers and exact numbers come back
//! when reloaded. A spilled 0 (clang zeroes structures with 8-byte stores of 0) is marked in
//! the slot itself and takes none of the state's 16 spill entries, as Linux's `STACK_ZERO`. A narrower store of a number inside one slot makes the slot a spilled number
//! too: the stored bytes are the number's low bytes, the others what was known of them (a
//! spilled number there) or anything; a load inside the slot takes its bytes back out, so a
//! bounded `u32` spilled with a 4-byte store comes back bounded. A narrower load from a
//! spilled pointer is rejected; a narrower store of a number over one, or a helper's write,
//! destroys it: the bytes written are a number, the pointer's other bytes uninitialised (they
//! would give the program bits of a host address); clang reuses such slots. When a helper invalidates pointers (packet
//! pointers after the frame moves, a ring buffer record after its release) their spilled
//! copies become plain initialised bytes, which read back as unknown numbers at any width.
//! An access at a variable offset must stay inside the frame and may not touch a spilled
//! pointer; a read needs every byte it may touch initialised, a write initialises none of
//! them (any one may not be written) and turns spilled numbers in its range into plain bytes.
//!
//! Programs are checked as Linux checks privileged ones (`allow_ptr_leaks`), since the
//! runtime has no unprivileged users: the low half of a pointer (`w3 = w2`) and a 32-bit
//! subtraction involving a pointer (`w3 -= w1`, clang's `(u32)(data_end - data)`) are any
//! 32-bit number, never a pointer again; such a number may be stored anywhere, while storing
//! a pointer itself into the context, the packet, a map value or the memory buffer is still a
//! leak and rejected, and so is passing a helper stack memory that holds a spilled pointer
//! (the helper would copy it into a map or a ring buffer). Other 32-bit arithmetic on
//! pointers is rejected, as in Linux. The difference of two pointers into one region is a
//! known number only when both come from one base (one stack frame, the memory buffer, the
//! packet's start, its metadata); two map value pointers may be two elements, so their
//! difference is any number. `bpf_trace_printk`'s value arguments (r3 to r5) are not checked,
//! as in Linux: a program may print an address to the platform's trace sink, never store one.
//!
//! Maps marked [`BPF_F_RDONLY_PROG`](crate::host::BPF_F_RDONLY_PROG) (`.rodata`) are read-only
//! for the program: stores and atomics into their values, `map_update_elem`,
//! `map_delete_elem`, `map_push_elem`, `map_pop_elem` on them, and helpers that fill a value
//! of theirs are rejected. A legacy packet load (`ld_abs`, `ld_ind`), which ends the program
//! when it falls outside the packet, is rejected while the program holds a reference.
//!
//! # Order, join and pruning
//!
//! There is no join: paths are explored separately (as Linux does), so precision is only
//! lost by the transfer functions themselves. The order used for pruning is inclusion of
//! concretisations, checked component-wise: an uninitialised register includes anything;
//! otherwise kinds must be equal, scalars' ranges and tnums must contain the new ones,
//! pointers must have the same constant offset, a containing variable offset, a packet range
//! no larger than the new one, and ids that correspond one to one; a linked scalar of the old
//! state needs a linked new one with the same delta, ids again one to one (its exploration may
//! have used the link), while an unlinked old scalar includes a linked one (a link only adds
//! a constraint). Before comparing, links are made canonical (lone ids dropped, groups
//! renumbered in order of appearance, deltas shifted to start at 0), so equal states encode
//! alike for the infinite-loop check. Stack slots must have no
//! more initialised bytes than the new state, spilled values included in the new ones, and a
//! slot read as a plain number in the old state must not hold a spilled pointer in the new
//! one.
//!
//! # Soundness claim
//!
//! For every concrete execution of an accepted program on any context, packet, map contents
//! and helper results consistent with the prototypes, each concrete state at each executed
//! instruction is in the concretisation of some explored abstract state at that instruction,
//! and each check performed there (register initialised, access within its region, pointer
//! not leaked, helper arguments of the right kind and size) holds for it. This rests on:
//!
//! * transfer functions that over-approximate the ISA's semantics (tested against the
//!   concrete operations on random members of random abstract values);
//! * both sides of every branch explored unless refinement shows a side empty;
//! * links that hold in every concrete state: a register or slot changes only by a full
//!   write, which unlinks it unless it copies a scalar or adds a constant to it, and each side
//!   of a branch refines its own copy of the linked values (tested on random refinements and
//!   on random programs run by the checking interpreter);
//! * pruning only against states whose exploration has *completed* (every path from them
//!   reached `exit` or was itself pruned against a completed state): then every path from the
//!   new state is a path from the old one. A state still being explored is never used to
//!   prune, which would accept a loop that never ends; meeting it again unchanged is an
//!   infinite loop and rejected.
//! * termination by the processed-instruction budget: a loop whose bound the domain cannot
//!   see runs out of budget and is rejected as too complex.
//!
//! * forgetting dead registers and stack slots and widening numbers only ever makes a state
//!   larger, so a wrong liveness or precision fact can cost a rejection, never an unsound
//!   acceptance (a forgotten register or slot that is read later fails as uninitialised on
//!   that path, helpers' reads included).
//!
//! Forgetting cached states (the cache is bounded and forgets the oldest) only costs time.
//!
//! # Not supported
//!
//! Variable-offset stack accesses as helper arguments, pointer comparisons other than null
//! checks and packet comparisons, narrow spills that straddle two slots, links through 32-bit additions (`w5 += K` unlinks, as before Linux 6.13) or more than 32
//! groups of linked scalars at a prune point (the rest are unlinked), liveness of the callers'
//! stack slots (only the running function's are forgotten), joins or widening of loop counters (a loop whose bound the domain cannot see runs out of
//! budget), and return value ranges of XDP programs. The pending-branch stack is bounded by
//! the workspace, not by Linux's 8,192.

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
use crate::isa::opcode::{BPF_DW, BPF_LDX, BPF_MEM};
use crate::isa::{Insn, Program};
use crate::maps::MapTable;
use crate::verified::VerifiedProgram;

/// Linux's default limit of processed instructions.
pub const DEFAULT_BUDGET: u32 = 1_000_000;

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
    /// The most instructions to process over all paths ([`DEFAULT_BUDGET`] by default).
    pub budget: u32,
}

impl<'a> VerifyTarget<'a> {
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
/// The rewrite is in place: once verified, `insns` hold the runtime's form of the program.
/// Verify each program from its original slots, never the same slots twice: a second pass
/// would read the rewritten offsets as offsets of the program's view of the context.
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
pub fn verify_with_log<'a, const INSNS: usize, const STATES: usize, const BRANCHES: usize>(
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

/// As [`verify_with_log`] (with `log` optional), also returning what the verification cost,
/// whatever its verdict.
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
            let hi = insns.get(pc + 1).map_or(0, |n| n.imm);
            mem::lddw_value(&env.maps, insn, hi).map_err(|kind| VerifyError { pc, kind })?;
            pc += 1;
        }
        pc += 1;
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
    liveness::compute(insns, ws.aux, &env.helpers, main_end);
    let mut ws = ws;
    let (aux, spare) = core::mem::take(&mut ws.aux).split_at_mut(insns.len());
    ws.aux = aux;
    let used = liveness::compute_slots(
        insns,
        ws.aux,
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
        peak_bytes: (c.ws.cache.peak_used + c.ws.branches.peak_top) as u32,
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
    let funcs = &c.ws.funcs[..c.nfuncs];
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
                chain[f] = chain[f].max(own[f] + chain[g]);
            }
        }
    }
    chain[0].min(STACK_SIZE as u32)
}

/// Rewrites one verified context access to the runtime layout.
fn rewrite_ctx(insn: &mut Insn, layout: &crate::host::ContextLayout) {
    let size = match insn.opcode & 0x18 {
        0x00 => 4,
        0x08 => 2,
        0x10 => 1,
        _ => 8,
    };
    let Some(field) = layout.field_at(insn.off as i64, size) else {
        return;
    };
    match field.kind {
        CtxFieldKind::Scalar => {
            insn.off = (field.runtime_offset as i64 + insn.off as i64 - field.offset as i64) as i16;
        }
        CtxFieldKind::PacketData | CtxFieldKind::PacketEnd | CtxFieldKind::PacketMeta => {
            *insn = Insn::new(
                BPF_LDX | BPF_MEM | BPF_DW,
                insn.dst(),
                insn.src(),
                field.runtime_offset as i16,
                0,
            );
        }
    }
}
