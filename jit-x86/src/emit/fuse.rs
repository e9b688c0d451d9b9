//! Merging byte-by-byte big-endian loads.
//!
//! clang reads a big-endian 16- or 32-bit field of a packet as single bytes shifted and ORed
//! together (`ldxb`, `lsh32`, `or32`), one slot per step: ten slots for a 32-bit address.
//! Native code does the same with one load and a byte swap. Here a short run of such slots
//! (a *window*) is executed symbolically: each register it writes holds an OR of bytes at
//! known offsets from one base register, shifted by known amounts. When every register the
//! window writes ends as one of the shapes below, the window is emitted as one load per
//! register instead of slot by slot:
//!
//! | final value of the register | emitted |
//! |---|---|
//! | `b[k]` | `movzx r32, byte [base+k]` |
//! | `b[k] << s` | `movzx r32, byte [base+k]; shl r32, s` |
//! | `b[k] << 8 \| b[k+1]` | `movzx r32, word [base+k]; rol r16, 8` |
//! | `b[k] << 24 \| b[k+1] << 16 \| b[k+2] << 8 \| b[k+3]` | `mov r32, [base+k]; bswap r32` |
//!
//! Every register the window writes gets exactly the value the slots would have left (the
//! temporaries too), 32-bit results zero-extended as the slots' are. The merged loads touch
//! only bytes that a load of the window touched, so what the verifier proved for the slots
//! holds for them. A window never includes a jump target or the start of a metering segment
//! past its first slot and contains no store, so reading the bytes at once or one by one is
//! the same. It may overwrite its base register with its last load (clang's `ldxb r2, [r2]`);
//! the base register's merged load is then emitted after all the others. The 64-bit `lsh` and
//! `or` count as their 32-bit forms: every value stays within the low 32 bits.

use super::{Emit, Emitter};
use crate::regs::bpf;
use iced_x86::code_asm::{byte_ptr, dword_ptr, word_ptr};
use nanobpf_core::opcode::*;
use nanobpf_core::Insn;

/// `ldxb dst, [src+off]`.
const LDXB: u8 = BPF_LDX | BPF_MEM | BPF_B;
/// `lsh32 dst, imm`.
const LSH32_K: u8 = BPF_ALU | BPF_LSH | BPF_K;
/// `lsh dst, imm`: the same as `lsh32` on a value whose bytes stay in the low 32 bits.
const LSH64_K: u8 = BPF_ALU64 | BPF_LSH | BPF_K;
/// `or32 dst, src`.
const OR32_X: u8 = BPF_ALU | BPF_OR | BPF_X;
/// `or dst, src`: the same as `or32` on two zero-extended 32-bit values.
const OR64_X: u8 = BPF_ALU64 | BPF_OR | BPF_X;

/// The most bytes one register can hold.
const MAX_TERMS: usize = 4;

/// One byte of a register's value: the byte at `off` from the base, shifted left by `shift`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Term {
    off: i16,
    shift: u8,
}

/// A register's value inside a window: the OR of its terms, on distinct bit positions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sym {
    terms: [Term; MAX_TERMS],
    n: usize,
}

impl Sym {
    fn byte(off: i16) -> Sym {
        let mut s = Sym::default();
        s.terms[0] = Term { off, shift: 0 };
        s.n = 1;
        s
    }

    fn terms(&self) -> &[Term] {
        self.terms.get(..self.n).unwrap_or(&[])
    }

    /// `self << by` at 32 bits, if no byte leaves the word.
    fn shifted(mut self, by: i32) -> Option<Sym> {
        let by = u8::try_from(by).ok()?;
        for t in self.terms.iter_mut().take(self.n) {
            t.shift = t.shift.checked_add(by).filter(|&s| s <= 24)?;
        }
        Some(self)
    }

    /// `self | other`, if their bytes sit on distinct bit positions.
    fn or(mut self, other: &Sym) -> Option<Sym> {
        for t in other.terms() {
            if self.terms().iter().any(|u| u.shift == t.shift) || self.n == MAX_TERMS {
                return None;
            }
            self.terms[self.n] = *t;
            self.n += 1;
        }
        Some(self)
    }

