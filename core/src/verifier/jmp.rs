//! Conditional jumps: both sides are refined, an impossible side is not explored. Scalars are
//! refined against each other; pointers may only be null-checked or compared within the
//! packet, where `pkt + N <= data_end` proves `N` readable bytes.

use super::check::{Checker, Res, Step, MAX_PACKET_OFF};
use super::error::VerifyErrorKind;
use super::scalar::Scalar;
use super::state::{Kind, State, Value};
use super::tnum::Tnum;
use crate::isa::opcode::*;
use crate::isa::Insn;

/// A comparison, closed under negation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Sgt,
    Sge,
    Slt,
    Sle,
    Set,
    NotSet,
}

impl Cmp {
    pub fn from_op(op: u8) -> Option<Cmp> {
        Some(match op {
            BPF_JEQ => Cmp::Eq,
            BPF_JNE => Cmp::Ne,
            BPF_JGT => Cmp::Gt,
            BPF_JGE => Cmp::Ge,
            BPF_JLT => Cmp::Lt,
            BPF_JLE => Cmp::Le,
            BPF_JSGT => Cmp::Sgt,
            BPF_JSGE => Cmp::Sge,
            BPF_JSLT => Cmp::Slt,
            BPF_JSLE => Cmp::Sle,
            BPF_JSET => Cmp::Set,
            _ => return None,
        })
    }

    pub fn negate(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Ne,
            Cmp::Ne => Cmp::Eq,
            Cmp::Gt => Cmp::Le,
            Cmp::Ge => Cmp::Lt,
            Cmp::Lt => Cmp::Ge,
            Cmp::Le => Cmp::Gt,
            Cmp::Sgt => Cmp::Sle,
            Cmp::Sge => Cmp::Slt,
            Cmp::Slt => Cmp::Sge,
            Cmp::Sle => Cmp::Sgt,
            Cmp::Set => Cmp::NotSet,
            Cmp::NotSet => Cmp::Set,
        }
    }

    fn signed(self) -> bool {
        matches!(self, Cmp::Sgt | Cmp::Sge | Cmp::Slt | Cmp::Sle)
    }

    /// The concrete comparison (for tests).
    #[cfg(test)]
    pub fn holds(self, x: u64, y: u64, is32: bool) -> bool {
        let (x, y) = if is32 {
            (x as u32 as u64, y as u32 as u64)
        } else {
            (x, y)
        };
        let (sx, sy) = if is32 {
            (x as u32 as i32 as i64, y as u32 as i32 as i64)
        } else {
            (x as i64, y as i64)
        };
        match self {
            Cmp::Eq => x == y,
            Cmp::Ne => x != y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Sgt => sx > sy,
            Cmp::Sge => sx >= sy,
            Cmp::Slt => sx < sy,
            Cmp::Sle => sx <= sy,
            Cmp::Set => x & y != 0,
            Cmp::NotSet => x & y == 0,
        }
    }
}

fn meet(a: &Scalar, b: &Scalar) -> Option<Scalar> {
    let mut s = Scalar {
        var: a.var.intersect(b.var)?,
        umin: a.umin.max(b.umin),
        umax: a.umax.min(b.umax),
        smin: a.smin.max(b.smin),
        smax: a.smax.min(b.smax),
        u32min: a.u32min.max(b.u32min),
        u32max: a.u32max.min(b.u32max),
        s32min: a.s32min.max(b.s32min),
        s32max: a.s32max.min(b.s32max),
    };
    s.sync().then_some(s)
}

/// `a != c` for a known `c`: shaves `c` off the bounds it sits on.
fn exclude(a: &Scalar, c: u64) -> Option<Scalar> {
    if a.as_const() == Some(c) {
        return None;
    }
    let mut s = *a;
    if s.umin == c {
        s.umin = c.checked_add(1)?;
    }
    if s.umax == c {
        s.umax = c.checked_sub(1)?;
    }
    if s.smin == c as i64 {
        s.smin = (c as i64).checked_add(1)?;
    }
    if s.smax == c as i64 {
        s.smax = (c as i64).checked_sub(1)?;
    }
    s.sync().then_some(s)
}

