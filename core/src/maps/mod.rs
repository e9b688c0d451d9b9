//! Map storage: fixed-capacity, shared by programs on several cores, never allocated.
//!
//! There is one implementation of each map type: a *view* over storage it borrows, sized at
//! run time ([`ArrayView`], [`HashView`], [`LruView`], [`LpmView`], [`ProgArrayView`],
//! [`RedirectView`], [`QueueView`], [`RingBufView`], [`PerfView`]). Its storage is a slice of
//! [`Word`]s (8-byte atomics); the view carves everything it needs (values, keys, hashes,
//! links, bucket heads, locks, counters) out of it once, with safe `split_at`, and keeps the
//! parts. Two ways to own the storage:
//!
//! - the const-generic types ([`ArrayMap`], [`BpfHashMap`], ...) hold it as arrays of words with
//!   a `const fn new()`, for embedders who know their maps at compile time (a `static`); they
//!   implement [`Map`] by building their view inline, with the sizes as constants (as
//!   heapless's `Vec<T, N>` pairs with `VecView<T>`);
//! - a [`MapArena`] creates the maps a program declares from their definitions
//!   ([`MapDef`]), in a region of words the caller owns, as [`AnyMap`]s in a [`MapSet`].
//!
//! Every map is `Sync` and every operation takes `&self`. The runtime treats maps uniformly
//! through [`&dyn Map`](Map) in a [`MapTable`]. Zeroed storage is the empty map of every
//! type (links are stored complemented, so the empty link is 0): a const-generic map's
//! `static` goes to `.bss` and costs no flash on a board, and the arena zeroes a map's words
//! when it creates it. Because all storage is atomics, two maps given the same words by
//! mistake is a logic error, never undefined behaviour.
//!
//! # Values programs point into
//!
//! `bpf_map_lookup_elem` hands a program the address of the value inside the map, and the
//! program reads and writes it directly, with atomic instructions where it cares. So the value
//! areas of array, per-CPU array, hash, LRU hash, LPM trie and device maps are made of atomics:
//! `[Word; W]`, where a [`Word`] is an 8-aligned `AtomicU64` (two `AtomicU32` on targets without
//! 64-bit atomics). The address handed out is taken from the slice of words, so it carries write
//! permission for the whole value, and writing through it is sound because atomics have interior
//! mutability; the map itself only ever touches values with atomic loads and stores. There is no
//! `unsafe` in this module.
//!
//! Value areas are never moved or freed: an address stays valid (points into the map's storage)
//! for the map's lifetime. After a delete, the slot may be reused for another key, exactly as
//! with Linux's preallocated hash maps.
//!
//! Rust cannot yet size an array by an expression of a generic (`generic_const_exprs`), so the
//! const-generic maps take both the value size `V` in bytes and its word count
//! `W = value_words(V)`, and the keyed ones the words of an entry or node (`E`, `NW`, with
//! defaults that fit keys of up to 8 bytes); a mismatch is a compile-time error.
//!
//! # Locking
//!
//! Map metadata (keys, chains, free lists, positions) is guarded by spin locks kept in words
//! (see `Word::lock`: a compare-and-swap of the word's first half from 0 to 1 with `Acquire`,
//! released by a `Release` store of 0; the second half is a `u32` the lock guards, such as a
//! bucket's first entry). Values are written by the map under the same lock, with one
//! relaxed atomic store per 8-byte word.
//!
//! | map | lock | why |
//! |---|---|---|
//! | [`ArrayMap`], [`PerCpuArray`], [`ProgArray`], [`RedirectMap`] | none | slots are fixed; only atomics |
//! | [`BpfHashMap`] | one per bucket, plus one for the free list (taken only to insert or delete) | lookups of different keys on different cores do not contend (measured below) |
//! | [`LruHashMap`] | one per map | every lookup reorders the single recency list |
//! | [`LpmTrie`] | one per map | an update rewires paths shared by many prefixes, as in Linux |
//! | [`QueueMap`], [`StackMap`] | one per map | one head and one tail |
//! | [`RingBuf`] | one for producers, one for consumers | as Linux; submit and the consumer synchronise through the record header with release/acquire |
//!
//! Measured on the development host (x86-64, release build, 1024-entry hash map with `u32` keys
//! and 8-byte values, 3 lookups to 1 in-place update, uniform random keys): one thread, 79
//! million operations per second with per-bucket locks and 71 with a map-wide lock around each
//! operation; two threads on two cores, 108 with per-bucket locks and 22 with the map-wide lock,
//! which bounces one cache line between the cores on every operation. The map-wide-lock LRU map
//! shows the same cost (89 million lookups per second on one thread, 21 on two): use it where
//! eviction is worth it, and an array or hash map on the hottest path.
//!
//! Consistency: host-side [`Map::lookup_copy`] and [`Map::update`] of keyed maps with locks see
//! whole values (never a mix of two updates). A program reading through a pointer while someone
//! else updates the same value sees each aligned 8-byte word either old or new, as with Linux's
//! `memcpy` of values; programs that need more use atomic instructions.
//!
//! # Keys and sizes
//!
//! Key and value sizes are in bytes, as Linux declares them (const generics for the
//! const-generic types, fields of the view otherwise). A program's own
//! [`MapDef`] is checked against the storage it is bound to with [`Map::check_def`]: type, key
//! size and value size must be equal; capacity must be equal for index-addressed maps and the
//! ring buffer, and at least the declared one for the others. Flags are not checked.
//!
//! # Storage size
//!
//! Every map is made of 8-byte [`Word`]s, the same whether it is sized at compile time or
//! created in a [`MapArena`]; [`words_needed`] gives the words of a definition, and each
//! const-generic type's `STORAGE_BYTES` the exact size of one instance (the hash maps add an
//! 8-byte seed). Bytes per entry, with `kw = value_words(K)` key words, `W` value words and
//! `dw = value_words(D)` LPM data words:
//!
//! | map | bytes per entry | fixed bytes |
//! |---|---|---|
//! | [`ArrayMap`] | `8 W` | 0 |
//! | [`PerCpuArray`] | `8 W` per CPU | 0 |
//! | [`BpfHashMap`] | `8 W + 16 + 8 kw` (value; bucket lock and head; hash and link; key) | 24 (+ 8 seed) |
//! | [`LruHashMap`] | `8 W + 24 + 8 kw` (value; hash, chain, two list links, a bucket head; key) | 32 (+ 8 seed) |
//! | [`LpmTrie`] | `8 W + 40 + 16 dw` (value; two trie nodes; slot owner) | 24 |
//! | [`ProgArray`] | 8 | 0 |
//! | [`RedirectMap`] ([`DevMap`], [`CpuMap`], [`XskMap`]) | 8 | 0 |
//! | [`QueueMap`], [`StackMap`] | `8 W` | 16 |
//! | [`RingBuf`] | capacity in bytes | 32 |
//! | [`PerfEventArray`] | ring bytes + 32 per slot | 0 |
//!
//! Per-CPU hash and LRU per-CPU hash maps (arena only) take `8 W` per CPU per entry instead
//! of `8 W`.

