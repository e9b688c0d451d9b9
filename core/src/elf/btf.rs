//! Just enough BTF to read map definitions: the header, a walk over the type records, and the
//! members of each `.maps` variable's struct (`type`, `key_size`/`key`, `value_size`/`value`,
//! `max_entries`, `map_flags`), with libbpf's encoding:
//!
//! - `__uint(name, N)` is `int (*name)[N]`: a pointer to an array whose element count is `N`;
//! - `__type(name, T)` is `T *name`: a pointer to `T`, whose size is computed through
//!   typedefs, qualifiers, arrays, structs, unions, enums and integers.
//!
//! Types are found by walking the records from the start (no index is built: nothing is
//! allocated), and every chain of references is followed at most [`MAX_DEPTH`] steps, so a
//! loop in hostile BTF is an error, not a hang.

use super::error::LoadErrorKind as K;
use super::maps::UnsupportedMap;
use super::read::{cstr, slice, u16_at, u32_at, u8_at, StrError};
use crate::host::{MapDef, MapType};

/// The longest chain of type references followed.
pub const MAX_DEPTH: u32 = 32;

const BTF_MAGIC: u16 = 0xeb9f;
pub(super) const KIND_INT: u8 = 1;
pub(super) const KIND_PTR: u8 = 2;
pub(super) const KIND_ARRAY: u8 = 3;
pub(super) const KIND_STRUCT: u8 = 4;
pub(super) const KIND_UNION: u8 = 5;
pub(super) const KIND_ENUM: u8 = 6;
pub(super) const KIND_TYPEDEF: u8 = 8;
pub(super) const KIND_VOLATILE: u8 = 9;
pub(super) const KIND_CONST: u8 = 10;
pub(super) const KIND_RESTRICT: u8 = 11;
pub(super) const KIND_VAR: u8 = 14;
pub(super) const KIND_DATASEC: u8 = 15;
pub(super) const KIND_FLOAT: u8 = 16;
pub(super) const KIND_TYPE_TAG: u8 = 18;
pub(super) const KIND_ENUM64: u8 = 19;

/// Entries of the sparse index of type offsets kept in [`Btf`].
const INDEX: usize = 64;

/// An error at a byte offset of the `.BTF` section.
pub(super) type BtfError = (u64, K);

/// The `.BTF` section: its type records and string table.
#[derive(Clone, Copy, Debug)]
pub(super) struct Btf<'a> {
    types: &'a [u8],
    /// Offset of `types` in the section, for errors.
    types_at: u64,
    strings: &'a [u8],
    /// Number of type records.
    count: u32,
    /// Every `stride`-th type's offset: `index[k]` is the offset of type `1 + k * stride`, so
    /// finding a type walks fewer than `stride` records.
    index: [u32; INDEX],
    stride: u32,
}

/// One type record.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ty<'a> {
    /// Offset in the section, for errors.
    pub at: u64,
    pub name_off: u32,
    pub kind: u8,
    pub vlen: u16,
    /// The `kind_flag` bit: bitfield offsets in structs, signedness of enums.
    pub kflag: bool,
    /// `size` or `type`, by kind.
    pub size_type: u32,
    /// The kind-specific data after the common 12 bytes.
    pub extra: &'a [u8],
}

/// Bytes of kind-specific data after the common header, or `None` for an unknown kind.
fn extra_len(kind: u8, vlen: u16) -> Option<u64> {
    let n = u64::from(vlen);
    Some(match kind {
        KIND_INT => 4,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION => 12 * n,
        KIND_ENUM => 8 * n,
        13 => 8 * n, // FUNC_PROTO
        KIND_VAR => 4,
        KIND_DATASEC => 12 * n,
        17 => 4, // DECL_TAG
        KIND_ENUM64 => 12 * n,
        KIND_PTR | 7 | KIND_TYPEDEF..=KIND_RESTRICT | 12 | KIND_FLOAT | KIND_TYPE_TAG => 0,
        _ => return None,
    })
}

