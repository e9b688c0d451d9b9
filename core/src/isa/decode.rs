//! Strict decoding: every opcode, register and reserved field of every slot is checked once,
//! so that everything downstream (verifier, interpreter, JIT) can rely on a well-formed stream.
//!
//! The rules are RFC 9669's: a field an instruction does not use must be zero, registers are
//! `r0` to `r10` and `r10` is never written, `lddw` is two slots whose second has only an
//! immediate, and every jump or local call lands on the first slot of an instruction inside the
//! program. In addition, as Linux does, the last slot must be `exit` or an unconditional jump, so
//! that execution can never run off the end.

use super::insn::Insn;
use super::opcode::*;

/// The largest program accepted, in slots (Linux's limit for privileged programs).
pub const MAX_INSNS: usize = 1_000_000;

/// A field of an instruction slot, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InsnField {
    /// The destination register.
    Dst,
    /// The source register.
    Src,
    /// The offset.
    Offset,
    /// The immediate.
    Imm,
}

impl InsnField {
    const fn name(self) -> &'static str {
        match self {
            InsnField::Dst => "dst",
            InsnField::Src => "src",
            InsnField::Offset => "offset",
            InsnField::Imm => "imm",
        }
    }
}

/// What is wrong with a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The program has no instructions.
    Empty,
    /// The program has more than [`MAX_INSNS`] slots.
    TooLong,
    /// The byte length is not a multiple of 8; the error's `pc` is the partial slot.
    PartialSlot,
    /// The caller's instruction buffer is smaller than the program.
    BufferTooSmall,
    /// The opcode byte names no instruction.
    UnknownOpcode(u8),
    /// A field the instruction does not use is not zero.
    ReservedNonZero(InsnField),
    /// A register number above 10.
    BadRegister(u8),
    /// An instruction that would write the read-only frame pointer.
    WritesFrameReg,
    /// An immediate that is not one the instruction allows (byte-order width, atomic operation).
    BadImmediate(i32),
    /// An offset that is not one the instruction allows (`sdiv`/`smod`, `movsx` widths).
    BadOffset(i16),
    /// An `lddw` with a source kind this runtime does not support.
    BadLddwSource(u8),
    /// An `lddw` whose second slot is missing.
    IncompleteLddw,
    /// An `lddw` whose second slot has something besides its immediate.
    BadLddwSecondSlot,
    /// A jump or local call to a slot outside the program.
    JumpOutOfRange(i64),
    /// A jump or local call to the second slot of an `lddw`.
    JumpIntoLddw(usize),
    /// The last slot is neither `exit` nor an unconditional jump, so execution could run off the end.
    FallsOffEnd,
    /// A `call` with a source kind this runtime does not support (kfuncs).
    BadCallSource(u8),
    /// A context access in the verifier's runtime form: these slots are the output of
    /// [`verify`](crate::verify), whose context offsets are the runtime's, not the program's.
    /// Verify the program from its original slots; the runtime form never decodes, so a
    /// program cannot be verified twice.
    RuntimeForm,
}

/// A decoding error at an instruction index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// Index of the offending slot.
    pub pc: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

