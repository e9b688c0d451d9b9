//! The deploy image's network: one LAN9118 shared by the control channel and the data path.
//!
//! [`Split`] sits between the driver and its two users. As the XDP runner's [`PacketRing`]
//! it hands on every received frame except the control channel's: UDP to the board's
//! address and control port, and ARP about the board's address. Those it keeps (one at a
//! time; the runner's batch ends there) for smoltcp, to which it is a `phy::Device`. So the
//! control channel does not go through the program an operator uploads: no program, however
//! wrong, can cut the operator off, and the runner's counters and the program's maps count
//! data traffic only.
//!
//! [`UdpChannel`] is the control channel's transport ([`Datagrams`]) over a smoltcp UDP
//! socket. No `unsafe` here: the driver holds it all.

use nanobpf_control::Datagrams;
use nanobpf_hal::{BufId, Desc, PacketRing};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::IpEndpoint;

use crate::lan9118::{Lan9118, SendError, MTU};

const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const IP_PROTO_UDP: u8 = 17;

/// Which frames belong to the control channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlFilter {
    /// The board's IPv4 address.
    pub addr: [u8; 4],
    /// The control channel's UDP port.
    pub port: u16,
}

impl ControlFilter {
    /// Whether `frame` is for the control channel: an unfragmented IPv4 UDP datagram to
    /// [`addr`](Self::addr) and [`port`](Self::port), or an ARP packet whose target is
    /// [`addr`](Self::addr).
    pub fn matches(&self, frame: &[u8]) -> bool {
        let at = |r: core::ops::Range<usize>| frame.get(r).unwrap_or(&[]);
        let ethertype = at(12..14);
        if ethertype == ETHERTYPE_ARP {
            // Target protocol address: bytes 24..28 of the ARP packet (IPv4 over Ethernet).
            return at(38..42) == self.addr;
        }
        if ethertype != ETHERTYPE_IPV4 {
            return false;
        }
        let ip = frame.get(14..).unwrap_or(&[]);
        let (Some(&vihl), Some(&proto)) = (ip.first(), ip.get(9)) else {
            return false;
        };
        let ihl = usize::from(vihl & 0x0f) * 4;
        // More fragments, or a fragment offset: not a whole datagram.
        let fragment = at(20..22) != [0, 0] && at(20..22) != [0x40, 0];
        if vihl >> 4 != 4 || ihl < 20 || proto != IP_PROTO_UDP || fragment {
            return false;
        }
        let dst_port = ip.get(ihl + 2..ihl + 4).unwrap_or(&[]);
        ip.get(16..20) == Some(&self.addr[..]) && dst_port == self.port.to_be_bytes()
    }
}

/// A gratuitous ARP request for `addr` at `mac`, broadcast.
fn gratuitous_arp(mac: [u8; 6], addr: [u8; 4]) -> [u8; 42] {
    let mut f = [0u8; 42];
    let parts: [(usize, &[u8]); 9] = [
        (0, &[0xff; 6]),
        (6, &mac),
        (12, &ETHERTYPE_ARP),
        // Ethernet, IPv4, 6- and 4-byte addresses, a request.
        (14, &[0, 1, 8, 0, 6, 4, 0, 1]),
        (22, &mac),
        (28, &addr),
        (32, &[0; 6]),
        (38, &addr),
        (42, &[]),
    ];
    for (at, bytes) in parts {
        if let Some(to) = f.get_mut(at..at + bytes.len()) {
            to.copy_from_slice(bytes);
        }
    }
    f
}

/// The driver split between the XDP runner (its [`PacketRing`]) and smoltcp (its
/// `phy::Device`); see the module's documentation.
pub struct Split<'n, const N: usize> {
    nic: &'n mut Lan9118<N>,
    filter: ControlFilter,
    /// A control frame received and not yet given to smoltcp (its buffer stays lent).
    held: Option<Desc>,
    rx: [u8; MTU],
    tx: [u8; MTU],
    /// Control frames received.
    control: u32,
    /// Frames smoltcp asked to send that the driver refused.
    tx_failed: u32,
}

impl<const N: usize> core::fmt::Debug for Split<'_, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Split")
            .field("filter", &self.filter)
            .field("held", &self.held)
            .field("control", &self.control)
            .field("tx_failed", &self.tx_failed)
            .finish_non_exhaustive()
    }
}

impl<'n, const N: usize> Split<'n, N> {
    /// Splits `nic` (started) by `filter`.
    pub fn new(nic: &'n mut Lan9118<N>, filter: ControlFilter) -> Self {
        Split {
            nic,
            filter,
            held: None,
            rx: [0; MTU],
            tx: [0; MTU],
            control: 0,
            tx_failed: 0,
        }
    }

    /// Announces the board's address with a gratuitous ARP request (sender and target both
    /// the board's address), so that the network learns its MAC before the first request
    /// arrives instead of asking and holding that request meanwhile.
    ///
    /// # Errors
    /// The driver's.
    pub fn announce(&mut self, mac: [u8; 6]) -> Result<(), SendError> {
        self.nic.send(&gratuitous_arp(mac, self.filter.addr))
    }

    /// The driver.
    pub fn nic(&self) -> &Lan9118<N> {
        self.nic
    }

