//! The engines under test, each wrapped to run one program on a memory buffer with r1 = the
//! buffer and r2 = its length, and [`Runner`], which holds one program ready on all of them.

use crate::code::Code;
use crate::flows::{self, map_table};
use crate::timing::{measure, Measurement, Timing};
use crate::{run_native, Bench};
use nanobpf_core::HelperTable;
use nanobpf_core::MapTable;
use nanobpf_core::{
    helpers, Context, Insn, Interpreter, NoPlatform, Program, ProgramType, Runtime, Stack, Trap,
    VerifiedProgram,
};
use nanobpf_core::{verify, VerifierWorkspace, VerifyTarget};
use std::sync::Mutex;

#[cfg(all(target_arch = "x86_64", not(windows)))]
pub use crate::rbpf_jit::RbpfJit;

/// A column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The C compiled natively with clang `-O2`.
    Native,
    /// nanobpf's interpreter on a verified program: no run-time checks.
    Nanobpf,
    /// nanobpf's x86-64 JIT on the same verified program.
    NanobpfJit,
    /// nanobpf's interpreter on a decoded [`Program`], every memory access checked.
    NanobpfChecked,
    /// rbpf's interpreter (`EbpfVmRaw`), which checks every memory access.
    RbpfInterp,
    /// rbpf's x86-64 JIT.
    RbpfJit,
}

impl Engine {
    /// Every column, in table order, whether this build can run it or not.
    pub const ALL: &'static [Engine] = &[
        Engine::Native,
        Engine::Nanobpf,
        Engine::NanobpfJit,
        Engine::NanobpfChecked,
        Engine::RbpfInterp,
        Engine::RbpfJit,
    ];

    /// The columns this build can run, in table order.
    pub fn available() -> &'static [Engine] {
        if cfg!(all(target_arch = "x86_64", not(windows))) {
            Engine::ALL
        } else {
            &[
                Engine::Native,
                Engine::Nanobpf,
                Engine::NanobpfChecked,
                Engine::RbpfInterp,
            ]
        }
    }

    /// The column header.
    pub const fn label(self) -> &'static str {
        match self {
            Engine::Native => "native",
            Engine::Nanobpf => "nanobpf",
            Engine::NanobpfJit => "nanobpf JIT",
            Engine::NanobpfChecked => "nanobpf checked",
            Engine::RbpfInterp => "rbpf interp",
            Engine::RbpfJit => "rbpf JIT",
        }
    }
}

/// The verifier's budget for the benchmarks: the xorshift loop runs 10^6 rounds, which the
/// verifier explores in full (about 12 million instructions), far past Linux's default.
pub const BENCH_VERIFY_BUDGET: u32 = 40_000_000;

/// A host-sized verifier workspace: the state machine's loop over 1,500 bytes keeps more
/// branches pending than the device-sized default holds. A `static`, so it never sits on a
/// stack (about 5 MiB).
static WORKSPACE: Mutex<VerifierWorkspace<4096, 4096, 65536>> =
    Mutex::new(VerifierWorkspace::new());

/// What nanobpf's `engine` runs `code` with: the standard helpers and `engine`'s flow map for
/// a program with maps, no helpers and no maps otherwise.
fn runtime(code: &Code, engine: Engine) -> Runtime<'static> {
    if code.has_maps() {
        Runtime::new(helpers::standard(), &NoPlatform).with_maps(map_table(engine))
    } else {
        Runtime::new(HelperTable::new(&[]), &NoPlatform).with_maps(MapTable::EMPTY)
    }
}

/// nanobpf's interpreter on a verified program, through [`Interpreter::run`].
#[derive(Debug)]
pub struct NanobpfVerified {
    program: VerifiedProgram<'static>,
    interp: Interpreter<'static>,
    stack: Box<Stack>,
}

