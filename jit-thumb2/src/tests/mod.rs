//! Host tests: encodings against the Architecture Reference Manual (bytes as an independent
//! assembler writes them), decoding back, the check, and every conformance program compiled
//! and checked.

mod conformance;
/// The `.data` reader (also included by the MPS2 board's build script).
pub mod data;
#[cfg(feature = "emulator")]
mod emulated;
mod routines;

use crate::check::check;
use crate::emit::Routines;
use crate::error::{CheckFailure, JitErrorKind};
use crate::thumb::{decode, encode, modified_imm, Cond, Dp, Ins, Sh, Width};
use std::prelude::rust_2021::*;
use std::vec;

fn bytes(i: Ins) -> Vec<u8> {
    let (h1, h2) = encode(i).expect("encodable");
    let mut v = h1.to_le_bytes().to_vec();
    if let Some(h2) = h2 {
        v.extend(h2.to_le_bytes());
    }
    v
}

fn dp(op: Dp, s: bool, rd: u8, rn: u8, rm: u8, sh: Sh, n: u8) -> Ins {
    Ins::DpReg {
        op,
        s,
        rd,
        rn,
        rm,
        sh,
        n,
    }
}

fn imm(op: Dp, s: bool, rd: u8, rn: u8, imm: u32) -> Ins {
    Ins::DpImm { op, s, rd, rn, imm }
}

fn mem(load: bool, signed: bool, w: Width, rt: u8, rn: u8, off: i32) -> Ins {
    Ins::Mem {
        load,
        signed,
        w,
        rt,
        rn,
        off,
    }
}

