//! Linux-numbered helpers with their prototypes, ready to put in a [`HelperTable`].
//!
//! [`STANDARD`] holds every helper below; an embedder that wants fewer (or adds its own) builds
//! its own static slice, taking the ones it keeps by their Linux ids with [`by_id`]:
//!
//! ```
//! use nanobpf_core::{helpers, Helper, HelperTable};
//!
//! // Map lookups and the clock, nothing else.
//! static MINE: [Helper; 2] = [
//!     helpers::by_id(1).expect("map_lookup_elem"),
//!     helpers::by_id(5).expect("ktime_get_ns"),
//! ];
//! let table = HelperTable::new(&MINE);
//! assert!(table.get(1).is_some() && table.get(2).is_none());
//! ```
//!
//! | id | helper | prototype |
//! |---|---|---|
//! | 1 | `map_lookup_elem` | map, key → map value or null |
//! | 2 | `map_update_elem` | map, key, value, flags → 0 or -errno |
//! | 3 | `map_delete_elem` | map, key → 0 or -errno |
//! | 5 | `ktime_get_ns` | → platform clock |
//! | 6 | `trace_printk` | fmt, fmt size, up to 3 args (only those the format's conversions use need be set) → fmt size (to the platform's trace sink) |
//! | 7 | `get_prandom_u32` | → platform random |
//! | 8 | `get_smp_processor_id` | → platform core id |
//! | 9 | `skb_store_bytes` | ctx, offset, from, size, flags → 0 or -errno (tc) |
//! | 10 | `l3_csum_replace` | ctx, offset, from, to, flags → 0 or -errno (tc) |
//! | 11 | `l4_csum_replace` | ctx, offset, from, to, flags → 0 or -errno (tc) |
//! | 12 | `tail_call` | ctx, program array, index → falls through on failure |
//! | 21 | `skb_set_tunnel_key` | ctx, key, size, flags → 0 or -errno (tc) |
//! | 23 | `redirect` | ifindex, flags → `TC_ACT_REDIRECT` or `XDP_REDIRECT` (tc, XDP) |
//! | 25 | `perf_event_output` | ctx, perf event array, flags (slot, frame bytes to append), data, size → 0 or -errno |
//! | 26 | `skb_load_bytes` | ctx, offset, to, size → 0 or -errno (tc, socket filter) |
//! | 28 | `csum_diff` | from, from size, to, to size, seed → 32-bit partial checksum |
//! | 31 | `skb_change_proto` | ctx, protocol, flags → 0 or -errno (tc) |
//! | 32 | `skb_change_type` | ctx, packet type → 0 or -errno (tc) |
//! | 34 | `get_hash_recalc` | ctx → the packet's flow hash (tc) |
//! | 38 | `skb_change_tail` | ctx, length, flags → 0 or -errno (tc) |
//! | 39 | `skb_pull_data` | ctx, length → 0 or -errno (tc) |
//! | 43 | `skb_change_head` | ctx, room, flags → 0 or -errno (tc) |
//! | 44 | `xdp_adjust_head` | ctx, delta → 0 or -EINVAL |
//! | 50 | `skb_adjust_room` | ctx, size difference, mode, flags → 0 or -errno (tc) |
//! | 51 | `redirect_map` | device map, key, flags → `XDP_REDIRECT` or the fallback in flags |
//! | 54 | `xdp_adjust_meta` | ctx, delta → 0 or -EINVAL |
//! | 65 | `xdp_adjust_tail` | ctx, delta → 0 or -EINVAL |
//! | 69 | `fib_lookup` | ctx, params, size, flags → `BPF_FIB_LKUP_RET_*` or -errno (tc, XDP) |
//! | 87 | `map_push_elem` | queue or stack, value, flags → 0 or -errno (`-E2BIG` when full) |
//! | 88 | `map_pop_elem` | queue or stack, value buffer → 0 or -errno (`-ENOENT` when empty) |
//! | 89 | `map_peek_elem` | queue or stack, value buffer → 0 or -errno (`-ENOENT` when empty) |
//! | 118 | `jiffies64` | → platform tick counter |
//! | 121 | `xdp_output` | as `perf_event_output` |
//! | 130 | `ringbuf_output` | ring buffer, data, size, flags → 0 or -errno |
//! | 131 | `ringbuf_reserve` | ring buffer, size (known constant), flags → record or null |
//! | 132 | `ringbuf_submit` | reserved record, flags → nothing (the record goes to the consumer) |
//! | 133 | `ringbuf_discard` | reserved record, flags → nothing (the record is dropped) |
//! | 152 | `redirect_neigh` | ifindex, params or null, size, flags → `TC_ACT_REDIRECT` (tc) |
//! | 155 | `redirect_peer` | ifindex, flags → `TC_ACT_REDIRECT` (tc) |
//!
//! The helpers marked with program types are offered to those types only, as Linux offers
//! them; the verifier rejects a call from another type as a call to an unknown helper.
//!
//! A record from `ringbuf_reserve` is a reference: after a null check, every path must pass it
//! to `ringbuf_submit` or `ringbuf_discard` exactly once before `exit`, and must not touch it
//! after; the verifier rejects a program that does not.

