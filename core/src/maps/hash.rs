//! `BPF_MAP_TYPE_HASH`: up to `N` keys of `K` bytes, chained in `N` buckets, one lock each.
//!
//! Entries come from a fixed pool (a free list plus a never-used high-water mark) and are
//! linked into the chain of their bucket. Every field of an entry is an atomic accessed only
//! under the lock that owns the entry at that moment: its bucket's lock while it is in a chain,
//! the free-list lock while it is free. So lookups and in-place updates of keys in different
//! buckets never contend; only inserting and deleting touch the shared free-list lock (taken
//! after, never before, a bucket lock, so there is no lock-order cycle).

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering::Relaxed};

use spin::Mutex;

use super::word::{copy_in, copy_out, value_words, words_addr, words_usize, Word};
use super::{
    check_update_flags, Map, MapDef, MapError, MapType, ValueRegion, BPF_EXIST, BPF_NOEXIST,
};

/// No entry.
pub(crate) const NIL: u32 = u32::MAX;

/// Links (entry indices, or [`NIL`]) are stored complemented, so that `NIL` is stored as 0 and
/// an empty map is all zeros: a `static` of it goes to `.bss` and costs no flash.
#[inline]
pub(crate) const fn stored(link: u32) -> u32 {
    !link
}

/// The link a stored word holds (see [`stored`]).
#[inline]
pub(crate) const fn link(stored: u32) -> u32 {
    !stored
}

/// Hashes a key: 8 bytes at a time, multiply and fold, seeded.
///
/// Not a cryptographic hash: an attacker who knows the seed can fill one chain. Embedders
/// exposed to hostile keys give each map a secret seed with `with_seed`.
pub(crate) fn hash_key(seed: u64, key: &[u8]) -> u32 {
    const M: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut mix = |word: u64| {
        h = (h ^ word).wrapping_mul(M);
        h ^= h >> 29;
    };
    let mut words = key.chunks_exact(8);
    for chunk in &mut words {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(chunk);
        mix(u64::from_le_bytes(buf));
    }
    // The last, shorter chunk, zero-padded.
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut buf = [0u8; 8];
        buf[..tail.len()].copy_from_slice(tail);
        mix(u64::from_le_bytes(buf));
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 32;
    h as u32
}

#[derive(Debug)]
struct Entry<const K: usize> {
    hash: AtomicU32,
    next: AtomicU32,
    key: [AtomicU8; K],
}

impl<const K: usize> Entry<K> {
    const fn new() -> Self {
        Entry {
            hash: AtomicU32::new(0),
            next: AtomicU32::new(stored(NIL)),
            key: [const { AtomicU8::new(0) }; K],
        }
    }

    fn key_is(&self, key: &[u8; K]) -> bool {
        self.key.iter().zip(key).all(|(a, b)| a.load(Relaxed) == *b)
    }

    fn copy_key(&self, out: &mut [u8]) {
        for (d, s) in out.iter_mut().zip(&self.key) {
            *d = s.load(Relaxed);
        }
    }
}

#[derive(Debug)]
struct FreeList {
    /// First free entry (chained through `Entry::next`), or `NIL`; stored (see [`stored`]).
    head: u32,
    /// Entries from here on have never been used.
    bump: u32,
}

/// A hash map of up to `N` keys of `K` bytes to values of `V` bytes (`W = value_words(V)`).
///
/// Update of a new key in a full map fails with [`MapError::TooBig`] (`E2BIG`), as in Linux.
pub struct HashMap<const K: usize, const V: usize, const W: usize, const N: usize> {
    buckets: [Mutex<u32>; N],
    entries: [Entry<K>; N],
    values: [[Word; W]; N],
    free: Mutex<FreeList>,
    len: AtomicU32,
    seed: u64,
}

