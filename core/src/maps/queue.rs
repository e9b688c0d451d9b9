//! `BPF_MAP_TYPE_QUEUE` and `BPF_MAP_TYPE_STACK`: bounded FIFO and LIFO of `V`-byte values.
//!
//! Values are copied in and out (programs never point into them), so the ring lives entirely
//! behind one lock as plain bytes.

use core::ptr::NonNull;

use super::layout::{check_storage, mul, sum, Carve, LayoutError, MapSizing, Shape};
use super::word::{copy_in, copy_out, value_words, Word};
use super::{Map, MapDef, MapError, MapType, BPF_EXIST};

/// A bounded queue or stack over borrowed storage, sized at run time: a lock word (whose
/// payload is the index of the oldest element), a length word, then `n` items of `vw` words.
///
/// As in Linux, pushing to a full one fails with [`MapError::TooBig`] unless the flag is
/// [`BPF_EXIST`], which first drops the oldest element.
#[derive(Debug)]
pub struct QueueView<'a> {
    lock: &'a Word,
    len: &'a Word,
    items: &'a [Word],
    value_size: u32,
    vw: usize,
    n: u32,
    lifo: bool,
    flags: u32,
}

impl<'a> QueueView<'a> {
    pub(crate) fn words(s: &Shape) -> Result<usize, LayoutError> {
        sum(&[2, mul(s.n, s.vw)?])
    }

    /// A view of `def` (a queue or stack) over `words`, which must be exactly
    /// [`words_needed`](super::words_needed) long.
    ///
    /// # Errors
    ///
    /// A definition the type does not accept, or storage of the wrong length.
    pub fn new(def: &MapDef, sizing: &MapSizing, words: &'a [Word]) -> Result<Self, LayoutError> {
        let s = check_storage(def, sizing, words)?;
        let mut c = Carve::new(words);
        let (lock, len) = (c.one()?, c.one()?);
        let items = c.take(mul(s.n, s.vw)?)?;
        let lifo = match def.map_type {
            MapType::Queue => false,
            MapType::Stack => true,
            t => return Err(LayoutError::UnsupportedType(t)),
        };
        Ok(Self::from_parts(
            lock, len, items, s.v, s.n, lifo, def.flags,
        ))
    }

    #[inline]
    pub(crate) const fn from_parts(
        lock: &'a Word,
        len: &'a Word,
        items: &'a [Word],
        v: usize,
        n: usize,
        lifo: bool,
        flags: u32,
    ) -> Self {
        QueueView {
            lock,
            len,
            items,
            value_size: v as u32,
            vw: value_words(v),
            n: n as u32,
            lifo,
            flags,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        let _guard = self.lock.lock();
        self.len.half(0) as usize
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn item(&self, i: u32) -> Option<&'a [Word]> {
        let at = (i as usize).saturating_mul(self.vw);
        self.items.get(at..at.saturating_add(self.vw))
    }

    fn take(&self, out: &mut [u8], remove: bool) -> Result<(), MapError> {
        if out.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        let ring = self.lock.lock();
        let (head, len) = (ring.payload(), self.len.half(0));
        if len == 0 || head >= self.n || len > self.n {
            return Err(MapError::NotFound);
        }
        let i = if self.lifo {
            // `head < n` and `1 <= len <= n`, so `n > 0` and the sum cannot overflow.
            let last = (head as u64).saturating_add(len as u64).saturating_sub(1);
            last.checked_rem(self.n as u64).ok_or(MapError::NotFound)? as u32
        } else {
            head
        };
        copy_out(self.item(i).ok_or(MapError::NotFound)?, out);
        if remove {
            self.len.set_half(0, len.saturating_sub(1));
            if !self.lifo {
                ring.set_payload(head.saturating_add(1).checked_rem(self.n).unwrap_or(0));
            }
        }
        Ok(())
    }

    /// Whether every word is zero.
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        !self.lock.is_locked()
            && self.lock.is_zero()
            && self.len.is_zero()
            && self.items.iter().all(Word::is_zero)
    }
}

impl crate::maps::sealed::Sealed for QueueView<'_> {}

