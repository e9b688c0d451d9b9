//! The exploration driver: walks paths one instruction at a time, keeps the pending branches,
//! prunes at prune points, and dispatches each instruction to its class's transfer function.

use super::cfg::{self, PRUNE, VISITED};
use super::error::{TooComplexReason, VerifyError, VerifyErrorKind};
use super::liveness::SlotTable;
use super::log;
use super::rule::Rule;
use super::scalar::Scalar;
use super::state::{Kind, Value};
use super::workspace::View;
use super::VerifyTarget;
use crate::host::ContextLayout;
use crate::isa::opcode::{op, Class, BPF_CALL, BPF_EXIT, BPF_JA};
use crate::isa::Insn;
use crate::ProgramType;

/// Largest constant or variable offset a pointer may carry (Linux's `BPF_MAX_VAR_OFF`).
pub(crate) const MAX_VAR_OFF: i64 = 1 << 29;
/// Largest packet offset a range proof accepts (Linux's `MAX_PACKET_OFF`).
pub(crate) const MAX_PACKET_OFF: i64 = 0xffff;

/// Where an instruction sends the current path.
pub(crate) enum Step {
    /// Continue at this pc.
    Goto(usize),
    /// The path ends (main `exit`, or an impossible state).
    End,
}

pub(crate) type Res<T> = Result<T, VerifyError>;

/// One verification run.
pub(crate) struct Checker<'a, 'w, 'l> {
    pub insns: &'a [Insn],
    pub env: &'a VerifyTarget<'a>,
    pub ctx: Option<ContextLayout>,
    pub ws: View<'w>,
    pub nfuncs: usize,
    pub next_id: u32,
    pub processed: u32,
    pub log: Option<&'l mut dyn core::fmt::Write>,
    /// Rules switched off, one bit each ([`Rule::bit`]); 0 but in tests of the rules.
    pub lifted: u8,
    /// The stack slots live at each prune point.
    pub slots: SlotTable<'w>,
}

impl<'a, 'w, 'l> Checker<'a, 'w, 'l> {
    #[inline]
    pub fn err(&self, pc: usize, kind: VerifyErrorKind) -> VerifyError {
        VerifyError { pc, kind }
    }

    /// Whether a soundness rule applies: always, except in a test that lifted it
    /// (`verify_lifting`).
    #[inline]
    pub fn enforces(&self, rule: Rule) -> bool {
        self.lifted & rule.bit() == 0
    }

    /// The value of register `r`, which must be initialised.
    pub fn read(&self, pc: usize, r: u8) -> Res<Value> {
        let v = *self.ws.cur.reg(r);
        if v.kind == Kind::Uninit {
            return Err(self.err(pc, VerifyErrorKind::UninitRegister { reg: r }));
        }
        Ok(v)
    }

    /// A scalar register.
    pub fn read_scalar(&self, pc: usize, r: u8, into: super::error::LeakTarget) -> Res<Scalar> {
        let v = self.read(pc, r)?;
        if v.kind != Kind::Scalar {
            return Err(self.err(pc, VerifyErrorKind::PointerLeak { reg: r, into }));
        }
        Ok(v.s)
    }

    pub fn set(&mut self, r: u8, v: Value) {
        *self.ws.cur.reg_mut(r) = v;
    }

    /// A new id for a packet pointer, a nullable pointer or a group of linked scalars;
    /// always below [`LINK_ID_BASE`](super::state::LINK_ID_BASE).
    pub fn fresh_id(&mut self) -> u32 {
        self.next_id = self.next_id.saturating_add(1) % super::state::LINK_ID_BASE;
        self.next_id = self.next_id.max(1);
        self.next_id
    }

    /// The entry state: r1 is the context (or the memory buffer), r10 the frame pointer.
    fn init_state(&mut self) {
        let st = &mut *self.ws.cur;
        st.clear();
        let f = &mut st.frames[0];
        f.regs[10] = Value::ptr(Kind::Stack, 0);
        match self.env.prog_type {
            ProgramType::Memory { len } => {
                f.regs[1] = Value::ptr(Kind::Mem, 0);
                f.regs[2] = Value::constant(len as u64);
            }
            ProgramType::Xdp | ProgramType::SocketFilter | ProgramType::Tc => {
                f.regs[1] = Value::ptr(Kind::Ctx, 0);
            }
        }
    }

