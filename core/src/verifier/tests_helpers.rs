//! Cases for the standard helpers whose prototypes need more than plain arguments: queue and
//! stack values the helper fills, and ring buffer records the program must give back.
//! Each rejection has an accepted near-miss next to it.

use super::*;
use crate::asm::assemble;
use crate::env::MapType;
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;

/// Map 0: queue of 8-byte values; 1: stack of 8-byte values; 2: 4 KiB ring buffer;
/// 3: hash map (4-byte keys, 8-byte values); 4: array of one 16-byte value.
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
];

type Ws = VerifierWorkspace<256, 64, 32>;

/// Verifies `src` as an XDP program against the standard helpers and [`MAPS`].
fn verdict(src: &str, ws: &mut Ws) -> Result<(), VerifyError> {
    let mut buf = [Insn::default(); 256];
    let n = assemble(src, &mut buf).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let env = VerifyEnv::new(ProgramType::Xdp, crate::helpers::standard(), MAPS);
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
            "pop over a spilled pointer",
            K::CorruptSpill { .. },
            "stxdw [%r10-8], %r1
            lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -8
            call 88
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
