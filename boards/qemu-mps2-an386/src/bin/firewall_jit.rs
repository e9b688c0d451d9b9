//! The firewall image on the Thumb-2 JIT: as the `firewall` image (the clang-built object
//! loaded and verified on the device, maps, workspace and ring in statics, the capture replayed
//! through the XDP runner), but the verified program is compiled by `nanobpf-jit-thumb2` into
//! a RAM buffer, checked, and run as native code. No allocator is linked.
#![no_std]
#![no_main]

use core::fmt;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use nanobpf_board_demo::{self as demo, Maps, Ring, Workspace, EXPECTED};
use nanobpf_board_qemu_mps2_an386::exec::CodeBuffer;
use nanobpf_board_qemu_mps2_an386::{dwt_cycles, exit, instructions, Ticks};
use nanobpf_core::{helpers, Insn, NoPlatform, Runtime, Stack, Trap, XdpBuff};
use nanobpf_hal::XdpEngine;
use nanobpf_jit_thumb2::{compile, JitError, JitProgram, JitWorkspace};
use panic_semihosting as _;

// The large storage lives in statics, not on the stack. A spin lock makes each one a plain
// safe `static`; `main` locks it once and keeps it (`leak`) for the life of the firmware.
static WORKSPACE: spin::Mutex<Workspace> = spin::Mutex::new(Workspace::new());
static RING: spin::Mutex<Ring> = spin::Mutex::new(Ring::new());
static MAPS: Maps = Maps::new();
static PLATFORM: NoPlatform = NoPlatform;
static CODE: spin::Mutex<CodeBuffer<4096>> = spin::Mutex::new(CodeBuffer::new());
static JIT_WORKSPACE: spin::Mutex<JitWorkspace<{ demo::MAX_INSNS }>> =
    spin::Mutex::new(JitWorkspace::new());

/// The JIT as an [`XdpEngine`]: the compiled code, the runtime it was compiled with, a stack.
struct JitEngine<'r> {
    code: JitProgram<'r>,
    stack: Stack,
}

impl XdpEngine for JitEngine<'_> {
    fn run(&mut self, frame: &mut XdpBuff<'_>) -> Result<u64, Trap> {
        let (code, stack) = (&self.code, &mut self.stack);
        nanobpf_hal::in_context(frame, |ctx| code.run(ctx, stack))
    }
}

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
    Jit(JitError),
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
            Failure::Jit(e) => write!(f, "JIT: {e}"),
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

    let rt = Runtime::new(helpers::standard(), &PLATFORM);
    let code = spin::MutexGuard::leak(CODE.try_lock().ok_or(Failure::Taken)?);
    let jws = spin::MutexGuard::leak(JIT_WORKSPACE.try_lock().ok_or(Failure::Taken)?);
    let start = ticks.now();
    let jit = compile(&program, &rt, code.region(), jws).map_err(Failure::Jit)?;
    let compile_ticks = ticks.now() - start;
    hprintln!(
        "compiled to {} bytes of Thumb-2 and checked in {} emulated instructions",
        jit.code_len(),
        instructions(compile_ticks, per_kilotick)
    );
    let engine = JitEngine {
        code: jit,
        stack: Stack::new(),
    };
    let report = demo::run(engine, &MAPS, ring, &mut || ticks.now()).map_err(Failure::Demo)?;
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
