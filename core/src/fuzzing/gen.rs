//! Program building blocks: instruction constructors, items with jumps patched at layout, and
//! the small generators of the verifier's soundness tests (a memory program with loads, stores
//! and forward branches; a memory program about linked copies of one number; an XDP program
//! with packet guards in every ordering).

use super::Source;
use crate::isa::opcode::*;
use crate::isa::Insn;
use std::vec::Vec;

/// The buffer length of generated memory programs ([`crate::ProgramType::Memory`]).
pub const MEMORY_LEN: u32 = 64;

// ---- instructions --------------------------------------------------------------------------

pub(crate) fn sz(size: u8) -> u8 {
    match size {
        1 => BPF_B,
        2 => BPF_H,
        4 => BPF_W,
        _ => BPF_DW,
    }
}
pub(crate) fn mov(d: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU64 | BPF_MOV, d, 0, 0, imm)
}
pub(crate) fn movr(d: u8, s: u8) -> Insn {
    Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
}
pub(crate) fn movr32(d: u8, s: u8) -> Insn {
    Insn::new(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
}
pub(crate) fn alu(op: u8, d: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU64 | op, d, 0, 0, imm)
}
pub(crate) fn alur(op: u8, d: u8, s: u8) -> Insn {
    Insn::new(BPF_ALU64 | op | BPF_X, d, s, 0, 0)
}
pub(crate) fn alu32(op: u8, d: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU | op, d, 0, 0, imm)
}
pub(crate) fn alur32(op: u8, d: u8, s: u8) -> Insn {
    Insn::new(BPF_ALU | op | BPF_X, d, s, 0, 0)
}
pub(crate) fn ldx(size: u8, d: u8, s: u8, off: i16) -> Insn {
    Insn::new(BPF_LDX | BPF_MEM | sz(size), d, s, off, 0)
}
pub(crate) fn ldxs(size: u8, d: u8, s: u8, off: i16) -> Insn {
    Insn::new(BPF_LDX | BPF_MEMSX | sz(size), d, s, off, 0)
}
pub(crate) fn st(size: u8, d: u8, off: i16, imm: i32) -> Insn {
    Insn::new(BPF_ST | BPF_MEM | sz(size), d, 0, off, imm)
}
pub(crate) fn stx(size: u8, d: u8, s: u8, off: i16) -> Insn {
    Insn::new(BPF_STX | BPF_MEM | sz(size), d, s, off, 0)
}
pub(crate) fn atomic(size: u8, d: u8, s: u8, off: i16, imm: i32) -> Insn {
    Insn::new(BPF_STX | BPF_ATOMIC | sz(size), d, s, off, imm)
}
pub(crate) fn jmp(op: u8, d: u8, imm: i32, off: i16) -> Insn {
    Insn::new(BPF_JMP | op, d, 0, off, imm)
}
pub(crate) fn jmpr(op: u8, d: u8, s: u8, off: i16) -> Insn {
    Insn::new(BPF_JMP | op | BPF_X, d, s, off, 0)
}
pub(crate) fn jmp32(op: u8, d: u8, imm: i32, off: i16) -> Insn {
    Insn::new(BPF_JMP32 | op, d, 0, off, imm)
}
pub(crate) fn call(id: i32) -> Insn {
    Insn::new(op::CALL, 0, 0, 0, id)
}
pub(crate) fn exit() -> Insn {
    Insn::new(op::EXIT, 0, 0, 0, 0)
}
/// `lddw d, src[idx]+off` for the map forms (src 5: map by index, 6: value address).
pub(crate) fn ld_map(d: u8, src: u8, idx: i32, off: i32) -> [Insn; 2] {
    [
        Insn::new(op::LDDW, d, src, 0, idx),
        Insn::new(0, 0, 0, 0, off),
    ]
}

// ---- items and layout ----------------------------------------------------------------------

