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
use crate::env::{ArgKind, HelperTable};
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

/// The argument registers a helper call reads.
fn helper_args(insn: Insn, helpers: &HelperTable<'_>) -> u16 {
    if insn.opcode == op::CALLX || insn.imm < 0 {
        return ARGS;
    }
    helpers.get(insn.imm as u32).map_or(ARGS, |h| {
        let mut m = 0;
        for (i, a) in h.proto.args.iter().enumerate() {
            if *a != ArgKind::None {
                m |= 2 << i;
            }
        }
        m
    })
}

/// Transfer of both analyses through the instruction at `pc`: from `(live, precise)` after
/// it to before it. `in_main`: an `exit` here ends the program (its r0 is only checked to
/// be a number) rather than returning to a caller.
fn transfer(
    insns: &[Insn],
    pc: usize,
    aux: &[u32],
    helpers: &HelperTable<'_>,
    live: u16,
    precise: u16,
    in_main: bool,
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
        // A spill through r10 may come back into anything.
        Class::Stx if insn.dst() == 10 => (d | s, 0, d | s, 0, 0),
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
                    let args = helper_args(insn, helpers) | if x { d } else { 0 };
                    (args, CALLER_SAVED, args, CALLER_SAVED, 0)
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
/// structure pass. `main_end` is where the entry function ends.
pub(crate) fn compute(insns: &[Insn], aux: &mut [u32], helpers: &HelperTable<'_>, main_end: usize) {
    let n = insns.len().min(aux.len());
    for a in aux[..n].iter_mut() {
        *a &= !(LIVE_MASK | PRECISE_MASK);
    }
    loop {
        let mut changed = false;
        for pc in (0..n).rev() {
            // Second slots of `lddw` have opcode 0, which no first slot has.
            if insns[pc].opcode == 0 {
                continue;
            }
            let after = |t: usize| (live_in(aux, t), precise_in(aux, t));
            let (live, precise) = match flow(insns, pc) {
                Flow::Next => after(pc + width(insns, pc)),
                Flow::Exit => (0, 0),
                Flow::Jump(t) => after(t),
                Flow::Branch(t) => {
                    let (a, b) = (after(t), after(pc + 1));
                    (a.0 | b.0, a.1 | b.1)
                }
                Flow::Call(_) => after(pc + 1),
            };
            let (l, p) = transfer(insns, pc, aux, helpers, live, precise, pc < main_end);
            let new = ((l as u32) << LIVE_SHIFT) | ((p as u32) << PRECISE_SHIFT);
            if aux[pc] & (LIVE_MASK | PRECISE_MASK) != new {
                aux[pc] = (aux[pc] & !(LIVE_MASK | PRECISE_MASK)) | new;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}
