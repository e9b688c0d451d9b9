//! Every engine returns the same r0 as the native build, for every program and input; and the
//! native builds agree with independent Rust references, so "the same" means "right".

use nanobpf_bench::{count_insns, input, run_native, tcp_packet, Bench, Engine, Input, Runner};

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
    for (bench, inp) in cases() {
        let buf = input(inp);
        let want = run_native(bench, &buf);
        let mut runner = Runner::new(bench, buf.clone()).unwrap();
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
            let got = runner.run(engine);
            assert_eq!(
                got,
                Ok(want),
                "{} on {inp:?}: {} disagrees with native",
                bench.name(),
                engine.label()
            );
        }
        assert_eq!(runner.buf, buf, "{} wrote to its input", bench.name());
    }
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
