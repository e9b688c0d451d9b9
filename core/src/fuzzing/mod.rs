//! Fuzzing logic: the targets of the `fuzz/` package as plain functions over bytes, so that
//! `cargo test` runs the same logic on a small deterministic corpus and cargo-fuzz runs it on
//! mutated inputs.
//!
//! Host-only test code behind the `fuzzing` feature (which implies `std`): unlike the rest of
//! the crate it allocates.
//!
//! # Targets
//!
//! Each takes any byte slice, returns normally, or panics with a message that names the
//! finding:
//!
//! | target | what it checks |
//! |---|---|
//! | [`decode_verify`] | arbitrary slots decode and verify without panicking, in bounded time; an accepted program passes the run oracle |
//! | [`verify_then_run`] | structure-aware programs (packet guards, map lookups with null checks, loops, helper and local calls, linked copies of numbers, and the classes of once-accepted unsafe programs of `classes.rs`); every accepted one passes the run oracle |
//! | [`maps_ops`] | operation sequences on hash, array, LRU hash and LPM trie maps agree with a model |
//! | [`elf_load`] | mutated ELF objects parse, list their maps and programs, load and verify without panicking, and the loader's views of an object agree |
//! | [`asm_roundtrip`] | disassembling arbitrary slots and assembling the text gives the same slots; arbitrary text never panics the assembler |
//!
//! # The run oracle
//!
//! A program the verifier accepted runs on the checking interpreter
//! ([`Interpreter::run_checked`](crate::Interpreter::run_checked)), which must not trap at all:
//! every access in bounds, every helper known, the budget never spent. It runs twice, over two
//! stacks filled with different garbage, and must return the same value (a verified program
//! never reads stack it did not write). The first run must also leave what no trap shows: no
//! ring buffer record reserved, the read-only map (`BPF_F_RDONLY_PROG`) unchanged, and no host
//! address (of the stack, the buffer or the maps) in a map or the buffer. Then the verified
//! engine
//! ([`Interpreter::run`](crate::Interpreter::run), re-checking with `extra-checks`) runs on the
//! same inputs at the same addresses and must agree: same r0, same buffer, same map contents.
//! Running the unchecked engine is sound even without `extra-checks`, because the checked run
//! has just shown that this exact execution stays in bounds.
//!
//! # Inputs
//!
//! Generators draw their choices from a [`Source`]: [`Bytes`] reads them from the fuzzer's
//! input (so that mutations change programs locally), [`Rng`] from a seeded xorshift generator
//! (for tests).

// Test code, like the `tests` modules the crate-level deny leaves out: host-only (feature
// `fuzzing`), it indexes its own generators' tables and reports findings by panicking.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod asm;
mod classes;
mod decode;
mod elf;
mod gen;
mod maps;
mod oracle;
#[cfg(feature = "arena")]
mod slot;
mod structured;

#[cfg(test)]
mod tests;

pub use asm::asm_roundtrip;
pub use decode::decode_verify;
pub use elf::elf_load;
pub use gen::{link_program, memory_program, xdp_program, MEMORY_LEN};
pub use maps::maps_ops;
pub use oracle::{check_program, Fixture, FuzzMaps, Outcome, RunInput, Snapshot, VERIFY_BUDGET};
#[cfg(feature = "arena")]
pub use slot::slot_load;
pub use structured::{structured_program, verify_then_run, Flavor};

/// Where a generator's choices come from.
pub trait Source {
    /// Any 64-bit value.
    fn next_u64(&mut self) -> u64;

    /// A value below `n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64;

    /// Whether the input is used up (a generator should then wind down).
    fn exhausted(&self) -> bool {
        false
    }

    /// One of `xs`, which must not be empty.
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        let i = self.below(xs.len() as u64) as usize;
        xs[i.min(xs.len() - 1)]
    }

    /// True with probability `num / den`.
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// A seeded xorshift64 generator: the same seed gives the same choices.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Source for Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Choices read from a fuzzer's input, a few bytes per choice (as few as the range needs);
/// zeros once the input is used up.
#[derive(Clone, Debug)]
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    /// The next `n` bytes as a little-endian number (`n` at most 8), zero-padded.
    fn take(&mut self, n: usize) -> u64 {
        let k = n.min(self.data.len());
        let (head, rest) = self.data.split_at(k);
        self.data = rest;
        head.iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    }

    /// The unread bytes, consumed.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }
}

impl Source for Bytes<'_> {
    fn next_u64(&mut self) -> u64 {
        self.take(8)
    }

    fn below(&mut self, n: u64) -> u64 {
        let bytes = match n {
            0 | 1 => return 0,
            2..=0x100 => 1,
            0x101..=0x1_0000 => 2,
            0x1_0001..=0x1_0000_0000 => 4,
            _ => 8,
        };
        self.take(bytes) % n
    }

    fn exhausted(&self) -> bool {
        self.data.is_empty()
    }
}
