//! Every standard helper through a small assembled program.

use super::*;
use crate::asm::assemble;
use crate::host::{Platform, ProgramType};
use crate::maps::{
    value_words, ArrayMap, BpfHashMap, CpuMap, DevMap, Map, MapTable, ProgArray, Redirect, RingBuf,
    XskMap,
};
use crate::{Context, Insn, Interpreter, Program, Stack, Trap, VerifiedProgram, XdpBuff};
use std::sync::Mutex;
use std::vec;
use std::vec::Vec;

#[derive(Debug, Default)]
struct TestPlatform {
    traces: Mutex<Vec<(Vec<u8>, [u64; 3])>>,
}

impl Platform for TestPlatform {
    fn ktime_ns(&self) -> u64 {
        123_456_789
    }
    fn prandom_u32(&self) -> u32 {
        0xdead_beef
    }
    fn cpu_id(&self) -> u32 {
        3
    }
    fn trace(&self, fmt: &[u8], args: [u64; 3]) {
        self.traces.lock().unwrap().push((fmt.to_vec(), args));
    }
}

fn asm(src: &str) -> Vec<Insn> {
    let mut buf = [Insn::default(); 256];
    let n = assemble(src, &mut buf).unwrap_or_else(|e| panic!("{e}\n{src}"));
    buf[..n].to_vec()
}

fn run_with(
    src: &str,
    maps: MapTable<'_>,
    platform: &dyn Platform,
    mem: &mut [u8],
) -> Result<u64, Trap> {
    let insns = asm(src);
    let program = Program::new(&insns).unwrap();
    let vm = Interpreter::new(standard(), platform).with_maps(maps);
    vm.run_checked(&program, &mut Context::Memory(mem), &mut Stack::new())
}

static HASH: BpfHashMap<4, 8, { value_words(8) }, 16> = BpfHashMap::new();

#[test]
fn map_update_lookup_delete() {
    let maps: [&dyn Map; 1] = [&HASH];
    let table = MapTable::new(&maps);
    // key 7 -> value 0x55; then read it back through the pointer lookup returns.
    let src = "
        stw [%r10-4], 7
        stdw [%r10-16], 0x55
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2
        jne %r0, 0, fail
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, fail
        ldxdw %r0, [%r0]
        exit
    fail:
        mov %r0, -1
        exit";
    assert_eq!(
        run_with(src, table, &TestPlatform::default(), &mut []),
        Ok(0x55)
    );
    assert!(HASH.get(&7u32.to_ne_bytes()).is_some());
    // BPF_NOEXIST on an existing key: -EEXIST; delete; delete again: -ENOENT.
    let src = "
        stw [%r10-4], 7
        stdw [%r10-16], 1
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 1
        call 2
        mov %r6, %r0
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        call 3
        mov %r7, %r0
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        call 3
        lsh %r6, 16
        and %r7, 0xff
        lsh %r7, 8
        and %r0, 0xff
        or %r0, %r6
        or %r0, %r7
        exit";
    let r = run_with(src, table, &TestPlatform::default(), &mut []).unwrap();
    assert_eq!(r >> 16, (-17i64 << 16) as u64 >> 16, "update NOEXIST");
    assert_eq!((r >> 8) & 0xff, 0, "first delete");
    assert_eq!(r & 0xff, (-2i64 as u64) & 0xff, "second delete");
}

static GLOBALS: ArrayMap<16, { value_words(16) }, 1> = ArrayMap::new();

#[test]
fn global_data_through_map_value_addresses() {
    let maps: [&dyn Map; 1] = [&GLOBALS];
    let src = "
        lddw %r1, map_value[0]+8
        stdw [%r1], 0x1234
        ldxdw %r0, [%r1]
        exit";
    assert_eq!(
        run_with(src, MapTable::new(&maps), &TestPlatform::default(), &mut []),
        Ok(0x1234)
    );
    let mut v = [0u8; 16];
    GLOBALS.lookup_copy(&0u32.to_ne_bytes(), &mut v).unwrap();
    assert_eq!(u64::from_ne_bytes(v[8..].try_into().unwrap()), 0x1234);
    // Past the value: the checked interpreter traps.
    let src = "lddw %r1, map_value[0]+16\nldxdw %r0, [%r1]\nexit";
    assert_eq!(
        run_with(src, MapTable::new(&maps), &TestPlatform::default(), &mut []),
        Err(Trap::OutOfBounds)
    );
}