impl NanobpfVerified {
    /// Decodes and verifies `code` as a memory program over `len` bytes (with its maps and the
    /// standard helpers if it has maps); runs use the interpreter's flow map.
    ///
    /// # Errors
    /// The decoder's or the verifier's error, as text.
    pub fn new(code: &Code, len: usize) -> Result<Self, String> {
        let bytecode = code.bytes;
        let buf: &'static mut [Insn] =
            Box::leak(vec![Insn::default(); bytecode.len() / Insn::SIZE].into_boxed_slice());
        let insns = nanobpf_core::Program::from_bytes(bytecode, buf)
            .map_err(|e| e.to_string())?
            .insns();
        let insns: &'static mut [Insn] = Box::leak(insns.to_vec().into_boxed_slice());
        let len = u32::try_from(len).map_err(|_| "input too large".to_string())?;
        let rt = runtime(code, Engine::Nanobpf);
        let mut env = VerifyTarget::new(ProgramType::Memory { len }, rt.helpers(), rt.maps());
        env.budget = BENCH_VERIFY_BUDGET;
        let mut ws = WORKSPACE
            .lock()
            .map_err(|_| "workspace poisoned".to_string())?;
        let program = verify(insns, &env, &mut ws).map_err(|e| e.to_string())?;
        Ok(NanobpfVerified {
            program,
            interp: Interpreter::with_runtime(rt),
            stack: Box::new(Stack::new()),
        })
    }

    /// Runs on `buf`.
    ///
    /// # Errors
    /// The run's trap.
    #[inline]
    pub fn run(&mut self, buf: &mut [u8]) -> Result<u64, Trap> {
        self.interp
            .run(&self.program, &mut Context::Memory(buf), &mut self.stack)
    }
}

/// The program `verified` holds, bound to the maps of `rt` (the JIT's own flow map, of the
/// same shape as the interpreter's).
#[cfg(target_arch = "x86_64")]
fn jit_program(
    verified: &NanobpfVerified,
    rt: &Runtime<'static>,
) -> Result<VerifiedProgram<'static>, String> {
    verified
        .program
        .rebind(rt.maps())
        .ok_or_else(|| "the JIT's maps differ from the interpreter's".to_string())
}

/// nanobpf's JIT on a verified program.
#[cfg(target_arch = "x86_64")]
pub struct NanobpfJit {
    code: nanobpf_jit_x86::JitProgram<'static>,
    stack: Box<Stack>,
}

#[cfg(target_arch = "x86_64")]
impl std::fmt::Debug for NanobpfJit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NanobpfJit")
            .field("code_len", &self.code.code_len())
            .finish()
    }
}

#[cfg(target_arch = "x86_64")]
impl NanobpfJit {
    /// Compiles the program `verified` holds (`code`, verified); runs use the JIT's flow map.
    ///
    /// # Errors
    /// The JIT's error, as text.
    pub fn new(verified: &NanobpfVerified, code: &Code) -> Result<Self, String> {
        let rt = runtime(code, Engine::NanobpfJit);
        let opts = nanobpf_jit_x86::JitOptions::default();
        let program = jit_program(verified, &rt)?;
        let code = nanobpf_jit_x86::compile(&program, &rt, &opts).map_err(|e| e.to_string())?;
        Ok(NanobpfJit {
            code,
            stack: Box::new(Stack::new()),
        })
    }

    /// Runs on `buf`.
    ///
    /// # Errors
    /// The run's trap.
    #[inline]
    pub fn run(&mut self, buf: &mut [u8]) -> Result<u64, Trap> {
        self.code.run(&mut Context::Memory(buf), &mut self.stack)
    }

    /// The time of one compilation of the program `verified` holds (decode-back check and
    /// executable mapping included), and its number of slots and code bytes.
    ///
    /// # Errors
    /// The JIT's error, as text.
    pub fn compile_time(
        verified: &NanobpfVerified,
        code: &Code,
        timing: &Timing,
    ) -> Result<CompileTime, String> {
        let rt = runtime(code, Engine::NanobpfJit);
        let opts = nanobpf_jit_x86::JitOptions::default();
        let program = jit_program(verified, &rt)?;
        let once = || nanobpf_jit_x86::compile(&program, &rt, &opts);
        let bytes = once().map_err(|e| e.to_string())?.code_len();
        let m = measure(timing, || once().map_or(0, |p| p.code_len() as u64));
        Ok(CompileTime {
            slots: verified.program.insns().len(),
            bytes,
            ns: m.ns_per_run,
        })
    }
}