impl<const K: usize, const V: usize, const W: usize, const N: usize> HashMap<K, V, W, N> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// An empty map with hash seed 0.
    pub const fn new() -> Self {
        Self::with_seed(0)
    }

    /// An empty map with a hash seed (a secret seed defeats chosen-key flooding).
    pub const fn with_seed(seed: u64) -> Self {
        const {
            assert!(K > 0 && K <= u32::MAX as usize, "key size out of range");
            assert!(V > 0 && V <= u32::MAX as usize, "value size out of range");
            assert!(W == value_words(V), "W must be value_words(V)");
            assert!(N > 0 && N < NIL as usize, "capacity out of range");
        }
        HashMap {
            buckets: [const { Mutex::new(stored(NIL)) }; N],
            entries: [const { Entry::new() }; N],
            values: [const { [const { Word::new() }; W] }; N],
            free: Mutex::new(FreeList {
                head: stored(NIL),
                bump: 0,
            }),
            len: AtomicU32::new(0),
            seed,
        }
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.len.load(Relaxed) as usize
    }

    /// Whether the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value words of `key`.
    pub fn get(&self, key: &[u8; K]) -> Option<&[Word; W]> {
        let idx = self.find_locked(key)?;
        self.values.get(idx as usize)
    }

    fn bucket(&self, hash: u32) -> Option<&Mutex<u32>> {
        self.buckets.get(hash as usize % N)
    }

    /// Walks the chain from `head`; the caller holds the bucket's lock. Bounded by `N` so that
    /// even a broken chain cannot loop forever.
    fn find(&self, head: u32, hash: u32, key: &[u8; K]) -> Option<(u32, u32)> {
        let mut prev = NIL;
        let mut cur = head;
        for _ in 0..N {
            let e = self.entries.get(cur as usize)?;
            if e.hash.load(Relaxed) == hash && e.key_is(key) {
                return Some((prev, cur));
            }
            prev = cur;
            cur = link(e.next.load(Relaxed));
        }
        None
    }

    fn find_locked(&self, key: &[u8; K]) -> Option<u32> {
        let hash = hash_key(self.seed, key);
        let head = self.bucket(hash)?.lock();
        self.find(link(*head), hash, key).map(|(_, idx)| idx)
    }

    fn alloc(&self) -> Option<u32> {
        let mut free = self.free.lock();
        if link(free.head) != NIL {
            let idx = link(free.head);
            // Both hold stored links.
            free.head = self.entries.get(idx as usize)?.next.load(Relaxed);
            Some(idx)
        } else if (free.bump as usize) < N {
            free.bump += 1;
            Some(free.bump - 1)
        } else {
            None
        }
    }

    fn release(&self, idx: u32) {
        let mut free = self.free.lock();
        if let Some(e) = self.entries.get(idx as usize) {
            // Both hold stored links.
            e.next.store(free.head, Relaxed);
            free.head = stored(idx);
        }
    }

    fn first_key_from(&self, bucket: usize, out: &mut [u8]) -> Result<(), MapError> {
        for b in self.buckets.iter().skip(bucket) {
            let head = b.lock();
            if let Some(e) = self.entries.get(link(*head) as usize) {
                e.copy_key(out);
                return Ok(());
            }
        }
        Err(MapError::NotFound)
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize> HashMap<K, V, W, N> {
    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        let unlocked = !self.free.is_locked() && self.buckets.iter().all(|b| !b.is_locked());
        let free = self.free.lock();
        unlocked
            && (free.head, free.bump) == (0, 0)
            && self.buckets.iter().all(|b| *b.lock() == 0)
            && self.entries.iter().all(|e| {
                e.hash.load(Relaxed) == 0
                    && e.next.load(Relaxed) == 0
                    && e.key.iter().all(|k| k.load(Relaxed) == 0)
            })
            && self
                .values
                .as_flattened()
                .iter()
                .all(|w| w.load(core::sync::atomic::Ordering::Relaxed) == [0; 8])
            && self.len.load(Relaxed) == 0
            && self.seed == 0
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize> Default
    for HashMap<K, V, W, N>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize> core::fmt::Debug
    for HashMap<K, V, W, N>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HashMap")
            .field("key_size", &K)
            .field("value_size", &V)
            .field("max_entries", &N)
            .field("len", &self.len())
            .finish()
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize> Map for HashMap<K, V, W, N> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::Hash,
            key_size: K as u32,
            value_size: V as u32,
            max_entries: N as u32,
            flags: 0,
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        self.get(key.try_into().ok()?).map(|w| words_addr(w))
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let key: &[u8; K] = key.try_into().map_err(|_| MapError::Invalid)?;
        if out.len() != V {
            return Err(MapError::Invalid);
        }
        let hash = hash_key(self.seed, key);
        let head = self.bucket(hash).ok_or(MapError::NotFound)?.lock();
        let (_, idx) = self
            .find(link(*head), hash, key)
            .ok_or(MapError::NotFound)?;
        copy_out(
            self.values.get(idx as usize).ok_or(MapError::NotFound)?,
            out,
        );
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let key: &[u8; K] = key.try_into().map_err(|_| MapError::Invalid)?;
        if value.len() != V {
            return Err(MapError::Invalid);
        }
        let hash = hash_key(self.seed, key);
        let mut head = self.bucket(hash).ok_or(MapError::Invalid)?.lock();
        if let Some((_, idx)) = self.find(link(*head), hash, key) {
            if flags == BPF_NOEXIST {
                return Err(MapError::Exists);
            }
            copy_in(
                self.values.get(idx as usize).ok_or(MapError::Invalid)?,
                value,
            );
            return Ok(());
        }
        if flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        let idx = self.alloc().ok_or(MapError::TooBig)?;
        let (Some(e), Some(v)) = (
            self.entries.get(idx as usize),
            self.values.get(idx as usize),
        ) else {
            return Err(MapError::Invalid);
        };
        for (d, s) in e.key.iter().zip(key) {
            d.store(*s, Relaxed);
        }
        e.hash.store(hash, Relaxed);
        // Both hold stored links.
        e.next.store(*head, Relaxed);
        copy_in(v, value);
        *head = stored(idx);
        self.len.fetch_add(1, Relaxed);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let key: &[u8; K] = key.try_into().map_err(|_| MapError::Invalid)?;
        let hash = hash_key(self.seed, key);
        let mut head = self.bucket(hash).ok_or(MapError::Invalid)?.lock();
        let (prev, idx) = self
            .find(link(*head), hash, key)
            .ok_or(MapError::NotFound)?;
        let next = self
            .entries
            .get(idx as usize)
            .map_or(NIL, |e| link(e.next.load(Relaxed)));
        match self.entries.get(prev as usize) {
            Some(p) => p.next.store(stored(next), Relaxed),
            None => *head = stored(next),
        }
        drop(head);
        self.release(idx);
        self.len.fetch_sub(1, Relaxed);
        Ok(())
    }

    /// Linux's order: the rest of the key's chain, then the following buckets.
    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != K {
            return Err(MapError::Invalid);
        }
        let Some(key) = key else {
            return self.first_key_from(0, out);
        };
        let key: &[u8; K] = key.try_into().map_err(|_| MapError::Invalid)?;
        let hash = hash_key(self.seed, key);
        let bucket = hash as usize % N;
        let head = self.bucket(hash).ok_or(MapError::Invalid)?.lock();
        let Some((_, idx)) = self.find(link(*head), hash, key) else {
            drop(head);
            return self.first_key_from(0, out);
        };
        let next = self
            .entries
            .get(idx as usize)
            .map_or(NIL, |e| link(e.next.load(Relaxed)));
        if let Some(e) = self.entries.get(next as usize) {
            e.copy_key(out);
            return Ok(());
        }
        drop(head);
        self.first_key_from(bucket + 1, out)
    }

    fn value_region(&self) -> ValueRegion {
        ValueRegion {
            start: words_usize(self.values.as_flattened()),
            len: N * W * 8,
            stride: W * 8,
            value_size: V,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;

    /// The hash, one byte at a time: each 8-byte chunk, the last one zero-padded, read as a
    /// little-endian word. `hash_key` must give the same values (a map's layout depends on them).
    fn hash_bytewise(seed: u64, key: &[u8]) -> u32 {
        const M: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
        for chunk in key.chunks(8) {
            let word = chunk
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, &b)| w | (b as u64) << (8 * i));
            h = (h ^ word).wrapping_mul(M);
            h ^= h >> 29;
        }
        h ^= h >> 32;
        h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        h ^= h >> 32;
        h as u32
    }

    #[test]
    fn hash_of_every_key_length_matches_the_bytewise_definition() {
        let mut rng = XorShift(0x5eed_4a57);
        for len in 0..=40 {
            for _ in 0..50 {
                let key: std::vec::Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let seed = rng.next();
                assert_eq!(hash_key(seed, &key), hash_bytewise(seed, &key), "len {len}");
            }
        }
    }
    use crate::maps::BPF_ANY;
    use std::collections::{BTreeSet, HashMap as StdMap};

    #[test]
    fn linux_errors_and_capacity() {
        let m = HashMap::<4, 8, 1, 3>::new();
        let k = |i: u32| i.to_ne_bytes();
        assert_eq!(m.update(&k(1), &[1; 8], BPF_EXIST), Err(MapError::NotFound));
        for i in 0..3 {
            assert_eq!(m.update(&k(i), &[i as u8; 8], BPF_NOEXIST), Ok(()));
        }
        assert_eq!(m.update(&k(1), &[9; 8], BPF_NOEXIST), Err(MapError::Exists));
        assert_eq!(m.update(&k(7), &[9; 8], BPF_ANY), Err(MapError::TooBig));
        assert_eq!(m.update(&k(1), &[9; 8], BPF_EXIST), Ok(()));
        assert_eq!(m.update(&k(1), &[9; 8], 4), Err(MapError::Invalid));
        assert_eq!(m.update(&[1, 2], &[9; 8], BPF_ANY), Err(MapError::Invalid));
        assert_eq!(m.update(&k(1), &[9; 7], BPF_ANY), Err(MapError::Invalid));
        assert_eq!(m.delete(&k(7)), Err(MapError::NotFound));
        assert_eq!(m.len(), 3);
        let a = m.lookup(&k(1)).unwrap().as_ptr().addr();
        assert_eq!(m.delete(&k(1)), Ok(()));
        assert!(m.lookup(&k(1)).is_none());
        assert_eq!(m.update(&k(7), &[7; 8], BPF_ANY), Ok(()));
        // The freed slot is reused: the old address now holds the new key's value.
        assert_eq!(m.lookup(&k(7)).unwrap().as_ptr().addr(), a);
        assert!(m.value_region().contains(a, 8));
        let mut out = [0; 8];
        m.lookup_copy(&k(7), &mut out).unwrap();
        assert_eq!(out, [7; 8]);
        assert_eq!(m.lookup_copy(&k(1), &mut out), Err(MapError::NotFound));
    }

    fn keys_by_iteration<const K: usize, const V: usize, const W: usize, const N: usize>(
        m: &HashMap<K, V, W, N>,
    ) -> std::vec::Vec<[u8; K]> {
        let mut keys = std::vec::Vec::new();
        let mut out = [0u8; K];
        let mut cur: Option<[u8; K]> = None;
        while m.next_key(cur.as_ref().map(|k| &k[..]), &mut out).is_ok() {
            keys.push(out);
            cur = Some(out);
            assert!(keys.len() <= N, "iteration does not end");
        }
        keys
    }

    #[test]
    fn random_ops_match_model() {
        const N: usize = 64;
        let m = HashMap::<6, 10, 2, N>::with_seed(42);
        let mut model: StdMap<[u8; 6], [u8; 10]> = StdMap::new();
        let mut rng = XorShift(0xdead_beef);
        for step in 0..6000 {
            // Few distinct keys, so updates, deletes and a full map all happen.
            let mut key = [0u8; 6];
            key[0] = rng.below(90) as u8;
            let value: [u8; 10] = rng.bytes();
            match rng.below(4) {
                0 | 1 => {
                    let flags = rng.below(3);
                    let exists = model.contains_key(&key);
                    let want = match (flags, exists) {
                        (BPF_NOEXIST, true) => Err(MapError::Exists),
                        (BPF_EXIST, false) => Err(MapError::NotFound),
                        (_, false) if model.len() == N => Err(MapError::TooBig),
                        _ => Ok(()),
                    };
                    assert_eq!(m.update(&key, &value, flags), want, "step {step}");
                    if want.is_ok() {
                        model.insert(key, value);
                    }
                }
                2 => {
                    let want = if model.remove(&key).is_some() {
                        Ok(())
                    } else {
                        Err(MapError::NotFound)
                    };
                    assert_eq!(m.delete(&key), want, "step {step}");
                }
                _ => {
                    let mut out = [0u8; 10];
                    let got = m.lookup_copy(&key, &mut out).ok().map(|_| out);
                    assert_eq!(got, model.get(&key).copied(), "step {step}");
                    assert_eq!(m.lookup(&key).is_some(), got.is_some());
                }
            }
            assert_eq!(m.len(), model.len());
        }
        let iterated = keys_by_iteration(&m);
        let set: BTreeSet<_> = iterated.iter().copied().collect();
        assert_eq!(set.len(), iterated.len(), "iteration repeats a key");
        assert_eq!(set, model.keys().copied().collect::<BTreeSet<_>>());
    }

    #[test]
    fn colliding_keys_share_a_bucket() {
        const N: usize = 8;
        let m = HashMap::<4, 8, 1, N>::with_seed(3);
        let bucket = |i: u32| hash_key(3, &i.to_ne_bytes()) as usize % N;
        let keys: std::vec::Vec<u32> = (0..10_000).filter(|&i| bucket(i) == 5).take(4).collect();
        assert_eq!(keys.len(), 4);
        for &k in &keys {
            m.update(&k.to_ne_bytes(), &[k as u8; 8], BPF_ANY).unwrap();
        }
        // Delete from the middle, the head and the tail of the chain.
        for (n, &gone) in [keys[1], keys[3], keys[0]].iter().enumerate() {
            m.delete(&gone.to_ne_bytes()).unwrap();
            assert!(m.lookup(&gone.to_ne_bytes()).is_none());
            assert_eq!(m.len(), 3 - n);
        }
        let mut out = [0; 8];
        m.lookup_copy(&keys[2].to_ne_bytes(), &mut out).unwrap();
        assert_eq!(out, [keys[2] as u8; 8]);
        assert_eq!(keys_by_iteration(&m), [keys[2].to_ne_bytes()]);
    }
}
