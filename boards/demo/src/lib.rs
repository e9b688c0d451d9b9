//! # nanobpf-board-demo
//!
//! What every nanobpf board example runs, written once: the IPv4 firewall for XDP that clang
//! built from `examples/xdp_firewall.c` is embedded as its ELF object ([`OBJECT`]), loaded on the
//! device with the ELF loader, bound to maps in static storage in the loader's index order
//! (`.rodata` initialised from the object, the blocklist filled like an operator would),
//! verified on the device, and run over a capture of [`gen::FRAMES`] frames generated at build
//! time (`src/gen.rs`, a seeded xorshift) through a [`MemRing`](nanobpf_hal::MemRing) and the
//! [`XdpRunner`]. The [`Report`] carries the verdict counts and the maps' contents, and
//! [`Report::check`] compares them with [`EXPECTED`], which the host tests derive independently
//! from the same capture.
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
#[cfg(feature = "loader")]
pub mod loader;
mod report;
#[cfg(test)]
mod tests;

/// `docs/porting.md`, whose examples run as this crate's doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/porting.md")]
pub struct PortingGuide;

pub use capture::{Capture, CaptureError, Frames};
pub use error::DemoError;
pub use expected::{EXPECTED, EXPECTED_WITHOUT_RUNTS, RUNTS};
pub use layout::{DEFS as MAP_DEFS, N_MAPS};
pub use report::{Expected, Mismatch, Report, SourceCount, MAX_SOURCES};

use nanobpf_core::MapDef;
use nanobpf_core::Object;
use nanobpf_core::{verify, Insn, Program, VerifiedProgram, VerifierWorkspace, VerifyTarget};
use nanobpf_core::{ArrayMap, BpfHashMap, LpmTrie, Map, MapTable};
use nanobpf_hal::{MemRing, XdpEngine, XdpRunner};

/// The firewall as clang built it (`examples/build.sh`): the ELF object the device loads.
pub static OBJECT: [u8; OBJECT_LEN] = *include_bytes!("../../../examples/build/xdp_firewall.o");
const OBJECT_LEN: usize = include_bytes!("../../../examples/build/xdp_firewall.o").len();

/// The program's name in [`OBJECT`].
pub const PROGRAM_NAME: &str = "xdp_firewall";

/// The firewall loaded and verified on the host at build time (context accesses rewritten to
/// the runtime layout): what the device's own loader and verifier must produce.
pub static PROGRAM_VERIFIED: [u8; PROGRAM_LEN] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/firewall.verified.bin"));
const PROGRAM_LEN: usize = include_bytes!(concat!(env!("OUT_DIR"), "/firewall.verified.bin")).len();

/// The firewall loaded on the host at build time, as the loader links it (the host's verifier
/// accepts it): what an interpreter-only image runs with `run_checked`, which sees the
/// context as the program does.
pub static PROGRAM_LOADED: [u8; LOADED_LEN] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/firewall.loaded.bin"));
const LOADED_LEN: usize = include_bytes!(concat!(env!("OUT_DIR"), "/firewall.loaded.bin")).len();

/// The initial value of the object's `.rodata` (`struct fw_config`), read from [`OBJECT`] on the
/// host at build time, for the interpreter-only image, which links no ELF loader.
pub static RODATA_INIT: [u8; RODATA_LEN] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/firewall.rodata.bin"));
const RODATA_LEN: usize = include_bytes!(concat!(env!("OUT_DIR"), "/firewall.rodata.bin")).len();

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

