//! The control channel over a byte stream (a UART, a USB serial line, a TCP connection):
//! frames are delimited with COBS (Consistent Overhead Byte Stuffing), each datagram encoded
//! so that it contains no zero byte and followed by a zero byte. `docs/control.md`
//! ("Serial framing") specifies it.
//!
//! COBS rather than SLIP: its overhead is bounded (one byte per 254, so a 1,400-byte frame is
//! at most 1,407 bytes on the line, plus its delimiter) whatever the bytes, where SLIP may
//! double a frame full of its two special bytes; and a single delimiter value, which line
//! noise and an idle line's zero bytes resynchronise on. The decoder keeps no more than one
//! frame and never looks back: garbage costs at most the frame it lands in.
//!
//! [`Serial`] turns any [`ByteStream`] into [`Datagrams`]; [`CobsDecoder`] and [`encode`] are
//! the framing alone, for the host's side.

use crate::transport::Datagrams;
use crate::wire::MAX_FRAME;

/// The byte that ends every frame on the line (and that encoded frames never contain).
pub const DELIMITER: u8 = 0;

/// The most bytes a frame of `len` bytes takes on the line, its delimiter included.
pub const fn encoded_len(len: usize) -> usize {
    len + len / 254 + 2
}

/// The longest frame on the line: a [`MAX_FRAME`]-byte datagram encoded, and its delimiter.
pub const MAX_ENCODED: usize = encoded_len(MAX_FRAME);

/// A byte stream: a UART's receive and transmit registers, or anything with bytes in order.
pub trait ByteStream {
    /// The stream's error.
    type Error: core::fmt::Debug;

    /// The next byte received, `Ok(None)` when none is waiting.
    ///
    /// # Errors
    /// The stream's.
    fn read_byte(&mut self) -> Result<Option<u8>, Self::Error>;

    /// Sends `bytes`, in order.
    ///
    /// # Errors
    /// The stream's.
    fn write(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// Encodes `datagram` with COBS into `out`, followed by the delimiter; returns the bytes
/// written, or `None` if `out` is too small (it needs [`encoded_len`]).
pub fn encode(datagram: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut code_at = 0usize;
    let mut at = 1usize;
    let mut code = 1u8;
    for &b in datagram {
        if b == 0 {
            *out.get_mut(code_at)? = code;
            code_at = at;
            at += 1;
            code = 1;
        } else {
            *out.get_mut(at)? = b;
            at += 1;
            code += 1;
            if code == 0xff {
                *out.get_mut(code_at)? = code;
                code_at = at;
                at += 1;
                code = 1;
            }
        }
    }
    *out.get_mut(code_at)? = code;
    *out.get_mut(at)? = DELIMITER;
    Some(at + 1)
}

/// What [`CobsDecoder::push`] found at a delimiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'b> {
    /// A whole frame.
    Frame(&'b [u8]),
    /// A frame longer than the decoder's buffer: its bytes were discarded.
    TooLong,
    /// Bytes that are not a COBS encoding (a block cut short by the delimiter).
    Invalid,
}

/// A streaming COBS decoder with room for frames of up to `N` bytes. Bytes go in one at a
/// time; at each delimiter a frame (or why there is none) comes out. A frame too long is
/// discarded up to the next delimiter; the decoder never panics and never holds more than
/// `N` bytes.
#[derive(Clone, Debug)]
pub struct CobsDecoder<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Bytes left in the current block; 0: the next byte is a block's code.
    left: u8,
    /// The current block's code (0 before the first).
    code: u8,
    too_long: bool,
}

impl<const N: usize> Default for CobsDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> CobsDecoder<N> {
    /// A decoder between frames.
    pub const fn new() -> Self {
        CobsDecoder {
            buf: [0; N],
            len: 0,
            left: 0,
            code: 0,
            too_long: false,
        }
    }

    fn append(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) if !self.too_long => {
                *slot = b;
                self.len += 1;
            }
            _ => self.too_long = true,
        }
    }

    /// Takes one byte from the line; at a delimiter that ends a non-empty frame, returns it
    /// (valid until the next call). Empty frames (two delimiters in a row) give `None`.
    pub fn push(&mut self, b: u8) -> Option<Decoded<'_>> {
        if b == DELIMITER {
            let (len, left, code, too_long) = (self.len, self.left, self.code, self.too_long);
            self.len = 0;
            self.left = 0;
            self.code = 0;
            self.too_long = false;
            return if code == 0 {
                None
            } else if too_long {
                Some(Decoded::TooLong)
            } else if left != 0 {
                Some(Decoded::Invalid)
            } else {
                Some(Decoded::Frame(self.buf.get(..len).unwrap_or(&[])))
            };
        }
        if self.left == 0 {
            // A block's code: the block before it, unless it was a full one, ended with a zero.
            if self.code != 0 && self.code != 0xff {
                self.append(0);
            }
            self.code = b;
            self.left = b - 1;
        } else {
            self.append(b);
            self.left -= 1;
        }
        None
    }
}

