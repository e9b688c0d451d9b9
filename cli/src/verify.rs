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

/// Prints an object's license, programs and maps.
fn print_object(name: &str, obj: &Object<'_>, maps: &[MapInfo<'_>]) {
    println!("{name}: license {}", obj.license().unwrap_or("(none)"));
    for p in obj.programs() {
        let ty = p
            .prog_type
            .map_or("(unknown type)".to_string(), |t| format!("{t:?}"));
        println!(
            "  program {} in section {}: {ty}, {} slots",
            p.name, p.section, p.slots
        );
    }
    for m in maps {
        println!(
            "  map {} {}: {}, key {} B, value {} B, max_entries {}",
            m.index,
            m.name,
            map_type_name(m.def.map_type),
            m.def.key_size,
            m.def.value_size,
            m.def.max_entries
        );
    }
}

/// `nanobpf verify FILE.o`: loads every program (or the one `section` names) with its
/// relocations and verifies it against the object's map definitions. Exit status 0 when every
/// program is accepted, 1 when one is rejected, 2 when the object or a program cannot be loaded.
/// `ty` is the type of programs whose section names none (XDP when `None`).
pub fn run_elf(
    name: &str,
    bytes: &[u8],
    section: Option<&str>,
    ty: Option<ProgramType>,
    log: bool,
) -> ExitCode {
    let obj = match Object::parse(bytes) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("nanobpf: {name}: {e}");
            return ExitCode::from(2);
        }
    };
    let maps: Vec<MapInfo<'_>> = obj.maps().collect();
    print_object(name, &obj, &maps);
    let defs: Vec<MapDef> = maps.iter().map(|m| m.def).collect();
    let chosen: Vec<_> = match section {
        Some(s) => match obj.program(s) {
            Ok(p) => vec![p],
            Err(e) => {
                eprintln!("nanobpf: {name}: '{s}': {e}");
                return ExitCode::from(2);
            }
        },
        None => obj.programs().collect(),
    };
    let mut code = ExitCode::SUCCESS;
    for p in chosen {
        let prog_type = p.prog_type.or(ty).unwrap_or(ProgramType::Xdp);
        let mut insns = match load_program(&obj, p.name, prog_type) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("nanobpf: {name}: {e}");
                return ExitCode::from(2);
            }
        };
        let label = format!("{} ({})", p.name, p.section);
        if verify_and_report(&label, &mut insns, prog_type, &defs, log) != ExitCode::SUCCESS {
            code = ExitCode::FAILURE;
        }
    }
    code
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

/// Verifies raw `insns` with the standard helpers and no maps, prints the verdict (and the log),
/// and returns the exit code: 0 accepted, 1 rejected.
pub fn run(name: &str, insns: &mut [Insn], prog_type: ProgramType, log: bool) -> ExitCode {
    verify_and_report(name, insns, prog_type, &[], log)
}

/// Verifies `insns` against `maps` in the device-sized default workspace, prints the verdict
/// (and the log), and returns the exit code: 0 accepted, 1 rejected.
fn verify_and_report(
    name: &str,
    insns: &mut [Insn],
    prog_type: ProgramType,
    maps: &[MapDef],
    log: bool,
) -> ExitCode {
    let original = insns.to_vec();
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyEnv::new(prog_type, nanobpf_core::helpers::standard(), maps);
    let started = std::time::Instant::now();
    let result = if log {
        let mut text = String::new();
        let r = verify_with_log(insns, &env, &mut ws, &mut text);
        print!("{text}");
        r.map(|p| p.stack_depth())
    } else {
        verify(insns, &env, &mut ws).map(|p| p.stack_depth())
    };
    let elapsed = started.elapsed();
    match result {
        Ok(depth) => {
            println!(
                "{name}: accepted ({} insns, stack {depth} bytes, verified in {:.1?})",
                insns.len(),
                elapsed
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let mut text = String::new();
            let _ = disassemble_insn(&original, e.pc, &mut text);
            println!("{name}: rejected");
            println!("{}: {text}", e.pc);
            if !log {
                // The log already ends with the error.
                println!("{e}");
            }
            ExitCode::FAILURE
        }
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