/// What one JIT compilation costs, from [`NanobpfJit::compile_time`].
#[derive(Clone, Copy, Debug)]
pub struct CompileTime {
    /// BPF slots compiled.
    pub slots: usize,
    /// Machine code bytes produced.
    pub bytes: usize,
    /// ns per compilation.
    pub ns: f64,
}

/// nanobpf's interpreter on a decoded program, through [`Interpreter::run_checked`].
#[derive(Debug)]
pub struct NanobpfChecked {
    program: Program<'static>,
    interp: Interpreter<'static>,
    stack: Box<Stack>,
    has_maps: bool,
}

impl NanobpfChecked {
    /// Decodes `code`; runs use the checked interpreter's flow map.
    ///
    /// # Errors
    /// The decoder's error, as text.
    pub fn new(code: &Code) -> Result<Self, String> {
        let bytecode = code.bytes;
        // The instructions live as long as the process: a benchmark makes a handful.
        let buf: &'static mut [Insn] =
            Box::leak(vec![Insn::default(); bytecode.len() / Insn::SIZE].into_boxed_slice());
        let program = Program::from_bytes(bytecode, buf).map_err(|e| e.to_string())?;
        Ok(NanobpfChecked {
            program,
            interp: Interpreter::with_runtime(runtime(code, Engine::NanobpfChecked)),
            stack: Box::new(Stack::new()),
            has_maps: code.has_maps(),
        })
    }

    /// The decoded program.
    pub fn program(&self) -> &Program<'static> {
        &self.program
    }

    /// Runs on `buf`.
    ///
    /// # Errors
    /// The run's trap.
    #[inline]
    pub fn run(&mut self, buf: &mut [u8]) -> Result<u64, Trap> {
        self.interp
            .run_checked(&self.program, &mut Context::Memory(buf), &mut self.stack)
    }

    /// Runs on `buf` with an instruction budget.
    ///
    /// # Errors
    /// The run's trap ([`Trap::BudgetExhausted`] when the budget is too small).
    pub fn run_with_budget(&mut self, buf: &mut [u8], budget: u64) -> Result<u64, Trap> {
        self.interp.with_budget(budget).run_checked(
            &self.program,
            &mut Context::Memory(buf),
            &mut self.stack,
        )
    }
}

