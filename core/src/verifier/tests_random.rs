//! Soundness oracle: random programs the verifier accepts never fail a run-time check when
//! run by the checking interpreter, on random buffer contents, and the verified engine agrees.
//! The generators and the oracle are the fuzz targets' (`crate::fuzzing`).

use crate::fuzzing::{
    link_program, memory_program, xdp_program, Fixture, Outcome, Rng, Source, MEMORY_LEN,
};
use crate::host::ProgramType;
use crate::isa::opcode::{op, Class, BPF_ADD, BPF_ALU64, BPF_X};
use crate::Insn;

/// Random programs per test; `NANOBPF_STRESS` raises it for a longer run.
fn stress() -> u32 {
    std::env::var("NANOBPF_STRESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// Runs `cases` programs from `generate` through the oracle and returns how many the verifier
/// accepted, and how many of those loop.
fn accepted(
    seed: u64,
    cases: u32,
    pt: ProgramType,
    generate: fn(&mut Rng) -> std::vec::Vec<Insn>,
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
    let total = stress();
    let (n, _) = accepted(0x0123_4567_89ab_cdef, total, ProgramType::Xdp, xdp_program);
    std::eprintln!("xdp: {n} of {total} accepted");
    // The generator must exercise both verdicts.
    assert!(n > total / 20 && n < total, "{n} of {total} accepted");
}

#[test]
fn accepted_random_programs_pass_every_runtime_check() {
    let total = stress();
    let pt = ProgramType::Memory { len: MEMORY_LEN };
    let (n, loops) = accepted(0x005e_ed0f_ba5e_ba11, total, pt, memory_program);
    std::eprintln!("memory: {n} of {total} accepted, {loops} loops");
    // The generator must exercise both verdicts, and loops.
    assert!(n > total / 20 && n < total, "{n} of {total} accepted");
    assert!(loops > n / 10, "{loops} loops of {n}");
}

/// Run inputs for the link programs: buffer bytes mostly near the guards' constants, a few
/// huge, so that runs take both sides of the guards.
struct NearGuards(Rng);

impl Source for NearGuards {
    fn next_u64(&mut self) -> u64 {
        match self.0.below(8) {
            0 => 0xff,
            1 => 0x80,
            _ => self.0.below(100),
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
}

/// Whether the access of a [`link_program`] is bounded only through a copy: its register
/// (the one added to the buffer pointer) is neither the guarded register nor compared with
/// it. The program must then be accepted only thanks to the link (or because the access is
/// unreachable, which the caller rules out).
fn bounded_through_a_copy(prog: &[Insn]) -> bool {
    let add = BPF_ALU64 | BPF_ADD | BPF_X;
    let Some(through) = prog.iter().find(|i| i.opcode == add && i.dst() == 6) else {
        return false;
    };
    let Some(guard) = prog
        .iter()
        .find(|i| matches!(i.class(), Class::Jmp | Class::Jmp32) && i.opcode != op::EXIT)
    else {
        return false;
    };
    let compared = guard.opcode & BPF_X != 0 && guard.src() == through.src();
    guard.dst() != through.src() && !compared
}

#[test]
fn accepted_random_link_programs_pass_every_runtime_check() {
    let total = stress();
    let pt = ProgramType::Memory { len: MEMORY_LEN };
    let mut rng = Rng(0x1157_ed5c_a1a5_0001);
    let mut inputs = NearGuards(Rng(0x0dd5_eed5));
    let mut fixture = Fixture::new();
    fixture.runs = 8;
    let (mut accepted, mut linked) = (0, 0);
    for _ in 0..total {
        let prog = link_program(&mut rng);
        if fixture.check(&prog, pt, &mut inputs) != Outcome::Accepted {
            continue;
        }
        accepted += 1;
        if !bounded_through_a_copy(&prog) {
            continue;
        }
        // The access (just before the exit) is reachable if moving it far out of the buffer
        // gets the program rejected.
        let mut far = prog.clone();
        let at = far.len() - 2;
        far[at].off = 1000;
        if matches!(fixture.check(&far, pt, &mut inputs), Outcome::Rejected(_)) {
            linked += 1;
        }
    }
    std::eprintln!("links: {accepted} of {total} accepted, {linked} bounded through a copy");
    assert!(
        accepted > total / 10 && accepted < total * 9 / 10,
        "{accepted} of {total} accepted"
    );
    // Most of the point: many accepted accesses are bounded only through a link.
    assert!(
        linked > accepted / 8,
        "{linked} of {accepted} through a copy"
    );
}
