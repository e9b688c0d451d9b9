//! `BPF_MAP_TYPE_LRU_HASH`: a hash map that, when full, evicts its least recently used key.
//!
//! Recency is exact: every lookup and update moves the key to the front of one doubly linked
//! list, and a new key in a full map takes the slot of the key at the back. Because every lookup
//! writes that list, the metadata (keys, chains, list links) sits behind one map-wide lock as
//! plain data; values stay outside the lock as atomics, since programs point into them.
//! (Linux approximates LRU with per-CPU lists and reference bits; insertion never fails in
//! either.)

use core::ptr::NonNull;
use core::sync::atomic::Ordering::Relaxed;

use super::hash::{bucket_of, hash_key, link, stored, NIL};
use super::layout::{check_storage, mul, sum, Carve, LayoutError, MapSizing, Shape};
use super::word::{copy_in, copy_out, value_words, words_addr, words_eq, Word};
use super::{
    check_update_flags, Map, MapDef, MapError, MapType, ValueRegion, BPF_EXIST, BPF_NOEXIST,
};

/// A field of an entry: word and half.
type Field = (usize, usize);
const HASH: Field = (0, 0);
const CHAIN: Field = (0, 1);
const NEWER: Field = (1, 0);
const OLDER: Field = (1, 1);
/// The first entry of bucket `i` lives in entry `i`'s third word.
const HEAD: Field = (2, 0);
/// Meta words per entry before the key.
const ENTRY_META: usize = 3;

/// An LRU hash map (or per-CPU LRU hash map) over borrowed storage, sized at run time.
///
/// Storage, in order: the map lock, the recency list's ends (most, least), the free list
/// and never-used mark, the key count, `n` entries of `3 + kw` words (hash and chain link;
/// newer and older recency links; the head of bucket `i`; the key), and `cpus × n` values of
/// `vw` words. Links are stored complemented, so zeroed storage is the empty map.
#[derive(Debug)]
pub struct LruView<'a> {
    lock: &'a Word,
    ends: &'a Word,
    free: &'a Word,
    len: &'a Word,
    entries: &'a [Word],
    values: &'a [Word],
    seed: u64,
    key_size: u32,
    value_size: u32,
    n: u32,
    cpus: u32,
    stride: usize,
    vw: usize,
    map_type: MapType,
    flags: u32,
}

impl<'a> LruView<'a> {
    pub(crate) fn words(s: &Shape) -> Result<usize, LayoutError> {
        sum(&[
            4,
            mul(s.n, s.kw.saturating_add(ENTRY_META))?,
            mul(mul(s.n, s.vw)?, s.cpus)?,
        ])
    }

