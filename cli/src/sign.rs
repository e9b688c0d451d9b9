//! `nanobpf keygen` and `nanobpf sign`: the operator's Ed25519 key pair and signed uploads.
//!
//! Keys are files of hex text: `KEY` holds the 32-byte private seed (written with mode 0600),
//! `KEY.pub` the 32-byte public key, which goes into the device's firmware (or
//! `nanobpf serve --key`). A signature file `PROG.o.sig` is 112 bytes: the 48-byte upload
//! header (`"nbpfobj1"`, version, size, program name; see `docs/control.md`) and the
//! 64-byte signature over that header followed by the object.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use nanobpf_control::wire::{UPLOAD_HEADER, UPLOAD_MAGIC};
use nanobpf_control::UploadHeader;
use nanobpf_core::Object;
use nanobpf_core::ProgramType;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes of a signature file.
pub const SIG_FILE_LEN: usize = UPLOAD_HEADER + 64;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(text: &str, path: &Path) -> Result<[u8; 32], String> {
    let t = text.trim();
    let bad = || format!("{}: not 64 hex digits", path.display());
    if t.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = t
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(bad)?;
    }
    Ok(out)
}

/// The public key file beside private key `path`.
pub fn public_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// Writes a new key pair: the private seed to `path`, the public key to `path.pub`.
///
/// # Errors
/// No randomness from the OS, or a file that cannot be written.
pub fn keygen(path: &Path) -> Result<VerifyingKey, String> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    write_private(path, &format!("{}\n", hex(&seed)))?;
    let public = key.verifying_key();
    let pub_path = public_path(path);
    std::fs::write(&pub_path, format!("{}\n", hex(public.as_bytes())))
        .map_err(|e| format!("{}: {e}", pub_path.display()))?;
    Ok(public)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a private key file.
///
/// # Errors
/// An unreadable file, or one that is not 64 hex digits.
pub fn read_private(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(SigningKey::from_bytes(&unhex32(&text, path)?))
}

/// Reads a public key file (or the `.pub` beside a private key given instead).
///
/// # Errors
/// An unreadable file, or one that is not a valid public key.
pub fn read_public(path: &Path) -> Result<[u8; 32], String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes = unhex32(&text, path)?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| format!("{}: not an Ed25519 public key", path.display()))?;
    Ok(bytes)
}

/// The program an upload of `object` runs: `section` (a function or section name) or the
/// object's first XDP program.
///
/// # Errors
/// An object that does not parse, or has no such program.
pub fn program_name(object: &[u8], section: Option<&str>) -> Result<String, String> {
    let obj = Object::parse(object).map_err(|e| e.to_string())?;
    match section {
        Some(s) => obj
            .program(s)
            .map(|p| p.name.to_string())
            .map_err(|e| e.to_string()),
        None => obj
            .programs()
            .find(|p| p.prog_type == Some(ProgramType::Xdp))
            .map(|p| p.name.to_string())
            .ok_or_else(|| "no XDP program in the object (give --section)".to_string()),
    }
}

/// The signature file's bytes for `object`'s program `name` at `version`, signed by `key`.
///
/// # Errors
/// A name longer than the protocol's 32 bytes, or an object over 4 GiB.
pub fn sign(key: &SigningKey, object: &[u8], name: &str, version: u32) -> Result<Vec<u8>, String> {
    let size = u32::try_from(object.len()).map_err(|_| "object over 4 GiB".to_string())?;
    let header = UploadHeader::new(name, size, version)
        .ok_or_else(|| format!("program name '{name}' is over 32 bytes"))?;
    let mut msg = header.to_bytes().to_vec();
    msg.extend_from_slice(object);
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&key.sign(&msg).to_bytes());
    Ok(out)
}

/// A signature file read back: the header and the signature.
///
/// # Errors
/// A file of the wrong length or magic, or one for an object of another size.
pub fn parse_sig(bytes: &[u8], object_len: usize) -> Result<(UploadHeader, [u8; 64]), String> {
    if bytes.len() != SIG_FILE_LEN || bytes.get(..8) != Some(&UPLOAD_MAGIC[..]) {
        return Err(format!(
            "not a nanobpf signature file ({SIG_FILE_LEN} bytes starting \"nbpfobj1\")"
        ));
    }
    let header = UploadHeader::from_bytes(bytes).ok_or("bad signature header")?;
    if header.size as usize != object_len {
        return Err(format!(
            "the signature is for an object of {} bytes, this one has {object_len}",
            header.size
        ));
    }
    let sig: [u8; 64] = bytes
        .get(UPLOAD_HEADER..)
        .and_then(|s| s.try_into().ok())
        .ok_or("bad signature length")?;
    Ok((header, sig))
}

/// The signature file beside `prog`: `PROG.o.sig`.
pub fn sig_path(prog: &Path) -> PathBuf {
    let mut p = prog.as_os_str().to_owned();
    p.push(".sig");
    PathBuf::from(p)
}
