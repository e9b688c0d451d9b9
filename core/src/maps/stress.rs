//! Concurrency stress tests: several threads on one static map, checking that nothing is lost
//! and nothing is seen torn. Each runs well under a second.

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::vec::Vec;

use super::testutil::XorShift;
use super::*;

const THREADS: u32 = 4;

/// A word whose two halves check each other, so a torn 8-byte value is detected.
fn pattern(x: u32) -> u64 {
    (u64::from(x) << 32) | u64::from(x ^ 0x5a5a_5a5a)
}

fn is_pattern(w: u64) -> bool {
    (w >> 32) as u32 ^ 0x5a5a_5a5a == w as u32
}

#[cfg(target_has_atomic = "64")]
#[test]
fn hash_counters_through_value_address() {
    static M: BpfHashMap<4, 8, 1, 64> = BpfHashMap::new();
    const PER_THREAD: u64 = 50_000;
    for t in 0..=THREADS {
        M.update(&t.to_ne_bytes(), &[0; 8], BPF_NOEXIST).unwrap();
    }
    thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let own = M.get(&t.to_ne_bytes()).unwrap();
                let shared = M.get(&THREADS.to_ne_bytes()).unwrap();
                let addr = M.lookup(&t.to_ne_bytes()).unwrap().as_ptr().addr();
                assert_eq!(addr, super::word::words_usize(own));
                let mut rng = XorShift(u64::from(t) + 1);
                for i in 0..PER_THREAD {
                    own[0].as_atomic().fetch_add(1, Relaxed);
                    shared[0].as_atomic().fetch_add(1, Relaxed);
                    // Churn on private keys, so that bucket and free-list locks are busy.
                    if i % 8 == 0 {
                        let k = (100 + t * 1000 + rng.below(8) as u32).to_ne_bytes();
                        let _ = M.update(&k, &[1; 8], BPF_ANY);
                        let _ = M.delete(&k);
                    }
                }
            });
        }
    });
    let read = |k: u32| {
        let mut out = [0u8; 8];
        M.lookup_copy(&k.to_ne_bytes(), &mut out).unwrap();
        u64::from_ne_bytes(out)
    };
    for t in 0..THREADS {
        assert_eq!(read(t), PER_THREAD);
    }
    assert_eq!(read(THREADS), PER_THREAD * u64::from(THREADS));
    assert_eq!(M.len(), THREADS as usize + 1);
}

#[test]
fn hash_values_never_torn_and_no_key_lost() {
    static M: BpfHashMap<4, 32, 4, 512> = BpfHashMap::new();
    const SHARED: u32 = 8;
    for k in 0..SHARED {
        M.update(&k.to_ne_bytes(), &[0; 32], BPF_ANY).unwrap();
    }
    let torn = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..THREADS {
            let torn = &torn;
            s.spawn(move || {
                let mut rng = XorShift(u64::from(t) * 77 + 5);
                let mut mine: Vec<u32> = Vec::new();
                for round in 0..20_000u32 {
                    let k = rng.below(u64::from(SHARED)) as u32;
                    if t % 2 == 0 {
                        // Writers: a whole value of one pattern.
                        let w = pattern(round ^ (t << 24)).to_ne_bytes();
                        let v: Vec<u8> = w.iter().copied().cycle().take(32).collect();
                        M.update(&k.to_ne_bytes(), &v, BPF_EXIST).unwrap();
                    } else {
                        // Readers: a consistent copy has four equal, well-formed words.
                        let mut out = [0u8; 32];
                        M.lookup_copy(&k.to_ne_bytes(), &mut out).unwrap();
                        let words: Vec<u64> = out
                            .chunks(8)
                            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
                            .collect();
                        let ok = words.iter().all(|&w| w == words[0])
                            && (words[0] == 0 || is_pattern(words[0]));
                        if !ok {
                            torn.fetch_add(1, Relaxed);
                        }
                    }
                    // Everyone also owns keys nobody else touches: none may go missing.
                    let own = 1000 + t * 100_000 + round % 50;
                    if mine.contains(&own) {
                        let mut out = [0u8; 32];
                        M.lookup_copy(&own.to_ne_bytes(), &mut out).unwrap();
                        assert_eq!(out, [t as u8; 32]);
                        M.delete(&own.to_ne_bytes()).unwrap();
                        mine.retain(|&x| x != own);
                    } else {
                        M.update(&own.to_ne_bytes(), &[t as u8; 32], BPF_NOEXIST)
                            .unwrap();
                        mine.push(own);
                    }
                }
                for own in &mine {
                    assert!(M.lookup(&own.to_ne_bytes()).is_some());
                }
            });
        }
    });
    assert_eq!(torn.load(Relaxed), 0);
    // Each own key is visited 400 times, an even number: all were deleted again.
    assert_eq!(M.len(), SHARED as usize);
}

