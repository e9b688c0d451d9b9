//! The driver-facing trait: a port's descriptor rings and the ownership of its buffers.

/// The index of one buffer of a [`PacketRing`]. Buffers are fixed memory owned by the ring;
/// only their ownership moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufId(pub u16);

/// A frame in a buffer: which buffer, where the frame starts and how long it is.
///
/// The bytes before `data` are headroom (room for a program to push headers with
/// `bpf_xdp_adjust_head`), the bytes after `data + len` tailroom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Desc {
    /// The buffer that holds the frame.
    pub buf: BufId,
    /// Offset of the frame's first byte in the buffer (the headroom before it).
    pub data: u16,
    /// Length of the frame in bytes.
    pub len: u16,
}

const _: () = assert!(core::mem::size_of::<Desc>() == 6);

impl Desc {
    /// The frame's byte range in its buffer.
    #[inline]
    pub fn range(&self) -> core::ops::Range<usize> {
        let start = self.data as usize;
        start..start + self.len as usize
    }
}

/// One port of a device: a receive ring, a transmit ring and a pool of fixed buffers, the way a
/// NIC or MAC driver exposes its DMA rings.
///
/// Frames live in buffers that are named by [`BufId`] and described by [`Desc`]. At every
/// moment each buffer is in exactly one place: free in the pool, received and waiting in the
/// receive ring, queued in the transmit ring, or **lent** to the caller (the runtime). Only a
/// lent buffer is the caller's to read, write or move; the operations below are the only way its
/// ownership changes:
///
/// | operation | before | after |
/// |---|---|---|
/// | [`receive`](PacketRing::receive) | receive ring | lent to the caller |
/// | [`alloc`](PacketRing::alloc) | free pool | lent to the caller |
/// | [`transmit`](PacketRing::transmit) `Ok` | lent | transmit ring (the driver's until sent, then free) |
/// | [`transmit`](PacketRing::transmit) `Err(desc)` | lent | still lent: the caller gets it back |
/// | [`recycle`](PacketRing::recycle) | lent | free pool (ready for the receive side) |
///
/// # What the driver guarantees
///
/// - [`receive`](PacketRing::receive) hands out each received frame once, in arrival order,
///   with `data + len` inside its buffer.
/// - [`buffer`](PacketRing::buffer) of a lent buffer is the **whole** buffer, headroom and
///   tailroom included, the same memory every time until the buffer is given back. For an id the
///   caller does not hold it returns an empty slice; it never panics.
/// - [`transmit`](PacketRing::transmit) either queues the frame or hands the descriptor back
///   unchanged (transmit ring full): a buffer is never dropped. A queued buffer returns to the
///   free pool when it has been sent.
/// - [`recycle`](PacketRing::recycle) of an id the caller does not hold is ignored.
/// - Nothing blocks, allocates or panics.
///
/// The ownership cycle on [`MemRing`](crate::MemRing), the in-memory ring of tests and host
/// tools:
///
/// ```
/// use nanobpf_hal::{MemRing, PacketRing};
///
/// let mut ring: MemRing<4, 512> = MemRing::new();
/// ring.inject(&[0xab; 60]).expect("a free buffer takes the frame");
///
/// // Received: the buffer is lent to the caller, who may read and rewrite the frame in place.
/// let desc = ring.receive().expect("one frame waits");
/// let frame = &mut ring.buffer(desc.buf)[desc.range()];
/// assert_eq!(frame.len(), 60);
/// frame[0] = 0x01;
///
/// // Transmitted: the buffer is the driver's until sent, then free again.
/// ring.transmit(desc).expect("the transmit ring has room");
/// let mut sent = Vec::new();
/// ring.drain_tx(|f| sent.push(f.to_vec()));
/// assert_eq!(sent[0][0], 0x01);
/// assert!(ring.receive().is_none());
/// ```
///
/// # What the runtime guarantees
///
/// - It only touches buffers it holds, and only through [`buffer`](PacketRing::buffer).
/// - Every buffer it receives or allocates goes back exactly once, by
///   [`transmit`](PacketRing::transmit) or [`recycle`](PacketRing::recycle), before its call
///   (a poll) returns: it never keeps a buffer across calls, so no buffer is lost or leaked.
/// - A descriptor it transmits lies inside the buffer it names.
///
/// The trait is object safe: a runner takes other ports as `&mut dyn PacketRing`.
pub trait PacketRing {
    /// The port's interface index: what `ingress_ifindex` reads and what a device map names as a
    /// redirect target. Distinct ports have distinct indexes; 0 means none.
    fn ifindex(&self) -> u32;

    /// The receive queue this ring serves (`rx_queue_index`); 0 by default.
    fn rx_queue(&self) -> u32 {
        0
    }

    /// Takes the next received frame; its buffer is now lent to the caller. `None` when the
    /// receive ring is empty.
    fn receive(&mut self) -> Option<Desc>;

    /// The whole memory of lent buffer `buf` (headroom and tailroom included); an empty slice
    /// for a buffer the caller does not hold.
    fn buffer(&mut self, buf: BufId) -> &mut [u8];

    /// Queues a lent buffer's frame for transmission; the buffer is the driver's again.
    ///
    /// # Errors
    ///
    /// Hands `desc` back, still lent to the caller, when the transmit ring has no free slot (or
    /// the descriptor is not one the caller may transmit). The caller must then recycle it or
    /// try again.
    fn transmit(&mut self, desc: Desc) -> Result<(), Desc>;

    /// Gives a lent buffer back to the free pool, for the receive side to fill again.
    fn recycle(&mut self, buf: BufId);

    /// Takes a free buffer, for a frame the caller writes itself (a redirected copy). The
    /// descriptor's `data` is where the frame should start (the ring's headroom) and `len` the
    /// room from there to the end of the buffer. `None` when the pool is empty.
    fn alloc(&mut self) -> Option<Desc>;
}

impl<R: PacketRing + ?Sized> PacketRing for &mut R {
    fn ifindex(&self) -> u32 {
        (**self).ifindex()
    }
    fn rx_queue(&self) -> u32 {
        (**self).rx_queue()
    }
    fn receive(&mut self) -> Option<Desc> {
        (**self).receive()
    }
    fn buffer(&mut self, buf: BufId) -> &mut [u8] {
        (**self).buffer(buf)
    }
    fn transmit(&mut self, desc: Desc) -> Result<(), Desc> {
        (**self).transmit(desc)
    }
    fn recycle(&mut self, buf: BufId) {
        (**self).recycle(buf)
    }
    fn alloc(&mut self) -> Option<Desc> {
        (**self).alloc()
    }
}
