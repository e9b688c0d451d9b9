//! Every engine returns the same r0 as the native build, for every program and input; and the
//! native builds agree with independent Rust references, so "the same" means "right".
//!
//! The maps program changes its map, so it is compared over a sequence of runs from an empty
//! map on every engine (each engine has its own map), and its native build against a model of
//! the flow counter over a `std` hash map.

use nanobpf_bench::{
    count_insns, flow_batch, flow_map, input, run_native, tcp_packet, Bench, Engine, Input, Runner,
    FLOW_KEY, FLOW_RECORD, FLOW_VALUE, SHORT_FLOWS, STABLE_FLOWS,
};
use std::collections::HashMap;
use std::sync::Mutex;

/// The flow maps are process-wide statics: tests that run the maps program take turns.
static FLOW_MAPS: Mutex<()> = Mutex::new(());

/// Runs of the maps program compared per engine: the first (every long-lived flow is new)
/// and the steady state after it.
const MAP_RUNS: usize = 4;

/// The programs checked in every build; the full xorshift (1e6 rounds) only with optimisations.
fn cases() -> Vec<(Bench, Input)> {
    let mut v = vec![
        (Bench::Nop, Input::Packet64),
        (Bench::Parse, Input::Packet64),
        (Bench::Parse, Input::Packet1500),
        (Bench::Checksum, Input::Packet64),
        (Bench::Checksum, Input::Packet1500),
        (Bench::Fnv1a, Input::Packet64),
        (Bench::Fnv1a, Input::Packet1500),
        (Bench::XorshiftShort, Input::Packet64),
        (Bench::State, Input::Packet64),
        (Bench::State, Input::Packet1500),
        (Bench::Maps, Input::Flows),
    ];
    if !cfg!(debug_assertions) {
        v.push((Bench::Xorshift, Input::Packet64));
    }
    v
}

/// Programs the verifier cannot prove safe yet, though they are. None today: every (program,
/// input) pair must verify, and a new entry here must say why the verifier cannot prove it.
/// The verified engines must reject exactly these, so that this list shrinks when the
/// verifier learns more.
const VERIFIER_GAPS: &[(&str, Input)] = &[];

fn verifies(engine: Engine) -> bool {
    matches!(engine, Engine::Nanobpf | Engine::NanobpfJit)
}

#[test]
fn every_engine_agrees_with_native() {
    let _maps = FLOW_MAPS.lock().unwrap_or_else(|e| e.into_inner());
    for (bench, inp) in cases() {
        let buf = input(inp);
        let mut runner = Runner::new(bench, buf.clone()).unwrap();
        // From an empty map (`Runner::new` empties them), a sequence of runs per engine.
        let runs = if bench == Bench::Maps { MAP_RUNS } else { 1 };
        let want: Vec<u64> = (0..runs).map(|_| run_native(bench, &runner.buf)).collect();
        let gap = VERIFIER_GAPS.contains(&(bench.name(), inp));
        assert_eq!(
            runner.verified.is_err(),
            gap,
            "{} on {inp:?}: {:?}",
            bench.name(),
            runner.verified.as_ref().err()
        );
        for &engine in Engine::available() {
            if gap && verifies(engine) {
                continue;
            }
            nanobpf_bench::clear_flow_map(engine);
            let got: Result<Vec<u64>, String> = (0..runs).map(|_| runner.run(engine)).collect();
            assert_eq!(
                got.as_ref(),
                Ok(&want),
                "{} on {inp:?}: {} disagrees with native",
                bench.name(),
                engine.label()
            );
            if bench == Bench::Maps {
                assert_flow_map(engine, runs as u64);
            }
        }
        assert_eq!(runner.buf, buf, "{} wrote to its input", bench.name());
    }
}

/// `engine`'s flow map after `runs` runs of the maps program on [`flow_batch`] from an empty
/// map: exactly the long-lived flows, each with `runs` packets of its length (the short-lived
/// ones were deleted by their FIN record).
fn assert_flow_map(engine: Engine, runs: u64) {
    let map = flow_map(engine);
    assert_eq!(map.len(), STABLE_FLOWS as usize, "{}", engine.label());
    for rec in flow_batch().chunks_exact(FLOW_RECORD) {
        let key = &rec[..FLOW_KEY];
        let mut value = [0u8; FLOW_VALUE];
        let found = nanobpf_core::Map::lookup_copy(map, key, &mut value);
        let short = u16::from_ne_bytes([rec[10], rec[11]]) == 443;
        if short {
            assert!(found.is_err(), "{}: short-lived flow kept", engine.label());
            continue;
        }
        found.unwrap();
        let len = u64::from(u16::from_ne_bytes([rec[12], rec[13]]));
        let packets = u64::from_ne_bytes(value[..8].try_into().unwrap());
        let bytes = u64::from_ne_bytes(value[8..].try_into().unwrap());
        assert_eq!((packets, bytes), (runs, runs * len), "{}", engine.label());
    }
}

/// The flow counter of `maps.c`, over a `std` hash map: returns what the program returns.
fn flow_counter(map: &mut HashMap<[u8; FLOW_KEY], (u64, u64)>, batch: &[u8]) -> u64 {
    let (mut hits, mut seen, mut n) = (0u64, 0u64, 0u64);
    for rec in batch.chunks_exact(FLOW_RECORD).take(64) {
        n += 1;
        let key: [u8; FLOW_KEY] = rec[..FLOW_KEY].try_into().unwrap();
        let len = u64::from(u16::from_ne_bytes([rec[12], rec[13]]));
        match map.get_mut(&key) {
            Some((packets, bytes)) => {
                hits += 1;
                seen = seen.wrapping_add(*packets);
                *packets += 1;
                *bytes += len;
                if rec[14] & 1 != 0 {
                    map.remove(&key);
                }
            }
            None => {
                map.insert(key, (1, len));
            }
        }
    }
    hits | (n - hits) << 16 | (seen & 0xffff_ffff) << 32
}

