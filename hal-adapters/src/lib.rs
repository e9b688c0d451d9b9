//! # nanobpf-hal
//!
//! nanobpf on hardware: where frames come from device rings, an XDP program decides, and the
//! runtime carries the verdict out. `#![no_std]`, no allocation, no `unsafe`.
//!
//! - [`PacketRing`]: the small trait a NIC or MAC driver implements: receive descriptors in,
//!   transmit descriptors out, fixed buffers whose ownership the trait's docs pin down.
//! - [`MemRing`]: an in-memory descriptor ring with fixed buffers and headroom, like a NIC's DMA
//!   ring, fed and drained by the host (capture replay, tests, emulated boards).
//! - [`XdpRunner`]: per received frame, builds the XDP context, runs the program on any
//!   [`XdpEngine`] (the interpreter through [`Engine`]; a JIT the same way) and acts on the
//!   verdict (pass, drop, transmit, redirect to another port), with per-verdict [`Counters`].
//! - `XdpDevice` (feature `smoltcp`): an XDP hook in front of any smoltcp `phy::Device`.
//! - [`HalPlatform`]: helpers backed by embedded-hal: a [`Clock`] for `bpf_ktime_get_ns`, GPIO
//!   output pins a program drives with [`GPIO_SET`], `bpf_trace_printk` to defmt.
//!
//! ```
//! use nanobpf_core::{assemble, helpers, Insn, Interpreter, NoPlatform, Program};
//! use nanobpf_hal::{Engine, MemRing, XdpRunner};
//!
//! // Pass frames of at least 60 bytes, drop the rest. (The context is Linux's `struct xdp_md`
//! // on every engine: data at offset 0, data_end at 4.)
//! let src = "
//!     ldxw %r2, [%r1]
//!     ldxw %r3, [%r1+4]
//!     sub %r3, %r2
//!     mov %r0, 1
//!     jlt %r3, 60, out
//!     mov %r0, 2
//! out:
//!     exit";
//! let mut insns = [Insn::default(); 16];
//! let n = assemble(src, &mut insns).unwrap();
//! let program = Program::new(&insns[..n]).unwrap();
//! static PLATFORM: NoPlatform = NoPlatform;
//! let vm = Interpreter::new(helpers::standard(), &PLATFORM);
//! let mut runner = XdpRunner::new(Engine::new(vm, program));
//!
//! let mut port: MemRing<8, 512> = MemRing::new();
//! port.inject(&[0u8; 64]).unwrap();
//! port.inject(&[0u8; 20]).unwrap();
//! let mut passed = 0;
//! assert_eq!(runner.poll(&mut port, &mut [], |_frame| passed += 1, 16), 2);
//! assert_eq!((runner.counters().pass, runner.counters().drop, passed), (1, 1, 1));
//! assert_eq!(port.accounted().free, 8); // every buffer is back
//! ```
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `smoltcp` | off | `XdpDevice`: an XDP hook in front of any smoltcp `phy::Device` |
//! | `defmt` | off | `bpf_trace_printk` output through `defmt::println!`; `defmt::Format` on the public data types |
//! | `slot` | off | `SlotEngine`: the runner over whatever program a `nanobpf_core::ProgramSlot` runs (turns on the core's `arena` feature) |
//!
//! Both build for `thumbv7em-none-eabihf`. Host tests cannot link with `defmt` (it needs a
//! defmt logger and linker script), so the feature is checked by cross-building.
//!
//! ## Not supported
//!
//! - Redirects to a port of another driver type go through `&mut dyn PacketRing` and copy the
//!   frame; no zero-copy buffer exchange between ports.
//! - `XDP_REDIRECT` through the smoltcp hook (there is one port): counted as a failed redirect.
//! - The `data_meta` area is not carried across to the stack or a transmit.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

mod engine;
mod mem_ring;
mod platform;
mod ring;
mod runner;
#[cfg(test)]
mod testutil;
// Also under test: smoltcp is a dev-dependency, so `cargo test` covers the hook by default.
#[cfg(any(feature = "smoltcp", test))]
mod smoltcp_device;

#[cfg(feature = "slot")]
pub use engine::SlotEngine;
pub use engine::{in_context, Engine, XdpAction, XdpEngine};
pub use mem_ring::{Counts, InjectError, InjectErrorKind, MemRing, XDP_PACKET_HEADROOM};
pub use platform::{hal_helpers, Clock, HalPlatform, NoClock, GPIO_SET, GPIO_SET_ID, HAL_HELPERS};
pub use ring::{BufId, Desc, PacketRing};
pub use runner::{Counters, XdpRunner};
#[cfg(any(feature = "smoltcp", test))]
pub use smoltcp_device::{XdpDevice, XdpRxToken};
