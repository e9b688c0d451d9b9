//! The bpf_conformance `.data` files: every test program assembles and round-trips, `lddw.data`
//! matches its `-- raw` section, and the suite's negative assembler tests fail.

use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

use super::*;
use crate::isa::{Insn, Program};

/// The shared test data folder: `../../shared` next to the repository, or `$NANOBPF_SHARED`.
///
/// Panics when neither exists, so that a missing checkout fails the tests instead of skipping.
fn shared_dir() -> PathBuf {
    let sibling = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if sibling.join("conformance").is_dir() {
        return sibling;
    }
    if let Some(dir) = std::env::var_os("NANOBPF_SHARED") {
        let dir = PathBuf::from(dir);
        if dir.join("conformance").is_dir() {
            return dir;
        }
    }
    panic!(
        "conformance data not found: neither {} nor $NANOBPF_SHARED has a conformance/ folder",
        sibling.display()
    );
}

fn data_files(sub: &str) -> Vec<PathBuf> {
    let dir = shared_dir().join("conformance/bpf_conformance").join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    files
}

/// The sections of a `.data` file, by the upstream rule: a header line starts with `--` and is
/// named by the first keyword found in it. An unknown header is an error.
fn sections(text: &str) -> Result<Vec<(&'static str, String)>, String> {
    const KEYWORDS: [&str; 7] = [
        "asm",
        "result",
        "mem",
        "raw",
        "no register offset",
        " c",
        "error",
    ];
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("--") {
            let kw = KEYWORDS.iter().find(|k| line.contains(*k));
            let kw = kw.ok_or_else(|| std::format!("unknown section header {line:?}"))?;
            out.push((kw, String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    Ok(out)
}

fn section(text: &str, name: &str) -> Option<String> {
    let all = sections(text).unwrap();
    all.into_iter().find(|s| s.0 == name).map(|s| s.1)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assemble_vec(src: &str) -> Result<Vec<Insn>, AsmError> {
    let mut out = std::vec![Insn::default(); 4096];
    let n = assemble(src, &mut out)?;
    out.truncate(n);
    Ok(out)
}

#[test]
fn every_conformance_program_assembles_validates_and_round_trips() {
    let files = data_files("");
    assert!(files.len() >= 300, "only {} conformance files", files.len());
    for path in &files {
        let text = read(path);
        let asm = section(&text, "asm").unwrap_or_else(|| panic!("{}: no asm", path.display()));
        let slots = assemble_vec(&asm).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Program::new(&slots).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let listing = std::format!("{}", Disasm::new(&slots));
        assert!(!listing.contains(".raw"), "{}:\n{listing}", path.display());
        let again = assemble_vec(&listing).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(again, slots, "{}:\n{listing}", path.display());
    }
}

#[test]
fn lddw_asm_matches_its_raw_section() {
    let text = read(&shared_dir().join("conformance/bpf_conformance/lddw.data"));
    let raw: Vec<Insn> = section(&text, "raw")
        .expect("lddw.data has a raw section")
        .split_whitespace()
        .map(|w| Insn::from_u64(u64::from_str_radix(w.trim_start_matches("0x"), 16).unwrap()))
        .collect();
    assert_eq!(raw.len(), 3);
    assert_eq!(assemble_vec(&section(&text, "asm").unwrap()).unwrap(), raw);
}

#[test]
fn negative_assembler_tests_fail_to_assemble() {
    use AsmErrorKind::*;
    let expected: [(&str, AsmErrorKind, u32, u32); 10] = [
        ("invalid_imm32_dec_range", ImmOutOfRange, 1, 12),
        ("invalid_imm32_hex_range", ImmOutOfRange, 1, 12),
        ("invalid_label", UnknownLabel, 1, 4),
        ("invalid_lock", BadOperandCount, 1, 1),
        ("invalid_lock2", BadOperandCount, 1, 1),
        ("invalid_mnemonic", UnknownMnemonic, 1, 1),
        ("invalid_offset", BadOperand, 1, 11),
        ("invalid_offset_range", OffsetOutOfRange, 1, 15),
        ("invalid_operand_count", BadOperandCount, 1, 1),
        ("invalid_register", BadRegister, 1, 9),
    ];
    let dir = shared_dir().join("conformance/bpf_conformance/negative");
    for (name, kind, line, column) in expected {
        let text = read(&dir.join(std::format!("{name}.data")));
        let asm = section(&text, "asm").unwrap();
        // Skip the comment lines before the instructions, as the file does.
        let e = assemble_vec(&asm).expect_err(name);
        let first_code = asm
            .lines()
            .position(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let at = (e.kind, e.line - first_code.unwrap() as u32, e.column);
        assert_eq!(at, (kind, line, column), "{name}: {e}");
    }
    // `-- Unknown directive` is not a section the format knows; taken as a line of assembly it
    // does not assemble either.
    let text = read(&dir.join("invalid_unknown_directive.data"));
    assert!(sections(&text).is_err());
    let after_asm = text.split_once("-- asm\n").unwrap().1;
    let e = assemble_vec(after_asm).unwrap_err();
    assert_eq!((e.kind, e.column), (Syntax, 1));
}

/// The other negative files are not assembly errors: they assemble and are rejected later (or,
/// for `incorrect_return_value_high_bits`, run and give a value other than the one written).
#[test]
fn negative_files_that_assemble() {
    let dir = shared_dir().join("conformance/bpf_conformance/negative");
    // `or %r0, %r10` is well formed; only a verifier rejects arithmetic on the frame pointer.
    for name in ["error", "incorrect_return_value_high_bits"] {
        let text = read(&dir.join(std::format!("{name}.data")));
        let slots = assemble_vec(&section(&text, "asm").unwrap()).unwrap();
        assert_eq!(slots.len(), 2, "{name}");
        assert!(Program::new(&slots).is_ok(), "{name}");
    }
    // No asm section at all: the empty program assembles to nothing and does not decode.
    for name in ["empty", "empty_instructions"] {
        let text = read(&dir.join(std::format!("{name}.data")));
        assert!(section(&text, "asm").is_none(), "{name}");
        let slots = assemble_vec("").unwrap();
        assert!(slots.is_empty());
        assert!(Program::new(&slots).is_err());
    }
}

#[test]
fn negative_files_are_all_accounted_for() {
    let mut names: Vec<String> = data_files("negative")
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("unused-"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 15, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("invalid_")
        || [
            "empty",
            "empty_instructions",
            "error",
            "incorrect_return_value_high_bits"
        ]
        .contains(&n.as_str())));
}

/// The `unused-*` files set a reserved field in one slot. Their slots round-trip through the
/// disassembler, and the slot with the reserved field prints as `.raw`, never as a text that
/// would hide the field.
#[test]
fn reserved_fields_print_as_raw_and_round_trip() {
    let files: Vec<PathBuf> = data_files("negative")
        .into_iter()
        .filter(|p| {
            p.file_stem()
                .unwrap()
                .to_string_lossy()
                .starts_with("unused-")
        })
        .collect();
    assert_eq!(files.len(), 45);
    for path in &files {
        let raw = section(&read(path), "raw").unwrap();
        let slots: Vec<Insn> = raw
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let b: Vec<u8> = l
                    .split_whitespace()
                    .map(|h| u8::from_str_radix(h, 16).unwrap())
                    .collect();
                Insn::from_bytes(b.try_into().unwrap())
            })
            .collect();
        assert!(Program::new(&slots).is_err(), "{}", path.display());
        let listing = std::format!("{}", Disasm::new(&slots));
        assert!(listing.contains(".raw"), "{}:\n{listing}", path.display());
        assert_eq!(assemble_vec(&listing).unwrap(), slots, "{}", path.display());
    }
}
