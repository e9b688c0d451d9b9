//! Compilation options.

/// How to compile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitOptions {
    /// Constant blinding: every immediate the program chose (ALU and jump operands, stored
    /// values, `lddw` constants, legacy packet offsets) is emitted XORed with
    /// [`JitOptions::blinding_key`] and un-XORed at run time, so no program-chosen 32-bit
    /// pattern appears in executable memory. Shift counts (6 bits) and memory displacements are
    /// not blinded, as in Linux.
    pub constant_blinding: bool,
    /// The key of constant blinding: the caller passes a fresh random value per compilation.
    pub blinding_key: u32,
}

impl JitOptions {
    /// Options with constant blinding under `key`.
    pub const fn blinded(key: u32) -> JitOptions {
        JitOptions {
            constant_blinding: true,
            blinding_key: key,
        }
    }
}
