//! Loading a program: its function and every function it calls, copied into the caller's slot
//! buffer one after the other, with relocations applied:
//!
//! - `R_BPF_64_64` on an `lddw` of a map: `src` 5 ([`LDDW_MAP_IDX`]), `imm` the map index;
//! - `R_BPF_64_64` on an `lddw` of a global variable: `src` 6 ([`LDDW_MAP_IDX_VALUE`]), `imm`
//!   the index of its section's map, the second slot's `imm` the byte offset in the section;
//! - `R_BPF_64_32` on a local call (`call` src 1), and local calls without a relocation
//!   (within one section): `imm` set so the call lands on the callee's copy.
//!
//! Functions are placed in the order they are first called (breadth first), the program's own
//! function first, so slot 0 is the entry.

use super::error::{LoadError, LoadErrorKind as K, SectionName};
use super::maps::{global_data, MapSource};
use super::object::{Object, Rel, Section};
use super::program::ProgramInfo;
use crate::host::ProgramType;
use crate::isa::opcode::{op, CALL_LOCAL, LDDW_IMM, LDDW_MAP_IDX, LDDW_MAP_IDX_VALUE};
use crate::isa::Insn;

/// The most functions (the program's and those it calls) one program may have.
pub const MAX_FUNCTIONS: usize = 64;

const R_BPF_NONE: u32 = 0;
const R_BPF_64_64: u32 = 1;
const R_BPF_64_32: u32 = 10;

/// A program copied into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadedProgram {
    /// Slots written: the program is `out[..len]`.
    pub len: usize,
    /// Its type: the one asked for, or the one its section name gives.
    pub prog_type: ProgramType,
    /// Functions placed (1 for a program that calls none).
    pub functions: usize,
}

/// A function placed in the output.
#[derive(Clone, Copy, Debug, Default)]
struct Placed {
    section: u16,
    /// First slot in the section.
    start: u32,
    len: u32,
    /// First slot in the output.
    dest: u32,
}

/// The functions placed so far, and the output.
struct Linker<'o, 'a, 'b> {
    obj: &'o Object<'a>,
    out: &'b mut [Insn],
    placed: [Placed; MAX_FUNCTIONS],
    count: usize,
    /// Slots needed so far (may exceed `out.len()`; nothing is written past it).
    used: u64,
}

fn insn_at(sec: &Section<'_>, slot: u64) -> Option<Insn> {
    let off = usize::try_from(slot.checked_mul(8)?).ok()?;
    let bytes: [u8; 8] = sec.data.get(off..off.checked_add(8)?)?.try_into().ok()?;
    Some(Insn::from_bytes(bytes))
}

impl<'a> Linker<'_, 'a, '_> {
    /// Places a function (if not yet placed) and returns it.
    fn place(&mut self, sec: &Section<'a>, start: u32, len: u32) -> Result<Placed, LoadError> {
        let found = self.placed.get(..self.count).unwrap_or(&[]).iter();
        if let Some(p) = found
            .clone()
            .find(|p| p.section == sec.index && p.start == start)
        {
            return Ok(*p);
        }
        let err = sec.err(
            u64::from(start).saturating_mul(8),
            K::TooMany(MAX_FUNCTIONS as u32),
        );
        let slot = self.placed.get_mut(self.count).ok_or(err)?;
        let dest = u32::try_from(self.used).map_err(|_| err)?;
        *slot = Placed {
            section: sec.index,
            start,
            len,
            dest,
        };
        let p = *slot;
        self.count = self.count.saturating_add(1);
        for k in 0..u64::from(len) {
            let insn =
                insn_at(sec, u64::from(start).saturating_add(k)).ok_or(sec.err(0, K::Truncated))?;
            if let Some(o) = self.out.get_mut(self.used.saturating_add(k) as usize) {
                *o = insn;
            }
        }
        self.used = self.used.saturating_add(u64::from(len));
        Ok(p)
    }

    fn write(&mut self, slot: u64, f: impl FnOnce(&mut Insn)) {
        if let Some(insn) = usize::try_from(slot).ok().and_then(|s| self.out.get_mut(s)) {
            f(insn);
        }
    }

