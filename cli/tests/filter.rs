//! tcpdump expressions over the sample capture: the packets nanobpf's converted filter keeps
//! are exactly those libpcap's own engine keeps, expression by expression.
//!
//! The tests that need libpcap (loaded at run time) say so and pass without it, unless
//! `NANOBPF_REQUIRE_LIBPCAP=1` (CI) makes its absence a failure.

use nanobpf_cli::capture::read_capture;
use nanobpf_cli::filter::{self, Capfile, Matcher};
use nanobpf_cli::libpcap::Libpcap;
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

/// Expressions covering every protocol of the sample, ports and port ranges, networks and
/// masks, byte tests, lengths, arithmetic (with X as operand: shifts, division, remainder) and
/// boolean combinations.
const EXPRESSIONS: &[&str] = &[
    "ip",
    "ip6",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "arp",
    "vlan",
    "vlan 10",
    "vlan 100 and icmp",
    "vlan and tcp",
    "vlan and udp",
    "ip and tcp",
    "ip6 and tcp",
    "ip6 and udp port 53",
    "tcp port 80",
    "tcp port 443",
    "port 22",
    "tcp dst port 80",
    "tcp src port 8080",
    "udp port 53",
    "udp dst port 53",
    "port 53",
    "portrange 1000-2000",
    "tcp portrange 1000-2000",
    "udp portrange 1000-2000",
    "portrange 1-1024",
    "net 10.0.0.0/24",
    "net 192.168.1.0 mask 255.255.255.0",
    "src net 10.0.0.0/8",
    "dst net 172.16.0.0/16",
    "host 10.0.0.1",
    "src host 8.8.8.8",
    "dst host 1.1.1.1",
    "host 10.0.0.1 or host 10.0.0.2",
    "ip6 host 2001:db8::1",
    "ip6 net 2001:db8::/32",
    "arp and host 10.0.0.1",
    "tcp[13] & 2 != 0",
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
    "tcp[tcpflags] & tcp-rst != 0",
    "tcp[13] = 0x18",
    "icmp[icmptype] = icmp-echo",
    "icmp[icmptype] == icmp-echoreply",
    "ip[8] = 64",
    "ip[0] & 0xf > 5",
    "ip[6:2] & 0x1fff != 0",
    "len > 100",
    "len <= 60",
    "less 64",
    "greater 200",
    "tcp and len > 100",
    "not tcp",
    "not ip",
    "not (tcp or udp)",
    "tcp port 80 and not host 10.0.0.1",
    "(tcp or udp) and not port 53",
    "udp and (port 123 or port 5353)",
    "ether broadcast",
    "ether host 02:00:00:00:00:01",
    "ether src 02:00:00:00:00:02 and not arp",
    "ether proto 0x0806",
    "ip proto 17",
    "ip[2:2] > 100",
    "ip[2:2] - ((ip[0] & 0xf) * 4) > 50",
    "ip[1] + ip[8] > 60",
    "tcp[0:2] % 7 = 3",
    "ip[2:2] / (ip[3] & 3) > 10",
    "ip[4:2] % (ip[5] & 1) = 0",
    "ip[2] << (ip[3] & 63) != 0",
    "ip[4:2] >> (ip[5] & 63) > 1",
    "ip[4:2] ^ 0xffff > 0x8000",
    "udp[8:2] & 0x8000 = 0x8000",
    "ip[12:4] & 0xffffff00 = 0x0a000000",
    "-ip[8] & 0xff > 100",
];

