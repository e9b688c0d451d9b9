//! `nanobpf run`: replay a capture through an XDP program, the way a NIC driver would feed it.
//!
//! The pipeline:
//! 1. the ELF object is parsed; the program is the one `--section` names (a section or a
//!    function), else the first XDP program;
//! 2. every map the object declares is created by a core map arena in one host allocation
//!    ([`maps`]), `.rodata` and `.data`
//!    start from their initial values, and `--set` entries are written;
//! 3. the program is loaded and verified against the object's map definitions. When the object
//!    declares a program array, **every** program of the object is loaded and verified too, and
//!    they form the tail-call table: a program array value `i` names the `i`-th program in
//!    the object's symbol-table order (the order `nanobpf run` lists them in);
//! 4. each frame is copied into an in-memory descriptor ring ([`MemRing`], buffers of
//!    [`BUF_SIZE`] bytes with [`XDP_PACKET_HEADROOM`](nanobpf_hal::XDP_PACKET_HEADROOM)
//!    headroom, like a NIC's) and an [`XdpRunner`] runs the program on it on the chosen engine
//!    and carries out the verdict; frames too long for a buffer are counted and not run;
//! 5. passed and transmitted frames (as the program left them) go to `--out`, in order; the
//!    report shows the verdicts, the speed and every map.

use crate::capture::{read_capture, write_capture, Frame, LINKTYPE_ETHERNET};
use crate::maps;
use crate::verify::load_program as load;
use nanobpf_core::{helpers, Interpreter, ProgramType, Runtime, VerifiedProgram};
use nanobpf_core::{verify, VerifierWorkspace, VerifyTarget};
use nanobpf_core::{AnyMap, Map, Redirect};
use nanobpf_core::{BtfTypes, MapInfo, MapSource, Object};
use nanobpf_core::{MapDef, MapType, Platform};
#[cfg(target_arch = "x86_64")]
use nanobpf_core::{Stack, Trap, XdpBuff};
use nanobpf_hal::{
    Counters, Counts, Engine, InjectErrorKind, MemRing, PacketRing, XdpEngine, XdpRunner,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub mod json;
mod render;
pub mod typed;

pub use render::render;
pub use typed::Value;

/// Bytes per ring buffer, as a NIC's receive buffers: frames up to `BUF_SIZE - 256` bytes
/// (1,792) fit after the headroom.
pub const BUF_SIZE: usize = 2048;
/// Buffers per ring.
pub const RING_BUFFERS: usize = 8;
/// Captures longer than this get a progress bar (when stdout and stderr are terminals).
pub const PROGRESS_MIN_FRAMES: usize = 4_096;

type Ring = MemRing<RING_BUFFERS, BUF_SIZE>;

/// The verifier's workspace: room for programs of up to 65,536 slots, in static memory (it
/// is several megabytes; never on the stack).
type Workspace = VerifierWorkspace<65536, 4096, 8192>;
static WORKSPACE: Mutex<Workspace> = Mutex::new(Workspace::new());

/// The arguments of `nanobpf run`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Maps are printed after the run, keys and values read as the program's own types where the \
object's BTF gives them (`__type(key, T)`), as bpftool shows them: struct fields by name, \
integers in decimal (`__be*` types in network byte order), enums by name, char arrays as \
text, and IPv4/IPv6 addresses for 4- and 16-byte fields named like addresses (addr, ip, src, \
dst, ...; the map's name for a whole key or value) and for the address of an LPM trie key. \
Maps without types (legacy definitions, `__uint(key_size, N)`) are shown as hex bytes in \
memory order. Global data (.rodata, .data, .bss) is shown variable by variable.

