//! Hostile objects: the examples truncated, with header fields flipped, section offsets and
//! sizes corrupted, relocations and symbols pointed anywhere, BTF broken or looping, and a
//! quick randomized mutation run. Every one must give a `LoadError`, never a panic.

use super::tests::{example, EXAMPLES};
use super::{LoadError, LoadErrorKind as K, Object, SectionRef};
use crate::{Insn, Program};
use std::vec::Vec;

/// Everything a user would do with an object: parse it, list maps and programs, load each
/// program and decode it. Returns the first load error.
fn exercise(bytes: &[u8]) -> Result<(), LoadError> {
    let obj = Object::parse(bytes)?;
    let _ = obj.license();
    for m in obj.maps() {
        assert_eq!(obj.map(m.index).map(|x| x.name), Some(m.name));
    }
    let mut out = [Insn::default(); 512];
    for p in obj.programs() {
        let ty = p.prog_type.unwrap_or(crate::ProgramType::Xdp);
        let loaded = obj.load(&p, ty, &mut out)?;
        let _ = Program::new(&out[..loaded.len]);
    }
    Ok(())
}

/// The error for `bytes`, which must be one, with its message rendered (which must not panic).
fn error(bytes: &[u8]) -> LoadError {
    let e = exercise(bytes).expect_err("a corrupted object loaded");
    assert!(!std::format!("{e}").is_empty());
    e
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn get64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The section header offset of the section called `name`, and its index.
fn shdr(b: &[u8], name: &str) -> (usize, u16) {
    let shoff = get64(b, 40) as usize;
    let shnum = u16::from_le_bytes([b[60], b[61]]);
    let strndx = u16::from_le_bytes([b[62], b[63]]) as usize;
    let strtab = get64(b, shoff + strndx * 64 + 24) as usize;
    for i in 0..shnum {
        let h = shoff + i as usize * 64;
        let n = strtab + get32(b, h) as usize;
        let end = n + b[n..].iter().position(|&c| c == 0).unwrap();
        if &b[n..end] == name.as_bytes() {
            return (h, i);
        }
    }
    panic!("no section {name}");
}

/// The file offset of section `name`'s contents.
fn contents(b: &[u8], name: &str) -> usize {
    get64(b, shdr(b, name).0 + 24) as usize
}

fn section_of(e: &LoadError) -> &str {
    match &e.section {
        SectionRef::Section { name, .. } => name.as_str(),
        SectionRef::Header => "<header>",
        SectionRef::SectionTable => "<table>",
        SectionRef::Name(_) => "<name>",
    }
}

#[test]
fn every_truncation_is_an_error() {
    for name in EXAMPLES {
        let b = example(name);
        // Every length for the smallest, about 300 lengths (including the first 200) for others.
        let step = if name == "xdp_pass" {
            1
        } else {
            b.len() / 300 + 1
        };
        for len in (0..b.len()).filter(|l| l % step == 0 || *l < 200) {
            error(&b[..len]);
        }
    }
}

#[test]
fn header_fields() {
    let b = example("xdp_firewall");
    let cases: [(usize, &[u8], K); 10] = [
        (0, b"\x7fELG", K::NotElf),
        (4, &[1], K::UnsupportedFormat),  // 32-bit
        (5, &[2], K::UnsupportedFormat),  // big-endian
        (16, &[2, 0], K::NotRelocatable), // ET_EXEC
        (18, &[62, 0], K::NotBpf(62)),    // x86-64
        (58, &[40, 0], K::BadEntrySize(40)),
        (60, &[0, 0], K::Truncated),
        (60, &[0xff, 0xff], K::TooMany(1024)),
        (60, &[0xff, 0x03], K::OutOfBounds),
        (62, &[0xff, 0x00], K::BadSectionLink(255)),
    ];
    for (at, bytes, kind) in cases {
        let mut m = b.clone();
        m[at..at + bytes.len()].copy_from_slice(bytes);
        let e = error(&m);
        assert_eq!((e.section, e.kind), (SectionRef::Header, kind), "byte {at}");
    }
    for shoff in [u64::MAX, u64::MAX - 63, b.len() as u64, 1 << 40] {
        let mut m = b.clone();
        put64(&mut m, 40, shoff);
        assert_eq!(error(&m).kind, K::OutOfBounds, "{shoff:#x}");
    }
    // The section name table index names a section that is not a string table.
    let mut m = b.clone();
    let (_, text) = shdr(&b, ".text");
    put16(&mut m, 62, text);
    assert_eq!(error(&m).kind, K::BadSectionLink(text.into()));
}

#[test]
fn section_offsets_sizes_and_names() {
    let b = example("xdp_firewall");
    let (xdp, _) = shdr(&b, "xdp");
    let (text, text_index) = shdr(&b, ".text");
    let huge = [u64::MAX, u64::MAX - 7, 1 << 63, b.len() as u64];
    for v in huge {
        for field in [24, 32] {
            let mut m = b.clone();
            put64(&mut m, xdp + field, v);
            let e = error(&m);
            assert_eq!(
                (section_of(&e), e.kind),
                ("xdp", K::OutOfBounds),
                "{field} {v:#x}"
            );
        }
    }
    // Overlapping another section, and the file header.
    let mut m = b.clone();
    put64(&mut m, xdp + 24, get64(&b, text + 24) + 8);
    let e = error(&m);
    assert_eq!((section_of(&e), e.kind), ("xdp", K::Overlaps(text_index)));
    let mut m = b.clone();
    put64(&mut m, xdp + 24, 8);
    assert_eq!(error(&m).kind, K::Overlaps(0));
    // A name offset past the string table.
    let mut m = b.clone();
    put32(&mut m, xdp, 0xffff_fff0);
    let e = error(&m);
    assert_eq!(
        (e.section, e.kind),
        (SectionRef::SectionTable, K::BadStringOffset(0xffff_fff0))
    );
    // A code section that is not whole instructions.
    let mut m = b.clone();
    put64(&mut m, xdp + 32, get64(&b, xdp + 32) - 4);
    let e = error(&m);
    assert!(
        matches!(e.kind, K::PartialInstruction | K::BadSymbol(_)),
        "{e}"
    );
    // The license without its terminating NUL.
    let mut m = b.clone();
    let (lic, _) = shdr(&b, "license");
    m[contents(&b, "license") + get64(&b, lic + 32) as usize - 1] = b'!';
    let e = error(&m);
    assert_eq!((section_of(&e), e.kind), ("license", K::BadStringOffset(0)));
}

#[test]
fn symbol_table_and_symbols() {
    let b = example("xdp_firewall");
    let (symtab, _) = shdr(&b, ".symtab");
    for (field, v, kind) in [
        (56, 16, K::BadEntrySize(16)),
        (40, 999, K::BadSectionLink(999)),
        (32, 24 * 3 + 5, K::Truncated),
    ] {
        let mut m = b.clone();
        put64(&mut m, symtab + field, v);
        if field == 40 {
            put32(&mut m, symtab + 40, v as u32);
        }
        let e = error(&m);
        assert_eq!((section_of(&e), e.kind), (".symtab", kind), "field {field}");
    }
    // Without a symbol table, the relocation tables point nowhere.
    let mut m = b.clone();
    put32(&mut m, symtab + 4, 1); // SHT_PROGBITS
    assert_eq!(error(&m).kind, K::NoSymbolTable);

    // Each symbol: section index out of range, value or size past its section, a name past
    // the string table.
    let base = contents(&b, ".symtab");
    let count = get64(&b, symtab + 32) as usize / 24;
    for i in 1..count {
        let sym = base + i * 24;
        let shndx = u16::from_le_bytes([b[sym + 6], b[sym + 7]]);
        if shndx == 0 || shndx >= 0xff00 {
            continue;
        }
        for (at, v) in [(6, 900u64), (8, 1 << 40), (16, u64::MAX), (0, 0xffff_0000)] {
            let mut m = b.clone();
            match at {
                6 => put16(&mut m, sym + 6, v as u16),
                0 => put32(&mut m, sym, v as u32),
                _ => put64(&mut m, sym + at, v),
            }
            let e = error(&m);
            assert_eq!(section_of(&e), ".symtab", "symbol {i} field {at}: {e}");
        }
    }
}

#[test]
fn relocations_pointing_anywhere() {
    let b = example("xdp_firewall");
    let (rel, _) = shdr(&b, ".relxdp");
    let entries = contents(&b, ".relxdp");
    let count = get64(&b, rel + 32) as usize / 16;
    let sec = |e: &LoadError| std::string::String::from(section_of(e));
    for i in 0..count {
        let at = entries + i * 16;
        let info = get64(&b, at + 8);
        let cases: [(usize, u64, &[K]); 7] = [
            (0, get64(&b, at) + 4, &[K::BadRelocationSite]),
            (0, 1 << 40, &[K::BadRelocationSite]),
            (0, get64(&b, at) + 8, &[K::BadRelocationSite]), // lands on an lddw's second slot or another insn
            (
                8,
                (5000 << 32) | (info & 0xffff_ffff),
                &[K::BadSymbolIndex(5000)],
            ),
            (8, (info & !0xffff_ffff) | 2, &[K::UnsupportedRelocation(2)]),
            // Against symbol 0 (undefined) and the program's own function symbol.
            (
                8,
                info & 0xffff_ffff,
                &[K::UnresolvedSymbol(0), K::BadRelocationTarget(0)],
            ),
            (
                8,
                (1 << 32) | (info & 0xffff_ffff),
                &[
                    K::BadRelocationTarget(1),
                    K::BadRelocationSite,
                    K::BadCallTarget(0),
                ],
            ),
        ];
        for (field, v, kinds) in cases {
            let mut m = b.clone();
            put64(&mut m, at + field, v);
            let e = error(&m);
            assert!(
                kinds.contains(&e.kind)
                    || matches!(e.kind, K::BadCallTarget(_) | K::BadGlobalOffset(_)),
                "entry {i} field {field}: {e}"
            );
            assert!(sec(&e) == ".relxdp" || sec(&e) == "xdp", "entry {i}: {e}");
        }
    }
    // The table's own header: link to a non-symbol table, info to a missing section.
    let mut m = b.clone();
    put32(&mut m, rel + 40, 1);
    assert_eq!(error(&m).kind, K::BadSectionLink(1));
    let mut m = b.clone();
    put32(&mut m, rel + 44, 4000);
    assert_eq!(error(&m).kind, K::BadSectionLink(4000));
    let mut m = b.clone();
    put64(&mut m, rel + 56, 24);
    assert_eq!(error(&m).kind, K::BadEntrySize(24));
}

#[test]
fn global_data_offsets_outside_the_section() {
    let b = example("xdp_firewall");
    let code = contents(&b, "xdp");
    let entries = contents(&b, ".relxdp");
    // The first relocation is the lddw of frames_seen (.bss, 16 bytes): move its offset.
    let insn = code + get64(&b, entries) as usize;
    for imm in [17i32, -1, i32::MAX, i32::MIN] {
        let mut m = b.clone();
        put32(&mut m, insn + 4, imm as u32);
        assert_eq!(error(&m).kind, K::BadGlobalOffset(imm.into()), "{imm}");
    }
    // 16 (one past the end) is a valid address to compute.
    let mut m = b.clone();
    put32(&mut m, insn + 4, 16);
    exercise(&m).unwrap();
}

/// The BTF type records: (offset in the file, kind, vlen) of each, by id - 1.
fn btf_types(b: &[u8]) -> Vec<(usize, u32, u32)> {
    let base = contents(b, ".BTF");
    let hdr = get32(b, base + 4) as usize;
    let start = base + hdr + get32(b, base + 8) as usize;
    let end = start + get32(b, base + 12) as usize;
    let mut v = Vec::new();
    let mut at = start;
    while at < end {
        let info = get32(b, at + 4);
        let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
        v.push((at, kind, vlen));
        at += 12
            + match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen as usize,
                6 | 13 => 8 * vlen as usize,
                _ => 0,
            };
    }
    v
}

