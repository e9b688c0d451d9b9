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

/// The helpers that move an XDP frame (`xdp_adjust_head`, `adjust_meta`, `adjust_tail`).
const FRAME_MOVERS: [u32; 3] = [44, 54, 65];

/// The oracle would catch a verifier that forgot that the helpers moving an XDP frame make
/// every packet pointer stale. Such a verifier is simulated: each structured XDP program is
/// verified with those calls renamed to twins (same prototype and code, ids the verifier does
/// not know to move the frame), and its output, with the real ids put back, goes through the
/// run oracle. Some must be findings, traps out of bounds at a stale access inside the frame
/// buffer, and the real verifier must reject each of those programs.
#[test]
fn the_oracle_catches_a_verifier_that_keeps_stale_packet_pointers() {
    use crate::helpers::{standard, STANDARD};
    use crate::host::{Helper, HelperTable};
    use crate::isa::opcode::op;
    use crate::verifier::{verify, DefaultWorkspace, VerifyTarget};
    const TWIN: u32 = 200;
    let twins: Vec<Helper> = STANDARD
        .iter()
        .copied()
        .chain(FRAME_MOVERS.map(|id| Helper {
            id: id + TWIN,
            ..*standard().get(id).unwrap()
        }))
        .collect();
    let rename = |insns: &mut [crate::Insn], from: u32, to: u32| {
        for insn in insns.iter_mut() {
            let moves = FRAME_MOVERS.iter().any(|&m| insn.imm as u32 == m + from);
            if insn.opcode == op::CALL && insn.src() == 0 && moves {
                insn.imm = (insn.imm as u32 - from + to) as i32;
            }
        }
    };
    let defs = FuzzMaps::new().defs();
    let pt = crate::host::ProgramType::Xdp;
    let forgetful = VerifyTarget {
        budget: VERIFY_BUDGET,
        ..VerifyTarget::new(
            pt,
            HelperTable::new(&twins),
            crate::maps::MapTable::definitions(&defs),
        )
    };
    let real = VerifyTarget {
        budget: VERIFY_BUDGET,
        ..VerifyTarget::new(pt, standard(), crate::maps::MapTable::definitions(&defs))
    };
    let mut ws = std::boxed::Box::new(DefaultWorkspace::new());
    let mut fixture = Fixture::new();
    fixture.runs = 4;
    let mut rng = Rng(0x57a1e);
    let (mut moved, mut caught) = (0, 0);
    // Deterministic (seeded), and about a second in a debug build.
    for _ in 0..20_000 {
        if caught == 3 {
            break;
        }
        let prog = structured_program(Flavor::Xdp, &mut rng);
        let mut insns = prog.clone();
        rename(&mut insns, 0, TWIN);
        if insns == prog {
            continue;
        }
        let Ok(v) = verify(&mut insns, &forgetful, &mut ws) else {
            continue;
        };
        moved += 1;
        let mut out = v.insns().to_vec();
        rename(&mut out, TWIN, 0);
        let accepted = crate::VerifiedProgram::assume_verified(
            &out,
            pt,
            v.stack_depth(),
            standard(),
            v.maps(),
        );
        if let Some(finding) = fixture.finding(&accepted, &mut rng) {
            assert!(finding.contains("OutOfBounds"), "{finding}");
            let mut again = prog.clone();
            assert!(
                verify(&mut again, &real, &mut ws).is_err(),
                "the real verifier accepts a stale packet access:\n{}",
                super::oracle::listing(&prog)
            );
            caught += 1;
        }
    }
    assert!(
        caught == 3,
        "{caught} stale accesses caught in {moved} programs that move the frame"
    );
}

/// Runs structured programs of every flavor in turn, from a generator seeded with `seed`, on
/// a fixture whose verifier has `rule` lifted, until the oracle has found `want` findings
/// whose message contains `kind`, or `limit` programs; every program with a finding (of any
/// kind) must be rejected by the real verifier. Returns the programs generated and the
/// findings of the kind.
fn hunt(rule: crate::verifier::Rule, kind: &str, seed: u64, want: u32, limit: u32) -> (u32, u32) {
    let start = std::time::Instant::now();
    let mut lifted = Fixture::new();
    lifted.lift_rule(rule, true);
    let mut real = Fixture::new();
    let mut rng = Rng(seed);
    let flavors = [Flavor::Memory, Flavor::Xdp, Flavor::Socket];
    let (mut n, mut found) = (0, 0);
    while n < limit && found < want {
        let flavor = flavors[n as usize % 3];
        n += 1;
        let prog = structured_program(flavor, &mut rng);
        let pt = flavor.program_type();
        let Err(finding) = lifted.try_check(&prog, pt, &mut rng) else {
            continue;
        };
        let verdict = real.try_check(&prog, pt, &mut rng);
        assert!(
            matches!(verdict, Ok(Outcome::Rejected(_))),
            "{rule:?} lifted: the real verifier does not reject ({verdict:?}) a program with a \
             finding: {finding}\n{}",
            super::oracle::listing(&prog)
        );
        if finding.contains(kind) {
            found += 1;
        }
    }
    std::eprintln!(
        "{rule:?} lifted: {found} findings \"{kind}\" in {n} programs, {:.2?}",
        start.elapsed()
    );
    (n, found)
}

