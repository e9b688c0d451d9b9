//! XDP helpers: moving the frame's head, tail and metadata inside its buffer, and redirects.

use super::map::errno;
use super::{args, EINVAL};
use crate::host::{ArgKind as A, Helper, HelperCall, HelperProto, RetKind};
use crate::mem::with_xdp_ctx;

/// An Ethernet header: the least a frame may shrink to, as in Linux.
const ETH_HLEN: u64 = 14;
/// The most metadata a frame may carry, as in Linux.
const META_MAX: u64 = 32;
/// `XDP_REDIRECT`.
const XDP_REDIRECT: u64 = 4;

/// Applies `f` to (data_meta, data, data_end) of the run's XDP context within its buffer
/// `[start, end)`; `f` returns the new triple or `None` to refuse.
fn adjust(
    env: &HelperCall<'_>,
    f: impl FnOnce(u64, u64, u64, u64, u64) -> Option<(u64, u64, u64)>,
) -> u64 {
    let (start, end) = (env.regions.data.start, env.regions.data.end);
    let done = with_xdp_ctx(env.regions, env.ctx, |md| {
        match f(md.data_meta, md.data, md.data_end, start, end) {
            Some((meta, data, data_end)) => {
                md.data_meta = meta;
                md.data = data;
                md.data_end = data_end;
                true
            }
            None => false,
        }
    });
    if done == Some(true) {
        0
    } else {
        EINVAL
    }
}

fn xdp_adjust_head(env: &mut HelperCall<'_>, _ctx: u64, delta: u64, _: u64, _: u64, _: u64) -> u64 {
    let delta = delta as i32 as i64;
    adjust(env, |meta, data, data_end, start, _| {
        let data = data.checked_add_signed(delta)?;
        let meta = meta.checked_add_signed(delta)?;
        (meta >= start && data.checked_add(ETH_HLEN)? <= data_end).then_some((meta, data, data_end))
    })
}

fn xdp_adjust_meta(env: &mut HelperCall<'_>, _ctx: u64, delta: u64, _: u64, _: u64, _: u64) -> u64 {
    let delta = delta as i32 as i64;
    adjust(env, |meta, data, data_end, start, _| {
        let meta = meta.checked_add_signed(delta)?;
        let ok = meta >= start
            && data
                .checked_sub(meta)
                .is_some_and(|n| n <= META_MAX && n % 4 == 0);
        ok.then_some((meta, data, data_end))
    })
}

fn xdp_adjust_tail(env: &mut HelperCall<'_>, _ctx: u64, delta: u64, _: u64, _: u64, _: u64) -> u64 {
    let delta = delta as i32 as i64;
    adjust(env, |meta, data, data_end, _, end| {
        let data_end = data_end.checked_add_signed(delta)?;
        (data_end <= end && data_end >= data.checked_add(ETH_HLEN)?)
            .then_some((meta, data, data_end))
    })
}

fn redirect_map(env: &mut HelperCall<'_>, map: u64, key: u64, flags: u64, _: u64, _: u64) -> u64 {
    match env.map(map).and_then(|m| m.redirect_target(key as u32)) {
        Some(target) => {
            env.state.redirect = Some(target);
            XDP_REDIRECT
        }
        // Linux: the low two bits of the flags are the action when the lookup fails.
        None => flags & 3,
    }
}

/// `BPF_F_INDEX_MASK`: the low 32 bits of the flags name the perf event array's slot.
const BPF_F_INDEX_MASK: u64 = 0xffff_ffff;
/// `BPF_F_CURRENT_CPU`: the slot of the CPU the program runs on.
const BPF_F_CURRENT_CPU: u64 = BPF_F_INDEX_MASK;
/// `BPF_F_CTXLEN_MASK`: bits 32 to 51 of the flags give how many packet bytes to append.
const BPF_F_CTXLEN_MASK: u64 = 0xf_ffff << 32;
/// Linux's `EFAULT`, negated.
const EFAULT: u64 = (-14i64) as u64;

