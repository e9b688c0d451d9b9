//! In-process tests of the wire format and the state machine; the end-to-end tests over UDP
//! are the host tool's (`cli/tests/device.rs`).

use std::boxed::Box;
use std::vec::Vec;

use ed25519_dalek::{Signer, SigningKey};
use nanobpf_core::helpers;
use nanobpf_core::DefaultWorkspace;
use nanobpf_core::ProgramSlot;
use nanobpf_core::{ArenaStorage, MapArena};
use nanobpf_hal::Counters;

use crate::fuzzing;
use crate::wire::{self, Auth, Request, Response, UploadHeader, MAX_CHUNK, MAX_FRAME};
use crate::{Device, SlotTarget, Status};

const FIREWALL: &[u8] = include_bytes!("../../examples/build/xdp_firewall.o");

#[test]
fn crc32_is_the_ethernet_one() {
    assert_eq!(wire::crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(wire::crc32(b""), 0);
}

#[test]
fn requests_round_trip() {
    let auth = Auth {
        counter: 9,
        signature: [3; 64],
    };
    let reqs = [
        Request::Status,
        Request::Commit,
        Request::Begin {
            header: UploadHeader::new("xdp_firewall", 1000, 4).unwrap(),
            signature: [5; 64],
        },
        Request::Chunk {
            offset: 12,
            data: b"abc",
        },
        Request::MapInfo { index: 2 },
        Request::Lookup {
            map: b"verdicts",
            key: &[1, 0, 0, 0],
        },
        Request::Dump {
            map: b"m",
            after: &[],
        },
        Request::Update {
            auth,
            flags: 0,
            map: b"blocklist",
            key: &[8, 0, 0, 0, 10, 0, 0, 0],
            value: &[1, 0, 0, 0],
        },
        Request::Delete {
            auth,
            map: b"m",
            key: &[1],
        },
        Request::Unload { auth },
    ];
    for req in reqs {
        let mut buf = [0u8; MAX_FRAME];
        let n = req.encode(77, &mut buf).unwrap();
        let f = wire::parse_frame(&buf[..n]).unwrap();
        assert_eq!(f.seq, 77);
        assert_eq!(Request::decode(&f), Ok(req));
        // Every strict prefix and every single flipped bit is refused, never a panic.
        for cut in 0..n {
            assert!(wire::parse_frame(&buf[..cut]).is_err());
        }
        for bit in 0..n * 8 {
            let mut b = buf;
            b[bit / 8] ^= 1 << (bit % 8);
            assert_ne!(wire::parse_frame(&b[..n]).ok().map(|f| f.crc), Some(f.crc));
        }
    }
}

/// Sends one request, returns the response's status and body.
type Send<'s> = &'s mut dyn FnMut(&[u8]) -> (Status, Vec<u8>);

/// Runs `f` with a device over a fresh slot and arena, keyed with `key`.
fn with_device<R>(key: &SigningKey, f: impl FnOnce(Send<'_>) -> R) -> R {
    let storage = Box::new(ArenaStorage::<4096>::new());
    let mut arena = MapArena::<33>::new(storage.words());
    let slot: ProgramSlot<'_, 512, 8, 2> = ProgramSlot::new(helpers::standard());
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut buf = Box::new([0u8; 16384]);
    let target = SlotTarget {
        slot: &slot,
        arena: &mut arena,
        ws: &mut *ws,
    };
    let mut dev = Device::new(target, key.verifying_key().as_bytes(), &mut buf).unwrap();
    let mut send = |req: &[u8]| {
        let mut out = [0u8; MAX_FRAME];
        let n = dev.handle(req, &mut out, &Counters::default()).unwrap();
        let r = Response::parse(&out[..n]).unwrap();
        (Status::from_u8(r.status).unwrap(), r.body.to_vec())
    };
    f(&mut send)
}

fn frame(req: &Request<'_>, seq: u32) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    let n = req.encode(seq, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// Begin, chunks and commit of `object` signed by `signer` at `version`; the commit's status.
fn upload(
    send: Send<'_>,
    signer: &SigningKey,
    object: &[u8],
    version: u32,
    seq: &mut u32,
) -> (Status, Vec<u8>) {
    let header = UploadHeader::new("xdp_firewall", object.len() as u32, version).unwrap();
    let mut msg = header.to_bytes().to_vec();
    msg.extend_from_slice(object);
    let signature = signer.sign(&msg).to_bytes();
    *seq += 1;
    let (s, _) = send(&frame(&Request::Begin { header, signature }, *seq));
    assert_eq!(s, Status::Ok);
    for (i, data) in object.chunks(MAX_CHUNK).enumerate() {
        *seq += 1;
        let offset = (i * MAX_CHUNK) as u32;
        let (s, _) = send(&frame(&Request::Chunk { offset, data }, *seq));
        assert_eq!(s, Status::Ok);
    }
    *seq += 1;
    send(&frame(&Request::Commit, *seq))
}

#[test]
fn a_signed_upload_loads_and_a_foreign_one_does_not() {
    let key = SigningKey::from_bytes(&[1; 32]);
    let other = SigningKey::from_bytes(&[2; 32]);
    with_device(&key, |send| {
        let mut seq = 0;
        let (s, body) = upload(send, &other, FIREWALL, 1, &mut seq);
        assert_eq!(s, Status::BadSignature, "{body:?}");
        let (s, _) = send(&frame(
            &Request::Lookup {
                map: b"verdicts",
                key: &[0; 4],
            },
            99,
        ));
        assert_eq!(s, Status::NoProgram);
        let (s, body) = upload(send, &key, FIREWALL, 1, &mut seq);
        assert_eq!(s, Status::Ok, "{body:?}");
        assert_eq!(body[0], 1, "one program");
        let (s, value) = send(&frame(
            &Request::Lookup {
                map: b"verdicts",
                key: &[1, 0, 0, 0],
            },
            100,
        ));
        assert_eq!((s, value), (Status::Ok, std::vec![0; 8]));
        // The same version again: refused at begin, the program stays.
        let header = UploadHeader::new("xdp_firewall", 10, 1).unwrap();
        let (s, _) = send(&frame(
            &Request::Begin {
                header,
                signature: [0; 64],
            },
            101,
        ));
        assert_eq!(s, Status::Rollback);
        // A retransmitted request gets the cached answer, not a second execution.
        let status = frame(&Request::Status, 102);
        assert_eq!(send(&status), send(&status));
    });
}

#[test]
fn fuzz_target_smoke() {
    fuzzing::control(&[]);
    fuzzing::control(&[0, 0, 3, 0, 1, 2]);
    // A deterministic stream of pseudo-random inputs in every mode.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..64 {
        let mut data = Vec::new();
        for _ in 0..512 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(x as u8);
        }
        fuzzing::control(&data);
    }
    // Well-formed requests of every kind, in every mode.
    let mut data = Vec::new();
    for req in [
        Request::Status,
        Request::Chunk {
            offset: 0,
            data: b"x",
        },
        Request::Commit,
        Request::MapInfo { index: 0 },
        Request::Unload {
            auth: Auth {
                counter: 1,
                signature: [0; 64],
            },
        },
    ] {
        let mut payload = [0u8; 256];
        let mut w = wire::Writer::new(&mut payload);
        req.write_payload(&mut w);
        let p = w.written().to_vec();
        for mode in 0..3u8 {
            data.push((p.len() + 1) as u8);
            data.push(mode);
            data.push(req.kind() as u8);
            data.extend_from_slice(&p);
        }
    }
    fuzzing::control(&data);
}

#[test]
fn serial_fuzz_target_smoke() {
    use crate::serial::{encode, encoded_len};
    fuzzing::serial(&[]);
    fuzzing::serial(&[0, 0, 3, 1, 0, 0xff]);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..32 {
        let data: Vec<u8> = (0..700)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Delimiters often enough to cut the line into frames.
                if x % 17 == 0 {
                    0
                } else {
                    x as u8
                }
            })
            .collect();
        fuzzing::serial(&data);
    }
    // Real requests on the line, between noise: the device answers them.
    let mut line = std::vec![0x55, 0x13, 0];
    for seq in 1..4 {
        let mut f = [0u8; MAX_FRAME];
        let n = Request::Status.encode(seq, &mut f).unwrap();
        let mut e = std::vec![0u8; encoded_len(n)];
        let m = encode(&f[..n], &mut e).unwrap();
        line.extend_from_slice(&e[..m]);
    }
    fuzzing::serial(&line);
}

