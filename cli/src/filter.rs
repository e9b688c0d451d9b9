//! `nanobpf filter`: tcpdump expressions and `tcpdump -dd`/`-ddd` programs, converted from
//! classic BPF to eBPF and run over a capture, with libpcap's own engine as the referee.
//!
//! The pipeline: an expression is compiled by libpcap (as tcpdump does, optimised, for the
//! capture's link type), or a `-dd`/`-ddd` text is parsed; the classic instructions go
//! through [`nanobpf_core::convert_classic`]; the eBPF program is verified as a socket filter
//! and run per packet on the interpreter or (on x86-64) the JIT. A packet matches when the filter returns a non-zero length, as in libpcap.

use crate::capture::{read_capture, write_capture, Frame};
use crate::libpcap::{BpfProgram, Libpcap};
use nanobpf_core::MapTable;
use nanobpf_core::{classic_output_bound, convert_classic, SockFilter, MAX_CLASSIC_INSNS};
use nanobpf_core::{verify, VerifierWorkspace, VerifyTarget};
use nanobpf_core::{
    Context, Insn, Interpreter, NoPlatform, ProgramType, SkBuff, Stack, Trap, VerifiedProgram,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub use crate::capture::Capfile;

/// An expression compiled by libpcap: its classic program, and libpcap's filter engine.
#[derive(Debug)]
pub struct Compiled {
    /// libpcap's program (its own interpreter runs it: `pcap_offline_filter`).
    pub libpcap: BpfProgram,
    /// The same program as classic instructions.
    pub classic: Vec<SockFilter>,
}

/// Compiles a tcpdump expression with libpcap (loaded at run time), optimised as tcpdump
/// does, for `linktype` (1 is Ethernet).
///
/// # Errors
/// libpcap is not installed (the message says what to install), or libpcap's message for an
/// expression it rejects.
pub fn compile(expr: &str, linktype: u32) -> Result<Compiled, String> {
    let lib = Libpcap::get()
        .map_err(|e| format!("{e}; or give a `tcpdump -ddd` program with --dd FILE"))?;
    let libpcap = lib.compile(expr, linktype)?;
    let classic = libpcap.instructions();
    Ok(Compiled { libpcap, classic })
}

fn number(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    v.map_err(|_| format!("'{s}' is not a number"))
}

fn insn_of(fields: &[&str]) -> Result<SockFilter, String> {
    let [code, jt, jf, k] = fields else {
        return Err(format!("expected 4 fields, found {}", fields.len()));
    };
    let small = |s: &str, max: u32| {
        number(s).and_then(|v| {
            if v <= max {
                Ok(v)
            } else {
                Err(format!("{v} does not fit"))
            }
        })
    };
    Ok(SockFilter::new(
        small(code, 0xffff)? as u16,
        small(jt, 0xff)? as u8,
        small(jf, 0xff)? as u8,
        number(k)?,
    ))
}

fn parse_ddd_line(line: &str) -> Result<SockFilter, String> {
    insn_of(&line.split_whitespace().collect::<Vec<_>>())
}

/// Parses the output of `tcpdump -dd` (`{ 0x28, 0, 0, 0x0000000c },` lines) or `tcpdump -ddd`
/// (a count, then `code jt jf k` lines in decimal).
///
/// # Errors
/// The line (1-based) that does not parse, or a `-ddd` count that does not match.
pub fn parse_dd(text: &str) -> Result<Vec<SockFilter>, String> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let at = |n: usize, e: String| format!("line {n}: {e}");
    if text.contains('{') {
        return lines
            .iter()
            .map(|&(n, l)| {
                let inner = l
                    .trim_end_matches(',')
                    .trim()
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix('}'))
                    .ok_or_else(|| at(n, "expected '{ code, jt, jf, k },'".into()))?;
                let fields: Vec<&str> = inner.split(',').map(str::trim).collect();
                insn_of(&fields).map_err(|e| at(n, e))
            })
            .collect();
    }
    let Some(&(n, first)) = lines.first() else {
        return Err("no instructions".into());
    };
    let count = number(first).map_err(|e| at(n, e))? as usize;
    let insns = lines[1..]
        .iter()
        .map(|&(n, l)| parse_ddd_line(l).map_err(|e| at(n, e)))
        .collect::<Result<Vec<_>, _>>()?;
    if insns.len() != count {
        return Err(format!(
            "the count line says {count} instructions, {} follow",
            insns.len()
        ));
    }
    Ok(insns)
}

