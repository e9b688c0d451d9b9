//! `nanobpf`: the host tool.

use clap::{Parser, Subcommand};
use nanobpf_cli::{conformance, engine, verify};
use nanobpf_core::{assemble, Disasm};
use nanobpf_core::{Insn, ProgramType};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "nanobpf", version, about = "nanobpf host tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble a text program into raw little-endian slots.
    Asm {
        /// Assembly source.
        input: PathBuf,
        /// Output file of raw slots.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Disassemble raw slots, or every program of an ELF object with its relocations.
    Disasm {
        /// File of raw little-endian slots, or an ELF object.
        input: PathBuf,
    },
    /// Verify a program: exit 0 when accepted, 1 when rejected, 2 when it cannot be read.
    Verify {
        /// An ELF object from `clang -target bpf`, or a file of raw little-endian slots.
        input: PathBuf,
        /// In an ELF object: the program (section or function name) to verify; all by default.
        #[arg(long)]
        section: Option<String>,
        /// Program type: `memory[:LEN]`, `xdp`, `socket` or `tc`. Raw slots are `xdp` by default; an
        /// ELF object's programs take the type their section names unless this is given.
        #[arg(long = "type")]
        prog_type: Option<String>,
        /// Print the per-instruction state trace, like Linux's verifier log.
        #[arg(long)]
        log: bool,
        /// Print one JSON document (the object, and each program's verdict) instead of text.
        #[arg(long)]
        json: bool,
        /// Print a table of what each verification cost (instructions processed, peak
        /// states and bytes of the workspace, time), like Linux's veristat.
        #[arg(long)]
        stats: bool,
    },
    /// Verify every program of a corpus of real objects (a folder with an `expected.tsv`)
    /// and compare each verdict with the one expected: a table per family, the figures of the
    /// verification, and every disagreement with its cause.
    Corpus {
        /// The corpus folder (`../shared/corpus` beside the repository).
        dir: PathBuf,
        /// Print one JSON document (every row with its verdict, and the table) instead.
        #[arg(long)]
        json: bool,
    },
    /// Run every `.data` test vector of a directory; the last line is `N passed, M failed`.
    Conformance {
        /// Directory of `.data` files.
        dir: PathBuf,
        /// Engine to run them on.
        #[arg(long, default_value = "interp")]
        engine: String,
    },
    /// Run a tcpdump expression (or a `tcpdump -dd` program) over a capture as converted eBPF,
    /// and compare with libpcap's own engine.
    Filter(nanobpf_cli::filter::FilterArgs),
    /// Replay a capture through an XDP program of a BPF object: verdicts, packets per second,
    /// every map's contents; passed and transmitted frames to --out.
    Run(nanobpf_cli::run::RunArgs),
    /// Write a new Ed25519 key pair: OUT (private) and OUT.pub (public, for the device).
    Keygen {
        /// The private key file to write.
        out: PathBuf,
    },
    /// Sign an object for upload: writes PROG.o.sig (version, size, program name, signature).
    Sign {
        /// The object.
        prog: PathBuf,
        /// The private key (from `nanobpf keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The version; a device accepts only versions above the running one.
        #[arg(long)]
        version: u32,
        /// The program (section or function name); default the first XDP program.
        #[arg(long)]
        section: Option<String>,
    },
    /// Talk to a device over its control channel (UDP or a serial line): load, status, maps,
    /// set, delete, unload, selftest.
    Device(nanobpf_cli::device_cmd::DeviceArgs),
    /// Run the device side of the control channel on this host, over UDP (or a serial line
    /// over TCP).
    Serve(nanobpf_cli::serve::ServeArgs),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("nanobpf: {msg}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Filter(args) => nanobpf_cli::filter::run(&args),
        Command::Run(args) => nanobpf_cli::run::run(&args),
        Command::Keygen { out } => nanobpf_cli::device_cmd::keygen(&out),
        Command::Sign {
            prog,
            key,
            version,
            section,
        } => nanobpf_cli::device_cmd::sign_cmd(&prog, &key, version, section.as_deref()),
        Command::Device(args) => nanobpf_cli::device_cmd::run(&args),
        Command::Serve(args) => nanobpf_cli::serve::run(&args),
        Command::Asm { input, output } => {
            let src = String::from_utf8(read(&input)?)
                .map_err(|_| format!("{}: not UTF-8", input.display()))?;
            let mut buf = vec![Insn::default(); src.lines().count() * 2 + 2];
            let n = assemble(&src, &mut buf).map_err(|e| format!("{}:{e}", input.display()))?;
            let bytes: Vec<u8> = buf[..n].iter().flat_map(|i| i.to_bytes()).collect();
            std::fs::write(&output, bytes).map_err(|e| format!("{}: {e}", output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Disasm { input } => {
            let bytes = read(&input)?;
            if verify::is_elf(&bytes) {
                let text =
                    verify::disasm_elf(&bytes).map_err(|e| format!("{}: {e}", input.display()))?;
                print!("{text}");
                return Ok(ExitCode::SUCCESS);
            }
            if bytes.len() % Insn::SIZE != 0 {
                return Err(format!(
                    "{}: length is not a multiple of 8",
                    input.display()
                ));
            }
            let insns: Vec<Insn> = bytes
                .chunks_exact(Insn::SIZE)
                .map(|c| Insn::from_bytes(c.try_into().unwrap_or_default()))
                .collect();
            print!("{}", Disasm::new(&insns));
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            input,
            section,
            prog_type,
            log,
            json,
            stats,
        } => {
            let prog_type = prog_type.as_deref().map(verify::parse_type).transpose()?;
            let out = verify::Output { log, json, stats };
            let bytes = read(&input)?;
            if verify::is_elf(&bytes) {
                let name = input.display().to_string();
                return Ok(verify::run_elf(
                    &name,
                    &bytes,
                    section.as_deref(),
                    prog_type,
                    out,
                ));
            }
            let mut insns =
                verify::slots(&bytes).map_err(|e| format!("{}: {e}", input.display()))?;
            Ok(verify::run(
                &input.display().to_string(),
                &mut insns,
                prog_type.unwrap_or(ProgramType::Xdp),
                out,
            ))
        }
        Command::Corpus { dir, json } => {
            let report = nanobpf_cli::corpus::run(&dir)?;
            if json {
                let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
                println!("{text}");
            } else {
                print!("{}", report.text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Conformance { dir, engine } => {
            let mut engine = engine::by_name(&engine)?;
            let results = conformance::run_dir(engine.as_mut(), &dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            let mut failed = 0;
            for (name, outcome) in &results {
                if let conformance::Outcome::Fail(why) = outcome {
                    println!("FAIL {name}: {why}");
                    failed += 1;
                }
            }
            println!("{} passed, {failed} failed", results.len() - failed);
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
