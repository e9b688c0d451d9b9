//! The deterministic traffic generator behind the embedded capture. Shared, by `#[path]`, with
//! the build script that writes the capture and the host tests that re-derive it, so it uses
//! nothing but `core`.

/// Frames in the capture.
pub const FRAMES: usize = 300;

/// The longest generated frame.
pub const MAX_FRAME: usize = 128;

/// The seed of the capture.
pub const SEED: u64 = 0x6e61_6e6f_6270_6621;

/// IPv4 sources the generator draws from: addresses under `203.0.113.0/24` and `10.0.0.3`
/// are on the firewall's blocklist.
pub const SOURCES: [[u8; 4]; 9] = [
    [10, 0, 0, 1],
    [10, 0, 0, 2],
    [10, 0, 0, 3],
    [10, 0, 0, 4],
    [192, 168, 1, 10],
    [192, 168, 1, 20],
    [203, 0, 113, 7],
    [203, 0, 113, 99],
    [198, 51, 100, 1],
];

/// Prefixes the firmware puts on the blocklist: (prefix length, address).
pub const BLOCKLIST: [(u32, [u8; 4]); 2] = [(24, [203, 0, 113, 0]), (32, [10, 0, 0, 3])];

/// xorshift64: small, seeded, reproducible.
#[derive(Clone, Copy, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Writes the next frame into `out` and returns its length. The mix: runts shorter than an
/// Ethernet header, ARP and IPv6 frames, IPv4 frames cut short inside the IP header, and
/// UDP or TCP over IPv4 from [`SOURCES`].
pub fn frame(rng: &mut XorShift, out: &mut [u8; MAX_FRAME]) -> usize {
    *out = [0; MAX_FRAME];
    let kind = rng.below(16);
    // Destination and source MAC, then the EtherType.
    out[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    out[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    let (ethertype, len): (u16, usize) = match kind {
        0 => return 1 + rng.below(13) as usize,     // a runt
        1 => (0x0806, 42),                          // ARP
        2 => (0x86dd, 54 + rng.below(40) as usize), // IPv6
        3 => (0x0800, 14 + rng.below(20) as usize), // IPv4, header cut short
        _ => (0x0800, 42 + rng.below((MAX_FRAME - 42 + 1) as u64) as usize),
    };
    out[12..14].copy_from_slice(&ethertype.to_be_bytes());
    for (i, b) in out.iter_mut().enumerate().take(len).skip(14) {
        *b = (i as u8) ^ 0x5a;
    }
    if ethertype == 0x0800 && len >= 34 {
        let proto = if rng.below(2) == 0 { 17 } else { 6 };
        let src = SOURCES[rng.below(SOURCES.len() as u64) as usize];
        let total = (len - 14) as u16;
        out[14] = 0x45;
        out[15] = 0;
        out[16..18].copy_from_slice(&total.to_be_bytes());
        out[18..22].copy_from_slice(&[0, 1, 0, 0]);
        out[22] = 64;
        out[23] = proto;
        out[24..26].copy_from_slice(&[0, 0]);
        out[26..30].copy_from_slice(&src);
        out[30..34].copy_from_slice(&[192, 0, 2, 1]);
    }
    len
}

/// Bytes of a classic pcap file (microsecond timestamps, Ethernet) of `frames` frames.
pub const fn pcap_len(frames: usize, frame_bytes: usize) -> usize {
    24 + 16 * frames + frame_bytes
}

/// The pcap global header: magic, version 2.4, zone 0, sigfigs 0, snaplen, LINKTYPE_ETHERNET.
pub fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&65535u32.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h
}

/// The pcap record header of frame `index` of `len` bytes (one frame every 100 µs).
pub fn pcap_record(index: usize, len: usize) -> [u8; 16] {
    let us = index as u64 * 100;
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(len as u32).to_le_bytes());
    h
}
