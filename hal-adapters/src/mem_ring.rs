//! An in-memory descriptor ring: fixed buffers with headroom, like a NIC's DMA ring, fed and
//! drained by the host (a capture replay, a test, a board's frame generator).

use crate::ring::{BufId, Desc, PacketRing};

/// Linux's `XDP_PACKET_HEADROOM`: the room before a received frame for pushed headers.
pub const XDP_PACKET_HEADROOM: usize = 256;

/// Where one buffer of a [`MemRing`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    Rx,
    Tx,
    Lent,
}

/// A first-in first-out queue of up to `N` items, in a fixed array.
#[derive(Clone, Debug)]
struct Fifo<T, const N: usize> {
    items: [T; N],
    head: usize,
    len: usize,
}

impl<T: Copy, const N: usize> Fifo<T, N> {
    const fn new(fill: T) -> Self {
        Fifo {
            items: [fill; N],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, item: T) -> Result<(), T> {
        if self.len >= N {
            return Err(item);
        }
        let at = (self.head + self.len) % N;
        match self.items.get_mut(at) {
            Some(slot) => *slot = item,
            None => return Err(item),
        }
        self.len += 1;
        Ok(())
    }

    fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = *self.items.get(self.head)?;
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(item)
    }
}

/// The free buffers: those never handed out yet (`taken..N`, handed out first, in order), then
/// those returned, first in first out. The same order as one queue filled with `0..N`, but
/// empty (all zeros) until used, so a ring in a `static` costs no flash.
#[derive(Clone, Debug)]
struct Pool<const N: usize> {
    taken: usize,
    returned: Fifo<BufId, N>,
}

impl<const N: usize> Pool<N> {
    const fn new() -> Self {
        Pool {
            taken: 0,
            returned: Fifo::new(BufId(0)),
        }
    }

    fn len(&self) -> usize {
        N - self.taken + self.returned.len
    }

    fn push(&mut self, id: BufId) -> Result<(), BufId> {
        if self.len() >= N {
            return Err(id);
        }
        self.returned.push(id)
    }

    fn pop(&mut self) -> Option<BufId> {
        if self.taken < N {
            let id = BufId(self.taken as u16);
            self.taken += 1;
            return Some(id);
        }
        self.returned.pop()
    }
}

/// Where the buffers of a [`MemRing`] are; [`MemRing::accounted`] returns it.
///
/// Every buffer is in exactly one place, so `free + rx_pending + tx_pending + lent` is always
/// the ring's buffer count; the four are counted independently, so a lost buffer shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counts {
    /// In the free pool.
    pub free: usize,
    /// Received, waiting in the receive ring.
    pub rx_pending: usize,
    /// Queued in the transmit ring.
    pub tx_pending: usize,
    /// Lent to the runtime.
    pub lent: usize,
}

impl Counts {
    /// All four added up.
    pub fn total(&self) -> usize {
        self.free + self.rx_pending + self.tx_pending + self.lent
    }
}

/// Why [`MemRing::inject`] refused a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InjectErrorKind {
    /// Every buffer is in use.
    NoFreeBuffer,
    /// The frame is longer than a buffer holds after its headroom.
    TooLong,
}

/// A frame [`MemRing::inject`] refused, handed back with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InjectError<'f> {
    /// Why.
    pub kind: InjectErrorKind,
    /// The frame, untouched.
    pub frame: &'f [u8],
}

impl core::fmt::Display for InjectError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.kind {
            InjectErrorKind::NoFreeBuffer => {
                write!(f, "no free buffer for a {}-byte frame", self.frame.len())
            }
            InjectErrorKind::TooLong => {
                write!(f, "a {}-byte frame does not fit a buffer", self.frame.len())
            }
        }
    }
}

impl core::error::Error for InjectError<'_> {}

/// An in-memory [`PacketRing`] of `N` buffers of `BUF` bytes each, with `const fn new()` so it
/// can live in a `static`.
///
/// Received frames are copied in at the headroom offset ([`XDP_PACKET_HEADROOM`] by default,
/// clamped to half a buffer for small buffers), so a frame may be up to `BUF - headroom` bytes.
/// The transmit ring holds up to `N` frames, or fewer with [`MemRing::with_tx_slots`] (to model
/// a small transmit ring).
///
/// The host side [`inject`](MemRing::inject)s received frames and
/// [`drain_tx`](MemRing::drain_tx)s transmitted ones; [`accounted`](MemRing::accounted) says
/// where every buffer is.
#[derive(Clone)]
pub struct MemRing<const N: usize, const BUF: usize> {
    bufs: [[u8; BUF]; N],
    slots: [Slot; N],
    free: Pool<N>,
    rx: Fifo<Desc, N>,
    tx: Fifo<Desc, N>,
    /// `N` minus the transmit ring's size (0 by default: settings are stored as differences
    /// from their defaults, so that [`MemRing::new`] is all zeros).
    tx_slots_short: usize,
    /// The headroom minus the default headroom, wrapping.
    headroom_off: usize,
    /// The interface index minus 1, wrapping.
    ifindex_off: u32,
    rx_queue: u32,
}

