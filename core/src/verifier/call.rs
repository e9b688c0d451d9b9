//! Calls and returns: helper calls checked against their prototypes, `callx` through a known
//! helper id, bpf-to-bpf calls with a new frame, and `exit`. Helpers that hand out or take
//! back ring buffer records acquire and release references (see [`super::refs`]); the
//! program's `exit` and `tail_call` need none held.

use super::check::{Checker, Res, Step};
use super::error::{LeakTarget, TooComplexReason, VerifyErrorKind as K};
use super::rule::Rule;
use super::state::{Frame, Kind, Value};
use crate::host::{ArgKind, MapType, ProgramType, RetKind, MAX_CALL_FRAMES, STACK_FRAME_SIZE};
use crate::isa::opcode::*;
use crate::isa::Insn;

/// Linux's id of `bpf_tail_call`.
const TAIL_CALL: u32 = 12;
/// Linux's id of `bpf_redirect_map`.
const REDIRECT_MAP: u32 = 51;
/// Linux's ids of `bpf_perf_event_output` and `bpf_xdp_output`.
const PERF_EVENT_OUTPUT: u32 = 25;
const XDP_OUTPUT: u32 = 121;
/// Helpers that change the map they are given: `map_update_elem`, `map_delete_elem`,
/// `map_push_elem`, `map_pop_elem`.
const WRITES_MAP: [u32; 4] = [2, 3, 87, 88];

/// Linux's `check_map_func_compatibility` for the maps and helpers nanobpf has: helpers that
/// take only one kind of map, and maps whose elements only their own helpers reach.
fn map_fits(helper: u32, map: MapType) -> bool {
    use MapType as T;
    let own: &[T] = match helper {
        TAIL_CALL => &[T::ProgArray],
        REDIRECT_MAP => &[T::DevMap, T::CpuMap, T::XskMap],
        87..=89 => &[T::Queue, T::Stack],
        130..=131 => &[T::RingBuf],
        PERF_EVENT_OUTPUT | XDP_OUTPUT => &[T::PerfEventArray],
        _ => {
            return !matches!(
                map,
                T::ProgArray
                    | T::Queue
                    | T::Stack
                    | T::RingBuf
                    | T::CpuMap
                    | T::XskMap
                    | T::PerfEventArray
            )
        }
    };
    own.contains(&map)
}

/// Helpers that may move or resize the packet, so every packet pointer is stale after them
/// (Linux's `bpf_helper_changes_pkt_data`).
const CHANGES_PKT_DATA: &[u32] = &[
    9, 10, 11, 13, 18, 19, 31, 32, 38, 39, 43, 44, 50, 54, 63, 65,
];

/// Whether Linux offers helper `id` to programs of type `t` (its per-type `func_proto`), for
/// the helpers nanobpf offers to some types only: the socket-buffer helpers to tc programs
/// (`skb_load_bytes` to socket filters too), `redirect` and `fib_lookup` to tc and XDP.
fn offered(t: ProgramType, id: u32) -> bool {
    use ProgramType as P;
    match id {
        26 => matches!(t, P::Tc | P::SocketFilter),
        9 | 10 | 11 | 13 | 18 | 19 | 21 | 31 | 32 | 34 | 38 | 39 | 43 | 50 | 152 | 155 => {
            t == P::Tc
        }
        23 | 69 => matches!(t, P::Tc | P::Xdp),
        _ => true,
    }
}

fn arg_name(k: ArgKind) -> &'static str {
    match k {
        ArgKind::None => "none",
        ArgKind::Scalar
        | ArgKind::ConstSize
        | ArgKind::ConstSizeOrZero
        | ArgKind::ConstAllocSize => "scalar",
        ArgKind::ConstMapPtr => "map_ptr",
        ArgKind::PtrToMapKey
        | ArgKind::PtrToMapValue
        | ArgKind::PtrToUninitMapValue
        | ArgKind::PtrToMem
        | ArgKind::PtrToUninitMem
        | ArgKind::PtrToWritableMem => "fp|pkt|map_value|mem",
        ArgKind::PtrToCtx => "ctx",
        ArgKind::PtrToRingbufMem => "ringbuf_mem",
    }
}

