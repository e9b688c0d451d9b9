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
use core::sync::atomic::Ordering;

use super::layout::{check_storage, sum, Carve, LayoutError, MapSizing};
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
        let pos = at.saturating_add(i);
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

/// A ring buffer over borrowed storage, sized at run time: four words (producer position,
/// consumer position, producer lock, consumer lock; positions are `u32` byte counts that
/// wrap) and `cap / 8` data words, `cap` a power of two of at least 16.
#[derive(Debug)]
pub struct RingBufView<'a> {
    data: &'a [Word],
    producer_pos: &'a Word,
    consumer_pos: &'a Word,
    producer: &'a Word,
    consumer: &'a Word,
    cap: u32,
    flags: u32,
}

impl<'a> RingBufView<'a> {
    /// Words of a ring of `cap` bytes.
    pub(crate) fn words(cap: usize) -> Result<usize, LayoutError> {
        sum(&[4, cap / 8])
    }

    /// A view of `def` (a ring buffer) over `words`, which must be exactly
    /// [`words_needed`](super::words_needed) long.
    ///
    /// # Errors
    ///
    /// A definition the type does not accept, or storage of the wrong length.
    pub fn new(def: &MapDef, sizing: &MapSizing, words: &'a [Word]) -> Result<Self, LayoutError> {
        let s = check_storage(def, sizing, words)?;
        if def.map_type != MapType::RingBuf {
            return Err(LayoutError::UnsupportedType(def.map_type));
        }
        let mut c = Carve::new(words);
        Self::carve(&mut c, s.n, def.flags)
    }

    /// The next ring of `cap` bytes from `c`.
    pub(crate) fn carve(c: &mut Carve<'a>, cap: usize, flags: u32) -> Result<Self, LayoutError> {
        let meta = c.take(4)?;
        let data = c.take(cap / 8)?;
        match meta {
            [p, q, r, s] => Ok(Self::from_parts(data, [p, q, r, s], flags)),
            _ => Err(LayoutError::Overflow),
        }
    }

    /// Over `data` (a power of two of words, at least 2) and the four meta words.
    #[inline]
    pub(crate) const fn from_parts(data: &'a [Word], meta: [&'a Word; 4], flags: u32) -> Self {
        let [producer_pos, consumer_pos, producer, consumer] = meta;
        RingBufView {
            data,
            producer_pos,
            consumer_pos,
            producer,
            consumer,
            cap: data.len().saturating_mul(8) as u32,
            flags,
        }
    }

    /// Bytes of records not yet consumed (including headers and padding).
    pub fn pending(&self) -> usize {
        let prod = self.producer_pos.num(Ordering::Acquire);
        prod.wrapping_sub(self.consumer_pos.num(Ordering::Acquire)) as usize
    }

    /// Reserves a record of `size` bytes; returns the word index of its header.
    fn reserve_at(&self, size: usize) -> Option<usize> {
        let cap = self.cap as usize;
        let total = size.checked_add(RINGBUF_HDR_SIZE + 7)? & !7;
        if total > cap {
            return None;
        }
        let len = u32::try_from(size).ok()?;
        let _guard = self.producer.lock();
        let prod = self.producer_pos.num(Ordering::Relaxed);
        let cons = self.consumer_pos.num(Ordering::Acquire);
        // `cap >= total > 0` here, and `off < cap`.
        let off = (prod as usize).checked_rem(cap)?;
        let room = cap.saturating_sub(off);
        let pad = if total > room { room } else { 0 };
        // Both under `cap` <= 2^30: no overflow of u32.
        let new_prod = prod.wrapping_add(pad.saturating_add(total) as u32);
        if new_prod.wrapping_sub(cons) as usize > cap {
            return None;
        }
        if pad > 0 {
            // `pad` is a non-zero multiple of 8, at least a header.
            let pad_len = pad.saturating_sub(RINGBUF_HDR_SIZE) as u32 | RINGBUF_DISCARD_BIT;
            let hdr = header(pad_len, (off / 8) as u32);
            self.data.get(off / 8)?.store(hdr, Ordering::Relaxed);
        }
        let rec = off.saturating_add(pad).checked_rem(cap)? / 8;
        self.data.get(rec)?.store(
            header(len | RINGBUF_BUSY_BIT, rec as u32),
            Ordering::Relaxed,
        );
        self.producer_pos.set_num(new_prod, Ordering::Release);
        Some(rec)
    }

    /// Reserves a record of `size` bytes and returns the address of its data, 8-aligned and
    /// contiguous; `None` when it does not fit now.
    pub fn reserve(&self, size: usize) -> Option<NonNull<u8>> {
        let rec = self.reserve_at(size)?;
        self.data.get(rec.saturating_add(1)..).map(words_addr)
    }

    /// Finishes the record whose data starts at `addr`: submits it, or discards it.
    ///
    /// # Errors
    ///
    /// [`MapError::Invalid`] if `addr` is not the data of a reserved, unfinished record.
    pub fn commit(&self, addr: usize, discard: bool) -> Result<(), MapError> {
        let base = words_usize(self.data);
        let off = addr
            .checked_sub(base)
            .and_then(|o| o.checked_sub(RINGBUF_HDR_SIZE))
            .filter(|o| o % 8 == 0 && *o < self.cap as usize)
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
        let first = rec.saturating_add(1);
        let words = first..first.saturating_add(len.div_ceil(8));
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
        let cap = self.cap as usize;
        let _guard = self.consumer.lock();
        let mut done = Consumed::default();
        let mut cons = self.consumer_pos.num(Ordering::Relaxed);
        loop {
            let prod = self.producer_pos.num(Ordering::Acquire);
            let avail = prod.wrapping_sub(cons) as usize;
            if avail == 0 || cap == 0 {
                break;
            }
            let Some(pos) = (cons as usize).checked_rem(cap) else {
                break;
            };
            let rec = pos / 8;
            let Some(hdr) = self.data.get(rec).map(|w| w.load(Ordering::Acquire)) else {
                break;
            };
            let len = header_len(hdr);
            if len & RINGBUF_BUSY_BIT != 0 {
                break;
            }
            let n = (len & !RINGBUF_DISCARD_BIT) as usize;
            let total = n.saturating_add(RINGBUF_HDR_SIZE + 7) & !7;
            if total > avail {
                break; // cannot happen with headers this module wrote
            }
            if len & RINGBUF_DISCARD_BIT == 0 {
                let m = n.min(scratch.len());
                let (buf, _) = scratch.split_at_mut(m);
                copy_out(self.data.get(rec.saturating_add(1)..).unwrap_or(&[]), buf);
                f(buf);
                done.records = done.records.saturating_add(1);
                done.truncated = done.truncated.saturating_add(usize::from(m < n));
            }
            cons = cons.wrapping_add(total as u32);
            self.consumer_pos.set_num(cons, Ordering::Release);
        }
        done
    }

    /// Whether every byte is zero.
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.data.iter().all(Word::is_zero)
            && self.producer_pos.is_zero()
            && self.consumer_pos.is_zero()
            && self.producer.is_zero()
            && self.consumer.is_zero()
    }
}

