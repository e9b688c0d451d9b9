//! Loads, stores and atomics: every access is checked against the region its pointer
//! reaches (context field, stack frame, proven packet range, map value, memory buffer); the
//! stack keeps which bytes are initialised and which slots hold spilled registers.

use super::cfg::{CTX_ACCESS, OTHER_ACCESS};
use super::check::{Checker, Res};
use super::error::{LeakTarget, TooComplexReason, VerifyErrorKind as K};
use super::rule::Rule;
use super::scalar::Scalar;
use super::state::{Kind, Slot, Value, NO_SPILL};
use crate::host::{CtxFieldKind, MapType, STACK_FRAME_SIZE};
use crate::isa::opcode::*;
use crate::isa::Insn;
use crate::maps::MapTable;
use crate::ProgramType;

/// What an access does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    Atomic,
}

/// An unknown loaded value of `size` bytes, zero- or sign-extended.
fn loaded(size: u8, sign: bool) -> Value {
    let s = Scalar::unknown_bits((size as u32).saturating_mul(8));
    Value::scalar(if sign {
        s.sext((size as u32).saturating_mul(8))
    } else {
        s
    })
}

impl Checker<'_, '_, '_> {
    pub(crate) fn ldx(&mut self, pc: usize, insn: Insn) -> Res<()> {
        let size = insn.access_size();
        let sign = insn.opcode & 0xe0 == BPF_MEMSX;
        let base = self.read(pc, insn.src())?;
        let v = self.access(
            pc,
            insn.src(),
            &base,
            insn.off,
            size,
            Access::Read,
            None,
            sign,
        )?;
        self.set(insn.dst(), v);
        Ok(())
    }

    pub(crate) fn store(&mut self, pc: usize, insn: Insn) -> Res<()> {
        let size = insn.access_size();
        let base = self.read(pc, insn.dst())?;
        if insn.class() == Class::Stx && insn.opcode & 0xe0 == BPF_ATOMIC {
            return self.atomic(pc, insn, &base, size);
        }
        let v = if insn.class() == Class::St {
            Value::constant(insn.imm as i64 as u64)
        } else {
            self.read(pc, insn.src())?
        };
        self.access(
            pc,
            insn.dst(),
            &base,
            insn.off,
            size,
            Access::Write,
            Some((insn.src(), v)),
            false,
        )?;
        Ok(())
    }

    fn atomic(&mut self, pc: usize, insn: Insn, base: &Value, size: u8) -> Res<()> {
        let (dst, src) = (insn.dst(), insn.src());
        if !matches!(base.kind, Kind::Stack | Kind::MapValue | Kind::Mem) {
            return Err(self.err(
                pc,
                K::AtomicNotAllowed {
                    reg: dst,
                    ty: base.kind.name(),
                },
            ));
        }
        let target = match base.kind {
            Kind::MapValue => LeakTarget::Map,
            _ => LeakTarget::Mem,
        };
        self.read_scalar(pc, src, target)?;
        if insn.imm == ATOMIC_CMPXCHG {
            self.read_scalar(pc, 0, target)?;
        }
        // Alignment of the whole address (region bases are 8-byte aligned).
        let align = (size as i64).saturating_sub(1);
        let fixed = (base.off as i64).saturating_add(insn.off as i64);
        if fixed & align != 0 || (base.s.var.value | base.s.var.mask) as i64 & align != 0 {
            let off = fixed.saturating_add(base.s.smin);
            return Err(self.err(pc, K::Misaligned { off, size }));
        }
        self.access(pc, dst, base, insn.off, size, Access::Atomic, None, false)?;
        let old = loaded(size, false);
        if insn.imm == ATOMIC_CMPXCHG {
            self.set(0, old);
        } else if insn.imm & ATOMIC_FETCH != 0 {
            self.set(src, old);
        }
        Ok(())
    }

    /// Checks one access of `size` bytes at `base + off`; a read returns the loaded value.
    #[allow(clippy::too_many_arguments)]
    fn access(
        &mut self,
        pc: usize,
        reg: u8,
        base: &Value,
        off: i16,
        size: u8,
        acc: Access,
        val: Option<(u8, Value)>,
        sign: bool,
    ) -> Res<Value> {
        let flag = if base.kind == Kind::Ctx {
            CTX_ACCESS
        } else {
            OTHER_ACCESS
        };
        if let Some(a) = self.ws.aux.get_mut(pc) {
            *a |= flag;
            if *a & (CTX_ACCESS | OTHER_ACCESS) == CTX_ACCESS | OTHER_ACCESS {
                return Err(self.err(pc, K::MixedPointers));
            }
        }
        let leak = |this: &Self, into| -> Res<()> {
            match val {
                Some((r, v)) if v.kind.is_ptr() => {
                    Err(this.err(pc, K::PointerLeak { reg: r, into }))
                }
                _ => Ok(()),
            }
        };
        let unknown = loaded(size, sign);
        match base.kind {
            Kind::Ctx => {
                if acc == Access::Atomic {
                    return Err(self.err(pc, K::AtomicNotAllowed { reg, ty: "ctx" }));
                }
                leak(self, LeakTarget::Ctx)?;
                self.ctx_access(pc, reg, base, off, size, acc == Access::Write, sign)
            }
            Kind::Stack => self.stack_access(pc, reg, base, off, size, acc, val, sign),
            Kind::Packet | Kind::PacketMeta => {
                if acc == Access::Atomic {
                    return Err(self.err(
                        pc,
                        K::AtomicNotAllowed {
                            reg,
                            ty: base.kind.name(),
                        },
                    ));
                }
                leak(self, LeakTarget::Packet)?;
                let o = (base.off as i64).saturating_add(off as i64);
                let bad = o < 0
                    || base.s.smin < 0
                    || o.saturating_add(size as i64) > base.range as i64
                    || base.s.umax as i64 > super::check::MAX_PACKET_OFF;
                if bad {
                    return Err(self.err(
                        pc,
                        K::PacketAccess {
                            reg,
                            off: o,
                            size,
                            id: base.id,
                            reg_off: base.off,
                            range: base.range,
                        },
                    ));
                }
                Ok(unknown)
            }
            Kind::MapValue => {
                leak(self, LeakTarget::Map)?;
                if acc != Access::Read {
                    self.map_writable(pc, reg, base.aux)?;
                }
                let value_size = self
                    .env
                    .maps
                    .def(base.aux as usize)
                    .map_or(0, |m| m.value_size);
                self.bounds(pc, reg, base, off, size, value_size as i64, |off| {
                    K::MapValueAccess {
                        off,
                        size,
                        value_size,
                    }
                })?;
                Ok(unknown)
            }
            Kind::Mem => {
                leak(self, LeakTarget::Mem)?;
                let len = match self.env.prog_type {
                    ProgramType::Memory { len } => len,
                    _ => 0,
                };
                self.bounds(pc, reg, base, off, size, len as i64, |off| K::MemAccess {
                    off,
                    size,
                    len,
                })?;
                Ok(unknown)
            }
            Kind::RingbufMem => {
                leak(self, LeakTarget::Mem)?;
                let len = base.range as u32;
                self.bounds(pc, reg, base, off, size, len as i64, |off| K::MemAccess {
                    off,
                    size,
                    len,
                })?;
                Ok(unknown)
            }
            _ => Err(self.err(
                pc,
                K::InvalidMemAccess {
                    reg,
                    ty: base.kind.name(),
                },
            )),
        }
    }

    /// The program may write map `map` (it is not [`BPF_F_RDONLY_PROG`](crate::host::BPF_F_RDONLY_PROG));
    /// `reg` holds the map or a pointer into its value.
    pub(crate) fn map_writable(&self, pc: usize, reg: u8, map: u8) -> Res<()> {
        let read_only = self
            .env
            .maps
            .def(map as usize)
            .is_some_and(|m| m.read_only_for_program());
        if read_only && self.enforces(Rule::ReadOnlyMap) {
            return Err(self.err(pc, K::ReadOnlyMapWrite { reg }));
        }
        Ok(())
    }

    /// `[base + off, base + off + size)` must lie in `[0, limit)` for every value of the
    /// pointer's variable part.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bounds(
        &self,
        pc: usize,
        reg: u8,
        base: &Value,
        off: i16,
        size: u8,
        limit: i64,
        oob: impl Fn(i64) -> K,
    ) -> Res<()> {
        let fixed = (base.off as i64).saturating_add(off as i64);
        let lo = fixed.saturating_add(base.s.smin);
        if base.s.as_const().is_none() && lo < 0 {
            return Err(self.err(pc, K::NegativeOffset { reg }));
        }
        if base.s.umax > super::check::MAX_VAR_OFF as u64 && base.s.smin >= 0 {
            return Err(self.err(pc, K::UnboundedAccess { reg }));
        }
        let hi = fixed
            .saturating_add(base.s.smax)
            .saturating_add(size as i64);
        if lo < 0 || hi > limit {
            return Err(self.err(
                pc,
                oob(if lo < 0 {
                    lo
                } else {
                    fixed.saturating_add(base.s.smax)
                }),
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn ctx_access(
        &mut self,
        pc: usize,
        reg: u8,
        base: &Value,
        off: i16,
        size: u8,
        write: bool,
        sign: bool,
    ) -> Res<Value> {
        if base.fixed_off() != Some(0) {
            return Err(self.err(pc, K::ModifiedCtx { reg }));
        }
        let bad = K::CtxAccess {
            off: off as i64,
            size,
        };
        let Some(field) = self.ctx.and_then(|c| c.field_at(off as i64, size)) else {
            return Err(self.err(pc, bad));
        };
        let exact = off as i64 == field.offset as i64 && size == field.size;
        if write {
            if !field.writable || !exact {
                return Err(self.err(pc, bad));
            }
            return Ok(Value::UNINIT);
        }
        match field.kind {
            CtxFieldKind::Scalar => Ok(loaded(size, sign)),
            _ if !exact || sign => Err(self.err(pc, bad)),
            CtxFieldKind::PacketData => Ok(Value::ptr(Kind::Packet, 0)),
            CtxFieldKind::PacketEnd => Ok(Value::ptr(Kind::PacketEnd, 0)),
            CtxFieldKind::PacketMeta => Ok(Value::ptr(Kind::PacketMeta, 0)),
        }
    }

    /// The function whose frame is `frame` in the current state.
    fn func_of_frame(&self, frame: usize) -> usize {
        if frame == 0 {
            return 0;
        }
        let cs = self
            .ws
            .cur
            .frames
            .get(frame)
            .map_or(0, |f| f.callsite as usize);
        let target = self.insns.get(cs).map_or(0, |i| {
            (cs as i64).saturating_add(1).saturating_add(i.imm as i64) as usize
        });
        super::cfg::func_of(self.ws.funcs.get(..self.nfuncs).unwrap_or_default(), target)
    }

    /// A fixed-offset stack access: returns `(frame, offset from r10)` after the bounds check.
    pub(crate) fn stack_slot(
        &mut self,
        pc: usize,
        reg: u8,
        base: &Value,
        off: i16,
        size: u64,
    ) -> Res<(usize, i64)> {
        let Some(fixed) = base.fixed_off() else {
            return Err(self.err(pc, K::VariableStackAccess { reg }));
        };
        let abs = fixed.saturating_add(off as i64);
        if abs.saturating_add(STACK_FRAME_SIZE as i64) < 0
            || abs.saturating_add(size as i64) > 0
            || size == 0
        {
            return Err(self.err(
                pc,
                K::StackAccess {
                    off: abs,
                    size: size.min(255) as u8,
                },
            ));
        }
        let frame = base.aux as usize;
        let fi = self.func_of_frame(frame);
        if let Some(f) = self.ws.funcs.get_mut(fi) {
            f.depth = f.depth.max(abs.saturating_neg() as u16);
        }
        Ok((frame, abs))
    }

    #[allow(clippy::too_many_arguments)]
    fn stack_access(
        &mut self,
        pc: usize,
        reg: u8,
        base: &Value,
        off: i16,
        size: u8,
        acc: Access,
        val: Option<(u8, Value)>,
        sign: bool,
    ) -> Res<Value> {
        if base.fixed_off().is_none() && acc != Access::Atomic {
            return self.stack_var_access(pc, reg, base, off, size, acc, val, sign);
        }
        let (frame, abs) = self.stack_slot(pc, reg, base, off, size as u64)?;
        let pos = abs.saturating_add(STACK_FRAME_SIZE as i64) as usize;
        let aligned_slot = pos % 8 == 0 && size == 8;
        // The access stays inside one slot: a spilled number there gives or takes its bytes.
        let in_slot = (pos % 8).saturating_add(size as usize) <= 8;
        let k = pos / 8;
        if acc != Access::Write {
            // Reads (and the read half of atomics) need initialised bytes.
            self.check_init(pc, frame, abs, size as usize)?;
            let slot = self.ws.cur.slot(frame, k).unwrap_or(Slot::EMPTY);
            let spilled = self.ws.cur.spilled(&slot).copied();
            if acc == Access::Read {
                if let Some(v) = spilled {
                    if aligned_slot {
                        return Ok(v);
                    }
                    if v.kind.is_ptr() {
                        return Err(self.err(pc, K::CorruptSpill { off: abs }));
                    }
                    if in_slot {
                        let s = v.s.bytes((pos % 8) as u32, size as u32);
                        return Ok(Value::scalar(if sign {
                            s.sext((size as u32).saturating_mul(8))
                        } else {
                            s
                        }));
                    }
                }
                return self
                    .check_no_spilled_ptr(pc, frame, abs, size as usize)
                    .map(|_| loaded(size, sign));
            }
            // Atomic: the slot's spilled number, if any, is no longer known.
            self.check_no_spilled_ptr(pc, frame, abs, size as usize)?;
            self.forget_spills(frame, pos, size as usize);
            return Ok(Value::UNINIT);
        }
        let (src, v) = val.unwrap_or((0, Value::UNKNOWN));
        if v.kind == Kind::Stack && v.aux as usize > frame {
            return Err(self.err(pc, K::StackPointerEscape { reg: src }));
        }
        if aligned_slot {
            self.forget_spills(frame, pos, 8);
            let st = &mut *self.ws.cur;
            // A pointer must come back exact: it may take the entry of a spilled number,
            // whose slot then reads as a plain number (only precision is lost).
            let idx = match st.spill_handle(v) {
                Some(i) => i,
                None if !v.kind.is_ptr() => NO_SPILL,
                None => match st.evict_number_spill().then(|| st.alloc_spill(v)) {
                    Some(Some(i)) => i,
                    _ => return Err(self.err(pc, K::TooComplex(TooComplexReason::TooManySpills))),
                },
            };
            if let Some(s) = st.frames.get_mut(frame).and_then(|f| f.slots.get_mut(k)) {
                *s = Slot {
                    init: 0xff,
                    spill: idx,
                };
            }
            return Ok(Value::UNINIT);
        }
        if v.kind.is_ptr() {
            return Err(self.err(pc, K::CorruptSpill { off: abs }));
        }
        // A narrow store of a number over a spilled pointer destroys the pointer: the slot
        // is plain bytes from then on, part of them an address's, as privileged Linux makes
        // it (clang reuses such slots for 4-byte numbers). A narrow store of a number inside
        // one slot keeps what is known of the slot's bytes: the stored field exactly, the
        // others from a spilled number there, if any (Linux's narrow scalar spills; clang
        // spills a bounded `u32` with a 4-byte store).
        let narrow = in_slot.then(|| {
            let slot = self.ws.cur.slot(frame, k);
            let old = slot
                .and_then(|s| self.ws.cur.spilled(&s).copied())
                .filter(Value::is_scalar)
                .map_or(Scalar::UNKNOWN, |o| o.s);
            old.with_bytes(&v.s, (pos % 8) as u32, size as u32)
        });
        self.forget_spills(frame, pos, size as usize);
        self.mark_init(frame, pos, size as usize);
        if let Some(s) = narrow.filter(|s| *s != Scalar::UNKNOWN) {
            // When every spill entry is taken the bytes stay a plain number.
            let st = &mut *self.ws.cur;
            if let Some(idx) = st.spill_handle(Value::scalar(s)) {
                if let Some(slot) = st.frames.get_mut(frame).and_then(|f| f.slots.get_mut(k)) {
                    slot.spill = idx;
                }
            }
        }
        Ok(Value::UNINIT)
    }

    /// A stack access at a variable offset (Linux's privileged `check_stack_{read,write}_var_off`):
    /// every byte it may touch is inside the frame and holds no spilled pointer; a read needs
    /// them all initialised and gives an unknown number. A write turns spilled numbers in its
    /// range into plain bytes and initialises nothing, since any one byte may not be written.
    #[allow(clippy::too_many_arguments)]
    fn stack_var_access(
        &mut self,
        pc: usize,
        reg: u8,
        base: &Value,
        off: i16,
        size: u8,
        acc: Access,
        val: Option<(u8, Value)>,
        sign: bool,
    ) -> Res<Value> {
        if let Some((src, _)) = val.filter(|(_, v)| v.kind.is_ptr()) {
            // Where it would land is unknown, so it could not be read back as a pointer.
            return Err(self.err(
                pc,
                K::PointerLeak {
                    reg: src,
                    into: LeakTarget::Mem,
                },
            ));
        }
        // Bounds and the frame's depth, as a fixed access of every byte it may touch.
        let len = (base.s.smax.saturating_sub(base.s.smin) as u64).saturating_add(size as u64);
        let lowest = Value {
            s: Scalar::constant(base.s.smin as u64),
            ..*base
        };
        let (frame, abs) = self.stack_slot(pc, reg, &lowest, off, len)?;
        self.check_no_spilled_ptr(pc, frame, abs, len as usize)?;
        if acc == Access::Read {
            self.check_init(pc, frame, abs, len as usize)?;
            return Ok(loaded(size, sign));
        }
        let pos = abs.saturating_add(STACK_FRAME_SIZE as i64) as usize;
        self.forget_spills(frame, pos, len as usize);
        Ok(Value::UNINIT)
    }

    /// Every byte of `[abs, abs + size)` in `frame` must be initialised.
    pub(crate) fn check_init(&self, pc: usize, frame: usize, abs: i64, size: usize) -> Res<()> {
        let pos = abs.saturating_add(STACK_FRAME_SIZE as i64) as usize;
        // A frame that is not there has no initialised byte.
        let slots = self
            .ws
            .cur
            .frames
            .get(frame)
            .map_or(&[][..], |f| f.slots.as_slice());
        for b in pos..pos.saturating_add(size) {
            let init = slots.get(b / 8).map_or(0, |s| s.init);
            if init & (1 << (b % 8)) == 0 {
                return Err(self.err(
                    pc,
                    K::StackReadUninit {
                        off: abs,
                        size: size.min(255) as u8,
                    },
                ));
            }
        }
        Ok(())
    }

    /// No slot touched by `[abs, abs + size)` may hold a spilled pointer.
    pub(crate) fn check_no_spilled_ptr(
        &self,
        pc: usize,
        frame: usize,
        abs: i64,
        size: usize,
    ) -> Res<()> {
        let pos = abs.saturating_add(STACK_FRAME_SIZE as i64) as usize;
        let st = &*self.ws.cur;
        // `size >= 1`: `stack_slot` rejects empty accesses.
        for k in pos / 8..=pos.saturating_add(size).saturating_sub(1) / 8 {
            let slot = st.slot(frame, k).unwrap_or(Slot::EMPTY);
            if st.spilled(&slot).is_some_and(|v| v.kind.is_ptr()) {
                return Err(self.err(pc, K::CorruptSpill { off: abs }));
            }
        }
        Ok(())
    }

    /// Drops the spilled registers of the slots touched by `[pos, pos + size)` (their bytes
    /// stay initialised).
    pub(crate) fn forget_spills(&mut self, frame: usize, pos: usize, size: usize) {
        let st = &mut *self.ws.cur;
        for k in pos / 8..=pos.saturating_add(size.max(1)).saturating_sub(1) / 8 {
            let Some(slot) = st.slot(frame, k) else {
                continue;
            };
            if slot.spill != NO_SPILL {
                // The bytes of a pointer that a store or a helper breaks up are not readable
                // afterwards: they would give the program bits of a host address.
                if st.spilled(&slot).is_some_and(|v| v.kind.is_ptr()) {
                    if let Some(s) = st.frames.get_mut(frame).and_then(|f| f.slots.get_mut(k)) {
                        s.init = 0;
                    }
                }
                st.free_spill(slot.spill);
                if let Some(s) = st.frames.get_mut(frame).and_then(|f| f.slots.get_mut(k)) {
                    s.spill = NO_SPILL;
                }
            }
        }
    }

    /// Marks `[pos, pos + size)` of `frame` initialised.
    pub(crate) fn mark_init(&mut self, frame: usize, pos: usize, size: usize) {
        let Some(f) = self.ws.cur.frames.get_mut(frame) else {
            return;
        };
        for b in pos..pos.saturating_add(size) {
            if let Some(s) = f.slots.get_mut(b / 8) {
                s.init |= 1 << (b % 8);
            }
        }
    }

    /// `lddw`: a 64-bit constant, a map, or the address of a map's value.
    pub(crate) fn lddw(&mut self, pc: usize, insn: Insn, hi: i32) -> Res<()> {
        let v = lddw_value(&self.env.maps, insn, hi).map_err(|k| self.err(pc, k))?;
        self.set(insn.dst(), v);
        Ok(())
    }

    /// Legacy packet loads: bounds are the engine's (it returns 0 from the program when the
    /// load is outside the packet, as Linux does); r0 gets the value, r1 to r5 are clobbered.
    pub(crate) fn ld_abs(&mut self, pc: usize, insn: Insn) -> Res<()> {
        if !self.env.prog_type.allows_ld_abs() {
            return Err(self.err(pc, K::LdAbsNotAllowed));
        }
        if matches!(
            self.env.prog_type,
            ProgramType::SocketFilter | ProgramType::Tc
        ) && self.ws.cur.reg(6).kind != Kind::Ctx
        {
            return Err(self.err(pc, K::LdAbsNeedsCtx));
        }
        // A load outside the packet ends the program, which must not leave holding a
        // reference (Linux: legacy packet loads cannot be mixed with references).
        if let Some(r) = self.ws.cur.refs.as_slice().first() {
            if self.enforces(Rule::LdAbsWithReference) {
                return Err(self.err(pc, K::LdAbsHoldingReference { alloc_pc: r.pc }));
            }
        }
        if insn.opcode & 0xe0 == BPF_IND {
            self.read_scalar(pc, insn.src(), LeakTarget::Packet)?;
        }
        for r in 1..=5 {
            self.set(r, Value::UNINIT);
        }
        self.set(0, loaded(insn.access_size(), false));
        Ok(())
    }
}

/// The value an `lddw` (`insn` and the `imm` of its second slot, `hi`) loads: a constant, a map
/// pointer, or a pointer into element 0 of an array map, checked against `maps`. The verifier
/// checks every `lddw` this way before its analysis, reachable or not, so that every map
/// reference of a verified program resolves (as Linux resolves them at load time).
///
/// # Errors
/// [`K::BadMap`] for a map that does not exist, [`K::NoDirectValueAccess`] for a value address
/// in a map other than an array, [`K::MapValueAccess`] for an offset past the value.
pub(crate) fn lddw_value(maps: &MapTable<'_>, insn: Insn, hi: i32) -> Result<Value, K> {
    let imm = (insn.imm as u32 as u64) | ((hi as u32 as u64) << 32);
    let src = insn.src();
    if src == LDDW_IMM {
        return Ok(Value::constant(imm));
    }
    let idx = insn.imm as i64;
    let Some(map) = maps
        .def(insn.imm as u32 as usize)
        .filter(|_| (0..256).contains(&idx))
    else {
        return Err(K::BadMap { index: idx });
    };
    if src == LDDW_MAP_FD || src == LDDW_MAP_IDX {
        return Ok(Value::ptr(Kind::MapPtr, idx as u8));
    }
    // Only an array's element 0 always exists; a hash map's key 0 may not.
    if map.map_type != MapType::Array {
        return Err(K::NoDirectValueAccess { index: idx });
    }
    if hi < 0 || hi as u32 >= map.value_size {
        return Err(K::MapValueAccess {
            off: hi as i64,
            size: 0,
            value_size: map.value_size,
        });
    }
    let mut v = Value::ptr(Kind::MapValue, idx as u8);
    v.off = hi;
    Ok(v)
}