/// Counts of what the line brought that was not a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineErrors {
    /// Frames longer than [`MAX_FRAME`], discarded.
    pub too_long: u32,
    /// Bytes between delimiters that are not a COBS encoding.
    pub invalid: u32,
}

/// The control channel's transport over a byte stream: [`Datagrams`] with COBS framing.
///
/// A frame that is too long or not COBS is handed to the device as a datagram it cannot
/// read (an empty one), which the device drops unanswered and counts, as it does garbage
/// over UDP. The peer is the line itself (`()`).
#[derive(Debug)]
pub struct Serial<S> {
    stream: S,
    decoder: CobsDecoder<MAX_FRAME>,
    errors: LineErrors,
}

impl<S: ByteStream> Serial<S> {
    /// The transport over `stream`.
    pub const fn new(stream: S) -> Self {
        Serial {
            stream,
            decoder: CobsDecoder::new(),
            errors: LineErrors {
                too_long: 0,
                invalid: 0,
            },
        }
    }

    /// What the line brought that was not a frame, since start.
    pub fn errors(&self) -> LineErrors {
        self.errors
    }

    /// The stream.
    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }
}

impl<S: ByteStream> Datagrams for Serial<S> {
    type Peer = ();
    type Error = S::Error;

    /// Reads bytes while they are waiting, up to the end of one frame.
    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<(usize, ())>, S::Error> {
        while let Some(b) = self.stream.read_byte()? {
            match self.decoder.push(b) {
                None => {}
                Some(Decoded::Frame(f)) => {
                    let n = f.len().min(buf.len());
                    if let (Some(to), Some(from)) = (buf.get_mut(..n), f.get(..n)) {
                        to.copy_from_slice(from);
                    }
                    return Ok(Some((f.len(), ())));
                }
                Some(Decoded::TooLong) => {
                    self.errors.too_long = self.errors.too_long.saturating_add(1);
                    return Ok(Some((0, ())));
                }
                Some(Decoded::Invalid) => {
                    self.errors.invalid = self.errors.invalid.saturating_add(1);
                    return Ok(Some((0, ())));
                }
            }
        }
        Ok(None)
    }