    /// Control frames received since start (given to smoltcp).
    pub fn control_frames(&self) -> u32 {
        self.control
    }

    /// Frames smoltcp sent that the driver refused (FIFO full or a bad length).
    pub fn tx_failed(&self) -> u32 {
        self.tx_failed
    }
}

impl<const N: usize> PacketRing for Split<'_, N> {
    fn ifindex(&self) -> u32 {
        self.nic.ifindex()
    }

    fn receive(&mut self) -> Option<Desc> {
        if self.held.is_some() {
            // smoltcp has not taken the last control frame: the batch ends here, frames
            // stay in order in the controller's FIFO.
            return None;
        }
        let desc = self.nic.receive()?;
        let frame = self.nic.buffer(desc.buf).get(desc.range()).unwrap_or(&[]);
        if self.filter.matches(frame) {
            self.held = Some(desc);
            self.control = self.control.wrapping_add(1);
            return None;
        }
        Some(desc)
    }

    fn buffer(&mut self, buf: BufId) -> &mut [u8] {
        if self.held.is_some_and(|d| d.buf == buf) {
            return &mut [];
        }
        self.nic.buffer(buf)
    }

    fn transmit(&mut self, desc: Desc) -> Result<(), Desc> {
        self.nic.transmit(desc)
    }

    fn recycle(&mut self, buf: BufId) {
        if self.held.is_none_or(|d| d.buf != buf) {
            self.nic.recycle(buf);
        }
    }

    fn alloc(&mut self) -> Option<Desc> {
        self.nic.alloc()
    }
}

/// A received control frame, copied out of the driver's buffer.
#[derive(Debug)]
pub struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.frame)
    }
}

/// A frame smoltcp sends: built in the split's buffer, then copied into the TX FIFO.
pub struct TxToken<'a, const N: usize> {
    nic: &'a mut Lan9118<N>,
    buf: &'a mut [u8; MTU],
    failed: &'a mut u32,
}

impl<const N: usize> core::fmt::Debug for TxToken<'_, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TxToken").finish_non_exhaustive()
    }
}

impl<const N: usize> phy::TxToken for TxToken<'_, N> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        // smoltcp never asks for more than the MTU it was given; clamp anyway.
        let frame = self.buf.get_mut(..len).unwrap_or_default();
        let r = f(frame);
        if let Err(SendError::Full | SendError::Length(_)) = self.nic.send(frame) {
            *self.failed = self.failed.wrapping_add(1);
        }
        r
    }
}

impl<const N: usize> phy::Device for Split<'_, N> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, N>
    where
        Self: 'a;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_, N>)> {
        let desc = self.held.take()?;
        let n = usize::from(desc.len);
        let copied = match (
            self.nic.buffer(desc.buf).get(desc.range()),
            self.rx.get_mut(..n),
        ) {
            (Some(from), Some(to)) => {
                to.copy_from_slice(from);
                true
            }
            _ => false,
        };
        self.nic.recycle(desc.buf);
        let frame = if copied {
            self.rx.get(..n).unwrap_or(&[])
        } else {
            &[]
        };
        Some((
            RxToken { frame },
            TxToken {
                nic: self.nic,
                buf: &mut self.tx,
                failed: &mut self.tx_failed,
            },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_, N>> {
        Some(TxToken {
            nic: self.nic,
            buf: &mut self.tx,
            failed: &mut self.tx_failed,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }
}

/// Why a control answer was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// The socket's transmit buffer is full, or the peer has no route.
    Send(udp::SendError),
}

/// The control channel's transport: a bound smoltcp UDP socket.
pub struct UdpChannel<'s, 'b> {
    socket: &'s mut udp::Socket<'b>,
    answer: Option<(u8, u8)>,
}

impl core::fmt::Debug for UdpChannel<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UdpChannel").finish_non_exhaustive()
    }
}

impl<'s, 'b> UdpChannel<'s, 'b> {
    /// The transport over `socket` (bound to the control port).
    pub fn new(socket: &'s mut udp::Socket<'b>) -> Self {
        UdpChannel {
            socket,
            answer: None,
        }
    }

    /// The kind and the status byte (bytes 3 and 10 of a frame, `docs/control.md`) of the
    /// last answer sent, for the embedder's own reports.
    pub fn last_answer(&self) -> Option<(u8, u8)> {
        self.answer
    }
}

impl Datagrams for UdpChannel<'_, '_> {
    type Peer = IpEndpoint;
    type Error = ChannelError;

    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<(usize, IpEndpoint)>, ChannelError> {
        let Ok((data, meta)) = self.socket.recv() else {
            return Ok(None);
        };
        // A datagram longer than `buf` is reported with its own length: the device then
        // sees no frame and counts it as dropped.
        let n = data.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), data.get(..n)) {
            to.copy_from_slice(from);
        }
        Ok(Some((data.len(), meta.endpoint)))
    }

    fn send(&mut self, bytes: &[u8], to: IpEndpoint) -> Result<(), ChannelError> {
        self.socket
            .send_slice(bytes, to)
            .map_err(ChannelError::Send)?;
        self.answer = bytes.get(3).copied().zip(bytes.get(10).copied());
        Ok(())
    }
}
