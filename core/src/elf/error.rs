//! [`LoadError`]: what is wrong with an object, and where.

use core::fmt;

/// A section name, copied (and truncated to 31 bytes) so that errors stay `Copy` and free of
/// the object's lifetime.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SectionName {
    bytes: [u8; 31],
    len: u8,
}

impl SectionName {
    /// The longest name kept in full.
    pub const CAPACITY: usize = 31;

    /// `name`, truncated to [`SectionName::CAPACITY`] bytes at a character boundary.
    pub fn new(name: &str) -> SectionName {
        let mut len = name.len().min(Self::CAPACITY);
        while !name.is_char_boundary(len) {
            len = len.saturating_sub(1); // 0 is a boundary
        }
        let mut bytes = [0; Self::CAPACITY];
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), name.as_bytes().get(..len)) {
            dst.copy_from_slice(src);
        }
        SectionName {
            bytes,
            len: len as u8,
        }
    }

    /// The (possibly truncated) name.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..self.len as usize).unwrap_or(&[]);
        core::str::from_utf8(bytes).unwrap_or("")
    }
}

impl fmt::Debug for SectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the object an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SectionRef {
    /// The ELF file header.
    Header,
    /// The section header table.
    SectionTable,
    /// A section, by index and name (the name is empty when it could not be read).
    Section {
        /// Index in the section header table.
        index: u16,
        /// Its name.
        name: SectionName,
    },
    /// A program or map the caller asked for by name, which the object does not have.
    Name(SectionName),
}

impl fmt::Display for SectionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SectionRef::Header => f.write_str("ELF header"),
            SectionRef::SectionTable => f.write_str("section header table"),
            SectionRef::Section { index, name } => write!(f, "section {index} `{name}`"),
            SectionRef::Name(name) => write!(f, "`{name}`"),
        }
    }
}

/// What is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The data ends before a structure that should be there.
    Truncated,
    /// Not an ELF file (bad magic).
    NotElf,
    /// Not a 64-bit little-endian ELF file of version 1.
    UnsupportedFormat,
    /// Not a relocatable object (`ET_REL`), as `clang -c` produces.
    NotRelocatable,
    /// Not a BPF object (`e_machine` is this value, not 247).
    NotBpf(u16),
    /// A table entry size is not the one the format fixes.
    BadEntrySize(u64),
    /// More sections, symbols, maps or functions than the loader accepts (the limit).
    TooMany(u32),
    /// The section's contents lie (partly) outside the file.
    OutOfBounds,
    /// The section's contents overlap those of the section with this index (or the headers).
    Overlaps(u16),
    /// A string offset points outside its table, or the string is unterminated.
    BadStringOffset(u64),
    /// A name or string is not UTF-8.
    NotUtf8,
    /// A section's link or info field names no suitable section (the value).
    BadSectionLink(u32),
    /// The object has no symbol table.
    NoSymbolTable,
    /// A symbol index past the end of the symbol table.
    BadSymbolIndex(u32),
    /// A symbol's section, value or size does not fit its section (the symbol index).
    BadSymbol(u32),
    /// A relocation type the loader does not apply to code.
    UnsupportedRelocation(u32),
    /// A relocation that is not on an instruction it can apply to (`lddw` or a local call).
    BadRelocationSite,
    /// A relocation against a symbol that is not a map, global data or function (symbol index).
    BadRelocationTarget(u32),
    /// A relocation against an undefined symbol: externs are not supported (symbol index).
    UnresolvedSymbol(u32),
    /// A global-data reference at an offset outside its section.
    BadGlobalOffset(i64),
    /// A local call that does not land on the start of a function (the target slot).
    BadCallTarget(i64),
    /// A code section or function whose size is not a whole number of instructions.
    PartialInstruction,
    /// No program of this name (function or section).
    NoSuchProgram,
    /// The section name does not say the program type; load it with an explicit type.
    UnknownProgramType,
    /// The output buffer is too small; the program needs this many slots.
    OutputTooSmall(u32),
    /// The BTF header is malformed.
    BadBtfHeader,
    /// A BTF type record runs past the type section.
    BtfTruncated,
    /// A BTF type id that names no type (or the wrong kind of type).
    BadBtfType(u32),
    /// A BTF type chain deeper than the loader follows (a loop, or absurd nesting).
    BtfTooDeep,
    /// Maps are defined in `.maps` but the object has no `.BTF` section.
    NoBtf,
    /// A map variable in `.maps` has no BTF description.
    MapWithoutBtf,
    /// A map definition without a type.
    MissingMapType,
    /// A program refers to a map whose type (Linux number) nanobpf does not have; the map is
    /// named. Only the programs that refer to it fail; the error's section is the program's.
    UnsupportedMap {
        /// The map's name.
        map: SectionName,
        /// Its Linux type number.
        linux_type: u32,
    },
    /// A map attribute nanobpf does not support (initial values, inner maps, ...).
    UnsupportedMapAttribute,
    /// A key or value size given twice, differently, or too large.
    BadMapSize,
}