    /// Explores every path.
    pub fn run(&mut self) -> Res<()> {
        self.init_state();
        let mut pc = 0usize;
        loop {
            self.processed = self.processed.saturating_add(1);
            if self.processed > self.env.budget {
                return Err(self.err(pc, VerifyErrorKind::TooComplex(TooComplexReason::Budget)));
            }
            let flags = self.ws.aux.get(pc).copied().unwrap_or(0);
            if flags & PRUNE != 0 && self.prune(pc)? {
                if let Some(l) = self.log.as_mut() {
                    let _ = writeln!(l, "{pc}: safe");
                }
                match self.pop() {
                    Some(p) => {
                        pc = p;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            if let Some(a) = self.ws.aux.get_mut(pc) {
                *a |= VISITED;
            }
            if let Some(l) = self.log.as_mut() {
                log::write_step(&mut **l, self.insns, pc, self.ws.cur);
            }
            match self.step(pc)? {
                Step::Goto(next) => pc = next,
                Step::End => match self.pop() {
                    Some(p) => {
                        if let Some(l) = self.log.as_mut() {
                            let _ = writeln!(l, "from branch to {p}");
                        }
                        pc = p;
                    }
                    None => return Ok(()),
                },
            }
        }
    }

    /// Pops the next pending branch into the current state.
    fn pop(&mut self) -> Option<usize> {
        let pc = self.ws.branches.pop(self.ws.cur)?;
        let len = self.ws.branches.len();
        self.ws.cache.complete_above(len);
        Some(pc)
    }

    /// Whether the side of a branch going to `target` should be explored first: a forward
    /// jump's target, or a backward one where a completely explored state is cached (a
    /// path that rejoins explored code is likely to be pruned at once rather than wait on
    /// the branch stack). The order only decides what waits, never what is explored.
    pub fn target_first(&self, pc: usize, target: usize) -> bool {
        if target > pc.saturating_add(1) {
            return true;
        }
        if self.ws.aux.get(target).is_none_or(|a| a & PRUNE == 0) {
            return false;
        }
        let mut from = 0;
        loop {
            match self.ws.cache.find_raw(target, from) {
                Some((_, true, _)) => return true,
                Some((next, false, _)) => from = next,
                None => return false,
            }
        }
    }

    /// Queues the current state to be explored from `pc` later.
    pub fn push(&mut self, at: usize, pc: usize) -> Res<()> {
        let live = super::liveness::live_in(self.ws.aux, pc);
        let precise = super::liveness::precise_in(self.ws.aux, pc);
        let slots = self.live_slots(pc, self.ws.cur);
        if !self.ws.branches.push(pc, self.ws.cur, live, precise, slots) {
            return Err(self.err(
                at,
                VerifyErrorKind::TooComplex(TooComplexReason::BranchStackFull),
            ));
        }
        Ok(())
    }

    /// Queues `self.ws.tmp` to be explored from `pc` later.
    pub fn push_tmp(&mut self, at: usize, pc: usize) -> Res<()> {
        let live = super::liveness::live_in(self.ws.aux, pc);
        let precise = super::liveness::precise_in(self.ws.aux, pc);
        let slots = self.live_slots(pc, self.ws.tmp);
        if !self.ws.branches.push(pc, self.ws.tmp, live, precise, slots) {
            return Err(self.err(
                at,
                VerifyErrorKind::TooComplex(TooComplexReason::BranchStackFull),
            ));
        }
        Ok(())
    }

    /// At a prune point: `true` when a completely explored state includes the current one;
    /// an error when an unfinished one equals it (the path came back to where it was, with
    /// nothing changed). Otherwise records the current state.
    /// Forgets the registers that are dead at `pc` (in the current frame), or after the
    /// return of each pending call (in the callers' frames), and widens the numbers whose
    /// value cannot matter there.
    fn forget_dead(&mut self, pc: usize) {
        let aux = &*self.ws.aux;
        let st = &mut *self.ws.cur;
        let depth = st.depth as usize;
        for f in 0..depth {
            let next = f.saturating_add(1);
            let at = match st.frames.get(next) {
                Some(callee) if next != depth => (callee.callsite as usize).saturating_add(1),
                _ => pc,
            };
            let live = super::liveness::live_in(aux, at);
            let precise = super::liveness::precise_in(aux, at);
            let Some(frame) = st.frames.get_mut(f) else {
                continue;
            };
            for (i, r) in frame.regs.iter_mut().take(10).enumerate() {
                if live & (1 << i) == 0 {
                    *r = Value::UNINIT;
                } else if precise & (1 << i) == 0 && r.kind == Kind::Scalar {
                    // A number whose value cannot matter: any number will do.
                    *r = Value::UNKNOWN;
                }
            }
        }
    }

    /// The running function's stack slots that `st` must keep at `pc`: the live ones, or all
    /// when `pc` has no liveness facts or some register or spill points into that frame (a
    /// pointer made before `pc` may read any slot).
    fn live_slots(&self, pc: usize, st: &super::state::State) -> u64 {
        self.slot_facts(pc, st).0
    }

    /// The running function's stack slots that `st` must keep at `pc`, and those of them
    /// whose value may matter (all when `pc` has no facts or a pointer into the frame is
    /// held).
    fn slot_facts(&self, pc: usize, st: &super::state::State) -> (u64, u64) {
        let Some((live, precise)) = self.slots.live_at(pc) else {
            return (u64::MAX, u64::MAX);
        };
        let top = st.cur();
        let into_top = |v: &Value| v.kind == Kind::Stack && v.aux as usize == top;
        let depth = st.depth as usize;
        let pointed = st.frames.iter().take(depth).enumerate().any(|(f, fr)| {
            fr.regs
                .iter()
                .enumerate()
                .any(|(i, r)| (f != top || i != 10) && into_top(r))
        }) || st
            .spills
            .iter()
            .enumerate()
            .any(|(i, v)| st.spill_used & (1 << i) != 0 && into_top(v));
        if pointed {
            (u64::MAX, u64::MAX)
        } else {
            (live, precise)
        }
    }

    /// Forgets the running function's stack slots that are dead at `pc` (their bytes become
    /// uninitialised), as [`Self::live_slots`] finds them.
    /// A live slot holding a spilled number whose value cannot matter keeps its initialised
    /// bytes but not the number (they read back as any number).
    fn forget_dead_slots(&mut self, pc: usize) {
        let (live, precise) = self.slot_facts(pc, self.ws.cur);
        let st = &mut *self.ws.cur;
        let top = st.cur();
        for k in 0..super::state::SLOTS {
            let Some(&slot) = st.frames.get(top).and_then(|fr| fr.slots.get(k)) else {
                continue;
            };
            if live & (1 << k) == 0 {
                st.free_spill(slot.spill);
                if let Some(s) = st.frames.get_mut(top).and_then(|fr| fr.slots.get_mut(k)) {
                    *s = super::state::Slot::EMPTY;
                }
            } else if precise & (1 << k) == 0
                && slot.spill != super::state::NO_SPILL
                && (slot.spill == super::state::ZERO_SPILL
                    || st.spilled(&slot).is_some_and(|v| v.kind == Kind::Scalar))
            {
                st.free_spill(slot.spill);
                if let Some(s) = st.frames.get_mut(top).and_then(|fr| fr.slots.get_mut(k)) {
                    s.spill = super::state::NO_SPILL;
                }
            }
        }
    }

    fn prune(&mut self, pc: usize) -> Res<bool> {
        self.forget_dead(pc);
        self.forget_dead_slots(pc);
        self.ws.cur.forget_packet_room();
        self.ws.cur.canonical_links();
        // The current state's encoding, when it fits in the free branch storage: equal
        // states have equal encodings, so unfinished states are compared bytewise.
        let scratch = self.ws.branches.scratch();
        let enc_len = super::workspace::encode(self.ws.cur, scratch);
        let mut from = 0;
        while let Some((next, done, bytes)) = self.ws.cache.find_raw(pc, from) {
            from = next;
            if !done {
                let same = match enc_len {
                    Some(n) => self.ws.branches.scratch().get(..n) == Some(bytes),
                    None => {
                        super::workspace::decode(bytes, self.ws.tmp).is_some()
                            && self.ws.tmp.same_as(self.ws.cur)
                    }
                };
                if same {
                    return Err(self.err(pc, VerifyErrorKind::InfiniteLoop));
                }
                continue;
            }
            if super::workspace::decode(bytes, self.ws.tmp).is_some()
                && self.ws.tmp.includes(self.ws.cur)
            {
                return Ok(true);
            }
        }
        let marker = self.ws.branches.len();
        self.ws.cache.insert(pc, marker, self.ws.cur);
        Ok(false)
    }

    /// Executes the instruction at `pc` on the current state.
    fn step(&mut self, pc: usize) -> Res<Step> {
        let insn = self.insns.get(pc).copied().unwrap_or_default();
        match insn.class() {
            Class::Alu | Class::Alu64 => {
                self.alu(pc, insn)?;
                Ok(Step::Goto(pc.saturating_add(1)))
            }
            Class::Ld if insn.opcode == op::LDDW => {
                let hi = self.insns.get(pc.saturating_add(1)).map_or(0, |i| i.imm);
                self.lddw(pc, insn, hi)?;
                Ok(Step::Goto(pc.saturating_add(2)))
            }
            Class::Ld => {
                self.ld_abs(pc, insn)?;
                Ok(Step::Goto(pc.saturating_add(1)))
            }
            Class::Ldx => {
                self.ldx(pc, insn)?;
                Ok(Step::Goto(pc.saturating_add(1)))
            }
            Class::St | Class::Stx => {
                self.store(pc, insn)?;
                Ok(Step::Goto(pc.saturating_add(1)))
            }
            Class::Jmp | Class::Jmp32 => match insn.opcode & 0xf0 {
                BPF_EXIT if insn.class() == Class::Jmp => self.exit(pc),
                BPF_CALL if insn.class() == Class::Jmp => self.call(pc, insn),
                BPF_JA => match cfg::flow(self.insns, pc) {
                    cfg::Flow::Jump(t) => Ok(Step::Goto(t)),
                    _ => Ok(Step::Goto(pc.saturating_add(1))),
                },
                _ => self.cond_jump(pc, insn),
            },
        }
    }
}

use core::fmt::Write as _;
