//! Drives `nanobpf-plugin` the way the upstream bpf_conformance runner does (FORMAT.md §4):
//! memory as the first argument, the program on stdin, r0 in hex on stdout.

use nanobpf_cli::conformance::{self, program_of};
use nanobpf_cli::data::{self, Expect};
use std::io::Write;
use std::process::{Command, Stdio};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}  ")).collect()
}

/// Runs the plugin; returns (exit success, stdout).
fn plugin(mem: &[u8], program: &[u8], opts: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nanobpf-plugin"));
    if !mem.is_empty() {
        cmd.arg(hex(mem));
    }
    cmd.args(opts);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("plugin starts");
    let line = format!("{}\n", hex(program));
    // The plugin may exit before reading a program it rejects on its options alone; a closed
    // pipe is then expected, and the exit status tells the outcome.
    let _ = child.stdin.take().unwrap().write_all(line.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn plugin_passes_the_suite_through_the_protocol() {
    let dir = conformance::shared_dir()
        .expect("shared data not found")
        .join("conformance/bpf_conformance");
    let mut passed = 0;
    for path in conformance::data_files(&dir).unwrap() {
        let file = data::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let insns = program_of(&file).expect("assembles");
        let bytes: Vec<u8> = insns.iter().flat_map(|i| i.to_bytes()).collect();
        let (ok, out) = plugin(&file.mem, &bytes, &["--engine", "interp"]);
        let Some(Expect::Result(want)) = file.expect else {
            panic!("{} has no result", path.display());
        };
        assert!(ok, "{}: plugin failed: {out}", path.display());
        let got = u64::from_str_radix(out.trim().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(got, want, "{}", path.display());
        passed += 1;
    }
    assert_eq!(passed, 313);
}

#[test]
fn plugin_rejects_with_a_reason_and_nonzero_status() {
    // exit with imm = 1: a reserved field.
    let (ok, out) = plugin(&[], &[0x95, 0, 0, 0, 1, 0, 0, 0], &[]);
    assert!(!ok);
    assert!(out.contains("reserved field imm"), "{out}");
    let (ok, out) = plugin(&[], &[0x95, 0, 0], &[]);
    assert!(!ok);
    assert!(out.contains("multiple of 8"), "{out}");
    let (ok, _) = plugin(
        &[],
        &[0xb7, 0, 0, 0, 0x2a, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
        &["--elf"],
    );
    assert!(!ok);
}