/// Where a patched jump or call goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// The first instruction after this item.
    End,
    /// The start of a random later item of the same function (its epilogue included).
    Later,
    /// The start of a random item of the same function up to this one (a backward jump).
    Earlier,
    /// The start of function `k` (a local call; `k` counts from 1, 0 being the entry).
    Func(usize),
}

/// A few instructions generated together, with jumps to patch at layout.
#[derive(Clone, Debug, Default)]
pub(crate) struct Item {
    pub insns: Vec<Insn>,
    patches: Vec<(usize, Target)>,
}

impl Item {
    pub fn new() -> Self {
        Item::default()
    }

    pub fn of(insns: &[Insn]) -> Self {
        Item {
            insns: insns.to_vec(),
            patches: Vec::new(),
        }
    }

    pub fn push(&mut self, insn: Insn) -> &mut Self {
        self.insns.push(insn);
        self
    }

    pub fn extend(&mut self, insns: &[Insn]) -> &mut Self {
        self.insns.extend_from_slice(insns);
        self
    }

    /// Pushes a jump (or a local call) whose offset (immediate) is set at layout.
    pub fn jump(&mut self, insn: Insn, to: Target) -> &mut Self {
        self.patches.push((self.insns.len(), to));
        self.insns.push(insn);
        self
    }

    /// The index the next pushed instruction will have.
    pub fn len(&self) -> usize {
        self.insns.len()
    }
}

/// Lays out functions (each a list of items whose last item is its epilogue, with no
/// patches) one after the other and patches every jump and call.
pub(crate) fn layout(funcs: &[Vec<Item>], src: &mut impl Source) -> Vec<Insn> {
    let mut func_starts = Vec::new();
    let mut item_starts: Vec<Vec<usize>> = Vec::new();
    let mut pc = 0usize;
    for items in funcs {
        func_starts.push(pc);
        let mut starts = Vec::new();
        for item in items {
            starts.push(pc);
            pc += item.insns.len();
        }
        starts.push(pc);
        item_starts.push(starts);
    }
    let mut out = Vec::with_capacity(pc);
    for (f, items) in funcs.iter().enumerate() {
        let starts = &item_starts[f];
        for (k, item) in items.iter().enumerate() {
            let base = starts[k];
            let mut insns = item.insns.clone();
            for &(i, to) in &item.patches {
                let at = base + i;
                let target = match to {
                    Target::End => starts[k + 1],
                    Target::Later => {
                        // Later items, the epilogue included (never past the function's end).
                        let later = &starts[k + 1..starts.len() - 1];
                        if later.is_empty() {
                            starts[k + 1]
                        } else {
                            later[src.below(later.len() as u64) as usize]
                        }
                    }
                    Target::Earlier => starts[src.below(k as u64 + 1) as usize],
                    Target::Func(g) => func_starts.get(g).copied().unwrap_or(0),
                };
                let rel = target as i64 - at as i64 - 1;
                let insn = &mut insns[i];
                if insn.opcode == op::CALL {
                    insn.imm = rel as i32;
                } else {
                    insn.off = rel.clamp(i16::MIN as i64, i16::MAX as i64) as i16;
                }
            }
            out.extend(insns);
        }
    }
    out
}

// ---- the verifier's random programs --------------------------------------------------------

/// Registers the memory generator writes (r1 stays the buffer, r6 is scratch, r9 a loop
/// counter, r10 the frame).
const REGS: [u8; 7] = [0, 2, 3, 4, 5, 7, 8];