#[test]
fn broken_btf() {
    let b = example("xdp_firewall");
    let btf = contents(&b, ".BTF");
    let at_btf = |e: &LoadError| section_of(e) == ".BTF";
    for (off, v, kind) in [
        (0, 0x1234u32, K::BadBtfHeader),
        (4, 8, K::BadBtfHeader),
        (12, 0xffff_0000, K::BadBtfHeader),
        (20, 0xffff_0000, K::BadBtfHeader),
    ] {
        let mut m = b.clone();
        put32(&mut m, btf + off, v);
        let e = error(&m);
        assert!(at_btf(&e) && e.kind == kind, "{off}: {e}");
    }
    let types = btf_types(&b);
    assert!(types.len() > 20);
    // Every type in turn: an unknown kind, a huge vlen, a self reference (a loop for
    // typedefs and qualifiers), a reference to a missing type.
    let mut rejected = 0;
    for (id, &(at, kind, _)) in types.iter().enumerate() {
        let id = id as u32 + 1;
        let mut m = b.clone();
        put32(&mut m, at + 4, 31 << 24);
        if exercise(&m).is_err() {
            rejected += 1;
        }
        let mut m = b.clone();
        put32(&mut m, at + 4, (kind << 24) | 0xffff);
        let _ = exercise(&m);
        for target in [id, 0xff_ffff] {
            let mut m = b.clone();
            put32(&mut m, at + 8, target);
            let r = exercise(&m);
            if matches!(kind, 8..=11) && target == id {
                // A qualifier or typedef of itself: a loop, caught by depth, when maps use it.
                if let Err(e) = r {
                    assert!(matches!(e.kind, K::BtfTooDeep | K::BadBtfType(_)), "{e}");
                }
            }
        }
    }
    assert_eq!(rejected, types.len(), "an unknown kind is always an error");

    // The loop, for certain: `__u32`'s typedef (the verdicts key) made to refer to itself.
    let (id, &(at, ..)) = types
        .iter()
        .enumerate()
        .find(|(_, t)| {
            t.1 == 8 && {
                let name = get32(&b, t.0) as usize;
                let strs = btf + get32(&b, btf + 4) as usize + get32(&b, btf + 16) as usize;
                b[strs + name..].starts_with(b"__u32\0")
            }
        })
        .unwrap();
    let mut m = b.clone();
    put32(&mut m, at + 8, id as u32 + 1);
    let e = error(&m);
    assert!(at_btf(&e) && e.kind == K::BtfTooDeep, "{e}");
}

