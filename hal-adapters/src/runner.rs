//! The XDP runner: takes frames from a port's receive ring, runs the program on each, and
//! carries out the verdict.

use nanobpf_core::{Redirect, XdpBuff};

use crate::engine::{XdpAction, XdpEngine};
use crate::ring::{Desc, PacketRing};

/// What happened to the frames a runner (or the smoltcp hook) processed.
///
/// Every processed frame is counted in exactly one of `aborted`, `drop`, `pass`, `tx`,
/// `tx_full`, `redirect`, `redirect_failed` and `invalid` (their sum is
/// [`Counters::frames`]); `traps` counts the runs among the `aborted` that stopped with a trap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// `XDP_ABORTED`, a return value that is no verdict, or a trap: dropped.
    pub aborted: u64,
    /// `XDP_DROP`: dropped.
    pub drop: u64,
    /// `XDP_PASS`: handed to the stack.
    pub pass: u64,
    /// `XDP_TX`: queued for transmission on the receiving port.
    pub tx: u64,
    /// `XDP_TX` with no free transmit slot: dropped.
    pub tx_full: u64,
    /// `XDP_REDIRECT`: copied to the target port and queued there, or (a CPU or XSK map's
    /// target) taken by the caller's `steer`.
    pub redirect: u64,
    /// `XDP_REDIRECT` that could not be carried out (no target chosen, no such port, no free
    /// buffer or transmit slot there, frame too long for its buffers): dropped.
    pub redirect_failed: u64,
    /// Runs that stopped with a trap (also counted in `aborted`).
    pub traps: u64,
    /// Frames whose descriptor did not fit its buffer (a driver bug), or that did not fit the
    /// hook's buffer: dropped without running the program.
    pub invalid: u64,
}

impl Counters {
    /// Frames processed: the sum of every outcome.
    pub fn frames(&self) -> u64 {
        self.aborted
            + self.drop
            + self.pass
            + self.tx
            + self.tx_full
            + self.redirect
            + self.redirect_failed
            + self.invalid
    }
}

/// The outcome of one run over a frame, before the caller acts on it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    /// Aborted or trapped (`trapped` says which).
    Aborted { trapped: bool },
    /// A verdict, the frame's new bounds in its buffer and the redirect target.
    Verdict {
        action: XdpAction,
        data: usize,
        data_end: usize,
        redirect: Option<Redirect>,
    },
}

/// Runs the program over the frame at `data..data_end` of `buf`.
pub(crate) fn run_frame<E: XdpEngine + ?Sized>(
    engine: &mut E,
    buf: &mut [u8],
    (data, data_end): (usize, usize),
    (ifindex, queue): (u32, u32),
) -> Outcome {
    let len = buf.len();
    let mut x = XdpBuff::new(buf, data, data_end - data);
    x.ingress_ifindex = ifindex;
    x.rx_queue_index = queue;
    let ret = engine.run(&mut x);
    let (data, data_end, redirect) = (x.data, x.data_end, x.redirect);
    match ret.map(XdpAction::from_ret) {
        Err(_) => Outcome::Aborted { trapped: true },
        Ok(None | Some(XdpAction::Aborted)) => Outcome::Aborted { trapped: false },
        // An engine that left the frame outside its buffer: nothing to act on.
        Ok(Some(_)) if data > data_end || data_end > len => Outcome::Aborted { trapped: false },
        Ok(Some(action)) => Outcome::Verdict {
            action,
            data,
            data_end,
            redirect,
        },
    }
}

impl Counters {
    pub(crate) fn count_aborted(&mut self, trapped: bool) {
        self.aborted += 1;
        if trapped {
            self.traps += 1;
        }
    }
}

/// Runs an XDP program over the frames of a port and carries out each verdict:
///
/// | verdict | what happens to the frame | counter |
/// |---|---|---|
/// | `XDP_ABORTED`, no verdict, trap | recycled | `aborted` (and `traps`) |
/// | `XDP_DROP` | recycled | `drop` |
/// | `XDP_PASS` | its bytes go to the caller's stack, then recycled | `pass` |
/// | `XDP_TX` | queued on the receiving port (recycled if its ring is full) | `tx` / `tx_full` |
/// | `XDP_REDIRECT` to a port (device map) | copied into a free buffer of the target port and queued there; the original recycled | `redirect` / `redirect_failed` |
/// | `XDP_REDIRECT` to a CPU or an AF_XDP socket (CPU map, XSK map) | its bytes go to the caller's `steer` with the target ([`XdpRunner::poll_steered`]), then recycled | `redirect` if `steer` took it, else `redirect_failed` |
///
/// Every buffer taken from a port goes back to it before [`poll`](XdpRunner::poll) returns.
#[derive(Clone, Debug)]
pub struct XdpRunner<E> {
    engine: E,
    counters: Counters,
}

impl<E: XdpEngine> XdpRunner<E> {
    /// A runner over `engine` with zero counters.
    pub const fn new(engine: E) -> Self {
        XdpRunner {
            engine,
            counters: Counters {
                aborted: 0,
                drop: 0,
                pass: 0,
                tx: 0,
                tx_full: 0,
                redirect: 0,
                redirect_failed: 0,
                traps: 0,
                invalid: 0,
            },
        }
    }

    /// What happened so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    /// The engine.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// The engine, to change what it runs.
    pub fn engine_mut(&mut self) -> &mut E {
        &mut self.engine
    }

