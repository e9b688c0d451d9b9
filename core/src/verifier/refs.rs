//! Acquired references: objects a helper handed out that the program must give back exactly
//! once on every path (Linux's `acquired_refs`). Today these are ring buffer records from
//! `bpf_ringbuf_reserve`, released by `bpf_ringbuf_submit` or `bpf_ringbuf_discard`.
//!
//! A reference is the `id` shared by every copy of the pointer to the object (in registers of
//! any frame and in spilled slots). Releasing it removes it from the set and makes every copy
//! uninitialised, so a second release or a use after release reads an uninitialised register.
//! A null check that finds the pointer null releases it too (nothing was reserved). At the
//! program's `exit` the set must be empty.

use super::state::{IdMap, Kind, State, Value};

/// The most references one state holds at once.
pub(crate) const MAX_REFS: usize = 4;

/// One live reference: its id and the instruction that acquired it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Ref {
    pub id: u32,
    pub pc: u32,
}

/// The live references of a state, in acquisition order. All zeros when empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Refs {
    list: [Ref; MAX_REFS],
    len: u8,
}

impl Refs {
    pub const EMPTY: Refs = Refs {
        list: [Ref { id: 0, pc: 0 }; MAX_REFS],
        len: 0,
    };

    /// The live references.
    pub fn as_slice(&self) -> &[Ref] {
        self.list.get(..self.len as usize).unwrap_or_default()
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: u32) -> bool {
        self.as_slice().iter().any(|r| r.id == id)
    }

    /// Adds `id` acquired at `pc`; `false` when the set is full.
    pub fn acquire(&mut self, id: u32, pc: usize) -> bool {
        let Some(slot) = self.list.get_mut(self.len as usize) else {
            return false;
        };
        *slot = Ref { id, pc: pc as u32 };
        self.len = self.len.saturating_add(1);
        true
    }

    /// Removes `id`, keeping the order of the others; `false` when it was not live.
    pub fn remove(&mut self, id: u32) -> bool {
        let n = self.len as usize;
        let Some(i) = self.as_slice().iter().position(|r| r.id == id) else {
            return false;
        };
        // `i < n <= capacity`: the range is in bounds and `n >= 1`.
        self.list.copy_within(i.saturating_add(1)..n, i);
        if let Some(last) = n.checked_sub(1).and_then(|l| self.list.get_mut(l)) {
            *last = Ref::default();
        }
        self.len = self.len.saturating_sub(1);
        true
    }

    /// Whether `new` holds the same references as `self`, matched one to one through `ids`
    /// (already filled by the registers and spills): a state with fewer, or with more, live
    /// references is not included, since its exits would release differently.
    pub fn includes(&self, new: &Refs, ids: &mut IdMap) -> bool {
        if self.len != new.len {
            return false;
        }
        // Both sets have the same size and `ids` is one to one, so if every old reference
        // finds a distinct partner the sets correspond.
        self.as_slice()
            .iter()
            .all(|o| new.as_slice().iter().any(|n| ids.check(o.id, n.id)))
    }

    /// Appends the encoding: the count, then each id and pc.
    pub fn encode(&self, mut put: impl FnMut(&[u8]) -> Option<()>) -> Option<()> {
        put(&[self.len])?;
        for r in self.as_slice() {
            put(&r.id.to_le_bytes())?;
            put(&r.pc.to_le_bytes())?;
        }
        Some(())
    }
}

/// Whether `v` is a copy of the pointer of reference `id`.
fn is_copy(v: &Value, id: u32) -> bool {
    v.id == id && matches!(v.kind, Kind::RingbufMem | Kind::RingbufMemOrNull)
}

impl State {
    /// Releases reference `id`: every copy of its pointer is invalidated (see
    /// [`State::invalidate`]). `false` when it was not live.
    pub fn release_ref(&mut self, id: u32, keep_spills: bool) -> bool {
        if !self.refs.remove(id) {
            return false;
        }
        self.invalidate(keep_spills, |v| is_copy(v, id));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::state::NO_SPILL;

    #[test]
    fn acquire_remove_and_inclusion() {
        let mut a = Refs::EMPTY;
        assert!(a.as_slice().is_empty());
        for id in 1..=MAX_REFS as u32 {
            assert!(a.acquire(id, id as usize * 10));
        }
        assert!(!a.acquire(99, 0), "full");
        assert!(a.remove(2));
        assert!(!a.remove(2));
        assert_eq!(
            a.as_slice()
                .iter()
                .map(|r| r.id)
                .collect::<std::vec::Vec<_>>(),
            [1, 3, 4]
        );
        assert_eq!(a.as_slice()[1].pc, 30);
        // Same count, renamed one to one: included; one fewer: not.
        let mut b = Refs::EMPTY;
        for id in [13, 11, 14] {
            b.acquire(id, 0);
        }
        let mut ids = IdMap::new();
        assert!(ids.check(1, 11) && ids.check(3, 13));
        assert!(a.includes(&b, &mut ids));
        b.remove(14);
        assert!(!a.includes(&b, &mut IdMap::new()));
        assert!(!b.includes(&a, &mut IdMap::new()));
        // An id already matched elsewhere cannot be matched again.
        let mut c = Refs::EMPTY;
        c.acquire(5, 0);
        let mut d = Refs::EMPTY;
        d.acquire(6, 0);
        let mut ids = IdMap::new();
        assert!(ids.check(7, 6));
        assert!(!c.includes(&d, &mut ids));
    }

    #[test]
    fn release_invalidates_every_copy() {
        let mut st = State::EMPTY;
        assert!(st.refs.acquire(7, 3));
        let mut p = Value::ptr(Kind::RingbufMem, 0);
        p.id = 7;
        st.frames[0].regs[6] = p;
        let h = st.alloc_spill(p).unwrap();
        st.frames[0].slots[63].init = 0xff;
        st.frames[0].slots[63].spill = h;
        let mut other = p;
        other.id = 8;
        st.frames[0].regs[7] = other;
        assert!(st.release_ref(7, false));
        assert_eq!(st.frames[0].regs[6], Value::UNINIT);
        // The spilled copy is plain initialised bytes now, its spill entry free.
        assert_eq!(st.frames[0].slots[63].spill, NO_SPILL);
        assert_eq!(st.frames[0].slots[63].init, 0xff);
        assert_eq!(st.spill_used, 0);
        assert_eq!(st.frames[0].regs[7], other);
        assert!(!st.release_ref(7, false), "twice");
    }
}
