//! Every target over a small deterministic corpus, and the committed seed corpora.

use super::*;
use std::path::Path;
use std::vec::Vec;

/// `n` inputs of up to `max` bytes from a seeded generator.
fn corpus(seed: u64, n: usize, max: u64) -> impl Iterator<Item = Vec<u8>> {
    let mut rng = Rng(seed);
    (0..n).map(move |_| {
        let len = rng.below(max + 1);
        (0..len).map(|_| rng.next_u64() as u8).collect()
    })
}

#[test]
fn decode_verify_smoke() {
    for input in corpus(1, 300, 600) {
        decode_verify(&input);
    }
    // Inputs made of plausible slots, so that some decode and reach the verifier.
    let mut rng = Rng(11);
    for _ in 0..300 {
        let mut input = std::vec![rng.below(4) as u8];
        for _ in 0..rng.below(24) {
            let op = rng.pick(&[0x07u8, 0xb7, 0x61, 0x63, 0x7a, 0x15, 0x25, 0x05, 0x85, 0xbf]);
            let regs = (rng.below(10) as u8) | ((rng.below(10) as u8) << 4);
            let off = (rng.below(16) as i16 - 8).to_le_bytes();
            let imm = (rng.below(64) as i32 - 8).to_le_bytes();
            input.extend([op, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3]]);
        }
        input.extend([0x95, 0, 0, 0, 0, 0, 0, 0]);
        decode_verify(&input);
    }
}

#[test]
fn verify_then_run_smoke() {
    for input in corpus(2, 400, 400) {
        verify_then_run(&input);
    }
}

#[test]
fn structured_programs_exercise_both_verdicts() {
    for flavor in [Flavor::Memory, Flavor::Xdp, Flavor::Socket] {
        let mut rng = Rng(0x51 + flavor as u64);
        let mut fixture = Fixture::new();
        let (mut ok, total) = (0, 300);
        for _ in 0..total {
            let prog = structured_program(flavor, &mut rng);
            if fixture.check(&prog, flavor.program_type(), &mut rng) == Outcome::Accepted {
                ok += 1;
            }
        }
        assert!(
            ok > total / 10 && ok < total,
            "{flavor:?}: {ok} of {total} accepted"
        );
    }
}

#[test]
fn maps_ops_smoke() {
    for input in corpus(3, 200, 2000) {
        maps_ops(&input);
    }
}

#[test]
fn asm_roundtrip_smoke() {
    for input in corpus(4, 300, 400) {
        asm_roundtrip(&input);
    }
    let text = "mov %r0, 1\nlddw %r1, 0x1122334455667788\njeq %r0, 1, +1\nexit\nexit\n";
    asm_roundtrip(&[&[0u8][..], text.as_bytes()].concat());
}

/// The committed seed corpora of the fuzz package still pass their targets.
#[test]
fn seed_corpora_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 4] = [
        ("decode_verify", decode_verify),
        ("verify_then_run", verify_then_run),
        ("maps_ops", maps_ops),
        ("asm_roundtrip", asm_roundtrip),
    ];
    for (name, target) in targets {
        let Ok(dir) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in dir.flatten() {
            let data = std::fs::read(entry.path()).unwrap();
            target(&data);
        }
    }
}
