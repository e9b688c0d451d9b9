#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

mod check;
mod emit;
mod error;
mod native;
mod program;
mod rt;
mod state;
mod thumb;

pub use error::{CheckFailure, JitError, JitErrorKind};
pub use native::{compile_unchecked, ExecRegion};
pub use program::{compile, JitProgram, JitWorkspace, MAX_PROGRAMS};

#[cfg(test)]
mod tests;
