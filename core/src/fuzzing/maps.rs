//! `maps_ops`: operation sequences on maps against simple models.

use super::{Bytes, Source};
use crate::maps::sealed::Sealed as _;
use crate::maps::{
    value_words, words_needed, ArrayMap, ArrayView, BpfHashMap, HashView, LpmTrie, LpmView,
    LruHashMap, LruView, Map, MapDef, MapError, MapSizing, MapType, Word, BPF_EXIST, BPF_NOEXIST,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::vec::Vec;

/// The most operations per input.
const MAX_OPS: usize = 2000;

/// The first byte picks a map (hash, array, LRU hash, LPM trie with 4- or 16-byte data), as a
/// const-generic type or as the run-time form an arena creates (sizes as fields); the rest is
/// a sequence of updates (with every flag, valid or not), deletes, lookups (by copy
/// and by address) and full iterations, each checked against a model.
///
/// # Panics
/// On a finding: a result, a value, a size, an eviction or an iteration that differs from
/// the model's.
pub fn maps_ops(data: &[u8]) {
    let mut src = Bytes::new(data);
    let pick = src.below(10);
    let run_time = pick >= 5;
    match pick % 5 {
        0 => hash_ops(&mut src, run_time),
        1 => array_ops(&mut src, run_time),
        2 => lru_ops(&mut src, run_time),
        3 => lpm_ops::<4, 3>(&mut src, run_time),
        _ => lpm_ops::<16, 4>(&mut src, run_time),
    }
}

/// Zeroed storage for a run-time map of `def`, and the definition.
fn storage(map_type: MapType, k: usize, n: usize) -> (MapDef, Vec<Word>) {
    let def = MapDef {
        map_type,
        key_size: k as u32,
        value_size: 8,
        max_entries: n as u32,
        flags: 0,
    };
    let words = words_needed(&def, &MapSizing::DEFAULT).unwrap_or(0);
    (def, (0..words).map(|_| Word::new()).collect())
}

fn flags(src: &mut impl Source) -> u64 {
    src.pick(&[0, 0, 1, 2, 3, 1 << 40])
}

fn value(src: &mut impl Source) -> [u8; 8] {
    src.next_u64().to_ne_bytes()
}

/// Keys by iteration with `next_key`, which must end within `cap` steps.
fn iterate<const K: usize>(m: &dyn Map, cap: usize) -> Vec<[u8; K]> {
    let mut keys = Vec::new();
    let mut out = [0u8; K];
    let mut cur: Option<[u8; K]> = None;
    while m.next_key(cur.as_ref().map(|k| &k[..]), &mut out).is_ok() {
        keys.push(out);
        cur = Some(out);
        assert!(keys.len() <= cap, "iteration does not end");
    }
    keys
}

/// The expected result of an update of a keyed map.
fn keyed_update(flags: u64, exists: bool, full: bool) -> Result<(), MapError> {
    match (flags, exists) {
        (f, _) if f > BPF_EXIST => Err(MapError::Invalid),
        (BPF_NOEXIST, true) => Err(MapError::Exists),
        (BPF_EXIST, false) => Err(MapError::NotFound),
        (_, false) if full => Err(MapError::TooBig),
        _ => Ok(()),
    }
}

fn hash_ops(src: &mut Bytes<'_>, run_time: bool) {
    const N: usize = 8;
    let seed = src.next_u64();
    let wrapper = BpfHashMap::<4, 8, { value_words(8) }, N>::with_seed(seed);
    let (def, words) = storage(MapType::Hash, 4, N);
    let m = if run_time {
        HashView::new(&def, &MapSizing::DEFAULT, &words, seed).expect("a valid definition")
    } else {
        wrapper.view()
    };
    let mut model: BTreeMap<[u8; 4], [u8; 8]> = BTreeMap::new();
    for step in 0..MAX_OPS {
        if src.exhausted() {
            break;
        }
        let key = (src.below(12) as u32).to_ne_bytes();
        match src.below(6) {
            0 | 1 => {
                let (f, v) = (flags(src), value(src));
                let want = keyed_update(f, model.contains_key(&key), model.len() == N);
                assert_eq!(m.update(&key, &v, f), want, "step {step}: update");
                if want.is_ok() {
                    model.insert(key, v);
                }
            }
            2 => {
                let want = model.remove(&key).map(|_| ()).ok_or(MapError::NotFound);
                assert_eq!(m.delete(&key), want, "step {step}: delete");
            }
            3 => {
                let mut out = [0u8; 8];
                let got = m.lookup_copy(&key, &mut out).ok().map(|_| out);
                assert_eq!(got, model.get(&key).copied(), "step {step}: lookup");
            }
            4 => {
                let got = m.lookup(&key);
                assert_eq!(got.is_some(), model.contains_key(&key), "step {step}");
                if let Some(p) = got {
                    let region = m.value_region();
                    assert!(region.contains(p.as_ptr() as usize, 8), "value outside");
                }
            }
            _ => {
                let keys: BTreeSet<_> = iterate::<4>(&m, N).into_iter().collect();
                assert_eq!(keys, model.keys().copied().collect(), "step {step}: keys");
            }
        }
        assert_eq!(m.len(), model.len(), "step {step}: len");
    }
}

fn array_ops(src: &mut Bytes<'_>, run_time: bool) {
    const N: usize = 4;
    let wrapper = ArrayMap::<8, { value_words(8) }, N>::new();
    let (def, words) = storage(MapType::Array, 4, N);
    let m = if run_time {
        ArrayView::new(&def, &MapSizing::DEFAULT, &words).expect("a valid definition")
    } else {
        wrapper.view()
    };
    let mut model = [[0u8; 8]; N];
    for step in 0..MAX_OPS {
        if src.exhausted() {
            break;
        }
        let i = src.below(N as u64 + 2) as usize;
        let key = (i as u32).to_ne_bytes();
        match src.below(4) {
            0 | 1 => {
                let (f, v) = (flags(src), value(src));
                let want = match f {
                    f if f > BPF_EXIST => Err(MapError::Invalid),
                    _ if i >= N => Err(MapError::TooBig),
                    BPF_NOEXIST => Err(MapError::Exists),
                    _ => Ok(()),
                };
                assert_eq!(m.update(&key, &v, f), want, "step {step}: update");
                if want.is_ok() {
                    model[i] = v;
                }
            }
            2 => {
                assert_eq!(m.delete(&key), Err(MapError::Invalid), "step {step}");
            }
            _ => {
                let mut out = [0u8; 8];
                let got = m.lookup_copy(&key, &mut out).ok().map(|_| out);
                assert_eq!(got, model.get(i).copied(), "step {step}: lookup");
            }
        }
    }
    let keys = iterate::<4>(&m, N);
    let want: Vec<[u8; 4]> = (0..N as u32).map(u32::to_ne_bytes).collect();
    assert_eq!(keys, want, "array iteration");
}

fn lru_ops(src: &mut Bytes<'_>, run_time: bool) {
    const N: usize = 4;
    let seed = src.next_u64();
    let wrapper = LruHashMap::<4, 8, { value_words(8) }, N>::with_seed(seed);
    let (def, words) = storage(MapType::LruHash, 4, N);
    let m = if run_time {
        LruView::new(&def, &MapSizing::DEFAULT, &words, seed).expect("a valid definition")
    } else {
        wrapper.view()
    };
    // Most recent first.
    let mut model: VecDeque<([u8; 4], [u8; 8])> = VecDeque::new();
    for step in 0..MAX_OPS {
        if src.exhausted() {
            break;
        }
        let key = (src.below(7) as u32).to_ne_bytes();
        let pos = model.iter().position(|(k, _)| *k == key);
        match src.below(6) {
            0 | 1 => {
                let (f, v) = (flags(src), value(src));
                // An LRU map evicts instead of filling up.
                let want = keyed_update(f, pos.is_some(), false);
                assert_eq!(m.update(&key, &v, f), want, "step {step}: update");
                if want.is_ok() {
                    if let Some(p) = pos {
                        model.remove(p);
                    } else if model.len() == N {
                        model.pop_back();
                    }
                    model.push_front((key, v));
                }
            }
            2 => {
                let want = pos
                    .and_then(|p| model.remove(p))
                    .map(|_| ())
                    .ok_or(MapError::NotFound);
                assert_eq!(m.delete(&key), want, "step {step}: delete");
            }
            3 => {
                // By copy: recency unchanged.
                let mut out = [0u8; 8];
                let got = m.lookup_copy(&key, &mut out).ok().map(|_| out);
                assert_eq!(got, pos.map(|p| model[p].1), "step {step}: lookup");
            }
            4 => {
                // By address, as a program does: the key becomes the most recent.
                assert_eq!(m.lookup(&key).is_some(), pos.is_some(), "step {step}");
                if let Some(e) = pos.and_then(|p| model.remove(p)) {
                    model.push_front(e);
                }
            }
            _ => {
                let keys = iterate::<4>(&m, N);
                let want: Vec<[u8; 4]> = model.iter().map(|(k, _)| *k).collect();
                assert_eq!(keys, want, "step {step}: recency order");
            }
        }
        assert_eq!(m.len(), model.len(), "step {step}: len");
        let mut lru = [0u8; 4];
        assert_eq!(m.least_recent(&mut lru), !model.is_empty());
        if let Some((k, _)) = model.back() {
            assert_eq!(&lru, k, "step {step}: least recent");
        }
    }
}

/// `data` with the bits past `len` cleared.
fn mask<const D: usize>(len: u32, mut data: [u8; D]) -> [u8; D] {
    for (i, b) in data.iter_mut().enumerate() {
        let keep = len.saturating_sub(8 * i as u32).min(8);
        *b &= !(0xffu16 >> keep) as u8;
    }
    data
}

fn lpm_key<const D: usize>(len: u32, data: &[u8; D]) -> Vec<u8> {
    let mut k = len.to_ne_bytes().to_vec();
    k.extend_from_slice(data);
    k
}

fn lpm_ops<const D: usize, const NW: usize>(src: &mut Bytes<'_>, run_time: bool) {
    const N: usize = 8;
    let wrapper = LpmTrie::<D, 8, { value_words(8) }, N, NW>::new();
    let (def, words) = storage(MapType::LpmTrie, 4 + D, N);
    let m = if run_time {
        LpmView::new(&def, &MapSizing::DEFAULT, &words).expect("a valid definition")
    } else {
        wrapper.view()
    };
    let mut model: BTreeMap<(u32, [u8; D]), [u8; 8]> = BTreeMap::new();
    let max = 8 * D as u32;
    for step in 0..MAX_OPS {
        if src.exhausted() {
            break;
        }
        // Data from a small neighbourhood so that prefixes overlap.
        let mut data = [0u8; D];
        for b in data.iter_mut() {
            *b = src.pick(&[0u8, 1, 0x0a, 0x80, 0xff]);
        }
        let len = src.below(max as u64 + 3) as u32;
        let canon = (len, mask(len, data));
        let key = lpm_key(len, &data);
        match src.below(4) {
            0 | 1 => {
                let (f, v) = (flags(src), value(src));
                let want = if len > max && f <= BPF_EXIST {
                    Err(MapError::Invalid)
                } else {
                    keyed_update(f, model.contains_key(&canon), model.len() == N).map_err(|e| {
                        match e {
                            MapError::TooBig => MapError::NoSpace,
                            e => e,
                        }
                    })
                };
                assert_eq!(m.update(&key, &v, f), want, "step {step}: update {canon:?}");
                if want.is_ok() {
                    model.insert(canon, v);
                }
            }
            2 => {
                let want = if len > max {
                    Err(MapError::Invalid)
                } else {
                    model.remove(&canon).map(|_| ()).ok_or(MapError::NotFound)
                };
                assert_eq!(m.delete(&key), want, "step {step}: delete {canon:?}");
            }
            _ => {
                let want = (0..=len.min(max))
                    .rev()
                    .find_map(|l| model.get(&(l, mask(l, data))).copied());
                let mut out = [0u8; 8];
                let got = m.lookup_copy(&key, &mut out).ok().map(|_| out);
                if len <= max {
                    assert_eq!(got, want, "step {step}: lookup {canon:?}");
                }
            }
        }
        assert_eq!(m.len(), model.len(), "step {step}: len");
    }
    let mut seen = BTreeSet::new();
    let mut out = std::vec![0u8; 4 + D];
    let mut cur: Option<Vec<u8>> = None;
    while m.next_key(cur.as_deref(), &mut out).is_ok() {
        let len = u32::from_ne_bytes([out[0], out[1], out[2], out[3]]);
        let mut data = [0u8; D];
        data.copy_from_slice(&out[4..]);
        assert!(
            seen.insert((len, mask(len, data))),
            "iteration repeats a key"
        );
        assert!(seen.len() <= N, "iteration does not end");
        cur = Some(out.clone());
    }
    let want: BTreeSet<_> = model.keys().copied().collect();
    assert_eq!(seen, want, "lpm iteration");
}
