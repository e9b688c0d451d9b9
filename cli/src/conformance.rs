//! The conformance harness: every `.data` file of a directory through one engine.

use crate::data::{self, Expect};
use crate::engine::{Engine, Rejection};
use nanobpf_core::assemble;
use nanobpf_core::Insn;
use std::path::{Path, PathBuf};

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The program returned the expected value, or was rejected as expected.
    Pass,
    /// Anything else, with the reason.
    Fail(String),
}

/// Slots of the program of a test file: `-- raw` wins over `-- asm`.
///
/// # Errors
/// An assembly error, or a file with no program.
pub fn program_of(file: &data::DataFile) -> Result<Vec<Insn>, Option<Rejection>> {
    if let Some(raw) = &file.raw {
        return Ok(raw.clone());
    }
    let Some(src) = &file.asm else {
        return Err(None);
    };
    let mut buf = vec![Insn::default(); src.lines().count() * 2 + 2];
    let n = assemble(src, &mut buf).map_err(|e| Some(Rejection::Asm(e)))?;
    buf.truncate(n);
    Ok(buf)
}

/// Runs one test file's text on `engine`.
pub fn run_text(engine: &mut dyn Engine, text: &str) -> Outcome {
    let file = match data::parse(text) {
        Ok(f) => f,
        Err(e) => return Outcome::Fail(format!("unreadable: {e}")),
    };
    let expect = file.expect.clone().unwrap_or(Expect::Nothing);
    let result = match program_of(&file) {
        Ok(mut insns) => {
            let mut mem = file.mem.clone();
            engine.execute(&mut insns, &mut mem).map_err(Some)
        }
        Err(e) => Err(e),
    };
    match (expect, result) {
        (Expect::Result(want), Ok(got)) if want == got => Outcome::Pass,
        (Expect::Result(want), Ok(got)) => {
            Outcome::Fail(format!("expected {want:#x}, got {got:#x}"))
        }
        (Expect::Result(want), Err(e)) => Outcome::Fail(format!(
            "expected {want:#x}, got {}",
            e.map_or("no program".to_string(), |e| e.to_string())
        )),
        (Expect::Error(_) | Expect::Nothing, Err(_)) => Outcome::Pass,
        (Expect::Error(_) | Expect::Nothing, Ok(got)) => {
            Outcome::Fail(format!("expected a rejection, got {got:#x}"))
        }
    }
}

/// The `.data` files of `dir`, sorted by name (not recursive).
///
/// # Errors
/// When the directory cannot be read.
pub fn data_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every `.data` file of `dir` and returns `(name, outcome)` for each.
///
/// # Errors
/// When the directory or a file cannot be read.
pub fn run_dir(engine: &mut dyn Engine, dir: &Path) -> std::io::Result<Vec<(String, Outcome)>> {
    let mut out = Vec::new();
    for path in data_files(dir)? {
        let text = std::fs::read_to_string(&path)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        out.push((name.unwrap_or_default(), run_text(engine, &text)));
    }
    Ok(out)
}

/// Where the shared data lives: `../shared` beside the repository, or `NANOBPF_SHARED`.
pub fn shared_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NANOBPF_SHARED") {
        return Some(PathBuf::from(dir));
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    beside.is_dir().then_some(beside)
}
