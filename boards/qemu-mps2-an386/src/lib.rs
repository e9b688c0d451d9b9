//! What the images of the MPS2 AN386 board share: a tick counter on SysTick, its
//! calibration against a loop of known length, and the semihosting exit.
//!
//! QEMU runs the board with `-icount shift=0` (see `.cargo/config.toml`): virtual time advances
//! one nanosecond per emulated instruction, and SysTick, clocked from the 25 MHz system clock,
//! advances one tick per 40 instructions. The firmware does not take that on trust: it times
//! `cortex_m::asm::delay`, whose loop length it knows, and converts with the measured rate.
#![no_std]

pub mod exec;
pub mod lan9118;
#[cfg(feature = "deploy")]
pub mod net;
#[cfg(feature = "deploy")]
pub mod uart;

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_semihosting::{debug, hprintln};

/// SysTick's reload value: the full 24 bits.
const RELOAD: u32 = 0x00ff_ffff;

/// A monotonic tick count on SysTick, which counts down from [`RELOAD`] and wraps: each read
/// adds the ticks since the previous one. Correct as long as reads are less than 2^24 ticks
/// apart (0.67 s of virtual time at 25 MHz); the runner reads it around every poll.
pub struct Ticks {
    syst: SYST,
    last: u32,
    total: u64,
}

impl core::fmt::Debug for Ticks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ticks").field("total", &self.total).finish()
    }
}

impl Ticks {
    /// Starts SysTick on the core clock.
    pub fn start(mut syst: SYST) -> Ticks {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_counter();
        Ticks {
            syst,
            last: RELOAD,
            total: 0,
        }
    }

    /// Ticks since [`Ticks::start`].
    pub fn now(&mut self) -> u64 {
        let cur = SYST::get_current();
        let _ = &self.syst;
        self.total += u64::from(self.last.wrapping_sub(cur) & RELOAD);
        self.last = cur;
        self.total
    }

    /// Emulated instructions per 1,000 ticks, measured on a delay loop of known length.
    pub fn instructions_per_kilotick(&mut self) -> u64 {
        // cortex-m 0.7.10's `delay(n)` runs `n + 1` iterations of `subs; bne`: 2n + 2
        // instructions. (Releases before 0.7.8 ran half as many; Cargo.toml asks for 0.7.10.)
        const N: u32 = 1_000_000;
        let start = self.now();
        cortex_m::asm::delay(N);
        let ticks = self.now() - start;
        (2 * u64::from(N) + 2) * 1000 / ticks.max(1)
    }
}

/// Reports `result` and ends the emulation: exit status 0 on `Ok`, 1 otherwise.
pub fn exit<E: core::fmt::Display>(result: Result<(), E>) -> ! {
    let status = match result {
        Ok(()) => {
            hprintln!("PASS");
            debug::EXIT_SUCCESS
        }
        Err(e) => {
            hprintln!("FAIL: {}", e);
            debug::EXIT_FAILURE
        }
    };
    debug::exit(status);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Whether the DWT cycle counter counts: enables it, runs a short loop, and returns the cycles
/// it saw (QEMU 7.2 does not model the DWT; its registers read as zero there).
pub fn dwt_cycles(dcb: &mut cortex_m::peripheral::DCB, dwt: &mut cortex_m::peripheral::DWT) -> u32 {
    dcb.enable_trace();
    dwt.enable_cycle_counter();
    let start = cortex_m::peripheral::DWT::cycle_count();
    cortex_m::asm::delay(10_000);
    cortex_m::peripheral::DWT::cycle_count().wrapping_sub(start)
}

/// Converts ticks to instructions with a rate from [`Ticks::instructions_per_kilotick`].
pub fn instructions(ticks: u64, per_kilotick: u64) -> u64 {
    ticks * per_kilotick / 1000
}
