//! The host side of the map-heavy program (`examples/bench/maps.c`, a flow counter): its hash
//! map, one static instance per engine so that engines never share state, and the map helpers
//! the engines without nanobpf's runtime call: the native build (`extern "C"` functions the C
//! links against) and rbpf (helpers 1 to 3 registered with its VM).
//!
//! Every engine uses the same map implementation, nanobpf's [`BpfHashMap`]: nanobpf's engines
//! reach it through their map table and the standard helpers, the native build and rbpf
//! through the thin functions here, which call it directly.

#![allow(unsafe_code)]

use crate::engines::Engine;
use core::ffi::c_void;
use nanobpf_core::{value_words, BpfHashMap, Map, MapTable};

/// Key size of the flow map: `struct flow_key` (addresses and ports).
pub const FLOW_KEY: usize = 12;
/// Value size of the flow map: `struct flow_stats` (packets, bytes).
pub const FLOW_VALUE: usize = 16;
/// Capacity of the flow map, as `maps.c` declares it.
pub const FLOW_ENTRIES: usize = 1024;

/// The flow map's storage.
pub type FlowMap = BpfHashMap<
    FLOW_KEY,
    FLOW_VALUE,
    { value_words(FLOW_VALUE) },
    FLOW_ENTRIES,
    { 1 + value_words(FLOW_KEY) },
>;

/// One map per engine ([`slot`]).
const SLOTS: usize = 6;

static MAPS: [FlowMap; SLOTS] = [const { FlowMap::new() }; SLOTS];

/// The one-map tables of nanobpf's engines, one per slot.
static TABLES: [&dyn Map; SLOTS] = [&MAPS[0], &MAPS[1], &MAPS[2], &MAPS[3], &MAPS[4], &MAPS[5]];

/// The map slot of `engine`.
pub const fn slot(engine: Engine) -> usize {
    match engine {
        Engine::Native => 0,
        Engine::Nanobpf => 1,
        Engine::NanobpfJit => 2,
        Engine::NanobpfChecked => 3,
        Engine::RbpfInterp => 4,
        Engine::RbpfJit => 5,
    }
}

/// The flow map of `engine`.
pub fn flow_map(engine: Engine) -> &'static FlowMap {
    &MAPS[slot(engine)]
}

/// The map table nanobpf's `engine` runs the maps program with: its flow map at index 0.
pub fn map_table(engine: Engine) -> MapTable<'static> {
    MapTable::new(core::slice::from_ref(&TABLES[slot(engine)]))
}

/// Deletes every flow of `engine`'s map.
pub fn clear(engine: Engine) {
    let map = flow_map(engine);
    let mut key = [0u8; FLOW_KEY];
    while map.next_key(None, &mut key).is_ok() {
        if map.delete(&key).is_err() {
            break;
        }
    }
}

/// Deletes every flow of every engine's map.
pub fn clear_all() {
    for &e in Engine::ALL {
        clear(e);
    }
}

/// The map at `slot`, if there is one.
fn map_at(slot: u64) -> Option<&'static FlowMap> {
    MAPS.get(usize::try_from(slot).ok()?)
}

/// Linux's return value for a map operation: 0 or a negative errno.
fn ret(r: Result<(), nanobpf_core::MapError>) -> i64 {
    r.map_or_else(|e| e.errno(), |()| 0)
}

/// The `len` bytes at `addr`.
///
/// # Safety
/// `addr` points to `len` readable bytes that stay valid and unchanged during the call.
unsafe fn bytes_at<'b>(addr: u64, len: usize) -> &'b [u8] {
    // SAFETY: the caller's contract.
    unsafe { core::slice::from_raw_parts(addr as usize as *const u8, len) }
}

// The native build's helpers. `maps.c` calls them only as the BPF program calls helpers 1 to 3:
// with the address of its map variable (ignored: the native build has one map, the native
// slot's), a pointer to a `struct flow_key` on its stack, and for updates a pointer to a
// `struct flow_stats` on its stack.

/// `bpf_map_lookup_elem` for the native build of `maps.c`.
///
/// # Safety
/// `key` points to a readable `struct flow_key` (12 bytes).
#[no_mangle]
pub unsafe extern "C" fn bench_map_lookup_elem(
    _map: *mut c_void,
    key: *const c_void,
) -> *mut c_void {
    // SAFETY: the caller's contract.
    let key = unsafe { bytes_at(key as usize as u64, FLOW_KEY) };
    flow_map(Engine::Native)
        .lookup(key)
        .map_or(core::ptr::null_mut(), |v| v.as_ptr().cast())
}

