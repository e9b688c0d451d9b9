//! An XDP hook in front of any smoltcp `phy::Device`: every received frame meets the program
//! before the stack sees it.

use smoltcp::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use smoltcp::time::Instant;

use crate::engine::{XdpAction, XdpEngine};
use crate::mem_ring::XDP_PACKET_HEADROOM;
use crate::runner::{run_frame, Counters, Outcome};

/// Frames the hook processes per [`Device::receive`] call at most, so a device that keeps
/// receiving (a loopback reflecting `XDP_TX` frames) cannot hold the stack forever.
const BURST: usize = 32;

/// A smoltcp device that runs an XDP program on every frame `inner` receives:
///
/// | verdict | what happens |
/// |---|---|
/// | `XDP_PASS` | smoltcp receives the frame (as the program left it) |
/// | `XDP_DROP` | discarded (`drop`) |
/// | `XDP_TX` | sent back out through `inner`'s transmit token (`tx`) |
/// | `XDP_REDIRECT` | discarded: there is no other port (`redirect_failed`) |
/// | `XDP_ABORTED`, no verdict, trap | discarded (`aborted`, `traps`) |
///
/// Frames are copied into one scratch buffer of `BUF` bytes inside the device, at a headroom of
/// [`XDP_PACKET_HEADROOM`] (clamped to half the buffer), so the program may grow the head or
/// tail; frames longer than the rest are discarded (`invalid`) and the advertised MTU is
/// clamped to fit. Transmits from smoltcp go straight to `inner`: the hook is on the receive
/// side only, as XDP is. Nothing allocates.
#[derive(Debug)]
pub struct XdpDevice<D, E, const BUF: usize> {
    inner: D,
    engine: E,
    scratch: [u8; BUF],
    headroom: usize,
    /// A passed frame (bounds in `scratch`) waiting for a transmit token to go with it.
    pending: Option<(usize, usize)>,
    counters: Counters,
    ifindex: u32,
}

impl<D: Device, E: XdpEngine, const BUF: usize> XdpDevice<D, E, BUF> {
    /// A hook running `engine` in front of `inner`, as interface index 1.
    pub fn new(inner: D, engine: E) -> Self {
        const { assert!(BUF >= 64, "buffer too small for a frame") }
        XdpDevice {
            inner,
            engine,
            scratch: [0; BUF],
            headroom: XDP_PACKET_HEADROOM.min(BUF / 2),
            pending: None,
            counters: Counters::default(),
            ifindex: 1,
        }
    }

    /// Sets the interface index programs see as `ingress_ifindex`.
    pub fn with_ifindex(mut self, ifindex: u32) -> Self {
        self.ifindex = ifindex;
        self
    }

    /// What happened to the frames so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The engine, to change what it runs.
    pub fn engine_mut(&mut self) -> &mut E {
        &mut self.engine
    }

    /// The longest frame the hook accepts.
    pub fn max_frame_len(&self) -> usize {
        BUF - self.headroom
    }

    /// Receives frames from `inner` and runs the program on each until one passes (left in
    /// `pending`), `inner` has none, or the burst is spent.
    fn pull(&mut self, timestamp: Instant) {
        for _ in 0..BURST {
            let Some((rx, tx)) = self.inner.receive(timestamp) else {
                return;
            };
            let start = self.headroom;
            let scratch = &mut self.scratch;
            let end = rx.consume(|frame| {
                let end = start.checked_add(frame.len()).filter(|&e| e <= BUF)?;
                scratch.get_mut(start..end)?.copy_from_slice(frame);
                Some(end)
            });
            let Some(end) = end else {
                self.counters.invalid += 1;
                continue;
            };
            let port = (self.ifindex, 0);
            match run_frame(&mut self.engine, scratch, (start, end), port) {
                Outcome::Aborted { trapped } => self.counters.count_aborted(trapped),
                Outcome::Verdict {
                    action,
                    data,
                    data_end,
                    ..
                } => match action {
                    XdpAction::Pass => {
                        self.counters.pass += 1;
                        self.pending = Some((data, data_end));
                        return;
                    }
                    XdpAction::Tx => {
                        if let Some(frame) = scratch.get(data..data_end) {
                            tx.consume(frame.len(), |out| out.copy_from_slice(frame));
                        }
                        self.counters.tx += 1;
                    }
                    XdpAction::Drop => self.counters.drop += 1,
                    XdpAction::Redirect => self.counters.redirect_failed += 1,
                    XdpAction::Aborted => self.counters.count_aborted(false),
                },
            }
        }
    }
}

impl<D: Device, E: XdpEngine, const BUF: usize> Device for XdpDevice<D, E, BUF> {
    type RxToken<'a>
        = XdpRxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if self.pending.is_none() {
            self.pull(timestamp);
        }
        let (start, end) = self.pending?;
        // A passed frame waits here until `inner` can give a transmit token to pair it with.
        let tx = self.inner.transmit(timestamp)?;
        self.pending = None;
        let frame = self.scratch.get(start..end).unwrap_or(&[]);
        Some((XdpRxToken { frame }, tx))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(timestamp)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = self.inner.capabilities();
        caps.max_transmission_unit = caps.max_transmission_unit.min(self.max_frame_len());
        caps
    }
}

/// A frame the program passed, handed to smoltcp.
#[derive(Debug)]
pub struct XdpRxToken<'a> {
    frame: &'a [u8],
}

impl RxToken for XdpRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.frame)
    }
}

#[cfg(test)]
mod tests;
