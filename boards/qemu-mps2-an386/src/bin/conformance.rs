//! The conformance image: every bpf_conformance program (assembled on the host at build time
//! from `../shared`), verified on the device and run on the interpreter and on the Thumb-2
//! JIT; one line per failure and `N passed, M failed` per engine. Then tail calls through a
//! program array (a target taken, the 33-call chain limit, an empty slot), on both engines.
//! With the `metering` feature, every program also runs under budgets of 1, 2, 5, 20 and 100
//! instructions on both engines, which must agree (value or trap). Exits 0 only when both
//! engines pass everything.
#![no_std]
#![no_main]

use core::fmt;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use nanobpf_board_qemu_mps2_an386::exec::CodeBuffer;
use nanobpf_board_qemu_mps2_an386::{exit, instructions, Ticks};
use nanobpf_core::{
    assemble, helpers, ArrayMap, Context, Insn, Interpreter, NoPlatform, ProgArray, ProgramType,
    Runtime, Stack, VerifiedProgram, XdpBuff,
};
use nanobpf_core::{value_words, Map, MapTable};
use nanobpf_core::{verify, DefaultWorkspace, VerifyTarget};
use nanobpf_jit_thumb2::{compile, JitWorkspace};
use panic_semihosting as _;

/// One test: its slots, input memory and expected r0.
struct Case {
    name: &'static str,
    slots: &'static [u64],
    mem: &'static [u8],
    result: u64,
}

include!(concat!(env!("OUT_DIR"), "/conformance_cases.rs"));

/// Programs of up to this many slots (the default verifier workspace's limit).
const MAX_SLOTS: usize = 4096;

/// Everything large, in one static.
struct Storage {
    ws: DefaultWorkspace,
    jws: JitWorkspace<MAX_SLOTS>,
    code: CodeBuffer<{ 64 * 1024 }>,
    insns: [Insn; MAX_SLOTS],
    stack: Stack,
    mem: [u8; 4096],
}

static STORAGE: spin::Mutex<Storage> = spin::Mutex::new(Storage {
    ws: DefaultWorkspace::new(),
    jws: JitWorkspace::new(),
    code: CodeBuffer::new(),
    insns: [Insn::new(0, 0, 0, 0, 0); MAX_SLOTS],
    stack: Stack::new(),
    mem: [0; 4096],
});
static PLATFORM: NoPlatform = NoPlatform;
static PROGS: ProgArray<2> = ProgArray::new();
static COUNT: ArrayMap<8, { value_words(8) }, 1> = ArrayMap::new();
static TAIL_INSNS: spin::Mutex<[[Insn; 16]; 2]> =
    spin::Mutex::new([[Insn::new(0, 0, 0, 0, 0); 16]; 2]);

#[entry]
fn main() -> ! {
    exit(firmware())
}

/// Why the image fails.
enum Failure {
    Taken,
    Failed { interp: u32, jit: u32 },
    NoTests,
    TailSetup(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Taken => f.write_str("storage already taken"),
            Failure::Failed { interp, jit } => {
                write!(f, "{interp} interpreter and {jit} JIT failures")
            }
            Failure::NoTests => f.write_str("no conformance programs were built in"),
            Failure::TailSetup(what) => write!(f, "tail-call setup: {what}"),
        }
    }
}

/// Pass/fail counts of one engine.
#[derive(Default)]
struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    fn record(&mut self, engine: &str, case: &Case, got: Result<u64, impl fmt::Display>) {
        match got {
            Ok(v) if v == case.result => self.passed += 1,
            Ok(v) => {
                self.failed += 1;
                hprintln!(
                    "{} {}: expected {:#x}, got {:#x}",
                    engine,
                    case.name,
                    case.result,
                    v
                );
            }
            Err(e) => {
                self.failed += 1;
                hprintln!(
                    "{} {}: expected {:#x}, got {}",
                    engine,
                    case.name,
                    case.result,
                    e
                );
            }
        }
    }
}

