//! `nanobpf verify`'s exit codes: 0 accepted, 1 rejected, 2 unreadable.

use std::process::Command;

fn nanobpf(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nanobpf"))
        .args(args)
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn write_program(name: &str, bytes: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("nanobpf-verify-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn exit_codes_follow_the_contract() {
    // mov r0, 2; exit
    let ok = write_program(
        "ok",
        &[0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    );
    let (code, out) = nanobpf(&["verify", &ok]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("accepted"), "{out}");
    // ldxb r0, [r1]: a one-byte read of xdp_md.data is not allowed.
    let bad = write_program(
        "bad",
        &[0x71, 0x10, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    );
    let (code, out) = nanobpf(&["verify", &bad, "--type", "xdp"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("0: ldxb %r0, [%r1]"), "{out}");
    assert!(out.contains("invalid bpf_context access"), "{out}");
    let (code, _) = nanobpf(&["verify", &bad, "--type", "xdp", "--log"]);
    assert_eq!(code, 1);
    let (code, _) = nanobpf(&["verify", "/nonexistent/program.bin"]);
    assert_eq!(code, 2);
    let partial = write_program("partial", &[0x95, 0, 0]);
    let (code, _) = nanobpf(&["verify", &partial]);
    assert_eq!(code, 2);
}
