//! A driver for the MPS2's SMSC LAN9118-family Ethernet controller (a LAN9220 on the real
//! board, QEMU's `lan9118` model at `0x4020_0000` on `mps2-an385`/`mps2-an386`), implementing
//! [`PacketRing`] over its receive and transmit FIFOs.
//!
//! The controller has no descriptor DMA: a received frame is a status word in the RX status
//! FIFO (bits 29:16 the length including the 4-byte FCS) and its bytes, little-endian in 32-bit
//! words, in the RX data FIFO. [`Lan9118::receive`] pops one status, copies the frame into a
//! free buffer of the driver's pool after [`HEADROOM`] bytes, and drains the FCS word(s).
//! A frame that does not fit a buffer, or that the controller flags as bad, is read out of the
//! FIFO and counted in [`Lan9118::skipped`].
//!
//! Bring-up is what QEMU's model needs (identify, soft reset, enable the receiver); a real
//! LAN9220 also wants `PMT_CTRL.READY` awaited after reset and its PHY auto-negotiated.
//!
//! Transmit ([`Lan9118::send`], and [`PacketRing::transmit`] over it) pushes a frame into the
//! TX data FIFO as the datasheet describes: command word A (first and last segment, the
//! buffer's length, no start offset), command word B (a tag and the frame's length), then
//! the frame's bytes in little-endian words. The controller appends the FCS and pads short
//! frames. The frame is copied, so its buffer is free again when `send` returns. Before
//! writing, `send` reads the FIFO's free space (`TX_FIFO_INF.TDFREE`) and hands the frame back
//! when it does not fit; QEMU 7.2 reports that space in words (the datasheet, and QEMU since
//! 8.1, in bytes), and the check takes it as words, which is right for QEMU and conservative
//! only there: a port to a real LAN9220 compares it with bytes. TX status words are not
//! kept (`TX_CFG.TXSAO`), so the status FIFO never stops the transmitter.
//!
//! All register access is in this module, through [`Regs`], and is the board's only `unsafe`.
#![allow(unsafe_code)]

use nanobpf_hal::{BufId, Desc, PacketRing};

/// The controller's base address on the MPS2 (AN385, AN386).
pub const BASE: usize = 0x4020_0000;
/// Bytes before the frame in each buffer, for programs that push headers (as Linux gives XDP).
pub const HEADROOM: usize = 256;
/// Bytes of frame each buffer holds (a full Ethernet frame and its FCS).
pub const MTU: usize = 1536;
/// A buffer: headroom, the frame, and room for the FCS word(s) the FIFO delivers after it.
const BUF_SIZE: usize = HEADROOM + MTU + 8;

const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const ID_REV: usize = 0x50;
const BYTE_TEST: usize = 0x64;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7c;
const TX_FIFO_INF: usize = 0x80;
const MAC_CSR_CMD: usize = 0xa4;
const MAC_CSR_DATA: usize = 0xa8;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const MAC_CSR_BUSY: u32 = 1 << 31;
const MAC_CSR_READ: u32 = 1 << 30;
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_CR_PRMS: u32 = 1 << 18;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_RXEN: u32 = 1 << 2;
/// TX_CFG: transmitter on, and TX status words may overrun (nothing reads them).
const TX_CFG_TX_ON: u32 = 1 << 1;
const TX_CFG_TXSAO: u32 = 1 << 2;
/// TX command A: the buffer is the frame's first and its last segment.
const TX_CMD_A_FIRST: u32 = 1 << 13;
const TX_CMD_A_LAST: u32 = 1 << 12;
/// The shortest frame `send` takes: an Ethernet header.
const MIN_FRAME: usize = 14;
/// RX status: error summary.
const RX_STS_ES: u32 = 1 << 15;

/// The controller's registers, at [`BASE`]. (A unit type, so that a `static` driver is all
/// zero bytes and lands in `.bss`.)
#[derive(Debug)]
struct Regs;

impl Regs {
    fn read(&self, off: usize) -> u32 {
        // SAFETY: `BASE` is the LAN9118's register block in the MPS2 memory map, `off` is one of
        // the word-aligned register offsets above, inside the block; a volatile 32-bit read of
        // a device register touches no memory Rust owns.
        unsafe { core::ptr::read_volatile((BASE + off) as *const u32) }
    }

