//! The programs of an object, found as libbpf and older loaders find them: the functions
//! (global or static) of its code sections other than `.text`; in objects from older clang (and
//! hand-written assembly), which mark no functions, a global symbol at an offset of a code
//! section, or the section itself when no symbol names a place in it. `.text` holds the
//! functions programs call; one of them is a program only when named explicitly.

use super::error::{LoadError, LoadErrorKind as K, SectionName, SectionRef};
use super::object::{Object, Section, Symbol, STB_LOCAL, STT_FUNC, STT_NOTYPE};
use crate::host::ProgramType;

/// How the loader found a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramOrigin {
    /// A function (`STT_FUNC`, global or static) of a code section: what clang emits today.
    Function,
    /// A global symbol without a type (`STT_NOTYPE`) in a code section without functions:
    /// older clang and assembly. It runs to the next such symbol or the section's end.
    LegacySymbol,
    /// A code section that no symbol names a place in: the whole section is the program,
    /// named after it.
    Section,
    /// A function of `.text`, named explicitly (it is not listed by
    /// [`Object::programs`]: `.text` holds the functions programs call).
    TextFunction,
}

/// A program of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramInfo<'a> {
    /// The function's name (the section's, for [`ProgramOrigin::Section`]).
    pub name: &'a str,
    /// The section's name (the `SEC()` of the source).
    pub section: &'a str,
    /// The program type the section name gives, as libbpf reads section names (`xdp`, `tc`,
    /// `classifier`, `socket`, ...); `None` for a section name this runtime runs no type of.
    pub prog_type: Option<ProgramType>,
    /// Slots of the function itself (without the functions it calls).
    pub slots: u32,
    /// How the loader found it.
    pub origin: ProgramOrigin,
    pub(super) section_index: u16,
    /// First slot of the function in its section.
    pub(super) start: u32,
}

/// The program type a `SEC()` name stands for, as libbpf reads it, and as Linux's older
/// `samples/bpf` loader did (by prefix: `xdp1`, `socket2`):
///
/// | section name | type |
/// |---|---|
/// | `xdp`, `xdp/...`, `xdp.frags`, `xdp1`, `xdp_prog`, ... | [`ProgramType::Xdp`] |
/// | `socket`, `socket...` | [`ProgramType::SocketFilter`] |
/// | `tc`, `tc/...`, `tcx/...`, `classifier`, `classifier/...` | [`ProgramType::Tc`] |
///
/// Anything else is `None`: load it with an explicit type. [`unsupported_program_kind`] tells
/// the sections of Linux program types nanobpf does not run.
pub fn program_type_for_section(name: &str) -> Option<ProgramType> {
    if name.starts_with("xdp") {
        Some(ProgramType::Xdp)
    } else if name.starts_with("socket") {
        Some(ProgramType::SocketFilter)
    } else if ["tc", "tcx", "classifier"].iter().any(|f| family(name, f)) {
        Some(ProgramType::Tc)
    } else {
        None
    }
}

/// Whether `name` is the section family `f`: `f` itself, or `f/...`, `f.…`.
fn family(name: &str, f: &str) -> bool {
    name.strip_prefix(f)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '.']))
}

