//! The map arena: maps created at run time, from a program's definitions, in one region of
//! storage the caller owns.
//!
//! A [`MapArena`] manages a slice of [`Word`]s (a `static` [`ArenaStorage`] on a board, one
//! allocation on a host). [`MapArena::create_all`] gives every definition of a program its
//! storage, all or nothing, and returns the maps as a [`MapSet`], whose
//! [`table`](MapSet::table) is the [`MapTable`] a program is verified against and runs
//! with. [`MapArena::free`] gives a set's words back.
//!
//! # How the region is managed
//!
//! The region is cut into blocks, kept in a table of at most `BLOCKS` entries (a const
//! generic: no allocation), sorted by address and covering the region exactly, each free or
//! holding one map. A map takes the first free block large enough (first fit), split if it
//! is larger; a freed block merges with a free neighbour on either side at once, so no two
//! free blocks are ever adjacent. Hence after any sequence of creations and frees, freeing
//! everything leaves one free block of the whole region: free bytes return exactly to where
//! they started. New storage is zeroed when its map is created (zeroed words are the empty
//! map of every type).
//!
//! Fragmentation bound: with `L` live maps there are at most `L + 1` free blocks, so the
//! largest free block is at least `free_bytes / (L + 1)`; a creation can fail while that many
//! bytes are free in total, and the error reports both figures. The table needs at most
//! `2 L + 1` entries: `BLOCKS = 2 × (maps alive at once) + 1` never runs out; a full table is
//! [`ArenaErrorKind::TableFull`], not a panic. Offsets and lengths are kept in 32-bit word
//! counts, so a region is used up to `u32::MAX` words (32 GiB).
//!
//! # Overhead
//!
//! The arena's own bookkeeping per map is one block entry (12 bytes: place and user count) in
//! the arena, plus, in the set, the map's [`AnyMap`] (120 bytes on a 64-bit host: the view's
//! cached parts and sizes) and its record (28 bytes: place, definition): 160 bytes per map on
//! a 64-bit host, and one more 12-byte block entry per free gap. None of it is in the region:
//! every byte of the region is map storage. A test pins these sizes.
//!
//! # Carrying maps over
//!
//! A program replaced by a new version may keep some maps' contents (maps "marked to
//! survive", same name and identical definition, as pinned maps on Linux). The caller, who
//! knows the names, pairs new indices with old ones ([`Carry`]);
//! [`MapArena::create_all_carrying`] then builds the new set with those maps over the old
//! maps' storage instead of new storage. Both sets see the same words while the old program
//! still runs (as both programs would share a pinned map). Each block counts the sets that
//! use it and is freed when the last of them is: the old set can be freed after the new one
//! took over (its shared maps stay), or the new one freed if its program fails to verify
//! (the old one keeps them). Neither set is changed by the other's creation or freeing, so
//! the old set may be in use by a running program all along.

use core::ops::Range;

use super::any::AnyMap;
use super::layout::{words_needed, LayoutError, MapSizing};
use super::word::{zero, Word};
use super::MapDef;
#[cfg(feature = "arena")]
use super::MapTable;

/// A region of `WORDS` zeroed words for a [`MapArena`], to put in a `static` (it goes to
/// `.bss`).
#[derive(Debug)]
pub struct ArenaStorage<const WORDS: usize> {
    words: [Word; WORDS],
}

impl<const WORDS: usize> ArenaStorage<WORDS> {
    /// Zeroed storage.
    pub const fn new() -> Self {
        ArenaStorage {
            words: [const { Word::new() }; WORDS],
        }
    }

    /// The words, for [`MapArena::new`].
    pub const fn words(&self) -> &[Word] {
        &self.words
    }
}

impl<const WORDS: usize> Default for ArenaStorage<WORDS> {
    fn default() -> Self {
        Self::new()
    }
}

/// What went wrong creating or freeing maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArenaErrorKind {
    /// No free block large enough.
    NoSpace {
        /// Bytes the map needs.
        needed: usize,
        /// Bytes free in the arena (in all blocks).
        free: usize,
        /// Bytes of the largest free block.
        largest: usize,
    },
    /// The definition cannot be given storage (unsupported type or flag, a field out of
    /// range, a size that overflows).
    Layout(LayoutError),
    /// More definitions than the set holds.
    TooManyMaps {
        /// Maps a set of this type holds.
        max: usize,
    },
    /// The block table is full (see the module docs for the bound).
    TableFull,
    /// A carry names a map that does not exist or is named twice, or whose definition differs,
    /// or the map is shared by as many sets as a block counts.
    BadCarry,
    /// The set was created by another arena.
    ForeignSet,
}

