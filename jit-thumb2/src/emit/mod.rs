//! Translation of BPF instructions to Thumb-2, into the caller's buffer, without allocation.
//!
//! Registers: r11 holds the run state ([`crate::state::JitState`]) and r10 the low word of
//! BPF r10 (addresses are 32 bits; its high word is zero). Three BPF registers, the ones a
//! program names most, live in the pairs r4:r5, r6:r7 and r8:r9 (callee-saved under the
//! AAPCS, so they survive helper calls); the others live in the state. r0 to r3, r12 and lr
//! are scratch: a destination read from the state goes to r0:r1, a source to r2:r3.
//!
//! Layout: first the shared stubs (the stop path every trap and tail call leaves through,
//! the call-depth trap), then each program: its prologue and its body. Every branch to a
//! BPF slot is a 32-bit `b.w`/`b<c>.w`/`bl`, so the code has the same size whatever the
//! offsets: each program is emitted twice, the first time to learn the offset of every slot
//! (kept in the caller's workspace), the second with the final offsets.

mod alu;
mod flow;
mod mem;

use crate::error::{JitError, JitErrorKind};
use crate::state::{self, off};
use crate::thumb::{encode, modified_imm, Cond, Dp, Ins, Sh, Width, LR, PC, R, SP};
use nanobpf_core::opcode::CALL_LOCAL;
use nanobpf_core::opcode::{CALL, EXIT, LDDW};
use nanobpf_core::Insn;

pub(crate) type Emit = Result<(), JitErrorKind>;

/// The state register.
pub(crate) const ST: R = 11;
/// The BPF frame pointer's low word.
pub(crate) const FP: R = 10;
/// Scratch registers.
pub(crate) const R0: R = 0;
pub(crate) const R1: R = 1;
pub(crate) const R2: R = 2;
pub(crate) const R3: R = 3;
pub(crate) const IP: R = 12;
/// Pairs for BPF registers kept in ARM registers.
pub(crate) const PAIRS: [(R, R); 3] = [(4, 5), (6, 7), (8, 9)];
/// What the entry prologue pushes and the epilogue pops (r3 keeps sp 8-byte aligned).
pub(crate) const SAVED: u16 = 0x0ff8;
/// A subprogram's frame: its return address and a pad word.
pub(crate) const SUB_FRAME: u16 = 1 << IP | 1 << LR;

/// Flags kept in the high bits of a workspace slot beside its code offset.
const FUNC_START: u32 = 1 << 31;
const SECOND: u32 = 1 << 30;
const JUMP_TARGET: u32 = 1 << 29;
const OFFSET_MASK: u32 = (1 << 29) - 1;
/// Only r10's high word is known to be zero where control flows together.
const ONLY_FP: u16 = 1 << 10;

/// Where a BPF register lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    /// In an ARM register pair (low word, high word).
    Pair(R, R),
    /// In the state, at this offset.
    Mem(u16),
    /// r10: its low word in ARM r10, its high word zero.
    Fp,
}

/// The addresses of the two routines generated code calls (with the Thumb bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Routines {
    /// `helper(state, id, tail) -> u64`.
    pub helper: u32,
    /// `support(state, op) -> u64`.
    pub support: u32,
    /// The lock word of 64-bit atomics (Cortex-M has no 64-bit exclusive access).
    pub lock64: u32,
}

/// Offsets of the shared stubs.
#[derive(Clone, Copy, Debug, Default)]
struct Stubs {
    stop: u32,
    trap_depth: u32,
    trap_misaligned: u32,
    trap_budget: u32,
}

/// Resolves an `lddw`'s value (through the runtime, see `crate::rt`).
pub(crate) type LddwFn<'f> = &'f dyn Fn(Insn, Insn) -> Option<u64>;

