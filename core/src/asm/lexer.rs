//! Splitting one source line into tokens. Comments (`#` to the end of the line) end the line.
//!
//! Columns are 1-based byte positions within the line.

use super::AsmErrorKind;

/// An unsigned number literal, decimal or `0x` hex; a sign is a separate token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Num {
    /// The magnitude.
    pub value: u64,
    /// Written in hex.
    pub hex: bool,
}

/// One token of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok<'a> {
    /// A name: `[A-Za-z_.][A-Za-z0-9_.]*`, other than a register name.
    Ident(&'a str),
    /// A register, `%rN` or `rN`, already checked to be at most 10.
    Reg(u8),
    /// A number literal.
    Num(Num),
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `[`
    LBrack,
    /// `]`
    RBrack,
}

/// A token and the column where it starts.
pub(super) type Spanned<'a> = (Tok<'a>, u32);

/// A lexing error: what and at which column.
pub(super) type LexError = (AsmErrorKind, u32);

/// A one-token-lookahead lexer over one line.
#[derive(Clone, Debug)]
pub(super) struct Lexer<'a> {
    line: &'a str,
    pos: usize,
    peeked: Option<Result<Option<Spanned<'a>>, LexError>>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'.'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

fn col(pos: usize) -> u32 {
    u32::try_from(pos).unwrap_or(u32::MAX - 1).saturating_add(1)
}

/// A register number from its digits, if it is `r0` to `r10`.
fn reg_number(digits: &str) -> Option<u8> {
    match digits.parse::<u8>() {
        Ok(n) if n <= 10 => Some(n),
        _ => None,
    }
}

impl<'a> Lexer<'a> {
    /// A lexer over `line` (without its line terminator).
    pub fn new(line: &'a str) -> Self {
        Lexer {
            line,
            pos: 0,
            peeked: None,
        }
    }

    /// The column just past the last character that is not blank or comment.
    pub fn end_col(&self) -> u32 {
        let code = self.line.split('#').next().unwrap_or("");
        col(code.trim_end().len())
    }

    /// The next token without consuming it.
    pub fn peek(&mut self) -> Result<Option<Spanned<'a>>, LexError> {
        match self.peeked {
            Some(t) => t,
            None => {
                let t = self.lex();
                self.peeked = Some(t);
                t
            }
        }
    }

    /// The next token, or `None` at the end of the line.
    pub fn next_tok(&mut self) -> Result<Option<Spanned<'a>>, LexError> {
        match self.peeked.take() {
            Some(t) => t,
            None => self.lex(),
        }
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.line.as_bytes().get(i).copied()
    }

    /// Advances over bytes matching `pred` and returns the end position.
    fn scan(&self, mut i: usize, pred: fn(u8) -> bool) -> usize {
        while self.byte(i).is_some_and(pred) {
            i = i.saturating_add(1);
        }
        i
    }

    fn lex(&mut self) -> Result<Option<Spanned<'a>>, LexError> {
        self.pos = self.scan(self.pos, |b| b == b' ' || b == b'\t' || b == b'\r');
        let start = self.pos;
        let Some(b) = self.byte(start) else {
            return Ok(None);
        };
        let c = col(start);
        let single = match b {
            b'#' => {
                self.pos = self.line.len();
                return Ok(None);
            }
            b'+' => Some(Tok::Plus),
            b'-' => Some(Tok::Minus),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            b'[' => Some(Tok::LBrack),
            b']' => Some(Tok::RBrack),
            _ => None,
        };
        if let Some(t) = single {
            self.pos = start.saturating_add(1);
            return Ok(Some((t, c)));
        }
        if b == b'%' {
            let end = self.scan(start.saturating_add(1), is_ident_char);
            self.pos = end;
            let word = self.line.get(start.saturating_add(1)..end).unwrap_or("");
            return match word.strip_prefix('r').and_then(reg_number) {
                Some(n) => Ok(Some((Tok::Reg(n), c))),
                None => Err((AsmErrorKind::BadRegister, c)),
            };
        }
        if is_ident_start(b) {
            let end = self.scan(start, is_ident_char);
            self.pos = end;
            let word = self.line.get(start..end).unwrap_or("");
            if let Some(digits) = word.strip_prefix('r') {
                if !digits.is_empty() && digits.bytes().all(|d| d.is_ascii_digit()) {
                    return match reg_number(digits) {
                        Some(n) => Ok(Some((Tok::Reg(n), c))),
                        None => Err((AsmErrorKind::BadRegister, c)),
                    };
                }
            }
            return Ok(Some((Tok::Ident(word), c)));
        }
        if b.is_ascii_digit() {
            let end = self.scan(start, is_ident_char);
            self.pos = end;
            let word = self.line.get(start..end).unwrap_or("");
            return parse_num(word)
                .map(|n| Some((Tok::Num(n), c)))
                .map_err(|k| (k, c));
        }
        Err((AsmErrorKind::Syntax, c))
    }
}

