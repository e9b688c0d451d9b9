//! The control channel end to end over loopback UDP: the host agent (`nanobpf serve`'s
//! device side, in-process) and the operator's client, with the example objects; and once
//! through the binary's own commands.

use ed25519_dalek::{Signer, SigningKey};
use nanobpf_cli::capture::read_capture;
use nanobpf_cli::device::{Client, DeviceError, DeviceStatus};
use nanobpf_cli::serve::{self, Agent};
use nanobpf_cli::sign;
use nanobpf_control::wire::{self, MAX_CHUNK, MAX_FRAME};
use nanobpf_control::{Auth, Request, Status, UploadHeader};
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

#[test]
fn bad_uploads_are_refused_and_the_program_stays() {
    let (a, mut c) = agent(false, serve::DEFAULT_ARENA_BYTES);
    let fw = object("xdp_firewall.o");
    load(&mut c, &key(), &fw, "xdp_firewall", 1).unwrap();
    untouched(&mut c);

    // Unsigned: a zero signature.
    let header = UploadHeader::new("xdp_firewall", fw.len() as u32, 5).unwrap();
    let e = refused(c.load(&fw, header, [0; 64], |_| {}), Status::BadSignature);
    assert!(e.contains("bad signature"), "{e}");
    untouched(&mut c);

    // Signed by another key.
    let other = SigningKey::from_bytes(&[7; 32]);
    refused(
        load(&mut c, &other, &fw, "xdp_firewall", 5),
        Status::BadSignature,
    );
    untouched(&mut c);

    // The same and an older version: refused at begin.
    let e = refused(
        load(&mut c, &key(), &fw, "xdp_firewall", 1),
        Status::Rollback,
    );
    assert!(e.contains("version 1, the device is at 1"), "{e}");
    refused(
        load(&mut c, &key(), &fw, "xdp_firewall", 0),
        Status::Rollback,
    );
    untouched(&mut c);

    // A signature for version 6 presented as version 7 (the header is signed).
    let sig = sign::sign(&key(), &fw, "xdp_firewall", 6).unwrap();
    let (mut header, signature) = sign::parse_sig(&sig, fw.len()).unwrap();
    header.version = 7;
    refused(c.load(&fw, header, signature, |_| {}), Status::BadSignature);
    untouched(&mut c);

    // Truncated: a commit before the last chunk.
    let sig = sign::sign(&key(), &fw, "xdp_firewall", 8).unwrap();
    let (header, signature) = sign::parse_sig(&sig, fw.len()).unwrap();
    c.request(&Request::Begin { header, signature }).unwrap();
    c.request(&Request::Chunk {
        offset: 0,
        data: &fw[..MAX_CHUNK],
    })
    .unwrap();
    let e = refused(c.commit(), Status::Incomplete);
    assert!(e.contains(&format!("1024 of {} bytes", fw.len())), "{e}");
    untouched(&mut c);

    // Reordered: the third chunk before the second.
    let chunk = |i: usize| &fw[i * MAX_CHUNK..((i + 1) * MAX_CHUNK).min(fw.len())];
    let e = refused(
        c.request(&Request::Chunk {
            offset: 2 * MAX_CHUNK as u32,
            data: chunk(2),
        }),
        Status::BadOffset,
    );
    assert!(e.contains("expected offset 1024, got 2048"), "{e}");
    // The same chunk twice (not a retransmission: a new sequence number) is out of order too.
    refused(
        c.request(&Request::Chunk {
            offset: 0,
            data: chunk(0),
        }),
        Status::BadOffset,
    );
    untouched(&mut c);

    // Corrupted in transit: a flipped bit fails the CRC and is answered so.
    let mut frame = [0u8; MAX_FRAME];
    let n = Request::Chunk {
        offset: 1024,
        data: chunk(1),
    }
    .encode(1, &mut frame)
    .unwrap();
    frame[40] ^= 4;
    let answer = c.send_raw(&frame[..n]).unwrap().unwrap();
    let r = nanobpf_control::Response::parse(&answer).unwrap();
    assert_eq!(Status::from_u8(r.status), Some(Status::BadChecksum));
    // Corrupted with a matching CRC (tampered): the signature fails at commit.
    let mut bad = chunk(1).to_vec();
    bad[100] ^= 0x10;
    c.request(&Request::Chunk {
        offset: 1024,
        data: &bad,
    })
    .unwrap();
    for i in 2..fw.len().div_ceil(MAX_CHUNK) {
        let offset = (i * MAX_CHUNK) as u32;
        c.request(&Request::Chunk {
            offset,
            data: chunk(i),
        })
        .unwrap();
    }
    refused(c.commit(), Status::BadSignature);
    // The upload ended with the refusal.
    refused(c.commit(), Status::NoUpload);
    untouched(&mut c);

    // Larger than the upload buffer: refused at begin.
    let header = UploadHeader::new("xdp_firewall", 1 << 20, 9).unwrap();
    let e = refused(
        c.request(&Request::Begin {
            header,
            signature: [0; 64],
        }),
        Status::TooBig,
    );
    assert!(e.contains("1048576 bytes"), "{e}");

    // A program the verifier rejects: xdp_pass with `r0 = 2` made `r1 = 2`.
    let mut pass = object("xdp_pass.o");
    let at = pass
        .windows(16)
        .position(|w| w == [0xb4, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    pass[at + 1] = 0x01;
    let e = refused(load(&mut c, &key(), &pass, "xdp_pass", 10), Status::Verify);
    assert!(e.contains("program 0, instruction 1"), "{e}");
    let s = c.status().unwrap();
    let (status, _, pc, msg) = s.last_commit.clone().unwrap();
    assert_eq!((status, pc), (Status::Verify, 1));
    assert!(msg.contains("R0"), "{msg}");
    untouched(&mut c);

    // Abandoned half-way, then a new upload: the new one goes through.
    let sig = sign::sign(&key(), &fw, "xdp_firewall", 11).unwrap();
    let (header, signature) = sign::parse_sig(&sig, fw.len()).unwrap();
    c.request(&Request::Begin { header, signature }).unwrap();
    c.request(&Request::Chunk {
        offset: 0,
        data: chunk(0),
    })
    .unwrap();
    assert_eq!(c.status().unwrap().upload, Some((1024, fw.len() as u32)));
    let done = load(
        &mut c,
        &key(),
        &object("xdp_proto_count.o"),
        "xdp_proto_count",
        12,
    )
    .unwrap();
    assert!(done.replaced);
    let s = c.status().unwrap();
    assert_eq!(
        s.running.map(|r| (r.0, r.1)),
        Some(("xdp_proto_count".to_string(), 12))
    );
    assert_eq!(s.upload, None);
    a.stop();
}

#[test]
fn an_object_too_big_for_the_arena_is_refused() {
    let (a, mut c) = agent(false, 4096);
    let e = refused(
        load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1),
        Status::Load,
    );
    assert!(e.contains("free in the arena"), "{e}");
    let s = c.status().unwrap();
    assert_eq!(s.running, None);
    assert_eq!(s.last_commit.map(|l| l.0), Some(Status::Load));
    // The floor did not move: a good object at version 1 still loads afterwards.
    load(&mut c, &key(), &object("xdp_pass.o"), "xdp_pass", 1).unwrap();
    a.stop();
}

#[test]
fn bad_map_writes_replays_and_garbage_are_refused() {
    let (a, mut c) = agent(false, serve::DEFAULT_ARENA_BYTES);
    load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1).unwrap();
    let k8 = [8, 0, 0, 0, 10, 0, 0, 0];
    refused(
        c.update(&key(), "nosuchmap", &k8, &[1, 0, 0, 0]),
        Status::NoSuchMap,
    );
    let e = refused(
        c.update(&key(), "blocklist", &[1, 2, 3], &[1, 0, 0, 0]),
        Status::KeySize,
    );
    assert!(e.contains("3 bytes given, the map's are 8"), "{e}");
    refused(c.update(&key(), "blocklist", &k8, &[1]), Status::ValueSize);
    refused(c.lookup("verdicts", &[0; 3]), Status::KeySize);
    refused(c.delete(&key(), "blocklist", &k8), Status::NotFound);
    let other = SigningKey::from_bytes(&[7; 32]);
    refused(
        c.update(&other, "blocklist", &k8, &[1, 0, 0, 0]),
        Status::BadSignature,
    );
    // An unsigned write: a zero signature.
    let req = Request::Update {
        auth: Auth {
            counter: u64::MAX,
            signature: [0; 64],
        },
        flags: 0,
        map: b"blocklist",
        key: &k8,
        value: &[1, 0, 0, 0],
    };
    refused(c.request(&req), Status::BadSignature);
    assert!(c.dump("blocklist").unwrap().is_empty());

    // A replayed signed write: the same bytes sent again after another request.
    let mut frame = [0u8; MAX_FRAME];
    let req = Request::Update {
        auth: Auth {
            counter: u64::MAX - 1,
            signature: [0; 64],
        },
        flags: 0,
        map: b"blocklist",
        key: &k8,
        value: &[1, 0, 0, 0],
    };
    let n = req
        .encode_signed(5, &mut frame, |m| key().sign(m).to_bytes())
        .unwrap();
    let first = c.send_raw(&frame[..n]).unwrap().unwrap();
    assert_eq!(nanobpf_control::Response::parse(&first).unwrap().status, 0);
    c.status().unwrap();
    let again = c.send_raw(&frame[..n]).unwrap().unwrap();
    let r = nanobpf_control::Response::parse(&again).unwrap();
    assert_eq!(Status::from_u8(r.status), Some(Status::Replay));
    // The counter is now u64::MAX - 1: the client's clock-based counters are below it.
    refused(c.delete(&key(), "blocklist", &k8), Status::Replay);
    assert_eq!(c.dump("blocklist").unwrap().len(), 1);
    a.stop();
}

