//! The runner over in-memory rings, with assembled programs run by the checked interpreter
//! (which, as the verifier, sees the context as `struct xdp_md`).

use super::*;
use crate::testutil::XorShift;
use crate::{Counts, Engine, MemRing};
use nanobpf_core::{assemble, helpers, Insn, Interpreter, NoPlatform, Program};
use nanobpf_core::{DevMap, Map, MapTable};
use std::vec::Vec;

/// The verdict is the frame's first byte; the second is the device-map key of a redirect.
/// 5 is no verdict, 6 traps (a load from address 16, which no run may read), 7 pushes 4 bytes of `!` in front of the
/// frame and transmits it; frames shorter than 2 bytes abort.
const BY_FIRST_BYTE: &str = "
    mov %r6, %r1
    ldxw %r2, [%r6]
    ldxw %r3, [%r6+4]
    mov %r4, %r2
    add %r4, 2
    mov %r0, 0
    jgt %r4, %r3, out
    ldxb %r7, [%r2]
    ldxb %r8, [%r2+1]
    jeq %r7, 6, trap
    jeq %r7, 7, push
    jeq %r7, 4, redirect
    mov %r0, %r7
    exit
trap:
    mov %r2, 16
    ldxdw %r0, [%r2]
    exit
push:
    mov %r1, %r6
    mov %r2, -4
    call 44
    mov %r9, %r0
    mov %r0, 0
    jne %r9, 0, out
    ldxw %r2, [%r6]
    stw [%r2], 0x21212121
    mov %r0, 3
    exit
redirect:
    lddw %r1, map[0]
    mov %r2, %r8
    mov %r3, 0
    call 51
out:
    exit";

static PLATFORM: NoPlatform = NoPlatform;

fn asm(src: &str) -> Vec<Insn> {
    let mut buf = [Insn::default(); 128];
    let n = assemble(src, &mut buf).unwrap_or_else(|e| panic!("{e}\n{src}"));
    buf[..n].to_vec()
}

fn runner<'e>(insns: &'e [Insn], maps: &'e [&'e dyn Map]) -> XdpRunner<Engine<'e, Program<'e>>> {
    let vm = Interpreter::new(helpers::standard(), &PLATFORM).with_maps(MapTable::new(maps));
    XdpRunner::new(Engine::new(vm, Program::new(insns).unwrap()))
}

fn frame(verdict: u8, key: u8, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    f[0] = verdict;
    f[1] = key;
    f
}

fn assert_accounted<const N: usize, const BUF: usize>(ring: &MemRing<N, BUF>) -> Counts {
    let c = ring.accounted();
    assert_eq!(c.total(), N, "{c:?}");
    assert_eq!(c.lent, 0, "the runner keeps no buffer: {c:?}");
    c
}

fn drain<const N: usize, const BUF: usize>(ring: &mut MemRing<N, BUF>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    ring.drain_tx(|f| out.push(f.to_vec()));
    out
}

static DEVS: DevMap<4> = DevMap::new();

fn devmap() -> [&'static dyn Map; 1] {
    // key 1: port 2; key 2: a port nobody passed; key 3: the receiving port itself.
    DEVS.set(1, 2).unwrap();
    DEVS.set(2, 9).unwrap();
    DEVS.set(3, 1).unwrap();
    [&DEVS]
}

#[test]
fn each_verdict_is_carried_out() {
    let insns = asm(BY_FIRST_BYTE);
    let maps = devmap();
    let mut r = runner(&insns, &maps);
    let mut a: MemRing<8, 512> = MemRing::new();
    let mut b: MemRing<8, 512> = MemRing::new().with_ifindex(2);
    let frames = [
        frame(0, 0, 20), // aborted
        frame(1, 0, 20), // drop
        frame(2, 0, 20), // pass
        frame(3, 0, 20), // tx
        frame(4, 1, 20), // redirect to port 2
        frame(5, 0, 20), // no verdict
        frame(6, 0, 20), // trap
        frame(7, 0, 20), // push and tx
    ];
    for f in &frames {
        a.inject(f).unwrap();
    }
    let mut passed = Vec::new();
    let n = r.poll(&mut a, &mut [&mut b], |f| passed.push(f.to_vec()), 100);
    assert_eq!(n, 8);
    let c = r.counters();
    assert_eq!(
        (c.aborted, c.traps, c.drop, c.pass, c.tx, c.redirect),
        (3, 1, 1, 1, 2, 1)
    );
    assert_eq!(
        (c.tx_full, c.redirect_failed, c.invalid, c.frames()),
        (0, 0, 0, 8)
    );
    assert_eq!(passed, [frames[2].clone()]);
    assert_eq!(assert_accounted(&a).tx_pending, 2);
    assert_eq!(assert_accounted(&b).tx_pending, 1);
    let mut pushed = b"!!!!".to_vec();
    pushed.extend_from_slice(&frames[7]);
    assert_eq!(drain(&mut a), [frames[3].clone(), pushed]);
    assert_eq!(drain(&mut b), [frames[4].clone()]);
    assert_eq!(assert_accounted(&a).free, 8);
    assert_eq!(assert_accounted(&b).free, 8);
}

