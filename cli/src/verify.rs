//! `nanobpf verify`: load, verify, and report like Linux's verifier.

use nanobpf_core::disassemble_insn;
use nanobpf_core::{unsupported_program_kind, MapInfo, Object, ProgramInfo};
use nanobpf_core::{verify_with_stats, DefaultWorkspace, VerifyStats, VerifyTarget};
use nanobpf_core::{Insn, LoadErrorKind, ProgramType};
use nanobpf_core::{MapDef, MapType};
use std::process::ExitCode;

/// Whether `bytes` look like an ELF object.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// Loads program `name` of `obj` as `prog_type` into a fresh buffer, growing it as the loader
/// asks.
///
/// # Errors
/// The loader's error, with the program's name.
pub fn load_program(
    obj: &Object<'_>,
    name: &str,
    prog_type: ProgramType,
) -> Result<Vec<Insn>, String> {
    let mut insns = vec![Insn::default(); 4096];
    loop {
        match obj.load_program_as(name, prog_type, &mut insns) {
            Ok(l) => {
                insns.truncate(l.len);
                return Ok(insns);
            }
            Err(e) => match e.kind {
                LoadErrorKind::OutputTooSmall(n) if n as usize > insns.len() => {
                    insns.resize(n as usize, Insn::default());
                }
                _ => return Err(format!("{name}: {e}")),
            },
        }
    }
}

/// The name Linux gives a map type.
pub fn map_type_name(t: MapType) -> &'static str {
    match t {
        MapType::Hash => "hash",
        MapType::Array => "array",
        MapType::ProgArray => "prog_array",
        MapType::PerCpuArray => "percpu_array",
        MapType::PerCpuHash => "percpu_hash",
        MapType::PerfEventArray => "perf_event_array",
        MapType::LruPerCpuHash => "lru_percpu_hash",
        MapType::LruHash => "lru_hash",
        MapType::LpmTrie => "lpm_trie",
        MapType::DevMap => "devmap",
        MapType::CpuMap => "cpumap",
        MapType::XskMap => "xskmap",
        MapType::Queue => "queue",
        MapType::Stack => "stack",
        MapType::RingBuf => "ringbuf",
        _ => "other",
    }
}

/// What `nanobpf verify` found: the object (for ELF input) and each program's verdict; the
/// `--json` document.
#[derive(Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    /// The file verified.
    pub file: String,
    /// The object's license (ELF input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The object's programs (ELF input).
    pub programs: Vec<ObjectProgram>,
    /// The object's maps (ELF input).
    pub maps: Vec<ObjectMap>,
    /// One verdict per program verified.
    pub results: Vec<Verdict>,
}

/// A program of an object.
#[derive(Debug, serde::Serialize)]
pub struct ObjectProgram {
    /// Function name.
    pub name: String,
    /// Section.
    pub section: String,
    /// Program type, from the section name.
    #[serde(rename = "type")]
    pub prog_type: Option<String>,
    /// Slots of the function itself.
    pub slots: usize,
}

/// A map of an object.
#[derive(Debug, serde::Serialize)]
pub struct ObjectMap {
    /// Index (what `lddw` refers to).
    pub index: u32,
    /// Name.
    pub name: String,
    /// Linux's name of the map type (or its number, for a type nanobpf does not have).
    #[serde(rename = "type")]
    pub map_type: String,
    /// Key bytes.
    pub key_size: u32,
    /// Value bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
}

/// What became of one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The verifier accepted it.
    Accepted,
    /// The verifier rejected it ([`Verdict::error`] says where and why).
    Rejected,
    /// Its type is one nanobpf does not run, or its section names none
    /// ([`Verdict::error`] says which); it was not verified.
    Unsupported,
    /// The loader refused it ([`Verdict::error`] says why); it was not verified.
    LoadFailed,
}

