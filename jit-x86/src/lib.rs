#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod check;
mod emit;
mod error;
mod native;
mod options;
mod program;
mod regs;

pub use error::{CheckFailure, JitError, JitErrorKind};
pub use native::ExecRegion;
pub use options::JitOptions;
#[cfg(feature = "std")]
pub use program::compile;
pub use program::{compile_into, JitProgram};

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
#[cfg(test)]
mod tests;
