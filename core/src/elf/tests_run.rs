//! The examples run end to end: loaded, verified, bound to map storage by index, run by the
//! interpreter on hand-built packets, with the verdicts and map contents their C source
//! promises.

use super::tests::{bind, example, load};
use super::Object;
use crate::helpers;
use crate::host::{MapDef, ProgramType};
use crate::maps::{ArrayMap, BpfHashMap, LpmTrie, Map, MapTable, ProgArray, RingBuf};
use crate::verifier::{verify, DefaultWorkspace, VerifierWorkspace, VerifyTarget};
use crate::{Context, Insn, Interpreter, NoPlatform, SkBuff, Stack, VerifiedProgram, XdpBuff};
use std::boxed::Box;
use std::vec::Vec;

const XDP_DROP: u64 = 1;
const XDP_PASS: u64 = 2;
const XDP_TX: u64 = 3;

/// Every example fits the default workspace: `checksum_loop`'s 128-iteration loop with two
/// early exits leaves only a few pending branches, as each exit is explored before the loop
/// goes on.
type Workspace = DefaultWorkspace;

/// Program `name` of `obj`, loaded and verified against `maps` (bound by the object's map
/// definitions, see `bind`). The instructions are leaked so the program outlives this call
/// (tests only).
fn verified<'m>(obj: &Object<'_>, name: &str, maps: &'m [&'m dyn Map]) -> VerifiedProgram<'m> {
    let (insns, loaded) = load(obj, name);
    let insns: &'static mut [Insn] = Box::leak(insns.into_boxed_slice());
    let env = VerifyTarget::new(loaded.prog_type, helpers::standard(), MapTable::new(maps));
    let mut ws = Box::new(Workspace::new());
    let p = verify(insns, &env, &mut ws).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(p.prog_type(), loaded.prog_type);
    p
}

fn vm<'e>(maps: &'e [&'e dyn Map]) -> Interpreter<'e> {
    Interpreter::new(helpers::standard(), &NoPlatform).with_maps(MapTable::new(maps))
}

/// Runs an XDP program on `frame` (with 32 bytes of headroom); returns the verdict and the
/// frame afterwards.
fn run_xdp(vm: &Interpreter<'_>, program: &VerifiedProgram<'_>, frame: &[u8]) -> (u64, Vec<u8>) {
    let mut buf = std::vec![0u8; 32 + frame.len()];
    buf[32..].copy_from_slice(frame);
    let mut ctx = Context::Xdp(XdpBuff::new(&mut buf, 32, frame.len()));
    let r = vm.run(program, &mut ctx, &mut Stack::new()).unwrap();
    (r, buf[32..].to_vec())
}

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

/// An Ethernet frame of `ethertype` with `payload`.
fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&MAC_B);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 frame with `options` bytes of IP options, and a UDP (17) or TCP (6) header from
/// port 1000 to `dport`, and 8 payload bytes.
fn ipv4_opts(proto: u8, src: [u8; 4], dport: u16, options: usize) -> Vec<u8> {
    let l4 = match proto {
        6 => 20,
        17 => 8,
        _ => 0,
    };
    let ihl = 5 + options / 4;
    let total = ihl * 4 + l4 + 8;
    let mut ip = std::vec![0x40 | ihl as u8, 0];
    ip.extend_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&[192, 0, 2, 1]);
    ip.resize(ihl * 4, 1); // options: NOPs
    let mut l4h = std::vec![0u8; l4];
    if l4 > 0 {
        l4h[0..2].copy_from_slice(&1000u16.to_be_bytes());
        l4h[2..4].copy_from_slice(&dport.to_be_bytes());
    }
    ip.extend_from_slice(&l4h);
    ip.extend_from_slice(b"payload!");
    ether(0x0800, &ip)
}

fn ipv4(proto: u8, src: [u8; 4], dport: u16) -> Vec<u8> {
    ipv4_opts(proto, src, dport, 0)
}

fn arp() -> Vec<u8> {
    ether(0x0806, &[0u8; 28])
}

fn read_u64(m: &dyn Map, key: &[u8]) -> u64 {
    let mut v = [0u8; 8];
    m.lookup_copy(key, &mut v).unwrap();
    u64::from_ne_bytes(v)
}

#[test]
fn xdp_pass_passes() {
    let bytes = example("xdp_pass");
    let obj = Object::parse(&bytes).unwrap();
    let prog = verified(&obj, "xdp_pass", &[]);
    let (v, _) = run_xdp(&vm(&[]), &prog, &arp());
    assert_eq!(v, XDP_PASS);
}

