//! Lowering of one classic instruction to a short sequence of eBPF slots.
//!
//! Register mapping, as Linux's `bpf_convert_filter`: A is r0, X is r7, r8 is a temporary,
//! r6 keeps the context (r1 at entry) for `len` and the legacy packet loads, r10 is the frame
//! pointer under which the scratch words live. A and X are 32-bit: every operation on them is an
//! `ALU32` or `JMP32` instruction, so their upper halves stay zero.

use super::error::CbpfErrorKind;
use super::filter::{code, SockFilter, MEMWORDS};
use crate::isa::opcode::{
    BPF_ABS, BPF_ALU, BPF_ALU64, BPF_AND, BPF_B, BPF_EXIT, BPF_JA, BPF_JLE, BPF_JLT, BPF_JMP,
    BPF_JMP32, BPF_JNE, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MOV, BPF_NEG, BPF_ST,
    BPF_STX, BPF_W, BPF_X,
};
use crate::Insn;

/// The accumulator.
pub(super) const A: u8 = 0;
/// The index register.
pub(super) const X: u8 = 7;
/// A temporary.
pub(super) const TMP: u8 = 8;
/// The context, saved from r1.
pub(super) const CTX: u8 = 6;
/// The frame pointer.
pub(super) const FP: u8 = 10;

/// Offset of `__sk_buff.len` in the program's view of the context.
pub(super) const SKB_LEN: i16 = 0;

/// The most slots one classic instruction becomes.
pub(super) const MAX_SLOTS: usize = 6;

/// Stack offset of scratch word `M[k]` from r10: the 16 words are the 64 bytes below it.
pub(super) const fn scratch_off(k: u32) -> i16 {
    // `k` is below `MEMWORDS` (checked by the caller): the offset is -64..-4.
    (k as i16).wrapping_sub(MEMWORDS as i16).wrapping_mul(4)
}

/// The slots of one lowered instruction.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seq {
    insns: [Insn; MAX_SLOTS],
    len: usize,
}

impl Seq {
    const fn new() -> Seq {
        Seq {
            insns: [Insn::new(0, 0, 0, 0, 0); MAX_SLOTS],
            len: 0,
        }
    }

    fn push(&mut self, insn: Insn) {
        if let Some(slot) = self.insns.get_mut(self.len) {
            *slot = insn;
            self.len = self.len.saturating_add(1);
        }
    }

    /// The slots.
    pub(super) fn slots(&self) -> &[Insn] {
        self.insns.get(..self.len).unwrap_or(&[])
    }
}

const fn alu32(op: u8, dst: u8, imm: u32) -> Insn {
    Insn::new(BPF_ALU | op | BPF_K, dst, 0, 0, imm as i32)
}

const fn alu32_reg(op: u8, dst: u8, src: u8) -> Insn {
    Insn::new(BPF_ALU | op | BPF_X, dst, src, 0, 0)
}

const fn mov64_reg(dst: u8, src: u8) -> Insn {
    Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
}

const fn ldx_w(dst: u8, base: u8, off: i16) -> Insn {
    Insn::new(BPF_LDX | BPF_MEM | BPF_W, dst, base, off, 0)
}

const fn stx_w(base: u8, off: i16, src: u8) -> Insn {
    Insn::new(BPF_STX | BPF_MEM | BPF_W, base, src, off, 0)
}

/// `*(u32 *)(r10 + off) = 0`.
pub(super) const fn st_zero(off: i16) -> Insn {
    Insn::new(BPF_ST | BPF_MEM | BPF_W, FP, 0, off, 0)
}

/// `mov64 dst, src`.
pub(super) const fn mov(dst: u8, src: u8) -> Insn {
    mov64_reg(dst, src)
}

/// `mov32 dst, imm`.
pub(super) const fn mov32_imm(dst: u8, imm: u32) -> Insn {
    alu32(BPF_MOV, dst, imm)
}

const fn ja(off: i16) -> Insn {
    Insn::new(BPF_JMP | BPF_JA, 0, 0, off, 0)
}

const fn exit() -> Insn {
    Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
}

