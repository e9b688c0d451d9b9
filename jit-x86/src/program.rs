//! Compiling verified programs and running the result.

use crate::check::check;
use crate::emit::{assemble, Assembled};
use crate::error::JitError;
use crate::native::{
    call_code, trampoline_address, trap_of, Code, EntryRegs, ExecRegion, JitState,
};
use crate::options::JitOptions;
use alloc::vec::Vec;
use nanobpf_core::{Context, Insn, ProgramType, Runtime, Stack, Trap, VerifiedProgram};

/// A compiled program: native code for it and for every program its tail calls may reach.
///
/// Tail calls: [`compile`] also compiles each program of the runtime's tail-call table; a
/// successful `bpf_tail_call` returns from the native code to [`JitProgram::run`], which then
/// enters the target's code with the same context, stack and budget (at most 33 times, as
/// Linux). Run it with the runtime it was compiled with (same maps, same tail-call table; the
/// budget may differ but must be set if and only if it was set at compile time).
#[derive(Debug)]
pub struct JitProgram<'r> {
    code: Code<'r>,
    len: usize,
    /// Entry offset of the entry program (the first of `entries`).
    entry: usize,
    /// For each compiled program: its instructions (address, length) and its entry offset.
    entries: Vec<((usize, usize), usize)>,
    prog_type: ProgramType,
    metered: bool,
    /// Whether any compiled program calls a helper (tail calls included).
    calls_helpers: bool,
}

/// Compiles `program` (and the programs of `rt`'s tail-call table) into executable memory
/// mapped from the operating system.
///
/// The code is decoded back and checked (see the crate documentation) while the pages are
/// still read+write, then the pages become read+execute; they are never both writable and
/// executable.
///
/// # Errors
/// A [`JitError`]: an instruction that cannot be translated, an unresolved map, a failed code
/// check, or a failed mapping.
#[cfg(feature = "std")]
pub fn compile(
    program: &VerifiedProgram<'_>,
    rt: &Runtime<'_>,
    opts: &JitOptions,
) -> Result<JitProgram<'static>, JitError> {
    compile_raw(program.insns(), program.prog_type(), rt, opts, true)
}

/// Compiles `program` (and the programs of `rt`'s tail-call table) into `region`, memory the
/// embedder made executable. The code is checked in the region before it is returned.
///
/// # Errors
/// As [`compile`], and [`JitErrorKind::RegionTooSmall`].
pub fn compile_into<'r>(
    program: &VerifiedProgram<'_>,
    rt: &Runtime<'_>,
    opts: &JitOptions,
    region: ExecRegion<'r>,
) -> Result<JitProgram<'r>, JitError> {
    let (asm, entries) = assemble_all(program.insns(), rt, opts, true)?;
    let code = Code::in_region(region, &asm.bytes).map_err(|k| JitError::at(0, k))?;
    finish(code, asm, entries, program.prog_type(), rt)
}

/// The slices of the entry program and of every tail-call target, assembled together.
type Entries = Vec<(usize, usize)>;

fn assemble_all(
    insns: &[Insn],
    rt: &Runtime<'_>,
    opts: &JitOptions,
    verified: bool,
) -> Result<(Assembled, Entries), JitError> {
    let mut programs: Vec<&[Insn]> = Vec::new();
    programs.push(insns);
    let mut i = 0u32;
    while let Some(p) = rt.program(i) {
        programs.push(p.insns());
        i += 1;
    }
    let asm = assemble(&programs, rt, opts, verified)?;
    let keys = programs
        .iter()
        .map(|p| (p.as_ptr() as usize, p.len()))
        .collect();
    Ok((asm, keys))
}

fn finish<'r>(
    code: Code<'r>,
    asm: Assembled,
    keys: Entries,
    prog_type: ProgramType,
    rt: &Runtime<'_>,
) -> Result<JitProgram<'r>, JitError> {
    let len = asm.bytes.len();
    check(code.bytes(len), &asm.emitted, &[trampoline_address()])?;
    Ok(JitProgram {
        code,
        len,
        entry: asm.entries.first().copied().unwrap_or(0),
        entries: keys.into_iter().zip(asm.entries).collect(),
        prog_type,
        metered: rt.budget().is_some(),
        calls_helpers: asm.calls_helpers,
    })
}

