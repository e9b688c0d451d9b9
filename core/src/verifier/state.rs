//! The abstract state: registers and stack slots of every frame of the call chain, and the
//! inclusion test used to prune paths.

use super::refs::Refs;
use super::scalar::Scalar;
use crate::host::{MAX_CALL_FRAMES, STACK_FRAME_SIZE};

/// What a register (or a spilled stack slot) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum Kind {
    /// Never written (or invalidated): reading it is an error.
    Uninit = 0,
    /// A number; `Value::s` is its value.
    Scalar = 1,
    /// The context pointer (r1 at entry), plus `off` and `s`.
    Ctx = 2,
    /// A pointer into the stack of frame `aux`, at `off + s` from that frame's r10.
    Stack = 3,
    /// A pointer into the packet at `off + s` from its start; `range` bytes from `s` are proven
    /// readable, shared by every packet pointer with the same `id`.
    Packet = 4,
    /// One past the last packet byte.
    PacketEnd = 5,
    /// A pointer into the metadata area, proven against the packet start as `Packet` is
    /// against its end.
    PacketMeta = 6,
    /// A pointer into a value of map `aux`, at `off + s`.
    MapValue = 7,
    /// Like `MapValue`, or null; every copy shares `id`, so one null check refines all.
    MapValueOrNull = 8,
    /// The map `aux` itself (only for helper arguments).
    MapPtr = 9,
    /// A pointer into the memory buffer of a [`crate::ProgramType::Memory`] program.
    Mem = 10,
    /// A pointer into a reserved ring buffer record of `range` bytes, at `off + s`; `id` is
    /// the reference the program must release (see [`super::refs`]).
    RingbufMem = 11,
    /// Like `RingbufMem`, or null (the reservation failed).
    RingbufMemOrNull = 12,
}

impl Kind {
    /// Linux's name of the register type.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Uninit => "?",
            Kind::Scalar => "scalar",
            Kind::Ctx => "ctx",
            Kind::Stack => "fp",
            Kind::Packet => "pkt",
            Kind::PacketEnd => "pkt_end",
            Kind::PacketMeta => "pkt_meta",
            Kind::MapValue => "map_value",
            Kind::MapValueOrNull => "map_value_or_null",
            Kind::MapPtr => "map_ptr",
            Kind::Mem => "mem",
            Kind::RingbufMem => "ringbuf_mem",
            Kind::RingbufMemOrNull => "ringbuf_mem_or_null",
        }
    }

    pub const fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            0 => Kind::Uninit,
            1 => Kind::Scalar,
            2 => Kind::Ctx,
            3 => Kind::Stack,
            4 => Kind::Packet,
            5 => Kind::PacketEnd,
            6 => Kind::PacketMeta,
            7 => Kind::MapValue,
            8 => Kind::MapValueOrNull,
            9 => Kind::MapPtr,
            10 => Kind::Mem,
            11 => Kind::RingbufMem,
            12 => Kind::RingbufMemOrNull,
            _ => return None,
        })
    }

    /// Whether this is a pointer.
    #[inline]
    pub const fn is_ptr(self) -> bool {
        !matches!(self, Kind::Uninit | Kind::Scalar)
    }
}

/// The abstract value of a register. For a scalar, `s` is the number; for a pointer, the
/// address is `base + off + s` where `off` is a known constant and `s` the variable part.
///
/// A scalar with a non-zero `id` is *linked*: every scalar of the state with the same `id`
/// (registers of any frame and spilled copies) equals one common hidden number plus its own
/// `off`, modulo 2^64, so a comparison that refines one refines them all. A scalar without
/// `id` has `off` 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Value {
    pub kind: Kind,
    /// Map index (map kinds) or frame number (stack).
    pub aux: u8,
    /// Packet pointers: proven readable bytes.
    pub range: u16,
    /// Packet and nullable pointers: copies share it. Scalars: linked scalars share it.
    pub id: u32,
    /// Constant part of a pointer's offset; a linked scalar's delta from its group's number.
    pub off: i32,
    /// The number, or a pointer's variable offset.
    pub s: Scalar,
}