    /// Applies the relocations of function `f` and links its calls.
    fn relocate(&mut self, f: Placed) -> Result<(), LoadError> {
        let sec = self.obj.section(f.section)?;
        let lo = u64::from(f.start).saturating_mul(8);
        let hi = u64::from(f.start)
            .saturating_add(u64::from(f.len))
            .saturating_mul(8);
        for rel in self.obj.relocations_for(f.section) {
            if rel.offset < lo || rel.offset >= hi || rel.rtype == R_BPF_NONE {
                continue;
            }
            let rel_sec = self.obj.section(rel.section)?;
            let bad_site = rel_sec.err(rel.entry, K::BadRelocationSite);
            // `lo <= rel.offset < hi`: `k` is below `f.len`.
            let k = (rel.offset / 8).saturating_sub(u64::from(f.start));
            let insn = insn_at(&sec, rel.offset / 8).ok_or(bad_site)?;
            let dest = u64::from(f.dest).saturating_add(k);
            match rel.rtype {
                R_BPF_64_64 => {
                    if !insn.is_lddw()
                        || insn.src() != LDDW_IMM
                        || k.saturating_add(1) >= u64::from(f.len)
                    {
                        return Err(bad_site);
                    }
                    let (src, imm, imm2) = self.data_reference(&rel, &rel_sec, insn.imm)?;
                    self.write(dest, |i| *i = Insn::new(i.opcode, i.dst(), src, i.off, imm));
                    self.write(dest.saturating_add(1), |i| i.imm = imm2);
                }
                R_BPF_64_32 => {
                    if insn.opcode != op::CALL || insn.src() != CALL_LOCAL {
                        return Err(bad_site);
                    }
                    let sym = self.obj.symbol(rel.sym)?;
                    let callee = self
                        .obj
                        .symbol_section(&sym)
                        .filter(Section::is_code)
                        .ok_or(rel_sec.err(rel.entry, K::BadRelocationTarget(rel.sym)))?;
                    // libbpf: the target slot is the symbol's slot plus imm + 1.
                    let target = ((sym.value / 8) as i64)
                        .saturating_add(i64::from(insn.imm))
                        .saturating_add(1);
                    self.link_call(f, k, &callee, target)?;
                }
                t => return Err(rel_sec.err(rel.entry, K::UnsupportedRelocation(t))),
            }
        }
        for k in 0..u64::from(f.len) {
            let slot = u64::from(f.start).saturating_add(k);
            let insn = insn_at(&sec, slot).ok_or(sec.err(slot.saturating_mul(8), K::Truncated))?;
            if insn.opcode != op::CALL || insn.src() != CALL_LOCAL {
                continue;
            }
            let has_rel = self
                .obj
                .relocations_for(f.section)
                .any(|r| r.offset == slot.saturating_mul(8) && r.rtype != R_BPF_NONE);
            if !has_rel {
                let target = (slot as i64)
                    .saturating_add(i64::from(insn.imm))
                    .saturating_add(1);
                self.link_call(f, k, &sec, target)?;
            }
        }
        Ok(())
    }

    /// Links the call at slot `k` of `f` to slot `target` of section `callee`.
    fn link_call(
        &mut self,
        f: Placed,
        k: u64,
        callee: &Section<'a>,
        target: i64,
    ) -> Result<(), LoadError> {
        let caller = self.obj.section(f.section)?;
        let at = u64::from(f.start).saturating_add(k).saturating_mul(8);
        let bad = caller.err(at, K::BadCallTarget(target));
        let t = u32::try_from(target).map_err(|_| bad)?;
        let func = self.obj.function_at(callee, t).ok_or(bad)?;
        let p = self.place(callee, func.0, func.1)?;
        // All of them 32-bit values (`t` is in the function that starts at `p.start`): no
        // overflow in 64 bits.
        let landing = i64::from(p.dest).saturating_add(i64::from(t.saturating_sub(p.start)));
        let next = i64::from(f.dest).saturating_add(k as i64).saturating_add(1);
        let imm = i32::try_from(landing.saturating_sub(next)).map_err(|_| bad)?;
        self.write(u64::from(f.dest).saturating_add(k), |i| i.imm = imm);
        Ok(())
    }

