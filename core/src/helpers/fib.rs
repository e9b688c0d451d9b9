//! `bpf_fib_lookup` (69): the route to a destination, from the embedder's route table
//! ([`crate::host::Platform::fib_lookup`]), written back into the program's
//! `struct bpf_fib_lookup` as Linux does.

use super::skb::EFAULT;
use super::{args, EINVAL};
use crate::host::{ArgKind as A, FibOutcome, FibQuery, Helper, HelperCall, HelperProto, RetKind};
use crate::mem::{with_tc_ctx, with_xdp_ctx};

/// `sizeof(struct bpf_fib_lookup)`.
const PARAMS_LEN: usize = 64;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const EAFNOSUPPORT: u64 = (-97i64) as u64;
/// `BPF_FIB_LOOKUP_DIRECT`, `OUTPUT`, `SKIP_NEIGH`, `TBID`, `SRC`, `MARK`.
const FLAGS: u64 = 0x3f;
const SKIP_NEIGH: u64 = 4;
/// `BPF_FIB_LKUP_RET_*`.
const RET_SUCCESS: u64 = 0;
const RET_NO_NEIGH: u64 = 7;
const RET_FRAG_NEEDED: u64 = 8;

/// The packet's length at the network layer, for the MTU check when the program gives none.
fn l3_len(env: &HelperCall<'_>) -> u16 {
    let len = with_tc_ctx(env.regions, env.ctx, |sk| {
        sk.data_end.saturating_sub(sk.data)
    })
    .or_else(|| {
        with_xdp_ctx(env.regions, env.ctx, |md| {
            md.data_end.saturating_sub(md.data)
        })
    })
    .unwrap_or(0);
    len.saturating_sub(14).min(u16::MAX as u64) as u16
}

fn fib_lookup(env: &mut HelperCall<'_>, _: u64, params: u64, plen: u64, flags: u64, _: u64) -> u64 {
    if plen < PARAMS_LEN as u64 || flags & !FLAGS != 0 {
        return EINVAL;
    }
    let mut p = [0u8; PARAMS_LEN];
    match env.read(params, PARAMS_LEN as u64) {
        Some(b) => p.copy_from_slice(b),
        None => return EFAULT,
    }
    let ipv6 = match p[0] {
        AF_INET => false,
        AF_INET6 => true,
        _ => return EAFNOSUPPORT,
    };
    let alen = if ipv6 { 16 } else { 4 };
    let mut q = FibQuery {
        ipv6,
        ifindex: u32::from_ne_bytes([p[8], p[9], p[10], p[11]]),
        tot_len: u16::from_ne_bytes([p[6], p[7]]),
        ..FibQuery::default()
    };
    let addr = |dst: &mut [u8; 16], at: usize| {
        let src = p.iter().skip(at).take(alen);
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s);
    };
    addr(&mut q.src, 16);
    addr(&mut q.dst, 32);
    let tot_len = if q.tot_len == 0 {
        l3_len(env)
    } else {
        q.tot_len
    };
    let route = match env.platform.fib_lookup(&q) {
        FibOutcome::Forward(r) => r,
        FibOutcome::Blackhole => return 1,
        FibOutcome::Unreachable => return 2,
        FibOutcome::Prohibit => return 3,
        FibOutcome::NotForwarded => return 4,
    };
    if route.mtu != 0 && tot_len > route.mtu {
        p[6..8].copy_from_slice(&route.mtu.to_ne_bytes());
        env.write(params, &p[..8]);
        return RET_FRAG_NEEDED;
    }
    // The forwarding half: interface, MTU, no VLAN, the MAC addresses.
    if route.mtu != 0 {
        p[6..8].copy_from_slice(&route.mtu.to_ne_bytes());
    }
    p[8..12].copy_from_slice(&route.ifindex.to_ne_bytes());
    p[48..52].fill(0);
    p[52..58].copy_from_slice(&route.smac);
    let ret = match route.dmac {
        Some(d) => {
            p[58..64].copy_from_slice(&d);
            RET_SUCCESS
        }
        None if flags & SKIP_NEIGH != 0 => RET_SUCCESS,
        None => RET_NO_NEIGH,
    };
    if !env.write(params, &p) {
        return EFAULT;
    }
    ret
}

/// `bpf_fib_lookup` (69): ctx, params (`struct bpf_fib_lookup`, read and written), its size,
/// flags → `BPF_FIB_LKUP_RET_*` or -errno.
pub const FIB_LOOKUP: Helper = Helper {
    id: 69,
    name: "fib_lookup",
    proto: HelperProto::new(
        args([
            A::PtrToCtx,
            A::PtrToWritableMem,
            A::ConstSize,
            A::Scalar,
            A::None,
        ]),
        RetKind::Integer,
    ),
    func: fib_lookup,
};
