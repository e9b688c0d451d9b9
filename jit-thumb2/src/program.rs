//! Compiling verified programs into the caller's buffer, and running the result.

use crate::check::check;
use crate::emit::Emitter;
use crate::error::{JitError, JitErrorKind};
use crate::native::{routines, ExecRegion};
use crate::rt;
use nanobpf_core::{ProgramType, Runtime, VerifiedProgram};

/// The most programs one compilation holds: the entry program and its tail-call targets.
pub const MAX_PROGRAMS: usize = 16;

/// What a compilation needs besides the code buffer: one word per instruction slot of the
/// largest program compiled (its code offset while the program is translated). `N` slots;
/// `const fn new()` lets it live in a `static`.
#[derive(Debug)]
pub struct JitWorkspace<const N: usize> {
    slots: [u32; N],
}

impl<const N: usize> JitWorkspace<N> {
    /// A workspace for programs of up to `N` slots.
    pub const fn new() -> Self {
        JitWorkspace { slots: [0; N] }
    }

    /// Its size in bytes.
    pub const SIZE_BYTES: usize = 4 * N;
}

impl<const N: usize> Default for JitWorkspace<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A compiled program: Thumb-2 code for it and for every program its tail calls may reach,
/// in the caller's region.
///
/// It holds what it was compiled against: the verified program (its helpers and maps, whose
/// addresses the code holds) and the runtime (tail-call table, budget), and runs with those
/// only.
///
/// Tail calls: a successful `bpf_tail_call` returns from the code to `JitProgram::run`,
/// which enters the target's code with the same context and stack (at most 33 times). Only
/// the runtime's programs bound like the entry program
/// ([`VerifiedProgram::same_binding`]) are compiled and reachable.
#[derive(Debug)]
pub struct JitProgram<'r> {
    region: ExecRegion<'r>,
    #[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
    program: VerifiedProgram<'r>,
    #[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
    rt: Runtime<'r>,
    len: usize,
    /// The routines' addresses the code was checked against.
    routines: crate::emit::Routines,
    /// For each compiled program: its instructions (address, length) and entry offset.
    entries: [(usize, usize, u32); MAX_PROGRAMS],
    programs: usize,
    prog_type: ProgramType,
    calls_helpers: bool,
}

/// Compiles `program` (and the programs of `rt`'s tail-call table) into `region`, then decodes
/// the code back and checks it (see the crate documentation) before returning it.
///
/// # Errors
/// A [`JitError`]: an instruction that cannot be translated, an unresolved map, a budget set
/// a buffer or workspace too small, or a failed check.
///
/// When `rt` sets an instruction budget the code is metered: a run that would execute more
/// instructions than the budget of the runtime it runs with traps with
/// [`nanobpf_core::Trap::BudgetExhausted`] at the same instruction as the interpreter.
pub fn compile<'r, const N: usize>(
    program: &VerifiedProgram<'r>,
    rt: &Runtime<'r>,
    region: ExecRegion<'r>,
    ws: &mut JitWorkspace<N>,
) -> Result<JitProgram<'r>, JitError> {
    translate(program, rt, region, ws, true)
}

/// Translates, and checks the code when `checked` (see [`compile`] and
/// `native::compile_unchecked`).
pub(crate) fn translate<'r, const N: usize>(
    program: &VerifiedProgram<'r>,
    rt: &Runtime<'r>,
    mut region: ExecRegion<'r>,
    ws: &mut JitWorkspace<N>,
    checked: bool,
) -> Result<JitProgram<'r>, JitError> {
    let whole = |k| JitError::at(0, k);
    if !region.aligned() {
        return Err(whole(JitErrorKind::BufferMisaligned));
    }
    let routines = routines();
    let mut entries = [(0usize, 0usize, 0u32); MAX_PROGRAMS];
    let mut programs = 0;
    let mut calls_helpers = false;
    let len = {
        let mut e = Emitter::new(region.bytes_mut(), &mut ws.slots, routines, rt::metered(rt));
        e.stubs().map_err(whole)?;
        let lddw = |insn, next| rt::lddw_value(program, insn, next);
        let mut next = Some(program.insns());
        let mut i = 0u32;
        while let Some(insns) = next {
            let slot = entries
                .get_mut(programs)
                .ok_or(whole(JitErrorKind::Unsupported))?;
            let entry = e.program(insns, &lddw)?;
            *slot = (insns.as_ptr() as usize, insns.len(), entry);
            programs += 1;
            calls_helpers |= insns
                .iter()
                .any(|x| x.opcode == nanobpf_core::opcode::CALL && x.src() == 0)
                || insns
                    .iter()
                    .any(|x| x.opcode == nanobpf_core::opcode::CALLX);
            next = None;
            while let Some((p, reachable)) = rt::tail_program(rt, program, i) {
                i += 1;
                if reachable {
                    next = Some(p.insns());
                    break;
                }
            }
        }
        e.len()
    };
    if checked {
        check(region.bytes(len), routines)?;
    }
    region.sync();
    Ok(JitProgram {
        region,
        program: *program,
        rt: *rt,
        len,
        routines,
        entries,
        programs,
        prog_type: program.prog_type(),
        calls_helpers,
    })
}

