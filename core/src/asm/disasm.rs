//! The disassembler: one instruction to text that assembles back to the same slots.

use core::fmt::{self, Write};

use super::assemble::{assemble_with, CALL_RUNTIME};
use super::labels::Labels;
use super::mnemonic::{alu_name, jmp_name, mem_name, movsx_name, unary_name};
use super::operand::MAP_KINDS;
use crate::isa::opcode::*;
use crate::isa::Insn;

/// A line of text in a fixed buffer, long enough for every form this module prints.
struct LineBuf {
    buf: [u8; 80],
    len: usize,
}

impl LineBuf {
    fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes the instruction at `pc` of `insns`: its text, or `.raw 0x…` for a slot whose text
/// would not assemble back to it. Writes no line terminator. Returns the slots it consumed:
/// 2 for an `lddw` printed with its second slot, 1 for anything else.
///
/// # Errors
/// [`fmt::Error`] when `pc` is past the end, or when `f` fails.
pub fn disassemble_insn(
    insns: &[Insn],
    pc: usize,
    f: &mut impl Write,
) -> Result<usize, fmt::Error> {
    let mut line = LineBuf {
        buf: [0; 80],
        len: 0,
    };
    let slots = render(insns, pc, &mut line).ok_or(fmt::Error)?;
    f.write_str(line.as_str())?;
    Ok(slots)
}

/// A whole slot stream, displayed one instruction per line (each line ends in `\n`).
#[derive(Clone, Copy, Debug)]
pub struct Disasm<'a> {
    insns: &'a [Insn],
}

impl<'a> Disasm<'a> {
    /// Wraps `insns` for display.
    pub const fn new(insns: &'a [Insn]) -> Self {
        Disasm { insns }
    }
}

impl fmt::Display for Disasm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut pc = 0;
        let mut line = LineBuf {
            buf: [0; 80],
            len: 0,
        };
        while let Some(n) = render(self.insns, pc, &mut line) {
            f.write_str(line.as_str())?;
            f.write_char('\n')?;
            pc = pc.saturating_add(n);
        }
        Ok(())
    }
}

/// Renders the instruction at `pc` into `line` and returns the slots it takes, or `None` past
/// the end.
fn render(insns: &[Insn], pc: usize, line: &mut LineBuf) -> Option<usize> {
    let first = *insns.get(pc)?;
    let n = if first.is_lddw() { 2 } else { 1 };
    if let Some(slots) = insns.get(pc..pc.saturating_add(n)) {
        line.len = 0;
        if write_insn(slots, line).is_ok() && reassembles(line.as_str(), slots) {
            return Some(n);
        }
    }
    line.len = 0;
    write!(line, ".raw {:#018x}", first.to_u64()).ok()?;
    Some(1)
}

/// Whether `text` assembles to exactly `slots`.
fn reassembles(text: &str, slots: &[Insn]) -> bool {
    let mut out = [Insn::default(); 2];
    match assemble_with(text, &mut out, &mut Labels::<0>::new()) {
        Ok(n) => out.get(..n) == Some(slots),
        Err(_) => false,
    }
}

/// A relative target, with its sign.
struct Rel(i64);

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:+}", self.0)
    }
}

/// A memory operand.
struct Mem(u8, i16);

impl fmt::Display for Mem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            0 => write!(f, "[%r{}]", self.0),
            off => write!(f, "[%r{}{:+}]", self.0, off),
        }
    }
}