#[test]
fn the_device_is_small() {
    type Target<'s> = SlotTarget<'s, 's, 512, 8, 2, 33, 4096, 96, 192>;
    let size = core::mem::size_of::<Device<'_, Target<'_>, 16384>>();
    let target = core::mem::size_of::<Target<'_>>();
    // The cached answer (1,400 bytes), the key, the upload state, the counters.
    assert!(
        size - target < 2048,
        "{size} bytes, {target} of them the target's"
    );
}

#[test]
fn signed_forms_wrap_the_base_request() {
    let key = SigningKey::from_bytes(&[1; 32]);
    let req = Request::Lookup {
        map: b"verdicts",
        key: &[2, 0, 0, 0],
    };
    let mut buf = [0u8; MAX_FRAME];
    let n = req
        .encode_wrapped(3, 44, &mut buf, |m| key.sign(m).to_bytes())
        .unwrap();
    let f = wire::parse_frame(&buf[..n]).unwrap();
    assert_eq!(f.kind, 0x46);
    let (auth, inner) = wire::unwrap_signed(&f).unwrap().unwrap();
    assert_eq!(auth.counter, 44);
    assert_eq!(Request::decode(&inner), Ok(req));
    let signed = wire::signed_bytes(&f).unwrap();
    assert!(key
        .verifying_key()
        .verify_strict(
            signed,
            &ed25519_dalek::Signature::from_bytes(&auth.signature)
        )
        .is_ok());
    // Requests with signatures of their own have no signed form.
    let mut f2 = f;
    f2.kind = 0x48;
    assert_eq!(wire::unwrap_signed(&f2), Err(Status::UnknownCommand));
}