/// Parses a decimal or `0x`/`0X` hex literal that fits in a `u64`.
fn parse_num(word: &str) -> Result<Num, AsmErrorKind> {
    let (digits, radix) = match word.get(..2) {
        Some("0x" | "0X") => (word.get(2..).unwrap_or(""), 16),
        _ => (word, 10),
    };
    if digits.is_empty() || !digits.bytes().all(|d| (d as char).is_digit(radix)) {
        return Err(AsmErrorKind::Syntax);
    }
    // All digits are valid, so the only possible failure is overflow.
    let value = u64::from_str_radix(digits, radix).map_err(|_| AsmErrorKind::ImmOutOfRange)?;
    Ok(Num {
        value,
        hex: radix == 16,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> std::vec::Vec<Spanned<'_>> {
        let mut lx = Lexer::new(line);
        let mut v = std::vec::Vec::new();
        while let Some(t) = lx.next_tok().unwrap() {
            v.push(t);
        }
        v
    }

    #[test]
    fn lexes_memory_operand_with_columns() {
        let t = toks("ldxb r0, [%r10-0x8] # c");
        assert_eq!(t[0], (Tok::Ident("ldxb"), 1));
        assert_eq!(t[1], (Tok::Reg(0), 6));
        assert_eq!(t[2], (Tok::Comma, 8));
        assert_eq!(t[3], (Tok::LBrack, 10));
        assert_eq!(t[4], (Tok::Reg(10), 11));
        assert_eq!(t[5], (Tok::Minus, 15));
        assert_eq!(
            t[6],
            (
                Tok::Num(Num {
                    value: 8,
                    hex: true
                }),
                16
            )
        );
        assert_eq!(t[7], (Tok::RBrack, 19));
        assert_eq!(t.len(), 8);
    }

    #[test]
    fn rejects_bad_tokens() {
        assert_eq!(
            Lexer::new("  %r11").next_tok(),
            Err((AsmErrorKind::BadRegister, 3))
        );
        assert_eq!(
            Lexer::new("%x").next_tok(),
            Err((AsmErrorKind::BadRegister, 1))
        );
        assert_eq!(
            Lexer::new("r99").next_tok(),
            Err((AsmErrorKind::BadRegister, 1))
        );
        assert_eq!(
            Lexer::new("12ab").next_tok(),
            Err((AsmErrorKind::Syntax, 1))
        );
        assert_eq!(Lexer::new("0x").next_tok(), Err((AsmErrorKind::Syntax, 1)));
        assert_eq!(Lexer::new(" $").next_tok(), Err((AsmErrorKind::Syntax, 2)));
        assert_eq!(
            Lexer::new("18446744073709551616").next_tok(),
            Err((AsmErrorKind::ImmOutOfRange, 1))
        );
        assert_eq!(toks("r1x")[0].0, Tok::Ident("r1x"));
    }
}