#[test]
fn platform_helpers_and_trace() {
    let p = TestPlatform::default();
    let src = "call 5\nmov %r6, %r0\ncall 7\nadd %r6, %r0\ncall 8\nadd %r0, %r6\nexit";
    assert_eq!(
        run_with(src, MapTable::EMPTY, &p, &mut []),
        Ok(123_456_789 + 0xdead_beef + 3)
    );
    // trace_printk("hi %d\0", 6, 42, 1, 2)
    let src = "
        stw [%r10-8], 0x25206968
        sth [%r10-4], 0x0064
        mov %r1, %r10
        add %r1, -8
        mov %r2, 6
        mov %r3, 42
        mov %r4, 1
        mov %r5, 2
        call 6
        exit";
    assert_eq!(run_with(src, MapTable::EMPTY, &p, &mut []), Ok(6));
    // trace_printk("hi\0", 3) with r3 to r5 never set, verified as Linux does (the format
    // names no value, so none is passed on).
    let src = "
        stw [%r10-8], 0x6968
        mov %r1, %r10
        add %r1, -8
        mov %r2, 3
        call 6
        exit";
    let env = crate::VerifyTarget::new(ProgramType::Memory { len: 0 }, standard(), MapTable::EMPTY);
    let mut insns = asm(src);
    let mut ws = std::boxed::Box::new(crate::DefaultWorkspace::new());
    crate::verify(&mut insns, &env, &mut ws).unwrap();
    assert_eq!(run_with(src, MapTable::EMPTY, &p, &mut []), Ok(3));
    let traces = p.traces.lock().unwrap();
    assert_eq!(
        traces.as_slice(),
        &[(b"hi %d".to_vec(), [42, 0, 0]), (b"hi".to_vec(), [0, 0, 0])]
    );
}

