//! `nanobpf verify`: load, verify, and report like Linux's verifier.

use nanobpf_core::asm::disassemble_insn;
use nanobpf_core::verifier::{verify, verify_with_log, DefaultWorkspace, VerifyEnv};
use nanobpf_core::{Insn, ProgramType};
use std::process::ExitCode;

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

/// Verifies `insns` with the standard helpers and no maps, prints the verdict (and the log), and
/// returns the exit code: 0 accepted, 1 rejected.
pub fn run(name: &str, insns: &mut [Insn], prog_type: ProgramType, log: bool) -> ExitCode {
    let original = insns.to_vec();
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyEnv::new(prog_type, nanobpf_core::helpers::standard(), &[]);
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