#[test]
fn maps_without_btf_or_with_bad_definitions() {
    let b = example("xdp_firewall");
    // No .BTF: rename it.
    let mut m = b.clone();
    let (h, _) = shdr(&b, ".BTF");
    let name = contents(&b, ".strtab") + get32(&b, h) as usize;
    m[name + 1] = b'X';
    assert_eq!(error(&m).kind, K::NoBtf);
    // A map type nanobpf lacks (the `type` array's element count is the map type): the
    // object parses, and only the program that uses the map fails, naming it.
    let types = btf_types(&b);
    let mut found = 0;
    for &(at, kind, _) in &types {
        if kind == 3 && get32(&b, at + 12 + 8) == 11 {
            let mut m = b.clone();
            put32(&mut m, at + 12 + 8, 99);
            let obj = Object::parse(&m).unwrap();
            let map = obj.map_by_name("blocklist").unwrap();
            assert_eq!(map.def.unwrap_err().linux_type, 99);
            assert_eq!(map.verifier_def().map_type, crate::host::MapType::Array);
            let e = error(&m);
            assert!(
                matches!(e.kind, K::UnsupportedMap { map, linux_type: 99 } if map.as_str() == "blocklist"),
                "{e}"
            );
            assert!(
                matches!(e.section, SectionRef::Section { name, .. } if name.as_str() == "xdp"),
                "{e}"
            );
            assert!(
                std::format!("{e}").contains("map `blocklist` has type 99"),
                "{e}"
            );
            found += 1;
        }
    }
    assert_eq!(found, 1, "the LPM trie's type array");
}

