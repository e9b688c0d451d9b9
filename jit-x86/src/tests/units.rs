//! One behaviour per test: RFC edge cases, every instruction group, traps.

use super::*;

const EDGES: [u64; 10] = [
    0,
    1,
    2,
    7,
    u64::MAX,
    i64::MIN as u64,
    i64::MAX as u64,
    0xffff_ffff,
    0x8000_0000,
    0xdead_beef_8000_0001,
];

#[test]
fn division_and_modulo_edge_cases_match_the_rfc() {
    // RFC 9669's definitions, written here so the test does not take them from the core.
    type F = fn(u64, u64) -> u64;
    let ops: [(&str, F); 8] = [
        ("div", |a, b| a.checked_div(b).unwrap_or(0)),
        ("mod", |a, b| a.checked_rem(b).unwrap_or(a)),
        ("sdiv", |a, b| match b {
            0 => 0,
            _ => (a as i64).wrapping_div(b as i64) as u64,
        }),
        ("smod", |a, b| match b {
            0 => a,
            _ => (a as i64).wrapping_rem(b as i64) as u64,
        }),
        ("div32", |a, b| {
            (a as u32).checked_div(b as u32).unwrap_or(0) as u64
        }),
        ("mod32", |a, b| {
            (a as u32).checked_rem(b as u32).unwrap_or(a as u32) as u64
        }),
        ("sdiv32", |a, b| match b as u32 {
            0 => 0,
            _ => (a as i32).wrapping_div(b as i32) as u32 as u64,
        }),
        ("smod32", |a, b| match b as u32 {
            0 => a as u32 as u64,
            _ => (a as i32).wrapping_rem(b as i32) as u32 as u64,
        }),
    ];
    for (op, f) in ops {
        for a in EDGES {
            for b in EDGES {
                // dst r0 and r3 (rax and rdx, which `div` uses), src register and immediate.
                for (d, s) in [("r0", "r1"), ("r3", "r0"), ("r6", "r3")] {
                    let text = std::format!(
                        "lddw %{d}, {a:#x}\nlddw %{s}, {b:#x}\n{op} %{d}, %{s}\nmov %r0, %{d}\nexit"
                    );
                    assert_eq!(r0(&text), f(a, b), "{op} {a:#x} {b:#x} in {d}");
                }
                let imm = b as i32;
                let text = std::format!("lddw %r3, {a:#x}\n{op} %r3, {imm}\nmov %r0, %r3\nexit");
                assert_eq!(r0(&text), f(a, imm as i64 as u64), "{op} {a:#x} imm {imm}");
            }
        }
    }
}

#[test]
fn division_keeps_r0_and_r3() {
    let text = "mov %r0, 11\nmov %r3, 33\nmov %r1, 100\nmov %r2, 7\ndiv %r1, %r2\nmod %r2, 4\nadd %r0, %r3\nadd %r0, %r1\nadd %r0, %r2\nexit";
    assert_eq!(r0(text), 11 + 33 + 14 + 3);
}

#[test]
fn shifts_mask_their_counts_and_32_bit_results_are_zero_extended() {
    for op in ["lsh", "rsh", "arsh", "lsh32", "rsh32", "arsh32"] {
        for count in [0u64, 1, 31, 32, 33, 63, 64, 65, 0xffff_ffff_0000_0000] {
            let a = 0x8765_4321_f0f0_0f0fu64;
            let reg = std::format!(
                "lddw %r1, {a:#x}\nlddw %r4, {count:#x}\n{op} %r1, %r4\nmov %r0, %r1\nexit"
            );
            let got = r0(&reg);
            let c = count as u32;
            let want = match op {
                "lsh" => a.wrapping_shl(c),
                "rsh" => a.wrapping_shr(c),
                "arsh" => (a as i64).wrapping_shr(c) as u64,
                "lsh32" => (a as u32).wrapping_shl(c) as u64,
                "rsh32" => (a as u32).wrapping_shr(c) as u64,
                _ => (a as u32 as i32).wrapping_shr(c) as u32 as u64,
            };
            assert_eq!(got, want, "{op} by {count}");
            let imm = std::format!(
                "lddw %r1, {a:#x}\n{op} %r1, {}\nmov %r0, %r1\nexit",
                count as i32
            );
            let _ = r0(&imm);
        }
    }
}

