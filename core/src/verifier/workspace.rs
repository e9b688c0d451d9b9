//! The verifier's memory: per-instruction facts, the function table, the current state, the
//! pending-branch stack and the explored-state cache, all in one caller-owned value.
//!
//! Branch and cache states are stored in a compact byte encoding (only live registers and
//! used stack slots; constants in 8 bytes, tnum-only scalars in 16, general scalars in 64),
//! so their capacity is counted in chunks: `STATES` chunks of 128 bytes (and at most `STATES`
//! states) of cache, and `BRANCHES` chunks of 64 bytes (and at most `BRANCHES` pending
//! branches) of branch stack. With dead registers forgotten, a typical state of a packet
//! program takes 60 to 250 bytes.

use super::scalar::Scalar;
use super::state::{Frame, Kind, Slot, State, Value, NO_SPILL, SLOTS, ZERO_SPILL};
use super::tnum::Tnum;

/// Bytes per chunk of explored-state cache.
pub(crate) const CHUNK: usize = 128;
/// Bytes per chunk of pending-branch storage (one chunk per branch entry).
pub(crate) const BRANCH_CHUNK: usize = 64;
/// The most local functions (subprograms) a program may have.
pub(crate) const MAX_FUNCS: usize = 128;

/// A local function: where it starts and how much stack it uses.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Func {
    pub start: u32,
    /// Deepest stack byte used, in bytes below r10.
    pub depth: u16,
}

/// An explored state in the cache.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CacheEntry {
    pub pc: u32,
    pub start: u32,
    pub len: u32,
    /// Branch-stack length when the state was recorded: its exploration is complete once the
    /// stack is popped below it.
    pub marker: u32,
    pub done: bool,
}

/// A pending branch: where its encoded state starts and where it resumes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BranchEntry {
    pub pc: u32,
    pub start: u32,
}

/// Caller-owned memory for [`verify`](super::verify), sized by const generics:
/// `INSNS` instruction slots, `STATES` 256-byte chunks of explored-state cache, and
/// `BRANCHES` 256-byte chunks (and at most `BRANCHES` entries) of pending branches.
///
/// `const fn new()` lets it live in a `static`. It is large (see
/// [`DefaultWorkspace`](super::DefaultWorkspace)); keep it in a `static` or a `Box`, never
/// on a small stack.
#[derive(Debug)]
pub struct VerifierWorkspace<const INSNS: usize, const STATES: usize, const BRANCHES: usize> {
    aux: [u32; INSNS],
    funcs: [Func; MAX_FUNCS],
    cur: State,
    tmp: State,
    cache: [CacheEntry; STATES],
    cache_bytes: [[u8; CHUNK]; STATES],
    branches: [BranchEntry; BRANCHES],
    branch_bytes: [[u8; BRANCH_CHUNK]; BRANCHES],
}

impl<const INSNS: usize, const STATES: usize, const BRANCHES: usize>
    VerifierWorkspace<INSNS, STATES, BRANCHES>
{
    /// The size of this workspace in bytes.
    pub const SIZE_BYTES: usize = core::mem::size_of::<Self>();

    /// An empty workspace, usable in a `static`. Its bytes are all zeros, so such a static
    /// goes to `.bss` and costs no flash.
    pub const fn new() -> Self {
        VerifierWorkspace {
            aux: [0; INSNS],
            funcs: [Func { start: 0, depth: 0 }; MAX_FUNCS],
            cur: State::UNSET,
            tmp: State::UNSET,
            cache: [CacheEntry {
                pc: 0,
                start: 0,
                len: 0,
                marker: 0,
                done: false,
            }; STATES],
            cache_bytes: [[0; CHUNK]; STATES],
            branches: [BranchEntry { pc: 0, start: 0 }; BRANCHES],
            branch_bytes: [[0; BRANCH_CHUNK]; BRANCHES],
        }
    }

    /// Whether every byte of every field is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.aux.iter().all(|&a| a == 0)
            && self.funcs.iter().all(|f| f.start == 0 && f.depth == 0)
            && self.cur.is_zeroed()
            && self.tmp.is_zeroed()
            && self
                .cache
                .iter()
                .all(|e| (e.pc, e.start, e.len, e.marker, e.done) == (0, 0, 0, 0, false))
            && self.cache_bytes.as_flattened().iter().all(|&b| b == 0)
            && self.branches.iter().all(|e| (e.pc, e.start) == (0, 0))
            && self.branch_bytes.as_flattened().iter().all(|&b| b == 0)
    }

    /// The largest program this workspace verifies, in slots.
    pub const fn max_insns(&self) -> usize {
        INSNS
    }

    pub(crate) fn view(&mut self) -> View<'_> {
        View {
            aux: &mut self.aux,
            funcs: &mut self.funcs,
            cur: &mut self.cur,
            tmp: &mut self.tmp,
            cache: Cache {
                entries: &mut self.cache,
                bytes: self.cache_bytes.as_flattened_mut(),
                count: 0,
                used: 0,
                peak_count: 0,
                peak_used: 0,
            },
            branches: Branches {
                entries: &mut self.branches,
                bytes: self.branch_bytes.as_flattened_mut(),
                len: 0,
                top: 0,
                peak_len: 0,
                peak_top: 0,
            },
        }
    }
}

