//! Through the public path: verify, compile, run; compared with `Interpreter::run` on the same
//! `VerifiedProgram` by the differential check of [`crate::fuzzing`]. Also measures compilation
//! time per instruction.

use super::*;
use crate::compile;
use crate::fuzzing::{
    alu_program, chain_program, differential, test_helpers, Differential, Setup, TailCalls,
    Verdict, ALU_MEM,
};
use nanobpf_core::fuzzing::{structured_program, Flavor, FuzzMaps, Rng, RunInput, Source};
use nanobpf_core::MapTable;
use nanobpf_core::{verify, DefaultWorkspace, VerifyTarget};

#[test]
fn verified_random_programs_agree_with_the_interpreter() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut session = Differential::new();
    let start = std::time::Instant::now();
    let (mut tried, mut accepted) = (0, 0);
    while tried < 400 && start.elapsed().as_millis() < 1500 {
        let p = alu_program(&mut rng);
        let setup = Setup {
            helpers: test_helpers(),
            opts: JitOptions {
                constant_blinding: rng.below(2) == 0,
                blinding_key: rng.next_u64() as u32,
            },
            budget: None,
            runs: 1,
        };
        let pt = ProgramType::Memory {
            len: ALU_MEM as u32,
        };
        accepted += matches!(
            session.check(&p, pt, &setup, &mut rng),
            Verdict::Agreed { .. }
        ) as u32;
        tried += 1;
    }
    std::println!("{accepted} of {tried} random programs verified and agreed");
    assert!(
        accepted >= 20,
        "only {accepted} of {tried} programs verified"
    );
}

/// The structured programs of core's fuzzing generators (packets, maps, helpers, loops, local
/// calls, tail calls through a drawn table), under a budget now and then: the JIT agrees on r0
/// or trap, buffer and maps.
#[test]
fn structured_programs_agree_with_the_interpreter() {
    let mut session = Differential::new();
    for flavor in [Flavor::Memory, Flavor::Xdp, Flavor::Socket] {
        let mut rng = Rng(0xd1ff + flavor as u64);
        let start = std::time::Instant::now();
        let (mut tried, mut accepted, mut trapped) = (0, 0, 0);
        while tried < 150 && start.elapsed().as_millis() < 600 {
            let p = structured_program(flavor, &mut rng);
            let setup = Setup {
                helpers: nanobpf_core::helpers::standard(),
                opts: if rng.chance(1, 2) {
                    JitOptions::blinded(rng.next_u64() as u32)
                } else {
                    JitOptions::default()
                },
                budget: rng.chance(1, 3).then(|| rng.below(p.len() as u64 * 2)),
                runs: 2,
            };
            let tail = TailCalls::draw(flavor, &mut rng);
            if let Verdict::Agreed { trapped: t } =
                session.check_with(&p, &tail, flavor.program_type(), &setup, &mut rng)
            {
                accepted += 1;
                trapped += t;
            }
            tried += 1;
        }
        assert!(
            accepted >= 10 && trapped > 0,
            "{flavor:?}: {accepted} of {tried} accepted, {trapped} runs trapped"
        );
    }
}

