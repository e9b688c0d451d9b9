//! Socket-buffer helpers for tc programs (and `skb_load_bytes` for socket filters): packet
//! bytes, checksums, the packet's size and protocol, redirects and tunnel metadata, with
//! Linux's ids, prototypes and results. The packet lives in a buffer with room before and
//! after it (see [`crate::TcBuff`]); the helpers that change its size move its bounds in the
//! live context, and the verifier forgets every packet pointer after them.
//!
//! Checksums follow Linux's `csum_replace2`, `csum_replace4`, `csum_replace_by_diff` and the
//! `inet_proto_csum_replace*` family for a packet whose checksum is not offloaded
//! (`CHECKSUM_NONE`: there is no `skb->csum` to keep, so the pseudo-header flag changes
//! nothing).

use super::{args, EINVAL};
use crate::host::{skb_field, tc_act, ArgKind as A, Helper, HelperCall, HelperProto, RetKind};
use crate::maps::Redirect;
use crate::mem::{with_buffer, with_tc_ctx, LiveFrame};
use crate::runtime::{RedirectKind, TunnelKey};

pub(crate) const EFAULT: u64 = (-14i64) as u64;
pub(crate) const ENOMEM: u64 = (-12i64) as u64;
/// Linux's `ENOTSUPP` (524), as helpers return it.
pub(crate) const ENOTSUPP: u64 = (-524i64) as u64;
/// An Ethernet header: the least a packet may shrink to.
const ETH_HLEN: usize = 14;
/// The largest packet the size-changing helpers make (Linux's `__bpf_skb_max_len` without a
/// device: 64 KiB).
const MAX_LEN: usize = 65_535;
const ETH_P_IP: u32 = u16::from_ne_bytes(0x0800u16.to_be_bytes()) as u32;
const ETH_P_IPV6: u32 = u16::from_ne_bytes(0x86ddu16.to_be_bytes()) as u32;
const BPF_F_INGRESS: u64 = 1;
const XDP_ABORTED: u64 = 0;
const XDP_REDIRECT: u64 = 4;

/// The run's tc packet as offsets in its buffer.
#[derive(Clone, Copy, Debug)]
struct Frame {
    data: usize,
    end: usize,
    /// The buffer's length.
    cap: usize,
    /// The buffer's address.
    base: u64,
}

impl Frame {
    fn len(&self) -> usize {
        self.end.saturating_sub(self.data)
    }
}

fn tc_frame(env: &HelperCall<'_>) -> Option<Frame> {
    let (base, cap) = (env.regions.data.start, env.regions.data.end);
    // Only the helpers move the pointers, and they keep them inside the buffer.
    with_tc_ctx(env.regions, env.ctx, |sk| Frame {
        data: sk.data.saturating_sub(base) as usize,
        end: sk.data_end.saturating_sub(base) as usize,
        cap: cap.saturating_sub(base) as usize,
        base,
    })
}

/// Moves the packet to `[data, end)` of its buffer (the caller keeps it inside).
fn set_frame(env: &HelperCall<'_>, data: usize, end: usize) {
    let base = env.regions.data.start;
    with_tc_ctx(env.regions, env.ctx, |sk| {
        sk.data = base.saturating_add(data as u64);
        sk.data_end = base.saturating_add(end as u64);
        sk.data_meta = sk.data;
        sk.fields[skb_field::LEN] = end.saturating_sub(data) as u32;
    });
}

/// Reads or writes field `i` of the tc context.
fn field(env: &HelperCall<'_>, i: usize, set: Option<u32>) -> Option<u32> {
    with_tc_ctx(env.regions, env.ctx, |sk| {
        let f = sk.fields.get_mut(i)?;
        if let Some(v) = set {
            *f = v;
        }
        Some(*f)
    })
    .flatten()
}