--set writes a map entry before the run: MAP:KEY=VALUE, where KEY and VALUE are each a \
decimal number (stored in the key or value size, native byte order), 0x-prefixed hex bytes of \
exactly that size, an IPv4 address (network order), A.B.C.D/LEN for an LPM trie key, or, for \
a program array value, a program name. Program array values index the object's programs in \
symbol-table order.")]
pub struct RunArgs {
    /// The BPF object (ELF, from clang -target bpf).
    pub prog: PathBuf,
    /// The capture to replay (pcap or pcapng, Ethernet).
    #[arg(long)]
    pub pcap: PathBuf,
    /// Engine: interp or jit (x86-64).
    #[arg(long, default_value = "interp")]
    pub engine: String,
    /// Write the passed and transmitted frames here, in order, as the program left them.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The program: a section (`xdp`, `xdp/udp`) or function name; default the first XDP
    /// program.
    #[arg(long)]
    pub section: Option<String>,
    /// Map entries to write before the run: MAP:KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "MAP:KEY=VALUE")]
    pub set: Vec<String>,
    /// Entries (and ring buffer records) shown per map (text only: `--json` lists all).
    #[arg(long, default_value_t = 16)]
    pub show: usize,
    /// Print one JSON document (verdicts, rate, maps with typed keys and values) instead of
    /// text.
    #[arg(long)]
    pub json: bool,
}

impl RunArgs {
    /// Arguments for `prog` over `pcap` with the defaults.
    pub fn new(prog: impl Into<PathBuf>, pcap: impl Into<PathBuf>) -> RunArgs {
        RunArgs {
            prog: prog.into(),
            pcap: pcap.into(),
            engine: "interp".into(),
            out: None,
            section: None,
            set: Vec::new(),
            show: 16,
            json: false,
        }
    }
}

/// What happened to one frame of the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fate {
    /// `XDP_ABORTED`, no verdict, or a trap (`trapped`).
    Aborted {
        /// The run stopped with a trap.
        trapped: bool,
    },
    /// `XDP_DROP`.
    Drop,
    /// `XDP_PASS`.
    Pass,
    /// `XDP_TX`, queued.
    Tx,
    /// `XDP_TX` with the transmit ring full.
    TxFull,
    /// `XDP_REDIRECT`, queued on the target port.
    Redirect,
    /// `XDP_REDIRECT` that could not be carried out.
    RedirectFailed,
    /// A descriptor the runner refused.
    Invalid,
    /// Longer than a ring buffer holds: not run.
    TooLong,
}

fn fate_of(before: &Counters, after: &Counters) -> Fate {
    let d = |a: u64, b: u64| a != b;
    if d(before.traps, after.traps) {
        Fate::Aborted { trapped: true }
    } else if d(before.aborted, after.aborted) {
        Fate::Aborted { trapped: false }
    } else if d(before.drop, after.drop) {
        Fate::Drop
    } else if d(before.pass, after.pass) {
        Fate::Pass
    } else if d(before.tx, after.tx) {
        Fate::Tx
    } else if d(before.tx_full, after.tx_full) {
        Fate::TxFull
    } else if d(before.redirect, after.redirect) {
        Fate::Redirect
    } else if d(before.redirect_failed, after.redirect_failed) {
        Fate::RedirectFailed
    } else {
        Fate::Invalid
    }
}

/// A map's contents after the run.
#[derive(Clone, Debug)]
pub struct MapDump {
    /// The map's name (the section's for global data).
    pub name: String,
    /// Its definition.
    pub def: MapDef,
    /// Where the definition came from.
    pub source: MapSource,
    /// Keys and values, in iteration order.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// The same keys and values read as their BTF types, where the object gives them
    /// (`None` where it does not: shown in hex). For global data, the value is the
    /// section's variables.
    pub typed: Vec<(Option<Value>, Option<Value>)>,
    /// For a ring buffer: the records consumed at the end, in order.
    pub records: Vec<Vec<u8>>,
    /// For a perf event array: the records output during the run, in order, with the slot
    /// (CPU) of each.
    pub perf: Vec<(u32, Vec<u8>)>,
}

/// Everything a run found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The program's function name.
    pub program: String,
    /// Its section.
    pub section: String,
    /// Slots loaded (with called functions).
    pub slots: usize,
    /// Programs in the tail-call table (0 without a program array).
    pub tail_call_table: Vec<String>,
    /// The engine's name.
    pub engine: String,
    /// The runner's counters.
    pub counters: Counters,
    /// Frames longer than a ring buffer holds: not run.
    pub too_long: u64,
    /// Each frame's fate, in capture order.
    pub fates: Vec<Fate>,
    /// With `--out`: passed and transmitted frames, in order: capture index and bytes as the
    /// program left them.
    pub out: Vec<(usize, Vec<u8>)>,
    /// Frames redirected to other ports, by interface index.
    pub redirected: Vec<(u32, u64)>,
    /// Frames redirected to CPUs and AF_XDP sockets (CPU and XSK maps), by target, in the
    /// order first seen.
    pub steered: Vec<(Redirect, u64)>,
    /// Where the receive ring's buffers were after the run.
    pub ring: Counts,
    /// Time spent in the replay loop.
    pub elapsed: Duration,
    /// Every map's contents after the run, in index order.
    pub maps: Vec<MapDump>,
}

