//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one ring of records per CPU, which the embedder drains.
//!
//! Linux attaches a perf event (a ring of pages that `perf` or a loader reads) to each slot;
//! `bpf_perf_event_output` appends a record to the ring of the slot its flags name, usually
//! the running CPU's (`BPF_F_CURRENT_CPU`). Here each slot is a [`RingBuf`], with the ring
//! buffer's record layout, and the embedder drains slot `i` with
//! [`PerfEventArray::consume`]. Records that do not fit are dropped with `-ENOSPC`, as perf
//! drops them when its ring is full.

use core::ptr::NonNull;

use super::layout::{check_storage, mul, sum, Carve, LayoutError, MapSizing};
use super::ringbuf::RingBufView;
use super::word::Word;
use super::{index_key, next_index, Consumed, Map, MapDef, MapError, MapType};

/// A perf event array over borrowed storage, sized at run time: `n` slots, each a ring of
/// `ring_words × 8` bytes; first the four meta words of every ring, then every ring's data.
#[derive(Debug)]
pub struct PerfView<'a> {
    meta: &'a [Word],
    data: &'a [Word],
    ring_words: usize,
    n: u32,
    flags: u32,
}

impl<'a> PerfView<'a> {
    /// Words of `n` rings of `ring_bytes` bytes.
    pub(crate) fn words(n: usize, ring_bytes: usize) -> Result<usize, LayoutError> {
        sum(&[mul(n, 4)?, mul(n, ring_bytes / 8)?])
    }

    /// A view of `def` (a perf event array; `max_entries` 0 means `sizing.cpus` slots) over
    /// `words`, which must be exactly [`words_needed`](super::words_needed) long; each slot's
    /// ring is `sizing.perf_ring_bytes` long.
    ///
    /// # Errors
    ///
    /// A definition the type does not accept, or storage of the wrong length.
    pub fn new(def: &MapDef, sizing: &MapSizing, words: &'a [Word]) -> Result<Self, LayoutError> {
        let s = check_storage(def, sizing, words)?;
        if def.map_type != MapType::PerfEventArray {
            return Err(LayoutError::UnsupportedType(def.map_type));
        }
        let ring_words = sizing.perf_ring_bytes as usize / 8;
        let mut c = Carve::new(words);
        let meta = c.take(mul(s.n, 4)?)?;
        let data = c.take(mul(s.n, ring_words)?)?;
        Ok(Self::from_parts(meta, data, ring_words, s.n, def.flags))
    }

    #[inline]
    pub(crate) const fn from_parts(
        meta: &'a [Word],
        data: &'a [Word],
        ring_words: usize,
        n: usize,
        flags: u32,
    ) -> Self {
        PerfView {
            meta,
            data,
            ring_words,
            n: n as u32,
            flags,
        }
    }

    /// The ring of slot `slot`.
    pub fn ring(&self, slot: u32) -> Option<RingBufView<'a>> {
        let i = slot as usize;
        if slot >= self.n {
            return None;
        }
        let meta = self.meta.get(i.checked_mul(4)?..)?.get(..4)?;
        let data = self
            .data
            .get(i.checked_mul(self.ring_words)?..)?
            .get(..self.ring_words)?;
        match meta {
            [p, q, r, s] => Some(RingBufView::from_parts(data, [p, q, r, s], 0)),
            _ => None,
        }
    }

    /// Host side: passes each record of slot `slot` in order to `f` (see
    /// [`RingBufView::consume`]).
    pub fn consume(&self, slot: u32, scratch: &mut [u8], f: impl FnMut(&[u8])) -> Consumed {
        match self.ring(slot) {
            Some(r) => r.consume(scratch, f),
            None => Consumed::default(),
        }
    }
}

impl crate::maps::sealed::Sealed for PerfView<'_> {}