/// Refines `(a, b)` assuming `a cmp b` holds on 64 bits; `None` when it cannot.
fn refine64(cmp: Cmp, a: &Scalar, b: &Scalar) -> Option<(Scalar, Scalar)> {
    let (mut x, mut y) = (*a, *b);
    match cmp {
        Cmp::Eq => {
            let m = meet(a, b)?;
            return Some((m, m));
        }
        Cmp::Ne => {
            if let Some(c) = b.as_const() {
                x = exclude(a, c)?;
            }
            if let Some(c) = a.as_const() {
                y = exclude(b, c)?;
            }
        }
        Cmp::Gt => {
            x.umin = x.umin.max(b.umin.checked_add(1)?);
            y.umax = y.umax.min(a.umax.checked_sub(1)?);
        }
        Cmp::Ge => {
            x.umin = x.umin.max(b.umin);
            y.umax = y.umax.min(a.umax);
        }
        Cmp::Lt => return refine64(Cmp::Gt, b, a).map(|(q, p)| (p, q)),
        Cmp::Le => return refine64(Cmp::Ge, b, a).map(|(q, p)| (p, q)),
        Cmp::Sgt => {
            x.smin = x.smin.max(b.smin.checked_add(1)?);
            y.smax = y.smax.min(a.smax.checked_sub(1)?);
        }
        Cmp::Sge => {
            x.smin = x.smin.max(b.smin);
            y.smax = y.smax.min(a.smax);
        }
        Cmp::Slt => return refine64(Cmp::Sgt, b, a).map(|(q, p)| (p, q)),
        Cmp::Sle => return refine64(Cmp::Sge, b, a).map(|(q, p)| (p, q)),
        Cmp::Set => {
            if a.var.umax() & b.var.umax() == 0 {
                return None;
            }
            if let Some(c) = b.as_const() {
                if c.is_power_of_two() {
                    x.var = a.var.intersect(Tnum { value: c, mask: !c })?;
                }
            }
            if let Some(c) = a.as_const() {
                if c.is_power_of_two() {
                    y.var = b.var.intersect(Tnum { value: c, mask: !c })?;
                }
            }
        }
        Cmp::NotSet => {
            if let Some(c) = b.as_const() {
                x.var = a.var.intersect(Tnum { value: 0, mask: !c })?;
            }
            if let Some(c) = a.as_const() {
                y.var = b.var.intersect(Tnum { value: 0, mask: !c })?;
            }
        }
    }
    if !x.sync() || !y.sync() {
        return None;
    }
    Some((x, y))
}

/// Puts a refinement of the low 32 bits back into the full value.
fn merge32(orig: &Scalar, r: &Scalar) -> Option<Scalar> {
    let low = r.var.trunc(32);
    let mut s = *orig;
    s.var = orig.var.intersect(Tnum {
        value: low.value,
        mask: low.mask | !0xffff_ffff,
    })?;
    s.u32min = s.u32min.max(r.u32min);
    s.u32max = s.u32max.min(r.u32max);
    s.s32min = s.s32min.max(r.s32min);
    s.s32max = s.s32max.min(r.s32max);
    s.sync().then_some(s)
}

/// Refines `(a, b)` assuming `a cmp b` holds (on the low 32 bits for `is32`).
pub(crate) fn refine(cmp: Cmp, a: &Scalar, b: &Scalar, is32: bool) -> Option<(Scalar, Scalar)> {
    if !is32 {
        return refine64(cmp, a, b);
    }
    let (pa, pb) = if cmp.signed() {
        (a.sext32(), b.sext32())
    } else {
        (a.zext32(), b.zext32())
    };
    let (ra, rb) = refine64(cmp, &pa, &pb)?;
    Some((merge32(a, &ra)?, merge32(b, &rb)?))
}

