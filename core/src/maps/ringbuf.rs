//! `BPF_MAP_TYPE_RINGBUF`: a multi-producer, single-consumer byte ring of `CAP` bytes.
//!
//! Records use Linux's layout: an 8-byte header (`u32` length with [`RINGBUF_BUSY_BIT`] and
//! [`RINGBUF_DISCARD_BIT`], then a `u32` offset), the data, padding to 8 bytes. Producers
//! reserve under a lock; a program fills the record through the returned address and submits
//! it by clearing the busy bit with a release store, without the lock. The consumer acquires
//! the producer position and each header, delivers submitted records in order, skips discarded
//! ones, and stops at the first busy one.
//!
//! Linux maps the data pages twice so that a record may wrap around the end. Without virtual
//! memory a record must be contiguous: when one does not fit before the end, the producer fills
//! the tail with a discarded padding record and starts at offset 0.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;

use super::word::{copy_out, words_addr, words_usize, Word};
use super::{Map, MapDef, MapError, MapType, ValueRegion};

/// Header length bit: the record is reserved and not yet submitted.
pub const RINGBUF_BUSY_BIT: u32 = 1 << 31;
/// Header length bit: the record was discarded (or is padding).
pub const RINGBUF_DISCARD_BIT: u32 = 1 << 30;
/// Bytes of the record header.
pub const RINGBUF_HDR_SIZE: usize = 8;

/// `BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP`: the only flags output accepts (no effect here).
const WAKEUP_FLAGS: u64 = 3;

/// Writes `data` into `words` from byte `at`, word by word (the record is not yet visible to
/// the consumer, so relaxed stores suffice).
fn copy_bytes_in(words: &[Word], at: usize, data: &[u8]) {
    for (i, &b) in data.iter().enumerate() {
        let pos = at + i;
        if let Some(w) = words.get(pos / 8) {
            let mut v = w.load(Ordering::Relaxed);
            if let Some(slot) = v.get_mut(pos % 8) {
                *slot = b;
            }
            w.store(v, Ordering::Relaxed);
        }
    }
}

fn header(len: u32, word_off: u32) -> [u8; 8] {
    let [a, b, c, d] = len.to_ne_bytes();
    let [e, f, g, h] = word_off.to_ne_bytes();
    [a, b, c, d, e, f, g, h]
}

fn header_len(hdr: [u8; 8]) -> u32 {
    let [a, b, c, d, ..] = hdr;
    u32::from_ne_bytes([a, b, c, d])
}

fn header_off(hdr: [u8; 8]) -> u32 {
    let [.., e, f, g, h] = hdr;
    u32::from_ne_bytes([e, f, g, h])
}

/// What [`RingBuf::consume`] delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Consumed {
    /// Records passed to the callback.
    pub records: usize,
    /// Of these, records longer than the scratch buffer, passed truncated.
    pub truncated: usize,
}

/// A ring buffer of `CAP` bytes (a power of two, at least 16), stored as `W = CAP / 8` words.
pub struct RingBuf<const CAP: usize, const W: usize> {
    data: [Word; W],
    producer_pos: AtomicUsize,
    consumer_pos: AtomicUsize,
    producer: Mutex<()>,
    consumer: Mutex<()>,
}