impl Value {
    pub const UNINIT: Value = Value {
        kind: Kind::Uninit,
        aux: 0,
        range: 0,
        id: 0,
        off: 0,
        s: Scalar::constant(0),
    };

    pub const fn scalar(s: Scalar) -> Value {
        Value {
            kind: Kind::Scalar,
            s,
            ..Value::UNINIT
        }
    }

    pub const fn constant(v: u64) -> Value {
        Value::scalar(Scalar::constant(v))
    }

    pub const UNKNOWN: Value = Value::scalar(Scalar::UNKNOWN);

    /// A pointer of `kind` at offset 0.
    pub const fn ptr(kind: Kind, aux: u8) -> Value {
        Value {
            kind,
            aux,
            ..Value::UNINIT
        }
    }

    /// Whether every byte of every field is zero ([`Value::UNINIT`] is).
    #[cfg(test)]
    pub fn is_zeroed(&self) -> bool {
        self.kind as u8 == 0
            && self.aux == 0
            && self.range == 0
            && self.id == 0
            && self.off == 0
            && self.s.var.value == 0
            && self.s.var.mask == 0
            && (self.s.umin, self.s.umax, self.s.smin, self.s.smax) == (0, 0, 0, 0)
            && (self.s.u32min, self.s.u32max, self.s.s32min, self.s.s32max) == (0, 0, 0, 0)
    }

    #[inline]
    pub fn is_scalar(&self) -> bool {
        self.kind == Kind::Scalar
    }

    /// A number known to be `data_end - (data + c)`: the room left in the packet after byte
    /// `c`, from a subtraction of packet pointers (see [`Value::packet_room`]).
    pub fn room_after(c: u16) -> Value {
        Value {
            aux: PACKET_ROOM,
            range: c,
            ..Value::UNKNOWN
        }
    }

    /// For a number made by [`Value::room_after`] (`data_end - (data + c)`), `c`: a lower
    /// bound on the number proves that many bytes past `c` are in the packet. Kept only
    /// within straight-line code: prune points forget it ([`State::forget_packet_room`]), so
    /// it is never part of a cached or queued state.
    #[inline]
    pub fn packet_room(&self) -> Option<u16> {
        (self.kind == Kind::Scalar && self.aux == PACKET_ROOM).then_some(self.range)
    }

    /// The pointer's offset is the known constant `off` (no variable part).
    #[inline]
    pub fn fixed_off(&self) -> Option<i64> {
        self.s
            .as_const()
            .map(|v| (self.off as i64).wrapping_add(v as i64))
    }

    /// Whether every concrete value of `new` is a value of `self`, for pruning. Ids are
    /// matched through `ids`, which must map old ids to new ones one to one.
    pub fn includes(&self, new: &Value, ids: &mut IdMap) -> bool {
        if self.kind == Kind::Uninit {
            return true;
        }
        if self.kind != new.kind {
            return false;
        }
        match self.kind {
            Kind::Uninit => true,
            // A link in the old state is a constraint its exploration may have used: the new
            // value must be linked the same way (same delta, ids matched one to one).
            Kind::Scalar => {
                self.s.includes(&new.s)
                    && (self.id == 0
                        || (new.id != 0 && self.off == new.off && ids.check(self.id, new.id)))
            }
            Kind::PacketEnd => true,
            Kind::MapPtr => self.aux == new.aux,
            Kind::Packet | Kind::PacketMeta => {
                self.off == new.off
                    && self.range <= new.range
                    && self.s.includes(&new.s)
                    && ids.check(self.id, new.id)
            }
            Kind::MapValueOrNull => {
                self.aux == new.aux
                    && self.off == new.off
                    && self.s.includes(&new.s)
                    && ids.check(self.id, new.id)
            }
            // The record's size is in `range`: a larger one allows more.
            Kind::RingbufMem | Kind::RingbufMemOrNull => {
                self.aux == new.aux
                    && self.off == new.off
                    && self.range <= new.range
                    && self.s.includes(&new.s)
                    && ids.check(self.id, new.id)
            }
            Kind::Ctx | Kind::Stack | Kind::MapValue | Kind::Mem => {
                self.aux == new.aux && self.off == new.off && self.s.includes(&new.s)
            }
        }
    }
}