impl<const N: usize, const BUF: usize> core::fmt::Debug for MemRing<N, BUF> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemRing")
            .field("buffers", &N)
            .field("buffer_size", &BUF)
            .field("headroom", &self.headroom())
            .field("ifindex", &self.ifindex())
            .field("counts", &self.accounted())
            .finish()
    }
}

impl<const N: usize, const BUF: usize> Default for MemRing<N, BUF> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const BUF: usize> MemRing<N, BUF> {
    /// Bytes of storage of one ring.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// The default headroom: [`XDP_PACKET_HEADROOM`], or half a buffer for small buffers.
    const DEFAULT_HEADROOM: usize = if BUF >= 2 * XDP_PACKET_HEADROOM {
        XDP_PACKET_HEADROOM
    } else {
        BUF / 2
    };

    /// A ring with every buffer free, interface index 1, queue 0, the default headroom and a
    /// transmit ring of `N` slots. Its bytes are all zeros, so a `static` of it goes to
    /// `.bss` and costs no flash.
    pub const fn new() -> Self {
        const {
            assert!(N > 0 && N <= u16::MAX as usize, "buffer count out of range");
            assert!(
                BUF > 0 && BUF <= u16::MAX as usize,
                "buffer size out of range"
            );
        }
        let empty = Desc {
            buf: BufId(0),
            data: 0,
            len: 0,
        };
        MemRing {
            bufs: [[0; BUF]; N],
            slots: [Slot::Free; N],
            free: Pool::new(),
            rx: Fifo::new(empty),
            tx: Fifo::new(empty),
            tx_slots_short: 0,
            headroom_off: 0,
            ifindex_off: 0,
            rx_queue: 0,
        }
    }