impl<const INSNS: usize, const STATES: usize, const BRANCHES: usize> Default
    for VerifierWorkspace<INSNS, STATES, BRANCHES>
{
    fn default() -> Self {
        Self::new()
    }
}

/// The workspace seen through slices, so the verifier itself is not generic.
pub(crate) struct View<'w> {
    pub aux: &'w mut [u32],
    pub funcs: &'w mut [Func],
    pub cur: &'w mut State,
    pub tmp: &'w mut State,
    pub cache: Cache<'w>,
    pub branches: Branches<'w>,
}

/// The explored-state cache: encoded states packed in insertion order. When room is needed
/// the oldest state is forgotten, and a pc never keeps more than [`PER_PC`] states (so a
/// loop head does not push every other state out); forgetting only costs time.
pub(crate) struct Cache<'w> {
    entries: &'w mut [CacheEntry],
    bytes: &'w mut [u8],
    count: usize,
    used: usize,
    /// The most states and bytes held at once, for [`super::VerifyStats`].
    pub peak_count: usize,
    pub peak_used: usize,
}

/// The most states kept for one pc.
pub(crate) const PER_PC: usize = 4;

impl Cache<'_> {
    fn entry(&self, i: usize) -> Option<&CacheEntry> {
        self.entries.get(..self.count)?.get(i)
    }

    /// Forgets entry `i`, closing the gap it leaves.
    fn remove(&mut self, i: usize) {
        let Some(e) = self.entry(i).copied() else {
            return;
        };
        let (start, len) = (e.start as usize, e.len as usize);
        // A stored entry: `start + len <= used` and `i < count`.
        self.bytes
            .copy_within(start.saturating_add(len)..self.used, start);
        self.entries.copy_within(i.saturating_add(1)..self.count, i);
        self.count = self.count.saturating_sub(1);
        self.used = self.used.saturating_sub(len);
        for e in self.entries.iter_mut().take(self.count).skip(i) {
            e.start = e.start.saturating_sub(len as u32);
        }
    }

    /// The whole byte store, as scratch before the first state is recorded.
    pub fn scratch(&mut self) -> &mut [u8] {
        debug_assert_eq!(self.count, 0);
        self.bytes
    }

    /// Records `state` as explored at `pc`; silently skips it when it cannot be stored.
    pub fn insert(&mut self, pc: usize, marker: usize, state: &State) {
        let cap = self.bytes.len();
        if self.entries.is_empty() {
            return;
        }
        let mut scratch = [0u8; 1];
        let len = encoded_len(state, &mut scratch);
        if len > cap {
            return;
        }
        let same_pc: usize = self
            .entries
            .iter()
            .take(self.count)
            .filter(|e| e.pc as usize == pc)
            .count();
        if same_pc >= PER_PC {
            if let Some(i) = self
                .entries
                .iter()
                .take(self.count)
                .position(|e| e.pc as usize == pc)
            {
                self.remove(i);
            }
        }
        while self.count > 0
            && (self.count == self.entries.len() || self.used.saturating_add(len) > cap)
        {
            self.remove(0);
        }
        let Some(dst) = self.bytes.get_mut(self.used..self.used.saturating_add(len)) else {
            return;
        };
        if encode(state, dst) != Some(len) {
            return;
        }
        // The loop above left room: `count < entries.len()`.
        let Some(entry) = self.entries.get_mut(self.count) else {
            return;
        };
        *entry = CacheEntry {
            pc: pc as u32,
            start: self.used as u32,
            len: len as u32,
            marker: marker as u32,
            done: false,
        };
        self.count = self.count.saturating_add(1);
        self.used = self.used.saturating_add(len);
        self.peak_count = self.peak_count.max(self.count);
        self.peak_used = self.peak_used.max(self.used);
    }

    /// Marks complete every state recorded when the branch stack was longer than `len`.
    pub fn complete_above(&mut self, len: usize) {
        for e in self.entries.iter_mut().take(self.count) {
            if e.marker as usize > len {
                e.done = true;
            }
        }
    }

    /// Number of cached states.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count
    }

    /// The next cached entry at `pc` from position `from`: `(next position, done, bytes)`.
    pub fn find_raw(&self, pc: usize, from: usize) -> Option<(usize, bool, &[u8])> {
        let mut i = from;
        while let Some(e) = self.entry(i) {
            i = i.saturating_add(1);
            if e.pc as usize == pc {
                let bytes = self
                    .bytes
                    .get(e.start as usize..e.start.saturating_add(e.len) as usize)?;
                return Some((i, e.done, bytes));
            }
        }
        None
    }

    /// The next cached state at `pc` from position `from`, decoded into `out`:
    /// `(next position, done)`.
    #[cfg(test)]
    pub fn find(&self, pc: usize, from: usize, out: &mut State) -> Option<(usize, bool)> {
        let (next, done, bytes) = self.find_raw(pc, from)?;
        decode(bytes, out)?;
        Some((next, done))
    }
}

