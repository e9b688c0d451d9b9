//! The wire format: frames, requests and responses, encoded and decoded in place (no
//! allocation). `docs/control.md` specifies the same layouts byte by byte.
//!
//! A frame is `magic "NB"`, protocol version, kind, sequence number (u32), payload length
//! (u16), payload, and a CRC-32 of everything before it; all integers little-endian.

use crate::error::Status;

/// The first two bytes of every frame.
pub const MAGIC: [u8; 2] = *b"NB";
/// The protocol version this crate speaks.
pub const PROTOCOL: u8 = 1;
/// Bytes before the payload.
pub const HEADER: usize = 10;
/// Bytes after the payload (the CRC-32).
pub const TRAILER: usize = 4;
/// The largest frame either side sends or accepts (fits one Ethernet frame over UDP/IPv4).
pub const MAX_FRAME: usize = 1400;
/// The largest payload.
pub const MAX_PAYLOAD: usize = MAX_FRAME - HEADER - TRAILER;
/// The most object bytes one chunk carries.
pub const MAX_CHUNK: usize = 1024;
/// Bytes of an Ed25519 signature.
pub const SIGNATURE: usize = 64;
/// The most bytes of a program or map name.
pub const MAX_NAME: usize = nanobpf_core::SLOT_NAME_LEN;
/// Bit set in a response's kind.
pub const RESPONSE: u8 = 0x80;
/// Bit set in the kind of a request's signed form (see [`unwrap_signed`]).
pub const SIGNED: u8 = 0x40;
/// Bytes of the signed upload header ([`UploadHeader`]).
pub const UPLOAD_HEADER: usize = 48;
/// The first 8 bytes of the signed upload header.
pub const UPLOAD_MAGIC: [u8; 8] = *b"nbpfobj1";

/// A request's kind (the frame's kind byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The running program, the upload in progress, the last commit, the counters.
    Status = 0x01,
    /// Starts an upload.
    Begin = 0x02,
    /// Object bytes at an offset.
    Chunk = 0x03,
    /// Checks the upload and replaces the running program.
    Commit = 0x04,
    /// A map's name and definition, by index.
    MapInfo = 0x05,
    /// A map's value for a key.
    Lookup = 0x06,
    /// A map's entries after a key.
    Dump = 0x07,
    /// Writes a map entry (signed).
    Update = 0x08,
    /// Deletes a map entry (signed).
    Delete = 0x09,
    /// Stops the running program (signed).
    Unload = 0x0a,
}

impl Kind {
    /// The kind of byte `b`, if it is a request's.
    pub const fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0x01 => Kind::Status,
            0x02 => Kind::Begin,
            0x03 => Kind::Chunk,
            0x04 => Kind::Commit,
            0x05 => Kind::MapInfo,
            0x06 => Kind::Lookup,
            0x07 => Kind::Dump,
            0x08 => Kind::Update,
            0x09 => Kind::Delete,
            0x0a => Kind::Unload,
            _ => return None,
        })
    }
}

/// CRC-32 (IEEE 802.3, reflected, the one of Ethernet and zlib) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

/// A frame read from a datagram: its header fields and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'b> {
    /// The kind byte (a request's [`Kind`], or with [`RESPONSE`] set, a response's).
    pub kind: u8,
    /// The sequence number.
    pub seq: u32,
    /// The payload.
    pub payload: &'b [u8],
    /// The whole frame less its CRC (what a request's signature covers, less the signature).
    pub body: &'b [u8],
    /// The CRC-32 the frame carries.
    pub crc: u32,
}

/// Why a datagram is not a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than a header and a trailer, longer than [`MAX_FRAME`], the wrong magic, or a
    /// length that disagrees with the datagram's.
    Malformed,
    /// Another protocol version.
    Protocol,
    /// The CRC does not match (the sequence number, if readable, is inside).
    Checksum {
        /// The sequence number as received.
        seq: u32,
        /// The kind byte as received.
        kind: u8,
    },
}