impl Checker<'_, '_, '_> {
    pub(crate) fn call(&mut self, pc: usize, insn: Insn) -> Res<Step> {
        if insn.opcode == op::CALLX {
            let r = insn.dst();
            let v = self.read(pc, r)?;
            let id = v.s.as_const().filter(|_| v.is_scalar());
            match id {
                Some(id) if id <= u32::MAX as u64 && self.env.helpers.get(id as u32).is_some() => {
                    return self.helper(pc, id as u32);
                }
                _ => return Err(self.err(pc, K::CallxTarget { reg: r })),
            }
        }
        if insn.src() == CALL_LOCAL {
            return self.local_call(pc, insn);
        }
        if insn.imm < 0 || self.env.helpers.get(insn.imm as u32).is_none() {
            return Err(self.err(
                pc,
                K::UnknownHelper {
                    id: insn.imm as i64,
                },
            ));
        }
        self.helper(pc, insn.imm as u32)
    }

    fn helper(&mut self, pc: usize, id: u32) -> Res<Step> {
        let Some(h) = self
            .env
            .helpers
            .get(id)
            .filter(|_| offered(self.env.prog_type, id))
        else {
            return Err(self.err(pc, K::UnknownHelper { id: id as i64 }));
        };
        let proto = h.proto;
        let mut map: Option<usize> = None;
        // The size of returned memory, and the reference the call releases.
        let mut alloc_size: Option<u16> = None;
        let mut release: Option<u32> = None;
        for (i, &kind) in proto.args.iter().enumerate() {
            let r = (i as u8).saturating_add(1); // at most 5 arguments
            let mismatch = |this: &Self, v: &Value| {
                this.err(
                    pc,
                    K::HelperArg {
                        reg: r,
                        found: v.kind.name(),
                        expected: arg_name(kind),
                    },
                )
            };
            match kind {
                ArgKind::None => {}
                ArgKind::Scalar => {
                    self.read_scalar(pc, r, LeakTarget::HelperArg)?;
                }
                ArgKind::ConstMapPtr => {
                    let v = self.read(pc, r)?;
                    if v.kind != Kind::MapPtr {
                        return Err(mismatch(self, &v));
                    }
                    let fits = self
                        .env
                        .maps
                        .def(v.aux as usize)
                        .is_some_and(|m| map_fits(id, m.map_type));
                    if !fits {
                        return Err(self.err(pc, K::MapHelper { helper: id }));
                    }
                    if WRITES_MAP.contains(&id) {
                        self.map_writable(pc, r, v.aux)?;
                    }
                    map = Some(v.aux as usize);
                }
                ArgKind::PtrToMapKey | ArgKind::PtrToMapValue | ArgKind::PtrToUninitMapValue => {
                    let def = map.and_then(|m| self.env.maps.def(m));
                    let Some(def) = def else {
                        return Err(self.err(
                            pc,
                            K::HelperArg {
                                reg: r,
                                found: "?",
                                expected: "map_ptr before",
                            },
                        ));
                    };
                    let size = if kind == ArgKind::PtrToMapKey {
                        def.key_size
                    } else {
                        def.value_size
                    };
                    let v = self.read(pc, r)?;
                    // The helper fills an uninitialised value: all of it.
                    let writes = (kind == ArgKind::PtrToUninitMapValue).then_some(size as u64);
                    self.mem_arg(pc, r, &v, size as u64, writes)?;
                }
                ArgKind::PtrToMem | ArgKind::PtrToUninitMem | ArgKind::PtrToWritableMem => {
                    let v = self.read(pc, r)?;
                    let size_kind = proto
                        .args
                        .get(i.saturating_add(1))
                        .copied()
                        .unwrap_or(ArgKind::None);
                    let (min, size) = self.size_arg(pc, r.saturating_add(1), size_kind)?;
                    if size > 0 {
                        if kind == ArgKind::PtrToWritableMem {
                            // Read first (initialised), then written over.
                            self.mem_arg(pc, r, &v, size, None)?;
                        }
                        let writes = (kind != ArgKind::PtrToMem).then_some(min);
                        self.mem_arg(pc, r, &v, size, writes)?;
                    } else if !(v.kind.is_ptr() || v.s.as_const() == Some(0)) {
                        return Err(mismatch(self, &v));
                    }
                }
                ArgKind::ConstSize | ArgKind::ConstSizeOrZero => {
                    // Checked with the pointer before it; alone, a bounded scalar.
                    self.size_arg(pc, r, kind)?;
                }
                ArgKind::PtrToCtx => {
                    let v = self.read(pc, r)?;
                    if v.kind != Kind::Ctx {
                        return Err(mismatch(self, &v));
                    }
                    if v.fixed_off() != Some(0) {
                        return Err(self.err(pc, K::ModifiedCtx { reg: r }));
                    }
                }
                ArgKind::ConstAllocSize => {
                    let s = self.read_scalar(pc, r, LeakTarget::HelperArg)?;
                    let Some(size) = s.as_const().and_then(|c| u16::try_from(c).ok()) else {
                        return Err(self.err(
                            pc,
                            K::HelperArg {
                                reg: r,
                                found: "scalar",
                                expected: "known constant 0..=65535",
                            },
                        ));
                    };
                    alloc_size = Some(size);
                }
                ArgKind::PtrToRingbufMem => {
                    let v = self.read(pc, r)?;
                    if v.kind != Kind::RingbufMem || !self.ws.cur.refs.contains(v.id) {
                        return Err(mismatch(self, &v));
                    }
                    if v.fixed_off() != Some(0) {
                        return Err(self.err(pc, K::ReleaseOffset { reg: r }));
                    }
                    release = Some(v.id);
                }
            }
        }
        if id == TAIL_CALL {
            // The called program cannot release what this one holds.
            self.no_refs_held(pc)?;
        }
        let keep_spills = !self.enforces(Rule::InvalidatedSpill);
        if let Some(r) = release {
            self.ws.cur.release_ref(r, keep_spills);
        }
        if CHANGES_PKT_DATA.contains(&id) {
            self.ws.cur.invalidate(keep_spills, |v| {
                matches!(v.kind, Kind::Packet | Kind::PacketEnd | Kind::PacketMeta)
            });
            // The room left measured the old packet.
            self.ws.cur.forget_packet_room();
        }
        for r in 1..=5 {
            self.set(r, Value::UNINIT);
        }
        let r0 = match proto.ret {
            RetKind::Integer | RetKind::Void => Value::UNKNOWN,
            RetKind::MapValueOrNull => {
                let Some(m) = map else {
                    return Err(self.err(
                        pc,
                        K::HelperArg {
                            reg: 1,
                            found: "?",
                            expected: "map_ptr",
                        },
                    ));
                };
                let mut v = Value::ptr(Kind::MapValueOrNull, m as u8);
                v.id = self.fresh_id();
                v
            }
            RetKind::RingbufMemOrNull => {
                let (Some(m), Some(size)) = (map, alloc_size) else {
                    return Err(self.err(
                        pc,
                        K::HelperArg {
                            reg: 2,
                            found: "?",
                            expected: "map_ptr and alloc size before",
                        },
                    ));
                };
                let mut v = Value::ptr(Kind::RingbufMemOrNull, m as u8);
                v.id = self.fresh_id();
                v.range = size;
                if !self.ws.cur.refs.acquire(v.id, pc) {
                    return Err(self.err(pc, K::TooComplex(TooComplexReason::TooManyReferences)));
                }
                v
            }
        };
        self.set(0, r0);
        Ok(Step::Goto(pc.saturating_add(1)))
    }

    /// A size argument: a scalar with a known upper bound; returns its bounds.
    fn size_arg(&mut self, pc: usize, r: u8, kind: ArgKind) -> Res<(u64, u64)> {
        let s = self.read_scalar(pc, r, LeakTarget::HelperArg)?;
        if s.smin < 0 {
            return Err(self.err(pc, K::NegativeOffset { reg: r }));
        }
        if s.umin == 0 && kind == ArgKind::ConstSize {
            return Err(self.err(
                pc,
                K::HelperArg {
                    reg: r,
                    found: "scalar(0)",
                    expected: "scalar(>0)",
                },
            ));
        }
        if s.umax > 1 << 29 {
            return Err(self.err(pc, K::UnboundedAccess { reg: r }));
        }
        Ok((s.umin, s.umax))
    }

    /// A pointer argument to `size` bytes of memory, initialised unless the helper writes
    /// them (`writes` is then the size it surely writes).
    fn mem_arg(&mut self, pc: usize, r: u8, v: &Value, size: u64, writes: Option<u64>) -> Res<()> {
        match v.kind {
            Kind::Stack => {
                let (frame, abs) = self.stack_slot(pc, r, v, 0, size)?;
                let pos = abs.saturating_add(STACK_FRAME_SIZE as i64) as usize;
                if let Some(min) = writes {
                    // The helper writes the bytes: they are numbers now (spilled pointers
                    // among them destroyed), and the first `min` are surely initialised.
                    self.forget_spills(frame, pos, size as usize);
                    self.mark_init(frame, pos, min as usize);
                } else {
                    self.check_init(pc, frame, abs, size as usize)?;
                    // The helper copies or hashes the bytes (into a map, a ring buffer): a
                    // spilled pointer among them leaks as a direct store would.
                    if self.enforces(Rule::PointerInHelperMemory)
                        && self
                            .check_no_spilled_ptr(pc, frame, abs, size as usize)
                            .is_err()
                    {
                        return Err(self.err(
                            pc,
                            K::PointerLeak {
                                reg: r,
                                into: LeakTarget::HelperArg,
                            },
                        ));
                    }
                }
                Ok(())
            }
            Kind::Packet | Kind::PacketMeta => {
                let o = v.off as i64;
                if o < 0 || v.s.smin < 0 || o.saturating_add(size as i64) > v.range as i64 {
                    return Err(self.err(
                        pc,
                        K::PacketAccess {
                            reg: r,
                            off: o,
                            size: size.min(255) as u8,
                            id: v.id,
                            reg_off: v.off,
                            range: v.range,
                        },
                    ));
                }
                Ok(())
            }
            Kind::MapValue => {
                if writes.is_some() {
                    self.map_writable(pc, r, v.aux)?;
                }
                let vs = self
                    .env
                    .maps
                    .def(v.aux as usize)
                    .map_or(0, |m| m.value_size);
                self.region(pc, r, v, size, vs as i64, |off| K::MapValueAccess {
                    off,
                    size: size.min(255) as u8,
                    value_size: vs,
                })
            }
            Kind::Mem => {
                let len = match self.env.prog_type {
                    crate::ProgramType::Memory { len } => len,
                    _ => 0,
                };
                self.region(pc, r, v, size, len as i64, |off| K::MemAccess {
                    off,
                    size: size.min(255) as u8,
                    len,
                })
            }
            Kind::RingbufMem => {
                let len = v.range as u32;
                self.region(pc, r, v, size, len as i64, |off| K::MemAccess {
                    off,
                    size: size.min(255) as u8,
                    len,
                })
            }
            _ => Err(self.err(
                pc,
                K::HelperArg {
                    reg: r,
                    found: v.kind.name(),
                    expected: "fp|pkt|map_value|mem",
                },
            )),
        }
    }

    fn region(
        &self,
        pc: usize,
        r: u8,
        v: &Value,
        size: u64,
        limit: i64,
        oob: impl Fn(i64) -> K,
    ) -> Res<()> {
        let lo = (v.off as i64).saturating_add(v.s.smin);
        let hi = (v.off as i64)
            .saturating_add(v.s.smax.min(1 << 30))
            .saturating_add(size as i64);
        if v.s.smin < 0 && v.s.as_const().is_none() {
            return Err(self.err(pc, K::NegativeOffset { reg: r }));
        }
        if lo < 0 || hi > limit {
            return Err(self.err(pc, oob(lo)));
        }
        Ok(())
    }

    fn local_call(&mut self, pc: usize, insn: Insn) -> Res<Step> {
        let depth = self.ws.cur.depth as usize;
        let too_deep = self.err(
            pc,
            K::CallTooDeep {
                frames: (depth as u8).saturating_add(1),
            },
        );
        if depth >= MAX_CALL_FRAMES {
            return Err(too_deep);
        }
        let target = (pc as i64)
            .saturating_add(1)
            .saturating_add(insn.imm as i64) as usize;
        let st = &mut *self.ws.cur;
        let mut f = Frame::EMPTY;
        f.callsite = pc as u32;
        // `1 <= depth < MAX_CALL_FRAMES`: the caller and the new frame are in the table.
        let Some(caller) = depth.checked_sub(1).and_then(|c| st.frames.get_mut(c)) else {
            return Err(too_deep);
        };
        f.regs[1..=5].copy_from_slice(&caller.regs[1..=5]);
        f.regs[10] = Value::ptr(Kind::Stack, depth as u8);
        // The caller's r0 to r5 are clobbered by the call.
        for r in &mut caller.regs[0..=5] {
            *r = Value::UNINIT;
        }
        *st.frames.get_mut(depth).ok_or(too_deep)? = f;
        st.depth = st.depth.saturating_add(1);
        Ok(Step::Goto(target))
    }

    /// The program must not end (or leave for another program) holding a reference.
    fn no_refs_held(&self, pc: usize) -> Res<()> {
        match self.ws.cur.refs.as_slice().first() {
            Some(r) => Err(self.err(
                pc,
                K::UnreleasedReference {
                    id: r.id,
                    alloc_pc: r.pc,
                },
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn exit(&mut self, pc: usize) -> Res<Step> {
        let r0 = self.read(pc, 0)?;
        let depth = self.ws.cur.depth as usize;
        if depth == 1 {
            self.no_refs_held(pc)?;
            if r0.kind != Kind::Scalar {
                return Err(self.err(
                    pc,
                    K::PointerLeak {
                        reg: 0,
                        into: LeakTarget::Return,
                    },
                ));
            }
            return Ok(Step::End);
        }
        if r0.kind == Kind::Stack && r0.aux as usize >= depth.saturating_sub(1) {
            return Err(self.err(pc, K::StackPointerEscape { reg: 0 }));
        }
        // `2 <= depth <= MAX_CALL_FRAMES` here: the callee and its caller are in the table.
        let too_deep = self.err(
            pc,
            K::CallTooDeep {
                frames: depth as u8,
            },
        );
        let st = &mut *self.ws.cur;
        let callee = *st.frames.get(depth.saturating_sub(1)).ok_or(too_deep)?;
        // Free the callee's spills.
        for s in callee.slots.iter() {
            st.free_spill(s.spill);
        }
        st.depth = st.depth.saturating_sub(1);
        let caller = st.frames.get_mut(depth.saturating_sub(2)).ok_or(too_deep)?;
        caller.regs[0] = r0;
        Ok(Step::Goto((callee.callsite as usize).saturating_add(1)))
    }
}