#[test]
fn a_full_transmit_ring_is_a_counted_drop() {
    let insns = asm(BY_FIRST_BYTE);
    let mut r = runner(&insns, &[]);
    let mut a: MemRing<4, 256> = MemRing::new().with_tx_slots(1);
    for _ in 0..4 {
        a.inject(&frame(3, 0, 30)).unwrap();
    }
    assert!(a.inject(&frame(3, 0, 30)).is_err(), "ring exhausted");
    assert_eq!(r.poll(&mut a, &mut [], |_| {}, 8), 4);
    let c = r.counters();
    assert_eq!((c.tx, c.tx_full, c.frames()), (1, 3, 4));
    assert_eq!(
        assert_accounted(&a),
        Counts {
            free: 3,
            rx_pending: 0,
            tx_pending: 1,
            lent: 0
        }
    );
    assert_eq!(drain(&mut a).len(), 1);
    assert_eq!(assert_accounted(&a).free, 4);
}

#[test]
fn failed_redirects_are_counted_and_leak_nothing() {
    let insns = asm(BY_FIRST_BYTE);
    let maps = devmap();
    let mut r = runner(&insns, &maps);
    let mut a: MemRing<8, 512> = MemRing::new();
    // Port 2 has one buffer, smaller than port 1's frames may be.
    let mut b: MemRing<1, 128> = MemRing::new().with_ifindex(2);
    let mut pass = |_: &[u8]| {};

    // Too long for port 2's buffers (64 bytes after headroom): its buffer goes back.
    a.inject(&frame(4, 1, 100)).unwrap();
    // Fits: port 2's only buffer is now queued for transmit.
    a.inject(&frame(4, 1, 60)).unwrap();
    // No free buffer left on port 2.
    a.inject(&frame(4, 1, 60)).unwrap();
    // A port that was not passed; an empty slot (redirect_map returns the fallback 0).
    a.inject(&frame(4, 2, 60)).unwrap();
    a.inject(&frame(4, 0, 60)).unwrap();
    // The receiving port itself: transmitted in place.
    a.inject(&frame(4, 3, 60)).unwrap();
    assert_eq!(r.poll(&mut a, &mut [&mut b], &mut pass, 100), 6);
    let c = r.counters();
    assert_eq!((c.redirect, c.redirect_failed, c.aborted), (2, 3, 1));
    assert_eq!(assert_accounted(&a).tx_pending, 1);
    assert_eq!(assert_accounted(&b).tx_pending, 1);

    // A redirect to the receiving port with its transmit ring full.
    let mut full: MemRing<2, 256> = MemRing::new().with_tx_slots(1);
    full.inject(&frame(4, 3, 30)).unwrap();
    full.inject(&frame(4, 3, 30)).unwrap();
    r.reset_counters();
    assert_eq!(r.poll(&mut full, &mut [], &mut pass, 100), 2);
    assert_eq!(
        (r.counters().redirect, r.counters().redirect_failed),
        (1, 1)
    );
    assert_eq!(assert_accounted(&full).tx_pending, 1);
}

#[test]
fn the_budget_bounds_a_poll() {
    let insns = asm(BY_FIRST_BYTE);
    let mut r = runner(&insns, &[]);
    let mut a: MemRing<8, 256> = MemRing::new();
    for _ in 0..5 {
        a.inject(&frame(1, 0, 16)).unwrap();
    }
    assert_eq!(r.poll(&mut a, &mut [], |_| {}, 2), 2);
    assert_eq!(assert_accounted(&a).rx_pending, 3);
    assert_eq!(r.poll(&mut a, &mut [], |_| {}, 0), 0);
    assert_eq!(r.poll(&mut a, &mut [], |_| {}, 10), 3);
    assert_eq!(r.poll(&mut a, &mut [], |_| {}, 10), 0);
    assert_eq!(r.counters().drop, 5);
}

