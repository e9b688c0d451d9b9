//! The LPM trie: longest-prefix match over (prefix length, data) keys.

use nanobpf_core::maps::{Map, MapDef, MapError, ValueRegion, BPF_EXIST, BPF_NOEXIST};
use std::collections::{BTreeMap, HashMap};
use std::ptr::NonNull;
use std::sync::Mutex;

use super::{check_flags, index_key, lock, Values};

/// The index of an LPM trie: canonical key (prefix length, then the data with every bit past
/// the prefix cleared) to slot, and how many prefixes of each length there are, so a lookup
/// tries only lengths present, longest first.
#[derive(Debug)]
pub(super) struct LpmIndex {
    pub(super) slots: HashMap<Box<[u8]>, u32>,
    pub(super) keys: Vec<Option<Box<[u8]>>>,
    pub(super) free: Vec<u32>,
    pub(super) lengths: BTreeMap<u32, usize>,
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
    pub(super) def: MapDef,
    pub(super) index: Mutex<LpmIndex>,
    pub(super) values: Values,
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