/// [`Value::aux`] of a number that is the room left in the packet ([`Value::room_after`]).
const PACKET_ROOM: u8 = 1;

/// The first id [`State::canonical_links`] gives a group of linked scalars; ids handed out
/// during exploration stay below it, so the two never meet in one state.
pub(crate) const LINK_ID_BASE: u32 = 1 << 31;

/// The most groups of linked scalars [`State::canonical_links`] keeps; links beyond are
/// dropped (which only loses precision).
const LINK_GROUPS: usize = 32;

/// One group of linked scalars while [`State::canonical_links`] renames them.
#[derive(Clone, Copy)]
struct Group {
    id: u32,
    members: u8,
    /// The delta of the first member, and the smallest and largest deltas.
    first: i32,
    lo: i32,
    hi: i32,
}

/// A one-to-one correspondence of ids between an old and a new state.
pub(crate) struct IdMap {
    pairs: [(u32, u32); IdMap::CAP],
    len: usize,
}

impl IdMap {
    const CAP: usize = 64;

    pub const fn new() -> IdMap {
        IdMap {
            pairs: [(0, 0); IdMap::CAP],
            len: 0,
        }
    }

    /// Records `old -> new`; false when it contradicts an earlier pair (or the map is full,
    /// which only loses a pruning opportunity).
    pub fn check(&mut self, old: u32, new: u32) -> bool {
        for &(o, n) in self.pairs.iter().take(self.len) {
            if o == old || n == new {
                return o == old && n == new;
            }
        }
        let Some(pair) = self.pairs.get_mut(self.len) else {
            return false;
        };
        *pair = (old, new);
        self.len = self.len.saturating_add(1);
        true
    }
}

/// Number of 8-byte slots in a frame.
pub(crate) const SLOTS: usize = STACK_FRAME_SIZE / 8;
/// Marks a slot without a spilled register (0, so that an empty state is all zeros).
pub(crate) const NO_SPILL: u8 = 0;
/// Marks a slot that holds the spilled number 0 without taking an entry of
/// [`State::spills`]: clang zeroes structures on the stack with 8-byte stores of 0, and each
/// would otherwise take an entry (Linux's `STACK_ZERO`). It reads back exactly as a spilled
/// [`Value::constant`]`(0)` does.
pub(crate) const ZERO_SPILL: u8 = u8::MAX;
/// What a [`ZERO_SPILL`] slot holds.
static ZERO: Value = Value::constant(0);
/// Spilled registers a state can hold across all frames. A scalar spill beyond this is kept as
/// plain initialised bytes; a pointer spill beyond it is `TooComplex`.
pub(crate) const SPILLS: usize = 16;

/// One 8-byte stack slot: which bytes are initialised, and the spilled register if the slot
/// holds one (a full, aligned 8-byte store of a register).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Bit `i` set: byte `i` of the slot (from its lowest address) is initialised.
    pub init: u8,
    /// One more than the index into [`State::spills`], or [`NO_SPILL`].
    pub spill: u8,
}

impl Slot {
    pub const EMPTY: Slot = Slot {
        init: 0,
        spill: NO_SPILL,
    };
}

/// One function activation: its registers and its stack.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    pub regs: [Value; 11],
    /// Slot `k` covers bytes `-512 + 8k .. -512 + 8k + 8` from r10.
    pub slots: [Slot; SLOTS],
    /// The `call` instruction that made this frame (0 for the entry frame).
    pub callsite: u32,
}

impl Frame {
    pub const EMPTY: Frame = Frame {
        regs: [Value::UNINIT; 11],
        slots: [Slot::EMPTY; SLOTS],
        callsite: 0,
    };
}

