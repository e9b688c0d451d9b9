//! `BPF_MAP_TYPE_HASH`: up to `N` keys of `K` bytes, chained in `N` buckets, one lock each.
//!
//! Entries come from a fixed pool (a free list plus a never-used high-water mark) and are
//! linked into the chain of their bucket. Every field of an entry is an atomic accessed only
//! under the lock that owns the entry at that moment: its bucket's lock while it is in a chain,
//! the free-list lock while it is free. So lookups and in-place updates of keys in different
//! buckets never contend; only inserting and deleting touch the shared free-list lock (taken
//! after, never before, a bucket lock, so there is no lock-order cycle).

use core::ptr::NonNull;
use core::sync::atomic::Ordering::Relaxed;

use super::layout::{check_storage, mul, sum, Carve, LayoutError, MapSizing, Shape};
use super::word::{copy_in, copy_out, padded_le, value_words, words_addr, words_eq, Word};
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

/// The bucket of `hash` among `n`: the high half of `hash × n` (a multiply, where `%` of a
/// run-time `n` would be a division on every operation; the hash's high bits are as well
/// mixed as its low ones).
#[inline(always)]
pub(crate) const fn bucket_of(hash: u32, n: u32) -> u32 {
    // Exact: a product of two 32-bit values fits in 64 bits.
    ((hash as u64).wrapping_mul(n as u64) >> 32) as u32
}

/// Hashes a key: 8 bytes at a time, multiply and fold, seeded.
///
/// Not a cryptographic hash: an attacker who knows the seed can fill one chain. Embedders
/// exposed to hostile keys give each map a secret seed with `with_seed`.
#[inline]
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
        mix(padded_le(tail));
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 32;
    h as u32
}

/// A hash map (or per-CPU hash map) over borrowed storage, sized at run time.
///
/// Storage, in order: the free-list lock (payload: the first free entry, stored), the
/// never-used mark, the key count, `n` buckets (a lock each, payload: the first entry of the
/// chain, stored), `n` entries of `1 + kw` words (hash and next link; the key), and `cpus × n`
/// values of `vw` words (the copies of one CPU contiguous).
///
/// Update of a new key in a full map fails with [`MapError::TooBig`] (`E2BIG`), as in Linux.
#[derive(Debug)]
pub struct HashView<'a> {
    free: &'a Word,
    bump: &'a Word,
    len: &'a Word,
    buckets: &'a [Word],
    entries: &'a [Word],
    values: &'a [Word],
    seed: u64,
    key_size: u32,
    value_size: u32,
    n: u32,
    cpus: u32,
    /// Words per entry: `1 + value_words(key_size)`.
    stride: usize,
    vw: usize,
    map_type: MapType,
    flags: u32,
}

impl<'a> HashView<'a> {
    pub(crate) fn words(s: &Shape) -> Result<usize, LayoutError> {
        sum(&[
            3,
            s.n,
            mul(s.n, s.kw.saturating_add(1))?,
            mul(mul(s.n, s.vw)?, s.cpus)?,
        ])
    }

    /// A view of `def` (a hash or per-CPU hash map) over `words`, which must be exactly
    /// [`words_needed`](super::words_needed) long, with hash seed `seed`.
    ///
    /// # Errors
    ///
    /// A definition the type does not accept, or storage of the wrong length.
    pub fn new(
        def: &MapDef,
        sizing: &MapSizing,
        words: &'a [Word],
        seed: u64,
    ) -> Result<Self, LayoutError> {
        let s = check_storage(def, sizing, words)?;
        if !matches!(def.map_type, MapType::Hash | MapType::PerCpuHash) {
            return Err(LayoutError::UnsupportedType(def.map_type));
        }
        let mut c = Carve::new(words);
        let (free, bump, len) = (c.one()?, c.one()?, c.one()?);
        let buckets = c.take(s.n)?;
        let entries = c.take(mul(s.n, s.kw.saturating_add(1))?)?;
        let values = c.take(mul(mul(s.n, s.vw)?, s.cpus)?)?;
        Ok(HashView {
            free,
            bump,
            len,
            buckets,
            entries,
            values,
            seed,
            key_size: def.key_size,
            value_size: def.value_size,
            n: def.max_entries,
            cpus: s.cpus as u32,
            stride: s.kw.saturating_add(1),
            vw: s.vw,
            map_type: def.map_type,
            flags: def.flags,
        })
    }