/// Reads one frame.
///
/// # Errors
/// See [`FrameError`].
pub fn parse_frame(datagram: &[u8]) -> Result<Frame<'_>, FrameError> {
    if datagram.len() < HEADER + TRAILER || datagram.len() > MAX_FRAME {
        return Err(FrameError::Malformed);
    }
    let mut r = Reader::new(datagram);
    if r.bytes(2) != Some(&MAGIC[..]) {
        return Err(FrameError::Malformed);
    }
    let proto = r.u8().ok_or(FrameError::Malformed)?;
    let kind = r.u8().ok_or(FrameError::Malformed)?;
    let seq = r.u32().ok_or(FrameError::Malformed)?;
    let len = usize::from(r.u16().ok_or(FrameError::Malformed)?);
    if HEADER + len + TRAILER != datagram.len() {
        return Err(FrameError::Malformed);
    }
    let payload = r.bytes(len).ok_or(FrameError::Malformed)?;
    let crc = r.u32().ok_or(FrameError::Malformed)?;
    let body = datagram.get(..HEADER + len).ok_or(FrameError::Malformed)?;
    if crc32(body) != crc {
        return Err(FrameError::Checksum { seq, kind });
    }
    if proto != PROTOCOL {
        return Err(FrameError::Protocol);
    }
    Ok(Frame {
        kind,
        seq,
        payload,
        body,
        crc,
    })
}

/// A little-endian reader over untrusted bytes: every read checks the length.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'b> {
    rest: &'b [u8],
}

impl<'b> Reader<'b> {
    /// A reader at the start of `bytes`.
    pub const fn new(bytes: &'b [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'b [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Some(a)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N).and_then(|b| b.try_into().ok())
    }

    /// A byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A length byte and that many bytes.
    pub fn short(&mut self) -> Option<&'b [u8]> {
        let n = self.u8()?;
        self.bytes(usize::from(n))
    }

    /// A little-endian u16 length and that many bytes.
    pub fn long(&mut self) -> Option<&'b [u8]> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'b [u8] {
        core::mem::take(&mut self.rest)
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// A little-endian writer into a caller's buffer; a write past its end sets an overflow flag
/// instead of panicking.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
    overflow: bool,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// Appends `bytes` (nothing, and the overflow flag, if they do not fit).
    pub fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) if !self.overflow => {
                dst.copy_from_slice(bytes);
                self.len = end;
            }
            _ => self.overflow = true,
        }
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    /// Appends a little-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }

    /// Appends a little-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    /// Appends a little-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }

    /// Appends a length byte and `bytes` (overflow if longer than 255).
    pub fn short(&mut self, bytes: &[u8]) {
        match u8::try_from(bytes.len()) {
            Ok(n) => {
                self.u8(n);
                self.put(bytes);
            }
            Err(_) => self.overflow = true,
        }
    }

    /// Appends a u16 length and `bytes` (overflow if longer than 65,535).
    pub fn long(&mut self, bytes: &[u8]) {
        match u16::try_from(bytes.len()) {
            Ok(n) => {
                self.u16(n);
                self.put(bytes);
            }
            Err(_) => self.overflow = true,
        }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a write did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The bytes written.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Space left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }
}

impl core::fmt::Write for Writer<'_> {
    /// Writes as much of `s` as fits, cut at a character boundary; never fails, so a long
    /// message is truncated rather than lost.
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.remaining();
        let mut cut = s.len().min(room);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.put(s.as_bytes().get(..cut).unwrap_or(&[]));
        Ok(())
    }
}

/// Writes a frame of `kind` and `seq` into `out`, its payload written by `payload`; returns
/// the frame's length, or `None` if it does not fit `out` or [`MAX_FRAME`].
pub fn write_frame(
    out: &mut [u8],
    kind: u8,
    seq: u32,
    payload: impl FnOnce(&mut Writer<'_>),
) -> Option<usize> {
    let cap = out.len().min(MAX_FRAME);
    let out = out.get_mut(..cap)?;
    let (head, rest) = out.split_at_mut_checked(HEADER)?;
    let room = rest.len().checked_sub(TRAILER)?;
    let len = {
        let mut w = Writer::new(rest.get_mut(..room)?);
        payload(&mut w);
        if w.overflowed() {
            return None;
        }
        w.len()
    };
    let mut h = Writer::new(head);
    h.put(&MAGIC);
    h.u8(PROTOCOL);
    h.u8(kind);
    h.u32(seq);
    h.u16(u16::try_from(len).ok()?);
    let crc = crc32(out.get(..HEADER + len)?);
    out.get_mut(HEADER + len..HEADER + len + TRAILER)?
        .copy_from_slice(&crc.to_le_bytes());
    Some(HEADER + len + TRAILER)
}

/// The header an upload's signature covers together with the object: it binds the object's
/// size, the program name and the version to the signature.
///
/// Layout (48 bytes): `"nbpfobj1"`, version u32, size u32, name (32 bytes, zero-padded).
/// The signed message is these 48 bytes followed by the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadHeader {
    /// The version; each commit must be newer than the running program's.
    pub version: u32,
    /// The object's size in bytes.
    pub size: u32,
    /// The program's name in the object, zero-padded.
    pub name: [u8; MAX_NAME],
}

