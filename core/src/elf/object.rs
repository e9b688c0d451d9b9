//! The ELF layer: file header, section headers, symbols and relocation entries, read in place
//! from the byte slice and validated once by [`Object::parse`].

use super::btf::Btf;
use super::error::{LoadError, LoadErrorKind as K, SectionName, SectionRef};
use super::read::{cstr, slice, u16_at, u32_at, u64_at, u8_at, StrError};

pub(super) const SHT_PROGBITS: u32 = 1;
pub(super) const SHT_SYMTAB: u32 = 2;
pub(super) const SHT_STRTAB: u32 = 3;
pub(super) const SHT_RELA: u32 = 4;
pub(super) const SHT_NOBITS: u32 = 8;
pub(super) const SHT_REL: u32 = 9;
pub(super) const SHF_ALLOC: u64 = 2;
pub(super) const SHF_EXECINSTR: u64 = 4;
pub(super) const STT_NOTYPE: u8 = 0;
pub(super) const STT_FUNC: u8 = 2;
pub(super) const STB_LOCAL: u8 = 0;
/// Section indices from here on are reserved (`SHN_LORESERVE`): absolute, common, ...
const SHN_LORESERVE: u16 = 0xff00;

const EHDR_SIZE: u64 = 64;
const SHDR_SIZE: u64 = 64;
const SYM_SIZE: u64 = 24;
const REL_SIZE: u64 = 16;
const EM_BPF: u16 = 247;

/// The most sections an object may have; keeps the overlap check (quadratic) fast.
pub const MAX_SECTIONS: u16 = 1024;

/// One section header, with its name and contents resolved.
#[derive(Clone, Copy, Debug)]
pub(super) struct Section<'a> {
    pub index: u16,
    pub name: &'a str,
    pub sh_type: u32,
    pub flags: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    pub entsize: u64,
    /// The contents; empty for `SHT_NOBITS`.
    pub data: &'a [u8],
}

impl Section<'_> {
    /// Where this section is, for errors.
    pub fn at(&self) -> SectionRef {
        SectionRef::Section {
            index: self.index,
            name: SectionName::new(self.name),
        }
    }

    /// An error at `offset` in this section.
    pub fn err(&self, offset: u64, kind: K) -> LoadError {
        LoadError::new(self.at(), offset, kind)
    }

    /// Whether it holds code.
    pub fn is_code(&self) -> bool {
        self.sh_type == SHT_PROGBITS && self.flags & SHF_EXECINSTR != 0
    }
}

/// One symbol.
#[derive(Clone, Copy, Debug)]
pub(super) struct Symbol<'a> {
    pub name: &'a str,
    pub info: u8,
    /// Section index, or 0 (undefined) or a reserved index.
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
}

impl Symbol<'_> {
    pub fn kind(&self) -> u8 {
        self.info & 0xf
    }
    pub fn bind(&self) -> u8 {
        self.info >> 4
    }
}

/// One relocation entry.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rel {
    /// The relocation section, and the entry's offset in it (for errors).
    pub section: u16,
    pub entry: u64,
    /// Byte offset in the target section.
    pub offset: u64,
    pub sym: u32,
    pub rtype: u32,
}

/// A parsed, validated BPF object: a view over the caller's bytes.
///
/// [`Object::parse`] checks the whole structure once (headers, section bounds and overlaps,
/// names, symbols, relocation tables, BTF, map definitions), so the accessors afterwards only
/// fail on what depends on the caller's request.
///
/// ```
/// use nanobpf_core::{Insn, LoadError, Object, ProgramType};
///
/// // An object as `clang -O2 -g -target bpf -c` writes it (examples/xdp_pass.c).
/// let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/build/xdp_pass.o"))
///     .expect("the example object is committed");
/// let object = Object::parse(&bytes)?;
/// let names: Vec<&str> = object.programs().map(|p| p.name).collect();
/// assert_eq!(names, ["xdp_pass"]);
///
/// // The program's slots, relocated, into the caller's buffer; its type from its section.
/// let mut insns = [Insn::default(); 64];
/// let loaded = object.load_program("xdp_pass", &mut insns)?;
/// assert_eq!(loaded.prog_type, ProgramType::Xdp);
/// assert!(loaded.len > 0);
/// # Ok::<(), LoadError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Object<'a> {
    pub(super) bytes: &'a [u8],
    shoff: u64,
    pub(super) shnum: u16,
    shstrtab: &'a [u8],
    /// The symbol table and its string table.
    symtab: Option<(Section<'a>, &'a [u8])>,
    pub(super) btf: Option<Btf<'a>>,
    btf_index: Option<u16>,
    /// The sections `.maps` and `maps`.
    pub(super) maps_sections: (Option<u16>, Option<u16>),
    pub(super) license: Option<&'a str>,
}

