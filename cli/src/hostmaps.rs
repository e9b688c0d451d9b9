//! Host-side map storage for `nanobpf run`: maps sized at run time from an object's
//! definitions, with std collections for their indexes.
//!
//! The core crate's maps are sized by const generics, which a host tool that loads any object
//! cannot name. These are the same map types over heap storage allocated once, up front:
//!
//! - every value a program can point into lives in one contiguous, pre-allocated
//!   `Box<[AtomicU64]>` of `max_entries × words` ([`Map::value_region`] is exact, and addresses
//!   never move), written by the host with one atomic store per 8-byte word, as in the core;
//! - keys and indexes of hash, LRU hash and LPM maps live in a `std::sync::Mutex` around
//!   `std::collections` structures; slots are handed out lowest first and reused after a
//!   delete, like Linux's preallocated maps;
//! - one CPU: a per-CPU array is an array.
//!
//! Iteration ([`Map::next_key`]) goes by slot order, so a report lists keys in the order they
//! were first inserted (until deletes free slots), the same on every run.

use nanobpf_core::maps::{
    Map, MapDef, MapError, MapType, ValueRegion, BPF_ANY, BPF_EXIST, BPF_NOEXIST,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The most bytes of storage one map may ask for (1 GiB).
pub const MAX_MAP_BYTES: u64 = 1 << 30;

/// Locks `m`, going on with the data of a thread that panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn index_key(key: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(key.try_into().ok()?))
}

fn check_flags(flags: u64) -> Result<(), MapError> {
    if flags > BPF_EXIST {
        Err(MapError::Invalid)
    } else {
        Ok(())
    }
}

/// The next index after `key` of an array of `len` slots (the first for none or out of range).
fn next_index(key: Option<&[u8]>, len: usize, out: &mut [u8]) -> Result<(), MapError> {
    let out: &mut [u8; 4] = out.try_into().map_err(|_| MapError::Invalid)?;
    let next = match key.map(index_key) {
        None => 0,
        Some(None) => return Err(MapError::Invalid),
        Some(Some(i)) if (i as usize) < len => i.checked_add(1).ok_or(MapError::NotFound)?,
        Some(Some(_)) => 0,
    };
    if next as usize >= len {
        return Err(MapError::NotFound);
    }
    *out = next.to_ne_bytes();
    Ok(())
}

/// `count` values of `value_size` bytes, each in `stride` whole 8-byte atomic words, in one
/// allocation that never moves.
#[derive(Debug)]
struct Values {
    words: Box<[AtomicU64]>,
    stride: usize,
    value_size: usize,
}

impl Values {
    fn new(count: usize, value_size: usize) -> Values {
        let stride = value_size.div_ceil(8).max(1);
        let words = (0..count * stride).map(|_| AtomicU64::new(0)).collect();
        Values {
            words,
            stride,
            value_size,
        }
    }

    fn count(&self) -> usize {
        self.words.len() / self.stride
    }

    fn slot(&self, i: usize) -> Option<&[AtomicU64]> {
        let start = i.checked_mul(self.stride)?;
        self.words.get(start..start.checked_add(self.stride)?)
    }

    /// The address of value `i`, taken from its words, so it carries write permission for the
    /// whole value (atomics have interior mutability).
    fn addr(&self, i: usize) -> Option<NonNull<u8>> {
        self.slot(i).map(|s| NonNull::from(s).cast::<u8>())
    }

