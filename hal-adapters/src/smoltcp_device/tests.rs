//! The hook in front of smoltcp's loopback device (an interface pinging itself), and in front
//! of a small recording device for `XDP_TX`.

use super::*;
use crate::Engine;
use nanobpf_core::{assemble, helpers, Insn, Interpreter, NoPlatform, Program};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::icmp;
use smoltcp::wire::{EthernetAddress, Icmpv4Packet, Icmpv4Repr, IpAddress, IpCidr};
use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

/// Drops IPv4 ICMP, passes everything else (ARP included). Runtime context layout.
const DROP_ICMP: &str = "
    ldxw %r2, [%r1]
    ldxw %r3, [%r1+4]
    mov %r0, 2
    mov %r4, %r2
    add %r4, 34
    jgt %r4, %r3, out
    ldxh %r5, [%r2+12]
    jne %r5, 0x0008, out
    ldxb %r5, [%r2+23]
    jne %r5, 1, out
    mov %r0, 1
out:
    exit";

const PASS_ALL: &str = "mov %r0, 2\nexit";

static PLATFORM: NoPlatform = NoPlatform;

fn asm(src: &str) -> Vec<Insn> {
    let mut buf = [Insn::default(); 64];
    let n = assemble(src, &mut buf).unwrap_or_else(|e| panic!("{e}\n{src}"));
    buf[..n].to_vec()
}

fn engine(insns: &[Insn]) -> Engine<'_, Program<'_>> {
    Engine::new(
        Interpreter::new(helpers::standard(), &PLATFORM),
        Program::new(insns).unwrap(),
    )
}

/// Pings the interface's own address through the hook and returns the ICMP messages the
/// socket received (as (is_reply, seq_no)) and the hook's counters.
fn ping_self(program: &str) -> (Vec<(bool, u16)>, Counters) {
    let insns = asm(program);
    let mut device: XdpDevice<_, _, 2048> =
        XdpDevice::new(Loopback::new(Medium::Ethernet), engine(&insns));
    let caps = device.capabilities();
    assert_eq!(caps.max_transmission_unit, 2048 - 256);
    let config = Config::new(EthernetAddress([0x02, 0, 0, 0, 0, 1]).into());
    let mut now = Instant::from_millis(0);
    let mut iface = Interface::new(config, &mut device, now);
    iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8)).unwrap());

    let buffer = || icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 1024]);
    let mut sockets = SocketSet::new(vec![]);
    let handle = sockets.add(icmp::Socket::new(buffer(), buffer()));
    let ident = 0x22b;
    sockets
        .get_mut::<icmp::Socket<'_>>(handle)
        .bind(icmp::Endpoint::Ident(ident))
        .unwrap();

    let mut got = Vec::new();
    let mut sent = 0u16;
    for _ in 0..50 {
        iface.poll(now, &mut device, &mut sockets);
        let socket = sockets.get_mut::<icmp::Socket<'_>>(handle);
        while let Ok((payload, _)) = socket.recv() {
            let packet = Icmpv4Packet::new_checked(payload).unwrap();
            match Icmpv4Repr::parse(&packet, &caps.checksum).unwrap() {
                Icmpv4Repr::EchoReply { seq_no, .. } => got.push((true, seq_no)),
                Icmpv4Repr::EchoRequest { seq_no, .. } => got.push((false, seq_no)),
                _ => {}
            }
        }
        if sent < 3 && socket.can_send() {
            let repr = Icmpv4Repr::EchoRequest {
                ident,
                seq_no: sent,
                data: b"nanobpf",
            };
            let to = IpAddress::v4(127, 0, 0, 1);
            let buf = socket.send(repr.buffer_len(), to).unwrap();
            repr.emit(&mut Icmpv4Packet::new_unchecked(buf), &caps.checksum);
            sent += 1;
        }
        now += smoltcp::time::Duration::from_millis(10);
    }
    (got, device.counters())
}

