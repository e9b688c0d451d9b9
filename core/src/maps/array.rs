//! `BPF_MAP_TYPE_ARRAY`: `N` zero-initialised values indexed by a `u32` key.

use core::ptr::NonNull;

use super::layout::{check_storage, mul, Carve, LayoutError, MapSizing, Shape};
use super::word::{copy_in, copy_out, value_words, words_addr, Word};
use super::{
    check_update_flags, index_key, next_index, Map, MapDef, MapError, MapType, ValueRegion,
    BPF_NOEXIST,
};

/// An array or per-CPU array over borrowed storage, sized at run time: `n` values of
/// `value_size` bytes (`vw` words each), `cpus` copies of the whole array (1 for a plain
/// array), the copies of one CPU contiguous.
///
/// Lock-free: slots never move, and values are atomics. Update copies the value word by word,
/// so a concurrent reader may see some words old and some new (as in Linux).
#[derive(Debug)]
pub struct ArrayView<'a> {
    values: &'a [Word],
    map_type: MapType,
    flags: u32,
    value_size: u32,
    n: u32,
    vw: usize,
    cpus: u32,
}

impl<'a> ArrayView<'a> {
    pub(crate) fn words(s: &Shape) -> Result<usize, LayoutError> {
        mul(mul(s.n, s.vw)?, s.cpus)
    }

    /// A view of `def` (an array or per-CPU array) over `words`, which must be exactly
    /// [`words_needed`](super::words_needed) long.
    ///
    /// # Errors
    ///
    /// A definition the type does not accept, or storage of the wrong length.
    pub fn new(def: &MapDef, sizing: &MapSizing, words: &'a [Word]) -> Result<Self, LayoutError> {
        let s = check_storage(def, sizing, words)?;
        let values = Carve::new(words).take(Self::words(&s)?)?;
        Ok(Self::from_parts(
            values,
            def.map_type,
            def.flags,
            s.v,
            s.n,
            s.cpus,
        ))
    }

    /// Over `values`: `cpus` × `n` values of `vw = value_words(v)` words.
    #[inline]
    pub(crate) const fn from_parts(
        values: &'a [Word],
        map_type: MapType,
        flags: u32,
        v: usize,
        n: usize,
        cpus: usize,
    ) -> Self {
        ArrayView {
            values,
            map_type,
            flags,
            value_size: v as u32,
            n: n as u32,
            vw: value_words(v),
            cpus: cpus as u32,
        }
    }

    /// CPU `cpu`'s copy of the value at `index` (the only copy of a plain array: `cpu` 0).
    #[inline]
    pub fn get(&self, index: u32, cpu: u32) -> Option<&'a [Word]> {
        if index >= self.n || cpu >= self.cpus {
            return None;
        }
        let slot = (cpu as usize)
            .saturating_mul(self.n as usize)
            .saturating_add(index as usize)
            .saturating_mul(self.vw);
        self.values.get(slot..slot.saturating_add(self.vw))
    }

    fn per_cpu(&self) -> bool {
        self.map_type == MapType::PerCpuArray
    }

    fn slot(&self, key: &[u8], cpu: u32) -> Result<&'a [Word], MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)?;
        if cpu >= self.cpus {
            return Err(MapError::Invalid);
        }
        self.get(i, cpu).ok_or(MapError::TooBig)
    }

    fn check_update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<u32, MapError> {
        check_update_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)?;
        if value.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        if i >= self.n {
            return Err(MapError::TooBig);
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        Ok(i)
    }

    /// Whether every word is zero.
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.values.iter().all(Word::is_zero)
    }
}

impl crate::maps::sealed::Sealed for ArrayView<'_> {
    fn value_region(&self) -> ValueRegion {
        ValueRegion::of_words(self.values, self.vw, self.value_size)
    }
}

