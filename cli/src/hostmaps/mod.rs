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

use hash::HashIndex;
use lpm::LpmIndex;
use nanobpf_core::maps::{Map, MapDef, MapError, MapType, ValueRegion, BPF_EXIST};
use ringbuf::RB_DISCARD;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The most bytes of storage one map may ask for (1 GiB).
pub const MAX_MAP_BYTES: u64 = 1 << 30;

mod array;
mod hash;
mod lpm;
mod perf;
mod queue;
mod ringbuf;

pub use array::{HostArray, HostSlots};
pub use hash::HostHash;
pub use lpm::HostLpm;
pub use perf::{HostPerf, PERF_MAX_RECORDS};
pub use queue::HostQueue;
pub use ringbuf::HostRingBuf;

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
    pub(super) words: Box<[AtomicU64]>,
    pub(super) stride: usize,
    pub(super) value_size: usize,
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
    /// Perf event array.
    Perf(HostPerf),
}

impl HostMap {
    /// Storage for `def`: every value slot allocated now, zeroed.
    ///
    /// # Errors
    /// A definition the type cannot have (zero sizes, a ring buffer whose size is not a power
    /// of two of at least 16), or one over [`MAX_MAP_BYTES`].
    pub fn new(def: &MapDef) -> Result<HostMap, String> {
        let mut def = *def;
        if def.map_type == MapType::PerfEventArray && def.max_entries == 0 {
            // Loaders size a perf event array to the CPUs; the host tool runs on one.
            def.max_entries = 1;
        }
        let def = &def;
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
            MapType::ProgArray | MapType::DevMap | MapType::CpuMap | MapType::XskMap => {
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
            // Per-CPU hashes: the host tool runs on one CPU, so one value per key.
            MapType::Hash | MapType::LruHash | MapType::PerCpuHash | MapType::LruPerCpuHash => {
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
            MapType::PerfEventArray => {
                index_sized("perf event array")?;
                HostMap::Perf(HostPerf {
                    def,
                    records: Mutex::new(Vec::new()),
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
            HostMap::Perf(m) => m,
        }
    }

    /// The perf event array, for a map that is one.
    pub fn perf(&self) -> Option<&HostPerf> {
        match self {
            HostMap::Perf(m) => Some(m),
            _ => None,
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
