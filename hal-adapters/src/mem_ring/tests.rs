use super::*;
use crate::testutil::XorShift;
use std::collections::VecDeque;
use std::vec::Vec;

/// Every buffer accounted for, and each count matching the per-buffer states.
fn check<const N: usize, const BUF: usize>(ring: &MemRing<N, BUF>) -> Counts {
    let c = ring.accounted();
    assert_eq!(c.total(), N, "{c:?}");
    let count = |s| ring.slots.iter().filter(|&&x| x == s).count();
    assert_eq!(
        (count(Slot::Free), count(Slot::Rx), count(Slot::Tx)),
        (c.free, c.rx_pending, c.tx_pending),
        "{c:?}"
    );
    c
}

#[test]
fn frames_go_round_and_every_buffer_comes_back() {
    let mut ring: MemRing<4, 512> = MemRing::new().with_ifindex(7);
    assert_eq!(
        (ring.ifindex(), ring.headroom(), ring.max_frame_len()),
        (7, 256, 256)
    );
    assert_eq!(check(&ring).free, 4);

    ring.inject(b"hello").unwrap();
    ring.inject(b"world!").unwrap();
    assert_eq!(check(&ring).rx_pending, 2);

    let a = ring.receive().unwrap();
    assert_eq!((a.data, a.len), (256, 5));
    assert_eq!(check(&ring).lent, 1);
    let buf = ring.buffer(a.buf);
    assert_eq!(buf.len(), 512, "the whole buffer, headroom included");
    assert_eq!(&buf[a.range()], b"hello");
    // The program grew the head by 2 bytes.
    buf[254] = b'>';
    buf[255] = b' ';
    let moved = Desc {
        buf: a.buf,
        data: 254,
        len: 7,
    };
    ring.transmit(moved).unwrap();
    assert_eq!(check(&ring).tx_pending, 1);

    let b = ring.receive().unwrap();
    assert_eq!(&ring.buffer(b.buf)[b.range()], b"world!");
    ring.recycle(b.buf);
    assert_eq!(
        check(&ring),
        Counts {
            free: 3,
            rx_pending: 0,
            tx_pending: 1,
            lent: 0
        }
    );

    let mut sent = Vec::new();
    assert_eq!(ring.drain_tx(|f| sent.push(f.to_vec())), 1);
    assert_eq!(sent, [b"> hello".to_vec()]);
    assert_eq!(check(&ring).free, 4);
    assert!(ring.receive().is_none());
}

#[test]
fn exhaustion_hands_the_input_back() {
    let mut ring: MemRing<2, 128> = MemRing::new();
    assert_eq!(ring.headroom(), 64, "clamped to half a small buffer");
    let long = [0u8; 65];
    let err = ring.inject(&long).unwrap_err();
    assert_eq!(err.kind, InjectErrorKind::TooLong);
    assert!(core::ptr::eq(err.frame, &long[..]));
    ring.inject(&[1; 64]).unwrap();
    ring.inject(&[2; 10]).unwrap();
    let err = ring.inject(&[3; 10]).unwrap_err();
    assert_eq!(
        (err.kind, err.frame),
        (InjectErrorKind::NoFreeBuffer, &[3u8; 10][..])
    );
    assert_eq!(check(&ring).rx_pending, 2);
    // Lent and allocated buffers are not free either.
    let d = ring.receive().unwrap();
    assert!(ring.alloc().is_none());
    ring.recycle(d.buf);
    let a = ring.alloc().unwrap();
    assert_eq!((a.buf, a.data, a.len), (d.buf, 64, 64));
    assert_eq!(check(&ring).lent, 1);
    ring.recycle(a.buf);
    assert_eq!(check(&ring).free, 1);
}

#[test]
fn the_transmit_ring_fills_and_hands_descriptors_back() {
    let mut ring: MemRing<4, 128> = MemRing::new().with_tx_slots(1);
    ring.inject(b"one").unwrap();
    ring.inject(b"two").unwrap();
    let a = ring.receive().unwrap();
    let b = ring.receive().unwrap();
    ring.transmit(a).unwrap();
    assert_eq!(ring.transmit(b), Err(b));
    assert_eq!(check(&ring).lent, 1, "still the caller's");
    ring.recycle(b.buf);
    assert_eq!(check(&ring).free, 3);
}

#[test]
fn misuse_by_the_caller_changes_nothing() {
    let mut ring: MemRing<3, 128> = MemRing::new();
    ring.inject(b"abc").unwrap();
    let before = check(&ring);
    // Not lent: no memory, no transmit, no recycle.
    assert!(ring.buffer(BufId(0)).is_empty());
    assert!(ring.buffer(BufId(9)).is_empty());
    let fake = Desc {
        buf: BufId(1),
        data: 0,
        len: 3,
    };
    assert_eq!(ring.transmit(fake), Err(fake));
    ring.recycle(BufId(0));
    ring.recycle(BufId(200));
    assert_eq!(check(&ring), before);
    // A lent buffer with a descriptor past its end is refused.
    let d = ring.receive().unwrap();
    let past = Desc { len: 100, ..d };
    assert_eq!(ring.transmit(past), Err(past));
    // Recycling twice returns it once.
    ring.recycle(d.buf);
    ring.recycle(d.buf);
    assert_eq!(check(&ring).free, 3);
}

