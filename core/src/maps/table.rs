//! The map table: the maps a program refers to by index, as storage.

#[cfg(feature = "arena")]
use super::AnyMap;
use super::{Map, MapDef};
use crate::maps::sealed::Sealed as _;

/// The maps of a program, by the index the program uses (`lddw` src 1, 2, 5, 6, and the ELF
/// loader's order). Borrowed, usually from a `static` ([`MapTable::new`]) or from a
/// [`MapSet`](super::MapSet) an arena created ([`MapTable::from_any`]).
///
/// A program is verified against a table and stays bound to it: the
/// [`VerifiedProgram`](crate::VerifiedProgram) holds the table, and the engines run the
/// program against that table only.
///
/// At run time a map pointer in a register is the address of its slot in this table: never
/// null, as the verifier assumes, and never dereferenced by the program.
#[derive(Clone, Copy, Debug)]
pub struct MapTable<'m> {
    slots: Slots<'m>,
}

/// What a table's slots are.
#[derive(Clone, Copy, Debug)]
enum Slots<'m> {
    /// Storage of any map type, each behind its own reference.
    Maps(&'m [&'m dyn Map]),
    /// Run-time maps held in place (an arena's set).
    #[cfg(feature = "arena")]
    Any(&'m [AnyMap<'m>]),
    /// Definitions without storage (see [`MapTable::definitions`]).
    Definitions(&'m [MapDef]),
}

