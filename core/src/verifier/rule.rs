//! The soundness rules a fuzzing build can lift one at a time.

/// A soundness rule that tests and fuzzing builds can switch off (`verify_lifting`), to show
/// that the soundness fuzz target finds the hole the rule closes. Each is a class of unsafe
/// program the verifier once accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Rule {
    /// The difference of two pointers into the same region is a constant only when both are
    /// derived from one base (same stack frame, same packet pointer family); two map values
    /// may be two elements.
    PointerDifference,
    /// A spilled pointer that a helper invalidates (packet pointers after a frame moves, a
    /// ring buffer record after its release) reads back as an unknown number, at any width.
    InvalidatedSpill,
    /// No legacy packet load (`ld_abs`, `ld_ind`, which may end the program) while holding a
    /// reference.
    LdAbsWithReference,
    /// A helper that reads stack memory may not see a spilled pointer there (it would copy a
    /// host address into a map).
    PointerInHelperMemory,
    /// No program write into a map marked [`BPF_F_RDONLY_PROG`](crate::host::BPF_F_RDONLY_PROG).
    ReadOnlyMap,
}

impl Rule {
    /// Its bit in a set of rules.
    pub(crate) const fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Every rule.
    #[cfg(any(all(test, feature = "metering"), feature = "fuzzing"))]
    pub const ALL: [Rule; 5] = [
        Rule::PointerDifference,
        Rule::InvalidatedSpill,
        Rule::LdAbsWithReference,
        Rule::PointerInHelperMemory,
        Rule::ReadOnlyMap,
    ];
}