    fn read(&self, i: usize, out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != self.value_size {
            return Err(MapError::Invalid);
        }
        let slot = self.slot(i).ok_or(MapError::NotFound)?;
        for (w, chunk) in slot.iter().zip(out.chunks_mut(8)) {
            let bytes = w.load(Ordering::Relaxed).to_ne_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }

    /// Writes value `i`, zero-filling the padding of its last word.
    fn write(&self, i: usize, src: &[u8]) -> Result<(), MapError> {
        if src.len() != self.value_size {
            return Err(MapError::Invalid);
        }
        let slot = self.slot(i).ok_or(MapError::TooBig)?;
        let mut chunks = src.chunks(8);
        for w in slot {
            let mut bytes = [0u8; 8];
            if let Some(c) = chunks.next() {
                bytes[..c.len()].copy_from_slice(c);
            }
            w.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        Ok(())
    }

    fn region(&self) -> ValueRegion {
        ValueRegion {
            start: NonNull::from(&*self.words).cast::<u8>().as_ptr().addr(),
            len: self.words.len() * 8,
            stride: self.stride * 8,
            value_size: self.value_size,
        }
    }
}

/// Array and per-CPU array (one CPU): `max_entries` values indexed by a `u32` key, all present
/// from the start, zeroed.
#[derive(Debug)]
pub struct HostArray {
    def: MapDef,
    values: Values,
}

impl Map for HostArray {
    fn def(&self) -> MapDef {
        self.def
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        self.values.addr(index_key(key)? as usize)
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)?;
        self.values.read(i as usize, out)
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)? as usize;
        if i >= self.values.count() {
            return Err(MapError::TooBig);
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        self.values.write(i, value)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, self.values.count(), out)
    }

    fn value_region(&self) -> ValueRegion {
        self.values.region()
    }
}

/// Program array (tail-call targets) and device map (redirect targets): a `u32` per slot, or
/// empty. A program array's values are indexes of the runtime's program list; a device map's
/// are interface indexes (0 is empty).
#[derive(Debug)]
pub struct HostSlots {
    def: MapDef,
    slots: Mutex<Box<[Option<u32>]>>,
    len: usize,
    values: Values,
}

impl HostSlots {
    fn get(&self, i: u32) -> Option<u32> {
        lock(&self.slots).get(i as usize).copied().flatten()
    }
}

impl Map for HostSlots {
    fn def(&self) -> MapDef {
        self.def
    }

    /// Programs cannot look into program arrays; a device map's set slots read as their value.
    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let i = index_key(key)?;
        if self.def.map_type == MapType::ProgArray {
            return None;
        }
        self.get(i)?;
        self.values.addr(i as usize)
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)?;
        self.get(i).ok_or(MapError::NotFound)?;
        self.values.read(i as usize, out)
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)? as usize;
        let v = value
            .get(..4)
            .and_then(index_key)
            .ok_or(MapError::Invalid)?;
        let empty = match self.def.map_type {
            MapType::ProgArray => u32::MAX,
            _ => 0,
        };
        if i >= self.len {
            return Err(MapError::TooBig);
        }
        if v == empty {
            return Err(MapError::Invalid);
        }
        let mut slots = lock(&self.slots);
        let slot = slots.get_mut(i).ok_or(MapError::TooBig)?;
        match (flags, slot.is_some()) {
            (BPF_NOEXIST, true) => return Err(MapError::Exists),
            (BPF_EXIST, false) => return Err(MapError::NotFound),
            _ => {}
        }
        self.values.write(i, value)?;
        *slot = Some(v);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)? as usize;
        let mut slots = lock(&self.slots);
        match slots.get_mut(i) {
            Some(s @ Some(_)) => {
                *s = None;
                Ok(())
            }
            Some(None) => Err(MapError::NotFound),
            None => Err(MapError::Invalid),
        }
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, self.len, out)
    }

    fn value_region(&self) -> ValueRegion {
        match self.def.map_type {
            MapType::ProgArray => ValueRegion::EMPTY,
            _ => self.values.region(),
        }
    }

    fn prog_at(&self, index: u32) -> Option<u32> {
        if self.def.map_type == MapType::ProgArray {
            self.get(index)
        } else {
            None
        }
    }

    fn redirect_target(&self, key: u32) -> Option<u32> {
        if self.def.map_type == MapType::DevMap {
            self.get(key)
        } else {
            None
        }
    }
}

/// The index of a hash or LRU hash map: which key is in which slot, and recency.
#[derive(Debug)]
struct HashIndex {
    slots: HashMap<Box<[u8]>, u32>,
    keys: Vec<Option<Box<[u8]>>>,
    /// Free slots, the lowest last (popped first).
    free: Vec<u32>,
    /// LRU only: slot by last use, oldest first, and each slot's last use.
    recency: BTreeMap<u64, u32>,
    used: Vec<u64>,
    tick: u64,
}