/// Each instruction form the translation emits, with the bytes `llvm-mc -triple=thumbv7em
/// -show-encoding` gives for the same assembly (in the comment).
#[rustfmt::skip]
fn vectors() -> Vec<(Ins, [u8; 4])> {
    use Dp::*;
    let _ = And;
    vec![
        (dp(Add, true, 0, 0, 2, Sh::Lsl, 0), [0x10, 0xeb, 0x02, 0x00]), // adds.w r0, r0, r2
        (dp(Adc, false, 1, 1, 3, Sh::Lsl, 0), [0x41, 0xeb, 0x03, 0x01]), // adc.w r1, r1, r3
        (dp(Sbc, false, 5, 5, 5, Sh::Lsl, 1), [0x65, 0xeb, 0x45, 0x05]), // sbc.w r5, r5, r5, lsl #1
        (dp(Orr, false, 1, 1, 0, Sh::Lsr, 7), [0x41, 0xea, 0xd0, 0x11]), // orr.w r1, r1, r0, lsr #7
        (dp(Orr, false, 4, 15, 2, Sh::Asr, 31), [0x4f, 0xea, 0xe2, 0x74]), // asr.w r4, r2, #31
        (dp(Orr, false, 11, 15, 0, Sh::Lsl, 0), [0x4f, 0xea, 0x00, 0x0b]), // mov.w r11, r0
        (dp(Sub, true, 15, 0, 2, Sh::Lsl, 0), [0xb0, 0xeb, 0x02, 0x0f]), // cmp.w r0, r2
        (dp(And, true, 15, 4, 6, Sh::Lsl, 0), [0x14, 0xea, 0x06, 0x0f]), // tst.w r4, r6
        (dp(Sbc, true, 12, 1, 3, Sh::Lsl, 0), [0x71, 0xeb, 0x03, 0x0c]), // sbcs.w r12, r1, r3
        (imm(Add, false, 0, 0, 255), [0x00, 0xf1, 0xff, 0x00]), // add.w r0, r0, #255
        (imm(Sub, false, 10, 10, 512), [0xaa, 0xf5, 0x00, 0x7a]), // sub.w r10, r10, #512
        (imm(Add, false, 10, 10, 512), [0x0a, 0xf5, 0x00, 0x7a]), // add.w r10, r10, #512
        (imm(Orr, false, 0, 15, u32::MAX), [0x4f, 0xf0, 0xff, 0x30]), // mov.w r0, #-1
        (imm(Orn, false, 1, 15, 0x10000), [0x6f, 0xf4, 0x80, 0x31]), // mvn r1, #65536
        (imm(Sub, true, 15, 12, 0), [0xbc, 0xf1, 0x00, 0x0f]), // cmp.w r12, #0
        (imm(Rsb, true, 4, 4, 0), [0xd4, 0xf1, 0x00, 0x04]), // rsbs.w r4, r4, #0
        (imm(And, false, 12, 2, 63), [0x02, 0xf0, 0x3f, 0x0c]), // and r12, r2, #63
        (Ins::Movw { rd: 12, imm: 0x2345 }, [0x42, 0xf2, 0x45, 0x3c]), // movw r12, #0x2345
        (Ins::Movt { rd: 12, imm: 1 }, [0xc0, 0xf2, 0x01, 0x0c]), // movt r12, #1
        (Ins::ShReg { sh: Sh::Lsl, rd: 5, rn: 5, rm: 12 }, [0x05, 0xfa, 0x0c, 0xf5]), // lsl.w r5, r5, r12
        (Ins::ShReg { sh: Sh::Asr, rd: 4, rn: 5, rm: 14 }, [0x45, 0xfa, 0x0e, 0xf4]), // asr.w r4, r5, lr
        (Ins::Mul { rd: 0, rn: 0, rm: 2 }, [0x00, 0xfb, 0x02, 0xf0]), // mul r0, r0, r2
        (Ins::Mla { rd: 14, rn: 4, rm: 3, ra: 14 }, [0x04, 0xfb, 0x03, 0xee]), // mla lr, r4, r3, lr
        (Ins::Mls { rd: 0, rn: 12, rm: 2, ra: 0 }, [0x0c, 0xfb, 0x12, 0x00]), // mls r0, r12, r2, r0
        (Ins::Umull { lo: 12, hi: 14, rn: 0, rm: 2 }, [0xa0, 0xfb, 0x02, 0xce]), // umull r12, lr, r0, r2
        (Ins::Div { signed: false, rd: 12, rn: 0, rm: 2 }, [0xb0, 0xfb, 0xf2, 0xfc]), // udiv r12, r0, r2
        (Ins::Div { signed: true, rd: 12, rn: 4, rm: 6 }, [0x94, 0xfb, 0xf6, 0xfc]), // sdiv r12, r4, r6
        (Ins::Rev { half: false, rd: 0, rm: 0 }, [0x90, 0xfa, 0x80, 0xf0]), // rev.w r0, r0
        (Ins::Rev { half: true, rd: 4, rm: 4 }, [0x94, 0xfa, 0x94, 0xf4]), // rev16.w r4, r4
        (Ins::Ext { signed: true, half: false, rd: 0, rm: 1 }, [0x4f, 0xfa, 0x81, 0xf0]), // sxtb.w r0, r1
        (Ins::Ext { signed: true, half: true, rd: 0, rm: 1 }, [0x0f, 0xfa, 0x81, 0xf0]), // sxth.w r0, r1
        (Ins::Ext { signed: false, half: false, rd: 0, rm: 1 }, [0x5f, 0xfa, 0x81, 0xf0]), // uxtb.w r0, r1
        (Ins::Ext { signed: false, half: true, rd: 4, rm: 4 }, [0x1f, 0xfa, 0x84, 0xf4]), // uxth.w r4, r4
        (mem(true, false, Width::W, 0, 11, 8), [0xdb, 0xf8, 0x08, 0x00]), // ldr.w r0, [r11, #8]
        (mem(true, false, Width::B, 0, 2, 4095), [0x92, 0xf8, 0xff, 0x0f]), // ldrb.w r0, [r2, #4095]
        (mem(true, false, Width::H, 0, 2, -3), [0x32, 0xf8, 0x03, 0x0c]), // ldrh r0, [r2, #-3]
        (mem(true, true, Width::B, 4, 10, -255), [0x1a, 0xf9, 0xff, 0x4c]), // ldrsb r4, [r10, #-255]
        (mem(true, true, Width::H, 1, 2, 6), [0xb2, 0xf9, 0x06, 0x10]), // ldrsh.w r1, [r2, #6]
        (mem(false, false, Width::W, 0, 2, -4), [0x42, 0xf8, 0x04, 0x0c]), // str r0, [r2, #-4]
        (mem(false, false, Width::W, 13, 11, 112), [0xcb, 0xf8, 0x70, 0xd0]), // str.w sp, [r11, #112]
        (mem(true, false, Width::W, 13, 11, 112), [0xdb, 0xf8, 0x70, 0xd0]), // ldr.w sp, [r11, #112]
        (mem(false, false, Width::B, 0, 12, 0), [0x8c, 0xf8, 0x00, 0x00]), // strb.w r0, [r12]
        (mem(false, false, Width::H, 0, 2, 2), [0xa2, 0xf8, 0x02, 0x00]), // strh.w r0, [r2, #2]
        (Ins::Dual { load: true, rt: 4, rt2: 5, rn: 11, off: 32 }, [0xdb, 0xe9, 0x08, 0x45]), // ldrd r4, r5, [r11, #32]
        (Ins::Dual { load: false, rt: 0, rt2: 14, rn: 11, off: 88 }, [0xcb, 0xe9, 0x16, 0x0e]), // strd r0, lr, [r11, #88]
        (Ins::Push(0x4ff8), [0x2d, 0xe9, 0xf8, 0x4f]), // push.w {r3-r11, lr}
        (Ins::Pop(0x8ff8), [0xbd, 0xe8, 0xf8, 0x8f]), // pop.w {r3-r11, pc}
        (Ins::Push(0x5000), [0x2d, 0xe9, 0x00, 0x50]), // push.w {r12, lr}
        (Ins::Pop(0x9000), [0xbd, 0xe8, 0x00, 0x90]), // pop.w {r12, pc}
        (Ins::Push(0x0003), [0x2d, 0xe9, 0x03, 0x00]), // push.w {r0, r1}
        (Ins::B(24), [0x00, 0xf0, 0x0c, 0xb8]), // b.w +24
        (Ins::Bcc(Cond::Eq, 20), [0x00, 0xf0, 0x0a, 0x80]), // beq.w +20
        (Ins::Bcc(Cond::Ne, -16), [0x7f, 0xf4, 0xf8, 0xaf]), // bne.w -16
        (Ins::Bl(-20), [0xff, 0xf7, 0xf6, 0xff]), // bl -20
        (Ins::Bcc(Cond::Mi, 12), [0x00, 0xf1, 0x06, 0x80]), // bmi.w +12
        (Ins::Ldrex { rt: 0, rn: 12 }, [0x5c, 0xe8, 0x00, 0x0f]), // ldrex r0, [r12]
        (Ins::Strex { rd: 14, rt: 1, rn: 12 }, [0x4c, 0xe8, 0x00, 0x1e]), // strex lr, r1, [r12]
        (Ins::Strex { rd: 1, rt: 0, rn: 14 }, [0x4e, 0xe8, 0x00, 0x01]), // strex r1, r0, [lr]
        (Ins::Dmb, [0xbf, 0xf3, 0x5f, 0x8f]), // dmb sy
    ]
}