/// The emitter: the buffer, the write position, and the current program's translation state.
pub(crate) struct Emitter<'b> {
    buf: &'b mut [u8],
    pos: usize,
    /// Per slot of the current program: its code offset and flags.
    slots: &'b mut [u32],
    final_pass: bool,
    locs: [Loc; 11],
    stubs: Stubs,
    routines: Routines,
    /// Whether the slot being translated belongs to the entry function (not a subprogram).
    in_main: bool,
    /// BPF registers whose high word is known to be zero here (bit per register): set by
    /// 32-bit results, zero-extending loads and small constants, inherited by moves; only
    /// r10 at jump targets, function starts and after calls. A purely local fact, so it needs
    /// nothing from the verifier and holds on every path into the next slot.
    hi_zero: u16,
    /// Whether the code meters instructions against the state's budget.
    metered: bool,
}

impl<'b> Emitter<'b> {
    /// An emitter writing at the start of `buf`, with `slots` as its workspace.
    pub(crate) fn new(
        buf: &'b mut [u8],
        slots: &'b mut [u32],
        routines: Routines,
        metered: bool,
    ) -> Self {
        Emitter {
            buf,
            pos: 0,
            slots,
            final_pass: false,
            locs: [Loc::Fp; 11],
            stubs: Stubs::default(),
            routines,
            in_main: true,
            hi_zero: ONLY_FP,
            metered,
        }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.pos
    }

    /// Emits one instruction.
    pub(crate) fn ins(&mut self, i: Ins) -> Emit {
        let (h1, h2) = encode(i).ok_or(JitErrorKind::OutOfRange)?;
        self.half(h1)?;
        if let Some(h2) = h2 {
            self.half(h2)?;
        }
        Ok(())
    }

    fn half(&mut self, h: u16) -> Emit {
        let dst = self
            .buf
            .get_mut(self.pos..self.pos + 2)
            .ok_or(JitErrorKind::BufferTooSmall)?;
        dst.copy_from_slice(&h.to_le_bytes());
        self.pos += 2;
        Ok(())
    }

    /// The code offset of the next instruction, as a branch source's `pc` (address + 4).
    fn here(&self) -> i64 {
        self.pos as i64 + 4
    }

    /// The shared stubs, at the start of the buffer.
    pub(crate) fn stubs(&mut self) -> Emit {
        self.stubs.stop = self.pos as u32;
        self.ldr(SP, ST, off::SAVED_SP)?;
        self.ins(Ins::Pop(SAVED | 1 << PC))?;
        let stop = self.stubs.stop;
        self.stubs.trap_depth = self.pos as u32;
        self.trap_stub(nanobpf_core::Trap::CallDepth, stop)?;
        self.stubs.trap_misaligned = self.pos as u32;
        self.trap_stub(nanobpf_core::Trap::Misaligned, stop)?;
        self.stubs.trap_budget = self.pos as u32;
        self.trap_stub(nanobpf_core::Trap::BudgetExhausted, stop)
    }

    /// Records trap `t`, asks to stop, and leaves through the stop stub.
    fn trap_stub(&mut self, t: nanobpf_core::Trap, stop: u32) -> Emit {
        self.mov32(IP, t as u8 as u32)?;
        self.str(IP, ST, off::TRAP)?;
        self.str(IP, ST, off::STOP)?;
        self.b_to(None, stop)
    }