/// The pending-branch stack: encoded states in a byte stack.
pub(crate) struct Branches<'w> {
    entries: &'w mut [BranchEntry],
    bytes: &'w mut [u8],
    len: usize,
    top: usize,
    /// The most branches and bytes pending at once, for [`super::VerifyStats`].
    pub peak_len: usize,
    pub peak_top: usize,
}

impl Branches<'_> {
    /// Number of pending branches.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Pushes `state` to resume at `pc`, forgetting the current frame's registers outside
    /// `live`; `false` when the stack is full.
    pub fn push(&mut self, pc: usize, state: &State, live: u16, precise: u16, slots: u64) -> bool {
        if self.len >= self.entries.len() {
            return false;
        }
        let Some(buf) = self.bytes.get_mut(self.top..) else {
            return false;
        };
        let Some(n) = encode_live(state, buf, live, precise, slots) else {
            return false;
        };
        let Some(entry) = self.entries.get_mut(self.len) else {
            return false;
        };
        *entry = BranchEntry {
            pc: pc as u32,
            start: self.top as u32,
        };
        self.len = self.len.saturating_add(1);
        self.top = self.top.saturating_add(n);
        self.peak_len = self.peak_len.max(self.len);
        self.peak_top = self.peak_top.max(self.top);
        true
    }

    /// The unused part of the branch storage, as scratch space.
    pub fn scratch(&mut self) -> &mut [u8] {
        self.bytes.get_mut(self.top..).unwrap_or_default()
    }

    /// Pops the newest branch into `out`, returning its pc.
    pub fn pop(&mut self, out: &mut State) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        self.len = self.len.saturating_sub(1);
        let e = *self.entries.get(self.len)?;
        let bytes = self.bytes.get(e.start as usize..self.top)?;
        self.top = e.start as usize;
        decode(bytes, out)?;
        Some(e.pc as usize)
    }
}

// ---- encoding ---------------------------------------------------------------------------

struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
    /// Counting only (the buffer is a dummy).
    count_only: bool,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Option<()> {
        if !self.count_only {
            self.buf
                .get_mut(self.pos..self.pos.saturating_add(bytes.len()))?
                .copy_from_slice(bytes);
        }
        self.pos = self.pos.saturating_add(bytes.len());
        Some(())
    }
}

struct Reader<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.buf.get(self.pos..self.pos.saturating_add(N))?;
        self.pos = self.pos.saturating_add(N);
        b.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take()?))
    }
}

const TAG_CONST: u8 = 0;
const TAG_TNUM: u8 = 1;
const TAG_FULL: u8 = 2;

