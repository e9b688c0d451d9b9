//! The replay of a device that knows no program in advance: an arena and a program slot, no
//! program-specific types. It loads the firewall from its object's bytes, fills its blocklist,
//! replays the first part of the capture, then loads a second, different program (other maps,
//! the verdict counters pinned and so carried over) into the same slot between two batches of
//! frames, and replays the rest.

use core::fmt;

use nanobpf_core::Platform;
use nanobpf_core::{ArenaStorage, Map, MapArena};
use nanobpf_core::{ProgramSlot, SlotError};
use nanobpf_hal::{Counters, SlotEngine, XdpRunner};

use crate::{gen, Capture, DemoError, Ring, Workspace, BATCH, CAPTURE, MAX_INSNS, OBJECT};

/// The second program: IPv4 frames counted per protocol, verdicts counted in the firewall's
/// (pinned) `verdicts` map.
pub static SECOND_OBJECT: [u8; SECOND_LEN] =
    *include_bytes!("../../../examples/build/xdp_proto_count.o");
const SECOND_LEN: usize = include_bytes!("../../../examples/build/xdp_proto_count.o").len();

/// The second program's name in [`SECOND_OBJECT`].
pub const SECOND_NAME: &str = "xdp_proto_count";

/// Frames the firewall sees before the second program replaces it.
pub const SPLIT: usize = 150;

/// The slot: [`MAX_INSNS`] instruction slots, 8 maps and 2 programs per side.
pub type Slot = ProgramSlot<'static, MAX_INSNS, 8, 2>;

/// Words of the map arena: 20 KiB, room for the firewall's maps (12.4 KiB) and the second
/// program's (2.1 KiB) at once, as during a replacement.
pub const ARENA_WORDS: usize = 2560;

/// The arena's storage, for a `static`.
pub type Storage = ArenaStorage<ARENA_WORDS>;

/// The arena: up to 8 maps of each of two programs alive at once (`2 × 16 + 1` blocks).
pub type Arena = MapArena<'static, 33>;

/// What one program did over its part of the capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phase {
    /// Frames replayed.
    pub frames: u64,
    /// Frames dropped.
    pub drop: u64,
    /// Frames passed.
    pub pass: u64,
}

/// The outcome of the two-program replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoaderReport {
    /// The firewall's part.
    pub first: Phase,
    /// The second program's part.
    pub second: Phase,
    /// The pinned `verdicts` map after the firewall's part: frames per verdict.
    pub verdicts_first: [u64; 5],
    /// The same map at the end: the second program went on counting where the firewall
    /// stopped.
    pub verdicts_end: [u64; 5],
    /// The second program's `protocols` map at the end: ICMP, TCP and UDP frames.
    pub protocols: [u64; 3],
    /// Sources the firewall counted (entries of its `per_source` map) after its part.
    pub sources: u64,
    /// Free bytes of the arena: empty, with the firewall, with the second program.
    pub arena_free: [usize; 3],
}

impl fmt::Display for LoaderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = |f: &mut fmt::Formatter<'_>, name, ph: &Phase| {
            writeln!(
                f,
                "{name}: {} frames, {} dropped, {} passed",
                ph.frames, ph.drop, ph.pass
            )
        };
        p(f, "xdp_firewall", &self.first)?;
        p(f, SECOND_NAME, &self.second)?;
        writeln!(
            f,
            "map verdicts (pinned): drop {} pass {} after the firewall, drop {} pass {} at the end",
            self.verdicts_first[1],
            self.verdicts_first[2],
            self.verdicts_end[1],
            self.verdicts_end[2]
        )?;
        writeln!(
            f,
            "map protocols: icmp {} tcp {} udp {}; firewall sources {}",
            self.protocols[0], self.protocols[1], self.protocols[2], self.sources
        )?;
        write!(
            f,
            "arena free bytes: {} empty, {} with the firewall, {} with {SECOND_NAME}",
            self.arena_free[0], self.arena_free[1], self.arena_free[2]
        )
    }
}

/// What [`run`] must report, less the arena's figures: derived from the capture by the host
/// test `expected_loader_is_what_the_capture_implies`, met on the host by
/// `the_loader_meets_the_expectation`.
pub const EXPECTED_LOADER: LoaderReport = LoaderReport {
    first: Phase {
        frames: 150,
        drop: 58,
        pass: 92,
    },
    second: Phase {
        frames: 150,
        drop: 19,
        pass: 131,
    },
    verdicts_first: [0, 58, 92, 0, 0],
    verdicts_end: [0, 77, 223, 0, 0],
    protocols: [0, 50, 62],
    sources: 9,
    arena_free: [0; 3],
};