    /// Whether every byte of every field is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    fn is_zeroed(&self) -> bool {
        let desc_zero = |d: &Desc| d.buf.0 == 0 && d.data == 0 && d.len == 0;
        let fifo_zero =
            |f: &Fifo<Desc, N>| f.head == 0 && f.len == 0 && f.items.iter().all(desc_zero);
        self.bufs.as_flattened().iter().all(|&b| b == 0)
            && self.slots.iter().all(|&s| s as u8 == 0)
            && self.free.taken == 0
            && self.free.returned.head == 0
            && self.free.returned.len == 0
            && self.free.returned.items.iter().all(|b| b.0 == 0)
            && fifo_zero(&self.rx)
            && fifo_zero(&self.tx)
            && self.tx_slots_short == 0
            && self.headroom_off == 0
            && self.ifindex_off == 0
            && self.rx_queue == 0
    }

    /// Sets the interface index.
    pub const fn with_ifindex(mut self, ifindex: u32) -> Self {
        self.ifindex_off = ifindex.wrapping_sub(1);
        self
    }

    /// Sets the receive queue index programs see.
    pub const fn with_rx_queue(mut self, queue: u32) -> Self {
        self.rx_queue = queue;
        self
    }

    /// Sets the headroom before each injected frame, clamped to the buffer size.
    pub const fn with_headroom(mut self, headroom: usize) -> Self {
        let headroom = if headroom > BUF { BUF } else { headroom };
        self.headroom_off = headroom.wrapping_sub(Self::DEFAULT_HEADROOM);
        self
    }

    /// Sets how many frames the transmit ring holds, clamped to `1..=N`.
    pub const fn with_tx_slots(mut self, slots: usize) -> Self {
        let slots = if slots == 0 {
            1
        } else if slots > N {
            N
        } else {
            slots
        };
        self.tx_slots_short = N - slots;
        self
    }

    /// How many frames the transmit ring holds.
    const fn tx_slots(&self) -> usize {
        N - self.tx_slots_short
    }

    /// The headroom before each injected frame.
    pub const fn headroom(&self) -> usize {
        Self::DEFAULT_HEADROOM.wrapping_add(self.headroom_off)
    }

    /// The longest frame [`inject`](MemRing::inject) accepts.
    pub const fn max_frame_len(&self) -> usize {
        BUF - self.headroom()
    }

    /// Copies `frame` into a free buffer and queues it on the receive ring, as a NIC does when a
    /// frame arrives.
    ///
    /// # Errors
    ///
    /// Hands the frame back with [`InjectErrorKind::TooLong`] when it is longer than
    /// [`max_frame_len`](MemRing::max_frame_len), and with [`InjectErrorKind::NoFreeBuffer`]
    /// when every buffer is in use.
    pub fn inject<'f>(&mut self, frame: &'f [u8]) -> Result<(), InjectError<'f>> {
        let refuse = |kind| InjectError { kind, frame };
        let start = self.headroom();
        let end = start
            .checked_add(frame.len())
            .filter(|&e| e <= BUF)
            .ok_or(refuse(InjectErrorKind::TooLong))?;
        let len = u16::try_from(frame.len()).map_err(|_| refuse(InjectErrorKind::TooLong))?;
        let id = self
            .free
            .pop()
            .ok_or(refuse(InjectErrorKind::NoFreeBuffer))?;
        let i = id.0 as usize;
        if let Some(dst) = self.bufs.get_mut(i).and_then(|b| b.get_mut(start..end)) {
            dst.copy_from_slice(frame);
        }
        let desc = Desc {
            buf: id,
            data: start as u16,
            len,
        };
        // The receive ring has a slot per buffer, so this push cannot fail; if it ever did the
        // buffer would go back to the pool rather than be lost.
        match self.rx.push(desc) {
            Ok(()) => {
                self.set(id, Slot::Rx);
                Ok(())
            }
            Err(_) => {
                let _ = self.free.push(id);
                Err(refuse(InjectErrorKind::NoFreeBuffer))
            }
        }
    }

    /// Takes every queued transmit frame, oldest first, hands its bytes to `sent`, and returns
    /// its buffer to the free pool, as a NIC does when it has sent them. Returns how many.
    pub fn drain_tx(&mut self, mut sent: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while let Some(desc) = self.tx.pop() {
            if let Some(bytes) = self
                .bufs
                .get(desc.buf.0 as usize)
                .and_then(|b| b.get(desc.range()))
            {
                sent(bytes);
            }
            self.set(desc.buf, Slot::Free);
            let _ = self.free.push(desc.buf);
            n += 1;
        }
        n
    }

    /// Where every buffer is now.
    pub fn accounted(&self) -> Counts {
        Counts {
            free: self.free.len(),
            rx_pending: self.rx.len,
            tx_pending: self.tx.len,
            lent: self.slots.iter().filter(|&&s| s == Slot::Lent).count(),
        }
    }

    fn slot(&self, id: BufId) -> Option<Slot> {
        self.slots.get(id.0 as usize).copied()
    }

    fn set(&mut self, id: BufId, to: Slot) {
        if let Some(s) = self.slots.get_mut(id.0 as usize) {
            *s = to;
        }
    }
}

impl<const N: usize, const BUF: usize> PacketRing for MemRing<N, BUF> {
    fn ifindex(&self) -> u32 {
        self.ifindex_off.wrapping_add(1)
    }

    fn rx_queue(&self) -> u32 {
        self.rx_queue
    }

    fn receive(&mut self) -> Option<Desc> {
        let desc = self.rx.pop()?;
        self.set(desc.buf, Slot::Lent);
        Some(desc)
    }

    fn buffer(&mut self, buf: BufId) -> &mut [u8] {
        if self.slot(buf) != Some(Slot::Lent) {
            return &mut [];
        }
        match self.bufs.get_mut(buf.0 as usize) {
            Some(b) => b,
            None => &mut [],
        }
    }

    fn transmit(&mut self, desc: Desc) -> Result<(), Desc> {
        let in_bounds = desc.range().end <= BUF;
        if self.slot(desc.buf) != Some(Slot::Lent) || !in_bounds || self.tx.len >= self.tx_slots() {
            return Err(desc);
        }
        self.tx.push(desc)?;
        self.set(desc.buf, Slot::Tx);
        Ok(())
    }

    fn recycle(&mut self, buf: BufId) {
        if self.slot(buf) == Some(Slot::Lent) && self.free.push(buf).is_ok() {
            self.set(buf, Slot::Free);
        }
    }

    fn alloc(&mut self) -> Option<Desc> {
        let buf = self.free.pop()?;
        self.set(buf, Slot::Lent);
        Some(Desc {
            buf,
            data: self.headroom() as u16,
            len: (BUF - self.headroom()) as u16,
        })
    }
}

#[cfg(test)]
mod tests;