#[test]
fn drop_udp_port_drops_only_that_port() {
    let bytes = example("xdp_drop_udp_port");
    let obj = Object::parse(&bytes).unwrap();
    let prog = verified(&obj, "xdp_drop_udp_port", &[]);
    let vm = vm(&[]);
    let src = [198, 51, 100, 7];
    assert_eq!(run_xdp(&vm, &prog, &ipv4(17, src, 7777)).0, XDP_DROP);
    assert_eq!(
        run_xdp(&vm, &prog, &ipv4_opts(17, src, 7777, 8)).0,
        XDP_DROP
    );
    assert_eq!(run_xdp(&vm, &prog, &ipv4(17, src, 53)).0, XDP_PASS);
    assert_eq!(run_xdp(&vm, &prog, &ipv4(6, src, 7777)).0, XDP_PASS);
    assert_eq!(run_xdp(&vm, &prog, &arp()).0, XDP_PASS);
    // Cut inside the UDP header: the bounds checks pass it.
    let frame = ipv4(17, src, 7777);
    assert_eq!(run_xdp(&vm, &prog, &frame[..14 + 20 + 3]).0, XDP_PASS);
}

#[test]
fn firewall_blocks_counts_and_reads_its_configuration() {
    let bytes = example("xdp_firewall");
    let obj = Object::parse(&bytes).unwrap();
    let blocklist = LpmTrie::<4, 4, 1, 64>::new();
    let per_source = BpfHashMap::<4, 16, 2, 256>::new();
    let verdicts = ArrayMap::<8, 1, 5>::new();
    let rodata = ArrayMap::<8, 1, 1>::new();
    let bss = ArrayMap::<16, 2, 1>::new();
    let table = bind(
        &obj,
        &[
            ("blocklist", &blocklist),
            ("per_source", &per_source),
            ("verdicts", &verdicts),
            (".rodata", &rodata),
            (".bss", &bss),
        ],
    );
    // Block 10.0.0.0/8.
    let mut key = 8u32.to_ne_bytes().to_vec();
    key.extend_from_slice(&[10, 0, 0, 0]);
    blocklist.update(&key, &1u32.to_ne_bytes(), 0).unwrap();

    let prog = verified(&obj, "xdp_firewall", &table);
    let vm = vm(&table);
    let bad = ipv4(17, [10, 1, 2, 3], 53);
    let good = ipv4(6, [192, 168, 1, 1], 80);
    assert_eq!(run_xdp(&vm, &prog, &bad).0, XDP_DROP);
    assert_eq!(run_xdp(&vm, &prog, &good).0, XDP_PASS);
    assert_eq!(run_xdp(&vm, &prog, &good).0, XDP_PASS);
    assert_eq!(run_xdp(&vm, &prog, &arp()).0, XDP_PASS, "non_ip_verdict");
    assert_eq!(run_xdp(&vm, &prog, &bad[..10]).0, XDP_DROP, "runt");

    let verdict = |v: u32| read_u64(&verdicts, &v.to_ne_bytes());
    assert_eq!((verdict(1), verdict(2), verdict(3)), (2, 3, 0));
    let source = |ip: [u8; 4]| {
        let mut v = [0u8; 16];
        per_source.lookup_copy(&ip, &mut v).map(|()| {
            let (p, b) = v.split_at(8);
            (
                u64::from_ne_bytes(p.try_into().unwrap()),
                u64::from_ne_bytes(b.try_into().unwrap()),
            )
        })
    };
    assert_eq!(source([10, 1, 2, 3]), Ok((1, bad.len() as u64)));
    assert_eq!(source([192, 168, 1, 1]), Ok((2, 2 * good.len() as u64)));
    let mut counters = [0u8; 16];
    bss.lookup_copy(&0u32.to_ne_bytes(), &mut counters).unwrap();
    assert_eq!(counters[..8], 5u64.to_ne_bytes(), "frames_seen");
    assert_eq!(counters[8..], 3u64.to_ne_bytes(), "ipv4_frames");

    // A new configuration: no per-source counters, drop what is not IPv4.
    let config = [0, 0, 0, 0, 1, 0, 0, 0];
    rodata.update(&0u32.to_ne_bytes(), &config, 0).unwrap();
    assert_eq!(run_xdp(&vm, &prog, &arp()).0, XDP_DROP);
    assert_eq!(run_xdp(&vm, &prog, &good).0, XDP_PASS);
    assert_eq!(source([192, 168, 1, 1]), Ok((2, 2 * good.len() as u64)));
    assert_eq!(verdict(1), 3);
}