/// The Linux program type a section name stands for when nanobpf does not run programs of
/// that type (tracing, cgroups, socket maps, ...): its libbpf name, for the message that
/// says so. `None` for the types nanobpf runs and for names that give no type.
pub fn unsupported_program_kind(name: &str) -> Option<&'static str> {
    const KINDS: &[(&str, &str)] = &[
        ("kprobe", "kprobe"),
        ("kretprobe", "kprobe"),
        ("uprobe", "kprobe"),
        ("uretprobe", "kprobe"),
        ("usdt", "kprobe"),
        ("ksyscall", "kprobe"),
        ("kretsyscall", "kprobe"),
        ("tracepoint", "tracepoint"),
        ("tp", "tracepoint"),
        ("raw_tracepoint", "raw_tracepoint"),
        ("raw_tp", "raw_tracepoint"),
        ("tp_btf", "tracing"),
        ("fentry", "tracing"),
        ("fexit", "tracing"),
        ("fmod_ret", "tracing"),
        ("iter", "tracing"),
        ("lsm", "lsm"),
        ("perf_event", "perf_event"),
        ("cgroup", "cgroup"),
        ("cgroup_skb", "cgroup_skb"),
        ("sockops", "sock_ops"),
        ("sk_skb", "sk_skb"),
        ("sk_msg", "sk_msg"),
        ("sk_lookup", "sk_lookup"),
        ("sk_reuseport", "sk_reuseport"),
        ("flow_dissector", "flow_dissector"),
        ("lwt_in", "lwt_in"),
        ("lwt_out", "lwt_out"),
        ("lwt_xmit", "lwt_xmit"),
        ("lwt_seg6local", "lwt_seg6local"),
        ("struct_ops", "struct_ops"),
        ("syscall", "syscall"),
        ("netfilter", "netfilter"),
        ("action", "sched_act"),
    ];
    KINDS
        .iter()
        .find(|(prefix, _)| family(name, prefix))
        .map(|&(_, kind)| kind)
}

/// The slots `[start, start + len)` a function occupies in its section. A function without a
/// size runs to the end of the section.
pub(super) fn extent(sec: &Section<'_>, sym: &Symbol<'_>) -> (u32, u32) {
    let start = sym.value / 8;
    let end = if sym.size == 0 {
        sec.size / 8
    } else {
        sym.value.saturating_add(sym.size) / 8 // checked against the section size by `Object::parse`
    };
    (start as u32, end.saturating_sub(start) as u32)
}

/// The programs of an object; see [`Object::programs`].
#[derive(Clone, Debug)]
pub(crate) struct ObjectPrograms<'o, 'a> {
    obj: &'o Object<'a>,
    /// Symbols first, then sections.
    pos: u32,
}

