//! `decode_verify`: arbitrary bytes through the strict decoder and the verifier.

use super::oracle::Fixture;
use super::{Bytes, Source};
use crate::host::ProgramType;
use crate::isa::{Insn, Program};
use std::vec::Vec;

/// The most slots a fuzzed program has: enough for loops and calls, small enough that the
/// verifier finishes quickly.
const MAX_SLOTS: usize = 512;

/// Decodes `data` as a program and verifies it: the first byte picks the program type, the
/// rest are slots (at most 512). Neither step may panic, and the verifier's budget bounds its
/// time. A program the verifier accepts goes through the run oracle.
///
/// # Panics
/// On a finding only: a panic inside the decoder or the verifier, a disagreement between
/// [`Program::new`] and the verifier's decoding, or an oracle failure.
pub fn decode_verify(data: &[u8]) {
    let mut src = Bytes::new(data);
    let pt = match src.below(4) {
        0 => ProgramType::Memory { len: 64 },
        1 => ProgramType::Memory { len: 0 },
        2 => ProgramType::Xdp,
        _ => ProgramType::SocketFilter,
    };
    let bytes = src.rest();
    let bytes = bytes.get(..MAX_SLOTS * 8).unwrap_or(bytes);
    let mut buf = [Insn::default(); MAX_SLOTS];
    let decoded = Program::from_bytes(bytes, &mut buf).map(|p| p.len());
    let insns: Vec<Insn> = bytes
        .chunks_exact(8)
        .map(|c| Insn::from_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    // The slice decoder agrees with the byte decoder.
    let strict = Program::new(&insns).map(|p| p.len());
    if bytes.len() % 8 == 0 {
        assert_eq!(
            decoded, strict,
            "Program::from_bytes and Program::new disagree"
        );
    }
    // The run inputs of an accepted program are drawn from its own bytes.
    let mut fixture = Fixture::new();
    fixture.runs = 1;
    let mut inputs = Bytes::new(bytes);
    let _ = fixture.check(&insns, pt, &mut inputs);
}
