//! `nanobpf device selftest`: every bad input the control channel must refuse, sent to a
//! running device over its channel (the host agent in `cli/tests/device.rs`, the emulated
//! board in `boards/deploy-qemu.sh`: the same cases both ways).
//!
//! The device must run a program when the suite starts. Each case sends its bad input,
//! checks the refusal's status (and the words that say why), then checks that the device is
//! as it was: the same program at the same version, the same verdict counters and version
//! floor, and every map's entries as before. The last case abandons an upload half-way and
//! then uploads the firewall (built into the tool) at the next version, which must go
//! through: so the suite leaves the device running `xdp_firewall`.

use crate::device::{Client, Committed, DeviceError, Entry};
use crate::sign;
use ed25519_dalek::{Signer, SigningKey};
use nanobpf_control::wire::{self, MAX_CHUNK, MAX_FRAME};
use nanobpf_control::{Auth, Request, Response, Status, UploadHeader};
use std::time::Instant;

/// The firewall: the suite's good upload, and the object of most bad ones.
const FIREWALL: &[u8] = include_bytes!("../../examples/build/xdp_firewall.o");
/// `xdp_pass`: made into a program the verifier rejects.
const PASS: &[u8] = include_bytes!("../../examples/build/xdp_pass.o");
/// `xdp_legacy_map`: its legacy map definition made too large for any arena.
const LEGACY: &[u8] = include_bytes!("../../examples/build/xdp_legacy_map.o");

/// A case's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What was sent.
    pub name: &'static str,
    /// `Ok`: what the device said; `Err`: what went wrong.
    pub result: Result<String, String>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            Ok(said) => write!(f, "ok    {}: {said}", self.name),
            Err(why) => write!(f, "FAIL  {}: {why}", self.name),
        }
    }
}

/// What must not change: the running program, its counters, the floor, every map's entries.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    running: Option<(String, u32, u8, u8)>,
    counters: [u64; 9],
    floor: u32,
    maps: Vec<(String, Vec<Entry>)>,
}

fn snapshot(c: &mut Client) -> Result<Snapshot, String> {
    let s = c.status().map_err(|e| format!("status: {e}"))?;
    let mut maps = Vec::new();
    for m in c.maps().map_err(|e| format!("maps: {e}"))? {
        let mut entries = c
            .dump(&m.name)
            .map_err(|e| format!("dump {}: {e}", m.name))?;
        entries.sort();
        maps.push((m.name, entries));
    }
    Ok(Snapshot {
        running: s.running,
        counters: s.counters,
        floor: s.floor,
        maps,
    })
}

/// Where two snapshots differ, in words.
fn differences(before: &Snapshot, after: &Snapshot) -> Option<String> {
    let mut d = Vec::new();
    if before.running != after.running {
        d.push(format!(
            "running {:?}, was {:?}",
            after.running, before.running
        ));
    }
    if before.counters != after.counters {
        d.push(format!(
            "counters {:?}, were {:?}",
            after.counters, before.counters
        ));
    }
    if before.floor != after.floor {
        d.push(format!("floor {}, was {}", after.floor, before.floor));
    }
    for (b, a) in before.maps.iter().zip(&after.maps) {
        if b != a {
            d.push(format!("map {} changed", b.0));
        }
    }
    if before.maps.len() != after.maps.len() {
        d.push("the maps changed".into());
    }
    (!d.is_empty()).then(|| d.join("; "))
}

/// The refusal `r` must be `want`, its words containing `says`; returns them.
fn refused<T: std::fmt::Debug>(
    r: Result<T, DeviceError>,
    want: Status,
    says: &str,
) -> Result<String, String> {
    match r {
        Err(e) if e.status() == Some(want) => {
            let text = e.to_string();
            if text.contains(says) {
                Ok(text)
            } else {
                Err(format!("{want:?} without '{says}': {text}"))
            }
        }
        Err(e) => Err(format!("wanted {want:?}, got: {e}")),
        Ok(v) => Err(format!("accepted, wanted {want:?}: {v:?}")),
    }
}

