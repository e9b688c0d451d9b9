//! Soundness oracle: random programs the verifier accepts never fail a run-time check when
//! run by the checking interpreter, on random buffer contents, and the verified engine agrees.
//! The generators and the oracle are the fuzz targets' (`crate::fuzzing`).

use crate::env::ProgramType;
use crate::fuzzing::{memory_program, xdp_program, Fixture, Outcome, Rng, MEMORY_LEN};
use crate::isa::opcode::Class;

/// Runs `cases` programs from `generate` through the oracle and returns how many the verifier
/// accepted, and how many of those loop.
fn accepted(
    seed: u64,
    cases: u32,
    pt: ProgramType,
    generate: fn(&mut Rng) -> std::vec::Vec<crate::Insn>,
) -> (u32, u32) {
    let mut rng = Rng(seed);
    let mut fixture = Fixture::new();
    fixture.runs = 4;
    let (mut accepted, mut loops) = (0, 0);
    for _ in 0..cases {
        let prog = generate(&mut rng);
        if fixture.check(&prog, pt, &mut rng) == Outcome::Accepted {
            accepted += 1;
            if prog.iter().any(|i| i.class() == Class::Jmp && i.off < 0) {
                loops += 1;
            }
        }
    }
    (accepted, loops)
}

#[test]
fn accepted_random_xdp_programs_stay_inside_the_packet() {
    // The frame fills its buffer, so every byte past `data_end` is outside the run's regions.
    let total = 10_000;
    let (n, _) = accepted(0x0123_4567_89ab_cdef, total, ProgramType::Xdp, xdp_program);
    // The generator must exercise both verdicts.
    assert!(n > total / 20 && n < total, "{n} of {total} accepted");
}

#[test]
fn accepted_random_programs_pass_every_runtime_check() {
    let total = 10_000;
    let pt = ProgramType::Memory { len: MEMORY_LEN };
    let (n, loops) = accepted(0x005e_ed0f_ba5e_ba11, total, pt, memory_program);
    // The generator must exercise both verdicts, and loops.
    assert!(n > total / 20 && n < total, "{n} of {total} accepted");
    assert!(loops > n / 10, "{loops} loops of {n}");
}