    /// Compiles one program at the current position; returns its entry offset.
    pub(crate) fn program(&mut self, insns: &[Insn], lddw: LddwFn<'_>) -> Result<u32, JitError> {
        let n = insns.len();
        if self.slots.len() < n {
            return Err(JitError::at(0, JitErrorKind::WorkspaceTooSmall));
        }
        self.analyse(insns)?;
        self.locs = choose_locations(insns);
        let start = self.pos;
        for pass in [false, true] {
            self.final_pass = pass;
            self.pos = start;
            self.in_main = true;
            self.hi_zero = ONLY_FP;
            self.prologue().map_err(|k| JitError::at(0, k))?;
            let mut pc = 0;
            // Whether the previous slot ended a metering segment (the first slot starts one).
            let mut after_end = true;
            while pc < n {
                let at = |k| JitError::at(pc, k);
                let flags = self.slots[pc] & !OFFSET_MASK;
                if flags & SECOND != 0 {
                    pc += 1;
                    continue;
                }
                if flags & (JUMP_TARGET | FUNC_START) != 0 {
                    self.hi_zero = ONLY_FP;
                }
                if self.pos > OFFSET_MASK as usize {
                    return Err(at(JitErrorKind::OutOfRange));
                }
                self.slots[pc] = flags | self.pos as u32;
                if flags & FUNC_START != 0 {
                    self.in_main = false;
                    self.ins(Ins::Push(SUB_FRAME)).map_err(at)?;
                }
                if self.metered && (after_end || flags & (JUMP_TARGET | FUNC_START) != 0) {
                    let n = segment_len(insns, self.slots, pc);
                    self.meter(n).map_err(at)?;
                }
                self.insn(insns, pc, lddw).map_err(at)?;
                after_end = ends_segment(&insns[pc]);
                pc += if insns[pc].opcode == LDDW { 2 } else { 1 };
            }
        }
        Ok(start as u32)
    }

    /// Marks function starts and `lddw` second slots in the workspace; checks jump targets.
    fn analyse(&mut self, insns: &[Insn]) -> Result<(), JitError> {
        let n = insns.len();
        for s in self.slots.iter_mut().take(n) {
            *s = 0;
        }
        let mut pc = 0;
        while pc < n {
            if insns[pc].opcode == LDDW {
                match self.slots.get_mut(pc + 1) {
                    Some(s) if pc + 1 < n => *s = SECOND,
                    _ => return Err(JitError::at(pc, JitErrorKind::Unsupported)),
                }
                pc += 2;
            } else {
                pc += 1;
            }
        }
        for (pc, insn) in insns.iter().enumerate() {
            if insn.opcode == CALL && insn.src() == CALL_LOCAL {
                let t = target(pc, insn.imm as i64, n)?;
                if t == 0 || self.slots[t] & SECOND != 0 {
                    return Err(JitError::at(pc, JitErrorKind::BadTarget));
                }
                self.slots[t] |= FUNC_START;
            }
        }
        // Jumps must stay inside their function: the verifier guarantees it; a translation
        // that relied on it silently would pop the wrong frame.
        let mut func = 0;
        for (pc, &insn) in insns.iter().enumerate() {
            if self.slots[pc] & FUNC_START != 0 {
                func = pc;
            }
            let class = insn.opcode & 7;
            if self.slots[pc] & SECOND != 0 || !(class == 5 || class == 6) {
                continue;
            }
            let rel = match insn.opcode {
                0x06 => insn.imm as i64,
                0x85 | 0x8d | 0x95 => continue,
                _ => insn.off as i64,
            };
            let t = target(pc, rel, n)?;
            let t_func = (0..=t)
                .rev()
                .find(|&p| self.slots[p] & FUNC_START != 0)
                .unwrap_or(0);
            if t_func != func || self.slots[t] & SECOND != 0 {
                return Err(JitError::at(pc, JitErrorKind::BadTarget));
            }
            self.slots[t] |= JUMP_TARGET;
        }
        Ok(())
    }

    /// Takes `n` instructions from the budget, or traps if fewer are left (before any of the
    /// segment's instructions: only its last one has effects beyond registers, so the trap
    /// leaves memory as the interpreter leaves it, stopping inside the segment).
    fn meter(&mut self, n: u32) -> Emit {
        self.dual(true, IP, LR, ST, off::BUDGET)?;
        let o = self.opnd(n, R0)?;
        self.dp(Dp::Sub, true, IP, IP, o)?;
        self.dp(Dp::Sbc, true, LR, LR, Opnd::I(0))?;
        self.dual(false, IP, LR, ST, off::BUDGET)?;
        let trap = self.stubs.trap_budget;
        self.b_stub(Cond::Lo, trap)
    }

