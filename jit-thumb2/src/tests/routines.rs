//! The support routine's semantics, called directly on the host.

use crate::native::test_support::support_on;
use crate::state::{op, JitState};
use nanobpf_core::isa::opcode::{ATOMIC_ADD, ATOMIC_CMPXCHG, ATOMIC_FETCH, ATOMIC_XCHG};

fn run(code: u32, a: u64, b: u64, c: u64) -> (u64, JitState) {
    let mut st = JitState::empty();
    (st.a, st.b, st.c) = (a, b, c);
    let r = support_on(&mut st, code);
    (r, st)
}

#[test]
fn division_follows_rfc_9669() {
    assert_eq!(run(op::UDIV64, 7, 0, 0).0, 0);
    assert_eq!(run(op::UMOD64, 7, 0, 0).0, 7);
    assert_eq!(
        run(op::SDIV64, i64::MIN as u64, u64::MAX, 0).0,
        i64::MIN as u64
    );
    assert_eq!(run(op::SMOD64, i64::MIN as u64, u64::MAX, 0).0, 0);
    assert_eq!(run(op::SMOD64, (-7i64) as u64, 2, 0).0, (-1i64) as u64);
    assert_eq!(run(op::UDIV64, u64::MAX, 3, 0).0, u64::MAX / 3);
}

#[test]
fn atomics_update_memory_and_trap_when_misaligned() {
    let mut cell = [0u64; 2];
    let addr = cell.as_mut_ptr() as u64;
    cell[0] = 40;
    let (old, st) = run(
        op::ATOMIC64 | ((ATOMIC_ADD | ATOMIC_FETCH) as u32) << 8,
        addr,
        2,
        0,
    );
    assert_eq!((old, cell[0], st.trap), (40, 42, 0));
    let (old, _) = run(op::ATOMIC64 | (ATOMIC_CMPXCHG as u32) << 8, addr, 5, 41);
    assert_eq!((old, cell[0]), (42, 42));
    let (old, _) = run(op::ATOMIC64 | (ATOMIC_CMPXCHG as u32) << 8, addr, 5, 42);
    assert_eq!((old, cell[0]), (42, 5));
    let (old, _) = run(
        op::ATOMIC32 | (ATOMIC_XCHG as u32) << 8,
        addr,
        0x1_0000_0009,
        0,
    );
    assert_eq!((old, cell[0]), (5, 9));
    let (_, st) = run(op::ATOMIC32 | (ATOMIC_ADD as u32) << 8, addr + 2, 1, 0);
    assert_eq!(
        (st.trap, st.stop),
        (nanobpf_core::Trap::Misaligned as u32, 1)
    );
    assert_eq!(cell[0], 9);
}

#[test]
fn packet_loads_are_big_endian_and_end_the_run_out_of_bounds() {
    let pkt = [0x12u8, 0x34, 0x56, 0x78, 0x9a];
    let mut st = JitState::empty();
    st.pkt_start = pkt.as_ptr() as u64;
    st.pkt_len = pkt.len() as u64;
    st.a = 1;
    assert_eq!(support_on(&mut st, op::PACKET | 4 << 8), 0x3456_789a);
    assert_eq!(st.stop, 0);
    st.a = 4;
    assert_eq!(support_on(&mut st, op::PACKET | 2 << 8), 0);
    assert_eq!((st.zero_exit, st.stop), (1, 1));
}
