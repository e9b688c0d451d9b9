//! Encoding lines into slots, in two passes over the source: the first encodes every line with
//! label references left at zero and fills the label table, the second encodes again with every
//! label resolved. Only label errors can appear in the second pass.

use super::labels::{Labels, MAX_LABELS};
use super::mnemonic::{lookup, Shape};
use super::operand::{imm32, imm64, parse_line, signed, Line, Op, Operand};
use super::{AsmError, AsmErrorKind};
use crate::isa::opcode::*;
use crate::isa::Insn;

/// Assembles `src` into `out` and returns the number of slots written.
///
/// Uses a label table of 1,024 entries on the stack (about 20 KiB). The result is encoded, not
/// validated: pass it to [`Program::new`](crate::Program::new) for that.
///
/// # Errors
/// The first line that cannot be encoded, as an [`AsmError`] with its line and column. Errors
/// found while reading the lines come before errors about labels.
pub fn assemble(src: &str, out: &mut [Insn]) -> Result<usize, AsmError> {
    let mut labels = Labels::<MAX_LABELS>::new();
    assemble_with(src, out, &mut labels)
}

/// Assembles `src` into `out` using the caller's label table, and returns the slots written.
///
/// # Errors
/// As [`assemble`]; [`AsmErrorKind::TooManyLabels`] when `labels` is full.
pub fn assemble_with<const N: usize>(
    src: &str,
    out: &mut [Insn],
    labels: &mut Labels<N>,
) -> Result<usize, AsmError> {
    labels.clear();
    if u32::try_from(src.len()).is_err() {
        return Err(AsmError::new(1, 1, AsmErrorKind::SourceTooLong));
    }
    let mut pass = Pass {
        src,
        out,
        labels,
        resolve: false,
        pc: 0,
    };
    pass.run()?;
    pass.labels.finish(src)?;
    pass.resolve = true;
    pass.pc = 0;
    pass.run()
}

struct Pass<'s, 'o, 'l, const N: usize> {
    src: &'s str,
    out: &'o mut [Insn],
    labels: &'l mut Labels<N>,
    /// Second pass: labels are known.
    resolve: bool,
    /// The next slot to write.
    pc: usize,
}