impl Report {
    /// Frames in the capture.
    pub fn frames(&self) -> u64 {
        self.fates.len() as u64
    }

    /// Frames per second through the replay loop.
    pub fn packets_per_second(&self) -> f64 {
        self.frames() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The dump of map `name`.
    pub fn map(&self, name: &str) -> Option<&MapDump> {
        self.maps.iter().find(|m| m.name == name)
    }
}

/// The services helpers get on the host: a monotonic clock from the run's start, a
/// deterministic xorshift generator, `bpf_trace_printk` to stderr (the first 20 lines).
#[derive(Debug)]
struct HostPlatform {
    start: Instant,
    rng: AtomicU64,
    traces: AtomicU64,
}

impl Platform for HostPlatform {
    fn ktime_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn prandom_u32(&self) -> u32 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 32) as u32
    }

    fn trace(&self, fmt: &[u8], args: [u64; 3]) {
        if self.traces.fetch_add(1, Ordering::Relaxed) < 20 {
            let text = String::from_utf8_lossy(fmt);
            eprintln!("trace: {} {args:?}", text.trim_end_matches(['\0', '\n']));
        }
    }
}

/// The JIT as an [`XdpEngine`]: compiled code (with the program and runtime it was compiled
/// for) and a stack.
#[cfg(target_arch = "x86_64")]
struct JitEngine<'r> {
    code: nanobpf_jit_x86::JitProgram<'r>,
    stack: Box<Stack>,
}

#[cfg(target_arch = "x86_64")]
impl XdpEngine for JitEngine<'_> {
    fn run(&mut self, frame: &mut XdpBuff<'_>) -> Result<u64, Trap> {
        let (code, stack) = (&self.code, &mut self.stack);
        nanobpf_hal::in_context(frame, |ctx| code.run(ctx, stack))
    }
}

/// Parses one side of a `--set` entry into `size` bytes.
pub(crate) fn parse_bytes(
    text: &str,
    size: usize,
    lpm: bool,
    programs: &[String],
) -> Result<Vec<u8>, String> {
    if let Some(hex) = text.strip_prefix("0x") {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("'{text}': bad hex"))
            })
            .collect::<Result<Vec<u8>, _>>()?;
        if bytes.len() != size {
            return Err(format!("'{text}' is {} bytes, {size} wanted", bytes.len()));
        }
        return Ok(bytes);
    }
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    if let Ok(ip) = addr.parse::<std::net::Ipv4Addr>() {
        return match prefix {
            Some(p) if lpm && size == 8 => {
                let len: u32 = p.parse().map_err(|_| format!("'{text}': bad prefix"))?;
                let mut b = len.to_ne_bytes().to_vec();
                b.extend_from_slice(&ip.octets());
                Ok(b)
            }
            None if size == 4 => Ok(ip.octets().to_vec()),
            _ => Err(format!("'{text}' does not fit {size} bytes")),
        };
    }
    if let Ok(n) = text.parse::<u64>() {
        let bytes = n.to_ne_bytes();
        if size > 8 || (size < 8 && n >> (size * 8) != 0) {
            return Err(format!("{n} does not fit {size} bytes"));
        }
        return Ok(bytes[..size].to_vec());
    }
    if let Some(i) = programs.iter().position(|p| p == text) {
        return Ok((i as u32).to_ne_bytes()[..size.min(4)].to_vec());
    }
    Err(format!(
        "'{text}': not a number, 0x-hex, IPv4 address or program name"
    ))
}