#[test]
fn a_flood_of_garbage_changes_nothing() {
    let (a, mut c) = agent(false, serve::DEFAULT_ARENA_BYTES);
    load(&mut c, &key(), &object("xdp_firewall.o"), "xdp_firewall", 1).unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut unframed, mut answered) = (0u32, 0u32);
    for i in 0..2000 {
        let len = (rnd() % 1500) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        if i % 2 == 0 && len >= 14 {
            // Our magic and version, a random rest: refused by length or checksum.
            d[..3].copy_from_slice(&[b'N', b'B', 1]);
        }
        if i % 4 == 0 && (14..=MAX_FRAME).contains(&len) {
            // A correct length and CRC around random payloads of random kinds.
            let l = (len - 14) as u16;
            d[8..10].copy_from_slice(&l.to_le_bytes());
            let crc = wire::crc32(&d[..len - 4]);
            d[len - 4..].copy_from_slice(&crc.to_le_bytes());
        }
        sock.send_to(&d, a.addr()).unwrap();
        // Frames the device reads as frames are answered (with a refusal); others dropped.
        match wire::parse_frame(&d) {
            Err(wire::FrameError::Malformed) => unframed += 1,
            _ => answered += 1,
        }
    }
    let mut buf = [0u8; MAX_FRAME];
    let mut got = 0;
    while let Ok(n) = sock.recv(&mut buf) {
        let f = wire::parse_frame(&buf[..n]).unwrap();
        assert_ne!(f.payload.first(), Some(&0), "garbage is never accepted");
        got += 1;
    }
    assert!(got <= answered, "{got} answers, {answered} answerable");
    let s = c.status().unwrap();
    // UDP may lose some of a flood; none of what arrived was taken for a frame.
    assert!(
        s.dropped > 0 && s.dropped <= unframed,
        "{} dropped of {unframed}",
        s.dropped
    );
    untouched(&mut c);
    assert_eq!(u64_at(&mut c, "verdicts", 1), 0);
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