impl Checker<'_, '_, '_> {
    pub(crate) fn cond_jump(&mut self, pc: usize, insn: Insn) -> Res<Step> {
        let is32 = insn.class() == Class::Jmp32;
        let x = insn.opcode & BPF_X != 0;
        let target = (pc as i64)
            .saturating_add(1)
            .saturating_add(insn.off as i64) as usize;
        let Some(cmp) = Cmp::from_op(insn.opcode & 0xf0) else {
            return Ok(Step::Goto(pc.saturating_add(1)));
        };
        let (dst, src) = (insn.dst(), insn.src());
        let a = self.read(pc, dst)?;
        let b = if x {
            self.read(pc, src)?
        } else {
            Value::constant(insn.imm as i64 as u64)
        };
        if a.is_scalar() && b.is_scalar() {
            let same = x && dst == src;
            let taken = refine(cmp, &a.s, &b.s, is32);
            let fall = refine(cmp.negate(), &a.s, &b.s, is32);
            // Each refined register keeps its links and passes the refinement on. With links,
            // each side refines its own copy of the state (`fork`), as a side's refinement of
            // linked values cannot be undone; without, the registers are simply rewritten.
            let apply = |st: &mut State, r: &(Scalar, Scalar)| {
                if !same {
                    let ra = Value { s: r.0, ..a };
                    *st.reg_mut(dst) = ra;
                    sync_linked(st, &ra);
                    prove_room(st, &ra);
                    if x {
                        let rb = Value { s: r.1, ..b };
                        *st.reg_mut(src) = rb;
                        sync_linked(st, &rb);
                        prove_room(st, &rb);
                    }
                }
            };
            // A refinement that reaches other values cannot be undone on the same state.
            let reaches = |v: &Value| v.id != 0 || v.packet_room().is_some();
            return match (taken, fall) {
                (Some(t), Some(f)) if reaches(&a) || (x && reaches(&b)) => {
                    self.fork(pc, target, |st| apply(st, &t), |st| apply(st, &f))
                }
                (Some(t), Some(f)) if self.target_first(pc, target) => {
                    apply(self.ws.cur, &f);
                    self.push(pc, pc.saturating_add(1))?;
                    apply(self.ws.cur, &t);
                    Ok(Step::Goto(target))
                }
                (Some(t), Some(f)) => {
                    apply(self.ws.cur, &t);
                    self.push(pc, target)?;
                    apply(self.ws.cur, &f);
                    Ok(Step::Goto(pc.saturating_add(1)))
                }
                (Some(t), None) => {
                    apply(self.ws.cur, &t);
                    Ok(Step::Goto(target))
                }
                (None, Some(f)) => {
                    apply(self.ws.cur, &f);
                    Ok(Step::Goto(pc.saturating_add(1)))
                }
                (None, None) => Ok(Step::End),
            };
        }
        let ptr_reg = if a.kind.is_ptr() { dst } else { src };
        if is32 {
            return Err(self.err(pc, VerifyErrorKind::Pointer32 { reg: ptr_reg }));
        }
        let is_zero = |v: &Value| v.is_scalar() && v.s.as_const() == Some(0);
        // Null checks.
        if matches!(cmp, Cmp::Eq | Cmp::Ne) && (is_zero(&b) || is_zero(&a)) {
            let p = if is_zero(&b) { a } else { b };
            if matches!(p.kind, Kind::MapValueOrNull | Kind::RingbufMemOrNull) {
                let taken_null = cmp == Cmp::Eq;
                return self.fork(
                    pc,
                    target,
                    |st| mark_null(st, p.id, taken_null),
                    |st| mark_null(st, p.id, !taken_null),
                );
            }
            // Other pointers are never null.
            return Ok(Step::Goto(if cmp == Cmp::Eq {
                pc.saturating_add(1)
            } else {
                target
            }));
        }
        let pkt = |k: Kind| matches!(k, Kind::Packet | Kind::PacketEnd | Kind::PacketMeta);
        if !(pkt(a.kind) && pkt(b.kind)) {
            return Err(self.err(pc, VerifyErrorKind::PointerComparison { reg: ptr_reg }));
        }
        // Which pointer the comparison proves a range for, on which side, and how much.
        // `ptr <= end` (non-strict) proves `off` bytes, `ptr < end` proves `off + 1`.
        let is_end = |ptr: &Value, end: &Value| {
            (ptr.kind == Kind::Packet && end.kind == Kind::PacketEnd)
                || (ptr.kind == Kind::PacketMeta
                    && end.kind == Kind::Packet
                    && end.off == 0
                    && end.s.as_const() == Some(0))
        };
        // (pointer, proven on the taken side?, strict?)
        let proof = if is_end(&a, &b) {
            match cmp {
                Cmp::Gt => Some((a, false, false)),
                Cmp::Ge => Some((a, false, true)),
                Cmp::Lt => Some((a, true, true)),
                Cmp::Le => Some((a, true, false)),
                _ => None,
            }
        } else if is_end(&b, &a) {
            match cmp {
                Cmp::Gt => Some((b, true, true)),
                Cmp::Ge => Some((b, true, false)),
                Cmp::Lt => Some((b, false, false)),
                Cmp::Le => Some((b, false, true)),
                _ => None,
            }
        } else {
            None
        };
        let Some((p, on_taken, strict)) = proof else {
            return self.fork(pc, target, |_| {}, |_| {});
        };
        self.fork(
            pc,
            target,
            |st| {
                if on_taken {
                    prove_range(st, &p, strict)
                }
            },
            |st| {
                if !on_taken {
                    prove_range(st, &p, strict)
                }
            },
        )
    }

    /// Explores both sides of a branch: `taken` and `fall` refine the state of each side. The
    /// side with the higher pc goes first (a forward jump's target, a backward jump's
    /// fallthrough), so early exits and loop exits leave no long-pending branch behind.
    fn fork(
        &mut self,
        pc: usize,
        target: usize,
        taken: impl Fn(&mut State),
        fall: impl Fn(&mut State),
    ) -> Res<Step> {
        self.ws.tmp.clone_from(self.ws.cur);
        if self.target_first(pc, target) {
            fall(self.ws.tmp);
            self.push_tmp(pc, pc.saturating_add(1))?;
            taken(self.ws.cur);
            Ok(Step::Goto(target))
        } else {
            taken(self.ws.tmp);
            self.push_tmp(pc, target)?;
            fall(self.ws.cur);
            Ok(Step::Goto(pc.saturating_add(1)))
        }
    }
}

