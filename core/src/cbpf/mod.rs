//! Classic BPF: the filters of tcpdump, libpcap and `SO_ATTACH_FILTER`, converted to eBPF.
//!
//! Linux runs every classic filter by converting it to eBPF; so does nanobpf. [`convert`]
//! turns a program of [`SockFilter`] instructions into eBPF slots in a buffer the caller owns,
//! without allocating. The result is a socket filter: verify it as
//! [`crate::ProgramType::SocketFilter`] and run it like any other program, so a converted
//! filter is proved safe before it runs.
//!
//! ## Mapping
//!
//! | classic | eBPF |
//! |---|---|
//! | A, X | r0, r7, 32-bit (`ALU32` and `JMP32` only) |
//! | context | r6 = r1, kept for `len` and the packet loads |
//! | `M[0..15]` | 16 words in the 64 bytes below r10 |
//! | `ld [k]`, `ld [x + k]` (W/H/B) | legacy `LD_ABS`/`LD_IND`: big-endian, out of bounds returns 0 |
//! | `ld #len` | 32-bit load of `__sk_buff.len` |
//! | `ldx 4*([k]&0xf)` | byte load through A (saved in r8), mask, shift, move to X |
//! | `div x`, `mod x` | a check that returns 0 when X is 0, then the operation |
//! | `lsh x`, `rsh x` | a check that sets A to 0 when X is 32 or more (libpcap), then the shift |
//! | `jeq/jgt/jge/jset` | one `JMP32` (inverted when only the false branch jumps), or two |
//! | `ret` | `mov32 r0, k` (or from X), `exit` |
//!
//! The prologue saves the context in r6, clears A and X, and clears each scratch word that
//! some instruction reads, so the verifier never sees an uninitialised read.
//!
//! Not supported: Linux's ancillary loads (negative offsets `SKF_AD_OFF`, `SKF_NET_OFF`,
//! `SKF_LL_OFF`); such a load reads out of bounds and ends the filter with 0, as in libpcap.
//! One difference from libpcap remains: an indirect load whose `X + k` overflows 32 bits wraps
//! (as in Linux) where libpcap ends the filter with 0; libpcap's compiler never emits one (its
//! X comes from `ldx 4*([k]&0xf)`, at most 60).

mod convert;
mod error;
mod filter;
mod lower;

pub use convert::{convert, output_bound};
pub use error::{CbpfError, CbpfErrorKind};
#[cfg(test)]
use filter::code;
pub use filter::{SockFilter, MAX_CLASSIC_INSNS};

#[cfg(test)]
mod tests;
