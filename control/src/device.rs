//! The device side: a state machine that answers one request datagram with one response,
//! over a caller-provided upload buffer and a [`Target`] (the slot, its arena and the
//! verifier's workspace).

use ed25519_dalek::{Signature, VerifyingKey};
use nanobpf_core::ProgramType;
use nanobpf_core::VerifierWorkspace;
use nanobpf_core::{LoadReport, ProgramSlot, RunningProgram, SlotError};
use nanobpf_core::{Map, MapArena, MapError};
use nanobpf_hal::Counters;

use crate::error::{Refusal, Status};
use crate::wire::{
    self, parse_frame, Auth, Frame, FrameError, Request, UploadHeader, Writer, MAX_FRAME,
    MAX_PAYLOAD, RESPONSE, SIGNATURE, UPLOAD_HEADER,
};

/// The longest key a lookup, write or dump handles.
pub const MAX_KEY: usize = 256;
/// The longest value a lookup, write or dump handles.
pub const MAX_VALUE: usize = 1024;

/// What the device side loads into and inspects: a program slot with its arena and verifier
/// workspace ([`SlotTarget`]), or a stand-in in tests.
pub trait Target {
    /// Loads program `name` of `object` as `version`, replacing the running one atomically.
    ///
    /// # Errors
    /// The slot's; the running program is unchanged.
    fn load(&mut self, object: &[u8], name: &str, version: u32) -> Result<LoadReport, SlotError>;

    /// Stops the running program and frees its maps.
    ///
    /// # Errors
    /// The slot's.
    fn unload(&mut self) -> Result<(), SlotError>;

    /// Runs `f` with the running program; `None` when none runs.
    fn inspect<R>(&self, f: impl FnOnce(&RunningProgram<'_, '_>) -> R) -> Option<R>;
}

/// A [`ProgramSlot`] with the arena its maps live in and the workspace its loads verify in.
#[derive(Debug)]
pub struct SlotTarget<
    's,
    'a,
    const INSNS: usize,
    const MAPS: usize,
    const PROGS: usize,
    const BLOCKS: usize,
    const I: usize,
    const S: usize,
    const B: usize,
> {
    /// The slot the data path runs.
    pub slot: &'s ProgramSlot<'a, INSNS, MAPS, PROGS>,
    /// The arena of the slot's maps.
    pub arena: &'s mut MapArena<'a, BLOCKS>,
    /// The verifier's workspace.
    pub ws: &'s mut VerifierWorkspace<I, S, B>,
}

impl<
        const INSNS: usize,
        const MAPS: usize,
        const PROGS: usize,
        const BLOCKS: usize,
        const I: usize,
        const S: usize,
        const B: usize,
    > Target for SlotTarget<'_, '_, INSNS, MAPS, PROGS, BLOCKS, I, S, B>
{
    fn load(&mut self, object: &[u8], name: &str, version: u32) -> Result<LoadReport, SlotError> {
        self.slot.load(self.arena, object, name, version, self.ws)
    }

    fn unload(&mut self) -> Result<(), SlotError> {
        self.slot.unload(self.arena)
    }

    fn inspect<R>(&self, f: impl FnOnce(&RunningProgram<'_, '_>) -> R) -> Option<R> {
        self.slot.inspect(|p| f(p))
    }
}

/// Why a public key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadKey;

impl core::fmt::Display for BadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("not an Ed25519 public key")
    }
}

impl core::error::Error for BadKey {}

/// The upload in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Receiving {
        header: UploadHeader,
        signature: [u8; SIGNATURE],
        received: u32,
    },
}

/// A refusal and, for a failed load, the slot's error (its text goes in the response).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fail {
    refusal: Refusal,
    cause: Option<SlotError>,
}

impl From<Status> for Fail {
    fn from(s: Status) -> Fail {
        Fail {
            refusal: Refusal::new(s),
            cause: None,
        }
    }
}

impl From<Refusal> for Fail {
    fn from(refusal: Refusal) -> Fail {
        Fail {
            refusal,
            cause: None,
        }
    }
}

