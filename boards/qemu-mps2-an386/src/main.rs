//! The firewall board image: the clang-built object is loaded with the ELF loader and verified
//! on the device, its maps, the verifier workspace and the receive ring live in statics, and
//! the capture is replayed through the XDP runner. No allocator is linked.
#![no_std]
#![no_main]

use core::fmt;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use nanobpf_board_demo::{self as demo, Maps, Ring, Workspace, EXPECTED};
use nanobpf_board_qemu_mps2_an386::{dwt_cycles, exit, instructions, Ticks};
use nanobpf_core::{helpers, Insn, Interpreter, NoPlatform};
use nanobpf_hal::Engine;
use panic_semihosting as _;

// The large storage lives in statics, not on the stack. A spin lock makes each one a plain
// safe `static`; `main` locks it once and keeps it (`leak`) for the life of the firmware.
static WORKSPACE: spin::Mutex<Workspace> = spin::Mutex::new(Workspace::new());
static RING: spin::Mutex<Ring> = spin::Mutex::new(Ring::new());
static MAPS: Maps = Maps::new();
static PLATFORM: NoPlatform = NoPlatform;

#[entry]
fn main() -> ! {
    exit(firmware())
}

/// Why the firmware failed.
enum Failure {
    Demo(demo::DemoError),
    Mismatch(demo::Mismatch),
    HostDiffers,
    Taken,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Demo(e) => e.fmt(f),
            Failure::Mismatch(e) => e.fmt(f),
            Failure::HostDiffers => {
                f.write_str("the device verifier's output differs from the host's")
            }
            Failure::Taken => f.write_str("storage already taken"),
        }
    }
}

fn firmware() -> Result<(), Failure> {
    let mut cp = cortex_m::Peripherals::take().ok_or(Failure::Taken)?;
    match dwt_cycles(&mut cp.DCB, &mut cp.DWT) {
        0 => hprintln!("DWT CYCCNT: not emulated (reads 0); timing with SysTick under -icount"),
        n => hprintln!("DWT CYCCNT: {} cycles for a 10,000-cycle delay", n),
    }
    let mut ticks = Ticks::start(cp.SYST);
    let per_kilotick = ticks.instructions_per_kilotick();
    hprintln!(
        "nanobpf on mps2-an386: verifier workspace {} bytes, ring {} bytes",
        Workspace::SIZE_BYTES,
        Ring::STORAGE_BYTES
    );

    let ws = spin::MutexGuard::leak(WORKSPACE.try_lock().ok_or(Failure::Taken)?);
    let ring = spin::MutexGuard::leak(RING.try_lock().ok_or(Failure::Taken)?);
    let maps = MAPS.table();

    let mut insns = [Insn::default(); demo::MAX_INSNS];
    let start = ticks.now();
    let program = demo::load(&MAPS, &maps, &mut insns, ws).map_err(Failure::Demo)?;
    let load_ticks = ticks.now() - start;
    hprintln!(
        "loaded {} ({} bytes of ELF, {} maps bound) and verified {} instructions on the device in {} emulated instructions",
        demo::PROGRAM_NAME,
        demo::OBJECT.len(),
        demo::N_MAPS,
        program.insns().len(),
        instructions(load_ticks, per_kilotick)
    );
    if !demo::matches_host(program.insns()) {
        return Err(Failure::HostDiffers);
    }

    let vm = Interpreter::new(helpers::standard(), &PLATFORM);
    let report = demo::run(Engine::new(vm, program), &MAPS, ring, &mut || ticks.now())
        .map_err(Failure::Demo)?;
    hprintln!("{}", report);
    let frames = report.counters.frames().max(1);
    hprintln!(
        "runner: {} SysTick ticks at {}.{:03} instructions per tick: {} instructions per frame",
        report.ticks,
        per_kilotick / 1000,
        per_kilotick % 1000,
        instructions(report.ticks, per_kilotick) / frames
    );
    report.check(&EXPECTED).map_err(Failure::Mismatch)
}
