//! The embedder's map table: the storage each map a program declares is bound to.

#[cfg(feature = "arena")]
use super::AnyMap;
use super::Map;

/// The slots of a table: references to maps of any kind, or run-time maps held in place.
#[derive(Clone, Copy, Debug)]
enum Slots<'m> {
    Dyn(&'m [&'m dyn Map]),
    #[cfg(feature = "arena")]
    Any(&'m [AnyMap<'m>]),
}

/// The maps of a program, by the index the program uses (`lddw` src 5/6, and the ELF loader's
/// order). Borrowed, usually from a `static` ([`MapTable::new`]) or from a
/// [`MapSet`](super::MapSet) an arena created ([`MapTable::from_any`]).
///
/// At run time a map pointer in a register is the address of its slot in this table: never
/// null, as the verifier assumes, and never dereferenced by the program.
#[derive(Clone, Copy, Debug)]
pub struct MapTable<'m> {
    maps: Slots<'m>,
}

impl<'m> MapTable<'m> {
    /// A table with no maps.
    pub const EMPTY: MapTable<'static> = MapTable {
        maps: Slots::Dyn(&[]),
    };

    /// A table over `maps`.
    pub const fn new(maps: &'m [&'m dyn Map]) -> Self {
        MapTable {
            maps: Slots::Dyn(maps),
        }
    }

    /// A table over run-time maps held in place (a handle is the address of the `AnyMap`).
    #[cfg(feature = "arena")]
    pub const fn from_any(maps: &'m [AnyMap<'m>]) -> Self {
        MapTable {
            maps: Slots::Any(maps),
        }
    }

    /// The map at `index`.
    #[inline]
    pub fn get(&self, index: u32) -> Option<&'m dyn Map> {
        match self.maps {
            Slots::Dyn(maps) => maps.get(index as usize).copied(),
            #[cfg(feature = "arena")]
            Slots::Any(maps) => maps.get(index as usize).map(|m| m as &dyn Map),
        }
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        match self.maps {
            Slots::Dyn(maps) => maps.len(),
            #[cfg(feature = "arena")]
            Slots::Any(maps) => maps.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All maps in index order.
    pub fn iter(&self) -> impl Iterator<Item = &'m dyn Map> + 'm {
        let table = *self;
        (0..table.len()).filter_map(move |i| table.get(i as u32))
    }

    /// The address of the slots and the size of one.
    #[inline]
    fn base_and_size(&self) -> (u64, u64) {
        match self.maps {
            Slots::Dyn(maps) => (
                maps.as_ptr() as usize as u64,
                core::mem::size_of::<&dyn Map>() as u64,
            ),
            #[cfg(feature = "arena")]
            Slots::Any(maps) => (
                maps.as_ptr() as usize as u64,
                core::mem::size_of::<AnyMap<'_>>() as u64,
            ),
        }
    }

    /// The run-time handle of the map at `index`: the address of its slot.
    #[inline]
    pub fn handle(&self, index: u32) -> Option<u64> {
        if index as usize >= self.len() {
            return None;
        }
        let (base, size) = self.base_and_size();
        Some(base + u64::from(index) * size)
    }

    /// The map whose handle is `handle`; `None` for anything that is not a handle of this table.
    #[inline]
    pub fn from_handle(&self, handle: u64) -> Option<&'m dyn Map> {
        let (base, size) = self.base_and_size();
        let off = handle.checked_sub(base)?;
        if size == 0 || off % size != 0 {
            return None;
        }
        self.get(u32::try_from(off / size).ok()?)
    }

    /// Whether `[addr, addr + len)` lies inside one value of one of the maps.
    pub fn contains_value(&self, addr: u64, len: u64) -> bool {
        let (Ok(a), Ok(l)) = (usize::try_from(addr), usize::try_from(len)) else {
            return false;
        };
        self.iter().any(|m| m.value_region().contains(a, l))
    }

    /// Whether `other` is a table over the same storage: the same slots (address and length).
    pub fn same(&self, other: &MapTable<'_>) -> bool {
        let (a, _) = self.base_and_size();
        let (b, _) = other.base_and_size();
        let kinds = match (self.maps, other.maps) {
            (Slots::Dyn(_), Slots::Dyn(_)) => true,
            #[cfg(feature = "arena")]
            (Slots::Any(_), Slots::Any(_)) => true,
            #[cfg(feature = "arena")]
            _ => false,
        };
        kinds && a == b && self.len() == other.len()
    }
}
