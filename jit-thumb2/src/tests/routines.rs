//! The support routine's semantics, called directly on the host.

use crate::native::test_support::support_on;
use crate::state::{op, JitState};

fn run(code: u32, a: u64, b: u64, _c: u64) -> (u64, JitState) {
    let mut st = JitState::empty();
    (st.a, st.b) = (a, b);
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
