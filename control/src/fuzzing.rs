//! The fuzz target over the parser and the state machine, as library code: cargo-fuzz runs
//! [`control`] (`fuzz/fuzz_targets/control.rs`), `cargo test` runs it over fixed inputs.
//!
//! The input is cut into datagrams, each prefixed by a length byte and a mode byte: mode 0
//! sends the bytes as they are (garbage, truncated frames); mode 1 wraps them in a frame
//! with a valid CRC (the first byte is the kind), so the fuzzer reaches the request decoders
//! and the upload states; mode 2 also signs the frame with the device's key where the kind
//! takes a signature (map writes, unloads, the signed forms of the other requests, and a begin whose header is signed with the bytes
//! uploaded so far), so it reaches the code behind authentication. Every answer must be a
//! well-formed response to the request's sequence number. Inputs of odd length run against a
//! device that takes signed requests only.

use std::boxed::Box;

use ed25519_dalek::{Signer, SigningKey};
use nanobpf_core::helpers;
use nanobpf_core::DefaultWorkspace;
use nanobpf_core::ProgramSlot;
use nanobpf_core::{ArenaStorage, MapArena};
use nanobpf_hal::Counters;

use crate::device::{Device, SlotTarget};
use crate::wire::{self, Kind, Response, MAX_FRAME, SIGNATURE, TRAILER};

/// The fuzz target's signing key (a fixed seed: the target is deterministic).
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// Feeds `data`, cut into datagrams, to a fresh device; panics only on a broken invariant.
pub fn control(data: &[u8]) {
    with_device(|dev| control_on(dev, data));
}

/// The device a fuzz target drives: a fresh slot, arena, workspace and upload buffer, and the
/// public half of [`signing_key`].
type FuzzDevice<'u, 's, 'a> = Device<'u, SlotTarget<'s, 'a, 256, 8, 2, 33, 4096, 96, 192>, 4096>;

