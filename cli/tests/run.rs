//! `nanobpf run` end to end: the example programs over the sample capture, on every engine,
//! with verdicts and map contents derived here, independently, from the capture's bytes by a
//! small parser that mirrors each program's C source; the `--out` file; the ring's
//! bookkeeping; frames longer than a ring buffer; the host-side maps.

use nanobpf_cli::capture::{read_capture, write_capture, Frame};
use nanobpf_cli::maps::HostMap;
use nanobpf_cli::run::{execute, render, Fate, Report, RunArgs, BUF_SIZE, RING_BUFFERS};
use nanobpf_core::{MapDef, MapError, MapType, BPF_EXIST, BPF_NOEXIST};
use nanobpf_hal::{Counts, XDP_PACKET_HEADROOM};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const ENGINES: &[&str] = &[
    "interp",
    #[cfg(target_arch = "x86_64")]
    "jit",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example(name: &str) -> PathBuf {
    root().join("examples/build").join(format!("{name}.o"))
}

fn sample_path() -> PathBuf {
    root().join("examples/pcap/sample.pcap")
}

fn sample() -> Vec<Vec<u8>> {
    let cap = read_capture(&sample_path()).expect("the sample reads");
    cap.packets.into_iter().map(|f| f.data).collect()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("nanobpf-run-{}-{name}", std::process::id()))
}

/// Writes frames to a temporary capture, one second apart.
fn capture_of(name: &str, frames: &[Vec<u8>]) -> PathBuf {
    let path = temp(name);
    let first = read_capture(&sample_path()).unwrap().packets[0].ts;
    let packets: Vec<Frame> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| Frame::new(first + std::time::Duration::from_secs(i as u64), f.clone()))
        .collect();
    write_capture(&path, 1, &packets).unwrap();
    path
}

fn run(prog: &str, pcap: &Path, engine: &str, set: &[&str]) -> Report {
    let mut args = RunArgs::new(example(prog), pcap);
    args.engine = engine.into();
    args.set = set.iter().map(|s| s.to_string()).collect();
    execute(&args).unwrap_or_else(|e| panic!("{prog} on {engine}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The parser: just enough of Ethernet and IPv4 to say what each example does with a frame.

/// What the examples look at in a frame.
#[derive(Clone, Copy, Debug, Default)]
struct Parsed {
    /// The EtherType bytes as they are in the frame (`None`: shorter than 14 bytes).
    ethertype: Option<[u8; 2]>,
    /// IPv4 with a whole 20-byte header: protocol, header length in words, source,
    /// destination.
    ipv4: Option<(u8, u8, [u8; 4], [u8; 4])>,
    /// IPv4 UDP with a whole UDP header after `ihl` words: destination port.
    udp_dport: Option<u16>,
}

fn parse(f: &[u8]) -> Parsed {
    let mut p = Parsed::default();
    if f.len() < 14 {
        return p;
    }
    p.ethertype = Some([f[12], f[13]]);
    if p.ethertype != Some([0x08, 0x00]) || f.len() < 34 {
        return p;
    }
    let ip = &f[14..];
    let (ihl, proto) = (ip[0] & 0x0f, ip[9]);
    p.ipv4 = Some((
        proto,
        ihl,
        ip[12..16].try_into().unwrap(),
        ip[16..20].try_into().unwrap(),
    ));
    let udp = 14 + ihl as usize * 4;
    if proto == 17 && ihl >= 5 && f.len() >= udp + 8 {
        p.udp_dport = Some(u16::from_be_bytes([f[udp + 2], f[udp + 3]]));
    }
    p
}

/// The verdict each example returns for a frame, from its C source.
fn expected_fate(prog: &str, f: &[u8]) -> Fate {
    let p = parse(f);
    match prog {
        "xdp_pass" | "ringbuf_events" | "checksum_loop" => Fate::Pass,
        "xdp_drop_udp_port" => {
            if p.udp_dport == Some(7777) {
                Fate::Drop
            } else {
                Fate::Pass
            }
        }
        // With 10.0.0.0/8 blocked (the `--set` of `firewall_set`).
        "xdp_firewall" => match (p.ethertype, p.ipv4) {
            (None, _) => Fate::Drop,
            (Some(t), _) if t != [0x08, 0x00] => Fate::Pass,
            (_, None) => Fate::Drop,
            (_, Some((_, _, src, _))) if src[0] == 10 => Fate::Drop,
            _ => Fate::Pass,
        },
        "xdp_l2_swap_tx" => {
            if p.ethertype.is_none() {
                Fate::Drop
            } else {
                Fate::Tx
            }
        }
        // Handlers in slots 0 (UDP) and 1 (TCP), see `TAIL_CALL_SET`.
        "tail_call" => match p.ipv4 {
            Some((17, ..)) => Fate::Drop,
            Some((6, ..)) => Fate::Tx,
            _ => Fate::Pass,
        },
        _ => panic!("no model of {prog}"),
    }
}

const FIREWALL_SET: &[&str] = &["blocklist:10.0.0.0/8=1"];
const TAIL_CALL_SET: &[&str] = &["handlers:0=handle_udp", "handlers:1=handle_tcp"];

fn set_for(prog: &str) -> &'static [&'static str] {
    match prog {
        "xdp_firewall" => FIREWALL_SET,
        "tail_call" => TAIL_CALL_SET,
        _ => &[],
    }
}

const PROGRAMS: &[&str] = &[
    "xdp_pass",
    "xdp_drop_udp_port",
    "xdp_firewall",
    "xdp_l2_swap_tx",
    "tail_call",
    "ringbuf_events",
    "checksum_loop",
];

/// (aborted, drop, pass, tx) from a list of fates.
fn tally(fates: &[Fate]) -> [u64; 4] {
    let mut t = [0u64; 4];
    for f in fates {
        match f {
            Fate::Aborted { .. } => t[0] += 1,
            Fate::Drop => t[1] += 1,
            Fate::Pass => t[2] += 1,
            Fate::Tx => t[3] += 1,
            other => panic!("unexpected fate {other:?}"),
        }
    }
    t
}

/// The rows of `examples/pcap/EXPECTED.md`: program and (aborted, drop, pass, tx).
fn expected_md() -> HashMap<String, [u64; 4]> {
    let text = std::fs::read_to_string(root().join("examples/pcap/EXPECTED.md")).unwrap();
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // | `program` | options | aborted | drop | pass | tx |
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let n: Vec<u64> = cells
                .get(3..7)?
                .iter()
                .map(|c| c.parse().ok())
                .collect::<Option<_>>()?;
            Some((name.to_string(), [n[0], n[1], n[2], n[3]]))
        })
        .collect()
}

