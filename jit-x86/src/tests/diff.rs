//! Differential property test: random valid programs ([`alu_program`]) give the same r0 (or
//! trap) and the same memory on the JIT as on the interpreter, with and without constant
//! blinding and budget, before any verifier. Some of them read big-endian fields byte by byte,
//! which the JIT merges into wider loads.

use super::*;
use crate::fuzzing::{alu_program, ALU_MEM as MEM};
use nanobpf_core::fuzzing::{Rng, Source};

#[test]
fn random_programs_agree_with_the_interpreter() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = std::time::Instant::now();
    let mut ran = 0;
    let mut traps = 0;
    let mut merged = 0;
    while ran < 300 && start.elapsed().as_millis() < 1500 {
        let p = alu_program(&mut rng);
        merged += u32::from(crate::emit::merges_any(&p));
        let mut mem = [0u8; MEM];
        for b in &mut mem {
            *b = rng.next_u64() as u8;
        }
        let opts = if rng.below(2) == 0 {
            JitOptions::default()
        } else {
            JitOptions::blinded(rng.next_u64() as u32)
        };
        let r = if rng.below(3) == 0 {
            let budget = rng.below(p.len() as u64 + 4);
            both_with(&p, &mem, &rt().with_budget(budget), &opts).0
        } else {
            both_with(&p, &mem, &rt(), &opts).0
        };
        traps += r.is_err() as u32;
        ran += 1;
    }
    assert!(ran >= 50, "only {ran} programs in the time box");
    assert!(traps > 0, "the budget never trapped");
    assert!(merged > 0, "no program had a run of byte loads to merge");
}