    /// Over the parts of a plain hash map of `n` keys of `k` bytes to values of `v` bytes:
    /// `meta` is the free-list lock, the never-used mark and the key count.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn from_parts(
        meta: &'a [Word; 3],
        buckets: &'a [Word],
        entries: &'a [Word],
        values: &'a [Word],
        k: usize,
        v: usize,
        n: usize,
        seed: u64,
    ) -> Self {
        let [free, bump, len] = meta;
        HashView {
            free,
            bump,
            len,
            buckets,
            entries,
            values,
            seed,
            key_size: k as u32,
            value_size: v as u32,
            n: n as u32,
            cpus: 1,
            stride: value_words(k).saturating_add(1),
            vw: value_words(v),
            map_type: MapType::Hash,
            flags: 0,
        }
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.len.num(Relaxed) as usize
    }

    /// Whether the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value words of `key` (CPU 0's copy for a per-CPU map).
    #[inline(always)]
    pub fn get(&self, key: &[u8]) -> Option<&'a [Word]> {
        if key.len() != self.key_size as usize {
            return None;
        }
        let hash = hash_key(self.seed, key);
        let head = self.bucket(hash)?.lock();
        let (_, idx) = self.find(link(head.payload()), hash, key)?;
        self.value(idx, 0)
    }

    /// The entry (value slot) holding `key`. Entries are taken lowest first and a freed one
    /// is the next taken, so a host tool can list keys in the order they were stored.
    pub fn slot_of(&self, key: &[u8]) -> Option<u32> {
        if key.len() != self.key_size as usize {
            return None;
        }
        let hash = hash_key(self.seed, key);
        let head = self.bucket(hash)?.lock();
        self.find(link(head.payload()), hash, key)
            .map(|(_, idx)| idx)
    }

    #[inline(always)]
    fn bucket(&self, hash: u32) -> Option<&'a Word> {
        self.buckets.get(bucket_of(hash, self.n) as usize)
    }

    /// Entry `idx`: its meta word (hash, stored next link) and its key words.
    #[inline(always)]
    fn entry(&self, idx: u32) -> Option<(&'a Word, &'a [Word])> {
        if idx >= self.n {
            return None;
        }
        // No overflow: `n × stride` words exist.
        let at = (idx as usize).saturating_mul(self.stride);
        self.entries
            .get(at..at.saturating_add(self.stride))?
            .split_first()
    }

    /// CPU `cpu`'s copy of value `idx`.
    #[inline(always)]
    fn value(&self, idx: u32, cpu: u32) -> Option<&'a [Word]> {
        if idx >= self.n || cpu >= self.cpus {
            return None;
        }
        // No overflow: `cpus × n × vw` words exist.
        let at = (cpu as usize)
            .saturating_mul(self.n as usize)
            .saturating_add(idx as usize)
            .saturating_mul(self.vw);
        self.values.get(at..at.saturating_add(self.vw))
    }

    /// Walks the chain from `head`; the caller holds the bucket's lock. Bounded by `n` so that
    /// even a broken chain cannot loop forever.
    #[inline(always)]
    fn find(&self, head: u32, hash: u32, key: &[u8]) -> Option<(u32, u32)> {
        let mut prev = NIL;
        let mut cur = head;
        for _ in 0..self.n {
            let (meta, k) = self.entry(cur)?;
            let (h, next) = meta.pair();
            if h == hash && words_eq(k, key) {
                return Some((prev, cur));
            }
            prev = cur;
            cur = link(next);
        }
        None
    }

    #[inline]
    fn alloc(&self) -> Option<u32> {
        let free = self.free.lock();
        let head = link(free.payload());
        if head != NIL {
            // Both hold stored links.
            free.set_payload(self.entry(head)?.0.half(1));
            Some(head)
        } else {
            let bump = self.bump.half(0);
            if bump < self.n {
                self.bump.set_half(0, bump.saturating_add(1));
                Some(bump)
            } else {
                None
            }
        }
    }

    #[inline]
    fn release(&self, idx: u32) {
        let free = self.free.lock();
        if let Some((meta, _)) = self.entry(idx) {
            // Both hold stored links.
            meta.set_half(1, free.payload());
            free.set_payload(stored(idx));
        }
    }

    fn first_key_from(&self, bucket: usize, out: &mut [u8]) -> Result<(), MapError> {
        for b in self.buckets.iter().skip(bucket) {
            let head = b.lock();
            if let Some((_, k)) = self.entry(link(head.payload())) {
                copy_out(k, out);
                return Ok(());
            }
        }
        Err(MapError::NotFound)
    }

    fn per_cpu(&self) -> bool {
        self.map_type == MapType::PerCpuHash
    }

    /// Update for `cpu`, or every CPU's copy (`None`). Inlined, so that a const-generic
    /// map's update is specialised to its sizes.
    #[inline(always)]
    fn update_on(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> Result<(), MapError> {
        check_update_flags(flags)?;
        if key.len() != self.key_size as usize || value.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        if cpu.is_some_and(|c| c >= self.cpus) {
            return Err(MapError::Invalid);
        }
        let hash = hash_key(self.seed, key);
        let head = self.bucket(hash).ok_or(MapError::Invalid)?.lock();
        if let Some((_, idx)) = self.find(link(head.payload()), hash, key) {
            if flags == BPF_NOEXIST {
                return Err(MapError::Exists);
            }
            for c in 0..self.cpus {
                if cpu.is_none_or(|only| only == c) {
                    copy_in(self.value(idx, c).ok_or(MapError::Invalid)?, value);
                }
            }
            return Ok(());
        }
        if flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        let idx = self.alloc().ok_or(MapError::TooBig)?;
        let Some((meta, k)) = self.entry(idx) else {
            return Err(MapError::Invalid);
        };
        copy_in(k, key);
        for c in 0..self.cpus {
            let v = self.value(idx, c).ok_or(MapError::Invalid)?;
            // A new key set from one CPU: the other CPUs' copies start at zero, as in Linux.
            copy_in(
                v,
                if cpu.is_none_or(|only| only == c) {
                    value
                } else {
                    &[]
                },
            );
        }
        // Both hold stored links.
        meta.set_pair(hash, head.payload());
        head.set_payload(stored(idx));
        self.len.add_num(1);
        Ok(())
    }

    /// Whether every word is zero.
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        [self.free, self.bump, self.len].iter().all(|w| w.is_zero())
            && self.buckets.iter().all(Word::is_zero)
            && self.entries.iter().all(Word::is_zero)
            && self.values.iter().all(Word::is_zero)
            && self.seed == 0
    }
}