impl core::fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            DecodeErrorKind::Empty => f.write_str("program has no instructions"),
            DecodeErrorKind::TooLong => write!(f, "program is longer than {MAX_INSNS} slots"),
            DecodeErrorKind::PartialSlot => f.write_str("byte length is not a multiple of 8"),
            DecodeErrorKind::BufferTooSmall => f.write_str("instruction buffer too small"),
            DecodeErrorKind::UnknownOpcode(op) => write!(f, "unknown opcode {op:#04x}"),
            DecodeErrorKind::ReservedNonZero(field) => {
                write!(f, "reserved field {} is not zero", field.name())
            }
            DecodeErrorKind::BadRegister(r) => write!(f, "invalid register r{r}"),
            DecodeErrorKind::WritesFrameReg => f.write_str("frame pointer r10 is read only"),
            DecodeErrorKind::BadImmediate(imm) => write!(f, "invalid immediate {imm}"),
            DecodeErrorKind::BadOffset(off) => write!(f, "invalid offset {off}"),
            DecodeErrorKind::BadLddwSource(s) => write!(f, "unsupported lddw source {s}"),
            DecodeErrorKind::IncompleteLddw => f.write_str("lddw is missing its second slot"),
            DecodeErrorKind::BadLddwSecondSlot => {
                f.write_str("second slot of lddw has fields besides imm")
            }
            DecodeErrorKind::JumpOutOfRange(t) => write!(f, "jump out of range to {t}"),
            DecodeErrorKind::JumpIntoLddw(t) => write!(f, "jump into the middle of lddw at {t}"),
            DecodeErrorKind::FallsOffEnd => {
                f.write_str("last instruction is not exit or an unconditional jump")
            }
            DecodeErrorKind::BadCallSource(s) => write!(f, "unsupported call source {s}"),
            DecodeErrorKind::RuntimeForm => {
                f.write_str("context access already rewritten by the verifier (runtime form)")
            }
        }
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "insn {}: {}", self.pc, self.kind)
    }
}

impl core::error::Error for DecodeError {}

/// A decoded, structurally valid program: every slot checked, every jump in range.
///
/// This is what the assembler, the ELF loader and the verifier hand around. It borrows the
/// instructions; it never owns or allocates.
#[derive(Clone, Copy, Debug)]
pub struct Program<'a> {
    insns: &'a [Insn],
}

impl<'a> Program<'a> {
    /// Checks `insns` and wraps them.
    ///
    /// # Errors
    /// The first slot that breaks a rule, as a [`DecodeError`] naming its index.
    pub fn new(insns: &'a [Insn]) -> Result<Self, DecodeError> {
        validate(insns)?;
        Ok(Program { insns })
    }

    /// Decodes little-endian bytes into `buf`, then checks them as [`Program::new`] does.
    ///
    /// # Errors
    /// [`DecodeErrorKind::PartialSlot`] when the length is not a multiple of 8,
    /// [`DecodeErrorKind::BufferTooSmall`] when `buf` cannot hold the program, and any error of
    /// [`Program::new`].
    pub fn from_bytes(bytes: &[u8], buf: &'a mut [Insn]) -> Result<Self, DecodeError> {
        let insns = decode_slots(bytes, buf)?;
        Program::new(insns)
    }

    /// The instruction slots.
    #[inline]
    pub fn insns(&self) -> &'a [Insn] {
        self.insns
    }

    /// Number of slots.
    #[inline]
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Always false: a valid program has at least one instruction.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
}

/// Splits `bytes` into slots in `buf` without checking them, and returns the slots written,
/// ready for [`verify`](crate::verify) (which checks them as [`Program::new`] does).
///
/// # Errors
/// [`DecodeErrorKind::PartialSlot`] or [`DecodeErrorKind::BufferTooSmall`].
pub fn decode_slots<'b>(bytes: &[u8], buf: &'b mut [Insn]) -> Result<&'b mut [Insn], DecodeError> {
    let n = bytes.len() / Insn::SIZE;
    if bytes.len() % Insn::SIZE != 0 {
        return Err(DecodeError {
            pc: n,
            kind: DecodeErrorKind::PartialSlot,
        });
    }
    let cap = buf.len();
    let Some(out) = buf.get_mut(..n) else {
        return Err(DecodeError {
            pc: cap,
            kind: DecodeErrorKind::BufferTooSmall,
        });
    };
    for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(Insn::SIZE)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *slot = Insn::from_bytes(b);
    }
    Ok(out)
}