/// A deterministic xorshift generator.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_mutations_never_panic() {
    let objects: Vec<Vec<u8>> = EXAMPLES.iter().map(|n| example(n)).collect();
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    let (mut ok, mut rejected) = (0, 0);
    let start = std::time::Instant::now();
    for _ in 0..3000 {
        let mut m = objects[rng.below(objects.len())].clone();
        let shoff = get64(&m, 40) as usize;
        for _ in 0..1 + rng.below(4) {
            // Half the time somewhere in the section headers, else anywhere.
            let at = if rng.below(2) == 0 && shoff + 8 < m.len() {
                shoff + rng.below(m.len() - shoff - 8)
            } else {
                rng.below(m.len() - 8)
            };
            match rng.below(4) {
                0 => m[at] ^= 1 << rng.below(8),
                1 => m[at] = rng.next() as u8,
                2 => put32(
                    &mut m,
                    at,
                    [0, 1, 0xffff_ffff, 0x8000_0000, rng.next() as u32][rng.below(5)],
                ),
                _ => put64(&mut m, at, rng.next() >> rng.below(64)),
            }
        }
        if rng.below(8) == 0 {
            let len = rng.below(m.len());
            m.truncate(len);
        }
        match exercise(&m) {
            Ok(()) => ok += 1,
            Err(e) => {
                let _ = std::format!("{e}");
                rejected += 1;
            }
        }
    }
    assert!(rejected > 500 && ok > 100, "ok {ok}, rejected {rejected}");
    // About 1 s in a debug build; far more means something went quadratic or worse.
    assert!(
        start.elapsed().as_secs_f64() < 10.0,
        "took {:?}",
        start.elapsed()
    );
}