impl crate::maps::sealed::Sealed for RingBufView<'_> {
    /// The whole data area, headers included: a coarse bound for reserved records.
    fn value_region(&self) -> ValueRegion {
        ValueRegion {
            start: words_usize(self.data),
            len: self.cap as usize,
            stride: self.cap as usize,
            value_size: self.cap as usize,
        }
    }
}

impl Map for RingBufView<'_> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::RingBuf,
            key_size: 0,
            value_size: 0,
            max_entries: self.cap,
            flags: self.flags,
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

/// A ring buffer of `CAP` bytes (a power of two, at least 16), stored as `W = CAP / 8` words:
/// the storage of a [`RingBufView`] sized at compile time.
pub struct RingBuf<const CAP: usize, const W: usize> {
    meta: [Word; 4],
    data: [Word; W],
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
            meta: [const { Word::new() }; 4],
            data: [const { Word::new() }; W],
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> RingBufView<'_> {
        let [p, q, r, s] = &self.meta;
        RingBufView::from_parts(&self.data, [p, q, r, s], 0)
    }

    /// Bytes of records not yet consumed (including headers and padding).
    pub fn pending(&self) -> usize {
        self.view().pending()
    }

    /// Reserves a record of `size` bytes and returns the address of its data, 8-aligned and
    /// contiguous; `None` when it does not fit now.
    pub fn reserve(&self, size: usize) -> Option<NonNull<u8>> {
        self.view().reserve(size)
    }

    /// Finishes the record whose data starts at `addr`: submits it, or discards it.
    ///
    /// # Errors
    ///
    /// [`MapError::Invalid`] if `addr` is not the data of a reserved, unfinished record.
    pub fn commit(&self, addr: usize, discard: bool) -> Result<(), MapError> {
        self.view().commit(addr, discard)
    }

    /// Copies `data` into a new record and submits it.
    ///
    /// # Errors
    ///
    /// [`MapError::Again`] when it does not fit now.
    pub fn output(&self, data: &[u8]) -> Result<(), MapError> {
        self.view().output(data)
    }

    /// Copies `head` then `tail` into one new record and submits it.
    ///
    /// # Errors
    ///
    /// [`MapError::Again`] when it does not fit now.
    pub fn output_parts(&self, head: &[u8], tail: &[u8]) -> Result<(), MapError> {
        self.view().output_parts(head, tail)
    }

    /// Host side: passes each submitted record, in order, to `f` (see
    /// [`RingBufView::consume`]).
    pub fn consume(&self, scratch: &mut [u8], f: impl FnMut(&[u8])) -> Consumed {
        self.view().consume(scratch, f)
    }

    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
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

