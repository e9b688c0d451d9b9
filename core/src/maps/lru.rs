//! `BPF_MAP_TYPE_LRU_HASH`: a hash map that, when full, evicts its least recently used key.
//!
//! Recency is exact: every lookup and update moves the key to the front of one doubly linked
//! list, and a new key in a full map takes the slot of the key at the back. Because every lookup
//! writes that list, the metadata (keys, chains, list links) sits behind one map-wide lock as
//! plain data; values stay outside the lock as atomics, since programs point into them.
//! (Linux approximates LRU with per-CPU lists and reference bits; insertion never fails in
//! either.)

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use spin::Mutex;

use super::hash::{hash_key, NIL};
use super::word::{copy_in, copy_out, value_words, words_addr, words_usize, Word};
use super::{
    check_update_flags, Map, MapDef, MapError, MapType, ValueRegion, BPF_EXIST, BPF_NOEXIST,
};

#[derive(Debug)]
struct State<const K: usize, const N: usize> {
    keys: [[u8; K]; N],
    hashes: [u32; N],
    /// Next entry in the same bucket.
    chain: [u32; N],
    /// First entry of each bucket.
    heads: [u32; N],
    /// Recency list: towards the most recent.
    newer: [u32; N],
    /// Recency list: towards the least recent.
    older: [u32; N],
    most: u32,
    least: u32,
    /// First free entry (chained through `chain`).
    free: u32,
    /// Entries from here on have never been used.
    bump: u32,
    /// Whether the links have been set to `NIL`: done on first use, so that an empty map is
    /// all zeros (a `static` of it goes to `.bss` and costs no flash).
    ready: bool,
}

impl<const K: usize, const N: usize> State<K, N> {
    /// All zeros; [`State::ready`] makes it the empty state.
    const fn new() -> Self {
        State {
            keys: [[0; K]; N],
            hashes: [0; N],
            chain: [0; N],
            heads: [0; N],
            newer: [0; N],
            older: [0; N],
            most: 0,
            least: 0,
            free: 0,
            bump: 0,
            ready: false,
        }
    }

    /// Sets every link to `NIL` the first time, in place.
    fn ready(&mut self) {
        if !self.ready {
            self.chain.fill(NIL);
            self.heads.fill(NIL);
            self.newer.fill(NIL);
            self.older.fill(NIL);
            (self.most, self.least, self.free) = (NIL, NIL, NIL);
            self.ready = true;
        }
    }

    fn find(&self, hash: u32, key: &[u8; K]) -> Option<u32> {
        let mut cur = *self.heads.get(hash as usize % N)?;
        for _ in 0..N {
            let i = cur as usize;
            if *self.hashes.get(i)? == hash && self.keys.get(i)? == key {
                return Some(cur);
            }
            cur = *self.chain.get(i)?;
        }
        None
    }

    fn unlink_recency(&mut self, idx: u32) {
        let i = idx as usize;
        let (newer, older) = (self.newer[i], self.older[i]);
        match self.newer.get_mut(older as usize) {
            Some(n) => *n = newer,
            None => self.least = newer,
        }
        match self.older.get_mut(newer as usize) {
            Some(o) => *o = older,
            None => self.most = older,
        }
        self.newer[i] = NIL;
        self.older[i] = NIL;
    }

    fn push_most_recent(&mut self, idx: u32) {
        let i = idx as usize;
        self.older[i] = self.most;
        self.newer[i] = NIL;
        match self.newer.get_mut(self.most as usize) {
            Some(n) => *n = idx,
            None => self.least = idx,
        }
        self.most = idx;
    }

    fn touch(&mut self, idx: u32) {
        if self.most != idx {
            self.unlink_recency(idx);
            self.push_most_recent(idx);
        }
    }

    fn unlink_chain(&mut self, idx: u32) {
        let i = idx as usize;
        let b = self.hashes[i] as usize % N;
        let next = self.chain[i];
        if self.heads[b] == idx {
            self.heads[b] = next;
            return;
        }
        let mut cur = self.heads[b];
        for _ in 0..N {
            let Some(c) = self.chain.get_mut(cur as usize) else {
                return;
            };
            if *c == idx {
                *c = next;
                return;
            }
            cur = *c;
        }
    }

    /// A free entry, or the least recently used one, unlinked.
    fn take_slot(&mut self) -> Option<(u32, bool)> {
        if self.free != NIL {
            let idx = self.free;
            self.free = self.chain[idx as usize];
            Some((idx, false))
        } else if (self.bump as usize) < N {
            self.bump += 1;
            Some((self.bump - 1, false))
        } else {
            let idx = self.least;
            self.chain.get(idx as usize)?;
            self.unlink_chain(idx);
            self.unlink_recency(idx);
            Some((idx, true))
        }
    }
}