/// Implements [`Map`] for a const-generic wrapper by forwarding every method to the run-time
/// view of its storage, `self.view()` (built inline: the wrapper's sizes are constants).
macro_rules! forward_map {
    // One copy of every value: the per-CPU calls are the plain ones (one body each for the
    // program's and the host's calls, not two).
    (single_cpu [$($g:tt)*] $ty:ty) => {
        $crate::maps::forward_map!(@impl [$($g)*] $ty,
            fn lookup_cpu(&self, key: &[u8], _cpu: u32) -> Option<core::ptr::NonNull<u8>> {
                $crate::maps::Map::lookup(self, key)
            }
            fn update_cpu(
                &self,
                key: &[u8],
                value: &[u8],
                flags: u64,
                _cpu: u32,
            ) -> Result<(), $crate::maps::MapError> {
                $crate::maps::Map::update(self, key, value, flags)
            }
        );
    };
    ([$($g:tt)*] $ty:ty) => {
        $crate::maps::forward_map!(@impl [$($g)*] $ty,
            fn lookup_cpu(&self, key: &[u8], cpu: u32) -> Option<core::ptr::NonNull<u8>> {
                self.view().lookup_cpu(key, cpu)
            }
            fn update_cpu(
                &self,
                key: &[u8],
                value: &[u8],
                flags: u64,
                cpu: u32,
            ) -> Result<(), $crate::maps::MapError> {
                self.view().update_cpu(key, value, flags, cpu)
            }
        );
    };
    (@impl [$($g:tt)*] $ty:ty, $lookup_cpu:item $update_cpu:item) => {
        impl<$($g)*> $crate::maps::sealed::Sealed for $ty {
            #[inline]
            fn value_region(&self) -> $crate::maps::ValueRegion {
                $crate::maps::sealed::Sealed::value_region(&self.view())
            }
        }
        impl<$($g)*> $crate::maps::Map for $ty {
            #[inline]
            fn def(&self) -> $crate::maps::MapDef {
                self.view().def()
            }
            #[inline]
            fn lookup(&self, key: &[u8]) -> Option<core::ptr::NonNull<u8>> {
                self.view().lookup(key)
            }
            #[inline]
            $lookup_cpu
            #[inline]
            fn lookup_copy(
                &self,
                key: &[u8],
                out: &mut [u8],
            ) -> Result<(), $crate::maps::MapError> {
                self.view().lookup_copy(key, out)
            }
            #[inline]
            fn update(
                &self,
                key: &[u8],
                value: &[u8],
                flags: u64,
            ) -> Result<(), $crate::maps::MapError> {
                self.view().update(key, value, flags)
            }
            #[inline]
            $update_cpu
            #[inline]
            fn delete(&self, key: &[u8]) -> Result<(), $crate::maps::MapError> {
                self.view().delete(key)
            }
            #[inline]
            fn next_key(
                &self,
                key: Option<&[u8]>,
                out: &mut [u8],
            ) -> Result<(), $crate::maps::MapError> {
                self.view().next_key(key, out)
            }
            #[inline]
            fn push(&self, value: &[u8], flags: u64) -> Result<(), $crate::maps::MapError> {
                self.view().push(value, flags)
            }
            #[inline]
            fn pop(&self, out: &mut [u8]) -> Result<(), $crate::maps::MapError> {
                self.view().pop(out)
            }
            #[inline]
            fn peek(&self, out: &mut [u8]) -> Result<(), $crate::maps::MapError> {
                self.view().peek(out)
            }
            #[inline]
            fn ringbuf_output(&self, data: &[u8], flags: u64) -> Result<(), $crate::maps::MapError> {
                self.view().ringbuf_output(data, flags)
            }
            #[inline]
            fn ringbuf_reserve(&self, size: u64, flags: u64) -> Option<core::ptr::NonNull<u8>> {
                self.view().ringbuf_reserve(size, flags)
            }
            #[inline]
            fn ringbuf_submit(&self, addr: u64, flags: u64) -> Result<(), $crate::maps::MapError> {
                self.view().ringbuf_submit(addr, flags)
            }
            #[inline]
            fn ringbuf_discard(&self, addr: u64, flags: u64) -> Result<(), $crate::maps::MapError> {
                self.view().ringbuf_discard(addr, flags)
            }
            #[inline]
            fn perf_event_output(
                &self,
                slot: u32,
                data: &[u8],
                tail: &[u8],
            ) -> Result<(), $crate::maps::MapError> {
                self.view().perf_event_output(slot, data, tail)
            }
            #[inline]
            fn prog_at(&self, index: u32) -> Option<u32> {
                self.view().prog_at(index)
            }
            #[inline]
            fn redirect_target(&self, key: u32) -> Option<$crate::maps::Redirect> {
                self.view().redirect_target(key)
            }
        }
    };
}
pub(crate) use forward_map;

