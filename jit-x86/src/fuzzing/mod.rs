//! Differential fuzzing: the interpreter against the JIT on verified programs. Behind the
//! `fuzzing` feature (host-only, uses `std`), so that `fuzz/` drives it with cargo-fuzz and
//! the crate's tests run it on a deterministic corpus.
//!
//! A program comes from one of `nanobpf_core::fuzzing`'s structure-aware generators (memory,
//! XDP, socket filter, with the standard helpers and the session's maps) or from
//! [`alu_program`] (every arithmetic form, [`TEST_HELPERS`]). When the verifier accepts it, it
//! is compiled (plain or with constant blinding, with or without an instruction budget) and
//! run on both engines over the same inputs, at the same addresses, with the maps reset to the
//! same contents and the stack filled with the same garbage. They must agree on r0 or the
//! trap, on the buffer afterwards and on every map's contents.

mod gen;

pub use gen::{alu_program, mix_value, test_helpers, ALU_MEM, TEST_HELPERS};

use crate::{compile, JitOptions};
use nanobpf_core::env::HelperTable;
use nanobpf_core::fuzzing::{
    structured_program, Bytes, Flavor, FuzzMaps, RunInput, Snapshot, Source, VERIFY_BUDGET,
};
use nanobpf_core::helpers::standard;
use nanobpf_core::maps::MapTable;
use nanobpf_core::verifier::{verify, DefaultWorkspace, VerifyEnv, VerifyError};
use nanobpf_core::{
    Context, Disasm, Insn, Interpreter, NoPlatform, ProgramType, Runtime, Stack, Trap,
    VerifiedProgram,
};
use std::boxed::Box;
use std::vec::Vec;

/// What one run left behind: r0 or the trap, the buffer, the maps' contents.
pub type Effects = (Result<u64, Trap>, Vec<u8>, Snapshot);

/// What happened to one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The verifier rejected it (not a finding).
    Rejected(VerifyError),
    /// Accepted; both engines agreed on every run. `trapped` counts runs that ended in a
    /// trap (on both).
    Agreed {
        /// Runs that ended in a trap.
        trapped: u32,
    },
}

/// How a program is compiled and run.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// The helpers it is verified and run with.
    pub helpers: HelperTable<'static>,
    /// The JIT's options.
    pub opts: JitOptions,
    /// The instruction budget of both engines, if any.
    pub budget: Option<u64>,
    /// Runs, each on fresh inputs.
    pub runs: u32,
}

/// Maps, stack and verifier workspace of a differential session, reused from program to
/// program.
#[derive(Debug)]
pub struct Differential {
    maps: Box<FuzzMaps>,
    stack: Box<Stack>,
    ws: Box<DefaultWorkspace>,
}

impl Default for Differential {
    fn default() -> Self {
        Differential::new()
    }
}

impl Differential {
    /// A fresh session.
    pub fn new() -> Self {
        Differential {
            maps: Box::new(FuzzMaps::new()),
            stack: Box::new(Stack::new()),
            ws: Box::new(DefaultWorkspace::new()),
        }
    }

    /// Verifies `prog` for `pt` with `setup`'s helpers and the session's maps; if accepted,
    /// compiles it and runs both engines `setup.runs` times on inputs drawn from `src`.
    ///
    /// # Panics
    /// On a finding: the JIT fails to compile a verified program, or the engines disagree.
    pub fn check(
        &mut self,
        prog: &[Insn],
        pt: ProgramType,
        setup: &Setup,
        src: &mut impl Source,
    ) -> Verdict {
        let defs = self.maps.defs();
        let env = VerifyEnv {
            budget: VERIFY_BUDGET,
            ..VerifyEnv::new(pt, setup.helpers, &defs)
        };
        let mut insns = prog.to_vec();
        let verified = match verify(&mut insns, &env, &mut *self.ws) {
            Ok(v) => v,
            Err(e) => return Verdict::Rejected(e),
        };
        let mut trapped = 0;
        for _ in 0..setup.runs {
            let input = RunInput::draw(pt, src);
            let (want, got) = self.outcomes(&verified, setup, &input);
            let listing = Disasm::new(verified.insns());
            assert_eq!(
                got.0, want.0,
                "engines disagree: interpreter {:?}, JIT {:?} ({setup:?}, input {input:02x?})\n\
                 {listing}",
                want.0, got.0
            );
            assert_eq!(
                got.1, want.1,
                "buffers differ ({setup:?}, input {input:02x?})\n{listing}"
            );
            assert_eq!(
                got.2, want.2,
                "map contents differ ({setup:?}, input {input:02x?})\n{listing}"
            );
            trapped += want.0.is_err() as u32;
        }
        Verdict::Agreed { trapped }
    }