/// With [`Rule::PointerDifference`](crate::verifier::Rule) lifted, the difference of two
/// array element pointers is a wrong constant: scaled and added back, it reaches out of bounds.
#[test]
fn the_generator_finds_a_lifted_pointer_difference_rule() {
    let (n, found) = hunt(
        crate::verifier::Rule::PointerDifference,
        "OutOfBounds",
        0xd1ff,
        3,
        200_000,
    );
    assert!(found == 3, "{found} in {n} programs");
}

/// With [`Rule::InvalidatedSpill`](crate::verifier::Rule) lifted, a narrow fill of a spilled
/// packet or record pointer after the helper that invalidated it is a wrong constant.
#[test]
fn the_generator_finds_a_lifted_invalidated_spill_rule() {
    let (n, found) = hunt(
        crate::verifier::Rule::InvalidatedSpill,
        "OutOfBounds",
        0x5b111,
        3,
        200_000,
    );
    assert!(found == 3, "{found} in {n} programs");
}

/// With [`Rule::LdAbsWithReference`](crate::verifier::Rule) lifted, a legacy packet load
/// outside the packet ends the program with a ring buffer record still reserved.
#[test]
fn the_generator_finds_a_lifted_ld_abs_with_reference_rule() {
    let (n, found) = hunt(
        crate::verifier::Rule::LdAbsWithReference,
        "still reserved",
        0x1dab5,
        3,
        200_000,
    );
    assert!(found == 3, "{found} in {n} programs");
}

/// With [`Rule::PointerInHelperMemory`](crate::verifier::Rule) lifted, `map_update_elem` or
/// `ringbuf_output` copies a spilled pointer, a host address, into a map.
#[test]
fn the_generator_finds_a_lifted_pointer_in_helper_memory_rule() {
    let (n, found) = hunt(
        crate::verifier::Rule::PointerInHelperMemory,
        "host address",
        0x4e1b,
        3,
        200_000,
    );
    assert!(found == 3, "{found} in {n} programs");
}

/// With [`Rule::ReadOnlyMap`](crate::verifier::Rule) lifted, a program changes the read-only
/// map (`BPF_F_RDONLY_PROG`).
#[test]
fn the_generator_finds_a_lifted_read_only_map_rule() {
    let (n, found) = hunt(
        crate::verifier::Rule::ReadOnlyMap,
        "read-only map",
        0x20da7a,
        3,
        200_000,
    );
    assert!(found == 3, "{found} in {n} programs");
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

/// The example objects: from `examples/build`, or from `NANOBPF_EXAMPLES_DIR`.
fn example_objects() -> Vec<Vec<u8>> {
    let dir = std::env::var("NANOBPF_EXAMPLES_DIR")
        .unwrap_or_else(|_| std::format!("{}/../examples/build", env!("CARGO_MANIFEST_DIR")));
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    paths.sort();
    let objects: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let legacy: Vec<Vec<u8>> = objects.iter().flat_map(|o| legacy_variants(o)).collect();
    objects.into_iter().chain(legacy).collect()
}

/// `obj` as older clang writes objects (every function a global symbol without a type), and
/// with no symbol naming a function (every program a whole section), so that the loader's legacy
/// paths are exercised and mutated too. Reads the ELF64 headers directly.
fn legacy_variants(obj: &[u8]) -> Vec<Vec<u8>> {
    let u16_at = |o: usize| {
        obj.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        obj.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    let (Some(shoff), Some(shentsize), Some(shnum)) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c))
    else {
        return Vec::new();
    };
    let symtab = (0..shnum).find_map(|i| {
        let h = shoff + i * shentsize;
        let ty = obj.get(h + 4..h + 8)?;
        (ty == [2, 0, 0, 0]).then(|| Some((u64_at(h + 0x18)?, u64_at(h + 0x20)?)))?
    });
    let Some((off, size)) = symtab else {
        return Vec::new();
    };
    let (mut notype, mut local) = (obj.to_vec(), obj.to_vec());
    for sym in (off..off + size).step_by(24) {
        let Some(&info) = obj.get(sym + 4) else {
            break;
        };
        if info & 0xf == 2 {
            notype[sym + 4] = info & 0xf0; // STT_FUNC -> STT_NOTYPE
        }
        if info & 0xf == 2 || (info & 0xf == 0 && info >> 4 != 0) {
            local[sym + 4] = 0; // functions and global labels -> local labels
        }
    }
    std::vec![notype, local]
}