impl Map for ArrayView<'_> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: self.map_type,
            key_size: 4,
            value_size: self.value_size,
            max_entries: self.n,
            flags: self.flags,
        }
    }

    #[inline(always)]
    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        self.get(index_key(key)?, 0).map(words_addr)
    }

    #[inline(always)]
    fn lookup_cpu(&self, key: &[u8], cpu: u32) -> Option<NonNull<u8>> {
        let cpu = if self.per_cpu() { cpu } else { 0 };
        self.get(index_key(key)?, cpu).map(words_addr)
    }

    #[inline]
    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        let slot = self.slot(key, 0).map_err(|e| match e {
            MapError::TooBig => MapError::NotFound,
            e => e,
        })?;
        copy_out(slot, out);
        Ok(())
    }

    #[inline(always)]
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        let i = self.check_update(key, value, flags)?;
        for cpu in 0..self.cpus {
            if let Some(slot) = self.get(i, cpu) {
                copy_in(slot, value);
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn update_cpu(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> Result<(), MapError> {
        if !self.per_cpu() {
            return self.update(key, value, flags);
        }
        self.check_update(key, value, flags)?;
        copy_in(self.slot(key, cpu)?, value);
        Ok(())
    }

    #[inline]
    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, self.n as usize, out)
    }
}

/// An array map of `N` values of `V` bytes (`W = value_words(V)` words each): the storage
/// of an [`ArrayView`] sized at compile time.
///
/// Lock-free: slots never move, and values are atomics. Update copies the value word by word,
/// so a concurrent reader may see some words old and some new (as in Linux).
///
/// ```
/// use nanobpf_core::{value_words, ArrayMap, Map, MapError, BPF_ANY};
///
/// // Four counters of 8 bytes, in `.bss`: no heap, no initialisation code.
/// static COUNTERS: ArrayMap<8, { value_words(8) }, 4> = ArrayMap::new();
///
/// COUNTERS.update(&2u32.to_ne_bytes(), &7u64.to_ne_bytes(), BPF_ANY)?;
/// let mut value = [0u8; 8];
/// COUNTERS.lookup_copy(&2u32.to_ne_bytes(), &mut value)?;
/// assert_eq!(u64::from_ne_bytes(value), 7);
/// // A key past the end is refused with E2BIG, as Linux refuses it.
/// assert_eq!(COUNTERS.update(&4u32.to_ne_bytes(), &[0; 8], BPF_ANY), Err(MapError::TooBig));
/// # Ok::<(), MapError>(())
/// ```
pub struct ArrayMap<const V: usize, const W: usize, const N: usize> {
    values: [[Word; W]; N],
}

impl<const V: usize, const W: usize, const N: usize> ArrayMap<V, W, N> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// A zeroed array.
    pub const fn new() -> Self {
        const {
            assert!(V > 0 && V <= u32::MAX as usize, "value size out of range");
            assert!(W == value_words(V), "W must be value_words(V)");
            assert!(N > 0 && N <= u32::MAX as usize, "capacity out of range");
        }
        ArrayMap {
            values: [const { [const { Word::new() }; W] }; N],
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> ArrayView<'_> {
        ArrayView::from_parts(self.values.as_flattened(), MapType::Array, 0, V, N, 1)
    }

    /// The value words at `index`.
    pub fn get(&self, index: u32) -> Option<&[Word; W]> {
        self.values.get(index as usize)
    }

    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
    }
}

impl<const V: usize, const W: usize, const N: usize> Default for ArrayMap<V, W, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const V: usize, const W: usize, const N: usize> core::fmt::Debug for ArrayMap<V, W, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ArrayMap")
            .field("value_size", &V)
            .field("max_entries", &N)
            .finish()
    }
}

