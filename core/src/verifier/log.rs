//! The verifier log: one line per processed instruction with the registers before it, in the
//! spirit of Linux's `verifier log` (`12: (bf) r2 = r1 ; R1=ctx() R2=pkt(off=0,r=14)`).

use super::scalar::Scalar;
use super::state::{Kind, State, Value};
use crate::isa::Insn;
use core::fmt::{self, Write};

struct ShowScalar<'a>(&'a Scalar);

impl fmt::Display for ShowScalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if let Some(c) = s.as_const() {
            return write!(f, "{}", c as i64);
        }
        write!(f, "(")?;
        let mut sep = "";
        let mut item = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = ",";
            r
        };
        if s.umin != 0 {
            item(f, format_args!("umin={}", s.umin))?;
        }
        if s.umax != u64::MAX {
            item(f, format_args!("umax={}", s.umax))?;
        }
        if s.smin != i64::MIN && s.smin as u64 != s.umin {
            item(f, format_args!("smin={}", s.smin))?;
        }
        if s.smax != i64::MAX && s.smax as u64 != s.umax {
            item(f, format_args!("smax={}", s.smax))?;
        }
        if s.var.mask != u64::MAX {
            item(
                f,
                format_args!("var_off=({:#x}; {:#x})", s.var.value, s.var.mask),
            )?;
        }
        write!(f, ")")
    }
}

struct ShowValue<'a>(&'a Value);

impl fmt::Display for ShowValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        match v.kind {
            Kind::Uninit => f.write_str("?"),
            Kind::Scalar => {
                match v.s.as_const() {
                    Some(c) => write!(f, "{}", c as i64)?,
                    None => write!(f, "scalar{}", ShowScalar(&v.s))?,
                }
                if v.id != 0 {
                    write!(f, "#{}{:+}", v.id, v.off)?;
                }
                Ok(())
            }
            Kind::Stack => {
                write!(f, "fp{}", (v.off as i64).saturating_add(v.s.smin))?;
                if v.aux != 0 {
                    write!(f, "(frame={})", v.aux)?;
                }
                Ok(())
            }
            _ => {
                write!(f, "{}(", v.kind.name())?;
                match v.kind {
                    Kind::MapValue | Kind::MapValueOrNull | Kind::MapPtr => {
                        write!(f, "map={},", v.aux)?
                    }
                    _ => {}
                }
                if v.id != 0 {
                    write!(f, "id={},", v.id)?;
                }
                write!(f, "off={}", v.off)?;
                if matches!(v.kind, Kind::Packet | Kind::PacketMeta) {
                    write!(f, ",r={}", v.range)?;
                }
                if v.s.as_const() != Some(0) {
                    write!(f, ",var={}", ShowScalar(&v.s))?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Writes `pc: (opcode) instruction ; registers` for the current state before the
/// instruction at `pc` runs.
pub(crate) fn write_step(mut w: &mut dyn Write, insns: &[Insn], pc: usize, st: &State) {
    let opcode = insns.get(pc).map_or(0, |i| i.opcode);
    let _ = write!(w, "{pc}: ({opcode:02x}) ");
    let _ = crate::asm::disassemble_insn(insns, pc, &mut w);
    let _ = write!(w, " ;");
    if st.depth > 1 {
        let _ = write!(w, " frame{}:", st.depth.saturating_sub(1));
    }
    let Some(f) = st.frames.get(st.cur()) else {
        return;
    };
    for (i, r) in f.regs.iter().enumerate() {
        if r.kind != Kind::Uninit {
            let _ = write!(w, " R{i}={}", ShowValue(r));
        }
    }
    for (k, s) in f.slots.iter().enumerate() {
        if s.init != 0 {
            let off = (k as i64).saturating_mul(8).saturating_sub(512);
            match st.spilled(s) {
                Some(v) => {
                    let _ = write!(w, " fp{off}={}", ShowValue(v));
                }
                None => {
                    let _ = write!(w, " fp{off}=m{:02x}", s.init);
                }
            }
        }
    }
    let _ = writeln!(w);
}
