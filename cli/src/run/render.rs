//! The report `nanobpf run` prints: verdict table, speed, every map.

use super::typed::{hex, Value};
use super::{MapDump, Report, RunArgs, BUF_SIZE};
use crate::verify::map_type_name;
use nanobpf_core::MapSource;
use nanobpf_core::MapType;
use nanobpf_core::Redirect;

/// The value as `u64` words, when it is made of whole words (at most four).
fn words(value: &[u8]) -> Option<String> {
    if value.is_empty() || value.len() % 8 != 0 || value.len() > 32 {
        return None;
    }
    let w: Vec<String> = value
        .chunks(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()).to_string())
        .collect();
    Some(w.join(", "))
}

/// Writes the report the way `nanobpf run` prints it.
pub fn render(report: &Report, args: &RunArgs) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let c = &report.counters;
    let _ = writeln!(
        s,
        "program {} (section {}, {} slots) on {}, capture {}: {} frames",
        report.program,
        report.section,
        report.slots,
        report.engine,
        args.pcap.display(),
        report.frames()
    );
    if !report.tail_call_table.is_empty() {
        let _ = writeln!(s, "tail-call table (program array values index it):");
        for (i, n) in report.tail_call_table.iter().enumerate() {
            let _ = writeln!(s, "  {i}: {n}");
        }
    }
    let _ = writeln!(s, "\n  verdict          frames");
    let rows = [
        ("aborted", c.aborted),
        ("drop", c.drop),
        ("pass", c.pass),
        ("tx", c.tx),
        ("redirect", c.redirect),
        ("tx_full", c.tx_full),
        ("redirect_failed", c.redirect_failed),
        ("traps", c.traps),
    ];
    for (name, n) in rows {
        let _ = writeln!(s, "  {name:<16} {n:>6}");
    }
    if c.invalid > 0 {
        let _ = writeln!(s, "  {:<16} {:>6}", "invalid", c.invalid);
    }
    let _ = writeln!(
        s,
        "  {:<16} {:>6}   (longer than {} bytes: not run)",
        "too_long",
        report.too_long,
        BUF_SIZE - nanobpf_hal::XDP_PACKET_HEADROOM
    );
    let _ = writeln!(s, "  {:<16} {:>6}", "total", c.frames() + report.too_long);
    for (port, n) in &report.redirected {
        let _ = writeln!(s, "  redirected to ifindex {port}: {n}");
    }
    for (to, n) in &report.steered {
        let _ = match to {
            Redirect::Device(i) => writeln!(s, "  redirected to ifindex {i}: {n}"),
            Redirect::Cpu(c) => writeln!(s, "  redirected to CPU {c}: {n}"),
            Redirect::Xsk(q) => writeln!(s, "  redirected to AF_XDP socket {q}: {n}"),
        };
    }
    let _ = writeln!(
        s,
        "\n{} frames in {:.3} ms: {:.0} packets/s",
        report.frames(),
        report.elapsed.as_secs_f64() * 1e3,
        report.packets_per_second()
    );
    if let Some(out) = &args.out {
        let _ = writeln!(
            s,
            "{} passed and transmitted frames written to {}",
            report.out.len(),
            out.display()
        );
    }
    let _ = writeln!(
        s,
        "\nmaps (as their BTF types; hex where the object gives none):"
    );
    for m in &report.maps {
        render_map(&mut s, m, args.show);
    }
    s
}

fn render_map(s: &mut String, m: &MapDump, show: usize) {
    use std::fmt::Write;
    let d = &m.def;
    if m.source == MapSource::GlobalData {
        let _ = writeln!(s, "\n{} (global data, {} bytes):", m.name, d.value_size);
        if let Some((_, Some(Value::Struct(vars)))) = m.typed.first() {
            for (name, v) in vars.iter().take(show) {
                let _ = writeln!(s, "  {name} = {v}");
            }
            if vars.len() > show {
                let _ = writeln!(s, "  ... {} more", vars.len() - show);
            }
        } else if let Some((_, v)) = m.entries.first() {
            for (i, line) in v.chunks(16).enumerate().take(show) {
                let _ = writeln!(s, "  {:04x}  {}", i * 16, hex(line));
            }
        }
        return;
    }
    let _ = write!(
        s,
        "\n{} ({}, key {} B, value {} B, max_entries {}): ",
        m.name,
        map_type_name(d.map_type),
        d.key_size,
        d.value_size,
        d.max_entries
    );
    if d.map_type == MapType::RingBuf {
        let used: usize = m.records.iter().map(|r| (r.len() + 8 + 7) & !7).sum();
        let _ = write!(
            s,
            "{} records, {used} of {} bytes",
            m.records.len(),
            d.max_entries
        );
        // Records are consumed at the end of the run: once the ring is full, outputs fail.
        let last = m.records.last().map_or(0, |r| (r.len() + 8 + 7) & !7);
        if m.records.last().is_some() && used + last > d.max_entries as usize {
            let _ = write!(
                s,
                " (full: later outputs failed; consumed only after the run)"
            );
        }
        let _ = writeln!(s);
        for r in m.records.iter().take(show) {
            let _ = writeln!(s, "  {}", hex(r));
        }
        if m.records.len() > show {
            let _ = writeln!(s, "  ... {} more", m.records.len() - show);
        }
        return;
    }
    if d.map_type == MapType::PerfEventArray {
        // As `perf script` prints raw samples: the CPU, the size, the bytes.
        let _ = writeln!(s, "{} records", m.perf.len());
        for (cpu, r) in m.perf.iter().take(show) {
            let _ = writeln!(s, "  cpu {cpu}: {} bytes: {}", r.len(), hex(r));
        }
        if m.perf.len() > show {
            let _ = writeln!(s, "  ... {} more", m.perf.len() - show);
        }
        return;
    }
    let array = matches!(d.map_type, MapType::Array | MapType::PerCpuArray);
    // Arrays: every index exists; list the non-zero ones.
    let listed: Vec<usize> = (0..m.entries.len())
        .filter(|&i| !array || m.entries[i].1.iter().any(|&b| b != 0))
        .collect();
    if array {
        let _ = writeln!(
            s,
            "{} non-zero of {} entries",
            listed.len(),
            m.entries.len()
        );
    } else {
        let _ = writeln!(s, "{} entries", listed.len());
    }
    for &i in listed.iter().take(show) {
        let (k, v) = &m.entries[i];
        let (tk, tv) = m.typed.get(i).cloned().unwrap_or_default();
        let key = match (index_key(d.map_type, k), tk) {
            (Some(n), _) => format!("[{n}]"),
            (None, Some(t)) => t.to_string(),
            (None, None) => hex(k),
        };
        match (tv, words(v)) {
            (Some(t), _) => {
                let _ = writeln!(s, "  {key} => {t}");
            }
            (None, Some(w)) => {
                let _ = writeln!(s, "  {key} => {}  (u64: {w})", hex(v));
            }
            (None, None) => {
                let _ = writeln!(s, "  {key} => {}", hex(v));
            }
        }
    }
    if listed.len() > show {
        let _ = writeln!(s, "  ... {} more", listed.len() - show);
    }
}

/// The index of an array-like map's key (arrays, program arrays, device maps): shown `[i]`.
pub(super) fn index_key(map_type: MapType, key: &[u8]) -> Option<u32> {
    let indexed = matches!(
        map_type,
        MapType::Array | MapType::PerCpuArray | MapType::ProgArray | MapType::DevMap
    );
    indexed
        .then(|| Some(u32::from_ne_bytes(key.get(..4)?.try_into().ok()?)))
        .flatten()
}
