//! The deploy image: a board that boots with no program and takes them over the network.
//!
//! It holds a map arena, a program slot and the control channel's [`Device`] with the
//! operator's public key built in (`keys/ci-test-only.key.pub`, a key for tests only: its
//! private half is committed beside it). Its LAN9118 serves two users through
//! [`Split`]: UDP to 10.0.2.15, port 7700 (and ARP for that address) goes to smoltcp and the
//! control channel; every other frame goes to the XDP runner and whatever program the slot
//! runs (none at first: the runner then counts the frames as passed). An operator uploads a
//! signed object with `nanobpf device --to udp:HOST:PORT load PROG.o`; the device checks the
//! signature and the version, verifies the program on the board and replaces the running one
//! between two batches of frames, pinned maps carried over.
//!
//! The same channel is served on UART0 too (QEMU's first `-serial`), frames delimited with
//! COBS ([`Serial`]): one [`Device`] answers both, so an upload may begin on one and go on on
//! the other, and either sees the other's commits.
//!
//! It runs until QEMU is stopped. Each commit, accepted or refused, is reported on the
//! semihosting console with the emulated instructions the request took (under
//! `-icount shift=0`, one instruction is one nanosecond of virtual time).
#![no_std]
#![no_main]

use core::fmt;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use nanobpf_board_demo::loader::{Arena, Slot};
use nanobpf_board_demo::Workspace;
use nanobpf_board_qemu_mps2_an386::lan9118::{InitError, Lan9118};
use nanobpf_board_qemu_mps2_an386::net::{ControlFilter, Split, UdpChannel};
use nanobpf_board_qemu_mps2_an386::uart::Uart0;
use nanobpf_board_qemu_mps2_an386::{exit, instructions, Ticks};
use nanobpf_control::{BadKey, Datagrams, Device, Kind, LastCommit, Serial, SlotTarget};
use nanobpf_core::ArenaStorage;
use nanobpf_core::{helpers, NoPlatform};
use nanobpf_hal::{SlotEngine, XdpRunner};
use panic_semihosting as _;
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

/// The operator's public key (`keys/ci-test-only.key.pub`, turned into bytes by `build.rs`).
const OPERATOR_KEY: [u8; 32] = include!(concat!(env!("OUT_DIR"), "/operator_key.rs"));
/// The board's address: the guest's under QEMU's `user` network.
const ADDR: [u8; 4] = [10, 0, 2, 15];
/// The control channel's UDP port.
const PORT: u16 = 7700;
/// Receive buffers of the driver's pool, and frames per batch of the runner.
const BUFFERS: usize = 16;
/// Objects of up to 16 KiB upload (the firewall is 13.0 KiB), plus the signed header.
const UPLOAD: usize = 16 * 1024 + 48;
/// Bytes of datagrams the control socket holds each way, and how many datagrams.
const SOCKET_BYTES: usize = 4096;
const SOCKET_DATAGRAMS: usize = 4;
/// The kind of a commit's answer (bit 6 set for the signed form's, cleared before comparing).
const ANSWER_COMMIT: u8 = Kind::Commit as u8 | 0x80;

/// Words of the map arena: 48 KiB, room for the maps of two firewalls at once (12.4 KiB
/// each), as while one replaces the other, with room to spare for larger objects.
const ARENA_WORDS: usize = 6144;

