//! The maps an object declares, in one stable order that gives each its index:
//!
//! 1. BTF-defined maps, the variables of section `.maps`, in symbol-table order;
//! 2. legacy maps, the `struct bpf_map_def` variables of section `maps` (objects, or in older
//!    objects global symbols without a type), in symbol-table order; an entry may be larger
//!    than `struct bpf_map_def` (iproute2 and Linux's old samples add fields), only its first
//!    20 bytes are read;
//! 3. global data, one map per section `.rodata`, `.data`, `.bss` (and `.rodata.*`, `.data.*`,
//!    `.bss.*`) that is not empty, in section order. Each is a one-element array whose value is
//!    the section's contents, as in Linux.

use super::error::{LoadError, LoadErrorKind as K};
use super::object::{
    Object, Section, Symbol, SHF_ALLOC, SHT_NOBITS, SHT_PROGBITS, STB_LOCAL, STT_NOTYPE,
};
use super::read::u32_at;
use super::types::BtfTypeId;
use crate::host::{MapDef, MapType};

/// The most maps an object may declare.
pub const MAX_MAPS: u32 = 256;

pub use crate::host::BPF_F_RDONLY_PROG;

const STT_OBJECT: u8 = 1;
/// `struct bpf_map_def`: type, key size, value size, max entries, flags.
const LEGACY_DEF_SIZE: u64 = 20;

/// The definition reported when definitions are not read.
const PLACEHOLDER: MapDef = MapDef {
    map_type: MapType::Array,
    key_size: 0,
    value_size: 0,
    max_entries: 0,
    flags: 0,
};

/// Where a map's definition comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapSource {
    /// A variable in `.maps`, described by BTF.
    Btf,
    /// A `struct bpf_map_def` in the legacy `maps` section.
    Legacy,
    /// A global data section (`.rodata`, `.data`, `.bss`): a one-element array map.
    GlobalData,
}

/// A map definition whose type nanobpf cannot create: the definition as the object gives it,
/// with the raw Linux type number (`enum bpf_map_type`).
///
/// The object still parses and its other maps and programs load; loading a program that refers
/// to this map fails with [`LoadErrorKind::UnsupportedMap`](super::LoadErrorKind::UnsupportedMap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnsupportedMap {
    /// Linux's map type number (e.g. 18 for `BPF_MAP_TYPE_SOCKMAP`).
    pub linux_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Linux `map_flags`.
    pub flags: u32,
}

impl UnsupportedMap {
    /// `def` checked against the map types nanobpf has.
    pub(super) fn check(linux_type: u32, def: MapDef) -> Result<MapDef, UnsupportedMap> {
        match MapType::from_linux(linux_type) {
            Some(map_type) => Ok(MapDef { map_type, ..def }),
            None => Err(UnsupportedMap {
                linux_type,
                key_size: def.key_size,
                value_size: def.value_size,
                max_entries: def.max_entries,
                flags: def.flags,
            }),
        }
    }
}

/// A map the object declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapInfo<'a> {
    /// The variable's name, or the section's name for global data.
    pub name: &'a str,
    /// Its index: what `lddw` src 5 / src 6 instructions of loaded programs refer to.
    pub index: u32,
    /// Its definition, or, for a map of a type nanobpf does not have, what the object says of
    /// it (see [`UnsupportedMap`]).
    pub def: Result<MapDef, UnsupportedMap>,
    /// Where the definition comes from.
    pub source: MapSource,
    /// For `.rodata` and `.data` maps: the initial value, to store at key 0 before running
    /// (`.bss` and other maps start zeroed, and have `None`).
    pub init: Option<&'a [u8]>,
    /// The BTF type of the keys, when the definition gives one (`__type(key, T)`); walk it
    /// with [`Object::btf_types`].
    pub key_type: Option<BtfTypeId>,
    /// The BTF type of the values (`__type(value, T)`); for global data, the section's
    /// `DATASEC`, whose members are its variables.
    pub value_type: Option<BtfTypeId>,
    /// The BTF definition declares initial values (`__array(values, ...)`: a program array's
    /// tail-call targets, a map-in-map's inner maps), which the loader does not apply: the
    /// map starts empty and the embedder fills it.
    pub initial_values: bool,
    /// The BTF definition pins the map by name (`__uint(pinning, LIBBPF_PIN_BY_NAME)`): on
    /// Linux it outlives the program and a new program of the same map name and definition
    /// reuses it. A program slot carries such maps, with their contents, over to the program
    /// that replaces the one holding them.
    pub pinned: bool,
    /// The section of the definition.
    pub(super) section: u16,
    /// Offset of the definition in its section (0 for global data).
    pub(super) offset: u64,
}

