//! Program slots over an arena: loading objects the test was not built for, replacing them
//! while packets flow, carrying pinned maps, and refusing bad input without losing anything.

use super::*;
use crate::elf::tests::example;
use crate::maps::{ArenaErrorKind, MapArena, Word};
use crate::verifier::DefaultWorkspace;
use crate::{Context, Interpreter, NoPlatform, Stack, XdpBuff};
use std::boxed::Box;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::vec;
use std::vec::Vec;

const XDP_DROP: u64 = 1;
const XDP_PASS: u64 = 2;

type Slot = ProgramSlot<'static, 512, 8, 4>;
type Arena = MapArena<'static, 33>;

fn slot() -> &'static Slot {
    Box::leak(Box::new(Slot::new(crate::helpers::standard())))
}

fn new_arena(words: usize) -> Arena {
    let storage: &'static [Word] = Box::leak((0..words).map(|_| Word::new()).collect());
    MapArena::new(storage)
}

fn ws() -> Box<DefaultWorkspace> {
    Box::new(DefaultWorkspace::new())
}

/// An Ethernet frame: IPv4 with protocol `proto` from `src`, or ARP when `proto` is 0; `len`
/// bytes cuts it short.
fn frame(proto: u8, src: [u8; 4], len: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14];
    if proto == 0 {
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f.resize(42, 0);
    } else {
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 64, proto, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&[192, 0, 2, 1]);
        f.extend_from_slice(&ip);
        f.resize(14 + 28, 0);
    }
    f.truncate(len);
    f
}

/// Runs the slot's program on `f`: its verdict, or `None` when the slot is empty.
fn run(slot: &Slot, f: &[u8]) -> Option<u64> {
    slot.run(|p, tail| {
        let mut buf = vec![0u8; 32 + f.len()];
        buf[32..].copy_from_slice(f);
        let mut ctx = Context::Xdp(XdpBuff::new(&mut buf, 32, f.len()));
        let vm = Interpreter::new(p.helpers(), &NoPlatform).with_programs(tail);
        vm.run(p, &mut ctx, &mut Stack::new())
            .unwrap_or_else(|t| panic!("trap: {t:?}"))
    })
}

/// The running program's `name` map: the first 8 bytes of the value at `key`, as a `u64`.
fn count(slot: &Slot, name: &str, key: u32) -> u64 {
    slot.inspect(|p| {
        let map = p.map(name).unwrap_or_else(|| panic!("no map {name}"));
        let mut v = vec![0u8; map.def().value_size as usize];
        map.lookup_copy(&key.to_ne_bytes(), &mut v).unwrap();
        u64::from_ne_bytes(v[..8].try_into().unwrap())
    })
    .expect("a program is loaded")
}

#[test]
fn a_slot_loads_two_programs_it_was_not_built_for_and_carries_the_pinned_map() {
    let (fw, pc) = (example("xdp_firewall"), example("xdp_proto_count"));
    let slot = slot();
    let mut arena = new_arena(64 * 1024);
    let mut ws = ws();
    let empty = arena.free_bytes();
    assert_eq!(run(slot, &frame(17, [1, 2, 3, 4], 42)), None, "empty slot");

    let r = slot
        .load(&mut arena, &fw, "xdp_firewall", 1, &mut ws)
        .unwrap();
    assert_eq!(
        (r.programs, r.maps, r.carried, r.replaced),
        (1, 5, 0, false)
    );
    slot.inspect(|p| {
        assert_eq!(
            (p.name(), p.version(), p.prog_type()),
            ("xdp_firewall", 1, ProgramType::Xdp)
        );
        let names: Vec<_> = p.maps().map(|(n, pinned, _)| (n, pinned)).collect();
        assert!(names.contains(&("verdicts", true)) && names.contains(&("per_source", false)));
    })
    .unwrap();
    // Block 10.0.0.0/8 as an operator would, through the map.
    slot.inspect(|p| {
        let mut key = 8u32.to_ne_bytes().to_vec();
        key.extend_from_slice(&[10, 0, 0, 0]);
        p.map("blocklist")
            .unwrap()
            .update(&key, &1u32.to_ne_bytes(), 0)
            .unwrap();
    });
    assert_eq!(run(slot, &frame(17, [10, 1, 1, 1], 42)), Some(XDP_DROP));
    assert_eq!(run(slot, &frame(6, [192, 168, 0, 1], 42)), Some(XDP_PASS));
    assert_eq!(run(slot, &frame(6, [192, 168, 0, 1], 10)), Some(XDP_DROP));
    assert_eq!(
        (count(slot, "verdicts", 1), count(slot, "verdicts", 2)),
        (2, 1)
    );
    let with_firewall = arena.free_bytes();

    // Replace it: other maps, the pinned verdict counters kept.
    let r = slot
        .load(&mut arena, &pc, "xdp_proto_count", 2, &mut ws)
        .unwrap();
    assert_eq!((r.programs, r.maps, r.carried, r.replaced), (1, 2, 1, true));
    assert_eq!(
        run(slot, &frame(17, [10, 1, 1, 1], 42)),
        Some(XDP_PASS),
        "no blocklist now"
    );
    assert_eq!(run(slot, &frame(6, [10, 1, 1, 1], 10)), Some(XDP_DROP));
    assert_eq!(
        (count(slot, "verdicts", 1), count(slot, "verdicts", 2)),
        (3, 2)
    );
    assert_eq!(count(slot, "protocols", 17), 1);
    slot.inspect(|p| assert!(p.map("blocklist").is_none() && p.version() == 2));
    assert!(
        arena.free_bytes() > with_firewall,
        "the firewall's own maps were freed"
    );

    // And back: the verdicts go on, the firewall's other maps start empty.
    slot.load(&mut arena, &fw, "xdp_firewall", 3, &mut ws)
        .unwrap();
    assert_eq!(
        run(slot, &frame(17, [10, 1, 1, 1], 42)),
        Some(XDP_PASS),
        "blocklist empty"
    );
    assert_eq!(count(slot, "verdicts", 2), 3);
    assert_eq!(arena.free_bytes(), with_firewall);

    slot.unload(&mut arena).unwrap();
    assert_eq!(run(slot, &frame(17, [1, 2, 3, 4], 42)), None);
    assert_eq!(slot.unload(&mut arena), Err(SlotError::Empty));
    assert_eq!(arena.free_bytes(), empty);
}

