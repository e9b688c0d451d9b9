//! Map definitions as a program declares them (libbpf's `struct bpf_map_def` and BTF maps).

/// Map types, numbered as Linux's `enum bpf_map_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum MapType {
    /// `BPF_MAP_TYPE_HASH`.
    Hash = 1,
    /// `BPF_MAP_TYPE_ARRAY`.
    Array = 2,
    /// `BPF_MAP_TYPE_PROG_ARRAY`: tail-call targets.
    ProgArray = 3,
    /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: records for user space, one ring per CPU.
    PerfEventArray = 4,
    /// `BPF_MAP_TYPE_PERCPU_HASH`: a hash map with one value per CPU for each key.
    PerCpuHash = 5,
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`.
    PerCpuArray = 6,
    /// `BPF_MAP_TYPE_LRU_HASH`.
    LruHash = 9,
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`: an LRU hash map with one value per CPU for each key.
    LruPerCpuHash = 10,
    /// `BPF_MAP_TYPE_LPM_TRIE`.
    LpmTrie = 11,
    /// `BPF_MAP_TYPE_DEVMAP`: redirect targets.
    DevMap = 14,
    /// `BPF_MAP_TYPE_CPUMAP`: CPUs as redirect targets.
    CpuMap = 16,
    /// `BPF_MAP_TYPE_XSKMAP`: AF_XDP sockets as redirect targets.
    XskMap = 17,
    /// `BPF_MAP_TYPE_QUEUE`.
    Queue = 22,
    /// `BPF_MAP_TYPE_STACK`.
    Stack = 23,
    /// `BPF_MAP_TYPE_RINGBUF`.
    RingBuf = 27,
}

impl MapType {
    /// The type with Linux number `n`, if nanobpf has it.
    pub const fn from_linux(n: u32) -> Option<MapType> {
        Some(match n {
            1 => MapType::Hash,
            2 => MapType::Array,
            3 => MapType::ProgArray,
            4 => MapType::PerfEventArray,
            5 => MapType::PerCpuHash,
            6 => MapType::PerCpuArray,
            9 => MapType::LruHash,
            10 => MapType::LruPerCpuHash,
            11 => MapType::LpmTrie,
            14 => MapType::DevMap,
            16 => MapType::CpuMap,
            17 => MapType::XskMap,
            22 => MapType::Queue,
            23 => MapType::Stack,
            27 => MapType::RingBuf,
            _ => return None,
        })
    }
}

/// Linux's `BPF_F_RDONLY_PROG`: the program may read the map's values but not write them (by
/// a store, an atomic, or a helper that updates, deletes or fills a value). The loader sets it
/// on `.rodata`.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;

impl MapType {
    /// Whether each key has one value per CPU, and a program sees its own CPU's.
    pub const fn per_cpu(self) -> bool {
        matches!(
            self,
            MapType::PerCpuArray | MapType::PerCpuHash | MapType::LruPerCpuHash
        )
    }
}

/// A map as a program declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapDef {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes (0 for maps without keys: queue, stack, ring buffer).
    pub key_size: u32,
    /// Value size in bytes (0 for the ring buffer).
    pub value_size: u32,
    /// Capacity in entries (bytes for the ring buffer).
    pub max_entries: u32,
    /// Linux `map_flags` (`BPF_F_NO_PREALLOC`, [`BPF_F_RDONLY_PROG`], ...).
    pub flags: u32,
}

impl MapDef {
    /// Whether the program may not write the map ([`BPF_F_RDONLY_PROG`]).
    pub const fn read_only_for_program(&self) -> bool {
        self.flags & BPF_F_RDONLY_PROG != 0
    }
}