#[cfg(target_has_atomic = "64")]
#[test]
fn array_counters_and_words_never_torn() {
    static A: ArrayMap<16, 2, 8> = ArrayMap::new();
    const PER_THREAD: u64 = 50_000;
    let bad = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..THREADS {
            let bad = &bad;
            s.spawn(move || {
                let counter = A.get(t).unwrap();
                let mut rng = XorShift(u64::from(t) + 9);
                for i in 0..PER_THREAD {
                    counter[0].as_atomic().fetch_add(1, Relaxed);
                    // Slots 4..8: patterns written by update, read word by word.
                    let k = 4 + rng.below(4) as u32;
                    if i % 2 == 0 {
                        let w = pattern(i as u32 ^ (t << 28)).to_ne_bytes();
                        let mut v = [0u8; 16];
                        v[..8].copy_from_slice(&w);
                        v[8..].copy_from_slice(&w);
                        A.update(&k.to_ne_bytes(), &v, BPF_ANY).unwrap();
                    } else {
                        for w in A.get(k).unwrap() {
                            let x = w.as_atomic().load(Relaxed);
                            if x != 0 && !is_pattern(x) {
                                bad.fetch_add(1, Relaxed);
                            }
                        }
                    }
                }
            });
        }
    });
    assert_eq!(bad.load(Relaxed), 0);
    for t in 0..THREADS {
        let mut out = [0u8; 16];
        A.lookup_copy(&t.to_ne_bytes(), &mut out).unwrap();
        assert_eq!(u64::from_ne_bytes(out[..8].try_into().unwrap()), PER_THREAD);
    }
}

#[test]
fn lru_under_contention_stays_consistent() {
    static M: LruHashMap<4, 8, 1, 32> = LruHashMap::new();
    thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let mut rng = XorShift(u64::from(t) * 3 + 1);
                for _ in 0..20_000 {
                    let k = (rng.below(64) as u32).to_ne_bytes();
                    match rng.below(3) {
                        0 => M.update(&k, &pattern(t).to_ne_bytes(), BPF_ANY).unwrap(),
                        1 => {
                            let _ = M.delete(&k);
                        }
                        _ => {
                            let mut out = [0u8; 8];
                            if M.lookup_copy(&k, &mut out).is_ok() {
                                assert!(is_pattern(u64::from_ne_bytes(out)));
                            }
                        }
                    }
                }
            });
        }
    });
    let mut seen = std::collections::BTreeSet::new();
    let mut cur: Option<[u8; 4]> = None;
    let mut out = [0u8; 4];
    while M.next_key(cur.as_ref().map(|c| &c[..]), &mut out).is_ok() {
        assert!(seen.insert(out), "key listed twice");
        cur = Some(out);
    }
    assert_eq!(seen.len(), M.len());
    assert!(M.len() <= 32);
}

#[test]
fn ringbuf_producers_and_consumer() {
    static RB: RingBuf<1024, 128> = RingBuf::new();
    const PER_THREAD: u32 = 5_000;
    let producers = THREADS - 1;
    thread::scope(|s| {
        for t in 0..producers {
            s.spawn(move || {
                for seq in 0..PER_THREAD {
                    let len = 8 + (seq % 5) as usize * 4;
                    let mut rec = [0u8; 24];
                    rec[..4].copy_from_slice(&t.to_ne_bytes());
                    rec[4..8].copy_from_slice(&seq.to_ne_bytes());
                    while RB.output(&rec[..len]) == Err(MapError::Again) {
                        thread::yield_now();
                    }
                }
            });
        }
        s.spawn(move || {
            let mut next = [0u32; THREADS as usize];
            let mut total = 0;
            let mut scratch = [0u8; 64];
            while total < producers * PER_THREAD {
                RB.consume(&mut scratch, |r| {
                    let t = u32::from_ne_bytes(r[..4].try_into().unwrap()) as usize;
                    let seq = u32::from_ne_bytes(r[4..8].try_into().unwrap());
                    assert_eq!(seq, next[t], "producer {t} out of order");
                    assert_eq!(r.len(), 8 + (seq % 5) as usize * 4);
                    next[t] += 1;
                    total += 1;
                });
                thread::yield_now();
            }
        });
    });
    assert_eq!(RB.pending(), 0);
}