impl HashIndex {
    fn new(n: usize) -> HashIndex {
        HashIndex {
            slots: HashMap::with_capacity(n),
            keys: vec![None; n],
            free: (0..n as u32).rev().collect(),
            recency: BTreeMap::new(),
            used: vec![0; n],
            tick: 0,
        }
    }

    /// Marks `slot` as just used (LRU).
    fn touch(&mut self, slot: u32) {
        let Some(last) = self.used.get_mut(slot as usize) else {
            return;
        };
        self.recency.remove(last);
        self.tick += 1;
        *last = self.tick;
        self.recency.insert(self.tick, slot);
    }

    fn remove(&mut self, slot: u32) {
        if let Some(k) = self.keys.get_mut(slot as usize).and_then(Option::take) {
            self.slots.remove(&k);
        }
        if let Some(&last) = self.used.get(slot as usize) {
            self.recency.remove(&last);
        }
        self.free.push(slot);
    }

    /// The next occupied slot at or after `from`, with its key.
    fn next_from(&self, from: usize) -> Option<&[u8]> {
        self.keys.get(from..)?.iter().flatten().next().map(|k| &**k)
    }
}

/// Hash and LRU hash: up to `max_entries` keys, each with a value slot. A full LRU map evicts
/// the least recently used key (looked up or updated) to make room.
#[derive(Debug)]
pub struct HostHash {
    def: MapDef,
    index: Mutex<HashIndex>,
    values: Values,
}

impl HostHash {
    fn lru(&self) -> bool {
        self.def.map_type == MapType::LruHash
    }

    fn key_ok(&self, key: &[u8]) -> bool {
        key.len() == self.def.key_size as usize
    }
}

impl Map for HostHash {
    fn def(&self) -> MapDef {
        self.def
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let mut ix = lock(&self.index);
        let slot = *ix.slots.get(key)?;
        if self.lru() {
            ix.touch(slot);
        }
        self.values.addr(slot as usize)
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        if !self.key_ok(key) {
            return Err(MapError::Invalid);
        }
        let ix = lock(&self.index);
        let slot = *ix.slots.get(key).ok_or(MapError::NotFound)?;
        self.values.read(slot as usize, out)
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_flags(flags)?;
        if !self.key_ok(key) || value.len() != self.def.value_size as usize {
            return Err(MapError::Invalid);
        }
        let mut ix = lock(&self.index);
        if let Some(&slot) = ix.slots.get(key) {
            if flags == BPF_NOEXIST {
                return Err(MapError::Exists);
            }
            self.values.write(slot as usize, value)?;
            if self.lru() {
                ix.touch(slot);
            }
            return Ok(());
        }
        if flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        if ix.free.is_empty() && self.lru() {
            if let Some((_, oldest)) = ix.recency.pop_first() {
                ix.remove(oldest);
            }
        }
        let slot = ix.free.pop().ok_or(MapError::TooBig)?;
        self.values.write(slot as usize, value)?;
        let k: Box<[u8]> = key.into();
        if let Some(entry) = ix.keys.get_mut(slot as usize) {
            *entry = Some(k.clone());
        }
        ix.slots.insert(k, slot);
        if self.lru() {
            ix.touch(slot);
        }
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        if !self.key_ok(key) {
            return Err(MapError::Invalid);
        }
        let mut ix = lock(&self.index);
        let slot = *ix.slots.get(key).ok_or(MapError::NotFound)?;
        ix.remove(slot);
        Ok(())
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != self.def.key_size as usize {
            return Err(MapError::Invalid);
        }
        let ix = lock(&self.index);
        let from = key
            .and_then(|k| ix.slots.get(k))
            .map_or(0, |&s| s as usize + 1);
        let next = ix.next_from(from).ok_or(MapError::NotFound)?;
        out.copy_from_slice(next);
        Ok(())
    }

    fn value_region(&self) -> ValueRegion {
        self.values.region()
    }
}