#[test]
fn csum_diff_matches_a_reference() {
    // from = mem[0..4], to = mem[4..12], seed 0x10.
    let mut mem = [
        0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0x00, 0x01, 0x10, 0x20, 0x30, 0x40,
    ];
    let src = "
        mov %r3, %r1
        add %r3, 4
        mov %r2, 4
        mov %r4, 8
        mov %r5, 0x10
        call 28
        exit";
    let words = |b: &[u8]| -> Vec<u64> {
        b.chunks(4)
            .map(|w| u32::from_ne_bytes(w.try_into().unwrap()) as u64)
            .collect()
    };
    let mut acc: u64 = 0x10;
    acc += words(&mem[..4])
        .iter()
        .map(|w| !*w & 0xffff_ffff)
        .sum::<u64>();
    acc += words(&mem[4..]).iter().sum::<u64>();
    while acc >> 32 != 0 {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    assert_eq!(
        run_with(src, MapTable::EMPTY, &TestPlatform::default(), &mut mem),
        Ok(acc)
    );
    // Sizes that are not multiples of 4: -EINVAL.
    let src = "mov %r3, %r1\nmov %r2, 3\nmov %r4, 0\nmov %r5, 0\ncall 28\nexit";
    assert_eq!(
        run_with(src, MapTable::EMPTY, &TestPlatform::default(), &mut mem),
        Ok(EINVAL)
    );
}

fn run_xdp(
    src: &str,
    maps: MapTable<'_>,
    buf: &mut [u8],
    headroom: usize,
    len: usize,
) -> (u64, usize, usize, Option<Redirect>) {
    let insns = asm(src);
    let program = Program::new(&insns).unwrap();
    let platform = TestPlatform::default();
    let vm = Interpreter::new(standard(), &platform).with_maps(maps);
    let mut ctx = Context::Xdp(XdpBuff::new(buf, headroom, len));
    let r = vm
        .run_checked(&program, &mut ctx, &mut Stack::new())
        .unwrap();
    let Context::Xdp(x) = ctx else { unreachable!() };
    (r, x.data, x.data_end, x.redirect)
}

#[test]
fn xdp_adjust_head_tail_and_meta() {
    let mut buf = [0u8; 128];
    // Grow the head by 8 (delta -8): data moves from 32 to 24.
    assert_eq!(
        run_xdp(
            "mov %r2, -8\ncall 44\nexit",
            MapTable::EMPTY,
            &mut buf,
            32,
            60
        ),
        (0, 24, 92, None)
    );
    // Past the buffer's start: refused, nothing moves.
    assert_eq!(
        run_xdp(
            "mov %r2, -40\ncall 44\nexit",
            MapTable::EMPTY,
            &mut buf,
            32,
            60
        ),
        (EINVAL, 32, 92, None)
    );
    // Shrink below an Ethernet header: refused.
    assert_eq!(
        run_xdp(
            "mov %r2, 50\ncall 44\nexit",
            MapTable::EMPTY,
            &mut buf,
            32,
            60
        ),
        (EINVAL, 32, 92, None)
    );
    // Tail: +20 fits in the tailroom, +40 does not.
    assert_eq!(
        run_xdp(
            "mov %r2, 20\ncall 65\nexit",
            MapTable::EMPTY,
            &mut buf,
            32,
            60
        )
        .2,
        112
    );
    assert_eq!(
        run_xdp(
            "mov %r2, 40\ncall 65\nexit",
            MapTable::EMPTY,
            &mut buf,
            32,
            60
        )
        .0,
        EINVAL
    );
    // Meta: 8 bytes is fine, 6 is misaligned, 36 too many.
    assert_eq!(
        run_xdp(
            "mov %r2, -8\ncall 54\nexit",
            MapTable::EMPTY,
            &mut buf,
            64,
            20
        )
        .0,
        0
    );
    assert_eq!(
        run_xdp(
            "mov %r2, -6\ncall 54\nexit",
            MapTable::EMPTY,
            &mut buf,
            64,
            20
        )
        .0,
        EINVAL
    );
    assert_eq!(
        run_xdp(
            "mov %r2, -36\ncall 54\nexit",
            MapTable::EMPTY,
            &mut buf,
            64,
            20
        )
        .0,
        EINVAL
    );
    // The program sees the new data pointer: r0 = data_end - data after growing the head.
    let src = "mov %r6, %r1\nmov %r2, -4\ncall 44\nldxw %r2, [%r6]\nldxw %r0, [%r6+4]\nsub %r0, %r2\nexit";
    assert_eq!(run_xdp(src, MapTable::EMPTY, &mut buf, 32, 60).0, 64);
}

/// An XDP program that guards 48 bytes, keeps the packet pointer in r7, moves the frame with
/// helper `id` by `delta`, then loads the byte at r7+`off` (the pointer from before the move).
/// The program sees its context as `struct xdp_md` on every path.
fn after_move(id: u32, delta: i32, off: i16) -> std::string::String {
    std::format!(
        "mov %r6, %r1
        ldxw %r2, [%r6]
        ldxw %r3, [%r6+4]
        mov %r4, %r2
        add %r4, 48
        jgt %r4, %r3, +7
        mov %r7, %r2
        mov %r1, %r6
        mov %r2, {delta}
        call {id}
        jne %r0, 0, +2
        ldxb %r0, [%r7+{off}]
        exit
        mov %r0, 1000
        exit"
    )
}

/// The slot of the stale load in [`after_move`].
const STALE_LOAD_PC: usize = 11;

/// Runs `src` on the checking interpreter over a 128-byte buffer holding a 60-byte frame at
/// offset 32 (byte i of the buffer is i).
fn run_checked_xdp(src: &str) -> Result<u64, Trap> {
    let insns = asm(src);
    let program = Program::new(&insns).unwrap();
    let platform = TestPlatform::default();
    let vm = Interpreter::new(standard(), &platform);
    let mut buf: [u8; 128] = core::array::from_fn(|i| i as u8);
    let mut ctx = Context::Xdp(XdpBuff::new(&mut buf, 32, 60));
    vm.run_checked(&program, &mut ctx, &mut Stack::new())
}

#[test]
fn stale_packet_pointers_after_moving_the_frame_trap_on_the_checking_interpreter() {
    // (helper, delta, an offset from the old data pointer now outside the frame, one inside)
    let cases = [
        // adjust_head(+14): the old first 14 bytes are headroom now.
        (44, 14, 0, 14),
        (44, 14, 13, 47),
        // adjust_tail(-40): the frame is 20 bytes; the old bytes 20..60 are tailroom.
        (65, -40, 20, 19),
        (65, -40, 47, 0),
    ];
    for (id, delta, stale, fresh) in cases {
        // Every stale byte is inside the 128-byte buffer, so only the frame bounds catch it.
        assert_eq!(
            run_checked_xdp(&after_move(id, delta, stale)),
            Err(Trap::OutOfBounds),
            "helper {id}, delta {delta}, stale offset {stale}"
        );
        assert_eq!(
            run_checked_xdp(&after_move(id, delta, fresh)),
            Ok(32 + fresh as u64),
            "helper {id}, delta {delta}, offset {fresh} still in the frame"
        );
    }
    // adjust_meta: 8 bytes of metadata written, then back to none; a pointer into the old
    // metadata is stale.
    let meta = "mov %r6, %r1
        mov %r2, -8
        call 54
        ldxw %r7, [%r6+8]
        ldxw %r2, [%r6]
        mov %r3, %r7
        add %r3, 8
        jgt %r3, %r2, +6
        stxdw [%r7], %r3
        mov %r1, %r6
        mov %r2, 8
        call 54
        ldxb %r0, [%r7+OFF]
        exit
        mov %r0, 1000
        exit";
    assert_eq!(
        run_checked_xdp(&meta.replace("OFF", "0")),
        Err(Trap::OutOfBounds)
    );
    assert_eq!(run_checked_xdp(&meta.replace("OFF", "8")), Ok(32));
    // A helper given a stale pointer sees the same bounds: csum_diff over 4 stale bytes fails.
    let csum = "mov %r6, %r1
        ldxw %r2, [%r6]
        ldxw %r3, [%r6+4]
        mov %r4, %r2
        add %r4, 48
        jgt %r4, %r3, +11
        mov %r7, %r2
        mov %r1, %r6
        mov %r2, -40
        call 65
        mov %r1, 0
        mov %r2, 0
        mov %r3, %r7
        add %r3, OFF
        mov %r4, 4
        mov %r5, 0
        call 28
        exit";
    assert_eq!(run_checked_xdp(&csum.replace("OFF", "20")), Ok(EINVAL));
    let fresh = u32::from_ne_bytes([48, 49, 50, 51]) as u64;
    assert_eq!(run_checked_xdp(&csum.replace("OFF", "16")), Ok(fresh));
}

#[test]
fn the_verifier_rejects_the_stale_packet_access_the_checking_interpreter_catches() {
    let env = crate::VerifyTarget::new(ProgramType::Xdp, standard(), crate::maps::MapTable::EMPTY);
    let mut ws = std::boxed::Box::new(crate::DefaultWorkspace::new());
    for (id, delta) in [(44, 14), (65, -40), (54, -8)] {
        // Even an offset that stays in the new frame: the pointer itself is stale.
        for off in [0, 19] {
            let mut insns = asm(&after_move(id, delta, off));
            let e = crate::verify(&mut insns, &env, &mut ws)
                .expect_err("a packet pointer used after the frame moved");
            assert_eq!(e.pc, STALE_LOAD_PC, "helper {id}: {e}");
        }
    }
    // Without the stale load, the same program verifies.
    let mut insns = asm(&after_move(44, 14, 0).replace("ldxb %r0, [%r7+0]", "mov %r0, 2"));
    assert!(crate::verify(&mut insns, &env, &mut ws).is_ok());
}

static DEVS: DevMap<4> = DevMap::new();

#[test]
fn redirect_map_sets_the_target_or_falls_back() {
    DEVS.set(1, 7).unwrap();
    let maps: [&dyn Map; 1] = [&DEVS];
    let mut buf = [0u8; 64];
    let src = "lddw %r1, map[0]\nmov %r2, 1\nmov %r3, 0\ncall 51\nexit";
    assert_eq!(
        run_xdp(src, MapTable::new(&maps), &mut buf, 0, 60),
        (4, 0, 60, Some(Redirect::Device(7)))
    );
    // Key 2 is empty: the fallback action in flags (XDP_PASS = 2).
    let src = "lddw %r1, map[0]\nmov %r2, 2\nmov %r3, 2\ncall 51\nexit";
    assert_eq!(
        run_xdp(src, MapTable::new(&maps), &mut buf, 0, 60),
        (2, 0, 60, None)
    );
}

static CPUS: CpuMap<4> = CpuMap::new();
static XSKS: XskMap<4> = XskMap::new();

/// A redirect through a CPU map or an XSK map names the map's kind and the slot.
#[test]
fn redirect_map_into_cpus_and_sockets() {
    CPUS.set(3, 256).unwrap();
    XSKS.set(1, 9).unwrap();
    let maps: [&dyn Map; 2] = [&CPUS, &XSKS];
    let mut buf = [0u8; 64];
    let to = |map: u32, key: u32| {
        std::format!("lddw %r1, map[{map}]\nmov %r2, {key}\nmov %r3, 1\ncall 51\nexit")
    };
    let run = |src: &str, buf: &mut [u8]| run_xdp(src, MapTable::new(&maps), buf, 0, 60);
    assert_eq!(run(&to(0, 3), &mut buf), (4, 0, 60, Some(Redirect::Cpu(3))));
    assert_eq!(run(&to(1, 1), &mut buf), (4, 0, 60, Some(Redirect::Xsk(1))));
    // Empty slots: the fallback (XDP_DROP = 1).
    assert_eq!(run(&to(0, 2), &mut buf), (1, 0, 60, None));
    assert_eq!(run(&to(1, 0), &mut buf), (1, 0, 60, None));
}

static PROGS: ProgArray<2> = ProgArray::new();
static COUNT: ArrayMap<8, { value_words(8) }, 1> = ArrayMap::new();

#[test]
fn tail_calls_jump_and_stop_at_the_chain_limit() {
    let maps: [&dyn Map; 2] = [&PROGS, &COUNT];
    let table = MapTable::new(&maps);
    // Program 0 tail-calls slot 0 (itself) and counts its runs; program 1 returns 42.
    let counting = asm("
        mov %r6, %r1
        lddw %r2, map_value[1]
        mov %r3, 1
        lock add [%r2], %r3
        mov %r1, %r6
        lddw %r2, map[0]
        mov %r3, 0
        call 12
        mov %r0, 99
        exit");
    let answer = asm("mov %r0, 42\nexit");
    let mem_type = ProgramType::Memory { len: 0 };
    let programs = [
        VerifiedProgram::assume_verified(&counting, mem_type, 8, standard(), table),
        VerifiedProgram::assume_verified(&answer, mem_type, 0, standard(), table),
    ];
    let platform = TestPlatform::default();
    let vm = Interpreter::new(standard(), &platform)
        .with_maps(table)
        .with_programs(&programs);
    let run = |p: &VerifiedProgram<'_>| {
        vm.run_checked(
            &Program::new(p.insns()).unwrap(),
            &mut Context::Memory(&mut []),
            &mut Stack::new(),
        )
    };
    // Slot 0 -> program 1: the tail call does not return.
    PROGS.set(0, 1).unwrap();
    assert_eq!(run(&programs[0]), Ok(42));
    // Slot 0 -> program 0: 1 run plus 33 tail calls, then the call falls through.
    PROGS.set(0, 0).unwrap();
    let mut before = [0u8; 8];
    COUNT.lookup_copy(&0u32.to_ne_bytes(), &mut before).unwrap();
    assert_eq!(run(&programs[0]), Ok(99));
    let mut after = [0u8; 8];
    COUNT.lookup_copy(&0u32.to_ne_bytes(), &mut after).unwrap();
    assert_eq!(u64::from_ne_bytes(after) - u64::from_ne_bytes(before), 34);
    // An empty slot: falls through at once.
    PROGS.clear(0).unwrap();
    assert_eq!(run(&programs[0]), Ok(99));
}

static EVENTS: RingBuf<64, 8> = RingBuf::new();

#[test]
fn ringbuf_output_reaches_the_consumer() {
    let maps: [&dyn Map; 1] = [&EVENTS];
    let src = "
        lddw %r1, 0x0102030405060708
        stxdw [%r10-8], %r1
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -8
        mov %r3, 8
        mov %r4, 0
        call 130
        exit";
    assert_eq!(
        run_with(src, MapTable::new(&maps), &TestPlatform::default(), &mut []),
        Ok(0)
    );
    let mut got = Vec::new();
    let mut scratch = [0u8; 32];
    EVENTS.consume(&mut scratch, |r| got.push(r.to_vec()));
    assert_eq!(got, vec![0x0102030405060708u64.to_ne_bytes().to_vec()]);
}

/// Verifies `src` as a memory program against the standard helpers and the definitions of
/// `maps`, then runs it with every access checked.
fn verify_and_run(src: &str, maps: &[&dyn Map]) -> Result<u64, Trap> {
    let env = crate::VerifyTarget::new(
        ProgramType::Memory { len: 0 },
        standard(),
        MapTable::new(maps),
    );
    let mut insns = asm(src);
    let mut ws = std::boxed::Box::new(crate::DefaultWorkspace::new());
    if let Err(e) = crate::verify(&mut insns, &env, &mut ws) {
        panic!("{e}\n{src}");
    }
    run_with(src, MapTable::new(maps), &TestPlatform::default(), &mut [])
}

/// `r0 = push(map[0], value, flags)` after storing `value` at fp-8.
fn push_src(value: i32, flags: i32) -> std::string::String {
    std::format!(
        "stdw [%r10-8], {value}
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -8
        mov %r3, {flags}
        call 87
        exit"
    )
}

/// Pops (88) or peeks (89) into an uninitialised fp-8 and returns the value read back, or
/// `0xee00 | (-errno & 0xff)` when the helper fails (with the buffer's zeroes checked).
fn take_src(id: u32) -> std::string::String {
    std::format!(
        "lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -8
        call {id}
        ldxdw %r1, [%r10-8]
        jne %r0, 0, fail
        mov %r0, %r1
        exit
    fail:
        jne %r1, 0, bad
        neg %r0
        or %r0, 0xee00
        exit
    bad:
        mov %r0, -1
        exit"
    )
}

static QUEUE: crate::maps::QueueMap<8, 3> = crate::maps::QueueMap::new();
static LIFO: crate::maps::StackMap<8, 3> = crate::maps::StackMap::new();

#[test]
fn queue_and_stack_push_pop_peek() {
    for (map, lifo) in [(&QUEUE as &dyn Map, false), (&LIFO as &dyn Map, true)] {
        let maps = [map];
        let run = |src: &str| verify_and_run(src, &maps);
        for v in [11, 22, 33] {
            assert_eq!(run(&push_src(v, 0)), Ok(0));
        }
        // Full: -E2BIG; with BPF_EXIST the oldest element (11) makes room for 44.
        assert_eq!(run(&push_src(55, 0)), Ok((-7i64) as u64));
        assert_eq!(run(&push_src(44, 2)), Ok(0));
        let order: [u64; 3] = if lifo { [44, 33, 22] } else { [22, 33, 44] };
        assert_eq!(run(&take_src(89)), Ok(order[0]), "peek leaves it");
        for want in order {
            assert_eq!(run(&take_src(88)), Ok(want));
        }
        // Empty: -ENOENT, and the buffer holds zeroes.
        assert_eq!(run(&take_src(88)), Ok(0xee02));
        assert_eq!(run(&take_src(89)), Ok(0xee02));
    }
    // Pushing a value of the wrong map type is refused by the runtime too.
    let maps: [&dyn Map; 1] = [&HASH];
    assert_eq!(
        run_with(
            &push_src(1, 0),
            MapTable::new(&maps),
            &TestPlatform::default(),
            &mut []
        ),
        Ok((-95i64) as u64)
    );
}

static RECORDS: RingBuf<256, 32> = RingBuf::new();

fn drain(rb: &RingBuf<256, 32>) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut scratch = [0u8; 64];
    rb.consume(&mut scratch, |r| got.push(r.to_vec()));
    got
}