    /// Entry prologue: save the caller's registers, take the state, load r10 and the pairs.
    fn prologue(&mut self) -> Emit {
        self.ins(Ins::Push(SAVED | 1 << LR))?;
        self.mov(ST, R0)?;
        self.str(SP, ST, off::SAVED_SP)?;
        self.ldr(FP, ST, off::FP)?;
        for r in 0..10u8 {
            if let Loc::Pair(lo, hi) = self.locs[r as usize] {
                self.dual(true, lo, hi, ST, state::reg(r))?;
            }
        }
        Ok(())
    }

    // ---- branches ----

    /// The code offset a jump to slot `t` lands on (after a subprogram's frame push).
    fn jump_target(&self, t: usize) -> Result<u32, JitErrorKind> {
        let s = *self.slots.get(t).ok_or(JitErrorKind::BadTarget)?;
        let skip = if s & FUNC_START != 0 { 4 } else { 0 };
        Ok((s & OFFSET_MASK) + skip)
    }

    /// `b.w` or `b<c>.w` to code offset `to` (known only in the final pass for forward slots).
    fn b_to(&mut self, cond: Option<Cond>, to: u32) -> Emit {
        let rel = to as i64 - self.here();
        let rel = if self.final_pass || rel < 0 { rel } else { 0 };
        let rel = i32::try_from(rel).map_err(|_| JitErrorKind::OutOfRange)?;
        self.ins(match cond {
            None => Ins::B(rel),
            Some(c) => Ins::Bcc(c, rel),
        })
    }

    /// A branch to the stub at `to` (always known: stubs come first).
    fn b_stub(&mut self, cond: Cond, to: u32) -> Emit {
        let rel = i32::try_from(to as i64 - self.here()).map_err(|_| JitErrorKind::OutOfRange)?;
        self.ins(Ins::Bcc(cond, rel))
    }

    /// A branch to BPF slot `t`.
    fn jump(&mut self, cond: Option<Cond>, t: usize) -> Emit {
        let to = self.jump_target(t)?;
        self.b_to(cond, to)
    }

    /// `bl` to the subprogram starting at slot `t`.
    fn call_local(&mut self, t: usize) -> Emit {
        let to = self.slots.get(t).ok_or(JitErrorKind::BadTarget)? & OFFSET_MASK;
        let rel = to as i64 - self.here();
        let rel = if self.final_pass || rel < 0 { rel } else { 0 };
        self.ins(Ins::Bl(
            i32::try_from(rel).map_err(|_| JitErrorKind::OutOfRange)?,
        ))
    }

    /// `cmp`/`tst`-style flag setting with a register or an immediate.
    fn flags(&mut self, op: Dp, rn: R, rm: Opnd) -> Emit {
        self.dp(op, true, PC, rn, rm)
    }

    // ---- plain instructions ----

    pub(crate) fn dp(&mut self, op: Dp, s: bool, rd: R, rn: R, rm: Opnd) -> Emit {
        match rm {
            Opnd::R(rm) => self.ins(Ins::DpReg {
                op,
                s,
                rd,
                rn,
                rm,
                sh: Sh::Lsl,
                n: 0,
            }),
            Opnd::I(imm) => self.ins(Ins::DpImm { op, s, rd, rn, imm }),
        }
    }

    pub(crate) fn dp_sh(&mut self, op: Dp, rd: R, rn: R, rm: R, sh: Sh, n: u8) -> Emit {
        self.ins(Ins::DpReg {
            op,
            s: false,
            rd,
            rn,
            rm,
            sh,
            n,
        })
    }

    pub(crate) fn mov(&mut self, rd: R, rm: R) -> Emit {
        if rd == rm {
            return Ok(());
        }
        self.dp(Dp::Orr, false, rd, PC, Opnd::R(rm))
    }