    /// A view of `def` (an LRU hash or LRU per-CPU hash map) over `words`, which must be
    /// exactly [`words_needed`](super::words_needed) long, with hash seed `seed`.
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
        if !matches!(def.map_type, MapType::LruHash | MapType::LruPerCpuHash) {
            return Err(LayoutError::UnsupportedType(def.map_type));
        }
        let mut c = Carve::new(words);
        let (lock, ends, free, len) = (c.one()?, c.one()?, c.one()?, c.one()?);
        let entries = c.take(mul(s.n, s.kw.saturating_add(ENTRY_META))?)?;
        let values = c.take(mul(mul(s.n, s.vw)?, s.cpus)?)?;
        Ok(LruView {
            lock,
            ends,
            free,
            len,
            entries,
            values,
            seed,
            key_size: def.key_size,
            value_size: def.value_size,
            n: def.max_entries,
            cpus: s.cpus as u32,
            stride: s.kw.saturating_add(ENTRY_META),
            vw: s.vw,
            map_type: def.map_type,
            flags: def.flags,
        })
    }

    /// Over the parts of a plain LRU hash map of `n` keys of `k` bytes to values of `v`
    /// bytes: `meta` is the lock, the list ends, the free list and the key count.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn from_parts(
        meta: &'a [Word; 4],
        entries: &'a [Word],
        values: &'a [Word],
        k: usize,
        v: usize,
        n: usize,
        seed: u64,
    ) -> Self {
        let [lock, ends, free, len] = meta;
        LruView {
            lock,
            ends,
            free,
            len,
            entries,
            values,
            seed,
            key_size: k as u32,
            value_size: v as u32,
            n: n as u32,
            cpus: 1,
            stride: value_words(k).saturating_add(ENTRY_META),
            vw: value_words(v),
            map_type: MapType::LruHash,
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

    /// The value words of `key` (CPU 0's copy for a per-CPU map), marking it most recently
    /// used.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&'a [Word]> {
        self.get_cpu(key, 0)
    }

    #[inline(always)]
    fn get_cpu(&self, key: &[u8], cpu: u32) -> Option<&'a [Word]> {
        if key.len() != self.key_size as usize {
            return None;
        }
        let hash = hash_key(self.seed, key);
        let _guard = self.lock.lock();
        let idx = self.find(hash, key)?;
        self.touch(idx);
        self.value(idx, cpu)
    }

    /// The entry (value slot) holding `key`, without marking it used. Entries are taken
    /// lowest first, a freed or evicted one next, so a host tool can list keys in the order
    /// they were stored.
    pub fn slot_of(&self, key: &[u8]) -> Option<u32> {
        if key.len() != self.key_size as usize {
            return None;
        }
        let hash = hash_key(self.seed, key);
        let _guard = self.lock.lock();
        self.find(hash, key)
    }

    /// The least recently used key (the next to be evicted) into `out`.
    pub fn least_recent(&self, out: &mut [u8]) -> bool {
        let _guard = self.lock.lock();
        match self.key(self.least()) {
            Some(k) => {
                copy_out(k, out);
                true
            }
            None => false,
        }
    }

    // Everything below runs under the map lock.

    #[inline(always)]
    fn words_of(&self, idx: u32) -> Option<&'a [Word]> {
        if idx >= self.n {
            return None;
        }
        // No overflow: `n × stride` words exist.
        let at = (idx as usize).saturating_mul(self.stride);
        self.entries.get(at..at.saturating_add(self.stride))
    }

    #[inline]
    fn key(&self, idx: u32) -> Option<&'a [Word]> {
        self.words_of(idx)?.get(ENTRY_META..)
    }

    #[inline]
    fn raw(&self, idx: u32, (w, h): Field) -> u32 {
        self.words_of(idx)
            .and_then(|e| e.get(w))
            .map_or(0, |w| w.half(h))
    }

    #[inline]
    fn set_raw(&self, idx: u32, (w, h): Field, v: u32) {
        if let Some(word) = self.words_of(idx).and_then(|e| e.get(w)) {
            word.set_half(h, v);
        }
    }

    #[inline]
    fn get_link(&self, idx: u32, f: Field) -> u32 {
        match self.words_of(idx) {
            Some(_) => link(self.raw(idx, f)),
            None => NIL,
        }
    }

    #[inline]
    fn set_link(&self, idx: u32, f: Field, to: u32) {
        self.set_raw(idx, f, stored(to));
    }

    #[inline]
    fn most(&self) -> u32 {
        link(self.ends.half(0))
    }

    #[inline]
    fn least(&self) -> u32 {
        link(self.ends.half(1))
    }

    #[inline]
    fn value(&self, idx: u32, cpu: u32) -> Option<&'a [Word]> {
        if idx >= self.n || cpu >= self.cpus {
            return None;
        }
        let at = (cpu as usize)
            .saturating_mul(self.n as usize)
            .saturating_add(idx as usize)
            .saturating_mul(self.vw);
        self.values.get(at..at.saturating_add(self.vw))
    }

    #[inline(always)]
    fn find(&self, hash: u32, key: &[u8]) -> Option<u32> {
        let mut cur = self.get_link(bucket_of(hash, self.n), HEAD);
        for _ in 0..self.n {
            // One look at the entry's words: (hash, chain), then the key.
            let e = self.words_of(cur)?;
            let (h, chain) = e.get(HASH.0)?.pair();
            if h == hash && words_eq(e.get(ENTRY_META..)?, key) {
                return Some(cur);
            }
            cur = link(chain);
        }
        None
    }

    /// The recency word of entry `idx`: (newer, older), stored.
    #[inline(always)]
    fn recency(&self, idx: u32) -> Option<&'a Word> {
        self.words_of(idx)?.get(NEWER.0)
    }

    #[inline(always)]
    fn unlink_recency(&self, idx: u32) {
        let Some(w) = self.recency(idx) else { return };
        let (newer, older) = w.pair();
        match self.recency(link(older)) {
            Some(o) => o.set_half(NEWER.1, newer),
            None => self.ends.set_half(1, newer),
        }
        match self.recency(link(newer)) {
            Some(n) => n.set_half(OLDER.1, older),
            None => self.ends.set_half(0, older),
        }
        w.set_pair(stored(NIL), stored(NIL));
    }

    #[inline(always)]
    fn push_most_recent(&self, idx: u32) {
        let (most, mut least) = self.ends.pair();
        if let Some(w) = self.recency(idx) {
            w.set_pair(stored(NIL), most);
        }
        match self.recency(link(most)) {
            Some(m) => m.set_half(NEWER.1, stored(idx)),
            None => least = stored(idx),
        }
        self.ends.set_pair(stored(idx), least);
    }

    #[inline(always)]
    fn touch(&self, idx: u32) {
        if self.most() != idx {
            self.unlink_recency(idx);
            self.push_most_recent(idx);
        }
    }

    #[inline]
    fn unlink_chain(&self, idx: u32) {
        let b = bucket_of(self.raw(idx, HASH), self.n);
        let next = self.get_link(idx, CHAIN);
        if self.get_link(b, HEAD) == idx {
            self.set_link(b, HEAD, next);
            return;
        }
        let mut cur = self.get_link(b, HEAD);
        for _ in 0..self.n {
            if self.words_of(cur).is_none() {
                return;
            }
            let c = self.get_link(cur, CHAIN);
            if c == idx {
                self.set_link(cur, CHAIN, next);
                return;
            }
            cur = c;
        }
    }

    /// A free entry, or the least recently used one, unlinked.
    #[inline]
    fn take_slot(&self) -> Option<(u32, bool)> {
        let (free, bump) = self.free.pair();
        let free = link(free);
        if free != NIL {
            self.free.set_pair(stored(self.get_link(free, CHAIN)), bump);
            Some((free, false))
        } else if bump < self.n {
            self.free.set_pair(stored(NIL), bump.saturating_add(1));
            Some((bump, false))
        } else {
            let idx = self.least();
            self.words_of(idx)?;
            self.unlink_chain(idx);
            self.unlink_recency(idx);
            Some((idx, true))
        }
    }

    fn per_cpu(&self) -> bool {
        self.map_type == MapType::LruPerCpuHash
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
        let _guard = self.lock.lock();
        if let Some(idx) = self.find(hash, key) {
            if flags == BPF_NOEXIST {
                return Err(MapError::Exists);
            }
            for c in 0..self.cpus {
                if cpu.is_none_or(|only| only == c) {
                    copy_in(self.value(idx, c).ok_or(MapError::Invalid)?, value);
                }
            }
            self.touch(idx);
            return Ok(());
        }
        if flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        let (idx, evicted) = self.take_slot().ok_or(MapError::TooBig)?;
        let b = bucket_of(hash, self.n);
        copy_in(self.key(idx).ok_or(MapError::Invalid)?, key);
        self.set_raw(idx, HASH, hash);
        self.set_link(idx, CHAIN, self.get_link(b, HEAD));
        self.set_link(b, HEAD, idx);
        self.push_most_recent(idx);
        for c in 0..self.cpus {
            let v = self.value(idx, c).ok_or(MapError::Invalid)?;
            copy_in(
                v,
                if cpu.is_none_or(|only| only == c) {
                    value
                } else {
                    &[]
                },
            );
        }
        if !evicted {
            self.len.add_num(1);
        }
        Ok(())
    }

    /// Whether every word is zero.
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        [self.lock, self.ends, self.free, self.len]
            .iter()
            .all(|w| w.is_zero())
            && self.entries.iter().all(Word::is_zero)
            && self.values.iter().all(Word::is_zero)
            && self.seed == 0
    }
}