impl LoaderReport {
    /// Compares with `want`, all but the arena's figures, which are checked for what must hold
    /// whatever the layout: the firewall takes space, the second program less (its maps are
    /// smaller and the counters are shared).
    ///
    /// # Errors
    /// The name of the first part that differs.
    pub fn check(&self, want: &LoaderReport) -> Result<(), &'static str> {
        let parts = [
            ("firewall phase", self.first == want.first),
            ("second phase", self.second == want.second),
            (
                "verdicts after the firewall",
                self.verdicts_first == want.verdicts_first,
            ),
            (
                "verdicts at the end",
                self.verdicts_end == want.verdicts_end,
            ),
            ("protocols", self.protocols == want.protocols),
            ("firewall sources", self.sources == want.sources),
            (
                "arena use",
                self.arena_free[1] < self.arena_free[0]
                    && self.arena_free[1] < self.arena_free[2]
                    && self.arena_free[2] < self.arena_free[0],
            ),
        ];
        match parts.iter().find(|(_, ok)| !ok) {
            Some((name, _)) => Err(name),
            None => Ok(()),
        }
    }
}

/// Runs the two-program replay on an empty `slot` over `arena`.
///
/// # Errors
/// [`DemoError::Slot`] when a load fails, and the errors of a replay.
pub fn run(
    slot: &Slot,
    arena: &mut Arena,
    ws: &mut Workspace,
    ring: &mut Ring,
    platform: &dyn Platform,
) -> Result<LoaderReport, DemoError> {
    let mut report = LoaderReport::default();
    report.arena_free[0] = arena.free_bytes();
    slot.load(arena, &OBJECT, crate::PROGRAM_NAME, 1, ws)
        .map_err(DemoError::Slot)?;
    report.arena_free[1] = arena.free_bytes();
    slot.inspect(block)
        .ok_or(DemoError::Slot(SlotError::Empty))??;

    let capture = Capture::parse(&CAPTURE).map_err(DemoError::Capture)?;
    let mut frames = capture.frames();
    let mut runner = XdpRunner::new(SlotEngine::new(slot, platform));
    let mut fed = 0;
    let mut before = runner.counters();
    while fed < gen::FRAMES {
        if fed == SPLIT {
            // Between two batches, as a control channel would do it: the data path keeps its
            // runner and ring; the slot switches programs under it.
            report.first = phase(&before, &runner.counters());
            before = runner.counters();
            report.verdicts_first = read(slot, "verdicts")?;
            report.sources = slot
                .inspect(|p| p.map("per_source").map_or(0, count_keys))
                .unwrap_or(0);
            slot.load(arena, &SECOND_OBJECT, SECOND_NAME, 2, ws)
                .map_err(DemoError::Slot)?;
            report.arena_free[2] = arena.free_bytes();
        }
        let batch = BATCH.min(if fed < SPLIT {
            SPLIT - fed
        } else {
            gen::FRAMES - fed
        });
        for frame in frames.by_ref().take(batch) {
            let frame = frame.map_err(DemoError::Capture)?;
            ring.inject(frame).map_err(|e| DemoError::Inject(e.kind))?;
        }
        runner.poll(ring, &mut [], |_| {}, batch);
        fed += batch;
    }
    report.second = phase(&before, &runner.counters());
    report.verdicts_end = read(slot, "verdicts")?;
    let protocols = read::<256>(slot, "protocols")?;
    report.protocols = [protocols[1], protocols[6], protocols[17]];
    Ok(report)
}

/// Fills the firewall's blocklist (see [`gen::BLOCKLIST`]).
fn block(p: &nanobpf_core::RunningProgram<'_, '_>) -> Result<(), DemoError> {
    let list = p
        .map("blocklist")
        .ok_or(DemoError::Slot(SlotError::NoProgram))?;
    for (prefix_len, addr) in gen::BLOCKLIST {
        let mut key = [0u8; 8];
        key[..4].copy_from_slice(&prefix_len.to_ne_bytes());
        key[4..].copy_from_slice(&addr);
        list.update(&key, &1u32.to_ne_bytes(), 0)
            .map_err(DemoError::Map)?;
    }
    Ok(())
}

/// The counts of one phase: the runner's counters now less `before`.
fn phase(before: &Counters, now: &Counters) -> Phase {
    Phase {
        frames: now.frames() - before.frames(),
        drop: now.drop - before.drop,
        pass: now.pass - before.pass,
    }
}

/// The first `N` `u64` values of the running program's array map `name`.
fn read<const N: usize>(slot: &Slot, name: &str) -> Result<[u64; N], DemoError> {
    slot.inspect(|p| {
        let map = p.map(name).ok_or(DemoError::Slot(SlotError::NoProgram))?;
        let mut out = [0u64; N];
        for (k, v) in (0u32..).zip(out.iter_mut()) {
            let mut b = [0u8; 8];
            map.lookup_copy(&k.to_ne_bytes(), &mut b)
                .map_err(DemoError::Map)?;
            *v = u64::from_ne_bytes(b);
        }
        Ok(out)
    })
    .ok_or(DemoError::Slot(SlotError::Empty))?
}

/// Keys of a map with 4-byte keys.
fn count_keys(map: &dyn Map) -> u64 {
    let (mut key, mut n) = ([0u8; 4], 0);
    let mut prev: Option<[u8; 4]> = None;
    while map
        .next_key(prev.as_ref().map(|k| &k[..]), &mut key)
        .is_ok()
    {
        n += 1;
        prev = Some(key);
    }
    n
}
