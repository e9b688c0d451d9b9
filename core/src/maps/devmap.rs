//! Redirect targets, a `u32` per slot: `BPF_MAP_TYPE_DEVMAP` (interface indices),
//! `BPF_MAP_TYPE_CPUMAP` (queue sizes of the CPUs frames may be sent to) and
//! `BPF_MAP_TYPE_XSKMAP` (AF_XDP sockets). One implementation, [`RedirectMap`], with the map
//! type as a parameter; [`DevMap`], [`CpuMap`] and [`XskMap`] name its three uses.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use super::{
    check_update_flags, index_key, next_index, Map, MapDef, MapError, MapType, ValueRegion,
    BPF_NOEXIST,
};

/// Where `bpf_redirect_map` sends a frame, as the embedder carries it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Redirect {
    /// Out of the port with this interface index (a device map).
    Device(u32),
    /// To the CPU with this index, whose own program or stack takes the frame from there (a
    /// CPU map: Linux queues the frame for that CPU's kernel thread).
    Cpu(u32),
    /// To the AF_XDP socket in this slot of an XSK map (by convention the receive queue's
    /// index): the embedder hands the frame to user space, or to whatever stands for it.
    Xsk(u32),
}

/// `BPF_MAP_TYPE_DEVMAP` (14).
const DEVMAP: u32 = 14;
/// `BPF_MAP_TYPE_CPUMAP` (16).
const CPUMAP: u32 = 16;
/// `BPF_MAP_TYPE_XSKMAP` (17).
const XSKMAP: u32 = 17;

/// A device map of `N` slots, each 0 (empty) or an interface index, as Linux's devmap with
/// 4-byte values.
pub type DevMap<const N: usize> = RedirectMap<N, DEVMAP>;
/// A CPU map of `N` slots (one per CPU), each 0 (no queue: redirects to it fail) or the queue
/// size the embedder gives that CPU, as Linux's cpumap with 4-byte values.
pub type CpuMap<const N: usize> = RedirectMap<N, CPUMAP>;
/// An XSK map of `N` slots, each 0 (no socket) or a nonzero handle of the embedder's for an
/// AF_XDP socket (Linux stores a socket file descriptor).
pub type XskMap<const N: usize> = RedirectMap<N, XSKMAP>;

/// `N` slots of one `u32` each, 0 meaning empty, for map type `T` (Linux's number: 14, 16 or
/// 17; others do not compile).
///
/// Programs may look values up (read only, as in Linux); `bpf_redirect_map` reads slots
/// through [`Map::redirect_target`]. Slots are single atomics and need no lock.
pub struct RedirectMap<const N: usize, const T: u32> {
    slots: [AtomicU32; N],
}

impl<const N: usize, const T: u32> RedirectMap<N, T> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// A map with every slot empty.
    pub const fn new() -> Self {
        const {
            assert!(N > 0 && N <= u32::MAX as usize, "capacity out of range");
            assert!(
                T == DEVMAP || T == CPUMAP || T == XSKMAP,
                "T must be 14 (devmap), 16 (cpumap) or 17 (xskmap)"
            );
        }
        RedirectMap {
            slots: [const { AtomicU32::new(0) }; N],
        }
    }

    /// The value in slot `key`, if set.
    pub fn get(&self, key: u32) -> Option<u32> {
        let v = self.slots.get(key as usize)?.load(Ordering::Acquire);
        (v != 0).then_some(v)
    }

    /// Sets slot `key` to `value` (0 empties it, as in Linux).
    ///
    /// # Errors
    ///
    /// [`MapError::TooBig`] for a key beyond the map.
    pub fn set(&self, key: u32, value: u32) -> Result<(), MapError> {
        self.slots
            .get(key as usize)
            .ok_or(MapError::TooBig)?
            .store(value, Ordering::Release);
        Ok(())
    }

    const fn map_type() -> MapType {
        match T {
            CPUMAP => MapType::CpuMap,
            XSKMAP => MapType::XskMap,
            _ => MapType::DevMap,
        }
    }
}

impl<const N: usize, const T: u32> RedirectMap<N, T> {
    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.slots.iter().all(|s| s.load(Ordering::Relaxed) == 0)
    }
}

impl<const N: usize, const T: u32> Default for RedirectMap<N, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const T: u32> core::fmt::Debug for RedirectMap<N, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match T {
            CPUMAP => "CpuMap",
            XSKMAP => "XskMap",
            _ => "DevMap",
        };
        f.debug_struct(name).field("max_entries", &N).finish()
    }
}

impl<const N: usize, const T: u32> Map for RedirectMap<N, T> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: Self::map_type(),
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
        let v = index_key(value).ok_or(MapError::Invalid)?;
        if i as usize >= N {
            return Err(MapError::TooBig);
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        self.set(i, v)
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

    fn redirect_target(&self, key: u32) -> Option<Redirect> {
        let v = self.get(key)?;
        Some(match T {
            CPUMAP => Redirect::Cpu(key),
            XSKMAP => Redirect::Xsk(key),
            _ => Redirect::Device(v),
        })
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
        assert_eq!(m.redirect_target(1), Some(Redirect::Device(3)));
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
                assert_eq!(
                    m.redirect_target(i),
                    (want != 0).then_some(Redirect::Device(want))
                );
                assert_eq!(m.lookup(&i.to_ne_bytes()).is_some(), want != 0);
            }
        }
    }

    #[test]
    fn cpu_and_xsk_maps_redirect_by_slot() {
        let cpus = CpuMap::<4>::new();
        let xsks = XskMap::<2>::new();
        let k = |i: u32| i.to_ne_bytes();
        assert_eq!(cpus.def().map_type, MapType::CpuMap);
        assert_eq!(xsks.def().map_type, MapType::XskMap);
        assert_eq!(
            cpus.redirect_target(2),
            None,
            "no queue: the redirect fails"
        );
        cpus.update(&k(2), &k(192), BPF_ANY).unwrap();
        assert_eq!(cpus.redirect_target(2), Some(Redirect::Cpu(2)));
        xsks.update(&k(1), &k(7), BPF_ANY).unwrap();
        assert_eq!(xsks.redirect_target(1), Some(Redirect::Xsk(1)));
        assert_eq!(xsks.redirect_target(2), None);
        assert_eq!(xsks.update(&k(2), &k(7), BPF_ANY), Err(MapError::TooBig));
        assert!(std::format!("{cpus:?}").starts_with("CpuMap"));
    }
}