/// The abstract state of a path: the call chain's frames and the spilled registers.
#[derive(Clone, Debug)]
pub(crate) struct State {
    pub frames: [Frame; MAX_CALL_FRAMES],
    /// Frames in use (1 to 8, or 0 in [`State::UNSET`]); the last is the current one.
    pub depth: u8,
    pub spills: [Value; SPILLS],
    /// Bit `i`: `spills[i]` is in use.
    pub spill_used: u32,
    /// References the path holds and must release before it exits.
    pub refs: Refs,
}

impl State {
    pub const EMPTY: State = State {
        frames: [Frame::EMPTY; MAX_CALL_FRAMES],
        depth: 1,
        spills: [Value::UNINIT; SPILLS],
        spill_used: 0,
        refs: Refs::EMPTY,
    };

    /// No frame at all: all zeros, for storage that a run [`clear`](State::clear)s or
    /// decodes into before use (a `static` of it costs no flash).
    pub const UNSET: State = State {
        depth: 0,
        ..State::EMPTY
    };

    /// Whether every byte of every field is zero (see [`State::UNSET`]).
    #[cfg(test)]
    pub fn is_zeroed(&self) -> bool {
        self.depth == 0
            && self.spill_used == 0
            && self.refs == Refs::EMPTY
            && self.spills.iter().all(Value::is_zeroed)
            && self.frames.iter().all(|f| {
                f.callsite == 0
                    && f.regs.iter().all(Value::is_zeroed)
                    && f.slots.iter().all(|s| s.init == 0 && s.spill == 0)
            })
    }

    /// Resets to one empty frame.
    pub fn clear(&mut self) {
        self.depth = 1;
        self.spill_used = 0;
        self.refs = Refs::EMPTY;
        self.frames[0] = Frame::EMPTY;
    }

    #[inline]
    pub fn cur(&self) -> usize {
        // `depth` is 1..=MAX_CALL_FRAMES: 1 at the start, raised by a call only below the
        // limit, lowered by a return only above 1.
        (self.depth as usize).saturating_sub(1)
    }

    #[inline]
    pub fn reg(&self, r: u8) -> &Value {
        // The last frame and r10 stand for indices past the end, as `cur() <= MAX_CALL_FRAMES
        // - 1` and `min(10)` make them.
        let [frames @ .., last] = &self.frames;
        let [regs @ .., r10] = &frames.get(self.cur()).unwrap_or(last).regs;
        regs.get(r as usize).unwrap_or(r10)
    }

    #[inline]
    pub fn reg_mut(&mut self, r: u8) -> &mut Value {
        let f = self.cur();
        let [frames @ .., last] = &mut self.frames;
        let [regs @ .., r10] = &mut frames.get_mut(f).unwrap_or(last).regs;
        regs.get_mut(r as usize).unwrap_or(r10)
    }

    /// Stores `v` in a free spill entry; returns the handle for [`Slot::spill`].
    pub fn alloc_spill(&mut self, v: Value) -> Option<u8> {
        let free = (!self.spill_used).trailing_zeros() as usize;
        let entry = self.spills.get_mut(free).filter(|_| free < SPILLS)?;
        *entry = v;
        self.spill_used |= 1 << free;
        Some((free as u8).saturating_add(1))
    }

    /// A handle for a slot that spills `v`: [`ZERO_SPILL`] for an unlinked 0, which takes no
    /// entry, otherwise a new entry as [`State::alloc_spill`] gives.
    pub fn spill_handle(&mut self, v: Value) -> Option<u8> {
        if v.kind == Kind::Scalar && v.id == 0 && v.s == Scalar::constant(0) {
            return Some(ZERO_SPILL);
        }
        self.alloc_spill(v)
    }

    /// Frees the spill entry of a handle from [`State::alloc_spill`].
    pub fn free_spill(&mut self, handle: u8) {
        if let Some(idx) = (handle as usize).checked_sub(1).filter(|&i| i < SPILLS) {
            self.spill_used &= !(1u32 << idx);
        }
    }

    /// Slot `k` of frame `frame`, if both exist.
    pub fn slot(&self, frame: usize, k: usize) -> Option<Slot> {
        self.frames.get(frame).and_then(|f| f.slots.get(k)).copied()
    }