    /// `rd = v` in the fewest instructions.
    pub(crate) fn mov32(&mut self, rd: R, v: u32) -> Emit {
        if modified_imm(v).is_some() {
            self.dp(Dp::Orr, false, rd, PC, Opnd::I(v))
        } else if modified_imm(!v).is_some() {
            self.dp(Dp::Orn, false, rd, PC, Opnd::I(!v))
        } else {
            self.ins(Ins::Movw { rd, imm: v as u16 })?;
            if v >> 16 != 0 {
                self.ins(Ins::Movt {
                    rd,
                    imm: (v >> 16) as u16,
                })?;
            }
            Ok(())
        }
    }

    /// `v` as an operand: an immediate when it encodes, else materialised in `scratch`.
    pub(crate) fn opnd(&mut self, v: u32, scratch: R) -> Result<Opnd, JitErrorKind> {
        if modified_imm(v).is_some() {
            Ok(Opnd::I(v))
        } else {
            self.mov32(scratch, v)?;
            Ok(Opnd::R(scratch))
        }
    }

    pub(crate) fn ldr(&mut self, rt: R, rn: R, off: u16) -> Emit {
        self.mem(true, false, Width::W, rt, rn, off as i32)
    }

    pub(crate) fn str(&mut self, rt: R, rn: R, off: u16) -> Emit {
        self.mem(false, false, Width::W, rt, rn, off as i32)
    }

    pub(crate) fn mem(
        &mut self,
        load: bool,
        signed: bool,
        w: Width,
        rt: R,
        rn: R,
        off: i32,
    ) -> Emit {
        self.ins(Ins::Mem {
            load,
            signed,
            w,
            rt,
            rn,
            off,
        })
    }

    pub(crate) fn dual(&mut self, load: bool, rt: R, rt2: R, rn: R, off: u16) -> Emit {
        self.ins(Ins::Dual {
            load,
            rt,
            rt2,
            rn,
            off,
        })
    }

    // ---- BPF registers ----

    pub(crate) fn loc(&self, r: u8) -> Result<Loc, JitErrorKind> {
        self.locs
            .get(r as usize)
            .copied()
            .ok_or(JitErrorKind::Unsupported)
    }

    /// The register holding BPF `r`'s low word: its own, or `scratch` loaded from the state.
    pub(crate) fn lo(&mut self, r: u8, scratch: R) -> Result<R, JitErrorKind> {
        Ok(match self.loc(r)? {
            Loc::Pair(lo, _) => lo,
            Loc::Fp => FP,
            Loc::Mem(o) => {
                self.ldr(scratch, ST, o)?;
                scratch
            }
        })
    }

    /// The registers holding BPF `r`: its own pair, or `scratch` loaded.
    pub(crate) fn pair(&mut self, r: u8, scratch: (R, R)) -> Result<(R, R), JitErrorKind> {
        Ok(match self.loc(r)? {
            Loc::Pair(lo, hi) => (lo, hi),
            Loc::Fp => {
                self.mov(scratch.0, FP)?;
                self.mov32(scratch.1, 0)?;
                scratch
            }
            Loc::Mem(o) => {
                self.dual(true, scratch.0, scratch.1, ST, o)?;
                scratch
            }
        })
    }

    /// Whether BPF `r`'s high word is known to be zero.
    pub(crate) fn known_zero_hi(&self, r: u8) -> bool {
        r < 11 && self.hi_zero & 1 << r != 0
    }

    /// Records whether BPF `r`'s high word is known to be zero.
    pub(crate) fn set_zero_hi(&mut self, r: u8, zero: bool) {
        if r < 11 {
            if zero {
                self.hi_zero |= 1 << r;
            } else {
                self.hi_zero &= !(1 << r);
            }
        }
    }

    /// Forgets what is known of the high words of r0 to r5 (after a call).
    pub(crate) fn forget_args(&mut self) {
        self.hi_zero &= !0x3f;
    }

