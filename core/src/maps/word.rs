//! The storage word behind every value a program can point into.
//!
//! A [`Word`] is 8 bytes, 8-aligned and made of atomics, so a value area `[Word; W]` can be
//! written through a raw pointer by other code (a BPF program) while the map reads and writes it
//! through shared references, without any `unsafe` here: atomics have interior mutability, and a
//! pointer taken from the whole slice carries write permission for all of it.
//!
//! On targets with 64-bit atomics a word is one `AtomicU64`, so an aligned 8-byte store by the
//! map is never seen torn by a program's aligned 8-byte load, and a program's 64-bit atomic add
//! on a value word is the same operation the host would do. On targets with 32-bit atomics only
//! (Cortex-M) it is two `AtomicU32`, and 8-byte accesses are two 4-byte halves, as on the
//! hardware itself.

use core::ptr::NonNull;
use core::sync::atomic::Ordering;

#[cfg(not(target_has_atomic = "64"))]
use core::sync::atomic::AtomicU32;
#[cfg(target_has_atomic = "64")]
use core::sync::atomic::AtomicU64;

/// The number of 8-byte words that hold a value of `bytes` bytes: the `W` parameter of the maps
/// whose values programs point into (`ArrayMap<12, { value_words(12) }, 64>`).
pub const fn value_words(bytes: usize) -> usize {
    bytes.div_ceil(8)
}

/// Eight bytes of map storage, 8-aligned, made of atomics.
#[cfg(target_has_atomic = "64")]
#[derive(Debug, Default)]
#[repr(transparent)]
pub struct Word(AtomicU64);

/// Eight bytes of map storage, 8-aligned, made of atomics.
#[cfg(not(target_has_atomic = "64"))]
#[derive(Debug, Default)]
#[repr(C, align(8))]
pub struct Word([AtomicU32; 2]);

const _: () = assert!(core::mem::size_of::<Word>() == 8 && core::mem::align_of::<Word>() == 8);

impl Word {
    /// A zero word.
    #[cfg(target_has_atomic = "64")]
    #[inline]
    pub const fn new() -> Word {
        Word(AtomicU64::new(0))
    }

    /// A zero word.
    #[cfg(not(target_has_atomic = "64"))]
    #[inline]
    pub const fn new() -> Word {
        Word([AtomicU32::new(0), AtomicU32::new(0)])
    }

    /// The word as an `AtomicU64`, for host code that updates counters the way programs do.
    #[cfg(target_has_atomic = "64")]
    #[inline]
    pub fn as_atomic(&self) -> &AtomicU64 {
        &self.0
    }

    /// The eight bytes in memory order.
    #[cfg(target_has_atomic = "64")]
    #[inline]
    pub fn load(&self, order: Ordering) -> [u8; 8] {
        self.0.load(order).to_ne_bytes()
    }

    /// The eight bytes in memory order (two 4-byte halves, the first loaded first).
    #[cfg(not(target_has_atomic = "64"))]
    #[inline]
    pub fn load(&self, order: Ordering) -> [u8; 8] {
        let [a, b] = &self.0;
        let lo = a.load(order).to_ne_bytes();
        let hi = b.load(order).to_ne_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]]
    }

    /// Stores eight bytes in memory order.
    #[cfg(target_has_atomic = "64")]
    #[inline]
    pub fn store(&self, bytes: [u8; 8], order: Ordering) {
        self.0.store(u64::from_ne_bytes(bytes), order);
    }

    /// Stores eight bytes in memory order (the second half first, so that a release store
    /// publishes the whole word with its first half).
    #[cfg(not(target_has_atomic = "64"))]
    #[inline]
    pub fn store(&self, bytes: [u8; 8], order: Ordering) {
        let [a, b] = &self.0;
        let [b0, b1, b2, b3, b4, b5, b6, b7] = bytes;
        b.store(u32::from_ne_bytes([b4, b5, b6, b7]), order);
        a.store(u32::from_ne_bytes([b0, b1, b2, b3]), order);
    }
}