impl<const CAP: usize, const W: usize> RingBuf<CAP, W> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// An empty ring buffer.
    pub const fn new() -> Self {
        const {
            assert!(
                CAP.is_power_of_two() && CAP >= 16,
                "capacity must be a power of two >= 16"
            );
            assert!(CAP <= RINGBUF_DISCARD_BIT as usize, "capacity too large");
            assert!(W * 8 == CAP, "W must be CAP / 8");
        }
        RingBuf {
            data: [const { Word::new() }; W],
            producer_pos: AtomicUsize::new(0),
            consumer_pos: AtomicUsize::new(0),
            producer: Mutex::new(()),
            consumer: Mutex::new(()),
        }
    }

    /// Bytes of records not yet consumed (including headers and padding).
    pub fn pending(&self) -> usize {
        let prod = self.producer_pos.load(Ordering::Acquire);
        prod.wrapping_sub(self.consumer_pos.load(Ordering::Acquire))
    }

    /// Reserves a record of `size` bytes; returns the word index of its header.
    fn reserve_at(&self, size: usize) -> Option<usize> {
        let total = size.checked_add(RINGBUF_HDR_SIZE + 7)? & !7;
        if total > CAP {
            return None;
        }
        let len = u32::try_from(size).ok()?;
        let _guard = self.producer.lock();
        let prod = self.producer_pos.load(Ordering::Relaxed);
        let cons = self.consumer_pos.load(Ordering::Acquire);
        let off = prod % CAP;
        let pad = if total > CAP - off { CAP - off } else { 0 };
        let new_prod = prod.wrapping_add(pad).wrapping_add(total);
        if new_prod.wrapping_sub(cons) > CAP {
            return None;
        }
        if pad > 0 {
            let pad_len = (pad - RINGBUF_HDR_SIZE) as u32 | RINGBUF_DISCARD_BIT;
            let hdr = header(pad_len, (off / 8) as u32);
            self.data.get(off / 8)?.store(hdr, Ordering::Relaxed);
        }
        let rec = (prod.wrapping_add(pad) % CAP) / 8;
        self.data.get(rec)?.store(
            header(len | RINGBUF_BUSY_BIT, rec as u32),
            Ordering::Relaxed,
        );
        self.producer_pos.store(new_prod, Ordering::Release);
        Some(rec)
    }

    /// Reserves a record of `size` bytes and returns the address of its data, 8-aligned and
    /// contiguous; `None` when it does not fit now.
    pub fn reserve(&self, size: usize) -> Option<NonNull<u8>> {
        let rec = self.reserve_at(size)?;
        self.data.get(rec + 1..).map(words_addr)
    }

    /// Finishes the record whose data starts at `addr`: submits it, or discards it.
    ///
    /// # Errors
    ///
    /// [`MapError::Invalid`] if `addr` is not the data of a reserved, unfinished record.
    pub fn commit(&self, addr: usize, discard: bool) -> Result<(), MapError> {
        let base = words_usize(&self.data);
        let off = addr
            .checked_sub(base)
            .and_then(|o| o.checked_sub(RINGBUF_HDR_SIZE))
            .filter(|o| o % 8 == 0 && *o < CAP)
            .ok_or(MapError::Invalid)?;
        let word = self.data.get(off / 8).ok_or(MapError::Invalid)?;
        let hdr = word.load(Ordering::Acquire);
        let len = header_len(hdr);
        if len & RINGBUF_BUSY_BIT == 0 || header_off(hdr) as usize != off / 8 {
            return Err(MapError::Invalid);
        }
        let mut len = len & !RINGBUF_BUSY_BIT;
        if discard {
            len |= RINGBUF_DISCARD_BIT;
        }
        word.store(header(len, header_off(hdr)), Ordering::Release);
        Ok(())
    }

    /// Copies `data` into a new record and submits it.
    ///
    /// # Errors
    ///
    /// [`MapError::Again`] when it does not fit now.
    pub fn output(&self, data: &[u8]) -> Result<(), MapError> {
        self.output_parts(data, &[])
    }

    /// Copies `head` then `tail` into one new record and submits it.
    ///
    /// # Errors
    ///
    /// [`MapError::Again`] when it does not fit now.
    pub fn output_parts(&self, head: &[u8], tail: &[u8]) -> Result<(), MapError> {
        let len = head.len().checked_add(tail.len()).ok_or(MapError::Again)?;
        let rec = self.reserve_at(len).ok_or(MapError::Again)?;
        let words = rec + 1..rec + 1 + len.div_ceil(8);
        let words = self.data.get(words).ok_or(MapError::Invalid)?;
        copy_bytes_in(words, 0, head);
        copy_bytes_in(words, head.len(), tail);
        let hdr_word = self.data.get(rec).ok_or(MapError::Invalid)?;
        let len = header_len(hdr_word.load(Ordering::Relaxed)) & !RINGBUF_BUSY_BIT;
        hdr_word.store(header(len, rec as u32), Ordering::Release);
        Ok(())
    }

    /// Host side: passes each submitted record, in order, to `f`, copied into `scratch`
    /// (truncated to its length), and frees its space. Stops at the first record still being
    /// written. Consumers on several cores take turns.
    pub fn consume(&self, scratch: &mut [u8], mut f: impl FnMut(&[u8])) -> Consumed {
        let _guard = self.consumer.lock();
        let mut done = Consumed::default();
        let mut cons = self.consumer_pos.load(Ordering::Relaxed);
        loop {
            let prod = self.producer_pos.load(Ordering::Acquire);
            let avail = prod.wrapping_sub(cons);
            if avail == 0 {
                break;
            }
            let rec = (cons % CAP) / 8;
            let Some(hdr) = self.data.get(rec).map(|w| w.load(Ordering::Acquire)) else {
                break;
            };
            let len = header_len(hdr);
            if len & RINGBUF_BUSY_BIT != 0 {
                break;
            }
            let n = (len & !RINGBUF_DISCARD_BIT) as usize;
            let total = (n + RINGBUF_HDR_SIZE + 7) & !7;
            if total > avail {
                break; // cannot happen with headers this module wrote
            }
            if len & RINGBUF_DISCARD_BIT == 0 {
                let m = n.min(scratch.len());
                let (buf, _) = scratch.split_at_mut(m);
                copy_out(self.data.get(rec + 1..).unwrap_or(&[]), buf);
                f(buf);
                done.records += 1;
                done.truncated += usize::from(m < n);
            }
            cons = cons.wrapping_add(total);
            self.consumer_pos.store(cons, Ordering::Release);
        }
        done
    }
}