    /// Writes `(lo, hi)` to BPF `r`.
    pub(crate) fn commit(&mut self, r: u8, (lo, hi): (R, R)) -> Emit {
        self.set_zero_hi(r, false);
        match self.loc(r)? {
            Loc::Pair(pl, ph) => {
                if lo == ph && hi == pl {
                    // A swap through the scratch register.
                    self.mov(IP, lo)?;
                    self.mov(ph, hi)?;
                    self.mov(pl, IP)
                } else if hi == pl {
                    self.mov(ph, hi)?;
                    self.mov(pl, lo)
                } else {
                    self.mov(pl, lo)?;
                    self.mov(ph, hi)
                }
            }
            Loc::Mem(o) => self.dual(false, lo, hi, ST, o),
            Loc::Fp => Err(JitErrorKind::Unsupported),
        }
    }

    /// Writes `lo` to BPF `r`'s low word and zero to its high word.
    pub(crate) fn commit32(&mut self, r: u8, lo: R) -> Emit {
        let known = self.known_zero_hi(r);
        self.set_zero_hi(r, true);
        match self.loc(r)? {
            Loc::Pair(pl, ph) => {
                self.mov(pl, lo)?;
                if known {
                    return Ok(());
                }
                self.mov32(ph, 0)
            }
            Loc::Mem(o) if known => self.str(lo, ST, o),
            Loc::Mem(o) => {
                let z = if lo == LR { R3 } else { LR };
                self.mov32(z, 0)?;
                self.dual(false, lo, z, ST, o)
            }
            Loc::Fp => Err(JitErrorKind::Unsupported),
        }
    }

    /// Writes `lo` to BPF `r`'s low word and its sign to the high word.
    pub(crate) fn commit_sext(&mut self, r: u8, lo: R) -> Emit {
        self.set_zero_hi(r, false);
        match self.loc(r)? {
            Loc::Pair(pl, ph) => {
                self.mov(pl, lo)?;
                self.dp_sh(Dp::Orr, ph, PC, pl, Sh::Asr, 31)
            }
            Loc::Mem(o) => {
                let z = if lo == LR { R3 } else { LR };
                self.dp_sh(Dp::Orr, z, PC, lo, Sh::Asr, 31)?;
                self.dual(false, lo, z, ST, o)
            }
            Loc::Fp => Err(JitErrorKind::Unsupported),
        }
    }

    /// Stores the BPF registers kept in ARM registers among `regs` to the state.
    pub(crate) fn flush(&mut self, regs: core::ops::RangeInclusive<u8>) -> Emit {
        for r in regs {
            if let Loc::Pair(lo, hi) = self.loc(r)? {
                self.dual(false, lo, hi, ST, state::reg(r))?;
            }
        }
        Ok(())
    }

    /// Calls a routine: `r0 = state`, `r1 = a1`, `r2 = a2`, then `blx` through r12. The
    /// result is in r0:r1. `a1` is in `r1` already when `None`.
    pub(crate) fn call_routine(&mut self, addr: u32, a1: Option<u32>, a2: Option<u32>) -> Emit {
        self.mov(R0, ST)?;
        if let Some(v) = a1 {
            self.mov32(R1, v)?;
        }
        if let Some(v) = a2 {
            self.mov32(R2, v)?;
        }
        self.ins(Ins::Movw {
            rd: IP,
            imm: addr as u16,
        })?;
        self.ins(Ins::Movt {
            rd: IP,
            imm: (addr >> 16) as u16,
        })?;
        self.ins(Ins::BlxR12)?;
        self.ins(Ins::Nop)
    }

    /// After a routine that may stop the run: leave through the stop stub if it did.
    pub(crate) fn stop_check(&mut self) -> Emit {
        self.ldr(IP, ST, off::STOP)?;
        self.flags(Dp::Sub, IP, Opnd::I(0))?;
        let stop = self.stubs.stop;
        self.b_stub(Cond::Ne, stop)
    }