fn put_scalar(w: &mut Writer<'_>, s: &Scalar) -> Option<()> {
    if let Some(c) = s.as_const() {
        w.put(&[TAG_CONST])?;
        return w.put(&c.to_le_bytes());
    }
    if Scalar::from_tnum(s.var) == *s {
        w.put(&[TAG_TNUM])?;
        w.put(&s.var.value.to_le_bytes())?;
        return w.put(&s.var.mask.to_le_bytes());
    }
    // The tnum, then only the bounds that differ from what the tnum alone gives: a byte of
    // flags (bit `i` for field `i`), then each such bound.
    w.put(&[TAG_FULL])?;
    w.put(&s.var.value.to_le_bytes())?;
    w.put(&s.var.mask.to_le_bytes())?;
    let base = Scalar::from_tnum(s.var);
    let wide = [
        (s.umin, base.umin),
        (s.umax, base.umax),
        (s.smin as u64, base.smin as u64),
        (s.smax as u64, base.smax as u64),
    ];
    let narrow = [
        (s.u32min, base.u32min),
        (s.u32max, base.u32max),
        (s.s32min as u32, base.s32min as u32),
        (s.s32max as u32, base.s32max as u32),
    ];
    let mut flags = 0u8;
    for (i, (v, b)) in wide.iter().enumerate() {
        flags |= u8::from(v != b) << i;
    }
    for (i, (v, b)) in narrow.iter().enumerate() {
        flags |= u8::from(v != b) << i.saturating_add(4);
    }
    w.put(&[flags])?;
    for (i, (v, _)) in wide.iter().enumerate() {
        if flags & (1 << i) != 0 {
            w.put(&v.to_le_bytes())?;
        }
    }
    for (i, (v, _)) in narrow.iter().enumerate() {
        if flags & (1 << i.saturating_add(4)) != 0 {
            w.put(&v.to_le_bytes())?;
        }
    }
    Some(())
}

fn get_scalar(r: &mut Reader<'_>) -> Option<Scalar> {
    match r.u8()? {
        TAG_CONST => Some(Scalar::constant(r.u64()?)),
        TAG_TNUM => {
            let value = r.u64()?;
            let mask = r.u64()?;
            Some(Scalar::from_tnum(Tnum { value, mask }))
        }
        TAG_FULL => {
            let value = r.u64()?;
            let mask = r.u64()?;
            let mut s = Scalar::from_tnum(Tnum { value, mask });
            let flags = r.u8()?;
            let mut wide = |i: u8, v: &mut u64| -> Option<()> {
                if flags & (1 << i) != 0 {
                    *v = r.u64()?;
                }
                Some(())
            };
            let (mut smin, mut smax) = (s.smin as u64, s.smax as u64);
            wide(0, &mut s.umin)?;
            wide(1, &mut s.umax)?;
            wide(2, &mut smin)?;
            wide(3, &mut smax)?;
            let (mut s32min, mut s32max) = (s.s32min as u32, s.s32max as u32);
            let mut narrow = |i: u8, v: &mut u32| -> Option<()> {
                if flags & (1 << i) != 0 {
                    *v = r.u32()?;
                }
                Some(())
            };
            narrow(4, &mut s.u32min)?;
            narrow(5, &mut s.u32max)?;
            narrow(6, &mut s32min)?;
            narrow(7, &mut s32max)?;
            s.smin = smin as i64;
            s.smax = smax as i64;
            s.s32min = s32min as i32;
            s.s32max = s32max as i32;
            Some(s)
        }
        _ => None,
    }
}

/// Set in a scalar's kind byte when the scalar is linked: its id and delta follow.
const LINKED: u8 = 0x80;

fn put_value(w: &mut Writer<'_>, v: &Value) -> Option<()> {
    match v.kind {
        Kind::Uninit => w.put(&[v.kind as u8]),
        Kind::Scalar if v.id == 0 => {
            w.put(&[v.kind as u8])?;
            put_scalar(w, &v.s)
        }
        Kind::Scalar => {
            w.put(&[v.kind as u8 | LINKED])?;
            w.put(&v.id.to_le_bytes())?;
            w.put(&v.off.to_le_bytes())?;
            put_scalar(w, &v.s)
        }
        _ => {
            w.put(&[v.kind as u8])?;
            w.put(&[v.aux])?;
            w.put(&v.range.to_le_bytes())?;
            w.put(&v.id.to_le_bytes())?;
            w.put(&v.off.to_le_bytes())?;
            put_scalar(w, &v.s)
        }
    }
}