super::forward_map!(single_cpu [const V: usize, const W: usize, const N: usize] ArrayMap<V, W, N>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::sealed::Sealed as _;
    use crate::maps::testutil::{arena_map, XorShift};
    use crate::maps::{BPF_ANY, BPF_EXIST};

    #[test]
    fn linux_errors_wrapper() {
        linux_errors(&ArrayMap::<12, 2, 4>::new());
    }

    #[test]
    fn linux_errors_arena() {
        linux_errors(arena_map(MapType::Array, 4, 12, 4));
    }

    fn linux_errors(m: &dyn Map) {
        let v = [7u8; 12];
        assert_eq!(
            m.update(&4u32.to_ne_bytes(), &v, BPF_ANY),
            Err(MapError::TooBig)
        );
        assert_eq!(
            m.update(&1u32.to_ne_bytes(), &v, BPF_NOEXIST),
            Err(MapError::Exists)
        );
        assert_eq!(m.update(&1u32.to_ne_bytes(), &v, 3), Err(MapError::Invalid));
        assert_eq!(
            m.update(&1u32.to_ne_bytes(), &v[..8], BPF_ANY),
            Err(MapError::Invalid)
        );
        assert_eq!(m.update(&[1, 0], &v, BPF_ANY), Err(MapError::Invalid));
        assert_eq!(m.update(&1u32.to_ne_bytes(), &v, BPF_EXIST), Ok(()));
        assert_eq!(m.delete(&1u32.to_ne_bytes()), Err(MapError::Invalid));
        assert!(m.lookup(&4u32.to_ne_bytes()).is_none());
        assert!(m.lookup(&3u32.to_ne_bytes()).is_some());
        let mut out = [0u8; 12];
        m.lookup_copy(&1u32.to_ne_bytes(), &mut out).unwrap();
        assert_eq!(out, v);
        assert_eq!(
            m.lookup_copy(&9u32.to_ne_bytes(), &mut out),
            Err(MapError::NotFound)
        );
    }

    #[test]
    fn addresses_are_stable_and_in_region() {
        let m = ArrayMap::<12, 2, 4>::new();
        let r = m.value_region();
        for i in 0..4u32 {
            let a = m.lookup(&i.to_ne_bytes()).unwrap().as_ptr().addr();
            assert_eq!(a % 8, 0);
            assert!(r.contains(a, 12));
            assert!(!r.contains(a, 13));
            assert_eq!(a, m.lookup(&i.to_ne_bytes()).unwrap().as_ptr().addr());
            assert_eq!(a, super::super::word::words_usize(m.get(i).unwrap()));
        }
        assert_eq!(ArrayMap::<12, 2, 4>::STORAGE_BYTES, 4 * 16);
    }

    #[test]
    fn addresses_are_stable_and_in_region_arena() {
        let m = arena_map(MapType::Array, 4, 12, 4);
        let r = m.value_region();
        for i in 0..4u32 {
            let a = m.lookup(&i.to_ne_bytes()).unwrap().as_ptr().addr();
            assert_eq!(a % 8, 0);
            assert!(r.contains(a, 12) && !r.contains(a, 13));
            assert_eq!(a, r.start + 16 * i as usize);
        }
    }

    const N: usize = 16;

    #[test]
    fn random_ops_match_model_wrapper() {
        random_ops_match_model(&ArrayMap::<6, 1, N>::new());
    }

    #[test]
    fn random_ops_match_model_arena() {
        random_ops_match_model(arena_map(MapType::Array, 4, 6, N as u32));
    }

    fn random_ops_match_model(m: &dyn Map) {
        let mut model = [[0u8; 6]; N];
        let mut rng = XorShift(0x1234_5678);
        for _ in 0..4000 {
            let i = rng.below(N as u64 + 2) as u32;
            let key = i.to_ne_bytes();
            if rng.below(2) == 0 {
                let v: [u8; 6] = rng.bytes();
                let r = m.update(&key, &v, BPF_ANY);
                if (i as usize) < N {
                    assert_eq!(r, Ok(()));
                    model[i as usize] = v;
                } else {
                    assert_eq!(r, Err(MapError::TooBig));
                }
            } else {
                let mut out = [0u8; 6];
                let r = m.lookup_copy(&key, &mut out);
                match model.get(i as usize) {
                    Some(v) => assert_eq!((r, out), (Ok(()), *v)),
                    None => assert_eq!(r, Err(MapError::NotFound)),
                }
            }
        }
        let mut seen = 0;
        let mut cur: Option<[u8; 4]> = None;
        let mut out = [0u8; 4];
        while m.next_key(cur.as_ref().map(|k| &k[..]), &mut out).is_ok() {
            assert_eq!(u32::from_ne_bytes(out), seen);
            seen += 1;
            cur = Some(out);
        }
        assert_eq!(seen as usize, N);
    }
}
