//! The embedder's map table: the storage each map a program declares is bound to.

use super::Map;

/// The maps of a program, by the index the program uses (`lddw` src 5/6, and the ELF loader's
/// order). Borrowed, usually from a `static`.
///
/// At run time a map pointer in a register is the address of its slot in this table: never
/// null, as the verifier assumes, and never dereferenced by the program.
#[derive(Clone, Copy, Debug)]
pub struct MapTable<'m> {
    maps: &'m [&'m dyn Map],
}

impl<'m> MapTable<'m> {
    /// A table with no maps.
    pub const EMPTY: MapTable<'static> = MapTable { maps: &[] };

    /// A table over `maps`.
    pub const fn new(maps: &'m [&'m dyn Map]) -> Self {
        MapTable { maps }
    }

    /// The map at `index`.
    #[inline]
    pub fn get(&self, index: u32) -> Option<&'m dyn Map> {
        self.maps.get(index as usize).copied()
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        self.maps.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }

    /// All maps in index order.
    pub fn iter(&self) -> impl Iterator<Item = &'m dyn Map> + 'm {
        self.maps.iter().copied()
    }

    /// The run-time handle of the map at `index`: the address of its slot.
    #[inline]
    pub fn handle(&self, index: u32) -> Option<u64> {
        self.maps
            .get(index as usize)
            .map(|slot| slot as *const &dyn Map as usize as u64)
    }

    /// The map whose handle is `handle`; `None` for anything that is not a handle of this table.
    #[inline]
    pub fn from_handle(&self, handle: u64) -> Option<&'m dyn Map> {
        let base = self.maps.as_ptr() as usize as u64;
        let size = core::mem::size_of::<&dyn Map>() as u64;
        let off = handle.checked_sub(base)?;
        if off % size != 0 {
            return None;
        }
        self.maps.get(usize::try_from(off / size).ok()?).copied()
    }

    /// Whether `[addr, addr + len)` lies inside one value of one of the maps.
    pub fn contains_value(&self, addr: u64, len: u64) -> bool {
        let (Ok(a), Ok(l)) = (usize::try_from(addr), usize::try_from(len)) else {
            return false;
        };
        self.maps.iter().any(|m| m.value_region().contains(a, l))
    }
}
