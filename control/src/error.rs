//! Status codes: every outcome of a request, as the one byte a response starts with.

/// A request's outcome. `Ok` is 0; every other value says why a request was refused, and the
/// device's state (the running program, its maps, the upload in progress unless said
/// otherwise) is unchanged by a refused request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// Done.
    Ok = 0,
    /// The frame or its payload does not have the layout its kind requires.
    Malformed = 1,
    /// The frame's CRC does not match its bytes.
    BadChecksum = 2,
    /// The kind byte names no request.
    UnknownCommand = 3,
    /// Another protocol version.
    Protocol = 4,
    /// A chunk or commit with no upload in progress (none begun, or the last one ended).
    NoUpload = 5,
    /// The object is larger than the device's upload buffer (detail: its size, the buffer's).
    TooBig = 6,
    /// A chunk not at the next expected offset, or past the announced size (detail: the
    /// offset expected).
    BadOffset = 7,
    /// A commit before every byte arrived (detail: bytes received, bytes announced).
    Incomplete = 8,
    /// The signature does not verify with the device's key. For an upload, the upload ends.
    BadSignature = 9,
    /// The version is not newer than the running program's (detail: the running version).
    Rollback = 10,
    /// The slot refused the object: it does not parse, has no such program, or its maps do
    /// not fit the arena (detail and message say which).
    Load = 11,
    /// The verifier rejected a program (detail: program index, instruction index; message:
    /// the verifier's).
    Verify = 12,
    /// No program is running.
    NoProgram = 13,
    /// The running program has no map of that name (or index).
    NoSuchMap = 14,
    /// The key is not the map's key size (detail: the size given, the map's).
    KeySize = 15,
    /// The value is not the map's value size (detail: the size given, the map's).
    ValueSize = 16,
    /// No such key.
    NotFound = 17,
    /// The map refused the operation (detail: the Linux errno, negated).
    Map = 18,
    /// A signed request's counter is not above the last accepted one (detail: the last
    /// accepted counter's low 32 bits).
    Replay = 19,
    /// Another load is in progress.
    Busy = 20,
    /// The announced name is empty or not UTF-8.
    BadName = 21,
    /// The device takes signed requests only, and this one is not signed.
    Unsigned = 22,
}

impl Status {
    /// The status of code `b`.
    pub const fn from_u8(b: u8) -> Option<Status> {
        Some(match b {
            0 => Status::Ok,
            1 => Status::Malformed,
            2 => Status::BadChecksum,
            3 => Status::UnknownCommand,
            4 => Status::Protocol,
            5 => Status::NoUpload,
            6 => Status::TooBig,
            7 => Status::BadOffset,
            8 => Status::Incomplete,
            9 => Status::BadSignature,
            10 => Status::Rollback,
            11 => Status::Load,
            12 => Status::Verify,
            13 => Status::NoProgram,
            14 => Status::NoSuchMap,
            15 => Status::KeySize,
            16 => Status::ValueSize,
            17 => Status::NotFound,
            18 => Status::Map,
            19 => Status::Replay,
            20 => Status::Busy,
            21 => Status::BadName,
            22 => Status::Unsigned,
            _ => return None,
        })
    }

    /// Words for the status.
    pub const fn text(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Malformed => "malformed request",
            Status::BadChecksum => "checksum mismatch",
            Status::UnknownCommand => "unknown command",
            Status::Protocol => "unsupported protocol version",
            Status::NoUpload => "no upload in progress",
            Status::TooBig => "object larger than the device's upload buffer",
            Status::BadOffset => "chunk out of order",
            Status::Incomplete => "upload incomplete",
            Status::BadSignature => "bad signature",
            Status::Rollback => "version not newer than the running one",
            Status::Load => "the object does not load",
            Status::Verify => "the verifier rejected the program",
            Status::NoProgram => "no program is running",
            Status::NoSuchMap => "no such map",
            Status::KeySize => "wrong key size",
            Status::ValueSize => "wrong value size",
            Status::NotFound => "no such key",
            Status::Map => "the map refused the operation",
            Status::Replay => "counter not newer than the last accepted one (replay)",
            Status::Busy => "another load is in progress",
            Status::BadName => "bad program name",
            Status::Unsigned => "the device takes signed requests only",
        }
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.text())
    }
}

impl core::error::Error for Status {}

/// A refusal with its detail: two numbers and a message, as an error response carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Why.
    pub status: Status,
    /// First detail number (see [`Status`]; 0 when it has none).
    pub a: u32,
    /// Second detail number.
    pub b: u32,
}

impl Refusal {
    /// A refusal with no detail.
    pub const fn new(status: Status) -> Refusal {
        Refusal { status, a: 0, b: 0 }
    }

    /// A refusal with detail `a`, `b`.
    pub const fn with(status: Status, a: u32, b: u32) -> Refusal {
        Refusal { status, a, b }
    }
}

impl From<Status> for Refusal {
    fn from(s: Status) -> Refusal {
        Refusal::new(s)
    }
}