impl MapInfo<'_> {
    /// The definition to give the verifier at this map's index: [`MapInfo::def`], or, for a
    /// map nanobpf cannot create, an empty array's. No loaded program refers to such a map
    /// (the loader refuses them), so the verifier never types an access to it.
    pub fn verifier_def(&self) -> MapDef {
        self.def.unwrap_or(PLACEHOLDER)
    }
}

/// Whether a section is global data, and whether it is read-only.
pub(super) fn global_data(s: &Section<'_>) -> Option<bool> {
    let is = |prefix: &str| {
        s.name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    let data = s.flags & SHF_ALLOC != 0
        && s.size > 0
        && (s.sh_type == SHT_PROGBITS || s.sh_type == SHT_NOBITS)
        && !s.is_code();
    if !data {
        return None;
    }
    if is(".rodata") {
        Some(true)
    } else if is(".data") || is(".bss") {
        Some(false)
    } else {
        None
    }
}

/// The maps of an object, in index order; see [`Object::maps`](crate::Object::maps).
#[derive(Clone, Debug)]
pub(crate) struct ObjectMaps<'o, 'a> {
    obj: &'o Object<'a>,
    btf_sec: Option<u16>,
    legacy_sec: Option<u16>,
    /// 0: `.maps` symbols, 1: `maps` symbols, 2: sections, 3: done.
    phase: u8,
    pos: u32,
    index: u32,
    /// Whether to read definitions; without, only names, places and indices are right (for
    /// finding a map's index without walking the BTF again).
    with_defs: bool,
}

impl<'o, 'a> ObjectMaps<'o, 'a> {
    pub(super) fn new(obj: &'o Object<'a>) -> Self {
        ObjectMaps {
            obj,
            btf_sec: obj.maps_sections.0,
            legacy_sec: obj.maps_sections.1,
            phase: 0,
            pos: 0,
            index: 0,
            with_defs: true,
        }
    }

    /// The next map, or the error that keeps it from being read.
    pub(super) fn next_checked(&mut self) -> Option<Result<MapInfo<'a>, LoadError>> {
        loop {
            let (pos, index) = (self.pos, self.index);
            self.pos = self.pos.saturating_add(1);
            let found = match self.phase {
                0 | 1 => {
                    if pos >= self.obj.symbol_count() {
                        self.phase = self.phase.saturating_add(1);
                        self.pos = 0;
                        continue;
                    }
                    let sec = if self.phase == 0 {
                        self.btf_sec
                    } else {
                        self.legacy_sec
                    };
                    self.symbol_map(pos, sec, index)
                }
                2 => {
                    if pos >= u32::from(self.obj.shnum) {
                        self.phase = 3;
                        continue;
                    }
                    self.data_map(pos as u16, index)
                }
                _ => return None,
            };
            match found {
                Ok(None) => continue,
                Ok(Some(m)) if index >= MAX_MAPS => {
                    let at = self
                        .obj
                        .section(m.section)
                        .map(|s| s.err(m.offset, K::TooMany(MAX_MAPS)));
                    self.phase = 3;
                    return Some(Err(at.unwrap_or_else(|e| e)));
                }
                Ok(Some(m)) => {
                    self.index = self.index.saturating_add(1);
                    if !self.with_defs {
                        return Some(Ok(m));
                    }
                    let m = self.obj.with_def(m);
                    if m.is_err() {
                        self.phase = 3;
                    }
                    return Some(m);
                }
                Err(e) => {
                    self.phase = 3;
                    return Some(Err(e));
                }
            }
        }
    }

    /// The map defined by symbol `i`, if it is a variable in section `sec`.
    fn symbol_map(
        &self,
        i: u32,
        sec: Option<u16>,
        index: u32,
    ) -> Result<Option<MapInfo<'a>>, LoadError> {
        let sym: Symbol<'a> = self.obj.symbol(i)?;
        // Older clang marks the variables of `maps` as global symbols without a type.
        let variable = sym.kind() == STT_OBJECT
            || (self.phase == 1 && sym.kind() == STT_NOTYPE && sym.bind() != STB_LOCAL);
        if sec != Some(sym.shndx) || !variable {
            return Ok(None);
        }
        let s = self.obj.section(sym.shndx)?;
        Ok(Some(MapInfo {
            name: sym.name,
            index,
            def: Ok(PLACEHOLDER),
            source: if self.phase == 0 {
                MapSource::Btf
            } else {
                MapSource::Legacy
            },
            init: None,
            key_type: None,
            value_type: None,
            initial_values: false,
            pinned: false,
            section: s.index,
            offset: sym.value,
        }))
    }

    /// The global data map of section `i`, if it is one.
    fn data_map(&self, i: u16, index: u32) -> Result<Option<MapInfo<'a>>, LoadError> {
        let s = self.obj.section(i)?;
        let Some(read_only) = global_data(&s) else {
            return Ok(None);
        };
        let value_size = u32::try_from(s.size).map_err(|_| s.err(0, K::BadMapSize))?;
        Ok(Some(MapInfo {
            name: s.name,
            index,
            def: Ok(MapDef {
                map_type: MapType::Array,
                key_size: 4,
                value_size,
                max_entries: 1,
                flags: if read_only { BPF_F_RDONLY_PROG } else { 0 },
            }),
            source: MapSource::GlobalData,
            init: (s.sh_type == SHT_PROGBITS).then_some(s.data),
            key_type: None,
            value_type: None,
            initial_values: false,
            pinned: false,
            section: i,
            offset: 0,
        }))
    }
}