/// Linux's `sync_linked_regs`: every scalar linked to the refined scalar `r` is `r` plus the
/// difference of their deltas (modulo 2^64), so it is narrowed to its meet with that sum.
fn sync_linked(st: &mut State, r: &Value) {
    if r.kind != Kind::Scalar || r.id == 0 {
        return;
    }
    st.for_each_value(|v| {
        if v.kind == Kind::Scalar && v.id == r.id {
            let delta = (v.off as i64).wrapping_sub(r.off as i64) as u64;
            let known = Scalar::add(&r.s, &Scalar::constant(delta));
            // An empty meet means this side cannot happen; keeping `v` is then sound too.
            if let Some(m) = meet(&v.s, &known) {
                v.s = m;
            }
        }
    });
}

/// A refined `data_end - (data + c)` (see [`Value::packet_room`]) of at least `l > 0`: the
/// packet holds `c + l` bytes from its start, so every packet pointer without a variable part
/// (id 0) may read that far (Linux reaches the same through a comparison of the pointers).
fn prove_room(st: &mut State, r: &Value) {
    let Some(c) = r.packet_room() else {
        return;
    };
    if r.s.smin <= 0 {
        return;
    }
    let range = (c as i64).saturating_add(r.s.smin).min(MAX_PACKET_OFF) as u16;
    st.for_each_value(|v| {
        if v.kind == Kind::Packet && v.id == 0 {
            v.range = v.range.max(range);
        }
    });
}

/// Every copy of nullable pointer `id` becomes null (`true`) or a pointer that is not. A null
/// ring buffer record was never reserved: its reference goes too.
fn mark_null(st: &mut State, id: u32, null: bool) {
    st.for_each_value(|v| {
        let sure = match v.kind {
            Kind::MapValueOrNull => Kind::MapValue,
            Kind::RingbufMemOrNull => Kind::RingbufMem,
            _ => return,
        };
        if v.id == id {
            if null {
                *v = Value::constant(0);
            } else {
                v.kind = sure;
            }
        }
    });
    if null {
        st.refs.remove(id);
    }
}