impl crate::maps::sealed::Sealed for LruView<'_> {
    fn value_region(&self) -> ValueRegion {
        ValueRegion::of_words(self.values, self.vw, self.value_size)
    }
}

impl Map for LruView<'_> {
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
        let cpu = if self.per_cpu() { cpu } else { 0 };
        self.get_cpu(key, cpu).map(words_addr)
    }

    #[inline]
    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        if key.len() != self.key_size as usize || out.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        let hash = hash_key(self.seed, key);
        let _guard = self.lock.lock();
        let idx = self.find(hash, key).ok_or(MapError::NotFound)?;
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
        let _guard = self.lock.lock();
        let idx = self.find(hash, key).ok_or(MapError::NotFound)?;
        self.unlink_chain(idx);
        self.unlink_recency(idx);
        let (free, bump) = self.free.pair();
        self.set_raw(idx, CHAIN, free);
        self.free.set_pair(stored(idx), bump);
        self.len.sub_num(1);
        Ok(())
    }

    /// From the most to the least recently used key (iteration does not change recency).
    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != self.key_size as usize {
            return Err(MapError::Invalid);
        }
        let found = match key {
            None => None,
            Some(k) => {
                if k.len() != self.key_size as usize {
                    return Err(MapError::Invalid);
                }
                Some(k)
            }
        };
        let _guard = self.lock.lock();
        let found = found.and_then(|k| self.find(hash_key(self.seed, k), k));
        let next = match found {
            Some(idx) => self.get_link(idx, OLDER),
            None => self.most(),
        };
        copy_out(self.key(next).ok_or(MapError::NotFound)?, out);
        Ok(())
    }
}

