//! Cases for the standard helpers whose prototypes need more than plain arguments: queue and
//! stack values the helper fills, and ring buffer records the program must give back.
//! Each rejection has an accepted near-miss next to it.

use super::*;
use crate::asm::assemble;
use crate::host::{MapDef, MapType};
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;

/// Map 0: queue of 8-byte values; 1: stack of 8-byte values; 2: 4 KiB ring buffer;
/// 3: hash map (4-byte keys, 8-byte values); 4: array of one 16-byte value; 5: program array.
static MAPS: &[MapDef] = &[
    MapDef {
        map_type: MapType::Queue,
        key_size: 0,
        value_size: 8,
        max_entries: 4,
        flags: 0,
    },
    MapDef {
        map_type: MapType::Stack,
        key_size: 0,
        value_size: 8,
        max_entries: 4,
        flags: 0,
    },
    MapDef {
        map_type: MapType::RingBuf,
        key_size: 0,
        value_size: 0,
        max_entries: 4096,
        flags: 0,
    },
    MapDef {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        flags: 0,
    },
    MapDef {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 16,
        max_entries: 1,
        flags: 0,
    },
    MapDef {
        map_type: MapType::ProgArray,
        key_size: 4,
        value_size: 4,
        max_entries: 2,
        flags: 0,
    },
];

type Ws = VerifierWorkspace<256, 64, 32>;

/// Verifies `src` as an XDP program against the standard helpers and [`MAPS`].
fn verdict(src: &str, ws: &mut Ws) -> Result<(), VerifyError> {
    let mut buf = [Insn::default(); 256];
    let n = assemble(src, &mut buf).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let env = VerifyTarget::new(
        ProgramType::Xdp,
        crate::helpers::standard(),
        MapTable::definitions(MAPS),
    );
    verify(&mut buf[..n], &env, ws).map(|_| ())
}

type Pred = fn(&VerifyErrorKind) -> bool;

