//! `nanobpf serve`: the device side of the control channel on a host, over a UDP socket: the
//! same state machine (`nanobpf_control::Device`) a board runs, over a program slot, a map
//! arena and a verifier workspace in host memory. With `--pcap`, a data-path thread replays
//! the capture through the running program (on the interpreter, through the slot) once for
//! each program committed, so status shows verdict counters and maps fill as on a device.
//! With `--listen serial-tcp:ADDR:PORT` it serves the channel as a board does on its UART:
//! COBS-framed over a byte stream, here a TCP connection (one at a time).

use crate::capture::{read_capture, Frame};
use nanobpf_control::{ByteStream, Datagrams, Device, Serial, SlotTarget};
use nanobpf_core::helpers;
use nanobpf_core::DefaultWorkspace;
use nanobpf_core::NoPlatform;
use nanobpf_core::ProgramSlot;
use nanobpf_core::{MapArena, Word};
use nanobpf_hal::{Counters, MemRing, SlotEngine, XdpRunner};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Instruction slots of each side of the agent's slot.
pub const INSNS: usize = 4096;
/// Maps per program.
pub const MAPS: usize = 16;
/// Programs per side (entry and tail-call targets).
pub const PROGS: usize = 8;
/// Blocks of the arena: two programs' maps alive at once, and a gap around each.
pub const BLOCKS: usize = 4 * MAPS + 1;
/// The upload buffer: objects up to this less 48 bytes.
pub const UPLOAD_BYTES: usize = 256 * 1024;
/// The arena's default size.
pub const DEFAULT_ARENA_BYTES: usize = 256 * 1024;

type Slot = ProgramSlot<'static, INSNS, MAPS, PROGS>;
type Target = SlotTarget<'static, 'static, INSNS, MAPS, PROGS, BLOCKS, 4096, 96, 192>;

/// The arguments of `nanobpf serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on: UDP, e.g. 127.0.0.1:7700, or a serial line over TCP,
    /// serial-tcp:127.0.0.1:7700 (COBS framing, one connection at a time); port 0 picks one
    /// (printed).
    #[arg(long)]
    pub listen: String,
    /// The operator's public key file (from `nanobpf keygen`: KEY.pub).
    #[arg(long)]
    pub key: PathBuf,
    /// A capture to replay through each program committed, once.
    #[arg(long)]
    pub pcap: Option<PathBuf>,
    /// Bytes of the map arena.
    #[arg(long, default_value_t = DEFAULT_ARENA_BYTES)]
    pub arena: usize,
    /// Take signed requests only: status, map reads and uploads must be signed too.
    #[arg(long)]
    pub signed_only: bool,
}

/// A running agent: its address, and a handle to stop it.
#[derive(Debug)]
pub struct Agent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Agent {
    /// The address it answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the agent and waits for its threads.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The agent's socket as the channel's transport.
struct Udp<'s>(&'s UdpSocket);