#[test]
fn l2_swap_reflects_the_frame() {
    let bytes = example("xdp_l2_swap_tx");
    let obj = Object::parse(&bytes).unwrap();
    let prog = verified(&obj, "xdp_l2_swap_tx", &[]);
    let frame = ipv4(17, [1, 2, 3, 4], 9);
    let (v, out) = run_xdp(&vm(&[]), &prog, &frame);
    assert_eq!(v, XDP_TX);
    assert_eq!(out[0..6], MAC_B);
    assert_eq!(out[6..12], MAC_A);
    assert_eq!(out[12..], frame[12..]);
    assert_eq!(run_xdp(&vm(&[]), &prog, &frame[..13]).0, XDP_DROP);
}

#[test]
fn socket_filter_counts_protocols() {
    let bytes = example("socket_count");
    let obj = Object::parse(&bytes).unwrap();
    let packets = ArrayMap::<8, 1, 256>::new();
    let bytes_map = ArrayMap::<8, 1, 256>::new();
    let table = bind(
        &obj,
        &[("proto_packets", &packets), ("proto_bytes", &bytes_map)],
    );
    let program = verified(&obj, "socket", &table);
    assert_eq!(program.prog_type(), ProgramType::SocketFilter);
    let vm = vm(&table);
    let frames = [
        ipv4(17, [1, 1, 1, 1], 53),
        ipv4(6, [1, 1, 1, 1], 80),
        ipv4(6, [1, 1, 1, 2], 443),
        arp(),
    ];
    for f in &frames {
        let mut pkt = f.clone();
        let mut ctx = Context::SocketFilter(SkBuff {
            packet: &mut pkt,
            fields: [0; 19],
        });
        let keep = vm.run(&program, &mut ctx, &mut Stack::new());
        assert_eq!(keep, Ok(f.len() as u64), "keeps the whole packet");
    }
    let at = |m: &dyn Map, p: u32| read_u64(m, &p.to_ne_bytes());
    assert_eq!(
        (at(&packets, 17), at(&packets, 6), at(&packets, 0)),
        (1, 2, 0)
    );
    assert_eq!(
        at(&bytes_map, 6),
        (frames[1].len() + frames[2].len()) as u64
    );
    assert_eq!(at(&bytes_map, 17), frames[0].len() as u64);
}

#[test]
fn tail_call_reaches_the_handler() {
    let bytes = example("tail_call");
    let obj = Object::parse(&bytes).unwrap();
    let handlers = ProgArray::<4>::new();
    let handled = ArrayMap::<8, 1, 4>::new();
    let table = bind(&obj, &[("handlers", &handlers), ("handled", &handled)]);
    handlers.set(0, 0).unwrap();
    handlers.set(1, 1).unwrap();
    let dispatcher = verified(&obj, "dispatcher", &table);
    let targets = [
        verified(&obj, "xdp/udp", &table),
        verified(&obj, "xdp/tcp", &table),
    ];
    let vm = vm(&table).with_programs(&targets);
    let src = [1, 2, 3, 4];
    assert_eq!(run_xdp(&vm, &dispatcher, &ipv4(17, src, 53)).0, XDP_DROP);
    assert_eq!(run_xdp(&vm, &dispatcher, &ipv4(6, src, 80)).0, XDP_TX);
    assert_eq!(run_xdp(&vm, &dispatcher, &ipv4(1, src, 0)).0, XDP_PASS);
    handlers.clear(1).unwrap();
    assert_eq!(
        run_xdp(&vm, &dispatcher, &ipv4(6, src, 80)).0,
        XDP_PASS,
        "no handler"
    );
    let at = |slot: u32| read_u64(&handled, &slot.to_ne_bytes());
    assert_eq!((at(0), at(1)), (1, 1));
}

#[test]
fn ringbuf_events_reach_the_consumer() {
    let bytes = example("ringbuf_events");
    let obj = Object::parse(&bytes).unwrap();
    let events = RingBuf::<4096, 512>::new();
    let table = bind(&obj, &[("events", &events)]);
    let prog = verified(&obj, "ringbuf_events", &table);
    let vm = vm(&table);
    let frames = [
        ipv4(17, [10, 0, 0, 1], 53),
        arp(),
        ipv4(6, [10, 0, 0, 2], 80),
    ];
    for f in &frames {
        assert_eq!(run_xdp(&vm, &prog, f).0, XDP_PASS);
    }
    let mut got = Vec::new();
    let mut scratch = [0u8; 64];
    events.consume(&mut scratch, |rec| got.push(rec.to_vec()));
    assert_eq!(got.len(), 3);
    for (rec, f) in got.iter().zip(&frames) {
        assert_eq!(rec.len(), 16);
        assert_eq!(
            u32::from_ne_bytes(rec[0..4].try_into().unwrap()),
            f.len() as u32
        );
        assert_eq!(rec[4..6], f[12..14], "ethertype");
        if f[12..14] == [8, 0] {
            assert_eq!(rec[6], f[14 + 9], "protocol");
            assert_eq!(rec[8..16], f[14 + 12..14 + 20], "addresses");
        } else {
            assert_eq!(rec[6..16], [0; 10]);
        }
    }
}

