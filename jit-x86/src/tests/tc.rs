//! tc programs on the JIT and the interpreter: context fields (read and written), direct
//! packet access, and the helpers that rewrite and move the packet; r0, the buffer, the
//! packet's bounds, its fields and the redirect must agree.

use super::*;
use crate::compile;
use nanobpf_core::MapTable;
use nanobpf_core::TcBuff;
use nanobpf_core::{verify, DefaultWorkspace, VerifyTarget};

/// A packet: Ethernet, IPv4 192.168.1.1 to 10.1.2.3, UDP, six bytes of payload.
fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 48];
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14..34].copy_from_slice(&[
        0x45, 0, 0, 34, 0x12, 0x34, 0x40, 0, 64, 17, 0xa5, 0x5a, 192, 168, 1, 1, 10, 1, 2, 3,
    ]);
    p[34..42].copy_from_slice(&[0x04, 0xd2, 0, 53, 0, 14, 0x33, 0x44]);
    p[42..48].copy_from_slice(b"nanobp");
    p
}

type TcOutcome = (
    Result<u64, Trap>,
    Vec<u8>,
    usize,
    usize,
    [u32; 19],
    Option<u32>,
);

fn agree(text: &str) -> TcOutcome {
    let mut insns = asm(text);
    let env = VerifyTarget::new(
        ProgramType::Tc,
        nanobpf_core::helpers::standard(),
        MapTable::EMPTY,
    );
    let mut ws = Box::new(DefaultWorkspace::new());
    let program = verify(&mut insns, &env, &mut ws).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let rt = Runtime::new(nanobpf_core::helpers::standard(), &NoPlatform);
    let run = |jit: bool| -> TcOutcome {
        let mut buf = vec![0x77u8; 24];
        buf.extend_from_slice(&packet());
        buf.extend_from_slice(&[0x99; 24]);
        let mut ctx = Context::Tc(TcBuff::new(&mut buf, 24, 48));
        let mut stack = Box::new(Stack::new());
        let r = if jit {
            let code = compile(&program, &rt, &JitOptions::default()).expect("compiles");
            code.run(&mut ctx, &mut stack)
        } else {
            Interpreter::with_runtime(rt).run(&program, &mut ctx, &mut stack)
        };
        let Context::Tc(t) = ctx else { unreachable!() };
        let state = (t.data, t.data_end, t.fields, t.redirect.map(|r| r.ifindex));
        (r, buf, state.0, state.1, state.2, state.3)
    };
    let (want, got) = (run(false), run(true));
    assert_eq!(got, want, "{text}");
    got
}

#[test]
fn tc_programs_agree_with_the_interpreter() {
    // Fields: mark, cb, priority written; len, protocol, data, data_end read.
    let (r, _, _, _, fields, _) = agree(
        "ldxw %r2, [%r1+0]
        ldxh %r3, [%r1+16]
        stxw [%r1+8], %r3
        stxw [%r1+48], %r2
        stw [%r1+32], 6
        ldxw %r4, [%r1+76]
        ldxw %r5, [%r1+80]
        mov %r0, %r5
        sub %r0, %r4
        exit",
    );
    assert_eq!(r, Ok(48));
    assert_eq!((fields[2], fields[12], fields[8]), (8, 48, 6));

    // Rewrite the destination address, fix both checksums, then read the new bytes back
    // through a fresh packet pointer and redirect.
    let (r, buf, data, _, _, redirect) = agree(
        "mov %r6, %r1
        ldxw %r7, [%r6+76]
        ldxw %r8, [%r6+80]
        mov %r2, %r7
        add %r2, 42
        jgt %r2, %r8, out
        ldxw %r9, [%r7+30]
        stw [%r10-4], 0x6300000a
        mov %r1, %r6
        mov %r2, 30
        mov %r3, %r10
        add %r3, -4
        mov %r4, 4
        mov %r5, 0
        call 9
        mov %r1, %r6
        mov %r2, 24
        mov %r3, %r9
        ldxw %r4, [%r10-4]
        mov %r5, 4
        call 10
        mov %r1, %r6
        mov %r2, 40
        mov %r3, %r9
        ldxw %r4, [%r10-4]
        mov %r5, 0x14
        call 11
        mov %r1, %r6
        mov %r2, 8
        mov %r3, 0
        mov %r4, 0
        call 50
        ldxw %r7, [%r6+76]
        ldxw %r8, [%r6+80]
        mov %r2, %r7
        add %r2, 42
        jgt %r2, %r8, out
        ldxb %r9, [%r7+41]
        mov %r1, 3
        mov %r2, 0
        call 23
        add %r0, %r9
        exit
    out:
        mov %r0, 2
        exit",
    );
    assert_eq!(data, 16, "eight bytes of room opened");
    assert_eq!(buf[16 + 22 + 16 + 3], 99);
    assert_eq!((r, redirect), (Ok(7 + 99), Some(3)));

    // Grow at the head and the tail, recompute the hash; `len` follows.
    let (r, _, data, end, fields, _) = agree(
        "mov %r6, %r1
        mov %r2, 16
        mov %r3, 0
        call 43
        mov %r1, %r6
        mov %r2, 70
        mov %r3, 0
        call 38
        mov %r1, %r6
        call 34
        ldxw %r0, [%r6+0]
        exit",
    );
    assert_eq!((r, data, end), (Ok(70), 8, 78));
    assert_ne!(fields[17], 0, "the hash was recomputed");
}
