//! Helpers backed by hardware: a clock for `bpf_ktime_get_ns`, GPIO output pins a program can
//! drive through [`GPIO_SET`], and `bpf_trace_printk` to defmt (feature `defmt`).

use embedded_hal::digital::{OutputPin, PinState};
use nanobpf_core::helpers as std_helpers;
use nanobpf_core::{ArgKind, Helper, HelperCall, HelperProto, HelperTable, Platform, RetKind};

/// A monotonic clock in nanoseconds. embedded-hal 1.0 has no clock trait, so boards adapt
/// theirs (a cycle counter, a timer, embassy's `Instant`) with this one; a plain
/// `fn() -> u64` is a clock.
pub trait Clock {
    /// Nanoseconds since an arbitrary, fixed moment (boot), never decreasing.
    fn now_ns(&self) -> u64;
}

impl Clock for fn() -> u64 {
    fn now_ns(&self) -> u64 {
        self()
    }
}

/// A clock that always reads 0, for boards without one.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoClock;

impl Clock for NoClock {
    fn now_ns(&self) -> u64 {
        0
    }
}

/// The id of [`GPIO_SET`], in a range Linux does not use (its helper ids stay below 0x1000).
pub const GPIO_SET_ID: u32 = 0x1000;

/// Linux's `EINVAL`, negated as helpers return it.
const EINVAL: u64 = (-22i64) as u64;

fn gpio_set(env: &mut HelperCall<'_>, pin: u64, level: u64, _: u64, _: u64, _: u64) -> u64 {
    match u32::try_from(pin) {
        Ok(pin) if env.platform.gpio_set(pin, level != 0) => 0,
        _ => EINVAL,
    }
}

/// `nanobpf_gpio_set(pin, level)` (id [`GPIO_SET_ID`] = 0x1000): drives output `pin` high
/// when `level` is non-zero, low otherwise, through [`Platform::gpio_set`]. Returns 0, or
/// `-EINVAL` for a pin the platform does not have (or whose driver reported an error).
///
/// In C: `static long (*nanobpf_gpio_set)(__u32 pin, __u64 level) = (void *)0x1000;`
pub const GPIO_SET: Helper = Helper {
    id: GPIO_SET_ID,
    name: "nanobpf_gpio_set",
    proto: HelperProto::new(
        [
            ArgKind::Scalar,
            ArgKind::Scalar,
            ArgKind::None,
            ArgKind::None,
            ArgKind::None,
        ],
        RetKind::Integer,
    ),
    func: gpio_set,
};

/// The standard helpers of `nanobpf_core::helpers` plus [`GPIO_SET`], copied from the core's
/// table when this crate is compiled, so the two lists cannot drift.
pub static HAL_HELPERS: [Helper; std_helpers::STANDARD.len() + 1] = {
    let mut all = [GPIO_SET; std_helpers::STANDARD.len() + 1];
    let mut i = 0;
    while i < std_helpers::STANDARD.len() {
        all[i] = std_helpers::STANDARD[i];
        i += 1;
    }
    all
};

/// [`HAL_HELPERS`] as a table.
pub const fn hal_helpers() -> HelperTable<'static> {
    HelperTable::new(&HAL_HELPERS)
}

/// A [`Platform`] on embedded-hal: `bpf_ktime_get_ns` reads `clock`, [`GPIO_SET`] drives one of
/// `PINS` output pins (pin numbers are indexes into the array), and `bpf_trace_printk` goes to
/// `defmt::println!` with the `defmt` feature (and is discarded without it).
///
/// The pins sit behind one spin lock, so programs on several cores may drive them; a helper
/// call holds it only for one `set_high`/`set_low`. `const fn new` lets a platform live in a
/// `static`.
pub struct HalPlatform<C, P, const PINS: usize> {
    clock: C,
    pins: spin::Mutex<[P; PINS]>,
}

impl<C, P, const PINS: usize> core::fmt::Debug for HalPlatform<C, P, PINS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HalPlatform")
            .field("pins", &PINS)
            .finish_non_exhaustive()
    }
}

impl<C: Clock, P: OutputPin, const PINS: usize> HalPlatform<C, P, PINS> {
    /// A platform over `clock` and `pins`.
    pub const fn new(clock: C, pins: [P; PINS]) -> Self {
        HalPlatform {
            clock,
            pins: spin::Mutex::new(pins),
        }
    }

    /// Runs `f` on the pins, for the firmware's own use between runs.
    pub fn with_pins<R>(&self, f: impl FnOnce(&mut [P; PINS]) -> R) -> R {
        f(&mut self.pins.lock())
    }

    /// Takes the platform apart.
    pub fn into_parts(self) -> (C, [P; PINS]) {
        (self.clock, self.pins.into_inner())
    }
}

impl<C, P, const PINS: usize> Platform for HalPlatform<C, P, PINS>
where
    C: Clock + Sync,
    P: OutputPin + Send,
{
    fn ktime_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    fn trace(&self, fmt: &[u8], args: [u64; 3]) {
        #[cfg(feature = "defmt")]
        defmt::println!(
            "bpf_trace_printk: {=[u8]:a} {=u64:#x} {=u64:#x} {=u64:#x}",
            fmt,
            args[0],
            args[1],
            args[2]
        );
        #[cfg(not(feature = "defmt"))]
        let _ = (fmt, args);
    }

    fn gpio_set(&self, pin: u32, high: bool) -> bool {
        let mut pins = self.pins.lock();
        match pins.get_mut(pin as usize) {
            Some(p) => p.set_state(PinState::from(high)).is_ok(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;