/// Checks every rule described in the module documentation.
///
/// # Errors
/// The first slot that breaks a rule.
pub fn validate(insns: &[Insn]) -> Result<(), DecodeError> {
    if insns.is_empty() {
        return Err(DecodeError {
            pc: 0,
            kind: DecodeErrorKind::Empty,
        });
    }
    if insns.len() > MAX_INSNS {
        return Err(DecodeError {
            pc: MAX_INSNS,
            kind: DecodeErrorKind::TooLong,
        });
    }
    // Pass 1: each instruction on its own.
    let mut pc = 0;
    while let Some(&insn) = insns.get(pc) {
        let err = |kind| DecodeError { pc, kind };
        check_insn(insn).map_err(err)?;
        if insn.is_lddw() {
            let Some(&next) = insns.get(pc.saturating_add(1)) else {
                return Err(err(DecodeErrorKind::IncompleteLddw));
            };
            if next.opcode != 0 || next.dst() != 0 || next.src() != 0 || next.off != 0 {
                return Err(DecodeError {
                    pc: pc.saturating_add(1),
                    kind: DecodeErrorKind::BadLddwSecondSlot,
                });
            }
            pc = pc.saturating_add(2);
        } else {
            pc = pc.saturating_add(1);
        }
    }
    // Pass 2: jump and call targets. After pass 1, a slot with the `lddw` opcode is always a
    // first slot, so "the slot before the target is an lddw" means "the target is a second slot".
    for (pc, &insn) in insns.iter().enumerate() {
        if let Some(rel) = branch_offset(insn) {
            // `pc` is below `MAX_INSNS` and `rel` at most 32 bits: the sum cannot overflow.
            let target = (pc as i64).saturating_add(1).saturating_add(rel);
            let err = |kind| DecodeError { pc, kind };
            if target < 0 || target >= insns.len() as i64 {
                return Err(err(DecodeErrorKind::JumpOutOfRange(target)));
            }
            let t = target as usize;
            if t.checked_sub(1)
                .and_then(|p| insns.get(p))
                .is_some_and(|p| p.is_lddw())
            {
                return Err(err(DecodeErrorKind::JumpIntoLddw(t)));
            }
        }
    }
    let last_pc = insns.len().saturating_sub(1);
    let Some(&last) = insns.last() else {
        return Err(DecodeError {
            pc: 0,
            kind: DecodeErrorKind::Empty,
        });
    };
    let terminal = last.opcode == op::EXIT || last.opcode == op::JA || last.opcode == op::JA32;
    // The second slot of an lddw has opcode 0, which is never terminal.
    if !terminal {
        return Err(DecodeError {
            pc: last_pc,
            kind: DecodeErrorKind::FallsOffEnd,
        });
    }
    Ok(())
}

/// The relative target of a jump or local call, counted from the next slot, if `insn` has one.
#[inline]
pub fn branch_offset(insn: Insn) -> Option<i64> {
    match insn.class() {
        Class::Jmp => match insn.opcode & 0xf0 {
            BPF_CALL if insn.opcode == op::CALL && insn.src() == CALL_LOCAL => {
                Some(insn.imm as i64)
            }
            BPF_CALL | BPF_EXIT => None,
            _ => Some(insn.off as i64),
        },
        Class::Jmp32 if insn.opcode == op::JA32 => Some(insn.imm as i64),
        Class::Jmp32 => Some(insn.off as i64),
        _ => None,
    }
}

fn reg(n: u8) -> Result<(), DecodeErrorKind> {
    if n > 10 {
        return Err(DecodeErrorKind::BadRegister(n));
    }
    Ok(())
}

/// The marks of a context access the verifier rewrote to the runtime layout: the immediate
/// of a load or a register store (which must otherwise be 0), the source field of an
/// immediate store (which must otherwise be 0). The engines ignore both fields there.
pub(crate) const RUNTIME_FORM_IMM: i32 = 0x4e42_5046;
/// See [`RUNTIME_FORM_IMM`].
pub(crate) const RUNTIME_FORM_SRC: u8 = 0xf;