/// Runs `f` with a fresh [`FuzzDevice`].
fn with_device<R>(f: impl FnOnce(FuzzDevice<'_, '_, '_>) -> R) -> R {
    let storage = Box::new(ArenaStorage::<2048>::new());
    let mut arena = MapArena::<33>::new(storage.words());
    let slot: ProgramSlot<'_, 256, 8, 2> = ProgramSlot::new(helpers::standard());
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut buf = Box::new([0u8; 4096]);
    let target = SlotTarget {
        slot: &slot,
        arena: &mut arena,
        ws: &mut *ws,
    };
    let Ok(dev) = Device::new(target, signing_key().verifying_key().as_bytes(), &mut buf) else {
        panic!("the fixed key is valid");
    };
    f(dev)
}

/// [`control`] on the device `dev`.
fn control_on(mut dev: FuzzDevice<'_, '_, '_>, data: &[u8]) {
    let key = signing_key();
    if data.len() % 2 == 1 {
        dev = dev.signed_only();
    }
    let counters = Counters::default();
    let mut rest = data;
    let mut seq = 0u32;
    // Bytes uploaded so far by mode-2 chunks, for a mode-2 begin to sign.
    let mut uploaded: std::vec::Vec<u8> = std::vec::Vec::new();
    while let [len, mode, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (piece, next) = tail.split_at(n);
        rest = next;
        seq = seq.wrapping_add(1);
        let mut frame = [0u8; MAX_FRAME];
        let datagram: &[u8] = match mode % 3 {
            0 => piece,
            m => {
                let (&kind, payload) = piece.split_first().unwrap_or((&1, &[]));
                // Request kinds (and their signed forms, bit 6) mostly; any byte sometimes.
                let base = Kind::from_u8(kind % 11).map_or(kind, |k| k as u8);
                let kind = if kind & 0x80 != 0 {
                    kind
                } else {
                    base | (kind & wire::SIGNED)
                };
                let len = wire::write_frame(&mut frame, kind, seq, |w| w.put(payload));
                let Some(len) = len else { continue };
                if m == 2 {
                    sign(&key, &mut frame[..len], kind, &mut uploaded);
                }
                &frame[..len]
            }
        };
        let mut out = [0u8; MAX_FRAME];
        if let Some(n) = dev.handle(datagram, &mut out, &counters) {
            let r = Response::parse(&out[..n]);
            if let Ok(r) = r {
                if let Ok(f) = wire::parse_frame(datagram) {
                    assert_eq!(r.seq, f.seq, "a response answers its request");
                }
            }
            // A response to an unknown kind has no request kind: it still frames correctly.
            assert!(
                wire::parse_frame(&out[..n]).is_ok(),
                "responses frame correctly"
            );
        }
    }
}

/// Signs a mode-2 frame in place where its kind carries a signature; records chunks.
fn sign(key: &SigningKey, frame: &mut [u8], kind: u8, uploaded: &mut std::vec::Vec<u8>) {
    let n = frame.len();
    let payload_at = wire::HEADER;
    let wrapped = kind & wire::SIGNED != 0 && kind & wire::RESPONSE == 0;
    match Kind::from_u8(kind) {
        _ if wrapped && n >= wire::HEADER + TRAILER + SIGNATURE => {
            let at = n - TRAILER - SIGNATURE;
            let sig = key.sign(&frame[..at]).to_bytes();
            frame[at..at + SIGNATURE].copy_from_slice(&sig);
        }
        Some(Kind::Update | Kind::Delete | Kind::Unload)
            if n >= wire::HEADER + TRAILER + SIGNATURE =>
        {
            let at = n - TRAILER - SIGNATURE;
            let sig = key.sign(&frame[..at]).to_bytes();
            frame[at..at + SIGNATURE].copy_from_slice(&sig);
        }
        Some(Kind::Chunk) if n >= payload_at + 4 + TRAILER => {
            uploaded.extend_from_slice(&frame[payload_at + 4..n - TRAILER]);
            return;
        }
        Some(Kind::Begin) if n >= payload_at + wire::UPLOAD_HEADER + SIGNATURE + TRAILER => {
            let h = &frame[payload_at..payload_at + wire::UPLOAD_HEADER];
            let mut msg = h.to_vec();
            msg.extend_from_slice(uploaded);
            let at = payload_at + wire::UPLOAD_HEADER;
            let sig = key.sign(&msg).to_bytes();
            frame[at..at + SIGNATURE].copy_from_slice(&sig);
            uploaded.clear();
        }
        _ => return,
    }
    let crc = wire::crc32(&frame[..n - TRAILER]);
    frame[n - TRAILER..].copy_from_slice(&crc.to_le_bytes());
}

/// The serial framing's fuzz target: `data` is the line. Every frame the decoder finds must
/// re-encode to bytes that decode to the same frame; `data` itself, encoded, must decode to
/// itself; and a device behind [`Serial`](crate::Serial) fed the line answers only with
/// frames that decode and parse.
pub fn serial(data: &[u8]) {
    use crate::serial::{encode, encoded_len, ByteStream, CobsDecoder, Decoded, Serial};

    let mut dec = Box::new(CobsDecoder::<MAX_FRAME>::new());
    let mut frames: std::vec::Vec<std::vec::Vec<u8>> = std::vec::Vec::new();
    for &b in data {
        if let Some(Decoded::Frame(f)) = dec.push(b) {
            assert!(f.len() <= MAX_FRAME, "frames fit the decoder");
            frames.push(f.to_vec());
        }
    }
    let mut again = Box::new(CobsDecoder::<MAX_FRAME>::new());
    let mut round = |d: &[u8]| {
        let mut line = std::vec![0u8; encoded_len(d.len())];
        let n = encode(d, &mut line).expect("encoded_len is enough");
        assert!(!line[..n - 1].contains(&0), "no delimiter inside a frame");
        let mut out = None;
        for &b in &line[..n] {
            if let Some(r) = again.push(b) {
                out = Some(match r {
                    Decoded::Frame(f) => Some(f.to_vec()),
                    _ => None,
                });
            }
        }
        // An empty frame encodes to a single code byte and is one; only that gives no output.
        if d.is_empty() {
            assert!(matches!(out, None | Some(Some(_))));
        } else {
            assert_eq!(out, Some(Some(d.to_vec())), "a frame round-trips");
        }
    };
    for f in &frames {
        round(f);
    }
    if data.len() <= MAX_FRAME {
        round(data);
    }

    // The line into a device.
    struct Line<'d> {
        rx: &'d [u8],
        tx: std::vec::Vec<u8>,
    }
    impl ByteStream for Line<'_> {
        type Error = core::convert::Infallible;
        fn read_byte(&mut self) -> Result<Option<u8>, Self::Error> {
            let (&b, rest) = match self.rx.split_first() {
                Some(x) => x,
                None => return Ok(None),
            };
            self.rx = rest;
            Ok(Some(b))
        }
        fn write(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
            self.tx.extend_from_slice(bytes);
            Ok(())
        }
    }
    with_device(|mut dev| {
        let mut io = Serial::new(Line {
            rx: data,
            tx: std::vec::Vec::new(),
        });
        let counters = Counters::default();
        let mut polls = 0usize;
        while let Ok(true) = dev.poll(&mut io, &counters) {
            polls += 1;
            assert!(polls <= data.len(), "each datagram takes a byte at least");
        }
        let mut answers = Box::new(CobsDecoder::<MAX_FRAME>::new());
        for &b in &io.stream().tx {
            match answers.push(b) {
                Some(Decoded::Frame(f)) => {
                    assert!(wire::parse_frame(f).is_ok(), "answers frame correctly");
                }
                Some(_) => panic!("answers decode"),
                None => {}
            }
        }
    });
}