/// `(name, program, None to accept or the rejection's kind)`.
type Case = (&'static str, String, Option<Pred>);

fn check(cases: &[Case]) -> usize {
    let mut ws = Box::new(Ws::new());
    let mut failures = String::new();
    for (name, src, expect) in cases {
        let got = verdict(src, &mut ws);
        let fine = match (&got, expect) {
            (Ok(()), None) => true,
            (Err(e), Some(p)) => p(&e.kind),
            _ => false,
        };
        if !fine {
            failures += &std::format!("{name}: got {got:?}\n");
        }
    }
    assert!(failures.is_empty(), "failing cases:\n{failures}");
    cases.len()
}

macro_rules! case {
    ($name:expr, ok, $src:expr) => {
        ($name, String::from($src), None)
    };
    ($name:expr, $pat:pat, $src:expr) => {
        (
            $name,
            String::from($src),
            Some((|k: &VerifyErrorKind| matches!(k, $pat)) as Pred),
        )
    };
}

use VerifyErrorKind as K;

fn queue_cases() -> Vec<Case> {
    std::vec![
        case!(
            "push from initialised stack",
            ok,
            "stdw [%r10-8], 7
            lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -8
            mov %r3, 0
            call 87
            exit"
        ),
        case!(
            "push from uninitialised stack",
            K::StackReadUninit { .. },
            "lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -8
            mov %r3, 0
            call 87
            exit"
        ),
        case!(
            "push of a half-initialised value",
            K::StackReadUninit { .. },
            "stw [%r10-8], 7
            lddw %r1, map[1]
            mov %r2, %r10
            add %r2, -8
            mov %r3, 0
            call 87
            exit"
        ),
        case!(
            "pop into uninitialised stack, then read it",
            ok,
            "lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -8
            call 88
            ldxdw %r0, [%r10-8]
            exit"
        ),
        case!(
            "peek into uninitialised stack, then read it",
            ok,
            "lddw %r1, map[1]
            mov %r2, %r10
            add %r2, -16
            call 89
            ldxdw %r0, [%r10-16]
            exit"
        ),
        case!(
            "pop initialises only the value's bytes",
            K::StackReadUninit { .. },
            "lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -16
            call 88
            ldxdw %r0, [%r10-8]
            exit"
        ),
        case!(
            "pop into a buffer shorter than the value",
            K::StackAccess { .. },
            "lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -4
            call 88
            exit"
        ),
        case!(
            "pop into a map value",
            ok,
            "lddw %r6, map_value[4]
            lddw %r1, map[0]
            mov %r2, %r6
            add %r2, 8
            call 88
            exit"
        ),
        case!(
            "pop past the end of a map value",
            K::MapValueAccess { .. },
            "lddw %r6, map_value[4]
            lddw %r1, map[0]
            mov %r2, %r6
            add %r2, 9
            call 88
            exit"
        ),
        case!(
            "pop into the context",
            K::HelperArg { reg: 2, .. },
            "mov %r2, %r1
            lddw %r1, map[0]
            call 88
            exit"
        ),
        case!(
            "pop over a spilled pointer destroys it",
            ok,
            "stxdw [%r10-8], %r1
            lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -8
            call 88
            exit"
        ),
        case!(
            "a spilled pointer a pop wrote over reads back as a number",
            K::InvalidMemAccess { .. },
            "stxdw [%r10-8], %r1
            lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -8
            call 88
            ldxdw %r1, [%r10-8]
            ldxb %r0, [%r1]
            exit"
        ),
        case!(
            "push to a hash map",
            K::MapHelper { helper: 87 },
            "stdw [%r10-8], 7
            lddw %r1, map[3]
            mov %r2, %r10
            add %r2, -8
            mov %r3, 0
            call 87
            exit"
        ),
        case!(
            "lookup in a queue",
            K::MapHelper { helper: 1 },
            "stw [%r10-4], 0
            lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -4
            call 1
            mov %r0, 0
            exit"
        ),
    ]
}

#[test]
fn queue_and_stack_table() {
    assert!(check(&queue_cases()) >= 12);
}

/// `r0 = ringbuf_reserve(map[2], size, 0)`.
fn reserve(size: &str) -> String {
    std::format!(
        "lddw %r1, map[2]
        mov %r2, {size}
        mov %r3, 0
        call 131
"
    )
}

/// `ringbuf_submit(reg, 0)` (132) or `ringbuf_discard` (133).
fn release(id: u32, reg: &str) -> String {
    std::format!(
        "mov %r1, {reg}
        mov %r2, 0
        call {id}
"
    )
}

fn ringbuf_cases() -> Vec<Case> {
    let r = |size: &str, body: &str| std::format!("{}{body}", reserve(size));
    let submit6 = release(132, "%r6");
    let discard6 = release(133, "%r6");
    std::vec![
        case!(
            "reserve, check, write, submit",
            ok,
            r(
                "12",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                stdw [%r6], 1
                stw [%r6+8], 2
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "write past the record",
            K::MemAccess {
                off: 12,
                len: 12,
                ..
            },
            r(
                "12",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                stw [%r6+12], 2
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "write straddling the record's end",
            K::MemAccess {
                off: 8,
                len: 12,
                ..
            },
            r(
                "12",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                stdw [%r6+8], 2
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "write before the record",
            K::MemAccess { off: -1, .. },
            r(
                "12",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                stb [%r6-1], 2
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "reserve, check, discard",
            ok,
            r(
                "8",
                &std::format!(
                    "jne %r0, 0, got
                exit
            got:
                mov %r6, %r0
                {discard6}
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "write without a null check",
            K::InvalidMemAccess {
                ty: "ringbuf_mem_or_null",
                ..
            },
            r(
                "8",
                &std::format!(
                    "mov %r6, %r0
                stdw [%r6], 1
                {submit6}
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "submit without a null check",
            K::HelperArg {
                reg: 1,
                found: "ringbuf_mem_or_null",
                ..
            },
            r(
                "8",
                &std::format!(
                    "mov %r6, %r0
                {submit6}
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "leak: exit without submit",
            K::UnreleasedReference { alloc_pc: 4, .. },
            r(
                "8",
                "jeq %r0, 0, out
                stdw [%r0], 1
            out:
                mov %r0, 0
                exit"
            )
        ),
        case!(
            "leak: the pointer overwritten",
            K::UnreleasedReference { .. },
            r(
                "8",
                "jeq %r0, 0, out
                mov %r0, 0
            out:
                exit"
            )
        ),
        case!(
            "leak on one path only",
            K::UnreleasedReference { .. },
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                call 5
                jgt %r0, 5, give
                ja join
            give:
                {submit6}
            join:
                mov %r0, 0
            out:
                exit"
                )
            )
        ),
        case!(
            "submit on one path, discard on the other",
            ok,
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                call 5
                jgt %r0, 5, give
                {discard6}
                ja join
            give:
                {submit6}
            join:
                mov %r0, 0
            out:
                exit"
                )
            )
        ),
        case!(
            "double submit",
            K::UninitRegister { reg: 6 },
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                {submit6}
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "submit then discard through another copy",
            K::UninitRegister { reg: 7 },
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                mov %r7, %r0
                {submit6}
                {}
            out:
                mov %r0, 0
                exit",
                    release(133, "%r7")
                )
            )
        ),
        case!(
            "write after submit",
            K::UninitRegister { reg: 6 },
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                {submit6}
                stdw [%r6], 1
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "read a spilled copy after submit",
            // The slot holds the record's address as plain bytes: a number, no pointer.
            K::InvalidMemAccess {
                reg: 1,
                ty: "scalar"
            },
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                stxdw [%r10-8], %r0
                {submit6}
                ldxdw %r1, [%r10-8]
                ldxdw %r0, [%r1]
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "spill, reload, submit the reloaded copy",
            ok,
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                stxdw [%r10-8], %r0
                ldxdw %r6, [%r10-8]
                stdw [%r6], 3
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "submit a pointer inside the record",
            K::ReleaseOffset { reg: 1 },
            r(
                "16",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                add %r6, 8
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "write through a pointer inside the record, submit the start",
            ok,
            r(
                "16",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                mov %r7, %r0
                add %r7, 8
                stdw [%r7], 1
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "record as data of ringbuf_output",
            ok,
            r(
                "16",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                stdw [%r6], 1
                stdw [%r6+8], 2
                lddw %r1, map[2]
                mov %r2, %r6
                mov %r3, 16
                mov %r4, 0
                call 130
                {discard6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "ringbuf_output of more than the record",
            K::MemAccess { len: 16, .. },
            r(
                "16",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                lddw %r1, map[2]
                mov %r2, %r6
                mov %r3, 17
                mov %r4, 0
                call 130
                {discard6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "submit a map value",
            K::HelperArg {
                reg: 1,
                found: "map_value",
                ..
            },
            std::format!(
                "lddw %r6, map_value[4]
                {submit6}
                mov %r0, 0
                exit"
            )
        ),
        case!(
            "size not a known constant",
            K::HelperArg { reg: 2, .. },
            "call 5
            and %r0, 15
            mov %r2, %r0
            lddw %r1, map[2]
            mov %r3, 0
            call 131
            mov %r0, 0
            exit"
        ),
        case!(
            "size too large to track",
            K::HelperArg { reg: 2, .. },
            r("65536", "mov %r0, 0\nexit")
        ),
        case!(
            "reserve from a hash map",
            K::MapHelper { helper: 131 },
            "lddw %r1, map[3]
            mov %r2, 8
            mov %r3, 0
            call 131
            mov %r0, 0
            exit"
        ),
        case!(
            "pointer arithmetic before the null check",
            K::PointerArithOnType {
                ty: "ringbuf_mem_or_null",
                ..
            },
            r("8", "add %r0, 1\nmov %r0, 0\nexit")
        ),
        case!(
            "record address stored into a map value",
            K::PointerLeak { .. },
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                lddw %r1, map_value[4]
                stxdw [%r1], %r6
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "atomic add into a record",
            K::AtomicNotAllowed { .. },
            r(
                "8",
                &std::format!(
                    "jeq %r0, 0, out
                mov %r6, %r0
                stdw [%r6], 0
                mov %r1, 1
                lock add [%r6], %r1
                {submit6}
            out:
                mov %r0, 0
                exit"
                )
            )
        ),
        case!(
            "tail call while holding a record",
            K::UnreleasedReference { .. },
            std::format!(
                "mov %r9, %r1
                {}jeq %r0, 0, out
                mov %r6, %r0
                mov %r1, %r9
                lddw %r2, map[5]
                mov %r3, 0
                call 12
                {submit6}
            out:
                mov %r0, 0
                exit",
                reserve("8")
            )
        ),
        case!(
            "tail call after submitting",
            ok,
            std::format!(
                "mov %r9, %r1
                {}jeq %r0, 0, out
                mov %r6, %r0
                {submit6}
                mov %r1, %r9
                lddw %r2, map[5]
                mov %r3, 0
                call 12
            out:
                mov %r0, 0
                exit",
                reserve("8")
            )
        ),
        case!("four records held at once", ok, four_records(false)),
        case!(
            "a fifth record held at once",
            K::TooComplex(TooComplexReason::TooManyReferences),
            four_records(true)
        ),
        case!(
            "record released in a subprogram",
            ok,
            r(
                "8",
                "jeq %r0, 0, out
                mov %r1, %r0
                call local give
            out:
                mov %r0, 0
                exit
            give:
                mov %r2, 0
                call 132
                mov %r0, 0
                exit"
            )
        ),
    ]
}

/// Reserves four records into r6 to r9, each null-checked (a null one discards those before
/// it), reserves a fifth with `fifth`, then discards them all.
fn four_records(fifth: bool) -> String {
    let mut src = String::new();
    for k in 0..4 {
        src += &reserve("8");
        src += &std::format!("jne %r0, 0, got{k}\n");
        for j in 0..k {
            src += &release(133, &std::format!("%r{}", 6 + j));
        }
        src += &std::format!("mov %r0, 0\nexit\ngot{k}:\nmov %r{}, %r0\n", 6 + k);
    }
    if fifth {
        src += &reserve("8");
    }
    for k in 0..4 {
        src += &release(133, &std::format!("%r{}", 6 + k));
    }
    src + "mov %r0, 0\nexit"
}

#[test]
fn ringbuf_reference_table() {
    assert!(check(&ringbuf_cases()) >= 30);
}