impl crate::maps::sealed::Sealed for HashView<'_> {
    fn value_region(&self) -> ValueRegion {
        ValueRegion::of_words(self.values, self.vw, self.value_size)
    }
}

impl Map for HashView<'_> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: self.map_type,
            key_size: self.key_size,
            value_size: self.value_size,
            max_entries: self.n,
            flags: self.flags,
        }
    }

    #[inline(always)]
    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        self.get(key).map(words_addr)
    }

    #[inline(always)]
    fn lookup_cpu(&self, key: &[u8], cpu: u32) -> Option<NonNull<u8>> {
        if !self.per_cpu() || cpu == 0 {
            return self.lookup(key);
        }
        if key.len() != self.key_size as usize {
            return None;
        }
        let hash = hash_key(self.seed, key);
        let head = self.bucket(hash)?.lock();
        let (_, idx) = self.find(link(head.payload()), hash, key)?;
        self.value(idx, cpu).map(words_addr)
    }

    #[inline]
    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        if key.len() != self.key_size as usize || out.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        let hash = hash_key(self.seed, key);
        let head = self.bucket(hash).ok_or(MapError::NotFound)?.lock();
        let (_, idx) = self
            .find(link(head.payload()), hash, key)
            .ok_or(MapError::NotFound)?;
        copy_out(self.value(idx, 0).ok_or(MapError::NotFound)?, out);
        Ok(())
    }

    #[inline(always)]
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.update_on(key, value, flags, None)
    }

    #[inline(always)]
    fn update_cpu(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> Result<(), MapError> {
        let cpu = if self.per_cpu() { Some(cpu) } else { None };
        self.update_on(key, value, flags, cpu)
    }

    #[inline]
    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        if key.len() != self.key_size as usize {
            return Err(MapError::Invalid);
        }
        let hash = hash_key(self.seed, key);
        let head = self.bucket(hash).ok_or(MapError::Invalid)?.lock();
        let (prev, idx) = self
            .find(link(head.payload()), hash, key)
            .ok_or(MapError::NotFound)?;
        let next = self.entry(idx).map_or(NIL, |(m, _)| link(m.half(1)));
        match self.entry(prev) {
            Some((p, _)) => p.set_half(1, stored(next)),
            None => head.set_payload(stored(next)),
        }
        drop(head);
        self.release(idx);
        self.len.sub_num(1);
        Ok(())
    }

    /// Linux's order: the rest of the key's chain, then the following buckets.
    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != self.key_size as usize {
            return Err(MapError::Invalid);
        }
        let Some(key) = key else {
            return self.first_key_from(0, out);
        };
        if key.len() != self.key_size as usize {
            return Err(MapError::Invalid);
        }
        let hash = hash_key(self.seed, key);
        let bucket = bucket_of(hash, self.n) as usize;
        let head = self.bucket(hash).ok_or(MapError::Invalid)?.lock();
        let Some((_, idx)) = self.find(link(head.payload()), hash, key) else {
            drop(head);
            return self.first_key_from(0, out);
        };
        let next = self.entry(idx).map_or(NIL, |(m, _)| link(m.half(1)));
        if let Some((_, k)) = self.entry(next) {
            copy_out(k, out);
            return Ok(());
        }
        drop(head);
        self.first_key_from(bucket.saturating_add(1), out)
    }
}

