//! Two backward analyses over registers r0 to r9, stored in the per-instruction flags:
//!
//! * **liveness**: which registers may be read before being written from here on;
//! * **precision**: which registers' *values* may matter to a verdict from here on: they
//!   may flow into a branch condition, an address, a helper argument, a stack spill or a
//!   callee's return value. A sum that is only returned or stored into a map does not.
//!
//! At prune points exploration forgets dead registers and widens live scalars whose value
//! does not matter to "any number" (Linux reaches the same effect with liveness and
//! precision marks). Both only ever make a state larger, so neither can make the verifier
//! accept more than it proves: a wrong analysis would cost precision (a rejection), never
//! soundness.

use super::cfg::{flow, width, Flow};
use crate::host::{ArgKind, HelperTable};
use crate::isa::opcode::*;
use crate::isa::Insn;

/// Live-in registers occupy bits 6..15 of the per-instruction flags, precise ones 16..25.
const LIVE_SHIFT: u32 = 6;
const PRECISE_SHIFT: u32 = 16;
const LIVE_MASK: u32 = 0x3ff << LIVE_SHIFT;
const PRECISE_MASK: u32 = 0x3ff << PRECISE_SHIFT;
/// r0 to r5: clobbered by calls.
const CALLER_SAVED: u16 = 0x3f;
/// r1 to r5: arguments.
const ARGS: u16 = 0x3e;

/// The registers live before `pc` (bit `i` for `ri`; r10 is always live).
#[inline]
pub(crate) fn live_in(aux: &[u32], pc: usize) -> u16 {
    aux.get(pc)
        .map_or(0x3ff, |a| ((a & LIVE_MASK) >> LIVE_SHIFT) as u16)
}

/// The registers whose value may matter before `pc`.
#[inline]
pub(crate) fn precise_in(aux: &[u32], pc: usize) -> u16 {
    aux.get(pc)
        .map_or(0x3ff, |a| ((a & PRECISE_MASK) >> PRECISE_SHIFT) as u16)
}

fn bit(r: u8) -> u16 {
    if r < 10 {
        1 << r
    } else {
        0
    }
}

/// The argument registers a helper call reads, and those whose value may matter: all but
/// the plain numbers ([`ArgKind::Scalar`]), which the call only checks to be numbers (a
/// pointer there is a leak whatever its value) and never looks at.
fn helper_args(insn: Insn, helpers: &HelperTable<'_>) -> (u16, u16) {
    if insn.opcode == op::CALLX || insn.imm < 0 {
        return (ARGS, ARGS);
    }
    helpers.get(insn.imm as u32).map_or((ARGS, ARGS), |h| {
        let (mut m, mut p) = (0, 0);
        for (i, a) in h.proto.args.iter().enumerate() {
            if *a != ArgKind::None {
                m |= 2 << i;
            }
            if !matches!(*a, ArgKind::None | ArgKind::Scalar) {
                p |= 2 << i;
            }
        }
        (m, p)
    })
}

