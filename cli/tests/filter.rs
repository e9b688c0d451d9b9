//! tcpdump expressions over the sample capture: the packets nanobpf's converted filter keeps
//! are exactly those libpcap's own engine keeps, expression by expression.
//!
//! The converter's tests run on committed classic programs (`data/filters.ddd`: 76
//! expressions as libpcap compiled them, with the packets libpcap kept; `data/regenerate.sh`
//! writes it), so they need no libpcap. The tests that need libpcap itself (loaded at run
//! time) say so and pass without it, unless `NANOBPF_REQUIRE_LIBPCAP=1` (CI) makes its
//! absence a failure.

use nanobpf_cli::capture::read_capture;
use nanobpf_cli::filter::{self, Capfile, Matcher};
use nanobpf_cli::libpcap::Libpcap;
use nanobpf_core::SockFilter;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pcap/sample.pcap")
}

fn sample() -> Capfile {
    read_capture(&sample_path()).expect("the sample capture reads")
}

/// Whether libpcap is here; when it is not, prints why the test is skipped, or fails under
/// `NANOBPF_REQUIRE_LIBPCAP=1`.
fn have_libpcap(test: &str) -> bool {
    match Libpcap::get() {
        Ok(_) => true,
        Err(e) if Libpcap::required() => panic!("{test}: NANOBPF_REQUIRE_LIBPCAP=1 but {e}"),
        Err(e) => {
            // Straight to stderr, past the harness's capture, so the skip is seen.
            let _ = writeln!(std::io::stderr(), "skipped {test}: {e}");
            false
        }
    }
}

/// One expression of `data/filters.ddd`: libpcap's program and the packets it kept.
struct Case {
    expr: String,
    keeps: Vec<usize>,
    ddd: String,
    classic: Vec<SockFilter>,
}

/// The committed programs: expressions covering every protocol of the sample, ports and port
/// ranges, networks and masks, byte tests, lengths, arithmetic (with X as operand: shifts,
/// division, remainder) and boolean combinations.
fn committed() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/filters.ddd");
    let text = std::fs::read_to_string(&path).expect("data/filters.ddd reads");
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(expr) = line.strip_prefix("expr ") {
            cases.push(Case {
                expr: expr.to_string(),
                keeps: Vec::new(),
                ddd: String::new(),
                classic: Vec::new(),
            });
        } else if let Some(keeps) = line.strip_prefix("keeps") {
            let case = cases.last_mut().expect("an expr line first");
            case.keeps = keeps
                .split_whitespace()
                .map(|n| n.parse().unwrap())
                .collect();
        } else if let Some(case) = cases.last_mut() {
            case.ddd.push_str(line);
            case.ddd.push('\n');
        }
    }
    for case in &mut cases {
        case.classic = filter::parse_dd(&case.ddd)
            .unwrap_or_else(|e| panic!("'{}': committed program: {e}", case.expr));
    }
    cases
}

fn case(expr: &str) -> Case {
    committed()
        .into_iter()
        .find(|c| c.expr == expr)
        .unwrap_or_else(|| panic!("'{expr}' is not in data/filters.ddd"))
}

