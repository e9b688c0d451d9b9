//! Interpreter tests on hand-encoded programs. The conformance suite covers the ISA broadly;
//! these cover what it does not: checked-mode traps, call depth, budget, packet loads, contexts.

use super::*;
use crate::host::{ArgKind, Helper, HelperCall, HelperProto, RetKind};
use crate::isa::Insn;
use crate::{NoPlatform, SkBuff, XdpBuff};

const fn i(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn::new(op, dst, src, off, imm)
}
const EXIT: Insn = i(0x95, 0, 0, 0, 0);

fn add3(_: &mut HelperCall<'_>, a: u64, b: u64, c: u64, _: u64, _: u64) -> u64 {
    a + b + c
}
const ANY3: HelperProto = HelperProto::new(
    [
        ArgKind::Scalar,
        ArgKind::Scalar,
        ArgKind::Scalar,
        ArgKind::None,
        ArgKind::None,
    ],
    RetKind::Integer,
);
static HELPERS: [Helper; 1] = [Helper {
    id: 77,
    name: "add3",
    proto: ANY3,
    func: add3,
}];

fn vm() -> Interpreter<'static> {
    Interpreter::new(HelperTable::new(&HELPERS), &NoPlatform)
}

fn run_mem(insns: &[Insn], mem: &mut [u8]) -> Result<u64, Trap> {
    let program = Program::new(insns).expect("valid program");
    let mut stack = Stack::new();
    vm().run_checked(&program, &mut Context::Memory(mem), &mut stack)
}

#[test]
fn out_of_bounds_load_traps_in_checked_mode() {
    // r0 = *(u32 *)(r1 + 6) on an 8-byte buffer: two bytes past the end.
    let p = [i(0x61, 0, 1, 6, 0), EXIT];
    assert_eq!(run_mem(&p, &mut [0; 8]), Err(Trap::OutOfBounds));
    let p = [i(0x61, 0, 1, 4, 0), EXIT];
    assert_eq!(run_mem(&p, &mut [0, 0, 0, 0, 1, 0, 0, 0]), Ok(1));
}

#[test]
fn stack_below_the_frames_traps() {
    // *(u64 *)(r10 - 4104) = 1: below the 8 frames of the stack buffer.
    let p = [i(0x7a, 10, 0, -4104, 1), EXIT];
    assert_eq!(run_mem(&p, &mut []), Err(Trap::OutOfBounds));
    let p = [i(0x7a, 10, 0, -8, 7), i(0x79, 0, 10, -8, 0), EXIT];
    assert_eq!(run_mem(&p, &mut []), Ok(7));
}

#[test]
fn helper_by_id_and_by_register() {
    let p = [
        i(0xb7, 1, 0, 0, 1),
        i(0xb7, 2, 0, 0, 2),
        i(0xb7, 3, 0, 0, 3),
        i(0x85, 0, 0, 0, 77),
        EXIT,
    ];
    assert_eq!(run_mem(&p, &mut []), Ok(6));
    let p = [i(0xb7, 4, 0, 0, 77), i(0x8d, 4, 0, 0, 0), EXIT];
    assert_eq!(run_mem(&p, &mut []).map(|_| ()), Ok(()));
    let p = [i(0x85, 0, 0, 0, 78), EXIT];
    assert_eq!(run_mem(&p, &mut []), Err(Trap::UnknownHelper));
}

#[test]
fn local_calls_save_callee_registers_and_limit_depth() {
    // main: r6 = 5; call f; r0 += r6; exit.  f: r6 = 100; r0 = 1; exit.
    let p = [
        i(0xb7, 6, 0, 0, 5),
        i(0x85, 0, 1, 0, 2),
        i(0x0f, 0, 6, 0, 0),
        EXIT,
        i(0xb7, 6, 0, 0, 100),
        i(0xb7, 0, 0, 0, 1),
        EXIT,
    ];
    assert_eq!(run_mem(&p, &mut []), Ok(6));
    // A function that calls itself forever hits the frame limit.
    let p = [i(0x85, 0, 1, 0, -1), EXIT];
    assert_eq!(run_mem(&p, &mut []), Err(Trap::CallDepth));
}

#[test]
#[cfg(feature = "metering")]
fn budget_counts_every_instruction() {
    let p = [i(0xb7, 0, 0, 0, 1), i(0x07, 0, 0, 0, 1), EXIT];
    let program = Program::new(&p).unwrap();
    let mut stack = Stack::new();
    let run = |budget| {
        vm().with_budget(budget).run_checked(
            &program,
            &mut Context::Memory(&mut []),
            &mut Stack::new(),
        )
    };
    assert_eq!(run(3), Ok(2));
    assert_eq!(run(2), Err(Trap::BudgetExhausted));
    // An infinite loop stops.
    let l = [i(0x05, 0, 0, -1, 0)];
    let lp = Program::new(&l).unwrap();
    let r = vm()
        .with_budget(1000)
        .run_checked(&lp, &mut Context::Memory(&mut []), &mut stack);
    assert_eq!(r, Err(Trap::BudgetExhausted));
}

