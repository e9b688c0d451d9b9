//! The library half of the `nanobpf` host tool: the conformance `.data` reader, the engines
//! behind one trait, and the harness that runs test vectors over every engine; the `run`,
//! `verify` and `filter` commands with their text and `--json` reports; the operator's side
//! of the control channel (`keygen`, `sign`, `device`) and the host agent (`serve`).
//!
//! Nothing outside Rust is linked: captures are read and written in Rust ([`capture`]), and
//! libpcap, which only `nanobpf filter 'EXPR'` needs, is loaded at run time by [`libpcap`],
//! the one module with `unsafe` code.

pub mod capture;
pub mod conformance;
pub mod corpus;
pub mod data;
pub mod device;
pub mod device_cmd;
pub mod engine;
pub mod filter;
pub mod libpcap;
pub mod maps;
pub mod progress;
pub mod run;
pub mod selftest;
pub mod serve;
pub mod sign;
pub mod verify;