mod fib;
mod map;
mod misc;
mod ringbuf;
mod skb;
mod xdp;

use crate::host::{ArgKind, Helper, HelperTable};

pub(crate) use fib::FIB_LOOKUP;
pub(crate) use map::{
    MAP_DELETE_ELEM, MAP_LOOKUP_ELEM, MAP_PEEK_ELEM, MAP_POP_ELEM, MAP_PUSH_ELEM, MAP_UPDATE_ELEM,
    TAIL_CALL,
};
pub(crate) use misc::{
    CSUM_DIFF, GET_PRANDOM_U32, GET_SMP_PROCESSOR_ID, JIFFIES64, KTIME_GET_NS, TRACE_PRINTK,
};
pub(crate) use ringbuf::{RINGBUF_DISCARD, RINGBUF_OUTPUT, RINGBUF_RESERVE, RINGBUF_SUBMIT};
pub(crate) use skb::{
    GET_HASH_RECALC, L3_CSUM_REPLACE, L4_CSUM_REPLACE, REDIRECT, REDIRECT_NEIGH, REDIRECT_PEER,
    SKB_ADJUST_ROOM, SKB_CHANGE_HEAD, SKB_CHANGE_PROTO, SKB_CHANGE_TAIL, SKB_CHANGE_TYPE,
    SKB_LOAD_BYTES, SKB_PULL_DATA, SKB_SET_TUNNEL_KEY, SKB_STORE_BYTES,
};
pub(crate) use xdp::{
    PERF_EVENT_OUTPUT, REDIRECT_MAP, XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL, XDP_OUTPUT,
};

/// Linux's `EINVAL`, negated as helpers return it.
pub(crate) const EINVAL: u64 = (-22i64) as u64;

/// Shorthand for prototypes.
pub(crate) const fn args(a: [ArgKind; 5]) -> [ArgKind; 5] {
    a
}

/// Every helper of this module, in id order.
pub static STANDARD: [Helper; 39] = [
    MAP_LOOKUP_ELEM,
    MAP_UPDATE_ELEM,
    MAP_DELETE_ELEM,
    KTIME_GET_NS,
    TRACE_PRINTK,
    GET_PRANDOM_U32,
    GET_SMP_PROCESSOR_ID,
    SKB_STORE_BYTES,
    L3_CSUM_REPLACE,
    L4_CSUM_REPLACE,
    TAIL_CALL,
    SKB_SET_TUNNEL_KEY,
    REDIRECT,
    PERF_EVENT_OUTPUT,
    SKB_LOAD_BYTES,
    CSUM_DIFF,
    SKB_CHANGE_PROTO,
    SKB_CHANGE_TYPE,
    GET_HASH_RECALC,
    SKB_CHANGE_TAIL,
    SKB_PULL_DATA,
    SKB_CHANGE_HEAD,
    XDP_ADJUST_HEAD,
    SKB_ADJUST_ROOM,
    REDIRECT_MAP,
    XDP_ADJUST_META,
    XDP_ADJUST_TAIL,
    FIB_LOOKUP,
    MAP_PUSH_ELEM,
    MAP_POP_ELEM,
    MAP_PEEK_ELEM,
    JIFFIES64,
    XDP_OUTPUT,
    RINGBUF_OUTPUT,
    RINGBUF_RESERVE,
    RINGBUF_SUBMIT,
    RINGBUF_DISCARD,
    REDIRECT_NEIGH,
    REDIRECT_PEER,
];

/// The helper Linux numbers `id`, from [`STANDARD`]; `None` for an id this crate does not
/// implement. A `const fn`, for an embedder's own `static` table.
pub const fn by_id(id: u32) -> Option<Helper> {
    let mut rest: &[Helper] = &STANDARD;
    while let [helper, tail @ ..] = rest {
        if helper.id == id {
            return Some(*helper);
        }
        rest = tail;
    }
    None
}

/// [`STANDARD`] as a table.
pub const fn standard() -> HelperTable<'static> {
    HelperTable::new(&STANDARD)
}

// Evaluated at compile time: an index out of bounds would fail the build, not a run.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const _: () = {
    // In id order, each id once.
    let mut i = 1;
    while i < STANDARD.len() {
        assert!(STANDARD[i - 1].id < STANDARD[i].id);
        i += 1;
    }
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_skb;