impl<const N: usize> Pass<'_, '_, '_, N> {
    fn run(&mut self) -> Result<usize, AsmError> {
        let src = self.src;
        for (i, line) in src.split('\n').enumerate() {
            let line_no = u32::try_from(i).unwrap_or(u32::MAX - 1).saturating_add(1);
            let err = |(kind, col)| AsmError::new(line_no, col, kind);
            match parse_line(line).map_err(err)? {
                Line::Empty => {}
                Line::Label(name, col) => {
                    if !self.resolve {
                        let at = AsmError::new(line_no, col, AsmErrorKind::TooManyLabels);
                        self.labels.push(src, name, self.pc, at)?;
                    }
                }
                Line::Insn(insn) => {
                    let ops = insn.ops.get(..insn.n).unwrap_or(&[]);
                    let Some(shape) = lookup(insn.name) else {
                        return Err(err((AsmErrorKind::UnknownMnemonic, insn.col)));
                    };
                    let (slots, n) = self.encode(shape, ops, insn.col).map_err(err)?;
                    let end = self.pc.saturating_add(n);
                    let Some(dst) = self.out.get_mut(self.pc..end) else {
                        return Err(err((AsmErrorKind::OutputFull, insn.col)));
                    };
                    dst.copy_from_slice(slots.get(..n).unwrap_or(&[]));
                    if shape == Shape::Exit {
                        self.labels.saw_exit(self.pc);
                    }
                    self.pc = end;
                }
            }
        }
        Ok(self.pc)
    }

    /// A jump target relative to the next slot, which must fit in `T`.
    fn target<T: TryFrom<i64> + Default>(&self, op: Op<'_>) -> Result<T, ParseError> {
        let (v, col) = op;
        let range = if core::mem::size_of::<T>() == 2 {
            AsmErrorKind::OffsetOutOfRange
        } else {
            AsmErrorKind::ImmOutOfRange
        };
        match v {
            Operand::Num {
                sign: Some(neg),
                num,
            } => signed(neg, num).ok_or((range, col)),
            Operand::Ident(name) if self.resolve => {
                let slot = self
                    .labels
                    .lookup(self.src, name)
                    .ok_or((AsmErrorKind::UnknownLabel, col))?;
                let rel = (slot as i64).wrapping_sub(self.pc as i64).wrapping_sub(1);
                T::try_from(rel).map_err(|_| (range, col))
            }
            Operand::Ident(_) => Ok(T::default()),
            _ => Err((AsmErrorKind::BadOperand, col)),
        }
    }

    fn encode(
        &self,
        shape: Shape,
        ops: &[Op<'_>],
        col: u32,
    ) -> Result<([Insn; 2], usize), ParseError> {
        let one = |i: Insn| Ok(([i, Insn::default()], 1));
        match shape {
            Shape::Alu { code, off } => {
                let [d, s] = arity(ops, col)?;
                let dst = reg(d)?;
                match s.0 {
                    Operand::Reg(src) => one(Insn::new(code | BPF_X, dst, src, off, 0)),
                    _ => one(Insn::new(code | BPF_K, dst, 0, off, imm(s)?)),
                }
            }
            Shape::Unary { opcode, imm } => {
                let [d] = arity(ops, col)?;
                one(Insn::new(opcode, reg(d)?, 0, 0, imm))
            }
            Shape::MovSx { opcode, off } => {
                let [d, s] = arity(ops, col)?;
                one(Insn::new(opcode, reg(d)?, reg(s)?, off, 0))
            }
            Shape::Load { opcode } => {
                let [d, m] = arity(ops, col)?;
                let (src, off) = mem(m)?;
                one(Insn::new(opcode, reg(d)?, src, off, 0))
            }
            Shape::StoreImm { opcode } => {
                let [m, s] = arity(ops, col)?;
                let (dst, off) = mem(m)?;
                one(Insn::new(opcode, dst, 0, off, imm(s)?))
            }
            Shape::StoreReg { opcode } => {
                let [m, s] = arity(ops, col)?;
                let (dst, off) = mem(m)?;
                one(Insn::new(opcode, dst, reg(s)?, off, 0))
            }
            Shape::Lddw => {
                let [d, v] = arity(ops, col)?;
                let dst = reg(d)?;
                let (src, lo, hi) = match v.0 {
                    Operand::Map { src, index, off } => (src, index, off),
                    Operand::Num { sign, num } => {
                        let x = imm64(sign, num).ok_or((AsmErrorKind::ImmOutOfRange, v.1))?;
                        (LDDW_IMM, x as u32 as i32, (x >> 32) as u32 as i32)
                    }
                    _ => return Err((AsmErrorKind::BadOperand, v.1)),
                };
                let first = Insn::new(op::LDDW, dst, src, 0, lo);
                Ok(([first, Insn::new(0, 0, 0, 0, hi)], 2))
            }
            Shape::Ja => {
                let [t] = arity(ops, col)?;
                one(Insn::new(op::JA, 0, 0, self.target(t)?, 0))
            }
            Shape::Ja32 => {
                let [t] = arity(ops, col)?;
                one(Insn::new(op::JA32, 0, 0, 0, self.target(t)?))
            }
            Shape::Jcc { code } => {
                let [d, s, t] = arity(ops, col)?;
                let (dst, off) = (reg(d)?, self.target(t)?);
                match s.0 {
                    Operand::Reg(src) => one(Insn::new(code | BPF_X, dst, src, off, 0)),
                    _ => one(Insn::new(code | BPF_K, dst, 0, off, imm(s)?)),
                }
            }
            Shape::Call => self.call(ops, col).map(|i| ([i, Insn::default()], 1)),
            Shape::Exit => {
                let [] = arity(ops, col)?;
                one(Insn::new(op::EXIT, 0, 0, 0, 0))
            }
            Shape::Lock => lock(ops, col).map(|i| ([i, Insn::default()], 1)),
            Shape::LdAbs { opcode } => {
                let [k] = arity(ops, col)?;
                one(Insn::new(opcode, 0, 0, 0, imm(k)?))
            }
            Shape::LdInd { opcode } => {
                let [s, k] = arity(ops, col)?;
                one(Insn::new(opcode, 0, reg(s)?, 0, imm(k)?))
            }
            Shape::Raw => {
                let [v] = arity(ops, col)?;
                let Operand::Num { sign, num } = v.0 else {
                    return Err((AsmErrorKind::BadOperand, v.1));
                };
                let x = imm64(sign, num).ok_or((AsmErrorKind::ImmOutOfRange, v.1))?;
                one(Insn::from_u64(x))
            }
        }
    }

    /// `call N`, `call %rN`, `call local T`, `call runtime N`.
    fn call(&self, ops: &[Op<'_>], col: u32) -> Result<Insn, ParseError> {
        let kind = match ops.first() {
            Some(&(Operand::Ident("local"), _)) => Some(CALL_LOCAL),
            Some(&(Operand::Ident("runtime"), _)) => Some(CALL_RUNTIME),
            _ => None,
        };
        match kind {
            Some(CALL_LOCAL) => {
                let [_, t] = arity(ops, col)?;
                Ok(Insn::new(op::CALL, 0, CALL_LOCAL, 0, self.target(t)?))
            }
            Some(src) => {
                let [_, k] = arity(ops, col)?;
                Ok(Insn::new(op::CALL, 0, src, 0, imm(k)?))
            }
            None => {
                let [v] = arity(ops, col)?;
                match v.0 {
                    Operand::Reg(r) => Ok(Insn::new(op::CALLX, r, 0, 0, 0)),
                    _ => Ok(Insn::new(op::CALL, 0, CALL_HELPER, 0, imm(v)?)),
                }
            }
        }
    }
}

/// `call` source 2, which the assembler encodes and the decoder rejects.
pub(super) const CALL_RUNTIME: u8 = 2;

/// A parse error: what and at which column.
type ParseError = (AsmErrorKind, u32);

/// Exactly `K` operands.
fn arity<'a, const K: usize>(ops: &[Op<'a>], col: u32) -> Result<[Op<'a>; K], ParseError> {
    if let Some(extra) = ops.get(K) {
        return Err((AsmErrorKind::BadOperandCount, extra.1));
    }
    <[Op<'a>; K]>::try_from(ops).map_err(|_| (AsmErrorKind::BadOperandCount, col))
}

fn reg(op: Op<'_>) -> Result<u8, ParseError> {
    match op.0 {
        Operand::Reg(r) => Ok(r),
        _ => Err((AsmErrorKind::BadOperand, op.1)),
    }
}

fn imm(op: Op<'_>) -> Result<i32, ParseError> {
    match op.0 {
        Operand::Num { sign, num } => imm32(sign, num).ok_or((AsmErrorKind::ImmOutOfRange, op.1)),
        _ => Err((AsmErrorKind::BadOperand, op.1)),
    }
}

fn mem(op: Op<'_>) -> Result<(u8, i16), ParseError> {
    match op.0 {
        Operand::Mem { reg, off } => Ok((reg, off)),
        _ => Err((AsmErrorKind::BadOperand, op.1)),
    }
}

/// `lock [fetch] OP[32] [%rd+off], %rs`.
fn lock(ops: &[Op<'_>], col: u32) -> Result<Insn, ParseError> {
    let (fetch, rest) = match ops.split_first() {
        Some((&(Operand::Ident("fetch"), _), rest)) => (ATOMIC_FETCH, rest),
        _ => (0, ops),
    };
    let [o, m, s] = arity(rest, col)?;
    let Operand::Ident(name) = o.0 else {
        return Err((AsmErrorKind::BadOperand, o.1));
    };
    let (base, opcode) = match name.strip_suffix("32") {
        Some(b) => (b, BPF_STX | BPF_ATOMIC | BPF_W),
        None => (name, BPF_STX | BPF_ATOMIC | BPF_DW),
    };
    let imm = match base {
        "add" => ATOMIC_ADD | fetch,
        "and" => ATOMIC_AND | fetch,
        "or" => ATOMIC_OR | fetch,
        "xor" => ATOMIC_XOR | fetch,
        "xchg" => ATOMIC_XCHG,
        "cmpxchg" => ATOMIC_CMPXCHG,
        _ => return Err((AsmErrorKind::UnknownMnemonic, o.1)),
    };
    let (dst, off) = mem(m)?;
    Ok(Insn::new(opcode, dst, reg(s)?, off, imm))
}
