//! # nanobpf-board-demo
//!
//! What every nanobpf board example runs, written once: an IPv4 firewall for XDP
//! (`src/firewall.s`, the hand-written twin of `examples/xdp_firewall.c`) is decoded and verified
//! on the device, its maps live in static storage, and a capture of [`gen::FRAMES`] frames
//! generated at build time (`src/gen.rs`, a seeded xorshift) is replayed through a
//! [`MemRing`](nanobpf_hal::MemRing) and the [`XdpRunner`]. The [`Report`] carries the verdict
//! counts and the maps' contents, and [`Report::check`] compares them with [`EXPECTED`], which
//! the host tests derive independently from the same capture.
//!
//! The crate is `#![no_std]`, has no allocator and no `unsafe`; a board supplies the storage
//! (see the board folders and `docs/porting.md`), a tick counter, and an output.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

mod capture;
mod error;
mod expected;
pub mod gen;
mod layout;
mod report;
#[cfg(test)]
mod tests;

/// `docs/porting.md`, whose examples run as this crate's doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/porting.md")]
pub struct PortingGuide;

pub use capture::{Capture, CaptureError, Frames};
pub use error::DemoError;
pub use expected::EXPECTED;
pub use layout::DEFS as MAP_DEFS;
pub use report::{Expected, Mismatch, Report, SourceCount, MAX_SOURCES};

use nanobpf_core::env::MapDef;
use nanobpf_core::maps::{ArrayMap, HashMap, LpmTrie, Map};
use nanobpf_core::{verify, Insn, Program, VerifiedProgram, VerifierWorkspace, VerifyEnv};
use nanobpf_hal::{MemRing, XdpEngine, XdpRunner};

/// The firewall as assembled, reading Linux's `struct xdp_md`: what the device verifies.
pub static PROGRAM: [u8; PROGRAM_LEN] = *include_bytes!(concat!(env!("OUT_DIR"), "/firewall.bin"));
const PROGRAM_LEN: usize = include_bytes!(concat!(env!("OUT_DIR"), "/firewall.bin")).len();

/// The firewall after the host ran the verifier over it at build time (context accesses
/// rewritten to the runtime layout): what an interpreter-only image runs with
/// `run_checked`, and what the device's own verifier must produce.
pub static PROGRAM_VERIFIED: [u8; PROGRAM_LEN] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/firewall.verified.bin"));

/// The capture: a pcap file of [`gen::FRAMES`] Ethernet frames.
pub static CAPTURE: [u8; CAPTURE_LEN] = *include_bytes!(concat!(env!("OUT_DIR"), "/capture.pcap"));
const CAPTURE_LEN: usize = include_bytes!(concat!(env!("OUT_DIR"), "/capture.pcap")).len();

/// Instruction slots the program buffer and the verifier workspace are sized for.
pub const MAX_INSNS: usize = 128;

/// The verifier workspace for this program: up to [`MAX_INSNS`] instructions, 16 chunks of
/// explored-state cache and 16 of pending branches. `Workspace::SIZE_BYTES` says how big.
pub type Workspace = VerifierWorkspace<MAX_INSNS, 16, 16>;

/// The receive ring: 16 buffers of 512 bytes (256 of headroom, as Linux gives XDP).
pub type Ring = MemRing<16, 512>;

/// Frames fed to the ring before each poll (every buffer comes back after a poll).
pub const BATCH: usize = 16;

/// The firewall's map storage, each map checked against [`MAP_DEFS`] by [`Maps::configure`].
pub struct Maps {
    /// Map 0: blocked source prefixes.
    pub blocklist: LpmTrie<4, 4, 1, 16>,
    /// Map 1: packets and bytes per IPv4 source.
    pub per_source: HashMap<4, 16, 2, 32>,
    /// Map 2: frames per XDP verdict.
    pub verdicts: ArrayMap<8, 1, 5>,
}

impl core::fmt::Debug for Maps {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Maps").finish_non_exhaustive()
    }
}

impl Default for Maps {
    fn default() -> Self {
        Self::new()
    }
}

impl Maps {
    /// Empty maps, for a `static`.
    pub const fn new() -> Self {
        Maps {
            blocklist: LpmTrie::new(),
            per_source: HashMap::new(),
            verdicts: ArrayMap::new(),
        }
    }

    /// The maps by index, for the interpreter's `MapTable`.
    pub fn table(&self) -> [&dyn Map; 3] {
        [&self.blocklist, &self.per_source, &self.verdicts]
    }