impl UploadHeader {
    /// The header for program `name` (at most [`MAX_NAME`] bytes) of an object of `size`
    /// bytes at `version`; `None` for a longer name.
    pub fn new(name: &str, size: u32, version: u32) -> Option<UploadHeader> {
        let mut n = [0; MAX_NAME];
        n.get_mut(..name.len())?.copy_from_slice(name.as_bytes());
        Some(UploadHeader {
            version,
            size,
            name: n,
        })
    }

    /// The 48 bytes.
    pub fn to_bytes(&self) -> [u8; UPLOAD_HEADER] {
        let mut b = [0; UPLOAD_HEADER];
        let mut w = Writer::new(&mut b);
        w.put(&UPLOAD_MAGIC);
        w.u32(self.version);
        w.u32(self.size);
        w.put(&self.name);
        b
    }

    /// The header of 48 bytes `b`; `None` with another magic.
    pub fn from_bytes(b: &[u8]) -> Option<UploadHeader> {
        let mut r = Reader::new(b);
        if r.bytes(8)? != UPLOAD_MAGIC {
            return None;
        }
        Some(UploadHeader {
            version: r.u32()?,
            size: r.u32()?,
            name: r.array()?,
        })
    }

    /// The name, up to its first zero byte; `None` if it is not UTF-8 or empty.
    pub fn name(&self) -> Option<&str> {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(MAX_NAME);
        let s = core::str::from_utf8(self.name.get(..end)?).ok()?;
        (!s.is_empty()).then_some(s)
    }
}

/// Authentication of a map write or an unload: a counter that must exceed every counter the
/// device accepted before, and an Ed25519 signature over the frame up to the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Auth {
    /// The counter.
    pub counter: u64,
    /// The signature over the bytes [`signed_bytes`] returns for the request.
    pub signature: [u8; SIGNATURE],
}

/// A decoded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'b> {
    /// See [`Kind::Status`].
    Status,
    /// See [`Kind::Begin`].
    Begin {
        /// The header the signature covers.
        header: UploadHeader,
        /// The signature over the header and the object.
        signature: [u8; SIGNATURE],
    },
    /// See [`Kind::Chunk`].
    Chunk {
        /// Where the bytes go in the object.
        offset: u32,
        /// The bytes.
        data: &'b [u8],
    },
    /// See [`Kind::Commit`].
    Commit,
    /// See [`Kind::MapInfo`].
    MapInfo {
        /// The map's index (the loader's order).
        index: u8,
    },
    /// See [`Kind::Lookup`].
    Lookup {
        /// The map's name.
        map: &'b [u8],
        /// The key.
        key: &'b [u8],
    },
    /// See [`Kind::Dump`].
    Dump {
        /// The map's name.
        map: &'b [u8],
        /// Entries after this key; empty: from the first.
        after: &'b [u8],
    },
    /// See [`Kind::Update`].
    Update {
        /// The counter and signature.
        auth: Auth,
        /// `BPF_ANY` (0), `BPF_NOEXIST` (1) or `BPF_EXIST` (2).
        flags: u64,
        /// The map's name.
        map: &'b [u8],
        /// The key.
        key: &'b [u8],
        /// The value.
        value: &'b [u8],
    },
    /// See [`Kind::Delete`].
    Delete {
        /// The counter and signature.
        auth: Auth,
        /// The map's name.
        map: &'b [u8],
        /// The key.
        key: &'b [u8],
    },
    /// See [`Kind::Unload`].
    Unload {
        /// The counter and signature.
        auth: Auth,
    },
}