static STORAGE: ArenaStorage<ARENA_WORDS> = ArenaStorage::new();
static SLOT: Slot = Slot::new(helpers::standard());
static WORKSPACE: spin::Mutex<Workspace> = spin::Mutex::new(Workspace::new());
static NIC: spin::Mutex<Lan9118<BUFFERS>> = spin::Mutex::new(Lan9118::new());
static UPLOAD_BUF: spin::Mutex<[u8; UPLOAD]> = spin::Mutex::new([0; UPLOAD]);
static SOCKETS: spin::Mutex<[SocketStorage<'static>; 1]> =
    spin::Mutex::new([SocketStorage::EMPTY; 1]);
// The socket's datagram bytes (all zeros: `.bss`) apart from its metadata (whose empty
// value is not all zeros, so it is copied from flash at boot: kept small).
static UDP_RX: spin::Mutex<[u8; SOCKET_BYTES]> = spin::Mutex::new([0; SOCKET_BYTES]);
static UDP_TX: spin::Mutex<[u8; SOCKET_BYTES]> = spin::Mutex::new([0; SOCKET_BYTES]);
static UDP_META: spin::Mutex<[[udp::PacketMetadata; SOCKET_DATAGRAMS]; 2]> =
    spin::Mutex::new([[udp::PacketMetadata::EMPTY; SOCKET_DATAGRAMS]; 2]);
static PLATFORM: NoPlatform = NoPlatform;

#[entry]
fn main() -> ! {
    exit(firmware())
}

enum Failure {
    Nic(InitError),
    Key(BadKey),
    Bind(udp::BindError),
    Taken,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Nic(e) => e.fmt(f),
            Failure::Key(e) => e.fmt(f),
            Failure::Bind(e) => write!(f, "binding the control port: {e}"),
            Failure::Taken => f.write_str("storage already taken"),
        }
    }
}

/// A transport that remembers the kind and status byte of the last answer it sent.
struct Watched<D> {
    inner: D,
    answer: Option<(u8, u8)>,
}

impl<D: Datagrams> Datagrams for Watched<D> {
    type Peer = D::Peer;
    type Error = D::Error;

    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<(usize, D::Peer)>, D::Error> {
        self.inner.recv(buf)
    }

    fn send(&mut self, bytes: &[u8], to: D::Peer) -> Result<(), D::Error> {
        self.inner.send(bytes, to)?;
        self.answer = bytes.get(3).copied().zip(bytes.get(10).copied());
        Ok(())
    }
}

/// smoltcp's clock: virtual time, one emulated instruction per nanosecond.
fn now(ticks: &mut Ticks, per_kilotick: u64) -> Instant {
    let ns = instructions(ticks.now(), per_kilotick);
    Instant::from_micros(i64::try_from(ns / 1000).unwrap_or(i64::MAX))
}

