//! `BPF_MAP_TYPE_QUEUE` and `BPF_MAP_TYPE_STACK`: bounded FIFO and LIFO of `V`-byte values.
//!
//! Values are copied in and out (programs never point into them), so the ring lives entirely
//! behind one lock as plain bytes.

use core::ptr::NonNull;

use spin::Mutex;

use super::{Map, MapDef, MapError, MapType, BPF_EXIST};

#[derive(Debug)]
struct Ring<const V: usize, const N: usize> {
    items: [[u8; V]; N],
    /// Index of the oldest element.
    head: usize,
    len: usize,
}

impl<const V: usize, const N: usize> Ring<V, N> {
    /// Index of the element a pop takes.
    fn next_index(&self, lifo: bool) -> usize {
        if lifo {
            (self.head + self.len - 1) % N
        } else {
            self.head
        }
    }
}

/// A bounded queue (`LIFO = false`) or stack (`LIFO = true`) of up to `N` values of `V` bytes.
/// Use the aliases [`QueueMap`] and [`StackMap`].
///
/// As in Linux, pushing to a full one fails with [`MapError::TooBig`] unless the flag is
/// [`BPF_EXIST`], which first drops the oldest element.
pub struct QueueStack<const V: usize, const N: usize, const LIFO: bool> {
    ring: Mutex<Ring<V, N>>,
}

/// A bounded FIFO queue, `BPF_MAP_TYPE_QUEUE`.
pub type QueueMap<const V: usize, const N: usize> = QueueStack<V, N, false>;
/// A bounded LIFO stack, `BPF_MAP_TYPE_STACK`.
pub type StackMap<const V: usize, const N: usize> = QueueStack<V, N, true>;

impl<const V: usize, const N: usize, const LIFO: bool> QueueStack<V, N, LIFO> {
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// An empty queue or stack.
    pub const fn new() -> Self {
        const {
            assert!(V > 0 && V <= u32::MAX as usize, "value size out of range");
            assert!(N > 0 && N <= u32::MAX as usize, "capacity out of range");
        }
        QueueStack {
            ring: Mutex::new(Ring {
                items: [[0; V]; N],
                head: 0,
                len: 0,
            }),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.ring.lock().len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take(&self, out: &mut [u8], remove: bool) -> Result<(), MapError> {
        let out: &mut [u8; V] = out.try_into().map_err(|_| MapError::Invalid)?;
        let mut ring = self.ring.lock();
        if ring.len == 0 {
            return Err(MapError::NotFound);
        }
        let i = ring.next_index(LIFO);
        *out = *ring.items.get(i).ok_or(MapError::NotFound)?;
        if remove {
            ring.len -= 1;
            if !LIFO {
                ring.head = (ring.head + 1) % N;
            }
        }
        Ok(())
    }
}

impl<const V: usize, const N: usize, const LIFO: bool> QueueStack<V, N, LIFO> {
    /// Whether every byte is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        let unlocked = !self.ring.is_locked();
        let r = self.ring.lock();
        unlocked && r.head == 0 && r.len == 0 && r.items.as_flattened().iter().all(|&b| b == 0)
    }
}

impl<const V: usize, const N: usize, const LIFO: bool> Default for QueueStack<V, N, LIFO> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const V: usize, const N: usize, const LIFO: bool> core::fmt::Debug for QueueStack<V, N, LIFO> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct(if LIFO { "StackMap" } else { "QueueMap" })
            .field("value_size", &V)
            .field("max_entries", &N)
            .finish()
    }
}

impl<const V: usize, const N: usize, const LIFO: bool> Map for QueueStack<V, N, LIFO> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: if LIFO { MapType::Stack } else { MapType::Queue },
            key_size: 0,
            value_size: V as u32,
            max_entries: N as u32,
            flags: 0,
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
        let value: &[u8; V] = value.try_into().map_err(|_| MapError::Invalid)?;
        let mut ring = self.ring.lock();
        if ring.len == N {
            if flags != BPF_EXIST {
                return Err(MapError::TooBig);
            }
            ring.head = (ring.head + 1) % N;
            ring.len -= 1;
        }
        let i = (ring.head + ring.len) % N;
        *ring.items.get_mut(i).ok_or(MapError::Invalid)? = *value;
        ring.len += 1;
        Ok(())
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, true)
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use crate::maps::BPF_NOEXIST;
    use std::collections::VecDeque;

    #[test]
    fn linux_errors() {
        let q = QueueMap::<2, 2>::new();
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

        let s = StackMap::<2, 2>::new();
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

    fn random_ops<const LIFO: bool>(seed: u64) {
        const N: usize = 8;
        let m = QueueStack::<3, N, LIFO>::new();
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
    fn random_ops_match_model() {
        random_ops::<false>(11);
        random_ops::<true>(12);
    }
}