fn str_err(e: StrError, off: u64) -> K {
    match e {
        StrError::OutOfBounds => K::BadStringOffset(off),
        StrError::NotUtf8 => K::NotUtf8,
    }
}

impl<'a> Object<'a> {
    /// Parses and validates an ELF64 little-endian BPF relocatable object, in place.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming the first section (or header) that is malformed and how.
    pub fn parse(bytes: &'a [u8]) -> Result<Object<'a>, LoadError> {
        let h = |off: u64, kind| LoadError::header(off, kind);
        if bytes.len() < EHDR_SIZE as usize {
            return Err(h(bytes.len() as u64, K::Truncated));
        }
        if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err(h(0, K::NotElf));
        }
        // EI_CLASS = 2 (64-bit), EI_DATA = 1 (little-endian), EI_VERSION = 1.
        if bytes.get(4..7) != Some([2u8, 1, 1].as_slice()) {
            return Err(h(4, K::UnsupportedFormat));
        }
        let rd16 = |off| u16_at(bytes, off).ok_or(h(off, K::Truncated));
        if rd16(16)? != 1 {
            return Err(h(16, K::NotRelocatable));
        }
        let machine = rd16(18)?;
        if machine != EM_BPF {
            return Err(h(18, K::NotBpf(machine)));
        }
        if u32_at(bytes, 20) != Some(1) {
            return Err(h(20, K::UnsupportedFormat));
        }
        let shoff = u64_at(bytes, 40).ok_or(h(40, K::Truncated))?;
        let shentsize = rd16(58)?;
        if u64::from(shentsize) != SHDR_SIZE {
            return Err(h(58, K::BadEntrySize(shentsize.into())));
        }
        let shnum = rd16(60)?;
        if shnum == 0 {
            return Err(h(60, K::Truncated));
        }
        if shnum > MAX_SECTIONS {
            return Err(h(60, K::TooMany(MAX_SECTIONS.into())));
        }
        let table_len = u64::from(shnum) * SHDR_SIZE;
        if slice(bytes, shoff, table_len).is_none() {
            return Err(h(40, K::OutOfBounds));
        }
        let shstrndx = rd16(62)?;
        let mut obj = Object {
            bytes,
            shoff,
            shnum,
            shstrtab: &[],
            symtab: None,
            btf: None,
            btf_index: None,
            maps_sections: (None, None),
            license: None,
        };
        let strtab = obj
            .raw_section(shstrndx)
            .ok_or(h(62, K::BadSectionLink(shstrndx.into())))?;
        if strtab.sh_type != SHT_STRTAB {
            return Err(h(62, K::BadSectionLink(shstrndx.into())));
        }
        obj.shstrtab = strtab.data;
        obj.check_sections(shoff, table_len)?;
        obj.find_symtab()?;
        obj.maps_sections = (
            obj.section_by_name(".maps").map(|s| s.index),
            obj.section_by_name("maps").map(|s| s.index),
        );
        obj.btf_index = obj.section_by_name(".BTF").map(|s| s.index);
        obj.check_symbols()?;
        obj.check_relocations()?;
        obj.license = obj.read_license()?;
        obj.btf = obj.read_btf()?;
        obj.check_maps()?;
        obj.check_programs()?;
        Ok(obj)
    }

