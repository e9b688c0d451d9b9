//! `nanobpf verify`: load, verify, and report like Linux's verifier.

use nanobpf_core::asm::disassemble_insn;
use nanobpf_core::elf::{MapInfo, Object};
use nanobpf_core::env::{MapDef, MapType};
use nanobpf_core::verifier::{verify, verify_with_log, DefaultWorkspace, VerifyEnv};
use nanobpf_core::{Insn, LoadErrorKind, ProgramType};
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
        MapType::LruHash => "lru_hash",
        MapType::LpmTrie => "lpm_trie",
        MapType::DevMap => "devmap",
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
    /// Linux's name of the map type.
    #[serde(rename = "type")]
    pub map_type: &'static str,
    /// Key bytes.
    pub key_size: u32,
    /// Value bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
}

/// The verifier's verdict on one program.
#[derive(Debug, serde::Serialize)]
pub struct Verdict {
    /// `NAME (SECTION)` for a program of an object, the file name for raw slots.
    pub program: String,
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
    /// Exit status: 0 when every program is accepted, else 1.
    pub fn exit_code(&self) -> ExitCode {
        if self.results.iter().all(|v| v.accepted) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// Prints the report: as text, or (`json`) as one JSON document.
    pub fn print(&self, json: bool) {
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
            match &v.error {
                None => println!(
                    "{}: accepted ({} insns, stack {} bytes, verified in {:.1?})",
                    v.program,
                    v.insns,
                    v.stack_depth.unwrap_or(0),
                    std::time::Duration::from_secs_f64(v.elapsed_us / 1e6)
                ),
                Some(r) => {
                    println!("{}: rejected", v.program);
                    println!("{}: {}", r.pc, r.insn);
                    if v.log.is_none() {
                        // The log already ends with the error.
                        println!("{}", r.message);
                    }
                }
            }
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
            map_type: map_type_name(m.def.map_type),
            key_size: m.def.key_size,
            value_size: m.def.value_size,
            max_entries: m.def.max_entries,
        })
        .collect();
}

/// `nanobpf verify FILE.o`: loads every program (or the one `section` names) with its
/// relocations and verifies it against the object's map definitions.
///
/// # Errors
/// The object or a program cannot be loaded (exit status 2).
pub fn verify_elf(
    name: &str,
    bytes: &[u8],
    section: Option<&str>,
    log: bool,
) -> Result<VerifyReport, String> {
    let obj = Object::parse(bytes).map_err(|e| format!("{name}: {e}"))?;
    let maps: Vec<MapInfo<'_>> = obj.maps().collect();
    let mut report = VerifyReport {
        file: name.to_string(),
        ..VerifyReport::default()
    };
    describe_object(&mut report, &obj, &maps);
    let defs: Vec<MapDef> = maps.iter().map(|m| m.def).collect();
    let chosen: Vec<_> = match section {
        Some(s) => vec![obj.program(s).map_err(|e| format!("{name}: '{s}': {e}"))?],
        None => obj.programs().collect(),
    };
    for p in chosen {
        let prog_type = p.prog_type.unwrap_or(ProgramType::Xdp);
        let mut insns =
            load_program(&obj, p.name, prog_type).map_err(|e| format!("{name}: {e}"))?;
        let label = format!("{} ({})", p.name, p.section);
        report
            .results
            .push(verify_one(&label, &mut insns, prog_type, &defs, log));
    }
    Ok(report)
}

/// `nanobpf verify FILE.o`, printed: exit status 0 when every program is accepted, 1 when
/// one is rejected, 2 when the object or a program cannot be loaded.
pub fn run_elf(name: &str, bytes: &[u8], section: Option<&str>, log: bool, json: bool) -> ExitCode {
    match verify_elf(name, bytes, section, log) {
        Ok(report) => {
            report.print(json);
            report.exit_code()
        }
        Err(e) => {
            eprintln!("nanobpf: {e}");
            ExitCode::from(2)
        }
    }
}

/// Parses `memory[:LEN]`, `xdp` or `socket`.
///
/// # Errors
/// The accepted spellings when `s` is none of them.
pub fn parse_type(s: &str) -> Result<ProgramType, String> {
    match s {
        "xdp" => Ok(ProgramType::Xdp),
        "socket" | "socket_filter" => Ok(ProgramType::SocketFilter),
        "memory" => Ok(ProgramType::Memory { len: 0 }),
        _ => match s.strip_prefix("memory:").map(str::parse::<u32>) {
            Some(Ok(len)) => Ok(ProgramType::Memory { len }),
            _ => Err(format!(
                "unknown program type '{s}' (xdp, socket, memory[:LEN])"
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
pub fn run(
    name: &str,
    insns: &mut [Insn],
    prog_type: ProgramType,
    log: bool,
    json: bool,
) -> ExitCode {
    let report = VerifyReport {
        file: name.to_string(),
        results: vec![verify_one(name, insns, prog_type, &[], log)],
        ..VerifyReport::default()
    };
    report.print(json);
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
    let env = VerifyEnv::new(prog_type, nanobpf_core::helpers::standard(), maps);
    let spinner = crate::progress::spinner(insns.len() >= SPINNER_MIN_SLOTS, || {
        format!("verifying {name} ({} slots)", insns.len())
    });
    let started = std::time::Instant::now();
    let mut text = String::new();
    let result = if log {
        verify_with_log(insns, &env, &mut ws, &mut text).map(|p| p.stack_depth())
    } else {
        verify(insns, &env, &mut ws).map(|p| p.stack_depth())
    };
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
            message: e.to_string(),
        }
    });
    Verdict {
        program: name.to_string(),
        accepted: result.is_ok(),
        insns: insns.len(),
        stack_depth: result.ok(),
        elapsed_us,
        error,
        log: log.then_some(text),
    }
}

/// `nanobpf disasm FILE.o`: every program of an object, loaded with its relocations, one
/// instruction per line, map references and helper calls annotated with their names.
///
/// # Errors
/// An object or program that does not load.
pub fn disasm_elf(bytes: &[u8]) -> Result<String, String> {
    use nanobpf_core::asm::insn_len;
    use nanobpf_core::isa::opcode::{op, CALL_HELPER};
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
            let _ = disassemble_insn(&insns, pc, &mut line);
            let insn = insns[pc];
            let note = if insn.is_lddw() && insn.src() != 0 {
                maps.get(insn.imm as usize)
                    .map(|m| format!("map {}", m.name))
            } else if insn.opcode == op::CALL && insn.src() == CALL_HELPER {
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
            pc += insn_len(&insns, pc).max(1);
        }
    }
    Ok(out)
}