/// Transfer of both analyses through the instruction at `pc`: from `(live, precise)` after
/// it to before it. `in_main`: an `exit` here ends the program (its r0 is only checked to
/// be a number) rather than returning to a caller. `slots_after`: the stack slots whose
/// value may matter after it.
fn transfer(
    insns: &[Insn],
    pc: usize,
    aux: &[u32],
    helpers: &HelperTable<'_>,
    (live, precise): (u16, u16),
    in_main: bool,
    slots_after: u64,
) -> (u16, u16) {
    let Some(&insn) = insns.get(pc) else {
        return (live, precise);
    };
    let (d, s) = (bit(insn.dst()), bit(insn.src()));
    let x = insn.opcode & BPF_X != 0;
    let fetch = insn.imm & ATOMIC_FETCH != 0;
    // (read, overwritten without being read, precise reads, written, what the written dst is
    // computed from)
    let (uses, defs, p_uses, written, sources): (u16, u16, u16, u16, u16) = match insn.class() {
        Class::Alu | Class::Alu64 => match insn.opcode & 0xf0 {
            BPF_MOV if x => (s, d, 0, d, s),
            BPF_MOV => (0, d, 0, d, 0),
            BPF_NEG | BPF_END => (d, 0, 0, d, d),
            _ if x => (d | s, 0, 0, d, d | s),
            _ => (d, 0, 0, d, d),
        },
        Class::Ld if insn.is_lddw() => (0, d, 0, d, 0),
        Class::Ld => {
            let idx = if insn.opcode & 0xe0 == BPF_IND { s } else { 0 };
            let r = bit(6) | idx;
            (r, CALLER_SAVED, r, CALLER_SAVED, 0)
        }
        Class::Ldx => (s, d, s, d, 0),
        Class::St => (d, 0, d, 0, 0),
        Class::Stx if insn.opcode & 0xe0 == BPF_ATOMIC => {
            if insn.imm == ATOMIC_CMPXCHG {
                (d | s | 1, 0, d | s | 1, 1, 0)
            } else if fetch {
                (d | s, 0, d | s, s, 0)
            } else {
                (d | s, 0, d | s, 0, 0)
            }
        }
        // A spill through r10 may come back into anything, unless no slot it writes may be
        // read through r10 before being overwritten.
        Class::Stx if insn.dst() == 10 => {
            let read = slots_of(insn.off as i64, insn.access_size().into()) & slots_after != 0;
            (d | s, 0, d | if read { s } else { 0 }, 0, 0)
        }
        Class::Stx => (d | s, 0, d, 0, 0),
        Class::Jmp | Class::Jmp32 => match insn.opcode & 0xf0 {
            BPF_EXIT if insn.class() == Class::Jmp => (1, 0, if in_main { 0 } else { 1 }, 0, 0),
            BPF_CALL if insn.class() == Class::Jmp => {
                if let Flow::Call(t) = flow(insns, pc) {
                    // A local call passes the arguments its callee reads.
                    let args = live_in(aux, t) & ARGS;
                    (
                        args,
                        CALLER_SAVED,
                        precise_in(aux, t) & ARGS,
                        CALLER_SAVED,
                        0,
                    )
                } else {
                    let (args, p_args) = helper_args(insn, helpers);
                    let target = if x { d } else { 0 };
                    (
                        args | target,
                        CALLER_SAVED,
                        p_args | target,
                        CALLER_SAVED,
                        0,
                    )
                }
            }
            BPF_JA => (0, 0, 0, 0, 0),
            _ if x => (d | s, 0, d | s, 0, 0),
            _ => (d, 0, d, 0, 0),
        },
    };
    let live_before = uses | (live & !defs);
    let flows = if precise & written & d != 0 {
        sources
    } else {
        0
    };
    let precise_before = p_uses | (precise & !written) | flows;
    (live_before, precise_before & live_before)
}