mod any;
mod arena;
mod array;
mod devmap;
mod hash;
mod layout;
mod lpm;
mod lru;
mod percpu;
mod perf;
mod prog_array;
mod queue;
mod ringbuf;
mod table;
mod word;

#[cfg(test)]
mod stress;

use core::ptr::NonNull;

pub use crate::host::{MapDef, MapType};
pub use any::AnyMap;
pub use arena::{ArenaError, ArenaErrorKind, ArenaStorage, Carry, MapArena, MapSet};
pub use array::{ArrayMap, ArrayView};
pub use devmap::{CpuMap, DevMap, Redirect, RedirectMap, RedirectView, XskMap};
pub use hash::{BpfHashMap, HashView};
pub use layout::{words_needed, LayoutError, MapSizing};
pub use lpm::{LpmTrie, LpmView};
pub use lru::{LruHashMap, LruView};
pub use percpu::PerCpuArray;
pub use perf::{PerfEventArray, PerfView};
pub use prog_array::{ProgArray, ProgArrayView};
pub use queue::{QueueMap, QueueStack, QueueView, StackMap};
pub(crate) use ringbuf::RINGBUF_DISCARD_BIT;
pub use ringbuf::{Consumed, RingBuf, RingBufView};
pub use table::MapTable;
pub use word::{value_words, Word};

/// Update flag: create a new element or update an existing one.
pub const BPF_ANY: u64 = 0;
/// Update flag: create a new element only if it does not exist.
pub const BPF_NOEXIST: u64 = 1;
/// Update flag: update an existing element only.
pub const BPF_EXIST: u64 = 2;

/// Why a map operation failed. Each kind is one Linux errno, see [`MapError::errno`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MapError {
    /// No such key, or the queue is empty (`ENOENT`).
    NotFound,
    /// The key exists and `BPF_NOEXIST` was given (`EEXIST`).
    Exists,
    /// An index beyond the array, or a full hash map, queue or stack (`E2BIG`).
    TooBig,
    /// Bad flags, a key or value of the wrong size, or an operation the map type refuses
    /// (`EINVAL`).
    Invalid,
    /// A full LPM trie (`ENOSPC`).
    NoSpace,
    /// No room in the ring buffer for the record right now (`EAGAIN`).
    Again,
    /// The map type has no such operation (`EOPNOTSUPP`).
    NotSupported,
}

impl MapError {
    /// The negative Linux errno a helper returns for this error.
    pub const fn errno(self) -> i64 {
        match self {
            MapError::NotFound => -2,
            MapError::Exists => -17,
            MapError::TooBig => -7,
            MapError::Invalid => -22,
            MapError::NoSpace => -28,
            MapError::Again => -11,
            MapError::NotSupported => -95,
        }
    }
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            MapError::NotFound => "no such element",
            MapError::Exists => "element exists",
            MapError::TooBig => "index out of range or map full",
            MapError::Invalid => "invalid argument",
            MapError::NoSpace => "no space left in map",
            MapError::Again => "ring buffer full, try again",
            MapError::NotSupported => "operation not supported by this map type",
        })
    }
}

impl core::error::Error for MapError {}