/// Signs `object`'s program `name` at `version` with `signer`; the header and signature.
fn signed(
    signer: &SigningKey,
    object: &[u8],
    name: &str,
    version: u32,
) -> Result<(UploadHeader, [u8; 64]), String> {
    let sig = sign::sign(signer, object, name, version)?;
    sign::parse_sig(&sig, object.len())
}

fn upload(
    c: &mut Client,
    signer: &SigningKey,
    object: &[u8],
    name: &str,
    version: u32,
) -> Result<Result<Committed, DeviceError>, String> {
    let (header, signature) = signed(signer, object, name, version)?;
    Ok(c.load(object, header, signature, |_| {}))
}

fn chunk(i: usize) -> &'static [u8] {
    FIREWALL
        .get(i * MAX_CHUNK..((i + 1) * MAX_CHUNK).min(FIREWALL.len()))
        .unwrap_or(&[])
}

fn ok<T>(r: Result<T, DeviceError>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// Begins an upload of the firewall at `version`, signed, and sends its first chunk.
fn begin_with_first_chunk(c: &mut Client, key: &SigningKey, version: u32) -> Result<(), String> {
    let (header, signature) = signed(key, FIREWALL, "xdp_firewall", version)?;
    ok(c.request(&Request::Begin { header, signature }), "begin")?;
    ok(
        c.request(&Request::Chunk {
            offset: 0,
            data: chunk(0),
        }),
        "chunk 0",
    )?;
    Ok(())
}

/// The upload in progress must be the first chunk of the firewall.
fn upload_at_first_chunk(c: &mut Client) -> Result<(), String> {
    let s = ok(c.status(), "status")?;
    let want = Some((MAX_CHUNK as u32, FIREWALL.len() as u32));
    if s.upload != want {
        return Err(format!(
            "upload in progress {:?}, wanted {want:?}",
            s.upload
        ));
    }
    Ok(())
}

/// `xdp_pass` with `r0 = 2` made `r1 = 2`: r0 is then read before it is written.
fn rejected_by_the_verifier() -> Result<Vec<u8>, String> {
    let mut pass = PASS.to_vec();
    let at = pass
        .windows(16)
        .position(|w| w == [0xb4, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
        .ok_or("xdp_pass.o: no `r0 = 2; exit`")?;
    pass[at + 1] = 0x01;
    Ok(pass)
}

/// `xdp_legacy_map` with its array of 4 entries made 2^20 entries (8 MiB of values).
fn too_big_for_the_arena() -> Result<Vec<u8>, String> {
    let mut legacy = LEGACY.to_vec();
    let def: Vec<u8> = [2u32, 4, 8, 4, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = legacy
        .windows(def.len())
        .position(|w| w == def)
        .ok_or("xdp_legacy_map.o: no map definition")?;
    legacy[at + 12..at + 16].copy_from_slice(&(1u32 << 20).to_le_bytes());
    Ok(legacy)
}

/// Pseudo-random garbage (xorshift, a fixed seed: the same flood each run).
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Datagram `i` of the flood: random bytes; every other one behind the protocol's magic
    /// and version, every fourth with a correct length and CRC too (answered with a
    /// refusal).
    fn datagram(&mut self, i: usize, max: usize) -> Vec<u8> {
        let len = 1 + (self.next() % max as u64) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| self.next() as u8).collect();
        if i % 2 == 0 && len >= 14 {
            d[..3].copy_from_slice(&[b'N', b'B', 1]);
        }
        if i % 4 == 0 && (14..=MAX_FRAME).contains(&len) {
            let l = (len - 14) as u16;
            d[8..10].copy_from_slice(&l.to_le_bytes());
            // Never kind 0x40 | n with a valid signature, never a request that could pass.
            d[3] = 0x3f;
            let crc = wire::crc32(&d[..len - 4]);
            d[len - 4..].copy_from_slice(&crc.to_le_bytes());
        }
        d
    }
}

/// Runs every case against the device behind `c`, the operator's key `key`; calls `each`
/// with each outcome as it comes. Fails only when the device cannot be read at the start.
///
/// # Errors
/// No program runs, or the device does not answer status.
pub fn run(
    c: &mut Client,
    key: &SigningKey,
    mut each: impl FnMut(&Outcome),
) -> Result<Vec<Outcome>, String> {
    let start = ok(c.status(), "status")?;
    let Some((_, running_version, ..)) = start.running else {
        return Err("no program runs: load one first (the map cases write to its maps)".into());
    };
    let floor = start.floor;
    let v = floor
        .checked_add(1)
        .ok_or("the version floor is at its maximum")?;
    let other = SigningKey::from_bytes(&[0x5a; 32]);
    let mut out = Vec::new();
    let mut case = |name: &'static str,
                    c: &mut Client,
                    f: &mut dyn FnMut(&mut Client) -> Result<String, String>|
     -> Result<(), String> {
        let before = snapshot(c)?;
        let mut result = f(c);
        if result.is_ok() {
            let after = snapshot(c)?;
            if let Some(d) = differences(&before, &after) {
                result = Err(format!("the device changed: {d}"));
            }
        }
        let o = Outcome { name, result };
        each(&o);
        out.push(o);
        Ok(())
    };
    let fw_size = FIREWALL.len() as u32;

    case("unsigned upload", c, &mut |c| {
        let header = UploadHeader::new("xdp_firewall", fw_size, v).ok_or("header")?;
        refused(
            c.load(FIREWALL, header, [0; 64], |_| {}),
            Status::BadSignature,
            "bad signature",
        )
    })?;
    case("upload signed by another key", c, &mut |c| {
        refused(
            upload(c, &other, FIREWALL, "xdp_firewall", v)?,
            Status::BadSignature,
            "bad signature",
        )
    })?;
    case("an older version", c, &mut |c| {
        let says = format!("version {floor}, the device is at {floor}");
        refused(
            upload(c, key, FIREWALL, "xdp_firewall", floor)?,
            Status::Rollback,
            &says,
        )
    })?;
    case(
        "a signed header presented with another version",
        c,
        &mut |c| {
            let (mut header, signature) = signed(key, FIREWALL, "xdp_firewall", v)?;
            header.version = v + 1;
            refused(
                c.load(FIREWALL, header, signature, |_| {}),
                Status::BadSignature,
                "bad signature",
            )
        },
    )?;
    case(
        "a truncated upload (commit before the last chunk)",
        c,
        &mut |c| {
            begin_with_first_chunk(c, key, v)?;
            let says = format!("1024 of {fw_size} bytes");
            let r = refused(c.commit(), Status::Incomplete, &says)?;
            upload_at_first_chunk(c)?;
            Ok(r)
        },
    )?;
    case(
        "a reordered chunk (the third before the second)",
        c,
        &mut |c| {
            begin_with_first_chunk(c, key, v)?;
            let r = refused(
                c.request(&Request::Chunk {
                    offset: 2 * MAX_CHUNK as u32,
                    data: chunk(2),
                }),
                Status::BadOffset,
                "expected offset 1024, got 2048",
            )?;
            // The first chunk again (a new sequence number: not a retransmission).
            refused(
                c.request(&Request::Chunk {
                    offset: 0,
                    data: chunk(0),
                }),
                Status::BadOffset,
                "expected offset 1024, got 0",
            )?;
            upload_at_first_chunk(c)?;
            Ok(r)
        },
    )?;
    case(
        "a chunk corrupted in transit (a flipped bit)",
        c,
        &mut |c| {
            begin_with_first_chunk(c, key, v)?;
            let mut frame = [0u8; MAX_FRAME];
            let seq = c.next_seq();
            let n = Request::Chunk {
                offset: MAX_CHUNK as u32,
                data: chunk(1),
            }
            .encode(seq, &mut frame)
            .ok_or("frame")?;
            frame[40] ^= 4;
            let answer = ok(c.send_raw(&frame[..n]), "send")?.ok_or("no answer")?;
            let r = Response::parse(&answer).map_err(|e| format!("answer: {e:?}"))?;
            if Status::from_u8(r.status) != Some(Status::BadChecksum) || r.seq != seq {
                return Err(format!("answered status {} seq {}", r.status, r.seq));
            }
            upload_at_first_chunk(c)?;
            Ok("refused: checksum mismatch".into())
        },
    )?;
    case(
        "a chunk corrupted with a matching checksum (tampered)",
        c,
        &mut |c| {
            begin_with_first_chunk(c, key, v)?;
            let mut bad = chunk(1).to_vec();
            bad[100] ^= 0x10;
            ok(
                c.request(&Request::Chunk {
                    offset: MAX_CHUNK as u32,
                    data: &bad,
                }),
                "chunk 1",
            )?;
            for i in 2..FIREWALL.len().div_ceil(MAX_CHUNK) {
                let offset = (i * MAX_CHUNK) as u32;
                let data = chunk(i);
                ok(c.request(&Request::Chunk { offset, data }), "chunk")?;
            }
            let r = refused(c.commit(), Status::BadSignature, "bad signature")?;
            // The refused commit ended the upload.
            refused(c.commit(), Status::NoUpload, "no upload in progress")?;
            Ok(r)
        },
    )?;
    case("an object larger than the upload buffer", c, &mut |c| {
        let header = UploadHeader::new("xdp_firewall", 1 << 30, v).ok_or("header")?;
        refused(
            c.request(&Request::Begin {
                header,
                signature: [0; 64],
            }),
            Status::TooBig,
            "1073741824 bytes",
        )
    })?;
    case("an object whose maps do not fit the arena", c, &mut |c| {
        let legacy = too_big_for_the_arena()?;
        refused(
            upload(c, key, &legacy, "xdp_legacy_map", v)?,
            Status::Load,
            "arena",
        )
    })?;
    case("a program the verifier rejects", c, &mut |c| {
        let pass = rejected_by_the_verifier()?;
        let r = refused(
            upload(c, key, &pass, "xdp_pass", v)?,
            Status::Verify,
            "program 0, instruction 1",
        )?;
        let s = ok(c.status(), "status")?;
        match s.last_commit {
            Some((Status::Verify, 0, 1, msg)) if msg.contains("R0") => Ok(r),
            l => Err(format!("status shows the last commit as {l:?}")),
        }
    })?;

    // Map writes: to the first map of the running program, or one that does not exist.
    let maps = ok(c.maps(), "maps")?;
    let m = maps.first().ok_or("the running program has no map")?;
    let (name, ks, vs) = (m.name.clone(), m.key_size as usize, m.value_size as usize);
    // Arrays (Linux's types 2 and 6) have every key below their size and delete none.
    let array = matches!(m.map_type, 2 | 6);
    case("a map write to a map that does not exist", c, &mut |c| {
        refused(
            c.update(key, "nosuchmap", &vec![0; ks], &vec![0; vs]),
            Status::NoSuchMap,
            "no such map",
        )
    })?;
    case("a map write with a wrong key size", c, &mut |c| {
        let says = format!("{} bytes given, the map's are {ks}", ks + 1);
        refused(
            c.update(key, &name, &vec![0; ks + 1], &vec![0; vs]),
            Status::KeySize,
            &says,
        )
    })?;
    case("a map write with a wrong value size", c, &mut |c| {
        refused(
            c.update(key, &name, &vec![0; ks], &vec![0; vs + 1]),
            Status::ValueSize,
            "wrong value size",
        )
    })?;
    case("an unsigned map write (a zero signature)", c, &mut |c| {
        let (k, val) = (vec![0; ks], vec![0; vs]);
        let req = Request::Update {
            auth: Auth {
                counter: c.counter(),
                signature: [0; 64],
            },
            flags: 0,
            map: name.as_bytes(),
            key: &k,
            value: &val,
        };
        refused(c.request(&req), Status::BadSignature, "bad signature")
    })?;
    case("a map read with a wrong key size", c, &mut |c| {
        refused(
            c.lookup(&name, &vec![0; ks + 3]),
            Status::KeySize,
            "wrong key size",
        )
    })?;
    case(
        "a map delete of a key that is not there (or from an array)",
        c,
        &mut |c| {
            // A key no map of the examples holds: all 0xa5.
            let r = c.delete(key, &name, &vec![0xa5; ks]);
            if array {
                refused(r, Status::Map, "the map refused the operation")
            } else {
                refused(r, Status::NotFound, "no such key")
            }
        },
    )?;
    case("a map write signed by another key", c, &mut |c| {
        refused(
            c.update(&other, &name, &vec![0; ks], &vec![0; vs]),
            Status::BadSignature,
            "bad signature",
        )
    })?;
    case("a signed map write replayed", c, &mut |c| {
        // Signed by the operator, with a wrong key size so that it changes nothing; its
        // counter is used up all the same, so the same bytes again are a replay.
        let mut frame = [0u8; MAX_FRAME];
        let key_bytes = vec![0; ks + 1];
        let value = vec![0; vs];
        let req = Request::Update {
            auth: Auth {
                counter: c.counter(),
                signature: [0; 64],
            },
            flags: 0,
            map: name.as_bytes(),
            key: &key_bytes,
            value: &value,
        };
        let seq = c.next_seq();
        let n = req
            .encode_signed(seq, &mut frame, |m| key.sign(m).to_bytes())
            .ok_or("frame")?;
        let first = ok(c.send_raw(&frame[..n]), "send")?.ok_or("no answer")?;
        let first = Response::parse(&first).map_err(|e| format!("{e:?}"))?;
        if Status::from_u8(first.status) != Some(Status::KeySize) {
            return Err(format!("the first write answered {}", first.status));
        }
        ok(c.status(), "status")?;
        let again = ok(c.send_raw(&frame[..n]), "send")?.ok_or("no answer")?;
        let again = Response::parse(&again).map_err(|e| format!("{e:?}"))?;
        if Status::from_u8(again.status) != Some(Status::Replay) {
            return Err(format!("the replay answered {}", again.status));
        }
        Ok("refused: counter not newer than the last accepted one (replay)".into())
    })?;
    case("a flood of garbage datagrams", c, &mut |c| {
        let dropped = ok(c.status(), "status")?.dropped;
        let mut g = Garbage(0x2545_f491_4f6c_dd1d);
        // Over UDP up to 1,472 bytes, over the largest frame but within one IPv4 packet on
        // Ethernet: a larger datagram arrives in fragments, and a board that does not
        // reassemble cannot tell they are for its control port (the MPS2 image hands them to
        // the data path, as any other traffic). A serial line is slower: fewer, shorter
        // datagrams, each as bytes with no framing (noise) or COBS-framed (frames not ours).
        let (count, max) = if c.is_serial() {
            (300, 300)
        } else {
            (2000, 1472)
        };
        let mut unframed = 0u32;
        for i in 0..count {
            let d = g.datagram(i, max);
            if wire::parse_frame(&d) == Err(wire::FrameError::Malformed) {
                unframed += 1;
            }
            if c.is_serial() && i % 3 != 0 {
                ok(c.send_datagram(&d), "send")?;
            } else {
                ok(c.send_unframed(&d), "send")?;
            }
        }
        // Answers to the flood's framed datagrams are skipped by their sequence numbers.
        let s = ok(c.status(), "status after the flood")?;
        let now = s.dropped.wrapping_sub(dropped);
        if now == 0 || (!c.is_serial() && now > unframed) {
            return Err(format!(
                "{now} dropped of {count} sent ({unframed} not frames)"
            ));
        }
        Ok(format!(
            "{count} sent, {now} dropped unanswered, the device still answers"
        ))
    })?;

    // Abandoned half-way, then a good upload: it goes through.
    let abandoned = (|| -> Result<String, String> {
        begin_with_first_chunk(c, key, v)?;
        upload_at_first_chunk(c)?;
        let t = Instant::now();
        let done = ok(
            upload(c, key, FIREWALL, "xdp_firewall", v)?,
            "the good upload",
        )?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let s = ok(c.status(), "status")?;
        match (&s.running, s.upload) {
            (Some((n, ver, _, 5)), None) if n == "xdp_firewall" && *ver == v => Ok(format!(
                "then xdp_firewall version {v} loaded in {ms:.1} ms ({} maps, {} carried over, replaced version {running_version})",
                done.maps, done.carried
            )),
            _ => Err(format!("after the good upload: {s}")),
        }
    })();
    let o = Outcome {
        name: "an upload abandoned half-way",
        result: abandoned,
    };
    each(&o);
    out.push(o);
    Ok(out)
}
