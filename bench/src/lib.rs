//! # nanobpf-bench
//!
//! Benchmarks of the nanobpf interpreter against the physical limit (the same C compiled
//! natively with clang `-O2`) and against the peer most Rust users would pick instead, the
//! `rbpf` crate (its interpreter and, on x86-64, its JIT), all on the same bytecode and the same
//! input bytes, in the same process.
//!
//! - [`Bench`] names a program of `examples/bench/` (committed as raw bytecode, `.bin`, or for
//!   the program with maps as an ELF object, `.o`, loaded by nanobpf's loader into a [`Code`])
//!   and its native build; [`Case`] pairs it with an input; [`TABLE_CASES`] is the table's rows.
//! - The maps program (a flow counter over [`flow_batch`]) runs on every engine with the same
//!   map implementation, nanobpf's hash map, one [`FlowMap`] per engine ([`flow_map`]).
//! - [`Engine`] names a column; [`Runner`] runs one program on one engine.
//! - [`measure`] is the harness of the `bench-table` binary: warm-up, then the median of
//!   several timed batches.
//! - [`count_insns`] finds the exact number of instructions a run executes, by bisection on the
//!   interpreter's instruction budget.
//! - [`MapBench`] times host-side lookups and updates of the array, hash, LRU hash and LPM
//!   trie maps at the sizes of [`MAP_SIZES`].
//! - [`FilterCase`] (with libpcap installed: it is loaded at run time) runs a tcpdump expression of
//!   [`FILTER_EXPRESSIONS`] over the sample capture on libpcap's own classic BPF interpreter,
//!   on nanobpf's interpreter and on nanobpf's JIT; [`filter_rows`] times them all.
//!
//! See `README.md` in this folder for the results and how to reproduce them.

mod code;
mod engines;
mod filters;
mod flows;
mod maps;
mod native;
#[cfg(all(target_arch = "x86_64", not(windows)))]
mod rbpf_jit;
mod timing;
mod workload;

pub use code::Code;
#[cfg(all(target_arch = "x86_64", not(windows)))]
pub use engines::RbpfJit;
pub use engines::{count_insns, Engine, NanobpfChecked, NanobpfVerified, RbpfInterp, Runner};
#[cfg(target_arch = "x86_64")]
pub use engines::{CompileTime, NanobpfJit};
pub use filters::{
    filter_geomean, filter_rows, sample_capture, FilterCase, FilterEngine, FilterRow,
    FILTER_EXPRESSIONS,
};
pub use flows::{clear as clear_flow_map, flow_map, FlowMap, FLOW_ENTRIES, FLOW_KEY, FLOW_VALUE};
pub use maps::{MapBench, MapRow, MAP_SIZES, OPS_PER_CALL};
pub use native::run_native;
pub use timing::{geomean, measure, Measurement, Timing};
pub use workload::{
    flow_batch, flow_record, input, tcp_packet, Bench, Case, Input, Source, FLOW_MAP_OPS,
    FLOW_RECORD, FLOW_RECORDS, SHORT_FLOWS, STABLE_FLOWS, TABLE_CASES,
};