    /// Processes up to `budget` frames from `rx`'s receive ring and returns how many it
    /// processed (fewer when the ring ran empty).
    ///
    /// `ports` are the redirect targets, found by [`PacketRing::ifindex`]; a redirect to `rx`'s
    /// own index transmits on `rx`. `stack` receives the bytes of each passed frame.
    ///
    /// Redirects to a CPU or an AF_XDP socket fail (`redirect_failed`); use
    /// [`poll_steered`](XdpRunner::poll_steered) to take them.
    pub fn poll<R: PacketRing + ?Sized>(
        &mut self,
        rx: &mut R,
        ports: &mut [&mut dyn PacketRing],
        stack: impl FnMut(&[u8]),
        budget: usize,
    ) -> usize {
        self.poll_steered(rx, ports, stack, |_, _| false, budget)
    }

    /// As [`poll`](XdpRunner::poll), and a frame redirected through a CPU map or an XSK map
    /// goes to `steer` with its target ([`Redirect::Cpu`] with the CPU's index,
    /// [`Redirect::Xsk`] with the socket's slot) and its bytes; `steer` returns whether it
    /// took the frame (a copy: the buffer is recycled after the call).
    pub fn poll_steered<R: PacketRing + ?Sized>(
        &mut self,
        rx: &mut R,
        ports: &mut [&mut dyn PacketRing],
        mut stack: impl FnMut(&[u8]),
        mut steer: impl FnMut(Redirect, &[u8]) -> bool,
        budget: usize,
    ) -> usize {
        let mut done = 0;
        while done < budget {
            let Some(desc) = rx.receive() else { break };
            done += 1;
            self.handle(rx, ports, (&mut stack, &mut steer), desc);
        }
        done
    }

    fn handle<R: PacketRing + ?Sized>(
        &mut self,
        rx: &mut R,
        ports: &mut [&mut dyn PacketRing],
        (stack, steer): (
            &mut impl FnMut(&[u8]),
            &mut impl FnMut(Redirect, &[u8]) -> bool,
        ),
        desc: Desc,
    ) {
        let port = (rx.ifindex(), rx.rx_queue());
        let buf = rx.buffer(desc.buf);
        let range = desc.range();
        if range.end > buf.len() {
            self.counters.invalid += 1;
            rx.recycle(desc.buf);
            return;
        }
        let (action, data, data_end, redirect) =
            match run_frame(&mut self.engine, buf, (range.start, range.end), port) {
                Outcome::Aborted { trapped } => {
                    self.counters.count_aborted(trapped);
                    rx.recycle(desc.buf);
                    return;
                }
                Outcome::Verdict {
                    action,
                    data,
                    data_end,
                    redirect,
                } => (action, data, data_end, redirect),
            };
        // Buffers are at most u16::MAX bytes long (descriptor offsets are u16), so the new
        // bounds, which lie inside the buffer, fit.
        let frame = match (u16::try_from(data), u16::try_from(data_end - data)) {
            (Ok(data), Ok(len)) => Desc {
                buf: desc.buf,
                data,
                len,
            },
            _ => {
                self.counters.invalid += 1;
                rx.recycle(desc.buf);
                return;
            }
        };
        match action {
            XdpAction::Aborted => {
                self.counters.count_aborted(false);
                rx.recycle(desc.buf);
            }
            XdpAction::Drop => {
                self.counters.drop += 1;
                rx.recycle(desc.buf);
            }
            XdpAction::Pass => {
                if let Some(bytes) = rx.buffer(desc.buf).get(frame.range()) {
                    stack(bytes);
                }
                self.counters.pass += 1;
                rx.recycle(desc.buf);
            }
            XdpAction::Tx => match rx.transmit(frame) {
                Ok(()) => self.counters.tx += 1,
                Err(back) => {
                    self.counters.tx_full += 1;
                    rx.recycle(back.buf);
                }
            },
            XdpAction::Redirect => {
                let sent = match redirect {
                    Some(target @ (Redirect::Cpu(_) | Redirect::Xsk(_))) => {
                        let took = rx
                            .buffer(desc.buf)
                            .get(frame.range())
                            .is_some_and(|bytes| steer(target, bytes));
                        rx.recycle(desc.buf);
                        took
                    }
                    Some(Redirect::Device(target)) if target == port.0 => {
                        match rx.transmit(frame) {
                            Ok(()) => true,
                            Err(back) => {
                                rx.recycle(back.buf);
                                false
                            }
                        }
                    }
                    Some(Redirect::Device(target)) => {
                        let sent = redirect_copy(rx, frame, ports, target);
                        rx.recycle(desc.buf);
                        sent
                    }
                    None => {
                        rx.recycle(desc.buf);
                        false
                    }
                };
                if sent {
                    self.counters.redirect += 1;
                } else {
                    self.counters.redirect_failed += 1;
                }
            }
        }
    }
}

/// Copies `frame` (a buffer of `rx`) into a free buffer of the port whose index is `target` and
/// queues it there; returns whether it did. Every buffer it takes from the target goes back.
fn redirect_copy<R: PacketRing + ?Sized>(
    rx: &mut R,
    frame: Desc,
    ports: &mut [&mut dyn PacketRing],
    target: u32,
) -> bool {
    let Some(port) = ports.iter_mut().find(|p| p.ifindex() == target) else {
        return false;
    };
    let Some(src) = rx.buffer(frame.buf).get(frame.range()) else {
        return false;
    };
    let Some(mut out) = port.alloc() else {
        return false;
    };
    let copied = src.len() <= out.len as usize
        && match port.buffer(out.buf).get_mut(out.data as usize..) {
            Some(dst) => match dst.get_mut(..src.len()) {
                Some(dst) => {
                    dst.copy_from_slice(src);
                    true
                }
                None => false,
            },
            None => false,
        };
    if !copied {
        port.recycle(out.buf);
        return false;
    }
    out.len = frame.len;
    match port.transmit(out) {
        Ok(()) => true,
        Err(back) => {
            port.recycle(back.buf);
            false
        }
    }
}

#[cfg(test)]
mod tests;
