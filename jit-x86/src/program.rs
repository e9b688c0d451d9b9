//! Compiling verified programs and running the result.

use crate::check::check;
use crate::emit::{assemble, Assembled};
use crate::error::JitError;
use crate::native::{
    call_code, trampoline_address, trap_of, Code, EntryRegs, ExecRegion, JitState,
};
use crate::options::JitOptions;
use alloc::vec::Vec;
use nanobpf_core::engine::{self, ActiveRun};
use nanobpf_core::MapTable;
use nanobpf_core::{Context, Insn, ProgramType, Runtime, Stack, Trap, VerifiedProgram};

/// A compiled program: native code for it and for every program its tail calls may reach.
///
/// It holds what it was compiled against: the verified program (so its helpers and maps, whose
/// addresses the code holds) and the runtime (its tail-call table and budget), and runs with
/// those only.
///
/// Tail calls: [`compile`] also compiles each program of the runtime's tail-call table bound
/// like the entry program ([`VerifiedProgram::same_binding`]); a successful `bpf_tail_call`
/// returns from the native code to [`JitProgram::run`], which then enters the target's code
/// with the same context, stack and budget (at most 33 times, as Linux).
#[derive(Debug)]
pub struct JitProgram<'r> {
    code: Code<'r>,
    /// The program compiled, for its helpers and maps; `None` on the crate's test path of
    /// unverified instructions, which runs checked-style with the runtime's tables.
    program: Option<VerifiedProgram<'r>>,
    rt: Runtime<'r>,
    len: usize,
    /// Entry offset of the entry program (the first of `entries`).
    entry: usize,
    /// For each compiled program: its instructions (address, length) and its entry offset.
    entries: Vec<((usize, usize), usize)>,
    prog_type: ProgramType,
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
pub fn compile<'a>(
    program: &VerifiedProgram<'a>,
    rt: &Runtime<'a>,
    opts: &JitOptions,
) -> Result<JitProgram<'a>, JitError> {
    compile_raw(
        program.insns(),
        program.prog_type(),
        Some(*program),
        rt,
        opts,
    )
}

/// Compiles `program` (and the programs of `rt`'s tail-call table) into `region`, memory the
/// embedder made executable. The code is checked in the region before it is returned.
///
/// # Errors
/// As [`compile`], and [`JitErrorKind::RegionTooSmall`](crate::JitErrorKind::RegionTooSmall).
pub fn compile_into<'r>(
    program: &VerifiedProgram<'r>,
    rt: &Runtime<'r>,
    opts: &JitOptions,
    region: ExecRegion<'r>,
) -> Result<JitProgram<'r>, JitError> {
    let (asm, entries) = assemble_all(program.insns(), Some(program), rt, opts)?;
    let code = Code::in_region(region, &asm.bytes).map_err(|k| JitError::at(0, k))?;
    finish(code, asm, entries, program.prog_type(), Some(*program), rt)
}

/// The slices of the entry program and of every tail-call target, assembled together.
type Entries = Vec<(usize, usize)>;

/// `program` is `None` on the test path of unverified instructions, whose maps are the
/// runtime's.
fn assemble_all(
    insns: &[Insn],
    program: Option<&VerifiedProgram<'_>>,
    rt: &Runtime<'_>,
    opts: &JitOptions,
) -> Result<(Assembled, Entries), JitError> {
    let mut programs: Vec<&[Insn]> = Vec::new();
    programs.push(insns);
    let mut i = 0u32;
    while let Some(p) = rt.program(i) {
        // A tail call reaches only programs bound like the entry program.
        if program.is_none_or(|entry| entry.same_binding(p)) {
            programs.push(p.insns());
        }
        i += 1;
    }
    let maps: MapTable<'_> = program.map_or(rt.maps(), |p| p.maps());
    let metered = rt.budget().is_some();
    let asm = assemble(&programs, &maps, opts, metered, program.is_some())?;
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
    program: Option<VerifiedProgram<'r>>,
    rt: &Runtime<'r>,
) -> Result<JitProgram<'r>, JitError> {
    let len = asm.bytes.len();
    check(code.bytes(len), &asm.emitted, &[trampoline_address()])?;
    Ok(JitProgram {
        code,
        len,
        entry: asm.entries.first().copied().unwrap_or(0),
        entries: keys.into_iter().zip(asm.entries).collect(),
        prog_type,
        program,
        rt: *rt,
        calls_helpers: asm.calls_helpers,
    })
}

/// Compiles instructions that have not been through the verifier: the crate's test path.
#[cfg(all(feature = "std", test))]
pub(crate) fn compile_insns<'a>(
    insns: &[Insn],
    prog_type: ProgramType,
    rt: &Runtime<'a>,
    opts: &JitOptions,
) -> Result<JitProgram<'a>, JitError> {
    compile_raw(insns, prog_type, None, rt, opts)
}

/// Compiles instructions into mapped pages; `program` is the verified program they are the
/// instructions of, or `None` for instructions that have not passed the verifier (tests).
#[cfg(feature = "std")]
fn compile_raw<'a>(
    insns: &[Insn],
    prog_type: ProgramType,
    program: Option<VerifiedProgram<'a>>,
    rt: &Runtime<'a>,
    opts: &JitOptions,
) -> Result<JitProgram<'a>, JitError> {
    let (asm, entries) = assemble_all(insns, program.as_ref(), rt, opts)?;
    let code = Code::mapped(&asm.bytes).map_err(|k| JitError::at(0, k))?;
    let mut p = finish(code, asm, entries, prog_type, program, rt)?;
    p.code.seal().map_err(|k| JitError::at(0, k))?;
    debug_assert!(p.code.is_sealed());
    Ok(p)
}

impl JitProgram<'_> {
    /// Runs the program on `ctx` with `stack`, with the helpers, maps and runtime it was
    /// compiled with.
    ///
    /// # Errors
    /// [`Trap::WrongContext`] when `ctx` does not fit the program type, and the traps of the
    /// interpreter: [`Trap::BudgetExhausted`], [`Trap::CallDepth`], [`Trap::UnknownHelper`],
    /// [`Trap::Misaligned`], and whatever a helper reports.
    // Inlined: where the caller builds the context, the match on its kind folds away.
    #[inline]
    pub fn run(&self, ctx: &mut Context<'_>, stack: &mut Stack) -> Result<u64, Trap> {
        engine::check_context(self.prog_type, ctx)?;
        let budget = self.rt.budget().unwrap_or(u64::MAX);
        // Inlined with `engine::enter`, so that the JIT's state is built from values in
        // registers: built from the `ActiveRun` just stored, its fields were read back by wide loads
        // spanning several narrow stores, which cannot be forwarded (about 3 ns a call). Code
        // that calls no helper gets a state without the `ActiveRun`, which then never leaves
        // registers and is not stored at all.
        if self.calls_helpers {
            self.enter(
                ctx,
                stack,
                #[inline(always)]
                |run| {
                    let (state, regs) = JitState::new(run, budget);
                    self.enter_code(state, regs)
                },
            )
        } else {
            self.enter(
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

    /// Enters the runtime with the compiled program's binding.
    #[inline(always)]
    fn enter<R>(
        &self,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
        f: impl FnOnce(&mut ActiveRun<'_, '_>) -> R,
    ) -> R {
        match &self.program {
            Some(p) => engine::enter_verified(&self.rt, p, ctx, stack, f),
            None => engine::enter(&self.rt, ctx, stack, f),
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
