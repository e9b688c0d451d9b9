//! Loader tests over the example objects: programs, maps, license and relocations.

use super::*;
use crate::host::{MapDef, MapType, ProgramType, BPF_F_RDONLY_PROG};
use crate::isa::opcode::{op, CALL_LOCAL, LDDW_MAP_IDX, LDDW_MAP_IDX_VALUE};
use crate::maps::Map;
use crate::{Insn, Program};
use std::vec::Vec;

/// Every example object, by name.
pub(crate) const EXAMPLES: [&str; 10] = [
    "xdp_pass",
    "xdp_drop_udp_port",
    "xdp_firewall",
    "xdp_l2_swap_tx",
    "socket_count",
    "tail_call",
    "ringbuf_events",
    "checksum_loop",
    "xdp_legacy_map",
    "xdp_proto_count",
];

/// An example object: from `examples/build`, or from the directory in `NANOBPF_EXAMPLES_DIR`
/// (CI points it at freshly rebuilt objects).
pub(crate) fn example(name: &str) -> Vec<u8> {
    let dir = std::env::var("NANOBPF_EXAMPLES_DIR")
        .unwrap_or_else(|_| std::format!("{}/../examples/build", env!("CARGO_MANIFEST_DIR")));
    let path = std::format!("{dir}/{name}.o");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Loads program `name` of `obj` and checks it decodes.
pub(super) fn load(obj: &Object<'_>, name: &str) -> (Vec<Insn>, LoadedProgram) {
    let mut out = std::vec![Insn::default(); 4096];
    let loaded = obj.load_program(name, &mut out).unwrap();
    out.truncate(loaded.len);
    Program::new(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
    (out, loaded)
}

/// Binds storage to the object's maps by name, in index order, after checking each definition
/// against its storage and initialising global data.
pub(super) fn bind<'m>(obj: &Object<'_>, storage: &[(&str, &'m dyn Map)]) -> Vec<&'m dyn Map> {
    let table: Vec<&dyn Map> = obj
        .maps()
        .map(|m| {
            let (_, s) = storage
                .iter()
                .find(|(n, _)| *n == m.name)
                .unwrap_or_else(|| panic!("no storage for map {}", m.name));
            s.check_def(&m.def.unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
            if let Some(init) = m.init {
                s.update(&0u32.to_ne_bytes(), init, 0).unwrap();
            }
            *s
        })
        .collect();
    assert_eq!(
        table.len(),
        storage.len(),
        "storage for maps the object lacks"
    );
    table
}

/// The `lddw` instructions of a program: (slot, src, imm, second imm).
fn lddws(insns: &[Insn]) -> Vec<(usize, u8, i32, i32)> {
    let mut v = Vec::new();
    let mut pc = 0;
    while pc < insns.len() {
        if insns[pc].is_lddw() {
            v.push((pc, insns[pc].src(), insns[pc].imm, insns[pc + 1].imm));
            pc += 1;
        }
        pc += 1;
    }
    v
}

fn def(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32, flags: u32) -> MapDef {
    MapDef {
        map_type,
        key_size,
        value_size,
        max_entries,
        flags,
    }
}

#[test]
fn every_example_parses_with_its_license_and_loads() {
    for name in EXAMPLES {
        let bytes = example(name);
        let obj = Object::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(obj.license(), Some("Dual MIT/GPL"), "{name}");
        let mut programs = 0;
        for p in obj.programs() {
            let (insns, loaded) = load(&obj, p.name);
            assert_eq!(Some(loaded.prog_type), p.prog_type);
            assert!(loaded.len >= p.slots as usize);
            // No map or global reference is left unrelocated.
            for (pc, src, imm, _) in lddws(&insns) {
                assert!(
                    src == LDDW_MAP_IDX || src == LDDW_MAP_IDX_VALUE,
                    "{name}: lddw at {pc} not relocated"
                );
                assert!(obj.map(imm as u32).is_some(), "{name}: map {imm}");
            }
            programs += 1;
        }
        assert!(programs >= 1, "{name}");
    }
}

#[test]
fn program_names_sections_and_types() {
    let bytes = example("tail_call");
    let obj = Object::parse(&bytes).unwrap();
    let progs: Vec<_> = obj
        .programs()
        .map(|p| (p.name, p.section, p.prog_type))
        .collect();
    assert_eq!(
        progs,
        [
            ("dispatcher", "xdp", Some(ProgramType::Xdp)),
            ("handle_udp", "xdp/udp", Some(ProgramType::Xdp)),
            ("handle_tcp", "xdp/tcp", Some(ProgramType::Xdp)),
        ]
    );
    // By section name as well as by function name.
    assert_eq!(obj.program("xdp/tcp").unwrap().name, "handle_tcp");
    assert_eq!(obj.program("handle_udp").unwrap().section, "xdp/udp");
    let e = obj.program("nope").unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::NoSuchProgram);
    assert_eq!(std::format!("{e}"), "`nope` at offset 0x0: no such program");

    let bytes = example("socket_count");
    let obj = Object::parse(&bytes).unwrap();
    let p = obj.program("socket").unwrap();
    assert_eq!(p.prog_type, Some(ProgramType::SocketFilter));

    for (sec, ty) in [
        ("xdp", Some(ProgramType::Xdp)),
        ("xdp.frags/x", Some(ProgramType::Xdp)),
        // Linux's older samples name their sections by prefix.
        ("xdp1", Some(ProgramType::Xdp)),
        ("xdp_prog", Some(ProgramType::Xdp)),
        ("socket", Some(ProgramType::SocketFilter)),
        ("socket1", Some(ProgramType::SocketFilter)),
        ("tc", Some(ProgramType::Tc)),
        ("tc/tail", Some(ProgramType::Tc)),
        ("tcx/ingress", Some(ProgramType::Tc)),
        ("classifier", Some(ProgramType::Tc)),
        ("classifier/ingress", Some(ProgramType::Tc)),
        ("tcp", None),
        ("kprobe/sys_open", None),
        ("filter", None),
    ] {
        assert_eq!(program_type_for_section(sec), ty, "{sec}");
    }
    for (sec, kind) in [
        ("kprobe/sys_open", Some("kprobe")),
        ("kretprobe/x", Some("kprobe")),
        ("tracepoint/xdp/xdp_exception", Some("tracepoint")),
        ("raw_tracepoint/task_rename", Some("raw_tracepoint")),
        ("perf_event", Some("perf_event")),
        ("cgroup/sock1", Some("cgroup")),
        ("sockops", Some("sock_ops")),
        ("xdp", None),
        ("filter", None),
        ("kprobes", None),
    ] {
        assert_eq!(unsupported_program_kind(sec), kind, "{sec}");
    }
}

/// `w0 = 2; exit` (-mcpu=v3 uses 32-bit moves).
#[test]
fn xdp_pass_is_two_slots_of_alu32() {
    let bytes = example("xdp_pass");
    let obj = Object::parse(&bytes).unwrap();
    assert_eq!(obj.maps().count(), 0);
    let (insns, loaded) = load(&obj, "xdp");
    assert_eq!(loaded.functions, 1);
    assert_eq!(
        insns,
        [Insn::new(0xb4, 0, 0, 0, 2), Insn::new(op::EXIT, 0, 0, 0, 0)]
    );
}

#[test]
fn firewall_maps_and_relocations() {
    let bytes = example("xdp_firewall");
    let obj = Object::parse(&bytes).unwrap();
    let maps: Vec<_> = obj
        .maps()
        .map(|m| (m.name, m.index, m.def.unwrap(), m.source))
        .collect();
    // BTF maps in symbol order, then .rodata and .bss in section order.
    assert_eq!(
        maps,
        [
            (
                "per_source",
                0,
                def(MapType::Hash, 4, 16, 256, 0),
                MapSource::Btf
            ),
            (
                "blocklist",
                1,
                def(MapType::LpmTrie, 8, 4, 64, 1),
                MapSource::Btf
            ),
            (
                "verdicts",
                2,
                def(MapType::Array, 4, 8, 5, 0),
                MapSource::Btf
            ),
            (
                ".rodata",
                3,
                def(MapType::Array, 4, 8, 1, BPF_F_RDONLY_PROG),
                MapSource::GlobalData
            ),
            (
                ".bss",
                4,
                def(MapType::Array, 4, 16, 1, 0),
                MapSource::GlobalData
            ),
        ]
    );
    // .rodata carries the configuration's initial value: count_sources = 1, XDP_PASS.
    assert_eq!(
        obj.map_by_name(".rodata").unwrap().init,
        Some(&[1, 0, 0, 0, 2, 0, 0, 0][..])
    );
    assert_eq!(obj.map_by_name(".bss").unwrap().init, None);

    let (insns, loaded) = load(&obj, "xdp_firewall");
    assert_eq!(loaded.functions, 2, "the program and count_verdict");
    let refs: Vec<_> = lddws(&insns)
        .into_iter()
        .map(|(_, src, imm, off)| (obj.map(imm as u32).unwrap().name, src, off))
        .collect();
    assert_eq!(
        refs,
        [
            (".bss", LDDW_MAP_IDX_VALUE, 0), // frames_seen
            (".rodata", LDDW_MAP_IDX_VALUE, 0),
            (".bss", LDDW_MAP_IDX_VALUE, 8), // ipv4_frames
            (".rodata", LDDW_MAP_IDX_VALUE, 0),
            ("per_source", LDDW_MAP_IDX, 0),
            ("per_source", LDDW_MAP_IDX, 0),
            ("blocklist", LDDW_MAP_IDX, 0),
            ("verdicts", LDDW_MAP_IDX, 0), // in count_verdict, placed after the program
        ]
    );
    // Every local call lands on count_verdict's first slot, placed after the program.
    let main = obj.program("xdp_firewall").unwrap().slots as usize;
    let calls: Vec<usize> = (0..insns.len())
        .filter(|&pc| insns[pc].opcode == op::CALL && insns[pc].src() == CALL_LOCAL)
        .map(|pc| (pc as i64 + 1 + i64::from(insns[pc].imm)) as usize)
        .collect();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|&t| t == main), "{calls:?}");
}

#[test]
fn other_examples_map_definitions() {
    let cases: [(&str, &[(&str, MapDef)]); 5] = [
        (
            "xdp_legacy_map",
            &[("queue_frames", def(MapType::Array, 4, 8, 4, 0))],
        ),
        (
            "socket_count",
            &[
                ("proto_packets", def(MapType::Array, 4, 8, 256, 0)),
                ("proto_bytes", def(MapType::Array, 4, 8, 256, 0)),
            ],
        ),
        (
            "tail_call",
            &[
                ("handlers", def(MapType::ProgArray, 4, 4, 4, 0)),
                ("handled", def(MapType::Array, 4, 8, 4, 0)),
            ],
        ),
        (
            "ringbuf_events",
            &[("events", def(MapType::RingBuf, 0, 0, 4096, 0))],
        ),
        (
            "checksum_loop",
            &[
                (".data", def(MapType::Array, 4, 4, 1, 0)),
                (".bss", def(MapType::Array, 4, 4, 1, 0)),
            ],
        ),
    ];
    for (name, want) in cases {
        let bytes = example(name);
        let obj = Object::parse(&bytes).unwrap();
        let got: Vec<_> = obj.maps().map(|m| (m.name, m.def.unwrap())).collect();
        assert_eq!(got, want, "{name}");
    }
    let bytes = example("checksum_loop");
    let obj = Object::parse(&bytes).unwrap();
    assert_eq!(
        obj.map_by_name(".data").unwrap().init,
        Some(&64u32.to_le_bytes()[..])
    );
}

#[test]
fn output_too_small_says_how_much_is_needed() {
    let bytes = example("checksum_loop");
    let obj = Object::parse(&bytes).unwrap();
    let (insns, loaded) = load(&obj, "checksum_loop");
    assert_eq!(loaded.functions, 2);
    let mut small = std::vec![Insn::default(); insns.len() - 1];
    let e = obj.load_program("checksum_loop", &mut small).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::OutputTooSmall(insns.len() as u32));
    // The exact size is enough.
    let mut exact = std::vec![Insn::default(); insns.len()];
    assert_eq!(obj.load_program("checksum_loop", &mut exact), Ok(loaded));
    assert_eq!(exact, insns);
}

#[test]
fn explicit_type_overrides_the_section_name() {
    let bytes = example("xdp_pass");
    let obj = Object::parse(&bytes).unwrap();
    let mut out = [Insn::default(); 4];
    let l = obj
        .load_program_as("xdp_pass", ProgramType::SocketFilter, &mut out)
        .unwrap();
    assert_eq!(l.prog_type, ProgramType::SocketFilter);
}

/// An object of the shared corpus of real objects (`../shared/corpus` beside the repository).
fn corpus(path: &str) -> Vec<u8> {
    let full = std::format!("{}/../../shared/corpus/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Linux's older samples: programs are global symbols without a type, one per section, and
/// so are the legacy maps (28-byte entries, larger than `struct bpf_map_def`).
#[test]
fn legacy_symbols_name_programs_and_maps() {
    let bytes = corpus("linux/sockex3_kern.o");
    let obj = Object::parse(&bytes).unwrap();
    let progs: Vec<_> = obj
        .programs()
        .map(|p| (p.name, p.section, p.origin))
        .collect();
    assert_eq!(progs.len(), 5, "{progs:?}");
    assert!(progs.contains(&("main_prog", "socket/0", ProgramOrigin::LegacySymbol)));
    assert!(progs.contains(&("bpf_func_PARSE_IP", "socket/3", ProgramOrigin::LegacySymbol)));
    let maps: Vec<_> = obj
        .maps()
        .map(|m| (m.name, m.def.unwrap().map_type))
        .collect();
    assert_eq!(
        maps,
        [
            ("hash_map", MapType::Hash),
            ("jmp_table", MapType::ProgArray),
            ("percpu_map", MapType::Array)
        ]
    );
    for p in obj.programs() {
        let (insns, loaded) = load(&obj, p.name);
        assert_eq!(loaded.prog_type, ProgramType::SocketFilter);
        assert_eq!(insns.len() as u32, p.slots, "{}", p.name);
    }
    // A program is found by its section's name too, as the samples' loader named them.
    assert_eq!(obj.program("socket/0").unwrap().name, "main_prog");
}

/// With its only global symbol made local, a code section is still a program: the whole
/// section, named after it.
#[test]
fn a_code_section_no_symbol_names_is_a_program() {
    let mut bytes = corpus("linux/xdp1_kern.o");
    let (symtab, first) = {
        let obj = Object::parse(&bytes).unwrap();
        assert_eq!(
            obj.programs()
                .map(|p| (p.name, p.origin))
                .collect::<Vec<_>>(),
            [("xdp_prog1", ProgramOrigin::LegacySymbol)]
        );
        let st = obj.symtab_section().unwrap();
        let at = st.data.as_ptr() as usize - bytes.as_ptr() as usize;
        let index = obj
            .symbols()
            .find(|(_, s)| s.name == "xdp_prog1")
            .unwrap()
            .0;
        (at, index as usize)
    };
    // st_info of the symbol: NOTYPE, GLOBAL -> NOTYPE, LOCAL.
    bytes[symtab + first * 24 + 4] = 0;
    let obj = Object::parse(&bytes).unwrap();
    let p = obj.program("xdp1").unwrap();
    assert_eq!(
        (p.name, p.origin, p.slots),
        ("xdp1", ProgramOrigin::Section, 61)
    );
    assert_eq!(p.prog_type, Some(ProgramType::Xdp));
    let (insns, _) = load(&obj, "xdp1");
    assert_eq!(insns.len(), 61);
}

/// `.text` functions are callees, not listed; named explicitly they load, with no type.
#[test]
fn text_functions_load_when_named() {
    let bytes = corpus("build/bpf2bpf.o");
    let obj = Object::parse(&bytes).unwrap();
    assert!(obj.programs().all(|p| p.section != ".text"));
    let add1 = obj.program("add1").unwrap();
    assert_eq!(
        (add1.origin, add1.prog_type),
        (ProgramOrigin::TextFunction, None)
    );
    let mut out = std::vec![Insn::default(); 256];
    let loaded = obj
        .load_program_as("add1", ProgramType::Xdp, &mut out)
        .unwrap();
    Program::new(&out[..loaded.len]).unwrap();
    assert_eq!(
        obj.load_program("add1", &mut out).unwrap_err().kind,
        LoadErrorKind::UnknownProgramType
    );
}

/// A map of a type nanobpf does not have (here `BPF_MAP_TYPE_CGROUP_ARRAY`, 8) is listed with
/// its Linux type; the object parses, and loading a program that uses it names the map.
#[test]
fn a_map_of_an_unsupported_type_fails_only_its_programs() {
    let bytes = corpus("linux/test_cgrp2_tc_kern.o");
    let obj = Object::parse(&bytes).unwrap();
    let maps: Vec<_> = obj.maps().map(|m| (m.name, m.def)).collect();
    assert_eq!(
        maps[..1],
        [(
            "test_cgrp2_array_pin",
            Err(super::UnsupportedMap {
                linux_type: 8,
                key_size: 4,
                value_size: 4,
                max_entries: 1,
                flags: 0
            })
        )]
    );
    let p = obj.programs().next().unwrap();
    let mut out = std::vec![Insn::default(); p.slots as usize];
    let e = obj
        .load(&p, ProgramType::SocketFilter, &mut out)
        .unwrap_err();
    assert!(
        matches!(e.kind, LoadErrorKind::UnsupportedMap { map, linux_type: 8 }
            if map.as_str() == "test_cgrp2_array_pin"),
        "{e}"
    );
    assert_eq!(
        std::format!("{}", e.section),
        std::format!("section {} `{}`", p.section_index, p.section)
    );
}