/// The packet of a tc program or a socket filter: its address and length.
fn packet(env: &HelperCall<'_>) -> Option<(u64, u64)> {
    if let Some(f) = tc_frame(env) {
        return Some((f.base.saturating_add(f.data as u64), f.len() as u64));
    }
    let own_ctx = env.regions.ctx.start != env.regions.ctx.end && env.ctx == env.regions.ctx.start;
    (env.regions.frame == LiveFrame::None && own_ctx).then(|| {
        let d = env.regions.data;
        (d.start, d.end.saturating_sub(d.start))
    })
}

/// Copies `len` bytes from `src` to `dst` through a small buffer, each access checked.
fn copy(env: &HelperCall<'_>, dst: u64, src: u64, len: u64) -> bool {
    let mut chunk = [0u8; 64];
    let mut done = 0;
    while done < len {
        let n = len.saturating_sub(done).min(64) as usize;
        let (Some(s), Some(c)) = (
            env.read(src.wrapping_add(done), n as u64),
            chunk.get_mut(..n),
        ) else {
            return false;
        };
        c.copy_from_slice(s);
        if !env.write(dst.wrapping_add(done), c) {
            return false;
        }
        done = done.saturating_add(n as u64);
    }
    true
}

fn skb_load_bytes(env: &mut HelperCall<'_>, _: u64, off: u64, to: u64, len: u64, _: u64) -> u64 {
    let off = off as u32 as u64;
    if let Some((start, plen)) = packet(env) {
        if off <= i32::MAX as u64
            && off.checked_add(len).is_some_and(|end| end <= plen)
            && copy(env, to, start.saturating_add(off), len)
        {
            return 0;
        }
    }
    // Linux zeroes the destination when the bytes are not there.
    let zero = [0u8; 64];
    let mut done = 0;
    while done < len {
        let n = len.saturating_sub(done).min(64);
        let Some(z) = zero.get(..n as usize) else {
            break;
        };
        if !env.write(to.wrapping_add(done), z) {
            break;
        }
        done = done.saturating_add(n);
    }
    EFAULT
}

fn skb_store_bytes(
    env: &mut HelperCall<'_>,
    _: u64,
    off: u64,
    from: u64,
    len: u64,
    flags: u64,
) -> u64 {
    // BPF_F_RECOMPUTE_CSUM (no `skb->csum` to keep here), BPF_F_INVALIDATE_HASH.
    if flags & !3 != 0 {
        return EINVAL;
    }
    let off = off as u32 as u64;
    let Some(f) = tc_frame(env) else {
        return EINVAL;
    };
    if off > 0xffff || off.checked_add(len).is_none_or(|end| end > f.len() as u64) {
        return EFAULT;
    }
    let to = f.base.saturating_add(f.data as u64).saturating_add(off);
    if !copy(env, to, from, len) {
        return EFAULT;
    }
    if flags & 2 != 0 {
        field(env, skb_field::HASH, Some(0));
    }
    0
}

/// Ones'-complement sum of two 32-bit partial sums (Linux's `csum_add`).
pub(crate) fn csum_add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s.wrapping_add(carry as u32)
}

fn csum_sub(a: u32, b: u32) -> u32 {
    csum_add(a, !b)
}

/// Folds a 32-bit partial sum to the 16-bit checksum, complemented (Linux's `csum_fold`).
pub(crate) fn csum_fold(c: u32) -> u16 {
    // Sums of two 16-bit halves: no wrap.
    let s = (c & 0xffff).wrapping_add(c >> 16);
    let s = (s & 0xffff).wrapping_add(s >> 16);
    !(s as u16)
}

fn csum16_add(c: u16, a: u16) -> u16 {
    let r = c.wrapping_add(a);
    r.wrapping_add((r < a) as u16)
}

/// Linux's `csum_replace4`.
pub(crate) fn csum_replace4(sum: u16, from: u32, to: u32) -> u16 {
    csum_fold(csum_add(csum_sub(!(sum as u32), from), to))
}

/// Linux's `csum_replace2`.
pub(crate) fn csum_replace2(sum: u16, from: u16, to: u16) -> u16 {
    !csum16_add(csum16_add(!sum, !from), to)
}