impl<'a> Iterator for ObjectMaps<'_, 'a> {
    type Item = MapInfo<'a>;

    fn next(&mut self) -> Option<MapInfo<'a>> {
        // `Object::parse` has read every map once, so errors cannot happen here.
        self.next_checked()?.ok()
    }
}

/// A legacy definition: the map (or what the object says of a map nanobpf cannot create), or
/// the error that keeps it from being read.
fn legacy_def(s: &Section<'_>, at: u64) -> Result<Result<MapDef, UnsupportedMap>, LoadError> {
    let end = at.checked_add(LEGACY_DEF_SIZE);
    if s.sh_type == SHT_NOBITS || end.is_none_or(|e| e > s.data.len() as u64) {
        return Err(s.err(at, K::Truncated));
    }
    let field = |i: u64| {
        u32_at(s.data, at.saturating_add(i.saturating_mul(4))).ok_or(s.err(at, K::Truncated))
    };
    let def = MapDef {
        key_size: field(1)?,
        value_size: field(2)?,
        max_entries: field(3)?,
        flags: field(4)?,
        ..PLACEHOLDER
    };
    Ok(UnsupportedMap::check(field(0)?, def))
}

impl<'a> Object<'a> {
    /// Reads every map once, so that [`Object::maps`] cannot fail later.
    pub(super) fn check_maps(&self) -> Result<(), LoadError> {
        let mut maps = ObjectMaps::new(self);
        while let Some(m) = maps.next_checked() {
            m?;
        }
        Ok(())
    }

    /// The maps the object declares, in index order: BTF maps (symbol-table order), legacy maps
    /// (symbol-table order), then one map per non-empty global data section (section order).
    pub fn maps(&self) -> impl Iterator<Item = MapInfo<'a>> + Clone + '_ {
        ObjectMaps::new(self)
    }

    /// The maps without their definitions (only names, places and indices are right).
    fn sites(&self) -> ObjectMaps<'_, 'a> {
        let mut sites = ObjectMaps::new(self);
        sites.with_defs = false;
        sites
    }

    /// `m` with its definition read.
    fn with_def(&self, mut m: MapInfo<'a>) -> Result<MapInfo<'a>, LoadError> {
        let s = self.section(m.section)?;
        match m.source {
            MapSource::Btf => {
                let btf_sec = self.btf_section().ok_or(s.err(m.offset, K::NoBtf))?;
                let btf = self.btf.ok_or(s.err(m.offset, K::NoBtf))?;
                let d = btf
                    .map_def(m.name)
                    .map_err(|(off, kind)| btf_sec.err(off, kind))?;
                m.def = d.def;
                m.key_type = d.key_type.map(BtfTypeId);
                m.value_type = d.value_type.map(BtfTypeId);
                m.initial_values = d.initial_values;
                m.pinned = d.pinned;
            }
            MapSource::Legacy => m.def = legacy_def(&s, m.offset)?,
            MapSource::GlobalData => {
                m.value_type = self.btf.and_then(|b| b.datasec(m.name)).map(BtfTypeId);
            }
        }
        Ok(m)
    }

    /// The map with index `index`.
    pub fn map(&self, index: u32) -> Option<MapInfo<'a>> {
        let m = self.sites().find(|m| m.index == index)?;
        self.with_def(m).ok()
    }

    /// The map called `name` (a variable name, or a section name for global data).
    pub fn map_by_name(&self, name: &str) -> Option<MapInfo<'a>> {
        let m = self.sites().find(|m| m.name == name)?;
        self.with_def(m).ok()
    }

    /// The map defined at `offset` of section `section` (any offset for global data), with a
    /// placeholder definition: for its index, source and name.
    pub(super) fn map_at(&self, section: u16, offset: u64) -> Option<MapInfo<'a>> {
        self.sites().find(|m| {
            m.section == section && (m.source == MapSource::GlobalData || m.offset == offset)
        })
    }
}