super::forward_map!(single_cpu [const CAP: usize, const W: usize] RingBuf<CAP, W>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::sealed::Sealed as _;
    use crate::maps::testutil::XorShift;
    use std::collections::VecDeque;
    use std::vec::Vec;

    fn arena(cap: u32) -> &'static RingBufView<'static> {
        match crate::maps::testutil::arena_map(MapType::RingBuf, 0, 0, cap) {
            crate::maps::AnyMap::RingBuf(r) => r,
            other => panic!("{other:?}"),
        }
    }

    fn drain(rb: &RingBufView<'_>) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let mut scratch = [0u8; 256];
        rb.consume(&mut scratch, |r| got.push(r.to_vec()));
        got
    }

    #[test]
    fn output_consume_and_full_wrapper() {
        output_consume_and_full(&RingBuf::<64, 8>::new().view());
    }

    #[test]
    fn output_consume_and_full_arena() {
        output_consume_and_full(arena(64));
    }

    fn output_consume_and_full(rb: &RingBufView<'_>) {
        rb.output(&[1, 2, 3]).unwrap(); // 16 bytes
        rb.output(&[4; 20]).unwrap(); // 32 bytes
        assert_eq!(rb.output(&[5; 9]), Err(MapError::Again)); // 24 more do not fit
        rb.output(&[6; 8]).unwrap(); // exactly the last 16
        assert_eq!(rb.pending(), 64);
        assert_eq!(
            drain(rb),
            [std::vec![1, 2, 3], std::vec![4; 20], std::vec![6; 8]]
        );
        assert_eq!(rb.pending(), 0);
        assert_eq!(rb.output(&[0; 57]), Err(MapError::Again)); // 72 > capacity
        assert_eq!(rb.ringbuf_output(&[0], 4), Err(MapError::Invalid));
        assert!(rb.ringbuf_reserve(8, 1).is_none());
    }

    #[test]
    fn reserve_submit_discard_and_busy_blocks_wrapper() {
        reserve_submit_discard_and_busy_blocks(&RingBuf::<128, 16>::new().view());
    }

    #[test]
    fn reserve_submit_discard_and_busy_blocks_arena() {
        reserve_submit_discard_and_busy_blocks(arena(128));
    }

    fn reserve_submit_discard_and_busy_blocks(rb: &RingBufView<'_>) {
        let a = rb.reserve(5).unwrap();
        let b = rb.reserve(3).unwrap();
        assert_eq!(a.as_ptr().addr() % 8, 0);
        assert!(rb.value_region().contains(a.as_ptr().addr(), 5));
        rb.commit(b.as_ptr().addr(), false).unwrap();
        // `a` is still busy: nothing is delivered past it.
        assert!(drain(rb).is_empty());
        rb.commit(a.as_ptr().addr(), true).unwrap();
        assert_eq!(rb.commit(a.as_ptr().addr(), false), Err(MapError::Invalid));
        assert_eq!(
            rb.commit(a.as_ptr().addr() + 8, false),
            Err(MapError::Invalid)
        );
        assert_eq!(rb.commit(0, false), Err(MapError::Invalid));
        assert_eq!(drain(rb), [std::vec![0, 0, 0]]);
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
    fn wraps_around_with_padding_wrapper() {
        wraps_around_with_padding(&RingBuf::<64, 8>::new().view());
    }

    #[test]
    fn wraps_around_with_padding_arena() {
        wraps_around_with_padding(arena(64));
    }

    fn wraps_around_with_padding(rb: &RingBufView<'_>) {
        rb.output(&[1; 24]).unwrap(); // 0..32
        rb.output(&[2; 8]).unwrap(); // 32..48
        assert_eq!(drain(rb).len(), 2);
        // 16 bytes left before the end; a 32-byte record pads them and starts at 0.
        rb.output(&[3; 20]).unwrap();
        rb.output(&[4; 1]).unwrap();
        assert_eq!(drain(rb), [std::vec![3; 20], std::vec![4]]);
    }

    const CAP: usize = 256;

    #[test]
    fn random_ops_match_model_wrapper() {
        random_ops_match_model(&RingBuf::<CAP, 32>::new().view());
    }

    #[test]
    fn random_ops_match_model_arena() {
        random_ops_match_model(arena(CAP as u32));
    }

    fn random_ops_match_model(rb: &RingBufView<'_>) {
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