/// The verifier's verdict on one program.
#[derive(Debug, serde::Serialize)]
pub struct Verdict {
    /// `NAME (SECTION)` for a program of an object, the file name for raw slots.
    pub program: String,
    /// What became of it.
    pub status: Status,
    /// Whether the verifier accepted it.
    pub accepted: bool,
    /// Slots verified (with called functions).
    pub insns: usize,
    /// Stack bytes used, when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_depth: Option<u32>,
    /// Time the verifier took, in microseconds.
    pub elapsed_us: f64,
    /// Where and why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Rejection>,
    /// The state trace (`--log`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// What the verification cost (verified programs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
}

/// [`VerifyStats`] for the report.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Stats {
    /// Instructions processed over all paths.
    pub insns_processed: u32,
    /// The most explored states held at once.
    pub peak_states: u32,
    /// The most branches pending at once.
    pub peak_branches: u32,
    /// The most bytes of state cache and branch stack in use at once.
    pub peak_bytes: u32,
    /// The whole workspace's size in bytes.
    pub workspace_bytes: usize,
}

impl Verdict {
    /// A program that was not verified: `status` and why.
    pub(crate) fn not_verified(program: String, status: Status, message: String) -> Verdict {
        Verdict {
            program,
            status,
            accepted: false,
            insns: 0,
            stack_depth: None,
            elapsed_us: 0.0,
            error: Some(Rejection {
                pc: 0,
                insn: String::new(),
                message,
            }),
            log: None,
            stats: None,
        }
    }

    /// The verdict on one line.
    pub fn line(&self) -> String {
        let why = self.error.as_ref().map_or("", |r| r.message.as_str());
        match (self.status, &self.error) {
            (Status::Accepted, _) => format!(
                "{}: accepted ({} insns, stack {} bytes, verified in {:.1?})",
                self.program,
                self.insns,
                self.stack_depth.unwrap_or(0),
                std::time::Duration::from_secs_f64(self.elapsed_us / 1e6)
            ),
            (Status::Rejected, Some(r)) => format!(
                "{}: rejected at insn {} ({}): {}",
                self.program, r.pc, r.insn, r.message
            ),
            (Status::LoadFailed, _) => format!("{}: load failed: {why}", self.program),
            _ => format!("{}: {why}", self.program),
        }
    }
}

/// A rejection: the instruction and the verifier's message.
#[derive(Debug, serde::Serialize)]
pub struct Rejection {
    /// The instruction index.
    pub pc: usize,
    /// The instruction, disassembled.
    pub insn: String,
    /// The verifier's message.
    pub message: String,
}

impl VerifyReport {
    /// Exit status: 2 when a program could not be loaded, else 1 when one was rejected or is
    /// of a type nanobpf does not run, else 0 (every program accepted; there is at least
    /// one, [`verify_elf`] sees to that).
    pub fn exit_code(&self) -> ExitCode {
        let has = |s| self.results.iter().any(|v| v.status == s);
        if has(Status::LoadFailed) || self.results.is_empty() {
            ExitCode::from(2)
        } else if has(Status::Rejected) || has(Status::Unsupported) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }

    /// A table of what each verification cost, in the spirit of Linux's `veristat`.
    pub fn stats_table(&self) -> String {
        use std::fmt::Write;
        let width = self
            .results
            .iter()
            .map(|v| v.program.len())
            .chain([7])
            .max()
            .unwrap_or(7);
        let mut out = format!(
            "{:<width$}  {:<11}  {:>6}  {:>9}  {:>6}  {:>8}  {:>10}  {:>10}\n",
            "program", "verdict", "insns", "processed", "states", "branches", "peak bytes", "time"
        );
        for v in &self.results {
            let verdict = match v.status {
                Status::Accepted => "accepted",
                Status::Rejected => "rejected",
                Status::Unsupported => "unsupported",
                Status::LoadFailed => "load failed",
            };
            let _ = match v.stats {
                Some(s) => writeln!(
                    out,
                    "{:<width$}  {verdict:<11}  {:>6}  {:>9}  {:>6}  {:>8}  {:>10}  {:>10.1?}",
                    v.program,
                    v.insns,
                    s.insns_processed,
                    s.peak_states,
                    s.peak_branches,
                    s.peak_bytes,
                    std::time::Duration::from_secs_f64(v.elapsed_us / 1e6)
                ),
                None => writeln!(out, "{:<width$}  {verdict:<11}", v.program),
            };
        }
        out
    }

