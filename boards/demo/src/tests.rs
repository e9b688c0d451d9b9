//! Host tests: the expectation follows from the capture alone, and the real pipeline (device
//! verifier, interpreter, ring, runner, maps) meets it, verified and pre-verified alike.

use std::boxed::Box;
use std::collections::BTreeMap;
use std::vec::Vec;

use nanobpf_core::MapTable;
use nanobpf_core::{helpers, Insn, Interpreter, NoPlatform};
use nanobpf_hal::Engine;

use super::*;

const DROP: u64 = 1;
const PASS: u64 = 2;

/// The firewall's decision for one frame, written from `examples/xdp_firewall.c`'s description,
/// not from its code, with `non_ip_verdict` its configured verdict for frames that are not IPv4:
/// (verdict, source address if the frame counts as IPv4).
fn model(frame: &[u8], non_ip_verdict: u64) -> (u64, Option<[u8; 4]>) {
    if frame.len() < 14 {
        return (DROP, None);
    }
    if frame[12..14] != [0x08, 0x00] {
        return (non_ip_verdict, None);
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

/// The expectation the model derives from the embedded capture, with the object's own
/// configuration (`non_ip_verdict` is `XDP_PASS`).
fn modelled() -> Modelled {
    modelled_with(PASS)
}

/// The expectation with `non_ip_verdict` configured.
fn modelled_with(non_ip_verdict: u64) -> Modelled {
    let (mut frames, mut drop, mut pass, mut passed_bytes, mut ipv4) = (0, 0, 0, 0, 0);
    let mut sources: BTreeMap<[u8; 4], (u64, u64)> = BTreeMap::new();
    for f in Capture::parse(&CAPTURE).unwrap().frames() {
        let f = f.unwrap();
        frames += 1;
        let (verdict, src) = model(f, non_ip_verdict);
        match verdict {
            DROP => drop += 1,
            _ => {
                pass += 1;
                passed_bytes += f.len() as u64;
            }
        }
        if let Some(src) = src {
            ipv4 += 1;
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
    Modelled {
        frames,
        drop,
        pass,
        ipv4,
        passed_bytes,
        sources,
    }
}

struct Modelled {
    frames: u64,
    drop: u64,
    pass: u64,
    ipv4: u64,
    passed_bytes: u64,
    sources: Vec<SourceCount>,
}

#[test]
fn expected_is_what_the_capture_implies() {
    let m = modelled();
    std::println!(
        "frames {} drop {} pass {} ipv4 {} passed_bytes {}",
        m.frames,
        m.drop,
        m.pass,
        m.ipv4,
        m.passed_bytes
    );
    for s in &m.sources {
        std::println!("    {s:?},");
    }
    assert_eq!(m.frames, gen::FRAMES as u64);
    assert_eq!(
        (EXPECTED.frames, EXPECTED.drop, EXPECTED.pass, EXPECTED.ipv4),
        (m.frames, m.drop, m.pass, m.ipv4)
    );
    assert_eq!(EXPECTED.passed_bytes, m.passed_bytes);
    assert_eq!(EXPECTED.sources, &m.sources[..]);
}

#[test]
fn expected_without_runts_follows() {
    let runts = Capture::parse(&CAPTURE)
        .unwrap()
        .frames()
        .filter(|f| f.unwrap().len() < 14)
        .count() as u64;
    std::println!("runts {runts}");
    assert_eq!(RUNTS, runts);
    // The model over the frames a device delivers.
    let (mut frames, mut drop, mut pass) = (0, 0, 0);
    for f in Capture::parse(&CAPTURE).unwrap().frames() {
        let f = f.unwrap();
        if f.len() < 14 {
            continue;
        }
        frames += 1;
        match model(f, PASS).0 {
            DROP => drop += 1,
            _ => pass += 1,
        }
    }
    let want = EXPECTED_WITHOUT_RUNTS;
    assert_eq!((want.frames, want.drop, want.pass), (frames, drop, pass));
    assert_eq!(
        (want.ipv4, want.passed_bytes),
        (EXPECTED.ipv4, EXPECTED.passed_bytes)
    );
}

#[test]
fn the_capture_exercises_every_path() {
    let mut kinds = [0u32; 5]; // runt, not IPv4, short IPv4, blocked, allowed
    for f in Capture::parse(&CAPTURE).unwrap().frames() {
        let f = f.unwrap();
        let i = match model(f, PASS) {
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
    let table = maps.table();
    let mut ws: Box<Workspace> = Box::default();
    let mut insns = [Insn::default(); MAX_INSNS];
    let program = load(maps, &table, &mut insns, &mut ws).unwrap();
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
    maps.bind_preverified().unwrap();
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

/// Loads the firewall with fresh maps, lets `tweak` change them, replays the capture.
fn replay_with(tweak: impl FnOnce(&Maps)) -> Report {
    let maps = Box::leak(Box::new(Maps::new()));
    let table = maps.table();
    let mut ws: Box<Workspace> = Box::default();
    let mut insns = [Insn::default(); MAX_INSNS];
    let program = load(maps, &table, &mut insns, &mut ws).unwrap();
    tweak(maps);
    let vm = Interpreter::new(helpers::standard(), &NoPlatform).with_maps(MapTable::new(&table));
    let mut ring = Box::new(Ring::new());
    run(
        Engine::new(vm, program),
        maps,
        &mut ring,
        &mut counting_clock(),
    )
    .unwrap()
}

#[test]
fn a_wrong_blocklist_is_caught() {
    // Without the blocklist the same replay passes blocked sources: check() must notice.
    let report = replay_with(|maps| {
        for (prefix_len, addr) in gen::BLOCKLIST {
            let mut key = prefix_len.to_ne_bytes().to_vec();
            key.extend_from_slice(&addr);
            maps.blocklist.delete(&key).unwrap();
        }
    });
    assert_eq!(report.check(&EXPECTED), Err(Mismatch::Counters));
    assert!(report.counters.drop < EXPECTED.drop);
}

#[test]
fn the_program_reads_its_configuration_from_rodata() {
    // The operator's configuration `{count_sources: 0, non_ip_verdict: XDP_DROP}`: frames that
    // are not IPv4 are dropped now, and no source is counted.
    let report = replay_with(|maps| {
        let config = [0u32.to_ne_bytes(), 1u32.to_ne_bytes()].concat();
        maps.rodata.update(&0u32.to_ne_bytes(), &config, 0).unwrap();
    });
    let m = modelled_with(DROP);
    assert!(m.pass < EXPECTED.pass);
    assert_eq!(report.n_sources, 0);
    assert_eq!(
        (report.counters.pass, report.counters.drop),
        (m.pass, m.drop)
    );
    assert_eq!(report.verdicts, [0, m.drop, m.pass, 0, 0]);
    assert_eq!(report.globals, [m.frames, m.ipv4]);
}

#[test]
fn an_object_with_other_maps_is_refused() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/build/xdp_pass.o"
    );
    let bytes = std::fs::read(path).unwrap();
    let obj = nanobpf_core::Object::parse(&bytes).unwrap();
    let err = Maps::new().bind(&obj).unwrap_err();
    assert!(matches!(err, DemoError::MapCount { found: 0 }), "{err}");
}

#[cfg(feature = "loader")]
mod loader_tests {
    use super::*;

    /// The second program's decision for one frame, from `examples/xdp_proto_count.c`'s
    /// description: (verdict, IP protocol if counted).
    fn model_proto_count(frame: &[u8]) -> (u64, Option<u8>) {
        if frame.len() < 14 {
            return (DROP, None);
        }
        if frame[12..14] != [0x08, 0x00] {
            return (PASS, None);
        }
        if frame.len() < 34 {
            return (DROP, None);
        }
        (PASS, Some(frame[23]))
    }

    /// The two-program replay as the models see it.
    fn modelled_loader() -> loader::LoaderReport {
        let mut r = loader::LoaderReport::default();
        let mut sources = std::collections::BTreeSet::new();
        let mut verdicts = [0u64; 5];
        for (i, f) in Capture::parse(&CAPTURE).unwrap().frames().enumerate() {
            let f = f.unwrap();
            let first = i < loader::SPLIT;
            let verdict = if first {
                let (v, src) = model(f, PASS);
                sources.extend(src);
                v
            } else {
                let (v, proto) = model_proto_count(f);
                match proto {
                    Some(1) => r.protocols[0] += 1,
                    Some(6) => r.protocols[1] += 1,
                    Some(17) => r.protocols[2] += 1,
                    _ => {}
                }
                v
            };
            let phase = if first { &mut r.first } else { &mut r.second };
            phase.frames += 1;
            match verdict {
                DROP => phase.drop += 1,
                _ => phase.pass += 1,
            }
            verdicts[verdict as usize] += 1;
            if i + 1 == loader::SPLIT {
                r.verdicts_first = verdicts;
            }
        }
        r.verdicts_end = verdicts;
        r.sources = sources.len() as u64;
        r
    }

    #[test]
    fn expected_loader_is_what_the_capture_implies() {
        let m = modelled_loader();
        std::println!("{m:?}");
        let want = loader::EXPECTED_LOADER;
        assert_eq!(
            (
                m.first,
                m.second,
                m.verdicts_first,
                m.verdicts_end,
                m.protocols,
                m.sources
            ),
            (
                want.first,
                want.second,
                want.verdicts_first,
                want.verdicts_end,
                want.protocols,
                want.sources
            )
        );
        assert!(m.protocols[1] > 0 && m.protocols[2] > 0 && m.first.drop > 0 && m.second.drop > 0);
    }

    #[test]
    fn the_loader_meets_the_expectation() {
        let storage: &'static loader::Storage = Box::leak(Box::new(loader::Storage::new()));
        let slot: &'static loader::Slot =
            Box::leak(Box::new(loader::Slot::new(helpers::standard())));
        let mut arena = loader::Arena::new(storage.words());
        let mut ws: Box<Workspace> = Box::default();
        let mut ring = Box::new(Ring::new());
        let report = loader::run(slot, &mut arena, &mut ws, &mut ring, &NoPlatform).unwrap();
        std::println!("{report}");
        report.check(&loader::EXPECTED_LOADER).unwrap();
        assert_eq!(report.arena_free[0], storage.words().len() * 8);
    }
}