/// `obj` with a few deterministic mutations: bytes flipped, fields set to edge values (mostly
/// in the ELF header and the section headers, where offsets and sizes live), or truncated.
fn mutate(obj: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut m = obj.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = m.len() as u64;
        if len < 8 {
            break;
        }
        // The section header table is at the end of clang's objects.
        let at = match rng.below(3) {
            0 => rng.below(64.min(len)),
            1 => len - 1 - rng.below(1024.min(len)),
            _ => rng.below(len),
        } as usize;
        match rng.below(5) {
            0 => m[at] ^= 1 << rng.below(8),
            1 => m[at] = rng.next_u64() as u8,
            2 | 3 => {
                let width = rng.pick(&[2usize, 4, 8]);
                let v = rng.pick(&[0u64, 1, 7, 8, 0x40, 0xff, 0xffff, 0x7fff_ffff, u64::MAX]);
                let end = (at + width).min(m.len());
                m[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            }
            _ => m.truncate(at),
        }
    }
    m
}

#[test]
fn elf_load_smoke() {
    let objects = example_objects();
    assert!(objects.len() >= 3, "example objects missing");
    let mut loaded = 0;
    for obj in &objects {
        elf_load(obj);
        loaded += crate::elf::Object::parse(obj).is_ok() as u32;
    }
    assert_eq!(
        loaded as usize,
        objects.len(),
        "an example object does not parse"
    );
    // The legacy variants reach the loader's older ways of finding programs.
    for origin in [
        crate::elf::ProgramOrigin::LegacySymbol,
        crate::elf::ProgramOrigin::Section,
    ] {
        let found = objects.iter().any(|o| {
            crate::elf::Object::parse(o).is_ok_and(|obj| obj.programs().any(|p| p.origin == origin))
        });
        assert!(found, "no example object has a program found as {origin:?}");
    }
    let mut rng = Rng(0xe1f);
    let (mut parsed, total) = (0, 100);
    for obj in &objects {
        for _ in 0..total {
            let m = mutate(obj, &mut rng);
            parsed += crate::elf::Object::parse(&m).is_ok() as u32;
            elf_load(&m);
        }
    }
    // Some mutations must get past the parser, or the loader is not exercised.
    let all = total * objects.len() as u32;
    assert!(
        parsed > all / 20 && parsed < all,
        "{parsed} of {all} parsed"
    );
}

/// The committed seed corpora of the fuzz package still pass their targets.
#[test]
fn seed_corpora_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 5] = [
        ("decode_verify", decode_verify),
        ("elf_load", elf_load),
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

#[cfg(feature = "arena")]
#[test]
fn slot_load_smoke() {
    // Arena operations from random bytes.
    let mut rng = Rng(0x5107);
    let (mut created, mut refused, mut carried, mut loaded) = (0, 0, 0, 0);
    for _ in 0..300 {
        let mut data: Vec<u8> = (0..256).map(|_| rng.below(256) as u8).collect();
        data[0] = 0;
        let e = slot_load(&data);
        (created, refused, carried) = (
            created + e.created,
            refused + e.refused,
            carried + e.carried,
        );
    }
    // The example objects, then mutated ones, through a slot.
    for obj in &example_objects() {
        let mut input = std::vec![1u8];
        input.extend_from_slice(obj);
        loaded += slot_load(&input).loaded;
        for _ in 0..3 {
            let mut input = std::vec![1u8];
            input.extend_from_slice(&mutate(obj, &mut rng));
            slot_load(&input);
        }
    }
    std::println!("created {created}, refused {refused}, carried {carried}, loaded {loaded}");
    assert!(
        created > 100 && refused > 100 && carried > 10,
        "the generator misses paths"
    );
    assert!(loaded >= 10, "{loaded} example programs loaded into a slot");
}