    /// Prints the report: as text, or (`json`) as one JSON document; `stats` adds the table
    /// of [`VerifyReport::stats_table`] to the text.
    pub fn print(&self, json: bool, stats: bool) {
        if json {
            match serde_json::to_string_pretty(self) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("nanobpf: JSON: {e}"),
            }
            return;
        }
        if let Some(license) = &self.license {
            println!("{}: license {license}", self.file);
        }
        for p in &self.programs {
            let ty = p.prog_type.as_deref().unwrap_or("(unknown type)");
            println!(
                "  program {} in section {}: {ty}, {} slots",
                p.name, p.section, p.slots
            );
        }
        for m in &self.maps {
            println!(
                "  map {} {}: {}, key {} B, value {} B, max_entries {}",
                m.index, m.name, m.map_type, m.key_size, m.value_size, m.max_entries
            );
        }
        for v in &self.results {
            if let Some(log) = &v.log {
                print!("{log}");
            }
            println!("{}", v.line());
        }
        if stats {
            print!("{}", self.stats_table());
        }
    }
}

/// The object's license, programs and maps.
fn describe_object(report: &mut VerifyReport, obj: &Object<'_>, maps: &[MapInfo<'_>]) {
    report.license = Some(obj.license().unwrap_or("(none)").to_string());
    report.programs = obj
        .programs()
        .map(|p| ObjectProgram {
            name: p.name.to_string(),
            section: p.section.to_string(),
            prog_type: p.prog_type.map(|t| format!("{t:?}")),
            slots: p.slots as usize,
        })
        .collect();
    report.maps = maps
        .iter()
        .map(|m| ObjectMap {
            index: m.index,
            name: m.name.to_string(),
            map_type: match m.def {
                Ok(d) => map_type_name(d.map_type).to_string(),
                Err(u) => format!("type {} (not supported)", u.linux_type),
            },
            key_size: m.verifier_def().key_size,
            value_size: m.verifier_def().value_size,
            max_entries: m.verifier_def().max_entries,
        })
        .collect();
}

/// `nanobpf verify FILE.o`: loads every program (or the one `section` names) with its
/// relocations and verifies it against the object's map definitions, as the type `prog_type`
/// gives or else its section's name. A program of a type nanobpf does not run (or whose
/// section names none) is reported as such, never verified against another type's rules; a
/// program the loader refuses is reported with the loader's error.
///
/// # Errors
/// The object cannot be parsed, or holds no program (or none called `section`): the message
/// names the executable sections it has (exit status 2).
pub fn verify_elf(
    name: &str,
    bytes: &[u8],
    section: Option<&str>,
    prog_type: Option<ProgramType>,
    log: bool,
) -> Result<VerifyReport, String> {
    let obj = Object::parse(bytes).map_err(|e| format!("{name}: {e}"))?;
    let maps: Vec<MapInfo<'_>> = obj.maps().collect();
    let mut report = VerifyReport {
        file: name.to_string(),
        ..VerifyReport::default()
    };
    describe_object(&mut report, &obj, &maps);
    let defs: Vec<MapDef> = maps.iter().map(|m| m.verifier_def()).collect();
    let sections = || {
        let all: Vec<&str> = obj.code_sections().collect();
        if all.is_empty() {
            "it has no executable section".to_string()
        } else {
            format!("executable sections: {}", all.join(", "))
        }
    };
    let chosen: Vec<ProgramInfo<'_>> = match section {
        Some(s) => vec![obj
            .program(s)
            .map_err(|_| format!("{name}: no program or section '{s}' ({})", sections()))?],
        None => obj.programs().collect(),
    };
    if chosen.is_empty() {
        return Err(format!("{name}: no program found ({})", sections()));
    }
    for p in chosen {
        report
            .results
            .push(verify_program(&obj, &defs, &p, prog_type, log));
    }
    Ok(report)
}