    /// Sends a delimiter (ending whatever noise the peer may hold), the frame and its
    /// delimiter.
    fn send(&mut self, bytes: &[u8], _: ()) -> Result<(), S::Error> {
        let mut out = [0u8; MAX_ENCODED + 1];
        let (first, rest) = out.split_at_mut(1);
        if let Some(slot) = first.first_mut() {
            *slot = DELIMITER;
        }
        // A datagram longer than a frame is not sent (the device never makes one).
        let Some(n) = encode(bytes, rest) else {
            return Ok(());
        };
        self.stream.write(out.get(..n + 1).unwrap_or(&[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Bytes in, bytes out, in memory.
    #[derive(Debug, Default)]
    struct Line {
        rx: Vec<u8>,
        at: usize,
        tx: Vec<u8>,
    }

    impl ByteStream for Line {
        type Error = core::convert::Infallible;
        fn read_byte(&mut self) -> Result<Option<u8>, Self::Error> {
            let b = self.rx.get(self.at).copied();
            self.at += usize::from(b.is_some());
            Ok(b)
        }
        fn write(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
            self.tx.extend_from_slice(bytes);
            Ok(())
        }
    }

    fn encoded(d: &[u8]) -> Vec<u8> {
        let mut out = std::vec![0u8; encoded_len(d.len())];
        let n = encode(d, &mut out).unwrap();
        out.truncate(n);
        out
    }

    fn decode_all<const N: usize>(line: &[u8]) -> Vec<Result<Vec<u8>, Decoded<'static>>> {
        let mut d = CobsDecoder::<N>::new();
        let mut out = Vec::new();
        for &b in line {
            match d.push(b) {
                Some(Decoded::Frame(f)) => out.push(Ok(f.to_vec())),
                Some(Decoded::TooLong) => out.push(Err(Decoded::TooLong)),
                Some(Decoded::Invalid) => out.push(Err(Decoded::Invalid)),
                None => {}
            }
        }
        out
    }

    #[test]
    fn known_encodings() {
        assert_eq!(encoded(&[0]), [1, 1, 0]);
        assert_eq!(encoded(&[0, 0]), [1, 1, 1, 0]);
        assert_eq!(encoded(&[0x11, 0x22, 0, 0x33]), [3, 0x11, 0x22, 2, 0x33, 0]);
        assert_eq!(encoded(&[0x11, 0, 0, 0]), [2, 0x11, 1, 1, 1, 0]);
        let run: Vec<u8> = (1..=254).collect();
        let e = encoded(&run);
        assert_eq!((e[0], e.len()), (0xff, 254 + 3));
        assert!(!e[..e.len() - 1].contains(&0));
    }

    #[test]
    fn frames_round_trip() {
        let mut x = 0x9e37_79b9_u32;
        for len in (0..600).chain([1399, 1400]) {
            let d: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    // Many zeros and many 0xff runs.
                    if x % 3 == 0 {
                        0
                    } else {
                        x as u8
                    }
                })
                .collect();
            let e = encoded(&d);
            assert!(e.len() <= encoded_len(len));
            assert_eq!(e.iter().filter(|&&b| b == 0).count(), 1);
            let got = decode_all::<MAX_FRAME>(&e);
            if len == 0 {
                assert_eq!(got, [Ok(Vec::new())]);
            } else {
                assert_eq!(got, [Ok(d)]);
            }
        }
    }

    #[test]
    fn garbage_then_frames_resynchronise() {
        let frame = b"NB\x01\x01frame";
        let mut line = std::vec![0x41, 0x42, 5, 7];
        line.push(0); // noise, ended by a delimiter: invalid (a block cut short)
        line.extend_from_slice(&encoded(frame));
        line.extend_from_slice(&[0, 0, 0]); // idle line
        line.extend_from_slice(&[3, 9]); // a frame cut off mid-block...
        line.extend_from_slice(&encoded(frame)); // ...swallows the next one's start
        line.extend_from_slice(&encoded(frame));
        let got = decode_all::<MAX_FRAME>(&line);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], Err(Decoded::Invalid));
        assert_eq!(got[1], Ok(frame.to_vec()));
        assert_ne!(got[2], Ok(frame.to_vec()));
        assert_eq!(got[3], Ok(frame.to_vec()));
    }

    #[test]
    fn overlong_frames_are_refused_and_the_next_one_decodes() {
        let long = std::vec![7u8; 40];
        let mut line = encoded(&long);
        line.extend_from_slice(&encoded(b"short"));
        assert_eq!(
            decode_all::<16>(&line),
            [Err(Decoded::TooLong), Ok(b"short".to_vec())]
        );
        // Unencoded bytes without a delimiter for a long time: bounded, then a frame.
        let mut line = std::vec![0x55u8; 100_000];
        line.push(0);
        line.extend_from_slice(&encoded(b"ok"));
        assert_eq!(
            decode_all::<16>(&line),
            [Err(Decoded::TooLong), Ok(b"ok".to_vec())]
        );
    }

    #[test]
    fn serial_carries_datagrams_both_ways() {
        let mut line = Line::default();
        line.rx.extend_from_slice(&[3, 1, 0]); // invalid: a block cut short
        line.rx.extend_from_slice(&encoded(&[9; MAX_FRAME + 1])); // too long
        line.rx.extend_from_slice(&encoded(b"\x00request\x00"));
        let mut s = Serial::new(line);
        let mut buf = [0u8; MAX_FRAME];
        assert_eq!(s.recv(&mut buf).unwrap(), Some((0, ())));
        assert_eq!(s.recv(&mut buf).unwrap(), Some((0, ())));
        assert_eq!(s.recv(&mut buf).unwrap(), Some((9, ())));
        assert_eq!(&buf[..9], b"\x00request\x00");
        assert_eq!(s.recv(&mut buf).unwrap(), None);
        assert_eq!(
            s.errors(),
            LineErrors {
                too_long: 1,
                invalid: 1
            }
        );
        s.send(b"answer\x00", ()).unwrap();
        let tx = core::mem::take(&mut s.stream().tx);
        assert_eq!(tx[0], DELIMITER);
        assert_eq!(
            decode_all::<MAX_FRAME>(&tx[1..]),
            [Ok(b"answer\x00".to_vec())]
        );
    }
}
