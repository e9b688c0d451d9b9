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
//!
//! Structured XDP and socket-filter programs run with a tail-call table ([`TailCalls`]): a
//! second generated program of the same type and a program that counts its runs in a map
//! value and tail-calls itself through slot 1 (so a chain runs into the limit of 33), both
//! verified with the same helpers and maps; the program array's two slots are drawn from the
//! input, so tail calls at fixed or variable indices hit, miss an empty slot, miss past the
//! array, or name a program the table lacks. The JIT compiles the table with the entry
//! program and runs with the same runtime.

mod gen;

pub use gen::{alu_program, mix_value, test_helpers, ALU_MEM, TEST_HELPERS};

use crate::{compile, JitOptions};
use nanobpf_core::fuzzing::{
    structured_program, Bytes, Flavor, FuzzMaps, RunInput, Snapshot, Source, VERIFY_BUDGET,
};
use nanobpf_core::helpers::standard;
use nanobpf_core::opcode::{ATOMIC_ADD, BPF_ALU64, BPF_ATOMIC, BPF_DW, BPF_MOV, CALL, EXIT, LDDW};
use nanobpf_core::opcode::{BPF_STX, BPF_X};
use nanobpf_core::opcode::{LDDW_MAP_IDX, LDDW_MAP_IDX_VALUE};
use nanobpf_core::HelperTable;
use nanobpf_core::MapTable;
use nanobpf_core::{verify, DefaultWorkspace, VerifyError, VerifyTarget};
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

/// Map 1 of a fuzzing session ([`FuzzMaps`]): the array whose value 0 the chain program counts
/// in.
const MAP_ARRAY: i32 = 1;
/// Map 3 of a fuzzing session: the program array.
const MAP_PROGS: i32 = 3;
/// `BPF_FUNC_tail_call`.
const TAIL_CALL: i32 = 12;

/// The tail-call table of a check: the programs `bpf_tail_call` may reach and what the
/// session's program array holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TailCalls {
    /// The targets, by index in the runtime's program table; each is verified like the entry
    /// program, and one the verifier rejects is replaced by `r0 = 1000 + index; exit`.
    pub programs: Vec<Vec<Insn>>,
    /// For each slot of the program array: the program index it holds, if any. An index past
    /// `programs` is a slot whose program the runtime lacks: the call falls through.
    pub slots: [Option<u32>; FuzzMaps::PROG_SLOTS as usize],
}

impl TailCalls {
    /// A table for entry programs of `flavor`: a generated program of the same flavor
    /// (index 0) and [`chain_program`] (index 1), with the slots drawn from `src`. Empty for
    /// [`Flavor::Memory`]: a memory program has no context to pass, so no tail calls.
    pub fn draw(flavor: Flavor, src: &mut impl Source) -> Self {
        if flavor == Flavor::Memory {
            return TailCalls::default();
        }
        let programs = std::vec![structured_program(flavor, src), chain_program()];
        let slots = core::array::from_fn(|_| src.pick(&[None, Some(0), Some(1), Some(2)]));
        TailCalls { programs, slots }
    }
}