#[test]
fn native_flow_counter_matches_the_model() {
    let _maps = FLOW_MAPS.lock().unwrap_or_else(|e| e.into_inner());
    let batch = flow_batch();
    let native = flow_map(Engine::Native);
    // Whole batches: the first run inserts every flow; from the second on, the long-lived
    // flows hit and each short-lived flow is inserted (a miss) and deleted (a hit).
    nanobpf_bench::clear_flow_map(Engine::Native);
    let mut model = HashMap::new();
    for run in 0..6u64 {
        let want = flow_counter(&mut model, &batch);
        assert_eq!(run_native(Bench::Maps, &batch), want, "run {run}");
        let (hits, misses) = (want & 0xffff, (want >> 16) & 0xffff);
        let (stable, short) = (u64::from(STABLE_FLOWS), u64::from(SHORT_FLOWS));
        if run == 0 {
            assert_eq!((hits, misses), (short, stable + short));
        } else {
            assert_eq!((hits, misses), (stable + short, short));
        }
        assert_eq!(native.len(), model.len());
    }
    // A batch cut inside a record: the program stops at the last whole record.
    nanobpf_bench::clear_flow_map(Engine::Native);
    let mut model = HashMap::new();
    let cut = &batch[..25 * FLOW_RECORD + 9];
    for run in 0..3 {
        let want = flow_counter(&mut model, &batch[..25 * FLOW_RECORD]);
        assert_eq!(run_native(Bench::Maps, cut), want, "cut, run {run}");
    }
    assert_eq!(native.len(), model.len());
    nanobpf_bench::clear_flow_map(Engine::Native);
    assert!(native.is_empty());
}

#[test]
fn native_builds_match_rust_references() {
    let p1500 = input(Input::Packet1500);
    let p64 = input(Input::Packet64);

    // RFC 1071 over the first 1500 bytes; 0 for a shorter buffer.
    let mut sum: u64 = p1500
        .chunks_exact(2)
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    assert_eq!(run_native(Bench::Checksum, &p1500), !sum & 0xffff);
    assert_eq!(run_native(Bench::Checksum, &p64), 0);

    let fnv = |b: &[u8]| {
        b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &c| {
            (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
        })
    };
    assert_eq!(run_native(Bench::Fnv1a, &p1500), fnv(&p1500));
    assert_eq!(run_native(Bench::Fnv1a, &p64), fnv(&p64));

    let xorshift = |len: u64, rounds: u32| {
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ len;
        for _ in 0..rounds {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x
    };
    assert_eq!(run_native(Bench::XorshiftShort, &p64), xorshift(64, 1000));

    // 10.0.0.1:40000 -> 10.0.0.2:80, PSH|ACK: class 5 (TCP to a port below 1024).
    let hash = {
        let h = (0x0a00_0001u32 ^ 0x0a00_0002) ^ ((40000 << 16) | 80);
        u64::from((h ^ (h >> 16)) & 0xffff)
    };
    assert_eq!(run_native(Bench::Parse, &p64), 5 | hash << 8);
    assert_eq!(run_native(Bench::Parse, &p1500), 5 | hash << 8);
    // A truncated frame and a non-IPv4 frame are rejected.
    assert_eq!(run_native(Bench::Parse, &p64[..40]), 0);
    let mut arp = tcp_packet(64);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(run_native(Bench::Parse, &arp), 0);

    // The tokenizer finds every kind of token in the text payload.
    let counts = run_native(Bench::State, &p1500);
    for field in 0..4 {
        assert!(
            (counts >> (16 * field)) & 0xffff > 0,
            "field {field} of {counts:#x}"
        );
    }
}

/// The maps program's count is that of a run in the steady state, whatever state the
/// bisection's cut runs leave behind: the same on every call, and exact.
#[test]
fn instruction_count_of_the_maps_program_is_stable() {
    let _maps = FLOW_MAPS.lock().unwrap_or_else(|e| e.into_inner());
    let mut buf = input(Input::Flows);
    let mut runner = Runner::new(Bench::Maps, buf.clone()).unwrap();
    let n = count_insns(&mut runner.checked, &mut buf).unwrap();
    assert_eq!(count_insns(&mut runner.checked, &mut buf), Ok(n));
    // At least one instruction per record and per helper call.
    assert!(n > 64 * 3, "{n}");
    runner.checked.run(&mut buf).unwrap();
    assert!(runner.checked.run_with_budget(&mut buf, n).is_ok());
    runner.checked.run(&mut buf).unwrap();
    assert!(runner.checked.run_with_budget(&mut buf, n - 1).is_err());
    runner.reset_maps();
}

#[test]
fn instruction_count_is_exact() {
    let mut buf = input(Input::Packet64);
    let mut runner = Runner::new(Bench::XorshiftShort, buf.clone()).unwrap();
    let n = count_insns(&mut runner.checked, &mut buf).unwrap();
    // The loop body is 12 instructions; the prologue and the exit add a handful.
    assert!((12_000..12_020).contains(&n), "{n}");
    assert!(runner.checked.run_with_budget(&mut buf, n).is_ok());
    assert!(runner.checked.run_with_budget(&mut buf, n - 1).is_err());
    let nop = count_insns(
        &mut Runner::new(Bench::Nop, buf.clone()).unwrap().checked,
        &mut buf,
    );
    assert_eq!(nop, Ok(2));
}