/// A random memory program over a [`MEMORY_LEN`]-byte buffer: straight-line code with forward
/// branches (64- and 32-bit), loads and stores into the buffer and the stack, atomics, pointer
/// arithmetic with bounded or unbounded offsets, 32-bit copies and differences of pointers,
/// and linked copies moved by constants whose comparisons bound accesses through the
/// original; sometimes the body runs in a loop counted by r9.
pub fn memory_program(src: &mut impl Source) -> Vec<Insn> {
    let mut body: Vec<Item> = Vec::new();
    body.push(Item::of(&[mov(0, 0)]));
    for r in REGS {
        body.push(Item::of(&[if src.below(2) == 0 {
            mov(r, src.below(64) as i32)
        } else {
            ldx(src.pick(&[1u8, 1, 2, 8]), r, 1, src.below(56) as i16)
        }]));
    }
    for slot in 1..=5 {
        if src.below(3) != 0 {
            body.push(Item::of(&[st(8, 10, -8 * slot, src.below(100) as i32)]));
        }
    }
    // Sometimes the body runs in a loop counted by r9 (which the body never writes).
    let looped = src.below(3) == 0;
    if looped {
        body.push(Item::of(&[mov(9, 0)]));
    }
    let body_start = body.len();
    let n = 4 + src.below(16);
    let sizes = [1u8, 2, 4, 8];
    for _ in 0..n {
        let r = src.pick(&REGS);
        let s = src.pick(&REGS);
        let size = src.pick(&sizes);
        let mut item = Item::new();
        match src.below(14) {
            0 if src.below(4) == 0 => {
                // The low half of a pointer (a number), or a 32-bit difference with one.
                item.push(if src.below(2) == 0 {
                    movr32(r, src.pick(&[1u8, 10]))
                } else {
                    alur32(BPF_SUB, r, 1)
                });
            }
            0 => {
                item.push(mov(r, src.below(80) as i32 - 8));
            }
            1 => {
                let o = src.below(66) as i16 - 2;
                item.push(ldx(size, r, 1, o));
            }
            2 => {
                let op = src.pick(&[
                    BPF_ADD, BPF_SUB, BPF_AND, BPF_OR, BPF_RSH, BPF_LSH, BPF_MOD, BPF_DIV, BPF_MUL,
                    BPF_XOR, BPF_ARSH,
                ]);
                item.push(if src.below(2) == 0 {
                    alu(op, r, src.below(70) as i32)
                } else if src.below(2) == 0 {
                    alur(op, r, s)
                } else {
                    alu32(op, r, src.below(70) as i32)
                });
            }
            3 => {
                let mask = src.pick(&[7, 31, 63, 127]);
                let o = src.below(66) as i16 - 2;
                item.extend(&[alu(BPF_AND, s, mask), movr(6, 1), alur(BPF_ADD, 6, s)])
                    .push(ldx(size, r, 6, o));
            }
            4 => {
                let mask = src.pick(&[7, 31, 63]);
                let o = src.below(66) as i16 - 2;
                item.extend(&[alu(BPF_AND, s, mask), movr(6, 1), alur(BPF_ADD, 6, s)])
                    .push(stx(size, 6, r, o));
            }
            5 => {
                let o = -(src.below(40) as i16) - 1;
                item.push(st(size, 10, o, src.below(100) as i32));
            }
            6 => {
                item.push(stx(size, 10, r, -(src.below(40) as i16) - 1));
            }
            7 => {
                item.push(ldx(size, r, 10, -(src.below(40) as i16) - 1));
            }
            8 => {
                let sz = src.pick(&[4u8, 8]);
                let o = src.below(66) as i16 - 2;
                let fetch = if src.below(2) == 0 { ATOMIC_FETCH } else { 0 };
                item.push(atomic(sz, 1, r, o, ATOMIC_ADD | fetch));
            }
            9 => {
                let o = src.below(66) as i16 - 2;
                item.push(stx(size, 1, r, o));
            }
            10 | 11 => {
                // A copy of `s` (linked), moved by a constant, then compared: the comparison
                // bounds `s` only through the link.
                item.push(if src.below(4) == 0 {
                    movr32(r, s)
                } else {
                    movr(r, s)
                });
                let k = src.below(80) as i32 - 40;
                item.push(match src.below(4) {
                    0 => alu(BPF_SUB, r, k),
                    1 => alu32(BPF_ADD, r, k),
                    2 => mov(6, 0),
                    _ => alu(BPF_ADD, r, k),
                });
                let op = src.pick(&[BPF_JGT, BPF_JGE, BPF_JLT, BPF_JSGT, BPF_JSLT, BPF_JEQ]);
                let imm = src.below(70) as i32;
                let cmp = if src.below(3) == 0 {
                    jmp32(op, r, imm, 0)
                } else {
                    jmp(op, r, imm, 0)
                };
                item.jump(cmp, Target::Later);
            }
            12 if src.below(2) == 0 => {
                // A guard on a copy of `s` that skips an access through `s` which only the
                // link can have bounded.
                let k = src.below(80) as i32 - 40;
                let op = src.pick(&[BPF_JGT, BPF_JGE, BPF_JSGT, BPF_JSGE]);
                let imm = src.below(70) as i32;
                item.extend(&[movr(r, s), alu(BPF_ADD, r, k)])
                    .jump(jmp(op, r, imm, 0), Target::End);
                let o = src.below(66) as i16 - 2;
                item.extend(&[movr(6, 1), alur(BPF_ADD, 6, s)])
                    .push(if src.below(2) == 0 {
                        ldx(size, r, 6, o)
                    } else {
                        stx(size, 6, r, o)
                    });
            }
            12 => {
                // An access through a register only an earlier linked comparison can have
                // bounded.
                let o = src.below(66) as i16 - 2;
                item.extend(&[movr(6, 1), alur(BPF_ADD, 6, s)])
                    .push(if src.below(2) == 0 {
                        ldx(size, r, 6, o)
                    } else {
                        stx(size, 6, r, o)
                    });
            }
            _ => {
                let op = src.pick(&[
                    BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JEQ, BPF_JNE, BPF_JSGT, BPF_JSLT,
                    BPF_JSET,
                ]);
                let insn = if src.below(2) == 0 {
                    jmp(op, r, src.below(70) as i32, 0)
                } else {
                    jmpr(op, r, s, 0)
                };
                item.jump(insn, Target::Later);
            }
        }
        body.push(item);
    }
    if looped {
        let body_len: usize = body[body_start..].iter().map(|i| i.insns.len()).sum();
        let back = -(body_len as i16 + 2);
        let bound = 1 + src.below(6) as i32;
        body.push(Item::of(&[
            alu(BPF_ADD, 9, 1),
            jmp(BPF_JLT, 9, bound, back),
        ]));
    }
    body.push(Item::of(&[exit()]));
    layout(&[body], src)
}

