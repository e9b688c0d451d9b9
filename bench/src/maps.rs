//! Map operations from the host: the cost of one lookup and one in-place update of the maps a
//! data-plane program uses most, at a few sizes, with `u32` keys and 8-byte values (IPv4
//! prefixes for the LPM trie).
//!
//! Each map is filled to capacity first; lookups then hit present keys in a random order, and
//! updates overwrite present keys (`BPF_ANY`), so neither allocates nor evicts. Keys are
//! generated before timing; one timed call does [`OPS_PER_CALL`] operations.

use crate::timing::{measure, Timing};
use nanobpf_core::{
    value_words, words_needed, AnyMap, ArrayMap, BpfHashMap, LpmTrie, LruHashMap, Map, MapDef,
    MapSizing, MapType, Word, BPF_ANY,
};
use std::hint::black_box;

/// Operations per timed call: enough that the harness's own cost disappears.
pub const OPS_PER_CALL: usize = 256;

/// The sizes of the table, in entries.
pub const MAP_SIZES: [usize; 3] = [256, 1024, 16384];

const W8: usize = value_words(8);

/// One row of the map table.
#[derive(Clone, Copy, Debug)]
pub struct MapRow {
    /// The map type.
    pub map: &'static str,
    /// Entries (all present).
    pub entries: usize,
    /// Median ns per lookup.
    pub lookup_ns: f64,
    /// Median ns per update of a present key.
    pub update_ns: f64,
    /// Bytes of storage of the map (`STORAGE_BYTES`).
    pub storage: usize,
}

/// A tiny deterministic generator for keys.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A map under test: its keys (one per entry) and the keys to look up.
#[derive(Debug)]
pub struct MapBench {
    map: Box<dyn Map>,
    name: &'static str,
    entries: usize,
    storage: usize,
    /// Keys present in the map, in a random order, `OPS_PER_CALL` at a time.
    keys: Vec<Vec<u8>>,
    /// Keys to look up (for the LPM trie: full addresses inside the stored prefixes).
    probes: Vec<Vec<u8>>,
}

/// IPv4 LPM key: prefix length in host order, address in network order.
fn lpm_key(len: u32, addr: u32) -> Vec<u8> {
    let mut k = len.to_ne_bytes().to_vec();
    k.extend_from_slice(&addr.to_be_bytes());
    k
}