/// The memory-order mask of a word's first 4-byte half (its lock flag, see [`Word::lock`]).
#[cfg(target_has_atomic = "64")]
const HALF0: u64 = u64::from_ne_bytes([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
/// A word whose first half holds 1: a held lock.
#[cfg(target_has_atomic = "64")]
const LOCKED: u64 = u64::from_ne_bytes([1, 0, 0, 0, 0, 0, 0, 0]);

/// Map metadata kept in words: two `u32` halves, a number, a spin lock.
///
/// A half is the four bytes at offset `4 h` of the word (memory order, so a program that
/// reads a redirect slot through its address sees half 0). The half and pair accessors use
/// relaxed loads and stores of the whole word; a map uses them only on words that one lock
/// guards (or that nobody writes concurrently), so reading and writing back the other half is
/// no lost update.
impl Word {
    /// The two halves, in memory order.
    #[inline]
    pub(crate) fn pair(&self) -> (u32, u32) {
        let [a, b, c, d, e, f, g, h] = self.load(Ordering::Relaxed);
        (
            u32::from_ne_bytes([a, b, c, d]),
            u32::from_ne_bytes([e, f, g, h]),
        )
    }

    /// Stores both halves.
    #[inline]
    pub(crate) fn set_pair(&self, first: u32, second: u32) {
        let [a, b, c, d] = first.to_ne_bytes();
        let [e, f, g, h] = second.to_ne_bytes();
        self.store([a, b, c, d, e, f, g, h], Ordering::Relaxed);
    }

    /// Half `h` (0 or 1; anything else reads half 1).
    #[cfg(target_has_atomic = "64")]
    #[inline]
    pub(crate) fn half(&self, h: usize) -> u32 {
        let (a, b) = self.pair();
        if h == 0 {
            a
        } else {
            b
        }
    }

    /// Half `h` (0 or 1; anything else reads half 1): one 32-bit load.
    #[cfg(not(target_has_atomic = "64"))]
    #[inline]
    pub(crate) fn half(&self, h: usize) -> u32 {
        let [a, b] = &self.0;
        if h == 0 {
            a.load(Ordering::Relaxed)
        } else {
            b.load(Ordering::Relaxed)
        }
    }

    /// Stores half `h`, keeping the other (a read and a write: the word must be guarded).
    #[inline]
    pub(crate) fn set_half(&self, h: usize, v: u32) {
        let (a, b) = self.pair();
        if h == 0 {
            self.set_pair(v, b);
        } else {
            self.set_pair(a, v);
        }
    }

    /// Whether all eight bytes are zero.
    #[cfg(test)]
    pub(crate) fn is_zero(&self) -> bool {
        self.load(Ordering::Relaxed) == [0; 8]
    }
}

/// Counters and positions: a `u32` kept in the word with atomic read-modify-write (the whole
/// `u64` on targets with 64-bit atomics, read back truncated, so it wraps as a `u32` does;
/// the first half on the others).
#[cfg(target_has_atomic = "64")]
impl Word {
    /// The number.
    #[inline]
    pub(crate) fn num(&self, order: Ordering) -> u32 {
        self.0.load(order) as u32
    }

    /// Stores the number.
    #[inline]
    pub(crate) fn set_num(&self, v: u32, order: Ordering) {
        self.0.store(u64::from(v), order);
    }

    /// Adds `d` (wrapping) and returns the old number.
    #[inline]
    pub(crate) fn add_num(&self, d: u32) -> u32 {
        self.0.fetch_add(u64::from(d), Ordering::Relaxed) as u32
    }

    /// Subtracts `d` (wrapping).
    #[inline]
    pub(crate) fn sub_num(&self, d: u32) {
        self.0.fetch_sub(u64::from(d), Ordering::Relaxed);
    }

    /// Atomically replaces the number with `v` and returns the old one.
    #[inline]
    pub(crate) fn swap_num(&self, v: u32, order: Ordering) -> u32 {
        self.0.swap(u64::from(v), order) as u32
    }

    #[inline(always)]
    fn try_lock(&self) -> bool {
        let v = self.0.load(Ordering::Relaxed);
        v & HALF0 == 0
            && self
                .0
                .compare_exchange_weak(v, v | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    #[inline(always)]
    fn unlock(&self) {
        // Only the holder writes a held lock's word, so this load sees the latest value.
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v & !HALF0, Ordering::Release);
    }

    /// Whether the lock in this word is held.
    #[cfg(test)]
    pub(crate) fn is_locked(&self) -> bool {
        self.0.load(Ordering::Relaxed) & HALF0 != 0
    }
}

/// Counters and positions: a `u32` kept in the word with atomic read-modify-write (the whole
/// `u64` on targets with 64-bit atomics, read back truncated, so it wraps as a `u32` does;
/// the first half on the others).
#[cfg(not(target_has_atomic = "64"))]
impl Word {
    /// The number.
    #[inline]
    pub(crate) fn num(&self, order: Ordering) -> u32 {
        self.0[0].load(order)
    }

    /// Stores the number.
    #[inline]
    pub(crate) fn set_num(&self, v: u32, order: Ordering) {
        self.0[0].store(v, order);
    }

    /// Adds `d` (wrapping) and returns the old number.
    #[inline]
    pub(crate) fn add_num(&self, d: u32) -> u32 {
        self.0[0].fetch_add(d, Ordering::Relaxed)
    }

    /// Subtracts `d` (wrapping).
    #[inline]
    pub(crate) fn sub_num(&self, d: u32) {
        self.0[0].fetch_sub(d, Ordering::Relaxed);
    }

    /// Atomically replaces the number with `v` and returns the old one.
    #[inline]
    pub(crate) fn swap_num(&self, v: u32, order: Ordering) -> u32 {
        self.0[0].swap(v, order)
    }

    #[inline(always)]
    fn try_lock(&self) -> bool {
        self.0[0]
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline(always)]
    fn unlock(&self) {
        self.0[0].store(0, Ordering::Release);
    }

    /// Whether the lock in this word is held.
    #[cfg(test)]
    pub(crate) fn is_locked(&self) -> bool {
        self.0[0].load(Ordering::Relaxed) != 0
    }
}

impl Word {
    /// Takes the spin lock kept in this word's first half; the second half is the lock's
    /// payload ([`WordLock::payload`]), a `u32` that only the holder reads and writes.
    ///
    /// Ordering: taking the lock is a compare-and-swap of the first half from 0 to 1 with
    /// `Acquire`; releasing stores 0 there with `Release`. So everything the holder wrote,
    /// in any word and with any ordering, happens before whatever the next holder reads.
    /// Waiters spin on relaxed loads. Not fair, not reentrant (a holder that locks again
    /// spins forever): maps take at most one lock of a kind at a time, in a fixed order.
    #[inline(always)]
    pub(crate) fn lock(&self) -> WordLock<'_> {
        while !self.try_lock() {
            core::hint::spin_loop();
        }
        WordLock { word: self }
    }
}

/// A held lock in a [`Word`]; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct WordLock<'a> {
    word: &'a Word,
}

impl WordLock<'_> {
    /// The `u32` the lock guards (the word's second half).
    #[inline]
    pub(crate) fn payload(&self) -> u32 {
        self.word.half(1)
    }

    /// Sets the `u32` the lock guards.
    #[inline]
    pub(crate) fn set_payload(&self, v: u32) {
        let (flag, _) = self.word.pair();
        self.word.set_pair(flag, v);
    }
}

