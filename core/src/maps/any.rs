//! [`AnyMap`]: one map of any type over borrowed storage, sized at run time.

use super::layout::{LayoutError, MapSizing};
use super::word::Word;
use super::{
    ArrayView, HashView, LpmView, LruView, Map, MapDef, MapType, PerfView, ProgArrayView,
    QueueView, RedirectView, RingBufView,
};

/// A map of any type, as [`MapArena`](super::MapArena) creates them from definitions: the
/// run-time view of its type over storage it borrows. Every [`Map`] method goes to the view.
///
/// Not `Clone`: a map's storage has one owner at a time (see
/// [`MapSet`](super::MapSet)); a copy that outlived it would share words with the next map
/// created there (a logic error, never undefined behaviour: every word is an atomic).
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyMap<'a> {
    /// Array and per-CPU array.
    Array(ArrayView<'a>),
    /// Program array.
    ProgArray(ProgArrayView<'a>),
    /// Device, CPU and XSK maps.
    Redirect(RedirectView<'a>),
    /// Hash and per-CPU hash.
    Hash(HashView<'a>),
    /// LRU hash and LRU per-CPU hash.
    Lru(LruView<'a>),
    /// LPM trie.
    Lpm(LpmView<'a>),
    /// Queue and stack.
    Queue(QueueView<'a>),
    /// Ring buffer.
    RingBuf(RingBufView<'a>),
    /// Perf event array.
    Perf(PerfView<'a>),
}

impl<'a> AnyMap<'a> {
    /// The map `def` describes over `words`, which must be exactly
    /// [`words_needed`](super::words_needed) long (hash maps get seed 0). The words are used
    /// as they are: zero them first for an empty map.
    ///
    /// # Errors
    ///
    /// A definition its type does not accept, or storage of the wrong length.
    pub fn new(def: &MapDef, sizing: &MapSizing, words: &'a [Word]) -> Result<Self, LayoutError> {
        Ok(match def.map_type {
            MapType::Array | MapType::PerCpuArray => {
                AnyMap::Array(ArrayView::new(def, sizing, words)?)
            }
            MapType::ProgArray => AnyMap::ProgArray(ProgArrayView::new(def, sizing, words)?),
            MapType::DevMap | MapType::CpuMap | MapType::XskMap => {
                AnyMap::Redirect(RedirectView::new(def, sizing, words)?)
            }
            MapType::Hash | MapType::PerCpuHash => {
                AnyMap::Hash(HashView::new(def, sizing, words, 0)?)
            }
            MapType::LruHash | MapType::LruPerCpuHash => {
                AnyMap::Lru(LruView::new(def, sizing, words, 0)?)
            }
            MapType::LpmTrie => AnyMap::Lpm(LpmView::new(def, sizing, words)?),
            MapType::Queue | MapType::Stack => AnyMap::Queue(QueueView::new(def, sizing, words)?),
            MapType::RingBuf => AnyMap::RingBuf(RingBufView::new(def, sizing, words)?),
            MapType::PerfEventArray => AnyMap::Perf(PerfView::new(def, sizing, words)?),
        })
    }

    /// The map as the runtime sees it.
    #[inline]
    pub fn as_map(&self) -> &(dyn Map + 'a) {
        match self {
            AnyMap::Array(m) => m,
            AnyMap::ProgArray(m) => m,
            AnyMap::Redirect(m) => m,
            AnyMap::Hash(m) => m,
            AnyMap::Lru(m) => m,
            AnyMap::Lpm(m) => m,
            AnyMap::Queue(m) => m,
            AnyMap::RingBuf(m) => m,
            AnyMap::Perf(m) => m,
        }
    }

    /// The ring buffer, for a map that is one.
    pub fn ringbuf(&self) -> Option<&RingBufView<'a>> {
        match self {
            AnyMap::RingBuf(r) => Some(r),
            _ => None,
        }
    }

    /// The perf event array, for a map that is one.
    pub fn perf(&self) -> Option<&PerfView<'a>> {
        match self {
            AnyMap::Perf(p) => Some(p),
            _ => None,
        }
    }
}

/// Forwards every method of [`Map`] to the view of the variant.
macro_rules! each {
    ($self:ident, $m:ident => $e:expr) => {
        match $self {
            AnyMap::Array($m) => $e,
            AnyMap::ProgArray($m) => $e,
            AnyMap::Redirect($m) => $e,
            AnyMap::Hash($m) => $e,
            AnyMap::Lru($m) => $e,
            AnyMap::Lpm($m) => $e,
            AnyMap::Queue($m) => $e,
            AnyMap::RingBuf($m) => $e,
            AnyMap::Perf($m) => $e,
        }
    };
}

impl crate::maps::sealed::Sealed for AnyMap<'_> {
    fn value_region(&self) -> super::ValueRegion {
        each!(self, m => m.value_region())
    }
}

impl Map for AnyMap<'_> {
    fn def(&self) -> MapDef {
        each!(self, m => m.def())
    }

    #[inline]
    fn lookup(&self, key: &[u8]) -> Option<core::ptr::NonNull<u8>> {
        each!(self, m => m.lookup(key))
    }

    #[inline]
    fn lookup_cpu(&self, key: &[u8], cpu: u32) -> Option<core::ptr::NonNull<u8>> {
        each!(self, m => m.lookup_cpu(key, cpu))
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), super::MapError> {
        each!(self, m => m.lookup_copy(key, out))
    }

    #[inline]
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), super::MapError> {
        each!(self, m => m.update(key, value, flags))
    }

    #[inline]
    fn update_cpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: u32,
    ) -> Result<(), super::MapError> {
        each!(self, m => m.update_cpu(key, value, flags, cpu))
    }

    fn delete(&self, key: &[u8]) -> Result<(), super::MapError> {
        each!(self, m => m.delete(key))
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), super::MapError> {
        each!(self, m => m.next_key(key, out))
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), super::MapError> {
        each!(self, m => m.push(value, flags))
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), super::MapError> {
        each!(self, m => m.pop(out))
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), super::MapError> {
        each!(self, m => m.peek(out))
    }

    fn ringbuf_output(&self, data: &[u8], flags: u64) -> Result<(), super::MapError> {
        each!(self, m => m.ringbuf_output(data, flags))
    }

    fn ringbuf_reserve(&self, size: u64, flags: u64) -> Option<core::ptr::NonNull<u8>> {
        each!(self, m => m.ringbuf_reserve(size, flags))
    }

    fn ringbuf_submit(&self, addr: u64, flags: u64) -> Result<(), super::MapError> {
        each!(self, m => m.ringbuf_submit(addr, flags))
    }

    fn ringbuf_discard(&self, addr: u64, flags: u64) -> Result<(), super::MapError> {
        each!(self, m => m.ringbuf_discard(addr, flags))
    }

    fn perf_event_output(
        &self,
        slot: u32,
        data: &[u8],
        tail: &[u8],
    ) -> Result<(), super::MapError> {
        each!(self, m => m.perf_event_output(slot, data, tail))
    }

    #[inline]
    fn prog_at(&self, index: u32) -> Option<u32> {
        each!(self, m => m.prog_at(index))
    }

    #[inline]
    fn redirect_target(&self, key: u32) -> Option<super::Redirect> {
        each!(self, m => m.redirect_target(key))
    }
}
