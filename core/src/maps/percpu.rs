//! `BPF_MAP_TYPE_PERCPU_ARRAY`: an array with one copy of every value per CPU.

use super::array::ArrayView;
use super::word::{value_words, Word};
use super::MapType;

/// A per-CPU array of `N` values of `V` bytes (`W = value_words(V)` words) for `CPUS` CPUs:
/// the storage of an [`ArrayView`] of type `PERCPU_ARRAY`, sized at compile time.
///
/// A program on CPU `c` sees copy `c` ([`Map::lookup_cpu`](super::Map::lookup_cpu),
/// [`Map::update_cpu`](super::Map::update_cpu)), so counters need no atomics and never bounce
/// between cores. Host-side [`Map::update`](super::Map::update) sets every copy;
/// [`PerCpuArray::get`] reads one. The copies of one CPU are contiguous.
pub struct PerCpuArray<const V: usize, const W: usize, const N: usize, const CPUS: usize> {
    values: [[[Word; W]; N]; CPUS],
}

impl<const V: usize, const W: usize, const N: usize, const CPUS: usize> PerCpuArray<V, W, N, CPUS> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// A zeroed map.
    pub const fn new() -> Self {
        const {
            assert!(V > 0 && V <= u32::MAX as usize, "value size out of range");
            assert!(W == value_words(V), "W must be value_words(V)");
            assert!(N > 0 && N <= u32::MAX as usize, "capacity out of range");
            assert!(
                CPUS > 0 && CPUS <= u32::MAX as usize,
                "CPU count out of range"
            );
        }
        PerCpuArray {
            values: [const { [const { [const { Word::new() }; W] }; N] }; CPUS],
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> ArrayView<'_> {
        let words: &[[Word; W]] = self.values.as_flattened();
        ArrayView::from_parts(words.as_flattened(), MapType::PerCpuArray, 0, V, N, CPUS)
    }

    /// CPU `cpu`'s copy of the value at `index`.
    pub fn get(&self, index: u32, cpu: u32) -> Option<&[Word; W]> {
        self.values.get(cpu as usize)?.get(index as usize)
    }

    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
    }
}

impl<const V: usize, const W: usize, const N: usize, const CPUS: usize> Default
    for PerCpuArray<V, W, N, CPUS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const V: usize, const W: usize, const N: usize, const CPUS: usize> core::fmt::Debug
    for PerCpuArray<V, W, N, CPUS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PerCpuArray")
            .field("value_size", &V)
            .field("max_entries", &N)
            .field("cpus", &CPUS)
            .finish()
    }
}

super::forward_map!(
    [const V: usize, const W: usize, const N: usize, const CPUS: usize]
    PerCpuArray<V, W, N, CPUS>
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::sealed::Sealed as _;
    use crate::maps::testutil::arena_map_sized;
    use crate::maps::testutil::XorShift;
    use crate::maps::word::copy_out;
    use crate::maps::{Map, MapError, MapSizing, BPF_ANY, BPF_NOEXIST};

    fn arena(v: u32, n: u32, cpus: u32) -> &'static ArrayView<'static> {
        let sizing = MapSizing {
            cpus,
            ..MapSizing::DEFAULT
        };
        match arena_map_sized(MapType::PerCpuArray, 4, v, n, sizing) {
            crate::maps::AnyMap::Array(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn copies_are_separate_per_cpu_wrapper() {
        copies_are_separate_per_cpu(&PerCpuArray::<8, 1, 4, 3>::new().view());
        assert_eq!(PerCpuArray::<8, 1, 4, 3>::STORAGE_BYTES, 3 * 4 * 8);
    }

    #[test]
    fn copies_are_separate_per_cpu_arena() {
        copies_are_separate_per_cpu(arena(8, 4, 3));
    }

    fn copies_are_separate_per_cpu(m: &ArrayView<'_>) {
        let key = 2u32.to_ne_bytes();
        m.update(&key, &[1; 8], BPF_ANY).unwrap();
        m.update_cpu(&key, &[5; 8], BPF_ANY, 1).unwrap();
        let read = |cpu| {
            let mut out = [0u8; 8];
            copy_out(m.get(2, cpu).unwrap(), &mut out);
            out
        };
        assert_eq!((read(0), read(1), read(2)), ([1; 8], [5; 8], [1; 8]));
        let a0 = m.lookup_cpu(&key, 0).unwrap().as_ptr().addr();
        let a1 = m.lookup_cpu(&key, 1).unwrap().as_ptr().addr();
        assert_eq!(a1 - a0, 4 * 8);
        assert!(m.lookup_cpu(&key, 3).is_none());
        assert_eq!(
            m.update_cpu(&key, &[0; 8], BPF_ANY, 3),
            Err(MapError::Invalid)
        );
        assert_eq!(
            m.update_cpu(&4u32.to_ne_bytes(), &[0; 8], 0, 0),
            Err(MapError::TooBig)
        );
        assert_eq!(m.update(&key, &[0; 8], BPF_NOEXIST), Err(MapError::Exists));
        let r = m.value_region();
        assert!(r.contains(a0, 8) && r.contains(a1, 8));
        assert!(r.contains(
            m.lookup_cpu(&3u32.to_ne_bytes(), 2)
                .unwrap()
                .as_ptr()
                .addr(),
            8
        ));
    }

    const N: usize = 8;
    const CPUS: usize = 4;

    #[test]
    fn random_ops_match_model_wrapper() {
        random_ops_match_model(&PerCpuArray::<3, 1, N, CPUS>::new().view());
    }

    #[test]
    fn random_ops_match_model_arena() {
        random_ops_match_model(arena(3, N as u32, CPUS as u32));
    }

    fn random_ops_match_model(m: &ArrayView<'_>) {
        let mut model = [[[0u8; 3]; N]; CPUS];
        let mut rng = XorShift(0xfeed);
        for _ in 0..4000 {
            let i = rng.below(N as u64) as u32;
            let cpu = rng.below(CPUS as u64) as u32;
            let v: [u8; 3] = rng.bytes();
            match rng.below(3) {
                0 => {
                    m.update_cpu(&i.to_ne_bytes(), &v, BPF_ANY, cpu).unwrap();
                    model[cpu as usize][i as usize] = v;
                }
                1 => {
                    m.update(&i.to_ne_bytes(), &v, BPF_ANY).unwrap();
                    for c in &mut model {
                        c[i as usize] = v;
                    }
                }
                _ => {
                    let mut out = [0u8; 3];
                    copy_out(m.get(i, cpu).unwrap(), &mut out);
                    assert_eq!(out, model[cpu as usize][i as usize]);
                }
            }
        }
    }
}