/// RFC 1071 over little-endian 16-bit words, as the program sums them.
fn checksum(bytes: &[u8]) -> u32 {
    let mut sum: u32 = bytes
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_le_bytes([w[0], w[1]])))
        .sum();
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !sum & 0xffff
}

#[test]
fn checksum_loop_sums_the_configured_prefix() {
    let bytes = example("checksum_loop");
    let obj = Object::parse(&bytes).unwrap();
    let data = ArrayMap::<4, 1, 1>::new();
    let bss = ArrayMap::<4, 1, 1>::new();
    let table = bind(&obj, &[(".data", &data), (".bss", &bss)]);
    let prog = verified(&obj, "checksum_loop", &table);
    let vm = vm(&table);
    let mut seed = 0x9e37_79b9u32;
    let frame: Vec<u8> = (0..301)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect();
    let last = || {
        let mut v = [0u8; 4];
        bss.lookup_copy(&0u32.to_ne_bytes(), &mut v).unwrap();
        u32::from_ne_bytes(v)
    };
    // checksum_len = 64 from .data's initial value.
    assert_eq!(run_xdp(&vm, &prog, &frame).0, XDP_PASS);
    assert_eq!(last(), checksum(&frame[..64]));
    // Longer than the loop bound: 256 bytes.
    data.update(&0u32.to_ne_bytes(), &1000u32.to_ne_bytes(), 0)
        .unwrap();
    run_xdp(&vm, &prog, &frame);
    assert_eq!(last(), checksum(&frame[..256]));
    // A frame shorter than both, of odd length: the last byte is left out.
    run_xdp(&vm, &prog, &frame[..41]);
    assert_eq!(last(), checksum(&frame[..40]));
}

#[test]
fn every_program_of_every_example_verifies() {
    for name in super::tests::EXAMPLES {
        let bytes = example(name);
        let obj = Object::parse(&bytes).unwrap();
        let defs: Vec<MapDef> = obj.maps().map(|m| m.verifier_def()).collect();
        let maps: Vec<&dyn Map> = defs.iter().map(|d| d as &dyn Map).collect();
        for p in obj.programs() {
            let _ = verified(&obj, p.name, &maps);
        }
    }
}

/// The loop's exits are explored before it goes on, so at most a few branches are pending at
/// any time: four entries are enough, two are not.
#[test]
fn checksum_loop_keeps_few_branches_pending() {
    fn verify_in<const BRANCHES: usize>() -> Result<(), crate::verifier::VerifyErrorKind> {
        let bytes = example("checksum_loop");
        let obj = Object::parse(&bytes).unwrap();
        let (mut insns, loaded) = load(&obj, "checksum_loop");
        let defs: Vec<MapDef> = obj.maps().map(|m| m.verifier_def()).collect();
        let env = VerifyTarget::new(
            loaded.prog_type,
            helpers::standard(),
            MapTable::definitions(&defs),
        );
        let mut ws = Box::new(VerifierWorkspace::<64, 16, BRANCHES>::new());
        verify(&mut insns, &env, &mut ws)
            .map(|_| ())
            .map_err(|e| e.kind)
    }
    assert_eq!(verify_in::<4>(), Ok(()));
    assert_eq!(
        verify_in::<2>(),
        Err(crate::verifier::VerifyErrorKind::TooComplex(
            crate::verifier::TooComplexReason::BranchStackFull
        ))
    );
}

#[test]
fn legacy_map_counts_per_queue() {
    let bytes = example("xdp_legacy_map");
    let obj = Object::parse(&bytes).unwrap();
    assert_eq!(
        obj.map_by_name("queue_frames").unwrap().source,
        super::MapSource::Legacy
    );
    let frames = ArrayMap::<8, 1, 4>::new();
    let table = bind(&obj, &[("queue_frames", &frames)]);
    let prog = verified(&obj, "xdp_legacy_map", &table);
    let vm = vm(&table);
    for queue in [1, 3, 3, 9] {
        let mut buf = arp();
        let len = buf.len();
        let mut x = XdpBuff::new(&mut buf, 0, len);
        x.rx_queue_index = queue;
        let r = vm.run(&prog, &mut Context::Xdp(x), &mut Stack::new());
        assert_eq!(r, Ok(XDP_PASS));
    }
    let at = |q: u32| read_u64(&frames, &q.to_ne_bytes());
    assert_eq!((at(0), at(1), at(2), at(3)), (0, 1, 0, 2));
}