impl<'b> Request<'b> {
    /// Decodes the request of `frame`.
    ///
    /// # Errors
    /// [`Status::UnknownCommand`] for a kind that is no request's; [`Status::Malformed`] for
    /// a payload that does not match its kind's layout (too short, or bytes left over).
    pub fn decode(frame: &Frame<'b>) -> Result<Request<'b>, Status> {
        let kind = Kind::from_u8(frame.kind).ok_or(Status::UnknownCommand)?;
        let mut r = Reader::new(frame.payload);
        let bad = Status::Malformed;
        let req = match kind {
            Kind::Status => Request::Status,
            Kind::Commit => Request::Commit,
            Kind::Begin => {
                let header =
                    UploadHeader::from_bytes(r.bytes(UPLOAD_HEADER).ok_or(bad)?).ok_or(bad)?;
                Request::Begin {
                    header,
                    signature: r.array().ok_or(bad)?,
                }
            }
            Kind::Chunk => Request::Chunk {
                offset: r.u32().ok_or(bad)?,
                data: r.rest(),
            },
            Kind::MapInfo => Request::MapInfo {
                index: r.u8().ok_or(bad)?,
            },
            Kind::Lookup => Request::Lookup {
                map: r.short().ok_or(bad)?,
                key: r.rest(),
            },
            Kind::Dump => Request::Dump {
                map: r.short().ok_or(bad)?,
                after: r.rest(),
            },
            Kind::Update | Kind::Delete | Kind::Unload => {
                let signed_len = frame.payload.len().checked_sub(SIGNATURE).ok_or(bad)?;
                let sig = frame.payload.get(signed_len..).ok_or(bad)?;
                let signature: [u8; SIGNATURE] = sig.try_into().map_err(|_| bad)?;
                let mut r = Reader::new(frame.payload.get(..signed_len).ok_or(bad)?);
                let counter = r.u64().ok_or(bad)?;
                let auth = Auth { counter, signature };
                let req = match kind {
                    Kind::Update => Request::Update {
                        auth,
                        flags: r.u64().ok_or(bad)?,
                        map: r.short().ok_or(bad)?,
                        key: r.long().ok_or(bad)?,
                        value: r.long().ok_or(bad)?,
                    },
                    Kind::Delete => Request::Delete {
                        auth,
                        map: r.short().ok_or(bad)?,
                        key: r.long().ok_or(bad)?,
                    },
                    _ => Request::Unload { auth },
                };
                if !r.is_empty() {
                    return Err(bad);
                }
                return Ok(req);
            }
        };
        if !r.is_empty() {
            return Err(bad);
        }
        Ok(req)
    }

    /// The request's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Request::Status => Kind::Status,
            Request::Begin { .. } => Kind::Begin,
            Request::Chunk { .. } => Kind::Chunk,
            Request::Commit => Kind::Commit,
            Request::MapInfo { .. } => Kind::MapInfo,
            Request::Lookup { .. } => Kind::Lookup,
            Request::Dump { .. } => Kind::Dump,
            Request::Update { .. } => Kind::Update,
            Request::Delete { .. } => Kind::Delete,
            Request::Unload { .. } => Kind::Unload,
        }
    }

    /// Writes the request's payload; for a signed request (update, delete, unload) the
    /// signature is written as given (see [`Request::encode_signed`]).
    pub fn write_payload(&self, w: &mut Writer<'_>) {
        match *self {
            Request::Status | Request::Commit => {}
            Request::Begin { header, signature } => {
                w.put(&header.to_bytes());
                w.put(&signature);
            }
            Request::Chunk { offset, data } => {
                w.u32(offset);
                w.put(data);
            }
            Request::MapInfo { index } => w.u8(index),
            Request::Lookup { map, key } => {
                w.short(map);
                w.put(key);
            }
            Request::Dump { map, after } => {
                w.short(map);
                w.put(after);
            }
            Request::Update {
                auth,
                flags,
                map,
                key,
                value,
            } => {
                w.u64(auth.counter);
                w.u64(flags);
                w.short(map);
                w.long(key);
                w.long(value);
                w.put(&auth.signature);
            }
            Request::Delete { auth, map, key } => {
                w.u64(auth.counter);
                w.short(map);
                w.long(key);
                w.put(&auth.signature);
            }
            Request::Unload { auth } => {
                w.u64(auth.counter);
                w.put(&auth.signature);
            }
        }
    }

    /// Encodes the request as a frame with sequence number `seq` into `out`; returns its
    /// length, or `None` if it does not fit.
    pub fn encode(&self, seq: u32, out: &mut [u8]) -> Option<usize> {
        write_frame(out, self.kind() as u8, seq, |w| self.write_payload(w))
    }

    /// Encodes the signed form of a request that has no signature of its own (see
    /// [`unwrap_signed`]) with `counter`, signed by `sign`; returns the frame's length.
    pub fn encode_wrapped(
        &self,
        seq: u32,
        counter: u64,
        out: &mut [u8],
        sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE],
    ) -> Option<usize> {
        let n = write_frame(out, self.kind() as u8 | SIGNED, seq, |w| {
            w.u64(counter);
            self.write_payload(w);
            w.put(&[0; SIGNATURE]);
        })?;
        let sig_at = n.checked_sub(TRAILER + SIGNATURE)?;
        let signature = sign(out.get(..sig_at)?);
        out.get_mut(sig_at..sig_at + SIGNATURE)?
            .copy_from_slice(&signature);
        let crc = crc32(out.get(..n - TRAILER)?);
        out.get_mut(n - TRAILER..n)?
            .copy_from_slice(&crc.to_le_bytes());
        Some(n)
    }

    /// Encodes a signed request: encodes it with a zero signature, calls `sign` with the
    /// bytes the signature covers (the frame up to the signature), writes the signature it
    /// returns, and recomputes the CRC. Returns the frame's length.
    pub fn encode_signed(
        &self,
        seq: u32,
        out: &mut [u8],
        sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE],
    ) -> Option<usize> {
        let n = self.encode(seq, out)?;
        let sig_at = n.checked_sub(TRAILER + SIGNATURE)?;
        let signature = sign(out.get(..sig_at)?);
        out.get_mut(sig_at..sig_at + SIGNATURE)?
            .copy_from_slice(&signature);
        let crc = crc32(out.get(..n - TRAILER)?);
        out.get_mut(n - TRAILER..n)?
            .copy_from_slice(&crc.to_le_bytes());
        Some(n)
    }
}