    /// The spilled value of a slot, if it holds one.
    pub fn spilled(&self, slot: &Slot) -> Option<&Value> {
        if slot.spill == ZERO_SPILL {
            return Some(&ZERO);
        }
        self.spills.get((slot.spill as usize).checked_sub(1)?)
    }

    /// Applies `f` to every live register and spilled value of every frame.
    pub fn for_each_value(&mut self, mut f: impl FnMut(&mut Value)) {
        let depth = self.depth as usize;
        for frame in self.frames.iter_mut().take(depth) {
            for r in &mut frame.regs {
                f(r);
            }
        }
        for (i, v) in self.spills.iter_mut().enumerate() {
            if self.spill_used & (1 << i) != 0 {
                f(v);
            }
        }
    }

    /// Invalidates every value `stale` selects: a register becomes uninitialised (reading it
    /// is an error), and a spilled copy becomes plain initialised bytes, which read back as an
    /// unknown number at any width (they still hold the bits of an address, as privileged
    /// Linux's `mark_reg_invalid` makes them). With `keep_spills` (a fuzzing build that lifted
    /// [`super::rule::Rule::InvalidatedSpill`]) spilled copies stay spills of an
    /// uninitialised value, the hole that rule closes.
    pub fn invalidate(&mut self, keep_spills: bool, stale: impl Fn(&Value) -> bool) {
        let depth = self.depth as usize;
        for frame in self.frames.iter_mut().take(depth) {
            for r in &mut frame.regs {
                if stale(r) {
                    *r = Value::UNINIT;
                }
            }
            for slot in &mut frame.slots {
                let Some(i) = (slot.spill as usize).checked_sub(1) else {
                    continue;
                };
                let Some(v) = self.spills.get_mut(i).filter(|v| stale(v)) else {
                    continue;
                };
                if keep_spills {
                    *v = Value::UNINIT;
                } else {
                    self.spill_used &= !(1u32 << i);
                    slot.spill = NO_SPILL;
                }
            }
        }
    }

    /// Forgets which numbers are the room left in the packet ([`Value::packet_room`]).
    pub fn forget_packet_room(&mut self) {
        self.for_each_value(|v| {
            if v.packet_room().is_some() {
                v.aux = 0;
                v.range = 0;
            }
        });
    }

    /// Frees the entry of one spilled number, whose slot keeps its bytes as a plain number;
    /// `false` when no spilled number is left.
    pub fn evict_number_spill(&mut self) -> bool {
        let depth = self.depth as usize;
        for frame in self.frames.iter_mut().take(depth) {
            for slot in &mut frame.slots {
                let Some(i) = (slot.spill as usize).checked_sub(1) else {
                    continue;
                };
                if self.spills.get(i).is_some_and(|v| v.kind == Kind::Scalar) {
                    self.spill_used &= !(1u32 << i);
                    slot.spill = NO_SPILL;
                    return true;
                }
            }
        }
        false
    }

