//! The host tool's maps: the core's own maps, created from an object's definitions by a
//! [`MapArena`] over one host allocation, as a board would create them in a `static` region.
//!
//! `nanobpf run` sizes one region for every map the object declares ([`region`]), creates
//! them all in it ([`create`]) and hands the set's table to the runtime. One CPU: per-CPU maps
//! have one copy, a perf event array declared with `max_entries` 0 has one slot, and each
//! slot's ring is [`PERF_RING_BYTES`] long (a record that does not fit fails with `-ENOSPC`,
//! as when perf's ring is full).
//!
//! Dumps list keys in the order they were first stored (until deletes free slots), the same
//! on every run: arrays by index, hash and LRU maps by the entry holding the key (taken lowest
//! first, a freed one next), LPM tries by value slot.

use nanobpf_core::{
    words_needed, AnyMap, Map, MapArena, MapDef, MapSet, MapSizing, PerfView, RingBufView, Word,
};

/// The most bytes of storage one map may ask for (1 GiB).
pub const MAX_MAP_BYTES: u64 = 1 << 30;

/// Bytes of each perf event array slot's ring.
pub const PERF_RING_BYTES: u32 = 1 << 20;

/// How the host tool sizes what definitions leave open.
pub const SIZING: MapSizing = MapSizing {
    cpus: 1,
    perf_ring_bytes: PERF_RING_BYTES,
};

/// The most maps one object may declare.
pub const MAX_MAPS: usize = 128;

/// Blocks of the arena: enough for every map and a gap around each.
const BLOCKS: usize = 2 * MAX_MAPS + 1;

/// The arena the host tool creates maps in.
pub type HostArena<'a> = MapArena<'a, BLOCKS>;

/// The maps of one object.
pub type HostSet<'a> = MapSet<'a, MAX_MAPS>;

/// Words of storage `def` needs.
///
/// # Errors
/// A definition the core cannot create, or one over [`MAX_MAP_BYTES`].
pub fn words_for(def: &MapDef) -> Result<usize, String> {
    let words = words_needed(def, &SIZING).map_err(|e| e.to_string())?;
    let bytes = words as u64 * 8;
    if bytes > MAX_MAP_BYTES {
        return Err(format!("{bytes} bytes of storage (over {MAX_MAP_BYTES})"));
    }
    Ok(words)
}

/// One zeroed region for all of `defs`.
///
/// # Errors
/// The index of the first definition that cannot be created, and why.
pub fn region(defs: &[MapDef]) -> Result<Box<[Word]>, (usize, String)> {
    if defs.len() > MAX_MAPS {
        return Err((MAX_MAPS, format!("more than {MAX_MAPS} maps")));
    }
    let mut total = 0usize;
    for (i, def) in defs.iter().enumerate() {
        total += words_for(def).map_err(|e| (i, e))?;
    }
    Ok((0..total).map(|_| Word::new()).collect())
}

/// Every map of `defs`, in `region` (from [`region`]).
///
/// # Errors
/// The index of the definition that failed, and why.
pub fn create<'a>(
    region: &'a [Word],
    defs: &[MapDef],
) -> Result<(HostArena<'a>, HostSet<'a>), (usize, String)> {
    let mut arena = HostArena::with_sizing(region, SIZING);
    let set = arena
        .create_all(defs)
        .map_err(|e| (e.map as usize, e.to_string()))?;
    Ok((arena, set))
}

/// Every key and value of `map`, in the order they were first stored (nothing for queues,
/// ring buffers and perf event arrays).
pub fn entries(map: &AnyMap<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
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
        if out.len() > def.max_entries as usize {
            break; // cannot happen: iteration ends within the capacity
        }
    }
    match map {
        AnyMap::Hash(h) => out.sort_by_key(|(k, _)| h.slot_of(k)),
        AnyMap::Lru(l) => out.sort_by_key(|(k, _)| l.slot_of(k)),
        _ => {}
    }
    out
}

/// Takes every record of a ring buffer, in order.
pub fn ring_records(rb: &RingBufView<'_>) -> Vec<Vec<u8>> {
    let mut scratch = vec![0u8; rb.def().max_entries as usize];
    let mut out = Vec::new();
    rb.consume(&mut scratch, |r| out.push(r.to_vec()));
    out
}

/// Takes every record of a perf event array, slot by slot, each slot's in output order.
pub fn perf_records(perf: &PerfView<'_>) -> Vec<(u32, Vec<u8>)> {
    let mut scratch = vec![0u8; PERF_RING_BYTES as usize];
    let mut out = Vec::new();
    for slot in 0..perf.def().max_entries {
        perf.consume(slot, &mut scratch, |r| out.push((slot, r.to_vec())));
    }
    out
}

/// One map with storage of its own, for tests and tools that want a single map.
#[derive(Debug)]
pub struct HostMap {
    def: MapDef,
    words: Box<[Word]>,
}

impl HostMap {
    /// Storage for `def`, created as `nanobpf run` creates it: zeroed, every slot now.
    ///
    /// # Errors
    /// A definition the core cannot create, or one over [`MAX_MAP_BYTES`].
    pub fn new(def: &MapDef) -> Result<HostMap, String> {
        let words: Box<[Word]> = (0..words_for(def)?).map(|_| Word::new()).collect();
        // Created once through an arena, which checks and zeroes it; the view is rebuilt
        // over the same words on demand.
        let (mut arena, set) = create(&words, std::slice::from_ref(def)).map_err(|(_, e)| e)?;
        arena
            .free(set)
            .map_err(|_| "the map's arena refused it back".to_string())?;
        Ok(HostMap { def: *def, words })
    }

    /// The map over its words.
    pub fn any(&self) -> AnyMap<'_> {
        // `new` created this very definition over these very words.
        AnyMap::new(&self.def, &SIZING, &self.words).expect("checked by HostMap::new")
    }

    /// The map as the runtime sees it.
    pub fn as_map(&self) -> Box<dyn Map + '_> {
        Box::new(self.any())
    }

    /// Every key and value, see [`entries`].
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        entries(&self.any())
    }

    /// The ring buffer, for a map that is one.
    pub fn ringbuf(&self) -> Option<HostRing<'_>> {
        match self.any() {
            AnyMap::RingBuf(r) => Some(HostRing(r)),
            _ => None,
        }
    }

    /// The perf event array's records so far, for a map that is one.
    pub fn perf_records(&self) -> Option<Vec<(u32, Vec<u8>)>> {
        self.any().perf().map(perf_records)
    }
}

/// A ring buffer, drained from the host.
#[derive(Debug)]
pub struct HostRing<'a>(RingBufView<'a>);

impl HostRing<'_> {
    /// Takes every record so far, in order.
    pub fn consume(&self) -> Vec<Vec<u8>> {
        ring_records(&self.0)
    }

    /// Bytes of records not yet consumed (headers and padding included).
    pub fn pending(&self) -> usize {
        self.0.pending()
    }
}
