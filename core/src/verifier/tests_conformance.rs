//! Every bpf_conformance program verifies as a memory program, and the suite's negative
//! `error.data` (which reads an uninitialised register) is rejected.

use super::*;
use crate::asm::assemble;
use crate::host::{ArgKind, Helper, HelperCall, HelperProto, RetKind};
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

fn shared_dir() -> PathBuf {
    let sibling = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if sibling.join("conformance").is_dir() {
        return sibling;
    }
    let dir = PathBuf::from(std::env::var_os("NANOBPF_SHARED").expect("set NANOBPF_SHARED"));
    assert!(
        dir.join("conformance").is_dir(),
        "no conformance data in {}",
        dir.display()
    );
    dir
}

/// Section `name` of a `.data` file (a header line starts with `--` and names it anywhere).
fn section(text: &str, name: &str) -> Option<String> {
    let mut cur: Option<String> = None;
    let mut found = None;
    for line in text.lines() {
        if line.starts_with("--") {
            if let Some(body) = cur.take() {
                found = Some(body);
            }
            // The first keyword of the upstream order decides the section.
            let kw = [
                "asm",
                "result",
                "mem",
                "raw",
                "no register offset",
                " c",
                "error",
            ]
            .into_iter()
            .find(|k| line.contains(k));
            if kw == Some(name) {
                cur = Some(String::new());
            }
        } else if let Some(body) = cur.as_mut() {
            body.push_str(line.split('#').next().unwrap_or(""));
            body.push('\n');
        }
    }
    cur.or(found)
}

fn ktime(_: &mut HelperCall<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    0
}

static HELPERS: &[Helper] = &[Helper {
    id: 5,
    name: "ktime_get_ns",
    proto: HelperProto::new(
        [
            ArgKind::Scalar,
            ArgKind::None,
            ArgKind::None,
            ArgKind::None,
            ArgKind::None,
        ],
        RetKind::Integer,
    ),
    func: ktime,
}];

/// The program and its memory length.
fn load(path: &Path) -> (Vec<Insn>, u32) {
    let text = std::fs::read_to_string(path).unwrap();
    let insns = match section(&text, "raw") {
        Some(raw) => raw
            .split_whitespace()
            .map(|w| {
                let v = match w.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).unwrap(),
                    None => w.parse().unwrap(),
                };
                Insn::from_u64(v)
            })
            .collect(),
        None => {
            let src = section(&text, "asm").expect("asm section");
            let mut out = std::vec![Insn::default(); 4096];
            let n =
                assemble(&src, &mut out).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            out.truncate(n);
            out
        }
    };
    let mem = section(&text, "mem").map_or(0, |m| m.split_whitespace().count() as u32);
    (insns, mem)
}

fn files(sub: &str) -> Vec<PathBuf> {
    let dir = shared_dir().join("conformance/bpf_conformance").join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_conformance_program_verifies() {
    let mut ws = std::boxed::Box::new(DefaultWorkspace::new());
    let mut failures = String::new();
    let all = files("");
    assert_eq!(all.len(), 313);
    let start = std::time::Instant::now();
    for path in &all {
        let (mut insns, len) = load(path);
        let env = VerifyTarget::new(
            ProgramType::Memory { len },
            HelperTable::new(HELPERS),
            MapTable::EMPTY,
        );
        if let Err(e) = verify(&mut insns, &env, &mut *ws) {
            failures += &std::format!("{}: {e}\n", path.file_name().unwrap().to_string_lossy());
        }
    }
    std::eprintln!("verified {} programs in {:?}", all.len(), start.elapsed());
    assert!(failures.is_empty(), "rejected:\n{failures}");
}

#[test]
fn negative_error_data_is_rejected() {
    let path = shared_dir().join("conformance/bpf_conformance/negative/error.data");
    let (mut insns, len) = load(&path);
    let env = VerifyTarget::new(
        ProgramType::Memory { len },
        HelperTable::new(HELPERS),
        MapTable::EMPTY,
    );
    let mut ws = std::boxed::Box::new(DefaultWorkspace::new());
    let err = verify(&mut insns, &env, &mut *ws).unwrap_err();
    assert_eq!(
        err,
        VerifyError {
            pc: 0,
            kind: VerifyErrorKind::UninitRegister { reg: 0 }
        }
    );
    assert_eq!(std::format!("{err}"), "insn 0: R0 !read_ok");
}