/// An arena operation failed; nothing was allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArenaError {
    /// The index of the definition that failed (0 for errors about the whole call).
    pub map: u32,
    /// Why.
    pub kind: ArenaErrorKind,
}

impl core::fmt::Display for ArenaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "map {}: ", self.map)?;
        match self.kind {
            ArenaErrorKind::NoSpace {
                needed,
                free,
                largest,
            } => write!(
                f,
                "needs {needed} bytes, {free} free in the arena (largest block {largest})"
            ),
            ArenaErrorKind::Layout(e) => write!(f, "{e}"),
            ArenaErrorKind::TooManyMaps { max } => write!(f, "more than {max} maps"),
            ArenaErrorKind::TableFull => f.write_str("the arena's block table is full"),
            ArenaErrorKind::BadCarry => f.write_str("cannot carry this map over"),
            ArenaErrorKind::ForeignSet => f.write_str("the set belongs to another arena"),
        }
    }
}

impl core::error::Error for ArenaError {}

/// Keep the contents of map `old` of the old set as map `new` of the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Carry {
    /// Index in the new definitions.
    pub new: u32,
    /// Index in the old set.
    pub old: u32,
}

/// One block of the region, in words, and how many sets use it (0: free).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block {
    start: u32,
    len: u32,
    users: u32,
}

impl Block {
    fn is_free(&self) -> bool {
        self.users == 0
    }
}

/// Where a set's map lives.
#[derive(Clone, Copy, Debug)]
struct Slot {
    start: u32,
    len: u32,
    def: MapDef,
}

/// The maps one [`MapArena::create_all`] made, in definition order: at most `N`.
///
/// Dropping a set without [`MapArena::free`] keeps its storage allocated.
#[derive(Debug)]
pub struct MapSet<'a, const N: usize> {
    maps: heapless::Vec<AnyMap<'a>, N>,
    slots: heapless::Vec<Slot, N>,
    /// The arena's region (address, words), to refuse a set from another arena.
    arena: (usize, usize),
}

impl<'a, const N: usize> MapSet<'a, N> {
    /// A set with no maps and of no arena (freeing it is refused and changes nothing), to
    /// put in a `static` before anything is loaded.
    pub const fn empty() -> Self {
        MapSet {
            maps: heapless::Vec::new(),
            slots: heapless::Vec::new(),
            arena: (0, 0),
        }
    }

    /// The maps, by the index the program uses.
    pub fn maps(&self) -> &[AnyMap<'a>] {
        &self.maps
    }

    /// The map at `index`.
    pub fn get(&self, index: u32) -> Option<&AnyMap<'a>> {
        self.maps.get(index as usize)
    }

    /// The table to verify and run a program with (feature `arena`).
    #[cfg(feature = "arena")]
    pub fn table(&self) -> MapTable<'_> {
        MapTable::from_any(&self.maps)
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        self.maps.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }

    /// The definition map `index` was created (or carried over) from.
    pub fn def(&self, index: u32) -> Option<MapDef> {
        self.slots.get(index as usize).map(|s| s.def)
    }

    /// The words of the arena's region that map `index` uses.
    pub fn storage_range(&self, index: u32) -> Option<Range<usize>> {
        let s = self.slots.get(index as usize)?;
        Some(s.start as usize..(s.start as usize).saturating_add(s.len as usize))
    }
}

/// Creates and frees sets of maps in a region of words the caller owns: blocks cut from the
/// region, kept in a table, given back exactly by [`MapArena::free`]. `BLOCKS` is the capacity of the block table.
#[derive(Debug)]
pub struct MapArena<'a, const BLOCKS: usize> {
    storage: &'a [Word],
    blocks: heapless::Vec<Block, BLOCKS>,
    sizing: MapSizing,
}

impl<'a, const BLOCKS: usize> MapArena<'a, BLOCKS> {
    /// An arena over `storage`, all free, with [`MapSizing::DEFAULT`] (one CPU).
    pub fn new(storage: &'a [Word]) -> Self {
        Self::with_sizing(storage, MapSizing::DEFAULT)
    }

