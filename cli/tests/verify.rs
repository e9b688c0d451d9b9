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
    assert!(
        out.contains("rejected at insn 0 (ldxb %r0, [%r1]): invalid bpf_context access"),
        "{out}"
    );
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

/// An object of the shared corpus of real objects (`../shared/corpus` beside the repository).
fn corpus(path: &str) -> String {
    format!("{}/../../shared/corpus/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn an_object_without_programs_is_an_error_naming_its_sections() {
    // A `.text` function alone: a callee, no program.
    let (code, out) = nanobpf(&["verify", &corpus("build/exposeptr.o")]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("no program found (executable sections: .text)"),
        "{out}"
    );
    // Named explicitly, it is verified as the type given.
    let (code, out) = nanobpf(&[
        "verify",
        &corpus("build/exposeptr.o"),
        "--section",
        "func",
        "--type",
        "xdp",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("func (.text): rejected at insn"), "{out}");
    let (code, out) = nanobpf(&["verify", &corpus("build/exposeptr.o"), "--section", "nope"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no program or section 'nope'"), "{out}");
}

#[test]
fn programs_of_types_nanobpf_does_not_run_are_reported_not_verified() {
    let (code, out) = nanobpf(&["verify", &corpus("linux/tracex1_kern.o")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("program type kprobe is not supported"),
        "{out}"
    );
    assert!(!out.contains("accepted"), "{out}");
    // A section that names no type at all.
    let (code, out) = nanobpf(&["verify", &corpus("suricata/lb.o")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("section 'loadbalancer' names no program type"),
        "{out}"
    );
}

#[test]
fn legacy_objects_verify_one_line_per_program_with_stats() {
    let (code, out) = nanobpf(&["verify", &corpus("linux/sockex3_kern.o"), "--stats"]);
    assert_eq!(code, 0, "{out}");
    let verdicts: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("): accepted ("))
        .collect();
    assert_eq!(verdicts.len(), 5, "{out}");
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("program "))
        .collect();
    assert_eq!(table.len(), 6, "{out}");
    assert!(
        table[0].contains("processed") && table[0].contains("peak bytes"),
        "{out}"
    );
    let (code, out) = nanobpf(&["verify", &corpus("linux/xdp1_kern.o"), "--json"]);
    assert_eq!(code, 0, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect(&out);
    let r = &doc["results"][0];
    assert_eq!(r["status"], "accepted");
    assert!(r["stats"]["insns_processed"].as_u64().unwrap() >= 61);
}