#[test]
fn pinging_itself_works_when_the_program_passes_everything() {
    let (got, c) = ping_self(PASS_ALL);
    let replies: Vec<u16> = got.iter().filter(|m| m.0).map(|m| m.1).collect();
    assert_eq!(replies, [0, 1, 2]);
    assert!(c.pass >= 6, "requests and replies passed: {c:?}");
    assert_eq!((c.drop, c.aborted, c.frames()), (0, 0, c.pass));
}

#[test]
fn pinging_itself_fails_when_the_program_drops_icmp() {
    let (got, c) = ping_self(DROP_ICMP);
    assert!(got.is_empty(), "nothing reached the socket: {got:?}");
    // The three requests were dropped before smoltcp saw them, so no reply was ever sent.
    assert_eq!(c.drop, 3, "{c:?}");
    assert_eq!(c.frames(), c.drop + c.pass);
}

/// A device that receives from a queue and records what it transmits.
#[derive(Debug, Default)]
struct Recorder {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

struct RecRx(Vec<u8>);
struct RecTx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for RecRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for RecTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl Device for Recorder {
    type RxToken<'a> = RecRx;
    type TxToken<'a> = RecTx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RecRx, RecTx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((RecRx(frame), RecTx(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<RecTx<'_>> {
        Some(RecTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = 1514;
        caps
    }
}

#[test]
fn verdicts_reach_the_inner_device_or_the_stack() {
    // Verdict = first byte; 4 (redirect) has nowhere to go; 9 is no verdict; 6 traps.
    let src = "
        ldxw %r2, [%r1]
        ldxb %r0, [%r2]
        jne %r0, 6, out
        mov %r2, 16
        ldxdw %r0, [%r2]
    out:
        exit";
    let insns = asm(src);
    let inner = Recorder {
        rx: [1u8, 2, 3, 4, 9, 6, 3, 2]
            .iter()
            .enumerate()
            .map(|(i, &v)| vec![v, i as u8, 0xaa, 0xbb])
            .chain([vec![2; 200]]) // too long for a 256-byte hook buffer (128 after headroom)
            .collect(),
        tx: Vec::new(),
    };
    let mut device: XdpDevice<_, _, 256> = XdpDevice::new(inner, engine(&insns)).with_ifindex(4);
    assert_eq!(device.capabilities().max_transmission_unit, 128);
    let now = Instant::from_millis(0);
    let mut passed = Vec::new();
    while let Some((rx, _tx)) = device.receive(now) {
        passed.push(rx.consume(|f| f.to_vec()));
    }
    assert_eq!(passed, [vec![2, 1, 0xaa, 0xbb], vec![2, 7, 0xaa, 0xbb]]);
    assert_eq!(
        device.inner().tx,
        [vec![3, 2, 0xaa, 0xbb], vec![3, 6, 0xaa, 0xbb]]
    );
    let c = device.counters();
    assert_eq!(
        (
            c.drop,
            c.pass,
            c.tx,
            c.redirect_failed,
            c.aborted,
            c.traps,
            c.invalid
        ),
        (1, 2, 2, 1, 2, 1, 1)
    );
    assert_eq!(c.frames(), 9);
    assert!(device.inner_mut().rx.is_empty());
}

#[test]
fn a_loopback_reflecting_tx_frames_does_not_hold_the_stack() {
    // XDP_TX on a loopback: every frame comes straight back; each receive call stops after a
    // burst instead of spinning forever.
    let insns = asm("mov %r0, 3\nexit");
    let mut device: XdpDevice<_, _, 512> =
        XdpDevice::new(Loopback::new(Medium::Ethernet), engine(&insns));
    device
        .inner_mut()
        .transmit(Instant::from_millis(0))
        .unwrap()
        .consume(60, |b| b.fill(0x5a));
    assert!(device.receive(Instant::from_millis(0)).is_none());
    assert_eq!(device.counters().tx, BURST as u64);
}
