//! `BPF_MAP_TYPE_ARRAY`: `N` zero-initialised values indexed by a `u32` key.

use core::ptr::NonNull;

use super::word::{copy_in, copy_out, value_words, words_addr, words_usize, Word};
use super::{
    check_update_flags, index_key, next_index, Map, MapDef, MapError, MapType, ValueRegion,
    BPF_NOEXIST,
};

/// An array map of `N` values of `V` bytes (`W = value_words(V)` words each).
///
/// Lock-free: slots never move, and values are atomics. Update copies the value word by word,
/// so a concurrent reader may see some words old and some new (as in Linux).
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

    /// The value words at `index`.
    pub fn get(&self, index: u32) -> Option<&[Word; W]> {
        self.values.get(index as usize)
    }

    fn slot(&self, key: &[u8]) -> Option<&[Word; W]> {
        self.get(index_key(key)?)
    }
}

impl<const V: usize, const W: usize, const N: usize> ArrayMap<V, W, N> {
    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.values
            .as_flattened()
            .iter()
            .all(|w| w.load(core::sync::atomic::Ordering::Relaxed) == [0; 8])
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

impl<const V: usize, const W: usize, const N: usize> Map for ArrayMap<V, W, N> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::Array,
            key_size: 4,
            value_size: V as u32,
            max_entries: N as u32,
            flags: 0,
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        self.slot(key).map(|w| words_addr(w))
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != V {
            return Err(MapError::Invalid);
        }
        let i = index_key(key).ok_or(MapError::Invalid)?;
        copy_out(self.get(i).ok_or(MapError::NotFound)?, out);
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)?;
        if value.len() != V {
            return Err(MapError::Invalid);
        }
        let slot = self.get(i).ok_or(MapError::TooBig)?;
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        copy_in(slot, value);
        Ok(())
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, N, out)
    }

    fn value_region(&self) -> ValueRegion {
        ValueRegion {
            start: words_usize(self.values.as_flattened()),
            len: N * W * 8,
            stride: W * 8,
            value_size: V,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use crate::maps::{BPF_ANY, BPF_EXIST};

    #[test]
    fn linux_errors() {
        let m = ArrayMap::<12, 2, 4>::new();
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
            assert_eq!(a, words_usize(m.get(i).unwrap()));
        }
        assert_eq!(ArrayMap::<12, 2, 4>::STORAGE_BYTES, 4 * 16);
    }

    #[test]
    fn random_ops_match_model() {
        const N: usize = 16;
        let m = ArrayMap::<6, 1, N>::new();
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
