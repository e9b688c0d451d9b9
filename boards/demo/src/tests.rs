//! Host tests: the expectation follows from the capture alone, and the real pipeline (device
//! verifier, interpreter, ring, runner, maps) meets it, verified and pre-verified alike.

use std::boxed::Box;
use std::collections::BTreeMap;
use std::vec::Vec;

use nanobpf_core::maps::MapTable;
use nanobpf_core::{helpers, Insn, Interpreter, NoPlatform};
use nanobpf_hal::Engine;

use super::*;

/// The firewall's decision for one frame, written from its description, not its code:
/// (verdict, source address if the frame counts as IPv4).
fn model(frame: &[u8]) -> (u64, Option<[u8; 4]>) {
    const DROP: u64 = 1;
    const PASS: u64 = 2;
    if frame.len() < 14 {
        return (DROP, None);
    }
    if frame[12..14] != [0x08, 0x00] {
        return (PASS, None);
    }
    if frame.len() < 34 {
        return (DROP, None);
    }
    let src: [u8; 4] = frame[26..30].try_into().unwrap();
    let blocked = gen::BLOCKLIST.iter().any(|&(len, prefix)| {
        let (a, p) = (u32::from_be_bytes(src), u32::from_be_bytes(prefix));
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        a & mask == p & mask
    });
    (if blocked { DROP } else { PASS }, Some(src))
}

/// The expectation the model derives from the embedded capture.
fn modelled() -> (u64, u64, u64, u64, Vec<SourceCount>) {
    let (mut frames, mut drop, mut pass, mut passed_bytes) = (0, 0, 0, 0);
    let mut sources: BTreeMap<[u8; 4], (u64, u64)> = BTreeMap::new();
    for f in Capture::parse(&CAPTURE).unwrap().frames() {
        let f = f.unwrap();
        frames += 1;
        let (verdict, src) = model(f);
        match verdict {
            1 => drop += 1,
            _ => {
                pass += 1;
                passed_bytes += f.len() as u64;
            }
        }
        if let Some(src) = src {
            let e = sources.entry(src).or_default();
            e.0 += 1;
            e.1 += f.len() as u64;
        }
    }
    let sources = sources
        .into_iter()
        .map(|(addr, (packets, bytes))| SourceCount {
            addr,
            packets,
            bytes,
        })
        .collect();
    (frames, drop, pass, passed_bytes, sources)
}

#[test]
fn expected_is_what_the_capture_implies() {
    let (frames, drop, pass, passed_bytes, sources) = modelled();
    std::println!("frames {frames} drop {drop} pass {pass} passed_bytes {passed_bytes}");
    for s in &sources {
        std::println!("    {s:?},");
    }
    assert_eq!(frames, gen::FRAMES as u64);
    assert_eq!(
        (EXPECTED.frames, EXPECTED.drop, EXPECTED.pass),
        (frames, drop, pass)
    );
    assert_eq!(EXPECTED.passed_bytes, passed_bytes);
    assert_eq!(EXPECTED.sources, &sources[..]);
}

#[test]
fn the_capture_exercises_every_path() {
    let mut kinds = [0u32; 5]; // runt, not IPv4, short IPv4, blocked, allowed
    for f in Capture::parse(&CAPTURE).unwrap().frames() {
        let f = f.unwrap();
        let i = match model(f) {
            (1, None) if f.len() < 14 => 0,
            (2, None) => 1,
            (1, None) => 2,
            (1, Some(_)) => 3,
            _ => 4,
        };
        kinds[i] += 1;
    }
    assert!(kinds.iter().all(|&k| k > 0), "{kinds:?}");
}

#[test]
fn the_capture_is_the_generators() {
    let mut rng = gen::XorShift(gen::SEED);
    let mut buf = [0u8; gen::MAX_FRAME];
    let mut n = 0;
    for f in Capture::parse(&CAPTURE).unwrap().frames() {
        let len = gen::frame(&mut rng, &mut buf);
        assert_eq!(f.unwrap(), &buf[..len]);
        n += 1;
    }
    assert_eq!(n, gen::FRAMES);
}

#[test]
fn a_truncated_capture_ends_with_an_error() {
    let cut = &CAPTURE[..CAPTURE.len() - 3];
    let last = Capture::parse(cut).unwrap().frames().last().unwrap();
    assert!(matches!(last, Err(CaptureError::Truncated(_))), "{last:?}");
    assert_eq!(
        Capture::parse(&CAPTURE[..10]).unwrap_err(),
        CaptureError::BadHeader
    );
}

fn counting_clock() -> impl FnMut() -> u64 {
    let mut t = 0;
    move || {
        t += 1;
        t
    }
}

#[test]
fn the_pipeline_meets_the_expectation() {
    let maps = Box::leak(Box::new(Maps::new()));
    maps.configure().unwrap();
    let table = maps.table();
    let mut ws: Box<Workspace> = Box::default();
    let mut insns = [Insn::default(); MAX_INSNS];
    let program = load(&mut insns, &mut ws).unwrap();
    assert!(
        matches_host(program.insns()),
        "device and host verifier differ"
    );
    let vm = Interpreter::new(helpers::standard(), &NoPlatform).with_maps(MapTable::new(&table));
    let mut ring = Box::new(Ring::new());
    let report = run(
        Engine::new(vm, program),
        maps,
        &mut ring,
        &mut counting_clock(),
    )
    .unwrap();
    std::println!("{report}");
    report.check(&EXPECTED).unwrap();
    // Two clock reads per poll, one tick apart.
    assert_eq!(report.ticks, gen::FRAMES.div_ceil(BATCH) as u64);
}

#[test]
fn the_preverified_program_meets_the_expectation_unverified() {
    let maps = Box::leak(Box::new(Maps::new()));
    maps.configure().unwrap();
    let table = maps.table();
    let mut insns = [Insn::default(); MAX_INSNS];
    let program = load_preverified(&mut insns).unwrap();
    let vm = Interpreter::new(helpers::standard(), &NoPlatform).with_maps(MapTable::new(&table));
    let mut ring = Box::new(Ring::new());
    let report = run(
        Engine::new(vm, program),
        maps,
        &mut ring,
        &mut counting_clock(),
    )
    .unwrap();
    report.check(&EXPECTED).unwrap();
}

#[test]
fn a_wrong_blocklist_is_caught() {
    // Without the blocklist the same replay passes blocked sources: check() must notice.
    let maps = Box::leak(Box::new(Maps::new()));
    let table = maps.table();
    let mut ws: Box<Workspace> = Box::default();
    let mut insns = [Insn::default(); MAX_INSNS];
    let program = load(&mut insns, &mut ws).unwrap();
    let vm = Interpreter::new(helpers::standard(), &NoPlatform).with_maps(MapTable::new(&table));
    let mut ring = Box::new(Ring::new());
    let report = run(
        Engine::new(vm, program),
        maps,
        &mut ring,
        &mut counting_clock(),
    )
    .unwrap();
    assert_eq!(report.check(&EXPECTED), Err(Mismatch::Counters));
}