#[test]
fn alu_byte_swaps_and_sign_extension() {
    let a = 0x8182_8384_8586_8788u64;
    for op in [
        "be16", "be32", "be64", "le16", "le32", "le64", "bswap16", "bswap32", "bswap64",
    ] {
        let text = std::format!("lddw %r2, {a:#x}\n{op} %r2\nmov %r0, %r2\nexit");
        let _ = r0(&text);
    }
    for op in [
        "movsx864",
        "movsx1664",
        "movsx3264",
        "movsx832",
        "movsx1632",
    ] {
        let text = std::format!("lddw %r2, {a:#x}\n{op} %r0, %r2\nexit");
        let _ = both(&text, &[]);
    }
    assert_eq!(
        r0("lddw %r2, 0x8182838485868788\nbswap16 %r2\nmov %r0, %r2\nexit"),
        0x8887
    );
}

#[test]
fn atomics_of_both_widths_agree_with_the_interpreter() {
    let ops = [
        "lock add",
        "lock or",
        "lock and",
        "lock xor",
        "lock fetch add",
        "lock fetch or",
        "lock fetch and",
        "lock fetch xor",
        "lock xchg",
        "lock cmpxchg",
    ];
    for op in ops {
        for w in ["32", ""] {
            // Every source register, r0 included (the fetching loops spill r0).
            for s in ["r0", "r1", "r3"] {
                let text = std::format!(
                    "lddw %r0, 0x1234567800ff00ff\nlddw %r1, 0x0f0f0f0ff0f0f0f0\nlddw %r3, 0x00000000ff00ff00\n\
                     lddw %r2, 0x1234567800ff00ff\nstxdw [%r10-8], %r2\n{op}{w} [%r10-8], %{s}\n\
                     ldxdw %r2, [%r10-8]\nxor %r0, %r2\nxor %r0, %r1\nxor %r0, %r3\nexit"
                );
                let _ = both(&text, &[]);
            }
        }
    }
}

#[test]
fn misaligned_atomics_trap_like_the_interpreter() {
    let (r, _) = both("mov %r1, 1\nlock add [%r10-12], %r1\nexit", &[]);
    assert_eq!(r, Err(Trap::Misaligned));
}

#[test]
fn loads_and_stores_of_every_size() {
    let mut mem = [0u8; 32];
    for (i, b) in mem.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x80;
    }
    let text = "ldxb %r2, [%r1+1]\nldxh %r3, [%r1+2]\nldxw %r4, [%r1+4]\nldxdw %r5, [%r1+8]\n\
                ldxsb %r6, [%r1+3]\nldxsh %r7, [%r1+5]\nldxsw %r8, [%r1+12]\n\
                stxb [%r1+16], %r6\nstxh [%r1+18], %r7\nstxw [%r1+20], %r8\nstxdw [%r1+24], %r5\n\
                stb [%r1+0], -2\nsth [%r1+2], -3\nstw [%r1+4], -4\nstdw [%r1+8], -5\n\
                mov %r0, %r2\nadd %r0, %r3\nadd %r0, %r4\nadd %r0, %r6\nadd %r0, %r7\nadd %r0, %r8\nexit";
    let (r, after) = both(text, &mem);
    assert!(r.is_ok());
    assert_ne!(after, mem);
}

#[test]
fn legacy_packet_loads_are_big_endian_and_end_the_program_when_out_of_bounds() {
    let mem: Vec<u8> = (0u8..16).collect();
    assert_eq!(both("ldabsw 4\nexit", &mem).0, Ok(0x0405_0607));
    assert_eq!(both("ldabsh 14\nexit", &mem).0, Ok(0x0e0f));
    assert_eq!(both("ldabsb 15\nexit", &mem).0, Ok(0x0f));
    assert_eq!(
        both("mov %r0, 9\nldabsw 13\nmov %r0, 5\nexit", &mem).0,
        Ok(0)
    );
    assert_eq!(both("mov %r6, 10\nldindh %r6, 3\nexit", &mem).0, Ok(0x0d0e));
    assert_eq!(both("mov %r6, -1\nldindb %r6, 1\nexit", &mem).0, Ok(0));
    assert_eq!(both("mov %r6, -1\nldindb %r6, 2\nexit", &mem).0, Ok(1));
    assert_eq!(
        both("lddw %r6, 0x100000000\nldindb %r6, 3\nexit", &mem).0,
        Ok(3)
    );
}