#[test]
fn the_program_sees_port_queue_and_frame_bounds() {
    // r0 = ingress_ifindex * 1000 + rx_queue_index * 100 + frame length, passed when it is
    // the expected 7342 (port 7, queue 3, 42 bytes).
    let src = "
        ldxw %r0, [%r1+12]
        mul %r0, 1000
        ldxw %r2, [%r1+16]
        mul %r2, 100
        add %r0, %r2
        ldxw %r2, [%r1]
        ldxw %r3, [%r1+4]
        sub %r3, %r2
        add %r0, %r3
        jeq %r0, 7342, pass
        mov %r0, 1
        exit
    pass:
        mov %r0, 2
        exit";
    let insns = asm(src);
    let mut r = runner(&insns, &[]);
    let mut a: MemRing<2, 256> = MemRing::new().with_ifindex(7).with_rx_queue(3);
    a.inject(&[0; 42]).unwrap();
    a.inject(&[0; 43]).unwrap();
    let mut seen = Vec::new();
    r.poll(&mut a, &mut [], |f| seen.push(f.len()), 4);
    assert_eq!(seen, [42]);
    assert_eq!((r.counters().pass, r.counters().drop), (1, 1));
}

/// A driver that hands out a descriptor past its buffer's end.
#[derive(Debug, Default)]
struct LyingRing {
    buf: [u8; 32],
    handed: bool,
    recycled: bool,
}

impl PacketRing for LyingRing {
    fn ifindex(&self) -> u32 {
        1
    }
    fn receive(&mut self) -> Option<Desc> {
        (!core::mem::replace(&mut self.handed, true)).then_some(Desc {
            buf: crate::BufId(0),
            data: 16,
            len: 20,
        })
    }
    fn buffer(&mut self, _: crate::BufId) -> &mut [u8] {
        &mut self.buf
    }
    fn transmit(&mut self, desc: Desc) -> Result<(), Desc> {
        Err(desc)
    }
    fn recycle(&mut self, _: crate::BufId) {
        self.recycled = true;
    }
    fn alloc(&mut self) -> Option<Desc> {
        None
    }
}

#[test]
fn a_descriptor_past_its_buffer_is_invalid_and_given_back() {
    let insns = asm("mov %r0, 2\nexit");
    let mut r = runner(&insns, &[]);
    let mut ring = LyingRing::default();
    let mut passed = 0;
    assert_eq!(r.poll(&mut ring, &mut [], |_| passed += 1, 4), 1);
    assert_eq!((r.counters().invalid, passed, ring.recycled), (1, 0, true));
}

/// Random traffic, random budgets, random drains and a small transmit ring: after every poll
/// each buffer is accounted for, and the verdict counts match what the frames asked for.
#[test]
fn random_traffic_keeps_every_buffer_accounted() {
    let insns = asm(BY_FIRST_BYTE);
    let maps = devmap();
    let mut r = runner(&insns, &maps);
    let mut a: MemRing<16, 256> = MemRing::new().with_tx_slots(4);
    let mut b: MemRing<4, 256> = MemRing::new().with_ifindex(2).with_tx_slots(2);
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let (mut want_pass, mut want_drop, mut want_tx, mut want_redirect) = (0, 0, 0, 0);
    let mut processed = 0u64;
    let mut passed = 0u64;
    let mut rx_queue = 0usize;
    for _ in 0..3000 {
        for _ in 0..rng.below(6) {
            let verdict = rng.below(9) as u8;
            let key = rng.below(5) as u8;
            let len = 16 + rng.below(100) as usize;
            if a.inject(&frame(verdict, key, len)).is_ok() {
                rx_queue += 1;
                match verdict {
                    1 => want_drop += 1,
                    2 => want_pass += 1,
                    3 | 7 => want_tx += 1,
                    4 if (1..=3).contains(&key) => want_redirect += 1,
                    _ => {}
                }
            }
        }
        let budget = rng.below(8) as usize;
        let n = r.poll(&mut a, &mut [&mut b], |_| passed += 1, budget);
        assert_eq!(n, budget.min(rx_queue));
        rx_queue -= n;
        processed += n as u64;
        assert_accounted(&a);
        assert_accounted(&b);
        if rng.below(3) == 0 {
            drain(&mut a);
        }
        if rng.below(3) == 0 {
            drain(&mut b);
        }
    }
    r.poll(&mut a, &mut [&mut b], |_| passed += 1, usize::MAX);
    processed += rx_queue as u64;
    let c = r.counters();
    assert_eq!(c.frames(), processed);
    assert_eq!((c.pass, passed, c.drop), (want_pass, want_pass, want_drop));
    assert_eq!(c.tx + c.tx_full, want_tx);
    // A redirect whose key is empty returns the fallback (aborted); the rest succeed or fail.
    assert_eq!(c.redirect + c.redirect_failed, want_redirect);
    assert!(c.tx_full > 0 && c.redirect_failed > 0 && c.redirect > 0 && c.traps > 0);
    drain(&mut a);
    drain(&mut b);
    assert_eq!(assert_accounted(&a).free, 16);
    assert_eq!(assert_accounted(&b).free, 4);
}