fn firmware() -> Result<(), Failure> {
    let cp = cortex_m::Peripherals::take().ok_or(Failure::Taken)?;
    let mut ticks = Ticks::start(cp.SYST);
    let per_kilotick = ticks.instructions_per_kilotick();
    let ws = spin::MutexGuard::leak(WORKSPACE.try_lock().ok_or(Failure::Taken)?);
    let nic = spin::MutexGuard::leak(NIC.try_lock().ok_or(Failure::Taken)?);
    let upload = spin::MutexGuard::leak(UPLOAD_BUF.try_lock().ok_or(Failure::Taken)?);
    let storage = spin::MutexGuard::leak(SOCKETS.try_lock().ok_or(Failure::Taken)?);
    let udp_rx = spin::MutexGuard::leak(UDP_RX.try_lock().ok_or(Failure::Taken)?);
    let udp_tx = spin::MutexGuard::leak(UDP_TX.try_lock().ok_or(Failure::Taken)?);
    let [meta_rx, meta_tx] = spin::MutexGuard::leak(UDP_META.try_lock().ok_or(Failure::Taken)?);
    let mut arena = Arena::new(STORAGE.words());

    nic.start().map_err(Failure::Nic)?;
    let mac = nic.mac_address();
    let mut net = Split::new(
        nic,
        ControlFilter {
            addr: ADDR,
            port: PORT,
        },
    );
    // Not fatal: without it the first request waits for an ARP exchange.
    let _ = net.announce(mac);
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    // Seeds smoltcp's choices (TCP sequence numbers, ports of its own); UDP on a fixed port
    // uses none.
    config.random_seed = 0x6e62_7066;
    let mut iface = Interface::new(config, &mut net, now(&mut ticks, per_kilotick));
    iface.update_ip_addrs(|addrs| {
        let [a, b, c, d] = ADDR;
        // The list is empty: the push cannot fail.
        let _ = addrs.push(IpCidr::new(IpAddress::v4(a, b, c, d), 24));
    });
    let mut sockets = SocketSet::new(&mut storage[..]);
    let mut socket = udp::Socket::new(
        udp::PacketBuffer::new(&mut meta_rx[..], &mut udp_rx[..]),
        udp::PacketBuffer::new(&mut meta_tx[..], &mut udp_tx[..]),
    );
    socket.bind(PORT).map_err(Failure::Bind)?;
    let handle = sockets.add(socket);

    let target = SlotTarget {
        slot: &SLOT,
        arena: &mut arena,
        ws,
    };
    let mut control = Device::new(target, &OPERATOR_KEY, upload).map_err(Failure::Key)?;
    let mut runner = XdpRunner::new(SlotEngine::new(&SLOT, &PLATFORM));
    let mut serial = Watched {
        inner: Serial::new(Uart0::start()),
        answer: None,
    };
    hprintln!(
        "nanobpf on mps2-an386, deploy: no program; control channel on udp {}.{}.{}.{}:{} \
         (MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}) and on UART0 (COBS), uploads up to {} bytes, arena {} bytes; ready",
        ADDR[0], ADDR[1], ADDR[2], ADDR[3], PORT,
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
        UPLOAD - nanobpf_control::wire::UPLOAD_HEADER,
        control.target().arena.total_bytes(),
    );

    let mut send_failures = 0u32;
    loop {
        // The data path: a batch of frames through the running program (or none).
        runner.poll(&mut net, &mut [], |_| {}, BUFFERS);
        // The control path: smoltcp takes the held control frame, the device answers one
        // datagram, smoltcp sends the answer.
        iface.poll(now(&mut ticks, per_kilotick), &mut net, &mut sockets);
        let start = ticks.now();
        let mut channel = UdpChannel::new(sockets.get_mut::<udp::Socket<'_>>(handle));
        let answered = control.poll(&mut channel, &runner.counters());
        let answer = channel.last_answer();
        let spent = instructions(ticks.now() - start, per_kilotick);
        match answered {
            Ok(true) => {
                iface.poll(now(&mut ticks, per_kilotick), &mut net, &mut sockets);
            }
            Ok(false) => {}
            Err(e) => {
                send_failures += 1;
                hprintln!(
                    "control: answer not sent ({:?}), {} so far",
                    e,
                    send_failures
                );
            }
        }
        report(answer, control.last_commit(), spent);
        // The same channel on the serial line: at most one frame per turn of the loop.
        serial.answer = None;
        let start = ticks.now();
        // The UART's errors are none.
        let _ = control.poll(&mut serial, &runner.counters());
        let spent = instructions(ticks.now() - start, per_kilotick);
        report(serial.answer, control.last_commit(), spent);
    }
}

/// For the answer (kind, status) to a commit, unsigned or signed, that ran (loaded, or
/// refused by the signature, the version, the loader or the verifier): its outcome and cost.
fn report(answer: Option<(u8, u8)>, last: LastCommit, spent: u64) {
    if let Some((kind, status)) = answer {
        if kind & !0x40 == ANSWER_COMMIT && matches!(status, 0 | 9..=12) {
            report_commit(last, spent);
        }
    }
}

/// Prints what the last commit did and the instructions its request took.
fn report_commit(last: LastCommit, spent: u64) {
    match last {
        LastCommit::Loaded(r) => hprintln!(
            "commit: loaded in {} emulated instructions ({} program(s), {} instruction slots, {} maps, {} carried over, replaced {})",
            spent,
            r.programs,
            r.insns,
            r.maps,
            r.carried,
            r.replaced
        ),
        LastCommit::Refused(refusal, _) => hprintln!(
            "commit: refused ({:?}) in {} emulated instructions",
            refusal.status,
            spent
        ),
        LastCommit::None => {}
    }
}