    /// The section header at `index` with its data, but no name (used before the section name
    /// table is known).
    fn raw_section(&self, index: u16) -> Option<Section<'a>> {
        let base = self
            .shoff
            .checked_add(u64::from(index).checked_mul(SHDR_SIZE)?)?;
        if index >= self.shnum {
            return None;
        }
        let f32 = |o: u64| u32_at(self.bytes, base.saturating_add(o));
        let f64 = |o: u64| u64_at(self.bytes, base.saturating_add(o));
        let sh_type = f32(4)?;
        let offset = f64(24)?;
        let size = f64(32)?;
        let data = match sh_type {
            0 | SHT_NOBITS => &[][..],
            _ => slice(self.bytes, offset, size).unwrap_or(&[]),
        };
        Some(Section {
            index,
            name: "",
            sh_type,
            flags: f64(8)?,
            size,
            link: f32(40)?,
            info: f32(44)?,
            entsize: f64(56)?,
            data,
        })
    }

    /// The section at `index`.
    pub(super) fn section(&self, index: u16) -> Result<Section<'a>, LoadError> {
        let bad = LoadError::table(0, K::BadSectionLink(index.into()));
        let mut s = self.raw_section(index).ok_or(bad)?;
        // `raw_section` checked that this sum does not overflow.
        let base = self
            .shoff
            .saturating_add(u64::from(index).saturating_mul(SHDR_SIZE));
        let name_off = u32_at(self.bytes, base).ok_or(bad)?;
        s.name = cstr(self.shstrtab, name_off.into())
            .map_err(|e| LoadError::table(base, str_err(e, name_off.into())))?;
        Ok(s)
    }

    /// Every section, in index order (section 0, the null section, included).
    pub(super) fn sections(&self) -> impl Iterator<Item = Section<'a>> + '_ {
        (0..self.shnum).filter_map(|i| self.section(i).ok())
    }

    /// The first section called `name`.
    pub(super) fn section_by_name(&self, name: &str) -> Option<Section<'a>> {
        self.sections().find(|s| s.name == name)
    }

    /// Every header readable and named, every section's contents inside the file and apart
    /// from the others and from the headers.
    fn check_sections(&self, shoff: u64, table_len: u64) -> Result<(), LoadError> {
        let extent = |s: &Section<'_>| -> Option<(u64, u64)> {
            let base = self
                .shoff
                .saturating_add(u64::from(s.index).saturating_mul(SHDR_SIZE));
            let off = u64_at(self.bytes, base.saturating_add(24))?;
            (s.size > 0 && s.sh_type != SHT_NOBITS && s.sh_type != 0).then_some((off, s.size))
        };
        for i in 0..self.shnum {
            let s = self.section(i)?;
            let Some((off, size)) = extent(&s) else {
                continue;
            };
            if slice(self.bytes, off, size).is_none() {
                return Err(s.err(0, K::OutOfBounds));
            }
            let end = off.saturating_add(size); // in bounds of the slice, so no overflow
            let overlaps = |a: u64, b: u64| off < b && a < end;
            if overlaps(0, EHDR_SIZE) || overlaps(shoff, shoff.saturating_add(table_len)) {
                return Err(s.err(0, K::Overlaps(0)));
            }
            for j in 0..i {
                let Some(other) = self.raw_section(j) else {
                    continue;
                };
                if let Some((o, n)) = extent(&other) {
                    if overlaps(o, o.saturating_add(n)) {
                        return Err(s.err(0, K::Overlaps(j)));
                    }
                }
            }
        }
        Ok(())
    }

    fn find_symtab(&mut self) -> Result<(), LoadError> {
        let Some(s) = self.sections().find(|s| s.sh_type == SHT_SYMTAB) else {
            return Ok(());
        };
        if s.entsize != SYM_SIZE {
            return Err(s.err(0, K::BadEntrySize(s.entsize)));
        }
        if s.size % SYM_SIZE != 0 {
            return Err(s.err(0, K::Truncated));
        }
        let strtab = u16::try_from(s.link)
            .ok()
            .and_then(|l| self.section(l).ok())
            .filter(|t| t.sh_type == SHT_STRTAB)
            .ok_or(s.err(0, K::BadSectionLink(s.link)))?;
        self.symtab = Some((s, strtab.data));
        Ok(())
    }

    /// The symbol table section, for errors.
    pub(super) fn symtab_section(&self) -> Result<Section<'a>, LoadError> {
        self.symtab
            .map(|(s, _)| s)
            .ok_or(LoadError::table(0, K::NoSymbolTable))
    }

    /// The `.BTF` section.
    pub(super) fn btf_section(&self) -> Option<Section<'a>> {
        self.section(self.btf_index?).ok()
    }

    /// Number of symbols.
    pub(super) fn symbol_count(&self) -> u32 {
        self.symtab
            .map_or(0, |(s, _)| (s.data.len() as u64 / SYM_SIZE) as u32)
    }

    /// The symbol at `index`.
    pub(super) fn symbol(&self, index: u32) -> Result<Symbol<'a>, LoadError> {
        let (st, strings) = self.symtab.ok_or(LoadError::table(0, K::NoSymbolTable))?;
        let data = st.data;
        let base = u64::from(index).saturating_mul(SYM_SIZE);
        let bad = st.err(base, K::BadSymbolIndex(index));
        let name_off = u32_at(data, base).ok_or(bad)?;
        let name = cstr(strings, name_off.into())
            .map_err(|e| st.err(base, str_err(e, name_off.into())))?;
        Ok(Symbol {
            name,
            info: u8_at(data, base.saturating_add(4)).ok_or(bad)?,
            shndx: u16_at(data, base.saturating_add(6)).ok_or(bad)?,
            value: u64_at(data, base.saturating_add(8)).ok_or(bad)?,
            size: u64_at(data, base.saturating_add(16)).ok_or(bad)?,
        })
    }

    /// Every symbol with its index.
    pub(super) fn symbols(&self) -> impl Iterator<Item = (u32, Symbol<'a>)> + '_ {
        (0..self.symbol_count()).filter_map(|i| self.symbol(i).ok().map(|s| (i, s)))
    }

    /// The section a symbol is defined in, if it is an ordinary section.
    pub(super) fn symbol_section(&self, sym: &Symbol<'a>) -> Option<Section<'a>> {
        if sym.shndx == 0 || sym.shndx >= SHN_LORESERVE {
            return None;
        }
        self.section(sym.shndx).ok()
    }

    /// Every symbol readable, inside its section; functions whole instructions.
    fn check_symbols(&self) -> Result<(), LoadError> {
        let Ok(st) = self.symtab_section() else {
            return Ok(());
        };
        for i in 0..self.symbol_count() {
            let sym = self.symbol(i)?;
            let bad = st.err(u64::from(i) * SYM_SIZE, K::BadSymbol(i));
            if sym.shndx == 0 || sym.shndx >= SHN_LORESERVE {
                continue;
            }
            let sec = self.section(sym.shndx).map_err(|_| bad)?;
            let end = sym.value.checked_add(sym.size).ok_or(bad)?;
            if end > sec.size {
                return Err(bad);
            }
            if sym.kind() == STT_FUNC && (!sec.is_code() || sym.value % 8 != 0 || sym.size % 8 != 0)
            {
                return Err(bad);
            }
        }
        Ok(())
    }

    /// Relocation tables that apply to code: well formed, every entry on a slot of the code
    /// with a symbol that exists. Tables for other sections (BTF, debug info) are not read.
    fn check_relocations(&self) -> Result<(), LoadError> {
        for s in self.sections() {
            if s.sh_type != SHT_REL && s.sh_type != SHT_RELA {
                continue;
            }
            let target = u16::try_from(s.info)
                .ok()
                .and_then(|t| self.section(t).ok())
                .ok_or(s.err(0, K::BadSectionLink(s.info)))?;
            if !target.is_code() {
                continue;
            }
            if s.sh_type == SHT_RELA {
                return Err(s.err(0, K::UnsupportedRelocation(SHT_RELA)));
            }
            if s.entsize != REL_SIZE {
                return Err(s.err(0, K::BadEntrySize(s.entsize)));
            }
            if s.size % REL_SIZE != 0 {
                return Err(s.err(0, K::Truncated));
            }
            let symtab = self.symtab_section()?;
            if s.link != u32::from(symtab.index) {
                return Err(s.err(0, K::BadSectionLink(s.link)));
            }
            for rel in self.rel_entries(&s) {
                if rel.offset % 8 != 0 || rel.offset.checked_add(8).is_none_or(|e| e > target.size)
                {
                    return Err(s.err(rel.entry, K::BadRelocationSite));
                }
                if rel.sym >= self.symbol_count() {
                    return Err(s.err(rel.entry, K::BadSymbolIndex(rel.sym)));
                }
            }
        }
        Ok(())
    }

    fn rel_entries(&self, s: &Section<'a>) -> impl Iterator<Item = Rel> + 'a {
        let (data, section) = (s.data, s.index);
        (0..data.len() as u64 / REL_SIZE).filter_map(move |i| {
            let entry = i.saturating_mul(REL_SIZE);
            let info = u64_at(data, entry.saturating_add(8))?;
            Some(Rel {
                section,
                entry,
                offset: u64_at(data, entry)?,
                sym: (info >> 32) as u32,
                rtype: info as u32,
            })
        })
    }

    /// Every relocation entry that applies to section `target`.
    pub(super) fn relocations_for(&self, target: u16) -> impl Iterator<Item = Rel> + '_ {
        (0..self.shnum)
            .filter_map(|i| self.raw_section(i))
            .filter(move |s| s.sh_type == SHT_REL && s.info == u32::from(target))
            .flat_map(|s| self.rel_entries(&s))
    }

    fn read_license(&self) -> Result<Option<&'a str>, LoadError> {
        let Some(s) = self.section_by_name("license") else {
            return Ok(None);
        };
        cstr(s.data, 0)
            .map(Some)
            .map_err(|e| s.err(0, str_err(e, 0)))
    }

    fn read_btf(&self) -> Result<Option<Btf<'a>>, LoadError> {
        match self.btf_section() {
            Some(s) => Btf::parse(s.data)
                .map(Some)
                .map_err(|(off, kind)| s.err(off, kind)),
            None => Ok(None),
        }
    }
}