fn not_runtime_form(marked: bool) -> Result<(), DecodeErrorKind> {
    if marked {
        return Err(DecodeErrorKind::RuntimeForm);
    }
    Ok(())
}

fn zero(v: i64, field: InsnField) -> Result<(), DecodeErrorKind> {
    if v != 0 {
        return Err(DecodeErrorKind::ReservedNonZero(field));
    }
    Ok(())
}

/// A register that an instruction writes: valid and not `r10`.
fn dst_written(n: u8) -> Result<(), DecodeErrorKind> {
    reg(n)?;
    if n == 10 {
        return Err(DecodeErrorKind::WritesFrameReg);
    }
    Ok(())
}

/// Checks one slot on its own (not the second slot of an `lddw`).
fn check_insn(insn: Insn) -> Result<(), DecodeErrorKind> {
    let code = insn.opcode;
    let (dst, src, off, imm) = (insn.dst(), insn.src(), insn.off, insn.imm);
    let unknown = Err(DecodeErrorKind::UnknownOpcode(code));
    match insn.class() {
        Class::Alu | Class::Alu64 => {
            let is64 = insn.class() == Class::Alu64;
            let op = code & 0xf0;
            let x = code & BPF_X != 0;
            match op {
                BPF_ADD | BPF_SUB | BPF_MUL | BPF_OR | BPF_AND | BPF_LSH | BPF_RSH | BPF_XOR
                | BPF_ARSH | BPF_DIV | BPF_MOD | BPF_MOV => {
                    dst_written(dst)?;
                    let off_ok = match op {
                        BPF_DIV | BPF_MOD => off == 0 || off == 1,
                        BPF_MOV if x => off == 0 || off == 8 || off == 16 || (is64 && off == 32),
                        _ => off == 0,
                    };
                    if !off_ok {
                        // A non-zero offset on an operation that takes none is a reserved field.
                        let plain = !(matches!(op, BPF_DIV | BPF_MOD) || op == BPF_MOV && x);
                        return Err(if plain {
                            DecodeErrorKind::ReservedNonZero(InsnField::Offset)
                        } else {
                            DecodeErrorKind::BadOffset(off)
                        });
                    }
                    if x {
                        reg(src)?;
                        zero(imm as i64, InsnField::Imm)
                    } else {
                        zero(src as i64, InsnField::Src)
                    }
                }
                BPF_NEG => {
                    if x {
                        return unknown;
                    }
                    dst_written(dst)?;
                    zero(src as i64, InsnField::Src)?;
                    zero(off as i64, InsnField::Offset)?;
                    zero(imm as i64, InsnField::Imm)
                }
                BPF_END => {
                    // ALU: le (K) / be (X); ALU64: bswap (K only).
                    if is64 && x {
                        return unknown;
                    }
                    dst_written(dst)?;
                    zero(src as i64, InsnField::Src)?;
                    zero(off as i64, InsnField::Offset)?;
                    match imm {
                        16 | 32 | 64 => Ok(()),
                        _ => Err(DecodeErrorKind::BadImmediate(imm)),
                    }
                }
                _ => unknown,
            }
        }
        Class::Jmp | Class::Jmp32 => {
            let is32 = insn.class() == Class::Jmp32;
            let op = code & 0xf0;
            let x = code & BPF_X != 0;
            match op {
                BPF_JA => {
                    if x {
                        return unknown;
                    }
                    zero(dst as i64, InsnField::Dst)?;
                    zero(src as i64, InsnField::Src)?;
                    if is32 {
                        zero(off as i64, InsnField::Offset)
                    } else {
                        zero(imm as i64, InsnField::Imm)
                    }
                }
                BPF_JEQ | BPF_JGT | BPF_JGE | BPF_JSET | BPF_JNE | BPF_JSGT | BPF_JSGE
                | BPF_JLT | BPF_JLE | BPF_JSLT | BPF_JSLE => {
                    reg(dst)?;
                    if x {
                        reg(src)?;
                        zero(imm as i64, InsnField::Imm)
                    } else {
                        zero(src as i64, InsnField::Src)
                    }
                }
                BPF_CALL if !is32 => {
                    zero(off as i64, InsnField::Offset)?;
                    if x {
                        // callx: the helper id is in the dst register.
                        reg(dst)?;
                        zero(src as i64, InsnField::Src)?;
                        zero(imm as i64, InsnField::Imm)
                    } else {
                        zero(dst as i64, InsnField::Dst)?;
                        match src {
                            CALL_HELPER | CALL_LOCAL => Ok(()),
                            s => Err(DecodeErrorKind::BadCallSource(s)),
                        }
                    }
                }
                BPF_EXIT if !is32 && !x => {
                    zero(dst as i64, InsnField::Dst)?;
                    zero(src as i64, InsnField::Src)?;
                    zero(off as i64, InsnField::Offset)?;
                    zero(imm as i64, InsnField::Imm)
                }
                _ => unknown,
            }
        }
        Class::Ld => match code {
            op::LDDW => {
                dst_written(dst)?;
                zero(off as i64, InsnField::Offset)?;
                match src {
                    LDDW_IMM | LDDW_MAP_FD | LDDW_MAP_VALUE | LDDW_MAP_IDX | LDDW_MAP_IDX_VALUE => {
                        Ok(())
                    }
                    s => Err(DecodeErrorKind::BadLddwSource(s)),
                }
            }
            // Legacy packet loads: r0 = ntoh(*(size *)(skb->data + imm [+ src])).
            0x20 | 0x28 | 0x30 => {
                zero(dst as i64, InsnField::Dst)?;
                zero(src as i64, InsnField::Src)?;
                zero(off as i64, InsnField::Offset)
            }
            0x40 | 0x48 | 0x50 => {
                zero(dst as i64, InsnField::Dst)?;
                reg(src)?;
                zero(off as i64, InsnField::Offset)
            }
            _ => unknown,
        },
        Class::Ldx => match code {
            0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91 => {
                dst_written(dst)?;
                reg(src)?;
                not_runtime_form(imm == RUNTIME_FORM_IMM)?;
                zero(imm as i64, InsnField::Imm)
            }
            _ => unknown,
        },
        Class::St => match code {
            0x62 | 0x6a | 0x72 | 0x7a => {
                reg(dst)?;
                not_runtime_form(src == RUNTIME_FORM_SRC)?;
                zero(src as i64, InsnField::Src)
            }
            _ => unknown,
        },
        Class::Stx => match code {
            0x63 | 0x6b | 0x73 | 0x7b => {
                reg(dst)?;
                reg(src)?;
                not_runtime_form(imm == RUNTIME_FORM_IMM)?;
                zero(imm as i64, InsnField::Imm)
            }
            0xc3 | 0xdb => {
                reg(dst)?;
                reg(src)?;
                match imm {
                    ATOMIC_ADD | ATOMIC_OR | ATOMIC_AND | ATOMIC_XOR => Ok(()),
                    x if x == ATOMIC_ADD | ATOMIC_FETCH
                        || x == ATOMIC_OR | ATOMIC_FETCH
                        || x == ATOMIC_AND | ATOMIC_FETCH
                        || x == ATOMIC_XOR | ATOMIC_FETCH =>
                    {
                        // Fetch writes the source register.
                        if src == 10 {
                            return Err(DecodeErrorKind::WritesFrameReg);
                        }
                        Ok(())
                    }
                    ATOMIC_XCHG => {
                        if src == 10 {
                            return Err(DecodeErrorKind::WritesFrameReg);
                        }
                        Ok(())
                    }
                    ATOMIC_CMPXCHG => Ok(()),
                    _ => Err(DecodeErrorKind::BadImmediate(imm)),
                }
            }
            _ => unknown,
        },
    }
}