fn get_value(r: &mut Reader<'_>) -> Option<Value> {
    let tag = r.u8()?;
    if tag == Kind::Scalar as u8 | LINKED {
        let id = r.u32()?;
        let off = r.u32()? as i32;
        let s = get_scalar(r)?;
        return Some(Value {
            id,
            off,
            ..Value::scalar(s)
        });
    }
    let kind = Kind::from_u8(tag)?;
    Some(match kind {
        Kind::Uninit => Value::UNINIT,
        Kind::Scalar => Value::scalar(get_scalar(r)?),
        _ => Value {
            kind,
            aux: r.u8()?,
            range: r.u16()?,
            id: r.u32()?,
            off: r.u32()? as i32,
            s: get_scalar(r)?,
        },
    })
}

/// Encodes `st`; registers of the current frame outside `top_live` (bit `i` for `ri`) are
/// written as uninitialised, and so are its stack slots outside `top_slots` (bit `k` for
/// slot `k`).
fn put_state(
    w: &mut Writer<'_>,
    st: &State,
    top_live: u16,
    top_precise: u16,
    top_slots: u64,
) -> Option<()> {
    w.put(&[st.depth])?;
    st.refs.encode(|b| w.put(b))?;
    let top = (st.depth as usize).saturating_sub(1);
    for (fi, f) in st.frames.iter().take(st.depth as usize).enumerate() {
        w.put(&f.callsite.to_le_bytes())?;
        let mut live = 0u16;
        for (i, r) in f.regs.iter().enumerate() {
            let wanted = fi != top || i == 10 || top_live & (1 << i) != 0;
            if r.kind != Kind::Uninit && wanted {
                live |= 1 << i;
            }
        }
        w.put(&live.to_le_bytes())?;
        for (i, r) in f.regs.iter().enumerate() {
            if live & (1 << i) == 0 {
                continue;
            }
            // A number whose value cannot matter is stored as any number.
            let widened = fi == top && i < 10 && top_precise & (1 << i) == 0;
            if widened && r.kind == Kind::Scalar {
                put_value(w, &Value::UNKNOWN)?;
            } else {
                put_value(w, r)?;
            }
        }
        // Used slots only: their count, then index, initialised bytes and spill flag each (0
        // none, 1 a spilled value follows, 2 the spilled number 0).
        let kept = if fi == top { top_slots } else { u64::MAX };
        let wanted =
            |k: usize, s: &Slot| (s.init != 0 || s.spill != NO_SPILL) && kept & (1 << k) != 0;
        let used = f
            .slots
            .iter()
            .enumerate()
            .filter(|(k, s)| wanted(*k, s))
            .count();
        w.put(&[used as u8])?;
        for (k, s) in f.slots.iter().enumerate() {
            if !wanted(k, s) {
                continue;
            }
            match st.spilled(s) {
                _ if s.spill == ZERO_SPILL => w.put(&[k as u8, s.init, 2])?,
                Some(v) => {
                    w.put(&[k as u8, s.init, 1])?;
                    put_value(w, v)?;
                }
                None => w.put(&[k as u8, s.init, 0])?,
            }
        }
    }
    Some(())
}

/// The encoded size of a state.
pub(crate) fn encoded_len(st: &State, dummy: &mut [u8]) -> usize {
    let mut w = Writer {
        buf: dummy,
        pos: 0,
        count_only: true,
    };
    let _ = put_state(&mut w, st, u16::MAX, u16::MAX, u64::MAX);
    w.pos
}

/// Encodes `st` into `buf`, returning the length used.
pub(crate) fn encode(st: &State, buf: &mut [u8]) -> Option<usize> {
    encode_live(st, buf, u16::MAX, u16::MAX, u64::MAX)
}

/// As [`encode`], forgetting the current frame's registers outside `top_live` and its stack
/// slots outside `top_slots`.
pub(crate) fn encode_live(
    st: &State,
    buf: &mut [u8],
    top_live: u16,
    top_precise: u16,
    top_slots: u64,
) -> Option<usize> {
    let mut w = Writer {
        buf,
        pos: 0,
        count_only: false,
    };
    put_state(&mut w, st, top_live, top_precise, top_slots)?;
    Some(w.pos)
}