#[test]
fn legacy_packet_loads_are_big_endian_and_end_the_program_out_of_bounds() {
    let mut pkt = [0x12, 0x34, 0x56, 0x78, 0x9a];
    // ldabsh 1 -> 0x3456
    let p = [i(0x28, 0, 0, 0, 1), EXIT];
    assert_eq!(run_mem(&p, &mut pkt), Ok(0x3456));
    // ldindw [r3 + 1] with r3 = 0 -> 0x3456789a
    let p = [i(0xb7, 3, 0, 0, 0), i(0x40, 0, 3, 0, 1), EXIT];
    assert_eq!(run_mem(&p, &mut pkt), Ok(0x3456_789a));
    // Out of bounds: the program ends with r0 = 0, even though r0 was set before.
    let p = [
        i(0xb7, 0, 0, 0, 9),
        i(0x20, 0, 0, 0, 2),
        i(0xb7, 0, 0, 0, 7),
        EXIT,
    ];
    assert_eq!(run_mem(&p, &mut pkt), Ok(0));
    // Index plus offset is computed in 32 bits: 0xffffffff + 1 wraps to offset 0.
    let p = [i(0xb7, 3, 0, 0, -1), i(0x50, 0, 3, 0, 1), EXIT];
    assert_eq!(run_mem(&p, &mut pkt), Ok(0x12));
}

#[test]
fn misaligned_atomic_traps() {
    // lock add [r10 - 12], r1 (64-bit at a 4-aligned address)
    let p = [
        i(0x7a, 10, 0, -16, 0),
        i(0xb7, 1, 0, 0, 1),
        i(0xdb, 10, 1, -12, 0),
        EXIT,
    ];
    assert_eq!(run_mem(&p, &mut []), Err(Trap::Misaligned));
}

#[test]
fn xdp_context_reads_packet_pointers() {
    // r2 = ctx->data (offset 0 of `struct xdp_md`), r3 = ctx->data_end (4); r0 = r3 - r2.
    let p = [
        i(0x61, 2, 1, 0, 0),
        i(0x61, 3, 1, 4, 0),
        i(0xbf, 0, 3, 0, 0),
        i(0x1f, 0, 2, 0, 0),
        EXIT,
    ];
    let program = Program::new(&p).unwrap();
    let mut buf = [0u8; 256];
    let mut ctx = Context::Xdp(XdpBuff {
        buf: &mut buf,
        data: 64,
        data_end: 124,
        ingress_ifindex: 3,
        rx_queue_index: 0,
        redirect: None,
    });
    assert_eq!(
        vm().run_checked(&program, &mut ctx, &mut Stack::new()),
        Ok(60)
    );
    // The context is read-only for XDP: a store into it (ingress_ifindex) traps, and so does
    // an access past `struct xdp_md`, though inside the runtime struct.
    let p = [i(0x62, 1, 0, 12, 5), EXIT];
    let program = Program::new(&p).unwrap();
    assert_eq!(
        vm().run_checked(&program, &mut ctx, &mut Stack::new()),
        Err(Trap::OutOfBounds)
    );
    let p = [i(0x61, 0, 1, 24, 0), EXIT];
    let program = Program::new(&p).unwrap();
    assert_eq!(
        vm().run_checked(&program, &mut ctx, &mut Stack::new()),
        Err(Trap::OutOfBounds)
    );
}

#[test]
fn socket_filter_fields_are_writable_but_pointers_are_not() {
    let mut pkt = [0u8; 42];
    let mut ctx = Context::SocketFilter(SkBuff {
        packet: &mut pkt,
        fields: [0; 19],
    });
    // mark (offset 8 of `struct __sk_buff`) = 9; r0 = len (offset 0).
    let p = [i(0x62, 1, 0, 8, 9), i(0x61, 0, 1, 0, 0), EXIT];
    let program = Program::new(&p).unwrap();
    assert_eq!(
        vm().run_checked(&program, &mut ctx, &mut Stack::new()),
        Ok(42)
    );
    let Context::SocketFilter(skb) = &ctx else {
        unreachable!()
    };
    assert_eq!(skb.fields[2], 9);
    // The packet pointer `data` (offset 76) is not writable.
    let p = [i(0x62, 1, 0, 76, 0), EXIT];
    let program = Program::new(&p).unwrap();
    assert_eq!(
        vm().run_checked(&program, &mut ctx, &mut Stack::new()),
        Err(Trap::OutOfBounds)
    );
}

#[test]
fn checked_and_verified_runs_see_one_context_layout() {
    // r0 = data_end - data + ingress_ifindex, from `struct xdp_md`.
    let src = [
        i(0x61, 2, 1, 0, 0),
        i(0x61, 3, 1, 4, 0),
        i(0x61, 4, 1, 12, 0),
        i(0xbf, 0, 3, 0, 0),
        i(0x1f, 0, 2, 0, 0),
        i(0x0f, 0, 4, 0, 0),
        EXIT,
    ];
    let run = |verified: bool| {
        let mut buf = [0u8; 128];
        let mut x = XdpBuff::new(&mut buf, 16, 50);
        x.ingress_ifindex = 7;
        let mut ctx = Context::Xdp(x);
        let mut insns = src;
        if verified {
            let env = crate::VerifyTarget::new(
                crate::ProgramType::Xdp,
                crate::helpers::standard(),
                crate::maps::MapTable::EMPTY,
            );
            let mut ws = std::boxed::Box::new(crate::DefaultWorkspace::new());
            let p = crate::verify(&mut insns, &env, &mut ws).unwrap();
            vm().run(&p, &mut ctx, &mut Stack::new())
        } else {
            let p = Program::new(&insns).unwrap();
            vm().run_checked(&p, &mut ctx, &mut Stack::new())
        }
    };
    assert_eq!(run(false), Ok(57));
    assert_eq!(run(true), Ok(57));
}