/// The index of an LPM trie: canonical key (prefix length, then the data with every bit past
/// the prefix cleared) to slot, and how many prefixes of each length there are, so a lookup
/// tries only lengths present, longest first.
#[derive(Debug)]
struct LpmIndex {
    slots: HashMap<Box<[u8]>, u32>,
    keys: Vec<Option<Box<[u8]>>>,
    free: Vec<u32>,
    lengths: BTreeMap<u32, usize>,
}

/// Writes the canonical key of prefix length `bits` over `data` into `out` (4 + data bytes).
fn canonical_into(bits: u32, data: &[u8], out: &mut [u8]) {
    let (len, rest) = out.split_at_mut(4);
    len.copy_from_slice(&bits.to_ne_bytes());
    for (i, (o, &b)) in rest.iter_mut().zip(data).enumerate() {
        let first = i as u32 * 8;
        *o = if bits >= first + 8 {
            b
        } else if bits <= first {
            0
        } else {
            b & (0xffu8 << (8 - (bits - first)))
        };
    }
}

/// LPM trie: keys are a `u32` prefix length (native endian) then the data bytes, as Linux's
/// `struct bpf_lpm_trie_key`. A lookup finds the longest stored prefix that matches the key's
/// data within the key's own prefix length.
#[derive(Debug)]
pub struct HostLpm {
    def: MapDef,
    index: Mutex<LpmIndex>,
    values: Values,
}

impl HostLpm {
    /// The prefix length and data of a key of the right size.
    fn split<'k>(&self, key: &'k [u8]) -> Option<(u32, &'k [u8])> {
        if key.len() != self.def.key_size as usize {
            return None;
        }
        let (len, data) = key.split_at_checked(4)?;
        Some((index_key(len)?, data))
    }

    /// The canonical form of a key for update, delete and exact lookups.
    fn exact(&self, key: &[u8]) -> Result<Box<[u8]>, MapError> {
        let (len, data) = self.split(key).ok_or(MapError::Invalid)?;
        if len as usize > data.len() * 8 {
            return Err(MapError::Invalid);
        }
        let mut out = vec![0u8; key.len()];
        canonical_into(len, data, &mut out);
        Ok(out.into())
    }
}

fn prefix_len(canonical: &[u8]) -> u32 {
    canonical.get(..4).and_then(index_key).unwrap_or(0)
}

impl Map for HostLpm {
    fn def(&self) -> MapDef {
        self.def
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let (len, data) = self.split(key)?;
        let ix = lock(&self.index);
        // No allocation on the program's path for keys of up to 64 bytes.
        let mut small = [0u8; 64];
        let mut large = Vec::new();
        let buf: &mut [u8] = match small.get_mut(..key.len()) {
            Some(b) => b,
            None => {
                large.resize(key.len(), 0);
                &mut large
            }
        };
        let slot = ix.lengths.range(..=len).rev().find_map(|(&l, _)| {
            canonical_into(l, data, buf);
            ix.slots.get(&*buf)
        })?;
        self.values.addr(*slot as usize)
    }

