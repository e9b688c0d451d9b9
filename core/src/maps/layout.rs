//! Sizing a map from its definition: which definitions a map type accepts, how many storage
//! [`Word`]s it needs, and carving them out of one slice.
//!
//! Every run-time map view is built from a [`MapDef`] and a slice of words: [`words_needed`]
//! says how long the slice must be, with every product and sum checked (a definition whose
//! storage would not fit in `usize` is [`LayoutError::Overflow`], never a panic). Each view
//! takes its parts (locks, counters, links, keys, values) from the front of the slice with
//! safe `split_at`, in a fixed order, and keeps the parts, so no operation derives the layout
//! again.

use super::word::{value_words, Word};
use super::{DefField, MapDef, MapType};

/// Linux map flags a definition may carry (`BPF_F_NO_PREALLOC`, `NO_COMMON_LRU`,
/// `NUMA_NODE`, `RDONLY`, `WRONLY`, `ZERO_SEED`, `RDONLY_PROG`, `WRONLY_PROG`, `MMAPABLE`,
/// `PRESERVE_ELEMS`, `INNER_MAP`); they change nothing here but are kept in the map's
/// definition. Any other bit is [`LayoutError::UnsupportedFlags`].
pub const KNOWN_MAP_FLAGS: u32 = 1 | 2 | 4 | 8 | 16 | 64 | 128 | 256 | 1024 | 2048 | 4096;

/// What a definition does not say but storage depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapSizing {
    /// CPUs that run programs: copies of each per-CPU value, and the slots of a perf event
    /// array declared with `max_entries` 0 (loaders size those to the CPUs).
    pub cpus: u32,
    /// Bytes of each perf event array slot's ring (a power of two, at least 16).
    pub perf_ring_bytes: u32,
}

impl MapSizing {
    /// One CPU, 4 KiB perf rings.
    pub const DEFAULT: MapSizing = MapSizing {
        cpus: 1,
        perf_ring_bytes: 4096,
    };
}

impl Default for MapSizing {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a definition cannot be given storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayoutError {
    /// nanobpf has no run-time form of this map type.
    UnsupportedType(MapType),
    /// Flags outside those Linux defines for maps (`BPF_F_NO_PREALLOC` ... `BPF_F_INNER_MAP`):
    /// the unknown bits.
    UnsupportedFlags(u32),
    /// A field out of range for the type (a key size other than 4 for an array, a capacity
    /// of 0, a ring buffer size that is not a power of two, ...).
    Invalid(DefField),
    /// The storage would not fit in `usize` (or the 32-bit indices maps use).
    Overflow,
    /// A storage slice of the wrong length for the definition.
    StorageSize {
        /// Words the definition needs.
        needed: usize,
        /// Words given.
        given: usize,
    },
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LayoutError::UnsupportedType(t) => write!(f, "map type {t:?} is not supported"),
            LayoutError::UnsupportedFlags(b) => write!(f, "unsupported map flags {b:#x}"),
            LayoutError::Invalid(field) => write!(f, "{field:?} out of range for the map type"),
            LayoutError::Overflow => f.write_str("the map's storage size overflows"),
            LayoutError::StorageSize { needed, given } => {
                write!(f, "storage of {given} words for a map that needs {needed}")
            }
        }
    }
}

impl core::error::Error for LayoutError {}

/// The sizes a view needs from a definition, validated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    /// Key bytes.
    pub k: usize,
    /// Value bytes.
    pub v: usize,
    /// Capacity (entries; bytes for a ring buffer; slots for a perf event array).
    pub n: usize,
    /// Words per key.
    pub kw: usize,
    /// Words per value.
    pub vw: usize,
    /// Value copies per entry (CPUs for per-CPU maps, else 1).
    pub cpus: usize,
}

fn invalid<T>(field: DefField) -> Result<T, LayoutError> {
    Err(LayoutError::Invalid(field))
}

