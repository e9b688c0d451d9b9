//! The dispatch loop: one `match` on the opcode byte per instruction, registers in a local
//! array indexed by the 4-bit register fields (16 entries, so no bounds check), and memory
//! through [`Access`], which is free of checks for verified programs.

// Registers are indexed by the 4-bit `dst`/`src` fields of a decoded instruction into a
// 16-entry array, so every `reg[..]` is in bounds; `pc` grows by one only after `insns.get(pc)`
// found an instruction, the budget is decremented only when non-zero, and the tail-call count
// only below `MAX_TAIL_CALLS`. The hot loop keeps these plain forms.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::alu;
use super::Interpreter;
use crate::host::{Trap, MAX_CALL_FRAMES, STACK_FRAME_SIZE};
use crate::isa::opcode::op::*;
use crate::isa::opcode::*;
use crate::isa::Insn;
use crate::mem::{packet_load, Access, AtomicOps};
use crate::runtime::ActiveRun;

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
    /// caller has just stored the `ActiveRun`, and copying `r1` and `r2` out of it with one 16-byte
    /// load spanning two 8-byte stores (what the compiler makes of it) waits for both stores
    /// to retire instead of taking their data from the store buffer.
    #[inline(never)]
    pub(crate) fn exec<const CHECKED: bool, const METERED: bool>(
        &self,
        insns: &[Insn],
        mem: &Access<'_, CHECKED>,
        run: &mut ActiveRun<'_, '_>,
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
                // 64-bit arithmetic
                ADD64_IMM | ADD64_REG => alu64!(|a, b| a.wrapping_add(b)),
                SUB64_IMM | SUB64_REG => alu64!(|a, b| a.wrapping_sub(b)),
                MUL64_IMM | MUL64_REG => alu64!(|a, b| a.wrapping_mul(b)),
                DIV64_IMM | DIV64_REG if insn.off == 0 => alu64!(|a, b| alu::udiv64(a, b)),
                DIV64_IMM | DIV64_REG => alu64!(|a, b| alu::sdiv64(a, b)),
                OR64_IMM | OR64_REG => alu64!(|a, b| a | b),
                AND64_IMM | AND64_REG => alu64!(|a, b| a & b),
                LSH64_IMM | LSH64_REG => alu64!(|a, b| a.wrapping_shl(b as u32)),
                RSH64_IMM | RSH64_REG => alu64!(|a, b| a.wrapping_shr(b as u32)),
                NEG64 => reg[d] = reg[d].wrapping_neg(),
                MOD64_IMM | MOD64_REG if insn.off == 0 => alu64!(|a, b| alu::umod64(a, b)),
                MOD64_IMM | MOD64_REG => alu64!(|a, b| alu::smod64(a, b)),
                XOR64_IMM | XOR64_REG => alu64!(|a, b| a ^ b),
                MOV64_IMM => reg[d] = imm,
                MOV64_REG if insn.off == 0 => reg[d] = reg[s],
                MOV64_REG => reg[d] = alu::sext(reg[s], insn.off),
                ARSH64_IMM | ARSH64_REG => alu64!(|a, b| (a as i64).wrapping_shr(b as u32) as u64),
                BSWAP => reg[d] = alu::bswap(reg[d], insn.imm),
                // 32-bit arithmetic
                ADD32_IMM | ADD32_REG => alu32!(|a, b| a.wrapping_add(b)),
                SUB32_IMM | SUB32_REG => alu32!(|a, b| a.wrapping_sub(b)),
                MUL32_IMM | MUL32_REG => alu32!(|a, b| a.wrapping_mul(b)),
                DIV32_IMM | DIV32_REG => {
                    let src = src!();
                    reg[d] = if insn.off == 0 {
                        alu::udiv32(reg[d], src)
                    } else {
                        alu::sdiv32(reg[d], src)
                    };
                }
                OR32_IMM | OR32_REG => alu32!(|a, b| a | b),
                AND32_IMM | AND32_REG => alu32!(|a, b| a & b),
                LSH32_IMM | LSH32_REG => alu32!(|a, b| a.wrapping_shl(b)),
                RSH32_IMM | RSH32_REG => alu32!(|a, b| a.wrapping_shr(b)),
                NEG32 => reg[d] = (reg[d] as u32).wrapping_neg() as u64,
                MOD32_IMM | MOD32_REG => {
                    let src = src!();
                    reg[d] = if insn.off == 0 {
                        alu::umod32(reg[d], src)
                    } else {
                        alu::smod32(reg[d], src)
                    };
                }
                XOR32_IMM | XOR32_REG => alu32!(|a, b| a ^ b),
                MOV32_IMM => reg[d] = imm as u32 as u64,
                MOV32_REG if insn.off == 0 => reg[d] = reg[s] as u32 as u64,
                MOV32_REG => reg[d] = alu::sext(reg[s], insn.off) as u32 as u64,
                ARSH32_IMM | ARSH32_REG => alu32!(|a, b| (a as i32).wrapping_shr(b) as u32),
                TO_LE => reg[d] = alu::to_le(reg[d], insn.imm),
                TO_BE => reg[d] = alu::to_be(reg[d], insn.imm),
                // Loads and stores
                LDXW => reg[d] = mem.load::<4>(reg[s].wrapping_add(off))?,
                LDXH => reg[d] = mem.load::<2>(reg[s].wrapping_add(off))?,
                LDXB => reg[d] = mem.load::<1>(reg[s].wrapping_add(off))?,
                LDXDW => reg[d] = mem.load::<8>(reg[s].wrapping_add(off))?,
                LDXSW => reg[d] = alu::sext(mem.load::<4>(reg[s].wrapping_add(off))?, 32),
                LDXSH => reg[d] = alu::sext(mem.load::<2>(reg[s].wrapping_add(off))?, 16),
                LDXSB => reg[d] = alu::sext(mem.load::<1>(reg[s].wrapping_add(off))?, 8),
                STW => mem.store::<4>(reg[d].wrapping_add(off), imm)?,
                STH => mem.store::<2>(reg[d].wrapping_add(off), imm)?,
                STB => mem.store::<1>(reg[d].wrapping_add(off), imm)?,
                STDW => mem.store::<8>(reg[d].wrapping_add(off), imm)?,
                STXW => mem.store::<4>(reg[d].wrapping_add(off), reg[s])?,
                STXH => mem.store::<2>(reg[d].wrapping_add(off), reg[s])?,
                STXB => mem.store::<1>(reg[d].wrapping_add(off), reg[s])?,
                STXDW => mem.store::<8>(reg[d].wrapping_add(off), reg[s])?,
                ATOMIC_W => {
                    let a = mem.atomic32(reg[d].wrapping_add(off))?;
                    let old = a.rmw(insn.imm, reg[s], reg[0]);
                    atomic_result(&mut reg, s, insn.imm, old);
                }
                ATOMIC_DW => {
                    let a = mem.atomic64(reg[d].wrapping_add(off))?;
                    let old = a.rmw(insn.imm, reg[s], reg[0]);
                    atomic_result(&mut reg, s, insn.imm, old);
                }
                LDDW => {
                    let next = *insns.get(pc).ok_or(Trap::InvalidInstruction)?;
                    pc += 1;
                    reg[d] = run.lddw_value(insn, next).ok_or(Trap::UnresolvedMap)?;
                }
                LDABSW | LDABSH | LDABSB | LDINDW | LDINDH | LDINDB => {
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
                // Jumps, calls, exit
                JA => pc = pc.wrapping_add(insn.off as isize as usize),
                JA32 => pc = pc.wrapping_add(insn.imm as isize as usize),
                JEQ_IMM | JEQ_REG => jump!(|a, b| a == b),
                JGT_IMM | JGT_REG => jump!(|a, b| a > b),
                JGE_IMM | JGE_REG => jump!(|a, b| a >= b),
                JSET_IMM | JSET_REG => jump!(|a, b| a & b != 0),
                JNE_IMM | JNE_REG => jump!(|a, b| a != b),
                JSGT_IMM | JSGT_REG => jump!(|a, b| a as i64 > b as i64),
                JSGE_IMM | JSGE_REG => jump!(|a, b| a as i64 >= b as i64),
                JLT_IMM | JLT_REG => jump!(|a, b| a < b),
                JLE_IMM | JLE_REG => jump!(|a, b| a <= b),
                JSLT_IMM | JSLT_REG => jump!(|a, b| (a as i64) < b as i64),
                JSLE_IMM | JSLE_REG => jump!(|a, b| a as i64 <= b as i64),
                JEQ32_IMM | JEQ32_REG => jump32!(|a, b| a == b),
                JGT32_IMM | JGT32_REG => jump32!(|a, b| a > b),
                JGE32_IMM | JGE32_REG => jump32!(|a, b| a >= b),
                JSET32_IMM | JSET32_REG => jump32!(|a, b| a & b != 0),
                JNE32_IMM | JNE32_REG => jump32!(|a, b| a != b),
                JSGT32_IMM | JSGT32_REG => jump32!(|a, b| a as i32 > b as i32),
                JSGE32_IMM | JSGE32_REG => jump32!(|a, b| a as i32 >= b as i32),
                JLT32_IMM | JLT32_REG => jump32!(|a, b| a < b),
                JLE32_IMM | JLE32_REG => jump32!(|a, b| a <= b),
                JSLT32_IMM | JSLT32_REG => jump32!(|a, b| (a as i32) < b as i32),
                JSLE32_IMM | JSLE32_REG => jump32!(|a, b| a as i32 <= b as i32),
                CALL if insn.src() == CALL_LOCAL => {
                    frames
                        .push(Frame {
                            ret_pc: pc,
                            saved: [reg[6], reg[7], reg[8], reg[9]],
                        })
                        .map_err(|_| Trap::CallDepth)?;
                    reg[10] = reg[10].wrapping_sub(STACK_FRAME_SIZE as u64);
                    pc = pc.wrapping_add(insn.imm as isize as usize);
                }
                CALL if insn.imm == TAIL_CALL => {
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
                CALL => reg[0] = run.call_helper(insn.imm as u32, args(&reg))?,
                CALLX => reg[0] = run.call_helper(reg[d] as u32, args(&reg))?,
                EXIT => {
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