    /// An arena over `storage`, all free, sizing per-CPU maps and perf event arrays by
    /// `sizing`.
    pub fn with_sizing(storage: &'a [Word], sizing: MapSizing) -> Self {
        const { assert!(BLOCKS > 0, "the block table needs at least one entry") }
        let usable = storage.len().min(u32::MAX as usize);
        let storage = storage.get(..usable).unwrap_or(&[]);
        let mut blocks = heapless::Vec::new();
        if usable > 0 {
            // Cannot fail: BLOCKS > 0.
            let _ = blocks.push(Block {
                start: 0,
                len: usable as u32,
                users: 0,
            });
        }
        MapArena {
            storage,
            blocks,
            sizing,
        }
    }

    /// How per-CPU maps and perf event arrays are sized.
    pub fn sizing(&self) -> MapSizing {
        self.sizing
    }

    /// Bytes of the region.
    pub fn total_bytes(&self) -> usize {
        self.storage.len().saturating_mul(8)
    }

    /// Bytes free (in all free blocks).
    pub fn free_bytes(&self) -> usize {
        self.blocks
            .iter()
            .filter(|b| b.is_free())
            .map(|b| (b.len as usize).saturating_mul(8))
            .fold(0, usize::saturating_add)
    }

    /// Bytes of the largest free block: the largest map that can be created now.
    pub fn largest_free_bytes(&self) -> usize {
        self.blocks
            .iter()
            .filter(|b| b.is_free())
            .map(|b| (b.len as usize).saturating_mul(8))
            .max()
            .unwrap_or(0)
    }

    /// Entries of the block table in use.
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    fn id(&self) -> (usize, usize) {
        (self.storage.as_ptr() as usize, self.storage.len())
    }

    /// Takes `words` words from the first free block large enough; returns the start.
    fn alloc(&mut self, words: u32) -> Result<u32, ArenaErrorKind> {
        let Some(i) = self
            .blocks
            .iter()
            .position(|b| b.is_free() && b.len >= words)
        else {
            return Err(ArenaErrorKind::NoSpace {
                needed: (words as usize).saturating_mul(8),
                free: self.free_bytes(),
                largest: self.largest_free_bytes(),
            });
        };
        let b = *self.blocks.get(i).ok_or(ArenaErrorKind::TableFull)?;
        // `b` lies in the region, whose length in words fits a `u32`.
        if b.len > words {
            let rest = Block {
                start: b.start.saturating_add(words),
                len: b.len.saturating_sub(words),
                users: 0,
            };
            self.blocks
                .insert(i.saturating_add(1), rest)
                .map_err(|_| ArenaErrorKind::TableFull)?;
        }
        if let Some(blk) = self.blocks.get_mut(i) {
            *blk = Block {
                start: b.start,
                len: words,
                users: 1,
            };
        }
        Ok(b.start)
    }

    /// The block in use exactly at `start` of `len` words.
    fn block_of(&self, start: u32, len: u32) -> Option<usize> {
        self.blocks
            .iter()
            .position(|b| b.start == start && b.len == len && !b.is_free())
    }

    /// One more set uses the block at `start` of `len` words.
    fn share(&mut self, start: u32, len: u32) -> Result<(), ArenaErrorKind> {
        let b = self
            .block_of(start, len)
            .and_then(|i| self.blocks.get_mut(i))
            .ok_or(ArenaErrorKind::ForeignSet)?;
        b.users = b.users.checked_add(1).ok_or(ArenaErrorKind::BadCarry)?;
        Ok(())
    }

    /// One set fewer uses the block at `start` of `len` words; the last one frees it, merging
    /// it with free neighbours. A block that is not exactly there and in use is left alone.
    fn release(&mut self, start: u32, len: u32) {
        let Some(i) = self.block_of(start, len) else {
            return;
        };
        if let Some(b) = self.blocks.get_mut(i) {
            b.users = b.users.saturating_sub(1);
            if !b.is_free() {
                return;
            }
        }
        // Merge the next block into this one.
        let after = i.saturating_add(1);
        if let (Some(&next), true) = (self.blocks.get(after), after < self.blocks.len()) {
            if next.is_free() {
                self.blocks.remove(after);
                if let Some(b) = self.blocks.get_mut(i) {
                    b.len = b.len.saturating_add(next.len);
                }
            }
        }
        // Merge this block into the previous one.
        if let Some(before) = i.checked_sub(1) {
            if let (Some(&prev), Some(&cur)) = (self.blocks.get(before), self.blocks.get(i)) {
                if prev.is_free() {
                    self.blocks.remove(i);
                    if let Some(b) = self.blocks.get_mut(before) {
                        b.len = b.len.saturating_add(cur.len);
                    }
                }
            }
        }
    }

