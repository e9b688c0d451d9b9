//! The `keygen`, `sign` and `device` commands' argument handling and output.

use crate::device::{Client, MapInfo};
use crate::sign;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `nanobpf device ...`.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// The device: udp:HOST:PORT, serial:PATH (a tty) or serial-tcp:HOST:PORT (a serial
    /// line behind a TCP socket, as QEMU's `-serial tcp:...`).
    #[arg(long)]
    pub to: String,
    /// Milliseconds to wait for each answer before resending.
    #[arg(long, default_value_t = 500)]
    pub timeout_ms: u64,
    /// Times each request is sent before giving up.
    #[arg(long, default_value_t = 4)]
    pub attempts: u32,
    /// Sign every request with this private key (for a device that takes signed requests
    /// only: `nanobpf serve --signed-only`).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: DeviceCommand,
}

/// The `device` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DeviceCommand {
    /// Upload a signed object (PROG.o with PROG.o.sig beside it) and replace the running
    /// program with it.
    Load {
        /// The object.
        prog: PathBuf,
        /// Its signature file (default: PROG.o.sig).
        #[arg(long)]
        sig: Option<PathBuf>,
    },
    /// The running program, its verdict counters and the last commit's outcome.
    Status,
    /// The running program's maps and their entries.
    Maps {
        /// Only this map.
        #[arg(long)]
        map: Option<String>,
        /// Entries shown per map.
        #[arg(long, default_value_t = 16)]
        show: usize,
    },
    /// Write a map entry: MAP:KEY=VALUE (as `nanobpf run --set`), signed with --key.
    Set {
        /// MAP:KEY=VALUE.
        entry: String,
        /// The operator's private key.
        #[arg(long)]
        key: PathBuf,
    },
    /// Delete a map entry: MAP:KEY, signed with --key.
    Delete {
        /// MAP:KEY.
        entry: String,
        /// The operator's private key.
        #[arg(long)]
        key: PathBuf,
    },
    /// Stop the running program, signed with --key.
    Unload {
        /// The operator's private key.
        #[arg(long)]
        key: PathBuf,
    },
    /// For test devices: send every bad input the channel must refuse (bad signatures, old
    /// versions, truncated, reordered and corrupted uploads, objects too big, bad map writes,
    /// garbage), check each refusal and that nothing changed; then abandon an upload and
    /// load the firewall at the next version. Needs a running program.
    Selftest {
        /// The operator's private key.
        #[arg(long)]
        key: PathBuf,
    },
}