/// Linux's `csum_replace_by_diff`.
pub(crate) fn csum_replace_by_diff(sum: u16, diff: u32) -> u16 {
    csum_fold(csum_add(diff, !(sum as u32)))
}

/// The checksum field at `off` of the tc packet: applies `f` to it (in the byte order it has
/// in memory, as Linux's `__sum16`) unless `f` returns an error.
fn with_sum(env: &HelperCall<'_>, off: u64, f: impl FnOnce(u16) -> Result<u16, u64>) -> u64 {
    let off = off as u32 as u64;
    let Some(fr) = tc_frame(env) else {
        return EINVAL;
    };
    if off > 0xffff || off & 1 != 0 || off.saturating_add(2) > fr.len() as u64 {
        return EFAULT;
    }
    let addr = fr.base.saturating_add(fr.data as u64).saturating_add(off);
    let Some(&[b0, b1]) = env.read(addr, 2) else {
        return EFAULT;
    };
    match f(u16::from_ne_bytes([b0, b1])) {
        Ok(sum) => {
            env.write(addr, &sum.to_ne_bytes());
            0
        }
        Err(e) => e,
    }
}

fn l3_csum_replace(
    env: &mut HelperCall<'_>,
    _: u64,
    off: u64,
    from: u64,
    to: u64,
    flags: u64,
) -> u64 {
    if flags & !0xf != 0 {
        return EINVAL;
    }
    with_sum(env, off, |sum| match flags & 0xf {
        0 if from != 0 => Err(EINVAL),
        0 => Ok(csum_replace_by_diff(sum, to as u32)),
        2 => Ok(csum_replace2(sum, from as u16, to as u16)),
        4 => Ok(csum_replace4(sum, from as u32, to as u32)),
        _ => Err(EINVAL),
    })
}

/// `BPF_F_PSEUDO_HDR`, `BPF_F_MARK_MANGLED_0`, `BPF_F_MARK_ENFORCE`.
const L4_FLAGS: u64 = 0x10 | 0x20 | 0x40;

fn l4_csum_replace(
    env: &mut HelperCall<'_>,
    _: u64,
    off: u64,
    from: u64,
    to: u64,
    flags: u64,
) -> u64 {
    if flags & !(L4_FLAGS | 0xf) != 0 {
        return EINVAL;
    }
    let (mangled_0, enforce) = (flags & 0x20 != 0, flags & 0x40 != 0);
    with_sum(env, off, |sum| {
        // A UDP checksum of 0 means none: leave it so unless told to enforce.
        if mangled_0 && !enforce && sum == 0 {
            return Ok(0);
        }
        let new = match flags & 0xf {
            0 if from != 0 => return Err(EINVAL),
            0 => csum_replace_by_diff(sum, to as u32),
            // `inet_proto_csum_replace2` widens to 32 bits and replaces as four bytes.
            2 => csum_replace4(sum, from as u16 as u32, to as u16 as u32),
            4 => csum_replace4(sum, from as u32, to as u32),
            _ => return Err(EINVAL),
        };
        // CSUM_MANGLED_0: a checksum that comes out 0 is sent as 0xffff.
        Ok(if mangled_0 && new == 0 { 0xffff } else { new })
    })
}

fn redirect(env: &mut HelperCall<'_>, ifindex: u64, flags: u64, _: u64, _: u64, _: u64) -> u64 {
    if env.regions.frame == LiveFrame::Xdp {
        if flags != 0 {
            return XDP_ABORTED;
        }
        env.state.redirect = Some(Redirect::Device(ifindex as u32));
        return XDP_REDIRECT;
    }
    let kind = if flags & BPF_F_INGRESS != 0 {
        RedirectKind::Ingress
    } else {
        RedirectKind::Egress
    };
    set_redirect(env, ifindex, flags & !BPF_F_INGRESS == 0, kind)
}