impl Drop for WordLock<'_> {
    #[inline]
    fn drop(&mut self) {
        self.word.unlock();
    }
}

/// Up to 8 bytes of `chunk`, zero-padded, as a little-endian `u64`: a whole word is one load;
/// a shorter tail is at most two overlapping loads of 4, 2 or 1 bytes (a copy of a run-time
/// length would be a call to `memcpy`, a byte loop costs a 64-bit shift per byte on 32-bit
/// cores). With a length known at compile time it folds to the loads it needs.
#[inline(always)]
pub(crate) fn padded_le(chunk: &[u8]) -> u64 {
    if let Some(bytes) = chunk.first_chunk::<8>() {
        return u64::from_le_bytes(*bytes);
    }
    // `n` is 1..=7: the shifts below are under the width.
    let n = chunk.len() as u32;
    // Two loads that cover the chunk, the second ending at its end; the bytes they share are
    // the same in both, so or-ing them is exact.
    if let (Some(lo), Some(hi)) = (chunk.first_chunk::<4>(), chunk.last_chunk::<4>()) {
        let lo = u64::from(u32::from_le_bytes(*lo));
        let hi = u64::from(u32::from_le_bytes(*hi));
        return lo | hi.wrapping_shl(n.wrapping_sub(4).wrapping_mul(8));
    }
    if let (Some(lo), Some(hi)) = (chunk.first_chunk::<2>(), chunk.last_chunk::<2>()) {
        let lo = u32::from(u16::from_le_bytes(*lo));
        let hi = u32::from(u16::from_le_bytes(*hi));
        return u64::from(lo | hi.wrapping_shl(n.wrapping_sub(2).wrapping_mul(8)));
    }
    chunk.first().map_or(0, |&b| u64::from(b))
}

/// Whether `words` hold `key` as [`copy_in`] stores it: the key's bytes, zero-padded to the
/// end of the last word. One 8-byte compare per word: the whole words of the key, then its
/// tail (so that a key length known at compile time folds the loop away).
#[inline(always)]
pub(crate) fn words_eq(words: &[Word], key: &[u8]) -> bool {
    let mut ws = words.iter();
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let (Some(w), Some(bytes)) = (ws.next(), chunk.first_chunk::<8>()) else {
            return false;
        };
        if w.load(Ordering::Relaxed) != *bytes {
            return false;
        }
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        match ws.next() {
            Some(w) if u64::from_le_bytes(w.load(Ordering::Relaxed)) == padded_le(tail) => {}
            _ => return false,
        }
    }
    ws.all(|w| w.load(Ordering::Relaxed) == [0; 8])
}