    /// Checks each map against the program's definition and fills the blocklist with
    /// [`gen::BLOCKLIST`].
    ///
    /// # Errors
    /// [`DemoError::MapDef`] when a storage type does not match its definition,
    /// [`DemoError::Map`] when the blocklist cannot take the prefixes.
    pub fn configure(&self) -> Result<(), DemoError> {
        for (index, (map, def)) in self.table().iter().zip(MAP_DEFS.iter()).enumerate() {
            map.check_def(def)
                .map_err(|_| DemoError::MapDef { index })?;
        }
        for (prefix_len, addr) in gen::BLOCKLIST {
            let mut key = [0u8; 8];
            key[..4].copy_from_slice(&prefix_len.to_le_bytes());
            key[4..].copy_from_slice(&addr);
            self.blocklist
                .update(&key, &1u32.to_le_bytes(), 0)
                .map_err(DemoError::Map)?;
        }
        Ok(())
    }
}

/// The definitions the verifier checks the program's map references against.
pub fn map_defs() -> &'static [MapDef] {
    &MAP_DEFS
}

/// Decodes [`PROGRAM`] into `insns` and verifies it for XDP with the standard helpers.
///
/// # Errors
/// [`DemoError::Decode`] when the bytes are not a program that fits `insns`,
/// [`DemoError::Verify`] when the verifier rejects it.
pub fn load<'a>(
    insns: &'a mut [Insn],
    ws: &mut Workspace,
) -> Result<VerifiedProgram<'a>, DemoError> {
    let n = nanobpf_core::isa::decode_slots(&PROGRAM, insns)
        .map_err(DemoError::Decode)?
        .len();
    let env = VerifyEnv::new(
        nanobpf_core::ProgramType::Xdp,
        nanobpf_core::helpers::standard(),
        map_defs(),
    );
    let insns = insns.get_mut(..n).unwrap_or_default();
    verify(insns, &env, ws).map_err(DemoError::Verify)
}

/// Decodes [`PROGRAM_VERIFIED`] (verified on the host at build time) into `insns`, for the
/// interpreter-only image that runs it with the checking interpreter.
///
/// # Errors
/// [`DemoError::Decode`] when the bytes are not a program that fits `insns`.
pub fn load_preverified(insns: &mut [Insn]) -> Result<Program<'_>, DemoError> {
    Program::from_bytes(&PROGRAM_VERIFIED, insns).map_err(DemoError::Decode)
}

/// Whether a program's instructions are, slot for slot, [`PROGRAM_VERIFIED`]: the device's
/// verifier rewrote the program exactly as the host's did.
pub fn matches_host(insns: &[Insn]) -> bool {
    insns.len() * Insn::SIZE == PROGRAM_VERIFIED.len()
        && insns
            .iter()
            .zip(PROGRAM_VERIFIED.chunks_exact(Insn::SIZE))
            .all(|(insn, bytes)| insn.to_bytes() == bytes)
}

/// Replays [`CAPTURE`] through `ring` and `engine`, [`BATCH`] frames per poll, and reports.
///
/// `ticks` is read before and after every poll (and nowhere else): the report's
/// [`Report::ticks`] is the time spent inside the runner, in the clock's unit.
///
/// # Errors
/// [`DemoError::Capture`] for a malformed capture, [`DemoError::Inject`] for a frame the ring
/// refuses.
pub fn run<E: XdpEngine>(
    engine: E,
    maps: &Maps,
    ring: &mut Ring,
    ticks: &mut dyn FnMut() -> u64,
) -> Result<Report, DemoError> {
    let capture = Capture::parse(&CAPTURE).map_err(DemoError::Capture)?;
    let mut runner = XdpRunner::new(engine);
    let mut frames = capture.frames().peekable();
    let (mut spent, mut passed_bytes) = (0u64, 0u64);
    while frames.peek().is_some() {
        let mut queued = 0;
        for frame in frames.by_ref().take(BATCH) {
            let frame = frame.map_err(DemoError::Capture)?;
            ring.inject(frame).map_err(|e| DemoError::Inject(e.kind))?;
            queued += 1;
        }
        let start = ticks();
        runner.poll(ring, &mut [], |f| passed_bytes += f.len() as u64, queued);
        spent = spent.wrapping_add(ticks().wrapping_sub(start));
    }
    Ok(Report::collect(
        runner.counters(),
        maps,
        passed_bytes,
        spent,
    ))
}
