//! The control channel end to end over loopback UDP: the host agent (`nanobpf serve`'s
//! device side, in-process) and the operator's client, with the example objects; and once
//! through the binary's own commands.

use ed25519_dalek::{Signer, SigningKey};
use nanobpf_cli::capture::read_capture;
use nanobpf_cli::device::{Client, DeviceError, DeviceStatus};
use nanobpf_cli::selftest;
use nanobpf_cli::serve::{self, Agent};
use nanobpf_cli::sign;
use nanobpf_control::wire::MAX_FRAME;
use nanobpf_control::{Request, Status};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn object(name: &str) -> Vec<u8> {
    std::fs::read(root().join("examples/build").join(name)).unwrap()
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}

fn agent(pcap: bool, arena: usize) -> (Agent, Client) {
    agent_with(pcap, arena, false)
}

fn agent_with(pcap: bool, arena: usize, signed_only: bool) -> (Agent, Client) {
    let frames = pcap.then(|| {
        read_capture(&root().join("examples/pcap/sample.pcap"))
            .unwrap()
            .packets
    });
    let a = serve::spawn(
        "127.0.0.1:0",
        *key().verifying_key().as_bytes(),
        frames,
        arena,
        signed_only,
    )
    .unwrap();
    let c = Client::connect(&format!("udp:{}", a.addr()), Duration::from_millis(300), 5).unwrap();
    (a, c)
}

/// Signs `object`'s program `name` at `version` with `signer` and uploads it.
fn load(
    c: &mut Client,
    signer: &SigningKey,
    object: &[u8],
    name: &str,
    version: u32,
) -> Result<nanobpf_cli::device::Committed, DeviceError> {
    let sig = sign::sign(signer, object, name, version).unwrap();
    let (header, signature) = sign::parse_sig(&sig, object.len()).unwrap();
    c.load(object, header, signature, |_| {})
}

fn refused(r: Result<impl std::fmt::Debug, DeviceError>, want: Status) -> String {
    match r {
        Err(e) => {
            assert_eq!(e.status(), Some(want), "{e}");
            e.to_string()
        }
        Ok(v) => panic!("accepted, wanted {want:?}: {v:?}"),
    }
}