/// Compiles instructions that have not been through the verifier: the crate's test path.
#[cfg(all(feature = "std", test))]
pub(crate) fn compile_insns(
    insns: &[Insn],
    prog_type: ProgramType,
    rt: &Runtime<'_>,
    opts: &JitOptions,
) -> Result<JitProgram<'static>, JitError> {
    compile_raw(insns, prog_type, rt, opts, false)
}

/// Compiles instructions into mapped pages; `verified` says whether they passed the verifier.
#[cfg(feature = "std")]
fn compile_raw(
    insns: &[Insn],
    prog_type: ProgramType,
    rt: &Runtime<'_>,
    opts: &JitOptions,
    verified: bool,
) -> Result<JitProgram<'static>, JitError> {
    let (asm, entries) = assemble_all(insns, rt, opts, verified)?;
    let code = Code::mapped(&asm.bytes).map_err(|k| JitError::at(0, k))?;
    let mut p = finish(code, asm, entries, prog_type, rt)?;
    p.code.seal().map_err(|k| JitError::at(0, k))?;
    debug_assert!(p.code.is_sealed());
    Ok(p)
}

impl JitProgram<'_> {
    /// Runs the program on `ctx` with `stack`, under `rt` (the runtime it was compiled with).
    ///
    /// # Errors
    /// [`Trap::WrongContext`] when `ctx` does not fit the program type, and the traps of the
    /// interpreter: [`Trap::BudgetExhausted`], [`Trap::CallDepth`], [`Trap::UnknownHelper`],
    /// [`Trap::Misaligned`], and whatever a helper reports.
    // Inlined: where the caller builds the context, the match on its kind folds away.
    #[inline]
    pub fn run(
        &self,
        rt: &Runtime<'_>,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
    ) -> Result<u64, Trap> {
        Runtime::check_context(self.prog_type, ctx)?;
        let budget = if self.metered {
            rt.budget().unwrap_or(u64::MAX)
        } else {
            u64::MAX
        };
        // Inlined with `Runtime::enter`, so that the JIT's state is built from values in
        // registers: built from the `Run` just stored, its fields were read back by wide loads
        // spanning several narrow stores, which cannot be forwarded (about 3 ns a call). Code
        // that calls no helper gets a state without the `Run`, which then never leaves
        // registers and is not stored at all.
        if self.calls_helpers {
            rt.enter(
                ctx,
                stack,
                #[inline(always)]
                |run| {
                    let (state, regs) = JitState::new(run, budget);
                    self.enter_code(state, regs)
                },
            )
        } else {
            rt.enter(
                ctx,
                stack,
                #[inline(always)]
                |run| {
                    let (state, regs) = JitState::detached(run, budget);
                    self.enter_code(state, regs)
                },
            )
        }
    }

    /// Runs the entry program's code, then the code of each tail call it takes.
    #[inline(always)]
    fn enter_code(&self, mut state: JitState, regs: EntryRegs) -> Result<u64, Trap> {
        let mut entry = self.entry;
        loop {
            let r0 = call_code(&self.code, entry, &mut state, regs);
            if state.trap != 0 {
                return Err(trap_of(state.trap));
            }
            if state.tail_pending == 0 {
                return Ok(r0);
            }
            let target = state.tail_target();
            state.tail_pending = 0;
            state.tail_calls += 1;
            entry = self
                .entries
                .iter()
                .find(|e| e.0 == target)
                .ok_or(Trap::InvalidInstruction)?
                .1;
        }
    }

    /// Size of the machine code in bytes.
    pub fn code_len(&self) -> usize {
        self.len
    }

    /// The machine code, for inspection and disassembly.
    pub fn code(&self) -> &[u8] {
        self.code.bytes(self.len)
    }

    /// The program type it was compiled for.
    pub fn prog_type(&self) -> ProgramType {
        self.prog_type
    }
}
