//! Array, per-CPU array, program array and device, CPU and XSK maps: index-addressed slots.

use nanobpf_core::maps::{
    Map, MapDef, MapError, MapType, Redirect, ValueRegion, BPF_EXIST, BPF_NOEXIST,
};
use std::ptr::NonNull;
use std::sync::Mutex;

use super::{check_flags, index_key, lock, next_index, Values};

/// Array and per-CPU array (one CPU): `max_entries` values indexed by a `u32` key, all present
/// from the start, zeroed.
#[derive(Debug)]
pub struct HostArray {
    pub(super) def: MapDef,
    pub(super) values: Values,
}

impl Map for HostArray {
    fn def(&self) -> MapDef {
        self.def
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        self.values.addr(index_key(key)? as usize)
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)?;
        self.values.read(i as usize, out)
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)? as usize;
        if i >= self.values.count() {
            return Err(MapError::TooBig);
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        self.values.write(i, value)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, self.values.count(), out)
    }

    fn value_region(&self) -> ValueRegion {
        self.values.region()
    }
}

/// Program array (tail-call targets) and device map (redirect targets): a `u32` per slot, or
/// empty. A program array's values are indexes of the runtime's program list; a device map's
/// are interface indexes (0 is empty).
#[derive(Debug)]
pub struct HostSlots {
    pub(super) def: MapDef,
    pub(super) slots: Mutex<Box<[Option<u32>]>>,
    pub(super) len: usize,
    pub(super) values: Values,
}

impl HostSlots {
    fn get(&self, i: u32) -> Option<u32> {
        lock(&self.slots).get(i as usize).copied().flatten()
    }
}

impl Map for HostSlots {
    fn def(&self) -> MapDef {
        self.def
    }

    /// Programs cannot look into program arrays; a device map's set slots read as their value.
    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let i = index_key(key)?;
        if self.def.map_type == MapType::ProgArray {
            return None;
        }
        self.get(i)?;
        self.values.addr(i as usize)
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)?;
        self.get(i).ok_or(MapError::NotFound)?;
        self.values.read(i as usize, out)
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_flags(flags)?;
        let i = index_key(key).ok_or(MapError::Invalid)? as usize;
        let v = value
            .get(..4)
            .and_then(index_key)
            .ok_or(MapError::Invalid)?;
        let empty = match self.def.map_type {
            MapType::ProgArray => u32::MAX,
            _ => 0,
        };
        if i >= self.len {
            return Err(MapError::TooBig);
        }
        if v == empty {
            return Err(MapError::Invalid);
        }
        let mut slots = lock(&self.slots);
        let slot = slots.get_mut(i).ok_or(MapError::TooBig)?;
        match (flags, slot.is_some()) {
            (BPF_NOEXIST, true) => return Err(MapError::Exists),
            (BPF_EXIST, false) => return Err(MapError::NotFound),
            _ => {}
        }
        self.values.write(i, value)?;
        *slot = Some(v);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let i = index_key(key).ok_or(MapError::Invalid)? as usize;
        let mut slots = lock(&self.slots);
        match slots.get_mut(i) {
            Some(s @ Some(_)) => {
                *s = None;
                Ok(())
            }
            Some(None) => Err(MapError::NotFound),
            None => Err(MapError::Invalid),
        }
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, self.len, out)
    }

    fn value_region(&self) -> ValueRegion {
        match self.def.map_type {
            MapType::ProgArray => ValueRegion::EMPTY,
            _ => self.values.region(),
        }
    }

    fn prog_at(&self, index: u32) -> Option<u32> {
        if self.def.map_type == MapType::ProgArray {
            self.get(index)
        } else {
            None
        }
    }

    fn redirect_target(&self, key: u32) -> Option<Redirect> {
        let v = self.get(key)?;
        match self.def.map_type {
            MapType::DevMap => Some(Redirect::Device(v)),
            MapType::CpuMap => Some(Redirect::Cpu(key)),
            MapType::XskMap => Some(Redirect::Xsk(key)),
            _ => None,
        }
    }
}