fn wait_frames(c: &mut Client, frames: u64) -> DeviceStatus {
    let start = Instant::now();
    loop {
        let s = c.status().unwrap();
        if s.frames() >= frames || start.elapsed() > Duration::from_secs(20) {
            assert_eq!(s.frames(), frames, "{s}");
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn u64_at(c: &mut Client, map: &str, key: u32) -> u64 {
    let v = c.lookup(map, &key.to_le_bytes()).unwrap();
    u64::from_le_bytes(v.try_into().unwrap())
}

/// The firewall, version 1, still runs.
fn untouched(c: &mut Client) {
    let s = c.status().unwrap();
    let (name, version, _, maps) = s.running.clone().unwrap();
    assert_eq!(
        (name.as_str(), version, maps),
        ("xdp_firewall", 1, 5),
        "{s}"
    );
}

#[test]
fn deploy_query_set_and_redeploy_with_a_pinned_map() {
    let (a, mut c) = agent(true, serve::DEFAULT_ARENA_BYTES);
    assert_eq!(c.status().unwrap().running, None);
    let fw = object("xdp_firewall.o");
    let start = Instant::now();
    let done = load(&mut c, &key(), &fw, "xdp_firewall", 1).unwrap();
    let elapsed = start.elapsed();
    eprintln!("upload and commit of {} bytes: {elapsed:?}", fw.len());
    assert_eq!(
        (done.programs, done.maps, done.carried, done.replaced),
        (1, 5, 0, false)
    );
    // The capture's 300 frames run through it.
    let s = wait_frames(&mut c, 300);
    assert_eq!(s.last_commit.as_ref().map(|l| l.0), Some(Status::Ok));
    let (drop, pass) = (u64_at(&mut c, "verdicts", 1), u64_at(&mut c, "verdicts", 2));
    assert_eq!(drop + pass, 300);
    assert_eq!((s.counters[1], s.counters[2]), (drop, pass));

    // Maps by name: the list, a dump, a signed write read back.
    let maps = c.maps().unwrap();
    let names: Vec<&str> = maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["per_source", "blocklist", "verdicts", ".rodata", ".bss"]
    );
    assert!(maps[2].pinned);
    assert_eq!(c.dump("per_source").unwrap().len(), 11);
    let mut k = 8u32.to_le_bytes().to_vec();
    k.extend_from_slice(&[10, 0, 0, 0]);
    c.update(&key(), "blocklist", &k, &1u32.to_le_bytes())
        .unwrap();
    assert_eq!(
        c.dump("blocklist").unwrap(),
        vec![(k.clone(), vec![1, 0, 0, 0])]
    );
    c.delete(&key(), "blocklist", &k).unwrap();
    assert!(c.dump("blocklist").unwrap().is_empty());
    c.update(&key(), "blocklist", &k, &1u32.to_le_bytes())
        .unwrap();

    // The second program takes over the pinned verdicts and counts on from 300.
    let done = load(
        &mut c,
        &key(),
        &object("xdp_proto_count.o"),
        "xdp_proto_count",
        2,
    )
    .unwrap();
    assert_eq!((done.maps, done.carried, done.replaced), (2, 1, true));
    let s = wait_frames(&mut c, 600);
    assert_eq!(
        s.running.as_ref().map(|r| (r.0.as_str(), r.1)),
        Some(("xdp_proto_count", 2))
    );
    let total: u64 = (0..5).map(|i| u64_at(&mut c, "verdicts", i)).sum();
    assert_eq!(total, 600, "the pinned map carried its 300 over");
    // The capture's TCP and UDP frames, counted by the second program alone.
    assert_eq!(
        u64_at(&mut c, "protocols", 6) + u64_at(&mut c, "protocols", 17),
        172
    );
    refused(c.lookup("blocklist", &k), Status::NoSuchMap);

    // Unload needs the key too.
    refused(
        c.unload(&SigningKey::from_bytes(&[9; 32])),
        Status::BadSignature,
    );
    c.unload(&key()).unwrap();
    assert_eq!(c.status().unwrap().running, None);
    refused(c.unload(&key()), Status::NoProgram);
    a.stop();
}

/// Every bad input of the self-test suite (`nanobpf_cli::selftest`, which deploy-qemu.sh runs
/// against the board too): each refused with its status, nothing changed, then an abandoned
/// upload and a good one.
#[test]
fn every_bad_input_is_refused_and_changes_nothing() {
    let (a, mut c) = agent(true, serve::DEFAULT_ARENA_BYTES);
    load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1).unwrap();
    // The capture ran through it: the suite checks that the counters stay as they are.
    wait_frames(&mut c, 300);
    c.update(
        &key(),
        "blocklist",
        &[8, 0, 0, 0, 10, 0, 0, 0],
        &[1, 0, 0, 0],
    )
    .unwrap();
    let start = Instant::now();
    let outcomes = selftest::run(&mut c, &key(), |o| eprintln!("{o}")).unwrap();
    eprintln!("{} cases in {:?}", outcomes.len(), start.elapsed());
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.to_string())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(outcomes.len(), 21);
    // The last case left the firewall at version 2; only the pinned verdicts carried over,
    // so the new firewall's blocklist is empty.
    let s = c.status().unwrap();
    assert_eq!(
        s.running.map(|r| (r.0, r.1)),
        Some(("xdp_firewall".into(), 2))
    );
    assert!(c.dump("blocklist").unwrap().is_empty());
    a.stop();
}

/// The same suite over a serial line (COBS over a TCP connection, as QEMU's `-serial tcp:`),
/// garbage there being unframed noise on the line as well as frames that are not ours.
#[test]
fn every_bad_input_is_refused_over_a_serial_line() {
    let a = serve::spawn(
        "serial-tcp:127.0.0.1:0",
        *key().verifying_key().as_bytes(),
        None,
        serve::DEFAULT_ARENA_BYTES,
        false,
    )
    .unwrap();
    let to = format!("serial-tcp:{}", a.addr());
    let mut c = Client::connect(&to, Duration::from_millis(500), 5).unwrap();
    assert!(c.is_serial());
    load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1).unwrap();
    let outcomes = selftest::run(&mut c, &key(), |o| eprintln!("{o}")).unwrap();
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.to_string())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(outcomes.len(), 21);
    // A second connection reaches the same device: the suite's firewall, version 2.
    drop(c);
    let mut c = Client::connect(&to, Duration::from_millis(500), 5).unwrap();
    let s = c.status().unwrap();
    assert_eq!(
        s.running.map(|r| (r.0, r.1)),
        Some(("xdp_firewall".into(), 2))
    );
    a.stop();
}