/// Writes the text of `slots` (one slot, or two for `lddw`); fails for forms with no text.
/// The result is checked by reassembly, so this may be loose about fields it does not print.
fn write_insn(slots: &[Insn], w: &mut LineBuf) -> fmt::Result {
    let i = *slots.first().ok_or(fmt::Error)?;
    let (code, dst, src, off, imm) = (i.opcode, i.dst(), i.src(), i.off, i.imm);
    let x = code & BPF_X != 0;
    let op = code & 0xf0;
    match i.class() {
        Class::Alu | Class::Alu64 => {
            let sfx = if i.class() == Class::Alu { "32" } else { "" };
            match op {
                BPF_NEG => return write!(w, "neg{sfx} %r{dst}"),
                BPF_END => {
                    let name = unary_name(code, imm).ok_or(fmt::Error)?;
                    return write!(w, "{name} %r{dst}");
                }
                BPF_MOV if x && off != 0 => {
                    let name = movsx_name(code & 0x07, off).ok_or(fmt::Error)?;
                    return write!(w, "{name} %r{dst}, %r{src}");
                }
                _ => {}
            }
            let name = match (op, off) {
                (BPF_DIV, 1) => "sdiv",
                (BPF_MOD, 1) => "smod",
                _ => alu_name(op).ok_or(fmt::Error)?,
            };
            if x {
                write!(w, "{name}{sfx} %r{dst}, %r{src}")
            } else {
                write!(w, "{name}{sfx} %r{dst}, {imm}")
            }
        }
        Class::Jmp | Class::Jmp32 => {
            let sfx = if i.class() == Class::Jmp32 { "32" } else { "" };
            match code {
                op::EXIT => return w.write_str("exit"),
                op::CALLX => return write!(w, "call %r{dst}"),
                op::JA => return write!(w, "ja {}", Rel(off.into())),
                op::JA32 => return write!(w, "ja32 {}", Rel(imm.into())),
                op::CALL => {
                    return match src {
                        CALL_HELPER => write!(w, "call {imm}"),
                        CALL_LOCAL => write!(w, "call local {}", Rel(imm.into())),
                        CALL_RUNTIME => write!(w, "call runtime {imm}"),
                        _ => Err(fmt::Error),
                    }
                }
                _ => {}
            }
            let name = jmp_name(op).ok_or(fmt::Error)?;
            let t = Rel(off.into());
            if x {
                write!(w, "{name}{sfx} %r{dst}, %r{src}, {t}")
            } else {
                write!(w, "{name}{sfx} %r{dst}, {imm}, {t}")
            }
        }
        Class::Ld if code == op::LDDW => {
            let hi = slots.get(1).ok_or(fmt::Error)?.imm;
            if src == LDDW_IMM {
                let v = u64::from(imm as u32) | (u64::from(hi as u32) << 32);
                return write!(w, "lddw %r{dst}, {v:#x}");
            }
            let &(name, _, has_off) = MAP_KINDS.iter().find(|k| k.1 == src).ok_or(fmt::Error)?;
            write!(w, "lddw %r{dst}, {name}[{imm}]")?;
            if has_off {
                write!(w, "{hi:+}")?;
            }
            Ok(())
        }
        Class::Ld => {
            let name = mem_name(code).ok_or(fmt::Error)?;
            if code & 0xe0 == BPF_IND {
                write!(w, "{name} %r{src}, {imm}")
            } else {
                write!(w, "{name} {imm}")
            }
        }
        Class::Ldx => {
            let name = mem_name(code).ok_or(fmt::Error)?;
            write!(w, "{name} %r{dst}, {}", Mem(src, off))
        }
        Class::St => {
            let name = mem_name(code).ok_or(fmt::Error)?;
            write!(w, "{name} {}, {imm}", Mem(dst, off))
        }
        Class::Stx if code & 0xe0 == BPF_ATOMIC => {
            let sfx = match code {
                0xdb => "",
                0xc3 => "32",
                _ => return Err(fmt::Error),
            };
            let name = match imm {
                ATOMIC_XCHG => "xchg",
                ATOMIC_CMPXCHG => "cmpxchg",
                _ => atomic_name(imm).ok_or(fmt::Error)?,
            };
            write!(w, "lock {name}{sfx} {}, %r{src}", Mem(dst, off))
        }
        Class::Stx => {
            let name = mem_name(code).ok_or(fmt::Error)?;
            write!(w, "{name} {}, %r{src}", Mem(dst, off))
        }
    }
}

/// The `lock` spelling of an add/and/or/xor immediate, with `fetch` when its bit is set.
fn atomic_name(imm: i32) -> Option<&'static str> {
    Some(match imm {
        ATOMIC_ADD => "add",
        ATOMIC_AND => "and",
        ATOMIC_OR => "or",
        ATOMIC_XOR => "xor",
        x if x == ATOMIC_ADD | ATOMIC_FETCH => "fetch add",
        x if x == ATOMIC_AND | ATOMIC_FETCH => "fetch and",
        x if x == ATOMIC_OR | ATOMIC_FETCH => "fetch or",
        x if x == ATOMIC_XOR | ATOMIC_FETCH => "fetch xor",
        _ => return None,
    })
}
