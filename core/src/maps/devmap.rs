//! `BPF_MAP_TYPE_DEVMAP`: redirect targets, a `u32` interface index per slot.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use super::{
    check_update_flags, index_key, next_index, Map, MapDef, MapError, MapType, ValueRegion,
    BPF_NOEXIST,
};

/// A device map of `N` slots, each 0 (empty) or an interface index, as Linux's devmap with
/// 4-byte values.
///
/// Programs may look values up (read only, as in Linux); `bpf_redirect_map` reads slots
/// through [`Map::redirect_target`]. Slots are single atomics and need no lock.
pub struct DevMap<const N: usize> {
    slots: [AtomicU32; N],
}

impl<const N: usize> DevMap<N> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// A map with every slot empty.
    pub const fn new() -> Self {
        const { assert!(N > 0 && N <= u32::MAX as usize, "capacity out of range") }
        DevMap {
            slots: [const { AtomicU32::new(0) }; N],
        }
    }

    /// The interface index in slot `key`, if set.
    pub fn get(&self, key: u32) -> Option<u32> {
        let ifindex = self.slots.get(key as usize)?.load(Ordering::Acquire);
        (ifindex != 0).then_some(ifindex)
    }

    /// Sets slot `key` to `ifindex` (0 empties it, as in Linux).
    ///
    /// # Errors
    ///
    /// [`MapError::TooBig`] for a key beyond the map.
    pub fn set(&self, key: u32, ifindex: u32) -> Result<(), MapError> {
        self.slots
            .get(key as usize)
            .ok_or(MapError::TooBig)?
            .store(ifindex, Ordering::Release);
        Ok(())
    }
}

impl<const N: usize> DevMap<N> {
    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.slots.iter().all(|s| s.load(Ordering::Relaxed) == 0)
    }
}

impl<const N: usize> Default for DevMap<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for DevMap<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DevMap").field("max_entries", &N).finish()
    }
}

impl<const N: usize> Map for DevMap<N> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::DevMap,
            key_size: 4,
            value_size: 4,
            max_entries: N as u32,
            flags: 0,
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let i = index_key(key)?;
        self.get(i)?;
        self.slots.get(i as usize).map(|s| NonNull::from(s).cast())
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let out: &mut [u8; 4] = out.try_into().map_err(|_| MapError::Invalid)?;
        let i = index_key(key).ok_or(MapError::Invalid)?;
        *out = self.get(i).ok_or(MapError::NotFound)?.to_ne_bytes();
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)?;
        let ifindex = index_key(value).ok_or(MapError::Invalid)?;
        if i as usize >= N {
            return Err(MapError::TooBig);
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        self.set(i, ifindex)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)?;
        self.slots
            .get(i as usize)
            .ok_or(MapError::Invalid)?
            .store(0, Ordering::Release);
        Ok(())
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, N, out)
    }

    fn value_region(&self) -> ValueRegion {
        ValueRegion {
            start: NonNull::from(&self.slots).cast::<u8>().as_ptr().addr(),
            len: N * 4,
            stride: 4,
            value_size: 4,
        }
    }

    fn redirect_target(&self, key: u32) -> Option<u32> {
        self.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use crate::maps::BPF_ANY;

    #[test]
    fn linux_errors_and_lookup() {
        let m = DevMap::<4>::new();
        let k = |i: u32| i.to_ne_bytes();
        assert_eq!(m.update(&k(4), &k(3), BPF_ANY), Err(MapError::TooBig));
        assert_eq!(m.update(&k(1), &k(3), BPF_NOEXIST), Err(MapError::Exists));
        assert_eq!(m.update(&k(1), &k(3), 7), Err(MapError::Invalid));
        assert!(m.lookup(&k(1)).is_none());
        assert_eq!(m.update(&k(1), &k(3), BPF_ANY), Ok(()));
        let a = m.lookup(&k(1)).unwrap().as_ptr().addr();
        assert!(m.value_region().contains(a, 4));
        assert!(!m.value_region().contains(a, 5));
        assert_eq!(m.redirect_target(1), Some(3));
        assert_eq!(m.delete(&k(1)), Ok(()));
        assert_eq!(m.redirect_target(1), None);
        assert_eq!(m.delete(&k(4)), Err(MapError::Invalid));
        assert_eq!(DevMap::<4>::STORAGE_BYTES, 16);
    }

    #[test]
    fn random_ops_match_model() {
        let m = DevMap::<8>::new();
        let mut model = [0u32; 8];
        let mut rng = XorShift(5);
        for _ in 0..3000 {
            let i = rng.below(8) as u32;
            let v = rng.below(4) as u32;
            if rng.below(2) == 0 {
                m.update(&i.to_ne_bytes(), &v.to_ne_bytes(), BPF_ANY)
                    .unwrap();
                model[i as usize] = v;
            } else {
                let want = model[i as usize];
                assert_eq!(m.redirect_target(i), (want != 0).then_some(want));
                assert_eq!(m.lookup(&i.to_ne_bytes()).is_some(), want != 0);
            }
        }
    }
}