    /// Creates a map for every definition, in order, over new zeroed storage: all of them,
    /// or none (on an error everything this call took is free again).
    ///
    /// # Errors
    ///
    /// The first definition that cannot be created, with why: see [`ArenaErrorKind`].
    pub fn create_all<const N: usize>(
        &mut self,
        defs: &[MapDef],
    ) -> Result<MapSet<'a, N>, ArenaError> {
        self.create(defs, None, &[])
    }

    /// As [`create_all`](Self::create_all), but each [`Carry`] makes new map `new` use the
    /// storage (and contents) of map `old` of `old_set` instead of new storage: the two sets
    /// share it, and it is freed with the last of them. `old_set` is only read, so a running
    /// program may hold it.
    ///
    /// # Errors
    ///
    /// As [`create_all`](Self::create_all); [`ArenaErrorKind::BadCarry`] for a carry whose
    /// indices are out of range or repeated, or whose definitions differ;
    /// [`ArenaErrorKind::ForeignSet`] if `old_set` is another arena's. On an error nothing
    /// changes.
    pub fn create_all_carrying<const N: usize, const M: usize>(
        &mut self,
        defs: &[MapDef],
        old_set: &MapSet<'a, M>,
        carry: &[Carry],
    ) -> Result<MapSet<'a, N>, ArenaError> {
        if old_set.arena != self.id() {
            return Err(ArenaError {
                map: 0,
                kind: ArenaErrorKind::ForeignSet,
            });
        }
        for (j, c) in carry.iter().enumerate() {
            let bad = ArenaError {
                map: c.new,
                kind: ArenaErrorKind::BadCarry,
            };
            let old = old_set.slots.get(c.old as usize).ok_or(bad)?;
            let new = defs.get(c.new as usize).ok_or(bad)?;
            let repeated = carry
                .iter()
                .take(j)
                .any(|e| e.new == c.new || e.old == c.old);
            if old.def != *new || repeated {
                return Err(bad);
            }
        }
        self.create(defs, Some(&old_set.slots), carry)
    }

    fn create<const N: usize>(
        &mut self,
        defs: &[MapDef],
        old: Option<&[Slot]>,
        carry: &[Carry],
    ) -> Result<MapSet<'a, N>, ArenaError> {
        let mut set = MapSet {
            maps: heapless::Vec::new(),
            slots: heapless::Vec::new(),
            arena: self.id(),
        };
        if defs.len() > N {
            return Err(ArenaError {
                map: 0,
                kind: ArenaErrorKind::TooManyMaps { max: N },
            });
        }
        for (i, def) in defs.iter().enumerate() {
            let map = i as u32;
            let carried = carry
                .iter()
                .find(|c| c.new == map)
                .and_then(|c| old?.get(c.old as usize));
            let result = match carried {
                Some(s) => self.adopt(def, s),
                None => self.make(def),
            };
            let pushed = result.and_then(|(m, slot)| {
                if set.maps.push(m).is_err() || set.slots.push(slot).is_err() {
                    // Cannot happen: defs.len() <= N.
                    return Err(ArenaErrorKind::TooManyMaps { max: N });
                }
                Ok(())
            });
            if let Err(kind) = pushed {
                self.release_set(&set);
                let kind = match kind {
                    // Report the free space as it is again after the rollback.
                    ArenaErrorKind::NoSpace { needed, .. } => ArenaErrorKind::NoSpace {
                        needed,
                        free: self.free_bytes(),
                        largest: self.largest_free_bytes(),
                    },
                    k => k,
                };
                return Err(ArenaError { map, kind });
            }
        }
        Ok(set)
    }

    /// A new map for `def` over new zeroed storage.
    fn make(&mut self, def: &MapDef) -> Result<(AnyMap<'a>, Slot), ArenaErrorKind> {
        let words = words_needed(def, &self.sizing).map_err(ArenaErrorKind::Layout)?;
        let len = u32::try_from(words).map_err(|_| ArenaErrorKind::NoSpace {
            needed: words.saturating_mul(8),
            free: self.free_bytes(),
            largest: self.largest_free_bytes(),
        })?;
        let start = self.alloc(len)?;
        let slot = Slot {
            start,
            len,
            def: *def,
        };
        match self.view(def, &slot) {
            Ok(m) => Ok((m, slot)),
            Err(e) => {
                self.release(start, len);
                Err(e)
            }
        }
    }

    /// The map of `def` over the storage of an old set's `slot`, contents kept: one more
    /// user of its block (a rollback releases it again).
    fn adopt(&mut self, def: &MapDef, slot: &Slot) -> Result<(AnyMap<'a>, Slot), ArenaErrorKind> {
        let words = self.words_of(slot)?;
        let m = AnyMap::new(def, &self.sizing, words).map_err(ArenaErrorKind::Layout)?;
        self.share(slot.start, slot.len)?;
        Ok((m, *slot))
    }

    fn words_of(&self, slot: &Slot) -> Result<&'a [Word], ArenaErrorKind> {
        let start = slot.start as usize;
        self.storage
            .get(start..start.saturating_add(slot.len as usize))
            .ok_or(ArenaErrorKind::ForeignSet)
    }

    fn view(&self, def: &MapDef, slot: &Slot) -> Result<AnyMap<'a>, ArenaErrorKind> {
        let words = self.words_of(slot)?;
        zero(words);
        AnyMap::new(def, &self.sizing, words).map_err(ArenaErrorKind::Layout)
    }

    fn release_set<const N: usize>(&mut self, set: &MapSet<'a, N>) {
        for s in set.slots.iter() {
            self.release(s.start, s.len);
        }
    }

    /// Gives back the words of every map of `set` that no other set shares.
    ///
    /// # Errors
    ///
    /// A set created by another arena is handed back untouched.
    pub fn free<const N: usize>(&mut self, set: MapSet<'a, N>) -> Result<(), MapSet<'a, N>> {
        if set.arena != self.id() {
            return Err(set);
        }
        self.release_set(&set);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use crate::maps::{Map, MapType, BPF_ANY};
    use std::vec::Vec;

    fn def(map_type: MapType, k: u32, v: u32, n: u32) -> MapDef {
        MapDef {
            map_type,
            key_size: k,
            value_size: v,
            max_entries: n,
            flags: 0,
        }
    }

    fn storage(words: usize) -> &'static [Word] {
        (0..words).map(|_| Word::new()).collect::<Vec<_>>().leak()
    }

    /// A valid definition of a random type and size.
    fn random_def(rng: &mut XorShift) -> MapDef {
        let n = 1 + rng.below(40) as u32;
        let v = 1 + rng.below(40) as u32;
        let k = 1 + rng.below(20) as u32;
        match rng.below(13) {
            0 => def(MapType::Array, 4, v, n),
            1 => def(MapType::PerCpuArray, 4, v, n),
            2 => def(MapType::ProgArray, 4, 4, n),
            3 => def(MapType::DevMap, 4, 4, n),
            4 => def(MapType::Hash, k, v, n),
            5 => def(MapType::PerCpuHash, k, v, n),
            6 => def(MapType::LruHash, k, v, n),
            7 => def(MapType::LruPerCpuHash, k, v, n),
            8 => def(MapType::LpmTrie, 4 + k, v, n),
            9 => def(MapType::Queue, 0, v, n),
            10 => def(MapType::Stack, 0, v, n),
            11 => def(MapType::RingBuf, 0, 0, 16 << rng.below(6)),
            _ => def(MapType::PerfEventArray, 4, 4, rng.below(3) as u32),
        }
    }

    /// Puts something in `m`, so that reusing its words needs zeroing.
    fn scribble(m: &AnyMap<'_>, rng: &mut XorShift) {
        let d = m.def();
        let key: Vec<u8> = match d.map_type {
            MapType::LpmTrie => {
                let mut k = (8 * (d.key_size - 4)).to_ne_bytes().to_vec();
                k.resize(d.key_size as usize, 0xab);
                k
            }
            MapType::ProgArray | MapType::DevMap | MapType::Array | MapType::PerCpuArray => {
                0u32.to_ne_bytes().to_vec()
            }
            _ => (0..d.key_size).map(|_| rng.next() as u8).collect(),
        };
        let value: Vec<u8> = (0..d.value_size).map(|i| i as u8 | 1).collect();
        let _ = m.update(&key, &value, BPF_ANY);
        let _ = m.push(&value, 0);
        let _ = m.ringbuf_output(&[1, 2, 3], 0);
        let _ = m.perf_event_output(0, &[4, 5], &[]);
    }

    #[test]
    fn ten_thousand_cycles_return_every_byte_and_never_overlap() {
        let region = storage(2_000);
        let sizing = MapSizing {
            cpus: 2,
            perf_ring_bytes: 64,
        };
        let mut arena = MapArena::<64>::with_sizing(region, sizing);
        let start = arena.free_bytes();
        assert_eq!(start, arena.total_bytes());
        let mut rng = XorShift(0xa4e7_a001);
        let mut live: Vec<MapSet<'static, 4>> = Vec::new();
        let (mut created, mut refused) = (0, 0);
        for cycle in 0..10_000 {
            if live.len() < 6 && rng.below(2) == 0 {
                let count = 1 + rng.below(4) as usize;
                let defs: Vec<MapDef> = (0..count).map(|_| random_def(&mut rng)).collect();
                let before = (arena.free_bytes(), arena.blocks());
                match arena.create_all::<4>(&defs) {
                    Ok(set) => {
                        created += 1;
                        for i in 0..set.len() as u32 {
                            let r = set.storage_range(i).unwrap();
                            assert!(
                                region[r].iter().all(Word::is_zero),
                                "cycle {cycle}: new storage is not zeroed"
                            );
                            assert_eq!(set.def(i), Some(defs[i as usize]));
                            scribble(set.get(i).unwrap(), &mut rng);
                        }
                        live.push(set);
                    }
                    Err(e) => {
                        refused += 1;
                        assert!(matches!(e.kind, ArenaErrorKind::NoSpace { .. }), "{e}");
                        assert_eq!((arena.free_bytes(), arena.blocks()), before);
                    }
                }
            } else if !live.is_empty() {
                let i = rng.below(live.len() as u64) as usize;
                arena.free(live.swap_remove(i)).unwrap();
            }
            // Live maps' word ranges never overlap, and are what the arena counts as used.
            let mut ranges: Vec<Range<usize>> = live
                .iter()
                .flat_map(|s| (0..s.len() as u32).filter_map(|i| s.storage_range(i)))
                .collect();
            ranges.sort_by_key(|r| r.start);
            for pair in ranges.windows(2) {
                assert!(pair[0].end <= pair[1].start, "cycle {cycle}: overlap");
            }
            let used: usize = ranges.iter().map(|r| r.len() * 8).sum();
            assert_eq!(used + arena.free_bytes(), start, "cycle {cycle}");
            assert!(arena.blocks() <= 2 * ranges.len() + 1);
        }
        for set in live.drain(..) {
            arena.free(set).unwrap();
        }
        assert_eq!(arena.free_bytes(), start);
        assert_eq!(arena.blocks(), 1);
        assert!(created > 1000 && refused > 10, "{created} {refused}");
    }

    #[test]
    fn failures_leave_nothing_allocated() {
        let mut arena = MapArena::<8>::new(storage(1000));
        let total = arena.total_bytes();
        let ok = def(MapType::Array, 4, 8, 10);
        let check = |arena: &MapArena<'_, 8>| {
            assert_eq!(arena.free_bytes(), total);
            assert_eq!(arena.blocks(), 1);
        };

        let big = def(MapType::Hash, 4, 8, 1000);
        let needed = words_needed(&big, &MapSizing::DEFAULT).unwrap() * 8;
        let e = arena.create_all::<4>(&[ok, ok, big]).unwrap_err();
        assert_eq!(
            e,
            ArenaError {
                map: 2,
                kind: ArenaErrorKind::NoSpace {
                    needed,
                    free: total,
                    largest: total
                }
            }
        );
        check(&arena);

        let flags = MapDef {
            flags: 1 << 20,
            ..ok
        };
        let e = arena.create_all::<4>(&[ok, flags]).unwrap_err();
        assert_eq!(e.map, 1);
        assert_eq!(
            e.kind,
            ArenaErrorKind::Layout(LayoutError::UnsupportedFlags(1 << 20))
        );
        check(&arena);

        // More words than a region can have: too big, not an overflow.
        let huge = def(MapType::Array, 4, u32::MAX, u32::MAX);
        let e = arena.create_all::<4>(&[ok, huge]).unwrap_err();
        let needed = (u32::MAX as usize).div_ceil(8) * u32::MAX as usize * 8;
        assert_eq!(
            (e.map, e.kind),
            (
                1,
                ArenaErrorKind::NoSpace {
                    needed,
                    free: total,
                    largest: total
                }
            )
        );
        check(&arena);

        for bad in [
            def(MapType::Hash, u32::MAX, u32::MAX, u32::MAX - 2),
            def(MapType::LruPerCpuHash, u32::MAX, u32::MAX, u32::MAX - 2),
        ] {
            let e = arena.create_all::<4>(&[ok, bad]).unwrap_err();
            assert_eq!(e.map, 1);
            assert_eq!(
                e.kind,
                ArenaErrorKind::Layout(LayoutError::Overflow),
                "{bad:?}"
            );
            check(&arena);
        }

        for (bad, field) in [
            (def(MapType::Array, 8, 8, 1), crate::maps::DefField::KeySize),
            (
                def(MapType::Hash, 4, 0, 1),
                crate::maps::DefField::ValueSize,
            ),
            (
                def(MapType::Queue, 0, 8, 0),
                crate::maps::DefField::MaxEntries,
            ),
            (
                def(MapType::RingBuf, 0, 0, 100),
                crate::maps::DefField::MaxEntries,
            ),
            (
                def(MapType::LpmTrie, 4, 8, 1),
                crate::maps::DefField::KeySize,
            ),
            (
                def(MapType::DevMap, 4, 8, 1),
                crate::maps::DefField::ValueSize,
            ),
        ] {
            let e = arena.create_all::<4>(&[ok, ok, bad]).unwrap_err();
            assert_eq!(e.map, 2);
            assert_eq!(e.kind, ArenaErrorKind::Layout(LayoutError::Invalid(field)));
            check(&arena);
        }

        let e = arena.create_all::<2>(&[ok, ok, ok]).unwrap_err();
        assert_eq!(e.kind, ArenaErrorKind::TooManyMaps { max: 2 });
        check(&arena);

        // A full block table: each map splits the last free block.
        let mut small = MapArena::<3>::new(storage(100));
        let e = small.create_all::<4>(&[ok, ok, ok]).unwrap_err();
        assert_eq!((e.map, e.kind), (2, ArenaErrorKind::TableFull));
        assert_eq!(small.free_bytes(), 800);
        assert_eq!(small.blocks(), 1);
        // Exactly filling the region needs no split.
        let mut exact = MapArena::<1>::new(storage(10));
        let set = exact.create_all::<1>(&[ok]).unwrap();
        assert_eq!(exact.free_bytes(), 0);
        exact.free(set).unwrap();
        assert_eq!(exact.free_bytes(), 80);
    }

    #[cfg(feature = "arena")]
    #[test]
    fn sets_give_tables_with_working_handles() {
        let mut arena = MapArena::<8>::new(storage(2000));
        let defs = [
            def(MapType::Array, 4, 8, 4),
            def(MapType::Hash, 4, 8, 16),
            def(MapType::RingBuf, 0, 0, 64),
        ];
        let set = arena.create_all::<4>(&defs).unwrap();
        let table = set.table();
        assert_eq!(table.len(), 3);
        assert!(table.same(&set.table()));
        assert!(!table.same(&MapTable::EMPTY));
        for i in 0..3 {
            let h = table.handle(i).unwrap();
            let m = table.from_handle(h).unwrap();
            assert_eq!(m.def(), defs[i as usize]);
            assert!(table.from_handle(h + 1).is_none());
        }
        assert!(table.handle(3).is_none());
        let m = table.get(1).unwrap();
        m.update(&7u32.to_ne_bytes(), &[9; 8], BPF_ANY).unwrap();
        let a = m.lookup(&7u32.to_ne_bytes()).unwrap().as_ptr() as u64;
        assert!(table.contains_value(a, 8));
        assert!(!table.contains_value(a, 9));
        assert_eq!(table.iter().count(), 3);

        // A set goes back only to its own arena.
        let mut other = MapArena::<8>::new(storage(100));
        let set = other.free(set).unwrap_err();
        arena.free(set).unwrap();
        assert_eq!(arena.free_bytes(), arena.total_bytes());
    }

    #[test]
    fn carried_maps_keep_contents_and_are_freed_with_their_last_set() {
        let mut arena = MapArena::<16>::new(storage(4000));
        let total = arena.total_bytes();
        let counters = def(MapType::Array, 4, 8, 4);
        let flows = def(MapType::Hash, 4, 8, 32);
        let old = arena.create_all::<4>(&[counters, flows]).unwrap();
        old.get(1)
            .unwrap()
            .update(&5u32.to_ne_bytes(), &[5; 8], BPF_ANY)
            .unwrap();
        old.get(0)
            .unwrap()
            .update(&1u32.to_ne_bytes(), &[1; 8], BPF_ANY)
            .unwrap();

        // Refused carries change nothing.
        let bad = [
            [Carry { new: 0, old: 1 }].as_slice(), // definitions differ
            &[Carry { new: 1, old: 2 }],           // no such old map
            &[Carry { new: 3, old: 1 }],           // no such new map
            &[Carry { new: 1, old: 1 }, Carry { new: 1, old: 1 }],
        ];
        let free = arena.free_bytes();
        for carry in bad {
            let e = arena
                .create_all_carrying::<4, 4>(&[counters, flows], &old, carry)
                .unwrap_err();
            assert_eq!(e.kind, ArenaErrorKind::BadCarry, "{carry:?}");
            assert_eq!(arena.free_bytes(), free);
        }

        // The new program keeps `flows` (now its map 0) and gets a new `counters`.
        let carry = [Carry { new: 0, old: 1 }];
        let new = arena
            .create_all_carrying::<4, 4>(&[flows, counters], &old, &carry)
            .unwrap();
        assert_eq!(new.storage_range(0), old.storage_range(1));
        let mut out = [0u8; 8];
        new.get(0)
            .unwrap()
            .lookup_copy(&5u32.to_ne_bytes(), &mut out)
            .unwrap();
        assert_eq!(out, [5; 8]);
        new.get(1)
            .unwrap()
            .lookup_copy(&1u32.to_ne_bytes(), &mut out)
            .unwrap();
        assert_eq!(out, [0; 8], "not carried: new storage");
        // Both sets share the carried map while the old program still runs.
        old.get(1)
            .unwrap()
            .update(&6u32.to_ne_bytes(), &[6; 8], BPF_ANY)
            .unwrap();
        assert!(new.get(0).unwrap().lookup(&6u32.to_ne_bytes()).is_some());
        // A third set may share it too (a replacement that then fails to verify): freeing
        // that set gives nothing back.
        let third = arena
            .create_all_carrying::<4, 4>(&[flows], &old, &carry)
            .unwrap();
        let before = arena.free_bytes();
        arena.free(third).unwrap();
        assert_eq!(arena.free_bytes(), before);

        let counters_bytes = old.storage_range(0).unwrap().len() * 8;
        let before = arena.free_bytes();
        arena.free(old).unwrap();
        assert_eq!(arena.free_bytes(), before + counters_bytes);
        new.get(0)
            .unwrap()
            .lookup_copy(&6u32.to_ne_bytes(), &mut out)
            .unwrap();
        assert_eq!(out, [6; 8]);
        arena.free(new).unwrap();
        assert_eq!(arena.free_bytes(), total);
        assert_eq!(arena.blocks(), 1);
    }

    #[test]
    fn overhead_per_map_is_as_documented() {
        assert_eq!(core::mem::size_of::<Block>(), 12);
        assert_eq!(core::mem::size_of::<Slot>(), 28);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(core::mem::size_of::<AnyMap<'_>>(), 120);
    }

    #[test]
    fn storage_is_static_and_empty_regions_work() {
        static STORAGE: ArenaStorage<64> = ArenaStorage::new();
        let mut arena = MapArena::<4>::new(STORAGE.words());
        assert_eq!(arena.total_bytes(), 512);
        let set = arena
            .create_all::<1>(&[def(MapType::Queue, 0, 8, 8)])
            .unwrap();
        set.get(0).unwrap().push(&[1; 8], 0).unwrap();
        arena.free(set).unwrap();
        let mut none = MapArena::<4>::new(&[]);
        let e = none
            .create_all::<1>(&[def(MapType::Queue, 0, 8, 8)])
            .unwrap_err();
        assert!(matches!(e.kind, ArenaErrorKind::NoSpace { free: 0, .. }));
        let empty = none.create_all::<1>(&[]).unwrap();
        assert!(empty.is_empty());
        #[cfg(feature = "arena")]
        assert!(empty.table().is_empty());
    }
}
