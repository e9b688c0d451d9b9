//! `nanobpf device ...`: the operator's side of the control channel, over UDP or a serial
//! line (a tty, or QEMU's serial port on a TCP socket), frames delimited with COBS there.
//!
//! [`Client`] sends one request at a time and waits for the answer with the same sequence
//! number, resending the same bytes after a timeout (the device answers a resent request
//! from its cache without running it twice). Refusals come back as [`DeviceError::Refused`]
//! with the device's status, detail numbers and message.

use ed25519_dalek::{Signer, SigningKey};
use nanobpf_control::serial::{self, CobsDecoder, Decoded};
use nanobpf_control::wire::{MAX_CHUNK, MAX_FRAME};
use nanobpf_control::{Auth, Request, Response, Status, UploadHeader};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The address does not resolve, or the socket failed.
    Io(String),
    /// No answer after every attempt.
    Timeout {
        /// Requests sent.
        attempts: u32,
        /// Time waited for each.
        each: Duration,
    },
    /// The device refused the request.
    Refused {
        /// Why.
        status: Status,
        /// The detail numbers.
        detail: (u32, u32),
        /// The device's message.
        message: String,
    },
    /// An answer that does not follow the protocol.
    Protocol(String),
}

impl DeviceError {
    /// The status of a refusal.
    pub fn status(&self) -> Option<Status> {
        match self {
            DeviceError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceError::Io(e) => f.write_str(e),
            DeviceError::Timeout { attempts, each } => write!(
                f,
                "no answer from the device ({attempts} attempts, {} ms each)",
                each.as_millis()
            ),
            DeviceError::Refused {
                status,
                detail: (a, b),
                message,
            } => {
                write!(f, "refused: {status}")?;
                match status {
                    Status::Rollback => write!(f, " (version {b}, the device is at {a})")?,
                    Status::TooBig => write!(f, " ({a} bytes, the buffer holds {b})")?,
                    Status::BadOffset => write!(f, " (expected offset {a}, got {b})")?,
                    Status::Incomplete => write!(f, " ({a} of {b} bytes)")?,
                    Status::KeySize | Status::ValueSize => {
                        write!(f, " ({a} bytes given, the map's are {b})")?
                    }
                    Status::Verify => write!(f, " (program {a}, instruction {b})")?,
                    _ => {}
                }
                if !message.is_empty() && message != status.text() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            DeviceError::Protocol(e) => write!(f, "bad answer from the device: {e}"),
        }
    }
}

impl std::error::Error for DeviceError {}

/// What the device's status says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceStatus {
    /// An upload in progress: bytes received, bytes announced.
    pub upload: Option<(u32, u32)>,
    /// Versions at or below this are refused.
    pub floor: u32,
    /// The last signed request's counter.
    pub counter: u64,
    /// Datagrams dropped unanswered.
    pub dropped: u32,
    /// The running program: name, version, programs (with tail-call targets), maps.
    pub running: Option<(String, u32, u8, u8)>,
    /// The runner's counters: aborted, drop, pass, tx, tx_full, redirect, redirect_failed,
    /// traps, invalid.
    pub counters: [u64; 9],
    /// The last commit: `None` if none since start; else the status, detail and message.
    pub last_commit: Option<(Status, u32, u32, String)>,
}

impl DeviceStatus {
    fn parse(body: &[u8]) -> Option<DeviceStatus> {
        let mut r = nanobpf_control::wire::Reader::new(body);
        let mut s = DeviceStatus::default();
        let state = r.u8()?;
        let (received, size) = (r.u32()?, r.u32()?);
        s.upload = (state == 1).then_some((received, size));
        s.floor = r.u32()?;
        s.counter = r.u64()?;
        s.dropped = r.u32()?;
        let loaded = r.u8()?;
        let (version, _ty, programs, maps) = (r.u32()?, r.u8()?, r.u8()?, r.u8()?);
        let name = String::from_utf8_lossy(r.short()?).into_owned();
        if loaded == 1 {
            s.running = Some((name, version, programs, maps));
        }
        for c in &mut s.counters {
            *c = r.u64()?;
        }
        let code = r.u8()?;
        let (a, b) = (r.u32()?, r.u32()?);
        let msg = String::from_utf8_lossy(r.short()?).into_owned();
        if code != 0xff {
            s.last_commit = Some((Status::from_u8(code)?, a, b, msg));
        }
        Some(s)
    }