/// The differential check's tail-call table: calls that hit run the target on both engines,
/// calls that miss (empty slot, index past the array, a program the runtime lacks) fall
/// through, and the chain program stops after 33 tail calls on both.
#[test]
fn differential_tail_calls_hit_miss_and_stop_at_the_chain_limit() {
    let maps = FuzzMaps::new();
    let defs = maps.defs();
    let env = VerifyTarget::new(
        ProgramType::Xdp,
        nanobpf_core::helpers::standard(),
        MapTable::definitions(&defs),
    );
    let mut ws = Box::new(DefaultWorkspace::new());
    // The chain program verifies for socket filters too (memory programs have no context to
    // pass, so no tail calls).
    let socket = VerifyTarget::new(
        ProgramType::SocketFilter,
        nanobpf_core::helpers::standard(),
        MapTable::definitions(&defs),
    );
    verify(&mut chain_program(), &socket, &mut ws).expect("the chain program verifies");
    let mut answer = asm("mov %r0, 42\nexit");
    let mut chain = chain_program();
    let programs = [
        verify(&mut answer, &env, &mut ws).expect("verifies"),
        verify(&mut chain, &env, &mut ws).expect("verifies"),
    ];
    let setup = Setup {
        helpers: nanobpf_core::helpers::standard(),
        opts: JitOptions::default(),
        budget: None,
        runs: 1,
    };
    let mut session = Differential::new();
    // The chain's count: the second word of array value 0 (0x80 after a reset).
    let count = |snapshot: &nanobpf_core::fuzzing::Snapshot| {
        let (_, _, v) = snapshot
            .iter()
            .find(|(m, k, _)| *m == 1 && k[..] == 0u32.to_ne_bytes())
            .expect("array value 0");
        u64::from_ne_bytes(v[8..16].try_into().unwrap()) - 0x80
    };
    // (slots, slot called, r0, runs of the chain program: the entry's tail call and the
    // chain's own count toward the limit of 33)
    let cases = [
        ([Some(0), Some(1)], 0, 42, 0),
        ([Some(0), Some(1)], 1, 99, 33),
        ([Some(1), Some(1)], 0, 99, 33),
        ([Some(1), None], 0, 99, 1),
        ([None, Some(1)], 0, 7, 0),
        ([Some(0), Some(1)], 2, 7, 0),
        ([Some(5), Some(1)], 0, 7, 0),
    ];
    let mut rng = Rng(0x7a11);
    for (slots, index, r0, runs) in cases {
        // Tail-calls slot `index`, then returns 7 if the call falls through.
        let mut entry = asm(&std::format!(
            "mov %r1, %r1\nlddw %r2, map[3]\nmov %r3, {index}\ncall 12\nmov %r0, 7\nexit"
        ));
        let entry = verify(&mut entry, &env, &mut ws).expect("verifies");
        let input = RunInput::draw(ProgramType::Xdp, &mut rng);
        let (want, got) = session.outcomes(&entry, &programs, slots, &setup, &input);
        assert_eq!(got, want, "slots {slots:?}, index {index}");
        assert_eq!(want.0, Ok(r0), "slots {slots:?}, index {index}");
        assert_eq!(count(&want.2), runs, "slots {slots:?}, index {index}");
    }
}

/// Generated XDP and socket-filter programs reach successful tail calls: with both slots
/// holding the chain program, some runs differ from runs with an empty program array (the
/// chain counts in a map value), and the engines agree on both.
#[test]
fn structured_programs_take_tail_calls() {
    use nanobpf_core::fuzzing::VERIFY_BUDGET;
    let defs = FuzzMaps::new().defs();
    let setup = Setup {
        helpers: nanobpf_core::helpers::standard(),
        opts: JitOptions::default(),
        budget: None,
        runs: 1,
    };
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut session = Differential::new();
    for flavor in [Flavor::Xdp, Flavor::Socket] {
        let env = VerifyTarget {
            budget: VERIFY_BUDGET,
            ..VerifyTarget::new(
                flavor.program_type(),
                setup.helpers,
                MapTable::definitions(&defs),
            )
        };
        let mut chain = chain_program();
        let programs = [verify(&mut chain, &env, &mut ws).expect("verifies")];
        let mut rng = Rng(0x7a1 + flavor as u64);
        let (mut calling, mut taken) = (0, 0);
        // Seeded, so deterministic; stops at the first tail call taken.
        for _ in 0..5000 {
            if taken > 0 {
                break;
            }
            let mut p = structured_program(flavor, &mut rng);
            let Ok(entry) = verify(&mut p, &env, &mut ws) else {
                continue;
            };
            let tail_call =
                |i: &Insn| i.opcode == nanobpf_core::opcode::CALL && i.src() == 0 && i.imm == 12;
            if !entry.insns().iter().any(tail_call) {
                continue;
            }
            calling += 1;
            let input = RunInput::draw(flavor.program_type(), &mut rng);
            let (want, got) = session.outcomes(&entry, &programs, [Some(0); 2], &setup, &input);
            assert_eq!(got, want, "{flavor:?}, input {input:02x?}");
            let (empty, got) = session.outcomes(&entry, &programs, [None; 2], &setup, &input);
            assert_eq!(got, empty, "{flavor:?}, input {input:02x?}");
            taken += (want != empty) as u32;
        }
        assert!(
            taken > 0,
            "{flavor:?}: no tail call taken in {calling} programs that call one"
        );
    }
}

