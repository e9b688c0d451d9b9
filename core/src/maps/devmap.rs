//! Redirect targets, a `u32` per slot: `BPF_MAP_TYPE_DEVMAP` (interface indices),
//! `BPF_MAP_TYPE_CPUMAP` (queue sizes of the CPUs frames may be sent to) and
//! `BPF_MAP_TYPE_XSKMAP` (AF_XDP sockets). One implementation, [`RedirectMap`], with the map
//! type as a parameter; [`DevMap`], [`CpuMap`] and [`XskMap`] name its three uses.

use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use super::layout::{check_storage, LayoutError, MapSizing};
use super::word::{words_addr, words_usize, Word};
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

/// Redirect slots over borrowed storage, sized at run time: one word per slot, whose first
/// four bytes (in memory order) hold the slot's `u32`, 0 meaning empty; the map type says
/// how [`Map::redirect_target`] reads a slot.
///
/// Programs may look values up (read only, as in Linux); `bpf_redirect_map` reads slots
/// through [`Map::redirect_target`]. Slots are single atomics and need no lock.
#[derive(Debug)]
pub struct RedirectView<'a> {
    slots: &'a [Word],
    map_type: MapType,
    flags: u32,
}

/// The word of a slot holding `v`.
fn slot_bytes(v: u32) -> [u8; 8] {
    let [a, b, c, d] = v.to_ne_bytes();
    [a, b, c, d, 0, 0, 0, 0]
}

impl<'a> RedirectView<'a> {
    /// A view of `def` (a device, CPU or XSK map) over `words`, which must be exactly
    /// [`words_needed`](super::words_needed) long.
    ///
    /// # Errors
    ///
    /// A definition the type does not accept, or storage of the wrong length.
    pub fn new(def: &MapDef, sizing: &MapSizing, words: &'a [Word]) -> Result<Self, LayoutError> {
        check_storage(def, sizing, words)?;
        if !matches!(
            def.map_type,
            MapType::DevMap | MapType::CpuMap | MapType::XskMap
        ) {
            return Err(LayoutError::UnsupportedType(def.map_type));
        }
        Ok(Self::from_parts(words, def.map_type, def.flags))
    }

    #[inline]
    pub(crate) const fn from_parts(slots: &'a [Word], map_type: MapType, flags: u32) -> Self {
        RedirectView {
            slots,
            map_type,
            flags,
        }
    }

    /// The value in slot `key`, if set.
    #[inline]
    pub fn get(&self, key: u32) -> Option<u32> {
        let [a, b, c, d, ..] = self.slots.get(key as usize)?.load(Ordering::Acquire);
        let v = u32::from_ne_bytes([a, b, c, d]);
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
            .store(slot_bytes(value), Ordering::Release);
        Ok(())
    }

    /// Whether every slot is zero.
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.slots.iter().all(Word::is_zero)
    }
}

impl crate::maps::sealed::Sealed for RedirectView<'_> {
    fn value_region(&self) -> ValueRegion {
        ValueRegion {
            start: words_usize(self.slots),
            len: self.slots.len().saturating_mul(8),
            stride: 8,
            value_size: 4,
        }
    }
}

impl Map for RedirectView<'_> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: self.map_type,
            key_size: 4,
            value_size: 4,
            max_entries: self.slots.len() as u32,
            flags: self.flags,
        }
    }

    #[inline]
    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let i = index_key(key)?;
        self.get(i)?;
        self.slots.get(i as usize..=i as usize).map(words_addr)
    }

    /// As [`Map::lookup`] (spelled out so that it inlines, as the helpers call this one).
    #[inline]
    fn lookup_cpu(&self, key: &[u8], _cpu: u32) -> Option<NonNull<u8>> {
        self.lookup(key)
    }

    #[inline]
    fn update_cpu(&self, key: &[u8], value: &[u8], flags: u64, _cpu: u32) -> Result<(), MapError> {
        self.update(key, value, flags)
    }

    #[inline]
    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let out: &mut [u8; 4] = out.try_into().map_err(|_| MapError::Invalid)?;
        let i = index_key(key).ok_or(MapError::Invalid)?;
        *out = self.get(i).ok_or(MapError::NotFound)?.to_ne_bytes();
        Ok(())
    }

    #[inline]
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)?;
        let v = index_key(value).ok_or(MapError::Invalid)?;
        if i as usize >= self.slots.len() {
            return Err(MapError::TooBig);
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        self.set(i, v)
    }

    #[inline]
    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)?;
        self.slots
            .get(i as usize)
            .ok_or(MapError::Invalid)?
            .store([0; 8], Ordering::Release);
        Ok(())
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, self.slots.len(), out)
    }

    #[inline]
    fn redirect_target(&self, key: u32) -> Option<Redirect> {
        let v = self.get(key)?;
        Some(match self.map_type {
            MapType::CpuMap => Redirect::Cpu(key),
            MapType::XskMap => Redirect::Xsk(key),
            _ => Redirect::Device(v),
        })
    }
}

/// `N` slots of one `u32` each (in a word each), 0 meaning empty, for map type `T` (Linux's
/// number: 14, 16 or 17; others do not compile): the storage of a [`RedirectView`] sized at
/// compile time.
pub struct RedirectMap<const N: usize, const T: u32> {
    slots: [Word; N],
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
            slots: [const { Word::new() }; N],
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> RedirectView<'_> {
        RedirectView::from_parts(&self.slots, Self::map_type(), 0)
    }

    /// The value in slot `key`, if set.
    pub fn get(&self, key: u32) -> Option<u32> {
        self.view().get(key)
    }

    /// Sets slot `key` to `value` (0 empties it, as in Linux).
    ///
    /// # Errors
    ///
    /// [`MapError::TooBig`] for a key beyond the map.
    pub fn set(&self, key: u32, value: u32) -> Result<(), MapError> {
        self.view().set(key, value)
    }

    const fn map_type() -> MapType {
        match T {
            CPUMAP => MapType::CpuMap,
            XSKMAP => MapType::XskMap,
            _ => MapType::DevMap,
        }
    }

    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
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

super::forward_map!(single_cpu [const N: usize, const T: u32] RedirectMap<N, T>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::arena_map;
    use crate::maps::testutil::XorShift;
    use crate::maps::BPF_ANY;

    #[test]
    fn linux_errors_and_lookup_wrapper() {
        linux_errors_and_lookup(&DevMap::<4>::new());
    }

    #[test]
    fn linux_errors_and_lookup_arena() {
        linux_errors_and_lookup(arena_map(MapType::DevMap, 4, 4, 4));
    }

    fn linux_errors_and_lookup(m: &dyn Map) {
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
        assert_eq!(DevMap::<4>::STORAGE_BYTES, 32);
    }

    #[test]
    fn random_ops_match_model_wrapper() {
        random_ops_match_model(&DevMap::<8>::new());
    }

    #[test]
    fn random_ops_match_model_arena() {
        random_ops_match_model(arena_map(MapType::DevMap, 4, 4, 8));
    }

    fn random_ops_match_model(m: &dyn Map) {
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