/// Loads and verifies program `p` of `obj` against the maps `defs`, as `prog_type` or else
/// the type its section names; a program of a type nanobpf does not run, or whose section
/// names none, is [`Status::Unsupported`] and not verified.
pub fn verify_program(
    obj: &Object<'_>,
    defs: &[MapDef],
    p: &ProgramInfo<'_>,
    prog_type: Option<ProgramType>,
    log: bool,
) -> Verdict {
    let label = format!("{} ({})", p.name, p.section);
    let ty = prog_type.or(p.prog_type);
    // Loading does not depend on the type: a broken program is reported as such first.
    let mut insns = match load_program(obj, p.name, ty.unwrap_or(ProgramType::Xdp)) {
        Ok(insns) => insns,
        Err(e) => return Verdict::not_verified(label, Status::LoadFailed, e),
    };
    let Some(ty) = ty else {
        let why = match unsupported_program_kind(p.section) {
            Some(kind) => format!("program type {kind} is not supported"),
            None => format!(
                "section '{}' names no program type nanobpf runs; give --type",
                p.section
            ),
        };
        return Verdict::not_verified(label, Status::Unsupported, why);
    };
    verify_one(&label, &mut insns, ty, defs, log)
}

/// `nanobpf verify FILE.o`, printed: exit status 0 when every program is accepted, 1 when
/// one is rejected or of a type nanobpf does not run, 2 when the object, or a program of it,
/// cannot be loaded, or it holds no program.
pub fn run_elf(
    name: &str,
    bytes: &[u8],
    section: Option<&str>,
    prog_type: Option<ProgramType>,
    out: Output,
) -> ExitCode {
    match verify_elf(name, bytes, section, prog_type, out.log) {
        Ok(report) => {
            report.print(out.json, out.stats);
            report.exit_code()
        }
        Err(e) => {
            eprintln!("nanobpf: {e}");
            ExitCode::from(2)
        }
    }
}

/// What `nanobpf verify` prints besides the verdicts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    /// The per-instruction state trace.
    pub log: bool,
    /// One JSON document instead of text.
    pub json: bool,
    /// The table of what each verification cost.
    pub stats: bool,
}

/// Parses `memory[:LEN]`, `xdp`, `socket` or `tc`.
///
/// # Errors
/// The accepted spellings when `s` is none of them.
pub fn parse_type(s: &str) -> Result<ProgramType, String> {
    match s {
        "xdp" => Ok(ProgramType::Xdp),
        "socket" | "socket_filter" => Ok(ProgramType::SocketFilter),
        "tc" | "classifier" | "sched_cls" => Ok(ProgramType::Tc),
        "memory" => Ok(ProgramType::Memory { len: 0 }),
        _ => match s.strip_prefix("memory:").map(str::parse::<u32>) {
            Some(Ok(len)) => Ok(ProgramType::Memory { len }),
            _ => Err(format!(
                "unknown program type '{s}' (xdp, socket, tc, memory[:LEN])"
            )),
        },
    }
}

/// Splits raw bytes into slots.
///
/// # Errors
/// When the length is not a multiple of 8.
pub fn slots(bytes: &[u8]) -> Result<Vec<Insn>, String> {
    if bytes.len() % Insn::SIZE != 0 {
        return Err("length is not a multiple of 8".into());
    }
    Ok(bytes
        .chunks_exact(Insn::SIZE)
        .map(|c| Insn::from_bytes(c.try_into().unwrap_or_default()))
        .collect())
}

/// Verifies raw `insns` with the standard helpers and no maps, prints the verdict (and the log)
/// as text or JSON, and returns the exit code: 0 accepted, 1 rejected.
pub fn run(name: &str, insns: &mut [Insn], prog_type: ProgramType, out: Output) -> ExitCode {
    let report = VerifyReport {
        file: name.to_string(),
        results: vec![verify_one(name, insns, prog_type, &[], out.log)],
        ..VerifyReport::default()
    };
    report.print(out.json, out.stats);
    report.exit_code()
}

