//! # nanobpf-core
//!
//! The heart of nanobpf, an eBPF runtime for firmware and SmartNIC data planes. This crate is
//! `#![no_std]` and **never allocates**: every buffer is the caller's, sized by const generics
//! where it lives in a `static`.
//!
//! The pipeline: bytes (or an assembled text, or an ELF object) are decoded strictly into a
//! [`Program`]; the verifier ([`verify`]) proves it safe against a helper table and a map table and
//! returns a [`VerifiedProgram`] that holds both; engines run it with them ([`Interpreter`],
//! and the JIT crates). Maps are created from a program's definitions in a [`MapArena`]
//! or declared as `static`s of const-generic types; a [`ProgramSlot`] loads an object at
//! run time and replaces the running program atomically.
//!
//! ## From bytes to a verdict
//!
//! ```
//! use nanobpf_core::{
//!     assemble, helpers, verify, Context, DefaultWorkspace, Insn, Interpreter, MapTable,
//!     NoPlatform, ProgramType, Stack, VerifyTarget, XdpBuff,
//! };
//!
//! // An XDP program: drop frames shorter than an Ethernet header (1, XDP_DROP), pass the
//! // others (2, XDP_PASS). It reads `struct xdp_md` as Linux lays it out.
//! let src = "ldxw %r2, [%r1+0]\n ldxw %r3, [%r1+4]\n mov %r0, 1\n mov %r4, %r2\n \
//!            add %r4, 14\n jgt %r4, %r3, +1\n mov %r0, 2\n exit";
//! let mut insns = [Insn::default(); 16];
//! let n = assemble(src, &mut insns).expect("the text assembles");
//!
//! // The verifier proves it safe for XDP, with the standard helpers and no maps, in a
//! // workspace the caller owns (a `static` on a board).
//! let target = VerifyTarget::new(ProgramType::Xdp, helpers::standard(), MapTable::definitions(&[]));
//! let mut workspace = Box::new(DefaultWorkspace::new());
//! let program = verify(&mut insns[..n], &target, &mut workspace).expect("the verifier accepts it");
//!
//! // The interpreter runs it on frames in buffers with headroom, as a driver's ring lends them.
//! let interpreter = Interpreter::new(helpers::standard(), &NoPlatform);
//! let mut stack = Stack::new();
//! for (len, verdict) in [(60, 2), (10, 1)] {
//!     let mut buf = [0u8; 256 + 64];
//!     let mut ctx = Context::Xdp(XdpBuff::new(&mut buf, 256, len));
//!     assert_eq!(interpreter.run(&program, &mut ctx, &mut stack), Ok(verdict));
//! }
//! ```
//!
//! ## One way in
//!
//! Every public item has exactly one path. The modules are private and the root re-exports
//! the API, grouped by topic: the types and functions an embedder uses are
//! `nanobpf_core::Name`. Only families of constants that Linux names as families, and two
//! modules not meant for embedders, keep a namespace:
//!
//! | module | what |
//! |---|---|
//! | [`opcode`] | opcode bytes and their parts (`opcode::BPF_ALU64`, `opcode::op::EXIT`) |
//! | [`helpers`] | Linux's helpers as [`Helper`] values (`helpers::MAP_LOOKUP_ELEM`) and [`helpers::standard`] |
//! | [`skb_field`], [`tc_act`] | `struct __sk_buff` offsets and `TC_ACT_*` verdicts |
//! | [`engine`] | for engines (the interpreter and the JIT crates), not for embedders |
//! | `fuzzing` | the fuzz targets' logic (feature `fuzzing`) |
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `extra-checks` | off | re-checks every memory access at run time against the regions of the run and traps on a failed check; the soundness oracle for tests and fuzzing |
//! | `std` | off | std-only conveniences and tests (concurrency stress tests); nothing in the runtime path |
//! | `metering` | on | the instruction budget (`Runtime::with_budget`, `Interpreter::with_budget`), honoured by the interpreter and the JIT; off, the interpreter's loop has no metered copy and a budget cannot be set |
//! | `arena` | on | map tables over the maps a `MapArena` creates (`MapTable::from_any`, `MapSet::table`) and the program slots that load objects into them (`ProgramSlot`); off, a table holds only `&dyn Map` slots and a board that binds const-generic maps links no dispatch code for map types it does not use |
//! | `fuzzing` | off | the fuzz targets' logic in `fuzzing` (implies `std` and `metering`; host-only, allocates) |
//!
//! ## Indexing and arithmetic
//!
//! Library code denies `clippy::indexing_slicing` and `clippy::arithmetic_side_effects`: it
//! uses `get`, `checked_*`, `saturating_*` and `wrapping_*`, so that no index and no integer
//! overflow can panic. The modules that allow them, each stating its invariant at the top:
//!
//! - `mem`: arithmetic on addresses of live borrows and on offsets checked against their region.
//! - `interp::exec`: registers indexed by 4-bit fields into 16 entries; the hot loop stays plain.
//! - `interp::alu`: BPF arithmetic wraps by definition; divisors are tested non-zero first.
//! - `fuzzing`: test code (feature `fuzzing`), which reports findings by panicking.
//!
//! One item outside them allows both: the compile-time check that [`helpers::standard`] is in
//! id order, where an index out of bounds would fail the build.
#![no_std]
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
#![deny(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod asm;
mod cbpf;
mod elf;
mod host;
mod interp;
mod isa;
mod maps;
mod mem;
mod runtime;
#[cfg(feature = "arena")]
mod slot;
mod verified;
mod verifier;