/// Runs every committed program on `engine` and compares the packets it keeps with those
/// libpcap kept.
fn every_committed_program_keeps_libpcap_s_packets_on(engine: &str) {
    let mut cap = sample();
    let total = cap.packets.len();
    let cases = committed();
    let mut partial = 0;
    let mut failures = Vec::new();
    for c in &cases {
        let mut insns = filter::convert(&c.classic)
            .unwrap_or_else(|e| panic!("'{}': libpcap's program does not convert: {e}", c.expr));
        let ours = Matcher::new(&mut insns, engine)
            .and_then(|mut m| m.matching(&mut cap.packets))
            .unwrap_or_else(|e| panic!("'{}' on {engine}: {e}", c.expr));
        if ours != c.keeps {
            let first = (0..total).find(|i| ours.contains(i) != c.keeps.contains(i));
            failures.push(format!(
                "'{}' on {engine}: nanobpf {} packets, libpcap {}, first difference at packet {first:?}",
                c.expr,
                ours.len(),
                c.keeps.len()
            ));
        }
        if !c.keeps.is_empty() && c.keeps.len() < total {
            partial += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "disagreements:\n{}",
        failures.join("\n")
    );
    assert_eq!(cases.len(), 76);
    // An expression that keeps all or nothing tells little: nearly every one splits the capture.
    assert!(
        partial >= cases.len() - 2,
        "{partial} of {} expressions split the capture",
        cases.len()
    );
}

#[test]
fn every_committed_program_keeps_exactly_libpcap_s_packets() {
    every_committed_program_keeps_libpcap_s_packets_on("interp");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn every_committed_program_keeps_exactly_libpcap_s_packets_on_the_jit() {
    every_committed_program_keeps_libpcap_s_packets_on("jit");
}

/// With libpcap: each expression compiled now keeps the committed packets on libpcap's own
/// engine and on nanobpf's (interpreter and JIT). A program that libpcap now compiles
/// differently (another libpcap version) is reported, not failed: the packets decide.
#[test]
fn libpcap_compiles_each_expression_to_a_program_that_agrees() {
    if !have_libpcap("libpcap_compiles_each_expression_to_a_program_that_agrees") {
        return;
    }
    let mut cap = sample();
    let mut changed = Vec::new();
    for c in committed() {
        let compiled = filter::compile(&c.expr, cap.linktype).expect("libpcap compiles it");
        let theirs = filter::libpcap_matching(&compiled.libpcap, &cap.packets);
        assert_eq!(theirs, c.keeps, "'{}': libpcap's packets", c.expr);
        for &engine in filter::ENGINES {
            let mut insns = filter::convert(&compiled.classic).unwrap();
            let ours = Matcher::new(&mut insns, engine)
                .and_then(|mut m| m.matching(&mut cap.packets))
                .unwrap_or_else(|e| panic!("'{}' on {engine}: {e}", c.expr));
            assert_eq!(ours, theirs, "'{}' on {engine}", c.expr);
        }
        if compiled.classic != c.classic {
            changed.push(c.expr);
        }
    }
    if !changed.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "note: this libpcap ({}) compiles {} expressions differently from data/filters.ddd \
             (same packets); data/regenerate.sh rewrites it: {changed:?}",
            Libpcap::get().map(|l| l.version()).unwrap_or_default(),
            changed.len()
        );
    }
}

#[test]
fn the_engines_are_the_interpreter_and_on_x86_64_the_jit() {
    assert_eq!(filter::ENGINES[0], "interp");
    assert_eq!(
        filter::ENGINES.contains(&"jit"),
        cfg!(target_arch = "x86_64")
    );
    let mut insns = filter::convert(&case("tcp").classic).unwrap();
    let e = Matcher::new(&mut insns, "turbo").unwrap_err();
    assert!(
        e.contains("unknown engine 'turbo'") && e.contains("interp"),
        "{e}"
    );
    for &engine in filter::ENGINES {
        let m = Matcher::new(&mut insns, engine).unwrap();
        assert_eq!(m.engine(), engine);
        assert!(m.slots() > 0);
    }
}