impl Datagrams for Udp<'_> {
    type Peer = SocketAddr;
    type Error = std::io::Error;

    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<(usize, SocketAddr)>, std::io::Error> {
        match self.0.recv_from(buf) {
            Ok((n, from)) => Ok(Some((n, from))),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn send(&mut self, bytes: &[u8], to: SocketAddr) -> Result<(), std::io::Error> {
        self.0.send_to(bytes, to).map(drop)
    }
}

/// A TCP connection as a serial line: bytes in order, read with a short timeout.
struct TcpLine {
    stream: TcpStream,
    buf: Box<[u8; 4096]>,
    at: usize,
    len: usize,
}

impl ByteStream for TcpLine {
    type Error = std::io::Error;

    fn read_byte(&mut self) -> Result<Option<u8>, std::io::Error> {
        if self.at == self.len {
            match self.stream.read(&mut self.buf[..]) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => (self.at, self.len) = (0, n),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
        let b = self.buf.get(self.at).copied();
        self.at += 1;
        Ok(b)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), std::io::Error> {
        std::io::Write::write_all(&mut self.stream, bytes)
    }
}

/// Where the agent listens.
enum Listener {
    Udp(UdpSocket),
    SerialTcp(TcpListener),
}

/// Starts an agent on `listen` for the holder of `public_key`'s private half, with an arena
/// of `arena_bytes`, replaying `frames` through each program committed; with `signed_only`,
/// every request must be signed.
///
/// The slot, arena and buffers live as long as the process (a device's are `static`).
///
/// # Errors
/// A socket that cannot be bound, or a bad key.
pub fn spawn(
    listen: &str,
    public_key: [u8; 32],
    frames: Option<Vec<Frame>>,
    arena_bytes: usize,
    signed_only: bool,
) -> Result<Agent, String> {
    let (listener, addr) = match listen.strip_prefix("serial-tcp:") {
        Some(at) => {
            let l = TcpListener::bind(at).map_err(|e| format!("{listen}: {e}"))?;
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            (Listener::SerialTcp(l), addr)
        }
        None => {
            let at = listen.strip_prefix("udp:").unwrap_or(listen);
            let socket = UdpSocket::bind(at).map_err(|e| format!("{listen}: {e}"))?;
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .map_err(|e| e.to_string())?;
            let addr = socket.local_addr().map_err(|e| e.to_string())?;
            (Listener::Udp(socket), addr)
        }
    };
    let region: &'static [Word] = Box::leak(
        (0..arena_bytes.div_ceil(8))
            .map(|_| Word::new())
            .collect::<Box<[Word]>>(),
    );
    let slot: &'static Slot = Box::leak(Box::new(Slot::new(helpers::standard())));
    let arena = Box::leak(Box::new(MapArena::<'static, BLOCKS>::new(region)));
    let ws = Box::leak(Box::new(DefaultWorkspace::new()));
    let buf = Box::leak(Box::new([0u8; UPLOAD_BYTES]));
    let target: Target = SlotTarget { slot, arena, ws };
    let mut device = Device::new(target, &public_key, buf).map_err(|e| e.to_string())?;
    if signed_only {
        device = device.signed_only();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Mutex::new(Counters::default()));
    let mut threads = Vec::new();
    if let Some(frames) = frames {
        let (stop, counters) = (stop.clone(), counters.clone());
        threads.push(std::thread::spawn(move || {
            data_path(slot, &frames, &stop, &counters)
        }));
    }
    let stop2 = stop.clone();
    threads.push(std::thread::spawn(move || match listener {
        Listener::Udp(socket) => control_path(&mut device, &mut Udp(&socket), &stop2, &counters),
        Listener::SerialTcp(l) => serial_path(&mut device, &l, &stop2, &counters),
    }));
    Ok(Agent {
        addr,
        stop,
        threads,
    })
}

fn control_path<D: Datagrams<Error = std::io::Error>>(
    device: &mut Device<'static, Target, UPLOAD_BYTES>,
    io: &mut D,
    stop: &AtomicBool,
    counters: &Mutex<Counters>,
) {
    while !stop.load(Ordering::Relaxed) {
        let c = counters.lock().map(|c| *c).unwrap_or_default();
        match device.poll(io, &c) {
            Ok(_) => {}
            // A send to a peer that went away: keep serving the others.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            // The serial line closed.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return,
            Err(e) => {
                eprintln!("nanobpf serve: {e}");
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) {
                    return;
                }
            }
        }
    }
}

/// Serves one serial-over-TCP connection after another, the same device throughout.
fn serial_path(
    device: &mut Device<'static, Target, UPLOAD_BYTES>,
    listener: &TcpListener,
    stop: &AtomicBool,
    counters: &Mutex<Counters>,
) {
    while !stop.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => {
                eprintln!("nanobpf serve: {e}");
                return;
            }
        };
        let ready = stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_read_timeout(Some(Duration::from_millis(50))))
            .and_then(|()| stream.set_nodelay(true));
        if let Err(e) = ready {
            eprintln!("nanobpf serve: {e}");
            continue;
        }
        let mut line = Serial::new(TcpLine {
            stream,
            buf: Box::new([0; 4096]),
            at: 0,
            len: 0,
        });
        control_path(device, &mut line, stop, counters);
    }
}

/// Replays `frames` through the slot's program each time a new one is committed.
fn data_path(slot: &Slot, frames: &[Frame], stop: &AtomicBool, counters: &Mutex<Counters>) {
    static PLATFORM: NoPlatform = NoPlatform;
    let mut runner = XdpRunner::new(SlotEngine::new(slot, &PLATFORM));
    let mut ring: Box<MemRing<8, 2048>> = Box::new(MemRing::new());
    let mut replayed: Option<u32> = None;
    while !stop.load(Ordering::Relaxed) {
        let version = slot.inspect(|p| p.version());
        if version.is_none() || version == replayed {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        for batch in frames.chunks(8) {
            for f in batch {
                // A frame too long for a buffer is not run (as `nanobpf run` counts it).
                let _ = ring.inject(&f.data);
            }
            runner.poll(&mut *ring, &mut [], |_| {}, batch.len());
            if let Ok(mut c) = counters.lock() {
                *c = runner.counters();
            }
        }
        replayed = version;
    }
}

/// `nanobpf serve`.
///
/// # Errors
/// A bad key file or capture, or a socket that cannot be bound.
pub fn run(args: &ServeArgs) -> Result<ExitCode, String> {
    let key = crate::sign::read_public(&args.key)?;
    let frames = match &args.pcap {
        Some(p) => Some(read_capture(p).map_err(|e| e.to_string())?.packets),
        None => None,
    };
    let mut agent = spawn(&args.listen, key, frames, args.arena, args.signed_only)?;
    let scheme = if args.listen.starts_with("serial-tcp:") {
        "serial-tcp"
    } else {
        "udp"
    };
    println!("listening on {scheme}:{}", agent.addr());
    for t in std::mem::take(&mut agent.threads) {
        let _ = t.join();
    }
    Ok(ExitCode::SUCCESS)
}
