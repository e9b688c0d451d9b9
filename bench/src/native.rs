//! The native builds of the benchmark programs (compiled by `build.rs`), behind a safe call.

#![allow(unsafe_code)]

use crate::Bench;

extern "C" {
    fn native_nop(data: *const u8, len: u64) -> u64;
    fn native_parse(data: *const u8, len: u64) -> u64;
    fn native_checksum(data: *const u8, len: u64) -> u64;
    fn native_fnv1a(data: *const u8, len: u64) -> u64;
    fn native_xorshift(data: *const u8, len: u64) -> u64;
    fn native_xorshift_short(data: *const u8, len: u64) -> u64;
    fn native_state(data: *const u8, len: u64) -> u64;
    fn native_maps(data: *const u8, len: u64) -> u64;
}

/// Runs the native build of `bench` on `buf` and returns its result.
#[inline(always)]
pub fn run_native(bench: Bench, buf: &[u8]) -> u64 {
    let f = match bench {
        Bench::Nop => native_nop,
        Bench::Parse => native_parse,
        Bench::Checksum => native_checksum,
        Bench::Fnv1a => native_fnv1a,
        Bench::Xorshift => native_xorshift,
        Bench::XorshiftShort => native_xorshift_short,
        Bench::State => native_state,
        Bench::Maps => {
            if buf.as_ptr() as usize % 4 != 0 {
                return u64::MAX;
            }
            native_maps
        }
    };
    // SAFETY: every program of `examples/bench/` only reads, and only bytes `data[i]` with
    // `i < len` (each access is guarded by a comparison with `len`, see the C sources); here
    // `data` and `len` describe the live slice `buf`, borrowed for the call. The functions take
    // no other pointer, keep nothing, and have no other side effect; except `native_maps`,
    // which reads its 16-byte records as aligned words (`buf` is 4-byte aligned, checked
    // above) and calls the map helpers of `crate::flows` with pointers to a key and a value on
    // its own stack, as their contracts require; they change only the native flow map.
    unsafe { f(buf.as_ptr(), buf.len() as u64) }
}
