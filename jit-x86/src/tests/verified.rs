//! Through the public path: verify, compile, run; compared with `Interpreter::run` on the same
//! `VerifiedProgram`. Also measures compilation time per instruction.

use super::diff::{gen_program, Rng, MEM};
use super::*;
use crate::compile;
use nanobpf_core::verifier::{verify, DefaultWorkspace, VerifyEnv};

/// Verifies `insns` as a memory program over `MEM` bytes with the test helpers; runs both
/// engines when it is accepted. Returns whether it was.
fn verified_both(
    insns: &mut [Insn],
    mem: &[u8],
    ws: &mut DefaultWorkspace,
    opts: &JitOptions,
) -> bool {
    let env = VerifyEnv::new(
        ProgramType::Memory { len: MEM as u32 },
        HelperTable::new(&HELPERS),
        &[],
    );
    let Ok(program) = verify(insns, &env, ws) else {
        return false;
    };
    let rt = rt();
    let mut stack = Box::new(Stack::new());
    let mut m1 = mem.to_vec();
    let want =
        Interpreter::with_runtime(rt).run(&program, &mut Context::Memory(&mut m1), &mut stack);
    let jit = compile(&program, &rt, opts).expect("compiles");
    let mut stack = Box::new(Stack::new());
    let mut m2 = mem.to_vec();
    let got = jit.run(&rt, &mut Context::Memory(&mut m2), &mut stack);
    let listing = nanobpf_core::Disasm::new(program.insns());
    assert_eq!(got, want, "r0 or trap differs in\n{listing}");
    assert_eq!(m2, m1, "memory differs in\n{listing}");
    true
}

#[test]
fn verified_random_programs_agree_with_the_interpreter() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut ws = Box::new(DefaultWorkspace::new());
    let start = std::time::Instant::now();
    let (mut tried, mut accepted) = (0, 0);
    while tried < 400 && start.elapsed().as_millis() < 1500 {
        let mut p = gen_program(&mut rng);
        let mut mem = [0u8; MEM];
        for b in &mut mem {
            *b = rng.next() as u8;
        }
        let opts = JitOptions {
            constant_blinding: rng.below(2) == 0,
            blinding_key: rng.next() as u32,
        };
        accepted += verified_both(&mut p, &mem, &mut ws, &opts) as u32;
        tried += 1;
    }
    std::println!("{accepted} of {tried} random programs verified and agreed");
    assert!(
        accepted >= 20,
        "only {accepted} of {tried} programs verified"
    );
}

#[test]
fn compile_time_per_instruction() {
    // A long verified straight-line program of mixed instructions.
    let mut text = std::string::String::from("mov %r6, %r1\n");
    for r in [0, 2, 3, 4, 5, 7, 8, 9] {
        text.push_str(&std::format!("mov %r{r}, {r}\n"));
    }
    let body = "add %r0, %r2\nmul %r3, 7\nxor %r4, %r0\nstxdw [%r10-8], %r4\nldxdw %r5, [%r10-8]\n\
                jgt %r5, %r3, +1\nlsh %r7, 3\ndiv %r8, %r9\nldxw %r9, [%r6+4]\nadd32 %r2, 1\n";
    for _ in 0..300 {
        text.push_str(body);
    }
    text.push_str("exit\n");
    let mut insns = asm(&text);
    let n = insns.len();
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyEnv::new(
        ProgramType::Memory { len: 64 },
        HelperTable::new(&HELPERS),
        &[],
    );
    let program = verify(&mut insns, &env, &mut ws).expect("verifies");
    let rt = rt();
    let runs = 5;
    let start = std::time::Instant::now();
    let mut size = 0;
    for _ in 0..runs {
        size = compile(&program, &rt, &JitOptions::default())
            .unwrap()
            .code_len();
    }
    let per_insn = start.elapsed().as_nanos() / (runs * n) as u128;
    std::println!(
        "JIT compile: {n} instructions, {size} bytes of code, {per_insn} ns per instruction \
         (assemble, decode-back check, map and protect; this build's profile)"
    );
    assert!(size > n, "code for every instruction");
    let mut mem = [1u8; 64];
    let jit = compile(&program, &rt, &JitOptions::default()).unwrap();
    let mut stack = Box::new(Stack::new());
    let got = jit.run(&rt, &mut Context::Memory(&mut mem), &mut stack);
    let mut stack = Box::new(Stack::new());
    let want = Interpreter::with_runtime(rt).run(
        &program,
        &mut Context::Memory(&mut [1u8; 64]),
        &mut stack,
    );
    assert_eq!(got, want);
}
