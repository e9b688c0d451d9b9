use super::*;
use core::sync::atomic::{AtomicU64, Ordering};
use embedded_hal::digital::{Error, ErrorKind, ErrorType};
use nanobpf_core::{assemble, Context, Insn, Interpreter, Program, Stack};
use std::vec::Vec;

/// An output pin that records every level it is driven to, and fails when told to.
#[derive(Debug, Default)]
struct MockPin {
    levels: Vec<bool>,
    broken: bool,
}

#[derive(Debug)]
struct Broken;

impl Error for Broken {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

impl ErrorType for MockPin {
    type Error = Broken;
}

impl OutputPin for MockPin {
    fn set_low(&mut self) -> Result<(), Broken> {
        self.set(false)
    }
    fn set_high(&mut self) -> Result<(), Broken> {
        self.set(true)
    }
}

impl MockPin {
    fn set(&mut self, level: bool) -> Result<(), Broken> {
        if self.broken {
            return Err(Broken);
        }
        self.levels.push(level);
        Ok(())
    }
}

static NOW: AtomicU64 = AtomicU64::new(0);

fn now() -> u64 {
    NOW.fetch_add(1000, Ordering::Relaxed)
}

fn run(src: &str, platform: &dyn Platform) -> u64 {
    let mut insns = [Insn::default(); 64];
    let n = assemble(src, &mut insns).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let program = Program::new(&insns[..n]).unwrap();
    let vm = Interpreter::new(hal_helpers(), platform);
    vm.run_checked(&program, &mut Context::Memory(&mut []), &mut Stack::new())
        .unwrap()
}

#[test]
fn a_program_drives_the_pins() {
    let platform = HalPlatform::new(NoClock, [MockPin::default(), MockPin::default()]);
    // Pin 1 high, pin 0 high then low (any non-zero level is high); r0 sums the results.
    let src = "
        mov %r1, 1
        mov %r2, 1
        call 0x1000
        mov %r6, %r0
        mov %r1, 0
        mov %r2, 7
        call 0x1000
        add %r6, %r0
        mov %r1, 0
        mov %r2, 0
        call 0x1000
        add %r0, %r6
        exit";
    assert_eq!(run(src, &platform), 0);
    platform.with_pins(|[p0, p1]| {
        assert_eq!(p0.levels, [true, false]);
        assert_eq!(p1.levels, [true]);
    });
}

#[test]
fn a_missing_or_failing_pin_is_einval() {
    let platform = HalPlatform::new(NoClock, [MockPin::default()]);
    // Pin 1 does not exist; nor does pin 2^32 (the helper takes a u32).
    assert_eq!(
        run("mov %r1, 1\nmov %r2, 1\ncall 0x1000\nexit", &platform),
        EINVAL
    );
    let src = "lddw %r1, 0x100000000\nmov %r2, 1\ncall 0x1000\nexit";
    assert_eq!(run(src, &platform), EINVAL);
    let (_, [mut pin]) = platform.into_parts();
    assert!(pin.levels.is_empty());
    pin.broken = true;
    let platform = HalPlatform::new(NoClock, [pin]);
    assert_eq!(
        run("mov %r1, 0\nmov %r2, 1\ncall 0x1000\nexit", &platform),
        EINVAL
    );
}

#[test]
fn ktime_reads_the_clock() {
    let platform = HalPlatform::new(now as fn() -> u64, [MockPin::default()]);
    // Two reads of a clock that advances 1000 per read.
    let src = "call 5\nmov %r6, %r0\ncall 5\nsub %r0, %r6\nexit";
    assert_eq!(run(src, &platform), 1000);
    assert_eq!(NoClock.now_ns(), 0);
}

#[test]
fn the_helper_table_is_the_standard_one_plus_gpio() {
    let table = hal_helpers();
    assert_eq!(
        table.get(GPIO_SET_ID).map(|h| h.name),
        Some("nanobpf_gpio_set")
    );
    for h in nanobpf_core::helpers::standard().iter() {
        assert_eq!(table.get(h.id).map(|t| t.name), Some(h.name));
    }
    assert_eq!(HAL_HELPERS.len(), nanobpf_core::helpers::STANDARD.len() + 1);
}

/// The platform is usable from a `static`, as firmware keeps it.
static STATIC_PLATFORM: HalPlatform<NoClock, MockStaticPin, 1> =
    HalPlatform::new(NoClock, [MockStaticPin(false)]);

#[derive(Debug)]
struct MockStaticPin(bool);

impl ErrorType for MockStaticPin {
    type Error = core::convert::Infallible;
}

impl OutputPin for MockStaticPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0 = false;
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0 = true;
        Ok(())
    }
}

#[test]
fn a_static_platform_serves_programs() {
    assert_eq!(
        run(
            "mov %r1, 0\nmov %r2, 1\ncall 0x1000\nexit",
            &STATIC_PLATFORM
        ),
        0
    );
    assert!(STATIC_PLATFORM.with_pins(|[p]| p.0));
}