#[test]
fn headroom_and_slots_clamp() {
    let ring: MemRing<2, 100> = MemRing::new().with_headroom(1000).with_tx_slots(0);
    assert_eq!(
        (ring.headroom(), ring.max_frame_len(), ring.tx_slots()),
        (100, 0, 1)
    );
    let ring: MemRing<2, 4096> = MemRing::new().with_headroom(0).with_tx_slots(9);
    assert_eq!((ring.headroom(), ring.tx_slots()), (0, 2));
    assert_eq!(MemRing::<2, 4096>::new().headroom(), XDP_PACKET_HEADROOM);
}

#[test]
fn a_new_ring_is_all_zeros() {
    const RING: MemRing<4, 64> = MemRing::new();
    assert!(RING.is_zeroed());
    assert!(MemRing::<3, 2048>::new().is_zeroed());
    // Defaults come back from the zeros, and other settings are not zeros.
    assert_eq!(
        (RING.ifindex(), RING.headroom(), RING.tx_slots()),
        (1, 32, 4)
    );
    assert!(!MemRing::<4, 64>::new().with_ifindex(0).is_zeroed());
    assert!(!MemRing::<4, 64>::new().with_headroom(0).is_zeroed());
    assert!(!MemRing::<4, 64>::new().with_tx_slots(1).is_zeroed());
    assert_eq!(MemRing::<4, 64>::new().with_ifindex(0).ifindex(), 0);
    let mut ring = MemRing::<4, 64>::new();
    ring.inject(&[1]).unwrap();
    assert!(!ring.is_zeroed());
}

/// The pool hands buffers out as one queue filled with `0..N` would.
#[test]
fn free_buffers_come_back_in_queue_order() {
    const N: usize = 6;
    let mut pool: Pool<N> = Pool::new();
    let mut model: VecDeque<u16> = (0..N as u16).collect();
    let mut out: Vec<BufId> = Vec::new();
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    for _ in 0..5_000 {
        if rng.below(2) == 0 {
            let got = pool.pop();
            assert_eq!(got.map(|b| b.0), model.pop_front());
            out.extend(got);
        } else if !out.is_empty() {
            let id = out.swap_remove(rng.below(out.len() as u64) as usize);
            assert!(pool.push(id).is_ok());
            model.push_back(id.0);
        } else {
            // A push into a full pool is handed back.
            assert_eq!(pool.push(BufId(0)), Err(BufId(0)));
        }
        assert_eq!(pool.len(), model.len());
    }
}

static STATIC_RING: spin::Mutex<MemRing<4, 256>> =
    spin::Mutex::new(MemRing::new().with_ifindex(3).with_rx_queue(2));

#[test]
fn lives_in_a_static() {
    let mut ring = STATIC_RING.lock();
    assert_eq!((ring.ifindex(), ring.rx_queue()), (3, 2));
    ring.inject(&[9; 20]).unwrap();
    let d = ring.receive().unwrap();
    ring.recycle(d.buf);
    assert_eq!(check(&ring).free, 4);
}

/// Random operations against a model of where each buffer is and what it holds.
#[test]
fn random_operations_keep_every_buffer_accounted() {
    const N: usize = 8;
    let mut ring: MemRing<N, 192> = MemRing::new().with_tx_slots(5);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut rx_model: VecDeque<Vec<u8>> = VecDeque::new();
    let mut tx_model: VecDeque<Vec<u8>> = VecDeque::new();
    let mut lent: Vec<Desc> = Vec::new();
    for step in 0..20_000 {
        match rng.below(6) {
            0 | 1 => {
                let len = rng.below(100) as usize;
                let frame: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
                let full = ring.accounted().free == 0;
                match ring.inject(&frame) {
                    Ok(()) => rx_model.push_back(frame),
                    Err(e) if len > ring.max_frame_len() => {
                        assert_eq!(e.kind, InjectErrorKind::TooLong)
                    }
                    Err(e) => assert!(full && e.kind == InjectErrorKind::NoFreeBuffer),
                }
            }
            2 => match ring.receive() {
                Some(d) => {
                    let want = rx_model.pop_front().unwrap();
                    assert_eq!(&ring.buffer(d.buf)[d.range()], &want[..], "step {step}");
                    lent.push(d);
                }
                None => assert!(rx_model.is_empty()),
            },
            3 if !lent.is_empty() => {
                let d = lent.swap_remove(rng.below(lent.len() as u64) as usize);
                let bytes = ring.buffer(d.buf)[d.range()].to_vec();
                match ring.transmit(d) {
                    Ok(()) => tx_model.push_back(bytes),
                    Err(back) => {
                        assert_eq!(ring.accounted().tx_pending, 5);
                        ring.recycle(back.buf);
                    }
                }
            }
            4 if !lent.is_empty() => {
                let d = lent.swap_remove(rng.below(lent.len() as u64) as usize);
                ring.recycle(d.buf);
            }
            5 => {
                if rng.below(4) == 0 {
                    let mut got = Vec::new();
                    ring.drain_tx(|f| got.push(f.to_vec()));
                    assert_eq!(got, tx_model.drain(..).collect::<Vec<_>>());
                } else if let Some(d) = ring.alloc() {
                    lent.push(Desc { len: 0, ..d });
                }
            }
            _ => {}
        }
        let c = check(&ring);
        assert_eq!(
            (c.rx_pending, c.tx_pending, c.lent),
            (rx_model.len(), tx_model.len(), lent.len()),
            "step {step}"
        );
    }
}
