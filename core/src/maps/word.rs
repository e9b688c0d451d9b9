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
    pub const fn new() -> Word {
        Word(AtomicU64::new(0))
    }

    /// A zero word.
    #[cfg(not(target_has_atomic = "64"))]
    pub const fn new() -> Word {
        Word([AtomicU32::new(0), AtomicU32::new(0)])
    }

    /// The word as an `AtomicU64`, for host code that updates counters the way programs do.
    #[cfg(target_has_atomic = "64")]
    pub fn as_atomic(&self) -> &AtomicU64 {
        &self.0
    }

    /// The eight bytes in memory order.
    #[cfg(target_has_atomic = "64")]
    pub fn load(&self, order: Ordering) -> [u8; 8] {
        self.0.load(order).to_ne_bytes()
    }

    /// The eight bytes in memory order (two 4-byte halves, the first loaded first).
    #[cfg(not(target_has_atomic = "64"))]
    pub fn load(&self, order: Ordering) -> [u8; 8] {
        let [a, b] = &self.0;
        let lo = a.load(order).to_ne_bytes();
        let hi = b.load(order).to_ne_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]]
    }

    /// Stores eight bytes in memory order.
    #[cfg(target_has_atomic = "64")]
    pub fn store(&self, bytes: [u8; 8], order: Ordering) {
        self.0.store(u64::from_ne_bytes(bytes), order);
    }

    /// Stores eight bytes in memory order (the second half first, so that a release store
    /// publishes the whole word with its first half).
    #[cfg(not(target_has_atomic = "64"))]
    pub fn store(&self, bytes: [u8; 8], order: Ordering) {
        let [a, b] = &self.0;
        let [b0, b1, b2, b3, b4, b5, b6, b7] = bytes;
        b.store(u32::from_ne_bytes([b4, b5, b6, b7]), order);
        a.store(u32::from_ne_bytes([b0, b1, b2, b3]), order);
    }
}

/// The address of the first byte of `words`, carrying write permission for all of them.
pub(crate) fn words_addr(words: &[Word]) -> NonNull<u8> {
    NonNull::from(words).cast::<u8>()
}

/// The address of `words` as an integer.
pub(crate) fn words_usize(words: &[Word]) -> usize {
    words_addr(words).as_ptr().addr()
}

/// Writes `src` into `words` from the first byte, zero-filling the rest of the last word touched
/// and every later word. Each word is one relaxed atomic store.
pub(crate) fn copy_in(words: &[Word], src: &[u8]) {
    let mut chunks = src.chunks(8);
    for w in words {
        let mut buf = [0u8; 8];
        if let Some(chunk) = chunks.next() {
            for (d, s) in buf.iter_mut().zip(chunk) {
                *d = *s;
            }
        }
        w.store(buf, Ordering::Relaxed);
    }
}

/// Reads the first `dst.len()` bytes of `words` into `dst` (stopping early if `words` is
/// shorter). Each word is one relaxed atomic load.
pub(crate) fn copy_out(words: &[Word], dst: &mut [u8]) {
    for (w, chunk) in words.iter().zip(dst.chunks_mut(8)) {
        let buf = w.load(Ordering::Relaxed);
        for (d, s) in chunk.iter_mut().zip(buf.iter()) {
            *d = *s;
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
    fn address_points_at_the_words() {
        let words = [Word::new(), Word::new()];
        let addr = words_usize(&words);
        assert_eq!(addr % 8, 0);
        assert_eq!(addr, core::ptr::addr_of!(words[0]) as usize);
    }
}