/// Checks `def` against what its type accepts.
pub(crate) fn shape(def: &MapDef, sizing: &MapSizing) -> Result<Shape, LayoutError> {
    let unknown = def.flags & !KNOWN_MAP_FLAGS;
    if unknown != 0 {
        return Err(LayoutError::UnsupportedFlags(unknown));
    }
    let (k, v, mut n) = (
        def.key_size as usize,
        def.value_size as usize,
        def.max_entries as usize,
    );
    let mut cpus = 1;
    match def.map_type {
        MapType::Array | MapType::PerCpuArray => {
            if k != 4 {
                return invalid(DefField::KeySize);
            }
            if def.map_type == MapType::PerCpuArray {
                cpus = sizing.cpus as usize;
            }
        }
        MapType::ProgArray | MapType::DevMap | MapType::CpuMap | MapType::XskMap => {
            if k != 4 {
                return invalid(DefField::KeySize);
            }
            if v != 4 {
                return invalid(DefField::ValueSize);
            }
        }
        MapType::Hash | MapType::LruHash | MapType::PerCpuHash | MapType::LruPerCpuHash => {
            if k == 0 {
                return invalid(DefField::KeySize);
            }
            if def.map_type.per_cpu() {
                cpus = sizing.cpus as usize;
            }
            if n >= super::hash::NIL as usize {
                return invalid(DefField::MaxEntries);
            }
        }
        MapType::LpmTrie => {
            if k <= 4 || k > 4 + 256 {
                return invalid(DefField::KeySize);
            }
            if n >= (super::hash::NIL / 2) as usize {
                return invalid(DefField::MaxEntries);
            }
        }
        MapType::Queue | MapType::Stack => {
            if k != 0 {
                return invalid(DefField::KeySize);
            }
        }
        MapType::RingBuf => {
            if k != 0 {
                return invalid(DefField::KeySize);
            }
            if v != 0 {
                return invalid(DefField::ValueSize);
            }
            if !n.is_power_of_two() || n < 16 || n > super::ringbuf::RINGBUF_DISCARD_BIT as usize {
                return invalid(DefField::MaxEntries);
            }
        }
        MapType::PerfEventArray => {
            if k != 4 {
                return invalid(DefField::KeySize);
            }
            if v != 4 {
                return invalid(DefField::ValueSize);
            }
            if n == 0 {
                n = sizing.cpus as usize;
            }
            let ring = sizing.perf_ring_bytes as usize;
            if !ring.is_power_of_two()
                || ring < 16
                || ring > super::ringbuf::RINGBUF_DISCARD_BIT as usize
            {
                return invalid(DefField::ValueSize);
            }
        }
    }
    if v == 0 && def.map_type != MapType::RingBuf {
        return invalid(DefField::ValueSize);
    }
    if n == 0 {
        return invalid(DefField::MaxEntries);
    }
    if cpus == 0 {
        return invalid(DefField::MaxEntries);
    }
    Ok(Shape {
        k,
        v,
        n,
        kw: value_words(k),
        vw: value_words(v),
        cpus,
    })
}

/// Checked `a * b`.
pub(crate) fn mul(a: usize, b: usize) -> Result<usize, LayoutError> {
    a.checked_mul(b).ok_or(LayoutError::Overflow)
}

/// Checked sum.
pub(crate) fn sum(parts: &[usize]) -> Result<usize, LayoutError> {
    parts
        .iter()
        .try_fold(0usize, |acc, &p| acc.checked_add(p))
        .ok_or(LayoutError::Overflow)
}

/// The words of storage a map of definition `def` needs (each map type's `STORAGE_BYTES`
/// follows the same formulas).
///
/// # Errors
///
/// A definition its type does not accept, an unsupported flag, or a size that overflows.
pub fn words_needed(def: &MapDef, sizing: &MapSizing) -> Result<usize, LayoutError> {
    let s = shape(def, sizing)?;
    match def.map_type {
        MapType::Array | MapType::PerCpuArray => super::array::ArrayView::words(&s),
        MapType::ProgArray => Ok(s.n),
        MapType::DevMap | MapType::CpuMap | MapType::XskMap => Ok(s.n),
        MapType::Hash | MapType::PerCpuHash => super::hash::HashView::words(&s),
        MapType::LruHash | MapType::LruPerCpuHash => super::lru::LruView::words(&s),
        MapType::LpmTrie => super::lpm::LpmView::words(&s),
        MapType::Queue | MapType::Stack => super::queue::QueueView::words(&s),
        MapType::RingBuf => super::ringbuf::RingBufView::words(s.n),
        MapType::PerfEventArray => {
            super::perf::PerfView::words(s.n, sizing.perf_ring_bytes as usize)
        }
    }
    .and_then(|w| {
        // Byte counts of storage must fit too (arena errors report bytes).
        mul(w, 8).map(|_| w)
    })
}

/// Takes parts of a storage slice from the front.
#[derive(Debug)]
pub(crate) struct Carve<'a> {
    rest: &'a [Word],
}

impl<'a> Carve<'a> {
    pub(crate) fn new(words: &'a [Word]) -> Self {
        Carve { rest: words }
    }

    /// The next `n` words.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [Word], LayoutError> {
        if n > self.rest.len() {
            return Err(LayoutError::Overflow);
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }

    /// The next word.
    pub(crate) fn one(&mut self) -> Result<&'a Word, LayoutError> {
        self.take(1)?.first().ok_or(LayoutError::Overflow)
    }
}

/// Checks that `words` is exactly what `def` needs, and returns its shape.
pub(crate) fn check_storage(
    def: &MapDef,
    sizing: &MapSizing,
    words: &[Word],
) -> Result<Shape, LayoutError> {
    let needed = words_needed(def, sizing)?;
    if words.len() != needed {
        return Err(LayoutError::StorageSize {
            needed,
            given: words.len(),
        });
    }
    shape(def, sizing)
}