    fn write(&self, off: usize, value: u32) {
        // SAFETY: as in `read`: a word-aligned register of the device's block, which no Rust
        // object occupies.
        unsafe { core::ptr::write_volatile((BASE + off) as *mut u32, value) }
    }

    fn mac_write(&self, index: u32, value: u32) {
        self.write(MAC_CSR_DATA, value);
        self.write(MAC_CSR_CMD, MAC_CSR_BUSY | index);
        while self.read(MAC_CSR_CMD) & MAC_CSR_BUSY != 0 {}
    }

    fn mac_read(&self, index: u32) -> u32 {
        self.write(MAC_CSR_CMD, MAC_CSR_BUSY | MAC_CSR_READ | index);
        while self.read(MAC_CSR_CMD) & MAC_CSR_BUSY != 0 {}
        self.read(MAC_CSR_DATA)
    }
}

/// Why [`Lan9118::send`] did not take a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Shorter than an Ethernet header or longer than [`MTU`].
    Length(usize),
    /// The TX data FIFO has no room for it now.
    Full,
}

impl core::error::Error for SendError {}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SendError::Length(n) => write!(f, "a {n}-byte frame cannot be sent"),
            SendError::Full => f.write_str("the TX FIFO is full"),
        }
    }
}

/// Why the controller could not be brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// `BYTE_TEST` did not read `0x87654321`: no controller, or the bus is byte-swapped.
    ByteTest(u32),
    /// `ID_REV` names another chip family (its upper half).
    Id(u32),
}

impl core::error::Error for InitError {}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InitError::ByteTest(v) => write!(f, "LAN9118 BYTE_TEST reads {v:#010x}"),
            InitError::Id(v) => write!(f, "LAN9118 ID_REV reads {v:#010x}"),
        }
    }
}

/// The driver: the controller and a pool of `N` receive buffers.
pub struct Lan9118<const N: usize> {
    regs: Regs,
    bufs: [[u8; BUF_SIZE]; N],
    lent: [bool; N],
    skipped: u32,
    sent: u32,
}

impl<const N: usize> core::fmt::Debug for Lan9118<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lan9118")
            .field("lent", &self.lent)
            .field("skipped", &self.skipped)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl<const N: usize> Lan9118<N> {
    const NONEMPTY: () = assert!(N > 0 && N <= u16::MAX as usize);

    /// The driver for the controller at [`BASE`], not yet started; for a `static`.
    pub const fn new() -> Self {
        let () = Self::NONEMPTY;
        Lan9118 {
            regs: Regs,
            bufs: [[0; BUF_SIZE]; N],
            lent: [false; N],
            skipped: 0,
            sent: 0,
        }
    }

    /// Resets the controller, starts receiving every frame (promiscuous) and turns the
    /// transmitter on.
    ///
    /// # Errors
    /// [`InitError`] when the registers do not identify a LAN9118-family controller.
    pub fn start(&mut self) -> Result<(), InitError> {
        let test = self.regs.read(BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(InitError::ByteTest(test));
        }
        let id = self.regs.read(ID_REV);
        // LAN9115..9118 and LAN9215..9221: 0x0115..0x0118, 0x115A..0x118A, 0x9220..
        if !matches!(id >> 16, 0x0115..=0x0118 | 0x115a..=0x118a | 0x9220 | 0x9221) {
            return Err(InitError::Id(id));
        }
        self.regs.write(HW_CFG, HW_CFG_SRST);
        while self.regs.read(HW_CFG) & HW_CFG_SRST != 0 {}
        self.regs
            .mac_write(MAC_CR, MAC_CR_PRMS | MAC_CR_TXEN | MAC_CR_RXEN);
        self.regs.write(TX_CFG, TX_CFG_TX_ON | TX_CFG_TXSAO);
        Ok(())
    }

    /// The controller's MAC address (QEMU's `-nic ...,mac=` or its default).
    pub fn mac_address(&self) -> [u8; 6] {
        let lo = self.regs.mac_read(MAC_ADDRL).to_le_bytes();
        let hi = self.regs.mac_read(MAC_ADDRH).to_le_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
    }

    /// Sends `frame` (an Ethernet frame without its FCS, which the controller appends),
    /// copying it into the TX data FIFO.
    ///
    /// # Errors
    /// [`SendError::Length`] for a frame shorter than an Ethernet header or longer than
    /// [`MTU`], [`SendError::Full`] when the FIFO has no room for it now; nothing is written
    /// then.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), SendError> {
        push_frame(&self.regs, self.sent, frame)?;
        self.sent = self.sent.wrapping_add(1);
        Ok(())
    }

    /// Frames sent since start.
    pub fn sent(&self) -> u32 {
        self.sent
    }

    /// Frames read and discarded: longer than a buffer, empty, or with the error bit set.
    pub fn skipped(&self) -> u32 {
        self.skipped
    }

    /// Frames waiting in the controller's RX status FIFO.
    fn pending(&self) -> u32 {
        (self.regs.read(RX_FIFO_INF) >> 16) & 0xff
    }
}

