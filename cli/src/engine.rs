//! Engines behind one trait, so that every test vector runs on each of them.

use nanobpf_core::asm::AsmError;
use nanobpf_core::{Context, DecodeError, Insn, Interpreter, NoPlatform, Program, Stack, Trap};

/// Why a program did not produce a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The text did not assemble.
    Asm(AsmError),
    /// The slots did not decode.
    Decode(DecodeError),
    /// The run trapped.
    Trap(Trap),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Asm(e) => write!(f, "assembly error: {e}"),
            Rejection::Decode(e) => write!(f, "invalid program: {e}"),
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

/// The interpreter engine.
#[derive(Debug, Default)]
pub struct InterpEngine {
    stack: Box<Stack>,
}

impl Engine for InterpEngine {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn execute(&mut self, insns: &mut [Insn], mem: &mut [u8]) -> Result<u64, Rejection> {
        let program = Program::new(insns).map_err(Rejection::Decode)?;
        // The standard helpers: `call 5` in the suite is `bpf_ktime_get_ns` in Linux's
        // numbering, and `call_unwind_fail.data` only needs it to return.
        let vm = Interpreter::new(nanobpf_core::helpers::standard(), &NoPlatform);
        vm.run_checked(&program, &mut Context::Memory(mem), &mut self.stack)
            .map_err(Rejection::Trap)
    }
}

/// The engine named `name`.
///
/// # Errors
/// The list of known names when `name` is not one of them.
pub fn by_name(name: &str) -> Result<Box<dyn Engine>, String> {
    match name {
        "interp" => Ok(Box::new(InterpEngine::default())),
        _ => Err(format!("unknown engine '{name}' (known: interp)")),
    }
}