/// Where the jumps of an instruction land, in slots past the end of its own sequence.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Skips {
    /// To the true (or only) target.
    pub(super) jt: usize,
    /// To the false target.
    pub(super) jf: usize,
}

fn off(slots: usize) -> Result<i16, CbpfErrorKind> {
    i16::try_from(slots).map_err(|_| CbpfErrorKind::JumpTooFar)
}

fn scratch(k: u32) -> Result<i16, CbpfErrorKind> {
    if (k as usize) < MEMWORDS {
        Ok(scratch_off(k))
    } else {
        Err(CbpfErrorKind::ScratchIndex { index: k })
    }
}

/// The scratch word a load from scratch memory reads, if `f` is one.
pub(super) fn scratch_read(f: SockFilter) -> Option<u32> {
    const LD_MEM: u16 = code::LD | code::W | code::MEM;
    const LDX_MEM: u16 = code::LDX | code::W | code::MEM;
    match f.code {
        LD_MEM | LDX_MEM => Some(f.k),
        _ => None,
    }
}

/// Whether `f` reads X: an indirect load, an ALU operation or jump with X as operand, a store
/// of X, `ret X` or `txa`.
pub(super) fn reads_x(f: SockFilter) -> bool {
    match f.class() {
        code::LD => f.code & 0xe0 == code::IND,
        code::ALU | code::JMP => f.code & code::X != 0,
        code::STX => true,
        code::RET => f.code & 0x18 == code::X,
        code::MISC => f.code & 0xf8 == code::TXA,
        _ => false,
    }
}

/// Whether `f`, run first, sets A before anything reads it: every load into A, and `txa`.
pub(super) fn sets_a_first(f: SockFilter) -> bool {
    f.class() == code::LD || (f.class() == code::MISC && f.code & 0xf8 == code::TXA)
}

/// Whether `f` sets X: every load into X, and `tax`.
pub(super) fn sets_x(f: SockFilter) -> bool {
    f.class() == code::LDX || (f.class() == code::MISC && f.code & 0xf8 == code::TAX)
}

/// Lowers `f`. The length of the result never depends on `skips`, so a caller learns lengths
/// by lowering with default skips. Validation happens here too: every opcode, scratch index,
/// constant divisor and constant shift is checked.
///
/// # Errors
/// The reason `f` is not a valid classic instruction.
pub(super) fn lower(f: SockFilter, skips: Skips) -> Result<Seq, CbpfErrorKind> {
    let mut s = Seq::new();
    let k = f.k;
    let unknown = CbpfErrorKind::UnknownOpcode { code: f.code };
    if f.code > 0xff {
        return Err(unknown);
    }
    let c = f.code as u8;
    match f.code & 0x07 {
        code::LD => match f.code {
            // W/H/B at ABS and IND share eBPF's legacy packet-load opcodes.
            0x20 | 0x28 | 0x30 => s.push(Insn::new(c, 0, 0, 0, k as i32)),
            0x40 | 0x48 | 0x50 => s.push(Insn::new(c, 0, X, 0, k as i32)),
            0x00 => s.push(mov32_imm(A, k)),
            0x60 => s.push(ldx_w(A, FP, scratch(k)?)),
            0x80 => s.push(ldx_w(A, CTX, SKB_LEN)),
            _ => return Err(unknown),
        },
        code::LDX => match f.code {
            0x01 => s.push(mov32_imm(X, k)),
            0x61 => s.push(ldx_w(X, FP, scratch(k)?)),
            0x81 => s.push(ldx_w(X, CTX, SKB_LEN)),
            // X = 4 * (P[k] & 0xf); the packet load goes through A, saved in the temporary.
            0xb1 => {
                s.push(mov64_reg(TMP, A));
                s.push(Insn::new(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, k as i32));
                s.push(alu32(BPF_AND, A, 0xf));
                s.push(alu32(BPF_LSH, A, 2));
                s.push(alu32_reg(BPF_MOV, X, A));
                s.push(mov64_reg(A, TMP));
            }
            _ => return Err(unknown),
        },
        code::ST | code::STX => {
            if f.code & !0x07 != 0 {
                return Err(unknown);
            }
            let src = if f.code == code::ST { A } else { X };
            s.push(stx_w(FP, scratch(k)?, src));
        }
        code::ALU => lower_alu(&mut s, f, c)?,
        code::JMP => lower_jmp(&mut s, f, skips)?,
        code::RET => {
            match f.code & !0x07 {
                code::K => s.push(mov32_imm(A, k)),
                code::A => {}
                code::X => s.push(alu32_reg(BPF_MOV, A, X)),
                _ => return Err(unknown),
            }
            s.push(exit());
        }
        _ => match f.code & !0x07 {
            code::TAX => s.push(alu32_reg(BPF_MOV, X, A)),
            code::TXA => s.push(alu32_reg(BPF_MOV, A, X)),
            _ => return Err(unknown),
        },
    }
    Ok(s)
}