    /// Frames the runner processed.
    pub fn frames(&self) -> u64 {
        let c = &self.counters;
        c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[8]
    }
}

impl std::fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.running {
            Some((name, version, programs, maps)) => writeln!(
                f,
                "running: {name} version {version} ({programs} program(s), {maps} map(s))"
            )?,
            None => writeln!(f, "running: nothing")?,
        }
        let c = &self.counters;
        writeln!(
            f,
            "verdicts: aborted {} drop {} pass {} tx {} redirect {} (traps {}, tx full {}, redirect failed {}, invalid {})",
            c[0], c[1], c[2], c[3], c[5], c[7], c[4], c[6], c[8]
        )?;
        match &self.last_commit {
            None => writeln!(f, "last commit: none")?,
            Some((Status::Ok, insns, maps, _)) => {
                writeln!(f, "last commit: loaded ({insns} instructions, {maps} maps)")?
            }
            Some((status, a, b, msg)) => {
                let e = DeviceError::Refused {
                    status: *status,
                    detail: (*a, *b),
                    message: msg.clone(),
                };
                writeln!(f, "last commit: {e}")?
            }
        }
        if let Some((got, of)) = self.upload {
            writeln!(f, "upload in progress: {got} of {of} bytes")?;
        }
        write!(
            f,
            "version floor {}, counter {}, dropped datagrams {}",
            self.floor, self.counter, self.dropped
        )
    }
}

/// A map as the device describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// Its name.
    pub name: String,
    /// Linux's map type number.
    pub map_type: u32,
    /// Key bytes.
    pub key_size: u32,
    /// Value bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Whether it carries over to the next program.
    pub pinned: bool,
}

/// A map entry: key and value bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// What a commit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Programs loaded.
    pub programs: u8,
    /// Instruction slots.
    pub insns: u32,
    /// Maps.
    pub maps: u8,
    /// Maps carried over.
    pub carried: u8,
    /// Whether a program was replaced.
    pub replaced: bool,
}

