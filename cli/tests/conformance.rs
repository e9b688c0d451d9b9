//! The conformance suite on every engine: all 313 programs give their expected r0, every
//! `negative/unused-*` file is rejected at decode, and the other negative files fail to
//! assemble or are rejected.

use nanobpf_cli::conformance::{self, Outcome};
use nanobpf_cli::engine::{self, Engine, Rejection};
use std::path::PathBuf;

/// Every engine; "checked" is the interpreter without the verifier.
const ENGINES: &[&str] = &[
    "interp",
    "checked",
    #[cfg(target_arch = "x86_64")]
    "jit",
];

/// The engines that verify before running, and so reject programs that are unsafe without being
/// out of bounds (reading an uninitialised register).
const VERIFYING: &[&str] = &[
    "interp",
    #[cfg(target_arch = "x86_64")]
    "jit",
];

fn suite() -> PathBuf {
    let shared = conformance::shared_dir().expect(
        "shared data not found: expected ../shared beside the repository or NANOBPF_SHARED",
    );
    shared.join("conformance/bpf_conformance")
}

fn engines() -> impl Iterator<Item = Box<dyn Engine>> {
    ENGINES
        .iter()
        .map(|n| engine::by_name(n).expect("known engine"))
}

#[test]
fn every_conformance_program_passes_on_every_engine() {
    for mut engine in engines() {
        let results = conformance::run_dir(engine.as_mut(), &suite()).expect("readable suite");
        let failures: Vec<_> = results
            .iter()
            .filter_map(|(n, o)| match o {
                Outcome::Fail(why) => Some(format!("{n}: {why}")),
                Outcome::Pass => None,
            })
            .collect();
        assert_eq!(results.len(), 313, "suite size");
        assert!(failures.is_empty(), "{}: {failures:#?}", engine.name());
    }
}

#[test]
fn unused_field_files_are_rejected_at_decode() {
    let dir = suite().join("negative");
    let files: Vec<_> = conformance::data_files(&dir)
        .unwrap()
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("unused-")
        })
        .collect();
    assert_eq!(files.len(), 45);
    for mut engine in engines() {
        for path in &files {
            let file = nanobpf_cli::data::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
            let mut insns = conformance::program_of(&file).expect("raw program");
            let r = engine.execute(&mut insns, &mut []);
            assert!(
                matches!(r, Err(Rejection::Decode(_))),
                "{}: {} gave {r:?}",
                engine.name(),
                path.display()
            );
        }
    }
}

#[test]
fn other_negative_files_fail_to_assemble_or_are_rejected() {
    let dir = suite().join("negative");
    for mut engine in VERIFYING
        .iter()
        .map(|n| engine::by_name(n).expect("known engine"))
    {
        for path in conformance::data_files(&dir).unwrap() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            if name.starts_with("unused-") {
                continue;
            }
            let file = nanobpf_cli::data::parse(&text);
            let rejected = match file {
                Err(_) => true, // unknown section header: the file itself is invalid
                Ok(file) => match conformance::program_of(&file) {
                    Err(_) => true,
                    Ok(mut insns) => engine.execute(&mut insns, &mut file.mem.clone()).is_err(),
                },
            };
            if name == "incorrect_return_value_high_bits.data" {
                // Deliberately wrong expectation: the program runs, and the harness must report
                // the mismatch.
                assert!(!rejected);
                assert!(matches!(
                    conformance::run_text(engine.as_mut(), &text),
                    Outcome::Fail(_)
                ));
            } else {
                assert!(rejected, "{}: {name} was accepted", engine.name());
            }
        }
    }
}
