//! The dispatch loop: one `match` on the opcode byte per instruction, registers in a local
//! array indexed by the 4-bit register fields (16 entries, so no bounds check), and memory
//! through [`Access`], which is free of checks for verified programs.

use super::alu;
use super::mem::{packet_load, Access, AtomicOps};
use super::Interpreter;
use crate::env::{Trap, MAX_CALL_FRAMES, STACK_FRAME_SIZE};
use crate::isa::opcode::*;
use crate::isa::Insn;
use crate::runtime::Run;

/// Linux's limit on chained tail calls.
pub(crate) const MAX_TAIL_CALLS: u32 = 33;

/// Linux's `BPF_FUNC_tail_call`.
const TAIL_CALL: i32 = 12;

/// A saved caller frame of a bpf-to-bpf call.
#[derive(Clone, Copy)]
struct Frame {
    ret_pc: usize,
    saved: [u64; 4],
}

impl Interpreter<'_> {
    /// Runs `insns` from slot 0 with r1, r2 and r10 as given. `insns` must be a valid
    /// [`crate::Program`]'s slots, so every jump lands inside it and the last slot cannot fall
    /// through.
    ///
    /// The entry registers come as scalar arguments, in registers, not read from `run`: the
    /// caller has just stored the `Run`, and copying `r1` and `r2` out of it with one 16-byte
    /// load spanning two 8-byte stores (what the compiler makes of it) waits for both stores
    /// to retire instead of taking their data from the store buffer.
    #[inline(never)]
    pub(crate) fn exec<const CHECKED: bool, const METERED: bool>(
        &self,
        insns: &[Insn],
        mem: &Access<'_, CHECKED>,
        run: &mut Run<'_, '_>,
        r1: u64,
        r2: u64,
        r10: u64,
    ) -> Result<u64, Trap> {
        let mut insns = insns;
        let mut tail_calls = 0u32;
        let mut reg = [0u64; 16];
        reg[1] = r1;
        reg[2] = r2;
        reg[10] = r10;
        // Empty at start and never zeroed: most programs make no local call, and clearing
        // eight frames would cost more than running a short program.
        let mut frames = heapless::Vec::<Frame, { MAX_CALL_FRAMES - 1 }>::new();
        let mut budget = self.runtime().budget().unwrap_or(u64::MAX);
        let mut pc = 0usize;

        loop {
            let insn = *insns.get(pc).ok_or(Trap::InvalidInstruction)?;
            pc += 1;
            if METERED {
                if budget == 0 {
                    return Err(Trap::BudgetExhausted);
                }
                budget -= 1;
            }
            let d = insn.dst() as usize;
            let s = insn.src() as usize;
            let imm = insn.imm as i64 as u64;
            let off = insn.off as i64 as u64;
            // The second operand: the source register or the sign-extended immediate.
            macro_rules! src {
                () => {
                    if insn.opcode & BPF_X != 0 {
                        reg[s]
                    } else {
                        imm
                    }
                };
            }
            macro_rules! alu64 {
                (|$a:ident, $b:ident| $e:expr) => {{
                    let ($a, $b) = (reg[d], src!());
                    reg[d] = $e;
                }};
            }
            macro_rules! alu32 {
                (|$a:ident, $b:ident| $e:expr) => {{
                    let ($a, $b) = (reg[d] as u32, src!() as u32);
                    reg[d] = ($e) as u64;
                }};
            }
            macro_rules! jump {
                (|$a:ident, $b:ident| $e:expr) => {{
                    let ($a, $b) = (reg[d], src!());
                    if $e {
                        pc = pc.wrapping_add(insn.off as isize as usize);
                    }
                }};
            }
            macro_rules! jump32 {
                (|$a:ident, $b:ident| $e:expr) => {{
                    let ($a, $b) = (reg[d] as u32, src!() as u32);
                    if $e {
                        pc = pc.wrapping_add(insn.off as isize as usize);
                    }
                }};
            }
            match insn.opcode {
                // ALU64
                0x07 | 0x0f => alu64!(|a, b| a.wrapping_add(b)),
                0x17 | 0x1f => alu64!(|a, b| a.wrapping_sub(b)),
                0x27 | 0x2f => alu64!(|a, b| a.wrapping_mul(b)),
                0x37 | 0x3f if insn.off == 0 => alu64!(|a, b| alu::udiv64(a, b)),
                0x37 | 0x3f => alu64!(|a, b| alu::sdiv64(a, b)),
                0x47 | 0x4f => alu64!(|a, b| a | b),
                0x57 | 0x5f => alu64!(|a, b| a & b),
                0x67 | 0x6f => alu64!(|a, b| a.wrapping_shl(b as u32)),
                0x77 | 0x7f => alu64!(|a, b| a.wrapping_shr(b as u32)),
                0x87 => reg[d] = reg[d].wrapping_neg(),
                0x97 | 0x9f if insn.off == 0 => alu64!(|a, b| alu::umod64(a, b)),
                0x97 | 0x9f => alu64!(|a, b| alu::smod64(a, b)),
                0xa7 | 0xaf => alu64!(|a, b| a ^ b),
                0xb7 => reg[d] = imm,
                0xbf if insn.off == 0 => reg[d] = reg[s],
                0xbf => reg[d] = alu::sext(reg[s], insn.off),
                0xc7 | 0xcf => alu64!(|a, b| (a as i64).wrapping_shr(b as u32) as u64),
                0xd7 => reg[d] = alu::bswap(reg[d], insn.imm),
                // ALU
                0x04 | 0x0c => alu32!(|a, b| a.wrapping_add(b)),
                0x14 | 0x1c => alu32!(|a, b| a.wrapping_sub(b)),
                0x24 | 0x2c => alu32!(|a, b| a.wrapping_mul(b)),
                0x34 | 0x3c => {
                    let src = src!();
                    reg[d] = if insn.off == 0 {
                        alu::udiv32(reg[d], src)
                    } else {
                        alu::sdiv32(reg[d], src)
                    };
                }
                0x44 | 0x4c => alu32!(|a, b| a | b),
                0x54 | 0x5c => alu32!(|a, b| a & b),
                0x64 | 0x6c => alu32!(|a, b| a.wrapping_shl(b)),
                0x74 | 0x7c => alu32!(|a, b| a.wrapping_shr(b)),
                0x84 => reg[d] = (reg[d] as u32).wrapping_neg() as u64,
                0x94 | 0x9c => {
                    let src = src!();
                    reg[d] = if insn.off == 0 {
                        alu::umod32(reg[d], src)
                    } else {
                        alu::smod32(reg[d], src)
                    };
                }
                0xa4 | 0xac => alu32!(|a, b| a ^ b),
                0xb4 => reg[d] = imm as u32 as u64,
                0xbc if insn.off == 0 => reg[d] = reg[s] as u32 as u64,
                0xbc => reg[d] = alu::sext(reg[s], insn.off) as u32 as u64,
                0xc4 | 0xcc => alu32!(|a, b| (a as i32).wrapping_shr(b) as u32),
                0xd4 => reg[d] = alu::to_le(reg[d], insn.imm),
                0xdc => reg[d] = alu::to_be(reg[d], insn.imm),
                // Loads and stores
                0x61 => reg[d] = mem.load::<4>(reg[s].wrapping_add(off))?,
                0x69 => reg[d] = mem.load::<2>(reg[s].wrapping_add(off))?,
                0x71 => reg[d] = mem.load::<1>(reg[s].wrapping_add(off))?,
                0x79 => reg[d] = mem.load::<8>(reg[s].wrapping_add(off))?,
                0x81 => reg[d] = alu::sext(mem.load::<4>(reg[s].wrapping_add(off))?, 32),
                0x89 => reg[d] = alu::sext(mem.load::<2>(reg[s].wrapping_add(off))?, 16),
                0x91 => reg[d] = alu::sext(mem.load::<1>(reg[s].wrapping_add(off))?, 8),
                0x62 => mem.store::<4>(reg[d].wrapping_add(off), imm)?,
                0x6a => mem.store::<2>(reg[d].wrapping_add(off), imm)?,
                0x72 => mem.store::<1>(reg[d].wrapping_add(off), imm)?,
                0x7a => mem.store::<8>(reg[d].wrapping_add(off), imm)?,
                0x63 => mem.store::<4>(reg[d].wrapping_add(off), reg[s])?,
                0x6b => mem.store::<2>(reg[d].wrapping_add(off), reg[s])?,
                0x73 => mem.store::<1>(reg[d].wrapping_add(off), reg[s])?,
                0x7b => mem.store::<8>(reg[d].wrapping_add(off), reg[s])?,
                0xc3 => {
                    let a = mem.atomic32(reg[d].wrapping_add(off))?;
                    let old = a.rmw(insn.imm, reg[s], reg[0]);
                    atomic_result(&mut reg, s, insn.imm, old);
                }
                0xdb => {
                    let a = mem.atomic64(reg[d].wrapping_add(off))?;
                    let old = a.rmw(insn.imm, reg[s], reg[0]);
                    atomic_result(&mut reg, s, insn.imm, old);
                }
                0x18 => {
                    let next = *insns.get(pc).ok_or(Trap::InvalidInstruction)?;
                    pc += 1;
                    reg[d] = run.lddw_value(insn, next).ok_or(Trap::UnresolvedMap)?;
                }
                0x20 | 0x28 | 0x30 | 0x40 | 0x48 | 0x50 => {
                    let base = if insn.opcode & BPF_IND != 0 {
                        reg[s]
                    } else {
                        0
                    };
                    let at = (base as u32 as u64).wrapping_add(insn.imm as u32 as u64) as u32;
                    let v = match insn.opcode & 0x18 {
                        BPF_W => packet_load::<4>(run.entry.packet, at as u64),
                        BPF_H => packet_load::<2>(run.entry.packet, at as u64),
                        _ => packet_load::<1>(run.entry.packet, at as u64),
                    };
                    match v {
                        Some(v) => reg[0] = v,
                        None => return Ok(0),
                    }
                }
                // JMP
                0x05 => pc = pc.wrapping_add(insn.off as isize as usize),
                0x06 => pc = pc.wrapping_add(insn.imm as isize as usize),
                0x15 | 0x1d => jump!(|a, b| a == b),
                0x25 | 0x2d => jump!(|a, b| a > b),
                0x35 | 0x3d => jump!(|a, b| a >= b),
                0x45 | 0x4d => jump!(|a, b| a & b != 0),
                0x55 | 0x5d => jump!(|a, b| a != b),
                0x65 | 0x6d => jump!(|a, b| a as i64 > b as i64),
                0x75 | 0x7d => jump!(|a, b| a as i64 >= b as i64),
                0xa5 | 0xad => jump!(|a, b| a < b),
                0xb5 | 0xbd => jump!(|a, b| a <= b),
                0xc5 | 0xcd => jump!(|a, b| (a as i64) < b as i64),
                0xd5 | 0xdd => jump!(|a, b| a as i64 <= b as i64),
                0x16 | 0x1e => jump32!(|a, b| a == b),
                0x26 | 0x2e => jump32!(|a, b| a > b),
                0x36 | 0x3e => jump32!(|a, b| a >= b),
                0x46 | 0x4e => jump32!(|a, b| a & b != 0),
                0x56 | 0x5e => jump32!(|a, b| a != b),
                0x66 | 0x6e => jump32!(|a, b| a as i32 > b as i32),
                0x76 | 0x7e => jump32!(|a, b| a as i32 >= b as i32),
                0xa6 | 0xae => jump32!(|a, b| a < b),
                0xb6 | 0xbe => jump32!(|a, b| a <= b),
                0xc6 | 0xce => jump32!(|a, b| (a as i32) < b as i32),
                0xd6 | 0xde => jump32!(|a, b| a as i32 <= b as i32),
                0x85 if insn.src() == CALL_LOCAL => {
                    frames
                        .push(Frame {
                            ret_pc: pc,
                            saved: [reg[6], reg[7], reg[8], reg[9]],
                        })
                        .map_err(|_| Trap::CallDepth)?;
                    reg[10] = reg[10].wrapping_sub(STACK_FRAME_SIZE as u64);
                    pc = pc.wrapping_add(insn.imm as isize as usize);
                }
                0x85 if insn.imm == TAIL_CALL => {
                    reg[0] = run.call_helper(TAIL_CALL as u32, args(&reg))?;
                    if let Some(target) = run.take_tail_call() {
                        // Linux: a tail call replaces the running program, keeps the stack and
                        // the context, and fails (falls through) past the chain limit.
                        if tail_calls < MAX_TAIL_CALLS && frames.is_empty() {
                            let p = target;
                            tail_calls += 1;
                            insns = p.insns();
                            // A verified program's instructions are in the runtime layout.
                            mem.in_program_view(false);
                            pc = 0;
                            reg[1] = r1;
                        } else {
                            reg[0] = (-7i64) as u64; // E2BIG
                        }
                    }
                }
                0x85 => reg[0] = run.call_helper(insn.imm as u32, args(&reg))?,
                0x8d => reg[0] = run.call_helper(reg[d] as u32, args(&reg))?,
                0x95 => {
                    let Some(f) = frames.pop() else {
                        return Ok(reg[0]);
                    };
                    [reg[6], reg[7], reg[8], reg[9]] = f.saved;
                    reg[10] = reg[10].wrapping_add(STACK_FRAME_SIZE as u64);
                    pc = f.ret_pc;
                }
                _ => return Err(Trap::InvalidInstruction),
            }
        }
    }
}

/// r1 to r5, the arguments of a call.
#[inline(always)]
fn args(reg: &[u64; 16]) -> [u64; 5] {
    [reg[1], reg[2], reg[3], reg[4], reg[5]]
}

/// Writes the fetched old value of an atomic where the instruction says.
#[inline(always)]
fn atomic_result(reg: &mut [u64; 16], s: usize, op: i32, old: u64) {
    if op == ATOMIC_CMPXCHG {
        reg[0] = old;
    } else if op & ATOMIC_FETCH != 0 {
        reg[s] = old;
    }
}