/// Writes `frame` into the TX data FIFO with `tag` (its low 16 bits) in command word B.
fn push_frame(regs: &Regs, tag: u32, frame: &[u8]) -> Result<(), SendError> {
    let len = frame.len();
    if !(MIN_FRAME..=MTU).contains(&len) {
        return Err(SendError::Length(len));
    }
    let words = len.div_ceil(4);
    // The two command words and the data (see the module's documentation for the unit).
    let free = (regs.read(TX_FIFO_INF) & 0xffff) as usize;
    if free < words + 2 {
        return Err(SendError::Full);
    }
    let len32 = len as u32; // at most MTU
    regs.write(TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | len32);
    regs.write(TX_DATA_FIFO, (tag & 0xffff) << 16 | len32);
    for chunk in frame.chunks(4) {
        let mut word = [0u8; 4];
        word.get_mut(..chunk.len())
            .unwrap_or_default()
            .copy_from_slice(chunk);
        regs.write(TX_DATA_FIFO, u32::from_le_bytes(word));
    }
    Ok(())
}

/// Reads `words` words of the RX data FIFO into `out` (bytes in little-endian order), dropping
/// what does not fit.
fn read_words(regs: &Regs, words: usize, out: &mut [u8]) {
    let mut chunks = out.chunks_mut(4);
    for _ in 0..words {
        let w = regs.read(RX_DATA_FIFO).to_le_bytes();
        if let Some(c) = chunks.next() {
            let n = c.len();
            c.copy_from_slice(w.get(..n).unwrap_or(&[]));
        }
    }
}

impl<const N: usize> Default for Lan9118<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PacketRing for Lan9118<N> {
    fn ifindex(&self) -> u32 {
        1
    }

    fn receive(&mut self) -> Option<Desc> {
        loop {
            if self.pending() == 0 {
                return None;
            }
            let free = self.lent.iter().position(|l| !l)?;
            let status = self.regs.read(RX_STATUS_FIFO);
            let with_fcs = ((status >> 16) & 0x3fff) as usize;
            let words = with_fcs.div_ceil(4);
            let len = with_fcs.saturating_sub(4);
            let buf = self.bufs.get_mut(free)?;
            if status & RX_STS_ES != 0 || len > MTU || len == 0 {
                read_words(&self.regs, words, &mut []);
                self.skipped += 1;
                continue;
            }
            read_words(
                &self.regs,
                words,
                buf.get_mut(HEADROOM..).unwrap_or_default(),
            );
            *self.lent.get_mut(free)? = true;
            return Some(Desc {
                buf: BufId(free as u16),
                data: HEADROOM as u16,
                len: len as u16,
            });
        }
    }

    fn buffer(&mut self, buf: BufId) -> &mut [u8] {
        let i = usize::from(buf.0);
        match (self.lent.get(i), self.bufs.get_mut(i)) {
            (Some(true), Some(b)) => b,
            _ => &mut [],
        }
    }

    fn transmit(&mut self, desc: Desc) -> Result<(), Desc> {
        let i = usize::from(desc.buf.0);
        let sent = match (self.lent.get(i), self.bufs.get(i)) {
            (Some(true), Some(b)) => b
                .get(desc.range())
                .map(|f| push_frame(&self.regs, self.sent, f)),
            _ => None,
        };
        match sent {
            // Copied into the FIFO: the buffer is free again.
            Some(Ok(())) => {
                self.sent = self.sent.wrapping_add(1);
                self.recycle(desc.buf);
                Ok(())
            }
            _ => Err(desc),
        }
    }

    fn recycle(&mut self, buf: BufId) {
        if let Some(l) = self.lent.get_mut(usize::from(buf.0)) {
            *l = false;
        }
    }

    fn alloc(&mut self) -> Option<Desc> {
        None
    }
}