    /// An exact match of prefix and length (a program's lookup matches the longest prefix);
    /// exact is what a host listing needs.
    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let k = self.exact(key)?;
        let ix = lock(&self.index);
        let slot = *ix.slots.get(&k).ok_or(MapError::NotFound)?;
        self.values.read(slot as usize, out)
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_flags(flags)?;
        let k = self.exact(key)?;
        if value.len() != self.def.value_size as usize {
            return Err(MapError::Invalid);
        }
        let mut ix = lock(&self.index);
        if let Some(&slot) = ix.slots.get(&k) {
            if flags == BPF_NOEXIST {
                return Err(MapError::Exists);
            }
            return self.values.write(slot as usize, value);
        }
        if flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        let slot = ix.free.pop().ok_or(MapError::NoSpace)?;
        self.values.write(slot as usize, value)?;
        *ix.lengths.entry(prefix_len(&k)).or_insert(0) += 1;
        if let Some(entry) = ix.keys.get_mut(slot as usize) {
            *entry = Some(k.clone());
        }
        ix.slots.insert(k, slot);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let k = self.exact(key)?;
        let mut ix = lock(&self.index);
        let slot = ix.slots.remove(&k).ok_or(MapError::NotFound)?;
        if let Some(entry) = ix.keys.get_mut(slot as usize) {
            *entry = None;
        }
        let len = prefix_len(&k);
        if let Some(n) = ix.lengths.get_mut(&len) {
            *n -= 1;
            if *n == 0 {
                ix.lengths.remove(&len);
            }
        }
        ix.free.push(slot);
        Ok(())
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != self.def.key_size as usize {
            return Err(MapError::Invalid);
        }
        let ix = lock(&self.index);
        let from = key
            .and_then(|k| self.exact(k).ok())
            .and_then(|k| ix.slots.get(&k))
            .map_or(0, |&s| s as usize + 1);
        let next = ix
            .keys
            .get(from..)
            .and_then(|k| k.iter().flatten().next())
            .ok_or(MapError::NotFound)?;
        out.copy_from_slice(next);
        Ok(())
    }

    fn value_region(&self) -> ValueRegion {
        self.values.region()
    }
}

/// Queue (first in, first out) and stack (last in, first out) of values.
#[derive(Debug)]
pub struct HostQueue {
    def: MapDef,
    items: Mutex<VecDeque<Box<[u8]>>>,
}

impl HostQueue {
    fn take(&self, out: &mut [u8], remove: bool) -> Result<(), MapError> {
        if out.len() != self.def.value_size as usize {
            return Err(MapError::Invalid);
        }
        let mut items = lock(&self.items);
        let stack = self.def.map_type == MapType::Stack;
        let item = match (stack, remove) {
            (true, true) => items.pop_back(),
            (false, true) => items.pop_front(),
            (true, false) => items.back().cloned(),
            (false, false) => items.front().cloned(),
        };
        out.copy_from_slice(&item.ok_or(MapError::NotFound)?);
        Ok(())
    }
}

impl Map for HostQueue {
    fn def(&self) -> MapDef {
        self.def
    }

    fn lookup(&self, _key: &[u8]) -> Option<NonNull<u8>> {
        None
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn next_key(&self, _key: Option<&[u8]>, _out: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if value.len() != self.def.value_size as usize {
            return Err(MapError::Invalid);
        }
        let mut items = lock(&self.items);
        if items.len() >= self.def.max_entries as usize {
            match flags {
                BPF_EXIST => {
                    items.pop_front();
                }
                BPF_ANY => return Err(MapError::TooBig),
                _ => return Err(MapError::Invalid),
            }
        } else if flags != BPF_ANY && flags != BPF_EXIST {
            return Err(MapError::Invalid);
        }
        items.push_back(value.into());
        Ok(())
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, true)
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, false)
    }
}

const RB_BUSY: u32 = nanobpf_core::maps::RINGBUF_BUSY_BIT;
const RB_DISCARD: u32 = nanobpf_core::maps::RINGBUF_DISCARD_BIT;
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
    def: MapDef,
    data: Box<[AtomicU64]>,
    /// Producer and consumer positions (bytes, ever increasing).
    pos: Mutex<(usize, usize)>,
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

/// Storage for one map an object declares, of the type its definition names.
#[derive(Debug)]
pub enum HostMap {
    /// Array and per-CPU array.
    Array(HostArray),
    /// Program array and device map.
    Slots(HostSlots),
    /// Hash and LRU hash.
    Hash(HostHash),
    /// LPM trie.
    Lpm(HostLpm),
    /// Queue and stack.
    Queue(HostQueue),
    /// Ring buffer.
    RingBuf(HostRingBuf),
}