/// How the client reaches the device.
#[derive(Debug)]
enum Link {
    /// A connected UDP socket: one datagram per frame.
    Udp(UdpSocket),
    /// A byte stream (a tty or a TCP connection): frames COBS-encoded and delimited; a
    /// thread decodes what arrives into frames.
    Stream {
        tx: Box<dyn WriteDebug>,
        rx: mpsc::Receiver<Vec<u8>>,
        /// A TCP connection, shut down when the link goes (the reader thread holds a clone).
        tcp: Option<TcpStream>,
    },
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Link::Stream { tcp: Some(s), .. } = self {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A writer that can be shown in `Debug` output.
trait WriteDebug: Write + Send + std::fmt::Debug {}
impl<T: Write + Send + std::fmt::Debug> WriteDebug for T {}

impl Link {
    /// Opens `to`: `udp:HOST:PORT` (or `HOST:PORT`), `serial:PATH` or `serial-tcp:HOST:PORT`.
    fn open(to: &str) -> Result<Link, DeviceError> {
        let io = |e: std::io::Error| DeviceError::Io(format!("{to}: {e}"));
        if let Some(path) = to.strip_prefix("serial:") {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(io)?;
            raw_mode(&file).map_err(io)?;
            let reader = file.try_clone().map_err(io)?;
            return Ok(Link::stream(Box::new(file), reader, None));
        }
        if let Some(hostport) = to.strip_prefix("serial-tcp:") {
            let stream = TcpStream::connect(hostport).map_err(io)?;
            stream.set_nodelay(true).map_err(io)?;
            let reader = stream.try_clone().map_err(io)?;
            let closer = stream.try_clone().map_err(io)?;
            return Ok(Link::stream(Box::new(stream), reader, Some(closer)));
        }
        let hostport = to.strip_prefix("udp:").unwrap_or(to);
        let addr: SocketAddr = hostport
            .to_socket_addrs()
            .map_err(io)?
            .next()
            .ok_or_else(|| DeviceError::Io(format!("{to}: no address")))?;
        let local = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local).map_err(io)?;
        socket.connect(addr).map_err(io)?;
        Ok(Link::Udp(socket))
    }

    /// A stream link: `tx` for frames out, a thread decoding `reader` into frames.
    fn stream(
        tx: Box<dyn WriteDebug>,
        mut reader: impl Read + Send + 'static,
        tcp: Option<TcpStream>,
    ) -> Link {
        let (send, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut dec = Box::new(CobsDecoder::<MAX_FRAME>::new());
            let mut buf = [0u8; 4096];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                for &b in &buf[..n] {
                    if let Some(Decoded::Frame(f)) = dec.push(b) {
                        if send.send(f.to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Link::Stream { tx, rx, tcp }
    }

    /// Sends one frame.
    fn send(&mut self, frame: &[u8]) -> Result<(), DeviceError> {
        let io = |e: std::io::Error| DeviceError::Io(e.to_string());
        match self {
            Link::Udp(s) => s.send(frame).map(drop).map_err(io),
            Link::Stream { tx, .. } => {
                let mut line = vec![0u8; 1 + serial::encoded_len(frame.len())];
                let n = serial::encode(frame, &mut line[1..])
                    .ok_or_else(|| DeviceError::Protocol("frame too long".into()))?;
                tx.write_all(&line[..n + 1]).map_err(io)?;
                tx.flush().map_err(io)
            }
        }
    }

    /// Sends `bytes` as they are: one datagram over UDP, unframed bytes on a line.
    fn send_unframed(&mut self, bytes: &[u8]) -> Result<(), DeviceError> {
        let io = |e: std::io::Error| DeviceError::Io(e.to_string());
        match self {
            Link::Udp(s) => s.send(bytes).map(drop).map_err(io),
            Link::Stream { tx, .. } => tx.write_all(bytes).and_then(|()| tx.flush()).map_err(io),
        }
    }

    /// The next frame received within `wait`; `None` when none came.
    fn recv(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        match self {
            Link::Udp(s) => {
                s.set_read_timeout(Some(wait.max(Duration::from_micros(1))))
                    .map_err(|e| DeviceError::Io(e.to_string()))?;
                let mut buf = [0u8; MAX_FRAME];
                match s.recv(&mut buf) {
                    Ok(n) => Ok(Some(buf[..n].to_vec())),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::TimedOut
                                // An ICMP port unreachable from an earlier send.
                                | std::io::ErrorKind::ConnectionRefused
                        ) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(DeviceError::Io(e.to_string())),
                }
            }
            Link::Stream { rx, .. } => match rx.recv_timeout(wait) {
                Ok(f) => Ok(Some(f)),
                Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    Err(DeviceError::Io("the line was closed".into()))
                }
            },
        }
    }
}

/// Puts a tty in raw mode (no echo, no line editing, no translation of bytes); a path that
/// is not a tty (a FIFO, a file) is left as it is.
fn raw_mode(file: &std::fs::File) -> std::io::Result<()> {
    use rustix::termios;
    if !termios::isatty(file) {
        return Ok(());
    }
    let mut t = termios::tcgetattr(file)?;
    t.make_raw();
    termios::tcsetattr(file, termios::OptionalActions::Now, &t)?;
    Ok(())
}

/// A connection to one device.
#[derive(Debug)]
pub struct Client {
    link: Link,
    seq: u32,
    timeout: Duration,
    attempts: u32,
    counter: u64,
    /// Signs every request with this key (for devices that take signed requests only).
    signer: Option<SigningKey>,
}

impl Client {
    /// A client of the device at `to` (`udp:HOST:PORT` or `HOST:PORT`; `serial:PATH`, a tty;
    /// `serial-tcp:HOST:PORT`, a serial line behind a TCP socket, as QEMU's `-serial tcp:`),
    /// waiting `timeout` for each answer and trying each request `attempts` times.
    ///
    /// # Errors
    /// An address that does not resolve, a path that does not open, or no socket.
    pub fn connect(to: &str, timeout: Duration, attempts: u32) -> Result<Client, DeviceError> {
        let link = Link::open(to)?;
        // Sequence numbers start from the clock so two runs of the tool do not collide with
        // the device's cached answer.
        let seq = now_micros() as u32;
        Ok(Client {
            link,
            seq,
            timeout,
            attempts: attempts.max(1),
            counter: 0,
            signer: None,
        })
    }

    /// Sends every request signed with `key` from now on: status, reads and uploads too, as a
    /// device that takes signed requests only wants them.
    pub fn sign_all(&mut self, key: SigningKey) {
        self.signer = Some(key);
    }

    /// Sends the frame `bytes` (sequence number `seq`) and returns the answer's status and body.
    fn exchange(&mut self, bytes: &[u8], seq: u32) -> Result<Vec<u8>, DeviceError> {
        for _ in 0..self.attempts {
            self.link.send(bytes)?;
            let sent = Instant::now();
            // Answers to earlier requests are skipped, but only until this attempt's time is up.
            while let Some(left) = self.timeout.checked_sub(sent.elapsed()) {
                let Some(buf) = self.link.recv(left)? else {
                    break;
                };
                let Ok(r) = Response::parse(&buf) else {
                    continue;
                };
                if r.seq != seq {
                    continue; // a late answer to an earlier request
                }
                if r.status != Status::Ok as u8 {
                    let status = Status::from_u8(r.status).ok_or_else(|| {
                        DeviceError::Protocol(format!("unknown status {}", r.status))
                    })?;
                    let (a, b, message) = r.error_detail().unwrap_or((0, 0, ""));
                    return Err(DeviceError::Refused {
                        status,
                        detail: (a, b),
                        message: message.to_string(),
                    });
                }
                return Ok(r.body.to_vec());
            }
        }
        Err(DeviceError::Timeout {
            attempts: self.attempts,
            each: self.timeout,
        })
    }

    /// A new sequence number.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `req` and returns the answer's body.
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn request(&mut self, req: &Request<'_>) -> Result<Vec<u8>, DeviceError> {
        let seq = self.next_seq();
        let mut buf = [0u8; MAX_FRAME];
        let n = match self.signer.clone() {
            Some(key) => {
                let counter = self.counter();
                req.encode_wrapped(seq, counter, &mut buf, |m| key.sign(m).to_bytes())
            }
            None => req.encode(seq, &mut buf),
        };
        let n = n.ok_or_else(|| DeviceError::Protocol("request too large for one frame".into()))?;
        self.exchange(&buf[..n], seq)
    }

    /// Sends a frame as it is (for tests of what the device does with bad frames) and returns
    /// the first answer that comes within the timeout, if any.
    ///
    /// # Errors
    /// The link's.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<Option<Vec<u8>>, DeviceError> {
        self.link.send(bytes)?;
        self.link.recv(self.timeout)
    }

    /// Sends `bytes` as one datagram (COBS-framed on a serial line) and waits for nothing.
    ///
    /// # Errors
    /// The link's.
    pub fn send_datagram(&mut self, bytes: &[u8]) -> Result<(), DeviceError> {
        self.link.send(bytes)
    }

    /// Sends `bytes` with no framing of the link's own (a datagram over UDP, bytes as they
    /// are on a serial line) and waits for nothing.
    ///
    /// # Errors
    /// The link's.
    pub fn send_unframed(&mut self, bytes: &[u8]) -> Result<(), DeviceError> {
        self.link.send_unframed(bytes)
    }

    /// Whether the link is a serial line (frames COBS-delimited) rather than UDP.
    pub fn is_serial(&self) -> bool {
        matches!(self.link, Link::Stream { .. })
    }

    /// A counter above every one this client used before: the time in microseconds.
    pub fn counter(&mut self) -> u64 {
        self.counter = now_micros().max(self.counter + 1);
        self.counter
    }

    /// Sends a signed request: `make` builds it with the given auth (its signature is
    /// filled in here).
    fn signed<'r>(
        &mut self,
        key: &SigningKey,
        make: impl FnOnce(Auth) -> Request<'r>,
    ) -> Result<Vec<u8>, DeviceError> {
        let auth = Auth {
            counter: self.counter(),
            signature: [0; 64],
        };
        let seq = self.next_seq();
        let mut buf = [0u8; MAX_FRAME];
        let n = make(auth)
            .encode_signed(seq, &mut buf, |m| key.sign(m).to_bytes())
            .ok_or_else(|| DeviceError::Protocol("request too large for one frame".into()))?;
        self.exchange(&buf[..n], seq)
    }

    /// The device's status.
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn status(&mut self) -> Result<DeviceStatus, DeviceError> {
        let body = self.request(&Request::Status)?;
        DeviceStatus::parse(&body).ok_or_else(|| DeviceError::Protocol("short status".into()))
    }

    /// Uploads `object` with its signature file's `header` and `signature`, then commits;
    /// `progress` is called with the bytes sent so far.
    ///
    /// # Errors
    /// See [`DeviceError`]; the device's refusal says why.
    pub fn load(
        &mut self,
        object: &[u8],
        header: UploadHeader,
        signature: [u8; 64],
        mut progress: impl FnMut(usize),
    ) -> Result<Committed, DeviceError> {
        self.request(&Request::Begin { header, signature })?;
        for (i, data) in object.chunks(MAX_CHUNK).enumerate() {
            let offset = (i * MAX_CHUNK) as u32;
            self.request(&Request::Chunk { offset, data })?;
            progress(i * MAX_CHUNK + data.len());
        }
        self.commit()
    }

    /// Commits the upload in progress.
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn commit(&mut self) -> Result<Committed, DeviceError> {
        let b = self.request(&Request::Commit)?;
        let mut r = nanobpf_control::wire::Reader::new(&b);
        let short = || DeviceError::Protocol("short commit answer".into());
        Ok(Committed {
            programs: r.u8().ok_or_else(short)?,
            insns: r.u32().ok_or_else(short)?,
            maps: r.u8().ok_or_else(short)?,
            carried: r.u8().ok_or_else(short)?,
            replaced: r.u8().ok_or_else(short)? != 0,
        })
    }

    /// The running program's maps.
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn maps(&mut self) -> Result<Vec<MapInfo>, DeviceError> {
        let mut out = Vec::new();
        for index in 0..=u8::MAX {
            let b = match self.request(&Request::MapInfo { index }) {
                Ok(b) => b,
                Err(e) if e.status() == Some(Status::NoSuchMap) => break,
                Err(e) => return Err(e),
            };
            let mut r = nanobpf_control::wire::Reader::new(&b);
            let bad = || DeviceError::Protocol("short map info".into());
            let name = String::from_utf8_lossy(r.short().ok_or_else(bad)?).into_owned();
            out.push(MapInfo {
                name,
                map_type: r.u32().ok_or_else(bad)?,
                key_size: r.u32().ok_or_else(bad)?,
                value_size: r.u32().ok_or_else(bad)?,
                max_entries: {
                    let m = r.u32().ok_or_else(bad)?;
                    let _flags = r.u32().ok_or_else(bad)?;
                    m
                },
                pinned: r.u8().ok_or_else(bad)? != 0,
            });
        }
        Ok(out)
    }

    /// The value of `key` in map `map`.
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn lookup(&mut self, map: &str, key: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.request(&Request::Lookup {
            map: map.as_bytes(),
            key,
        })
    }

    /// Every entry of map `map`, page by page.
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn dump(&mut self, map: &str) -> Result<Vec<Entry>, DeviceError> {
        let mut out: Vec<Entry> = Vec::new();
        loop {
            let after = out.last().map(|(k, _)| k.clone()).unwrap_or_default();
            let b = self.request(&Request::Dump {
                map: map.as_bytes(),
                after: &after,
            })?;
            let mut r = nanobpf_control::wire::Reader::new(&b);
            let bad = || DeviceError::Protocol("short dump".into());
            let ks = usize::from(r.u16().ok_or_else(bad)?);
            let vs = usize::from(r.u16().ok_or_else(bad)?);
            let more = r.u8().ok_or_else(bad)? != 0;
            let rest = r.rest();
            if ks + vs == 0 || rest.len() % (ks + vs) != 0 {
                return Err(bad());
            }
            for e in rest.chunks_exact(ks + vs) {
                out.push((e[..ks].to_vec(), e[ks..].to_vec()));
            }
            if !more || rest.is_empty() {
                return Ok(out);
            }
        }
    }

    /// Writes `key` = `value` in map `map` (signed by `key_pair`).
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn update(
        &mut self,
        signer: &SigningKey,
        map: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), DeviceError> {
        self.signed(signer, |auth| Request::Update {
            auth,
            flags: 0,
            map: map.as_bytes(),
            key,
            value,
        })
        .map(drop)
    }

    /// Deletes `key` from map `map` (signed).
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn delete(
        &mut self,
        signer: &SigningKey,
        map: &str,
        key: &[u8],
    ) -> Result<(), DeviceError> {
        self.signed(signer, |auth| Request::Delete {
            auth,
            map: map.as_bytes(),
            key,
        })
        .map(drop)
    }

    /// Stops the running program (signed).
    ///
    /// # Errors
    /// See [`DeviceError`].
    pub fn unload(&mut self, signer: &SigningKey) -> Result<(), DeviceError> {
        self.signed(signer, |auth| Request::Unload { auth })
            .map(drop)
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
