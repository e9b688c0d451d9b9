//! # nanobpf-core
//!
//! The heart of nanobpf, an eBPF runtime for firmware and SmartNIC data planes. This crate is
//! `#![no_std]` and **never allocates**: every buffer is the caller's, sized by const generics
//! where it lives in a `static`.
//!
//! The pipeline: bytes (or an assembled text, or an ELF object) are decoded strictly into a
//! [`Program`]; the [`verifier`] proves it safe against a helper table and a map table and
//! returns a [`VerifiedProgram`] that holds both; engines run it with them ([`Interpreter`],
//! and the JIT crates). Maps are created from a program's definitions in a [`maps::MapArena`]
//! or declared as `static`s of const-generic types; a [`slot::ProgramSlot`] loads an object at
//! run time and replaces the running program atomically.
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `extra-checks` | off | re-checks every memory access at run time against the regions of the run and traps on a failed check; the soundness oracle for tests and fuzzing |
//! | `std` | off | std-only conveniences and tests (concurrency stress tests); nothing in the runtime path |
//! | `metering` | on | the instruction budget (`Runtime::with_budget`, `Interpreter::with_budget`), honoured by the interpreter and the JIT; off, the interpreter's loop has no metered copy and a budget cannot be set |
//! | `arena` | on | map tables over the maps a `MapArena` creates (`MapTable::from_any`, `MapSet::table`) and the program slots that load objects into them (`slot`); off, a table holds only `&dyn Map` slots and a board that binds const-generic maps links no dispatch code for map types it does not use |
//! | `fuzzing` | off | the fuzz targets' logic in `fuzzing` (implies `std` and `metering`; host-only, allocates) |
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod asm;
pub mod cbpf;
pub mod elf;
pub mod env;
pub mod helpers;
pub mod interp;
pub mod isa;

pub use isa::{supported_groups, DecodeError, DecodeErrorKind, Field, Groups, Insn, Program, Reg};

pub use asm::{
    assemble, assemble_with, disassemble_insn, insn_len, AsmError, AsmErrorKind, Disasm, Labels,
    MAX_LABELS,
};
pub use elf::{LoadError, LoadErrorKind, LoadedProgram, MapInfo, Object, ProgramInfo};
pub use env::{ProgramType, Stack, Trap};

pub use cbpf::{convert as convert_classic, CbpfError, CbpfErrorKind, SockFilter};

mod mem;
mod runtime;
mod verified;

pub use interp::Interpreter;
pub use runtime::{
    Context, NoPlatform, RedirectKind, Run, Runtime, SkBuff, TcBuff, TcRedirect, TunnelKey, XdpBuff,
};
pub use verified::VerifiedProgram;

pub mod maps;
#[cfg(feature = "arena")]
pub mod slot;

pub use maps::{
    AnyMap, ArenaError, ArenaStorage, ArrayMap, CpuMap, DevMap, HashMap, LpmTrie, LruHashMap, Map,
    MapArena, MapError, MapSet, PerCpuArray, ProgArray, QueueMap, Redirect, RingBuf, StackMap,
    XskMap,
};

pub mod verifier;

// The fuzz logic's oracle runs programs under an instruction budget, so its tests need
// `metering` (on by default).
#[cfg(any(all(test, feature = "metering"), feature = "fuzzing"))]
pub mod fuzzing;

pub use verifier::{
    verify, verify_with_log, DefaultWorkspace, TooComplexReason, VerifierWorkspace, VerifyEnv,
    VerifyError, VerifyErrorKind,
};
