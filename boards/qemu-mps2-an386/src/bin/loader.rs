//! The loader image: a board that knows no program in advance. It holds a map arena and a
//! program slot and no program-specific type; it loads the firewall from its object's bytes
//! (maps created from the object's definitions, program verified on the device), replays half
//! of the capture, loads a second, different program (other maps; the pinned verdict counters
//! carried over) into the same slot between two batches of frames, replays the rest, and
//! checks both phases' counts.
#![no_std]
#![no_main]

use core::fmt;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use nanobpf_board_demo::loader::{self, Arena, Slot, Storage, EXPECTED_LOADER};
use nanobpf_board_demo::{self as demo, Ring, Workspace};
use nanobpf_board_qemu_mps2_an386::{exit, instructions, Ticks};
use nanobpf_core::{helpers, NoPlatform};
use panic_semihosting as _;

static STORAGE: Storage = Storage::new();
static SLOT: Slot = Slot::new(helpers::standard());
static WORKSPACE: spin::Mutex<Workspace> = spin::Mutex::new(Workspace::new());
static RING: spin::Mutex<Ring> = spin::Mutex::new(Ring::new());
static PLATFORM: NoPlatform = NoPlatform;

#[entry]
fn main() -> ! {
    exit(firmware())
}

enum Failure {
    Demo(demo::DemoError),
    Mismatch(&'static str),
    Taken,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Demo(e) => e.fmt(f),
            Failure::Mismatch(part) => write!(f, "{part} differs from the expectation"),
            Failure::Taken => f.write_str("storage already taken"),
        }
    }
}

fn firmware() -> Result<(), Failure> {
    let cp = cortex_m::Peripherals::take().ok_or(Failure::Taken)?;
    let mut ticks = Ticks::start(cp.SYST);
    let per_kilotick = ticks.instructions_per_kilotick();
    let ws = spin::MutexGuard::leak(WORKSPACE.try_lock().ok_or(Failure::Taken)?);
    let ring = spin::MutexGuard::leak(RING.try_lock().ok_or(Failure::Taken)?);
    let mut arena = Arena::new(STORAGE.words());
    hprintln!(
        "nanobpf on mps2-an386, loader: arena {} bytes, slot {} bytes, no program built in",
        arena.total_bytes(),
        core::mem::size_of::<Slot>()
    );
    let start = ticks.now();
    let report = loader::run(&SLOT, &mut arena, ws, ring, &PLATFORM).map_err(Failure::Demo)?;
    let spent = ticks.now() - start;
    hprintln!("{}", report);
    hprintln!(
        "two loads (parse, maps, verify) and 300 frames in {} emulated instructions",
        instructions(spent, per_kilotick)
    );
    report.check(&EXPECTED_LOADER).map_err(Failure::Mismatch)
}