impl<const CAP: usize, const W: usize> RingBuf<CAP, W> {
    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.data
            .iter()
            .all(|w| w.load(core::sync::atomic::Ordering::Relaxed) == [0; 8])
            && self.producer_pos.load(Ordering::Relaxed) == 0
            && self.consumer_pos.load(Ordering::Relaxed) == 0
            && !self.producer.is_locked()
            && !self.consumer.is_locked()
    }
}

impl<const CAP: usize, const W: usize> Default for RingBuf<CAP, W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize, const W: usize> core::fmt::Debug for RingBuf<CAP, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RingBuf")
            .field("capacity", &CAP)
            .field("pending", &self.pending())
            .finish()
    }
}

impl<const CAP: usize, const W: usize> Map for RingBuf<CAP, W> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::RingBuf,
            key_size: 0,
            value_size: 0,
            max_entries: CAP as u32,
            flags: 0,
        }
    }

    /// Ring buffers have no keyed lookup: always `None`.
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

    /// The whole data area, headers included: a coarse bound for reserved records.
    fn value_region(&self) -> ValueRegion {
        ValueRegion {
            start: words_usize(&self.data),
            len: CAP,
            stride: CAP,
            value_size: CAP,
        }
    }

    fn ringbuf_output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !WAKEUP_FLAGS != 0 {
            return Err(MapError::Invalid);
        }
        self.output(data)
    }

    fn ringbuf_reserve(&self, size: u64, flags: u64) -> Option<NonNull<u8>> {
        if flags != 0 {
            return None;
        }
        self.reserve(usize::try_from(size).ok()?)
    }

    fn ringbuf_submit(&self, addr: u64, _flags: u64) -> Result<(), MapError> {
        self.commit(usize::try_from(addr).map_err(|_| MapError::Invalid)?, false)
    }

    fn ringbuf_discard(&self, addr: u64, _flags: u64) -> Result<(), MapError> {
        self.commit(usize::try_from(addr).map_err(|_| MapError::Invalid)?, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use std::collections::VecDeque;
    use std::vec::Vec;

    fn drain<const C: usize, const W: usize>(rb: &RingBuf<C, W>) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let mut scratch = [0u8; 256];
        rb.consume(&mut scratch, |r| got.push(r.to_vec()));
        got
    }

    #[test]
    fn output_consume_and_full() {
        let rb = RingBuf::<64, 8>::new();
        rb.output(&[1, 2, 3]).unwrap(); // 16 bytes
        rb.output(&[4; 20]).unwrap(); // 32 bytes
        assert_eq!(rb.output(&[5; 9]), Err(MapError::Again)); // 24 more do not fit
        rb.output(&[6; 8]).unwrap(); // exactly the last 16
        assert_eq!(rb.pending(), 64);
        assert_eq!(
            drain(&rb),
            [std::vec![1, 2, 3], std::vec![4; 20], std::vec![6; 8]]
        );
        assert_eq!(rb.pending(), 0);
        assert_eq!(rb.output(&[0; 57]), Err(MapError::Again)); // 72 > capacity
        assert_eq!(rb.ringbuf_output(&[0], 4), Err(MapError::Invalid));
        assert!(rb.ringbuf_reserve(8, 1).is_none());
    }

    #[test]
    fn reserve_submit_discard_and_busy_blocks() {
        let rb = RingBuf::<128, 16>::new();
        let a = rb.reserve(5).unwrap();
        let b = rb.reserve(3).unwrap();
        assert_eq!(a.as_ptr().addr() % 8, 0);
        assert!(rb.value_region().contains(a.as_ptr().addr(), 5));
        rb.commit(b.as_ptr().addr(), false).unwrap();
        // `a` is still busy: nothing is delivered past it.
        assert!(drain(&rb).is_empty());
        rb.commit(a.as_ptr().addr(), true).unwrap();
        assert_eq!(rb.commit(a.as_ptr().addr(), false), Err(MapError::Invalid));
        assert_eq!(
            rb.commit(a.as_ptr().addr() + 8, false),
            Err(MapError::Invalid)
        );
        assert_eq!(rb.commit(0, false), Err(MapError::Invalid));
        assert_eq!(drain(&rb), [std::vec![0, 0, 0]]);
        let c = rb.ringbuf_reserve(4, 0).unwrap();
        rb.ringbuf_submit(c.as_ptr().addr() as u64, 0).unwrap();
        let mut scratch = [0u8; 2];
        let mut got = Vec::new();
        let done = rb.consume(&mut scratch, |r| got.push(r.to_vec()));
        assert_eq!(
            done,
            Consumed {
                records: 1,
                truncated: 1
            }
        );
        assert_eq!(got, [std::vec![0, 0]]);
    }

    #[test]
    fn wraps_around_with_padding() {
        let rb = RingBuf::<64, 8>::new();
        rb.output(&[1; 24]).unwrap(); // 0..32
        rb.output(&[2; 8]).unwrap(); // 32..48
        assert_eq!(drain(&rb).len(), 2);
        // 16 bytes left before the end; a 32-byte record pads them and starts at 0.
        rb.output(&[3; 20]).unwrap();
        rb.output(&[4; 1]).unwrap();
        assert_eq!(drain(&rb), [std::vec![3; 20], std::vec![4]]);
    }

    #[test]
    fn random_ops_match_model() {
        const CAP: usize = 256;
        let rb = RingBuf::<CAP, 32>::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let (mut prod, mut cons) = (0usize, 0usize);
        let mut rng = XorShift(0x7777);
        let mut counter = 0u8;
        let mut refused = 0;
        for step in 0..4000 {
            if rng.below(3) != 0 {
                let len = rng.below(60) as usize;
                counter = counter.wrapping_add(1);
                let data: Vec<u8> = (0..len).map(|i| counter.wrapping_add(i as u8)).collect();
                let total = (len + 15) & !7;
                let off = prod % CAP;
                let pad = if total > CAP - off { CAP - off } else { 0 };
                let fits = prod + pad + total - cons <= CAP;
                assert_eq!(rb.output(&data).is_ok(), fits, "step {step}");
                if fits {
                    prod += pad + total;
                    model.push_back(data);
                } else {
                    refused += 1;
                }
            } else {
                let mut scratch = [0u8; 64];
                let mut got = Vec::new();
                rb.consume(&mut scratch, |r| got.push(r.to_vec()));
                let want: Vec<Vec<u8>> = model.drain(..).collect();
                assert_eq!(got, want, "step {step}");
                cons = prod;
                assert_eq!(rb.pending(), 0);
            }
        }
        assert!(refused > 0, "the ring never filled");
    }
}
