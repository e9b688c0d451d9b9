//! Engines behind one trait, so that every test vector runs on each of them.

use nanobpf_core::AsmError;
use nanobpf_core::{verify, DefaultWorkspace, VerifyError, VerifyTarget};
use nanobpf_core::{
    Context, DecodeError, Insn, Interpreter, NoPlatform, Program, ProgramType, Stack, Trap,
};

/// Why a program did not produce a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The text did not assemble.
    Asm(AsmError),
    /// The slots did not decode.
    Decode(DecodeError),
    /// The verifier rejected the program.
    Verify(VerifyError),
    /// The JIT could not compile the verified program.
    #[cfg(target_arch = "x86_64")]
    Jit(nanobpf_jit_x86::JitError),
    /// The run trapped.
    Trap(Trap),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Asm(e) => write!(f, "assembly error: {e}"),
            Rejection::Decode(e) => write!(f, "invalid program: {e}"),
            Rejection::Verify(e) => write!(f, "rejected: {e}"),
            #[cfg(target_arch = "x86_64")]
            Rejection::Jit(e) => write!(f, "JIT: {e}"),
            Rejection::Trap(t) => write!(f, "trap: {t}"),
        }
    }
}

/// An execution engine for programs of the memory type (r1 = buffer, r2 = length).
pub trait Engine {
    /// The name used on the command line (`--engine NAME`).
    fn name(&self) -> &'static str;

    /// Loads, checks and runs `insns` over `mem`, returning r0.
    ///
    /// # Errors
    /// Whatever stops the program from producing a value.
    fn execute(&mut self, insns: &mut [Insn], mem: &mut [u8]) -> Result<u64, Rejection>;
}

/// Verifies `insns` as a memory program over `mem_len` bytes with the standard helpers.
///
/// # Errors
/// The verifier's rejection.
pub fn verify_memory_program<'a>(
    insns: &'a mut [Insn],
    mem_len: usize,
    ws: &mut DefaultWorkspace,
) -> Result<nanobpf_core::VerifiedProgram<'a>, Rejection> {
    let len = u32::try_from(mem_len).unwrap_or(u32::MAX);
    let env = VerifyTarget::new(
        ProgramType::Memory { len },
        nanobpf_core::helpers::standard(),
        nanobpf_core::MapTable::EMPTY,
    );
    verify(insns, &env, ws).map_err(|e| match e.kind {
        nanobpf_core::VerifyErrorKind::Decode(kind) => {
            Rejection::Decode(DecodeError { pc: e.pc, kind })
        }
        _ => Rejection::Verify(e),
    })
}

/// The interpreter: verify, then run without run-time checks.
#[derive(Debug)]
pub struct InterpEngine {
    stack: Box<Stack>,
    ws: Box<DefaultWorkspace>,
}

impl Default for InterpEngine {
    fn default() -> Self {
        InterpEngine {
            stack: Box::default(),
            ws: Box::new(DefaultWorkspace::new()),
        }
    }
}

impl Engine for InterpEngine {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn execute(&mut self, insns: &mut [Insn], mem: &mut [u8]) -> Result<u64, Rejection> {
        let program = verify_memory_program(insns, mem.len(), &mut self.ws)?;
        // The standard helpers: `call 5` in the suite is `bpf_ktime_get_ns` in Linux's
        // numbering, and `call_unwind_fail.data` only needs it to return.
        let vm = Interpreter::new(nanobpf_core::helpers::standard(), &NoPlatform);
        vm.run(&program, &mut Context::Memory(mem), &mut self.stack)
            .map_err(Rejection::Trap)
    }
}

/// The interpreter without the verifier: every memory access checked at run time.
#[derive(Debug, Default)]
pub struct CheckedEngine {
    stack: Box<Stack>,
}

impl Engine for CheckedEngine {
    fn name(&self) -> &'static str {
        "checked"
    }

    fn execute(&mut self, insns: &mut [Insn], mem: &mut [u8]) -> Result<u64, Rejection> {
        let program = Program::new(insns).map_err(Rejection::Decode)?;
        let vm = Interpreter::new(nanobpf_core::helpers::standard(), &NoPlatform);
        vm.run_checked(&program, &mut Context::Memory(mem), &mut self.stack)
            .map_err(Rejection::Trap)
    }
}

/// The x86-64 JIT: verify, compile, run native code.
#[cfg(target_arch = "x86_64")]
#[derive(Debug)]
pub struct JitEngine {
    stack: Box<Stack>,
    ws: Box<DefaultWorkspace>,
}

#[cfg(target_arch = "x86_64")]
impl Default for JitEngine {
    fn default() -> Self {
        JitEngine {
            stack: Box::default(),
            ws: Box::new(DefaultWorkspace::new()),
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Engine for JitEngine {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn execute(&mut self, insns: &mut [Insn], mem: &mut [u8]) -> Result<u64, Rejection> {
        use nanobpf_jit_x86::{compile, JitOptions};
        let program = verify_memory_program(insns, mem.len(), &mut self.ws)?;
        let rt = nanobpf_core::Runtime::new(nanobpf_core::helpers::standard(), &NoPlatform);
        let jit = compile(&program, &rt, &JitOptions::default()).map_err(Rejection::Jit)?;
        jit.run(&mut Context::Memory(mem), &mut self.stack)
            .map_err(Rejection::Trap)
    }
}

/// The names [`by_name`] knows on this target.
pub const NAMES: &[&str] = &[
    "interp",
    "checked",
    #[cfg(target_arch = "x86_64")]
    "jit",
];

/// The engine named `name`.
///
/// # Errors
/// The list of known names when `name` is not one of them.
pub fn by_name(name: &str) -> Result<Box<dyn Engine>, String> {
    match name {
        "interp" => Ok(Box::new(InterpEngine::default())),
        "checked" => Ok(Box::new(CheckedEngine::default())),
        #[cfg(target_arch = "x86_64")]
        "jit" => Ok(Box::new(JitEngine::default())),
        _ => Err(format!(
            "unknown engine '{name}' (known: {})",
            NAMES.join(", ")
        )),
    }
}
