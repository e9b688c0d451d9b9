//! The tc helpers against Linux's semantics: checksums against a from-scratch computation,
//! packet bytes, the size-changing helpers in the buffer's head- and tailroom, redirects,
//! `fib_lookup` against a route table; each program verified as a tc program first.

use super::skb::{csum_replace2, csum_replace4};
use super::*;
use crate::asm::assemble;
use crate::host::{
    skb_field, FibOutcome, FibQuery, FibRoute, Platform, ProgramType, Route, StaticRoutes,
};
use crate::{Context, Insn, Interpreter, RedirectKind, Stack, TcBuff, VerifyErrorKind};
use std::vec::Vec;

fn asm(src: &str) -> Vec<Insn> {
    let mut buf = [Insn::default(); 256];
    let n = assemble(src, &mut buf).unwrap_or_else(|e| panic!("{e}\n{src}"));
    buf[..n].to_vec()
}

/// A platform with one route: 10.0.0.0/8 via interface 5, and 10.9.0.0/16 with no neighbour.
#[derive(Debug)]
struct Routes;

const ROUTES: [Route; 2] = [
    Route {
        ipv6: false,
        prefix: [10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        len: 8,
        outcome: FibOutcome::Forward(FibRoute {
            ifindex: 5,
            smac: [2, 0, 0, 0, 0, 5],
            dmac: Some([2, 0, 0, 0, 0, 6]),
            mtu: 1500,
        }),
    },
    Route {
        ipv6: false,
        prefix: [10, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        len: 16,
        outcome: FibOutcome::Forward(FibRoute {
            ifindex: 7,
            smac: [2, 0, 0, 0, 0, 7],
            dmac: None,
            mtu: 0,
        }),
    },
];

impl Platform for Routes {
    fn fib_lookup(&self, q: &FibQuery) -> FibOutcome {
        StaticRoutes::new(&ROUTES).lookup(q)
    }
}

fn verify_tc(src: &str) -> Result<Vec<Insn>, VerifyErrorKind> {
    let mut insns = asm(src);
    let env = crate::VerifyTarget::new(ProgramType::Tc, standard(), crate::maps::MapTable::EMPTY);
    let mut ws = std::boxed::Box::new(crate::DefaultWorkspace::new());
    crate::verify(&mut insns, &env, &mut ws)
        .map(|_| ())
        .map_err(|e| e.kind)?;
    Ok(insns)
}

/// Verifies `src` as a tc program and runs it on the packet at `headroom` of `buf` (the rest
/// of `buf` is tailroom): r0 and the packet's state after.
fn run_tc(src: &str, buf: &mut [u8], headroom: usize, len: usize) -> (u64, TcSnapshot) {
    let env = crate::VerifyTarget::new(ProgramType::Tc, standard(), crate::maps::MapTable::EMPTY);
    let mut ws = std::boxed::Box::new(crate::DefaultWorkspace::new());
    let mut insns = asm(src);
    let verified =
        crate::verify(&mut insns, &env, &mut ws).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let vm = Interpreter::new(standard(), &Routes);
    let mut ctx = Context::Tc(TcBuff::new(buf, headroom, len));
    let r = vm.run(&verified, &mut ctx, &mut Stack::new()).unwrap();
    let Context::Tc(t) = ctx else { unreachable!() };
    let snap = TcSnapshot {
        data: t.data,
        data_end: t.data_end,
        fields: t.fields,
        redirect: t.redirect.map(|r| (r.ifindex, r.kind)),
    };
    (r, snap)
}

#[derive(Debug)]
struct TcSnapshot {
    data: usize,
    data_end: usize,
    fields: [u32; 19],
    redirect: Option<(u32, RedirectKind)>,
}

/// The Internet checksum of `bytes` (big-endian 16-bit words), complemented.
fn inet_csum(bytes: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for w in bytes.chunks(2) {
        s += u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]) as u32;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// The IPv4 header checksum and the UDP checksum of `p` (Ethernet, IPv4 without options,
/// UDP), computed from scratch, as the bytes they are on the wire.
fn reference_sums(p: &[u8]) -> ([u8; 2], [u8; 2]) {
    let mut ip = p[14..34].to_vec();
    ip[10..12].fill(0);
    let udp_len = p.len() - 34;
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&p[26..34]);
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&(udp_len as u16).to_be_bytes());
    pseudo.extend_from_slice(&p[34..40]);
    pseudo.extend_from_slice(&[0, 0]);
    pseudo.extend_from_slice(&p[42..]);
    let udp = match inet_csum(&pseudo) {
        0 => 0xffff,
        s => s,
    };
    (inet_csum(&ip).to_be_bytes(), udp.to_be_bytes())
}

