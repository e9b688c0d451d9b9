//! Hash and LRU hash maps.

use nanobpf_core::maps::{Map, MapDef, MapError, MapType, ValueRegion, BPF_EXIST, BPF_NOEXIST};
use std::collections::{BTreeMap, HashMap};
use std::ptr::NonNull;
use std::sync::Mutex;

use super::{check_flags, lock, Values};

/// The index of a hash or LRU hash map: which key is in which slot, and recency.
#[derive(Debug)]
pub(super) struct HashIndex {
    pub(super) slots: HashMap<Box<[u8]>, u32>,
    pub(super) keys: Vec<Option<Box<[u8]>>>,
    /// Free slots, the lowest last (popped first).
    pub(super) free: Vec<u32>,
    /// LRU only: slot by last use, oldest first, and each slot's last use.
    pub(super) recency: BTreeMap<u64, u32>,
    pub(super) used: Vec<u64>,
    pub(super) tick: u64,
}

impl HashIndex {
    pub(super) fn new(n: usize) -> HashIndex {
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
    pub(super) def: MapDef,
    pub(super) index: Mutex<HashIndex>,
    pub(super) values: Values,
}

impl HostHash {
    fn lru(&self) -> bool {
        matches!(self.def.map_type, MapType::LruHash | MapType::LruPerCpuHash)
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
