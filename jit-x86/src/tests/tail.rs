//! Tail calls through the public path: verified programs, a program array, the chain limit.

use super::*;
use crate::compile;
use nanobpf_core::{value_words, Map, MapTable};
use nanobpf_core::{verify, DefaultWorkspace, VerifyTarget};
use nanobpf_core::{ArrayMap, ProgArray, VerifiedProgram, XdpBuff};

static PROGS: ProgArray<2> = ProgArray::new();
static COUNT: ArrayMap<8, { value_words(8) }, 1> = ArrayMap::new();

#[test]
fn tail_calls_jump_and_stop_at_the_chain_limit_like_the_interpreter() {
    let maps: [&dyn Map; 2] = [&PROGS, &COUNT];
    let table = MapTable::new(&maps);
    let mut counting = asm(
        "mov %r6, %r1\nlddw %r2, map_value[1]\nmov %r3, 1\nlock add [%r2], %r3\n\
                            mov %r1, %r6\nlddw %r2, map[0]\nmov %r3, 0\ncall 12\nmov %r0, 99\nexit",
    );
    let mut answer = asm("mov %r0, 42\nexit");
    let env = VerifyTarget::new(ProgramType::Xdp, nanobpf_core::helpers::standard(), table);
    let mut ws = Box::new(DefaultWorkspace::new());
    let p0 = verify(&mut counting, &env, &mut ws).expect("verifies");
    let p1 = verify(&mut answer, &env, &mut ws).expect("verifies");
    let programs: [VerifiedProgram<'_>; 2] = [p0, p1];
    let rt = Runtime::new(nanobpf_core::helpers::standard(), &NoPlatform)
        .with_maps(table)
        .with_programs(&programs);
    let jit = compile(&programs[0], &rt, &JitOptions::default()).expect("compiles");
    let count = || {
        let mut v = [0u8; 8];
        COUNT.lookup_copy(&0u32.to_ne_bytes(), &mut v).unwrap();
        u64::from_ne_bytes(v)
    };
    let interp = Interpreter::with_runtime(rt);
    for (slot, want, runs) in [(Some(1), 42, 1), (Some(0), 99, 34), (None, 99, 1)] {
        match slot {
            Some(s) => PROGS.set(0, s).unwrap(),
            None => PROGS.clear(0).unwrap(),
        }
        let before = count();
        let got = jit.run(
            &mut Context::Xdp(XdpBuff::new(&mut [0u8; 64], 0, 64)),
            &mut Stack::new(),
        );
        assert_eq!(got, Ok(want));
        assert_eq!(count() - before, runs);
        let before = count();
        let reference = interp.run(
            &programs[0],
            &mut Context::Xdp(XdpBuff::new(&mut [0u8; 64], 0, 64)),
            &mut Stack::new(),
        );
        assert_eq!(reference, got);
        assert_eq!(count() - before, runs);
    }
}