    fn insn(&mut self, insns: &[Insn], pc: usize, lddw: LddwFn<'_>) -> Emit {
        let insn = insns[pc];
        match insn.opcode & 7 {
            4 | 7 => self.alu(&insn),
            1 => self.load(&insn),
            2 | 3 => self.store(&insn),
            0 if insn.opcode == LDDW => {
                let next = insns.get(pc + 1).ok_or(JitErrorKind::Unsupported)?;
                let v = lddw(insn, *next).ok_or(JitErrorKind::UnresolvedMap)?;
                self.lddw(insn.dst(), v)
            }
            0 => self.packet_load(&insn),
            _ => self.flow(&insn, pc, insns.len()),
        }
    }
}

/// Whether `insn` ends a metering segment: it may have an effect beyond registers (a store,
/// an atomic, a call, a legacy packet load), or change control.
fn ends_segment(insn: &Insn) -> bool {
    let class = insn.opcode & 7;
    matches!(class, 2 | 3 | 5 | 6) || (class == 0 && insn.opcode != LDDW)
}

/// Instructions of the segment starting at `pc`: up to and including the first that ends a
/// segment, or up to the next jump target or function start.
fn segment_len(insns: &[Insn], slots: &[u32], pc: usize) -> u32 {
    let mut n = 0;
    let mut p = pc;
    while let Some(insn) = insns.get(p) {
        if p != pc
            && slots
                .get(p)
                .is_some_and(|s| s & (JUMP_TARGET | FUNC_START) != 0)
        {
            break;
        }
        n += 1;
        if ends_segment(insn) {
            break;
        }
        p += if insn.opcode == LDDW { 2 } else { 1 };
    }
    n
}

/// A second operand: a register or a modified-immediate constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opnd {
    R(R),
    I(u32),
}

/// The slot a jump or call at `pc` with relative offset `rel` reaches.
fn target(pc: usize, rel: i64, n: usize) -> Result<usize, JitError> {
    let t = (pc as i64 + 1).wrapping_add(rel);
    match usize::try_from(t) {
        Ok(t) if t < n => Ok(t),
        _ => Err(JitError::at(pc, JitErrorKind::BadTarget)),
    }
}

/// Where each BPF register lives: the three with the most weighted uses in pairs, the others
/// in the state, r10 in ARM r10. r6 to r9 count twice (they live across helper calls, which
/// must store r1 to r5 to the state anyway); loop bodies are not weighted.
pub(crate) fn choose_locations(insns: &[Insn]) -> [Loc; 11] {
    let mut uses = [0u32; 10];
    for insn in insns {
        let x = insn.opcode & 0x08 != 0;
        let (dst, src) = match insn.opcode & 7 {
            4 | 7 => (true, x),
            5 | 6 => match insn.opcode {
                CALL | EXIT | 0x05 | 0x06 => (false, false),
                _ => (true, x),
            },
            1 | 3 => (true, true),
            2 => (true, false),
            _ => (insn.opcode == LDDW, insn.opcode & 0xe0 == 0x40),
        };
        for (used, r) in [(dst, insn.dst()), (src, insn.src())] {
            if let Some(u) = uses.get_mut(r as usize).filter(|_| used) {
                *u += if (6..=9).contains(&r) { 2 } else { 1 };
            }
        }
    }
    let mut locs = [Loc::Fp; 11];
    for (r, l) in locs.iter_mut().enumerate().take(10) {
        *l = Loc::Mem(state::reg(r as u8));
    }
    for &pair in PAIRS.iter() {
        let best = (0..10)
            .filter(|&r| uses[r] > 0)
            .max_by_key(|&r| (uses[r], core::cmp::Reverse(r)));
        if let Some(r) = best {
            locs[r] = Loc::Pair(pair.0, pair.1);
            uses[r] = 0;
        }
    }
    locs
}