impl JitProgram<'_> {
    /// Size of the code in bytes.
    pub fn code_len(&self) -> usize {
        self.len
    }

    /// The code, for inspection.
    pub fn code(&self) -> &[u8] {
        self.region.bytes(self.len)
    }

    /// Decodes the code back and checks it again, as `compile` did before returning it: for
    /// firmware that wants to re-check code in RAM (after a fault, before a long-lived program
    /// is trusted again) at the cost of one pass over the code.
    ///
    /// # Errors
    /// [`JitErrorKind::Check`] when the code no longer passes the check.
    pub fn recheck(&self) -> Result<(), JitError> {
        check(self.code(), self.routines)
    }

    /// The code, writable, for the tests that corrupt it.
    #[cfg(test)]
    pub(crate) fn code_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.region.bytes_mut()[..len]
    }

    /// The program type it was compiled for.
    pub fn prog_type(&self) -> ProgramType {
        self.prog_type
    }

    /// The entry program's offset in the code.
    #[cfg(all(test, feature = "emulator"))]
    pub(crate) fn entry_offset(&self) -> usize {
        self.entries[0].2 as usize
    }

    /// Whether any compiled program calls a helper.
    pub fn calls_helpers(&self) -> bool {
        self.calls_helpers
    }

    /// The entry offset of the compiled program whose instructions are `target`.
    #[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
    fn entry_of(&self, target: (usize, usize)) -> Option<usize> {
        self.entries
            .iter()
            .take(self.programs)
            .find(|e| (e.0, e.1) == target)
            .map(|e| e.2 as usize)
    }
}

#[cfg(target_arch = "arm")]
impl JitProgram<'_> {
    /// Runs the program on `ctx` with `stack`, with the helpers, maps and runtime it was
    /// compiled with.
    ///
    /// # Errors
    /// [`nanobpf_core::Trap::WrongContext`] when `ctx` does not fit the program type, and the
    /// traps of the interpreter: [`nanobpf_core::Trap::CallDepth`],
    /// [`nanobpf_core::Trap::UnknownHelper`], [`nanobpf_core::Trap::Misaligned`], and whatever
    /// a helper reports.
    pub fn run(
        &self,
        ctx: &mut nanobpf_core::Context<'_>,
        stack: &mut nanobpf_core::Stack,
    ) -> Result<u64, nanobpf_core::Trap> {
        use crate::state::JitState;
        use nanobpf_core::Trap;
        rt::check_context(self.prog_type, ctx)?;
        let rt = &self.rt;
        rt::enter(rt, &self.program, ctx, stack, |run| {
            let (r1, r10) = (run.r1(), run.stack_top());
            let mut st = JitState::for_run(
                [r1, run.r2(), r10],
                rt::budget(rt),
                run.packet(),
                run as *mut nanobpf_core::engine::ActiveRun<'_, '_> as *mut core::ffi::c_void,
            );
            let mut entry = self.entries[0].2 as usize;
            loop {
                let r0 = crate::native::enter_code(&self.region, entry, &mut st);
                if st.trap != 0 {
                    return Err(trap_of(st.trap));
                }
                if st.zero_exit != 0 {
                    return Ok(0);
                }
                if st.tail_pending == 0 {
                    return Ok(r0);
                }
                entry = self
                    .entry_of(st.tail_target())
                    .ok_or(Trap::InvalidInstruction)?;
                st.tail_pending = 0;
                st.stop = 0;
                st.depth = 0;
                st.tail_calls += 1;
                st.regs[1] = r1;
                st.fp = r10;
            }
        })
    }
}

/// A trap code written by a routine or the code, back to a [`nanobpf_core::Trap`].
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
pub(crate) fn trap_of(code: u32) -> nanobpf_core::Trap {
    use nanobpf_core::Trap;
    match code {
        1 => Trap::BudgetExhausted,
        2 => Trap::OutOfBounds,
        3 => Trap::UnknownHelper,
        4 => Trap::CallDepth,
        6 => Trap::HelperFailed,
        7 => Trap::Misaligned,
        8 => Trap::WrongContext,
        9 => Trap::UnresolvedMap,
        _ => Trap::InvalidInstruction,
    }
}