fn ring_is_whole(r: &Report) {
    assert_eq!(
        r.ring,
        Counts {
            free: RING_BUFFERS,
            rx_pending: 0,
            tx_pending: 0,
            lent: 0
        },
        "every buffer is back in the free pool"
    );
    assert_eq!(
        r.counters.frames() + r.too_long,
        r.frames(),
        "the runner's counters and the too-long frames add up to the capture"
    );
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_example_matches_the_model_and_expected_md_on_every_engine() {
    let frames = sample();
    assert_eq!(frames.len(), 300);
    let table = expected_md();
    for prog in PROGRAMS {
        let model: Vec<Fate> = frames.iter().map(|f| expected_fate(prog, f)).collect();
        assert_eq!(
            table.get(*prog),
            Some(&tally(&model)),
            "EXPECTED.md row of {prog} (left) against the parser's counts (right)"
        );
        for engine in ENGINES {
            let r = run(prog, &sample_path(), engine, set_for(prog));
            ring_is_whole(&r);
            assert_eq!(r.fates, model, "{prog} on {engine}: frame by frame");
            let c = r.counters;
            let [aborted, drop, pass, tx] = tally(&model);
            assert_eq!(
                (c.aborted, c.drop, c.pass, c.tx, c.traps),
                (aborted, drop, pass, tx, 0),
                "{prog} on {engine}"
            );
            assert_eq!(
                (c.redirect, c.tx_full, c.redirect_failed, r.too_long),
                (0, 0, 0, 0)
            );
        }
    }
}

#[test]
fn firewall_maps_hold_the_per_source_counters_and_verdicts() {
    let frames = sample();
    // Per source: packets and bytes of every IPv4 frame with a whole header (blocked or not).
    let mut sources: HashMap<[u8; 4], (u64, u64)> = HashMap::new();
    let mut ipv4 = 0u64;
    for f in &frames {
        if let Some((_, _, src, _)) = parse(f).ipv4 {
            let e = sources.entry(src).or_default();
            e.0 += 1;
            e.1 += f.len() as u64;
            ipv4 += 1;
        }
    }
    let model: Vec<Fate> = frames
        .iter()
        .map(|f| expected_fate("xdp_firewall", f))
        .collect();
    let [_, drop, pass, _] = tally(&model);
    assert!(drop > 7, "the blocklist blocks something");
    for engine in ENGINES {
        let r = run("xdp_firewall", &sample_path(), engine, FIREWALL_SET);
        let per_source = r.map("per_source").unwrap();
        let got: HashMap<[u8; 4], (u64, u64)> = per_source
            .entries
            .iter()
            .map(|(k, v)| (k[..].try_into().unwrap(), (u64_at(v, 0), u64_at(v, 8))))
            .collect();
        assert_eq!(got, sources, "{engine}");
        let verdicts = r.map("verdicts").unwrap();
        let counts: Vec<u64> = verdicts.entries.iter().map(|(_, v)| u64_at(v, 0)).collect();
        assert_eq!(counts, [0, drop, pass, 0, 0], "{engine}");
        let blocklist = r.map("blocklist").unwrap();
        let mut key = 8u32.to_ne_bytes().to_vec();
        key.extend_from_slice(&[10, 0, 0, 0]);
        assert_eq!(blocklist.entries, [(key, 1u32.to_ne_bytes().to_vec())]);
        let bss = &r.map(".bss").unwrap().entries[0].1;
        assert_eq!(
            (u64_at(bss, 0), u64_at(bss, 8)),
            (300, ipv4),
            "frames_seen, ipv4_frames"
        );
        // .rodata as compiled: count_sources = 1, non_ip_verdict = XDP_PASS.
        let rodata = &r.map(".rodata").unwrap().entries[0].1;
        assert_eq!(rodata[..], [1, 0, 0, 0, 2, 0, 0, 0]);
    }
}

#[test]
fn tail_calls_count_per_handler_and_out_holds_passed_and_transmitted_frames() {
    let frames = sample();
    let model: Vec<Fate> = frames
        .iter()
        .map(|f| expected_fate("tail_call", f))
        .collect();
    let udp = frames
        .iter()
        .filter(|f| matches!(parse(f).ipv4, Some((17, ..))))
        .count() as u64;
    let tcp = frames
        .iter()
        .filter(|f| matches!(parse(f).ipv4, Some((6, ..))))
        .count() as u64;
    for engine in ENGINES {
        let out = temp(&format!("tail-{engine}.pcap"));
        let mut args = RunArgs::new(example("tail_call"), sample_path());
        args.engine = engine.to_string();
        args.out = Some(out.clone());
        args.set = TAIL_CALL_SET.iter().map(|s| s.to_string()).collect();
        let r = execute(&args).unwrap();
        assert_eq!(
            r.tail_call_table,
            ["dispatcher", "handle_udp", "handle_tcp"]
        );
        let handled: Vec<u64> = r
            .map("handled")
            .unwrap()
            .entries
            .iter()
            .map(|(_, v)| u64_at(v, 0))
            .collect();
        assert_eq!(handled, [udp, tcp, 0, 0], "{engine}");
        let written = read_capture(&out).unwrap();
        std::fs::remove_file(&out).ok();
        let wanted: Vec<&Vec<u8>> = frames
            .iter()
            .zip(&model)
            .filter(|(_, f)| matches!(f, Fate::Pass | Fate::Tx))
            .map(|(b, _)| b)
            .collect();
        let got: Vec<&Vec<u8>> = written.packets.iter().map(|f| &f.data).collect();
        assert_eq!(
            got, wanted,
            "{engine}: passed and transmitted frames, in order"
        );
        // Timestamps are the input's.
        let cap = read_capture(&sample_path()).unwrap();
        let first = model
            .iter()
            .position(|f| matches!(f, Fate::Pass | Fate::Tx))
            .unwrap();
        assert_eq!(written.packets[0].ts, cap.packets[first].ts);
    }
    // Without the handlers installed, tail calls fail and the dispatcher passes everything.
    let r = run("tail_call", &sample_path(), "interp", &[]);
    assert_eq!(r.counters.pass, 300);
}

#[test]
fn l2_swap_transmits_frames_with_swapped_addresses() {
    let frames = sample();
    for engine in ENGINES {
        let out = temp(&format!("swap-{engine}.pcap"));
        let mut args = RunArgs::new(example("xdp_l2_swap_tx"), sample_path());
        args.engine = engine.to_string();
        args.out = Some(out.clone());
        let r = execute(&args).unwrap();
        let written = read_capture(&out).unwrap();
        std::fs::remove_file(&out).ok();
        let wanted: Vec<(usize, Vec<u8>)> = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.len() >= 14)
            .map(|(i, f)| {
                let mut g = f.clone();
                g[..6].copy_from_slice(&f[6..12]);
                g[6..12].copy_from_slice(&f[..6]);
                (i, g)
            })
            .collect();
        let got: Vec<&Vec<u8>> = written.packets.iter().map(|f| &f.data).collect();
        assert_eq!(
            got,
            wanted.iter().map(|(_, b)| b).collect::<Vec<_>>(),
            "{engine}"
        );
        assert_eq!(r.out, wanted, "{engine}");
    }
}

