//! `BPF_MAP_TYPE_PROG_ARRAY`: tail-call targets, one program id per slot.

use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use super::layout::{check_storage, LayoutError, MapSizing};
use super::word::Word;
use super::{index_key, next_index, Map, MapDef, MapError, MapType, BPF_ANY};

/// The id of an empty slot.
const EMPTY: u32 = u32::MAX;

/// Slots hold ids complemented, so that an empty slot holds 0 and an empty array is all zeros
/// (a `static` of it goes to `.bss` and costs no flash).
const fn stored(id: u32) -> u32 {
    !id
}

/// A program array over borrowed storage, sized at run time: one word per slot, each empty or
/// holding a program id (what an id means is the runtime's business; `u32::MAX` is
/// reserved).
///
/// Programs never see values (only `bpf_tail_call` reads slots, through [`Map::prog_at`]), so
/// slots are single atomics and need no lock.
#[derive(Debug)]
pub struct ProgArrayView<'a> {
    slots: &'a [Word],
    flags: u32,
}

impl<'a> ProgArrayView<'a> {
    /// A view of `def` (a program array) over `words`, which must be exactly
    /// [`words_needed`](super::words_needed) long.
    ///
    /// # Errors
    ///
    /// A definition the type does not accept, or storage of the wrong length.
    pub fn new(def: &MapDef, sizing: &MapSizing, words: &'a [Word]) -> Result<Self, LayoutError> {
        check_storage(def, sizing, words)?;
        if def.map_type != MapType::ProgArray {
            return Err(LayoutError::UnsupportedType(def.map_type));
        }
        Ok(Self::from_parts(words, def.flags))
    }

    #[inline]
    pub(crate) const fn from_parts(slots: &'a [Word], flags: u32) -> Self {
        ProgArrayView { slots, flags }
    }

    /// The program id in slot `index`.
    #[inline]
    pub fn get(&self, index: u32) -> Option<u32> {
        let id = !self.slots.get(index as usize)?.num(Ordering::Acquire);
        (id != EMPTY).then_some(id)
    }

    /// Puts program `id` in slot `index`.
    ///
    /// # Errors
    ///
    /// [`MapError::TooBig`] for an index beyond the array, [`MapError::Invalid`] for the
    /// reserved id `u32::MAX`.
    pub fn set(&self, index: u32, id: u32) -> Result<(), MapError> {
        if id == EMPTY {
            return Err(MapError::Invalid);
        }
        self.slots
            .get(index as usize)
            .ok_or(MapError::TooBig)?
            .set_num(stored(id), Ordering::Release);
        Ok(())
    }

    /// Empties slot `index`.
    ///
    /// # Errors
    ///
    /// [`MapError::Invalid`] for an index beyond the array, [`MapError::NotFound`] if the slot
    /// was empty.
    pub fn clear(&self, index: u32) -> Result<(), MapError> {
        let slot = self.slots.get(index as usize).ok_or(MapError::Invalid)?;
        match !slot.swap_num(stored(EMPTY), Ordering::AcqRel) {
            EMPTY => Err(MapError::NotFound),
            _ => Ok(()),
        }
    }

    /// Whether every slot's bytes are zero.
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.slots.iter().all(Word::is_zero)
    }
}

impl crate::maps::sealed::Sealed for ProgArrayView<'_> {}

impl Map for ProgArrayView<'_> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::ProgArray,
            key_size: 4,
            value_size: 4,
            max_entries: self.slots.len() as u32,
            flags: self.flags,
        }
    }

    /// Programs cannot look up program arrays: always `None`.
    #[inline]
    fn lookup(&self, _key: &[u8]) -> Option<NonNull<u8>> {
        None
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
        if flags != BPF_ANY {
            return Err(MapError::Invalid);
        }
        let i = index_key(key).ok_or(MapError::Invalid)?;
        let id = index_key(value).ok_or(MapError::Invalid)?;
        self.set(i, id)
    }

    #[inline]
    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.clear(index_key(key).ok_or(MapError::Invalid)?)
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, self.slots.len(), out)
    }

    #[inline]
    fn prog_at(&self, index: u32) -> Option<u32> {
        self.get(index)
    }
}

/// A program array of `N` slots: the storage of a [`ProgArrayView`] sized at compile time.
pub struct ProgArray<const N: usize> {
    slots: [Word; N],
}