pub mod engine;
pub mod helpers;
// The fuzz logic's oracle runs programs under an instruction budget, so its tests need
// `metering` (on by default).
#[cfg(any(all(test, feature = "metering"), feature = "fuzzing"))]
pub mod fuzzing;

pub use host::{skb_field, tc_act};
pub use isa::opcode;

// Instructions: the 8-byte slot, strict decoding, conformance groups.
pub use isa::{
    decode_slots, supported_groups, ConformanceGroups, DecodeError, DecodeErrorKind, Insn,
    InsnField, Program, MAX_INSNS,
};

// The text assembler and disassembler (the bpf_conformance syntax).
pub use asm::{assemble, disassemble_insn, AsmError, AsmErrorKind, Disasm};

// Classic BPF (`tcpdump -ddd`) converted to eBPF.
pub use cbpf::{
    convert as convert_classic, output_bound as classic_output_bound, CbpfError, CbpfErrorKind,
    SockFilter, MAX_CLASSIC_INSNS,
};

// ELF objects: programs, maps and BTF types as clang and libbpf lay them out.
pub use elf::{
    unsupported_program_kind, BtfEnumerator, BtfMember, BtfType, BtfTypeId, BtfTypeKind, BtfTypes,
    LoadError, LoadErrorKind, LoadedProgram, MapInfo, MapSource, Object, ProgramInfo,
    ProgramOrigin, SectionName, SectionRef, UnsupportedMap, MAX_FUNCTIONS, MAX_MAPS, MAX_SECTIONS,
};

// What the embedder gives the verifier and the engines: the program type and its context
// layout, helpers and their prototypes, platform services, the stack, traps.
pub use host::{
    ArgKind, FibOutcome, FibQuery, FibRoute, Helper, HelperCall, HelperFn, HelperProto,
    HelperTable, Platform, ProgramType, RetKind, Route, Stack, StaticRoutes, Trap,
    BPF_F_RDONLY_PROG, MAX_CALL_FRAMES, STACK_FRAME_SIZE, STACK_SIZE,
};

// The verifier.
pub use verified::VerifiedProgram;
pub use verifier::{
    verify, verify_with_stats, DefaultWorkspace, LeakTarget, TooComplexReason, VerifierWorkspace,
    VerifyError, VerifyErrorKind, VerifyStats, VerifyTarget,
};
#[cfg(any(all(test, feature = "metering"), feature = "fuzzing"))]
pub use verifier::{verify_lifting, Rule};

// Running programs: the interpreter, the embedder's configuration, the contexts.
pub use interp::Interpreter;
pub use runtime::{
    Context, NoPlatform, RedirectKind, Runtime, SkBuff, TcBuff, TcRedirect, TunnelKey, XdpBuff,
};

// Maps: const-generic types for `static`s, views over caller-sized storage, the arena that
// creates an object's maps, and the table programs see.
pub use maps::{
    value_words, words_needed, AnyMap, ArenaError, ArenaErrorKind, ArenaStorage, ArrayMap,
    ArrayView, BpfHashMap, Carry, Consumed, CpuMap, DefField, DefMismatch, DevMap, HashView,
    LayoutError, LpmTrie, LpmView, LruHashMap, LruView, Map, MapArena, MapDef, MapError, MapSet,
    MapSizing, MapTable, MapType, PerCpuArray, PerfEventArray, PerfView, ProgArray, ProgArrayView,
    QueueMap, QueueStack, QueueView, Redirect, RedirectMap, RedirectView, RingBuf, RingBufView,
    StackMap, Word, XskMap, BPF_ANY, BPF_EXIST, BPF_NOEXIST,
};

// Programs loaded at run time and replaced atomically.
#[cfg(feature = "arena")]
pub use slot::{LoadReport, ProgramSlot, RunningProgram, SlotError, NAME_LEN as SLOT_NAME_LEN};