#[test]
fn encodings_are_the_manuals() {
    for (ins, want) in vectors() {
        assert_eq!(bytes(ins), want, "{ins:?}");
    }
    assert_eq!(bytes(Ins::BlxR12), [0xe0, 0x47]);
    assert_eq!(bytes(Ins::Nop), [0x00, 0xbf]);
}

#[test]
fn every_vector_decodes_back() {
    for (ins, b) in vectors() {
        let h1 = u16::from_le_bytes([b[0], b[1]]);
        let h2 = u16::from_le_bytes([b[2], b[3]]);
        assert_eq!(decode(h1, Some(h2)), Some((ins, 4)), "{b:02x?}");
    }
}

#[test]
fn branches_round_trip_over_their_range() {
    for off in [-(1 << 20), -4096, -6, -2, 0, 2, 4, 1000, (1 << 20) - 2] {
        for ins in [Ins::B(off), Ins::Bl(off), Ins::Bcc(Cond::Ge, off)] {
            let (h1, h2) = encode(ins).expect("in range");
            assert_eq!(decode(h1, h2), Some((ins, 4)));
        }
    }
    for off in [(1 << 24) - 2, -(1 << 24)] {
        let (h1, h2) = encode(Ins::B(off)).expect("in range");
        assert_eq!(decode(h1, h2), Some((Ins::B(off), 4)));
    }
    assert_eq!(encode(Ins::Bcc(Cond::Eq, 1 << 20)), None);
    assert_eq!(encode(Ins::B(3)), None);
}