#[test]
fn ringbuf_reserve_submit_and_discard() {
    let maps: [&dyn Map; 1] = [&RECORDS];
    // Reserve 12 bytes, fill them in place, submit.
    let submit = "
        lddw %r1, map[0]
        mov %r2, 12
        mov %r3, 0
        call 131
        jeq %r0, 0, full
        lddw %r1, 0x0807060504030201
        stxdw [%r0], %r1
        stw [%r0+8], 0x0c0b0a09
        mov %r1, %r0
        mov %r2, 0
        call 132
        mov %r0, 0
        exit
    full:
        mov %r0, 1
        exit";
    assert_eq!(verify_and_run(submit, &maps), Ok(0));
    assert_eq!(drain(&RECORDS), [(1..=12).collect::<Vec<u8>>()]);
    // Two records at once: the second is submitted, the first discarded; the consumer sees
    // exactly the submitted one, though the discarded one came first.
    let two = "
        lddw %r1, map[0]
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, none
        mov %r6, %r0
        stdw [%r6], 0x11
        lddw %r1, map[0]
        mov %r2, 4
        mov %r3, 0
        call 131
        jne %r0, 0, both
        mov %r1, %r6
        mov %r2, 0
        call 133
    none:
        mov %r0, 1
        exit
    both:
        stw [%r0], 0x22
        mov %r1, %r0
        mov %r2, 0
        call 132
        mov %r1, %r6
        mov %r2, 0
        call 133
        mov %r0, 0
        exit";
    assert_eq!(verify_and_run(two, &maps), Ok(0));
    assert_eq!(drain(&RECORDS), [0x22u32.to_ne_bytes().to_vec()]);
    assert_eq!(RECORDS.pending(), 0);
    // A record larger than the ring: reserve gives null, and the program says so.
    let big = submit.replace("mov %r2, 12", "mov %r2, 300");
    assert_eq!(verify_and_run(&big, &maps), Ok(1));
    // Flags other than 0: null too.
    let flagged = submit.replace("mov %r3, 0", "mov %r3, 1");
    assert_eq!(verify_and_run(&flagged, &maps), Ok(1));
    assert!(drain(&RECORDS).is_empty());
}