/// `--to serial:PATH`: a tty (a pseudo-terminal here, bridged to the agent's serial line),
/// set to raw mode by the client so that every byte of the COBS frames passes as it is.
#[test]
fn a_tty_reaches_the_device() {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    use std::net::TcpStream;
    let a = serve::spawn(
        "serial-tcp:127.0.0.1:0",
        *key().verifying_key().as_bytes(),
        None,
        serve::DEFAULT_ARENA_BYTES,
        false,
    )
    .unwrap();
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let path = ptsname(&master, Vec::new()).unwrap();
    let path = path.to_str().unwrap().to_string();
    let master = std::fs::File::from(master);
    let tcp = TcpStream::connect(a.addr()).unwrap();
    // The bridge: the pty's master to the agent's line and back (left running at the end).
    let (mut m_in, mut t_out) = (master.try_clone().unwrap(), tcp.try_clone().unwrap());
    std::thread::spawn(move || std::io::copy(&mut m_in, &mut t_out));
    let (mut t_in, mut m_out) = (tcp, master);
    std::thread::spawn(move || std::io::copy(&mut t_in, &mut m_out));

    let mut c = Client::connect(&format!("serial:{path}"), Duration::from_millis(500), 5).unwrap();
    assert!(c.is_serial());
    // The firewall's bytes include every value, 0x0d, 0x11, 0x13 and 0x7f among them, which a
    // tty not in raw mode would translate or swallow.
    load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1).unwrap();
    untouched(&mut c);
    refused(
        load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1),
        Status::Rollback,
    );
    assert_eq!(c.maps().unwrap().len(), 5);
    a.stop();
}

/// The suite sees a device that changed: a map write slipped in by another operator.
#[test]
fn the_suite_notices_a_change() {
    let (a, mut c) = agent(false, serve::DEFAULT_ARENA_BYTES);
    load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1).unwrap();
    // A second client writes to the firewall's first map while the suite runs.
    let to = format!("udp:{}", a.addr());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut w = Client::connect(&to, Duration::from_millis(300), 5).unwrap();
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                // Refused now and then as a replay: the suite's counters come from the same
                // clock.
                let _ = w.update(&key(), "per_source", &i.to_le_bytes(), &[0; 16]);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let outcomes = selftest::run(&mut c, &key(), |_| {}).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let changed = outcomes
        .iter()
        .filter(|o| {
            o.result
                .as_ref()
                .is_err_and(|e| e.contains("map per_source changed"))
        })
        .count();
    assert!(changed > 0, "{outcomes:#?}");
    a.stop();
}

#[test]
fn the_suite_needs_a_running_program() {
    let (a, mut c) = agent(false, serve::DEFAULT_ARENA_BYTES);
    let e = selftest::run(&mut c, &key(), |_| {}).unwrap_err();
    assert!(e.contains("no program runs"), "{e}");
    a.stop();
}

#[test]
fn no_answer_is_a_timeout() {
    // A socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = format!("udp:{}", silent.local_addr().unwrap());
    let mut c = Client::connect(&to, Duration::from_millis(50), 2).unwrap();
    let e = c.status().unwrap_err();
    assert!(matches!(e, DeviceError::Timeout { attempts: 2, .. }), "{e}");
    assert!(e.to_string().contains("no answer from the device"), "{e}");
}

