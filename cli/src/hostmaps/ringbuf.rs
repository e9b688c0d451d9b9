//! The ring buffer: the core's record layout over run-time-sized storage.

use nanobpf_core::maps::{Map, MapDef, MapError, ValueRegion};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::lock;

const RB_BUSY: u32 = nanobpf_core::maps::RINGBUF_BUSY_BIT;
pub(super) const RB_DISCARD: u32 = nanobpf_core::maps::RINGBUF_DISCARD_BIT;
const RB_HDR: usize = nanobpf_core::maps::RINGBUF_HDR_SIZE;

fn rb_header(len: u32, word: u32) -> u64 {
    let [a, b, c, d] = len.to_ne_bytes();
    let [e, f, g, h] = word.to_ne_bytes();
    u64::from_ne_bytes([a, b, c, d, e, f, g, h])
}

fn rb_split(hdr: u64) -> (u32, u32) {
    let [a, b, c, d, e, f, g, h] = hdr.to_ne_bytes();
    (
        u32::from_ne_bytes([a, b, c, d]),
        u32::from_ne_bytes([e, f, g, h]),
    )
}

/// Ring buffer: the core's record layout (8-byte header with busy and discard bits, data,
/// padding to 8 bytes; a record that would wrap is preceded by a discarded padding record)
/// over `max_entries` bytes, a power of two.
#[derive(Debug)]
pub struct HostRingBuf {
    pub(super) def: MapDef,
    pub(super) data: Box<[AtomicU64]>,
    /// Producer and consumer positions (bytes, ever increasing).
    pub(super) pos: Mutex<(usize, usize)>,
}

impl HostRingBuf {
    fn cap(&self) -> usize {
        self.data.len() * 8
    }

    /// Reserves a record of `size` bytes; returns the word index of its header.
    fn reserve_at(&self, size: usize) -> Option<usize> {
        let cap = self.cap();
        let total = size.checked_add(RB_HDR + 7)? & !7;
        if total > cap {
            return None;
        }
        let len = u32::try_from(size).ok()?;
        let mut pos = lock(&self.pos);
        let (prod, cons) = *pos;
        let off = prod % cap;
        let pad = if total > cap - off { cap - off } else { 0 };
        let new_prod = prod + pad + total;
        if new_prod - cons > cap {
            return None;
        }
        if pad > 0 {
            let hdr = rb_header((pad - RB_HDR) as u32 | RB_DISCARD, (off / 8) as u32);
            self.data.get(off / 8)?.store(hdr, Ordering::Relaxed);
        }
        let rec = ((prod + pad) % cap) / 8;
        self.data
            .get(rec)?
            .store(rb_header(len | RB_BUSY, rec as u32), Ordering::Relaxed);
        pos.0 = new_prod;
        Some(rec)
    }

    fn commit(&self, addr: u64, discard: bool) -> Result<(), MapError> {
        let base = NonNull::from(&*self.data).cast::<u8>().as_ptr().addr();
        let off = usize::try_from(addr)
            .ok()
            .and_then(|a| a.checked_sub(base))
            .and_then(|o| o.checked_sub(RB_HDR))
            .filter(|o| o % 8 == 0 && *o < self.cap())
            .ok_or(MapError::Invalid)?;
        let word = self.data.get(off / 8).ok_or(MapError::Invalid)?;
        let (len, at) = rb_split(word.load(Ordering::Acquire));
        if len & RB_BUSY == 0 || at as usize != off / 8 {
            return Err(MapError::Invalid);
        }
        let len = (len & !RB_BUSY) | if discard { RB_DISCARD } else { 0 };
        word.store(rb_header(len, at), Ordering::Release);
        Ok(())
    }

    /// Takes every submitted record, in order, up to the first one still being written.
    pub fn consume(&self) -> Vec<Vec<u8>> {
        let cap = self.cap();
        let mut pos = lock(&self.pos);
        let mut out = Vec::new();
        while pos.0 > pos.1 {
            let rec = (pos.1 % cap) / 8;
            let Some(word) = self.data.get(rec) else {
                break;
            };
            let (len, _) = rb_split(word.load(Ordering::Acquire));
            if len & RB_BUSY != 0 {
                break;
            }
            let n = (len & !RB_DISCARD) as usize;
            let total = (n + RB_HDR + 7) & !7;
            if len & RB_DISCARD == 0 {
                let words = self.data.get(rec + 1..).unwrap_or(&[]);
                let bytes: Vec<u8> = words
                    .iter()
                    .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
                    .take(n)
                    .collect();
                out.push(bytes);
            }
            pos.1 += total;
        }
        out
    }

    /// Bytes of records not yet consumed (headers and padding included).
    pub fn pending(&self) -> usize {
        let pos = lock(&self.pos);
        pos.0 - pos.1
    }
}

impl Map for HostRingBuf {
    fn def(&self) -> MapDef {
        self.def
    }

    fn lookup(&self, _key: &[u8]) -> Option<NonNull<u8>> {
        None
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::NotSupported)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::NotSupported)
    }

    fn next_key(&self, _key: Option<&[u8]>, _out: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::NotSupported)
    }

    fn value_region(&self) -> ValueRegion {
        ValueRegion {
            start: NonNull::from(&*self.data).cast::<u8>().as_ptr().addr(),
            len: self.cap(),
            stride: self.cap(),
            value_size: self.cap(),
        }
    }

    fn ringbuf_output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !3 != 0 {
            return Err(MapError::Invalid);
        }
        let rec = self.reserve_at(data.len()).ok_or(MapError::Again)?;
        let words = self
            .data
            .get(rec + 1..rec + 1 + data.len().div_ceil(8))
            .ok_or(MapError::Invalid)?;
        for (w, chunk) in words.iter().zip(data.chunks(8)) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            w.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        let hdr = self.data.get(rec).ok_or(MapError::Invalid)?;
        let (len, at) = rb_split(hdr.load(Ordering::Relaxed));
        hdr.store(rb_header(len & !RB_BUSY, at), Ordering::Release);
        Ok(())
    }

    fn ringbuf_reserve(&self, size: u64, flags: u64) -> Option<NonNull<u8>> {
        if flags != 0 {
            return None;
        }
        let rec = self.reserve_at(usize::try_from(size).ok()?)?;
        self.data.get(rec + 1..).map(|w| NonNull::from(w).cast())
    }

    fn ringbuf_submit(&self, addr: u64, _flags: u64) -> Result<(), MapError> {
        self.commit(addr, false)
    }

    fn ringbuf_discard(&self, addr: u64, _flags: u64) -> Result<(), MapError> {
        self.commit(addr, true)
    }
}