#[test]
fn ringbuf_records_fill_the_ring_until_consumed() {
    static SMALL: RingBuf<64, 8> = RingBuf::new();
    let maps: [&dyn Map; 1] = [&SMALL];
    // Each record takes 8 bytes of header and 8 of data: four fit in 64 bytes.
    let src = "
        lddw %r1, map[0]
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, full
        stdw [%r0], 0x77
        mov %r1, %r0
        mov %r2, 0
        call 132
        mov %r0, 0
        exit
    full:
        mov %r0, 1
        exit";
    let results: Vec<_> = (0..5).map(|_| verify_and_run(src, &maps)).collect();
    assert_eq!(results, [Ok(0), Ok(0), Ok(0), Ok(0), Ok(1)]);
    let mut got = Vec::new();
    let mut scratch = [0u8; 16];
    SMALL.consume(&mut scratch, |r| got.push(r.to_vec()));
    assert_eq!(got, vec![0x77u64.to_ne_bytes().to_vec(); 4]);
    assert_eq!(verify_and_run(src, &maps), Ok(0), "room again");
}

#[test]
fn ringbuf_submit_of_a_stray_pointer_changes_nothing() {
    static RB: RingBuf<64, 8> = RingBuf::new();
    let maps: [&dyn Map; 1] = [&RB];
    // Unverified: submitting a stack address is ignored; a reserved record stays busy.
    let src = "
        lddw %r1, map[0]
        mov %r2, 8
        mov %r3, 0
        call 131
        mov %r1, %r10
        add %r1, -8
        mov %r2, 0
        call 132
        exit";
    assert_eq!(
        run_with(src, MapTable::new(&maps), &TestPlatform::default(), &mut []),
        Ok(0)
    );
    let mut scratch = [0u8; 16];
    assert_eq!(RB.consume(&mut scratch, |_| {}).records, 0);
    assert_eq!(RB.pending(), 16, "the record is still reserved");
}