#[test]
fn the_commands_deploy_and_report() {
    let bin = env!("CARGO_BIN_EXE_nanobpf");
    let dir = std::env::temp_dir().join(format!("nanobpf-device-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let k = dir.join("op");
    let ks = k.to_str().unwrap();
    assert!(run(&["keygen", ks]).0);
    let prog = dir.join("xdp_firewall.o");
    std::fs::write(&prog, object("xdp_firewall.o")).unwrap();
    let p = prog.to_str().unwrap();
    let (ok, text) = run(&["sign", p, "--key", ks, "--version", "3"]);
    assert!(ok, "{text}");
    assert!(dir.join("xdp_firewall.o.sig").exists());

    let pubk = format!("{ks}.pub");
    let pcap = root().join("examples/pcap/sample.pcap");
    let mut serve = std::process::Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--key", &pubk, "--pcap"])
        .arg(&pcap)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let to = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();

    let start = Instant::now();
    let (ok, text) = run(&["device", "--to", &to, "load", p]);
    let elapsed = start.elapsed();
    assert!(ok, "{text}");
    assert!(text.contains("loaded xdp_firewall version 3"), "{text}");
    eprintln!("nanobpf device load, process start to commit: {elapsed:?}");
    let mut c = Client::connect(&to, Duration::from_millis(300), 5).unwrap();
    wait_frames(&mut c, 300);
    let (ok, text) = run(&["device", "--to", &to, "status"]);
    assert!(
        ok && text.contains("running: xdp_firewall version 3"),
        "{text}"
    );
    assert!(text.contains("drop 7 pass 293"), "{text}");
    let (ok, text) = run(&[
        "device",
        "--to",
        &to,
        "set",
        "blocklist:10.0.0.0/8=1",
        "--key",
        ks,
    ]);
    assert!(ok, "{text}");
    let (ok, text) = run(&["device", "--to", &to, "maps", "--map", "blocklist"]);
    assert!(
        ok && text.contains("blocklist (type 11, key 8 B, value 4 B, max_entries 64): 1 entries"),
        "{text}"
    );
    // Refusals name the reason and fail the command.
    let (ok, text) = run(&["device", "--to", &to, "load", p]);
    assert!(
        !ok && text.contains("version not newer than the running one"),
        "{text}"
    );
    let (ok, text) = run(&["device", "--to", &to, "set", "nosuch:1=1", "--key", ks]);
    assert!(!ok && text.contains("no map 'nosuch'"), "{text}");
    // --sign signs every request; a device that takes any accepts it too.
    let (ok, text) = run(&["device", "--to", &to, "--sign", ks, "status"]);
    assert!(
        ok && text.contains("running: xdp_firewall version 3"),
        "{text}"
    );
    serve.kill().unwrap();
    let _ = serve.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_device_that_takes_signed_requests_only() {
    let (a, mut c) = agent_with(false, serve::DEFAULT_ARENA_BYTES, true);
    // Unsigned: status, reads and uploads are refused.
    let e = refused(c.status(), Status::Unsigned);
    assert!(e.contains("signed requests only"), "{e}");
    refused(
        load(&mut c, &key(), &object("xdp_pass.o"), "xdp_pass", 1),
        Status::Unsigned,
    );
    // Signed by another key: refused too.
    c.sign_all(SigningKey::from_bytes(&[7; 32]));
    refused(c.status(), Status::BadSignature);
    // Signed by the operator: everything works.
    c.sign_all(key());
    load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1).unwrap();
    untouched(&mut c);
    assert_eq!(c.maps().unwrap().len(), 5);
    assert_eq!(c.dump("verdicts").unwrap().len(), 5);
    c.update(
        &key(),
        "blocklist",
        &[8, 0, 0, 0, 10, 0, 0, 0],
        &[1, 0, 0, 0],
    )
    .unwrap();
    assert_eq!(
        c.lookup("blocklist", &[8, 0, 0, 0, 10, 0, 0, 0]).unwrap(),
        [1, 0, 0, 0]
    );
    // A signed read replayed after another request: refused by its counter.
    let mut frame = [0u8; MAX_FRAME];
    let n = Request::Status
        .encode_wrapped(1, 1, &mut frame, |m| key().sign(m).to_bytes())
        .unwrap();
    let r = c.send_raw(&frame[..n]).unwrap().unwrap();
    let r = nanobpf_control::Response::parse(&r).unwrap();
    assert_eq!(Status::from_u8(r.status), Some(Status::Replay));
    a.stop();
}