    /// `(src, imm, second imm)` of an `lddw` that refers to a map or a global variable.
    fn data_reference(
        &self,
        rel: &Rel,
        rel_sec: &Section<'a>,
        imm: i32,
    ) -> Result<(u8, i32, i32), LoadError> {
        let err = |kind| rel_sec.err(rel.entry, kind);
        let sym = self.obj.symbol(rel.sym)?;
        if sym.shndx == 0 {
            return Err(err(K::UnresolvedSymbol(rel.sym)));
        }
        let target = self
            .obj
            .symbol_section(&sym)
            .ok_or(err(K::BadRelocationTarget(rel.sym)))?;
        let value = i64::try_from(sym.value).map_err(|_| err(K::BadSymbol(rel.sym)))?;
        let offset = value.saturating_add(i64::from(imm)); // both far from i64's limits
        if global_data(&target).is_some() {
            let in_range = u64::try_from(offset).is_ok_and(|o| o <= target.size);
            let map = self.obj.map_at(target.index, 0);
            return match (in_range, i32::try_from(offset), map) {
                (true, Ok(off), Some(m)) => Ok((LDDW_MAP_IDX_VALUE, m.index as i32, off)),
                _ => Err(err(K::BadGlobalOffset(offset))),
            };
        }
        let map = u64::try_from(offset)
            .ok()
            .and_then(|o| self.obj.map_at(target.index, o))
            .filter(|m| m.source != MapSource::GlobalData)
            .ok_or(err(K::BadRelocationTarget(rel.sym)))?;
        if let Some(Err(u)) = self.obj.map(map.index).map(|m| m.def) {
            // The error names the program's section, at the instruction, and the map.
            let code = u16::try_from(rel_sec.info)
                .ok()
                .and_then(|i| self.obj.section(i).ok())
                .unwrap_or(*rel_sec);
            return Err(code.err(
                rel.offset,
                K::UnsupportedMap {
                    map: SectionName::new(map.name),
                    linux_type: u.linux_type,
                },
            ));
        }
        Ok((LDDW_MAP_IDX, map.index as i32, 0))
    }
}

impl<'a> Object<'a> {
    /// Loads the program called `name` (function or section name, see [`Object::program`])
    /// into `out`, with the type its section name gives.
    ///
    /// # Errors
    ///
    /// [`K::NoSuchProgram`], [`K::UnknownProgramType`] when the section name does not give a
    /// type (use [`Object::load_program_as`]), and the errors of [`Object::load`].
    pub fn load_program(&self, name: &str, out: &mut [Insn]) -> Result<LoadedProgram, LoadError> {
        let prog = self.program(name)?;
        let ty = prog.prog_type.ok_or_else(|| {
            let sec = self.section(prog.section_index);
            sec.map_or_else(|e| e, |s| s.err(0, K::UnknownProgramType))
        })?;
        self.load(&prog, ty, out)
    }

    /// Loads the program called `name` as a program of type `prog_type`, whatever its section
    /// name says.
    ///
    /// # Errors
    ///
    /// [`K::NoSuchProgram`], and the errors of [`Object::load`].
    pub fn load_program_as(
        &self,
        name: &str,
        prog_type: ProgramType,
        out: &mut [Insn],
    ) -> Result<LoadedProgram, LoadError> {
        let prog = self.program(name)?;
        self.load(&prog, prog_type, out)
    }

    /// Copies `prog` and every function it calls into `out` and applies the relocations.
    /// The result is not yet decoded: pass `&out[..len]` to [`crate::Program::new`] (and the
    /// verifier).
    ///
    /// # Errors
    ///
    /// [`K::OutputTooSmall`] with the slots needed; [`K::TooMany`] past [`MAX_FUNCTIONS`];
    /// for a relocation: [`K::UnsupportedRelocation`], [`K::BadRelocationSite`],
    /// [`K::BadRelocationTarget`], [`K::UnresolvedSymbol`], [`K::BadGlobalOffset`]; for a
    /// call: [`K::BadCallTarget`].
    pub fn load(
        &self,
        prog: &ProgramInfo<'a>,
        prog_type: ProgramType,
        out: &mut [Insn],
    ) -> Result<LoadedProgram, LoadError> {
        let mut linker = Linker {
            obj: self,
            out,
            placed: [Placed::default(); MAX_FUNCTIONS],
            count: 0,
            used: 0,
        };
        let sec = self.section(prog.section_index)?;
        linker.place(&sec, prog.start, prog.slots)?;
        let mut i = 0;
        while let Some(&f) = linker.placed.get(i).filter(|_| i < linker.count) {
            linker.relocate(f)?;
            i = i.saturating_add(1);
        }
        let len = usize::try_from(linker.used).unwrap_or(usize::MAX);
        if len > linker.out.len() {
            let needed = u32::try_from(len).unwrap_or(u32::MAX);
            return Err(sec.err(u64::from(prog.start) * 8, K::OutputTooSmall(needed)));
        }
        Ok(LoadedProgram {
            len,
            prog_type,
            functions: linker.count,
        })
    }
}