    /// How the value can be loaded at once, if it has one of the shapes of the module table.
    fn shape(&self) -> Option<Shape> {
        let mut t = [Term::default(); MAX_TERMS];
        let t = t.get_mut(..self.n)?;
        t.copy_from_slice(self.terms());
        // Highest shift first: the big-endian order of the bytes.
        t.sort_unstable_by_key(|a| core::cmp::Reverse(a.shift));
        let t: &[Term] = t;
        let contiguous = |width: u8| {
            t.iter().enumerate().all(|(i, term)| {
                let i = i as u8;
                term.shift == 8 * (width - 1 - i) && term.off == t[0].off.wrapping_add(i as i16)
            })
        };
        match t {
            [one] => Some(Shape::Byte(one.off, one.shift)),
            [hi, _] if contiguous(2) && t[0].off < i16::MAX => Some(Shape::Be16(hi.off)),
            [hi, _, _, _] if contiguous(4) && t[0].off < i16::MAX - 2 => Some(Shape::Be32(hi.off)),
            _ => None,
        }
    }
}

/// A register's final value as one load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A byte at the offset, shifted left.
    Byte(i16, u8),
    /// Two bytes from the offset, big-endian.
    Be16(i16),
    /// Four bytes from the offset, big-endian.
    Be32(i16),
}

impl Shape {
    /// Machine instructions the shape takes.
    fn cost(self) -> usize {
        match self {
            Shape::Byte(_, 0) => 1,
            _ => 2,
        }
    }
}

/// A window to emit merged: its slot count, base register, and each written register's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Window {
    /// Slots the window covers (all single-slot instructions).
    pub len: usize,
    base: u8,
    /// Final value of every register the window writes (index: BPF register).
    outs: [Option<Shape>; 11],
}

/// The symbolic state after each prefix of the window starting at `pc`: returns, for the
/// longest prefix worth merging, the window. `boundary(j)` says that slot `j` must start its
/// own code (a jump target, or a metering segment start).
pub(super) fn plan(insns: &[Insn], pc: usize, boundary: impl Fn(usize) -> bool) -> Option<Window> {
    let first = insns.get(pc)?;
    if first.opcode != LDXB {
        return None;
    }
    let base = first.src();
    // Until a load overwrites the base register (clang's `ldxb r2, [r2]`), loads may use it;
    // after, the register holds a byte like any other, and no load may follow.
    let mut base_live = true;
    let mut regs: [Option<Sym>; 11] = [None; 11];
    let mut best: Option<Window> = None;
    let mut j = pc;
    while let Some(insn) = insns.get(j) {
        if j > pc && boundary(j) {
            break;
        }
        let (d, s) = (insn.dst() as usize, insn.src() as usize);
        if d >= regs.len() {
            break;
        }
        // Every value stays within the low 32 bits (shifts stop at 24), so the 64-bit shift
        // and OR give what the 32-bit ones do.
        let next = match insn.opcode {
            LDXB if s == base as usize && base_live => {
                base_live = d != base as usize;
                Some(Sym::byte(insn.off))
            }
            LSH32_K | LSH64_K => regs[d].and_then(|v| v.shifted(insn.imm)),
            OR32_X | OR64_X => match (regs[d], regs.get(s).copied().flatten()) {
                (Some(a), Some(b)) => a.or(&b),
                _ => None,
            },
            _ => None,
        };
        let Some(v) = next else { break };
        regs[d] = Some(v);
        j += 1;
        if let Some(w) = window(&regs, j - pc, base) {
            best = Some(w);
        }
    }
    best
}

/// The window of `len` slots whose registers end as `regs`, if each written register has a
/// shape and the merged code is shorter than the slot-by-slot code (one machine instruction
/// per slot).
fn window(regs: &[Option<Sym>; 11], len: usize, base: u8) -> Option<Window> {
    let mut outs = [None; 11];
    let mut cost = 0;
    for (out, r) in outs.iter_mut().zip(regs) {
        if let Some(v) = r {
            let shape = v.shape()?;
            cost += shape.cost();
            *out = Some(shape);
        }
    }
    (cost < len).then_some(Window { len, base, outs })
}

/// Whether some run of `insns` would be merged (ignoring jump targets): for tests that check
/// their random programs exercise merging.
#[cfg(test)]
pub(crate) fn merges_any(insns: &[Insn]) -> bool {
    (0..insns.len()).any(|pc| plan(insns, pc, |_| false).is_some())
}