/// A random memory program about linked scalars: a number loaded from the buffer, one to four
/// copies of it (64- or 32-bit, moved by constants, some spilled to the stack, one sometimes
/// overwritten), a guard on one copy (a comparison with a constant, a 32-bit one, or one with
/// another copy), and an access through another copy or a reloaded spill, which the guard
/// skips: the access is in bounds only if the guard's refinement reached it through the link.
pub fn link_program(src: &mut impl Source) -> Vec<Insn> {
    let size = src.pick(&[1u8, 1, 2, 8]);
    let mut p = std::vec![mov(0, 0), ldx(size, 2, 1, src.below(56) as i16)];
    let mut holders: Vec<u8> = std::vec![2];
    let mut slots = 0i16;
    for _ in 0..1 + src.below(4) {
        let dst = src.pick(&[3u8, 4, 5, 7]);
        let from = src.pick(&holders);
        p.push(if src.below(5) == 0 {
            movr32(dst, from)
        } else {
            movr(dst, from)
        });
        let k = src.below(100) as i32 - 50;
        match src.below(6) {
            0 => p.push(alu(BPF_SUB, dst, k)),
            1 => p.push(alu32(BPF_ADD, dst, k)),
            2 => p.push(alu(BPF_ADD, dst, src.pick(&[i32::MAX, i32::MIN, -1]))),
            3 | 4 => p.push(alu(BPF_ADD, dst, k)),
            _ => {}
        }
        if src.below(3) == 0 && slots < 4 {
            slots += 1;
            p.push(stx(8, 10, dst, -8 * slots));
        }
        holders.push(dst);
    }
    if src.below(4) == 0 {
        // One holder overwritten by an unrelated number.
        p.push(ldx(1, src.pick(&holders), 1, src.below(64) as i16));
    }
    if slots > 0 && src.below(2) == 0 {
        // A spill clobbered by a narrow store.
        let o = -8 * (1 + src.below(slots as u64) as i16);
        p.push(st(1, 10, o, 7));
    }
    // The access: through a holder, or a spill reloaded into r8.
    let mut access: Vec<Insn> = Vec::new();
    let mut through = src.pick(&holders);
    if slots > 0 && src.below(2) == 0 {
        let o = -8 * (1 + src.below(slots as u64) as i16);
        access.push(ldx(8, 8, 10, o));
        through = 8;
    }
    access.extend([movr(6, 1), alur(BPF_ADD, 6, through)]);
    let off = src.below(70) as i16 - 4;
    let sz = src.pick(&[1u8, 2, 4, 8]);
    access.push(if src.below(2) == 0 {
        ldx(sz, 0, 6, off)
    } else {
        stx(sz, 6, 0, off)
    });
    let op = src.pick(&[
        BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE, BPF_JEQ,
        BPF_JNE,
    ]);
    let guard = src.pick(&holders);
    let skip = access.len() as i16;
    let imm = src.below(90) as i32 - 10;
    p.push(match src.below(4) {
        0 => jmp32(op, guard, imm, skip),
        1 => {
            let other = src.pick(&holders);
            jmpr(op, guard, other, skip)
        }
        _ => jmp(op, guard, imm, skip),
    });
    p.extend(access);
    p.push(exit());
    p
}

