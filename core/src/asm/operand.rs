//! Parsing one line into a label, or a mnemonic and its operands.

use super::lexer::{Lexer, Num, Tok};
use super::AsmErrorKind;

/// The most operands a line may have (`lock fetch add [r1+0], r2` has four).
pub(super) const MAX_OPERANDS: usize = 4;

/// The pseudo-sources of `lddw` that name a map: spelling, `src` value, whether `+OFF` follows.
pub(super) const MAP_KINDS: [(&str, u8, bool); 4] = [
    ("map", crate::isa::opcode::LDDW_MAP_IDX, false),
    ("map_value", crate::isa::opcode::LDDW_MAP_IDX_VALUE, true),
    ("map_fd", crate::isa::opcode::LDDW_MAP_FD, false),
    ("map_fd_value", crate::isa::opcode::LDDW_MAP_VALUE, true),
];

/// One operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Operand<'a> {
    /// `%rN`.
    Reg(u8),
    /// A number; `sign` is `Some(true)` after `-`, `Some(false)` after `+`.
    Num { sign: Option<bool>, num: Num },
    /// `[%rN+off]`.
    Mem { reg: u8, off: i16 },
    /// A bare name: a label or a keyword (`local`, `runtime`, `fetch`, an atomic operation).
    Ident(&'a str),
    /// `map[N]`-style `lddw` source: the `src` value, the index and the value offset.
    Map { src: u8, index: i32, off: i32 },
}

/// An operand and its column.
pub(super) type Op<'a> = (Operand<'a>, u32);

/// A parsed line.
#[derive(Clone, Copy, Debug)]
pub(super) enum Line<'a> {
    /// Blank or only a comment.
    Empty,
    /// `name:`, with the column of the name.
    Label(&'a str, u32),
    /// An instruction.
    Insn(Insn<'a>),
}

/// A mnemonic and its operands.
#[derive(Clone, Copy, Debug)]
pub(super) struct Insn<'a> {
    /// The mnemonic.
    pub name: &'a str,
    /// The mnemonic's column.
    pub col: u32,
    /// The operands; only the first `n` are meaningful.
    pub ops: [Op<'a>; MAX_OPERANDS],
    /// How many operands there are.
    pub n: usize,
}

/// A parse error: what and at which column.
pub(super) type ParseError = (AsmErrorKind, u32);

/// Parses a whole line.
pub(super) fn parse_line(line: &str) -> Result<Line<'_>, ParseError> {
    let mut lx = Lexer::new(line);
    let Some((first, col)) = lx.next_tok()? else {
        return Ok(Line::Empty);
    };
    let Tok::Ident(name) = first else {
        return Err((AsmErrorKind::Syntax, col));
    };
    if let Some((Tok::Colon, _)) = lx.peek()? {
        lx.next_tok()?;
        return match lx.next_tok()? {
            None => Ok(Line::Label(name, col)),
            Some((_, c)) => Err((AsmErrorKind::Syntax, c)),
        };
    }
    let mut insn = Insn {
        name,
        col,
        ops: [(Operand::Reg(0), 0); MAX_OPERANDS],
        n: 0,
    };
    while let Some((tok, c)) = lx.peek()? {
        if insn.n > 0 && tok == Tok::Comma {
            lx.next_tok()?;
            if lx.peek()?.is_none() {
                return Err((AsmErrorKind::Syntax, c));
            }
        }
        let op = operand(&mut lx)?;
        let Some(slot) = insn.ops.get_mut(insn.n) else {
            return Err((AsmErrorKind::BadOperandCount, op.1));
        };
        *slot = op;
        insn.n = insn.n.saturating_add(1);
    }
    Ok(Line::Insn(insn))
}

/// The next token, which must exist.
fn expect<'a>(lx: &mut Lexer<'a>) -> Result<(Tok<'a>, u32), ParseError> {
    match lx.next_tok()? {
        Some(t) => Ok(t),
        None => Err((AsmErrorKind::Syntax, lx.end_col())),
    }
}

/// A number with an optional sign in front.
fn signed_num(lx: &mut Lexer<'_>) -> Result<(Option<bool>, Num, u32), ParseError> {
    let (tok, col) = expect(lx)?;
    let sign = match tok {
        Tok::Num(n) => return Ok((None, n, col)),
        Tok::Plus => false,
        Tok::Minus => true,
        _ => return Err((AsmErrorKind::Syntax, col)),
    };
    match expect(lx)? {
        (Tok::Num(n), _) => Ok((Some(sign), n, col)),
        (_, c) => Err((AsmErrorKind::Syntax, c)),
    }
}

