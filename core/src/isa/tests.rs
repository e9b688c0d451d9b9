//! Decoder tests: each rejection names the right slot and reason.

use super::*;

const fn i(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn::new(op, dst, src, off, imm)
}
const EXIT: Insn = i(0x95, 0, 0, 0, 0);

fn err(insns: &[Insn]) -> (usize, DecodeErrorKind) {
    let e = Program::new(insns).expect_err("must be rejected");
    (e.pc, e.kind)
}

#[test]
fn slot_round_trips_through_bytes_and_u64() {
    let insn = i(0x18, 3, 5, -2, -123_456);
    assert_eq!(Insn::from_bytes(insn.to_bytes()), insn);
    assert_eq!(Insn::from_u64(insn.to_u64()), insn);
    assert_eq!(
        insn.to_bytes(),
        [0x18, 0x53, 0xfe, 0xff, 0xc0, 0x1d, 0xfe, 0xff]
    );
    assert_eq!((insn.dst(), insn.src()), (3, 5));
}

#[test]
fn structural_rejections_name_the_slot() {
    assert_eq!(err(&[]), (0, DecodeErrorKind::Empty));
    assert_eq!(
        err(&[i(0xff, 0, 0, 0, 0), EXIT]),
        (0, DecodeErrorKind::UnknownOpcode(0xff))
    );
    assert_eq!(
        err(&[i(0xb7, 11, 0, 0, 0), EXIT]),
        (0, DecodeErrorKind::BadRegister(11))
    );
    assert_eq!(
        err(&[EXIT, i(0xb7, 10, 0, 0, 0), EXIT]),
        (1, DecodeErrorKind::WritesFrameReg)
    );
    assert_eq!(
        err(&[i(0xb7, 0, 0, 1, 0), EXIT]),
        (0, DecodeErrorKind::ReservedNonZero(InsnField::Offset))
    );
    assert_eq!(
        err(&[i(0xbf, 0, 1, 0, 5), EXIT]),
        (0, DecodeErrorKind::ReservedNonZero(InsnField::Imm))
    );
    assert_eq!(
        err(&[i(0xbc, 0, 1, 32, 0), EXIT]),
        (0, DecodeErrorKind::BadOffset(32))
    );
    assert_eq!(
        err(&[i(0xd4, 0, 0, 0, 8), EXIT]),
        (0, DecodeErrorKind::BadImmediate(8))
    );
    assert_eq!(
        err(&[i(0x8c, 0, 1, 0, 0), EXIT]),
        (0, DecodeErrorKind::UnknownOpcode(0x8c))
    );
    assert_eq!(
        err(&[i(0xdb, 10, 1, -8, 0x42), EXIT]),
        (0, DecodeErrorKind::BadImmediate(0x42))
    );
    assert_eq!(
        err(&[i(0x85, 0, 2, 0, 0), EXIT]),
        (0, DecodeErrorKind::BadCallSource(2))
    );
    assert_eq!(
        err(&[i(0x18, 0, 3, 0, 0), i(0, 0, 0, 0, 0), EXIT]),
        (0, DecodeErrorKind::BadLddwSource(3))
    );
}

#[test]
fn lddw_pairs_are_checked() {
    assert_eq!(
        err(&[EXIT, i(0x18, 0, 0, 0, 1)]),
        (1, DecodeErrorKind::IncompleteLddw)
    );
    assert_eq!(
        err(&[i(0x18, 0, 0, 0, 1), i(0, 1, 0, 0, 0), EXIT]),
        (1, DecodeErrorKind::BadLddwSecondSlot)
    );
    // A jump into the second slot.
    assert_eq!(
        err(&[
            i(0x05, 0, 0, 1, 0),
            i(0x18, 0, 0, 0, 1),
            i(0, 0, 0, 0, 2),
            EXIT
        ]),
        (0, DecodeErrorKind::JumpIntoLddw(2))
    );
    assert!(Program::new(&[i(0x18, 0, 0, 0, 1), i(0, 0, 0, 0, 2), EXIT]).is_ok());
}

#[test]
fn jumps_stay_inside_and_the_end_cannot_be_fallen_off() {
    assert_eq!(
        err(&[i(0x05, 0, 0, 5, 0), EXIT]),
        (0, DecodeErrorKind::JumpOutOfRange(6))
    );
    assert_eq!(
        err(&[i(0x06, 0, 0, 0, -3), EXIT]),
        (0, DecodeErrorKind::JumpOutOfRange(-2))
    );
    assert_eq!(
        err(&[i(0x85, 0, 1, 0, 7), EXIT]),
        (0, DecodeErrorKind::JumpOutOfRange(8))
    );
    assert_eq!(
        err(&[i(0xb7, 0, 0, 0, 0)]),
        (0, DecodeErrorKind::FallsOffEnd)
    );
    assert_eq!(
        err(&[EXIT, i(0x15, 0, 0, -2, 0)]),
        (1, DecodeErrorKind::FallsOffEnd)
    );
    assert!(Program::new(&[i(0xb7, 0, 0, 0, 0), i(0x05, 0, 0, -2, 0)]).is_ok());
}

#[test]
fn bytes_decode_into_the_callers_buffer() {
    let mut buf = [Insn::default(); 2];
    let bytes = [0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let p = Program::from_bytes(&bytes, &mut buf).unwrap();
    assert_eq!(p.len(), 2);
    let mut small = [Insn::default(); 1];
    let e = Program::from_bytes(&bytes, &mut small).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::BufferTooSmall);
    let e = Program::from_bytes(&bytes[..12], &mut buf).unwrap_err();
    assert_eq!((e.pc, e.kind), (1, DecodeErrorKind::PartialSlot));
}

#[test]
fn every_opcode_byte_is_classified_without_panicking() {
    // All 256 opcodes with all-zero fields: the decoder answers for each, and the groups of
    // valid ones are never empty.
    for op in 0..=255u8 {
        let insns = [i(op, 0, 0, 0, 16), i(0, 0, 0, 0, 0), EXIT];
        if Program::new(&insns).is_ok() {
            assert!(
                !ConformanceGroups::of(insns[0]).is_empty(),
                "opcode {op:#x}"
            );
        }
    }
}
