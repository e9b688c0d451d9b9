//! Puts `memory.x` where cortex-m-rt's `link.x` finds it, builds the conformance image's
//! test table: every bpf_conformance program of `../shared` (beside the repository),
//! assembled here, with its input memory and expected result, as Rust source in `OUT_DIR`,
//! and turns the deploy image's operator key (`keys/ci-test-only.key.pub`, 64 hex digits)
//! into its 32 bytes there (`operator_key.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

include!("../../jit-thumb2/src/tests/data.rs");

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-env-changed=NANOBPF_SHARED");
    let shared = std::env::var_os("NANOBPF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("../../../shared").to_path_buf());
    let dir = shared.join("conformance/bpf_conformance");
    println!("cargo:rerun-if-changed={}", dir.display());
    std::fs::write(out.join("conformance_cases.rs"), cases(&dir)).expect("write the cases");
    let key = "keys/ci-test-only.key.pub";
    println!("cargo:rerun-if-changed={key}");
    std::fs::write(out.join("operator_key.rs"), operator_key(key)).expect("write the key");
}

/// `[u8; 32]` source for the public key file `path` (64 hex digits).
fn operator_key(path: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let hex = text.trim();
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{path}: not 64 hex digits"
    );
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    format!("{bytes:?}")
}

/// `static CASES: &[Case]` for every `.data` file of `dir` (none when it is missing: the
/// image then reports 0 tests and fails).
fn cases(dir: &Path) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "data"));
    files.sort();
    let mut src = String::from("static CASES: &[Case] = &[\n");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read a .data file");
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let case = parse_data(&text).unwrap_or_else(|| panic!("{name}: unreadable"));
        let slots: Vec<u64> = match (&case.raw, &case.asm) {
            (Some(raw), _) => raw.clone(),
            (None, Some(asm)) => {
                let mut buf = vec![nanobpf_core::Insn::default(); asm.lines().count() * 2 + 2];
                let n =
                    nanobpf_core::assemble(asm, &mut buf).unwrap_or_else(|e| panic!("{name}: {e}"));
                buf[..n].iter().map(|i| i.to_u64()).collect()
            }
            _ => panic!("{name}: no program"),
        };
        let result = case.result.unwrap_or_else(|| panic!("{name}: no result"));
        writeln!(
            src,
            "    Case {{ name: {name:?}, slots: &{slots:?}, mem: &{:?}, result: {result:#x} }},",
            case.mem
        )
        .expect("write");
    }
    src.push_str("];\n");
    src
}