#[test]
fn bad_replacements_leave_the_running_program_and_its_maps_alone() {
    let (fw, pc) = (example("xdp_firewall"), example("xdp_proto_count"));
    let slot = slot();
    let mut arena = new_arena(64 * 1024);
    let mut ws = ws();
    slot.load(&mut arena, &fw, "xdp_firewall", 1, &mut ws)
        .unwrap();
    let free = arena.free_bytes();
    // After each refused load: the arena as it was, the firewall still running on its own
    // maps, and the counts it kept.
    let check = |slot: &Slot, arena: &Arena, passed: u64| {
        assert_eq!(arena.free_bytes(), free);
        slot.inspect(|p| assert_eq!((p.name(), p.version()), ("xdp_firewall", 1)));
        assert_eq!(count(slot, "verdicts", 2), passed);
        assert_eq!(run(slot, &frame(6, [1, 1, 1, 1], 42)), Some(XDP_PASS));
        assert_eq!(
            count(slot, "per_source", u32::from_ne_bytes([1, 1, 1, 1])),
            passed + 1
        );
    };
    check(slot, &arena, 0);

    // Not an object, a truncated one, a name it does not have.
    let junk = [0x7fu8; 64];
    assert!(matches!(
        slot.load(&mut arena, &junk, "x", 2, &mut ws),
        Err(SlotError::Load(_))
    ));
    assert!(matches!(
        slot.load(
            &mut arena,
            &pc[..pc.len() / 2],
            "xdp_proto_count",
            2,
            &mut ws
        ),
        Err(SlotError::Load(_))
    ));
    assert_eq!(
        slot.load(&mut arena, &pc, "nope", 2, &mut ws),
        Err(SlotError::NoProgram)
    );
    check(slot, &arena, 1);

    // A program the verifier rejects: its first instruction made `ldxdw %r0, [%r10+0]`, a
    // read above the stack frame.
    let mut bad = pc.clone();
    let at = first_insn_offset(&pc, "xdp_proto_count");
    bad[at..at + 8].copy_from_slice(&[0x79, 0xa0, 0, 0, 0, 0, 0, 0]);
    match slot.load(&mut arena, &bad, "xdp_proto_count", 2, &mut ws) {
        Err(SlotError::Verify { program: 0, error }) => assert_eq!(error.pc, 0),
        other => panic!("{other:?}"),
    }
    check(slot, &arena, 2);

    // Maps that do not fit: the error names the map and the bytes; nothing is allocated.
    let mut small = new_arena(64);
    let other = self::slot();
    match other.load(&mut small, &fw, "xdp_firewall", 1, &mut ws) {
        Err(SlotError::Maps(e)) => match e.kind {
            ArenaErrorKind::NoSpace { needed, free, .. } => assert!(needed > free),
            k => panic!("{k:?}"),
        },
        r => panic!("{r:?}"),
    }
    assert_eq!(small.free_bytes(), small.total_bytes());
    assert_eq!(run(other, &frame(6, [1, 1, 1, 1], 42)), None);
    check(slot, &arena, 3);
}

