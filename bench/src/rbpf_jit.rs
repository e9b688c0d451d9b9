//! rbpf's x86-64 JIT, made safe to call by running each program first under rbpf's checked
//! interpreter on the exact input the JIT will see.

#![allow(unsafe_code)]

use crate::code::Code;
use crate::engines::{rbpf_vm, Engine, NanobpfVerified, RbpfInterp};

/// rbpf's JIT with its own copy of one input.
///
/// rbpf's JIT code checks no memory access. [`RbpfJit::new`] first runs the program under
/// rbpf's interpreter, which checks every access, on a copy of the input; the JIT then only ever
/// runs on that same copy, which the benchmark programs (deterministic, read-only on their
/// input) cannot change. A program without maps then makes the same accesses the interpreter
/// accepted on every run. The maps program takes other paths as its map changes (a hit or a
/// miss), so it is also verified by nanobpf's verifier first: its accesses beyond the input and
/// the stack are to the 16-byte values the lookup helper returns, which lie in a `static` map
/// and stay valid for the process.
pub struct RbpfJit {
    vm: rbpf::EbpfVmRaw<'static>,
    buf: Vec<u8>,
    expected: u64,
}

impl core::fmt::Debug for RbpfJit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RbpfJit")
            .field("len", &self.buf.len())
            .finish()
    }
}

impl RbpfJit {
    /// Checks `code` on `input` with rbpf's interpreter (and nanobpf's verifier, for a program
    /// with maps), then compiles it. The maps program uses the rbpf JIT's flow map, from the state the interpreter's run
    /// left it in.
    ///
    /// # Errors
    /// nanobpf's verifier's or rbpf's error, as text.
    pub fn new(code: &Code, input: &[u8]) -> Result<Self, String> {
        if code.has_maps() {
            NanobpfVerified::new(code, input.len())
                .map_err(|e| format!("not run without nanobpf's proof: {e}"))?;
        }
        let mut buf = input.to_vec();
        let expected = RbpfInterp::new(code, buf.len(), Engine::RbpfJit)?.run(&mut buf)?;
        if buf != input {
            return Err("the program wrote to its input".into());
        }
        let mut vm = rbpf_vm(code, buf.len(), Engine::RbpfJit)?;
        vm.jit_compile().map_err(|e| format!("rbpf JIT: {e}"))?;
        Ok(RbpfJit { vm, buf, expected })
    }

    /// What rbpf's interpreter returned on this input (on the first run, for the maps program).
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// Runs the compiled program on its input.
    #[inline]
    pub fn run(&mut self) -> u64 {
        // SAFETY: the program ran to completion under rbpf's interpreter, every memory access
        // checked, on a buffer of the same bytes as `self.buf` (see `new`); it is deterministic
        // and does not write its input, so this run makes the same, accepted, accesses, except
        // that the maps program (which nanobpf's verifier also proved safe on buffers of this
        // length) may take the other branch of a lookup, which accesses only the value the
        // helper returned (see the type's documentation). `self.buf` is borrowed mutably for
        // the call.
        let r = unsafe { self.vm.execute_program_jit(&mut self.buf) };
        r.unwrap_or(u64::MAX)
    }
}
