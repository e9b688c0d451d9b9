//! The device-path image: frames arrive from the host through the board's LAN9118 Ethernet
//! controller (QEMU's `socket` netdev on loopback, fed by `demo/examples/send_capture.rs`),
//! through the driver in `lan9118.rs`, which implements `PacketRing`, into the XDP runner and the
//! clang-built firewall, loaded and verified on the device. The image exits 0 once it has seen
//! every frame the host sends and the counts and maps match the expected ones.
#![no_std]
#![no_main]

use core::fmt;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use nanobpf_board_demo::{self as demo, Maps, Report, Workspace, EXPECTED_WITHOUT_RUNTS};
use nanobpf_board_qemu_mps2_an386::exit;
use nanobpf_board_qemu_mps2_an386::lan9118::{InitError, Lan9118};
use nanobpf_core::{helpers, Insn, Interpreter, NoPlatform};
use nanobpf_hal::{Engine, XdpRunner};
use panic_semihosting as _;

/// Receive buffers of the driver's pool.
const BUFFERS: usize = 16;

static WORKSPACE: spin::Mutex<Workspace> = spin::Mutex::new(Workspace::new());
static NIC: spin::Mutex<Lan9118<BUFFERS>> = spin::Mutex::new(Lan9118::new());
static MAPS: Maps = Maps::new();
static PLATFORM: NoPlatform = NoPlatform;

#[entry]
fn main() -> ! {
    exit(firmware())
}

enum Failure {
    Demo(demo::DemoError),
    Mismatch(demo::Mismatch),
    Nic(InitError),
    Taken,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Demo(e) => e.fmt(f),
            Failure::Mismatch(e) => e.fmt(f),
            Failure::Nic(e) => e.fmt(f),
            Failure::Taken => f.write_str("storage already taken"),
        }
    }
}

fn firmware() -> Result<(), Failure> {
    let ws = spin::MutexGuard::leak(WORKSPACE.try_lock().ok_or(Failure::Taken)?);
    let nic = spin::MutexGuard::leak(NIC.try_lock().ok_or(Failure::Taken)?);
    let maps = MAPS.table();
    let mut insns = [Insn::default(); demo::MAX_INSNS];
    let program = demo::load(&MAPS, &maps, &mut insns, ws).map_err(Failure::Demo)?;
    let slots = program.insns().len();
    let vm = Interpreter::new(helpers::standard(), &PLATFORM);
    let mut runner = XdpRunner::new(Engine::new(vm, program));

    nic.start().map_err(Failure::Nic)?;
    let want = EXPECTED_WITHOUT_RUNTS;
    hprintln!(
        "nanobpf on mps2-an386, LAN9118: {} instructions verified; ready for {} frames",
        slots,
        want.frames
    );
    let mut passed_bytes = 0u64;
    while runner.counters().frames() < want.frames {
        runner.poll(nic, &mut [], |f| passed_bytes += f.len() as u64, BUFFERS);
    }
    let report = Report::collect(runner.counters(), &MAPS, passed_bytes, 0);
    hprintln!("{}", report);
    hprintln!("driver: {} frames skipped", nic.skipped());
    report.check(&want).map_err(Failure::Mismatch)
}