fn set_redirect(env: &mut HelperCall<'_>, ifindex: u64, ok: bool, kind: RedirectKind) -> u64 {
    if !ok || env.regions.frame != LiveFrame::Tc {
        return tc_act::SHOT as u64;
    }
    env.state.redirect = Some(Redirect::Device(ifindex as u32));
    env.state.redirect_kind = kind;
    tc_act::REDIRECT as u64
}

fn redirect_neigh(
    env: &mut HelperCall<'_>,
    ifindex: u64,
    params: u64,
    plen: u64,
    flags: u64,
    _: u64,
) -> u64 {
    // `struct bpf_redir_neigh` is 20 bytes; no flags are defined.
    let ok = flags == 0 && (params == 0 && plen == 0 || params != 0 && plen == 20);
    set_redirect(env, ifindex, ok, RedirectKind::Neigh)
}

fn redirect_peer(
    env: &mut HelperCall<'_>,
    ifindex: u64,
    flags: u64,
    _: u64,
    _: u64,
    _: u64,
) -> u64 {
    set_redirect(env, ifindex, flags == 0, RedirectKind::Peer)
}

/// A flow hash of the packet: FNV-1a over the addresses, protocol and ports of an IPv4 or IPv6
/// packet (the Ethernet header otherwise), never 0, as Linux's flow hash is never 0.
fn flow_hash(p: &[u8]) -> u32 {
    let et = match p.get(12..14) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    };
    let byte = |i: usize| p.get(i).copied().unwrap_or(0);
    let (addrs, proto, l4) = match et {
        0x0800 if p.len() >= 34 => {
            let ihl = usize::from(byte(14) & 0xf).wrapping_mul(4);
            (p.get(26..34).unwrap_or(&[]), byte(23), ihl.wrapping_add(14))
        }
        0x86dd if p.len() >= 54 => (p.get(22..54).unwrap_or(&[]), byte(20), 54),
        _ => (p.get(..14).unwrap_or(p), 0, usize::MAX),
    };
    let ports = match proto {
        6 | 17 | 132 => p.get(l4..l4.saturating_add(4)).unwrap_or(&[]),
        _ => &[],
    };
    let mut h: u32 = 0x811c_9dc5;
    for &b in addrs.iter().chain(&[proto]).chain(ports) {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h.max(1)
}

fn get_hash_recalc(env: &mut HelperCall<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let Some((start, len)) = packet(env) else {
        return 0;
    };
    let Some(h) = env.read(start, len).map(flow_hash) else {
        return 0;
    };
    field(env, skb_field::HASH, Some(h));
    h as u64
}

fn skb_change_tail(
    env: &mut HelperCall<'_>,
    _: u64,
    new_len: u64,
    flags: u64,
    _: u64,
    _: u64,
) -> u64 {
    let Some(f) = tc_frame(env) else {
        return EINVAL;
    };
    let new_len = new_len as u32 as usize;
    if flags != 0 || !(ETH_HLEN..=MAX_LEN).contains(&new_len) {
        return EINVAL;
    }
    let end = f.data.saturating_add(new_len);
    if end > f.cap {
        return ENOMEM;
    }
    if end > f.end {
        with_buffer(env.regions, |b| b.get_mut(f.end..end).map(|s| s.fill(0)));
    }
    set_frame(env, f.data, end);
    0
}

fn skb_pull_data(env: &mut HelperCall<'_>, _: u64, len: u64, _: u64, _: u64, _: u64) -> u64 {
    // Every packet here is linear already: only its length is checked.
    match tc_frame(env) {
        Some(f) if len as u32 as usize <= f.len() => 0,
        Some(_) => ENOMEM,
        None => EINVAL,
    }
}

fn skb_change_head(env: &mut HelperCall<'_>, _: u64, room: u64, flags: u64, _: u64, _: u64) -> u64 {
    let Some(f) = tc_frame(env) else {
        return EINVAL;
    };
    let room = room as u32 as usize;
    if flags != 0 || room > MAX_LEN.saturating_sub(f.len()) {
        return EINVAL;
    }
    if room > f.data {
        return ENOMEM;
    }
    let data = f.data.saturating_sub(room);
    with_buffer(env.regions, |b| b.get_mut(data..f.data).map(|s| s.fill(0)));
    set_frame(env, data, f.end);
    0
}