impl fmt::Display for LoadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LoadErrorKind as K;
        match *self {
            K::Truncated => f.write_str("data ends too early"),
            K::NotElf => f.write_str("not an ELF file"),
            K::UnsupportedFormat => f.write_str("not a 64-bit little-endian ELF version 1 file"),
            K::NotRelocatable => f.write_str("not a relocatable object (ET_REL)"),
            K::NotBpf(m) => write!(f, "machine {m} is not BPF (247)"),
            K::BadEntrySize(n) => write!(f, "entry size {n} is not the format's"),
            K::TooMany(n) => write!(f, "more than {n} entries"),
            K::OutOfBounds => f.write_str("contents outside the file"),
            K::Overlaps(i) => write!(f, "contents overlap section {i}"),
            K::BadStringOffset(o) => write!(f, "string offset {o} outside its table"),
            K::NotUtf8 => f.write_str("name is not UTF-8"),
            K::BadSectionLink(i) => write!(f, "link to section {i}, which does not fit"),
            K::NoSymbolTable => f.write_str("no symbol table"),
            K::BadSymbolIndex(i) => write!(f, "symbol index {i} past the symbol table"),
            K::BadSymbol(i) => write!(f, "symbol {i} does not fit its section"),
            K::UnsupportedRelocation(t) => write!(f, "relocation type {t} not supported on code"),
            K::BadRelocationSite => f.write_str("relocation not on an lddw or local call"),
            K::BadRelocationTarget(i) => {
                write!(f, "symbol {i} is not a map, global variable or function")
            }
            K::UnresolvedSymbol(i) => write!(f, "symbol {i} is undefined (externs unsupported)"),
            K::BadGlobalOffset(o) => write!(f, "global data offset {o} outside its section"),
            K::BadCallTarget(t) => write!(f, "call to slot {t}, not the start of a function"),
            K::PartialInstruction => f.write_str("size is not a multiple of 8"),
            K::NoSuchProgram => f.write_str("no such program"),
            K::UnknownProgramType => {
                f.write_str("section name does not give a program type; name one")
            }
            K::OutputTooSmall(n) => write!(f, "output buffer too small, {n} slots needed"),
            K::BadBtfHeader => f.write_str("bad BTF header"),
            K::BtfTruncated => f.write_str("BTF type record runs past the type section"),
            K::BadBtfType(id) => write!(f, "BTF type {id} missing or of the wrong kind"),
            K::BtfTooDeep => f.write_str("BTF type chain too deep (a loop?)"),
            K::NoBtf => f.write_str(".maps needs a .BTF section"),
            K::MapWithoutBtf => f.write_str("map variable without a BTF description"),
            K::MissingMapType => f.write_str("map definition without a type"),
            K::UnsupportedMap { map, linux_type } => {
                write!(
                    f,
                    "map `{map}` has type {linux_type}, which nanobpf does not support"
                )
            }
            K::UnsupportedMapAttribute => f.write_str("map attribute not supported"),
            K::BadMapSize => f.write_str("key or value size inconsistent or too large"),
        }
    }
}

/// An object that cannot be loaded: where, at which byte offset (within the section, or within
/// the file for [`SectionRef::Header`] and [`SectionRef::SectionTable`]), and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoadError {
    /// The section (or header) at fault.
    pub section: SectionRef,
    /// Byte offset of the offending entry, 0 when the whole section is at fault.
    pub offset: u64,
    /// What is wrong.
    pub kind: LoadErrorKind,
}

impl LoadError {
    pub(super) const fn new(section: SectionRef, offset: u64, kind: LoadErrorKind) -> LoadError {
        LoadError {
            section,
            offset,
            kind,
        }
    }

    pub(super) const fn header(offset: u64, kind: LoadErrorKind) -> LoadError {
        LoadError::new(SectionRef::Header, offset, kind)
    }

    pub(super) const fn table(offset: u64, kind: LoadErrorKind) -> LoadError {
        LoadError::new(SectionRef::SectionTable, offset, kind)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {:#x}: {}",
            self.section, self.offset, self.kind
        )
    }
}

impl core::error::Error for LoadError {}