impl Map for QueueView<'_> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: if self.lifo {
                MapType::Stack
            } else {
                MapType::Queue
            },
            key_size: 0,
            value_size: self.value_size,
            max_entries: self.n,
            flags: self.flags,
        }
    }

    /// Queues have no keyed lookup: always `None`.
    fn lookup(&self, _key: &[u8]) -> Option<NonNull<u8>> {
        None
    }

    /// Refused, as in Linux: use [`Map::push`].
    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    /// Refused, as in Linux: use [`Map::pop`].
    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    /// Refused, as in Linux.
    fn next_key(&self, _key: Option<&[u8]>, _out: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags != 0 && flags != BPF_EXIST {
            return Err(MapError::Invalid);
        }
        if value.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        let ring = self.lock.lock();
        let (mut head, mut len) = (ring.payload(), self.len.half(0));
        if head >= self.n || len > self.n {
            return Err(MapError::Invalid);
        }
        if len == self.n {
            if flags != BPF_EXIST {
                return Err(MapError::TooBig);
            }
            head = head.saturating_add(1).checked_rem(self.n).unwrap_or(0);
            len = len.saturating_sub(1);
        }
        // `head < n` and `len < n`, so `n > 0` and the sum cannot overflow.
        let i = (head as u64)
            .saturating_add(len as u64)
            .checked_rem(self.n as u64)
            .ok_or(MapError::Invalid)? as u32;
        copy_in(self.item(i).ok_or(MapError::Invalid)?, value);
        ring.set_payload(head);
        self.len.set_half(0, len.saturating_add(1));
        Ok(())
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, true)
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, false)
    }
}

/// A bounded queue (`LIFO = false`) or stack (`LIFO = true`) of up to `N` values of `V` bytes
/// (`W = value_words(V)` words each; the default, 1, fits values of up to 8 bytes): the
/// storage of a [`QueueView`] sized at compile time.
/// Use the aliases [`QueueMap`] and [`StackMap`].
///
/// As in Linux, pushing to a full one fails with [`MapError::TooBig`] unless the flag is
/// [`BPF_EXIST`], which first drops the oldest element.
pub struct QueueStack<const V: usize, const N: usize, const LIFO: bool, const W: usize = 1> {
    lock: Word,
    len: Word,
    items: [[Word; W]; N],
}

/// A bounded FIFO queue, `BPF_MAP_TYPE_QUEUE`.
pub type QueueMap<const V: usize, const N: usize, const W: usize = 1> = QueueStack<V, N, false, W>;
/// A bounded LIFO stack, `BPF_MAP_TYPE_STACK`.
pub type StackMap<const V: usize, const N: usize, const W: usize = 1> = QueueStack<V, N, true, W>;

impl<const V: usize, const N: usize, const LIFO: bool, const W: usize> QueueStack<V, N, LIFO, W> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// An empty queue or stack.
    pub const fn new() -> Self {
        const {
            assert!(V > 0 && V <= u32::MAX as usize, "value size out of range");
            assert!(W == value_words(V), "W must be value_words(V)");
            assert!(N > 0 && N <= u32::MAX as usize, "capacity out of range");
        }
        QueueStack {
            lock: Word::new(),
            len: Word::new(),
            items: [const { [const { Word::new() }; W] }; N],
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> QueueView<'_> {
        QueueView::from_parts(
            &self.lock,
            &self.len,
            self.items.as_flattened(),
            V,
            N,
            LIFO,
            0,
        )
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
    }
}

impl<const V: usize, const N: usize, const LIFO: bool, const W: usize> Default
    for QueueStack<V, N, LIFO, W>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const V: usize, const N: usize, const LIFO: bool, const W: usize> core::fmt::Debug
    for QueueStack<V, N, LIFO, W>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct(if LIFO { "StackMap" } else { "QueueMap" })
            .field("value_size", &V)
            .field("max_entries", &N)
            .finish()
    }
}

