//! `nanobpf-plugin`: the bpf_conformance runner's plugin protocol.
//!
//! `nanobpf-plugin [MEM] [--engine NAME] [--elf]`: MEM is the input memory as hex bytes
//! ("00  01  "), the program comes on stdin in the same encoding; r0 goes to stdout in hex and
//! the exit status is 0. A rejected or failed program exits 1 with the reason on stdout.

use nanobpf_cli::engine;
use nanobpf_core::Insn;
use std::io::Read;
use std::process::ExitCode;

fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    s.split_whitespace()
        .map(|t| u8::from_str_radix(t, 16).map_err(|_| format!("bad hex byte '{t}'")))
        .collect()
}

fn main() -> ExitCode {
    match run() {
        Ok(r0) => {
            println!("{r0:x}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            println!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<u64, String> {
    let mut args = std::env::args().skip(1).peekable();
    let mut mem = Vec::new();
    if let Some(first) = args.peek() {
        if !first.starts_with("--") {
            mem = hex_bytes(first)?;
            args.next();
        }
    }
    let mut engine_name = "interp".to_string();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--engine" => engine_name = args.next().ok_or("--engine needs a name")?,
            "--elf" => return Err("ELF input is not supported by this plugin".into()),
            "" => {}
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("stdin: {e}"))?;
    let bytes = hex_bytes(input.lines().next().unwrap_or(""))?;
    if bytes.len() % Insn::SIZE != 0 {
        return Err("program length is not a multiple of 8".into());
    }
    let mut insns: Vec<Insn> = bytes
        .chunks_exact(Insn::SIZE)
        .map(|c| Insn::from_bytes(c.try_into().unwrap_or_default()))
        .collect();
    let mut engine = engine::by_name(&engine_name)?;
    engine
        .execute(&mut insns, &mut mem)
        .map_err(|e| e.to_string())
}