/// `bpf_perf_event_output` and `bpf_xdp_output` from an XDP program: a record of the `size`
/// bytes at `data`, then the first `flags >> 32` bytes of the frame, into the slot the low 32
/// bits of `flags` name (the running CPU's for `BPF_F_CURRENT_CPU`).
fn xdp_event_output(
    env: &mut HelperCall<'_>,
    ctx: u64,
    map: u64,
    flags: u64,
    data: u64,
    size: u64,
) -> u64 {
    if flags & !(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK) != 0 {
        return EINVAL;
    }
    let slot = match flags & BPF_F_INDEX_MASK {
        BPF_F_CURRENT_CPU => env.cpu(),
        i => i as u32,
    };
    let ctx_len = (flags & BPF_F_CTXLEN_MASK) >> 32;
    let frame = if ctx_len == 0 {
        Some((0, 0))
    } else {
        with_xdp_ctx(env.regions, ctx, |md| (md.data, md.data_end))
    };
    let Some((start, end)) = frame else {
        return EFAULT;
    };
    if start.checked_add(ctx_len).is_none_or(|e| e > end) {
        return EFAULT;
    }
    let (Some(m), Some(d)) = (env.map(map), env.read(data, size)) else {
        return EINVAL;
    };
    let tail = if ctx_len == 0 {
        Some(&[][..])
    } else {
        env.read(start, ctx_len)
    };
    match tail {
        Some(t) => errno(m.perf_event_output(slot, d, t)),
        None => EFAULT,
    }
}

const EVENT_OUTPUT: HelperProto = HelperProto::new(
    args([
        A::PtrToCtx,
        A::ConstMapPtr,
        A::Scalar,
        A::PtrToMem,
        A::ConstSizeOrZero,
    ]),
    RetKind::Integer,
);

/// `bpf_perf_event_output` (25), as XDP programs have it: a record into a perf event array,
/// optionally followed by packet bytes (`flags` bits 32 to 51).
pub const PERF_EVENT_OUTPUT: Helper = Helper {
    id: 25,
    name: "perf_event_output",
    proto: EVENT_OUTPUT,
    func: xdp_event_output,
};

/// `bpf_xdp_output` (121): the same as [`PERF_EVENT_OUTPUT`] for XDP programs.
pub const XDP_OUTPUT: Helper = Helper {
    id: 121,
    name: "xdp_output",
    proto: EVENT_OUTPUT,
    func: xdp_event_output,
};

const CTX_DELTA: HelperProto = HelperProto::new(
    args([A::PtrToCtx, A::Scalar, A::None, A::None, A::None]),
    RetKind::Integer,
);

/// `bpf_xdp_adjust_head` (44): moves the frame's start by a signed delta.
pub const XDP_ADJUST_HEAD: Helper = Helper {
    id: 44,
    name: "xdp_adjust_head",
    proto: CTX_DELTA,
    func: xdp_adjust_head,
};

/// `bpf_redirect_map` (51): sends the frame to the interface a device map holds at `key`.
pub const REDIRECT_MAP: Helper = Helper {
    id: 51,
    name: "redirect_map",
    proto: HelperProto::new(
        args([A::ConstMapPtr, A::Scalar, A::Scalar, A::None, A::None]),
        RetKind::Integer,
    ),
    func: redirect_map,
};

/// `bpf_xdp_adjust_meta` (54): moves the metadata start by a signed delta.
pub const XDP_ADJUST_META: Helper = Helper {
    id: 54,
    name: "xdp_adjust_meta",
    proto: CTX_DELTA,
    func: xdp_adjust_meta,
};

/// `bpf_xdp_adjust_tail` (65): moves the frame's end by a signed delta.
pub const XDP_ADJUST_TAIL: Helper = Helper {
    id: 65,
    name: "xdp_adjust_tail",
    proto: CTX_DELTA,
    func: xdp_adjust_tail,
};