super::forward_map!(single_cpu
    [const V: usize, const N: usize, const LIFO: bool, const W: usize]
    QueueStack<V, N, LIFO, W>
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use crate::maps::BPF_NOEXIST;
    use std::collections::VecDeque;

    fn arena(map_type: MapType, v: u32, n: u32) -> &'static QueueView<'static> {
        match crate::maps::testutil::arena_map(map_type, 0, v, n) {
            crate::maps::AnyMap::Queue(q) => q,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn linux_errors_wrapper() {
        linux_errors(
            &QueueMap::<2, 2>::new().view(),
            &StackMap::<2, 2>::new().view(),
        );
    }

    #[test]
    fn linux_errors_arena() {
        linux_errors(arena(MapType::Queue, 2, 2), arena(MapType::Stack, 2, 2));
    }

    fn linux_errors(q: &QueueView<'_>, s: &QueueView<'_>) {
        let mut out = [0; 2];
        assert_eq!(q.pop(&mut out), Err(MapError::NotFound));
        assert_eq!(q.peek(&mut out), Err(MapError::NotFound));
        q.push(&[1, 1], 0).unwrap();
        q.push(&[2, 2], 0).unwrap();
        assert_eq!(q.push(&[3, 3], 0), Err(MapError::TooBig));
        assert_eq!(q.push(&[3, 3], BPF_NOEXIST), Err(MapError::Invalid));
        assert_eq!(q.push(&[3, 3], 3), Err(MapError::Invalid));
        assert_eq!(q.push(&[3], 0), Err(MapError::Invalid));
        q.push(&[3, 3], BPF_EXIST).unwrap();
        q.pop(&mut out).unwrap();
        assert_eq!(out, [2, 2]);
        assert_eq!(q.update(&[], &[1, 1], 0), Err(MapError::Invalid));
        assert_eq!(q.delete(&[]), Err(MapError::Invalid));
        assert_eq!(q.def().map_type, MapType::Queue);

        s.push(&[1, 1], 0).unwrap();
        s.push(&[2, 2], 0).unwrap();
        s.push(&[3, 3], BPF_EXIST).unwrap();
        s.pop(&mut out).unwrap();
        assert_eq!(out, [3, 3]);
        s.pop(&mut out).unwrap();
        assert_eq!(out, [2, 2]);
        assert!(s.is_empty());
        assert_eq!(s.def().map_type, MapType::Stack);
    }

    const N: usize = 8;

    fn random_ops<const LIFO: bool>(m: &QueueView<'_>, seed: u64) {
        // Model: oldest at the front.
        let mut model: VecDeque<[u8; 3]> = VecDeque::new();
        let mut rng = XorShift(seed);
        for step in 0..4000 {
            let v: [u8; 3] = rng.bytes();
            let mut out = [0u8; 3];
            match rng.below(4) {
                0 | 1 => {
                    let flags = if rng.below(2) == 0 { 0 } else { BPF_EXIST };
                    let r = m.push(&v, flags);
                    if model.len() == N && flags == 0 {
                        assert_eq!(r, Err(MapError::TooBig), "step {step}");
                    } else {
                        assert_eq!(r, Ok(()), "step {step}");
                        if model.len() == N {
                            model.pop_front();
                        }
                        model.push_back(v);
                    }
                }
                2 => {
                    let want = if LIFO {
                        model.pop_back()
                    } else {
                        model.pop_front()
                    };
                    let got = m.pop(&mut out).ok().map(|_| out);
                    assert_eq!(got, want, "step {step}");
                }
                _ => {
                    let want = if LIFO { model.back() } else { model.front() };
                    let got = m.peek(&mut out).ok().map(|_| out);
                    assert_eq!(got.as_ref(), want, "step {step}");
                }
            }
            assert_eq!(m.len(), model.len());
        }
    }

    #[test]
    fn random_ops_match_model_wrapper() {
        random_ops::<false>(&QueueStack::<3, N, false>::new().view(), 11);
        random_ops::<true>(&QueueStack::<3, N, true>::new().view(), 12);
    }

    #[test]
    fn random_ops_match_model_arena() {
        random_ops::<false>(arena(MapType::Queue, 3, N as u32), 11);
        random_ops::<true>(arena(MapType::Stack, 3, N as u32), 12);
    }
}