/// Ethernet + IPv4 (192.168.1.1 to 10.1.2.3) + UDP 1234 to 53 + 6 bytes of payload, with
/// correct checksums.
fn udp_packet() -> Vec<u8> {
    let mut p = std::vec![0u8; 48];
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14..34].copy_from_slice(&[
        0x45, 0, 0, 34, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 192, 168, 1, 1, 10, 1, 2, 3,
    ]);
    p[34..42].copy_from_slice(&[0x04, 0xd2, 0, 53, 0, 14, 0, 0]);
    p[42..48].copy_from_slice(b"nanobp");
    let (ip, udp) = reference_sums(&p);
    p[24..26].copy_from_slice(&ip);
    p[40..42].copy_from_slice(&udp);
    p
}

#[test]
fn csum_replace_matches_linux_arithmetic() {
    // Linux's own examples: replacing a word by itself changes nothing; the result of a
    // replacement equals a recomputation.
    let words = [
        0x4500u16, 0x0022, 0x1234, 0x4000, 0x4011, 0xc0a8, 0x0101, 0x0a01, 0x0203,
    ];
    let sum_of = |w: &[u16]| {
        let b: Vec<u8> = w.iter().flat_map(|x| x.to_be_bytes()).collect();
        inet_csum(&b)
    };
    let before = sum_of(&words);
    let mut after = words;
    after[8] = 0x0063;
    let want = sum_of(&after);
    // In host order of the big-endian words, as a program's 16-bit loads see them.
    let got = csum_replace2(
        before.to_be().swap_bytes().swap_bytes(),
        words[8].to_be(),
        after[8].to_be(),
    );
    assert_eq!(u16::from_be(got), want);
    assert_eq!(csum_replace2(before, 7, 7), before);
    assert_eq!(csum_replace4(before, 0x1234_5678, 0x1234_5678), before);
}

/// Rewrites the destination address to 10.0.0.99 with `skb_store_bytes`, then fixes the IPv4
/// checksum with `l3_csum_replace` (4 bytes) and the UDP checksum with `l4_csum_replace`
/// (4 bytes, pseudo-header).
const NAT_SRC: &str = "
    mov %r6, %r1
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
    jne %r0, 0, out
    mov %r1, %r6
    mov %r2, 24
    mov %r3, %r9
    ldxw %r4, [%r10-4]
    mov %r5, 4
    call 10
    jne %r0, 0, out
    mov %r1, %r6
    mov %r2, 40
    mov %r3, %r9
    ldxw %r4, [%r10-4]
    mov %r5, 0x14
    call 11
    jne %r0, 0, out
    mov %r0, 0
    exit
out:
    mov %r0, 2
    exit";

#[test]
fn store_bytes_and_csum_replace_agree_with_a_recomputation() {
    let p = udp_packet();
    let mut buf = std::vec![0u8; 32 + p.len() + 32];
    buf[32..32 + p.len()].copy_from_slice(&p);
    let (r, s) = run_tc(NAT_SRC, &mut buf, 32, p.len());
    assert_eq!(r, 0);
    let out = &buf[s.data..s.data_end];
    assert_eq!(out[30..34], [10, 0, 0, 99]);
    let (ip, udp) = reference_sums(out);
    assert_eq!(out[24..26], ip, "IPv4 header checksum");
    assert_eq!(out[40..42], udp, "UDP checksum");
}

