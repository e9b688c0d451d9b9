//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one ring of records per CPU, which the embedder drains.
//!
//! Linux attaches a perf event (a ring of pages that `perf` or a loader reads) to each slot;
//! `bpf_perf_event_output` appends a record to the ring of the slot its flags name, usually
//! the running CPU's (`BPF_F_CURRENT_CPU`). Here each slot is a [`RingBuf`], with the ring
//! buffer's record layout, and the embedder drains slot `i` with
//! [`PerfEventArray::consume`]. Records that do not fit are dropped with `-ENOSPC`, as perf
//! drops them when its ring is full.

use core::ptr::NonNull;

use super::ringbuf::RingBuf;
use super::{index_key, next_index, Consumed, Map, MapDef, MapError, MapType};

/// A perf event array of `N` slots (one per CPU, as loaders size it), each a ring of `CAP`
/// bytes (`W = CAP / 8` words; see [`RingBuf`] for the limits).
pub struct PerfEventArray<const CAP: usize, const W: usize, const N: usize> {
    rings: [RingBuf<CAP, W>; N],
}

impl<const CAP: usize, const W: usize, const N: usize> PerfEventArray<CAP, W, N> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// Empty rings.
    pub const fn new() -> Self {
        const { assert!(N > 0 && N <= u32::MAX as usize, "slot count out of range") }
        PerfEventArray {
            rings: [const { RingBuf::new() }; N],
        }
    }

    /// Host side: passes each record of slot `slot` in order to `f` (see [`RingBuf::consume`]).
    pub fn consume(&self, slot: u32, scratch: &mut [u8], f: impl FnMut(&[u8])) -> Consumed {
        match self.rings.get(slot as usize) {
            Some(r) => r.consume(scratch, f),
            None => Consumed::default(),
        }
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

impl<const CAP: usize, const W: usize, const N: usize> Map for PerfEventArray<CAP, W, N> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::PerfEventArray,
            key_size: 4,
            value_size: 4,
            max_entries: N as u32,
            flags: 0,
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
            _ => next_index(key, N, out),
        }
    }

    fn perf_event_output(&self, slot: u32, data: &[u8], tail: &[u8]) -> Result<(), MapError> {
        self.rings
            .get(slot as usize)
            .ok_or(MapError::TooBig)?
            .output_parts(data, tail)
            .map_err(|_| MapError::NoSpace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_to_their_slot_in_order() {
        let m = PerfEventArray::<64, 8, 2>::new();
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