/// Computes live-in and precise-in sets for every instruction into `aux`, after the
/// structure pass. `main_end` is where the entry function ends. With `slots`, also which
/// stack slots' values may matter before each instruction (into `slots`, cleared first): a
/// spill matters only into such a slot, and a slot matters when it is loaded into a register
/// that matters or when a pointer made from `r10` may read it other than as a helper's memory
/// argument ([`slot_precise_transfer`]). Without, every spill matters.
fn compute(
    insns: &[Insn],
    aux: &mut [u32],
    helpers: &HelperTable<'_>,
    main_end: usize,
    mut slots: Option<&mut Masks<'_>>,
) {
    let n = insns.len().min(aux.len());
    for a in aux.iter_mut().take(n) {
        *a &= !(LIVE_MASK | PRECISE_MASK);
    }
    if let Some(m) = slots.as_deref_mut() {
        for pc in 0..n {
            m.set(pc, 0);
        }
    }
    loop {
        let mut changed = false;
        for pc in (0..n).rev() {
            // Second slots of `lddw` have opcode 0, which no first slot has.
            if insns.get(pc).is_none_or(|i| i.opcode == 0) {
                continue;
            }
            let after = |t: usize| (live_in(aux, t), precise_in(aux, t));
            let (live, precise) = match flow(insns, pc) {
                Flow::Next => after(pc.saturating_add(width(insns, pc))),
                Flow::Exit => (0, 0),
                Flow::Jump(t) => after(t),
                Flow::Branch(t) => {
                    let (a, b) = (after(t), after(pc.saturating_add(1)));
                    (a.0 | b.0, a.1 | b.1)
                }
                Flow::Call(_) => after(pc.saturating_add(1)),
            };
            let slots_after = match slots.as_deref_mut() {
                Some(m) => m.after(insns, pc, n),
                None => u64::MAX,
            };
            let (l, p) = transfer(
                insns,
                pc,
                aux,
                helpers,
                (live, precise),
                pc < main_end,
                slots_after,
            );
            let new = ((l as u32) << LIVE_SHIFT) | ((p as u32) << PRECISE_SHIFT);
            if let Some(a) = aux.get_mut(pc) {
                if *a & (LIVE_MASK | PRECISE_MASK) != new {
                    *a = (*a & !(LIVE_MASK | PRECISE_MASK)) | new;
                    changed = true;
                }
            }
            if let Some(m) = slots.as_deref_mut() {
                let before = slot_precise_transfer(insns, pc, helpers, slots_after, precise);
                if m.get(pc) != before {
                    m.set(pc, before);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// Backward transfer of slot precision through the instruction at `pc`, from the slots
/// whose value may matter after it (`after`) and the registers whose value may (`precise`).
/// As slot liveness, except that a load matters only into a register that matters, and that
/// `rX = r10; rX += K` followed, in a straight line that does not otherwise touch `rX`, by a
/// helper call taking `rX` as an argument lets only that helper read the slots: a helper
/// reads memory as bytes, whose values no check looks at.
fn slot_precise_transfer(
    insns: &[Insn],
    pc: usize,
    helpers: &HelperTable<'_>,
    after: u64,
    precise: u16,
) -> u64 {
    let Some(&insn) = insns.get(pc) else {
        return after;
    };
    match insn.class() {
        Class::Ldx if insn.src() == 10 => {
            if precise & bit(insn.dst()) != 0 {
                slot_transfer(insns, pc, after)
            } else {
                after
            }
        }
        Class::Alu | Class::Alu64 if insn.opcode & BPF_X != 0 && insn.src() == 10 => {
            if only_helper_reads(insns, pc, helpers) {
                after
            } else {
                slot_transfer(insns, pc, after)
            }
        }
        _ => slot_transfer(insns, pc, after),
    }
}

/// Whether `rX = r10; rX += K` at `pc` is followed, in a straight line of instructions that
/// neither read nor write `rX` nor jump, by a helper call that takes `rX` as an argument
/// (after which `rX`, an argument register, is gone).
fn only_helper_reads(insns: &[Insn], pc: usize, helpers: &HelperTable<'_>) -> bool {
    let (Some(&mov), Some(&add)) = (insns.get(pc), insns.get(pc.saturating_add(1))) else {
        return false;
    };
    let r = mov.dst();
    let idiom = mov.opcode == BPF_ALU64 | BPF_MOV | BPF_X
        && mov.off == 0
        && add.opcode == BPF_ALU64 | BPF_ADD | BPF_K
        && add.dst() == r;
    if !idiom || !(1..=5).contains(&r) {
        return false;
    }
    let mut at = pc.saturating_add(2);
    // A short straight line: the argument set-up before a call.
    for _ in 0..16 {
        let Some(&i) = insns.get(at) else {
            return false;
        };
        if i.opcode == op::CALL && i.src() == 0 {
            let (args, _) = helper_args(i, helpers);
            return args & bit(r) != 0 && i.imm >= 0;
        }
        if !matches!(flow(insns, at), Flow::Next) || i.class() == Class::Jmp {
            return false;
        }
        let touches = i.dst() == r
            || (i.src() == r
                && (i.opcode & BPF_X != 0 || matches!(i.class(), Class::Ldx | Class::Stx)));
        if touches || i.is_lddw() && i.dst() == r {
            return false;
        }
        at = at.saturating_add(width(insns, at));
    }
    false
}

/// Stack-slot liveness: for each prune point, which 8-byte slots of the running function's
/// frame may be read (through `r10` or through a pointer made from it) before a full 8-byte
/// store overwrites them. Slot `k` is bit `k` (bytes `-512 + 8k ..` from `r10`).
///
/// The backward analysis runs once before exploration, over scratch memory the exploration
/// has not started to use (the state cache and the branch stack), and keeps only the masks
/// of the prune points and of the fallthroughs of conditional jumps (where pending branches
/// resume: a pending state is stored without its dead slots), packed as `(pc, low word, high
/// word)` triples sorted by pc into the instruction facts left over past the program's end
/// ([`SlotTable`]). A pc that finds no triple (no room, or a program longer than the
/// scratch) forgets no slot.
///
/// Reads through `r10` at a constant offset read their slots. A pointer made from `r10` may
/// read anything it is later used for, so `rX = r10` makes every slot live, except in the
/// idiom `rX = r10; rX += K` (a local's address for a helper), which makes the slots from
/// `K` up to `r10` live. The prune point forgets slots only while no register or spill holds
/// a pointer into the frame (so a pointer made before it reads nothing it forgot). A slot
/// wrongly found dead becomes uninitialised: a later read of it is rejected, never accepted
/// unchecked, so the analysis, like the one over registers, can cost a rejection but not
/// soundness.
pub(crate) struct SlotTable<'a> {
    entries: &'a [u32],
}

impl<'a> SlotTable<'a> {
    /// A table of `(pc, live low, live high, precise low, precise high)` entries sorted
    /// by pc.
    pub fn new(entries: &'a [u32]) -> SlotTable<'a> {
        SlotTable { entries }
    }

    /// The live slots at prune point `pc`, and those of them whose value may matter, if
    /// recorded.
    pub fn live_at(&self, pc: usize) -> Option<(u64, u64)> {
        let n = self.entries.len() / ENTRY;
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            // `lo < hi <= n`: no sum below overflows.
            let mid = lo.saturating_add(hi) / 2;
            let at = mid.saturating_mul(ENTRY);
            let &[at_pc, live_lo, live_hi, precise_lo, precise_hi] =
                self.entries.get(at..at.saturating_add(ENTRY))?
            else {
                return None;
            };
            match (at_pc as usize).cmp(&pc) {
                core::cmp::Ordering::Equal => {
                    let word = |lo: u32, hi: u32| lo as u64 | (hi as u64) << 32;
                    return Some((word(live_lo, live_hi), word(precise_lo, precise_hi)));
                }
                core::cmp::Ordering::Less => lo = mid.saturating_add(1),
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }
}

/// Words per entry of a [`SlotTable`].
const ENTRY: usize = 5;

/// 64-bit masks, one per instruction, over two byte buffers end to end.
struct Masks<'s> {
    a: &'s mut [u8],
    b: &'s mut [u8],
}

impl Masks<'_> {
    /// The mask after the instruction at `pc` of `n`: the union over its successors.
    fn after(&mut self, insns: &[Insn], pc: usize, n: usize) -> u64 {
        match flow(insns, pc) {
            Flow::Next => {
                let next = pc.saturating_add(width(insns, pc));
                if next < n {
                    self.get(next)
                } else {
                    0
                }
            }
            Flow::Exit => 0,
            Flow::Jump(t) => self.get(t),
            Flow::Branch(t) => self.get(t) | self.get(pc.saturating_add(1)),
            Flow::Call(_) => self.get(pc.saturating_add(1)),
        }
    }

    fn len(&self) -> usize {
        (self.a.len() / 8).saturating_add(self.b.len() / 8)
    }

    fn bytes(&mut self, i: usize) -> Option<&mut [u8]> {
        let na = self.a.len() / 8;
        let (buf, j) = match i.checked_sub(na) {
            None => (&mut *self.a, i),
            Some(j) => (&mut *self.b, j),
        };
        let at = j.saturating_mul(8);
        buf.get_mut(at..at.saturating_add(8))
    }

    fn get(&mut self, i: usize) -> u64 {
        self.bytes(i)
            .and_then(|b| <[u8; 8]>::try_from(&*b).ok())
            .map_or(u64::MAX, u64::from_le_bytes)
    }

    fn set(&mut self, i: usize, v: u64) {
        if let Some(b) = self.bytes(i) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// The slots `[off, off + size)` from `r10` cover (none when outside the frame).
fn slots_of(off: i64, size: i64) -> u64 {
    let frame = (super::state::SLOTS as i64).saturating_mul(8);
    let start = frame.saturating_add(off);
    let end = start.saturating_add(size.max(1));
    if start < 0 || end > frame {
        return 0;
    }
    let (first, last) = (start / 8, end.saturating_sub(1) / 8);
    let mut m = 0u64;
    for k in first..=last {
        m |= 1 << k;
    }
    m
}

/// The offset from `r10` of the frame's lowest byte.
fn frame_bottom() -> i64 {
    (super::state::SLOTS as i64)
        .saturating_mul(8)
        .saturating_neg()
}

/// Backward transfer of slot liveness through the instruction at `pc`.
fn slot_transfer(insns: &[Insn], pc: usize, live: u64) -> u64 {
    let Some(&insn) = insns.get(pc) else {
        return live;
    };
    let size = |i: Insn| i64::from(i.access_size());
    let off = insn.off as i64;
    match insn.class() {
        Class::Ldx if insn.src() == 10 => live | slots_of(off, size(insn)),
        Class::St | Class::Stx if insn.dst() == 10 => {
            let escape = insn.class() == Class::Stx && insn.src() == 10;
            if escape {
                return u64::MAX;
            }
            let atomic = insn.class() == Class::Stx && insn.opcode & 0xe0 == BPF_ATOMIC;
            let m = slots_of(off, size(insn));
            if atomic {
                live | m
            } else if size(insn) == 8 && off % 8 == 0 {
                live & !m
            } else {
                live
            }
        }
        Class::Stx if insn.src() == 10 => u64::MAX,
        Class::Alu | Class::Alu64 if insn.opcode & BPF_X != 0 && insn.src() == 10 => {
            // `rX = r10; rX += K`: the local at K and everything above it.
            let next = insns.get(pc.saturating_add(1));
            let idiom = insn.opcode == BPF_ALU64 | BPF_MOV | BPF_X
                && insn.off == 0
                && next.is_some_and(|n| {
                    n.opcode == BPF_ALU64 | BPF_ADD | BPF_K && n.dst() == insn.dst()
                });
            match next.filter(|_| idiom) {
                Some(n) if (frame_bottom()..0).contains(&(n.imm as i64)) => {
                    live | slots_of(n.imm as i64, (n.imm as i64).saturating_neg())
                }
                _ => u64::MAX,
            }
        }
        _ => live,
    }
}

/// Computes both analyses: stack-slot liveness (see [`SlotTable`]) into `table`, using
/// `scratch_a` and `scratch_b` as per-instruction scratch, then registers' liveness and
/// precision into `aux` (a spill matters only when a slot it writes may be read); returns how
/// many words of `table` hold triples. `main_end` is where the entry function ends.
pub(crate) fn compute_all(
    insns: &[Insn],
    aux: &mut [u32],
    helpers: &HelperTable<'_>,
    main_end: usize,
    scratch_a: &mut [u8],
    scratch_b: &mut [u8],
    table: &mut [u32],
) -> usize {
    let n = insns.len().min(aux.len());
    let mut m = Masks {
        a: scratch_a,
        b: scratch_b,
    };
    if n > m.len() {
        compute(insns, aux, helpers, main_end, None);
        return 0;
    }
    for pc in 0..n {
        m.set(pc, 0);
    }
    loop {
        let mut changed = false;
        for pc in (0..n).rev() {
            if insns.get(pc).is_none_or(|i| i.opcode == 0) {
                continue;
            }
            let after = m.after(insns, pc, n);
            let before = slot_transfer(insns, pc, after);
            if m.get(pc) != before {
                m.set(pc, before);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut used = 0usize;
    for (pc, a) in aux.iter().enumerate().take(n) {
        // Prune points, and the other side of each conditional jump (where a pending branch
        // resumes).
        let fallthrough = pc
            .checked_sub(1)
            .is_some_and(|p| matches!(flow(insns, p), Flow::Branch(_)));
        if a & super::cfg::PRUNE == 0 && !fallthrough {
            continue;
        }
        let Some(dst) = table.get_mut(used..used.saturating_add(ENTRY)) else {
            break;
        };
        let live = m.get(pc);
        dst.copy_from_slice(&[pc as u32, live as u32, (live >> 32) as u32, 0, 0]);
        used = used.saturating_add(ENTRY);
    }
    // The same scratch now holds slot precision.
    compute(insns, aux, helpers, main_end, Some(&mut m));
    for e in table
        .get_mut(..used)
        .unwrap_or_default()
        .chunks_exact_mut(ENTRY)
    {
        if let [pc, _, _, lo, hi] = e {
            let precise = m.get(*pc as usize);
            *lo = precise as u32;
            *hi = (precise >> 32) as u32;
        }
    }
    used
}