#[test]
fn ring_buffer_records_describe_the_frames_until_it_fills() {
    let frames = sample();
    // 16-byte events in 24-byte records (8-byte header) in a 4096-byte ring, consumed at the
    // end: the first 4096 / 24 frames get one.
    let fit = 4096 / 24;
    for engine in ENGINES {
        let r = run("ringbuf_events", &sample_path(), engine, &[]);
        let records = &r.map("events").unwrap().records;
        assert_eq!(records.len(), fit, "{engine}");
        for (f, rec) in frames.iter().zip(records) {
            let p = parse(f);
            let mut e = (f.len() as u32).to_ne_bytes().to_vec();
            e.extend_from_slice(&p.ethertype.unwrap_or([0, 0]));
            match p.ipv4 {
                Some((proto, _, src, dst)) if f.len() >= 34 => {
                    e.extend_from_slice(&[proto, 0]);
                    e.extend_from_slice(&src);
                    e.extend_from_slice(&dst);
                }
                _ => e.extend_from_slice(&[0; 10]),
            }
            assert_eq!(rec, &e, "{engine}");
        }
    }
}

#[test]
fn checksum_of_the_last_frame_is_left_in_bss() {
    let frames = sample();
    let last = frames.last().unwrap();
    // checksum_len = 64 (.data): 16-bit native-endian words while both bounds allow.
    let mut sum = 0u32;
    let (max_bytes, checksum_len) = (256, 64);
    let mut i = 0;
    while i < max_bytes.min(checksum_len) && i + 2 <= last.len() {
        sum += u16::from_ne_bytes([last[i], last[i + 1]]) as u32;
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    let want = !sum & 0xffff;
    for engine in ENGINES {
        let r = run("checksum_loop", &sample_path(), engine, &[]);
        let bss = &r.map(".bss").unwrap().entries[0].1;
        assert_eq!(
            u32::from_ne_bytes(bss[..4].try_into().unwrap()),
            want,
            "{engine}"
        );
        assert_eq!(r.map(".data").unwrap().entries[0].1, 64u32.to_ne_bytes());
    }
}

/// An Ethernet + IPv4 + UDP frame to `dport`, with `options` bytes of IP options.
fn udp_frame(dport: u16, options: usize, payload: usize) -> Vec<u8> {
    let ihl = 5 + options / 4;
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = ihl * 4 + 8 + payload;
    f.extend_from_slice(&[0x40 | ihl as u8, 0]);
    f.extend_from_slice(&(total as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    f.resize(14 + ihl * 4, 1);
    f.extend_from_slice(&1000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.resize(f.len() + payload, 0xab);
    f
}

#[test]
fn drop_udp_port_drops_port_7777_in_a_capture_that_has_it() {
    // The sample has no UDP to 7777; this capture has, with and without IP options, cut short
    // inside the UDP header, and to other ports.
    let mut frames = vec![
        udp_frame(7777, 0, 10),
        udp_frame(7777, 8, 0),
        udp_frame(53, 0, 10),
        udp_frame(7777, 4, 100)[..14 + 24 + 3].to_vec(),
        udp_frame(7778, 0, 0),
    ];
    frames.extend(sample().into_iter().take(20));
    let path = capture_of("udp7777.pcap", &frames);
    let model: Vec<Fate> = frames
        .iter()
        .map(|f| expected_fate("xdp_drop_udp_port", f))
        .collect();
    assert_eq!(tally(&model)[1], 2);
    for engine in ENGINES {
        let r = run("xdp_drop_udp_port", &path, engine, &[]);
        assert_eq!(r.fates, model, "{engine}");
        ring_is_whole(&r);
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn frames_longer_than_a_ring_buffer_are_counted_not_lost() {
    let max = BUF_SIZE - XDP_PACKET_HEADROOM;
    let sizes = [60, max, max + 1, 9000, 14, 1514, 65535];
    let frames: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&n| udp_frame(9, 0, n.max(42) - 42)[..n].to_vec())
        .collect();
    let path = capture_of("long.pcap", &frames);
    for engine in ENGINES {
        let out = temp(&format!("long-out-{engine}.pcap"));
        let mut args = RunArgs::new(example("xdp_pass"), &path);
        args.engine = engine.to_string();
        args.out = Some(out.clone());
        let r = execute(&args).unwrap();
        let long = |n: usize| n > max;
        let want: Vec<Fate> = sizes
            .iter()
            .map(|&n| if long(n) { Fate::TooLong } else { Fate::Pass })
            .collect();
        assert_eq!(r.fates, want, "{engine}");
        assert_eq!(r.too_long, 3);
        assert_eq!(r.counters.pass, 4);
        ring_is_whole(&r);
        let written = read_capture(&out).unwrap();
        std::fs::remove_file(&out).ok();
        let lens: Vec<usize> = written.packets.iter().map(|f| f.data.len()).collect();
        assert_eq!(lens, [60, max, 14, 1514]);
        let text = render(&r, &args);
        let row = |name: &str| {
            text.lines()
                .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>())
                .find(|w| w.first() == Some(&name))
                .and_then(|w| w.get(1).map(|n| n.to_string()))
        };
        assert_eq!(row("too_long").as_deref(), Some("3"), "{text}");
        assert_eq!(row("total").as_deref(), Some("7"), "{text}");
        assert_eq!(row("pass").as_deref(), Some("4"), "{text}");
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_long_capture_replays_with_the_same_counts_per_copy() {
    // Over the progress-bar threshold (drawn only on a terminal): 41 copies of the sample.
    let one = sample();
    let frames: Vec<Vec<u8>> = (0..41).flat_map(|_| one.iter().cloned()).collect();
    assert!(frames.len() > nanobpf_cli::run::PROGRESS_MIN_FRAMES);
    let path = capture_of("long-capture.pcap", &frames);
    let model = tally(
        &one.iter()
            .map(|f| expected_fate("xdp_firewall", f))
            .collect::<Vec<_>>(),
    );
    let r = run(
        "xdp_firewall",
        &path,
        ENGINES[ENGINES.len() - 1],
        FIREWALL_SET,
    );
    std::fs::remove_file(&path).ok();
    assert_eq!(tally(&r.fates), model.map(|n| n * 41));
    ring_is_whole(&r);
}

#[test]
fn the_readme_command_prints_a_readable_report() {
    // `cargo run --release -p nanobpf-cli -- run examples/build/xdp_firewall.o --pcap
    // examples/pcap/sample.pcap`, from the repository root.
    let out = Command::new(env!("CARGO_BIN_EXE_nanobpf"))
        .current_dir(root())
        .args([
            "run",
            "examples/build/xdp_firewall.o",
            "--pcap",
            "examples/pcap/sample.pcap",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames = sample();
    // No blocklist entry: only runts drop.
    let drops = frames
        .iter()
        .filter(|f| f.len() < 14 || (parse(f).ethertype == Some([8, 0]) && f.len() < 34))
        .count();
    for line in [
        "program xdp_firewall (section xdp".to_string(),
        format!("  drop             {drops:>6}"),
        format!("  pass             {:>6}", 300 - drops),
        "  traps                 0".to_string(),
        "  total               300".to_string(),
        "packets/s".to_string(),
        "per_source (hash, key 4 B, value 16 B, max_entries 256)".to_string(),
        "verdicts (array, key 4 B, value 8 B, max_entries 5)".to_string(),
        ".bss (global data, 16 bytes)".to_string(),
    ] {
        assert!(text.contains(&line), "missing '{line}' in:\n{text}");
    }
}

/// The README's first command: `per_source` keys as IPv4 addresses and values as the C
/// struct's fields, the LPM key with its address, global data by variable.
#[test]
fn the_firewall_dump_shows_the_program_s_types() {
    let out = Command::new(env!("CARGO_BIN_EXE_nanobpf"))
        .current_dir(root())
        .args([
            "run",
            "examples/build/xdp_firewall.o",
            "--pcap",
            "examples/pcap/sample.pcap",
            "--set",
            "blocklist:10.0.0.0/8=1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let r = run(
        "xdp_firewall",
        &sample_path(),
        "interp",
        &["blocklist:10.0.0.0/8=1"],
    );
    let per_source = r.map("per_source").unwrap();
    assert!(!per_source.entries.is_empty());
    for (k, v) in &per_source.entries {
        let line = format!(
            "  {} => {{packets: {}, bytes: {}}}",
            std::net::Ipv4Addr::from(<[u8; 4]>::try_from(&k[..]).unwrap()),
            u64_at(v, 0),
            u64_at(v, 8)
        );
        assert!(text.contains(&line), "missing '{line}' in:\n{text}");
    }
    for line in [
        "  {prefixlen: 8, addr: 10.0.0.0} => 1",
        "  [1] => ",
        "  config = {count_sources: 1, non_ip_verdict: 2}",
        "  frames_seen = 300",
    ] {
        assert!(text.contains(line), "missing '{line}' in:\n{text}");
    }
    // Maps without BTF types stay in hex.
    let legacy = run("xdp_legacy_map", &sample_path(), "interp", &[]);
    assert!(legacy
        .maps
        .iter()
        .all(|m| m.typed.iter().all(|t| t == &(None, None))));
}

/// `--json`: one document with everything the text shows, which a JSON parser reads back.
#[test]
fn the_json_report_round_trips() {
    let out = Command::new(env!("CARGO_BIN_EXE_nanobpf"))
        .current_dir(root())
        .args([
            "run",
            "examples/build/xdp_firewall.o",
            "--pcap",
            "examples/pcap/sample.pcap",
            "--set",
            "blocklist:10.0.0.0/8=1",
            "--json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&text).expect(&text);
    let again: serde_json::Value = serde_json::from_str(&doc.to_string()).unwrap();
    assert_eq!(again, doc);
    let r = run(
        "xdp_firewall",
        &sample_path(),
        "interp",
        &["blocklist:10.0.0.0/8=1"],
    );
    let v = &doc["verdicts"];
    assert_eq!(v["drop"], r.counters.drop);
    assert_eq!(v["pass"], r.counters.pass);
    assert_eq!(v["total"], 300);
    assert_eq!(doc["frames"], 300);
    assert_eq!(doc["program"], "xdp_firewall");
    assert!(doc["packets_per_second"].as_f64().unwrap() > 0.0);
    let maps = doc["maps"].as_array().unwrap();
    let by_name = |n: &str| maps.iter().find(|m| m["name"] == n).unwrap();
    let per_source = by_name("per_source");
    assert_eq!(per_source["type"], "hash");
    assert_eq!(per_source["typed"], true);
    let entries = per_source["entries"].as_array().unwrap();
    assert_eq!(entries.len(), r.map("per_source").unwrap().entries.len());
    for (e, (k, v)) in entries.iter().zip(&r.map("per_source").unwrap().entries) {
        let addr: std::net::Ipv4Addr = e["key"].as_str().unwrap().parse().unwrap();
        assert_eq!(addr.octets()[..], k[..]);
        assert_eq!(e["value"]["packets"], u64_at(v, 0));
        assert_eq!(e["value"]["bytes"], u64_at(v, 8));
    }
    let blocklist = &by_name("blocklist")["entries"][0];
    assert_eq!(blocklist["key"]["prefixlen"], 8);
    assert_eq!(blocklist["key"]["addr"], "10.0.0.0");
    assert_eq!(blocklist["value"], 1);
    let verdicts = by_name("verdicts")["entries"].as_array().unwrap();
    assert!(verdicts
        .iter()
        .all(|e| e["key"].is_u64() && e["value"].is_u64()));
    assert_eq!(by_name(".bss")["entries"][0]["value"]["frames_seen"], 300);
    assert_eq!(by_name(".bss")["type"], "global_data");
}

#[test]
fn bad_arguments_are_reported() {
    let sample = sample_path();
    let mut args = RunArgs::new(example("socket_count"), &sample);
    assert!(execute(&args).unwrap_err().contains("no XDP program"));
    args.prog = example("xdp_firewall");
    args.engine = "nope".into();
    assert!(execute(&args).unwrap_err().contains("unknown engine"));
    args.engine = "interp".into();
    for (set, why) in [
        ("nomap:1=1", "no map"),
        ("verdicts:1", "expected MAP:KEY=VALUE"),
        ("verdicts:9=1", "out of range"),
        ("verdicts:0=0x0102", "2 bytes, 8 wanted"),
        ("per_source:1.2.3.4/8=1", "does not fit"),
    ] {
        args.set = vec![set.into()];
        let e = execute(&args).unwrap_err();
        assert!(e.contains(why), "{set}: {e}");
    }
    args.set = vec!["per_source:1.2.3.4=0x0100000000000000ff00000000000000".into()];
    let r = execute(&args).unwrap();
    let (k, v) = &r.map("per_source").unwrap().entries[0];
    assert_eq!(
        (&k[..], u64_at(v, 0), u64_at(v, 8)),
        (&[1u8, 2, 3, 4][..], 1, 255)
    );
}

// ---------------------------------------------------------------------------------------------
// Host-side maps.

fn def(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        map_type,
        key_size,
        value_size,
        max_entries,
        flags: 0,
    }
}

/// A tiny deterministic xorshift generator.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn host_hash_follows_linux_flags_and_a_model() {
    let m = HostMap::new(&def(MapType::Hash, 4, 12, 16)).unwrap();
    let map = m.as_map();
    let mut model: HashMap<u32, [u8; 12]> = HashMap::new();
    let mut rng = XorShift(7);
    for _ in 0..5000 {
        let k = (rng.next() % 24) as u32;
        let v = [rng.next() as u8; 12];
        let key = k.to_ne_bytes();
        match rng.next() % 4 {
            0 => {
                let r = map.update(&key, &v, BPF_NOEXIST);
                let want = if model.contains_key(&k) {
                    Err(MapError::Exists)
                } else if model.len() == 16 {
                    Err(MapError::TooBig)
                } else {
                    model.insert(k, v);
                    Ok(())
                };
                assert_eq!(r, want);
            }
            1 => {
                let r = map.update(&key, &v, BPF_EXIST);
                let want = if let Some(e) = model.get_mut(&k) {
                    *e = v;
                    Ok(())
                } else {
                    Err(MapError::NotFound)
                };
                assert_eq!(r, want);
            }
            2 => assert_eq!(
                map.delete(&key),
                model.remove(&k).map(|_| ()).ok_or(MapError::NotFound)
            ),
            _ => {
                let mut out = [0u8; 12];
                let r = map.lookup_copy(&key, &mut out).map(|()| out);
                assert_eq!(r.ok(), model.get(&k).copied());
                // The address a program gets lies in the value region.
                if let Some(p) = map.lookup(&key) {
                    assert!(map.value_region().contains(p.as_ptr() as usize, 12));
                }
            }
        }
        let listed: HashMap<u32, [u8; 12]> = m
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    u32::from_ne_bytes(k[..].try_into().unwrap()),
                    v[..].try_into().unwrap(),
                )
            })
            .collect();
        assert_eq!(listed, model);
    }
}

#[test]
fn host_lru_evicts_the_least_recently_used() {
    let m = HostMap::new(&def(MapType::LruHash, 4, 8, 3)).unwrap();
    let map = m.as_map();
    for k in 0u32..3 {
        map.update(&k.to_ne_bytes(), &[k as u8; 8], 0).unwrap();
    }
    assert!(map.lookup(&0u32.to_ne_bytes()).is_some()); // 1 is now the oldest
    map.update(&3u32.to_ne_bytes(), &[3; 8], 0).unwrap();
    let keys: Vec<u32> = m
        .entries()
        .iter()
        .map(|(k, _)| u32::from_ne_bytes(k[..].try_into().unwrap()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 2, 3]);
}

#[test]
fn host_lpm_finds_the_longest_prefix_within_the_key_length() {
    let m = HostMap::new(&def(MapType::LpmTrie, 8, 4, 8)).unwrap();
    let map = m.as_map();
    let key = |len: u32, a: [u8; 4]| {
        let mut k = len.to_ne_bytes().to_vec();
        k.extend_from_slice(&a);
        k
    };
    // Which value slot an address is in (slots are handed out in insertion order).
    let value = |p: std::ptr::NonNull<u8>| {
        let region = map.value_region();
        (p.as_ptr() as usize - region.start) / region.stride
    };
    map.update(&key(8, [10, 9, 9, 9]), &1u32.to_ne_bytes(), 0)
        .unwrap(); // stored as 10/8
    map.update(&key(16, [10, 1, 0, 0]), &2u32.to_ne_bytes(), 0)
        .unwrap();
    map.update(&key(0, [0; 4]), &3u32.to_ne_bytes(), 0).unwrap();
    assert_eq!(
        map.update(&key(33, [0; 4]), &[0; 4], 0),
        Err(MapError::Invalid)
    );
    assert_eq!(value(map.lookup(&key(32, [10, 1, 2, 3])).unwrap()), 1); // slot of 10.1/16
    assert_eq!(value(map.lookup(&key(32, [10, 2, 2, 3])).unwrap()), 0); // slot of 10/8
    assert_eq!(value(map.lookup(&key(12, [10, 1, 2, 3])).unwrap()), 0); // key length 12
    assert_eq!(value(map.lookup(&key(32, [11, 1, 2, 3])).unwrap()), 2); // default route
    let mut out = [0u8; 4];
    map.lookup_copy(&key(8, [10, 0, 0, 0]), &mut out).unwrap();
    assert_eq!(out, 1u32.to_ne_bytes());
    map.delete(&key(0, [0; 4])).unwrap();
    assert!(map.lookup(&key(32, [11, 1, 2, 3])).is_none());
    assert_eq!(m.entries().len(), 2);
}

#[test]
fn host_ring_buffer_matches_a_model_across_wraps() {
    let m = HostMap::new(&def(MapType::RingBuf, 0, 0, 256)).unwrap();
    let map = m.as_map();
    let rb = m.ringbuf().unwrap();
    let mut rng = XorShift(99);
    // Records in order; `None` for reserved-and-submitted ones, whose bytes the test did not
    // write (only their length is known).
    let mut model: Vec<(usize, Option<Vec<u8>>)> = Vec::new();
    for round in 0..2000 {
        let n = (rng.next() % 40) as usize;
        let data: Vec<u8> = (0..n).map(|i| (round + i) as u8).collect();
        match rng.next() % 5 {
            0 => {
                let got = rb.consume();
                assert_eq!(got.len(), model.len());
                for (g, (n, want)) in got.iter().zip(&model) {
                    assert_eq!(g.len(), *n);
                    if let Some(w) = want {
                        assert_eq!(g, w);
                    }
                }
                model.clear();
                assert_eq!(rb.pending(), 0);
            }
            1 => {
                // Reserve, fill, then submit or discard.
                if let Some(p) = map.ringbuf_reserve(n as u64, 0) {
                    let addr = p.as_ptr() as u64;
                    assert!(map.value_region().contains(addr as usize, n));
                    if rng.next() % 2 == 0 {
                        map.ringbuf_discard(addr, 0).unwrap();
                    } else {
                        map.ringbuf_submit(addr, 0).unwrap();
                        model.push((n, None));
                    }
                    assert_eq!(map.ringbuf_submit(addr, 0), Err(MapError::Invalid));
                }
            }
            _ => {
                if map.ringbuf_output(&data, 0).is_ok() {
                    model.push((n, Some(data)));
                }
            }
        }
        assert!(rb.pending() <= 256);
    }
    assert_eq!(map.ringbuf_output(&[0; 249], 0), Err(MapError::Again));
}

#[test]
fn host_arrays_and_slots() {
    let a = HostMap::new(&def(MapType::PerCpuArray, 4, 12, 3)).unwrap();
    let map = a.as_map();
    map.update(&2u32.to_ne_bytes(), &[7; 12], 0).unwrap();
    assert_eq!(
        map.update(&3u32.to_ne_bytes(), &[7; 12], 0),
        Err(MapError::TooBig)
    );
    assert_eq!(
        map.update(&1u32.to_ne_bytes(), &[7; 12], BPF_NOEXIST),
        Err(MapError::Exists)
    );
    assert_eq!(map.delete(&1u32.to_ne_bytes()), Err(MapError::Invalid));
    let e = a.entries();
    assert_eq!(e.len(), 3);
    assert_eq!(e[2].1, [7; 12]);
    assert_eq!(e[0].1, [0; 12]);
    let region = map.value_region();
    assert_eq!((region.stride, region.value_size, region.len), (16, 12, 48));

    let p = HostMap::new(&def(MapType::ProgArray, 4, 4, 4)).unwrap();
    let map = p.as_map();
    assert_eq!(map.prog_at(1), None);
    map.update(&1u32.to_ne_bytes(), &5u32.to_ne_bytes(), 0)
        .unwrap();
    assert_eq!(map.prog_at(1), Some(5));
    assert!(
        map.lookup(&1u32.to_ne_bytes()).is_none(),
        "programs cannot read program arrays"
    );
    map.delete(&1u32.to_ne_bytes()).unwrap();
    assert_eq!(map.prog_at(1), None);
    assert_eq!(map.delete(&1u32.to_ne_bytes()), Err(MapError::NotFound));

    let d = HostMap::new(&def(MapType::DevMap, 4, 4, 2)).unwrap();
    let map = d.as_map();
    map.update(&0u32.to_ne_bytes(), &7u32.to_ne_bytes(), 0)
        .unwrap();
    assert_eq!(
        (map.redirect_target(0), map.redirect_target(1)),
        (Some(nanobpf_core::Redirect::Device(7)), None)
    );
    // Interface 0 empties the slot, as in Linux (the core's device map).
    map.update(&0u32.to_ne_bytes(), &0u32.to_ne_bytes(), 0)
        .unwrap();
    assert_eq!(map.redirect_target(0), None);

    assert!(HostMap::new(&def(MapType::RingBuf, 0, 0, 100)).is_err());
    assert!(HostMap::new(&def(MapType::Array, 4, 8, 1 << 30)).is_err());
    assert_eq!(BPF_EXIST, 2);
}