/// Converts a classic program to eBPF slots.
///
/// # Errors
/// The converter's located error.
pub fn convert(classic: &[SockFilter]) -> Result<Vec<Insn>, String> {
    let mut out = vec![Insn::default(); classic_output_bound(classic.len())];
    let n = convert_classic(classic, &mut out).map_err(|e| e.to_string())?;
    out.truncate(n);
    Ok(out)
}

/// The verifier workspace for converted filters: room for the longest classic program's
/// output, and for the many pending branches of long filter expressions.
type Workspace = VerifierWorkspace<{ classic_output_bound(MAX_CLASSIC_INSNS) }, 256, 1024>;

/// The engines `nanobpf filter --engine` knows on this target.
pub const ENGINES: &[&str] = &[
    "interp",
    #[cfg(target_arch = "x86_64")]
    "jit",
];

/// What runs a verified filter: the interpreter, or the JIT's native code (which holds the
/// program and the runtime it was compiled with).
enum Runner<'a> {
    Interp(Interpreter<'static>),
    #[cfg(target_arch = "x86_64")]
    Jit(nanobpf_jit_x86::JitProgram<'a>),
}

/// A converted filter, verified as a socket filter, ready to run on an engine.
pub struct Matcher<'a> {
    program: VerifiedProgram<'a>,
    runner: Runner<'a>,
    engine: &'static str,
    stack: Box<Stack>,
}

impl std::fmt::Debug for Matcher<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("engine", &self.engine)
            .field("slots", &self.program.insns().len())
            .finish_non_exhaustive()
    }
}

impl<'a> Matcher<'a> {
    /// Verifies converted slots as a socket filter and prepares them to run on `engine`, one
    /// of [`ENGINES`] (`interp`, and `jit` on x86-64).
    ///
    /// # Errors
    /// An unknown engine, the verifier's located error, or the JIT's.
    pub fn new(insns: &'a mut [Insn], engine: &str) -> Result<Self, String> {
        let Some(&engine) = ENGINES.iter().find(|&&e| e == engine) else {
            return Err(format!(
                "unknown engine '{engine}' (known: {})",
                ENGINES.join(", ")
            ));
        };
        let helpers = nanobpf_core::helpers::standard();
        let env = VerifyTarget::new(ProgramType::SocketFilter, helpers, MapTable::EMPTY);
        let mut ws = Box::new(Workspace::new());
        let program = verify(insns, &env, &mut ws).map_err(|e| format!("verifier: {e}"))?;
        let runner = match engine {
            #[cfg(target_arch = "x86_64")]
            "jit" => {
                let rt = nanobpf_core::Runtime::new(helpers, &NoPlatform);
                let opts = nanobpf_jit_x86::JitOptions::default();
                let code = nanobpf_jit_x86::compile(&program, &rt, &opts)
                    .map_err(|e| format!("JIT: {e}"))?;
                Runner::Jit(code)
            }
            _ => Runner::Interp(Interpreter::new(helpers, &NoPlatform)),
        };
        Ok(Matcher {
            program,
            runner,
            engine,
            stack: Box::default(),
        })
    }