#[test]
fn helper_calls_pass_five_arguments_and_keep_r6_to_r9() {
    let text =
        "mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\nmov %r6, 6\nmov %r9, 9\n\
                call 100\nadd %r0, %r6\nadd %r0, %r9\nadd %r0, %r1\nadd %r0, %r5\nexit";
    let want = mix_value(1, 2, 3, 4, 5)
        .wrapping_add(6)
        .wrapping_add(9)
        .wrapping_add(1)
        .wrapping_add(5);
    assert_eq!(r0(text), want);
}

#[test]
fn helpers_write_memory_and_unknown_helpers_trap() {
    let (r, mem) = both("mov %r2, 77\ncall 101\nexit", &[0u8; 8]);
    assert_eq!(r, Ok(1));
    assert_eq!(mem, 77u64.to_le_bytes());
    assert_eq!(both("call 99\nexit", &[]).0, Err(Trap::UnknownHelper));
    assert!(both("mov %r1, 100\ncall %r1\nexit", &[]).0.is_ok());
}

#[test]
fn local_calls_save_registers_lower_r10_and_trap_past_eight_frames() {
    let text = "mov %r6, 5\nstdw [%r10-8], 40\ncall local f\nadd %r0, %r6\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit\n\
                f:\nmov %r6, 100\nstdw [%r10-8], 7\nmov %r0, %r6\nexit";
    assert_eq!(r0(text), 100 + 5 + 40);
    // Recursion: depth 8 is the limit, as in the interpreter.
    for n in [5, 6, 7, 8, 9] {
        let text = std::format!(
            "mov %r1, {n}\ncall local f\nexit\nf:\nmov %r0, %r1\njeq %r1, 0, out\nsub %r1, 1\ncall local f\nout:\nexit"
        );
        let _ = both(&text, &[]);
    }
    assert_eq!(
        both("mov %r1, 20\ncall local f\nexit\nf:\njeq %r1, 0, out\nsub %r1, 1\ncall local f\nout:\nexit", &[]).0,
        Err(Trap::CallDepth)
    );
}

#[test]
fn budget_traps_at_exactly_the_interpreters_count() {
    let text = "mov %r0, 0\nmov %r1, 10\nloop:\nadd %r0, %r1\nstxdw [%r10-8], %r0\nsub %r1, 1\n\
                jne %r1, 0, loop\ncall 100\nldabsb 0\nexit";
    let insns = asm(text);
    let mem = [9u8; 4];
    // Find the exact count with the interpreter, then test around it.
    let mut exact = None;
    for budget in 0..200u64 {
        let (r, _) = both_with(
            &insns,
            &mem,
            &rt().with_budget(budget),
            &JitOptions::default(),
        );
        if r.is_ok() && exact.is_none() {
            exact = Some(budget);
        }
    }
    let exact = exact.expect("finishes within 200");
    assert!(exact > 40);
    assert_eq!(
        both_with(
            &insns,
            &mem,
            &rt().with_budget(exact - 1),
            &JitOptions::default()
        )
        .0,
        Err(Trap::BudgetExhausted)
    );
}

#[test]
fn constant_blinding_keeps_immediates_out_of_the_code() {
    let insns = asm("mov %r0, 0x12345678\nadd %r0, 0x12345678\nexit");
    let plain = compile_insns(
        &insns,
        ProgramType::Memory { len: 0 },
        &rt(),
        &JitOptions::default(),
    )
    .unwrap();
    let blinded = compile_insns(
        &insns,
        ProgramType::Memory { len: 0 },
        &rt(),
        &JitOptions::blinded(0x0bad_f00d),
    )
    .unwrap();
    let pattern = 0x1234_5678u32.to_le_bytes();
    let has = |c: &[u8]| c.windows(4).any(|w| w == pattern);
    assert!(has(plain.code()));
    assert!(!has(blinded.code()));
}