/// Programs at least this long get a spinner while they verify (when stderr is a terminal).
pub const SPINNER_MIN_SLOTS: usize = 1_000;

/// Verifies `insns` against `maps` in the device-sized default workspace.
pub fn verify_one(
    name: &str,
    insns: &mut [Insn],
    prog_type: ProgramType,
    maps: &[MapDef],
    log: bool,
) -> Verdict {
    let original = insns.to_vec();
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyTarget::new(
        prog_type,
        nanobpf_core::helpers::standard(),
        nanobpf_core::MapTable::definitions(maps),
    );
    let spinner = crate::progress::spinner(insns.len() >= SPINNER_MIN_SLOTS, || {
        format!("verifying {name} ({} slots)", insns.len())
    });
    let started = std::time::Instant::now();
    let mut text = String::new();
    let trace: Option<&mut dyn std::fmt::Write> = if log { Some(&mut text) } else { None };
    let (result, stats) = verify_with_stats(insns, &env, &mut ws, trace);
    let result = result.map(|p| p.stack_depth());
    let elapsed_us = started.elapsed().as_secs_f64() * 1e6;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let error = result.as_ref().err().map(|e| {
        let mut insn = String::new();
        let _ = disassemble_insn(&original, e.pc, &mut insn);
        Rejection {
            pc: e.pc,
            insn,
            message: e.kind.to_string(),
        }
    });
    let VerifyStats {
        insns_processed,
        peak_states,
        peak_branches,
        peak_bytes,
    } = stats;
    Verdict {
        program: name.to_string(),
        status: if result.is_ok() {
            Status::Accepted
        } else {
            Status::Rejected
        },
        accepted: result.is_ok(),
        insns: insns.len(),
        stack_depth: result.ok(),
        elapsed_us,
        error,
        log: log.then_some(text),
        stats: Some(Stats {
            insns_processed,
            peak_states,
            peak_branches,
            peak_bytes,
            workspace_bytes: DefaultWorkspace::SIZE_BYTES,
        }),
    }
}

/// `nanobpf disasm FILE.o`: every program of an object, loaded with its relocations, one
/// instruction per line, map references and helper calls annotated with their names.
///
/// # Errors
/// An object or program that does not load.
pub fn disasm_elf(bytes: &[u8]) -> Result<String, String> {
    use nanobpf_core::opcode::{CALL, CALL_HELPER};
    use std::fmt::Write;
    let obj = Object::parse(bytes).map_err(|e| e.to_string())?;
    let maps: Vec<MapInfo<'_>> = obj.maps().collect();
    let helpers = nanobpf_core::helpers::standard();
    let mut out = String::new();
    for p in obj.programs() {
        let prog_type = p.prog_type.unwrap_or(ProgramType::Xdp);
        let insns = load_program(&obj, p.name, prog_type)?;
        let _ = writeln!(
            out,
            "{} (section {}, {} slots):",
            p.name,
            p.section,
            insns.len()
        );
        let mut pc = 0;
        while pc < insns.len() {
            let mut line = String::new();
            let slots = disassemble_insn(&insns, pc, &mut line).unwrap_or(1);
            let insn = insns[pc];
            let note = if insn.is_lddw() && insn.src() != 0 {
                maps.get(insn.imm as usize)
                    .map(|m| format!("map {}", m.name))
            } else if insn.opcode == CALL && insn.src() == CALL_HELPER {
                helpers.get(insn.imm as u32).map(|h| h.name.to_string())
            } else {
                None
            };
            match note {
                Some(n) => {
                    let _ = writeln!(out, "{pc:5}: {line:<40} # {n}");
                }
                None => {
                    let _ = writeln!(out, "{pc:5}: {line}");
                }
            }
            pc += slots.max(1);
        }
    }
    Ok(out)
}