/// Linux's `find_good_pkt_pointers`: every packet pointer sharing `p`'s variable part may read
/// `p.off` bytes (one more for a strict comparison) past that part.
fn prove_range(st: &mut State, p: &Value, strict: bool) {
    if p.off < 0 || p.s.smin < 0 {
        return;
    }
    let range = (p.off as i64).saturating_add(strict as i64);
    if p.s.umax as i64 > MAX_PACKET_OFF
        || (p.s.umax as i64).saturating_add(p.off as i64) > MAX_PACKET_OFF
        || range == 0
    {
        return;
    }
    st.for_each_value(|v| {
        if v.kind == p.kind && v.id == p.id {
            v.range = v.range.max(range as u16);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    fn pick(rng: &mut Rng) -> (Scalar, u64) {
        let x = match rng.next() % 4 {
            0 => rng.next() % 20,
            1 => (rng.next() % 20).wrapping_neg(),
            2 => [0, u64::MAX, 1 << 63, 0x8000_0000, 0xffff_ffff][(rng.next() % 5) as usize],
            _ => rng.next(),
        };
        let s = match rng.next() % 4 {
            0 => Scalar::constant(x),
            1 => {
                let lo = x.saturating_sub(rng.next() % 30);
                let hi = x.saturating_add(rng.next() % 30);
                Scalar::from_ranges(lo, hi, i64::MIN, i64::MAX).unwrap()
            }
            2 => {
                let lo = (x as i64).saturating_sub((rng.next() % 30) as i64);
                let hi = (x as i64).saturating_add((rng.next() % 30) as i64);
                Scalar::from_ranges(0, u64::MAX, lo, hi).unwrap()
            }
            _ => {
                let mask = rng.next() & rng.next();
                Scalar::from_tnum(Tnum {
                    value: x & !mask,
                    mask,
                })
            }
        };
        (s, x)
    }

    /// Every comparison.
    const ALL_CMPS: [Cmp; 12] = [
        Cmp::Eq,
        Cmp::Ne,
        Cmp::Gt,
        Cmp::Ge,
        Cmp::Lt,
        Cmp::Le,
        Cmp::Sgt,
        Cmp::Sge,
        Cmp::Slt,
        Cmp::Sle,
        Cmp::Set,
        Cmp::NotSet,
    ];

    #[test]
    fn refinement_keeps_every_concrete_pair() {
        let cmps = ALL_CMPS;
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        for i in 0..60_000 {
            let (a, x) = pick(&mut rng);
            let (b, mut y) = pick(&mut rng);
            if rng.next() % 4 == 0 && b.contains(x) {
                y = x; // exercise equality
            }
            if !b.contains(y) {
                continue;
            }
            for cmp in cmps {
                for is32 in [false, true] {
                    if !cmp.holds(x, y, is32) {
                        continue;
                    }
                    let r = refine(cmp, &a, &b, is32);
                    let Some((ra, rb)) = r else {
                        panic!("case {i}: {cmp:?} is32={is32} {a:?} ({x:#x}) {b:?} ({y:#x}) judged impossible");
                    };
                    assert!(
                        ra.contains(x) && rb.contains(y),
                        "case {i}: {cmp:?} is32={is32} {a:?} {x:#x} {b:?} {y:#x} -> {ra:?} {rb:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn linked_refinement_keeps_every_concrete_value() {
        let cmps = ALL_CMPS;
        let mut rng = Rng(0x0bad_cafe_f00d_0001);
        let mut st = std::boxed::Box::new(State::EMPTY);
        let mut narrowed = 0;
        for i in 0..40_000 {
            let (s, x) = pick(&mut rng);
            if !s.contains(x) {
                continue;
            }
            let d = match rng.next() % 3 {
                0 => (rng.next() % 64) as i32 - 32,
                1 => rng.next() as i32,
                _ => [i32::MIN, i32::MAX, -1, 1][(rng.next() % 4) as usize],
            };
            let y = x.wrapping_add(d as i64 as u64);
            // r1 = x, r2 = x + d (linked), r3 = x spilled.
            let base = Value {
                id: 5,
                ..Value::scalar(s)
            };
            let copy = Value {
                id: 5,
                off: d,
                s: Scalar::add(&s, &Scalar::constant(d as i64 as u64)),
                ..base
            };
            st.clear();
            st.frames[0].regs[1] = base;
            st.frames[0].regs[2] = copy;
            let idx = st.alloc_spill(base).unwrap();
            let c = match rng.next() % 3 {
                0 => y.wrapping_add(rng.next() % 5).wrapping_sub(2),
                _ => pick(&mut rng).1,
            };
            let cmp = cmps[(rng.next() % cmps.len() as u64) as usize];
            let is32 = rng.next() % 3 == 0;
            if !cmp.holds(y, c, is32) {
                continue;
            }
            let Some((r, _)) = refine(cmp, &copy.s, &Scalar::constant(c), is32) else {
                panic!("case {i}: {cmp:?} judged impossible");
            };
            let refined = Value { s: r, ..copy };
            st.frames[0].regs[2] = refined;
            sync_linked(&mut st, &refined);
            let (r1, spilled) = (st.frames[0].regs[1], st.spills[idx as usize - 1]);
            assert!(
                r1.s.contains(x) && spilled.s.contains(x),
                "case {i}: {cmp:?} {c:#x} is32={is32} x={x:#x} d={d} {s:?} -> {:?}",
                r1.s
            );
            if r1.s != s {
                narrowed += 1;
            }
        }
        assert!(
            narrowed > 1_000,
            "only {narrowed} refinements reached the link"
        );
    }

    #[test]
    fn refinement_decides_constant_comparisons() {
        let five = Scalar::constant(5);
        let three = Scalar::constant(3);
        assert!(refine(Cmp::Gt, &five, &three, false).is_some());
        assert!(refine(Cmp::Le, &five, &three, false).is_none());
        assert!(refine(Cmp::Ne, &five, &five, false).is_none());
        assert!(refine(Cmp::Set, &five, &Scalar::constant(2), false).is_none());
        let (r, _) = refine(Cmp::Lt, &Scalar::UNKNOWN, &Scalar::constant(100), false).unwrap();
        assert_eq!((r.umin, r.umax), (0, 99));
        let (r, _) = refine(Cmp::Gt, &Scalar::UNKNOWN, &Scalar::constant(10), true).unwrap();
        assert_eq!(r.u32min, 11);
    }
}