/// Decodes a state encoded by [`encode`] into `out`.
pub(crate) fn decode(buf: &[u8], out: &mut State) -> Option<()> {
    let mut r = Reader { buf, pos: 0 };
    let depth = r.u8()?;
    if depth == 0 || depth as usize > out.frames.len() {
        return None;
    }
    out.depth = depth;
    out.spill_used = 0;
    out.refs = super::refs::Refs::EMPTY;
    for _ in 0..r.u8()? {
        let (id, pc) = (r.u32()?, r.u32()?);
        if !out.refs.acquire(id, pc as usize) {
            return None;
        }
    }
    for fi in 0..depth as usize {
        let mut f = Frame::EMPTY;
        f.callsite = r.u32()?;
        let live = r.u16()?;
        for (i, reg) in f.regs.iter_mut().enumerate() {
            if live & (1 << i) != 0 {
                *reg = get_value(&mut r)?;
            }
        }
        let used = r.u8()? as usize;
        for _ in 0..used {
            let k = r.u8()? as usize;
            if k >= SLOTS {
                return None;
            }
            let init = r.u8()?;
            let spill = match r.u8()? {
                0 => NO_SPILL,
                2 => ZERO_SPILL,
                _ => {
                    let v = get_value(&mut r)?;
                    out.alloc_spill(v)?
                }
            };
            *f.slots.get_mut(k)? = Slot { init, spill };
        }
        *out.frames.get_mut(fi)? = f;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;

    #[test]
    fn encoding_round_trips() {
        let mut st = Box::new(State::EMPTY);
        st.frames[0].regs[1] = Value::ptr(Kind::Ctx, 0);
        st.frames[0].regs[2] = Value::constant(42);
        st.frames[0].regs[3] = Value::scalar(Scalar::unknown_bits(8));
        st.frames[0].regs[4] = Value::scalar(Scalar::from_ranges(3, 9, 3, 9).unwrap());
        let mut p = Value::ptr(Kind::Packet, 0);
        p.range = 14;
        p.id = 3;
        p.off = -2;
        st.frames[0].regs[5] = p;
        st.frames[0].slots[63].init = 0xff;
        st.frames[0].slots[63].spill = st.alloc_spill(p).unwrap();
        st.frames[0].slots[60].init = 0x0f;
        let linked = Value {
            id: super::super::state::LINK_ID_BASE + 1,
            off: -22,
            ..Value::scalar(Scalar::unknown_bits(16))
        };
        st.frames[0].regs[6] = linked;
        st.frames[0].slots[62].init = 0xff;
        st.frames[0].slots[62].spill = st.alloc_spill(linked).unwrap();
        st.depth = 2;
        assert!(st.refs.acquire(5, 17) && st.refs.acquire(9, 40));
        st.frames[1] = Frame::EMPTY;
        st.frames[1].callsite = 7;
        st.frames[1].regs[10] = Value::ptr(Kind::Stack, 1);
        let mut buf = [0u8; 2048];
        let n = encode(&st, &mut buf).unwrap();
        assert_eq!(n, encoded_len(&st, &mut [0u8; 1]));
        let mut back = Box::new(State::EMPTY);
        decode(&buf[..n], &mut back).unwrap();
        assert!(back.same_as(&st));
        assert!(st.same_as(&back));
        assert!(encode(&st, &mut buf[..n - 1]).is_none());
    }

    #[test]
    fn scalars_round_trip_with_only_the_bounds_their_tnum_does_not_give() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut partial = 0;
        for i in 0..4000 {
            let (a, b) = (next() >> (next() % 64), next() >> (next() % 64));
            let (lo, hi) = (a.min(b), a.max(b));
            let s = match i % 3 {
                0 => Scalar::from_ranges(lo, hi, i64::MIN, i64::MAX),
                1 => Scalar::from_ranges(
                    0,
                    u64::MAX,
                    lo as i64 >> 3,
                    (hi as i64 >> 3).max(lo as i64 >> 3),
                ),
                _ => Some(Scalar::from_tnum(Tnum {
                    value: a & !b,
                    mask: b,
                })),
            };
            let Some(s) = s else { continue };
            let mut buf = [0u8; 128];
            let mut w = Writer {
                buf: &mut buf,
                pos: 0,
                count_only: false,
            };
            put_scalar(&mut w, &s).unwrap();
            let n = w.pos;
            if buf[0] == TAG_FULL {
                partial += 1;
                // Tag, tnum, flags, and one word per bound that differs.
                let flags = buf[17];
                let words = 8 * (flags & 0xf).count_ones() + 4 * (flags >> 4).count_ones();
                assert_eq!(n, 18 + words as usize, "{s:?}");
                assert!(flags != 0, "{s:?}");
            }
            let mut r = Reader {
                buf: &buf[..n],
                pos: 0,
            };
            assert_eq!(get_scalar(&mut r), Some(s));
            assert_eq!(r.pos, n);
        }
        assert!(partial > 1000, "{partial}");
    }

    #[test]
    fn pending_states_drop_the_dead_slots_of_the_running_frame_only() {
        let mut st = Box::new(State::EMPTY);
        st.depth = 2;
        st.frames[1] = Frame::EMPTY;
        for f in 0..2 {
            for k in [60, 62, 63] {
                st.frames[f].slots[k].init = 0xff;
                st.frames[f].slots[k].spill = st.alloc_spill(Value::constant(k as u64)).unwrap();
            }
        }
        // A spilled 0 takes no entry, encoded or decoded.
        st.frames[1].slots[10] = Slot {
            init: 0xff,
            spill: ZERO_SPILL,
        };
        let mut buf = [0u8; 2048];
        let n = encode_live(&st, &mut buf, u16::MAX, u16::MAX, !(1 << 62)).unwrap();
        let mut back = Box::new(State::EMPTY);
        decode(&buf[..n], &mut back).unwrap();
        assert_eq!(back.frames[1].slots[62], Slot::EMPTY);
        for k in [60, 63] {
            let v = back.spilled(&back.frames[1].slots[k]).copied();
            assert_eq!(v.map(|v| v.s), Some(Scalar::constant(k as u64)));
        }
        // The caller's frame keeps all of its slots.
        for k in [60, 62, 63] {
            let v = back.spilled(&back.frames[0].slots[k]).copied();
            assert_eq!(v.map(|v| v.s), Some(Scalar::constant(k as u64)));
        }
        assert_eq!(back.spill_used.count_ones(), 5);
        assert_eq!(back.frames[1].slots[10].spill, ZERO_SPILL);
        let zero = back.spilled(&back.frames[1].slots[10]).copied();
        assert_eq!(zero.map(|v| v.s), Some(Scalar::constant(0)));
    }

    #[test]
    fn a_new_workspace_is_all_zeros() {
        const WS: VerifierWorkspace<16, 2, 2> = VerifierWorkspace::new();
        assert!(WS.is_zeroed());
        let ws = Box::new(super::super::DefaultWorkspace::new());
        assert!(ws.is_zeroed());
        // The check sees a non-zero field.
        let mut ws = Box::new(VerifierWorkspace::<16, 2, 2>::new());
        ws.cur.clear();
        assert!(!ws.is_zeroed());
    }

    #[test]
    fn cache_forgets_oldest_and_branches_are_lifo() {
        let mut ws = Box::new(VerifierWorkspace::<16, 2, 2>::new());
        let mut v = ws.view();
        let mut st = Box::new(State::EMPTY);
        let mut out = Box::new(State::EMPTY);
        for pc in 0..40 {
            st.frames[0].regs[0] = Value::constant(pc as u64);
            v.cache.insert(pc, 0, &st);
        }
        assert!(v.cache.len() <= 2 && v.cache.len() >= 1);
        assert!(v.cache.find(39, 0, &mut out).is_some());
        assert_eq!(out.frames[0].regs[0], Value::constant(39));
        assert!(v.cache.find(0, 0, &mut out).is_none());
        st.frames[0].regs[0] = Value::constant(1);
        assert!(v.branches.push(11, &st, u16::MAX, u16::MAX, u64::MAX));
        st.frames[0].regs[0] = Value::constant(2);
        assert!(v.branches.push(12, &st, u16::MAX, u16::MAX, u64::MAX));
        assert!(!v.branches.push(13, &st, u16::MAX, u16::MAX, u64::MAX));
        assert_eq!(v.branches.pop(&mut out), Some(12));
        assert_eq!(out.frames[0].regs[0], Value::constant(2));
        assert_eq!(v.branches.pop(&mut out), Some(11));
        assert_eq!(v.branches.pop(&mut out), None);
    }
}
