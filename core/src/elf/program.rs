//! The programs of an object: the global functions of its code sections other than `.text`
//! (which holds the functions they call), with the program type their section name gives.

use super::error::{LoadError, LoadErrorKind as K, SectionName, SectionRef};
use super::object::{Object, Section, Symbol, STB_LOCAL, STT_FUNC};
use crate::env::ProgramType;

/// A program of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramInfo<'a> {
    /// The function's name.
    pub name: &'a str,
    /// The section's name (the `SEC()` of the source).
    pub section: &'a str,
    /// The program type the section name gives, see [`program_type_for_section`].
    pub prog_type: Option<ProgramType>,
    /// Slots of the function itself (without the functions it calls).
    pub slots: u32,
    pub(super) section_index: u16,
    /// First slot of the function in its section.
    pub(super) start: u32,
}

/// The program type a `SEC()` name stands for, as libbpf reads it:
///
/// | section name | type |
/// |---|---|
/// | `xdp`, `xdp/...`, `xdp.frags`, ... | [`ProgramType::Xdp`] |
/// | `socket`, `socket...` | [`ProgramType::SocketFilter`] |
/// | `tc`, `tc/...`, `tcx/...`, `classifier`, `classifier/...` | [`ProgramType::SocketFilter`]: the socket-buffer context; nanobpf has no traffic-control hook of its own |
///
/// Anything else is `None`: load it with an explicit type.
pub fn program_type_for_section(name: &str) -> Option<ProgramType> {
    let family = |f: &str| {
        name.strip_prefix(f)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '.']))
    };
    if family("xdp") {
        Some(ProgramType::Xdp)
    } else if name.starts_with("socket") || family("tc") || family("tcx") || family("classifier") {
        Some(ProgramType::SocketFilter)
    } else {
        None
    }
}

/// The slots `[start, start + len)` a function occupies in its section. A function without a
/// size runs to the end of the section.
pub(super) fn extent(sec: &Section<'_>, sym: &Symbol<'_>) -> (u32, u32) {
    let start = sym.value / 8;
    let end = if sym.size == 0 {
        sec.size / 8
    } else {
        (sym.value + sym.size) / 8 // checked against the section size by `Object::parse`
    };
    (start as u32, end.saturating_sub(start) as u32)
}

/// The programs of an object; see [`Object::programs`].
#[derive(Clone, Debug)]
pub struct Programs<'o, 'a> {
    obj: &'o Object<'a>,
    pos: u32,
}

impl<'a> Iterator for Programs<'_, 'a> {
    type Item = ProgramInfo<'a>;

    fn next(&mut self) -> Option<ProgramInfo<'a>> {
        while self.pos < self.obj.symbol_count() {
            let i = self.pos;
            self.pos += 1;
            if let Some(p) = self.obj.program_of_symbol(i) {
                return Some(p);
            }
        }
        None
    }
}

impl<'a> Object<'a> {
    fn program_of_symbol(&self, i: u32) -> Option<ProgramInfo<'a>> {
        let sym = self.symbol(i).ok()?;
        if sym.kind() != STT_FUNC || sym.bind() == STB_LOCAL {
            return None;
        }
        let sec = self.symbol_section(&sym)?;
        if !sec.is_code() || sec.name == ".text" {
            return None;
        }
        let (start, slots) = extent(&sec, &sym);
        Some(ProgramInfo {
            name: sym.name,
            section: sec.name,
            prog_type: program_type_for_section(sec.name),
            slots,
            section_index: sec.index,
            start,
        })
    }

    /// Code sections hold whole instructions.
    pub(super) fn check_programs(&self) -> Result<(), LoadError> {
        for s in self.sections() {
            if s.is_code() && s.size % 8 != 0 {
                return Err(s.err(0, K::PartialInstruction));
            }
        }
        Ok(())
    }

    /// The programs, in symbol-table order.
    pub fn programs(&self) -> Programs<'_, 'a> {
        Programs { obj: self, pos: 0 }
    }

    /// The program whose function is called `name`, or else the first program of the section
    /// called `name`.
    ///
    /// # Errors
    ///
    /// [`LoadErrorKind::NoSuchProgram`](K::NoSuchProgram) when there is neither.
    pub fn program(&self, name: &str) -> Result<ProgramInfo<'a>, LoadError> {
        self.programs()
            .find(|p| p.name == name)
            .or_else(|| self.programs().find(|p| p.section == name))
            .ok_or(LoadError::new(
                SectionRef::Name(SectionName::new(name)),
                0,
                K::NoSuchProgram,
            ))
    }

    /// The license string of the `license` section, if there is one.
    pub fn license(&self) -> Option<&'a str> {
        self.license
    }
}