/// The outcome of the last commit, as status reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastCommit {
    /// No commit since start.
    None,
    /// The program was replaced.
    Loaded(LoadReport),
    /// Refused (the slot's error, for a load or verifier failure).
    Refused(Refusal, Option<SlotError>),
}

/// The device side of the control channel; see `docs/control.md`.
///
/// `N` is the upload buffer's size: the header the signature covers (48 bytes) and the object,
/// so objects of up to `N - 48` bytes upload.
#[derive(Debug)]
pub struct Device<'u, T, const N: usize> {
    target: T,
    key: VerifyingKey,
    buf: &'u mut [u8; N],
    state: State,
    /// Versions at or below this are refused.
    floor: u32,
    /// Signed requests need a counter above this.
    counter: u64,
    last_commit: LastCommit,
    /// Datagrams dropped unanswered (not frames of this protocol).
    dropped: u32,
    /// Whether every request must be signed.
    signed_only: bool,
    /// The last answered request (sequence number, CRC) and its response.
    last: Option<(u32, u32, usize)>,
    cache: [u8; MAX_FRAME],
}

impl<'u, T: Target, const N: usize> Device<'u, T, N> {
    /// The device side over `target`, accepting uploads and signed requests from the holder
    /// of the private half of `public_key`, with `buf` to receive uploads in.
    ///
    /// # Errors
    /// [`BadKey`] when the 32 bytes are not a valid Ed25519 public key.
    pub fn new(target: T, public_key: &[u8; 32], buf: &'u mut [u8; N]) -> Result<Self, BadKey> {
        const {
            assert!(
                N > UPLOAD_HEADER,
                "the upload buffer holds the 48-byte header"
            )
        };
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| BadKey)?;
        Ok(Device {
            target,
            key,
            buf,
            state: State::Idle,
            floor: 0,
            counter: 0,
            last_commit: LastCommit::None,
            dropped: 0,
            signed_only: false,
            last: None,
            cache: [0; MAX_FRAME],
        })
    }

    /// Starts from a version floor and a counter kept across restarts (from the embedder's
    /// persistent storage): versions at or below `version` and counters at or below
    /// `counter` are refused. A device that keeps neither accepts, after a restart, any
    /// version above 0 once (see `docs/control.md`, "Replay").
    pub fn with_floor(mut self, version: u32, counter: u64) -> Self {
        self.floor = version;
        self.counter = counter;
        self
    }

    /// Takes signed requests only: status, map reads and every step of an upload must come in
    /// their signed form too (`docs/control.md`, "Signed forms"), so that no one without the
    /// key reads the maps or disturbs an upload; unsigned ones are refused with
    /// [`Status::Unsigned`].
    pub fn signed_only(mut self) -> Self {
        self.signed_only = true;
        self
    }

    /// The version floor and the counter now, for the embedder to persist.
    pub fn floor(&self) -> (u32, u64) {
        (self.floor, self.counter)
    }

    /// The outcome of the last commit.
    pub fn last_commit(&self) -> LastCommit {
        self.last_commit
    }

    /// The object bytes the upload buffer holds.
    pub const fn capacity() -> usize {
        N - UPLOAD_HEADER
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// Answers `request` into `out`: returns the response's length, or `None` for a datagram
    /// that is not a frame of this protocol (no magic, a length that disagrees), which is
    /// dropped unanswered and counted. `counters` are the runner's, for status.
    pub fn handle(&mut self, request: &[u8], out: &mut [u8], counters: &Counters) -> Option<usize> {
        let frame = match parse_frame(request) {
            Ok(f) => f,
            Err(FrameError::Malformed) => {
                self.dropped = self.dropped.saturating_add(1);
                return None;
            }
            Err(FrameError::Protocol) => {
                // The header is readable: answer in our version, which the sender can read.
                let seq = request.get(4..8).and_then(|b| b.try_into().ok());
                let kind = request.get(3).copied().unwrap_or(0);
                return reply(out, kind, u32::from_le_bytes(seq?), Status::Protocol.into());
            }
            Err(FrameError::Checksum { seq, kind }) => {
                return reply(out, kind, seq, Status::BadChecksum.into());
            }
        };
        if let Some((seq, crc, len)) = self.last {
            if seq == frame.seq && crc == frame.crc {
                // A retransmission: the same answer, the request not carried out twice.
                let cached = self.cache.get(..len)?;
                let dst = out.get_mut(..len)?;
                dst.copy_from_slice(cached);
                return Some(len);
            }
        }
        let mut body = [0u8; MAX_PAYLOAD];
        let outcome = {
            let (_, rest) = body.split_first_mut()?;
            let mut w = Writer::new(rest);
            match self.execute(&frame, &mut w, counters) {
                Ok(()) if !w.overflowed() => Ok(w.len()),
                Ok(()) => Err(Fail::from(Status::Malformed)),
                Err(f) => Err(f),
            }
        };
        let n = match outcome {
            Ok(len) => {
                *body.first_mut()? = Status::Ok as u8;
                wire::write_frame(out, frame.kind | RESPONSE, frame.seq, |w| {
                    w.put(body.get(..1 + len).unwrap_or(&[]));
                })?
            }
            Err(f) => reply(out, frame.kind, frame.seq, f)?,
        };
        if let (Some(cache), Some(bytes)) = (self.cache.get_mut(..n), out.get(..n)) {
            cache.copy_from_slice(bytes);
            self.last = Some((frame.seq, frame.crc, n));
        }
        Some(n)
    }

    fn execute(
        &mut self,
        frame: &Frame<'_>,
        w: &mut Writer<'_>,
        counters: &Counters,
    ) -> Result<(), Fail> {
        let inner;
        let frame = match wire::unwrap_signed(frame)? {
            Some((auth, base)) => {
                self.authenticate(frame, auth)?;
                inner = base;
                &inner
            }
            None => {
                let own = matches!(
                    wire::Kind::from_u8(frame.kind),
                    Some(wire::Kind::Update | wire::Kind::Delete | wire::Kind::Unload)
                );
                if self.signed_only && !own {
                    return Err(Status::Unsigned.into());
                }
                frame
            }
        };
        match Request::decode(frame)? {
            Request::Status => {
                self.status(w, counters);
                Ok(())
            }
            Request::Begin { header, signature } => self.begin(header, signature, w),
            Request::Chunk { offset, data } => self.chunk(offset, data, w),
            Request::Commit => self.commit(w),
            Request::MapInfo { index } => Ok(self
                .target
                .inspect(|p| -> Result<(), Status> {
                    let (name, pinned, map) =
                        p.maps().nth(usize::from(index)).ok_or(Status::NoSuchMap)?;
                    let d = map.def();
                    w.short(name.as_bytes());
                    w.u32(d.map_type as u32);
                    w.u32(d.key_size);
                    w.u32(d.value_size);
                    w.u32(d.max_entries);
                    w.u32(d.flags);
                    w.u8(u8::from(pinned));
                    Ok(())
                })
                .ok_or(Status::NoProgram)??),
            Request::Lookup { map, key } => self.with_map(map, |m| {
                let d = m.def();
                check_size(Status::KeySize, key.len(), d.key_size, MAX_KEY)?;
                let vs = fits(Status::ValueSize, d.value_size, MAX_VALUE)?;
                let mut value = [0u8; MAX_VALUE];
                let v = value.get_mut(..vs).ok_or(Status::ValueSize)?;
                m.lookup_copy(key, v).map_err(map_refusal)?;
                w.put(v);
                Ok(())
            }),
            Request::Dump { map, after } => self.with_map(map, |m| dump(m, after, w)),
            Request::Update {
                auth,
                flags,
                map,
                key,
                value,
            } => {
                self.authenticate(frame, auth)?;
                self.with_map(map, |m| {
                    let d = m.def();
                    check_size(Status::KeySize, key.len(), d.key_size, MAX_KEY)?;
                    check_size(Status::ValueSize, value.len(), d.value_size, MAX_VALUE)?;
                    m.update(key, value, flags).map_err(map_refusal)
                })
            }
            Request::Delete { auth, map, key } => {
                self.authenticate(frame, auth)?;
                self.with_map(map, |m| {
                    check_size(Status::KeySize, key.len(), m.def().key_size, MAX_KEY)?;
                    m.delete(key).map_err(map_refusal)
                })
            }
            Request::Unload { auth } => {
                self.authenticate(frame, auth)?;
                self.target.unload().map_err(slot_fail)
            }
        }
    }

    /// Checks a signed request's counter and signature; on success the counter is used up.
    fn authenticate(&mut self, frame: &Frame<'_>, auth: Auth) -> Result<(), Fail> {
        if auth.counter <= self.counter {
            return Err(Refusal::with(Status::Replay, self.counter as u32, 0).into());
        }
        let signed = wire::signed_bytes(frame).ok_or(Status::Malformed)?;
        self.key
            .verify_strict(signed, &Signature::from_bytes(&auth.signature))
            .map_err(|_| Status::BadSignature)?;
        self.counter = auth.counter;
        Ok(())
    }

    /// Runs `f` on the running program's map named `name`.
    fn with_map(
        &self,
        name: &[u8],
        f: impl FnOnce(&dyn Map) -> Result<(), Refusal>,
    ) -> Result<(), Fail> {
        let name = core::str::from_utf8(name).map_err(|_| Status::NoSuchMap)?;
        let r = self
            .target
            .inspect(|p| p.map(name).ok_or(Status::NoSuchMap.into()).and_then(f));
        Ok(r.ok_or(Status::NoProgram)??)
    }

    fn status(&self, w: &mut Writer<'_>, c: &Counters) {
        match self.state {
            State::Idle => {
                w.u8(0);
                w.u32(0);
                w.u32(0);
            }
            State::Receiving {
                header, received, ..
            } => {
                w.u8(1);
                w.u32(received);
                w.u32(header.size);
            }
        }
        w.u32(self.floor);
        w.u64(self.counter);
        w.u32(self.dropped);
        let running = self.target.inspect(|p| {
            w.u8(1);
            w.u32(p.version());
            w.u8(prog_type_code(p.prog_type()));
            w.u8(u8::try_from(p.programs()).unwrap_or(u8::MAX));
            w.u8(u8::try_from(p.maps().count()).unwrap_or(u8::MAX));
            w.short(p.name().as_bytes());
        });
        if running.is_none() {
            w.put(&[0, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
        for v in [
            c.aborted,
            c.drop,
            c.pass,
            c.tx,
            c.tx_full,
            c.redirect,
            c.redirect_failed,
            c.traps,
            c.invalid,
        ] {
            w.u64(v);
        }
        match self.last_commit {
            LastCommit::None => {
                w.u8(0xff);
                w.put(&[0; 8]);
                w.u8(0);
            }
            LastCommit::Loaded(r) => {
                w.u8(Status::Ok as u8);
                w.u32(u32::try_from(r.insns).unwrap_or(u32::MAX));
                w.u32(u32::try_from(r.maps).unwrap_or(u32::MAX));
                w.u8(0);
            }
            LastCommit::Refused(r, cause) => {
                w.u8(r.status as u8);
                w.u32(r.a);
                w.u32(r.b);
                write_message(w, r.status, cause);
            }
        }
    }

    fn begin(
        &mut self,
        header: UploadHeader,
        signature: [u8; SIGNATURE],
        w: &mut Writer<'_>,
    ) -> Result<(), Fail> {
        // A new upload abandons the one in progress, whatever this one's fate.
        self.state = State::Idle;
        header.name().ok_or(Status::BadName)?;
        if header.version <= self.floor {
            return Err(Refusal::with(Status::Rollback, self.floor, header.version).into());
        }
        let cap = Self::capacity();
        if header.size as usize > cap {
            let cap = u32::try_from(cap).unwrap_or(u32::MAX);
            return Err(Refusal::with(Status::TooBig, header.size, cap).into());
        }
        if let Some(h) = self.buf.get_mut(..UPLOAD_HEADER) {
            h.copy_from_slice(&header.to_bytes());
        }
        self.state = State::Receiving {
            header,
            signature,
            received: 0,
        };
        w.u32(0);
        w.u32(u32::try_from(cap).unwrap_or(u32::MAX));
        Ok(())
    }

    fn chunk(&mut self, offset: u32, data: &[u8], w: &mut Writer<'_>) -> Result<(), Fail> {
        let State::Receiving {
            header,
            ref mut received,
            ..
        } = self.state
        else {
            return Err(Status::NoUpload.into());
        };
        let end = u32::try_from(data.len())
            .ok()
            .and_then(|n| offset.checked_add(n))
            .filter(|&end| offset == *received && end <= header.size)
            .ok_or(Refusal::with(Status::BadOffset, *received, offset))?;
        let at = UPLOAD_HEADER + offset as usize;
        let dst = self.buf.get_mut(at..at + data.len()).ok_or(Refusal::with(
            Status::BadOffset,
            *received,
            offset,
        ))?;
        dst.copy_from_slice(data);
        *received = end;
        w.u32(end);
        Ok(())
    }

    fn commit(&mut self, w: &mut Writer<'_>) -> Result<(), Fail> {
        let State::Receiving {
            header,
            signature,
            received,
        } = self.state
        else {
            return Err(Status::NoUpload.into());
        };
        if received != header.size {
            return Err(Refusal::with(Status::Incomplete, received, header.size).into());
        }
        // From here the upload ends, whatever the outcome.
        self.state = State::Idle;
        let outcome = self.commit_checked(header, signature);
        self.last_commit = match outcome {
            Ok(r) => LastCommit::Loaded(r),
            Err(f) => LastCommit::Refused(f.refusal, f.cause),
        };
        let r = outcome?;
        w.u8(u8::try_from(r.programs).unwrap_or(u8::MAX));
        w.u32(u32::try_from(r.insns).unwrap_or(u32::MAX));
        w.u8(u8::try_from(r.maps).unwrap_or(u8::MAX));
        w.u8(u8::try_from(r.carried).unwrap_or(u8::MAX));
        w.u8(u8::from(r.replaced));
        Ok(())
    }

    fn commit_checked(
        &mut self,
        header: UploadHeader,
        signature: [u8; SIGNATURE],
    ) -> Result<LoadReport, Fail> {
        let len = UPLOAD_HEADER + header.size as usize;
        let signed = self.buf.get(..len).ok_or(Status::TooBig)?;
        self.key
            .verify_strict(signed, &Signature::from_bytes(&signature))
            .map_err(|_| Status::BadSignature)?;
        if header.version <= self.floor {
            return Err(Refusal::with(Status::Rollback, self.floor, header.version).into());
        }
        let name = header.name().ok_or(Status::BadName)?;
        let object = signed.get(UPLOAD_HEADER..).ok_or(Status::TooBig)?;
        let report = self
            .target
            .load(object, name, header.version)
            .map_err(slot_fail)?;
        self.floor = header.version;
        Ok(report)
    }
}

/// The code status reports for a program type.
fn prog_type_code(t: ProgramType) -> u8 {
    match t {
        ProgramType::Memory { .. } => 0,
        ProgramType::Xdp => 1,
        ProgramType::SocketFilter => 2,
        ProgramType::Tc => 3,
    }
}

/// A map's entries after `after`, as many as fit: key size u16, value size u16, whether more
/// follow (u8), then keys and values.
fn dump(m: &dyn Map, after: &[u8], w: &mut Writer<'_>) -> Result<(), Refusal> {
    let d = m.def();
    let ks = fits(Status::KeySize, d.key_size, MAX_KEY)?;
    let vs = fits(Status::ValueSize, d.value_size, MAX_VALUE)?;
    if !after.is_empty() {
        check_size(Status::KeySize, after.len(), d.key_size, MAX_KEY)?;
    }
    w.u16(ks as u16);
    w.u16(vs as u16);
    let (mut prev, mut next, mut value) = ([0u8; MAX_KEY], [0u8; MAX_KEY], [0u8; MAX_VALUE]);
    let (Some(p), Some(n), Some(v)) = (prev.get_mut(..ks), next.get_mut(..ks), value.get_mut(..vs))
    else {
        return Err(Refusal::new(Status::KeySize));
    };
    let mut have = !after.is_empty();
    if have {
        p.copy_from_slice(after);
    }
    // One byte for "more"; entries after it.
    let room = w.remaining().saturating_sub(1);
    let per = ks + vs;
    let mut more = false;
    let mut entries = 0usize;
    let mut out = [0u8; MAX_PAYLOAD];
    let mut at = 0;
    // Bounded by the map's capacity (iteration ends within it) and the room.
    for _ in 0..=d.max_entries {
        if m.next_key(have.then_some(&p[..]), n).is_err() {
            break;
        }
        if (entries + 1) * per > room {
            more = true;
            break;
        }
        if m.lookup_copy(n, v).is_ok() {
            if let Some(dst) = out.get_mut(at..at + per) {
                dst.get_mut(..ks).unwrap_or(&mut []).copy_from_slice(n);
                dst.get_mut(ks..).unwrap_or(&mut []).copy_from_slice(v);
                at += per;
                entries += 1;
            }
        }
        p.copy_from_slice(n);
        have = true;
    }
    w.u8(u8::from(more));
    w.put(out.get(..at).unwrap_or(&[]));
    Ok(())
}

/// `size` as a buffer length, if at most `max`.
fn fits(status: Status, size: u32, max: usize) -> Result<usize, Refusal> {
    let s = size as usize;
    if s > max {
        return Err(Refusal::with(status, size, max as u32));
    }
    Ok(s)
}

/// Refuses a `given` length other than the map's `want` (or over `max`).
fn check_size(status: Status, given: usize, want: u32, max: usize) -> Result<(), Refusal> {
    if given != want as usize || given > max {
        return Err(Refusal::with(
            status,
            u32::try_from(given).unwrap_or(u32::MAX),
            want,
        ));
    }
    Ok(())
}

fn map_refusal(e: MapError) -> Refusal {
    match e {
        MapError::NotFound => Refusal::new(Status::NotFound),
        e => Refusal::with(Status::Map, e.errno().unsigned_abs() as u32, 0),
    }
}

fn slot_fail(e: SlotError) -> Fail {
    let refusal = match e {
        SlotError::Verify { program, error } => Refusal::with(
            Status::Verify,
            u32::from(program),
            u32::try_from(error.pc).unwrap_or(u32::MAX),
        ),
        SlotError::Busy => Refusal::new(Status::Busy),
        SlotError::Empty => Refusal::new(Status::NoProgram),
        SlotError::Maps(a) => Refusal::with(Status::Load, a.map, 0),
        _ => Refusal::new(Status::Load),
    };
    Fail {
        refusal,
        cause: Some(e),
    }
}

/// The message of an error: the slot's error's text, else the status's.
fn write_message(w: &mut Writer<'_>, status: Status, cause: Option<SlotError>) {
    use core::fmt::Write;
    let mut msg = [0u8; 160];
    let len = {
        let mut m = Writer::new(&mut msg);
        let _ = match cause {
            Some(e) => write!(m, "{e}"),
            None => m.write_str(status.text()),
        };
        m.len()
    };
    w.short(msg.get(..len).unwrap_or(&[]));
}

/// Writes an error response for `f`: status, two detail numbers, message.
fn reply(out: &mut [u8], kind: u8, seq: u32, f: Fail) -> Option<usize> {
    wire::write_frame(out, kind | RESPONSE, seq, |w| {
        w.u8(f.refusal.status as u8);
        w.u32(f.refusal.a);
        w.u32(f.refusal.b);
        write_message(w, f.refusal.status, f.cause);
    })
}
