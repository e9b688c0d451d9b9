//! The structure pass: function boundaries, jumps that stay inside their function,
//! reachability of every instruction, and the prune points of the exploration.

use super::error::{TooComplexReason, VerifyError, VerifyErrorKind};
use super::workspace::{Func, MAX_FUNCS};
use crate::isa::opcode::{op, Class, BPF_CALL, BPF_EXIT, BPF_JA, CALL_LOCAL};
use crate::isa::{branch_offset, Insn};

/// The instruction is reachable from the entry.
pub(crate) const REACH: u32 = 1 << 0;
/// Exploration compares states here: jump targets, where paths meet and every loop closes.
/// (The instruction after a branch has the branch as its only predecessor; comparing there
/// would mostly fill the cache.)
pub(crate) const PRUNE: u32 = 1 << 1;
/// A function starts here.
pub(crate) const FUNC_START: u32 = 1 << 2;
/// Accesses the context on some path.
pub(crate) const CTX_ACCESS: u32 = 1 << 3;
/// Accesses other memory on some path.
pub(crate) const OTHER_ACCESS: u32 = 1 << 4;
/// Executed on some explored path.
pub(crate) const VISITED: u32 = 1 << 5;
/// The second slot of an `lddw`.
pub(crate) const SECOND_SLOT: u32 = 1 << 6;

/// What an instruction does to control flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Falls through to `pc + width`.
    Next,
    /// `exit`.
    Exit,
    /// Always goes to the target.
    Jump(usize),
    /// Goes to the target or falls through.
    Branch(usize),
    /// A local call: falls through after the callee at the target returns.
    Call(usize),
}

/// The control flow of the instruction at `pc`.
pub(crate) fn flow(insns: &[Insn], pc: usize) -> Flow {
    let Some(&insn) = insns.get(pc) else {
        return Flow::Exit;
    };
    let target = |rel: i64| (pc as i64).saturating_add(1).saturating_add(rel) as usize;
    match insn.class() {
        Class::Jmp | Class::Jmp32 => match insn.opcode & 0xf0 {
            BPF_EXIT if insn.class() == Class::Jmp => Flow::Exit,
            BPF_CALL if insn.class() == Class::Jmp => {
                if insn.opcode == op::CALL && insn.src() == CALL_LOCAL {
                    Flow::Call(target(insn.imm as i64))
                } else {
                    Flow::Next
                }
            }
            BPF_JA => Flow::Jump(target(branch_offset(insn).unwrap_or(0))),
            _ => Flow::Branch(target(insn.off as i64)),
        },
        _ => Flow::Next,
    }
}

/// Slots taken by the instruction at `pc`.
#[inline]
pub(crate) fn width(insns: &[Insn], pc: usize) -> usize {
    if insns.get(pc).is_some_and(|i| i.is_lddw()) {
        2
    } else {
        1
    }
}

/// Sets `flag` on the facts of `pc`, if it is in the program.
fn set(aux: &mut [u32], pc: usize, flag: u32) {
    if let Some(a) = aux.get_mut(pc) {
        *a |= flag;
    }
}

/// Runs the structure pass over a decoded program, filling `aux` and `funcs`; returns the
/// number of functions.
///
/// # Errors
/// The first structural problem found.
pub(crate) fn check(
    insns: &[Insn],
    aux: &mut [u32],
    funcs: &mut [Func],
) -> Result<usize, VerifyError> {
    let n = insns.len();
    let err = |pc, kind| VerifyError { pc, kind };
    let Some(aux) = aux.get_mut(..n) else {
        return Err(err(
            0,
            VerifyErrorKind::TooComplex(TooComplexReason::ProgramTooLarge),
        ));
    };
    aux.fill(0);
    set(aux, 0, FUNC_START);
    let mut pc = 0;
    while pc < n {
        let w = width(insns, pc);
        if w == 2 {
            set(aux, pc.saturating_add(1), SECOND_SLOT);
        }
        if let Flow::Call(t) = flow(insns, pc) {
            if let Some(a) = aux.get_mut(t) {
                *a |= FUNC_START;
            }
        }
        pc = pc.saturating_add(w);
    }
    // The function table, in program order.
    let mut nfuncs = 0;
    for (pc, a) in aux.iter().enumerate() {
        if a & FUNC_START != 0 {
            let Some(f) = funcs.get_mut(nfuncs).filter(|_| nfuncs < MAX_FUNCS) else {
                return Err(err(
                    pc,
                    VerifyErrorKind::TooComplex(TooComplexReason::TooManyFunctions),
                ));
            };
            *f = Func {
                start: pc as u32,
                depth: 0,
            };
            nfuncs = nfuncs.saturating_add(1);
        }
    }
    // Boundaries: jumps stay inside, and the last slot of each function does not fall into
    // the next one.
    for (fi, func) in funcs.iter().enumerate().take(nfuncs) {
        let start = func.start as usize;
        let end = funcs
            .get(fi.saturating_add(1))
            .filter(|_| fi.saturating_add(1) < nfuncs)
            .map_or(n, |f| f.start as usize);
        // A function holds at least its first slot: `end > start >= 0`.
        let last = end.saturating_sub(1);
        let last_ok = aux.get(last).is_some_and(|a| a & SECOND_SLOT == 0)
            && matches!(flow(insns, last), Flow::Exit | Flow::Jump(_));
        if !last_ok {
            return Err(err(last, VerifyErrorKind::FunctionFallsThrough));
        }
        let mut pc = start;
        while pc < end {
            if let Flow::Jump(t) | Flow::Branch(t) = flow(insns, pc) {
                if t < start || t >= end {
                    return Err(err(pc, VerifyErrorKind::JumpOutOfFunction { to: t }));
                }
            }
            pc = pc.saturating_add(width(insns, pc));
        }
    }
    // Reachability, by repeated forward passes (a pass is enough unless a back edge reaches
    // new code).
    set(aux, 0, REACH);
    loop {
        let mut again = false;
        let mut pc = 0;
        while pc < n {
            if aux.get(pc).is_some_and(|a| a & REACH != 0) {
                let w = width(insns, pc);
                let mut mark = |t: usize, aux: &mut [u32]| {
                    if let Some(a) = aux.get_mut(t) {
                        if *a & REACH == 0 {
                            *a |= REACH;
                            if t <= pc {
                                again = true;
                            }
                        }
                    }
                };
                match flow(insns, pc) {
                    Flow::Next => mark(pc.saturating_add(w), aux),
                    Flow::Exit => {}
                    Flow::Jump(t) => {
                        mark(t, aux);
                        set(aux, t, PRUNE);
                    }
                    Flow::Branch(t) => {
                        mark(t, aux);
                        mark(pc.saturating_add(1), aux);
                        set(aux, t, PRUNE);
                    }
                    Flow::Call(t) => {
                        mark(t, aux);
                        mark(pc.saturating_add(1), aux);
                    }
                }
            }
            pc = pc.saturating_add(width(insns, pc));
        }
        if !again {
            break;
        }
    }
    for (pc, a) in aux.iter().enumerate() {
        if a & (REACH | SECOND_SLOT) == 0 {
            return Err(err(pc, VerifyErrorKind::Unreachable));
        }
    }
    Ok(nfuncs)
}

/// The index of the function containing `pc`.
pub(crate) fn func_of(funcs: &[Func], pc: usize) -> usize {
    funcs
        .partition_point(|f| f.start as usize <= pc)
        .saturating_sub(1)
}