impl<'a> Btf<'a> {
    /// Checks the header and that every type record is whole and of a known kind.
    pub fn parse(data: &'a [u8]) -> Result<Btf<'a>, BtfError> {
        let bad = (0, K::BadBtfHeader);
        if u16_at(data, 0) != Some(BTF_MAGIC) || u8_at(data, 2) != Some(1) {
            return Err(bad);
        }
        let field = |o: u64| u32_at(data, o).map(u64::from).ok_or(bad);
        let hdr_len = field(4)?;
        let (type_off, type_len) = (field(8)?, field(12)?);
        let (str_off, str_len) = (field(16)?, field(20)?);
        if hdr_len < 24 {
            return Err(bad);
        }
        let types_at = hdr_len.saturating_add(type_off); // u32 + u32: no overflow in u64
        let types = slice(data, types_at, type_len).ok_or((8, K::BadBtfHeader))?;
        let strings =
            slice(data, hdr_len.saturating_add(str_off), str_len).ok_or((16, K::BadBtfHeader))?;
        let mut btf = Btf {
            types,
            types_at,
            strings,
            count: 0,
            index: [0; INDEX],
            stride: 1,
        };
        let mut off = 0;
        while off < types.len() as u64 {
            off = btf.record(off)?.1;
            btf.count = btf.count.saturating_add(1);
        }
        btf.stride = btf.count.div_ceil(INDEX as u32).max(1);
        let (mut off, mut n) = (0, 0u32);
        while off < types.len() as u64 {
            // `stride` is at least 1.
            if n.checked_rem(btf.stride) == Some(0) {
                let k = n.checked_div(btf.stride).unwrap_or(0);
                if let Some(slot) = btf.index.get_mut(k as usize) {
                    *slot = off as u32; // below the type section's u32 length
                }
            }
            off = btf.record(off)?.1;
            n = n.saturating_add(1);
        }
        Ok(btf)
    }

    /// The record at byte `off` of the type section, and the offset of the next one.
    fn record(&self, off: u64) -> Result<(Ty<'a>, u64), BtfError> {
        let at = self.types_at.saturating_add(off);
        let trunc = (at, K::BtfTruncated);
        let name_off = u32_at(self.types, off).ok_or(trunc)?;
        let info = u32_at(self.types, off.saturating_add(4)).ok_or(trunc)?;
        let size_type = u32_at(self.types, off.saturating_add(8)).ok_or(trunc)?;
        let kind = ((info >> 24) & 0x1f) as u8;
        let vlen = info as u16;
        let len = extra_len(kind, vlen).ok_or((at, K::BadBtfType(kind.into())))?;
        let extra = slice(self.types, off.saturating_add(12), len).ok_or(trunc)?;
        let ty = Ty {
            at,
            name_off,
            kind,
            vlen,
            kflag: info >> 31 != 0,
            size_type,
            extra,
        };
        Ok((ty, off.saturating_add(12).saturating_add(len)))
    }

    /// The type with id `id` (1 is the first record; 0 is `void`, which has no record).
    pub(super) fn get(&self, id: u32) -> Result<Ty<'a>, BtfError> {
        let missing = (self.types_at, K::BadBtfType(id));
        if id == 0 || id > self.count {
            return Err(missing);
        }
        // `id >= 1`, and `stride` is at least 1.
        let i = id.saturating_sub(1);
        let k = i.checked_div(self.stride).ok_or(missing)?;
        let mut off = u64::from(*self.index.get(k as usize).ok_or(missing)?);
        for _ in 0..i.checked_rem(self.stride).ok_or(missing)? {
            off = self.record(off)?.1;
        }
        Ok(self.record(off)?.0)
    }