    /// The interpreter's and the JIT's effects of one run of `program` on `input`.
    ///
    /// The JIT resolves map references at compile time to the slots of the runtime's map
    /// table, so it compiles the program for each run, with the table that run uses.
    ///
    /// # Panics
    /// When the JIT cannot compile `program`.
    pub fn outcomes(
        &mut self,
        program: &VerifiedProgram<'_>,
        setup: &Setup,
        input: &RunInput,
    ) -> (Effects, Effects) {
        let pt = program.prog_type();
        let want = self.run(pt, setup, input, |rt, ctx, stack| {
            Interpreter::with_runtime(*rt).run(program, ctx, stack)
        });
        let got = self.run(pt, setup, input, |rt, ctx, stack| {
            let jit = compile(program, rt, &setup.opts).unwrap_or_else(|e| {
                panic!(
                    "the JIT rejects a verified program: {e} ({setup:?})\n{}",
                    Disasm::new(program.insns())
                )
            });
            jit.run(rt, ctx, stack)
        });
        (want, got)
    }

    /// One run by `engine` with fresh maps, a stack full of garbage and a fresh copy of the
    /// input buffer, as a program of type `pt`.
    fn run(
        &mut self,
        pt: ProgramType,
        setup: &Setup,
        input: &RunInput,
        engine: impl FnOnce(&Runtime<'_>, &mut Context<'_>, &mut Stack) -> Result<u64, Trap>,
    ) -> Effects {
        self.maps.reset();
        self.stack.0.fill(input.garbage[0]);
        let mut buf = input.buf.clone();
        let table = self.maps.table();
        let rt = runtime(setup, MapTable::new(&table));
        let r = engine(&rt, &mut input.context(pt, &mut buf), &mut self.stack);
        (r, buf, self.maps.snapshot())
    }
}

/// The runtime of `setup` over `maps`.
fn runtime<'e>(setup: &Setup, maps: MapTable<'e>) -> Runtime<'e> {
    let rt = Runtime::new(setup.helpers, &NoPlatform).with_maps(maps);
    match setup.budget {
        Some(b) => rt.with_budget(b),
        None => rt,
    }
}

/// Runs one fuzzer input through the differential check: the first byte picks the generator
/// (memory, XDP or socket-filter structured programs, or [`alu_program`]) and how the program
/// is compiled (blinding, budget); the rest drives the generator and the run inputs.
///
/// # Panics
/// On a finding, see [`Differential::check`].
pub fn differential(data: &[u8]) {
    let mut src = Bytes::new(data);
    let mode = src.below(256);
    let mut session = Differential::new();
    let (prog, pt, helpers) = match mode % 4 {
        3 => (
            alu_program(&mut src),
            ProgramType::Memory {
                len: ALU_MEM as u32,
            },
            test_helpers(),
        ),
        k => {
            let flavor = [Flavor::Memory, Flavor::Xdp, Flavor::Socket][k as usize];
            (
                structured_program(flavor, &mut src),
                flavor.program_type(),
                standard(),
            )
        }
    };
    let opts = if mode & 4 != 0 {
        JitOptions::blinded(src.next_u64() as u32)
    } else {
        JitOptions::default()
    };
    let budget = (mode & 0x18 == 0x18).then(|| src.below(prog.len() as u64 * 2 + 8));
    let setup = Setup {
        helpers,
        opts,
        budget,
        runs: 2,
    };
    session.check(&prog, pt, &setup, &mut src);
}