#[test]
fn l4_csum_replace_of_a_port_and_mangled_zero() {
    // The source port 1234 becomes 4321 (2-byte replace, no pseudo-header part).
    let src = "
        mov %r6, %r1
        ldxw %r7, [%r6+76]
        ldxw %r8, [%r6+80]
        mov %r2, %r7
        add %r2, 42
        jgt %r2, %r8, out
        ldxh %r9, [%r7+34]
        sth [%r10-2], 0xe110
        mov %r1, %r6
        mov %r2, 34
        mov %r3, %r10
        add %r3, -2
        mov %r4, 2
        mov %r5, 0
        call 9
        mov %r1, %r6
        mov %r2, 40
        mov %r3, %r9
        ldxh %r4, [%r10-2]
        mov %r5, 2
        call 11
        exit
    out:
        mov %r0, 2
        exit";
    let p = udp_packet();
    let mut buf = p.clone();
    let (r, s) = run_tc(src, &mut buf, 0, p.len());
    assert_eq!(r, 0);
    assert_eq!(buf[34..36], 4321u16.to_be_bytes());
    assert_eq!(buf[40..42], reference_sums(&buf[s.data..s.data_end]).1);

    // BPF_F_MARK_MANGLED_0 leaves a zero (absent) UDP checksum alone.
    let mut buf = p.clone();
    buf[40..42].fill(0);
    let mangled = src.replace("mov %r5, 2\n", "mov %r5, 0x22\n");
    run_tc(&mangled, &mut buf, 0, p.len());
    assert_eq!(buf[40..42], [0, 0]);
}

#[test]
fn csum_replace_refuses_bad_flags_and_offsets() {
    let call = |off: i32, flags: i32| {
        std::format!("mov %r2, {off}\nmov %r3, 0\nmov %r4, 0\nmov %r5, {flags}\ncall 10\nexit")
    };
    let p = udp_packet();
    let run = |src: &str| run_tc(src, &mut p.clone(), 0, p.len()).0;
    assert_eq!(run(&call(24, 3)), EINVAL, "size 3");
    assert_eq!(run(&call(24, 0x10)), EINVAL, "a flag of l4 only");
    assert_eq!(run(&call(25, 2)), super::skb::EFAULT, "odd offset");
    assert_eq!(run(&call(47, 2)), super::skb::EFAULT, "past the packet");
    assert_eq!(run(&call(24, 2)), 0);
}

#[test]
fn load_bytes_copies_or_zeroes() {
    let src = "
        mov %r6, %r1
        stdw [%r10-8], -1
        mov %r1, %r6
        mov %r2, 26
        mov %r3, %r10
        add %r3, -8
        mov %r4, 8
        call 26
        ldxdw %r1, [%r10-8]
        lsh %r0, 32
        rsh %r0, 32
        xor %r0, %r1
        exit";
    let p = udp_packet();
    let (r, _) = run_tc(src, &mut p.clone(), 0, p.len());
    assert_eq!(r, u64::from_ne_bytes(p[26..34].try_into().unwrap()));
    // Offset 44 + 8 is past the 48-byte packet: the destination is zeroed, -EFAULT.
    let (r, _) = run_tc(
        &src.replace("mov %r2, 26", "mov %r2, 44"),
        &mut p.clone(),
        0,
        p.len(),
    );
    assert_eq!(r, super::skb::EFAULT as u32 as u64);
}

#[test]
fn change_tail_and_head_use_the_room_around_the_packet() {
    let p = udp_packet();
    let tail = |len: i32| std::format!("mov %r2, {len}\nmov %r3, 0\ncall 38\nexit");
    let mut buf = std::vec![0xaa; 16 + 48 + 16];
    buf[16..64].copy_from_slice(&p);
    let (r, s) = run_tc(&tail(60), &mut buf, 16, 48);
    assert_eq!((r, s.data, s.data_end), (0, 16, 76));
    assert_eq!(s.fields[skb_field::LEN], 60);
    assert!(buf[64..76].iter().all(|&b| b == 0), "grown bytes are zero");
    let (r, s) = run_tc(&tail(30), &mut buf, 16, 60);
    assert_eq!((r, s.data_end), (0, 46));
    assert_eq!(run_tc(&tail(65), &mut buf, 16, 48).0, super::skb::ENOMEM);
    assert_eq!(run_tc(&tail(13), &mut buf, 16, 48).0, EINVAL);

    let head = |room: i32| std::format!("mov %r2, {room}\nmov %r3, 0\ncall 43\nexit");
    let mut buf = std::vec![0xaa; 16 + 48];
    buf[16..].copy_from_slice(&p);
    let (r, s) = run_tc(&head(14), &mut buf, 16, 48);
    assert_eq!((r, s.data, s.data_end), (0, 2, 64));
    assert_eq!(buf[2..16], [0; 14]);
    assert_eq!(buf[16..], p[..]);
    assert_eq!(run_tc(&head(17), &mut buf, 16, 48).0, super::skb::ENOMEM);
}