/// A program that adds 1 to the second word of array map 1's value 0, tail-calls slot 1 of
/// the program array, and returns 99 when the call falls through. In slot 1 it calls itself:
/// the count then shows where each engine stops the chain.
pub fn chain_program() -> Vec<Insn> {
    let i = Insn::new;
    const MOV64_REG: u8 = BPF_ALU64 | BPF_MOV | BPF_X;
    const MOV64_IMM: u8 = BPF_ALU64 | BPF_MOV;
    std::vec![
        i(MOV64_REG, 6, 1, 0, 0),
        i(LDDW, 2, LDDW_MAP_IDX_VALUE, 0, MAP_ARRAY),
        i(0, 0, 0, 0, 8),
        i(MOV64_IMM, 3, 0, 0, 1),
        i(BPF_STX | BPF_ATOMIC | BPF_DW, 2, 3, 0, ATOMIC_ADD),
        i(MOV64_REG, 1, 6, 0, 0),
        i(LDDW, 2, LDDW_MAP_IDX, 0, MAP_PROGS),
        i(0, 0, 0, 0, 0),
        i(MOV64_IMM, 3, 0, 0, 1),
        i(CALL, 0, 0, 0, TAIL_CALL),
        i(MOV64_IMM, 0, 0, 0, 99),
        i(EXIT, 0, 0, 0, 0),
    ]
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
    /// compiles it and runs both engines `setup.runs` times on inputs drawn from `src`, with
    /// an empty tail-call table.
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
        self.check_with(prog, &TailCalls::default(), pt, setup, src)
    }

    /// As [`Differential::check`], with the tail-call table `tail` (its programs verified
    /// like `prog`).
    ///
    /// # Panics
    /// On a finding, see [`Differential::check`].
    pub fn check_with(
        &mut self,
        prog: &[Insn],
        tail: &TailCalls,
        pt: ProgramType,
        setup: &Setup,
        src: &mut impl Source,
    ) -> Verdict {
        let defs = self.maps.defs();
        let env = VerifyTarget {
            budget: VERIFY_BUDGET,
            ..VerifyTarget::new(pt, setup.helpers, MapTable::definitions(&defs))
        };
        let mut insns = prog.to_vec();
        let entry = match verify(&mut insns, &env, &mut *self.ws) {
            Ok(v) => v,
            Err(e) => return Verdict::Rejected(e),
        };
        // Targets the verifier rejects become trivial ones; then every target is verified for
        // good, its output kept alive next to the entry program's.
        let mut targets = tail.programs.clone();
        for (i, t) in targets.iter_mut().enumerate() {
            if verify(&mut t.clone(), &env, &mut *self.ws).is_err() {
                *t = std::vec![
                    Insn::new(BPF_ALU64 | BPF_MOV, 0, 0, 0, 1000 + i as i32),
                    Insn::new(EXIT, 0, 0, 0, 0),
                ];
            }
        }
        let programs: Vec<VerifiedProgram<'_>> = targets
            .iter_mut()
            .map(|t| {
                verify(t, &env, &mut *self.ws)
                    .unwrap_or_else(|e| panic!("the verifier's verdict changed: {e}"))
            })
            .collect();
        let mut trapped = 0;
        for _ in 0..setup.runs {
            let input = RunInput::draw(pt, src);
            let (want, got) = self.outcomes(&entry, &programs, tail.slots, setup, &input);
            let listing = Disasm::new(entry.insns());
            assert_eq!(
                got.0, want.0,
                "engines disagree: interpreter {:?}, JIT {:?} ({setup:?}, input {input:02x?}, \
                 tail calls {tail:?})\n{listing}",
                want.0, got.0
            );
            assert_eq!(
                got.1, want.1,
                "buffers differ ({setup:?}, input {input:02x?}, tail calls {tail:?})\n{listing}"
            );
            assert_eq!(
                got.2, want.2,
                "map contents differ ({setup:?}, input {input:02x?}, tail calls {tail:?})\n\
                 {listing}"
            );
            trapped += want.0.is_err() as u32;
        }
        Verdict::Agreed { trapped }
    }

    /// The interpreter's and the JIT's effects of one run of `program` on `input`, with
    /// `programs` as the runtime's tail-call table and `slots` in the program array.
    ///
    /// The JIT resolves map references at compile time to the slots of the runtime's map
    /// table, so it compiles the program (and the tail-call table) for each run, with the
    /// runtime that run uses.
    ///
    /// # Panics
    /// When the JIT cannot compile `program`.
    pub fn outcomes(
        &mut self,
        program: &VerifiedProgram<'_>,
        programs: &[VerifiedProgram<'_>],
        slots: [Option<u32>; FuzzMaps::PROG_SLOTS as usize],
        setup: &Setup,
        input: &RunInput,
    ) -> (Effects, Effects) {
        let want = self.run(
            program,
            programs,
            slots,
            setup,
            input,
            |rt, program, ctx, stack| Interpreter::with_runtime(*rt).run(program, ctx, stack),
        );
        let got = self.run(
            program,
            programs,
            slots,
            setup,
            input,
            |rt, program, ctx, stack| {
                let jit = compile(program, rt, &setup.opts).unwrap_or_else(|e| {
                    panic!(
                        "the JIT rejects a verified program: {e} ({setup:?})\n{}",
                        Disasm::new(program.insns())
                    )
                });
                jit.run(ctx, stack)
            },
        );
        (want, got)
    }

    /// One run of `program` by `engine` with fresh maps (the program array holding `slots`), a
    /// stack full of garbage and a fresh copy of the input buffer. The programs, verified
    /// against the fixture's map definitions, are bound to the fresh maps for the run.
    fn run(
        &mut self,
        program: &VerifiedProgram<'_>,
        programs: &[VerifiedProgram<'_>],
        slots: [Option<u32>; FuzzMaps::PROG_SLOTS as usize],
        setup: &Setup,
        input: &RunInput,
        engine: impl FnOnce(
            &Runtime<'_>,
            &VerifiedProgram<'_>,
            &mut Context<'_>,
            &mut Stack,
        ) -> Result<u64, Trap>,
    ) -> Effects {
        self.maps.reset();
        for (slot, program) in (0u32..).zip(slots) {
            if let Some(p) = program {
                self.maps.set_tail_target(slot, p);
            }
        }
        self.stack.0.fill(input.garbage[0]);
        let mut buf = input.buf.clone();
        let table = self.maps.table();
        let table = MapTable::new(&table);
        fn bind<'b>(p: &VerifiedProgram<'b>, table: MapTable<'b>) -> VerifiedProgram<'b> {
            p.rebind(table)
                .unwrap_or_else(|| panic!("the fixture's maps changed shape"))
        }
        let programs: Vec<VerifiedProgram<'_>> = programs.iter().map(|p| bind(p, table)).collect();
        let program = bind(program, table);
        let rt = runtime(setup, table).with_programs(&programs);
        let pt = program.prog_type();
        let r = engine(
            &rt,
            &program,
            &mut input.context(pt, &mut buf),
            &mut self.stack,
        );
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
/// (memory, XDP or socket-filter structured programs, with a [`TailCalls`] table drawn next,
/// or [`alu_program`]) and how the program is compiled (blinding, budget); the rest drives the
/// generators and the run inputs.
///
/// # Panics
/// On a finding, see [`Differential::check`].
pub fn differential(data: &[u8]) {
    let mut src = Bytes::new(data);
    let mode = src.below(256);
    let mut session = Differential::new();
    let (prog, tail, pt, helpers) = match mode % 4 {
        3 => (
            alu_program(&mut src),
            TailCalls::default(),
            ProgramType::Memory {
                len: ALU_MEM as u32,
            },
            test_helpers(),
        ),
        k => {
            let flavor = [Flavor::Memory, Flavor::Xdp, Flavor::Socket][k as usize];
            let prog = structured_program(flavor, &mut src);
            (
                prog,
                TailCalls::draw(flavor, &mut src),
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
    session.check_with(&prog, &tail, pt, &setup, &mut src);
}
