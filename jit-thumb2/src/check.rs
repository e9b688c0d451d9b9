//! The check of generated code before it runs: the bytes are decoded back, from the start,
//! and every instruction must be one the translation emits, used as the design uses it.
//!
//! - Every instruction decodes to [`Ins`] (the decoder accepts only the encodings the
//!   encoder produces) and starts at a multiple of 4 bytes; the only 16-bit instructions are
//!   `blx r12; nop`, as one 4-byte unit.
//! - Every `b`, `b<c>` and `bl` lands on an instruction start inside the code.
//! - Every `blx r12` follows `movw r12` and `movt r12` of one of the two routines' addresses.
//! - sp is written only by `push`/`pop` and by the stop path's `ldr sp, [r11, #saved_sp]`;
//!   pc only by branches and by `pop` of the two frames the design has; r11 only by the
//!   prologue's `mov r11, r0` right after its `push`; r10 only by its load from the state and
//!   by `add`/`sub #512` around bpf-to-bpf calls. sp and pc are never source operands (but
//!   for `str sp` to the state and the `mov`/`mvn`/`cmp`/`tst` forms that name pc as "none").
//! - Exclusive accesses (`ldrex`/`strex`, for atomics) are never based on sp, pc, r10 or
//!   r11.
//! - Memory is never addressed through sp (only `push`/`pop` touch the native stack), and
//!   through r11 only inside the state's fields the code uses.
//! - `push` and `pop` lists are the entry frame, a subprogram's frame, or one register pair.

use crate::emit::{Routines, FP, IP, SAVED, ST, SUB_FRAME};
use crate::error::{CheckFailure, JitError, JitErrorKind};
use crate::state::off;
use crate::thumb::{decode, Dp, Ins, Sh, Width, LR, PC, R, SP};

/// Checks `code` (see the module documentation).
///
/// # Errors
/// [`JitErrorKind::Check`] with the offset of the first offending instruction.
pub(crate) fn check(code: &[u8], routines: Routines) -> Result<(), JitError> {
    let fail = |offset: usize, why| {
        JitError::at(
            0,
            JitErrorKind::Check {
                offset: offset as u32,
                why,
            },
        )
    };
    let n = code.len();
    if n % 4 != 0 {
        return Err(fail(n, CheckFailure::Truncated));
    }
    let half =
        |o: usize| -> Option<u16> { code.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]])) };
    let mut prev: [Option<Ins>; 2] = [None, None];
    let mut o = 0;
    while o < n {
        let h1 = half(o).ok_or(fail(o, CheckFailure::Truncated))?;
        let (ins, _) = decode(h1, half(o + 2)).ok_or(fail(o, CheckFailure::Forbidden))?;
        match ins {
            Ins::BlxR12 => {
                let nop = half(o + 2) == Some(0xbf00);
                let target = match prev {
                    [Some(Ins::Movt { rd: IP, imm: hi }), Some(Ins::Movw { rd: IP, imm: lo })] => {
                        Some((hi as u32) << 16 | lo as u32)
                    }
                    _ => None,
                };
                let allowed = target == Some(routines.helper) || target == Some(routines.support);
                if !nop || !allowed {
                    return Err(fail(o, CheckFailure::IndirectCall));
                }
            }
            Ins::Nop => return Err(fail(o, CheckFailure::IndirectCall)),
            Ins::B(rel) | Ins::Bcc(_, rel) | Ins::Bl(rel) => {
                let t = o as i64 + 4 + rel as i64;
                if t < 0 || t >= n as i64 || t % 4 != 0 {
                    return Err(fail(o, CheckFailure::BranchTarget));
                }
            }
            _ => {}
        }
        registers(ins, prev[0]).map_err(|why| fail(o, why))?;
        memory(ins).map_err(|why| fail(o, why))?;
        prev = [Some(ins), prev[0]];
        o += 4;
    }
    Ok(())
}

/// Whether `list` is one of the pairs the translation pushes and pops: the scratch pairs,
/// the BPF register pairs, or r12 with lr (a spare word for the scratch of a long pair).
fn is_pair(list: u16) -> bool {
    [0u16, 2, 4, 6, 8].iter().any(|&a| list == 3 << a)
}