/// Copies `src` into `dst` word by word (relaxed).
#[inline]
pub(crate) fn copy_words(dst: &[Word], src: &[Word]) {
    for (d, s) in dst.iter().zip(src) {
        d.store(s.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// Zeroes `words`.
#[inline]
pub(crate) fn zero(words: &[Word]) {
    for w in words {
        w.store([0; 8], Ordering::Relaxed);
    }
}

/// The address of the first byte of `words`, carrying write permission for all of them.
#[inline]
pub(crate) fn words_addr(words: &[Word]) -> NonNull<u8> {
    NonNull::from(words).cast::<u8>()
}

/// The address of `words` as an integer.
#[inline]
pub(crate) fn words_usize(words: &[Word]) -> usize {
    words_addr(words).as_ptr().addr()
}

/// Writes `src` into `words` from the first byte, zero-filling the rest of the last word touched
/// and every later word. Each word is one relaxed atomic store.
#[inline]
pub(crate) fn copy_in(words: &[Word], src: &[u8]) {
    let mut chunks = src.chunks(8);
    for w in words {
        let v = chunks.next().map_or(0, padded_le);
        w.store(v.to_le_bytes(), Ordering::Relaxed);
    }
}

/// Reads the first `dst.len()` bytes of `words` into `dst` (stopping early if `words` is
/// shorter). Each word is one relaxed atomic load.
#[inline]
pub(crate) fn copy_out(words: &[Word], dst: &mut [u8]) {
    for (w, chunk) in words.iter().zip(dst.chunks_mut(8)) {
        let buf = w.load(Ordering::Relaxed);
        match <&mut [u8; 8]>::try_from(&mut *chunk) {
            Ok(whole) => *whole = buf,
            Err(_) => {
                for (d, s) in chunk.iter_mut().zip(buf) {
                    *d = s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_round_trip_pads_with_zero() {
        let words = [Word::new(), Word::new(), Word::new()];
        for w in &words {
            w.store([0xff; 8], Ordering::Relaxed);
        }
        let src: [u8; 11] = core::array::from_fn(|i| i as u8 + 1);
        copy_in(&words, &src);
        let mut out = [0u8; 24];
        copy_out(&words, &mut out);
        assert_eq!(&out[..11], &src);
        assert!(out[11..].iter().all(|&b| b == 0));
        assert_eq!(value_words(11), 2);
        assert_eq!(value_words(16), 2);
        assert_eq!(value_words(17), 3);
    }

    #[test]
    fn padded_le_of_every_length_matches_the_bytewise_definition() {
        let bytes: [u8; 12] = core::array::from_fn(|i| 0x11 * (i as u8 + 1));
        for start in 0..4 {
            for len in 0..=8 {
                let chunk = &bytes[start..start + len];
                let want = chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |w, (i, &b)| w | u64::from(b) << (8 * i));
                assert_eq!(padded_le(chunk), want, "start {start} len {len}");
            }
        }
        // Longer chunks: their first 8 bytes.
        assert_eq!(
            padded_le(&bytes),
            u64::from_le_bytes(bytes[..8].try_into().unwrap())
        );
    }

    #[test]
    fn halves_numbers_and_lock() {
        let w = Word::new();
        w.set_pair(7, 9);
        assert_eq!((w.half(0), w.half(1)), (7, 9));
        assert_eq!(w.load(Ordering::Relaxed)[..4], 7u32.to_ne_bytes());
        w.set_half(1, 5);
        assert_eq!(w.pair(), (7, 5));
        w.set_pair(0, 0);
        {
            let g = w.lock();
            assert!(w.is_locked());
            g.set_payload(42);
            assert_eq!(g.payload(), 42);
        }
        assert!(!w.is_locked());
        assert_eq!(w.pair(), (0, 42));
        let n = Word::new();
        n.sub_num(1);
        assert_eq!(n.num(Ordering::Relaxed), u32::MAX);
        assert_eq!(n.add_num(2), u32::MAX);
        assert_eq!(n.num(Ordering::Relaxed), 1);
        assert_eq!(n.swap_num(5, Ordering::Relaxed), 1);
        let words = [Word::new(), Word::new()];
        copy_in(&words, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(words_eq(&words, &[1, 2, 3, 4, 5, 6, 7, 8, 9]));
        assert!(!words_eq(&words, &[1, 2, 3, 4, 5, 6, 7, 8, 8]));
        assert!(!words_eq(&words, &[1, 2]), "a prefix is another key");
        assert!(!words_eq(&words[..1], &[1, 2, 3, 4, 5, 6, 7, 8, 9]));
    }

    #[test]
    fn address_points_at_the_words() {
        let words = [Word::new(), Word::new()];
        let addr = words_usize(&words);
        assert_eq!(addr % 8, 0);
        assert_eq!(addr, core::ptr::addr_of!(words[0]) as usize);
    }
}