/// The signed form of a request that has no signature of its own (all but update, delete
/// and unload): kind `base | SIGNED`, payload = counter (u64), the base request's payload,
/// signature (64 bytes) over the frame up to the signature. Returns the counter and
/// signature and the base request as a frame of its own; `None` for a frame of a base kind.
///
/// # Errors
/// [`Status::UnknownCommand`] for the signed form of a kind that has none;
/// [`Status::Malformed`] for a payload too short for a counter and a signature.
pub fn unwrap_signed<'b>(frame: &Frame<'b>) -> Result<Option<(Auth, Frame<'b>)>, Status> {
    if frame.kind & SIGNED == 0 {
        return Ok(None);
    }
    let base = Kind::from_u8(frame.kind & !SIGNED).ok_or(Status::UnknownCommand)?;
    if matches!(base, Kind::Update | Kind::Delete | Kind::Unload) {
        return Err(Status::UnknownCommand);
    }
    let p = frame.payload;
    let inner_len = p
        .len()
        .checked_sub(8 + SIGNATURE)
        .ok_or(Status::Malformed)?;
    let mut r = Reader::new(p);
    let counter = r.u64().ok_or(Status::Malformed)?;
    let payload = r.bytes(inner_len).ok_or(Status::Malformed)?;
    let signature = r.array().ok_or(Status::Malformed)?;
    let inner = Frame {
        kind: base as u8,
        payload,
        ..*frame
    };
    Ok(Some((Auth { counter, signature }, inner)))
}

/// The bytes a signed request's signature covers: the frame's header and payload up to the
/// signature.
pub fn signed_bytes<'b>(frame: &Frame<'b>) -> Option<&'b [u8]> {
    let n = frame.body.len().checked_sub(SIGNATURE)?;
    frame.body.get(..n)
}

/// A response read by the host: its status and the rest of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'b> {
    /// The request's kind.
    pub kind: Kind,
    /// The request's sequence number.
    pub seq: u32,
    /// The status code (0: ok; see [`Status`]).
    pub status: u8,
    /// The body after the status.
    pub body: &'b [u8],
}

impl<'b> Response<'b> {
    /// Reads a response frame.
    ///
    /// # Errors
    /// The frame's error, or [`FrameError::Malformed`] for a frame that is not a response.
    pub fn parse(datagram: &'b [u8]) -> Result<Response<'b>, FrameError> {
        let f = parse_frame(datagram)?;
        if f.kind & RESPONSE == 0 {
            return Err(FrameError::Malformed);
        }
        let kind = Kind::from_u8(f.kind & !(RESPONSE | SIGNED)).ok_or(FrameError::Malformed)?;
        let (&status, body) = f.payload.split_first().ok_or(FrameError::Malformed)?;
        Ok(Response {
            kind,
            seq: f.seq,
            status,
            body,
        })
    }

    /// For an error response: the error's two numbers and its message.
    pub fn error_detail(&self) -> Option<(u32, u32, &'b str)> {
        let mut r = Reader::new(self.body);
        let a = r.u32()?;
        let b = r.u32()?;
        let msg = core::str::from_utf8(r.short()?).ok()?;
        Some((a, b, msg))
    }
}