impl HostMap {
    /// Storage for `def`: every value slot allocated now, zeroed.
    ///
    /// # Errors
    /// A definition the type cannot have (zero sizes, a ring buffer whose size is not a power
    /// of two of at least 16), or one over [`MAX_MAP_BYTES`].
    pub fn new(def: &MapDef) -> Result<HostMap, String> {
        let (k, v, n) = (
            def.key_size as usize,
            def.value_size as usize,
            def.max_entries as usize,
        );
        let bytes = (v.div_ceil(8).max(1) * 8 + k) as u64 * n as u64;
        if bytes > MAX_MAP_BYTES {
            return Err(format!("{bytes} bytes of storage (over {MAX_MAP_BYTES})"));
        }
        if n == 0 {
            return Err("max_entries is 0".into());
        }
        let index_sized = |what: &str| {
            if k != 4 {
                Err(format!("{what} keys must be 4 bytes, not {k}"))
            } else {
                Ok(())
            }
        };
        let def = *def;
        Ok(match def.map_type {
            MapType::Array | MapType::PerCpuArray => {
                index_sized("array")?;
                nonzero(v)?;
                HostMap::Array(HostArray {
                    def,
                    values: Values::new(n, v),
                })
            }
            MapType::ProgArray | MapType::DevMap => {
                index_sized("program array and device map")?;
                if v < 4 {
                    return Err(format!("values must be at least 4 bytes, not {v}"));
                }
                HostMap::Slots(HostSlots {
                    def,
                    slots: Mutex::new(vec![None; n].into()),
                    len: n,
                    values: Values::new(n, v),
                })
            }
            MapType::Hash | MapType::LruHash => {
                nonzero(k)?;
                nonzero(v)?;
                HostMap::Hash(HostHash {
                    def,
                    index: Mutex::new(HashIndex::new(n)),
                    values: Values::new(n, v),
                })
            }
            MapType::LpmTrie => {
                if k <= 4 {
                    return Err(format!("LPM keys must be over 4 bytes, not {k}"));
                }
                nonzero(v)?;
                HostMap::Lpm(HostLpm {
                    def,
                    index: Mutex::new(LpmIndex {
                        slots: HashMap::new(),
                        keys: vec![None; n],
                        free: (0..n as u32).rev().collect(),
                        lengths: BTreeMap::new(),
                    }),
                    values: Values::new(n, v),
                })
            }
            MapType::Queue | MapType::Stack => {
                nonzero(v)?;
                HostMap::Queue(HostQueue {
                    def,
                    items: Mutex::new(VecDeque::new()),
                })
            }
            MapType::RingBuf => {
                if !n.is_power_of_two() || n < 16 || n > RB_DISCARD as usize {
                    return Err(format!(
                        "a ring buffer's size must be a power of two of at least 16, not {n}"
                    ));
                }
                HostMap::RingBuf(HostRingBuf {
                    def,
                    data: (0..n / 8).map(|_| AtomicU64::new(0)).collect(),
                    pos: Mutex::new((0, 0)),
                })
            }
            other => return Err(format!("map type {other:?} is not supported")),
        })
    }

    /// The storage as the runtime sees it.
    pub fn as_map(&self) -> &dyn Map {
        match self {
            HostMap::Array(m) => m,
            HostMap::Slots(m) => m,
            HostMap::Hash(m) => m,
            HostMap::Lpm(m) => m,
            HostMap::Queue(m) => m,
            HostMap::RingBuf(m) => m,
        }
    }

    /// The ring buffer, for a map that is one.
    pub fn ringbuf(&self) -> Option<&HostRingBuf> {
        match self {
            HostMap::RingBuf(r) => Some(r),
            _ => None,
        }
    }

    /// Every key and value, in iteration order (nothing for queues and ring buffers).
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let map = self.as_map();
        let def = map.def();
        let mut out = Vec::new();
        let mut key = vec![0u8; def.key_size as usize];
        let mut have = false;
        loop {
            let mut next = vec![0u8; key.len()];
            if map.next_key(have.then_some(&key[..]), &mut next).is_err() {
                break;
            }
            let mut value = vec![0u8; def.value_size as usize];
            if map.lookup_copy(&next, &mut value).is_ok() {
                out.push((next.clone(), value));
            }
            key = next;
            have = true;
        }
        out
    }
}

fn nonzero(size: usize) -> Result<(), String> {
    if size == 0 {
        Err("key and value sizes must not be 0".into())
    } else {
        Ok(())
    }
}
