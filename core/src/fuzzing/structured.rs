//! `verify_then_run`: structure-aware programs likely to pass the verifier, each accepted one
//! run through the oracle.
//!
//! Programs are made of *gadgets*, short idioms as compilers emit them, with their constants
//! drawn near the edges that matter (a bound one byte short, an offset one past a value):
//! packet accesses behind `data_end` guards in every form, map lookups with (or without) null
//! checks, accesses at variable offsets bounded by masks, shifts or comparisons, stack spills
//! of pointers and numbers, atomics, helper calls, counted loops, local calls to generated
//! functions, legacy packet loads, packet pointers kept in a register across later gadgets
//! (stale once a helper has moved the frame: the verifier must reject their use, and the
//! checking interpreter, which tests packet accesses against the current frame, would catch a
//! verifier that forgot), tail calls through the session's program array, and rare hostile
//! forms (variable stack offsets, pointer arithmetic across kinds, backward jumps that may
//! never end), and the multi-step forms of the classes in `classes.rs`.
//!
//! Register conventions: r6 holds the context (or the memory buffer), r7 to r9 hold values
//! that live across gadgets and calls, r0 to r5 are scratch.

use super::gen::*;
use super::oracle::{Fixture, MAP_ARRAY, MAP_DEVS, MAP_HASH, MAP_LRU, MAP_PROGS};
use super::oracle::{Outcome, VALUE_SIZE};
use super::{link_program, memory_program, xdp_program, Bytes, Source, MEMORY_LEN};
use crate::host::ProgramType;
use crate::isa::opcode::*;
use crate::isa::Insn;
use core::cell::RefCell;
use std::vec::Vec;

/// What a structured program runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// A [`MEMORY_LEN`]-byte buffer.
    Memory,
    /// An XDP frame (`struct xdp_md`).
    Xdp,
    /// A socket filter (`struct __sk_buff`, with direct packet access).
    Socket,
}

impl Flavor {
    /// The program type it is verified for.
    pub fn program_type(self) -> ProgramType {
        match self {
            Flavor::Memory => ProgramType::Memory { len: MEMORY_LEN },
            Flavor::Xdp => ProgramType::Xdp,
            Flavor::Socket => ProgramType::SocketFilter,
        }
    }

    /// Context offsets of the packet start and end pointers.
    pub(super) fn packet_fields(self) -> Option<(i16, i16)> {
        match self {
            Flavor::Memory => None,
            Flavor::Xdp => Some((0, 4)),
            Flavor::Socket => Some((76, 80)),
        }
    }

    /// Context offsets of a few scalar fields (and one past the end).
    fn scalar_fields(self) -> &'static [i16] {
        match self {
            Flavor::Memory => &[0, 8, 56, 60],
            Flavor::Xdp => &[12, 16, 20],
            Flavor::Socket => &[0, 8, 16, 32, 48, 64, 68],
        }
    }
}

const VALUES: [u8; 3] = [7, 8, 9];
const SIZES: [u8; 4] = [1, 2, 4, 8];
const JMP_OPS: [u8; 11] = [
    BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT,
    BPF_JSLE,
];

pub(super) struct Gen<'s, S: Source> {
    pub(super) s: &'s mut S,
    pub(super) flavor: Flavor,
    /// The functions, entry first; a function is created by the first call to it, so every
    /// function is reachable, and calls only go to larger indices, so there is no recursion.
    funcs: Vec<Vec<Item>>,
    /// The most functions (entry included).
    max_funcs: usize,
    /// The function being generated.
    current: usize,
    /// Stack slots (fp-8 times 1 to 8) the current function has surely written.
    pub(super) written: u8,
    /// A value register the current function put a packet pointer in, and how many bytes
    /// from it were in bounds then.
    pub(super) kept: Option<(u8, i64)>,
}