fn firmware() -> Result<(), Failure> {
    let cp = cortex_m::Peripherals::take().ok_or(Failure::Taken)?;
    let mut ticks = Ticks::start(cp.SYST);
    let per_kilotick = ticks.instructions_per_kilotick();
    let s = spin::MutexGuard::leak(STORAGE.try_lock().ok_or(Failure::Taken)?);
    let rt = Runtime::new(helpers::standard(), &PLATFORM);
    let vm = Interpreter::new(helpers::standard(), &PLATFORM);
    let (mut interp, mut jit) = (Tally::default(), Tally::default());
    let (mut code_bytes, mut compile_ticks) = (0usize, 0u64);
    #[cfg(feature = "metering")]
    let mut metered = Tally::default();
    for case in CASES {
        let n = case.slots.len().min(MAX_SLOTS);
        for (d, &v) in s.insns.iter_mut().zip(case.slots) {
            *d = Insn::from_u64(v);
        }
        let len = case.mem.len().min(s.mem.len());
        let env = VerifyTarget::new(
            ProgramType::Memory { len: len as u32 },
            helpers::standard(),
            MapTable::EMPTY,
        );
        let prog: VerifiedProgram<'_> = match verify(&mut s.insns[..n], &env, &mut s.ws) {
            Ok(p) => p,
            Err(e) => {
                interp.record("interp", case, Err::<u64, _>(e));
                jit.record("jit", case, Err::<u64, _>(e));
                continue;
            }
        };
        s.mem[..len].copy_from_slice(&case.mem[..len]);
        let got = vm.run(&prog, &mut Context::Memory(&mut s.mem[..len]), &mut s.stack);
        interp.record("interp", case, got);

        s.mem[..len].copy_from_slice(&case.mem[..len]);
        let start = ticks.now();
        let compiled = compile(&prog, &rt, s.code.region(), &mut s.jws);
        compile_ticks += ticks.now() - start;
        match compiled {
            Ok(p) => {
                code_bytes += p.code_len();
                let got = p.run(&mut Context::Memory(&mut s.mem[..len]), &mut s.stack);
                jit.record("jit", case, got);
            }
            Err(e) => jit.record("jit", case, Err::<u64, _>(e)),
        }
        #[cfg(feature = "metering")]
        budgets(
            case,
            &prog,
            &mut s.mem[..len],
            &mut s.stack,
            &mut s.code,
            &mut s.jws,
            &mut metered,
        );
    }
    #[cfg(feature = "metering")]
    {
        hprintln!(
            "budgets: {} runs agreed, {} differed",
            metered.passed,
            metered.failed
        );
        jit.failed += metered.failed;
    }
    hprintln!(
        "conformance on mps2-an386: {} programs; JIT code {} bytes in all, compiled and checked in {} emulated instructions",
        CASES.len(),
        code_bytes,
        instructions(compile_ticks, per_kilotick)
    );
    hprintln!("interp: {} passed, {} failed", interp.passed, interp.failed);
    hprintln!("jit: {} passed, {} failed", jit.passed, jit.failed);
    let (ti, tj) = tail_calls(&mut s.ws, &mut s.code, &mut s.jws, &mut s.stack)?;
    hprintln!(
        "tail calls: interp {} passed, {} failed; jit {} passed, {} failed",
        ti.passed,
        ti.failed,
        tj.passed,
        tj.failed
    );
    interp.failed += ti.failed;
    jit.failed += tj.failed;
    if CASES.is_empty() {
        return Err(Failure::NoTests);
    }
    if interp.failed + jit.failed > 0 {
        return Err(Failure::Failed {
            interp: interp.failed,
            jit: jit.failed,
        });
    }
    Ok(())
}