impl Emitter {
    /// Emits `w`: one load (and a shift or byte swap) per register it writes.
    pub(super) fn merged_loads(&mut self, w: &Window) -> Emit {
        let base = bpf(w.base).q;
        // The base register last, if the window overwrites it: every other load reads it.
        let order = (0..w.outs.len())
            .filter(|&r| r != w.base as usize)
            .chain(core::iter::once(w.base as usize));
        for r in order {
            let Some(shape) = w.outs.get(r).copied().flatten() else {
                continue;
            };
            let d = bpf(r as u8);
            match shape {
                Shape::Byte(off, shift) => {
                    self.a.movzx(d.d, byte_ptr(base + off as i32))?;
                    if shift != 0 {
                        self.a.shl(d.d, shift as u32)?;
                    }
                }
                Shape::Be16(off) => {
                    self.a.movzx(d.d, word_ptr(base + off as i32))?;
                    self.a.rol(d.w, 8u32)?;
                }
                Shape::Be32(off) => {
                    self.a.mov(d.d, dword_ptr(base + off as i32))?;
                    self.a.bswap(d.d)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{asm, both};
    use alloc::format;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    fn planned(text: &str) -> Option<Window> {
        plan(&asm(text), 0, |_| false)
    }

    /// 40 bytes `0x10, 0x21, 0x32, ...`: every byte differs, so a wrong offset or order shows.
    fn mem() -> Vec<u8> {
        (0..40u8)
            .map(|i| i.wrapping_mul(0x11).wrapping_add(0x10))
            .collect()
    }

    const BE32: &str = "ldxb %r3, [%r1+26]
lsh32 %r3, 24
ldxb %r5, [%r1+27]
lsh32 %r5, 16
or32 %r5, %r3
ldxb %r3, [%r1+28]
lsh32 %r3, 8
or32 %r5, %r3
ldxb %r3, [%r1+29]
or32 %r5, %r3";

    #[test]
    fn clangs_big_endian_loads_merge_into_one_load_each() {
        let w = planned(BE32).expect("merges");
        assert_eq!(w.len, 10);
        assert_eq!(w.outs[5], Some(Shape::Be32(26)));
        assert_eq!(
            w.outs[3],
            Some(Shape::Byte(29, 0)),
            "the temporary keeps its last byte"
        );
        let w = planned("ldxb %r3, [%r1+13]\nldxb %r4, [%r1+12]\nlsh32 %r4, 8\nor32 %r4, %r3")
            .expect("merges");
        assert_eq!(
            (w.len, w.outs[4], w.outs[3]),
            (4, Some(Shape::Be16(12)), Some(Shape::Byte(13, 0)))
        );
    }

    #[test]
    fn merged_code_leaves_every_register_as_the_slots_do() {
        // r0 sums every register the windows write, so a wrong temporary shows too.
        for text in [
            format!("{BE32}\nmov %r0, %r5\nadd %r0, %r3\nexit"),
            "ldxb %r3, [%r1+13]\nldxb %r4, [%r1+12]\nlsh32 %r4, 8\nor32 %r4, %r3\n\
             mov %r0, %r4\nlsh %r0, 8\nadd %r0, %r3\nexit"
                .to_string(),
            // The checksum loop's shape: 64-bit shift and OR, the base overwritten by the
            // second load.
            "ldxb %r0, [%r1+1]\nldxb %r1, [%r1+0]\nlsh %r1, 8\nor %r1, %r0\n\
             lsh %r0, 20\nadd %r0, %r1\nexit"
                .to_string(),
            // A 32-bit value built from its low byte up: the temporary ends shifted.
            "ldxb %r2, [%r1+3]\nldxb %r3, [%r1+2]\nlsh32 %r3, 8\nor32 %r2, %r3\n\
             ldxb %r3, [%r1+1]\nlsh32 %r3, 16\nor32 %r2, %r3\n\
             ldxb %r3, [%r1+0]\nlsh32 %r3, 24\nor32 %r2, %r3\n\
             mov %r0, %r2\nadd %r0, %r3\nexit"
                .to_string(),
        ] {
            assert!(planned(&text).is_some(), "a window at slot 0 of\n{text}");
            // `both` checks r0 and memory against the interpreter, plain and blinded.
            let (r0, _) = both(&text, &mem());
            assert_ne!(r0, Ok(0), "{text}");
        }
    }

    #[test]
    fn windows_stop_where_the_shapes_do_not_fit() {
        // Bytes out of order (little-endian): no shape, no window.
        assert_eq!(
            planned("ldxb %r3, [%r1+12]\nldxb %r4, [%r1+13]\nlsh32 %r4, 8\nor32 %r4, %r3"),
            None
        );
        // A gap between the bytes.
        assert_eq!(
            planned("ldxb %r3, [%r1+14]\nldxb %r4, [%r1+12]\nlsh32 %r4, 8\nor32 %r4, %r3"),
            None
        );
        // Two bytes of different bases.
        assert_eq!(
            planned("ldxb %r3, [%r1+13]\nldxb %r4, [%r2+12]\nlsh32 %r4, 8\nor32 %r4, %r3"),
            None
        );
        // No load after the base is overwritten.
        assert_eq!(
            planned("ldxb %r3, [%r1+13]\nldxb %r1, [%r1+12]\nldxb %r4, [%r1+14]\nor32 %r4, %r3")
                .map(|w| w.len),
            None
        );
        // An instruction the window does not model ends it: the `and` runs on its own.
        let w = planned(
            "ldxb %r3, [%r1+13]\nldxb %r4, [%r1+12]\nlsh32 %r4, 8\nor32 %r4, %r3\nand32 %r4, 16128",
        );
        assert_eq!(w.map(|w| w.len), Some(4));
        // A shift that would move a byte past bit 31 is not modelled.
        assert_eq!(
            planned("ldxb %r3, [%r1+13]\nldxb %r4, [%r1+12]\nlsh %r4, 32\nor %r4, %r3"),
            None
        );
    }

    #[test]
    fn windows_stop_at_jump_targets() {
        let insns = asm(BE32);
        assert_eq!(plan(&insns, 0, |_| false).map(|w| w.len), Some(10));
        // A target inside leaves only prefixes, none of which is worth merging.
        assert_eq!(plan(&insns, 0, |j| j == 5), None);
        assert_eq!(plan(&insns, 0, |j| j == 1), None);
        // A program that jumps into the middle of a mergeable run agrees with the interpreter
        // on both paths (the byte at 0 decides which).
        for first in [0x10u8, 0x11] {
            let text = "ldxb %r2, [%r1+0]\njeq %r2, 16, +3\n\
                        ldxb %r3, [%r1+13]\nldxb %r4, [%r1+12]\nlsh32 %r4, 8\nor32 %r4, %r3\n\
                        mov %r0, %r4\nexit";
            let mut m = mem();
            m[0] = first;
            let (r0, _) = both(text, &m);
            let want = if first == 0x10 {
                0
            } else {
                u16::from_be_bytes([m[12], m[13]])
            };
            assert_eq!(r0, Ok(u64::from(want)));
        }
    }

    /// Random runs of byte loads, 32-bit shifts and ORs over four registers (the shapes
    /// clang emits, and many it does not): the JIT, merging where it can, agrees with the
    /// interpreter on every register.
    #[test]
    fn random_byte_assembly_agrees_with_the_interpreter() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut merged = 0;
        for _ in 0..300 {
            let mut text = String::new();
            for _ in 0..2 + next(12) {
                let d = 2 + next(4);
                match next(3) {
                    0 => text += &format!("ldxb %r{d}, [%r1+{}]\n", next(8)),
                    1 => text += &format!("lsh32 %r{d}, {}\n", 8 * next(4)),
                    _ => text += &format!("or32 %r{d}, %r{}\n", 2 + next(4)),
                }
            }
            merged += usize::from(planned(&text).is_some());
            text += "mov %r0, %r2\nlsh %r0, 16\nxor %r0, %r3\nlsh %r0, 16\nxor %r0, %r4\n\
                     lsh %r0, 16\nxor %r0, %r5\nexit";
            // `both` asserts r0 and memory equal on the interpreter and the JIT.
            let (r0, _) = both(&text, &mem());
            assert!(r0.is_ok(), "{text}");
        }
        assert!(merged > 10, "only {merged} of 300 programs had a window");
    }
}