/// Which part of a [`MapDef`] does not match the storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefField {
    /// The map type.
    MapType,
    /// The key size.
    KeySize,
    /// The value size.
    ValueSize,
    /// The capacity.
    MaxEntries,
}

/// A program's map definition does not fit the storage it is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DefMismatch {
    /// The field that differs.
    pub field: DefField,
    /// What the program declared (the Linux type number for [`DefField::MapType`]).
    pub wanted: u32,
    /// What the storage has.
    pub have: u32,
}

impl core::fmt::Display for DefMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match self.field {
            DefField::MapType => "map type",
            DefField::KeySize => "key size",
            DefField::ValueSize => "value size",
            DefField::MaxEntries => "max entries",
        };
        write!(
            f,
            "{name}: program declares {}, storage has {}",
            self.wanted, self.have
        )
    }
}

impl core::error::Error for DefMismatch {}

impl From<DefMismatch> for MapError {
    fn from(_: DefMismatch) -> MapError {
        MapError::Invalid
    }
}

/// Checks a program's declaration `wanted` against storage described by `have`.
///
/// Type, key size and value size must be equal. Capacity must be equal for arrays, per-CPU
/// arrays, program and device maps and the ring buffer (a program can observe it), and at least
/// the declared one for the others. Flags are not compared.
///
/// # Errors
///
/// The first field that does not fit.
pub(crate) fn check_def(have: &MapDef, wanted: &MapDef) -> Result<(), DefMismatch> {
    let mismatch = |field, wanted, have| {
        Err(DefMismatch {
            field,
            wanted,
            have,
        })
    };
    if have.map_type != wanted.map_type {
        return mismatch(
            DefField::MapType,
            wanted.map_type as u32,
            have.map_type as u32,
        );
    }
    if have.key_size != wanted.key_size {
        return mismatch(DefField::KeySize, wanted.key_size, have.key_size);
    }
    if have.value_size != wanted.value_size {
        return mismatch(DefField::ValueSize, wanted.value_size, have.value_size);
    }
    let exact = matches!(
        have.map_type,
        MapType::Array
            | MapType::PerCpuArray
            | MapType::ProgArray
            | MapType::DevMap
            | MapType::CpuMap
            | MapType::XskMap
            | MapType::RingBuf
    );
    let fits = if exact {
        have.max_entries == wanted.max_entries
    } else {
        have.max_entries >= wanted.max_entries
    };
    if !fits {
        return mismatch(DefField::MaxEntries, wanted.max_entries, have.max_entries);
    }
    Ok(())
}

/// Where a map's values live, for a run-time checker: the values are `len / stride` areas of
/// `value_size` bytes, `stride` bytes apart, from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ValueRegion {
    /// Address of the first value.
    pub start: usize,
    /// Bytes from `start` to the end of the last value area.
    pub len: usize,
    /// Distance between the starts of two values.
    pub stride: usize,
    /// Bytes of each value a program may touch.
    pub value_size: usize,
}

impl ValueRegion {
    /// A region with no values (maps whose values never escape).
    pub const EMPTY: ValueRegion = ValueRegion {
        start: 0,
        len: 0,
        stride: 0,
        value_size: 0,
    };

    /// The values of a map that stores them in `values`, `vw` words apart, `value_size` bytes
    /// each.
    pub(crate) fn of_words(values: &[Word], vw: usize, value_size: u32) -> ValueRegion {
        ValueRegion {
            start: word::words_usize(values),
            len: values.len().saturating_mul(8),
            stride: vw.saturating_mul(8),
            value_size: value_size as usize,
        }
    }

    /// Whether the `size` bytes at `addr` lie inside one value.
    pub fn contains(&self, addr: usize, size: usize) -> bool {
        let Some(off) = addr.checked_sub(self.start) else {
            return false;
        };
        if self.stride == 0 || off >= self.len {
            return false;
        }
        let in_value = off.checked_rem(self.stride).unwrap_or(0);
        in_value
            .checked_add(size)
            .is_some_and(|end| end <= self.value_size)
            && off.checked_add(size).is_some_and(|end| end <= self.len)
    }
}

/// Only this crate's maps implement [`Map`].
pub(crate) mod sealed {
    use super::ValueRegion;

    /// The seal of [`Map`](super::Map), and what only the crate's engines ask of a map.
    pub trait Sealed {
        /// Where this map's values live, so a run-time checker can tell whether an address
        /// is inside one of them. [`ValueRegion::EMPTY`] for maps whose values never escape.
        fn value_region(&self) -> ValueRegion {
            ValueRegion::EMPTY
        }
    }
}

/// A map as the runtime sees it: object safe, so maps of any type and size sit behind
/// `&'static dyn Map` in one table.
///
/// Keys and values are byte slices of exactly the map's key and value size; other lengths are
/// [`MapError::Invalid`] (or `None` for lookups). Methods a map type does not have return
/// [`MapError::NotSupported`] or `None`.
///
/// The trait is sealed: only the maps of this crate implement it. A verified program reads and
/// writes through the addresses [`Map::lookup`] hands out, without checks, trusting that each
/// is a value of [`Map::def`]'s size that lives as long as the map; were the trait open, a
/// safe implementation breaking that promise would make safe code corrupt memory.
pub trait Map: sealed::Sealed + Sync + core::fmt::Debug {
    /// The map's own definition: type, key size, value size, capacity, flags.
    fn def(&self) -> MapDef;