/// `bpf_map_update_elem` for the native build of `maps.c`.
///
/// # Safety
/// `key` points to a readable `struct flow_key` (12 bytes), `value` to a readable
/// `struct flow_stats` (16 bytes).
#[no_mangle]
pub unsafe extern "C" fn bench_map_update_elem(
    _map: *mut c_void,
    key: *const c_void,
    value: *const c_void,
    flags: u64,
) -> i64 {
    // SAFETY: the caller's contract.
    let key = unsafe { bytes_at(key as usize as u64, FLOW_KEY) };
    // SAFETY: the caller's contract.
    let value = unsafe { bytes_at(value as usize as u64, FLOW_VALUE) };
    ret(flow_map(Engine::Native).update(key, value, flags))
}

/// `bpf_map_delete_elem` for the native build of `maps.c`.
///
/// # Safety
/// `key` points to a readable `struct flow_key` (12 bytes).
#[no_mangle]
pub unsafe extern "C" fn bench_map_delete_elem(_map: *mut c_void, key: *const c_void) -> i64 {
    // SAFETY: the caller's contract.
    let key = unsafe { bytes_at(key as usize as u64, FLOW_KEY) };
    ret(flow_map(Engine::Native).delete(key))
}

// rbpf's helpers. rbpf has no maps: in its copy of the program each `lddw` of the map loads the
// engine's slot number instead ([`patch_map_references`]), which the helpers receive in r1.
// They are registered only for the maps program, whose calls pass, in r2, a pointer to a
// 12-byte key on the BPF stack and, for updates, in r3 a pointer to a 16-byte value on the BPF
// stack: nanobpf's verifier proves exactly that of the same instructions (the program is
// verified before any engine runs it), and rbpf's interpreter checks the stack accesses that
// build them.

fn rbpf_lookup(map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    let Some(m) = map_at(map) else { return 0 };
    // SAFETY: see above: `key` is the address of a 12-byte key on the running program's stack.
    let key = unsafe { bytes_at(key, FLOW_KEY) };
    m.lookup(key).map_or(0, |v| v.as_ptr() as usize as u64)
}

fn rbpf_update(map: u64, key: u64, value: u64, flags: u64, _: u64) -> u64 {
    let Some(m) = map_at(map) else {
        return ret(Err(nanobpf_core::MapError::Invalid)) as u64;
    };
    // SAFETY: see above: a 12-byte key on the running program's stack.
    let key = unsafe { bytes_at(key, FLOW_KEY) };
    // SAFETY: see above: a 16-byte value on the running program's stack.
    let value = unsafe { bytes_at(value, FLOW_VALUE) };
    ret(m.update(key, value, flags)) as u64
}

fn rbpf_delete(map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    let Some(m) = map_at(map) else {
        return ret(Err(nanobpf_core::MapError::Invalid)) as u64;
    };
    // SAFETY: see above: a 12-byte key on the running program's stack.
    let key = unsafe { bytes_at(key, FLOW_KEY) };
    ret(m.delete(key)) as u64
}

/// Rewrites, in rbpf's copy of a loaded program, every `lddw` of a map (src 5, map by index:
/// the only map the program has) into an `lddw` of the number `engine`'s slot, which rbpf loads
/// as a plain constant and passes to the helpers of [`rbpf_setup`].
pub fn patch_map_references(code: &mut [u8], engine: Engine) {
    let slot = (slot(engine) as u32).to_le_bytes();
    let mut pc = 0;
    while let Some(insn) = code.get_mut(pc * 8..pc * 8 + 16) {
        if insn[0] == 0x18 && insn[1] >> 4 == nanobpf_core::opcode::LDDW_MAP_IDX {
            insn[1] &= 0x0f;
            insn[4..8].copy_from_slice(&slot);
            insn[12..16].fill(0);
            pc += 1;
        }
        pc += 1;
    }
}

/// Gives rbpf's `vm` the map helpers and lets it load and store into `engine`'s map values.
///
/// rbpf allows an access outside the buffer and the stack only at an address registered
/// beforehand, compared by its start alone; so every byte address of the map's storage, which
/// holds its values, is registered.
///
/// # Errors
/// rbpf's error, as text.
pub fn rbpf_setup(vm: &mut rbpf::EbpfVmRaw<'_>, engine: Engine) -> Result<(), String> {
    let err = |e: std::io::Error| format!("rbpf: {e}");
    vm.register_helper(1, rbpf_lookup).map_err(err)?;
    vm.register_helper(2, rbpf_update).map_err(err)?;
    vm.register_helper(3, rbpf_delete).map_err(err)?;
    let map = flow_map(engine);
    let start = core::ptr::from_ref(map) as u64;
    let addrs: Vec<u64> = (start..start + core::mem::size_of_val(map) as u64).collect();
    vm.register_allowed_memory(&addrs);
    Ok(())
}