/// A random XDP program: packet reads and writes through `data` (r2) and a variable copy
/// (r6), guarded by random comparisons against `data_end` (r3) in all orderings.
pub fn xdp_program(src: &mut impl Source) -> Vec<Insn> {
    let mut body: Vec<Item> = std::vec![Item::of(&[
        ldx(4, 2, 1, 0),
        ldx(4, 3, 1, 4),
        mov(0, 0),
        movr(6, 2)
    ])];
    for r in [5u8, 7, 8, 9] {
        body.push(Item::of(&[mov(r, src.below(16) as i32)]));
    }
    let sizes = [1u8, 2, 4, 8];
    for _ in 0..4 + src.below(12) {
        let r = src.pick(&[0u8, 5, 7, 8, 9]);
        let size = src.pick(&sizes);
        let base = src.pick(&[2u8, 6]);
        let off = src.below(40) as i16 - 2;
        let mut item = Item::new();
        match src.below(6) {
            0 | 1 => {
                let n = src.below(40) as i32;
                let (op, swap) = src.pick(&[
                    (BPF_JGT, false),
                    (BPF_JGE, false),
                    (BPF_JLT, false),
                    (BPF_JLE, false),
                    (BPF_JGT, true),
                    (BPF_JGE, true),
                    (BPF_JLT, true),
                    (BPF_JLE, true),
                ]);
                let cmp = if swap {
                    jmpr(op, 3, 4, 0)
                } else {
                    jmpr(op, 4, 3, 0)
                };
                item.extend(&[movr(4, base), alu(BPF_ADD, 4, n)])
                    .jump(cmp, Target::Later);
            }
            2 => {
                item.push(ldx(size, r, base, off));
            }
            3 => {
                item.push(stx(size, base, r, off));
            }
            4 => {
                item.extend(&[alu(BPF_AND, r, 15), movr(6, 2), alur(BPF_ADD, 6, r)]);
            }
            _ => {
                item.push(ldx(4, r, 1, src.pick(&[12, 16, 20])));
            }
        }
        body.push(item);
    }
    body.push(Item::of(&[exit()]));
    layout(&[body], src)
}
