//! `slot_load`: the map arena under random definitions and operations, and program slots
//! loading mutated objects.

use super::{Bytes, Source};
use crate::host::{MapDef, MapType};
use crate::maps::{Carry, MapArena, MapSet, Word};
use crate::slot::ProgramSlot;
use crate::verifier::VerifierWorkspace;
use std::boxed::Box;
use std::vec::Vec;

/// Words of the fuzzed arenas: small, so that definitions often do not fit.
const ARENA_WORDS: usize = 4096;

/// Maps per set in the arena mode.
const SET_MAPS: usize = 4;

/// What one input exercised, for the tests that check the generator reaches every path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exercised {
    /// Sets the arena created.
    pub created: u32,
    /// Sets it refused.
    pub refused: u32,
    /// Sets created with at least one carried map.
    pub carried: u32,
    /// Programs a slot loaded.
    pub loaded: u32,
}

/// The first byte picks the mode: even, arena operations drawn from the rest; odd, the rest is
/// an object loaded into a program slot, replaced by itself and unloaded.
///
/// # Panics
/// On a finding only: a panic inside the arena, the loader or the verifier; two live maps
/// whose storage overlaps (other than a map shared by a carry); free bytes that disagree with
/// the live maps; an arena not whole again once everything is freed.
pub fn slot_load(data: &[u8]) -> Exercised {
    let mut seen = Exercised::default();
    let Some((&mode, rest)) = data.split_first() else {
        return seen;
    };
    if mode % 2 == 0 {
        arena_ops(rest, &mut seen);
    } else {
        slot_ops(rest, &mut seen);
    }
    seen
}

/// A random definition: any type nanobpf has, sizes often plausible, sometimes not.
fn definition(src: &mut impl Source) -> MapDef {
    const TYPES: [u32; 15] = [1, 2, 3, 4, 5, 6, 9, 10, 11, 14, 16, 17, 22, 23, 27];
    let n = TYPES[src.below(TYPES.len() as u64) as usize];
    let map_type = MapType::from_linux(n).unwrap_or(MapType::Array);
    // Half the time, what the type usually takes; else sizes drawn at large.
    let (key, value, entries) = match map_type {
        MapType::Queue | MapType::Stack => (0, 8, 1 + src.below(32) as u32),
        MapType::RingBuf => (0, 0, 4096 << src.below(2)),
        MapType::LpmTrie => (8, 8, 1 + src.below(32) as u32),
        MapType::ProgArray | MapType::DevMap | MapType::CpuMap | MapType::XskMap => {
            (4, 4, 1 + src.below(32) as u32)
        }
        _ => (4, 8, 1 + src.below(32) as u32),
    };
    let usual = src.below(2) == 0;
    let pick = |src: &mut dyn FnMut() -> u32, v: u32| if usual { v } else { src() };
    let mut wild = || size(src);
    MapDef {
        map_type,
        key_size: pick(&mut wild, key),
        value_size: pick(&mut wild, value),
        max_entries: pick(&mut wild, entries),
        flags: if usual { 0 } else { size(src) },
    }
}

/// A size: 0, small, a power of two, or anything.
fn size(src: &mut impl Source) -> u32 {
    match src.below(4) {
        0 => 0,
        1 => 1 + src.below(64) as u32,
        2 => 1 << src.below(20),
        _ => src.below(1 << 32) as u32,
    }
}

