//! Reader of the bpf_conformance `.data` format (see `../shared/conformance/FORMAT.md`).

use nanobpf_core::Insn;

/// What a test file expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The 64-bit value of r0 at `exit`.
    Result(u64),
    /// The program must be rejected; the text is the upstream runner's message.
    Error(String),
    /// Neither section is present.
    Nothing,
}

/// One parsed test file.
#[derive(Clone, Debug, Default)]
pub struct DataFile {
    /// The `-- asm` section, comments removed.
    pub asm: Option<String>,
    /// The `-- raw` section as slots; replaces `asm` when present.
    pub raw: Option<Vec<Insn>>,
    /// The `-- mem` bytes.
    pub mem: Vec<u8>,
    /// The expected outcome.
    pub expect: Option<Expect>,
}

/// Why a file could not be read as a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError(pub String);

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Asm,
    Result,
    Mem,
    Raw,
    Ignored,
    Error,
}

/// Parses the text of a `.data` file.
///
/// # Errors
/// An unknown section header, or a number that does not parse.
pub fn parse(text: &str) -> Result<DataFile, DataError> {
    let mut section = None;
    let mut bodies: Vec<(Section, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("--") {
            // The upstream runner searches the header for a keyword, in this order.
            let s = if header.contains("asm") {
                Section::Asm
            } else if header.contains("result") {
                Section::Result
            } else if header.contains("mem") {
                Section::Mem
            } else if header.contains("raw") {
                Section::Raw
            } else if header.contains("no register offset") || header.contains(" c") {
                Section::Ignored
            } else if header.contains("error") {
                Section::Error
            } else {
                return Err(DataError(format!(
                    "unknown section header '{}'",
                    line.trim()
                )));
            };
            section = Some(s);
            bodies.push((s, Vec::new()));
            continue;
        }
        if section.is_none() {
            continue;
        }
        let content = line.split('#').next().unwrap_or("").trim();
        if let Some((_, body)) = bodies.last_mut() {
            if !content.is_empty() {
                body.push(content);
            }
        }
    }
    let mut file = DataFile::default();
    for (s, body) in bodies {
        match s {
            Section::Asm => file.asm = Some(body.join("\n")),
            Section::Raw => file.raw = Some(parse_raw(&body)?),
            Section::Mem => {
                for tok in body.iter().flat_map(|l| l.split_whitespace()) {
                    let b = u8::from_str_radix(tok, 16)
                        .map_err(|_| DataError(format!("bad mem byte '{tok}'")))?;
                    file.mem.push(b);
                }
            }
            Section::Result => {
                let last = body.last().copied().unwrap_or("0");
                file.expect = Some(Expect::Result(parse_number(last)?));
            }
            Section::Error => {
                file.expect = Some(Expect::Error(
                    body.last().copied().unwrap_or("").to_string(),
                ))
            }
            Section::Ignored => {}
        }
    }
    Ok(file)
}

/// A `-- raw` section: either 64-bit slot values (`0x...` or decimal), or, as in the
/// `negative/` files, lines of eight hex bytes.
fn parse_raw(lines: &[&str]) -> Result<Vec<Insn>, DataError> {
    let mut out = Vec::new();
    for line in lines {
        let toks: Vec<&str> = line.split_whitespace().collect();
        let bytes_line =
            toks.len() == 8 && toks.iter().all(|t| t.len() == 2 && !t.starts_with("0x"));
        if bytes_line {
            let mut b = [0u8; 8];
            for (slot, t) in b.iter_mut().zip(&toks) {
                *slot = u8::from_str_radix(t, 16)
                    .map_err(|_| DataError(format!("bad raw byte '{t}'")))?;
            }
            out.push(Insn::from_bytes(b));
        } else {
            for t in toks {
                out.push(Insn::from_u64(parse_number(t)?));
            }
        }
    }
    Ok(out)
}

/// A result or raw number: hex when it contains `0x`, decimal otherwise (negative allowed).
fn parse_number(t: &str) -> Result<u64, DataError> {
    let bad = || DataError(format!("bad number '{t}'"));
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).map_err(|_| bad())
    } else if let Some(neg) = t.strip_prefix('-') {
        neg.parse::<u64>()
            .map(|v| v.wrapping_neg())
            .map_err(|_| bad())
    } else {
        t.parse::<u64>().map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_comments_and_numbers() {
        let f = parse(
            "# header comment\n-- asm\nmov %r0, 1 # one\n\nexit\n-- mem\naa bb\n 01\n-- result\n0x10\n",
        )
        .unwrap();
        assert_eq!(f.asm.as_deref(), Some("mov %r0, 1\nexit"));
        assert_eq!(f.mem, vec![0xaa, 0xbb, 0x01]);
        assert_eq!(f.expect, Some(Expect::Result(16)));
        let f = parse("-- result\n0\n-- raw\n0x0000000000000095\n").unwrap();
        assert_eq!(f.expect, Some(Expect::Result(0)));
        assert_eq!(f.raw.unwrap()[0].opcode, 0x95);
        let f = parse("-- raw\n95 00 00 00 01 00 00 00\n-- error\n").unwrap();
        assert_eq!(f.raw.unwrap()[0].imm, 1);
        assert_eq!(f.expect, Some(Expect::Error(String::new())));
        assert!(parse("-- Unknown directive\n").is_err());
    }
}