/// Opens `len` zeroed bytes at offset `off` of the packet (the first `off` bytes move to the
/// front), or removes `len` bytes there when `shrink`: Linux's `bpf_skb_generic_push` and
/// `bpf_skb_generic_pop`. The caller checks the room.
fn move_room(env: &HelperCall<'_>, f: Frame, off: usize, len: usize, shrink: bool) {
    let data = if shrink {
        f.data.saturating_add(len)
    } else {
        f.data.saturating_sub(len)
    };
    with_buffer(env.regions, |b| {
        b.copy_within(f.data..f.data.saturating_add(off), data);
        if !shrink {
            let at = data.saturating_add(off);
            if let Some(s) = b.get_mut(at..at.saturating_add(len)) {
                s.fill(0);
            }
        }
    });
    set_frame(env, data, f.end);
}

/// The flags `skb_adjust_room` knows: `BPF_F_ADJ_ROOM_FIXED_GSO` to `DECAP_L3_IPV6`, and the
/// encapsulated L2 length in the top byte. They describe the packet to GSO and checksum
/// offload, which nanobpf does not do, so beyond this check they change nothing.
const ADJ_ROOM_FLAGS: u64 = 0x1ff | 0xff << 56;

fn skb_adjust_room(
    env: &mut HelperCall<'_>,
    _: u64,
    diff: u64,
    mode: u64,
    flags: u64,
    _: u64,
) -> u64 {
    let Some(f) = tc_frame(env) else {
        return EINVAL;
    };
    let diff = diff as i32;
    let (abs, shrink) = (diff.unsigned_abs() as usize, diff < 0);
    if abs > 0xfff {
        return EFAULT;
    }
    if flags & !ADJ_ROOM_FLAGS != 0 {
        return EINVAL;
    }
    // BPF_ADJ_ROOM_NET: below the network header; BPF_ADJ_ROOM_MAC: above the Ethernet header.
    let off = match mode as u32 {
        0 => ETH_HLEN,
        1 => 0,
        _ => return ENOTSUPP,
    };
    let len_min = match field(env, skb_field::PROTOCOL, None) {
        Some(ETH_P_IP) => 20,
        Some(ETH_P_IPV6) => 40,
        _ => return ENOTSUPP,
    };
    let len_cur = f.len().saturating_sub(ETH_HLEN);
    if shrink && (abs >= len_cur || len_cur.saturating_sub(abs) < len_min)
        || !shrink && f.len().saturating_add(abs) > MAX_LEN
    {
        return ENOTSUPP;
    }
    if f.len() < off || !shrink && abs > f.data {
        return ENOMEM;
    }
    move_room(env, f, off, abs, shrink);
    0
}

fn skb_change_proto(
    env: &mut HelperCall<'_>,
    _: u64,
    proto: u64,
    flags: u64,
    _: u64,
    _: u64,
) -> u64 {
    let Some(f) = tc_frame(env) else {
        return EINVAL;
    };
    if flags != 0 {
        return EINVAL;
    }
    // IPv4 to IPv6 opens 20 bytes after the Ethernet header, IPv6 to IPv4 removes them; the
    // program writes the new header.
    let to = proto as u16 as u32;
    let shrink = match (field(env, skb_field::PROTOCOL, None), to) {
        (Some(ETH_P_IP), ETH_P_IPV6) => false,
        (Some(ETH_P_IPV6), ETH_P_IP) => true,
        _ => return ENOTSUPP,
    };
    if f.len() < ETH_HLEN.saturating_add(if shrink { 40 } else { 0 }) {
        return ENOTSUPP;
    }
    if !shrink && (f.data < 20 || f.len().saturating_add(20) > MAX_LEN) {
        return ENOMEM;
    }
    move_room(env, f, ETH_HLEN, 20, shrink);
    field(env, skb_field::PROTOCOL, Some(to));
    0
}