    pub(super) fn name(&self, ty: &Ty<'a>) -> Result<&'a str, BtfError> {
        cstr(self.strings, ty.name_off.into()).map_err(|e| {
            let kind = match e {
                StrError::OutOfBounds => K::BadStringOffset(ty.name_off.into()),
                StrError::NotUtf8 => K::NotUtf8,
            };
            (ty.at, kind)
        })
    }

    /// The type `id` with typedefs and qualifiers stripped.
    pub(super) fn skip_mods(&self, id: u32) -> Result<Ty<'a>, BtfError> {
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            let ty = self.get(id)?;
            match ty.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = ty.size_type;
                }
                _ => return Ok(ty),
            }
        }
        Err((self.types_at, K::BtfTooDeep))
    }

    /// The size in bytes of type `id`.
    pub(super) fn size_of(&self, id: u32, depth: u32) -> Result<u64, BtfError> {
        if depth >= MAX_DEPTH {
            return Err((self.types_at, K::BtfTooDeep));
        }
        let ty = self.get(id)?;
        match ty.kind {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT => {
                Ok(ty.size_type.into())
            }
            KIND_PTR => Ok(8),
            KIND_ARRAY => {
                let elem = u32_at(ty.extra, 0).ok_or((ty.at, K::BtfTruncated))?;
                let n = u32_at(ty.extra, 8).ok_or((ty.at, K::BtfTruncated))?;
                self.size_of(elem, depth.saturating_add(1))?
                    .checked_mul(n.into())
                    .ok_or((ty.at, K::BadMapSize))
            }
            KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
            | KIND_VAR => self.size_of(ty.size_type, depth.saturating_add(1)),
            _ => Err((ty.at, K::BadBtfType(id))),
        }
    }

    /// `__uint(name, N)`: a pointer to an array of `N` elements.
    fn uint_attr(&self, member_type: u32) -> Result<u32, BtfError> {
        let ptr = self.skip_mods(member_type)?;
        if ptr.kind != KIND_PTR {
            return Err((ptr.at, K::BadBtfType(member_type)));
        }
        let arr = self.get(ptr.size_type)?;
        if arr.kind != KIND_ARRAY {
            return Err((arr.at, K::BadBtfType(ptr.size_type)));
        }
        u32_at(arr.extra, 8).ok_or((arr.at, K::BtfTruncated))
    }

    /// `__type(name, T)`: a pointer to `T`; the size of `T`, and `T`'s id.
    fn type_attr(&self, member_type: u32) -> Result<(u32, u32), BtfError> {
        let ptr = self.skip_mods(member_type)?;
        if ptr.kind != KIND_PTR {
            return Err((ptr.at, K::BadBtfType(member_type)));
        }
        let size = self.size_of(ptr.size_type, 0)?;
        let size = u32::try_from(size).map_err(|_| (ptr.at, K::BadMapSize))?;
        Ok((size, ptr.size_type))
    }

    /// The id of the data section (`DATASEC`) called `name`, if BTF describes it.
    pub(super) fn datasec(&self, name: &str) -> Option<u32> {
        let (mut off, mut id) = (0, 0u32);
        while off < self.types.len() as u64 {
            let (ty, next) = self.record(off).ok()?;
            off = next;
            id = id.saturating_add(1);
            if ty.kind == KIND_DATASEC && self.name(&ty).ok()? == name {
                return Some(id);
            }
        }
        None
    }

    /// The BTF type id of the variable `name` in the data section `.maps`.
    fn map_var(&self, name: &str) -> Result<Ty<'a>, BtfError> {
        let mut off = 0;
        while off < self.types.len() as u64 {
            let (ty, next) = self.record(off)?;
            off = next;
            if ty.kind != KIND_DATASEC || self.name(&ty)? != ".maps" {
                continue;
            }
            for i in 0..u64::from(ty.vlen) {
                let var_id =
                    u32_at(ty.extra, i.saturating_mul(12)).ok_or((ty.at, K::BtfTruncated))?;
                let var = self.get(var_id)?;
                if var.kind != KIND_VAR {
                    return Err((var.at, K::BadBtfType(var_id)));
                }
                if self.name(&var)? == name {
                    return Ok(var);
                }
            }
        }
        Err((self.types_at, K::MapWithoutBtf))
    }

    /// The definition of the map variable `name` in `.maps`.
    pub fn map_def(&self, name: &str) -> Result<BtfMapDef, BtfError> {
        let var = self.map_var(name)?;
        let st = self.skip_mods(var.size_type)?;
        if st.kind != KIND_STRUCT {
            return Err((st.at, K::BadBtfType(var.size_type)));
        }
        let mut map_type = None;
        let (mut key_size, mut value_size) = (None, None);
        let (mut max_entries, mut flags) = (0, 0);
        let (mut key_type, mut value_type) = (None, None);
        let mut initial_values = false;
        let mut pinned = false;
        // Sets a size attribute, which may be given both as a size and as a type.
        let set = |slot: &mut Option<u32>, v: u32, at: u64| match *slot {
            Some(old) if old != v => Err((at, K::BadMapSize)),
            _ => {
                *slot = Some(v);
                Ok(())
            }
        };
        for i in 0..u64::from(st.vlen) {
            let trunc = (st.at, K::BtfTruncated);
            let name_off = u32_at(st.extra, i.saturating_mul(12)).ok_or(trunc)?;
            let mtype = u32_at(st.extra, i.saturating_mul(12).saturating_add(4)).ok_or(trunc)?;
            let member = Ty { name_off, ..st };
            match self.name(&member)? {
                "type" => map_type = Some(self.uint_attr(mtype)?),
                "max_entries" => max_entries = self.uint_attr(mtype)?,
                "map_flags" => flags = self.uint_attr(mtype)?,
                "key_size" => set(&mut key_size, self.uint_attr(mtype)?, st.at)?,
                "value_size" => set(&mut value_size, self.uint_attr(mtype)?, st.at)?,
                "key" => {
                    let (size, id) = self.type_attr(mtype)?;
                    set(&mut key_size, size, st.at)?;
                    key_type = Some(id);
                }
                "value" => {
                    let (size, id) = self.type_attr(mtype)?;
                    set(&mut value_size, size, st.at)?;
                    value_type = Some(id);
                }
                // `LIBBPF_PIN_BY_NAME`: the map outlives the program (see `MapInfo::pinned`).
                "pinning" => pinned = self.uint_attr(mtype)? == LIBBPF_PIN_BY_NAME,
                // NUMA placement means nothing without a kernel.
                "numa_node" => {}
                // Initial values (relocations in `.maps`), not applied.
                "values" => initial_values = true,
                _ => return Err((st.at, K::UnsupportedMapAttribute)),
            }
        }
        let n = map_type.ok_or((st.at, K::MissingMapType))?;
        let def = MapDef {
            map_type: MapType::Array,
            key_size: key_size.unwrap_or(0),
            value_size: value_size.unwrap_or(0),
            max_entries,
            flags,
        };
        Ok(BtfMapDef {
            def: UnsupportedMap::check(n, def),
            key_type,
            value_type,
            initial_values,
            pinned,
        })
    }
}

/// libbpf's `pinning` value for a map pinned by its name.
const LIBBPF_PIN_BY_NAME: u32 = 1;

/// A BTF map definition ([`Btf::map_def`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct BtfMapDef {
    /// The definition (`Err` for a map whose type nanobpf does not have).
    pub def: Result<MapDef, UnsupportedMap>,
    /// The type ids of its key and value, when given as types (`__type(key, T)`).
    pub key_type: Option<u32>,
    pub value_type: Option<u32>,
    /// It declares initial values (`__array(values, ...)`).
    pub initial_values: bool,
    /// It is pinned by name (`__uint(pinning, LIBBPF_PIN_BY_NAME)`).
    pub pinned: bool,
}
