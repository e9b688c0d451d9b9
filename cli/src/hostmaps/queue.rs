//! Queue and stack maps.

use nanobpf_core::maps::{Map, MapDef, MapError, MapType, BPF_ANY, BPF_EXIST};
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::Mutex;

use super::lock;

/// Queue (first in, first out) and stack (last in, first out) of values.
#[derive(Debug)]
pub struct HostQueue {
    pub(super) def: MapDef,
    pub(super) items: Mutex<VecDeque<Box<[u8]>>>,
}

impl HostQueue {
    fn take(&self, out: &mut [u8], remove: bool) -> Result<(), MapError> {
        if out.len() != self.def.value_size as usize {
            return Err(MapError::Invalid);
        }
        let mut items = lock(&self.items);
        let stack = self.def.map_type == MapType::Stack;
        let item = match (stack, remove) {
            (true, true) => items.pop_back(),
            (false, true) => items.pop_front(),
            (true, false) => items.back().cloned(),
            (false, false) => items.front().cloned(),
        };
        out.copy_from_slice(&item.ok_or(MapError::NotFound)?);
        Ok(())
    }
}

impl Map for HostQueue {
    fn def(&self) -> MapDef {
        self.def
    }

    fn lookup(&self, _key: &[u8]) -> Option<NonNull<u8>> {
        None
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn next_key(&self, _key: Option<&[u8]>, _out: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::Invalid)
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if value.len() != self.def.value_size as usize {
            return Err(MapError::Invalid);
        }
        let mut items = lock(&self.items);
        if items.len() >= self.def.max_entries as usize {
            match flags {
                BPF_EXIST => {
                    items.pop_front();
                }
                BPF_ANY => return Err(MapError::TooBig),
                _ => return Err(MapError::Invalid),
            }
        } else if flags != BPF_ANY && flags != BPF_EXIST {
            return Err(MapError::Invalid);
        }
        items.push_back(value.into());
        Ok(())
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, true)
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, false)
    }
}