#[test]
fn adjust_room_opens_and_closes_room_below_the_network_header() {
    let p = udp_packet();
    let adjust = |diff: i32, mode: i32| {
        std::format!("mov %r2, {diff}\nmov %r3, {mode}\nmov %r4, 0\ncall 50\nexit")
    };
    let mut buf = std::vec![0u8; 32 + 48];
    buf[32..].copy_from_slice(&p);
    let (r, s) = run_tc(&adjust(8, 0), &mut buf, 32, 48);
    assert_eq!((r, s.data, s.data_end), (0, 24, 80));
    let out = buf[24..80].to_vec();
    assert_eq!(out[..14], p[..14], "the Ethernet header moved to the front");
    assert_eq!(out[14..22], [0; 8], "the room is zero");
    assert_eq!(out[22..], p[14..], "the IPv4 packet stays in place");
    // And back.
    let (r, s) = run_tc(&adjust(-8, 0), &mut buf, 24, 56);
    assert_eq!((r, s.data, s.data_end), (0, 32, 80));
    assert_eq!(buf[32..], p[..]);
    // Too much shrinking, an unknown mode, a non-IP packet.
    assert_eq!(
        run_tc(&adjust(-20, 0), &mut buf, 32, 48).0,
        super::skb::ENOTSUPP
    );
    assert_eq!(
        run_tc(&adjust(8, 7), &mut buf, 32, 48).0,
        super::skb::ENOTSUPP
    );
    assert_eq!(
        run_tc(&adjust(40, 0), &mut buf, 32, 48).0,
        super::skb::ENOMEM
    );
    buf[32 + 12] = 0x86;
    assert_eq!(
        run_tc(&adjust(8, 0), &mut buf, 32, 48).0,
        super::skb::ENOTSUPP
    );
}

#[test]
fn redirect_and_verdicts() {
    let p = udp_packet();
    let (r, s) = run_tc(
        "mov %r1, 9\nmov %r2, 0\ncall 23\nexit",
        &mut p.clone(),
        0,
        48,
    );
    assert_eq!((r, s.redirect), (7, Some((9, RedirectKind::Egress))));
    let (r, s) = run_tc(
        "mov %r1, 9\nmov %r2, 1\ncall 23\nexit",
        &mut p.clone(),
        0,
        48,
    );
    assert_eq!((r, s.redirect), (7, Some((9, RedirectKind::Ingress))));
    let (r, s) = run_tc(
        "mov %r1, 9\nmov %r2, 2\ncall 23\nexit",
        &mut p.clone(),
        0,
        48,
    );
    assert_eq!((r, s.redirect), (2, None), "unknown flags: TC_ACT_SHOT");
    let (r, s) = run_tc(
        "mov %r1, 4\nmov %r2, 0\ncall 155\nexit",
        &mut p.clone(),
        0,
        48,
    );
    assert_eq!((r, s.redirect), (7, Some((4, RedirectKind::Peer))));
    let src = "mov %r1, 4\nmov %r2, 0\nmov %r3, 0\nmov %r4, 0\ncall 152\nexit";
    let (r, s) = run_tc(src, &mut p.clone(), 0, 48);
    assert_eq!((r, s.redirect), (7, Some((4, RedirectKind::Neigh))));
}

