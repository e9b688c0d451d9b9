//! `asm_roundtrip`: the disassembler's output assembles back to the same slots.

use super::{Bytes, Source};
use crate::asm::{assemble, Disasm};
use crate::isa::Insn;
use std::string::{String, ToString};
use std::vec::Vec;

/// The most slots per input.
const MAX_SLOTS: usize = 256;

/// The first byte picks a mode. Slots (raw, or with registers and fields nudged towards
/// valid encodings) are disassembled with [`Disasm`] and the text assembled: the same slots
/// must come back. Or the bytes are assembly text: the assembler must not panic, and what it
/// accepts must round-trip through the disassembler.
///
/// # Panics
/// On a finding: text from the disassembler that does not assemble, or assembles to other
/// slots.
pub fn asm_roundtrip(data: &[u8]) {
    let mut src = Bytes::new(data);
    match src.below(4) {
        0 => {
            let text = String::from_utf8_lossy(src.rest()).to_string();
            let mut buf = [Insn::default(); MAX_SLOTS];
            if let Ok(n) = assemble(&text, &mut buf) {
                roundtrip(&buf[..n]);
            }
        }
        mode => {
            let plausible = mode != 1;
            let mut insns = Vec::new();
            while !src.exhausted() && insns.len() < MAX_SLOTS {
                let raw = Insn::from_u64(src.next_u64());
                insns.push(if plausible { nudge(raw, &mut src) } else { raw });
            }
            roundtrip(&insns);
        }
    }
}

/// `raw` with registers in range and, often, zero offset or immediate.
fn nudge(raw: Insn, src: &mut Bytes<'_>) -> Insn {
    let off = if src.chance(1, 2) { 0 } else { raw.off };
    let imm = if src.chance(1, 3) { 0 } else { raw.imm };
    Insn::new(raw.opcode, raw.dst() % 11, raw.src() % 11, off, imm)
}

fn roundtrip(insns: &[Insn]) {
    let text = Disasm::new(insns).to_string();
    let mut back = std::vec![Insn::default(); insns.len() + 1];
    match assemble(&text, &mut back) {
        Ok(n) => {
            let got: Vec<u64> = back[..n].iter().map(|i| i.to_u64()).collect();
            let want: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
            assert_eq!(
                got, want,
                "disassembly does not assemble back to the same slots:\n{text}"
            );
        }
        Err(e) => panic!("the disassembler's output does not assemble: {e}\n{text}"),
    }
}
