//! `BPF_MAP_TYPE_PERCPU_ARRAY`: an array with one copy of every value per CPU.

use core::ptr::NonNull;

use super::word::{copy_in, copy_out, value_words, words_addr, words_usize, Word};
use super::{
    check_update_flags, index_key, next_index, Map, MapDef, MapError, MapType, ValueRegion,
    BPF_NOEXIST,
};

/// A per-CPU array of `N` values of `V` bytes (`W = value_words(V)` words) for `CPUS` CPUs.
///
/// A program on CPU `c` sees copy `c` ([`Map::lookup_cpu`], [`Map::update_cpu`]), so counters
/// need no atomics and never bounce between cores. Host-side [`Map::update`] sets every copy;
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

    /// CPU `cpu`'s copy of the value at `index`.
    pub fn get(&self, index: u32, cpu: u32) -> Option<&[Word; W]> {
        self.values.get(cpu as usize)?.get(index as usize)
    }

    fn slot(&self, key: &[u8], cpu: u32) -> Result<&[Word; W], MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)?;
        let per_cpu = self.values.get(cpu as usize).ok_or(MapError::Invalid)?;
        per_cpu.get(i as usize).ok_or(MapError::TooBig)
    }

    fn check_update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<u32, MapError> {
        check_update_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)?;
        if value.len() != V {
            return Err(MapError::Invalid);
        }
        if i as usize >= N {
            return Err(MapError::TooBig);
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        Ok(i)
    }
}

impl<const V: usize, const W: usize, const N: usize, const CPUS: usize> PerCpuArray<V, W, N, CPUS> {
    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.values
            .as_flattened()
            .as_flattened()
            .iter()
            .all(|w| w.load(core::sync::atomic::Ordering::Relaxed) == [0; 8])
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

impl<const V: usize, const W: usize, const N: usize, const CPUS: usize> Map
    for PerCpuArray<V, W, N, CPUS>
{
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::PerCpuArray,
            key_size: 4,
            value_size: V as u32,
            max_entries: N as u32,
            flags: 0,
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        self.lookup_cpu(key, 0)
    }

    fn lookup_cpu(&self, key: &[u8], cpu: u32) -> Option<NonNull<u8>> {
        self.get(index_key(key)?, cpu).map(|w| words_addr(w))
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != V {
            return Err(MapError::Invalid);
        }
        let slot = self.slot(key, 0).map_err(|e| match e {
            MapError::TooBig => MapError::NotFound,
            e => e,
        })?;
        copy_out(slot, out);
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        let i = self.check_update(key, value, flags)?;
        for per_cpu in &self.values {
            if let Some(slot) = per_cpu.get(i as usize) {
                copy_in(slot, value);
            }
        }
        Ok(())
    }

    fn update_cpu(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> Result<(), MapError> {
        self.check_update(key, value, flags)?;
        copy_in(self.slot(key, cpu)?, value);
        Ok(())
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, N, out)
    }

    fn value_region(&self) -> ValueRegion {
        let words: &[[Word; W]] = self.values.as_flattened();
        ValueRegion {
            start: words_usize(words.as_flattened()),
            len: CPUS * N * W * 8,
            stride: W * 8,
            value_size: V,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use crate::maps::BPF_ANY;

    #[test]
    fn copies_are_separate_per_cpu() {
        let m = PerCpuArray::<8, 1, 4, 3>::new();
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
        assert_eq!(PerCpuArray::<8, 1, 4, 3>::STORAGE_BYTES, 3 * 4 * 8);
    }

    #[test]
    fn random_ops_match_model() {
        const N: usize = 8;
        const CPUS: usize = 4;
        let m = PerCpuArray::<3, 1, N, CPUS>::new();
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
