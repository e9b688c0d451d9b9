//! The firewall's maps as the program declares them, in map-index order. Shared, by `#[path]`,
//! with the build script that verifies the program on the host.

use nanobpf_core::env::{MapDef, MapType};

/// Linux's `BPF_F_NO_PREALLOC`, which LPM tries require.
const BPF_F_NO_PREALLOC: u32 = 1;

/// Map 0, `blocklist`: LPM trie, key `{u32 prefixlen; be32 addr}`, value `u32`.
pub const BLOCKLIST: MapDef = MapDef {
    map_type: MapType::LpmTrie,
    key_size: 8,
    value_size: 4,
    max_entries: 16,
    flags: BPF_F_NO_PREALLOC,
};

/// Map 1, `per_source`: hash, key `be32` source address, value `{u64 packets; u64 bytes}`.
pub const PER_SOURCE: MapDef = MapDef {
    map_type: MapType::Hash,
    key_size: 4,
    value_size: 16,
    max_entries: 32,
    flags: 0,
};

/// Map 2, `verdicts`: array of five `u64` counters indexed by XDP verdict.
pub const VERDICTS: MapDef = MapDef {
    map_type: MapType::Array,
    key_size: 4,
    value_size: 8,
    max_entries: 5,
    flags: 0,
};

/// The three, by index.
pub const DEFS: [MapDef; 3] = [BLOCKLIST, PER_SOURCE, VERDICTS];