impl<const N: usize> ProgArray<N> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// An array with every slot empty.
    pub const fn new() -> Self {
        const { assert!(N > 0 && N <= u32::MAX as usize, "capacity out of range") }
        ProgArray {
            slots: [const { Word::new() }; N],
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> ProgArrayView<'_> {
        ProgArrayView::from_parts(&self.slots, 0)
    }

    /// The program id in slot `index`.
    pub fn get(&self, index: u32) -> Option<u32> {
        self.view().get(index)
    }

    /// Puts program `id` in slot `index`.
    ///
    /// # Errors
    ///
    /// [`MapError::TooBig`] for an index beyond the array, [`MapError::Invalid`] for the
    /// reserved id `u32::MAX`.
    pub fn set(&self, index: u32, id: u32) -> Result<(), MapError> {
        self.view().set(index, id)
    }

    /// Empties slot `index`.
    ///
    /// # Errors
    ///
    /// [`MapError::Invalid`] for an index beyond the array, [`MapError::NotFound`] if the slot
    /// was empty.
    pub fn clear(&self, index: u32) -> Result<(), MapError> {
        self.view().clear(index)
    }

    /// Whether every slot's bytes are zero (as [`new`](Self::new) makes them).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
    }
}

impl<const N: usize> Default for ProgArray<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for ProgArray<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProgArray")
            .field("max_entries", &N)
            .finish()
    }
}

super::forward_map!(single_cpu [const N: usize] ProgArray<N>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::arena_map;
    use crate::maps::testutil::XorShift;
    use crate::maps::{BPF_EXIST, BPF_NOEXIST};

    #[test]
    fn linux_errors_and_slots_wrapper() {
        linux_errors_and_slots(&ProgArray::<4>::new());
    }

    #[test]
    fn linux_errors_and_slots_arena() {
        linux_errors_and_slots(arena_map(MapType::ProgArray, 4, 4, 4));
    }

    fn linux_errors_and_slots(m: &dyn Map) {
        let k = |i: u32| i.to_ne_bytes();
        assert_eq!(m.update(&k(1), &k(7), BPF_NOEXIST), Err(MapError::Invalid));
        assert_eq!(m.update(&k(1), &k(7), BPF_EXIST), Err(MapError::Invalid));
        assert_eq!(m.update(&k(4), &k(7), BPF_ANY), Err(MapError::TooBig));
        assert_eq!(
            m.update(&k(1), &k(u32::MAX), BPF_ANY),
            Err(MapError::Invalid)
        );
        assert_eq!(m.update(&k(1), &k(7), BPF_ANY), Ok(()));
        assert_eq!(m.prog_at(1), Some(7));
        assert_eq!(m.prog_at(0), None);
        assert_eq!(m.prog_at(9), None);
        assert!(m.lookup(&k(1)).is_none());
        assert_eq!(m.delete(&k(1)), Ok(()));
        assert_eq!(m.delete(&k(1)), Err(MapError::NotFound));
        assert_eq!(m.delete(&k(4)), Err(MapError::Invalid));
        assert_eq!(m.value_region(), crate::maps::ValueRegion::EMPTY);
    }

    #[test]
    fn random_ops_match_model_wrapper() {
        random_ops_match_model(&ProgArray::<8>::new());
    }

    #[test]
    fn random_ops_match_model_arena() {
        random_ops_match_model(arena_map(MapType::ProgArray, 4, 4, 8));
    }

    fn random_ops_match_model(m: &dyn Map) {
        let mut model = [None; 8];
        let mut rng = XorShift(99);
        for _ in 0..3000 {
            let i = rng.below(10) as u32;
            let id = rng.below(1000) as u32;
            match rng.below(3) {
                0 => {
                    let r = m.update(&i.to_ne_bytes(), &id.to_ne_bytes(), BPF_ANY);
                    match model.get_mut(i as usize) {
                        Some(slot) => {
                            assert_eq!(r, Ok(()));
                            *slot = Some(id);
                        }
                        None => assert_eq!(r, Err(MapError::TooBig)),
                    }
                }
                1 => {
                    let r = m.delete(&i.to_ne_bytes());
                    match model.get_mut(i as usize) {
                        Some(slot) => assert_eq!(r.is_ok(), slot.take().is_some()),
                        None => assert_eq!(r, Err(MapError::Invalid)),
                    }
                }
                _ => assert_eq!(m.prog_at(i), model.get(i as usize).copied().flatten()),
            }
        }
    }
}