/// The byte offset in `obj` of the first instruction of program `name`: where its first two
/// instructions, as the loader reads them, appear (once) in the file.
fn first_insn_offset(obj: &[u8], name: &str) -> usize {
    let o = Object::parse(obj).unwrap();
    let mut insns = vec![Insn::default(); 512];
    o.load_program(name, &mut insns).unwrap();
    let head: Vec<u8> = insns[..2].iter().flat_map(|i| i.to_bytes()).collect();
    let at: Vec<usize> = obj
        .windows(head.len())
        .enumerate()
        .filter(|(_, w)| *w == head.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "the program's first instructions appear once");
    at[0]
}

#[test]
fn load_replace_unload_cycles_return_every_byte() {
    let (fw, pc) = (example("xdp_firewall"), example("xdp_proto_count"));
    let slot = slot();
    let mut arena = new_arena(64 * 1024);
    let mut ws = ws();
    let start = arena.free_bytes();
    let cycles = if cfg!(debug_assertions) { 300 } else { 10_000 };
    for i in 0..cycles {
        slot.load(&mut arena, &fw, "xdp_firewall", i, &mut ws)
            .unwrap();
        slot.load(&mut arena, &pc, "xdp_proto_count", i, &mut ws)
            .unwrap();
        if i % 3 == 0 {
            slot.unload(&mut arena).unwrap();
            assert_eq!(arena.free_bytes(), start, "cycle {i}");
        }
    }
    if slot.inspect(|_| ()).is_some() {
        slot.unload(&mut arena).unwrap();
    }
    assert_eq!(arena.free_bytes(), start);
    assert_eq!(arena.blocks(), 1);
}

#[test]
fn replacement_under_traffic_is_atomic_per_packet_and_keeps_carried_counts() {
    let (fw, pc) = (example("xdp_firewall"), example("xdp_proto_count"));
    let slot = slot();
    let mut arena = new_arena(64 * 1024);
    let mut ws = ws();
    slot.load(&mut arena, &fw, "xdp_firewall", 0, &mut ws)
        .unwrap();
    let stop = AtomicBool::new(false);
    let passes = AtomicU64::new(0);
    let replacements = if cfg!(debug_assertions) { 40 } else { 400 };
    std::thread::scope(|s| {
        // Two cores of traffic: every IPv4 frame passes on both programs, and each run counts
        // one verdict in the carried map.
        for core in 0..2u8 {
            let (slot, stop, passes) = (&*slot, &stop, &passes);
            s.spawn(move || {
                let f = frame(17, [192, 168, core, 1], 42);
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(run(slot, &f), Some(XDP_PASS));
                    passes.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for i in 0..replacements {
            let (obj, name) = if i % 2 == 0 {
                (&pc, "xdp_proto_count")
            } else {
                (&fw, "xdp_firewall")
            };
            slot.load(&mut arena, obj, name, i + 1, &mut ws).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    // Every packet counted its verdict exactly once, across every replacement.
    assert_eq!(count(slot, "verdicts", 2), passes.load(Ordering::Relaxed));
    assert!(passes.load(Ordering::Relaxed) > 0);
}

#[test]
fn tail_call_targets_load_with_their_program_and_are_named_by_index() {
    let obj = example("tail_call");
    let slot = slot();
    let mut arena = new_arena(16 * 1024);
    let mut ws = ws();
    let r = slot
        .load(&mut arena, &obj, "dispatcher", 1, &mut ws)
        .unwrap();
    assert_eq!(r.programs, 3);
    // The program array's values index the slot's programs: fill it by name.
    slot.inspect(|p| {
        let index = |name: &str| {
            (0..p.programs())
                .find(|&i| p.program_name(i) == Some(name))
                .unwrap_or_else(|| panic!("{name} not loaded")) as u32
        };
        let handlers = p.map("handlers").unwrap();
        handlers
            .update(&0u32.to_ne_bytes(), &index("handle_udp").to_ne_bytes(), 0)
            .unwrap();
        handlers
            .update(&1u32.to_ne_bytes(), &index("handle_tcp").to_ne_bytes(), 0)
            .unwrap();
    })
    .unwrap();
    assert_eq!(run(slot, &frame(17, [1, 2, 3, 4], 42)), Some(XDP_DROP));
    assert_eq!(run(slot, &frame(6, [1, 2, 3, 4], 42)), Some(3), "XDP_TX");
    assert_eq!(run(slot, &frame(1, [1, 2, 3, 4], 42)), Some(XDP_PASS));
    slot.unload(&mut arena).unwrap();
    assert_eq!(arena.free_bytes(), arena.total_bytes());
}
