//! The converter: a whole classic program to eBPF slots in the caller's buffer.
//!
//! Two passes, no allocation. The first validates every instruction, checks that jumps land
//! inside the program and that the last instruction is a `ret`, and marks which instructions
//! are reachable (classic jumps only go forward, so one pass in order suffices; the marks live
//! in a 512-byte bit set on the stack). The second emits a prologue and then every reachable
//! instruction; unreachable ones are dropped, as the verifier rejects unreachable code.
//!
//! The prologue clears A, X and the scratch words only where a read could see the clearing:
//! A unless the first instruction sets it, X unless nothing reads it or the first instruction
//! sets it, a scratch word only if some reachable load reads it. The first instruction runs
//! before every other, so the verifier, which rejects reading a register never written,
//! confirms each omission.
//!
//! A jump's eBPF offset is the number of slots between the end of its own sequence and its
//! target: the sum of the lengths of the reachable instructions in between. Each length is
//! a fixed function of the instruction, so the sum is computed on the fly; a classic
//! conditional jump spans at most 255 instructions, so this costs little.

use super::error::{CbpfError, CbpfErrorKind};
use super::filter::{code, SockFilter, MAX_CLASSIC_INSNS, MEMWORDS};
use super::lower::{self, lower, Skips, A, CTX, MAX_SLOTS, X};
use crate::Insn;

/// Slots of the longest prologue: context saved, A and X cleared, every scratch word cleared.
const MAX_PROLOGUE: usize = 3 + MEMWORDS;

/// An upper bound on the eBPF slots a classic program of `classic_len` instructions becomes:
/// an output buffer this long never fills.
pub const fn output_bound(classic_len: usize) -> usize {
    classic_len
        .saturating_mul(MAX_SLOTS)
        .saturating_add(MAX_PROLOGUE)
}

/// Where control goes after an instruction.
enum Next {
    /// Nowhere: a `ret`.
    Return,
    /// To the next instruction.
    Fall,
    /// To one target (`ja`, or a conditional jump whose two targets are one).
    Jump(u64),
    /// To the true target or the false target.
    Branch(u64, u64),
}

// `pc` is below `MAX_CLASSIC_INSNS` and the offsets are at most 32 bits: no sum overflows.
fn next(pc: usize, f: SockFilter) -> Next {
    let base = (pc as u64).saturating_add(1);
    match f.class() {
        code::RET => Next::Return,
        code::JMP if f.code == code::JMP | code::JA => Next::Jump(base.saturating_add(f.k as u64)),
        code::JMP if f.jt == f.jf => Next::Jump(base.saturating_add(f.jt as u64)),
        code::JMP => Next::Branch(
            base.saturating_add(f.jt as u64),
            base.saturating_add(f.jf as u64),
        ),
        _ => Next::Fall,
    }
}

/// Reachability marks, one bit per classic instruction.
struct Marks([u64; MAX_CLASSIC_INSNS / 64]);

impl Marks {
    fn set(&mut self, i: u64) {
        if let Some(w) = self.0.get_mut((i / 64) as usize) {
            *w |= 1 << (i % 64);
        }
    }

    fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// Slots that instruction `f` becomes.
fn slots(f: SockFilter) -> usize {
    lower(f, Skips::default()).map_or(0, |s| s.slots().len())
}

/// Slots emitted for the reachable instructions strictly between `from` and `to`.
fn gap(filter: &[SockFilter], marks: &Marks, from: usize, to: u64) -> usize {
    let to = (to as usize).min(filter.len());
    let mut n = 0usize;
    for (j, f) in filter
        .iter()
        .enumerate()
        .take(to)
        .skip(from.saturating_add(1))
    {
        if marks.get(j) {
            n = n.saturating_add(slots(*f));
        }
    }
    n
}

/// Writes slots into `out` from `*at`.
fn put(out: &mut [Insn], at: &mut usize, slots: &[Insn], pc: usize) -> Result<(), CbpfError> {
    let full = CbpfError {
        pc,
        kind: CbpfErrorKind::OutputFull {
            capacity: out.len(),
        },
    };
    let end = at.checked_add(slots.len()).ok_or(full)?;
    out.get_mut(*at..end).ok_or(full)?.copy_from_slice(slots);
    *at = end;
    Ok(())
}

/// Converts a classic BPF program into eBPF slots written to `out`, and returns how many
/// slots it wrote. The result is a socket-filter program: it reads the packet with the legacy
/// packet loads and `__sk_buff.len`, and returns the classic program's return value (how many
/// bytes to keep; 0 drops). Run it through the verifier as
/// [`crate::ProgramType::SocketFilter`].
///
/// Semantics are Linux's and libpcap's: A and X start at 0, scratch words read before any
/// store read 0, a packet load out of bounds and a division or remainder by X = 0 end the
/// filter with 0. [`output_bound`] gives an `out` length that always suffices.
///
/// # Errors
/// A [`CbpfError`] naming the classic instruction at fault: an empty or over-long program, an
/// unknown opcode, a jump at or past the end, a division by a constant 0, a constant shift of
/// 32 or more, a scratch index past 15, a last instruction that is not `ret`, or an `out` too
/// short ([`CbpfErrorKind::OutputFull`]). Instructions are checked in order, the final `ret`
/// after all of them.
pub fn convert(filter: &[SockFilter], out: &mut [Insn]) -> Result<usize, CbpfError> {
    let err = |pc, kind| CbpfError { pc, kind };
    let n = filter.len();
    if n == 0 {
        return Err(err(0, CbpfErrorKind::Empty));
    }
    if n > MAX_CLASSIC_INSNS {
        return Err(err(MAX_CLASSIC_INSNS, CbpfErrorKind::TooLong { len: n }));
    }

    // Pass 1: validate, mark reachable instructions, note the scratch words read.
    let mut marks = Marks([0; MAX_CLASSIC_INSNS / 64]);
    marks.set(0);
    let mut scratch_reads = 0u16;
    let mut x_read = false;
    for (pc, f) in filter.iter().enumerate() {
        lower(*f, Skips::default()).map_err(|kind| err(pc, kind))?;
        let reachable = marks.get(pc);
        let mut target = |t: u64| {
            if t >= n as u64 {
                return Err(err(pc, CbpfErrorKind::JumpOutOfRange { target: t }));
            }
            if reachable {
                marks.set(t);
            }
            Ok(())
        };
        match next(pc, *f) {
            Next::Return => {}
            Next::Fall => target((pc as u64).saturating_add(1)).map_err(|e| {
                // Falling off the end is the missing `ret`, not a jump.
                err(e.pc, CbpfErrorKind::NoFinalReturn)
            })?,
            Next::Jump(t) => target(t)?,
            Next::Branch(t, e) => {
                target(t)?;
                target(e)?;
            }
        }
        if reachable {
            if let Some(k) = lower::scratch_read(*f) {
                scratch_reads |= 1 << (k as usize % MEMWORDS);
            }
            x_read |= lower::reads_x(*f);
        }
    }
    let last = n.saturating_sub(1);
    if filter.get(last).map(|f| f.class()) != Some(code::RET) {
        return Err(err(last, CbpfErrorKind::NoFinalReturn));
    }

    // Pass 2: the prologue, then every reachable instruction.
    let mut at = 0usize;
    put(out, &mut at, &[lower::mov(CTX, 1)], 0)?;
    let first = filter.first().copied().unwrap_or_default();
    if !lower::sets_a_first(first) {
        put(out, &mut at, &[lower::mov32_imm(A, 0)], 0)?;
    }
    if x_read && !lower::sets_x(first) {
        put(out, &mut at, &[lower::mov32_imm(X, 0)], 0)?;
    }
    for k in 0..MEMWORDS as u32 {
        if scratch_reads & (1 << k) != 0 {
            put(out, &mut at, &[lower::st_zero(lower::scratch_off(k))], 0)?;
        }
    }
    for (pc, f) in filter.iter().enumerate() {
        if !marks.get(pc) {
            continue;
        }
        let skips = match next(pc, *f) {
            Next::Return | Next::Fall => Skips::default(),
            Next::Jump(t) => Skips {
                jt: gap(filter, &marks, pc, t),
                jf: 0,
            },
            Next::Branch(t, e) => Skips {
                jt: gap(filter, &marks, pc, t),
                jf: gap(filter, &marks, pc, e),
            },
        };
        let seq = lower(*f, skips).map_err(|kind| err(pc, kind))?;
        put(out, &mut at, seq.slots(), pc)?;
    }
    Ok(at)
}