#[test]
fn modified_immediates_are_exact() {
    let mut n = 0;
    for v in [
        0u32,
        1,
        0xff,
        0x100,
        0x1fe,
        0xff00ff,
        0xff00ff00,
        0xabababab,
        0x8000_0000,
        0xf000_000f,
        0x3fc0,
        0x101,
        0x1_0001,
        0xffff_fffe,
    ] {
        if let Some(f) = modified_imm(v) {
            n += 1;
            let ins = imm(Dp::Orr, false, 0, 15, v);
            let (h1, h2) = encode(ins).expect("encodable");
            assert_eq!(decode(h1, h2), Some((ins, 4)), "{v:#x} as {f:#x}");
        }
    }
    assert_eq!(n, 11);
    // Rotations are by 8 to 31 only.
    assert_eq!(modified_imm(0xf000_000f), None);
    assert_eq!(modified_imm(0x101), None);
    assert_eq!(modified_imm(0x1_0001).map(|_| ()), Some(()));
}

#[test]
fn modified_immediates_agree_with_a_search_of_every_rotation() {
    // The definition: an 8-bit value with its top bit set, rotated right by 8 to 31, or one of
    // the four byte patterns.
    let by_search = |v: u32| -> bool {
        let b = v & 0xff;
        v == b
            || v == b * 0x0001_0001
            || v == ((v >> 8) & 0xff) * 0x0100_0100
            || v == b * 0x0101_0101
            || (8u32..32).any(|rot| {
                let u = v.rotate_left(rot);
                u & !0xff == 0 && u & 0x80 != 0
            })
    };
    let mut x = 0x9e37_79b9u32;
    let mut values = std::vec![
        0u32,
        1,
        u32::MAX,
        0x8000_0000,
        0x0000_0100,
        0x0000_01fe,
        0x7f80_0000
    ];
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        values.push(x);
        values.push(x & 0xff << (x % 25));
    }
    for v in values {
        assert_eq!(modified_imm(v).is_some(), by_search(v), "{v:#x}");
        if let Some(f) = modified_imm(v) {
            let ins = imm(Dp::Orr, false, 0, 15, v);
            let (h1, h2) = encode(ins).expect("encodable");
            assert_eq!(decode(h1, h2), Some((ins, 4)), "{v:#x} as {f:#x}");
        }
    }
}

#[test]
fn other_encodings_do_not_decode() {
    // adds r0, r0, r1 (16-bit), ldr r0, [pc, #0], bx lr, mov.w r0, r1, ror #1, ldm r0, {r1, r2}
    for (h1, h2) in [
        (0x1840u16, None),
        (0x4800, None),
        (0x4770, None),
        (0xea4f, Some(0x0071u16)),
        (0xe890, Some(0x0006u16)),
    ] {
        assert_eq!(decode(h1, h2), None, "{h1:04x}");
    }
}

fn code_of(ins: &[Ins]) -> Vec<u8> {
    ins.iter().flat_map(|&i| bytes(i)).collect()
}

const R: Routines = Routines {
    helper: 0x0001_2345,
    support: 0x0006_789b,
    lock64: 0x2000_0100,
};

fn why(code: &[u8]) -> Option<CheckFailure> {
    match check(code, R) {
        Ok(()) => None,
        Err(e) => match e.kind {
            JitErrorKind::Check { why, .. } => Some(why),
            _ => std::panic!("{e}"),
        },
    }
}

#[test]
fn the_check_accepts_a_call_of_a_routine() {
    let call = [
        Ins::Movw {
            rd: 12,
            imm: 0x2345,
        },
        Ins::Movt { rd: 12, imm: 1 },
        Ins::BlxR12,
        Ins::Nop,
        Ins::B(-16),
    ];
    assert_eq!(why(&code_of(&call)), None);
    let mut other = call;
    other[0] = Ins::Movw {
        rd: 12,
        imm: 0x2347,
    };
    assert_eq!(why(&code_of(&other)), Some(CheckFailure::IndirectCall));
    // A nop on its own, or a blx without its nop.
    assert_eq!(
        why(&code_of(&[Ins::Nop, Ins::Nop])),
        Some(CheckFailure::IndirectCall)
    );
    let mut no_nop = code_of(&call[..3]);
    no_nop.extend([0x40, 0x18]);
    assert_eq!(why(&no_nop), Some(CheckFailure::IndirectCall));
}