impl<'a> Iterator for ObjectPrograms<'_, 'a> {
    type Item = ProgramInfo<'a>;

    fn next(&mut self) -> Option<ProgramInfo<'a>> {
        let symbols = self.obj.symbol_count();
        let end = symbols.saturating_add(u32::from(self.obj.shnum));
        while self.pos < end {
            let i = self.pos;
            self.pos = self.pos.saturating_add(1);
            let found = match i.checked_sub(symbols) {
                None => self.obj.program_of_symbol(i),
                Some(sec) => self.obj.program_of_section(sec as u16),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

/// A global symbol without a type that marks a program's start (older clang).
fn is_legacy_entry(sym: &Symbol<'_>) -> bool {
    sym.kind() == STT_NOTYPE && sym.bind() != STB_LOCAL && sym.value % 8 == 0
}

impl<'a> Object<'a> {
    /// The symbols defined in section `index`.
    fn symbols_in(&self, index: u16) -> impl Iterator<Item = Symbol<'a>> + '_ {
        self.symbols()
            .map(|(_, s)| s)
            .filter(move |s| s.shndx == index)
    }

    /// Whether section `index` has a function symbol (then only those are programs).
    fn has_functions(&self, index: u16) -> bool {
        self.symbols_in(index).any(|s| s.kind() == STT_FUNC)
    }

    /// The extent of a legacy entry symbol: to the next one in its section, or the end.
    fn legacy_extent(&self, sec: &Section<'_>, sym: &Symbol<'_>) -> (u32, u32) {
        let end = self
            .symbols_in(sec.index)
            .filter(|s| is_legacy_entry(s) && s.value > sym.value)
            .map(|s| s.value)
            .min()
            .unwrap_or(sec.size);
        // `Object::parse` checked that every symbol lies in its section: `end >= sym.value`.
        (
            (sym.value / 8) as u32,
            (end.saturating_sub(sym.value) / 8) as u32,
        )
    }

    /// The function of code section `sec` that holds slot `t`, as `(start, len)`: a function
    /// symbol's extent, else a legacy entry's, else (no symbol names a place in it) the whole
    /// section.
    pub(super) fn function_at(&self, sec: &Section<'_>, t: u32) -> Option<(u32, u32)> {
        let inside = |(start, len): (u32, u32)| t.checked_sub(start).is_some_and(|k| k < len);
        if self.has_functions(sec.index) {
            return self
                .symbols_in(sec.index)
                .filter(|s| s.kind() == STT_FUNC)
                .map(|s| extent(sec, &s))
                .find(|&e| inside(e));
        }
        let mut legacy = self
            .symbols_in(sec.index)
            .filter(is_legacy_entry)
            .peekable();
        if legacy.peek().is_none() {
            return Some((0, (sec.size / 8) as u32)).filter(|&e| inside(e));
        }
        legacy
            .map(|s| self.legacy_extent(sec, &s))
            .find(|&e| inside(e))
    }

    fn program_of_symbol(&self, i: u32) -> Option<ProgramInfo<'a>> {
        let sym = self.symbol(i).ok()?;
        // Static functions of a program section are programs too, as libbpf loads them
        // (Cilium's tail-call targets are); local symbols without a type are labels.
        if sym.bind() == STB_LOCAL && sym.kind() != STT_FUNC {
            return None;
        }
        let sec = self.symbol_section(&sym)?;
        if !sec.is_code() || sec.name == ".text" {
            return None;
        }
        let ((start, slots), origin) = match sym.kind() {
            STT_FUNC => (extent(&sec, &sym), ProgramOrigin::Function),
            _ if is_legacy_entry(&sym) && !self.has_functions(sec.index) => {
                (self.legacy_extent(&sec, &sym), ProgramOrigin::LegacySymbol)
            }
            _ => return None,
        };
        Some(ProgramInfo {
            name: sym.name,
            section: sec.name,
            prog_type: program_type_for_section(sec.name),
            slots,
            origin,
            section_index: sec.index,
            start,
        })
    }

    /// A code section other than `.text` that no function or legacy entry symbol names.
    fn program_of_section(&self, index: u16) -> Option<ProgramInfo<'a>> {
        let sec = self.section(index).ok()?;
        if !sec.is_code() || sec.name == ".text" || sec.size == 0 {
            return None;
        }
        let named = self
            .symbols_in(index)
            .any(|s| s.kind() == STT_FUNC || is_legacy_entry(&s));
        if named {
            return None;
        }
        Some(ProgramInfo {
            name: sec.name,
            section: sec.name,
            prog_type: program_type_for_section(sec.name),
            slots: (sec.size / 8) as u32,
            origin: ProgramOrigin::Section,
            section_index: index,
            start: 0,
        })
    }

    /// The function of `.text` called `name`, as a program of no type.
    fn text_function(&self, name: &str) -> Option<ProgramInfo<'a>> {
        let sec = self.section_by_name(".text").filter(Section::is_code)?;
        let sym = self
            .symbols_in(sec.index)
            .find(|s| s.kind() == STT_FUNC && s.name == name)?;
        let (start, slots) = extent(&sec, &sym);
        Some(ProgramInfo {
            name: sym.name,
            section: sec.name,
            prog_type: None,
            slots,
            origin: ProgramOrigin::TextFunction,
            section_index: sec.index,
            start,
        })
    }

    /// The executable sections of the object, for a message when no program is found.
    pub fn code_sections(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.sections().filter(Section::is_code).map(|s| s.name)
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

    /// The programs: those named by symbols in symbol-table order, then whole sections in
    /// section order (see [`ProgramOrigin`]). Functions of `.text` are not listed.
    pub fn programs(&self) -> impl Iterator<Item = ProgramInfo<'a>> + Clone + '_ {
        ObjectPrograms { obj: self, pos: 0 }
    }

    /// The program whose function is called `name`, or else the first program of the section
    /// called `name`, or else the function of `.text` called `name` (with no program type:
    /// load it with [`Object::load_program_as`]).
    ///
    /// # Errors
    ///
    /// [`LoadErrorKind::NoSuchProgram`](K::NoSuchProgram) when there is none.
    pub fn program(&self, name: &str) -> Result<ProgramInfo<'a>, LoadError> {
        self.programs()
            .find(|p| p.name == name)
            .or_else(|| self.programs().find(|p| p.section == name))
            .or_else(|| self.text_function(name))
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
