//! The firewall replay on a 32-bit RISC-V core (RV32IMAC), built in CI and not run there: the
//! same program, verified on the device, the same maps and capture as the emulated Arm board.
//! The `mcycle` counter times the runner; with no console, the outcome goes to [`OUTCOME`] for
//! a debugger to read, and the hart sleeps.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use nanobpf_board_demo::{self as demo, Maps, Ring, Workspace, EXPECTED};
use nanobpf_core::{helpers, Insn, Interpreter, NoPlatform};
use nanobpf_hal::Engine;
use panic_halt as _;
use riscv_rt::entry;

static WORKSPACE: spin::Mutex<Workspace> = spin::Mutex::new(Workspace::new());
static RING: spin::Mutex<Ring> = spin::Mutex::new(Ring::new());
static MAPS: Maps = Maps::new();
static PLATFORM: NoPlatform = NoPlatform;

/// 1 while running, 2 when every count matched, 3 on a mismatch or an error.
static OUTCOME: AtomicU32 = AtomicU32::new(1);
/// Cycles per frame in the runner, for the debugger.
static CYCLES_PER_FRAME: AtomicU32 = AtomicU32::new(0);

#[entry]
fn main() -> ! {
    let ok = firmware().is_some();
    OUTCOME.store(if ok { 2 } else { 3 }, Ordering::Relaxed);
    loop {
        riscv::asm::wfi();
    }
}

fn firmware() -> Option<()> {
    let ws = spin::MutexGuard::leak(WORKSPACE.try_lock()?);
    let ring = spin::MutexGuard::leak(RING.try_lock()?);
    let maps = MAPS.table();
    let mut insns = [Insn::default(); demo::MAX_INSNS];
    let program = demo::load(&MAPS, &maps, &mut insns, ws).ok()?;
    let vm = Interpreter::new(helpers::standard(), &PLATFORM);
    let mut cycles = riscv::register::mcycle::read64;
    let report = demo::run(Engine::new(vm, program), &MAPS, ring, &mut cycles).ok()?;
    let per_frame = report.ticks / report.counters.frames().max(1);
    CYCLES_PER_FRAME.store(
        u32::try_from(per_frame).unwrap_or(u32::MAX),
        Ordering::Relaxed,
    );
    report.check(&EXPECTED).ok()
}
