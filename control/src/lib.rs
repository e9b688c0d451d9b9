//! # nanobpf-control
//!
//! The device side of nanobpf's control channel: an operator uploads a program signed with
//! Ed25519, the device verifies the signature, the version and then the program, and
//! replaces the running program atomically through its [`ProgramSlot`]; status, counters and
//! map access go through the same channel. `#![no_std]`, no allocation, no `unsafe`.
//!
//! - [`wire`]: frames (magic, version, kind, sequence number, length, payload, CRC-32),
//!   requests and responses, encoded and decoded in place. `docs/control.md` specifies them
//!   byte by byte, for other implementations.
//! - [`Device`]: the state machine. It holds the caller's upload buffer (`&mut [u8; N]`), a
//!   [`Target`] (a [`SlotTarget`]: the slot, its arena, the verifier's workspace) and the
//!   public key; [`Device::handle`] answers one datagram with one response. Uploads, map
//!   writes and unloads are always signed; [`Device::signed_only`] makes every request need
//!   a signature, reads included.
//! - [`Datagrams`]: the transport trait; [`Device::poll`] serves one datagram from it.
//! - [`Serial`]: [`Datagrams`] over any [`ByteStream`] (a UART), frames delimited with COBS
//!   ([`serial`]).
//!
//! Every refusal is a [`Status`] code with two detail numbers and a message; no input
//! panics (a fuzz target, `fuzzing::control` with feature `fuzzing`, drives the parser
//! and the state machine).
//!
//! Signatures are checked with `ed25519-dalek` (no default features: no_std, no alloc);
//! nanobpf implements no cryptography of its own.
//!
//! [`ProgramSlot`]: nanobpf_core::ProgramSlot
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `fuzzing` | off | `fuzzing::control` and `fuzzing::serial`, the fuzz targets as library code (host only; uses std) |
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "fuzzing"))]
extern crate std;

mod device;
mod error;
pub mod serial;
mod transport;
pub mod wire;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
#[cfg(test)]
mod tests;

pub use device::{BadKey, Device, LastCommit, SlotTarget, Target, MAX_KEY, MAX_VALUE};
pub use error::{Refusal, Status};
pub use serial::{ByteStream, Serial};
pub use transport::Datagrams;
pub use wire::{Auth, Kind, Request, Response, UploadHeader};