impl Map for PerfView<'_> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::PerfEventArray,
            key_size: 4,
            value_size: 4,
            max_entries: self.n,
            flags: self.flags,
        }
    }

    /// Programs cannot look into a perf event array: always `None`.
    fn lookup(&self, _key: &[u8]) -> Option<NonNull<u8>> {
        None
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::NotSupported)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::NotSupported)
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        match key.map(index_key) {
            Some(None) => Err(MapError::Invalid),
            _ => next_index(key, self.n as usize, out),
        }
    }

    fn perf_event_output(&self, slot: u32, data: &[u8], tail: &[u8]) -> Result<(), MapError> {
        self.ring(slot)
            .ok_or(MapError::TooBig)?
            .output_parts(data, tail)
            .map_err(|_| MapError::NoSpace)
    }
}

/// A perf event array of `N` slots (one per CPU, as loaders size it), each a ring of `CAP`
/// bytes (`W = CAP / 8` words; see [`RingBuf`](super::RingBuf) for the limits): the storage
/// of a [`PerfView`] sized at compile time.
pub struct PerfEventArray<const CAP: usize, const W: usize, const N: usize> {
    meta: [[Word; 4]; N],
    data: [[Word; W]; N],
}

impl<const CAP: usize, const W: usize, const N: usize> PerfEventArray<CAP, W, N> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// Empty rings.
    pub const fn new() -> Self {
        const {
            assert!(N > 0 && N <= u32::MAX as usize, "slot count out of range");
            assert!(
                CAP.is_power_of_two() && CAP >= 16,
                "capacity must be a power of two >= 16"
            );
            assert!(
                CAP <= super::RINGBUF_DISCARD_BIT as usize,
                "capacity too large"
            );
            assert!(W * 8 == CAP, "W must be CAP / 8");
        }
        PerfEventArray {
            meta: [const { [const { Word::new() }; 4] }; N],
            data: [const { [const { Word::new() }; W] }; N],
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> PerfView<'_> {
        PerfView::from_parts(self.meta.as_flattened(), self.data.as_flattened(), W, N, 0)
    }

    /// Host side: passes each record of slot `slot` in order to `f` (see
    /// [`RingBufView::consume`]).
    pub fn consume(&self, slot: u32, scratch: &mut [u8], f: impl FnMut(&[u8])) -> Consumed {
        self.view().consume(slot, scratch, f)
    }
}

impl<const CAP: usize, const W: usize, const N: usize> Default for PerfEventArray<CAP, W, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize, const W: usize, const N: usize> core::fmt::Debug
    for PerfEventArray<CAP, W, N>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PerfEventArray")
            .field("slots", &N)
            .field("ring_bytes", &CAP)
            .finish()
    }
}

super::forward_map!(single_cpu [const CAP: usize, const W: usize, const N: usize] PerfEventArray<CAP, W, N>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_to_their_slot_in_order_wrapper() {
        records_go_to_their_slot_in_order(&PerfEventArray::<64, 8, 2>::new().view());
    }

    #[test]
    fn records_go_to_their_slot_in_order_arena() {
        let sizing = MapSizing {
            cpus: 2,
            perf_ring_bytes: 64,
        };
        // max_entries 0: one slot per CPU.
        let m = crate::maps::testutil::arena_map_sized(MapType::PerfEventArray, 4, 4, 0, sizing);
        match m {
            crate::maps::AnyMap::Perf(p) => records_go_to_their_slot_in_order(p),
            other => panic!("{other:?}"),
        }
    }

    fn records_go_to_their_slot_in_order(m: &PerfView<'_>) {
        m.perf_event_output(1, &[1, 2], &[3]).unwrap();
        m.perf_event_output(1, &[4], &[]).unwrap();
        assert_eq!(m.perf_event_output(2, &[1], &[]), Err(MapError::TooBig));
        assert_eq!(
            m.perf_event_output(0, &[0; 60], &[]),
            Err(MapError::NoSpace)
        );
        let mut got = std::vec::Vec::new();
        let mut scratch = [0u8; 16];
        let c = m.consume(1, &mut scratch, |r| got.push(r.to_vec()));
        assert_eq!(c.records, 2);
        assert_eq!(got, [std::vec![1, 2, 3], std::vec![4]]);
        assert_eq!(m.consume(0, &mut scratch, |_| {}).records, 0);
        assert!(m.lookup(&0u32.to_ne_bytes()).is_none());
        assert_eq!(m.def().map_type, MapType::PerfEventArray);
    }
}