    /// Puts the links between scalars in a canonical form, so that states that differ only in
    /// how their links are numbered encode alike: scalars whose id no other value shares are
    /// unlinked, groups are renumbered from [`LINK_ID_BASE`] in order of first appearance
    /// (frames, registers, then spills), and each group's deltas are shifted so its first
    /// member's is 0 (when the shifted deltas fit). Renaming and shifting keep the
    /// concretisation; unlinking a lone scalar drops no constraint.
    pub fn canonical_links(&mut self) {
        let mut groups = [Group {
            id: 0,
            members: 0,
            first: 0,
            lo: 0,
            hi: 0,
        }; LINK_GROUPS];
        let mut n = 0;
        self.for_each_value(|v| {
            if v.kind != Kind::Scalar || v.id == 0 {
                return;
            }
            match groups.iter_mut().take(n).find(|g| g.id == v.id) {
                Some(g) => {
                    g.members = g.members.saturating_add(1);
                    g.lo = g.lo.min(v.off);
                    g.hi = g.hi.max(v.off);
                }
                None => {
                    if let Some(g) = groups.get_mut(n) {
                        *g = Group {
                            id: v.id,
                            members: 1,
                            first: v.off,
                            lo: v.off,
                            hi: v.off,
                        };
                        n = n.saturating_add(1);
                    }
                }
            }
        });
        let mut next = LINK_ID_BASE;
        let mut canon = [(0u32, 0i32); LINK_GROUPS];
        for (g, c) in groups.iter().take(n).zip(&mut canon) {
            if g.members > 1 {
                // Differences of two `i32`s: no overflow in `i64`.
                let fits = i32::try_from((g.lo as i64).wrapping_sub(g.first as i64)).is_ok()
                    && i32::try_from((g.hi as i64).wrapping_sub(g.first as i64)).is_ok();
                *c = (next, if fits { g.first } else { 0 });
                next = next.saturating_add(1);
            }
        }
        self.for_each_value(|v| {
            if v.kind != Kind::Scalar || v.id == 0 {
                return;
            }
            let found = groups.iter().take(n).position(|g| g.id == v.id);
            match found.and_then(|k| canon.get(k)).filter(|c| c.0 != 0) {
                Some(&(id, shift)) => {
                    v.id = id;
                    v.off = v.off.wrapping_sub(shift);
                }
                None => {
                    v.id = 0;
                    v.off = 0;
                }
            }
        });
    }

    /// Whether every concrete state of `new` is a concrete state of `self`.
    pub fn includes(&self, new: &State) -> bool {
        if self.depth != new.depth {
            return false;
        }
        let mut ids = IdMap::new();
        for (fo, fnew) in self
            .frames
            .iter()
            .take(self.depth as usize)
            .zip(new.frames.iter().take(new.depth as usize))
        {
            if fo.callsite != fnew.callsite {
                return false;
            }
            for (a, b) in fo.regs.iter().zip(&fnew.regs) {
                if !a.includes(b, &mut ids) {
                    return false;
                }
            }
            for (so, sn) in fo.slots.iter().zip(&fnew.slots) {
                if so.init & !sn.init != 0 {
                    return false;
                }
                match (self.spilled(so), new.spilled(sn)) {
                    (Some(a), Some(b)) => {
                        if !a.includes(b, &mut ids) {
                            return false;
                        }
                    }
                    // The old path read these bytes as a number; the new one would read the
                    // spilled pointer back.
                    (None, Some(b)) => {
                        if so.init != 0 && b.kind.is_ptr() {
                            return false;
                        }
                    }
                    // The old path may have read the spilled value back exactly.
                    (Some(a), None) => {
                        if a.kind != Kind::Uninit && so.init != 0 {
                            return false;
                        }
                    }
                    (None, None) => {}
                }
            }
        }
        self.refs.includes(&new.refs, &mut ids)
    }