/// The firewall's map storage, sized to match [`MAP_DEFS`] exactly (each map is checked
/// against the program's definition when it is bound).
pub struct Maps {
    /// Map 0: packets and bytes per IPv4 source.
    pub per_source: BpfHashMap<4, 16, 2, 256>,
    /// Map 1: blocked source prefixes.
    pub blocklist: LpmTrie<4, 4, 1, 64>,
    /// Map 2: frames per XDP verdict.
    pub verdicts: ArrayMap<8, 1, 5>,
    /// Map 3: `.rodata`, the program's configuration.
    pub rodata: ArrayMap<8, 1, 1>,
    /// Map 4: `.bss`, the program's counters `frames_seen` and `ipv4_frames`.
    pub bss: ArrayMap<16, 2, 1>,
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
            per_source: BpfHashMap::new(),
            blocklist: LpmTrie::new(),
            verdicts: ArrayMap::new(),
            rodata: ArrayMap::new(),
            bss: ArrayMap::new(),
        }
    }

    /// The maps by index, for the interpreter's `MapTable`.
    pub fn table(&self) -> [&dyn Map; N_MAPS] {
        [
            &self.per_source,
            &self.blocklist,
            &self.verdicts,
            &self.rodata,
            &self.bss,
        ]
    }

    /// Binds the storage to the maps `obj` declares, by the loader's index: checks each
    /// definition, stores the initial value of global data, and returns the definitions for
    /// the verifier. Then fills the blocklist (see [`Maps::block`]).
    ///
    /// # Errors
    /// [`DemoError::MapCount`] when the object declares another number of maps,
    /// [`DemoError::MapDef`] when a storage type does not match its definition,
    /// [`DemoError::Map`] when a map refuses its initial value or the blocklist.
    pub fn bind(&self, obj: &Object<'_>) -> Result<[MapDef; N_MAPS], DemoError> {
        let table = self.table();
        let mut defs = MAP_DEFS;
        let mut found = 0;
        for info in obj.maps() {
            found += 1;
            let index = info.index as usize;
            let (Some(map), Some(def)) = (table.get(index), defs.get_mut(index)) else {
                continue;
            };
            // A map of a type nanobpf cannot create has no storage here.
            let info_def = info.def.map_err(|_| DemoError::MapDef { index })?;
            self.bind_one(*map, index, &info_def, info.init)?;
            *def = info_def;
        }
        if found != N_MAPS {
            return Err(DemoError::MapCount { found });
        }
        self.block()?;
        Ok(defs)
    }

    /// As [`Maps::bind`] for a program verified on the host: binds by [`MAP_DEFS`] (which the
    /// build checked against the object) and [`RODATA_INIT`], with no ELF loader involved.
    ///
    /// # Errors
    /// As [`Maps::bind`].
    pub fn bind_preverified(&self) -> Result<(), DemoError> {
        for (index, (map, def)) in self.table().into_iter().zip(MAP_DEFS.iter()).enumerate() {
            let init = (index == layout::RODATA_INDEX).then_some(&RODATA_INIT[..]);
            self.bind_one(map, index, def, init)?;
        }
        self.block()
    }

    fn bind_one(
        &self,
        map: &dyn Map,
        index: usize,
        def: &MapDef,
        init: Option<&[u8]>,
    ) -> Result<(), DemoError> {
        map.check_def(def)
            .map_err(|_| DemoError::MapDef { index })?;
        if let Some(init) = init {
            map.update(&0u32.to_ne_bytes(), init, 0)
                .map_err(DemoError::Map)?;
        }
        Ok(())
    }

    /// Fills the blocklist with [`gen::BLOCKLIST`], as an operator would: keys are
    /// `{u32 prefixlen (host order); be32 addr}`.
    ///
    /// # Errors
    /// [`DemoError::Map`] when the trie refuses a prefix.
    pub fn block(&self) -> Result<(), DemoError> {
        for (prefix_len, addr) in gen::BLOCKLIST {
            let mut key = [0u8; 8];
            key[..4].copy_from_slice(&prefix_len.to_ne_bytes());
            key[4..].copy_from_slice(&addr);
            self.blocklist
                .update(&key, &1u32.to_ne_bytes(), 0)
                .map_err(DemoError::Map)?;
        }
        Ok(())
    }
}

/// Parses [`OBJECT`], binds `maps` to it ([`Maps::bind`]), loads [`PROGRAM_NAME`] into
/// `insns` and verifies it for its section's program type with the standard helpers against
/// `table` (`maps.table()`, which the program then holds): the whole path from a clang-built
/// object to a program an engine runs, on the device.
///
/// # Errors
/// [`DemoError::Load`] when the object does not parse or the program does not load into
/// `insns`, the errors of [`Maps::bind`], [`DemoError::Verify`] when the verifier rejects it.
pub fn load<'a>(
    maps: &Maps,
    table: &'a [&'a dyn Map],
    insns: &'a mut [Insn],
    ws: &mut Workspace,
) -> Result<VerifiedProgram<'a>, DemoError> {
    let obj = Object::parse(&OBJECT).map_err(DemoError::Load)?;
    maps.bind(&obj)?;
    let loaded = obj
        .load_program(PROGRAM_NAME, insns)
        .map_err(DemoError::Load)?;
    let env = VerifyTarget::new(
        loaded.prog_type,
        nanobpf_core::helpers::standard(),
        MapTable::new(table),
    );
    let insns = insns.get_mut(..loaded.len).unwrap_or_default();
    verify(insns, &env, ws).map_err(DemoError::Verify)
}

/// Decodes [`PROGRAM_LOADED`] (verified on the host at build time) into `insns`, for the
/// interpreter-only image that runs it with the checking interpreter. Bind the maps with
/// [`Maps::bind_preverified`].
///
/// # Errors
/// [`DemoError::Decode`] when the bytes are not a program that fits `insns`.
pub fn load_preverified(insns: &mut [Insn]) -> Result<Program<'_>, DemoError> {
    Program::from_bytes(&PROGRAM_LOADED, insns).map_err(DemoError::Decode)
}

/// Whether a program's instructions are, slot for slot, [`PROGRAM_VERIFIED`]: the device's
/// loader and verifier produced exactly what the host's did.
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