/// A hash map of up to `N` keys of `K` bytes to values of `V` bytes (`W = value_words(V)`):
/// the storage of a [`HashView`] sized at compile time. `E = 1 + value_words(K)` is the
/// words of one entry (the default, 2, fits keys of up to 8 bytes).
///
/// Update of a new key in a full map fails with [`MapError::TooBig`] (`E2BIG`), as in Linux.
pub struct BpfHashMap<
    const K: usize,
    const V: usize,
    const W: usize,
    const N: usize,
    const E: usize = 2,
> {
    meta: [Word; 3],
    buckets: [Word; N],
    entries: [[Word; E]; N],
    values: [[Word; W]; N],
    seed: u64,
}

impl<const K: usize, const V: usize, const W: usize, const N: usize, const E: usize>
    BpfHashMap<K, V, W, N, E>
{
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
            assert!(E == 1 + value_words(K), "E must be 1 + value_words(K)");
            assert!(N > 0 && N < NIL as usize, "capacity out of range");
        }
        BpfHashMap {
            meta: [const { Word::new() }; 3],
            buckets: [const { Word::new() }; N],
            entries: [const { [const { Word::new() }; E] }; N],
            values: [const { [const { Word::new() }; W] }; N],
            seed,
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> HashView<'_> {
        HashView::from_parts(
            &self.meta,
            &self.buckets,
            self.entries.as_flattened(),
            self.values.as_flattened(),
            K,
            V,
            N,
            self.seed,
        )
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value words of `key`.
    pub fn get(&self, key: &[u8; K]) -> Option<&[Word; W]> {
        self.view().get(key)?.try_into().ok()
    }

    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize, const E: usize> Default
    for BpfHashMap<K, V, W, N, E>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize, const E: usize>
    core::fmt::Debug for BpfHashMap<K, V, W, N, E>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BpfHashMap")
            .field("key_size", &K)
            .field("value_size", &V)
            .field("max_entries", &N)
            .field("len", &self.len())
            .finish()
    }
}