/// The exact number of instructions a run of `engine` on `buf` executes: the smallest budget
/// with which the run does not trap with [`Trap::BudgetExhausted`], found by bisection.
///
/// For a program with maps, the count of a run in the steady state: each trial starts after a
/// complete run, which undoes what a run cut short left in the map (the maps program's state
/// after a complete run does not depend on the state before, see [`crate::flow_batch`]).
///
/// # Errors
/// The run's trap if it traps for another reason.
pub fn count_insns(engine: &mut NanobpfChecked, buf: &mut [u8]) -> Result<u64, Trap> {
    engine.run(buf)?;
    let fits = |e: &mut NanobpfChecked, buf: &mut [u8], n| {
        if e.has_maps {
            e.run(buf)?;
        }
        match e.run_with_budget(buf, n) {
            Ok(_) => Ok(true),
            Err(Trap::BudgetExhausted) => Ok(false),
            Err(t) => Err(t),
        }
    };
    // Invariant: `lo` does not fit, `hi` does.
    let mut hi = 1u64;
    while !fits(engine, buf, hi)? {
        hi *= 2;
    }
    let mut lo = hi / 2;
    if lo == 0 {
        return Ok(hi);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(engine, buf, mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// `mov r2, len`: rbpf sets only r1 (to the buffer) on entry, so its copy of each program
/// starts with this one instruction to give r2 the buffer length, as nanobpf does.
pub(crate) fn rbpf_prologue(len: usize) -> Result<[u8; 8], String> {
    let len = i32::try_from(len).map_err(|_| format!("buffer of {len} bytes too long"))?;
    Ok(Insn::new(0xb7, 2, 0, 0, len).to_bytes())
}

/// The program as `engine` (rbpf's interpreter or JIT) runs it: [`rbpf_prologue`] then the
/// code, with each map reference replaced by `engine`'s map slot; kept for the process.
pub(crate) fn rbpf_program(
    code: &Code,
    len: usize,
    engine: Engine,
) -> Result<&'static [u8], String> {
    let mut prog = rbpf_prologue(len)?.to_vec();
    prog.extend_from_slice(code.bytes);
    flows::patch_map_references(&mut prog, engine);
    Ok(Box::leak(prog.into_boxed_slice()))
}

/// rbpf's VM for `code` on buffers of `len` bytes, with the map helpers and `engine`'s map
/// values (for a program with maps).
pub(crate) fn rbpf_vm(
    code: &Code,
    len: usize,
    engine: Engine,
) -> Result<rbpf::EbpfVmRaw<'static>, String> {
    let mut vm = rbpf::EbpfVmRaw::new(Some(rbpf_program(code, len, engine)?))
        .map_err(|e| format!("rbpf: {e}"))?;
    if code.has_maps() {
        flows::rbpf_setup(&mut vm, engine)?;
    }
    Ok(vm)
}

/// rbpf's interpreter, for buffers of one length (see `rbpf_prologue`).
pub struct RbpfInterp {
    vm: rbpf::EbpfVmRaw<'static>,
    len: usize,
}

impl core::fmt::Debug for RbpfInterp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RbpfInterp")
            .field("len", &self.len)
            .finish()
    }
}

impl RbpfInterp {
    /// Loads `code` (rbpf runs its own checks) for buffers of `len` bytes, using `engine`'s
    /// flow map if the program has maps.
    ///
    /// # Errors
    /// rbpf's error, as text.
    pub fn new(code: &Code, len: usize, engine: Engine) -> Result<Self, String> {
        let vm = rbpf_vm(code, len, engine)?;
        Ok(RbpfInterp { vm, len })
    }

    /// Runs on `buf`.
    ///
    /// # Errors
    /// rbpf's error, or a length other than the one the program was made for.
    #[inline]
    pub fn run(&self, buf: &mut [u8]) -> Result<u64, String> {
        if buf.len() != self.len {
            return Err(format!("rbpf program made for {} bytes", self.len));
        }
        self.vm
            .execute_program(buf)
            .map_err(|e| format!("rbpf: {e}"))
    }
}

/// One program on one input, ready on every engine.
#[derive(Debug)]
pub struct Runner {
    bench: Bench,
    /// The input, shared by every engine but the JIT (which keeps its own copy; see [`RbpfJit`]).
    pub buf: Vec<u8>,
    /// nanobpf, verified, or why the verifier rejects the program.
    pub verified: Result<NanobpfVerified, String>,
    /// nanobpf's JIT, or why it cannot run the program.
    #[cfg(target_arch = "x86_64")]
    pub jit_nanobpf: Result<NanobpfJit, String>,
    /// nanobpf, checked.
    pub checked: NanobpfChecked,
    /// rbpf's interpreter, or why it cannot run the program.
    pub rbpf: Result<RbpfInterp, String>,
    /// rbpf's JIT, or why it cannot run the program.
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    pub jit: Result<RbpfJit, String>,
}

impl Runner {
    /// Prepares `bench` on `buf` for every engine.
    ///
    /// # Errors
    /// When nanobpf cannot decode the program (a peer that cannot run it is recorded instead).
    pub fn new(bench: Bench, buf: Vec<u8>) -> Result<Self, String> {
        let code = Code::of(bench, buf.len())?;
        if code.has_maps() && buf.as_ptr() as usize % 4 != 0 {
            // `maps.c` reads its records as aligned 32-bit words, natively too.
            return Err("the flow records must be 4-byte aligned".into());
        }
        let verified = NanobpfVerified::new(&code, buf.len());
        let runner = Runner {
            bench,
            #[cfg(target_arch = "x86_64")]
            jit_nanobpf: verified
                .as_ref()
                .map_err(|e| e.clone())
                .and_then(|v| NanobpfJit::new(v, &code)),
            verified,
            checked: NanobpfChecked::new(&code)?,
            rbpf: RbpfInterp::new(&code, buf.len(), Engine::RbpfInterp),
            #[cfg(all(target_arch = "x86_64", not(windows)))]
            jit: RbpfJit::new(&code, &buf),
            buf,
        };
        runner.reset_maps();
        Ok(runner)
    }