/// The fuzz target's entry point on arbitrary bytes, and on the committed seed corpus.
#[test]
fn differential_smoke() {
    let mut rng = Rng(0xfeed);
    for _ in 0..150 {
        let len = rng.below(400);
        let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        differential(&data);
    }
    let dir = std::format!("{}/../fuzz/corpus/differential", env!("CARGO_MANIFEST_DIR"));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            differential(&std::fs::read(e.path()).unwrap());
        }
    }
}

/// Minimised findings of the `differential` fuzz target, replayed.
#[test]
fn differential_regressions() {
    // A dead `lddw` of a map the table lacks passed the verifier, and the JIT, which compiles
    // dead code too, could not resolve it (now the verifier checks every `lddw`).
    let dead_missing_map: [u8; 32] = [
        0x05, 0xa9, 0xd2, 0xda, 0xef, 0x7c, 0x8b, 0x23, 0xe5, 0x1f, 0x36, 0xb8, 0xe9, 0x78, 0xd5,
        0xd9, 0x6e, 0x4f, 0x14, 0xb9, 0x00, 0x00, 0x00, 0x01, 0xe5, 0x6b, 0x2b, 0xb3, 0x2c, 0x0c,
        0xd8, 0xb9,
    ];
    differential(&dead_missing_map);
}

#[test]
fn compile_time_per_instruction() {
    // A long verified straight-line program of mixed instructions.
    let mut text = std::string::String::from("mov %r6, %r1\n");
    for r in [0, 2, 3, 4, 5, 7, 8, 9] {
        text.push_str(&std::format!("mov %r{r}, {r}\n"));
    }
    let body = "add %r0, %r2\nmul %r3, 7\nxor %r4, %r0\nstxdw [%r10-8], %r4\nldxdw %r5, [%r10-8]\n\
                jgt %r5, %r3, +1\nlsh %r7, 3\ndiv %r8, %r9\nldxw %r9, [%r6+4]\nadd32 %r2, 1\n";
    for _ in 0..300 {
        text.push_str(body);
    }
    text.push_str("exit\n");
    let mut insns = asm(&text);
    let n = insns.len();
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyTarget::new(
        ProgramType::Memory { len: 64 },
        HelperTable::new(&HELPERS),
        MapTable::EMPTY,
    );
    let program = verify(&mut insns, &env, &mut ws).expect("verifies");
    let rt = rt();
    let runs = 5;
    let start = std::time::Instant::now();
    let mut size = 0;
    for _ in 0..runs {
        size = compile(&program, &rt, &JitOptions::default())
            .unwrap()
            .code_len();
    }
    let per_insn = start.elapsed().as_nanos() / (runs * n) as u128;
    std::println!(
        "JIT compile: {n} instructions, {size} bytes of code, {per_insn} ns per instruction \
         (assemble, decode-back check, map and protect; this build's profile)"
    );
    assert!(size > n, "code for every instruction");
    let mut mem = [1u8; 64];
    let jit = compile(&program, &rt, &JitOptions::default()).unwrap();
    let mut stack = Box::new(Stack::new());
    let got = jit.run(&mut Context::Memory(&mut mem), &mut stack);
    let mut stack = Box::new(Stack::new());
    let want = Interpreter::with_runtime(rt).run(
        &program,
        &mut Context::Memory(&mut [1u8; 64]),
        &mut stack,
    );
    assert_eq!(got, want);
}