/// Tail calls through a program array: the first program counts its runs in a map and tail
/// calls slot 0; the second returns 42. With slot 0 holding the second program the run
/// returns 42 after one count; holding the first itself, it chains until the limit (34 runs,
/// then the call falls through to `r0 = 99`); with slot 0 empty it falls through at once.
fn tail_calls(
    ws: &mut DefaultWorkspace,
    code: &mut CodeBuffer<{ 64 * 1024 }>,
    jws: &mut JitWorkspace<MAX_SLOTS>,
    stack: &mut Stack,
) -> Result<(Tally, Tally), Failure> {
    let maps: [&dyn Map; 2] = [&PROGS, &COUNT];
    let table = MapTable::new(&maps);
    let [a, b] = spin::MutexGuard::leak(TAIL_INSNS.try_lock().ok_or(Failure::Taken)?);
    let na = assemble(
        "mov %r6, %r1\nlddw %r2, map_value[1]\nmov %r3, 1\nlock add [%r2], %r3\n\
         mov %r1, %r6\nlddw %r2, map[0]\nmov %r3, 0\ncall 12\nmov %r0, 99\nexit",
        a,
    )
    .map_err(|_| Failure::TailSetup("assembly"))?;
    let nb = assemble("mov %r0, 42\nexit", b).map_err(|_| Failure::TailSetup("assembly"))?;
    let env = VerifyTarget::new(ProgramType::Xdp, helpers::standard(), table);
    let p0 = verify(&mut a[..na], &env, ws).map_err(|_| Failure::TailSetup("verification"))?;
    let p1 = verify(&mut b[..nb], &env, ws).map_err(|_| Failure::TailSetup("verification"))?;
    let programs = [p0, p1];
    let rt = Runtime::new(helpers::standard(), &PLATFORM).with_programs(&programs);
    let jit = compile(&programs[0], &rt, code.region(), jws)
        .map_err(|_| Failure::TailSetup("compilation"))?;
    let interp = Interpreter::with_runtime(rt);
    let count = || {
        let mut v = [0u8; 8];
        COUNT
            .lookup_copy(&0u32.to_ne_bytes(), &mut v)
            .map(|_| u64::from_ne_bytes(v))
            .unwrap_or(u64::MAX)
    };
    let (mut ti, mut tj) = (Tally::default(), Tally::default());
    for (slot, want, runs) in [(Some(1), 42u64, 1u64), (Some(0), 99, 34), (None, 99, 1)] {
        let set = match slot {
            Some(s) => PROGS.set(0, s),
            None => PROGS.clear(0),
        };
        set.map_err(|_| Failure::TailSetup("program array"))?;
        let case = Case {
            name: "tail call",
            slots: &[],
            mem: &[],
            result: want << 32 | runs,
        };
        let mut frame = [0u8; 64];
        let before = count();
        let got = interp.run(
            &programs[0],
            &mut Context::Xdp(XdpBuff::new(&mut frame, 0, 64)),
            stack,
        );
        ti.record("interp", &case, got.map(|r0| r0 << 32 | (count() - before)));
        let before = count();
        let got = jit.run(&mut Context::Xdp(XdpBuff::new(&mut frame, 0, 64)), stack);
        tj.record("jit", &case, got.map(|r0| r0 << 32 | (count() - before)));
    }
    Ok((ti, tj))
}

/// Runs `prog` under small budgets on the interpreter and on metered JIT code: the results
/// (r0, or the trap and where the budget ran out) must be the same.
#[cfg(feature = "metering")]
fn budgets(
    case: &Case,
    prog: &VerifiedProgram<'_>,
    mem: &mut [u8],
    stack: &mut Stack,
    code: &mut CodeBuffer<{ 64 * 1024 }>,
    jws: &mut JitWorkspace<MAX_SLOTS>,
    tally: &mut Tally,
) {
    for budget in [1u64, 2, 5, 20, 100] {
        let rt = Runtime::new(helpers::standard(), &PLATFORM).with_budget(budget);
        let want = {
            mem.copy_from_slice(&case.mem[..mem.len()]);
            let r = Interpreter::with_runtime(rt).run(prog, &mut Context::Memory(mem), stack);
            (r, fnv(mem))
        };
        let got = match compile(prog, &rt, code.region(), jws) {
            Ok(p) => {
                mem.copy_from_slice(&case.mem[..mem.len()]);
                let r = p.run(&mut Context::Memory(mem), stack);
                (r, fnv(mem))
            }
            Err(e) => {
                hprintln!("budget {} {}: {}", budget, case.name, e);
                tally.failed += 1;
                continue;
            }
        };
        if got == want {
            tally.passed += 1;
        } else {
            tally.failed += 1;
            hprintln!(
                "budget {} {}: interpreter {:?}, jit {:?}",
                budget,
                case.name,
                want.0,
                got.0
            );
        }
    }
}

/// A hash of the memory a run leaves, to compare engines.
#[cfg(feature = "metering")]
fn fnv(mem: &[u8]) -> u64 {
    mem.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