    /// The engine's name, as [`Matcher::new`] was given it.
    pub fn engine(&self) -> &'static str {
        self.engine
    }

    /// The number of eBPF slots of the filter.
    pub fn slots(&self) -> usize {
        self.program.insns().len()
    }

    /// Runs the filter on one packet: the number of bytes to keep (0 drops).
    ///
    /// # Errors
    /// A trap (none is expected from a verified filter).
    #[inline]
    pub fn run(&mut self, packet: &mut [u8]) -> Result<u32, Trap> {
        let mut ctx = Context::SocketFilter(SkBuff {
            packet,
            fields: [0; 19],
        });
        let r0 = match &self.runner {
            Runner::Interp(vm) => vm.run(&self.program, &mut ctx, &mut self.stack)?,
            #[cfg(target_arch = "x86_64")]
            Runner::Jit(code) => code.run(&mut ctx, &mut self.stack)?,
        };
        Ok(r0 as u32)
    }

    /// How many packets the filter keeps: one timed pass.
    ///
    /// # Errors
    /// The first trap.
    pub fn count(&mut self, packets: &mut [Frame]) -> Result<usize, Trap> {
        let mut kept = 0;
        for f in packets.iter_mut() {
            kept += usize::from(self.run(&mut f.data)? != 0);
        }
        Ok(kept)
    }

    /// Indices of the packets the filter keeps.
    ///
    /// # Errors
    /// The first trap, with the packet index.
    pub fn matching(&mut self, packets: &mut [Frame]) -> Result<Vec<usize>, String> {
        let mut hits = Vec::new();
        for (i, f) in packets.iter_mut().enumerate() {
            let keep = self
                .run(&mut f.data)
                .map_err(|t| format!("packet {i}: trap: {t}"))?;
            if keep != 0 {
                hits.push(i);
            }
        }
        Ok(hits)
    }
}

/// How many packets libpcap's own engine (`pcap_offline_filter`) keeps: one timed pass.
pub fn libpcap_count(program: &BpfProgram, packets: &[Frame]) -> usize {
    packets.iter().filter(|f| program.matches(f)).count()
}

/// Indices of the packets libpcap's own engine (`pcap_offline_filter`) keeps.
pub fn libpcap_matching(program: &BpfProgram, packets: &[Frame]) -> Vec<usize> {
    packets
        .iter()
        .enumerate()
        .filter(|(_, f)| program.matches(f))
        .map(|(i, _)| i)
        .collect()
}

/// The fastest pass over a capture on each engine. The minimum, not the mean: on a shared
/// machine other work only ever adds time, so the fastest pass is the closest to the engine's
/// own cost.
#[derive(Clone, Copy, Debug)]
pub struct BenchResult {
    /// nanobpf's engine.
    pub engine: &'static str,
    /// Packets per pass.
    pub packets: usize,
    /// Passes timed on each engine.
    pub passes: u32,
    /// nanobpf's fastest pass.
    pub ours: Duration,
    /// libpcap's fastest pass.
    pub libpcap: Duration,
}

impl BenchResult {
    /// How many times faster nanobpf is (libpcap's time over ours).
    pub fn ratio(&self) -> f64 {
        self.libpcap.as_secs_f64() / self.ours.as_secs_f64().max(1e-12)
    }

    fn ns_per_packet(&self, d: Duration) -> f64 {
        d.as_nanos() as f64 / self.packets.max(1) as f64
    }
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bench: nanobpf ({}) {:.1} ns/packet, libpcap {:.1} ns/packet, ratio {:.2}x (fastest of {} passes over {} packets)",
            self.engine,
            self.ns_per_packet(self.ours),
            self.ns_per_packet(self.libpcap),
            self.ratio(),
            self.passes,
            self.packets
        )
    }
}

