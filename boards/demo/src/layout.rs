//! The firewall's maps as `examples/xdp_firewall.c` declares them, in the ELF loader's index
//! order (BTF maps in symbol-table order, which is not the order of the source, then one map per global data section). Shared, by `#[path]`,
//! with the build script, which checks them against the object and fails the build if the C
//! changed; the storage in [`crate::Maps`] is sized to match them exactly.

use nanobpf_core::{MapDef, MapType};

/// Linux's `BPF_F_NO_PREALLOC`, which LPM tries require.
const BPF_F_NO_PREALLOC: u32 = 1;
/// Linux's `BPF_F_RDONLY_PROG`, which the loader sets on `.rodata`.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// Map 1, `blocklist`: LPM trie, key `{u32 prefixlen; be32 addr}`, value `u32`.
pub const BLOCKLIST: MapDef = MapDef {
    map_type: MapType::LpmTrie,
    key_size: 8,
    value_size: 4,
    max_entries: 64,
    flags: BPF_F_NO_PREALLOC,
};

/// Map 0, `per_source`: hash, key `be32` source address, value `{u64 packets; u64 bytes}`.
pub const PER_SOURCE: MapDef = MapDef {
    map_type: MapType::Hash,
    key_size: 4,
    value_size: 16,
    max_entries: 256,
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

/// Map 3, `.rodata`: the `const volatile struct fw_config config` (`count_sources`,
/// `non_ip_verdict`), one element, read-only for the program.
pub const RODATA: MapDef = MapDef {
    map_type: MapType::Array,
    key_size: 4,
    value_size: 8,
    max_entries: 1,
    flags: BPF_F_RDONLY_PROG,
};

/// Map 4, `.bss`: the globals `frames_seen` and `ipv4_frames`, one element.
pub const BSS: MapDef = MapDef {
    map_type: MapType::Array,
    key_size: 4,
    value_size: 16,
    max_entries: 1,
    flags: 0,
};

/// How many maps the program uses.
pub const N_MAPS: usize = 5;

/// The five, by index.
pub const DEFS: [MapDef; N_MAPS] = [PER_SOURCE, BLOCKLIST, VERDICTS, RODATA, BSS];

/// The index of `.rodata`, the map with an initial value.
pub const RODATA_INDEX: usize = 3;
