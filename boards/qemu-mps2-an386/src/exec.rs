//! Executable memory for the Thumb-2 JIT: the board's data RAM (ZBT SSRAM2/3 at
//! `0x2000_0000`), which the Cortex-M4 may execute from (the MPS2 images set up no MPU region
//! and the core has no caches).
//!
//! This module and the LAN9118 register accessors are the board's only `unsafe` code.
#![allow(unsafe_code)]

use nanobpf_jit_thumb2::ExecRegion;

/// A JIT code buffer: a static in RAM, 4-byte aligned as the JIT requires.
#[repr(C, align(4))]
#[derive(Debug)]
pub struct CodeBuffer<const N: usize>(pub [u8; N]);

impl<const N: usize> CodeBuffer<N> {
    /// A zeroed buffer, for a `static`.
    pub const fn new() -> Self {
        CodeBuffer([0; N])
    }

    /// The buffer as a region the JIT writes code into and runs it from.
    pub fn region(&mut self) -> ExecRegion<'_> {
        // SAFETY: the buffer is in the board's RAM, which the core executes from (no MPU
        // region forbids it and there are no caches to maintain); it is borrowed exclusively
        // for the region's life, so nothing else writes or runs it meanwhile.
        unsafe { ExecRegion::new(&mut self.0) }
    }
}

impl<const N: usize> Default for CodeBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}