impl<S: Source> Gen<'_, S> {
    /// A value register; never the one holding a kept packet pointer, which no gadget then
    /// overwrites or uses as a number.
    pub(super) fn v(&mut self) -> u8 {
        match self.kept {
            Some((k, _)) => {
                let free: Vec<u8> = VALUES.into_iter().filter(|&r| r != k).collect();
                self.s.pick(&free)
            }
            None => self.s.pick(&VALUES),
        }
    }

    /// Whether to take a variant the verifier should reject (or that needs care): rare, so
    /// that most programs pass and reach the oracle.
    pub(super) fn bad(&mut self) -> bool {
        self.s.chance(1, 24)
    }

    /// A stack slot (1 to 8, at fp-8k) that is written, unless a bad variant.
    fn written_slot(&mut self) -> i16 {
        let w = self.written;
        if w != 0 && !self.bad() {
            let slots: Vec<i16> = (1..=8).filter(|k| w & (1 << (k - 1)) != 0).collect();
            self.s.pick(&slots)
        } else {
            1 + self.s.below(8) as i16
        }
    }

    /// An immediate near an interesting edge.
    pub(super) fn imm(&mut self) -> i32 {
        let base = self.s.pick(&[
            0,
            1,
            4,
            8,
            15,
            16,
            31,
            32,
            63,
            64,
            255,
            0x7fff,
            0xffff,
            i32::MAX,
            i32::MIN,
            -1,
            -8,
            -64,
        ]);
        match self.s.below(4) {
            0 => self.s.next_u64() as i32,
            1 => base.wrapping_add(self.s.below(5) as i32 - 2),
            _ => base,
        }
    }

    /// An offset for an access of `size` bytes into a region of `len` bytes: mostly inside,
    /// often right at an edge, sometimes one past.
    fn off(&mut self, len: i64, size: u8) -> i16 {
        let size = size as i64;
        let last = (len - size).max(0);
        if len < size {
            return if self.bad() {
                0
            } else {
                self.s.below(8) as i16
            };
        }
        let o = if self.bad() {
            self.s.pick(&[last + 1, -1, last + size, -(size)])
        } else {
            match self.s.below(4) {
                0 => 0,
                1 => last,
                _ => self.s.below(last as u64 + 1) as i64,
            }
        };
        o.clamp(-600, 600) as i16
    }

    /// Bounds scalar `r` below `limit` in one of the ways compilers do, and returns the
    /// largest value it lets through (a bad variant may let more through than it says).
    pub(super) fn bound(&mut self, item: &mut Item, r: u8, limit: i64) -> i64 {
        let limit = limit.max(0);
        let bad = self.bad();
        // A bound at the limit, or one past it in a bad variant.
        let k = if bad {
            limit + 1
        } else {
            self.s.below(limit as u64 + 1) as i64
        };
        match self.s.below(8) {
            0 => {
                // The largest mask 2^n - 1 not above k.
                let m = if k == 0 {
                    0
                } else {
                    (1i64 << (63 - k.leading_zeros())) - 1
                };
                let m = if bad { m * 2 + 1 } else { m };
                item.push(alu(BPF_AND, r, m as i32));
                m
            }
            1 => {
                // A shift that leaves at most k: 64 - bits(k).
                let bits = 64 - (k + 1).leading_zeros() as i64 - 1;
                let shift = (64 - bits).clamp(1, 63) - i64::from(bad);
                item.push(alu(BPF_RSH, r, shift as i32));
                (1i64 << (64 - shift).min(62)) - 1
            }
            2 => {
                let signed = self.s.chance(1, 3);
                if signed {
                    item.jump(jmp(BPF_JSGT, r, k as i32, 0), Target::End);
                    if !bad {
                        item.jump(jmp(BPF_JSLT, r, 0, 0), Target::End);
                    }
                } else {
                    let (op, kk) = self.s.pick(&[(BPF_JGT, k), (BPF_JGE, k + 1)]);
                    item.jump(jmp(op, r, kk as i32, 0), Target::End);
                }
                k
            }
            3 => {
                // A 32-bit comparison bounds only the low half: zero-extend first.
                if !bad {
                    item.push(Insn::new(BPF_ALU | BPF_MOV | BPF_X, r, r, 0, 0));
                }
                let (op, kk) = self.s.pick(&[(BPF_JGT, k), (BPF_JGE, k + 1)]);
                item.jump(Insn::new(BPF_JMP32 | op, r, 0, 0, kk as i32), Target::End);
                k
            }
            4 => {
                let m = k + 1 - i64::from(bad);
                item.push(alu(BPF_MOD, r, m as i32));
                k
            }
            5 => {
                // A comparison against another register holding the bound.
                item.push(mov(0, k as i32));
                if self.s.chance(1, 2) {
                    item.jump(jmpr(BPF_JGT, r, 0, 0), Target::End);
                } else {
                    item.jump(jmpr(BPF_JLT, 0, r, 0), Target::End);
                }
                k
            }
            6 => {
                // Masked to 32 bits, then scaled.
                let scale = if k >= 8 { 3 } else { 0 };
                let m = (k >> scale).max(0);
                let m = if m == 0 {
                    0
                } else {
                    (1i64 << (63 - m.leading_zeros())) - 1
                };
                item.push(alu32(BPF_AND, r, m as i32))
                    .push(alu(BPF_LSH, r, scale));
                m << scale
            }
            _ => {
                // A known constant.
                item.push(mov(r, k as i32));
                k
            }
        }
    }

    /// One access at `base + off`; `len` is the region size the generator aims at.
    pub(super) fn access(&mut self, item: &mut Item, base: u8, len: i64, atomics: bool) {
        let size = self.s.pick(&SIZES);
        let off = self.off(len, size);
        let v = self.v();
        let kind = match self.s.below(8) {
            5 | 6 if !atomics && !self.bad() => 0,
            k => k,
        };
        match kind {
            0 | 1 => {
                item.push(ldx(size, v, base, off));
            }
            2 => {
                let size = self.s.pick(&[1u8, 2, 4]);
                item.push(ldxs(size, v, base, off));
            }
            3 => {
                let imm = self.imm();
                item.push(st(size, base, off, imm));
            }
            4 => {
                item.push(stx(size, base, v, off));
            }
            5 | 6 => {
                let size = self.s.pick(&[4u8, 8]);
                let off = self.off(len, size) & !(size as i16 - 1);
                let fetch = if self.s.chance(1, 2) { ATOMIC_FETCH } else { 0 };
                let op = self.s.pick(&[
                    ATOMIC_ADD | fetch,
                    ATOMIC_OR | fetch,
                    ATOMIC_AND | fetch,
                    ATOMIC_XOR | fetch,
                    ATOMIC_XCHG,
                    ATOMIC_CMPXCHG,
                ]);
                item.push(atomic(size, base, v, off, op));
            }
            _ => {
                item.push(ldx(size, 0, base, off)).push(alur(BPF_ADD, v, 0));
            }
        }
    }

    fn alu_gadget(&mut self, item: &mut Item) {
        let d = if self.s.chance(1, 6) { 0 } else { self.v() };
        let s = self.v();
        let class = if self.s.chance(1, 3) {
            BPF_ALU
        } else {
            BPF_ALU64
        };
        let width = if class == BPF_ALU { 32 } else { 64 };
        match self.s.below(12) {
            0 => {
                item.push(Insn::new(class | BPF_NEG, d, 0, 0, 0));
            }
            1 => {
                // Byte swaps: le/be (ALU) and unconditional bswap (ALU64).
                let w = self.s.pick(&[16, 32, 64]);
                let to_be = if class == BPF_ALU && self.s.chance(1, 2) {
                    BPF_X
                } else {
                    BPF_K
                };
                item.push(Insn::new(class | BPF_END | to_be, d, 0, 0, w));
            }
            2 => {
                let off = if class == BPF_ALU {
                    self.s.pick(&[8i16, 16])
                } else {
                    self.s.pick(&[8i16, 16, 32])
                };
                item.push(Insn::new(class | BPF_MOV | BPF_X, d, s, off, 0));
            }
            3 => {
                // Signed division and modulo.
                let op = self.s.pick(&[BPF_DIV, BPF_MOD]);
                let d = if d == 0 { self.v() } else { d };
                if self.s.chance(1, 2) {
                    item.push(Insn::new(class | op | BPF_X, d, s, 1, 0));
                } else {
                    let imm = self.imm();
                    item.push(Insn::new(class | op, d, 0, 1, imm));
                }
            }
            4 | 5 => {
                let op = self.s.pick(&[BPF_LSH, BPF_RSH, BPF_ARSH]);
                let n = width + u64::from(self.bad());
                let k = self.s.below(n) as i32;
                item.push(Insn::new(class | op, d, 0, 0, k));
            }
            _ => {
                let op = self.s.pick(&[
                    BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD,
                    BPF_XOR, BPF_MOV, BPF_ARSH,
                ]);
                if self.s.chance(1, 2) {
                    item.push(Insn::new(class | op | BPF_X, d, s, 0, 0));
                } else {
                    let imm = self.imm();
                    item.push(Insn::new(class | op, d, 0, 0, imm));
                }
            }
        }
    }

    fn cond_gadget(&mut self, item: &mut Item) {
        let v = self.v();
        let op = self.s.pick(&JMP_OPS);
        let class = if self.s.chance(1, 3) {
            BPF_JMP32
        } else {
            BPF_JMP
        };
        let insn = if self.s.chance(1, 3) {
            Insn::new(class | op | BPF_X, v, self.v(), 0, 0)
        } else {
            Insn::new(class | op, v, 0, 0, self.imm())
        };
        if self.s.chance(1, 4) {
            // An early exit on one side.
            item.jump(insn, Target::End);
            let imm = self.imm();
            item.push(mov(0, imm)).push(exit());
        } else {
            let to = if self.s.chance(1, 2) {
                Target::Later
            } else {
                Target::End
            };
            item.jump(insn, to);
            self.alu_gadget(item);
        }
    }

    /// An access to the memory buffer, at a variable offset or not.
    fn memory_gadget(&mut self, item: &mut Item) {
        item.push(movr(2, 6));
        let mut len = MEMORY_LEN as i64;
        if self.s.chance(2, 3) {
            let v = self.v();
            item.push(movr(3, v));
            let limit = self.s.below(len as u64) as i64;
            len -= self.bound(item, 3, limit);
            item.push(alur(BPF_ADD, 2, 3));
        }
        self.access(item, 2, len, true);
    }

    /// A packet access behind a `data_end` guard, in one of the forms compilers emit.
    fn packet_gadget(&mut self, item: &mut Item, data: i16, end: i16) {
        let meta = self.flavor == Flavor::Xdp && self.s.chance(1, 8);
        // Whether to keep the pointer for later gadgets: then every path past this gadget must
        // have it, so the guard returns when it fails and bounds nothing that may jump away.
        let keep = self.kept.is_none() && self.s.chance(1, 2);
        item.push(ldx(4, 2, 6, if meta { 8 } else { data }))
            .push(ldx(4, 3, 6, if meta { data } else { end }));
        if !keep && self.s.chance(1, 2) {
            let v = self.v();
            item.push(movr(4, v));
            let limit = self.s.below(48) as i64;
            self.bound(item, 4, limit);
            item.push(alur(BPF_ADD, 2, 4));
        }
        let n = self.s.below(40) as i32;
        item.push(movr(5, 2)).push(alu(BPF_ADD, 5, n));
        match self.s.below(6) {
            _ if keep => {
                let imm = self.imm();
                item.push(jmpr(BPF_JLE, 5, 3, 2))
                    .push(mov(0, imm))
                    .push(exit())
            }
            0 => item.jump(jmpr(BPF_JGT, 5, 3, 0), Target::End),
            1 => item.jump(jmpr(BPF_JLT, 3, 5, 0), Target::End),
            2 => item.jump(jmpr(BPF_JGE, 5, 3, 0), Target::End),
            3 => item.jump(jmpr(BPF_JLE, 3, 5, 0), Target::End),
            4 => {
                // if r5 <= r3 goto access; else skip.
                item.push(jmpr(BPF_JLE, 5, 3, 1))
                    .jump(Insn::new(op::JA, 0, 0, 0, 0), Target::End)
            }
            _ => item.jump(jmpr(BPF_JGT, 5, 3, 0), Target::Later),
        };
        let len = n as i64;
        for _ in 0..1 + self.s.below(2) {
            self.access(item, 2, len, false);
        }
        if keep {
            // Kept for a later gadget, maybe past a helper that moves the frame.
            let v = self.v();
            item.push(movr(v, 2));
            self.kept = Some((v, len));
        }
    }

    /// An access through a packet pointer an earlier gadget kept (see `packet_gadget`): in
    /// bounds when nothing moved the frame since, stale otherwise.
    fn kept_packet_gadget(&mut self, item: &mut Item, v: u8, len: i64) {
        for _ in 0..1 + self.s.below(2) {
            self.access(item, v, len, false);
        }
    }

    /// Context fields, read (or written where a field allows it).
    fn ctx_gadget(&mut self, item: &mut Item) {
        let fields = self.flavor.scalar_fields();
        let bad = self.bad();
        let off = self.s.pick(fields) + if bad { self.s.pick(&[1i16, 2, -1]) } else { 0 };
        let size = if self.bad() {
            self.s.pick(&[1u8, 2, 8])
        } else {
            4
        };
        let v = self.v();
        let write = self.flavor == Flavor::Memory || self.flavor == Flavor::Socket || bad;
        match self.s.below(if write { 4 } else { 2 }) {
            0 | 1 => {
                item.push(ldx(size, v, 6, off));
            }
            k => {
                let off = match (self.flavor, bad) {
                    (Flavor::Socket, false) => self.s.pick(&[8, 32, 48, 52, 56, 60, 64]),
                    _ => off,
                };
                if k == 2 {
                    item.push(stx(size, 6, v, off));
                } else {
                    let imm = self.imm();
                    item.push(st(size, 6, off, imm));
                }
            }
        }
    }

    /// Stack stores, loads and spills.
    fn stack_gadget(&mut self, item: &mut Item) {
        let k = 1 + self.s.below(8) as i16;
        let slot = -8 * k;
        let v = self.v();
        match self.s.below(8) {
            0 => {
                let size = if self.bad() { self.s.pick(&SIZES) } else { 8 };
                let imm = self.imm();
                item.push(st(size, 10, slot, imm));
                if size == 8 {
                    self.written |= 1 << (k - 1);
                }
            }
            1 | 2 => {
                item.push(stx(8, 10, v, slot));
                self.written |= 1 << (k - 1);
            }
            3 => {
                let k = self.written_slot();
                let size = self.s.pick(&SIZES);
                let off = -8 * k + self.s.below(9 - size as u64) as i16;
                item.push(ldx(size, v, 10, off));
            }
            4 => {
                // Spill the context, fill it back, use it; or clobber a byte of it first.
                item.push(stx(8, 10, 6, slot));
                if self.bad() {
                    let imm = self.imm();
                    item.push(st(1, 10, slot + self.s.below(8) as i16, imm));
                }
                item.push(ldx(8, 2, 10, slot));
                let off = self.s.pick(self.flavor.scalar_fields());
                item.push(ldx(4, v, 2, off));
                self.written |= 1 << (k - 1);
            }
            5 => {
                // A stack pointer in a register, accessed at an offset.
                let k = self.written_slot();
                item.push(movr(2, 10)).push(alu(BPF_ADD, 2, -8 * k as i32));
                self.access(item, 2, 8, true);
            }
            6 if self.bad() => {
                // Variable stack offset: rejected unless the verifier learns it.
                item.push(movr(2, 10)).push(movr(3, v));
                self.bound(item, 3, 64);
                item.push(alur(BPF_SUB, 2, 3));
                let size = self.s.pick(&SIZES);
                item.push(ldx(size, 0, 2, -8));
            }
            _ => {
                item.push(stx(8, 10, v, slot)).push(ldx(8, v, 10, slot));
                self.written |= 1 << (k - 1);
            }
        }
    }

    /// A key for map `idx` at fp-4.
    pub(super) fn key(&mut self, item: &mut Item) {
        if self.s.chance(1, 2) {
            let k = self.s.below(6) as i32;
            item.push(st(4, 10, -4, k));
        } else {
            let v = self.v();
            item.push(stx(4, 10, v, -4));
        }
    }

    fn map_index(&mut self) -> i32 {
        if self.bad() {
            self.s.pick(&[MAP_PROGS, MAP_DEVS, 9])
        } else {
            self.s.pick(&[MAP_HASH, MAP_ARRAY, MAP_LRU])
        }
    }

    /// `bpf_map_lookup_elem`, a null check, then accesses through the value pointer.
    fn lookup_gadget(&mut self, item: &mut Item) {
        let m = self.map_index();
        self.key(item);
        item.extend(&ld_map(1, LDDW_MAP_IDX, m, 0))
            .push(movr(2, 10))
            .push(alu(BPF_ADD, 2, -4))
            .push(call(1));
        match self.s.below(8) {
            0 => {
                item.push(jmp(BPF_JNE, 0, 0, 1))
                    .jump(Insn::new(op::JA, 0, 0, 0, 0), Target::End);
            }
            1 if self.bad() => {
                // Missing null check.
            }
            2 => {
                item.jump(jmp(BPF_JEQ, 0, 0, 0), Target::Later);
            }
            _ => {
                item.jump(jmp(BPF_JEQ, 0, 0, 0), Target::End);
            }
        }
        let len = VALUE_SIZE.get(m as usize).copied().unwrap_or(8) as i64;
        let base = if self.s.chance(1, 4) {
            // Keep the pointer in a value register for later gadgets.
            let v = self.v();
            item.push(movr(v, 0));
            v
        } else {
            item.push(movr(2, 0));
            2
        };
        let mut len = len;
        if self.s.chance(1, 3) {
            let v = self.v();
            item.push(movr(3, v));
            let limit = self.s.below(len as u64) as i64;
            len -= self.bound(item, 3, limit);
            item.push(alur(BPF_ADD, base, 3));
        }
        for _ in 0..1 + self.s.below(3) {
            self.access(item, base, len, true);
        }
    }

    /// A map value by address (`lddw map_value`), as global data is reached.
    fn global_gadget(&mut self, item: &mut Item) {
        let m = self.s.pick(&[MAP_ARRAY, MAP_ARRAY, MAP_HASH]);
        let n = if self.bad() { 20 } else { 16 };
        let off = self.s.below(n) as i32;
        item.extend(&ld_map(2, LDDW_MAP_IDX_VALUE, m, off));
        self.access(item, 2, 16 - off as i64, true);
    }

    /// `bpf_map_update_elem` or `bpf_map_delete_elem`.
    fn update_gadget(&mut self, item: &mut Item) {
        let m = self.map_index();
        self.key(item);
        let v = self.v();
        item.push(stx(8, 10, v, -24)).push(st(8, 10, -16, 5));
        item.extend(&ld_map(1, LDDW_MAP_IDX, m, 0))
            .push(movr(2, 10))
            .push(alu(BPF_ADD, 2, -4));
        if self.s.chance(2, 3) {
            let flags = self.s.pick(&[0, 0, 1, 2, 4]);
            let voff = if self.bad() {
                self.s.pick(&[-16, -20])
            } else {
                -24
            };
            item.push(movr(3, 10))
                .push(alu(BPF_ADD, 3, voff))
                .push(mov(4, flags))
                .push(call(2));
        } else {
            item.push(call(3));
        }
        let v = self.v();
        item.push(movr(v, 0));
    }

    /// Calls of the other standard helpers.
    fn helper_gadget(&mut self, item: &mut Item) {
        let v = self.v();
        // With a packet pointer kept, moving the frame is likelier: the case to get right.
        let moves = self.flavor == Flavor::Xdp && self.kept.is_some() && self.s.chance(1, 2);
        match if moves { 4 } else { self.s.below(8) } {
            0 => {
                let id = self.s.pick(&[5, 7, 8]);
                item.push(call(id));
            }
            1 | 2 => {
                // csum_diff over stack or packet memory.
                let n = if self.bad() {
                    20
                } else {
                    self.s.pick(&[0, 4, 8, 12, 16])
                };
                item.push(st(8, 10, -16, 1)).push(st(8, 10, -8, 2));
                item.push(movr(1, 10)).push(alu(BPF_ADD, 1, -16));
                item.push(mov(2, n))
                    .push(movr(3, 10))
                    .push(alu(BPF_ADD, 3, -16));
                let m = if self.bad() {
                    24
                } else {
                    self.s.pick(&[0, 4, 8, 16])
                };
                item.push(mov(4, m)).push(movr(5, v)).push(call(28));
            }
            3 => {
                let n = if self.bad() {
                    9
                } else {
                    self.s.pick(&[1, 4, 8])
                };
                item.push(st(8, 10, -8, 0x0a_6425)).push(movr(1, 10));
                item.push(alu(BPF_ADD, 1, -8)).push(mov(2, n));
                item.push(movr(3, v)).push(call(6));
            }
            4 | 5 if self.flavor == Flavor::Xdp => {
                // Moves the frame: every packet pointer from before is stale.
                let id = self.s.pick(&[44, 65, 54]);
                let delta = self.s.pick(&[-8, -4, -1, 0, 1, 4, 14, 100]);
                item.push(movr(1, 6)).push(mov(2, delta)).push(call(id));
                if let Some((k, len)) = self.kept {
                    if self.s.chance(2, 3) {
                        // The classic mistake: the pointer from before the move, used at once.
                        self.kept_packet_gadget(item, k, len);
                    }
                }
            }
            6 => {
                // A tail call: slots 0 and 1 hit when the session fills them, 2 is past the
                // array; a variable index may be anything.
                item.push(movr(1, 6));
                item.extend(&ld_map(2, LDDW_MAP_IDX, MAP_PROGS, 0));
                if self.s.chance(1, 4) {
                    let w = self.v();
                    item.push(movr(3, w));
                    if self.s.chance(1, 2) {
                        item.push(alu(BPF_AND, 3, 1));
                    }
                } else {
                    let k = self.s.below(3) as i32;
                    item.push(mov(3, k));
                }
                item.push(call(12));
            }
            _ => {
                item.extend(&ld_map(1, LDDW_MAP_IDX, MAP_DEVS, 0));
                let k = self.s.below(3) as i32;
                item.push(mov(2, k)).push(mov(3, 0)).push(call(51));
            }
        }
        item.push(movr(v, 0));
    }

    /// A counted loop (or, rarely, one whose end the verifier cannot see).
    fn loop_gadget(&mut self, item: &mut Item) {
        let c = self.s.pick(&[4u8, 5]);
        let k = 1 + self.s.below(10) as i32;
        let down = self.s.chance(1, 4);
        let forever = self.bad();
        if !forever {
            item.push(mov(c, if down { k } else { 0 }));
        } else {
            let v = self.v();
            item.push(movr(c, v));
        }
        let head = item.len();
        match self.s.below(3) {
            0 => {
                let v = self.v();
                item.push(alur(BPF_ADD, v, c));
            }
            1 if self.flavor == Flavor::Memory => {
                let scale = if k <= 7 { self.s.pick(&[2, 3]) } else { 2 };
                item.push(movr(2, 6))
                    .push(movr(3, c))
                    .push(alu(BPF_LSH, 3, scale));
                item.push(alur(BPF_ADD, 2, 3));
                let size = self.s.pick(&SIZES);
                let off = self.s.below(8) as i16;
                let v = self.v();
                item.push(ldx(size, 0, 2, off)).push(alur(BPF_ADD, v, 0));
            }
            _ => {
                let v = self.v();
                item.push(stx(8, 10, v, -8)).push(ldx(8, v, 10, -8));
            }
        }
        item.push(alu(BPF_ADD, c, if down { -1 } else { 1 }));
        let (op, bound) = match (down, self.s.below(3)) {
            (false, 0) => (BPF_JLT, k),
            (false, 1) => (BPF_JNE, k),
            (false, _) => (BPF_JSLT, k),
            (true, 0) => (BPF_JNE, 0),
            (true, 1) => (BPF_JGT, 0),
            (true, _) => (BPF_JSGT, 0),
        };
        let class = if self.s.chance(1, 4) {
            BPF_JMP32
        } else {
            BPF_JMP
        };
        let back = head as i64 - item.len() as i64 - 1;
        item.push(Insn::new(class | op, c, 0, back as i16, bound));
    }

    /// A call of a later function (made now if new), with the context in r1 and a pointer to
    /// a stack slot in r2.
    fn call_gadget(&mut self, item: &mut Item) {
        let existing = self.current + 1..self.funcs.len();
        let f = if self.funcs.len() < self.max_funcs && (existing.is_empty() || self.s.chance(1, 2))
        {
            let f = self.funcs.len();
            self.funcs.push(Vec::new());
            let (current, written, kept) = (self.current, self.written, self.kept);
            let body = self.function(f);
            (self.current, self.written, self.kept) = (current, written, kept);
            self.funcs[f] = body;
            f
        } else if !existing.is_empty() {
            existing.start + self.s.below(existing.len() as u64) as usize
        } else {
            return self.alu_gadget(item);
        };
        let v = self.v();
        if !self.bad() {
            item.push(stx(8, 10, v, -8));
            self.written |= 1;
        }
        item.push(movr(1, 6))
            .push(movr(2, 10))
            .push(alu(BPF_ADD, 2, -8));
        item.jump(Insn::new(op::CALL, 0, CALL_LOCAL, 0, 0), Target::Func(f));
        let v = self.v();
        item.push(movr(v, 0));
        if self.s.chance(1, 3) {
            // Whatever the callee wrote through r2.
            item.push(ldx(8, v, 10, -8));
        }
    }

    fn legacy_gadget(&mut self, item: &mut Item) {
        let size = self.s.pick(&[BPF_W, BPF_H, BPF_B]);
        let imm = self.s.below(70) as i32;
        if self.s.chance(1, 2) {
            item.push(Insn::new(BPF_LD | BPF_ABS | size, 0, 0, 0, imm));
        } else {
            let v = self.v();
            item.push(Insn::new(BPF_LD | BPF_IND | size, 0, v, 0, imm));
        }
        let v = self.v();
        item.push(alur(BPF_ADD, v, 0));
    }

    /// Forms the verifier must reject or handle with care.
    fn hostile_gadget(&mut self, item: &mut Item) {
        let v = self.v();
        match self.s.below(5) {
            0 => {
                // Context at a variable offset.
                item.push(movr(2, 6))
                    .push(alur(BPF_ADD, 2, v))
                    .push(ldx(4, 0, 2, 0));
            }
            1 => {
                // Pointer minus pointer, pointer into a value register.
                let (a, b) = self.flavor.packet_fields().unwrap_or((0, 0));
                item.push(ldx(4, 2, 6, a)).push(ldx(4, 3, 6, b));
                item.push(movr(v, 3)).push(alur(BPF_SUB, v, 2));
            }
            2 => {
                // A backward jump: a loop the verifier must prove finite or reject.
                let op = self.s.pick(&JMP_OPS);
                let imm = self.imm();
                item.jump(jmp(op, v, imm, 0), Target::Earlier);
            }
            3 => {
                // Arithmetic on a pointer, then a store of it.
                item.push(movr(2, 10)).push(alu32(BPF_ADD, 2, -8));
                item.push(stx(8, 6, 2, 0));
            }
            _ => {
                // A helper that does not exist, or callx.
                if self.s.chance(1, 2) {
                    item.push(call(self.s.below(300) as i32));
                } else {
                    item.push(mov(0, 5)).push(Insn::new(op::CALLX, 0, 0, 0, 0));
                }
                item.push(movr(v, 0));
            }
        }
    }

    fn gadget(&mut self) -> Item {
        let mut item = Item::new();
        let packet = self.flavor.packet_fields();
        match self.s.below(22) {
            0..=2 => self.alu_gadget(&mut item),
            3 | 4 => self.cond_gadget(&mut item),
            5..=7 => match (packet, self.kept) {
                (Some(_), Some((v, len))) if self.s.chance(1, 3) => {
                    self.kept_packet_gadget(&mut item, v, len)
                }
                (Some((d, e)), _) => self.packet_gadget(&mut item, d, e),
                (None, _) => self.memory_gadget(&mut item),
            },
            8 => self.ctx_gadget(&mut item),
            9 | 10 => self.stack_gadget(&mut item),
            11 | 12 => self.lookup_gadget(&mut item),
            13 => self.global_gadget(&mut item),
            14 => self.update_gadget(&mut item),
            15 => self.helper_gadget(&mut item),
            16 => self.loop_gadget(&mut item),
            17 => self.call_gadget(&mut item),
            18 if self.flavor != Flavor::Xdp => self.legacy_gadget(&mut item),
            20 | 21 => self.class_gadget(&mut item),
            _ => {
                if self.bad() {
                    self.hostile_gadget(&mut item)
                } else {
                    self.alu_gadget(&mut item)
                }
            }
        }
        item
    }

    /// One function: a prologue, gadgets, and an epilogue returning a value.
    fn function(&mut self, index: usize) -> Vec<Item> {
        self.current = index;
        self.written = 0;
        self.kept = None;
        let mut items = Vec::new();
        let mut pro = Item::of(&[movr(6, 1), mov(0, 0)]);
        if index > 0 {
            // The caller's slot, through the pointer in r2.
            let v = self.v();
            match self.s.below(3) {
                0 => pro.push(ldx(8, v, 2, 0)),
                1 => pro.push(stx(8, 2, v, if self.bad() { 8 } else { 0 })),
                _ => &mut pro,
            };
        }
        for r in VALUES {
            match self.s.below(8) {
                0 if self.bad() => {}
                1 | 2 => {
                    let off = self.s.pick(self.flavor.scalar_fields());
                    pro.push(ldx(4, r, 6, off));
                }
                _ => {
                    let imm = self.imm();
                    pro.push(mov(r, imm));
                }
            }
        }
        items.push(pro);
        let n = if index == 0 { 16 } else { 6 };
        for _ in 0..1 + self.s.below(n) {
            if self.s.exhausted() {
                break;
            }
            let g = self.gadget();
            items.push(g);
        }
        let mut epi = Item::new();
        if self.s.chance(1, 2) {
            let v = self.v();
            epi.push(movr(0, v));
        }
        epi.push(exit());
        items.push(epi);
        items
    }
}