impl<'m> MapTable<'m> {
    /// A table with no maps.
    pub const EMPTY: MapTable<'static> = MapTable {
        slots: Slots::Maps(&[]),
    };

    /// A table over `maps`.
    pub const fn new(maps: &'m [&'m dyn Map]) -> Self {
        MapTable {
            slots: Slots::Maps(maps),
        }
    }

    /// A table over run-time maps held in place (a handle is the address of the `AnyMap`).
    #[cfg(feature = "arena")]
    pub const fn from_any(maps: &'m [AnyMap<'m>]) -> Self {
        MapTable {
            slots: Slots::Any(maps),
        }
    }

    /// A table of definitions without storage, to check a program without creating its maps
    /// (the host tool's `verify`). A program verified against it runs against maps that hold
    /// nothing: every lookup misses, every update is refused, and a program that reads global
    /// data (a value address in an `lddw`) does not start ([`Trap::UnresolvedMap`]).
    ///
    /// [`Trap::UnresolvedMap`]: crate::Trap::UnresolvedMap
    pub const fn definitions(defs: &'m [MapDef]) -> Self {
        MapTable {
            slots: Slots::Definitions(defs),
        }
    }

    /// The map at `index`.
    #[inline]
    pub fn get(&self, index: u32) -> Option<&'m dyn Map> {
        match self.slots {
            Slots::Maps(m) => m.get(index as usize).copied(),
            #[cfg(feature = "arena")]
            Slots::Any(m) => m.get(index as usize).map(|m| m as &dyn Map),
            Slots::Definitions(d) => d.get(index as usize).map(|d| d as &dyn Map),
        }
    }

    /// The definition of the map at `index`: what the verifier checks a program against.
    #[inline]
    pub fn def(&self, index: usize) -> Option<MapDef> {
        match self.slots {
            Slots::Maps(m) => m.get(index).map(|m| m.def()),
            #[cfg(feature = "arena")]
            Slots::Any(m) => m.get(index).map(|m| m.def()),
            Slots::Definitions(d) => d.get(index).copied(),
        }
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        match self.slots {
            Slots::Maps(m) => m.len(),
            #[cfg(feature = "arena")]
            Slots::Any(m) => m.len(),
            Slots::Definitions(d) => d.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `self` and `other` are the same table (the same slots, not equal contents): a
    /// tail call may go only to a program bound to the same table.
    pub fn same(&self, other: &MapTable<'_>) -> bool {
        self.base_and_stride() == other.base_and_stride() && self.len() == other.len()
    }

    /// All maps in index order.
    pub fn iter(&self) -> impl Iterator<Item = &'m dyn Map> + 'm {
        let t = *self;
        (0..t.len() as u32).filter_map(move |i| t.get(i))
    }

    /// Address of slot 0 and the distance between slots.
    #[inline]
    fn base_and_stride(&self) -> (usize, usize) {
        match self.slots {
            Slots::Maps(m) => (m.as_ptr() as usize, core::mem::size_of::<&dyn Map>()),
            #[cfg(feature = "arena")]
            Slots::Any(m) => (m.as_ptr() as usize, core::mem::size_of::<AnyMap<'_>>()),
            Slots::Definitions(d) => (d.as_ptr() as usize, core::mem::size_of::<MapDef>()),
        }
    }

    /// The run-time handle of the map at `index`: the address of its slot.
    #[inline]
    pub fn handle(&self, index: u32) -> Option<u64> {
        if index as usize >= self.len() {
            return None;
        }
        let (base, stride) = self.base_and_stride();
        // A slot of the table: inside its slice, so no overflow.
        Some(base.wrapping_add((index as usize).wrapping_mul(stride)) as u64)
    }

    /// The map whose handle is `handle`; `None` for anything that is not a handle of this table.
    #[inline]
    pub fn from_handle(&self, handle: u64) -> Option<&'m dyn Map> {
        // The index of the slot at `handle` in `slots` of `T`: a division by a constant (no
        // run-time 64-bit division on 32-bit targets).
        fn index<T>(slots: &[T], handle: u64) -> Option<usize> {
            let off = usize::try_from(handle)
                .ok()?
                .checked_sub(slots.as_ptr() as usize)?;
            let size = core::mem::size_of::<T>();
            (off.checked_rem(size)? == 0).then_some(off.checked_div(size)?)
        }
        match self.slots {
            Slots::Maps(m) => m.get(index(m, handle)?).copied(),
            #[cfg(feature = "arena")]
            Slots::Any(m) => m.get(index(m, handle)?).map(|m| m as &dyn Map),
            Slots::Definitions(d) => d.get(index(d, handle)?).map(|d| d as &dyn Map),
        }
    }

    /// The value of an `lddw` (`insn` and its second slot `next`) in a program bound to this
    /// table: its immediate, a map handle, or the address of a map value (global data lives in
    /// one-element array maps). `None` when it names a map the table does not have, or a value
    /// the map does not hold.
    pub fn lddw_value(&self, insn: crate::Insn, next: crate::Insn) -> Option<u64> {
        use crate::isa::opcode::{LDDW_IMM, LDDW_MAP_FD, LDDW_MAP_IDX};
        match insn.src() {
            LDDW_IMM => Some((insn.imm as u32 as u64) | ((next.imm as u32 as u64) << 32)),
            LDDW_MAP_FD | LDDW_MAP_IDX => self.handle(insn.imm as u32),
            _ => {
                let map = self.get(insn.imm as u32)?;
                let value = map.lookup(&0u32.to_le_bytes())?;
                Some(
                    (value.as_ptr().expose_provenance() as u64)
                        .wrapping_add(next.imm as u32 as u64),
                )
            }
        }
    }

    /// Whether `[addr, addr + len)` lies inside one value of one of the maps.
    pub fn contains_value(&self, addr: u64, len: u64) -> bool {
        let (Ok(a), Ok(l)) = (usize::try_from(addr), usize::try_from(len)) else {
            return false;
        };
        // One match on the kind of slots, then a plain walk of the slice (the checked
        // interpreter asks this on every access outside the context and the stack).
        match self.slots {
            Slots::Maps(m) => m.iter().any(|m| m.value_region().contains(a, l)),
            #[cfg(feature = "arena")]
            Slots::Any(m) => m.iter().any(|m| m.value_region().contains(a, l)),
            Slots::Definitions(d) => d.iter().any(|d| d.value_region().contains(a, l)),
        }
    }
}

/// A definition is a map without storage: it holds nothing, so every lookup misses and every
/// change is refused. See [`MapTable::definitions`].
impl crate::maps::sealed::Sealed for MapDef {}

impl Map for MapDef {
    fn def(&self) -> MapDef {
        *self
    }

    fn lookup(&self, _key: &[u8]) -> Option<core::ptr::NonNull<u8>> {
        None
    }

    fn lookup_copy(&self, _key: &[u8], _out: &mut [u8]) -> Result<(), super::MapError> {
        Err(super::MapError::NotFound)
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), super::MapError> {
        Err(super::MapError::NotSupported)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), super::MapError> {
        Err(super::MapError::NotSupported)
    }

    fn next_key(&self, _key: Option<&[u8]>, _out: &mut [u8]) -> Result<(), super::MapError> {
        Err(super::MapError::NotFound)
    }
}
