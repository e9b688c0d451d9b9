//! The BTF type walk over the example objects: map keys and values as their C types.

use super::tests::example;
use super::*;
use std::vec::Vec;

fn names(t: &BtfTypes<'_>, id: BtfTypeId) -> Vec<(&'static str, u32)> {
    t.members(id)
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            (
                std::string::String::from(m.name).leak() as &str,
                m.bit_offset,
            )
        })
        .collect()
}

#[test]
fn firewall_keys_and_values_have_their_c_types() {
    let bytes = example("xdp_firewall");
    let obj = Object::parse(&bytes).unwrap();
    let t = obj.btf_types().unwrap();

    // blocklist: struct lpm_v4_key { __u32 prefixlen; __be32 addr; } => __u32
    let m = obj.map_by_name("blocklist").unwrap();
    let key = t.resolve(m.key_type.unwrap()).unwrap();
    assert_eq!(key.name, "lpm_v4_key");
    assert_eq!(
        key.kind,
        BtfTypeKind::Struct {
            size: 8,
            members: 2
        }
    );
    assert_eq!(names(&t, key.id), [("prefixlen", 0), ("addr", 32)]);
    let addr = t.members(key.id).unwrap().nth(1).unwrap().unwrap();
    assert_eq!(t.get(addr.ty).unwrap().name, "__be32");
    assert!(matches!(
        t.resolve(addr.ty).unwrap().kind,
        BtfTypeKind::Int {
            size: 4,
            signed: false,
            ..
        }
    ));
    assert_eq!(t.size_of(m.value_type.unwrap()).unwrap(), 4);

    // per_source: __be32 => struct counters { __u64 packets; __u64 bytes; }
    let m = obj.map_by_name("per_source").unwrap();
    assert_eq!(t.get(m.key_type.unwrap()).unwrap().name, "__be32");
    let value = t.resolve(m.value_type.unwrap()).unwrap();
    assert_eq!(value.name, "counters");
    assert_eq!(names(&t, value.id), [("packets", 0), ("bytes", 64)]);

    // Global data: the DATASEC's variables.
    let rodata = obj.map_by_name(".rodata").unwrap();
    let vars = names(&t, rodata.value_type.unwrap());
    assert_eq!(vars, [("config", 0)]);
    let config = t
        .members(rodata.value_type.unwrap())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let config = t.resolve(config.ty).unwrap();
    assert_eq!(config.name, "fw_config");
    assert_eq!(
        names(&t, config.id),
        [("count_sources", 0), ("non_ip_verdict", 32)]
    );
    let bss = obj.map_by_name(".bss").unwrap();
    // clang leaves a data section's size and its variables' offsets to the loader.
    assert_eq!(
        t.get(bss.value_type.unwrap()).unwrap().kind,
        BtfTypeKind::Datasec { size: 16, vars: 2 }
    );
    assert_eq!(
        names(&t, bss.value_type.unwrap()),
        [("frames_seen", 0), ("ipv4_frames", 64)]
    );
}

#[test]
fn maps_without_types_say_so_and_bad_ids_are_errors() {
    let bytes = example("xdp_legacy_map");
    let obj = Object::parse(&bytes).unwrap();
    for m in obj.maps().filter(|m| m.source == MapSource::Legacy) {
        assert_eq!((m.key_type, m.value_type), (None, None), "{}", m.name);
    }
    let bytes = example("xdp_firewall");
    let obj = Object::parse(&bytes).unwrap();
    let t = obj.btf_types().unwrap();
    assert_eq!(t.get(BtfTypeId(0)).unwrap().kind, BtfTypeKind::Void);
    let e = t.get(BtfTypeId(u32::MAX)).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::BadBtfType(u32::MAX));
    // An integer has no members, a struct no enumerators.
    let m = obj.map_by_name("per_source").unwrap();
    assert!(t.members(m.key_type.unwrap()).is_err());
    assert!(t.enumerators(m.value_type.unwrap()).is_err());
    // Every type of the object describes itself without error, and every struct's members
    // and every enum's values read.
    let mut id = 1;
    while let Ok(ty) = t.get(BtfTypeId(id)) {
        match t.resolve(ty.id).map(|r| r.kind) {
            Ok(
                BtfTypeKind::Struct { .. }
                | BtfTypeKind::Union { .. }
                | BtfTypeKind::Datasec { .. },
            ) => {
                assert!(t.members(ty.id).unwrap().all(|m| m.is_ok()));
            }
            Ok(BtfTypeKind::Enum { .. }) => {
                assert!(t.enumerators(ty.id).unwrap().all(|e| e.is_ok()));
            }
            _ => {}
        }
        id += 1;
    }
    assert!(id > 20, "{id} types");
}