/// An LRU hash map of up to `N` keys of `K` bytes to values of `V` bytes
/// (`W = value_words(V)`): the storage of an [`LruView`] sized at compile time.
/// `E = 3 + value_words(K)` is the words of one entry (the default, 4, fits keys of up to 8
/// bytes). Updates never fail for lack of space.
pub struct LruHashMap<
    const K: usize,
    const V: usize,
    const W: usize,
    const N: usize,
    const E: usize = 4,
> {
    meta: [Word; 4],
    entries: [[Word; E]; N],
    values: [[Word; W]; N],
    seed: u64,
}

impl<const K: usize, const V: usize, const W: usize, const N: usize, const E: usize>
    LruHashMap<K, V, W, N, E>
{
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// An empty map with hash seed 0.
    pub const fn new() -> Self {
        Self::with_seed(0)
    }

    /// An empty map with a hash seed.
    pub const fn with_seed(seed: u64) -> Self {
        const {
            assert!(K > 0 && K <= u32::MAX as usize, "key size out of range");
            assert!(V > 0 && V <= u32::MAX as usize, "value size out of range");
            assert!(W == value_words(V), "W must be value_words(V)");
            assert!(
                E == ENTRY_META + value_words(K),
                "E must be 3 + value_words(K)"
            );
            assert!(N > 0 && N < NIL as usize, "capacity out of range");
        }
        LruHashMap {
            meta: [const { Word::new() }; 4],
            entries: [const { [const { Word::new() }; E] }; N],
            values: [const { [const { Word::new() }; W] }; N],
            seed,
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> LruView<'_> {
        LruView::from_parts(
            &self.meta,
            self.entries.as_flattened(),
            self.values.as_flattened(),
            K,
            V,
            N,
            self.seed,
        )
    }

    /// Whether every byte of every field is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value words of `key`, marking it most recently used.
    pub fn get(&self, key: &[u8; K]) -> Option<&[Word; W]> {
        self.view().get(key)?.try_into().ok()
    }

    /// The least recently used key (the next to be evicted) into `out`.
    pub fn least_recent(&self, out: &mut [u8; K]) -> bool {
        self.view().least_recent(out)
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize, const E: usize> Default
    for LruHashMap<K, V, W, N, E>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize, const E: usize>
    core::fmt::Debug for LruHashMap<K, V, W, N, E>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LruHashMap")
            .field("key_size", &K)
            .field("value_size", &V)
            .field("max_entries", &N)
            .field("len", &self.len())
            .finish()
    }
}

super::forward_map!(single_cpu
    [const K: usize, const V: usize, const W: usize, const N: usize, const E: usize]
    LruHashMap<K, V, W, N, E>
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use crate::maps::BPF_ANY;
    use std::collections::VecDeque;

    fn k(i: u32) -> [u8; 4] {
        i.to_ne_bytes()
    }

    /// An LRU map created at run time over leaked storage: by an arena (seed 0), or as a
    /// view with `seed`.
    fn run_time(k: u32, v: u32, n: u32, seed: u64) -> &'static LruView<'static> {
        if seed == 0 {
            return match crate::maps::testutil::arena_map(MapType::LruHash, k, v, n) {
                crate::maps::AnyMap::Lru(h) => h,
                other => panic!("{other:?}"),
            };
        }
        let def = MapDef {
            map_type: MapType::LruHash,
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
            LruView::new(&def, &sizing, storage, seed).unwrap(),
        ))
    }

    #[test]
    fn evicts_least_recently_used_wrapper() {
        evicts_least_recently_used(&LruHashMap::<4, 8, 1, 4>::new().view());
    }

    #[test]
    fn evicts_least_recently_used_arena() {
        evicts_least_recently_used(run_time(4, 8, 4, 0));
    }

    fn evicts_least_recently_used(m: &LruView<'_>) {
        for i in 1..=4 {
            m.update(&k(i), &[i as u8; 8], BPF_ANY).unwrap();
        }
        // Recency now 4 3 2 1; touch 1 and update 2: 2 1 4 3.
        assert!(m.lookup(&k(1)).is_some());
        m.update(&k(2), &[22; 8], BPF_EXIST).unwrap();
        let mut lru = [0; 4];
        assert!(m.least_recent(&mut lru));
        assert_eq!(lru, k(3));
        m.update(&k(5), &[5; 8], BPF_ANY).unwrap();
        assert!(m.lookup(&k(3)).is_none());
        m.update(&k(6), &[6; 8], BPF_NOEXIST).unwrap();
        assert!(m.lookup(&k(4)).is_none());
        assert_eq!(m.len(), 4);
        let mut out = [0; 8];
        m.lookup_copy(&k(2), &mut out).unwrap();
        assert_eq!(out, [22; 8]);
        // Iteration goes from most to least recent: 6 5 2 1.
        let mut order = std::vec::Vec::new();
        let mut cur = None;
        let mut key = [0u8; 4];
        while m
            .next_key(cur.as_ref().map(|c: &[u8; 4]| &c[..]), &mut key)
            .is_ok()
        {
            order.push(u32::from_ne_bytes(key));
            cur = Some(key);
        }
        assert_eq!(order, [6, 5, 2, 1]);
        assert_eq!(m.update(&k(9), &[0; 8], BPF_EXIST), Err(MapError::NotFound));
        assert_eq!(m.update(&k(6), &[0; 8], BPF_NOEXIST), Err(MapError::Exists));
        assert_eq!(m.update(&k(6), &[0; 8], 3), Err(MapError::Invalid));
        assert_eq!(m.delete(&k(6)), Ok(()));
        assert_eq!(m.delete(&k(6)), Err(MapError::NotFound));
        assert_eq!(m.len(), 3);
    }

    const N: usize = 16;

    #[test]
    fn random_ops_match_model_wrapper() {
        random_ops_match_model(&LruHashMap::<2, 3, 1, N>::with_seed(7).view());
    }

    #[test]
    fn random_ops_match_model_run_time() {
        random_ops_match_model(run_time(2, 3, N as u32, 7));
        random_ops_match_model(run_time(2, 3, N as u32, 0));
    }

    fn random_ops_match_model(m: &LruView<'_>) {
        // Model: keys with values, most recent first.
        let mut model: VecDeque<([u8; 2], [u8; 3])> = VecDeque::new();
        let mut rng = XorShift(0x5eed);
        for step in 0..5000 {
            let key = [rng.below(30) as u8, 0];
            let value: [u8; 3] = rng.bytes();
            let pos = model.iter().position(|(mk, _)| *mk == key);
            match rng.below(4) {
                0 | 1 => {
                    m.update(&key, &value, BPF_ANY).unwrap();
                    if let Some(p) = pos {
                        model.remove(p);
                    } else if model.len() == N {
                        model.pop_back();
                    }
                    model.push_front((key, value));
                }
                2 => {
                    let want = match pos {
                        Some(p) => {
                            model.remove(p);
                            Ok(())
                        }
                        None => Err(MapError::NotFound),
                    };
                    assert_eq!(m.delete(&key), want, "step {step}");
                }
                _ => {
                    let got = m.get(&key).map(|w| {
                        let mut out = [0u8; 3];
                        copy_out(w, &mut out);
                        out
                    });
                    assert_eq!(got, pos.map(|p| model[p].1), "step {step}");
                    if let Some(p) = pos {
                        let e = model.remove(p).unwrap();
                        model.push_front(e);
                    }
                }
            }
            assert_eq!(m.len(), model.len());
            let mut lru = [0u8; 2];
            assert_eq!(m.least_recent(&mut lru), !model.is_empty());
            if let Some((want, _)) = model.back() {
                assert_eq!(&lru, want, "step {step}");
            }
        }
    }
}