    /// Whether the two states are the same abstract state.
    pub fn same_as(&self, new: &State) -> bool {
        if self.depth != new.depth || self.refs != new.refs {
            return false;
        }
        for (fo, fnew) in self
            .frames
            .iter()
            .take(self.depth as usize)
            .zip(new.frames.iter().take(new.depth as usize))
        {
            if fo.callsite != fnew.callsite || fo.regs != fnew.regs {
                return false;
            }
            for (so, sn) in fo.slots.iter().zip(&fnew.slots) {
                if so.init != sn.init || self.spilled(so) != new.spilled(sn) {
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_respects_kinds_ranges_and_ids() {
        let mut ids = IdMap::new();
        let wide = Value::scalar(Scalar::from_ranges(0, 100, 0, 100).unwrap());
        let narrow = Value::scalar(Scalar::from_ranges(10, 20, 10, 20).unwrap());
        assert!(wide.includes(&narrow, &mut ids));
        assert!(!narrow.includes(&wide, &mut ids));
        assert!(Value::UNINIT.includes(&Value::ptr(Kind::Ctx, 0), &mut ids));
        assert!(!Value::UNKNOWN.includes(&Value::ptr(Kind::Ctx, 0), &mut ids));
        let mut p = Value::ptr(Kind::Packet, 0);
        p.range = 14;
        let mut q = p;
        q.range = 20;
        assert!(p.includes(&q, &mut ids));
        assert!(!q.includes(&p, &mut IdMap::new()));
        // Two independent nullable pointers do not include two copies of one.
        let mut ids = IdMap::new();
        let mut a = Value::ptr(Kind::MapValueOrNull, 0);
        a.id = 1;
        let mut b = a;
        b.id = 2;
        let mut c = a;
        c.id = 7;
        assert!(a.includes(&c, &mut ids));
        assert!(!b.includes(&c, &mut ids));
    }

    fn linked(s: Scalar, id: u32, off: i32) -> Value {
        Value {
            id,
            off,
            ..Value::scalar(s)
        }
    }

    #[test]
    fn links_are_canonical_and_lone_ones_dropped() {
        let s = Scalar::unknown_bits(8);
        let mut a = State::EMPTY;
        a.frames[0].regs[1] = linked(s, 9, 5);
        a.frames[0].regs[2] = linked(s, 9, 27);
        a.frames[0].regs[3] = linked(s, 4, 1);
        let idx = a.alloc_spill(linked(s, 9, 5)).unwrap();
        a.frames[0].slots[63] = Slot {
            init: 0xff,
            spill: idx,
        };
        let mut b = a.clone();
        b.frames[0].regs[1] = linked(s, 17, -3);
        b.frames[0].regs[2] = linked(s, 17, 19);
        b.spills[idx as usize - 1] = linked(s, 17, -3);
        a.canonical_links();
        b.canonical_links();
        assert!(a.same_as(&b));
        assert_eq!(a.frames[0].regs[1], linked(s, LINK_ID_BASE, 0));
        assert_eq!(a.frames[0].regs[2], linked(s, LINK_ID_BASE, 22));
        assert_eq!(a.frames[0].regs[3], Value::scalar(s));
        assert_eq!(a.spills[idx as usize - 1], linked(s, LINK_ID_BASE, 0));
        // Deltas that cannot be shifted into `i32` stay as they are.
        let mut c = State::EMPTY;
        c.frames[0].regs[1] = linked(s, 3, i32::MIN);
        c.frames[0].regs[2] = linked(s, 3, i32::MAX);
        c.canonical_links();
        assert_eq!(c.frames[0].regs[1], linked(s, LINK_ID_BASE, i32::MIN));
        assert_eq!(c.frames[0].regs[2], linked(s, LINK_ID_BASE, i32::MAX));
    }

    #[test]
    fn inclusion_needs_the_old_links() {
        let s = Scalar::unknown_bits(8);
        let mut old = State::EMPTY;
        old.frames[0].regs[1] = linked(s, 7, 0);
        old.frames[0].regs[2] = linked(s, 7, 22);
        let mut new = State::EMPTY;
        new.frames[0].regs[1] = Value::scalar(s);
        new.frames[0].regs[2] = Value::scalar(s);
        assert!(new.includes(&old), "dropping links only loses facts");
        assert!(!old.includes(&new));
        new.frames[0].regs[1] = linked(s, 8, 0);
        new.frames[0].regs[2] = linked(s, 8, 21);
        assert!(!old.includes(&new), "a different delta");
        new.frames[0].regs[2] = linked(s, 8, 22);
        assert!(old.includes(&new));
        new.frames[0].regs[2] = linked(s, 9, 22);
        assert!(!old.includes(&new), "two groups for one");
    }

    #[test]
    fn state_inclusion_checks_stack() {
        let mut old = State::EMPTY;
        let mut new = State::EMPTY;
        old.frames[0].slots[63].init = 0xff;
        assert!(!old.includes(&new));
        new.frames[0].slots[63].init = 0xff;
        assert!(old.includes(&new));
        let idx = new.alloc_spill(Value::ptr(Kind::Ctx, 0)).unwrap();
        new.frames[0].slots[63].spill = idx;
        assert!(!old.includes(&new));
        assert!(!old.same_as(&new));
        old.frames[0].slots[63].spill = old.alloc_spill(Value::ptr(Kind::Ctx, 0)).unwrap();
        assert!(old.same_as(&new));
    }
}