    /// Empties every engine's flow map (a no-op for programs without maps), so that every
    /// engine starts again from the same state.
    pub fn reset_maps(&self) {
        if self.bench == Bench::Maps {
            flows::clear_all();
        }
    }

    /// The program.
    pub fn bench(&self) -> Bench {
        self.bench
    }

    /// One run on `engine`.
    ///
    /// # Errors
    /// The engine's trap or error, as text.
    pub fn run(&mut self, engine: Engine) -> Result<u64, String> {
        match engine {
            Engine::Native => Ok(run_native(self.bench, &self.buf)),
            Engine::Nanobpf => self
                .verified
                .as_mut()
                .map_err(|e| e.clone())?
                .run(&mut self.buf)
                .map_err(|t| t.to_string()),
            #[cfg(target_arch = "x86_64")]
            Engine::NanobpfJit => self
                .jit_nanobpf
                .as_mut()
                .map_err(|e| e.clone())?
                .run(&mut self.buf)
                .map_err(|t| t.to_string()),
            #[cfg(not(target_arch = "x86_64"))]
            Engine::NanobpfJit => Err("the JIT is x86-64 only".into()),
            Engine::NanobpfChecked => self.checked.run(&mut self.buf).map_err(|t| t.to_string()),
            Engine::RbpfInterp => self
                .rbpf
                .as_ref()
                .map_err(|e| e.clone())?
                .run(&mut self.buf),
            #[cfg(all(target_arch = "x86_64", not(windows)))]
            Engine::RbpfJit => Ok(self.jit.as_mut().map_err(|e| e.clone())?.run()),
            #[cfg(not(all(target_arch = "x86_64", not(windows))))]
            Engine::RbpfJit => Err("rbpf has no JIT for this target".into()),
        }
    }

    /// Times runs on `engine` (each engine in its own monomorphic loop).
    ///
    /// # Errors
    /// When the engine cannot run the program or a run fails.
    pub fn time(&mut self, engine: Engine, timing: &Timing) -> Result<Measurement, String> {
        self.run(engine)?;
        let bench = self.bench;
        let buf = &mut self.buf;
        Ok(match engine {
            Engine::Native => measure(timing, || run_native(bench, buf)),
            Engine::Nanobpf => {
                let e = self.verified.as_mut().map_err(|e| e.clone())?;
                measure(timing, || e.run(buf).unwrap_or(u64::MAX))
            }
            #[cfg(target_arch = "x86_64")]
            Engine::NanobpfJit => {
                let e = self.jit_nanobpf.as_mut().map_err(|e| e.clone())?;
                measure(timing, || e.run(buf).unwrap_or(u64::MAX))
            }
            #[cfg(not(target_arch = "x86_64"))]
            Engine::NanobpfJit => return Err("the JIT is x86-64 only".into()),
            Engine::NanobpfChecked => {
                let e = &mut self.checked;
                measure(timing, || e.run(buf).unwrap_or(u64::MAX))
            }
            Engine::RbpfInterp => {
                let e = self.rbpf.as_ref().map_err(|e| e.clone())?;
                measure(timing, || e.run(buf).unwrap_or(u64::MAX))
            }
            #[cfg(all(target_arch = "x86_64", not(windows)))]
            Engine::RbpfJit => {
                let e = self.jit.as_mut().map_err(|e| e.clone())?;
                measure(timing, || e.run())
            }
            #[cfg(not(all(target_arch = "x86_64", not(windows))))]
            Engine::RbpfJit => return Err("rbpf has no JIT for this target".into()),
        })
    }
}