/// Times `passes` passes of the filter over the capture on our engine and on libpcap's, in
/// this process, alternating so that both see the same machine state, and keeps each
/// engine's fastest pass.
///
/// # Errors
/// A trap on our engine.
pub fn bench(
    matcher: &mut Matcher<'_>,
    libpcap: &BpfProgram,
    packets: &mut [Frame],
    passes: u32,
) -> Result<BenchResult, String> {
    let mut result = BenchResult {
        engine: matcher.engine(),
        packets: packets.len(),
        passes,
        ours: Duration::MAX,
        libpcap: Duration::MAX,
    };
    let mut sink = 0usize;
    for _ in 0..passes {
        let t = Instant::now();
        sink += matcher.count(packets).map_err(|t| format!("trap: {t}"))?;
        result.ours = result.ours.min(t.elapsed());
        let t = Instant::now();
        sink += libpcap_count(libpcap, packets);
        result.libpcap = result.libpcap.min(t.elapsed());
    }
    std::hint::black_box(sink);
    Ok(result)
}

/// The arguments of `nanobpf filter`.
#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// A tcpdump expression (compiled by libpcap); optional with `--dd`, where it names the
    /// libpcap filter to compare with.
    pub expr: Option<String>,
    /// The capture to filter.
    #[arg(long)]
    pub pcap: PathBuf,
    /// A `tcpdump -dd` or `-ddd` program to run instead of compiling the expression.
    #[arg(long)]
    pub dd: Option<PathBuf>,
    /// Engine to run on: interp, or jit (x86-64).
    #[arg(long, default_value = "interp")]
    pub engine: String,
    /// Write the matched packets here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also time both engines over the capture and print the speed ratio.
    #[arg(long)]
    pub bench: bool,
    /// Passes over the capture for `--bench`.
    #[arg(long, default_value_t = 200)]
    pub passes: u32,
    /// Print one JSON document (counts, rate, libpcap's verdict, the bench) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `nanobpf filter`. Exit status 1 when nanobpf and libpcap disagree on any packet.
///
/// # Errors
/// Anything that stops the filter from running: unreadable files, an expression libpcap
/// rejects, a program the converter rejects, a trap.
pub fn run(args: &FilterArgs) -> Result<ExitCode, String> {
    let report = execute(args)?;
    if args.json {
        let doc = serde_json::to_string_pretty(&report).map_err(|e| format!("JSON: {e}"))?;
        println!("{doc}");
    } else {
        print!("{report}");
    }
    Ok(if report.agree() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `nanobpf filter` found; printed as text, or as the `--json` document.
#[derive(Debug, serde::Serialize)]
pub struct FilterReport {
    /// The capture.
    pub capture: String,
    /// The expression, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Classic instructions of the program run.
    pub classic_insns: usize,
    /// eBPF slots after conversion.
    pub slots: usize,
    /// nanobpf's engine.
    pub engine: String,
    /// Packets in the capture.
    pub packets: usize,
    /// Packets nanobpf's filter kept.
    pub matched: usize,
    /// Packets per second through nanobpf's filter.
    pub packets_per_second: f64,
    /// libpcap's verdict on the expression, when there is one and libpcap is installed.
    pub libpcap: Option<LibpcapResult>,
    /// Why there is no libpcap comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_comparison: Option<String>,
    /// `--bench`: the fastest pass on each engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench: Option<BenchJson>,
    /// `--out`: the file the matched packets were written to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
}

/// libpcap's count, and whether it keeps the same packets.
#[derive(Debug, serde::Serialize)]
pub struct LibpcapResult {
    /// Packets libpcap's own engine kept.
    pub matched: usize,
    /// Whether both kept exactly the same packets.
    pub agree: bool,
    /// The first packet (0-based) they disagree on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_disagreement: Option<usize>,
}

/// `--bench` in the JSON document.
#[derive(Debug, serde::Serialize)]
pub struct BenchJson {
    /// nanobpf's fastest pass, ns per packet.
    pub nanobpf_ns_per_packet: f64,
    /// libpcap's fastest pass, ns per packet.
    pub libpcap_ns_per_packet: f64,
    /// libpcap's time over nanobpf's.
    pub ratio: f64,
    /// Passes timed on each engine.
    pub passes: u32,
    /// The text line.
    #[serde(skip)]
    pub line: String,
}

impl FilterReport {
    /// Whether nanobpf and libpcap agree (or there was nothing to compare with).
    pub fn agree(&self) -> bool {
        self.libpcap.as_ref().is_none_or(|l| l.agree)
    }
}

impl std::fmt::Display for FilterReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} classic instructions -> {} eBPF slots",
            self.classic_insns, self.slots
        )?;
        writeln!(
            f,
            "nanobpf ({}): {} of {} packets matched, {:.0} packets/s",
            self.engine, self.matched, self.packets, self.packets_per_second
        )?;
        if let Some(l) = &self.libpcap {
            writeln!(
                f,
                "libpcap: {} of {} packets matched",
                l.matched, self.packets
            )?;
            if !l.agree {
                let first = l.first_disagreement.map_or("?".into(), |i| i.to_string());
                writeln!(f, "DISAGREE: first at packet {first}")?;
            }
        }
        if let Some(why) = &self.no_comparison {
            writeln!(f, "libpcap: {why}")?;
        }
        if let Some(b) = &self.bench {
            writeln!(f, "{}", b.line)?;
        }
        Ok(())
    }
}