/// The counts README.md documents for the sample, by libpcap and by nanobpf alike.
#[test]
fn documented_counts_hold() {
    let mut cap = sample();
    assert_eq!(cap.packets.len(), 300);
    let documented = [
        ("ip", 200),
        ("ip6", 49),
        ("tcp", 132),
        ("udp", 77),
        ("icmp", 22),
        ("icmp6", 10),
        ("arp", 16),
        ("vlan", 25),
        ("udp port 53", 36),
        ("portrange 1000-2000", 57),
        ("len > 100", 56),
        ("tcp[13] & 2 != 0", 40),
    ];
    let libpcap = have_libpcap("documented_counts_hold (libpcap's half)");
    for (expr, want) in documented {
        let c = case(expr);
        assert_eq!(c.keeps.len(), want, "'{expr}': committed");
        for &engine in filter::ENGINES {
            // A fresh copy: the verifier rewrites context accesses in place.
            let mut insns = filter::convert(&c.classic).unwrap();
            let mut m = Matcher::new(&mut insns, engine).unwrap();
            assert_eq!(
                m.matching(&mut cap.packets).unwrap().len(),
                want,
                "'{expr}' on {engine}"
            );
            assert_eq!(m.count(&mut cap.packets), Ok(want), "'{expr}' on {engine}");
        }
        if libpcap {
            let compiled = filter::compile(expr, cap.linktype).unwrap();
            assert_eq!(
                filter::libpcap_matching(&compiled.libpcap, &cap.packets).len(),
                want
            );
            assert_eq!(filter::libpcap_count(&compiled.libpcap, &cap.packets), want);
        }
    }
}

#[test]
fn dd_and_ddd_texts_parse_to_libpcap_s_program() {
    let c = case("tcp port 80 and not host 10.0.0.1");
    let dd: String = c.classic.iter().map(|f| format!("{f},\n")).collect();
    assert_eq!(filter::parse_dd(&dd).unwrap(), c.classic);
    assert_eq!(filter::parse_dd(&c.ddd).unwrap(), c.classic);
    // tcpdump's own spelling of one line.
    let one = filter::parse_dd("{ 0x28, 0, 0, 0x0000000c },").unwrap();
    assert_eq!((one[0].code, one[0].k), (0x28, 12));
    assert!(filter::parse_dd("2\n40 0 0 12\n")
        .unwrap_err()
        .contains("count"));
    assert!(filter::parse_dd("{ 0x28, 0, 0 },")
        .unwrap_err()
        .starts_with("line 1"));
    assert!(filter::parse_dd("1\n40 0 300 12\n")
        .unwrap_err()
        .starts_with("line 2"));
}

#[test]
fn a_malformed_dd_program_is_rejected_with_its_location() {
    // Division by a constant zero at instruction 1.
    let e = filter::convert(&filter::parse_dd("3\n0 0 0 1\n52 0 0 0\n22 0 0 0\n").unwrap())
        .unwrap_err();
    assert!(e.contains("classic insn 1") && e.contains("zero"), "{e}");
}