/// A structured program for `flavor`, drawn from `src`.
pub fn structured_program(flavor: Flavor, src: &mut impl Source) -> Vec<Insn> {
    let max_funcs = 1 + src.below(4) as usize;
    let mut g = Gen {
        s: src,
        flavor,
        funcs: std::vec![Vec::new()],
        max_funcs,
        current: 0,
        written: 0,
        kept: None,
    };
    g.funcs[0] = g.function(0);
    layout(&g.funcs, g.s)
}

std::thread_local! {
    static FIXTURE: RefCell<Fixture> = RefCell::new(Fixture::new());
}

/// Draws a program from `data` (the first byte picks the generator: the verifier's memory,
/// XDP or linked-copies generator, or a structured program of one flavor), verifies it, and
/// runs an accepted program through the oracle on inputs drawn from the rest of `data`.
///
/// # Panics
/// On a finding (see [`Fixture::check`]).
pub fn verify_then_run(data: &[u8]) {
    let mut src = Bytes::new(data);
    let (prog, pt) = match src.below(9) {
        0 => (memory_program(&mut src), Flavor::Memory.program_type()),
        1 => (xdp_program(&mut src), ProgramType::Xdp),
        2 => (link_program(&mut src), Flavor::Memory.program_type()),
        k => {
            let flavor = [Flavor::Memory, Flavor::Xdp, Flavor::Socket][k as usize % 3];
            (structured_program(flavor, &mut src), flavor.program_type())
        }
    };
    let _: Outcome = FIXTURE.with(|f| f.borrow_mut().check(&prog, pt, &mut src));
}
