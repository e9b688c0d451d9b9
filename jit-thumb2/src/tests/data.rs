// A reader of bpf_conformance `.data` files (see `../shared/conformance/FORMAT.md`), self-
// contained (std only) so that the MPS2 board's build script includes the same file.

use std::string::String;
use std::vec::Vec;

/// One test: its program (assembly text or raw slots), input memory and expected r0.
#[derive(Debug, Default)]
pub struct DataCase {
    /// The `-- asm` text.
    pub asm: Option<String>,
    /// The `-- raw` slots, which win over the text.
    pub raw: Option<Vec<u64>>,
    /// The `-- mem` bytes.
    pub mem: Vec<u8>,
    /// The `-- result` value.
    pub result: Option<u64>,
}

/// Parses a `.data` file; `None` when a section is unreadable.
pub fn parse_data(text: &str) -> Option<DataCase> {
    let mut case = DataCase::default();
    let mut section = "";
    let mut asm = String::new();
    let mut raw = Vec::new();
    let mut has_raw = false;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("--") {
            section = if h.contains("asm") {
                "asm"
            } else if h.contains("result") {
                "result"
            } else if h.contains("mem") {
                "mem"
            } else if h.contains("raw") {
                has_raw = true;
                "raw"
            } else {
                "ignored"
            };
            continue;
        }
        let body = line.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            continue;
        }
        match section {
            "asm" => {
                asm.push_str(body);
                asm.push('\n');
            }
            "mem" => {
                for b in body.split_whitespace() {
                    case.mem.push(u8::from_str_radix(b, 16).ok()?);
                }
            }
            "raw" => {
                for w in body.split_whitespace() {
                    raw.push(number(w)?);
                }
            }
            "result" => case.result = Some(number(body)?),
            _ => {}
        }
    }
    case.asm = (!asm.is_empty()).then_some(asm);
    case.raw = has_raw.then_some(raw);
    Some(case)
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None if s.contains("0x") => None,
        None => s
            .parse::<u64>()
            .ok()
            .or_else(|| s.parse::<i64>().ok().map(|v| v as u64)),
    }
}
