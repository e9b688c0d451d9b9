//! `nanobpf corpus` over the shared corpus of real objects (`../shared/corpus`): what must hold
//! of every verdict, and the acceptance rates reached so far, as floors.

use std::process::Command;

fn report() -> serde_json::Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
    let out = Command::new(env!("CARGO_BIN_EXE_nanobpf"))
        .args(["corpus", dir, "--json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn the_corpus_verdicts_hold() {
    let doc = report();
    let rows = doc["rows"].as_array().unwrap();
    assert!(rows.len() >= 200, "{} rows", rows.len());
    for r in rows {
        let status = r["verdict"]["status"].as_str().unwrap();
        let what = format!("{} {}: {}", r["object"], r["function"], r["verdict"]);
        match r["expected"].as_str().unwrap() {
            // A program written to break a rule is never accepted.
            "reject" => assert_ne!(status, "accepted", "{what}"),
            // A broken object is refused by the loader, with its error.
            "load-fail" => {
                assert_eq!(status, "load-failed", "{what}");
                assert!(r["verdict"]["error"]["message"].as_str().unwrap().len() > 10);
            }
            _ => {}
        }
        // Accepted means verified, with the verifier's figures.
        if status == "accepted" {
            assert!(
                r["verdict"]["stats"]["insns_processed"].as_u64().unwrap() > 0,
                "{what}"
            );
        }
        // Programs of types nanobpf does not run are never verified as another type.
        let family = r["family"].as_str().unwrap();
        if family == "tracing" || family == "cgroup" {
            assert_ne!(status, "accepted", "{what}");
        }
    }
    let tally = |family: &str| {
        let t = &doc["families"][family];
        (
            t["accepted"].as_u64().unwrap(),
            t["expect_accept"].as_u64().unwrap(),
        )
    };
    // XDP and socket filters: at least 95 % of the programs the kernel accepts.
    let (xdp, xdp_of) = tally("xdp");
    let (sock, sock_of) = tally("socket");
    assert!(
        (xdp + sock) * 100 >= (xdp_of + sock_of) * 95,
        "xdp {xdp} of {xdp_of}, socket {sock} of {sock_of}"
    );
    // tc: the floor reached so far (the goal, 60 %, is 18 of 29).
    let (tc, tc_of) = tally("tc");
    assert!(tc >= 19, "tc {tc} of {tc_of}");
}