/// Applies one `--set MAP:KEY=VALUE`.
fn apply_set(
    spec: &str,
    infos: &[MapInfo<'_>],
    maps: &[AnyMap<'_>],
    programs: &[String],
) -> Result<(), String> {
    let err = |e: String| format!("--set {spec}: {e}");
    let (name, kv) = spec
        .split_once(':')
        .ok_or_else(|| err("expected MAP:KEY=VALUE".into()))?;
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| err("expected MAP:KEY=VALUE".into()))?;
    let i = infos
        .iter()
        .position(|m| m.name == name)
        .ok_or_else(|| err(format!("no map '{name}'")))?;
    let def = infos[i]
        .def
        .map_err(|u| err(format!("map type {} is not supported", u.linux_type)))?;
    let lpm = def.map_type == MapType::LpmTrie;
    let key = parse_bytes(k, def.key_size as usize, lpm, &[]).map_err(err)?;
    let progs = if def.map_type == MapType::ProgArray {
        programs
    } else {
        &[]
    };
    let value = parse_bytes(v, def.value_size as usize, false, progs).map_err(err)?;
    maps.get(i)
        .ok_or_else(|| err(format!("no map '{name}'")))?
        .update(&key, &value, 0)
        .map_err(|e| err(e.to_string()))
}

/// What [`replay`] found.
struct Replayed {
    counters: Counters,
    fates: Vec<Fate>,
    out: Vec<(usize, Vec<u8>)>,
    redirected: Vec<(u32, u64)>,
    steered: Vec<(Redirect, u64)>,
    ring: Counts,
    elapsed: Duration,
}

/// Runs the capture through the runner on `engine`: each frame is injected into the ring,
/// polled, and its transmitted frames drained, so `out` keeps capture order.
fn replay<E: XdpEngine>(engine: E, packets: &[Frame], targets: &[u32], keep: bool) -> Replayed {
    let mut ring: Box<Ring> = Box::default();
    let mut ports: Vec<Box<Ring>> = targets
        .iter()
        .map(|&t| Box::new(Ring::new().with_ifindex(t)))
        .collect();
    let mut redirected: Vec<(u32, u64)> = targets.iter().map(|&t| (t, 0)).collect();
    let mut steered: Vec<(Redirect, u64)> = Vec::new();
    let mut runner = XdpRunner::new(engine);
    let mut fates = Vec::with_capacity(packets.len());
    let mut out = Vec::new();
    let bar = crate::progress::bar(
        packets.len() > PROGRESS_MIN_FRAMES,
        packets.len() as u64,
        "replaying",
    );
    let started = Instant::now();
    for (i, Frame { data, .. }) in packets.iter().enumerate() {
        if let Some(bar) = &bar {
            if i % 1024 == 0 {
                bar.set_position(i as u64);
            }
        }
        match ring.inject(data) {
            Ok(()) => {}
            Err(e) if e.kind == InjectErrorKind::TooLong => {
                fates.push(Fate::TooLong);
                continue;
            }
            // Every buffer is back after each frame, so the ring always has a free one.
            Err(_) => {
                fates.push(Fate::Invalid);
                continue;
            }
        }
        let before = runner.counters();
        let mut passed = None;
        {
            let mut refs: Vec<&mut dyn PacketRing> = ports
                .iter_mut()
                .map(|p| &mut **p as &mut dyn PacketRing)
                .collect();
            let stack = |b: &[u8]| {
                if keep {
                    passed = Some(b.to_vec());
                }
            };
            // A CPU or an AF_XDP socket always takes the frame; the report counts them.
            let steer = |to: Redirect, _: &[u8]| {
                match steered.iter_mut().find(|(t, _)| *t == to) {
                    Some((_, n)) => *n += 1,
                    None => steered.push((to, 1)),
                }
                true
            };
            runner.poll_steered(&mut *ring, &mut refs, stack, steer, 1);
        }
        let fate = fate_of(&before, &runner.counters());
        fates.push(fate);
        if let Some(bytes) = passed {
            out.push((i, bytes));
        }
        ring.drain_tx(|b| {
            if keep {
                out.push((i, b.to_vec()));
            }
        });
        for (port, count) in ports.iter_mut().zip(redirected.iter_mut()) {
            count.1 += port.drain_tx(|_| {}) as u64;
        }
    }
    let elapsed = started.elapsed();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Replayed {
        counters: runner.counters(),
        fates,
        out,
        redirected,
        steered,
        ring: ring.accounted(),
        elapsed,
    }
}

/// Loads, verifies and replays: everything `nanobpf run` does but print.
///
/// # Errors
/// Unreadable files, an object that does not load, a program the verifier rejects, a map the
/// host cannot create, a bad `--set`, an unknown engine, a JIT failure.
pub fn execute(args: &RunArgs) -> Result<Report, String> {
    let bytes = std::fs::read(&args.prog).map_err(|e| format!("{}: {e}", args.prog.display()))?;
    let at = |e: String| format!("{}: {e}", args.prog.display());
    let obj = Object::parse(&bytes).map_err(|e| at(e.to_string()))?;
    let entry = match &args.section {
        Some(s) => obj.program(s).map_err(|e| at(format!("'{s}': {e}")))?,
        None => obj
            .programs()
            .find(|p| p.prog_type == Some(ProgramType::Xdp))
            .ok_or_else(|| at("no XDP program (name one with --section)".into()))?,
    };
    let prog_type = entry.prog_type.unwrap_or(ProgramType::Xdp);
    if prog_type != ProgramType::Xdp {
        return Err(at(format!(
            "{} (section {}) is not an XDP program",
            entry.name, entry.section
        )));
    }
    let infos: Vec<MapInfo<'_>> = obj.maps().collect();
    let defs: Vec<MapDef> = infos.iter().map(|m| m.verifier_def()).collect();
    // A map nanobpf cannot create gets a one-slot stand-in: the entry program loaded, so it
    // does not refer to it.
    let map_defs: Vec<MapDef> = infos
        .iter()
        .map(|m| {
            m.def.unwrap_or(MapDef {
                map_type: MapType::Array,
                key_size: 4,
                value_size: 4,
                max_entries: 1,
                flags: 0,
            })
        })
        .collect();
    let map_err = |(i, e): (usize, String)| {
        let name = infos.get(i).map_or("?", |m| m.name);
        at(format!("map {name}: {e}"))
    };
    let region = maps::region(&map_defs).map_err(map_err)?;
    let (_arena, set) = maps::create(&region, &map_defs).map_err(map_err)?;
    let maps = set.maps();
    for (info, map) in infos.iter().zip(maps) {
        if info.initial_values {
            eprintln!(
                "note: map {} declares initial values (__array(values, ...)), which are not \
                 applied: it starts empty",
                info.name
            );
        }
        if let Some(init) = info.init {
            map.update(&0u32.to_ne_bytes(), init, 0)
                .map_err(|e| at(format!("map {}: initial value: {e}", info.name)))?;
        }
    }

    // The tail-call table: every program, when there is a program array to reach them.
    let has_prog_array = defs.iter().any(|d| d.map_type == MapType::ProgArray);
    let names: Vec<String> = if has_prog_array {
        obj.programs().map(|p| p.name.to_string()).collect()
    } else {
        vec![entry.name.to_string()]
    };
    let entry_index = names.iter().position(|n| n == entry.name).unwrap_or(0);
    for spec in &args.set {
        apply_set(spec, &infos, maps, &names)?;
    }
    let mut code = names
        .iter()
        .map(|n| load(&obj, n, prog_type).map_err(at))
        .collect::<Result<Vec<_>, _>>()?;
    let slots = code.get(entry_index).map_or(0, Vec::len);
    let env = VerifyTarget::new(prog_type, helpers::standard(), set.table());
    let verified = {
        let mut ws = WORKSPACE.lock().unwrap_or_else(|e| e.into_inner());
        code.iter_mut()
            .zip(&names)
            .map(|(insns, name)| {
                verify(insns, &env, &mut ws).map_err(|e| at(format!("{name}: rejected: {e}")))
            })
            .collect::<Result<Vec<VerifiedProgram<'_>>, _>>()?
    };
    let entry_program = *verified
        .get(entry_index)
        .ok_or_else(|| at("no program".into()))?;

    let capture = read_capture(&args.pcap)?;
    if capture.linktype != LINKTYPE_ETHERNET {
        return Err(format!(
            "{}: link type {} (XDP programs see Ethernet frames, link type 1)",
            args.pcap.display(),
            capture.linktype
        ));
    }
    // Redirect targets: the interfaces the device maps name.
    let mut targets: Vec<u32> = maps
        .iter()
        .filter(|m| m.def().map_type == MapType::DevMap)
        .flat_map(|m| {
            (0..m.def().max_entries).filter_map(|k| match m.redirect_target(k) {
                Some(Redirect::Device(ifindex)) => Some(ifindex),
                _ => None,
            })
        })
        .filter(|&t| t != 1)
        .collect();
    targets.sort_unstable();
    targets.dedup();

    let platform = HostPlatform {
        start: Instant::now(),
        rng: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        traces: AtomicU64::new(0),
    };
    let rt = Runtime::new(helpers::standard(), &platform).with_programs(if has_prog_array {
        &verified
    } else {
        &[]
    });
    let r = match args.engine.as_str() {
        "interp" => replay(
            Engine::new(Interpreter::with_runtime(rt), entry_program),
            &capture.packets,
            &targets,
            args.out.is_some(),
        ),
        #[cfg(target_arch = "x86_64")]
        "jit" => {
            let code = nanobpf_jit_x86::compile(
                &entry_program,
                &rt,
                &nanobpf_jit_x86::JitOptions::default(),
            )
            .map_err(|e| at(format!("JIT: {e}")))?;
            let engine = JitEngine {
                code,
                stack: Box::default(),
            };
            replay(engine, &capture.packets, &targets, args.out.is_some())
        }
        other => {
            return Err(format!(
                "unknown engine '{other}' (known: interp{})",
                if cfg!(target_arch = "x86_64") {
                    ", jit"
                } else {
                    ""
                }
            ))
        }
    };
    let Replayed {
        counters,
        fates,
        out,
        redirected,
        steered,
        ring,
        elapsed,
    } = r;
    let too_long = fates.iter().filter(|f| **f == Fate::TooLong).count() as u64;

    if let Some(path) = &args.out {
        let frames: Vec<Frame> = out
            .iter()
            .map(|(i, bytes)| {
                let ts = capture.packets.get(*i).map(|f| f.ts).unwrap_or_default();
                Frame::new(ts, bytes.clone())
            })
            .collect();
        write_capture(path, capture.linktype, &frames)?;
    }

    let types = obj.btf_types();
    let dumps = infos
        .iter()
        .zip(maps)
        .map(|(info, map)| {
            let entries = maps::entries(map);
            MapDump {
                name: info.name.to_string(),
                def: info.verifier_def(),
                source: info.source,
                typed: typed_entries(types.as_ref(), info, &entries),
                entries,
                records: map.ringbuf().map(maps::ring_records).unwrap_or_default(),
                perf: map.perf().map(maps::perf_records).unwrap_or_default(),
            }
        })
        .collect();
    Ok(Report {
        program: entry.name.to_string(),
        section: entry.section.to_string(),
        slots,
        tail_call_table: if has_prog_array { names } else { Vec::new() },
        engine: args.engine.clone(),
        counters,
        too_long,
        fates,
        out,
        redirected,
        steered,
        ring,
        elapsed,
        maps: dumps,
    })
}

/// Keys and values read as the map's BTF key and value types, where it has them.
fn typed_entries(
    types: Option<&BtfTypes<'_>>,
    info: &MapInfo<'_>,
    entries: &[(Vec<u8>, Vec<u8>)],
) -> Vec<(Option<Value>, Option<Value>)> {
    let lpm = info.def.is_ok_and(|d| d.map_type == MapType::LpmTrie);
    let read = |ty: Option<nanobpf_core::BtfTypeId>, bytes: &[u8], lpm: bool| {
        Some(typed::decode(types?, ty?, bytes, info.name, lpm))
    };
    entries
        .iter()
        .map(|(k, v)| (read(info.key_type, k, lpm), read(info.value_type, v, false)))
        .collect()
}

/// Runs `nanobpf run` and prints the report.
///
/// # Errors
/// As [`execute`].
pub fn run(args: &RunArgs) -> Result<ExitCode, String> {
    let report = execute(args)?;
    if args.json {
        let doc = serde_json::to_string_pretty(&json::to_json(&report, args))
            .map_err(|e| format!("JSON: {e}"))?;
        println!("{doc}");
    } else {
        print!("{}", render(&report, args));
    }
    Ok(ExitCode::SUCCESS)
}
