//! rbpf's x86-64 JIT, made safe to call by running each program first under rbpf's checked
//! interpreter on the exact input the JIT will see.

#![allow(unsafe_code)]

use crate::engines::{rbpf_program, RbpfInterp};

/// rbpf's JIT with its own copy of one input.
///
/// rbpf's JIT code checks no memory access. [`RbpfJit::new`] first runs the program under
/// rbpf's interpreter, which checks every access, on a copy of the input; the JIT then only ever
/// runs on that same copy, which the benchmark programs (deterministic, read-only) cannot
/// change, so every run makes the same accesses the interpreter accepted.
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
    /// Checks `bytecode` on `input` with rbpf's interpreter, then compiles it.
    ///
    /// # Errors
    /// rbpf's error, as text.
    pub fn new(bytecode: &[u8], input: &[u8]) -> Result<Self, String> {
        let mut buf = input.to_vec();
        let expected = RbpfInterp::new(bytecode, buf.len())?.run(&mut buf)?;
        if buf != input {
            return Err("the program wrote to its input".into());
        }
        let mut vm = rbpf::EbpfVmRaw::new(Some(rbpf_program(bytecode, buf.len())?))
            .map_err(|e| format!("rbpf: {e}"))?;
        vm.jit_compile().map_err(|e| format!("rbpf JIT: {e}"))?;
        Ok(RbpfJit { vm, buf, expected })
    }

    /// What rbpf's interpreter returned on this input.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// Runs the compiled program on its input.
    #[inline]
    pub fn run(&mut self) -> u64 {
        // SAFETY: the program ran to completion under rbpf's interpreter, every memory access
        // checked, on a buffer of the same bytes as `self.buf` (see `new`); it is deterministic,
        // takes no helper and does not write its input, so this run makes the same, accepted,
        // accesses. `self.buf` is borrowed mutably for the call.
        let r = unsafe { self.vm.execute_program_jit(&mut self.buf) };
        r.unwrap_or(u64::MAX)
    }
}