fn skb_change_type(env: &mut HelperCall<'_>, _: u64, ty: u64, _: u64, _: u64, _: u64) -> u64 {
    // PACKET_HOST to PACKET_OTHERHOST, both ways.
    match field(env, skb_field::PKT_TYPE, None) {
        Some(old) if old <= 3 && ty as u32 <= 3 => {
            field(env, skb_field::PKT_TYPE, Some(ty as u32));
            0
        }
        _ => EINVAL,
    }
}

fn skb_set_tunnel_key(
    env: &mut HelperCall<'_>,
    _: u64,
    key: u64,
    size: u64,
    flags: u64,
    _: u64,
) -> u64 {
    // BPF_F_TUNINFO_IPV6, ZERO_CSUM_TX, DONT_FRAGMENT, SEQ_NUMBER, NO_TUNNEL_KEY.
    if flags & !0x1f != 0 || env.regions.frame != LiveFrame::Tc {
        return EINVAL;
    }
    // The sizes of `struct bpf_tunnel_key` Linux has had: up to `tunnel_ext`, up to
    // `tunnel_label`, whole.
    if !matches!(size, 22 | 24 | 44) {
        return EINVAL;
    }
    let Some(k) = env.read(key, size) else {
        return EFAULT;
    };
    // `size` is at least 22: every word and byte read below is there.
    let word = |i: usize| {
        k.get(i..)
            .and_then(|w| w.first_chunk::<4>())
            .map_or(0, |w| u32::from_ne_bytes(*w))
    };
    let ipv6 = flags & 1 != 0;
    let tk = TunnelKey {
        id: word(0),
        remote: if ipv6 {
            [word(4), word(8), word(12), word(16)]
        } else {
            [word(4), 0, 0, 0]
        },
        ipv6,
        tos: k.get(20).copied().unwrap_or(0),
        ttl: k.get(21).copied().unwrap_or(0),
    };
    env.state.tunnel = Some(tk);
    0
}

const CTX_ONLY: HelperProto = HelperProto::new(
    args([A::PtrToCtx, A::None, A::None, A::None, A::None]),
    RetKind::Integer,
);
const CTX_2: HelperProto = HelperProto::new(
    args([A::PtrToCtx, A::Scalar, A::None, A::None, A::None]),
    RetKind::Integer,
);
const CTX_3: HelperProto = HelperProto::new(
    args([A::PtrToCtx, A::Scalar, A::Scalar, A::None, A::None]),
    RetKind::Integer,
);
const CTX_4: HelperProto = HelperProto::new(
    args([A::PtrToCtx, A::Scalar, A::Scalar, A::Scalar, A::None]),
    RetKind::Integer,
);
const CTX_5: HelperProto = HelperProto::new(
    args([A::PtrToCtx, A::Scalar, A::Scalar, A::Scalar, A::Scalar]),
    RetKind::Integer,
);

/// `bpf_skb_store_bytes` (9): copies bytes into the packet at an offset.
pub const SKB_STORE_BYTES: Helper = Helper {
    id: 9,
    name: "skb_store_bytes",
    proto: HelperProto::new(
        args([A::PtrToCtx, A::Scalar, A::PtrToMem, A::ConstSize, A::Scalar]),
        RetKind::Integer,
    ),
    func: skb_store_bytes,
};

/// `bpf_l3_csum_replace` (10): updates an IP header checksum for a changed field.
pub const L3_CSUM_REPLACE: Helper = Helper {
    id: 10,
    name: "l3_csum_replace",
    proto: CTX_5,
    func: l3_csum_replace,
};

/// `bpf_l4_csum_replace` (11): updates a TCP or UDP checksum for a changed field.
pub const L4_CSUM_REPLACE: Helper = Helper {
    id: 11,
    name: "l4_csum_replace",
    proto: CTX_5,
    func: l4_csum_replace,
};