#[test]
fn the_check_refuses_what_the_design_does_not_do() {
    let cases: [(&[Ins], CheckFailure); 10] = [
        (&[Ins::B(4)], CheckFailure::BranchTarget),
        (&[Ins::Bcc(Cond::Eq, -8)], CheckFailure::BranchTarget),
        (&[Ins::B(2), Ins::B(-4)], CheckFailure::BranchTarget),
        (
            &[dp(Dp::Add, false, 13, 13, 0, Sh::Lsl, 0)],
            CheckFailure::ReservedRegister,
        ),
        (
            &[imm(Dp::Orr, false, 11, 15, 0)],
            CheckFailure::ReservedRegister,
        ),
        (
            &[dp(Dp::Orr, false, 11, 15, 0, Sh::Lsl, 0)],
            CheckFailure::ReservedRegister,
        ),
        (
            &[imm(Dp::Sub, false, 10, 10, 256)],
            CheckFailure::ReservedRegister,
        ),
        (
            &[mem(true, false, Width::W, 0, 13, 0)],
            CheckFailure::MemoryBase,
        ),
        (
            &[mem(false, false, Width::W, 0, 11, 128)],
            CheckFailure::MemoryBase,
        ),
        (&[Ins::Pop(0x8030)], CheckFailure::ReservedRegister),
    ];
    for (code, want) in cases {
        assert_eq!(why(&code_of(code)), Some(want), "{code:?}");
    }
    // The prologue's move of the state is accepted right after its push, not elsewhere.
    let prologue = [Ins::Push(0x4ff8), dp(Dp::Orr, false, 11, 15, 0, Sh::Lsl, 0)];
    assert_eq!(why(&code_of(&prologue)), None);
    // Bytes outside the emitted set, and a truncated tail.
    assert_eq!(
        why(&[0x40, 0x18, 0x00, 0xbf]),
        Some(CheckFailure::Forbidden)
    );
    assert_eq!(why(&[0x00, 0xbf]), Some(CheckFailure::Truncated));
}

/// The translator never panics, whatever the instructions: random slots (any opcode, register
/// numbers up to 15, any offset and immediate; never verified) give code or an error, and code
/// it returns passes the check.
#[test]
fn arbitrary_instructions_give_code_or_an_error() {
    use crate::emit::Emitter;
    use nanobpf_core::Insn;
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut buf = std::vec![0u8; 1 << 16];
    let mut slots = [0u32; 64];
    let (mut ok, mut err) = (0, 0);
    for round in 0..20_000u32 {
        let n = 1 + (next() % 40) as usize;
        let insns: Vec<Insn> = (0..n)
            .map(|_| {
                let v = next();
                // Half the slots from the opcodes the translator knows, half anything.
                let opcode = if v & 1 == 0 {
                    v as u8
                } else {
                    [
                        0x07, 0x0f, 0x04, 0x0c, 0x2f, 0x3f, 0x6f, 0xcf, 0xb7, 0xbf, 0x79, 0x61,
                        0x7b, 0x62, 0xdb, 0xc3, 0x18, 0x05, 0x15, 0x1d, 0x2e, 0x85, 0x95, 0x20,
                        0x40, 0xd4, 0xdc,
                    ][(v >> 8) as usize % 27]
                };
                Insn::new(
                    opcode,
                    (v >> 16) as u8 & 15,
                    (v >> 20) as u8 & 15,
                    (v >> 24) as i16 % 50,
                    (v >> 40) as i32 % 100,
                )
            })
            .collect();
        let budgeted = round % 2 == 0;
        let mut e = Emitter::new(&mut buf, &mut slots, R, budgeted);
        let result = e
            .stubs()
            .map_err(|_| ())
            .and_then(|_| e.program(&insns, &|_, _| Some(0x2000_0000)).map_err(|_| ()));
        match result {
            Ok(_) => {
                let len = e.len();
                assert_eq!(check(&buf[..len], R), Ok(()), "{insns:?}");
                ok += 1;
            }
            Err(()) => err += 1,
        }
    }
    assert!(ok > 100 && err > 1000, "{ok} compiled, {err} refused");
}
