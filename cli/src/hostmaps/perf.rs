//! The perf event array: records kept in order with their slot, printed after a run as
//! `perf` would print samples.

use nanobpf_core::maps::{Map, MapDef, MapError};
use std::ptr::NonNull;
use std::sync::Mutex;

use super::{lock, next_index};

/// The most records kept; later outputs fail with `-ENOSPC`, as a full perf ring's do.
pub const PERF_MAX_RECORDS: usize = 1 << 16;

/// Perf event array: `max_entries` slots (CPUs); every record output to any of them, in order.
#[derive(Debug)]
pub struct HostPerf {
    pub(super) def: MapDef,
    pub(super) records: Mutex<Vec<(u32, Vec<u8>)>>,
}

impl HostPerf {
    /// Takes every record so far, with its slot, in output order.
    pub fn consume(&self) -> Vec<(u32, Vec<u8>)> {
        std::mem::take(&mut *lock(&self.records))
    }
}

impl Map for HostPerf {
    fn def(&self) -> MapDef {
        self.def
    }

    fn lookup(&self, _key: &[u8]) -> Option<NonNull<u8>> {
        None
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::NotSupported)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::NotSupported)
    }

    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        next_index(key, self.def.max_entries as usize, out)
    }

    fn perf_event_output(&self, slot: u32, data: &[u8], tail: &[u8]) -> Result<(), MapError> {
        if slot >= self.def.max_entries {
            return Err(MapError::TooBig);
        }
        let mut records = lock(&self.records);
        if records.len() >= PERF_MAX_RECORDS {
            return Err(MapError::NoSpace);
        }
        records.push((slot, [data, tail].concat()));
        Ok(())
    }
}