/// An LRU hash map of up to `N` keys of `K` bytes to values of `V` bytes
/// (`W = value_words(V)`). Updates never fail for lack of space.
pub struct LruHashMap<const K: usize, const V: usize, const W: usize, const N: usize> {
    state: Mutex<State<K, N>>,
    values: [[Word; W]; N],
    len: AtomicU32,
    seed: u64,
}

impl<const K: usize, const V: usize, const W: usize, const N: usize> LruHashMap<K, V, W, N> {
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
            assert!(N > 0 && N < NIL as usize, "capacity out of range");
        }
        LruHashMap {
            state: Mutex::new(State::new()),
            values: [const { [const { Word::new() }; W] }; N],
            len: AtomicU32::new(0),
            seed,
        }
    }

    /// The state, locked, with its links set.
    fn state(&self) -> spin::MutexGuard<'_, State<K, N>> {
        let mut st = self.state.lock();
        st.ready();
        st
    }

    /// Whether every byte of every field is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        let unlocked = !self.state.is_locked();
        let st = self.state.lock();
        st.keys.as_flattened().iter().all(|&b| b == 0)
            && [&st.hashes, &st.chain, &st.heads, &st.newer, &st.older]
                .iter()
                .all(|a| a.iter().all(|&x| x == 0))
            && (st.most, st.least, st.free, st.bump, st.ready) == (0, 0, 0, 0, false)
            && unlocked
            && self
                .values
                .as_flattened()
                .iter()
                .all(|w| w.load(Relaxed) == [0; 8])
            && self.len.load(Relaxed) == 0
            && self.seed == 0
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.len.load(Relaxed) as usize
    }

    /// Whether the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value words of `key`, marking it most recently used.
    pub fn get(&self, key: &[u8; K]) -> Option<&[Word; W]> {
        let hash = hash_key(self.seed, key);
        let mut st = self.state();
        let idx = st.find(hash, key)?;
        st.touch(idx);
        self.values.get(idx as usize)
    }

    /// The least recently used key (the next to be evicted) into `out`.
    pub fn least_recent(&self, out: &mut [u8; K]) -> bool {
        let st = self.state();
        match st.keys.get(st.least as usize) {
            Some(k) => {
                *out = *k;
                true
            }
            None => false,
        }
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize> Default
    for LruHashMap<K, V, W, N>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const K: usize, const V: usize, const W: usize, const N: usize> core::fmt::Debug
    for LruHashMap<K, V, W, N>
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

impl<const K: usize, const V: usize, const W: usize, const N: usize> Map
    for LruHashMap<K, V, W, N>
{
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::LruHash,
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
        let st = self.state();
        let idx = st.find(hash, key).ok_or(MapError::NotFound)?;
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
        let mut st = self.state();
        if let Some(idx) = st.find(hash, key) {
            if flags == BPF_NOEXIST {
                return Err(MapError::Exists);
            }
            copy_in(
                self.values.get(idx as usize).ok_or(MapError::Invalid)?,
                value,
            );
            st.touch(idx);
            return Ok(());
        }
        if flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        let (idx, evicted) = st.take_slot().ok_or(MapError::TooBig)?;
        let i = idx as usize;
        let b = hash as usize % N;
        st.keys[i] = *key;
        st.hashes[i] = hash;
        st.chain[i] = st.heads[b];
        st.heads[b] = idx;
        st.push_most_recent(idx);
        copy_in(self.values.get(i).ok_or(MapError::Invalid)?, value);
        if !evicted {
            self.len.fetch_add(1, Relaxed);
        }
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let key: &[u8; K] = key.try_into().map_err(|_| MapError::Invalid)?;
        let hash = hash_key(self.seed, key);
        let mut st = self.state();
        let idx = st.find(hash, key).ok_or(MapError::NotFound)?;
        st.unlink_chain(idx);
        st.unlink_recency(idx);
        st.chain[idx as usize] = st.free;
        st.free = idx;
        self.len.fetch_sub(1, Relaxed);
        Ok(())
    }

    /// From the most to the least recently used key (iteration does not change recency).
    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        let out: &mut [u8; K] = out.try_into().map_err(|_| MapError::Invalid)?;
        let st = self.state();
        let found = match key {
            None => None,
            Some(k) => {
                let k: &[u8; K] = k.try_into().map_err(|_| MapError::Invalid)?;
                st.find(hash_key(self.seed, k), k)
            }
        };
        let next = match found {
            Some(idx) => st.older[idx as usize],
            None => st.most,
        };
        *out = *st.keys.get(next as usize).ok_or(MapError::NotFound)?;
        Ok(())
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
    use crate::maps::BPF_ANY;
    use std::collections::VecDeque;

    fn k(i: u32) -> [u8; 4] {
        i.to_ne_bytes()
    }

    #[test]
    fn evicts_least_recently_used() {
        let m = LruHashMap::<4, 8, 1, 4>::new();
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

    #[test]
    fn random_ops_match_model() {
        const N: usize = 16;
        let m = LruHashMap::<2, 3, 1, N>::with_seed(7);
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