fn arena_ops(data: &[u8], seen: &mut Exercised) {
    let words: Box<[Word]> = (0..ARENA_WORDS).map(|_| Word::new()).collect();
    let mut arena: MapArena<'_, 64> = MapArena::new(&words);
    let total = arena.total_bytes();
    let mut live: Vec<MapSet<'_, SET_MAPS>> = Vec::new();
    let mut src = Bytes::new(data);
    for _ in 0..64 {
        match src.below(4) {
            0 | 1 => {
                let n = 1 + src.below(SET_MAPS as u64) as usize;
                let defs: Vec<MapDef> = (0..n).map(|_| definition(&mut src)).collect();
                let free = arena.free_bytes();
                match arena.create_all::<SET_MAPS>(&defs) {
                    Ok(set) => {
                        seen.created += 1;
                        live.push(set);
                    }
                    Err(_) => {
                        seen.refused += 1;
                        assert_eq!(arena.free_bytes(), free, "a refused set kept bytes");
                    }
                }
            }
            2 if !live.is_empty() => {
                let i = src.below(live.len() as u64) as usize;
                let set = live.swap_remove(i);
                assert!(arena.free(set).is_ok(), "the arena refused its own set");
            }
            _ if !live.is_empty() => {
                // A new set carrying some maps of a live one, as a replacement does.
                let i = src.below(live.len() as u64) as usize;
                let old = &live[i];
                let mut defs: Vec<MapDef> = Vec::new();
                let mut carry: Vec<Carry> = Vec::new();
                for k in 0..old.len() as u32 {
                    if src.below(2) == 0 {
                        carry.push(Carry {
                            new: defs.len() as u32,
                            old: k,
                        });
                        defs.extend(old.def(k));
                    }
                }
                if src.below(2) == 0 && defs.len() < SET_MAPS {
                    defs.push(definition(&mut src));
                }
                let free = arena.free_bytes();
                match arena.create_all_carrying::<SET_MAPS, SET_MAPS>(&defs, old, &carry) {
                    Ok(set) => {
                        seen.carried += u32::from(!carry.is_empty());
                        live.push(set);
                    }
                    Err(_) => {
                        seen.refused += 1;
                        assert_eq!(arena.free_bytes(), free, "a refused set kept bytes");
                    }
                }
            }
            _ => {}
        }
        check_live(&arena, &live, total);
    }
    for set in live.drain(..) {
        assert!(arena.free(set).is_ok(), "the arena refused its own set");
    }
    assert_eq!(arena.free_bytes(), total, "bytes lost");
    assert_eq!(arena.blocks(), 1, "free blocks not merged");
}

/// Live maps never overlap unless they are the same storage, and the free bytes are the
/// region less the distinct live ranges.
fn check_live<const B: usize>(
    arena: &MapArena<'_, B>,
    live: &[MapSet<'_, SET_MAPS>],
    total: usize,
) {
    let mut ranges: Vec<core::ops::Range<usize>> = live
        .iter()
        .flat_map(|s| (0..s.len() as u32).filter_map(|k| s.storage_range(k)))
        .collect();
    ranges.sort_by_key(|r| (r.start, r.end));
    ranges.dedup();
    for pair in ranges.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "live maps overlap: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
    let used: usize = ranges.iter().map(|r| r.len() * 8).sum();
    assert_eq!(
        arena.free_bytes() + used,
        total,
        "free bytes disagree with the live maps"
    );
}

fn slot_ops(object: &[u8], seen: &mut Exercised) {
    let words: Box<[Word]> = (0..ARENA_WORDS).map(|_| Word::new()).collect();
    let mut arena: MapArena<'_, 33> = MapArena::new(&words);
    let total = arena.total_bytes();
    let slot: Box<ProgramSlot<'_, 1024, 8, 2>> =
        Box::new(ProgramSlot::new(crate::helpers::standard()));
    let mut ws: Box<VerifierWorkspace<1024, 32, 32>> = Box::default();
    let names: Vec<&str> = match crate::elf::Object::parse(object) {
        Ok(o) => o.programs().map(|p| p.name).take(3).collect(),
        Err(_) => Vec::from(["x"]),
    };
    for name in names {
        if slot.load(&mut arena, object, name, 1, &mut ws).is_ok() {
            seen.loaded += 1;
            // Replaced by itself: the pinned maps carried, the others made anew.
            let again = slot.load(&mut arena, object, name, 2, &mut ws);
            assert!(
                again.is_ok(),
                "{name} loads once but not over itself: {again:?}"
            );
            let running = slot.inspect(|p| p.version());
            assert_eq!(running, Some(2), "the replacement is not running");
            assert!(
                slot.unload(&mut arena).is_ok(),
                "unloading a loaded slot failed"
            );
        }
        assert_eq!(arena.free_bytes(), total, "{name}: bytes lost");
        assert!(slot.inspect(|_| ()).is_none(), "the slot is not empty");
    }
}