    /// Checks a program's declaration (`wanted`) against this storage. Type, key size and value
    /// size must be equal. Capacity must be equal for arrays, per-CPU arrays, program and
    /// device maps and the ring buffer (a program can observe it), and at least the declared
    /// one for the others. Flags are not compared.
    ///
    /// # Errors
    ///
    /// The first field that does not fit.
    fn check_def(&self, wanted: &MapDef) -> Result<(), DefMismatch> {
        check_def(&self.def(), wanted)
    }

    /// The address of the value for `key` (CPU 0's copy for per-CPU maps), valid for the map's
    /// lifetime.
    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>>;

    /// The address of the value for `key` as seen by a program on `cpu`; the same as
    /// [`Map::lookup`] except for per-CPU maps.
    fn lookup_cpu(&self, key: &[u8], cpu: u32) -> Option<NonNull<u8>> {
        let _ = cpu;
        self.lookup(key)
    }

    /// Copies the value for `key` into `out` (CPU 0's copy for per-CPU maps), consistently
    /// with respect to [`Map::update`] where the map has a lock.
    ///
    /// # Errors
    ///
    /// [`MapError::NotFound`], or [`MapError::Invalid`] for a key or `out` of the wrong size.
    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let _ = (key, out);
        Err(MapError::NotSupported)
    }

    /// Creates or updates the element for `key` (`flags`: [`BPF_ANY`], [`BPF_NOEXIST`],
    /// [`BPF_EXIST`]). Per-CPU maps set every CPU's copy.
    ///
    /// # Errors
    ///
    /// Linux's, per map type: see [`MapError`].
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError>;

    /// As [`Map::update`] from a program running on `cpu`: per-CPU maps set that CPU's copy.
    ///
    /// # Errors
    ///
    /// As [`Map::update`]; [`MapError::Invalid`] for a CPU beyond the map's.
    fn update_cpu(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> Result<(), MapError> {
        let _ = cpu;
        self.update(key, value, flags)
    }

    /// Deletes the element for `key`.
    ///
    /// # Errors
    ///
    /// [`MapError::NotFound`]; [`MapError::Invalid`] for arrays, which cannot delete.
    fn delete(&self, key: &[u8]) -> Result<(), MapError>;

    /// Host-side iteration: writes into `out` the key after `key`, or the first key when `key`
    /// is `None` or not in the map.
    ///
    /// # Errors
    ///
    /// [`MapError::NotFound`] after the last key; [`MapError::Invalid`] for a wrong size.
    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError>;

    /// Queue and stack: adds `value` (`flags`: [`BPF_ANY`], or [`BPF_EXIST`] to replace the
    /// oldest element when full).
    ///
    /// # Errors
    ///
    /// [`MapError::TooBig`] when full, [`MapError::Invalid`] for other flags.
    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        let _ = (value, flags);
        Err(MapError::NotSupported)
    }

    /// Queue and stack: removes the next element into `out`.
    ///
    /// # Errors
    ///
    /// [`MapError::NotFound`] when empty.
    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        let _ = out;
        Err(MapError::NotSupported)
    }

    /// Queue and stack: copies the next element into `out` without removing it.
    ///
    /// # Errors
    ///
    /// [`MapError::NotFound`] when empty.
    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        let _ = out;
        Err(MapError::NotSupported)
    }

    /// Ring buffer: copies `data` into a new record and submits it.
    ///
    /// # Errors
    ///
    /// [`MapError::Again`] when it does not fit, [`MapError::Invalid`] for bad flags.
    fn ringbuf_output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        let _ = (data, flags);
        Err(MapError::NotSupported)
    }

    /// Ring buffer: reserves a record of `size` bytes and returns the address of its data.
    fn ringbuf_reserve(&self, size: u64, flags: u64) -> Option<NonNull<u8>> {
        let _ = (size, flags);
        None
    }

    /// Ring buffer: submits the record whose data starts at `addr` (from
    /// [`Map::ringbuf_reserve`]).
    ///
    /// # Errors
    ///
    /// [`MapError::Invalid`] if `addr` is not a reserved, unsubmitted record.
    fn ringbuf_submit(&self, addr: u64, flags: u64) -> Result<(), MapError> {
        let _ = (addr, flags);
        Err(MapError::NotSupported)
    }

    /// Ring buffer: discards the record whose data starts at `addr`.
    ///
    /// # Errors
    ///
    /// [`MapError::Invalid`] if `addr` is not a reserved, unsubmitted record.
    fn ringbuf_discard(&self, addr: u64, flags: u64) -> Result<(), MapError> {
        let _ = (addr, flags);
        Err(MapError::NotSupported)
    }

    /// Perf event array: appends one record, `data` then `tail`, to the ring of slot `slot`.
    ///
    /// # Errors
    ///
    /// [`MapError::TooBig`] for a slot beyond the map, [`MapError::NoSpace`] when the record
    /// does not fit its ring now.
    fn perf_event_output(&self, slot: u32, data: &[u8], tail: &[u8]) -> Result<(), MapError> {
        let _ = (slot, data, tail);
        Err(MapError::NotSupported)
    }

    /// Program array: the program id in slot `index`, for tail calls.
    fn prog_at(&self, index: u32) -> Option<u32> {
        let _ = index;
        None
    }

    /// Device, CPU and XSK maps: where slot `key` sends a frame (`bpf_redirect_map`); `None`
    /// for an empty slot.
    fn redirect_target(&self, key: u32) -> Option<Redirect> {
        let _ = key;
        None
    }
}