/// A 32-bit immediate: decimal -2^31..2^31-1, or unsigned hex up to `0xffffffff` as raw bits.
pub(super) fn imm32(sign: Option<bool>, num: Num) -> Option<i32> {
    if sign == Some(true) {
        let v = i64::try_from(num.value).ok()?;
        return i32::try_from(v.checked_neg()?).ok();
    }
    if num.hex {
        u32::try_from(num.value).ok().map(|v| v as i32)
    } else {
        i32::try_from(num.value).ok()
    }
}

/// A 64-bit immediate: any `u64`, or a negative value down to -2^63.
pub(super) fn imm64(sign: Option<bool>, num: Num) -> Option<u64> {
    if sign == Some(true) {
        if num.value > 1 << 63 {
            return None;
        }
        return Some(num.value.wrapping_neg());
    }
    Some(num.value)
}

/// A signed value that must fit in `T`: a relative jump or a memory offset.
pub(super) fn signed<T: TryFrom<i64>>(neg: bool, num: Num) -> Option<T> {
    let v = i64::try_from(num.value).ok()?;
    T::try_from(if neg { v.checked_neg()? } else { v }).ok()
}

fn operand<'a>(lx: &mut Lexer<'a>) -> Result<Op<'a>, ParseError> {
    let (tok, col) = expect(lx)?;
    let v = match tok {
        Tok::Reg(r) => Operand::Reg(r),
        Tok::Num(num) => Operand::Num { sign: None, num },
        Tok::Plus | Tok::Minus => match expect(lx)? {
            (Tok::Num(num), _) => Operand::Num {
                sign: Some(tok == Tok::Minus),
                num,
            },
            (_, c) => return Err((AsmErrorKind::Syntax, c)),
        },
        Tok::LBrack => mem(lx)?,
        Tok::Ident(name) => match lx.peek()? {
            Some((Tok::LBrack, _)) if MAP_KINDS.iter().any(|k| k.0 == name) => {
                map_ref(lx, name, col)?
            }
            _ => Operand::Ident(name),
        },
        Tok::Comma | Tok::Colon | Tok::RBrack => return Err((AsmErrorKind::Syntax, col)),
    };
    Ok((v, col))
}

/// The rest of `[%rN]`, `[%rN+off]` or `[%rN-off]` after the `[`.
fn mem<'a>(lx: &mut Lexer<'a>) -> Result<Operand<'a>, ParseError> {
    let reg = match expect(lx)? {
        (Tok::Reg(r), _) => r,
        (_, c) => return Err((AsmErrorKind::BadOperand, c)),
    };
    let mut off = 0;
    if let Some((Tok::Plus | Tok::Minus, _)) = lx.peek()? {
        let (sign, num, col) = signed_num(lx)?;
        off = signed(sign == Some(true), num).ok_or((AsmErrorKind::OffsetOutOfRange, col))?;
    }
    match expect(lx)? {
        (Tok::RBrack, _) => Ok(Operand::Mem { reg, off }),
        (_, c) => Err((AsmErrorKind::Syntax, c)),
    }
}

/// The rest of `map[N]` or `map_value[N]+OFF` after the name.
fn map_ref<'a>(lx: &mut Lexer<'a>, name: &str, col: u32) -> Result<Operand<'a>, ParseError> {
    let Some(&(_, src, has_off)) = MAP_KINDS.iter().find(|k| k.0 == name) else {
        return Err((AsmErrorKind::Syntax, col));
    };
    lx.next_tok()?; // the `[`
    let (sign, num, c) = signed_num(lx)?;
    let index = imm32(sign, num).ok_or((AsmErrorKind::ImmOutOfRange, c))?;
    match expect(lx)? {
        (Tok::RBrack, _) => {}
        (_, c) => return Err((AsmErrorKind::Syntax, c)),
    }
    let mut off = 0;
    if has_off {
        if let Some((Tok::Plus | Tok::Minus, _)) = lx.peek()? {
            let (sign, num, c) = signed_num(lx)?;
            off = imm32(sign, num).ok_or((AsmErrorKind::ImmOutOfRange, c))?;
        }
    }
    Ok(Operand::Map { src, index, off })
}