fn nanobpf(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nanobpf"))
        .args(args)
        .output()
        .expect("nanobpf runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_filter_command_reports_both_counts_and_writes_the_matches() {
    if !have_libpcap("the_filter_command_reports_both_counts_and_writes_the_matches") {
        return;
    }
    let sample = sample_path();
    let out = std::env::temp_dir().join(format!("nanobpf-filter-{}.pcap", std::process::id()));
    let (code, text) = nanobpf(&[
        "filter",
        "udp port 53",
        "--pcap",
        sample.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("nanobpf (interp): 36 of 300 packets matched"),
        "{text}"
    );
    assert!(
        text.contains("libpcap: 36 of 300 packets matched"),
        "{text}"
    );
    assert!(text.contains("packets/s"), "{text}");
    let written = read_capture(&out).unwrap();
    std::fs::remove_file(&out).ok();
    assert_eq!(written.packets.len(), 36);
    let udp53 = filter::compile("udp port 53", 1).unwrap();
    assert!(written.packets.iter().all(|f| udp53.libpcap.matches(f)));
}

#[test]
fn the_filter_command_runs_dd_files_and_fails_on_disagreement() {
    let sample = sample_path();
    let dir = std::env::temp_dir();
    let arp = case("arp");
    let dd = dir.join(format!("nanobpf-arp-{}.dd", std::process::id()));
    std::fs::write(
        &dd,
        arp.classic
            .iter()
            .map(|f| format!("{f},\n"))
            .collect::<String>(),
    )
    .unwrap();
    let (sample, dd_s) = (sample.to_str().unwrap(), dd.to_str().unwrap());
    let (code, text) = nanobpf(&["filter", "--dd", dd_s, "--pcap", sample]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("16 of 300 packets matched"), "{text}");
    // The same as one JSON document.
    let (code, text) = nanobpf(&["filter", "--dd", dd_s, "--pcap", sample, "--json"]);
    assert_eq!(code, 0, "{text}");
    let doc: serde_json::Value = serde_json::from_str(&text).expect(&text);
    assert_eq!(doc["matched"], 16);
    assert_eq!(doc["packets"], 300);
    assert_eq!(doc["classic_insns"], arp.classic.len());
    assert!(doc["libpcap"].is_null(), "{doc}");
    assert!(doc["packets_per_second"].as_f64().unwrap() > 0.0);
    let again: serde_json::Value = serde_json::from_str(&doc.to_string()).unwrap();
    assert_eq!(again, doc);
    // The arp program compared with libpcap's `ip6`: they disagree, the status says so. Without
    // libpcap, the program still runs and the report says why nothing was compared.
    let (code, text) = nanobpf(&["filter", "ip6", "--dd", dd_s, "--pcap", sample]);
    let (json_code, json) = nanobpf(&["filter", "ip6", "--dd", dd_s, "--pcap", sample, "--json"]);
    std::fs::remove_file(&dd).ok();
    if have_libpcap("the_filter_command_runs_dd_files_and_fails_on_disagreement (comparison)") {
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("DISAGREE"), "{text}");
        assert_eq!(json_code, 1, "{json}");
        let doc: serde_json::Value = serde_json::from_str(&json).expect(&json);
        assert_eq!(doc["libpcap"]["matched"], 49);
        assert_eq!(doc["libpcap"]["agree"], false);
        let (code, text) = nanobpf(&["filter", "tcp port", "--pcap", sample]);
        assert_eq!(code, 2, "{text}");
    } else {
        assert_eq!(code, 0, "{text}");
        assert!(
            text.contains("libpcap: no comparison: libpcap not found"),
            "{text}"
        );
        assert_eq!(json_code, 0, "{json}");
        // An expression alone needs libpcap: one line says what to install.
        let (code, text) = nanobpf(&["filter", "tcp", "--pcap", sample]);
        assert_eq!(code, 2, "{text}");
        assert!(text.contains("apt install libpcap0.8"), "{text}");
        assert_eq!(text.trim().lines().count(), 1, "{text}");
    }
}

#[test]
fn the_bench_flag_prints_the_ratio_on_each_engine() {
    if !have_libpcap("the_bench_flag_prints_the_ratio_on_each_engine") {
        return;
    }
    let sample = sample_path();
    for &engine in filter::ENGINES {
        let (code, text) = nanobpf(&[
            "filter",
            "tcp",
            "--pcap",
            sample.to_str().unwrap(),
            "--engine",
            engine,
            "--bench",
            "--passes",
            "3",
        ]);
        assert_eq!(code, 0, "{text}");
        assert!(
            text.contains(&format!("nanobpf ({engine}): 132 of 300 packets matched")),
            "{text}"
        );
        assert!(
            text.contains("libpcap: 132 of 300 packets matched"),
            "{text}"
        );
        let line = text.lines().find(|l| l.starts_with("bench:")).expect(&text);
        assert!(
            line.starts_with(&format!("bench: nanobpf ({engine}) "))
                && line.contains("ratio")
                && line.contains("fastest of 3 passes over 300 packets"),
            "{line}"
        );
    }
    let (code, text) = nanobpf(&[
        "filter",
        "tcp",
        "--pcap",
        sample.to_str().unwrap(),
        "--engine",
        "turbo",
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("unknown engine 'turbo'"), "{text}");
}