/// Reads a `u32` index key of exactly four bytes, native endian as Linux stores it.
#[inline]
pub(crate) fn index_key(key: &[u8]) -> Option<u32> {
    let bytes: [u8; 4] = key.try_into().ok()?;
    Some(u32::from_ne_bytes(bytes))
}

/// Checks update flags that must be one of `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`.
#[inline]
pub(crate) fn check_update_flags(flags: u64) -> Result<(), MapError> {
    if flags > BPF_EXIST {
        Err(MapError::Invalid)
    } else {
        Ok(())
    }
}

/// The next index key for array-like maps: the first when `key` is absent or out of range.
pub(crate) fn next_index(key: Option<&[u8]>, len: usize, out: &mut [u8]) -> Result<(), MapError> {
    let out: &mut [u8; 4] = out.try_into().map_err(|_| MapError::Invalid)?;
    let next = match key {
        None => 0,
        Some(k) => {
            let i = index_key(k).ok_or(MapError::Invalid)?;
            if (i as usize) < len {
                i.checked_add(1).ok_or(MapError::NotFound)?
            } else {
                0
            }
        }
    };
    if (next as usize) >= len {
        return Err(MapError::NotFound);
    }
    *out = next.to_ne_bytes();
    Ok(())
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::{AnyMap, MapArena, MapDef, MapSizing, MapType, Word};

    /// A map of `map_type` created by an arena over leaked host storage, for running a map
    /// type's behaviour tests on its arena form too.
    pub fn arena_map(map_type: MapType, k: u32, v: u32, n: u32) -> &'static AnyMap<'static> {
        arena_map_sized(map_type, k, v, n, MapSizing::DEFAULT)
    }

    /// As [`arena_map`], with `sizing` (CPUs, perf rings).
    pub fn arena_map_sized(
        map_type: MapType,
        k: u32,
        v: u32,
        n: u32,
        sizing: MapSizing,
    ) -> &'static AnyMap<'static> {
        let def = MapDef {
            map_type,
            key_size: k,
            value_size: v,
            max_entries: n,
            flags: 0,
        };
        let words = super::words_needed(&def, &sizing).unwrap();
        // Some room before and after, so that the map is not at the region's start.
        let storage: &'static [Word] = (0..words + 16)
            .map(|_| Word::new())
            .collect::<std::vec::Vec<_>>()
            .leak();
        let mut arena = MapArena::<4>::with_sizing(storage, sizing);
        let pad = MapDef {
            map_type: MapType::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 8,
            flags: 0,
        };
        let set = arena.create_all::<2>(&[pad, def]).unwrap();
        let set = std::boxed::Box::leak(std::boxed::Box::new(set));
        set.get(1).unwrap()
    }

    /// A tiny deterministic xorshift64* generator.
    #[derive(Debug)]
    pub struct XorShift(pub u64);

    impl XorShift {
        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
            core::array::from_fn(|_| self.next() as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(map_type: MapType, k: u32, v: u32, n: u32) -> MapDef {
        MapDef {
            map_type,
            key_size: k,
            value_size: v,
            max_entries: n,
            flags: 0,
        }
    }

    /// Every map's `new()` is all zeros, so a `static` of it goes to `.bss` and costs no
    /// flash; after use it is not (the check sees the fields), and maps whose empty links
    /// are set on first use behave as empty.
    #[test]
    fn every_new_map_is_all_zeros() {
        static ARRAY: ArrayMap<12, 2, 4> = ArrayMap::new();
        static PERCPU: PerCpuArray<8, 1, 4, 2> = PerCpuArray::new();
        static DEV: DevMap<4> = DevMap::new();
        static PROGS: ProgArray<4> = ProgArray::new();
        static RING: RingBuf<64, 8> = RingBuf::new();
        assert!(ARRAY.is_zeroed() && PERCPU.is_zeroed() && DEV.is_zeroed());
        assert!(PROGS.is_zeroed() && RING.is_zeroed());
        assert!(QueueMap::<4, 3>::new().is_zeroed() && StackMap::<4, 3>::new().is_zeroed());

        let hash = BpfHashMap::<4, 8, 1, 8>::new();
        assert!(hash.is_zeroed());
        assert_eq!(
            hash.lookup_copy(&[1, 2, 3, 4], &mut [0; 8]),
            Err(MapError::NotFound)
        );
        assert!(hash.is_zeroed(), "a lookup changes nothing");
        hash.update(&[1, 2, 3, 4], &[9; 8], BPF_ANY).unwrap();
        assert!(!hash.is_zeroed());
        hash.delete(&[1, 2, 3, 4]).unwrap();
        assert_eq!(
            hash.lookup_copy(&[1, 2, 3, 4], &mut [0; 8]),
            Err(MapError::NotFound)
        );

        let lru = LruHashMap::<4, 8, 1, 8>::new();
        assert!(lru.is_zeroed());
        assert_eq!(
            lru.lookup_copy(&[1, 2, 3, 4], &mut [0; 8]),
            Err(MapError::NotFound)
        );
        assert!(
            lru.is_zeroed(),
            "links are stored complemented: zero is empty"
        );
        assert!(lru.is_empty());
        let mut key = [0; 4];
        assert!(!lru.least_recent(&mut key));

        let lpm = LpmTrie::<4, 8, 1, 8>::new();
        assert!(lpm.is_zeroed());
        assert_eq!(lpm.len(), 0);
        let mut k = [0u8; 8];
        k[..4].copy_from_slice(&32u32.to_ne_bytes());
        assert_eq!(lpm.lookup_copy(&k, &mut [0; 8]), Err(MapError::NotFound));
        assert!(lpm.is_zeroed(), "a lookup changes nothing");
        lpm.update(&k, &[1; 8], BPF_ANY).unwrap();
        assert!(!lpm.is_zeroed());

        let progs = ProgArray::<4>::new();
        assert_eq!(progs.get(0), None);
        progs.set(0, 0).unwrap();
        assert_eq!(progs.get(0), Some(0));
        assert!(!progs.is_zeroed());
        assert_eq!(progs.clear(0), Ok(()));
        assert_eq!(progs.clear(0), Err(MapError::NotFound));
        assert!(progs.is_zeroed());
    }

    #[test]
    fn errno_values_are_linux() {
        assert_eq!(MapError::NotFound.errno(), -2);
        assert_eq!(MapError::TooBig.errno(), -7);
        assert_eq!(MapError::Exists.errno(), -17);
        assert_eq!(MapError::Invalid.errno(), -22);
        assert_eq!(MapError::NoSpace.errno(), -28);
        assert_eq!(MapError::Again.errno(), -11);
        assert_eq!(MapError::NotSupported.errno(), -95);
    }

    #[test]
    fn check_def_rules() {
        let have = def(MapType::Hash, 4, 8, 100);
        assert_eq!(check_def(&have, &def(MapType::Hash, 4, 8, 100)), Ok(()));
        assert_eq!(check_def(&have, &def(MapType::Hash, 4, 8, 50)), Ok(()));
        let e = check_def(&have, &def(MapType::Hash, 4, 8, 101)).unwrap_err();
        assert_eq!(
            (e.field, e.wanted, e.have),
            (DefField::MaxEntries, 101, 100)
        );
        let e = check_def(&have, &def(MapType::Hash, 8, 8, 1)).unwrap_err();
        assert_eq!(e.field, DefField::KeySize);
        let e = check_def(&have, &def(MapType::Hash, 4, 16, 1)).unwrap_err();
        assert_eq!(e.field, DefField::ValueSize);
        let e = check_def(&have, &def(MapType::LruHash, 4, 8, 1)).unwrap_err();
        assert_eq!((e.field, e.wanted, e.have), (DefField::MapType, 9, 1));
        let arr = def(MapType::Array, 4, 8, 100);
        assert!(check_def(&arr, &def(MapType::Array, 4, 8, 50)).is_err());
        assert_eq!(MapError::from(e), MapError::Invalid);
    }

    #[test]
    fn value_region_contains_only_value_bytes() {
        let r = ValueRegion {
            start: 1000,
            len: 48,
            stride: 16,
            value_size: 12,
        };
        assert!(r.contains(1000, 12));
        assert!(!r.contains(1000, 13));
        assert!(r.contains(1016, 8));
        assert!(r.contains(1043, 1));
        assert!(!r.contains(1044, 1));
        assert!(!r.contains(1048, 1));
        assert!(!r.contains(999, 1));
        assert!(!r.contains(usize::MAX, 2));
        assert!(!ValueRegion::EMPTY.contains(0, 0));
    }

    #[test]
    fn storage_sizes_match_the_documented_formulas() {
        fn hash<const K: usize, const V: usize, const W: usize, const N: usize, const E: usize>() {
            let per = 8 * W + 16 + 8 * value_words(K);
            assert_eq!(
                BpfHashMap::<K, V, W, N, E>::STORAGE_BYTES,
                N * per + 32,
                "hash K={K}"
            );
        }
        fn lru<const K: usize, const V: usize, const W: usize, const N: usize, const E: usize>() {
            let per = 8 * W + 24 + 8 * value_words(K);
            assert_eq!(
                LruHashMap::<K, V, W, N, E>::STORAGE_BYTES,
                N * per + 40,
                "lru K={K}"
            );
        }
        fn lpm<const D: usize, const V: usize, const W: usize, const N: usize, const NW: usize>() {
            let per = 8 * W + 40 + 16 * value_words(D);
            assert_eq!(
                LpmTrie::<D, V, W, N, NW>::STORAGE_BYTES,
                N * per + 24,
                "lpm D={D}"
            );
        }
        hash::<4, 8, 1, 32, 2>();
        hash::<5, 16, 2, 32, 2>();
        hash::<16, 20, 3, 100, 3>();
        lru::<4, 8, 1, 32, 4>();
        lru::<16, 8, 1, 32, 5>();
        lru::<6, 24, 3, 64, 4>();
        lpm::<4, 8, 1, 32, 3>();
        lpm::<5, 8, 1, 32, 3>();
        lpm::<16, 12, 2, 64, 4>();
        assert_eq!(ArrayMap::<12, 2, 10>::STORAGE_BYTES, 10 * 16);
        assert_eq!(PerCpuArray::<12, 2, 10, 4>::STORAGE_BYTES, 4 * 10 * 16);
        assert_eq!(ProgArray::<10>::STORAGE_BYTES, 80);
        assert_eq!(DevMap::<10>::STORAGE_BYTES, 80);
        assert_eq!(QueueMap::<3, 32>::STORAGE_BYTES, 32 * 8 + 16);
        assert_eq!(StackMap::<12, 32, 2>::STORAGE_BYTES, 32 * 16 + 16);
        assert_eq!(RingBuf::<1024, 128>::STORAGE_BYTES, 1024 + 32);
        assert_eq!(PerfEventArray::<64, 8, 3>::STORAGE_BYTES, 3 * (64 + 32));
    }

    #[test]
    fn maps_sit_in_one_static_table() {
        static ARRAY: ArrayMap<8, 1, 4> = ArrayMap::new();
        static HASH: BpfHashMap<4, 12, 2, 8> = BpfHashMap::new();
        static LPM: LpmTrie<4, 8, 1, 8> = LpmTrie::new();
        static RB: RingBuf<64, 8> = RingBuf::new();
        static QUEUE: QueueMap<4, 2> = QueueMap::new();
        static TABLE: [&dyn Map; 5] = [&ARRAY, &HASH, &LPM, &RB, &QUEUE];
        let types: std::vec::Vec<MapType> = TABLE.iter().map(|m| m.def().map_type).collect();
        assert_eq!(
            types,
            [
                MapType::Array,
                MapType::Hash,
                MapType::LpmTrie,
                MapType::RingBuf,
                MapType::Queue
            ]
        );
        let table = MapTable::new(&TABLE);
        assert!(table.same(&MapTable::new(&TABLE)));
        assert!(!table.same(&MapTable::new(&TABLE[..4])));
        assert!(!table.same(&MapTable::new(&TABLE[1..])));
        assert!(!table.same(&MapTable::EMPTY));
        let h = table.handle(2).unwrap();
        assert_eq!(
            table.from_handle(h).unwrap().def().map_type,
            MapType::LpmTrie
        );
        assert!(table.from_handle(h + 1).is_none());
        let wanted = def(MapType::Hash, 4, 12, 8);
        assert_eq!(TABLE[1].check_def(&wanted), Ok(()));
        assert!(TABLE[0].check_def(&wanted).is_err());
        TABLE[1]
            .update(&1u32.to_ne_bytes(), &[3; 12], BPF_ANY)
            .unwrap();
        let a = TABLE[1]
            .lookup(&1u32.to_ne_bytes())
            .unwrap()
            .as_ptr()
            .addr();
        assert!(TABLE[1].value_region().contains(a, 12));
        assert!(!TABLE[0].value_region().contains(a, 1));
        assert_eq!(TABLE[0].push(&[0; 8], 0), Err(MapError::NotSupported));
        assert_eq!(TABLE[4].push(&[0; 4], 0), Ok(()));
        assert_eq!(TABLE[3].ringbuf_output(&[1], 0), Ok(()));
        assert_eq!(
            TABLE[1].ringbuf_output(&[1], 0),
            Err(MapError::NotSupported)
        );
    }

    #[test]
    fn next_index_walks_and_restarts() {
        let mut out = [0u8; 4];
        next_index(None, 3, &mut out).unwrap();
        assert_eq!(u32::from_ne_bytes(out), 0);
        next_index(Some(&1u32.to_ne_bytes()), 3, &mut out).unwrap();
        assert_eq!(u32::from_ne_bytes(out), 2);
        assert_eq!(
            next_index(Some(&2u32.to_ne_bytes()), 3, &mut out),
            Err(MapError::NotFound)
        );
        next_index(Some(&7u32.to_ne_bytes()), 3, &mut out).unwrap();
        assert_eq!(u32::from_ne_bytes(out), 0);
        assert_eq!(next_index(None, 0, &mut out), Err(MapError::NotFound));
        assert_eq!(next_index(None, 3, &mut [0; 3]), Err(MapError::Invalid));
    }
}
