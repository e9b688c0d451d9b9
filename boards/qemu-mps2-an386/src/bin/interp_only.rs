//! The interpreter-only image: the program was verified on the host at build time, and the
//! device runs it with the checking interpreter (`run_checked`: every memory access bounds
//! checked), with no verifier linked. The same capture, maps and expected results as the
//! firewall image.
#![no_std]
#![no_main]

use core::fmt;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use nanobpf_board_demo::{self as demo, Maps, Ring, EXPECTED};
use nanobpf_board_qemu_mps2_an386::{exit, instructions, Ticks};
use nanobpf_core::MapTable;
use nanobpf_core::{helpers, Insn, Interpreter, NoPlatform};
use nanobpf_hal::Engine;
use panic_semihosting as _;

static RING: spin::Mutex<Ring> = spin::Mutex::new(Ring::new());
static MAPS: Maps = Maps::new();
static PLATFORM: NoPlatform = NoPlatform;

#[entry]
fn main() -> ! {
    exit(firmware())
}

enum Failure {
    Demo(demo::DemoError),
    Mismatch(demo::Mismatch),
    Taken,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Demo(e) => e.fmt(f),
            Failure::Mismatch(e) => e.fmt(f),
            Failure::Taken => f.write_str("storage already taken"),
        }
    }
}

fn firmware() -> Result<(), Failure> {
    let cp = cortex_m::Peripherals::take().ok_or(Failure::Taken)?;
    let mut ticks = Ticks::start(cp.SYST);
    let per_kilotick = ticks.instructions_per_kilotick();
    let ring = spin::MutexGuard::leak(RING.try_lock().ok_or(Failure::Taken)?);
    MAPS.bind_preverified().map_err(Failure::Demo)?;
    let maps = MAPS.table();
    let mut insns = [Insn::default(); demo::MAX_INSNS];
    let program = demo::load_preverified(&mut insns).map_err(Failure::Demo)?;
    hprintln!(
        "nanobpf on mps2-an386, interpreter only: {} host-verified instructions",
        program.len()
    );
    let vm = Interpreter::new(helpers::standard(), &PLATFORM).with_maps(MapTable::new(&maps));
    let report = demo::run(Engine::new(vm, program), &MAPS, ring, &mut || ticks.now())
        .map_err(Failure::Demo)?;
    hprintln!("{}", report);
    let frames = report.counters.frames().max(1);
    hprintln!(
        "runner (checked): {} instructions per frame",
        instructions(report.ticks, per_kilotick) / frames
    );
    report.check(&EXPECTED).map_err(Failure::Mismatch)
}