#[test]
fn ringbuf_records_through_the_verified_engine() {
    static RB: RingBuf<64, 8> = RingBuf::new();
    let maps: [&dyn Map; 1] = [&RB];
    let env = crate::VerifyTarget::new(
        ProgramType::Memory { len: 0 },
        standard(),
        MapTable::new(&maps),
    );
    let mut insns = asm("
        lddw %r1, map[0]
        mov %r2, 4
        mov %r3, 0
        call 131
        jeq %r0, 0, full
        stw [%r0], 0x2a
        mov %r1, %r0
        mov %r2, 0
        call 132
        mov %r0, 0
        exit
    full:
        mov %r0, 1
        exit");
    let mut ws = std::boxed::Box::new(crate::DefaultWorkspace::new());
    let verified = crate::verify(&mut insns, &env, &mut ws).unwrap();
    let platform = TestPlatform::default();
    let vm = Interpreter::new(standard(), &platform);
    let r = vm.run(&verified, &mut Context::Memory(&mut []), &mut Stack::new());
    assert_eq!(r, Ok(0));
    let mut got = Vec::new();
    let mut scratch = [0u8; 8];
    RB.consume(&mut scratch, |r| got.push(r.to_vec()));
    assert_eq!(got, [0x2au32.to_ne_bytes().to_vec()]);
}