impl MapBench {
    /// `map` (of type `name`, `storage` bytes) filled with `entries` keys.
    fn filled(
        map: Box<dyn Map>,
        name: &'static str,
        entries: usize,
        storage: usize,
    ) -> Result<MapBench, String> {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ entries as u64);
        let (keys, probes): (Vec<Vec<u8>>, Vec<Vec<u8>>) = match name {
            "LpmTrie" | "LpmView" => (0..entries as u32)
                .map(|i| {
                    // /24 prefixes under 10.0.0.0/8; probes are hosts inside them.
                    let net = (10 << 24) | (i << 8);
                    let host = net | (rng.next() as u32 & 0xff);
                    (lpm_key(24, net), lpm_key(32, host))
                })
                .unzip(),
            "ArrayMap" | "ArrayView" => (0..entries as u32)
                .map(|i| (i.to_ne_bytes().to_vec(), i.to_ne_bytes().to_vec()))
                .unzip(),
            _ => (0..entries)
                .map(|_| {
                    let k = (rng.next() as u32).to_ne_bytes().to_vec();
                    (k.clone(), k)
                })
                .unzip(),
        };
        for k in &keys {
            map.update(k, &[1; 8], BPF_ANY)
                .map_err(|e| format!("{name} {entries}: filling: {e}"))?;
        }
        let mut order: Vec<usize> = (0..entries).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.next() as usize % (i + 1));
        }
        let shuffle =
            |v: &[Vec<u8>]| -> Vec<Vec<u8>> { order.iter().map(|&i| v[i].clone()).collect() };
        let (keys, probes) = (shuffle(&keys), shuffle(&probes));
        for p in &probes {
            if map.lookup(p).is_none() {
                return Err(format!("{name} {entries}: a probe misses"));
            }
        }
        Ok(MapBench {
            map,
            name,
            entries,
            storage,
            keys,
            probes,
        })
    }

    /// The four map types at `entries` (one of [`MAP_SIZES`]), as const-generic types and as
    /// the run-time forms a map arena creates (`ArrayView`, `HashView`, `LruView`,
    /// `LpmView`: sizes are fields, not constants).
    ///
    /// # Errors
    /// A size not in [`MAP_SIZES`], or a map that refuses to fill (a bug).
    pub fn all(entries: usize) -> Result<Vec<MapBench>, String> {
        // One function per size: in an unoptimised build each map is built on the stack before
        // it is boxed, and the largest size's maps together overflow a test thread's stack.
        match entries {
            256 => MapBench::four::<256>(),
            1024 => MapBench::four::<1024>(),
            16384 => MapBench::four::<16384>(),
            _ => Err(format!("no map benchmark of {entries} entries")),
        }
    }

    fn four<const N: usize>() -> Result<Vec<MapBench>, String> {
        Ok(vec![
            MapBench::filled(
                Box::new(ArrayMap::<8, W8, N>::new()),
                "ArrayMap",
                N,
                ArrayMap::<8, W8, N>::STORAGE_BYTES,
            )?,
            MapBench::filled(
                Box::new(BpfHashMap::<4, 8, W8, N>::new()),
                "HashMap",
                N,
                BpfHashMap::<4, 8, W8, N>::STORAGE_BYTES,
            )?,
            MapBench::filled(
                Box::new(LruHashMap::<4, 8, W8, N>::new()),
                "LruHashMap",
                N,
                LruHashMap::<4, 8, W8, N>::STORAGE_BYTES,
            )?,
            MapBench::filled(
                Box::new(LpmTrie::<4, 8, W8, N>::new()),
                "LpmTrie",
                N,
                LpmTrie::<4, 8, W8, N>::STORAGE_BYTES,
            )?,
            MapBench::run_time(MapType::Array, 4, N, "ArrayView")?,
            MapBench::run_time(MapType::Hash, 4, N, "HashView")?,
            MapBench::run_time(MapType::LruHash, 4, N, "LruView")?,
            MapBench::run_time(MapType::LpmTrie, 8, N, "LpmView")?,
        ])
    }

    /// A run-time map of `n` entries with `key_size`-byte keys and 8-byte values, over storage
    /// allocated (and kept) for it, zeroed as an arena zeroes a new map's words.
    fn run_time(
        map_type: MapType,
        key_size: u32,
        n: usize,
        name: &'static str,
    ) -> Result<MapBench, String> {
        let def = MapDef {
            map_type,
            key_size,
            value_size: 8,
            max_entries: n as u32,
            flags: 0,
        };
        let sizing = MapSizing::DEFAULT;
        let words = words_needed(&def, &sizing).map_err(|e| e.to_string())?;
        let region: &'static [Word] = Box::leak((0..words).map(|_| Word::new()).collect());
        let map = AnyMap::new(&def, &sizing, region).map_err(|e| e.to_string())?;
        MapBench::filled(Box::new(map), name, n, words * 8)
    }

    /// The map type's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The number of entries.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Looks up the next [`OPS_PER_CALL`] probes from `*at`; returns a checksum of the values'
    /// addresses so nothing is optimised away.
    pub fn lookups(&self, at: &mut usize) -> u64 {
        let mut sum = 0u64;
        for _ in 0..OPS_PER_CALL {
            let p = &self.probes[*at];
            *at = (*at + 1) % self.probes.len();
            sum = sum.wrapping_add(
                self.map
                    .lookup(black_box(p))
                    .map_or(0, |v| v.as_ptr() as u64),
            );
        }
        sum
    }

    /// Updates the next [`OPS_PER_CALL`] present keys from `*at` in place.
    pub fn updates(&self, at: &mut usize) -> u64 {
        let mut ok = 0u64;
        for _ in 0..OPS_PER_CALL {
            let k = &self.keys[*at];
            *at = (*at + 1) % self.keys.len();
            let v = (*at as u64).to_ne_bytes();
            ok += u64::from(self.map.update(black_box(k), &v, BPF_ANY).is_ok());
        }
        ok
    }

    /// Times lookups and updates.
    pub fn measure(&self, timing: &Timing) -> MapRow {
        let mut at = 0;
        let lookup = measure(timing, || self.lookups(&mut at));
        let mut at = 0;
        let update = measure(timing, || self.updates(&mut at));
        MapRow {
            map: self.name,
            entries: self.entries,
            lookup_ns: lookup.ns_per_run / OPS_PER_CALL as f64,
            update_ns: update.ns_per_run / OPS_PER_CALL as f64,
            storage: self.storage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_map_fills_and_every_probe_hits() {
        // Unoptimised, `MapBench::all` builds its largest maps (up to 850 KB) on the stack
        // before boxing them: more than a test thread's default 2 MiB holds.
        let t = std::thread::Builder::new().stack_size(32 << 20).spawn(|| {
            for m in MapBench::all(256).unwrap() {
                let mut at = 0;
                assert_ne!(m.lookups(&mut at), 0, "{}", m.name());
                assert_eq!(at, OPS_PER_CALL % m.entries());
                let mut at = 0;
                assert_eq!(m.updates(&mut at), OPS_PER_CALL as u64, "{}", m.name());
            }
            assert!(MapBench::all(7).is_err());
        });
        t.unwrap().join().unwrap();
    }
}