fn lower_alu(s: &mut Seq, f: SockFilter, c: u8) -> Result<(), CbpfErrorKind> {
    let op = f.code & 0xf0;
    let by_x = f.code & code::X != 0;
    match op {
        code::ADD | code::SUB | code::MUL | code::OR | code::AND | code::XOR => {}
        code::DIV | code::MOD => {
            if by_x {
                // Linux and libpcap: division by X == 0 ends the filter with 0.
                s.push(Insn::new(BPF_JMP32 | BPF_JNE | BPF_K, X, 0, 2, 0));
                s.push(mov32_imm(A, 0));
                s.push(exit());
            } else if f.k == 0 {
                return Err(CbpfErrorKind::DivisionByZero);
            }
        }
        code::LSH | code::RSH => {
            if by_x {
                // libpcap: a shift by X of 32 or more gives 0 (eBPF would take X mod 32).
                s.push(Insn::new(BPF_JMP32 | BPF_JLT | BPF_K, X, 0, 2, 32));
                s.push(mov32_imm(A, 0));
                s.push(ja(1));
            } else if f.k >= 32 {
                return Err(CbpfErrorKind::ShiftTooLarge { amount: f.k });
            }
        }
        code::NEG if !by_x => {
            s.push(Insn::new(BPF_ALU | BPF_NEG, A, 0, 0, 0));
            return Ok(());
        }
        _ => return Err(CbpfErrorKind::UnknownOpcode { code: f.code }),
    }
    // The classic operation and source bits are eBPF's, in the same places.
    if by_x {
        s.push(Insn::new(c, A, X, 0, 0));
    } else {
        s.push(Insn::new(c, A, 0, 0, f.k as i32));
    }
    Ok(())
}

fn lower_jmp(s: &mut Seq, f: SockFilter, skips: Skips) -> Result<(), CbpfErrorKind> {
    let op = f.code & 0xf0;
    let by_x = f.code & code::X != 0;
    if f.code == code::JMP | code::JA {
        if f.k != 0 {
            s.push(ja(off(skips.jt)?));
        }
        return Ok(());
    }
    let inverse = match op {
        code::JEQ => Some(BPF_JNE),
        code::JGT => Some(BPF_JLE),
        code::JGE => Some(BPF_JLT),
        code::JSET => None,
        _ => return Err(CbpfErrorKind::UnknownOpcode { code: f.code }),
    };
    let cond = |op: u8, to: i16| {
        if by_x {
            Insn::new(BPF_JMP32 | op | BPF_X, A, X, to, 0)
        } else {
            Insn::new(BPF_JMP32 | op | BPF_K, A, 0, to, f.k as i32)
        }
    };
    if f.jt == f.jf {
        if f.jt != 0 {
            s.push(ja(off(skips.jt)?));
        }
    } else if f.jf == 0 {
        s.push(cond(op as u8, off(skips.jt)?));
    } else if let (0, Some(inv)) = (f.jt, inverse) {
        s.push(cond(inv, off(skips.jf)?));
    } else {
        s.push(cond(op as u8, off(skips.jt.saturating_add(1))?));
        s.push(ja(off(skips.jf)?));
    }
    Ok(())
}
