//! The library half of the `nanobpf` host tool: the conformance `.data` reader, the engines
//! behind one trait, and the harness that runs test vectors over every engine.

pub mod capture;
pub mod conformance;
pub mod data;
pub mod engine;
pub mod filter;
pub mod hostmaps;
pub mod libpcap;
pub mod progress;
pub mod run;
pub mod verify;
