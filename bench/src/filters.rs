//! Classic BPF filters against libpcap: tcpdump expressions compiled by libpcap (optimised, as
//! tcpdump does), run over the sample capture on libpcap's own interpreter
//! (`pcap_offline_filter`), on nanobpf's interpreter and on nanobpf's JIT, in one process.
//!
//! nanobpf runs each expression through the pipeline of `nanobpf filter` (libpcap's classic
//! program, converted to eBPF, verified as a socket filter), so the numbers are those of the
//! command. Before anything is timed, every engine must keep exactly the packets libpcap keeps.
//!
//! libpcap is loaded at run time ([`nanobpf_cli::libpcap`]): without it, [`FilterCase::new`]
//! fails with a message saying what to install.
//!
//! One timed run is one pass over the whole capture (every packet, in order, as a capture
//! loop would see them); the table divides by the number of packets.

use crate::timing::{geomean, measure, Measurement, Timing};
use nanobpf_cli::capture::read_capture;
use nanobpf_cli::filter::{self, Capfile, Compiled, Matcher};
use std::path::Path;

/// The expressions of the table: every protocol of the sample, ports and a port range, a
/// network, a byte test, a length test and a longer boolean combination.
pub const FILTER_EXPRESSIONS: [&str; 12] = [
    "ip",
    "ip6",
    "tcp port 80",
    "udp",
    "icmp",
    "arp",
    "vlan",
    "portrange 1000-2000",
    "net 10.0.0.0/24",
    "tcp[13] & 2 != 0",
    "len > 100",
    "tcp port 80 and not host 10.0.0.1",
];

/// The capture the filters run over: `examples/pcap/sample.pcap` (300 Ethernet frames of
/// every protocol the expressions name).
///
/// # Errors
/// The file and offset where it does not read.
pub fn sample_capture() -> Result<Capfile, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pcap/sample.pcap");
    Ok(read_capture(&path)?)
}

/// A column of the filter table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterEngine {
    /// libpcap's classic BPF interpreter (`pcap_offline_filter`), the reference.
    Libpcap,
    /// nanobpf's interpreter on the converted, verified filter.
    Nanobpf,
    /// nanobpf's x86-64 JIT on the same verified filter.
    NanobpfJit,
}

impl FilterEngine {
    /// The columns this build can run, in table order.
    pub fn available() -> &'static [FilterEngine] {
        if cfg!(target_arch = "x86_64") {
            &[
                FilterEngine::Libpcap,
                FilterEngine::Nanobpf,
                FilterEngine::NanobpfJit,
            ]
        } else {
            &[FilterEngine::Libpcap, FilterEngine::Nanobpf]
        }
    }

    /// The column header.
    pub const fn label(self) -> &'static str {
        match self {
            FilterEngine::Libpcap => "libpcap",
            FilterEngine::Nanobpf => "nanobpf",
            FilterEngine::NanobpfJit => "nanobpf JIT",
        }
    }

    /// The name `nanobpf filter --engine` knows (none for libpcap).
    const fn cli_name(self) -> Option<&'static str> {
        match self {
            FilterEngine::Libpcap => None,
            FilterEngine::Nanobpf => Some("interp"),
            FilterEngine::NanobpfJit => Some("jit"),
        }
    }
}

/// One expression, ready on every engine of [`FilterEngine::available`].
#[derive(Debug)]
pub struct FilterCase {
    /// The tcpdump expression.
    pub expr: &'static str,
    /// Instructions of libpcap's classic program.
    pub classic: usize,
    /// eBPF slots after conversion.
    pub slots: usize,
    /// Packets of the capture the filter keeps (on every engine alike).
    pub matched: usize,
    compiled: Compiled,
    /// nanobpf's matchers, in the order of [`FilterEngine::available`] after libpcap.
    matchers: Vec<(FilterEngine, Matcher<'static>)>,
}

impl FilterCase {
    /// Compiles `expr` for the capture's link type, converts and verifies it on each nanobpf
    /// engine, and checks that each keeps exactly the packets libpcap keeps.
    ///
    /// # Errors
    /// An expression libpcap rejects, a conversion, verifier or JIT error, a trap, or an
    /// engine that disagrees with libpcap.
    pub fn new(expr: &'static str, cap: &mut Capfile) -> Result<Self, String> {
        let compiled = filter::compile(expr, cap.linktype)?;
        let theirs = filter::libpcap_matching(&compiled.libpcap, &cap.packets);
        let mut matchers = Vec::new();
        let mut slots = 0;
        for &engine in FilterEngine::available() {
            let Some(name) = engine.cli_name() else {
                continue;
            };
            // Each engine verifies its own copy (the verifier rewrites context accesses); the
            // slots live as long as the process, as a benchmark makes only a handful.
            let insns: &'static mut [_] = Vec::leak(filter::convert(&compiled.classic)?);
            slots = insns.len();
            let mut m = Matcher::new(insns, name).map_err(|e| format!("'{expr}': {e}"))?;
            let ours = m.matching(&mut cap.packets)?;
            if ours != theirs {
                return Err(format!(
                    "'{expr}': {} keeps {} packets, libpcap {}",
                    engine.label(),
                    ours.len(),
                    theirs.len()
                ));
            }
            matchers.push((engine, m));
        }
        Ok(FilterCase {
            expr,
            classic: compiled.classic.len(),
            slots,
            matched: theirs.len(),
            compiled,
            matchers,
        })
    }