/// The same verdicts through the verifier and the unchecked interpreter: the program reads the
/// context in Linux's `xdp_md` layout (32-bit `data` at 0, `data_end` at 4) and the verifier
/// rewrites it.
#[test]
fn a_verified_program_runs_through_the_runner() {
    use nanobpf_core::{verify, ProgramType, VerifierWorkspace, VerifyTarget};
    let src = "
        ldxw %r2, [%r1]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 2
        mov %r0, 0
        jgt %r4, %r3, out
        ldxb %r7, [%r2]
        ldxb %r8, [%r2+1]
        jeq %r7, 4, redirect
        jgt %r7, 3, out
        mov %r0, %r7
        exit
    redirect:
        lddw %r1, map[0]
        mov %r2, %r8
        mov %r3, 0
        call 51
    out:
        exit";
    let mut insns = asm(src);
    let maps = devmap();
    let env = VerifyTarget::new(ProgramType::Xdp, helpers::standard(), MapTable::new(&maps));
    let mut ws: std::boxed::Box<VerifierWorkspace<64, 16, 16>> = std::boxed::Box::default();
    let program = verify(&mut insns, &env, &mut ws).unwrap_or_else(|e| panic!("{e}"));
    let vm = Interpreter::new(helpers::standard(), &PLATFORM).with_maps(MapTable::new(&maps));
    let mut r = XdpRunner::new(Engine::new(vm, program));

    let mut a: MemRing<8, 512> = MemRing::new();
    let mut b: MemRing<8, 512> = MemRing::new().with_ifindex(2);
    let frames = [
        frame(1, 0, 20),
        frame(2, 0, 21),
        frame(3, 0, 22),
        frame(4, 1, 23),
        frame(9, 0, 24),
    ];
    for f in &frames {
        a.inject(f).unwrap();
    }
    a.inject(&[2]).unwrap(); // too short to read: aborted
    let mut passed = Vec::new();
    assert_eq!(
        r.poll(&mut a, &mut [&mut b], |f| passed.push(f.to_vec()), 16),
        6
    );
    let c = r.counters();
    assert_eq!(
        (c.drop, c.pass, c.tx, c.redirect, c.aborted, c.traps),
        (1, 1, 1, 1, 2, 0)
    );
    assert_eq!(passed, [frames[1].clone()]);
    assert_eq!(drain(&mut a), [frames[2].clone()]);
    assert_eq!(drain(&mut b), [frames[3].clone()]);
    assert_eq!(assert_accounted(&a).free, 8);
    assert_eq!(assert_accounted(&b).free, 8);
}

static CPUS: nanobpf_core::CpuMap<4> = nanobpf_core::CpuMap::new();

/// A redirect into a CPU map goes to `steer` with the CPU's index; plain `poll` counts it as
/// failed.
#[test]
fn cpu_redirects_go_to_steer() {
    let insns = asm(BY_FIRST_BYTE);
    CPUS.set(2, 128).unwrap();
    let maps: [&dyn Map; 1] = [&CPUS];
    let mut r = runner(&insns, &maps);
    let mut a: MemRing<8, 512> = MemRing::new();
    a.inject(&frame(4, 2, 20)).unwrap();
    a.inject(&frame(4, 3, 20)).unwrap(); // CPU 3 has no queue: the fallback, XDP_ABORTED
    let mut steered = Vec::new();
    let steer = |to: Redirect, f: &[u8]| {
        steered.push((to, f.len()));
        true
    };
    assert_eq!(r.poll_steered(&mut a, &mut [], |_| {}, steer, 10), 2);
    assert_eq!(steered, [(Redirect::Cpu(2), 20)]);
    let c = r.counters();
    assert_eq!((c.redirect, c.redirect_failed, c.aborted), (1, 0, 1));
    a.inject(&frame(4, 2, 20)).unwrap();
    r.poll(&mut a, &mut [], |_| {}, 10);
    assert_eq!(r.counters().redirect_failed, 1);
    assert_accounted(&a);
}