/// `bpf_redirect` (23): sends the packet to an interface (tc: `TC_ACT_REDIRECT`; XDP:
/// `XDP_REDIRECT`).
pub const REDIRECT: Helper = Helper {
    id: 23,
    name: "redirect",
    proto: HelperProto::new(
        args([A::Scalar, A::Scalar, A::None, A::None, A::None]),
        RetKind::Integer,
    ),
    func: redirect,
};

/// `bpf_skb_load_bytes` (26): copies packet bytes at an offset out (zeroes when not there).
pub const SKB_LOAD_BYTES: Helper = Helper {
    id: 26,
    name: "skb_load_bytes",
    proto: HelperProto::new(
        args([
            A::PtrToCtx,
            A::Scalar,
            A::PtrToUninitMem,
            A::ConstSize,
            A::None,
        ]),
        RetKind::Integer,
    ),
    func: skb_load_bytes,
};

/// `bpf_skb_set_tunnel_key` (21): attaches tunnel metadata to the packet.
pub const SKB_SET_TUNNEL_KEY: Helper = Helper {
    id: 21,
    name: "skb_set_tunnel_key",
    proto: HelperProto::new(
        args([A::PtrToCtx, A::PtrToMem, A::ConstSize, A::Scalar, A::None]),
        RetKind::Integer,
    ),
    func: skb_set_tunnel_key,
};

/// `bpf_skb_change_proto` (31): IPv4 to IPv6 or back, making room for the new header.
pub const SKB_CHANGE_PROTO: Helper = Helper {
    id: 31,
    name: "skb_change_proto",
    proto: CTX_3,
    func: skb_change_proto,
};

/// `bpf_skb_change_type` (32): sets `pkt_type`.
pub const SKB_CHANGE_TYPE: Helper = Helper {
    id: 32,
    name: "skb_change_type",
    proto: CTX_2,
    func: skb_change_type,
};

/// `bpf_get_hash_recalc` (34): recomputes the packet's flow hash.
pub const GET_HASH_RECALC: Helper = Helper {
    id: 34,
    name: "get_hash_recalc",
    proto: CTX_ONLY,
    func: get_hash_recalc,
};

/// `bpf_skb_change_tail` (38): sets the packet's length (new bytes are zero).
pub const SKB_CHANGE_TAIL: Helper = Helper {
    id: 38,
    name: "skb_change_tail",
    proto: CTX_3,
    func: skb_change_tail,
};

/// `bpf_skb_pull_data` (39): makes the first bytes directly accessible (all are, here).
pub const SKB_PULL_DATA: Helper = Helper {
    id: 39,
    name: "skb_pull_data",
    proto: CTX_2,
    func: skb_pull_data,
};

/// `bpf_skb_change_head` (43): grows the packet at its head (new bytes are zero).
pub const SKB_CHANGE_HEAD: Helper = Helper {
    id: 43,
    name: "skb_change_head",
    proto: CTX_3,
    func: skb_change_head,
};

/// `bpf_skb_adjust_room` (50): opens or closes room below the network header or above the
/// Ethernet header.
pub const SKB_ADJUST_ROOM: Helper = Helper {
    id: 50,
    name: "skb_adjust_room",
    proto: CTX_4,
    func: skb_adjust_room,
};

/// `bpf_redirect_neigh` (152): redirects out of an interface, the next hop resolved there.
pub const REDIRECT_NEIGH: Helper = Helper {
    id: 152,
    name: "redirect_neigh",
    proto: HelperProto::new(
        args([
            A::Scalar,
            A::PtrToMem,
            A::ConstSizeOrZero,
            A::Scalar,
            A::None,
        ]),
        RetKind::Integer,
    ),
    func: redirect_neigh,
};

/// `bpf_redirect_peer` (155): redirects into the peer of a virtual-ethernet pair.
pub const REDIRECT_PEER: Helper = Helper {
    id: 155,
    name: "redirect_peer",
    proto: HelperProto::new(
        args([A::Scalar, A::Scalar, A::None, A::None, A::None]),
        RetKind::Integer,
    ),
    func: redirect_peer,
};