/// `nanobpf keygen OUT`.
///
/// # Errors
/// See [`sign::keygen`].
pub fn keygen(out: &std::path::Path) -> Result<ExitCode, String> {
    sign::keygen(out)?;
    println!(
        "private key: {} (keep it secret)\npublic key: {} (give it to the device)",
        out.display(),
        sign::public_path(out).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `nanobpf sign PROG.o --key K --version N [--section S]`.
///
/// # Errors
/// Unreadable files, an object without the program.
pub fn sign_cmd(
    prog: &std::path::Path,
    key: &std::path::Path,
    version: u32,
    section: Option<&str>,
) -> Result<ExitCode, String> {
    let object = std::fs::read(prog).map_err(|e| format!("{}: {e}", prog.display()))?;
    let name =
        sign::program_name(&object, section).map_err(|e| format!("{}: {e}", prog.display()))?;
    let signer = sign::read_private(key)?;
    let sig = sign::sign(&signer, &object, &name, version)?;
    let out = sign::sig_path(prog);
    std::fs::write(&out, sig).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("{}: program {name}, version {version}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A value as the tool shows it: hex bytes, and the number for 1, 2, 4 or 8 bytes.
fn show_value(b: &[u8]) -> String {
    let n = match b.len() {
        1 | 2 | 4 | 8 => {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(b);
            Some(u64::from_le_bytes(w))
        }
        _ => None,
    };
    match n {
        Some(n) => format!("{n} (0x{})", hex(b)),
        None => format!("0x{}", hex(b)),
    }
}

fn find_map(client: &mut Client, name: &str) -> Result<MapInfo, String> {
    let maps = client.maps().map_err(|e| e.to_string())?;
    maps.into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| format!("the running program has no map '{name}'"))
}

/// `nanobpf device ...`.
///
/// # Errors
/// The device's refusal or silence, bad arguments.
pub fn run(args: &DeviceArgs) -> Result<ExitCode, String> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let mut client =
        Client::connect(&args.to, timeout, args.attempts).map_err(|e| e.to_string())?;
    if let Some(k) = &args.sign {
        client.sign_all(sign::read_private(k)?);
    }
    let dev = |e: crate::device::DeviceError| format!("{}: {e}", args.to);
    match &args.command {
        DeviceCommand::Status => {
            println!("{}", client.status().map_err(dev)?);
        }
        DeviceCommand::Load { prog, sig } => {
            let object = std::fs::read(prog).map_err(|e| format!("{}: {e}", prog.display()))?;
            let sig_path = sig.clone().unwrap_or_else(|| sign::sig_path(prog));
            let sig_bytes = std::fs::read(&sig_path).map_err(|e| {
                format!(
                    "{}: {e} (sign the object first: nanobpf sign {} --key KEY --version N)",
                    sig_path.display(),
                    prog.display()
                )
            })?;
            let (header, signature) = sign::parse_sig(&sig_bytes, object.len())
                .map_err(|e| format!("{}: {e}", sig_path.display()))?;
            let bar = crate::progress::bytes_bar(object.len() as u64, "uploading");
            let start = Instant::now();
            let done = client
                .load(&object, header, signature, |n| {
                    if let Some(b) = &bar {
                        b.set_position(n as u64);
                    }
                })
                .map_err(dev);
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let done = done?;
            println!(
                "loaded {} version {} in {:.1} ms: {} program(s), {} instructions, {} maps ({} carried over){}",
                header.name().unwrap_or("?"),
                header.version,
                start.elapsed().as_secs_f64() * 1e3,
                done.programs,
                done.insns,
                done.maps,
                done.carried,
                if done.replaced { ", replaced the running program" } else { "" }
            );
        }
        DeviceCommand::Maps { map, show } => {
            let maps = client.maps().map_err(dev)?;
            for m in maps
                .iter()
                .filter(|m| map.as_ref().is_none_or(|n| *n == m.name))
            {
                let entries = client.dump(&m.name).map_err(dev)?;
                println!(
                    "{} (type {}, key {} B, value {} B, max_entries {}{}): {} entries",
                    m.name,
                    m.map_type,
                    m.key_size,
                    m.value_size,
                    m.max_entries,
                    if m.pinned { ", pinned" } else { "" },
                    entries.len()
                );
                for (k, v) in entries.iter().take(*show) {
                    println!("  {} => {}", show_value(k), show_value(v));
                }
                if entries.len() > *show {
                    println!("  ...");
                }
            }
            if let Some(n) = map {
                if !maps.iter().any(|m| m.name == *n) {
                    return Err(format!("{}: the running program has no map '{n}'", args.to));
                }
            }
        }
        DeviceCommand::Set { entry, key } => {
            let signer = sign::read_private(key)?;
            let (name, kv) = entry
                .split_once(':')
                .ok_or_else(|| format!("'{entry}': expected MAP:KEY=VALUE"))?;
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("'{entry}': expected MAP:KEY=VALUE"))?;
            let m = find_map(&mut client, name)?;
            let lpm = m.map_type == 11;
            let kb = crate::run::parse_bytes(k, m.key_size as usize, lpm, &[])?;
            let vb = crate::run::parse_bytes(v, m.value_size as usize, false, &[])?;
            client.update(&signer, name, &kb, &vb).map_err(dev)?;
            println!("{name}: {} => {}", show_value(&kb), show_value(&vb));
        }
        DeviceCommand::Delete { entry, key } => {
            let signer = sign::read_private(key)?;
            let (name, k) = entry
                .split_once(':')
                .ok_or_else(|| format!("'{entry}': expected MAP:KEY"))?;
            let m = find_map(&mut client, name)?;
            let kb = crate::run::parse_bytes(k, m.key_size as usize, m.map_type == 11, &[])?;
            client.delete(&signer, name, &kb).map_err(dev)?;
            println!("{name}: deleted {}", show_value(&kb));
        }
        DeviceCommand::Unload { key } => {
            let signer = sign::read_private(key)?;
            client.unload(&signer).map_err(dev)?;
            println!("unloaded");
        }
        DeviceCommand::Selftest { key } => {
            let signer = sign::read_private(key)?;
            let start = Instant::now();
            let outcomes = crate::selftest::run(&mut client, &signer, |o| println!("{o}"))
                .map_err(|e| format!("{}: {e}", args.to))?;
            let passed = outcomes.iter().filter(|o| o.result.is_ok()).count();
            println!(
                "selftest: {passed} of {} cases passed in {:.2} s",
                outcomes.len(),
                start.elapsed().as_secs_f64()
            );
            if passed != outcomes.len() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
