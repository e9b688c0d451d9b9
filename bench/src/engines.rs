//! The engines under test, each wrapped to run one program on a memory buffer with r1 = the
//! buffer and r2 = its length, and [`Runner`], which holds one program ready on all of them.

use crate::timing::{measure, Measurement, Timing};
use crate::{run_native, Bench};
use nanobpf_core::env::HelperTable;
use nanobpf_core::verifier::{verify, VerifierWorkspace, VerifyEnv};
use nanobpf_core::{
    Context, Insn, Interpreter, NoPlatform, Program, ProgramType, Stack, Trap, VerifiedProgram,
};
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
    /// The columns this build can run, in table order.
    pub fn available() -> &'static [Engine] {
        if cfg!(all(target_arch = "x86_64", not(windows))) {
            &[
                Engine::Native,
                Engine::Nanobpf,
                Engine::NanobpfJit,
                Engine::NanobpfChecked,
                Engine::RbpfInterp,
                Engine::RbpfJit,
            ]
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

/// nanobpf's interpreter on a verified program, through [`Interpreter::run`].
#[derive(Debug)]
pub struct NanobpfVerified {
    program: VerifiedProgram<'static>,
    interp: Interpreter<'static>,
    stack: Box<Stack>,
}

impl NanobpfVerified {
    /// Decodes and verifies `bytecode` as a memory program over `len` bytes.
    ///
    /// # Errors
    /// The decoder's or the verifier's error, as text.
    pub fn new(bytecode: &[u8], len: usize) -> Result<Self, String> {
        let buf: &'static mut [Insn] =
            Box::leak(vec![Insn::default(); bytecode.len() / Insn::SIZE].into_boxed_slice());
        let insns = nanobpf_core::isa::decode_slots(bytecode, buf).map_err(|e| e.to_string())?;
        let insns: &'static mut [Insn] = Box::leak(insns.to_vec().into_boxed_slice());
        let len = u32::try_from(len).map_err(|_| "input too large".to_string())?;
        let mut env = VerifyEnv::new(ProgramType::Memory { len }, HelperTable::new(&[]), &[]);
        env.budget = BENCH_VERIFY_BUDGET;
        let mut ws = WORKSPACE
            .lock()
            .map_err(|_| "workspace poisoned".to_string())?;
        let program = verify(insns, &env, &mut ws).map_err(|e| e.to_string())?;
        Ok(NanobpfVerified {
            program,
            interp: Interpreter::new(HelperTable::new(&[]), &NoPlatform),
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

/// nanobpf's JIT on a verified program.
#[cfg(target_arch = "x86_64")]
pub struct NanobpfJit {
    code: nanobpf_jit_x86::JitProgram<'static>,
    rt: nanobpf_core::Runtime<'static>,
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
    /// Compiles the program `verified` holds.
    ///
    /// # Errors
    /// The JIT's error, as text.
    pub fn new(verified: &NanobpfVerified) -> Result<Self, String> {
        let rt = nanobpf_core::Runtime::new(HelperTable::new(&[]), &NoPlatform);
        let opts = nanobpf_jit_x86::JitOptions::default();
        let code =
            nanobpf_jit_x86::compile(&verified.program, &rt, &opts).map_err(|e| e.to_string())?;
        Ok(NanobpfJit {
            code,
            rt,
            stack: Box::new(Stack::new()),
        })
    }

    /// Runs on `buf`.
    ///
    /// # Errors
    /// The run's trap.
    #[inline]
    pub fn run(&mut self, buf: &mut [u8]) -> Result<u64, Trap> {
        self.code
            .run(&self.rt, &mut Context::Memory(buf), &mut self.stack)
    }
}

/// nanobpf's interpreter on a decoded program, through [`Interpreter::run_checked`].
#[derive(Debug)]
pub struct NanobpfChecked {
    program: Program<'static>,
    interp: Interpreter<'static>,
    stack: Box<Stack>,
}

impl NanobpfChecked {
    /// Decodes `bytecode`.
    ///
    /// # Errors
    /// The decoder's error, as text.
    pub fn new(bytecode: &[u8]) -> Result<Self, String> {
        // The instructions live as long as the process: a benchmark makes a handful.
        let buf: &'static mut [Insn] =
            Box::leak(vec![Insn::default(); bytecode.len() / Insn::SIZE].into_boxed_slice());
        let program = Program::from_bytes(bytecode, buf).map_err(|e| e.to_string())?;
        Ok(NanobpfChecked {
            program,
            interp: Interpreter::new(HelperTable::new(&[]), &NoPlatform),
            stack: Box::new(Stack::new()),
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
/// # Errors
/// The run's trap if it traps for another reason.
pub fn count_insns(engine: &mut NanobpfChecked, buf: &mut [u8]) -> Result<u64, Trap> {
    engine.run(buf)?;
    let fits = |e: &mut NanobpfChecked, buf: &mut [u8], n| match e.run_with_budget(buf, n) {
        Ok(_) => Ok(true),
        Err(Trap::BudgetExhausted) => Ok(false),
        Err(t) => Err(t),
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

/// The program as rbpf runs it: [`rbpf_prologue`] then `bytecode`, kept for the process.
pub(crate) fn rbpf_program(bytecode: &[u8], len: usize) -> Result<&'static [u8], String> {
    let mut prog = rbpf_prologue(len)?.to_vec();
    prog.extend_from_slice(bytecode);
    Ok(Box::leak(prog.into_boxed_slice()))
}

/// rbpf's interpreter, for buffers of one length (see [`rbpf_prologue`]).
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
    /// Loads `bytecode` (rbpf runs its own checks) for buffers of `len` bytes.
    ///
    /// # Errors
    /// rbpf's error, as text.
    pub fn new(bytecode: &[u8], len: usize) -> Result<Self, String> {
        let vm = rbpf::EbpfVmRaw::new(Some(rbpf_program(bytecode, len)?))
            .map_err(|e| format!("rbpf: {e}"))?;
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
        let code = bench.bytecode();
        let verified = NanobpfVerified::new(code, buf.len());
        Ok(Runner {
            bench,
            #[cfg(target_arch = "x86_64")]
            jit_nanobpf: verified
                .as_ref()
                .map_err(|e| e.clone())
                .and_then(NanobpfJit::new),
            verified,
            checked: NanobpfChecked::new(code)?,
            rbpf: RbpfInterp::new(code, buf.len()),
            #[cfg(all(target_arch = "x86_64", not(windows)))]
            jit: RbpfJit::new(code, &buf),
            buf,
        })
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