#[test]
fn context_fields_read_and_write() {
    // mark = len + protocol; cb[2] = 5; tc_classid = 0x10001; r0 = data_end - data.
    let src = "
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+16]
        add %r2, %r3
        stxw [%r1+8], %r2
        stw [%r1+56], 5
        stw [%r1+72], 0x10001
        ldxw %r4, [%r1+76]
        ldxw %r0, [%r1+80]
        sub %r0, %r4
        exit";
    let p = udp_packet();
    let (r, s) = run_tc(src, &mut p.clone(), 0, 48);
    assert_eq!(r, 48);
    assert_eq!(s.fields[skb_field::MARK], 48 + 0x0008);
    assert_eq!(s.fields[skb_field::CB + 2], 5);
    assert_eq!(s.fields[skb_field::TC_CLASSID], 0x10001);
    // `len` is not writable; the socket fields are not tc's.
    assert!(verify_tc("stw [%r1+0], 1\nmov %r0, 0\nexit").is_err());
    assert!(verify_tc("ldxw %r0, [%r1+88]\nexit").is_err());
}

#[test]
fn fib_lookup_fills_the_params_from_the_route_table() {
    // params at fp-64: family AF_INET, ifindex 1, dst 10.1.2.3 (then 10.9.0.1, 11.0.0.1).
    let src = |dst: u32, tot_len: i32| {
        std::format!(
            "mov %r6, %r1
        mov %r2, 0
        stxdw [%r10-64], %r2
        stxdw [%r10-56], %r2
        stxdw [%r10-48], %r2
        stxdw [%r10-40], %r2
        stxdw [%r10-32], %r2
        stxdw [%r10-24], %r2
        stxdw [%r10-16], %r2
        stxdw [%r10-8], %r2
        stb [%r10-64], 2
        sth [%r10-58], {tot_len}
        stw [%r10-56], 1
        stw [%r10-32], {dst}
        mov %r1, %r6
        mov %r2, %r10
        add %r2, -64
        mov %r3, 64
        mov %r4, 0
        call 69
        ldxw %r1, [%r10-56]
        lsh %r1, 8
        or %r0, %r1
        ldxb %r1, [%r10-1]
        lsh %r1, 40
        or %r0, %r1
        exit"
        )
    };
    let p = udp_packet();
    let run = |dst: [u8; 4], tot_len| {
        run_tc(
            &src(u32::from_le_bytes(dst), tot_len),
            &mut p.clone(),
            0,
            48,
        )
        .0
    };
    // Forwarded via interface 5 with the next hop's MAC (last byte 6).
    assert_eq!(run([10, 1, 2, 3], 0), (6 << 40) | (5 << 8));
    // No neighbour: BPF_FIB_LKUP_RET_NO_NEIGH, the interface still set.
    assert_eq!(run([10, 9, 0, 1], 0), (7 << 8) | 7);
    // No route: BPF_FIB_LKUP_RET_NOT_FWDED, params untouched.
    assert_eq!(run([11, 0, 0, 1], 0), (1 << 8) | 4);
    // Longer than the MTU: BPF_FIB_LKUP_RET_FRAG_NEEDED.
    assert_eq!(run([10, 1, 2, 3], 1600), (1 << 8) | 8);
}

#[test]
fn skb_helpers_are_for_tc_and_change_the_packet() {
    // From an XDP program, skb_store_bytes is not a helper (Linux's per-type helper set).
    let mut insns = asm("mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nstdw [%r10-8], 0\nmov %r4, 8\nmov %r5, 0\ncall 9\nexit");
    let env = crate::VerifyTarget::new(ProgramType::Xdp, standard(), crate::maps::MapTable::EMPTY);
    let mut ws = std::boxed::Box::new(crate::DefaultWorkspace::new());
    let e = crate::verify(&mut insns, &env, &mut ws).unwrap_err();
    assert!(
        matches!(e.kind, VerifyErrorKind::UnknownHelper { id: 9 }),
        "{e}"
    );
    // A packet pointer is stale after skb_change_head.
    let stale = "
        mov %r6, %r1
        ldxw %r7, [%r6+76]
        ldxw %r8, [%r6+80]
        mov %r2, %r7
        add %r2, 14
        jgt %r2, %r8, out
        mov %r1, %r6
        mov %r2, 4
        mov %r3, 0
        call 43
        ldxb %r0, [%r7+0]
        exit
    out:
        mov %r0, 0
        exit";
    assert!(verify_tc(stale).is_err());
    assert!(verify_tc(&stale.replace("ldxb %r0, [%r7+0]", "mov %r0, 0")).is_ok());
}