/// The register rules (see the module documentation).
fn registers(ins: Ins, prev: Option<Ins>) -> Result<(), CheckFailure> {
    let bad = Err(CheckFailure::ReservedRegister);
    let plain = |r: R| r != SP && r != PC;
    let reserved = |r: R| r == SP || r == PC || r == ST || r == FP;
    match ins {
        Ins::Push(l) if l == SAVED | 1 << LR || l == SUB_FRAME || is_pair(l) => Ok(()),
        Ins::Pop(l)
            if l == SAVED | 1 << PC || l == (SUB_FRAME & !(1 << LR)) | 1 << PC || is_pair(l) =>
        {
            Ok(())
        }
        Ins::Push(_) | Ins::Pop(_) => bad,
        Ins::DpReg {
            op,
            s,
            rd,
            rn,
            rm,
            sh,
            n,
        } => {
            let none_rn = matches!(op, Dp::Orr | Dp::Orn) && rn == PC;
            if !plain(rm) || !(plain(rn) || none_rn) {
                return bad;
            }
            if rd == PC {
                return if s && matches!(op, Dp::Sub | Dp::And) {
                    Ok(())
                } else {
                    bad
                };
            }
            let prologue_mov = rd == ST
                && op == Dp::Orr
                && rn == PC
                && rm == 0
                && !s
                && sh == Sh::Lsl
                && n == 0
                && prev == Some(Ins::Push(SAVED | 1 << LR));
            if reserved(rd) && !prologue_mov {
                return bad;
            }
            Ok(())
        }
        Ins::DpImm { op, s, rd, rn, imm } => {
            let none_rn = matches!(op, Dp::Orr | Dp::Orn) && rn == PC;
            if !(plain(rn) || none_rn) {
                return bad;
            }
            if rd == PC {
                return if s && matches!(op, Dp::Sub | Dp::And) {
                    Ok(())
                } else {
                    bad
                };
            }
            let frame = rd == FP && rn == FP && !s && imm == 512 && matches!(op, Dp::Add | Dp::Sub);
            if reserved(rd) && !frame {
                return bad;
            }
            Ok(())
        }
        Ins::Movw { rd, .. } | Ins::Movt { rd, .. } => ok_unless(reserved(rd)),
        Ins::ShReg { rd, rn, rm, .. } | Ins::Mul { rd, rn, rm } | Ins::Div { rd, rn, rm, .. } => {
            ok_unless(reserved(rd) || !plain(rn) || !plain(rm))
        }
        Ins::Mla { rd, rn, rm, ra } | Ins::Mls { rd, rn, rm, ra } => {
            ok_unless(reserved(rd) || !plain(rn) || !plain(rm) || !plain(ra))
        }
        Ins::Umull { lo, hi, rn, rm } => {
            ok_unless(reserved(lo) || reserved(hi) || lo == hi || !plain(rn) || !plain(rm))
        }
        Ins::Rev { rd, rm, .. } | Ins::Ext { rd, rm, .. } => ok_unless(reserved(rd) || !plain(rm)),
        Ins::Mem {
            load,
            w,
            rt,
            rn,
            off: o,
            ..
        } => {
            let sp_slot = rt == SP && rn == ST && w == Width::W && o == off::SAVED_SP as i32;
            let fp_load = load && rt == FP && rn == ST && w == Width::W && o == off::FP as i32;
            if rt == SP {
                return ok_unless(!sp_slot);
            }
            ok_unless(load && reserved(rt) && !fp_load)
        }
        Ins::Dual { load, rt, rt2, .. } => ok_unless(
            !plain(rt) || !plain(rt2) || (load && (reserved(rt) || reserved(rt2) || rt == rt2)),
        ),
        Ins::Ldrex { rt, rn } => ok_unless(reserved(rt) || reserved(rn)),
        Ins::Strex { rd, rt, rn } => {
            ok_unless(reserved(rd) || !plain(rt) || reserved(rn) || rd == rt || rd == rn)
        }
        Ins::B(_) | Ins::Bcc(..) | Ins::Bl(_) | Ins::BlxR12 | Ins::Nop | Ins::Dmb => Ok(()),
    }
}

fn ok_unless(bad: bool) -> Result<(), CheckFailure> {
    if bad {
        Err(CheckFailure::ReservedRegister)
    } else {
        Ok(())
    }
}

/// The addressing rules: no access through sp; through r11 only inside the state.
fn memory(ins: Ins) -> Result<(), CheckFailure> {
    let (rn, lo, size) = match ins {
        Ins::Mem { rn, off, w, .. } => (
            rn,
            off,
            match w {
                Width::B => 1,
                Width::H => 2,
                Width::W => 4,
            },
        ),
        Ins::Dual { rn, off, .. } => (rn, off as i32, 8),
        _ => return Ok(()),
    };
    let inside = lo >= 0 && lo + size <= off::END as i32;
    if rn == SP || (rn == ST && !inside) {
        Err(CheckFailure::MemoryBase)
    } else {
        Ok(())
    }
}