    /// One pass over the capture on `engine`: how many packets it keeps.
    ///
    /// # Errors
    /// An engine this build does not have, or a trap.
    pub fn pass(&mut self, engine: FilterEngine, cap: &mut Capfile) -> Result<usize, String> {
        match engine {
            FilterEngine::Libpcap => {
                Ok(filter::libpcap_count(&self.compiled.libpcap, &cap.packets))
            }
            _ => self
                .matcher(engine)?
                .count(&mut cap.packets)
                .map_err(|t| format!("'{}': trap: {t}", self.expr)),
        }
    }

    fn matcher(&mut self, engine: FilterEngine) -> Result<&mut Matcher<'static>, String> {
        self.matchers
            .iter_mut()
            .find(|(e, _)| *e == engine)
            .map(|(_, m)| m)
            .ok_or_else(|| format!("{} is not available on this target", engine.label()))
    }

    /// Times passes over the capture on `engine` (each engine in its own loop); the
    /// measurement is per pass.
    ///
    /// # Errors
    /// As [`FilterCase::pass`].
    pub fn time(
        &mut self,
        engine: FilterEngine,
        cap: &mut Capfile,
        timing: &Timing,
    ) -> Result<Measurement, String> {
        self.pass(engine, cap)?;
        let packets = &mut cap.packets;
        Ok(match engine {
            FilterEngine::Libpcap => {
                let program = &self.compiled.libpcap;
                measure(timing, || filter::libpcap_count(program, packets) as u64)
            }
            _ => {
                let m = self.matcher(engine)?;
                measure(timing, || m.count(packets).map_or(u64::MAX, |n| n as u64))
            }
        })
    }
}

/// One row of the filter table.
#[derive(Clone, Debug)]
pub struct FilterRow {
    /// The tcpdump expression.
    pub expr: &'static str,
    /// Instructions of libpcap's classic program.
    pub classic: usize,
    /// eBPF slots after conversion.
    pub slots: usize,
    /// Packets kept, of [`FilterRow::packets`].
    pub matched: usize,
    /// Packets per pass.
    pub packets: usize,
    /// Median ns per packet on each engine of [`FilterEngine::available`], in order.
    pub ns_per_packet: Vec<(FilterEngine, f64)>,
}

impl FilterRow {
    /// The median ns per packet on `engine`, if it ran.
    pub fn ns(&self, engine: FilterEngine) -> Option<f64> {
        self.ns_per_packet
            .iter()
            .find(|(e, _)| *e == engine)
            .map(|&(_, ns)| ns)
    }

    /// How many times faster `engine` is than libpcap (libpcap's time over the engine's).
    pub fn speedup(&self, engine: FilterEngine) -> Option<f64> {
        Some(self.ns(FilterEngine::Libpcap)? / self.ns(engine)?)
    }
}

/// Measures every expression of [`FILTER_EXPRESSIONS`] on every engine over the sample.
///
/// # Errors
/// As [`FilterCase::new`] and [`FilterCase::time`].
pub fn filter_rows(timing: &Timing) -> Result<Vec<FilterRow>, String> {
    let mut cap = sample_capture()?;
    let packets = cap.packets.len().max(1);
    FILTER_EXPRESSIONS
        .iter()
        .map(|&expr| {
            let mut case = FilterCase::new(expr, &mut cap)?;
            let ns_per_packet = FilterEngine::available()
                .iter()
                .map(|&e| {
                    let m = case.time(e, &mut cap, timing)?;
                    Ok((e, m.ns_per_run / packets as f64))
                })
                .collect::<Result<_, String>>()?;
            Ok(FilterRow {
                expr,
                classic: case.classic,
                slots: case.slots,
                matched: case.matched,
                packets,
                ns_per_packet,
            })
        })
        .collect()
}

/// The geometric mean over `rows` of `f` (rows where `f` has no value are left out).
pub fn filter_geomean(rows: &[FilterRow], f: impl Fn(&FilterRow) -> Option<f64>) -> f64 {
    geomean(&rows.iter().filter_map(f).collect::<Vec<_>>())
}