/// Runs `nanobpf filter` without printing: converts, verifies and runs the filter, compares
/// with libpcap, times both (`--bench`) and writes the matches (`--out`).
///
/// # Errors
/// As [`run`].
pub fn execute(args: &FilterArgs) -> Result<FilterReport, String> {
    let mut cap = read_capture(&args.pcap)?;
    // With `--dd`, libpcap only referees: the program runs without it.
    let mut no_comparison = None;
    let compiled = match (&args.expr, Libpcap::get()) {
        (Some(_), Err(e)) if args.dd.is_some() => {
            no_comparison = Some(format!("no comparison: {e}"));
            None
        }
        (Some(expr), _) => Some(compile(expr, cap.linktype)?),
        (None, _) => {
            no_comparison = Some("no expression to compare with".into());
            None
        }
    };
    let classic = match (&args.dd, &compiled) {
        (Some(path), _) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            parse_dd(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        (None, Some(c)) => c.classic.clone(),
        (None, None) => return Err("give an expression or --dd FILE".into()),
    };
    let mut insns = convert(&classic)?;
    let slots = insns.len();
    let mut matcher = Matcher::new(&mut insns, &args.engine)?;
    let t = Instant::now();
    let ours = matcher.matching(&mut cap.packets)?;
    let elapsed = t.elapsed().as_secs_f64().max(1e-9);
    let total = cap.packets.len();
    let mut report = FilterReport {
        capture: args.pcap.display().to_string(),
        expr: args.expr.clone(),
        classic_insns: classic.len(),
        slots,
        engine: args.engine.clone(),
        packets: total,
        matched: ours.len(),
        packets_per_second: total as f64 / elapsed,
        libpcap: None,
        no_comparison,
        bench: None,
        out: args.out.as_ref().map(|p| p.display().to_string()),
    };
    if let Some(c) = &compiled {
        let theirs = libpcap_matching(&c.libpcap, &cap.packets);
        let first = (0..total).find(|i| ours.contains(i) != theirs.contains(i));
        report.libpcap = Some(LibpcapResult {
            matched: theirs.len(),
            agree: theirs == ours,
            first_disagreement: first,
        });
        if args.bench {
            let b = bench(&mut matcher, &c.libpcap, &mut cap.packets, args.passes)?;
            report.bench = Some(BenchJson {
                nanobpf_ns_per_packet: b.ns_per_packet(b.ours),
                libpcap_ns_per_packet: b.ns_per_packet(b.libpcap),
                ratio: b.ratio(),
                passes: b.passes,
                line: b.to_string(),
            });
        }
    } else if args.bench {
        return Err("--bench needs an expression for libpcap".into());
    }
    if let Some(out) = &args.out {
        let kept = ours.iter().filter_map(|&i| cap.packets.get(i));
        write_capture(out, cap.linktype, kept)?;
    }
    Ok(report)
}
