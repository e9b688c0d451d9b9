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

#[test]
fn the_json_report_round_trips() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let firewall = format!("{root}/examples/build/xdp_firewall.o");
    let (code, out) = nanobpf(&["verify", &firewall, "--json"]);
    assert_eq!(code, 0, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect(&out);
    let again: serde_json::Value = serde_json::from_str(&doc.to_string()).unwrap();
    assert_eq!(again, doc);
    assert_eq!(doc["license"], "Dual MIT/GPL");
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["program"], "xdp_firewall (xdp)");
    assert_eq!(results[0]["accepted"], true);
    assert!(results[0]["insns"].as_u64().unwrap() > 0);
    let maps = doc["maps"].as_array().unwrap();
    assert!(maps
        .iter()
        .any(|m| m["name"] == "per_source" && m["type"] == "hash"));
    // A rejection, with where and why.
    let bad = write_program(
        "bad-json",
        &[0x71, 0x10, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    );
    let (code, out) = nanobpf(&["verify", &bad, "--type", "xdp", "--json"]);
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect(&out);
    let r = &doc["results"][0];
    assert_eq!(r["accepted"], false);
    assert_eq!(r["error"]["pc"], 0);
    assert_eq!(r["error"]["insn"], "ldxb %r0, [%r1]");
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid bpf_context access"));
}