super::forward_map!(single_cpu
    [const K: usize, const V: usize, const W: usize, const N: usize, const E: usize]
    BpfHashMap<K, V, W, N, E>
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::sealed::Sealed as _;
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

    /// A hash map created at run time over leaked storage: by an arena (seed 0), or as a
    /// view with `seed`.
    fn run_time(k: u32, v: u32, n: u32, seed: u64) -> &'static HashView<'static> {
        if seed == 0 {
            return match crate::maps::testutil::arena_map(MapType::Hash, k, v, n) {
                crate::maps::AnyMap::Hash(h) => h,
                other => panic!("{other:?}"),
            };
        }
        let def = MapDef {
            map_type: MapType::Hash,
            key_size: k,
            value_size: v,
            max_entries: n,
            flags: 0,
        };
        let sizing = MapSizing::DEFAULT;
        let words = crate::maps::words_needed(&def, &sizing).unwrap();
        let storage: &'static [Word] = (0..words)
            .map(|_| Word::new())
            .collect::<std::vec::Vec<_>>()
            .leak();
        std::boxed::Box::leak(std::boxed::Box::new(
            HashView::new(&def, &sizing, storage, seed).unwrap(),
        ))
    }

    #[test]
    fn linux_errors_and_capacity_wrapper() {
        linux_errors_and_capacity(&BpfHashMap::<4, 8, 1, 3>::new().view());
    }

    #[test]
    fn linux_errors_and_capacity_arena() {
        linux_errors_and_capacity(run_time(4, 8, 3, 0));
    }

    fn linux_errors_and_capacity(m: &HashView<'_>) {
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

    fn keys_by_iteration<const K: usize>(m: &HashView<'_>) -> std::vec::Vec<[u8; K]> {
        let n = m.def().max_entries as usize;
        let mut keys = std::vec::Vec::new();
        let mut out = [0u8; K];
        let mut cur: Option<[u8; K]> = None;
        while m.next_key(cur.as_ref().map(|k| &k[..]), &mut out).is_ok() {
            keys.push(out);
            cur = Some(out);
            assert!(keys.len() <= n, "iteration does not end");
        }
        keys
    }

    #[test]
    fn random_ops_match_model_wrapper() {
        random_ops_match_model(&BpfHashMap::<6, 10, 2, 64>::with_seed(42).view());
    }

    #[test]
    fn random_ops_match_model_run_time() {
        random_ops_match_model(run_time(6, 10, 64, 42));
        random_ops_match_model(run_time(6, 10, 64, 0));
    }

    fn random_ops_match_model(m: &HashView<'_>) {
        const N: usize = 64;
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
        let iterated = keys_by_iteration::<6>(m);
        let set: BTreeSet<_> = iterated.iter().copied().collect();
        assert_eq!(set.len(), iterated.len(), "iteration repeats a key");
        assert_eq!(set, model.keys().copied().collect::<BTreeSet<_>>());
    }

    #[test]
    fn colliding_keys_share_a_bucket_wrapper() {
        colliding_keys_share_a_bucket(&BpfHashMap::<4, 8, 1, 8>::with_seed(3).view());
    }

    #[test]
    fn colliding_keys_share_a_bucket_run_time() {
        colliding_keys_share_a_bucket(run_time(4, 8, 8, 3));
    }

    fn colliding_keys_share_a_bucket(m: &HashView<'_>) {
        const N: usize = 8;
        let bucket = |i: u32| bucket_of(hash_key(3, &i.to_ne_bytes()), N as u32);
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
        assert_eq!(keys_by_iteration::<4>(m), [keys[2].to_ne_bytes()]);
    }
}
