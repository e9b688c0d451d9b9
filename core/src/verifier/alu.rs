//! ALU and ALU64: scalar arithmetic through the scalar domain, and the little pointer
//! arithmetic that is allowed (adding or subtracting a scalar; the distance between two
//! packet pointers).

use super::check::{Checker, Res, MAX_VAR_OFF};
use super::error::VerifyErrorKind;
use super::rule::Rule;
use super::scalar::{BinOp, Scalar};
use super::state::{Kind, Value};
use crate::isa::opcode::*;
use crate::isa::Insn;

/// The delta of `a op b` when it stays linked to `a`'s group: a 64-bit `+` or `-` of a
/// known number, with the new delta within `i32`. The result is `a`'s hidden number plus
/// `a.off ± b` modulo 2^64, whatever the ranges, so wrapping needs no special case.
fn linked_delta(a: &Value, b: &Value, op: BinOp, is64: bool) -> Option<i32> {
    if a.id == 0 || !is64 {
        return None;
    }
    let c = i32::try_from(b.s.as_const()? as i64).ok()?;
    match op {
        BinOp::Add => a.off.checked_add(c),
        BinOp::Sub => a.off.checked_sub(c),
        _ => None,
    }
}

impl Checker<'_, '_, '_> {
    pub(crate) fn alu(&mut self, pc: usize, insn: Insn) -> Res<()> {
        let is64 = insn.class() == Class::Alu64;
        let op = insn.opcode & 0xf0;
        let x = insn.opcode & BPF_X != 0;
        let dst = insn.dst();
        let src = insn.src();
        let imm = if is64 {
            insn.imm as i64 as u64
        } else {
            insn.imm as u32 as u64
        };
        match op {
            BPF_MOV => {
                if !x {
                    self.set(dst, Value::constant(imm));
                    return Ok(());
                }
                let mut v = self.read(pc, src)?;
                // A copy of a number that fits (all of it, or for `w = w` its low half when
                // the high half is zero) is linked to its source.
                let exact = is64 || v.s.umax <= u32::MAX as u64;
                if v.kind == Kind::Scalar && insn.off == 0 && exact && v.s.as_const().is_none() {
                    if v.id == 0 {
                        v.id = self.fresh_id();
                        v.off = 0;
                        self.set(src, v);
                    }
                    self.set(dst, v);
                    return Ok(());
                }
                if insn.off != 0 {
                    if v.kind != Kind::Scalar {
                        return Err(self.err(
                            pc,
                            VerifyErrorKind::PointerArith {
                                reg: src,
                                op: "movsx",
                            },
                        ));
                    }
                    let s = v.s.sext(insn.off as u32);
                    let s = if is64 { s } else { s.zext32() };
                    self.set(dst, Value::scalar(s));
                } else if is64 {
                    self.set(dst, v);
                } else if v.kind != Kind::Scalar {
                    // The low half of an address: any 32-bit number (Linux's privileged
                    // `mark_reg_unknown`; unprivileged Linux rejects a partial pointer copy).
                    self.set(dst, Value::scalar(Scalar::unknown_bits(32)));
                } else {
                    self.set(dst, Value::scalar(v.s.zext32()));
                }
                Ok(())
            }
            BPF_NEG => {
                let v = self.read(pc, dst)?;
                if v.kind != Kind::Scalar {
                    return Err(self.err(
                        pc,
                        VerifyErrorKind::PointerArith {
                            reg: dst,
                            op: "neg",
                        },
                    ));
                }
                let r = BinOp::Sub.apply(&Scalar::constant(0), &v.s, is64);
                self.set(dst, Value::scalar(r));
                Ok(())
            }
            BPF_END => {
                let v = self.read(pc, dst)?;
                if v.kind != Kind::Scalar {
                    return Err(self.err(
                        pc,
                        VerifyErrorKind::PointerArith {
                            reg: dst,
                            op: "bswap",
                        },
                    ));
                }
                let bits = insn.imm as u32;
                // `le` on this little-endian ISA only truncates; `be` and `bswap` swap.
                let r = if !is64 && insn.opcode & BPF_X == 0 {
                    v.s.trunc(bits)
                } else {
                    v.s.swap(bits)
                };
                self.set(dst, Value::scalar(r));
                Ok(())
            }
            _ => {
                let signed = insn.off == 1;
                let bop = match op {
                    BPF_ADD => BinOp::Add,
                    BPF_SUB => BinOp::Sub,
                    BPF_MUL => BinOp::Mul,
                    BPF_DIV if signed => BinOp::SDiv,
                    BPF_DIV => BinOp::Div,
                    BPF_MOD if signed => BinOp::SMod,
                    BPF_MOD => BinOp::Mod,
                    BPF_OR => BinOp::Or,
                    BPF_AND => BinOp::And,
                    BPF_XOR => BinOp::Xor,
                    BPF_LSH => BinOp::Lsh,
                    BPF_RSH => BinOp::Rsh,
                    _ => BinOp::Arsh,
                };
                let a = self.read(pc, dst)?;
                let b = if x {
                    self.read(pc, src)?
                } else {
                    Value::constant(insn.imm as i64 as u64)
                };
                if a.is_scalar() && b.is_scalar() {
                    let mut r = Value::scalar(bop.apply(&a.s, &b.s, is64));
                    if let Some(off) = linked_delta(&a, &b, bop, is64) {
                        r.id = a.id;
                        r.off = off;
                    }
                    self.set(dst, r);
                    return Ok(());
                }
                let r = self.ptr_alu(pc, insn, bop, a, b, is64)?;
                self.set(dst, r);
                Ok(())
            }
        }
    }

    fn ptr_alu(
        &mut self,
        pc: usize,
        insn: Insn,
        op: BinOp,
        a: Value,
        b: Value,
        is64: bool,
    ) -> Res<Value> {
        let (dst, src) = (insn.dst(), insn.src());
        let ptr_reg = if a.kind.is_ptr() { dst } else { src };
        if !is64 {
            // Linux with `allow_ptr_leaks` (privileged, as every program here runs): a 32-bit
            // subtraction involving a pointer is a meaningless number (clang emits
            // `w3 = w2; w3 -= w1` for `(u32)(data_end - data)`); other 32-bit arithmetic on
            // a pointer is rejected.
            if op == BinOp::Sub {
                return Ok(Value::scalar(Scalar::unknown_bits(32)));
            }
            return Err(self.err(pc, VerifyErrorKind::Pointer32 { reg: ptr_reg }));
        }
        match op {
            BinOp::Add if a.kind.is_ptr() && b.is_scalar() => self.ptr_add(pc, dst, a, &b.s, false),
            BinOp::Add if b.kind.is_ptr() && a.is_scalar() => self.ptr_add(pc, src, b, &a.s, false),
            BinOp::Sub if a.kind.is_ptr() && b.is_scalar() => self.ptr_add(pc, dst, a, &b.s, true),
            BinOp::Sub if a.kind.is_ptr() && b.kind.is_ptr() => {
                let pkt = |k: Kind| matches!(k, Kind::Packet | Kind::PacketEnd | Kind::PacketMeta);
                let same_region = (pkt(a.kind) && pkt(b.kind))
                    || (a.kind == b.kind
                        && a.aux == b.aux
                        && matches!(a.kind, Kind::Stack | Kind::MapValue | Kind::Mem));
                if !same_region {
                    return Err(self.err(pc, VerifyErrorKind::PointerArith { reg: src, op: "-=" }));
                }
                // The distance is known only between pointers from one base: a stack frame,
                // the memory buffer, the packet's start or its metadata's. Two map value
                // pointers may be two elements (Linux makes every pointer difference an
                // unknown number).
                let exact = a.kind == b.kind
                    && match a.kind {
                        Kind::Stack | Kind::Mem | Kind::PacketMeta => true,
                        Kind::Packet => a.id == b.id,
                        _ => !self.enforces(Rule::PointerDifference),
                    };
                match (a.fixed_off(), b.fixed_off()) {
                    (Some(x), Some(y)) if exact => Ok(Value::constant(x.wrapping_sub(y) as u64)),
                    // `data_end - (data + c)`: a bound on it is a bound on the packet.
                    (Some(0), Some(c))
                        if a.kind == Kind::PacketEnd && b.kind == Kind::Packet && b.id == 0 =>
                    {
                        Ok(u16::try_from(c).map_or(Value::UNKNOWN, Value::room_after))
                    }
                    _ => Ok(Value::UNKNOWN),
                }
            }
            _ => Err(self.err(
                pc,
                VerifyErrorKind::PointerArith {
                    reg: ptr_reg,
                    op: op.name(),
                },
            )),
        }
    }

    /// `ptr ± s`.
    fn ptr_add(
        &mut self,
        pc: usize,
        reg: u8,
        mut p: Value,
        s: &Scalar,
        negate: bool,
    ) -> Res<Value> {
        match p.kind {
            Kind::PacketEnd | Kind::MapValueOrNull | Kind::RingbufMemOrNull | Kind::MapPtr => {
                return Err(self.err(
                    pc,
                    VerifyErrorKind::PointerArithOnType {
                        reg,
                        ty: p.kind.name(),
                    },
                ));
            }
            _ => {}
        }
        let oob = VerifyErrorKind::PointerOutOfBounds { reg };
        if let Some(c) = s.as_const() {
            let c = c as i64;
            let delta = if negate { c.checked_neg() } else { Some(c) };
            let off = delta.and_then(|d| (p.off as i64).checked_add(d));
            match off {
                Some(o) if (-MAX_VAR_OFF..=MAX_VAR_OFF).contains(&o) => p.off = o as i32,
                _ => return Err(self.err(pc, oob)),
            }
            return Ok(p);
        }
        if s.smin < -MAX_VAR_OFF || s.smax > MAX_VAR_OFF {
            return Err(self.err(pc, oob));
        }
        let var = if negate {
            Scalar::sub(&p.s, s)
        } else {
            Scalar::add(&p.s, s)
        };
        if var.smin < -MAX_VAR_OFF || var.smax > MAX_VAR_OFF {
            return Err(self.err(pc, oob));
        }
        p.s = var;
        if matches!(p.kind, Kind::Packet | Kind::PacketMeta) {
            // A new variable part: proofs about the old one do not carry over.
            p.id = self.fresh_id();
            p.range = 0;
        }
        Ok(p)
    }
}