/// Runs every expression of [`EXPRESSIONS`] on `engine` and compares the set of matching
/// packets with libpcap's.
fn every_expression_agrees_with_libpcap_on(engine: &str) {
    if !have_libpcap("every_expression_agrees_with_libpcap") {
        return;
    }
    let mut cap = sample();
    let total = cap.packets.len();
    let mut partial = 0;
    let mut failures = Vec::new();
    for expr in EXPRESSIONS {
        let compiled = filter::compile(expr, cap.linktype).expect("libpcap compiles it");
        let mut insns = filter::convert(&compiled.classic)
            .unwrap_or_else(|e| panic!("'{expr}': libpcap's program does not convert: {e}"));
        let ours = Matcher::new(&mut insns, engine)
            .and_then(|mut m| m.matching(&mut cap.packets))
            .unwrap_or_else(|e| panic!("'{expr}' on {engine}: {e}"));
        let theirs = filter::libpcap_matching(&compiled.libpcap, &cap.packets);
        if ours != theirs {
            let first = (0..total).find(|i| ours.contains(i) != theirs.contains(i));
            failures.push(format!(
                "'{expr}' on {engine}: nanobpf {} packets, libpcap {}, first difference at packet {first:?}",
                ours.len(),
                theirs.len()
            ));
        }
        if !theirs.is_empty() && theirs.len() < total {
            partial += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "disagreements:\n{}",
        failures.join("\n")
    );
    assert!(EXPRESSIONS.len() >= 50);
    // An expression that keeps all or nothing tells little: nearly every one splits the capture.
    assert!(
        partial >= EXPRESSIONS.len() - 2,
        "{partial} of {} expressions split the capture",
        EXPRESSIONS.len()
    );
}

#[test]
fn every_expression_matches_exactly_what_libpcap_matches() {
    every_expression_agrees_with_libpcap_on("interp");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn every_expression_matches_exactly_what_libpcap_matches_on_the_jit() {
    every_expression_agrees_with_libpcap_on("jit");
}

#[test]
fn the_engines_are_the_interpreter_and_on_x86_64_the_jit() {
    if !have_libpcap("the_engines_are_the_interpreter_and_on_x86_64_the_jit") {
        return;
    }
    assert_eq!(filter::ENGINES[0], "interp");
    assert_eq!(
        filter::ENGINES.contains(&"jit"),
        cfg!(target_arch = "x86_64")
    );
    let mut insns = filter::convert(&filter::compile("tcp", 1).unwrap().classic).unwrap();
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
    if !have_libpcap("documented_counts_hold") {
        return;
    }
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
    for (expr, want) in documented {
        let compiled = filter::compile(expr, cap.linktype).unwrap();
        for &engine in filter::ENGINES {
            // A fresh copy: the verifier rewrites context accesses in place.
            let mut insns = filter::convert(&compiled.classic).unwrap();
            let mut m = Matcher::new(&mut insns, engine).unwrap();
            assert_eq!(
                m.matching(&mut cap.packets).unwrap().len(),
                want,
                "'{expr}' on {engine}"
            );
            assert_eq!(m.count(&mut cap.packets), Ok(want), "'{expr}' on {engine}");
        }
        assert_eq!(
            filter::libpcap_matching(&compiled.libpcap, &cap.packets).len(),
            want
        );
        assert_eq!(filter::libpcap_count(&compiled.libpcap, &cap.packets), want);
    }
}

#[test]
fn dd_and_ddd_texts_parse_to_libpcap_s_program() {
    if !have_libpcap("dd_and_ddd_texts_parse_to_libpcap_s_program") {
        return;
    }
    let compiled = filter::compile("tcp port 80 and not host 10.0.0.1", 1).unwrap();
    let dd: String = compiled.classic.iter().map(|f| format!("{f},\n")).collect();
    let ddd = format!(
        "{}\n{}",
        compiled.classic.len(),
        compiled
            .classic
            .iter()
            .map(|f| format!("{} {} {} {}\n", f.code, f.jt, f.jf, f.k))
            .collect::<String>()
    );
    assert_eq!(filter::parse_dd(&dd).unwrap(), compiled.classic);
    assert_eq!(filter::parse_dd(&ddd).unwrap(), compiled.classic);
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
    if !have_libpcap("the_filter_command_runs_dd_files_and_fails_on_disagreement") {
        return;
    }
    let sample = sample_path();
    let dir = std::env::temp_dir();
    let arp = filter::compile("arp", 1).unwrap();
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
    // The arp program compared with libpcap's `ip6`: they disagree, the status says so.
    let (code, text) = nanobpf(&["filter", "ip6", "--dd", dd_s, "--pcap", sample]);
    std::fs::remove_file(&dd).ok();
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("DISAGREE"), "{text}");
    let (code, text) = nanobpf(&["filter", "tcp port", "--pcap", sample]);
    assert_eq!(code, 2, "{text}");
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
