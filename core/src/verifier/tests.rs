//! The verifier's table of cases: small programs with their expected verdicts. Every
//! rejection reason has a case, and next to it an accepted near-miss.

use super::*;
use crate::host::{ArgKind, Helper, HelperCall, HelperProto, MapDef, MapType, RetKind};
use crate::isa::opcode::*;
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;

// ---- instruction builders, for the tests after the table ------------------------------------

pub(crate) mod a {
    use super::*;
    pub fn i(op: u8, d: u8, s: u8, off: i16, imm: i32) -> Vec<Insn> {
        std::vec![Insn::new(op, d, s, off, imm)]
    }
    pub fn mov(d: u8, imm: i32) -> Vec<Insn> {
        i(BPF_ALU64 | BPF_MOV, d, 0, 0, imm)
    }
    pub fn movr(d: u8, s: u8) -> Vec<Insn> {
        i(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
    }
    pub fn alu(op: u8, d: u8, imm: i32) -> Vec<Insn> {
        i(BPF_ALU64 | op, d, 0, 0, imm)
    }
    pub fn alur(op: u8, d: u8, s: u8) -> Vec<Insn> {
        i(BPF_ALU64 | op | BPF_X, d, s, 0, 0)
    }
    /// `size`: 1, 2, 4, 8.
    fn sz(size: u8) -> u8 {
        match size {
            1 => BPF_B,
            2 => BPF_H,
            4 => BPF_W,
            _ => BPF_DW,
        }
    }
    pub fn ldx(size: u8, d: u8, s: u8, off: i16) -> Vec<Insn> {
        i(BPF_LDX | BPF_MEM | sz(size), d, s, off, 0)
    }
    pub fn st(size: u8, d: u8, off: i16, imm: i32) -> Vec<Insn> {
        i(BPF_ST | BPF_MEM | sz(size), d, 0, off, imm)
    }
    pub fn atomic(size: u8, d: u8, s: u8, off: i16, imm: i32) -> Vec<Insn> {
        i(BPF_STX | BPF_ATOMIC | sz(size), d, s, off, imm)
    }
    pub fn jmp(op: u8, d: u8, imm: i32, off: i16) -> Vec<Insn> {
        i(BPF_JMP | op, d, 0, off, imm)
    }
    pub fn jmpr(op: u8, d: u8, s: u8, off: i16) -> Vec<Insn> {
        i(BPF_JMP | op | BPF_X, d, s, off, 0)
    }
    pub fn ja(off: i16) -> Vec<Insn> {
        i(BPF_JMP | BPF_JA, 0, 0, off, 0)
    }
    pub fn call(id: i32) -> Vec<Insn> {
        i(op::CALL, 0, 0, 0, id)
    }
    pub fn call_local(rel: i32) -> Vec<Insn> {
        i(op::CALL, 0, CALL_LOCAL, 0, rel)
    }
    pub fn exit() -> Vec<Insn> {
        i(op::EXIT, 0, 0, 0, 0)
    }
    /// `r0 = 0; exit`.
    pub fn ret0() -> Vec<Insn> {
        [mov(0, 0), exit()].concat()
    }
}

use a::*;

// ---- environments ------------------------------------------------------------------------

fn nop(_: &mut HelperCall<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    0
}

const fn helper(id: u32, name: &'static str, args: [ArgKind; 5], ret: RetKind) -> Helper {
    Helper {
        id,
        name,
        proto: HelperProto::new(args, ret),
        func: nop,
    }
}

use ArgKind as A;

pub(crate) static HELPERS: &[Helper] = &[
    helper(
        1,
        "map_lookup_elem",
        [A::ConstMapPtr, A::PtrToMapKey, A::None, A::None, A::None],
        RetKind::MapValueOrNull,
    ),
    helper(
        2,
        "map_update_elem",
        [
            A::ConstMapPtr,
            A::PtrToMapKey,
            A::PtrToMapValue,
            A::Scalar,
            A::None,
        ],
        RetKind::Integer,
    ),
    helper(
        3,
        "map_delete_elem",
        [A::ConstMapPtr, A::PtrToMapKey, A::None, A::None, A::None],
        RetKind::Integer,
    ),
    helper(
        4,
        "probe_read",
        [A::PtrToUninitMem, A::ConstSize, A::Scalar, A::None, A::None],
        RetKind::Integer,
    ),
    helper(5, "ktime_get_ns", [A::None; 5], RetKind::Integer),
    helper(
        6,
        "trace_printk",
        [A::PtrToMem, A::ConstSize, A::Scalar, A::None, A::None],
        RetKind::Integer,
    ),
    helper(
        12,
        "tail_call",
        [A::PtrToCtx, A::ConstMapPtr, A::Scalar, A::None, A::None],
        RetKind::Void,
    ),
    helper(
        28,
        "csum_diff",
        [
            A::PtrToMem,
            A::ConstSizeOrZero,
            A::PtrToMem,
            A::ConstSizeOrZero,
            A::Scalar,
        ],
        RetKind::Integer,
    ),
    helper(
        44,
        "xdp_adjust_head",
        [A::PtrToCtx, A::Scalar, A::None, A::None, A::None],
        RetKind::Integer,
    ),
];

pub(crate) static MAPS: &[MapDef] = &[
    MapDef {
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        flags: 0,
    },
    MapDef {
        map_type: MapType::Array,
        key_size: 4,
        value_size: 16,
        max_entries: 4,
        flags: 0,
    },
    MapDef {
        map_type: MapType::ProgArray,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        flags: 0,
    },
];

#[derive(Clone, Copy, Debug)]
enum Ty {
    Mem(u32),
    Xdp,
    Skb,
}

impl Ty {
    fn prog_type(self) -> ProgramType {
        match self {
            Ty::Mem(len) => ProgramType::Memory { len },
            Ty::Xdp => ProgramType::Xdp,
            Ty::Skb => ProgramType::SocketFilter,
        }
    }
}

fn env(ty: Ty) -> VerifyTarget<'static> {
    VerifyTarget {
        budget: 100_000,
        ..VerifyTarget::new(
            ty.prog_type(),
            HelperTable::new(HELPERS),
            MapTable::definitions(MAPS),
        )
    }
}

type Ws = VerifierWorkspace<512, 64, 32>;

fn run_case(
    prog: &[Insn],
    env: &VerifyTarget<'_>,
    ws: &mut Ws,
) -> Result<(Vec<Insn>, u32), VerifyError> {
    let mut insns = prog.to_vec();
    let v = verify(&mut insns, env, ws)?;
    let depth = v.stack_depth();
    Ok((v.insns().to_vec(), depth))
}

type Pred = fn(&VerifyErrorKind) -> bool;

struct Case {
    name: &'static str,
    ty: Ty,
    prog: Vec<Insn>,
    /// `None`: must verify. `Some((pc, pred))`: must fail at `pc` (if given) with a matching
    /// kind.
    expect: Option<(Option<usize>, Pred)>,
}

/// Assembles a program from `pieces` of assembler text (fragments such as [`PKT`] and
/// [`key_args`], and a case's own lines), concatenated.
fn insns(pieces: &[&str]) -> Vec<Insn> {
    let src = pieces.concat();
    let mut buf = std::vec![Insn::default(); 4096];
    let n = crate::asm::assemble(&src, &mut buf).unwrap_or_else(|e| panic!("{e}\n{src}"));
    buf.truncate(n);
    buf
}

/// `ok!(name, type, pieces…)`: a case that must verify; its program is the text of the pieces
/// (see [`insns`]).
macro_rules! ok {
    ($name:expr, $ty:expr, $($src:expr),+ $(,)?) => {
        Case {
            name: $name,
            ty: $ty,
            prog: insns(&[$(AsRef::<str>::as_ref(&$src)),+]),
            expect: None,
        }
    };
}

/// `bad!(name, type, [@pc,] pattern, pieces…)`: a case that must fail, at `pc` if given, with
/// an error whose kind matches `pattern`.
macro_rules! bad {
    ($name:expr, $ty:expr, @$pc:expr, $pat:pat, $($src:expr),+ $(,)?) => {
        Case {
            name: $name,
            ty: $ty,
            prog: insns(&[$(AsRef::<str>::as_ref(&$src)),+]),
            expect: Some((Some($pc), |k: &VerifyErrorKind| matches!(k, $pat))),
        }
    };
    ($name:expr, $ty:expr, $pat:pat, $($src:expr),+ $(,)?) => {
        Case {
            name: $name,
            ty: $ty,
            prog: insns(&[$(AsRef::<str>::as_ref(&$src)),+]),
            expect: Some((None, |k: &VerifyErrorKind| matches!(k, $pat))),
        }
    };
}

fn check_cases(cases: &[Case]) -> usize {
    let mut ws = Box::new(Ws::new());
    let mut failures = String::new();
    for c in cases {
        let e = env(c.ty);
        let got = run_case(&c.prog, &e, &mut ws);
        let fine = match (&got, &c.expect) {
            (Ok(_), None) => true,
            (Err(err), Some((pc, pred))) => pred(&err.kind) && pc.is_none_or(|p| p == err.pc),
            _ => false,
        };
        if !fine {
            failures += &std::format!("{}: got {:?}\n", c.name, got.map(|_| ()));
        }
    }
    assert!(failures.is_empty(), "failing cases:\n{failures}");
    cases.len()
}

use VerifyErrorKind as K;

const M: Ty = Ty::Mem(64);
const XDP: Ty = Ty::Xdp;

/// XDP prologue: r2 = data, r3 = data_end.
const PKT: &str = "
    ldxw %r2, [%r1]
    ldxw %r3, [%r1+4]
";

/// [`PKT`], assembled.
fn pkt() -> Vec<Insn> {
    insns(&[PKT])
}

/// The arguments of a map helper: a stack key at fp-4 = 0, r2 = fp - 4, r1 = map `m`.
fn key_args(m: u32) -> String {
    std::format!(
        "
    stw [%r10-4], 0
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map[{m}]
"
    )
}

/// [`key_args`], assembled.
fn key_setup(m: u32) -> Vec<Insn> {
    insns(&[&key_args(m)])
}

fn structure_cases() -> Vec<Case> {
    std::vec![
        ok!(
            "minimal",
            M,
            "
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "decode error maps to Decode",
            M,
            @0,
            K::Decode(_),
            "
                .raw 0x00000000000000ff # opcode 0xff
                exit
            "
        ),
        bad!(
            "unreachable insn",
            M,
            @2,
            K::Unreachable,
            "
                mov %r0, 0
                exit
                mov %r0, 1
                exit
            "
        ),
        ok!(
            "jump over dead code is reachable twin",
            M,
            "
                mov %r0, 0
                jeq %r1, 0, exit
                mov %r0, 1
                exit
            "
        ),
        bad!(
            "jump out of function",
            M,
            K::JumpOutOfFunction { .. },
            "
                call local fn1
                mov %r0, 0
            main_exit:
                exit
            fn1:
                mov %r0, 1
                ja main_exit
                exit
            "
        ),
        bad!(
            "function falls through",
            M,
            @5,
            K::FunctionFallsThrough,
            "
                call local fn1
                call local fn2
                mov %r0, 0
                exit
            fn1:
                mov %r0, 1
                mov %r0, 2
            fn2:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "local call returns",
            M,
            "
                mov %r1, 5
                call local fn1
                exit
            fn1:
                mov %r0, %r1
                add %r0, 1
                exit
            "
        ),
        bad!(
            "uninit r0 at exit",
            M,
            @0,
            K::UninitRegister { reg: 0 },
            "
                exit
            "
        ),
        bad!(
            "negative error.data: or r0, r10",
            M,
            @0,
            K::UninitRegister { reg: 0 },
            "
                or %r0, %r10
                exit
            "
        ),
        bad!(
            "read uninit r3",
            M,
            @0,
            K::UninitRegister { reg: 3 },
            "
                mov %r0, %r3
                exit
            "
        ),
        ok!(
            "read r2 (buffer length) twin",
            M,
            "
                mov %r0, %r2
                exit
            "
        ),
        bad!(
            "r1..r5 clobbered by helper",
            M,
            K::UninitRegister { reg: 1 },
            "
                mov %r1, 1
                call 5
                mov %r0, %r1
                exit
            "
        ),
        ok!(
            "r6 survives helper",
            M,
            "
                mov %r6, 1
                call 5
                mov %r0, %r6
                exit
            "
        ),
        bad!(
            "caller r1 clobbered by local call",
            M,
            K::UninitRegister { reg: 1 },
            "
                mov %r1, 1
                call local fn1
                mov %r0, %r1
                exit
            fn1:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "callee-saved r6 survives local call",
            M,
            "
                mov %r6, 7
                call local fn1
                mov %r0, %r6
                exit
            fn1:
                mov %r6, 0
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "callee reads uninit arg",
            M,
            K::UninitRegister { reg: 3 },
            "
                call local fn1
                exit
            fn1:
                mov %r0, %r3
                exit
            "
        ),
        bad!(
            "call depth 9",
            M,
            K::CallTooDeep { frames: 9 },
            "
                call local fn1
                exit
            fn1:
                call local fn2
                exit
            fn2:
                call local fn3
                exit
            fn3:
                call local fn4
                exit
            fn4:
                call local fn5
                exit
            fn5:
                call local fn6
                exit
            fn6:
                call local fn7
                exit
            fn7:
                call local fn8
                exit
            fn8:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "call depth 8",
            M,
            "
                mov %r0, 0
                call local fn1
                exit
            fn1:
                call local fn2
                exit
            fn2:
                call local fn3
                exit
            fn3:
                call local fn4
                exit
            fn4:
                call local fn5
                exit
            fn5:
                call local fn6
                exit
            fn6:
                call local fn7
                exit
            fn7:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "unknown helper",
            M,
            @0,
            K::UnknownHelper { id: 99 },
            "
                call 99
                exit
            "
        ),
        ok!(
            "known helper",
            M,
            "
                call 5
                exit
            "
        ),
        bad!(
            "callx of unknown register value",
            M,
            K::CallxTarget { reg: 2 },
            "
                mov %r2, 99
                call %r2
                exit
            "
        ),
        bad!(
            "callx of a non-constant",
            M,
            K::CallxTarget { reg: 2 },
            "
                ldxb %r2, [%r1]
                call %r2
                exit
            "
        ),
        ok!(
            "callx of known helper",
            M,
            "
                mov %r1, -1
                mov %r2, 5
                call %r2
                mov %r0, 2
                exit
            "
        ),
        bad!(
            "ld_abs not allowed for xdp",
            XDP,
            K::LdAbsNotAllowed,
            "
                ldabsb 0
                exit
            "
        ),
        ok!(
            "ld_abs in socket filter",
            Ty::Skb,
            "
                mov %r6, %r1
                ldabsb 12
                exit
            "
        ),
        bad!(
            "ld_abs needs ctx in r6",
            Ty::Skb,
            K::LdAbsNeedsCtx,
            "
                ldabsb 12
                exit
            "
        ),
        bad!(
            "ld_ind clobbers r1",
            Ty::Skb,
            K::UninitRegister { reg: 1 },
            "
                mov %r6, %r1
                mov %r7, 2
                ldindb %r7, 0
                mov %r0, %r1
                exit
            "
        ),
        ok!(
            "ld_ind in memory program",
            M,
            "
                mov %r7, 2
                ldindh %r7, 0
                exit
            "
        ),
        bad!(
            "ld_ind with pointer index",
            M,
            K::PointerLeak { .. },
            "
                ldindh %r10, 0
                exit
            "
        ),
    ]
}

fn alu_cases() -> Vec<Case> {
    std::vec![
        ok!(
            "mov and add",
            M,
            "
                mov %r0, 1
                add %r0, 2
                exit
            "
        ),
        ok!(
            "all 64-bit ops",
            M,
            "
                mov %r0, 100
                sub %r0, 1
                mul %r0, 3
                div %r0, 2
                mod %r0, 7
                or %r0, 8
                and %r0, 255
                lsh %r0, 2
                rsh %r0, 1
                arsh %r0, 1
                xor %r0, 5
                neg %r0
                bswap32 %r0
                exit
            "
        ),
        ok!(
            "all 32-bit ops",
            M,
            "
                mov32 %r0, 100
                sub32 %r0, 1
                mul32 %r0, 3
                div32 %r0, 2
                mod32 %r0, 7
                or32 %r0, 8
                and32 %r0, 255
                lsh32 %r0, 2
                rsh32 %r0, 1
                arsh32 %r0, 1
                xor32 %r0, 5
                neg32 %r0
                le16 %r0
                be32 %r0
                exit
            "
        ),
        ok!(
            "signed div and mod",
            M,
            "
                mov %r0, -7
                sdiv %r0, 2
                smod %r0, 3
                exit
            "
        ),
        ok!(
            "movsx",
            M,
            "
                mov %r1, 128
                movsx864 %r0, %r1
                exit
            "
        ),
        ok!(
            "pointer add const",
            M,
            "
                mov %r0, %r1
                add %r0, 4
                ldxb %r0, [%r0]
                exit
            "
        ),
        bad!(
            "pointer multiply",
            M,
            @1,
            K::PointerArith { reg: 1, .. },
            "
                mov %r0, %r2
                mul %r1, 2
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "pointer and",
            M,
            K::PointerArith { .. },
            "
                and %r1, 255
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "pointer or with scalar src",
            M,
            K::PointerArith { .. },
            "
                mov %r3, 1
                or %r3, %r1
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "scalar plus pointer gives pointer",
            M,
            "
                mov %r3, 1
                add %r3, %r1
                ldxb %r0, [%r3]
                exit
            "
        ),
        bad!(
            "scalar minus pointer",
            M,
            K::PointerArith { .. },
            "
                mov %r3, 1
                sub %r3, %r1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "32-bit add on pointer",
            M,
            @0,
            K::Pointer32 { reg: 1 },
            "
                add32 %r1, 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "32-bit and on pointer",
            M,
            @0,
            K::Pointer32 { reg: 1 },
            "
                and32 %r1, 7
                mov %r0, 0
                exit
            "
        ),
        // As Linux with `allow_ptr_leaks`: the low half of an address is a 32-bit number.
        ok!(
            "mov32 of pointer is a number",
            M,
            "
                mov32 %r3, %r1
                jle %r3, -1, skip
                ldxb %r0, [%r1]
            skip:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "mov32 of pointer is no pointer",
            M,
            @1,
            K::InvalidMemAccess { reg: 3, ty: "scalar" },
            "
                mov32 %r3, %r1
                ldxb %r0, [%r3]
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "mov32 of pointer is no pointer to add to",
            M,
            @1,
            K::PointerOutOfBounds { reg: 1 },
            "
                mov32 %r3, %r1
                add %r1, %r3
                ldxb %r0, [%r1]
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "32-bit sub of pointers is a number",
            M,
            "
                mov %r3, %r1
                add %r3, 8
                sub32 %r3, %r1
                sub32 %r1, 4
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "64-bit scalar minus pointer",
            M,
            @1,
            K::PointerArith { .. },
            "
                mov %r3, 0
                sub %r3, %r1
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "mov64 of pointer twin",
            M,
            "
                mov %r3, %r1
                ldxb %r0, [%r3]
                exit
            "
        ),
        bad!(
            "neg of pointer",
            M,
            K::PointerArith { .. },
            "
                neg %r1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "bswap of pointer",
            M,
            K::PointerArith { .. },
            "
                bswap64 %r1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "movsx of pointer",
            M,
            K::PointerArith { .. },
            "
                movsx864 %r0, %r1
                exit
            "
        ),
        bad!(
            "arith on pkt_end",
            XDP,
            K::PointerArithOnType {
                reg: 3,
                ty: "pkt_end"
            },
            PKT,
            "
                add %r3, 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "arith on map_value_or_null",
            XDP,
            K::PointerArithOnType {
                reg: 0,
                ty: "map_value_or_null"
            },
            key_args(0),
            "
                call 1
                add %r0, 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "arith on map ptr",
            XDP,
            K::PointerArithOnType { .. },
            "
                lddw %r1, map[0]
                add %r1, 1
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "pkt minus pkt is scalar",
            XDP,
            PKT,
            "
                mov %r0, %r3
                sub %r0, %r2
                exit
            "
        ),
        bad!(
            "ctx minus stack",
            XDP,
            K::PointerArith { .. },
            "
                mov %r0, %r1
                sub %r0, %r10
                exit
            "
        ),
        bad!(
            "pointer offset too large",
            M,
            K::PointerOutOfBounds { .. },
            "
                lddw %r3, 0x10000000000
                add %r1, %r3
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "pointer plus unbounded scalar",
            M,
            K::PointerOutOfBounds { .. },
            "
                ldxdw %r3, [%r1]
                add %r1, %r3
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "pointer plus masked scalar",
            M,
            "
                ldxdw %r3, [%r1]
                and %r3, 31
                add %r1, %r3
                ldxb %r0, [%r1]
                exit
            "
        ),
        ok!(
            "division by zero register is defined",
            M,
            "
                ldxb %r3, [%r1]
                mov %r0, 10
                div %r0, %r3
                mod %r0, %r3
                exit
            "
        ),
        ok!(
            "lddw constant",
            M,
            "
                lddw %r0, 0x1122334455667788
                exit
            "
        ),
    ]
}

fn branch_cases() -> Vec<Case> {
    std::vec![
        // Infeasible branches are not explored: the bad load sits on the impossible side.
        ok!(
            "constant compare prunes dead side",
            M,
            "
                mov %r3, 5
                jeq %r3, 5, skip
                ldxdw %r0, [%r3]
            skip:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "feasible side with bad load",
            M,
            K::InvalidMemAccess {
                reg: 3,
                ty: "scalar"
            },
            "
                ldxb %r3, [%r1]
                jeq %r3, 5, skip
                ldxdw %r0, [%r3]
            skip:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "bounds check gives index range",
            M,
            "
                ldxb %r3, [%r1]
                jgt %r3, 56, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "bounds check off by one",
            M,
            K::MemAccess { .. },
            "
                ldxb %r3, [%r1]
                jgt %r3, 57, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "jlt refinement",
            M,
            "
                ldxb %r3, [%r1]
                jlt %r3, 57, ok
                mov %r0, 0
                exit
            ok:
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            "
        ),
        ok!(
            "jge refinement",
            M,
            "
                ldxb %r3, [%r1]
                jge %r3, 57, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "jle refinement",
            M,
            "
                ldxb %r3, [%r1]
                jle %r3, 56, ok
                mov %r0, 0
                exit
            ok:
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            "
        ),
        bad!(
            "signed check lets negatives through",
            M,
            K::NegativeOffset { .. },
            "
                ldxsb %r3, [%r1]
                jsgt %r3, 56, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "signed check both sides",
            M,
            "
                ldxsb %r3, [%r1]
                jsgt %r3, 56, out
                jslt %r3, 0, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "jsge/jsle",
            M,
            "
                ldxsb %r3, [%r1]
                jsge %r3, 57, out
                jsle %r3, -1, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "reg vs reg refinement",
            M,
            "
                ldxb %r3, [%r1]
                mov %r4, 50
                jgt %r3, %r4, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "jmp32 refinement",
            M,
            "
                ldxb %r3, [%r1]
                jgt32 %r3, 56, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "jmp32 bound does not cover upper bits",
            M,
            K::PointerOutOfBounds { .. },
            "
                ldxdw %r3, [%r1]
                jgt32 %r3, 56, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "jne on constant",
            M,
            "
                ldxb %r3, [%r1]
                jne %r3, 3, out
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "jset clears bits on fallthrough",
            M,
            "
                ldxb %r3, [%r1]
                jset %r3, 192, out
                add %r1, %r3
                ldxb %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "jset taken side keeps bits",
            M,
            K::MemAccess { .. },
            "
                ldxb %r3, [%r1]
                jset %r3, 192, taken
                mov %r0, 0
                exit
            taken:
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            "
        ),
        bad!(
            "pointer vs scalar comparison",
            M,
            K::PointerComparison { .. },
            "
                mov %r3, 7
                jgt %r1, %r3, next
            next:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "stack vs ctx comparison",
            XDP,
            K::PointerComparison { .. },
            "
                jeq %r1, %r10, next
            next:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "jmp32 on pointer",
            XDP,
            K::Pointer32 { .. },
            PKT,
            "
                jeq32 %r2, 0, next
            next:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "non-null pointer vs zero",
            M,
            "
                jeq %r1, 0, ok
                mov %r0, 0
                exit
            ok:
                ldxdw %r0, [%r3]
                exit
            "
        ),
        ok!(
            "ja32 long jump",
            M,
            "
                ldxb %r3, [%r1]
                mov %r0, 0
                jeq %r3, 0, skip
                ja32 exit
            skip:
                mov %r0, 1
                exit
            "
        ),
    ]
}

/// clang's header-length check of `examples/bench/parse.c` for a 64-byte buffer: r4 is an IP
/// header length in [20, 60], r1 points 14 bytes into the buffer, and the bound is checked on a
/// copy: `r5 = r4; r5 += 22; if r5 > r2 goto out; r1 += r4; r0 = *(u8 *)(r1 + load_off)`, where
/// `add` is the line that makes r5 from the copy.
fn parse_len_check(add: &str, load_off: i16) -> String {
    std::format!(
        "
    ldxb %r4, [%r1+14]
    lsh32 %r4, 2
    and32 %r4, 60
    jlt32 %r4, 20, out
    add %r1, 14
    mov %r5, %r4
    {add}
    jgt %r5, %r2, out
    add %r1, %r4
    ldxb %r0, [%r1{load_off:+}]
    exit
out:
    mov %r0, 0
    exit
"
    )
}

/// Linked scalars: a copy and the copy plus a constant are refined together.
fn link_cases() -> Vec<Case> {
    std::vec![
        ok!(
            "bound checked on a copy plus a constant (parse, 64 B)",
            M,
            parse_len_check("add %r5, 22", 7)
        ),
        bad!(
            "copy plus a constant, one byte too far",
            M,
            @9,
            K::MemAccess { off: 64, .. },
            parse_len_check("add %r5, 22", 8)
        ),
        ok!(
            "subtracting a constant keeps the link",
            M,
            parse_len_check("sub %r5, -22", 7)
        ),
        bad!(
            "a variable addend breaks the link",
            M,
            @9,
            K::MemAccess { .. },
            parse_len_check("add %r5, %r4", 0)
        ),
        bad!(
            "a 32-bit add breaks the link",
            M,
            @9,
            K::MemAccess { .. },
            parse_len_check("add32 %r5, 22", 7)
        ),
        ok!(
            "32-bit copy of a 32-bit number is linked",
            M,
            "
                ldxb %r4, [%r1]
                mov32 %r5, %r4
                jgt %r5, 56, out
                add %r1, %r4
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "32-bit copy of a 64-bit number is not linked",
            M,
            @3,
            K::PointerOutOfBounds { reg: 1 },
            "
                ldxdw %r4, [%r1]
                mov32 %r5, %r4
                jgt %r5, 56, out
                add %r1, %r4
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "checking the original bounds the copy",
            M,
            "
                ldxb %r4, [%r1]
                mov %r5, %r4
                add %r5, 8
                jgt %r4, 40, out
                add %r1, %r5
                ldxdw %r0, [%r1+8]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "checking the original, copy one byte too far",
            M,
            @5,
            K::MemAccess { .. },
            "
                ldxb %r4, [%r1]
                mov %r5, %r4
                add %r5, 8
                jgt %r4, 40, out
                add %r1, %r5
                ldxdw %r0, [%r1+9]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        // 2^64 - 22 + 22 wraps to 0: the copy passes the check, the original is huge.
        bad!(
            "a link that wraps bounds nothing",
            M,
            @5,
            K::NegativeOffset { reg: 1 },
            "
                ldxdw %r4, [%r1]
                mov %r5, %r4
                add %r5, 22
                jgt %r5, 40, out
                add %r1, %r4
                ldxb %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "a spilled copy is refined too",
            M,
            "
                ldxb %r4, [%r1]
                mov %r5, %r4
                stxdw [%r10-8], %r4
                mov %r4, 0
                jgt %r5, 56, out
                ldxdw %r6, [%r10-8]
                add %r1, %r6
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "a spill overwritten after the copy is not refined",
            M,
            @7,
            K::MemAccess { .. },
            "
                ldxb %r4, [%r1]
                mov %r5, %r4
                stxdw [%r10-8], %r4
                # The slot is a new number now, the byte in [0, 255] the link knows no more of.
                stb [%r10-1], 0
                jgt %r5, 56, out
                ldxdw %r6, [%r10-8]
                add %r1, %r6
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "overwriting the original drops it from the link",
            M,
            @5,
            K::MemAccess { .. },
            "
                ldxb %r4, [%r1]
                mov %r5, %r4
                ldxb %r4, [%r1+1]
                jgt %r5, 56, out
                add %r1, %r4
                ldxdw %r0, [%r1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        // The linked path reaches pc 6 first and completes; the unlinked one must not be
        // pruned against it, though every range matches.
        bad!(
            "a linked state does not cover an unlinked one",
            M,
            @8,
            K::MemAccess { .. },
            "
                ldxb %r4, [%r1]
                ldxb %r5, [%r1+1]
                ldxb %r6, [%r1+2]
                jgt %r6, 5, linked
                ja check
            linked:
                mov %r5, %r4
            check:
                jgt %r5, 50, out
                add %r1, %r4
                ldxb %r0, [%r1+13]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        // Both sides of a jump to the next instruction are explored, each with its own
        // refinement of the link: the `r3 >= 28` side must not keep `r8 < 28`.
        bad!(
            "each side of a linked comparison has its own refinement",
            M,
            @5,
            K::MemAccess { .. },
            "
                ldxb %r8, [%r1+13]
                mov %r3, %r8
                jlt %r3, 28, next
            next:
                mov %r6, %r1
                add %r6, %r8
                stxh [%r6+2], %r3
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "both paths linked are pruned where they meet",
            M,
            "
                ldxb %r4, [%r1]
                ldxb %r6, [%r1+2]
                jgt %r6, 5, linked
                mov %r5, %r4
                ja check
            linked:
                mov %r5, %r4
            check:
                jgt %r5, 50, out
                add %r1, %r4
                ldxb %r0, [%r1+13]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
    ]
}

fn loop_cases() -> Vec<Case> {
    std::vec![
        ok!(
            "constant-bound loop",
            M,
            "
                mov %r0, 0
                mov %r3, 0
            loop:
                add %r0, 2
                add %r3, 1
                jlt %r3, 100, loop
                exit
            "
        ),
        bad!(
            "loop whose counter does not matter",
            M,
            K::InfiniteLoop,
            "
                mov %r0, 0
            loop:
                add %r0, 1
                ja loop
            "
        ),
        bad!(
            "unbounded loop",
            M,
            K::TooComplex(TooComplexReason::Budget),
            "
                mov %r0, 0
            loop:
                add %r0, 1
                jsgt %r0, 0, loop
                exit
            "
        ),
        bad!(
            "jump to self",
            M,
            K::InfiniteLoop,
            "
                mov %r0, 0
            loop:
                ja loop
            "
        ),
        bad!(
            "loop that never changes",
            M,
            K::InfiniteLoop,
            "
                mov %r0, 0
                mov %r3, 0
            loop:
                jeq %r3, 0, loop
                exit
            "
        ),
        ok!(
            "loop bounded by input",
            M,
            "
                ldxb %r3, [%r1]
                mov %r0, 0
            loop:
                add %r0, 1
                sub %r3, 1
                jsgt %r3, 0, loop
                exit
            "
        ),
        ok!(
            "down-counting loop",
            M,
            "
                mov %r3, 50
                mov %r0, 0
            loop:
                add %r0, 3
                sub %r3, 1
                jne %r3, 0, loop
                exit
            "
        ),
        bad!(
            "loop with wrong exit test",
            M,
            K::TooComplex(TooComplexReason::Budget),
            "
                mov %r3, 50
                mov %r0, 0
            loop:
                add %r3, 1
                jne %r3, 0, loop
                exit
            "
        ),
        ok!(
            "loop indexing memory",
            M,
            "
                mov %r3, 0
                mov %r0, 0
            loop:
                mov %r4, %r1
                add %r4, %r3
                ldxb %r5, [%r4]
                add %r0, %r5
                add %r3, 1
                jlt %r3, 64, loop
                exit
            "
        ),
        bad!(
            "loop indexing one past memory",
            M,
            K::MemAccess { .. },
            "
                mov %r3, 0
                mov %r0, 0
            loop:
                mov %r4, %r1
                add %r4, %r3
                ldxb %r5, [%r4]
                add %r0, %r5
                add %r3, 1
                jle %r3, 64, loop
                exit
            "
        ),
        ok!(
            "diamond is pruned",
            M,
            "
                ldxb %r3, [%r1]
                mov %r0, 0
                jeq %r3, 1, skip
                mov %r0, 1
            skip:
                jeq %r3, 2, exit
                mov %r4, 1
                exit
            "
        ),
    ]
}

fn stack_cases() -> Vec<Case> {
    // Twenty slots zeroed with 8-byte stores, more than there are spill entries; the last
    // comes back as exactly 0, so the dereference behind its null check is dead code.
    let zeroes = || {
        let mut p = String::from("mov %r1, 0\n");
        for k in 1..=20 {
            p += &std::format!("stxdw [%r10-{}], %r1\n", 8 * k);
        }
        p
    };
    std::vec![
        ok!(
            "zeroed slots beyond the spill entries stay exactly 0",
            M,
            zeroes(),
            "
                ldxdw %r2, [%r10-160]
                jeq %r2, 0, skip
                ldxdw %r0, [%r2]
            skip:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "a slot zeroed then partly overwritten is no longer 0",
            M,
            K::InvalidMemAccess { reg: 2, .. },
            zeroes(),
            "
                stb [%r10-160], 1
                ldxdw %r2, [%r10-160]
                jeq %r2, 0, skip
                ldxdw %r0, [%r2]
            skip:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "stack write then read",
            M,
            "
                stdw [%r10-8], 7
                ldxdw %r0, [%r10-8]
                exit
            "
        ),
        bad!(
            "stack read uninit",
            M,
            @0,
            K::StackReadUninit { off: -8, size: 8 },
            "
                ldxdw %r0, [%r10-8]
                exit
            "
        ),
        bad!(
            "stack read partly init",
            M,
            K::StackReadUninit { .. },
            "
                stw [%r10-8], 7
                ldxdw %r0, [%r10-8]
                exit
            "
        ),
        ok!(
            "stack read of written half",
            M,
            "
                stw [%r10-8], 7
                ldxw %r0, [%r10-8]
                exit
            "
        ),
        bad!(
            "stack below frame",
            M,
            @0,
            K::StackAccess { off: -520, size: 8 },
            "
                stdw [%r10-520], 0
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "stack at frame bottom",
            M,
            "
                stdw [%r10-512], 0
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "stack above r10",
            M,
            K::StackAccess { off: -4, size: 8 },
            "
                stdw [%r10-4], 0
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "variable stack write inside the frame",
            M,
            "
                ldxb %r3, [%r1]
                and %r3, 7
                mov %r4, %r10
                add %r4, -16
                add %r4, %r3
                stb [%r4], 0
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "a variable stack write initialises nothing",
            M,
            @6,
            K::StackReadUninit { .. },
            "
                ldxb %r3, [%r1]
                and %r3, 7
                mov %r4, %r10
                add %r4, -16
                add %r4, %r3
                stb [%r4], 0
                ldxb %r0, [%r10-16]
                exit
            "
        ),
        bad!(
            "variable stack write that may pass the frame's end",
            M,
            @5,
            K::StackAccess { .. },
            "
                ldxb %r3, [%r1]
                and %r3, 7
                mov %r4, %r10
                add %r4, -4
                add %r4, %r3
                stb [%r4], 0
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "variable stack read of initialised bytes",
            M,
            "
                stdw [%r10-16], 1
                stdw [%r10-8], 2
                ldxb %r3, [%r1]
                and %r3, 7
                mov %r4, %r10
                add %r4, -16
                add %r4, %r3
                ldxdw %r0, [%r4]
                exit
            "
        ),
        bad!(
            "variable stack read of bytes that may be uninitialised",
            M,
            @6,
            K::StackReadUninit { .. },
            "
                stdw [%r10-16], 1
                ldxb %r3, [%r1]
                and %r3, 7
                mov %r4, %r10
                add %r4, -16
                add %r4, %r3
                ldxdw %r0, [%r4]
                exit
            "
        ),
        bad!(
            "variable stack read over a spilled pointer",
            M,
            @6,
            K::CorruptSpill { .. },
            "
                stxdw [%r10-16], %r1
                ldxb %r3, [%r1]
                and %r3, 7
                mov %r4, %r10
                add %r4, -16
                add %r4, %r3
                ldxb %r0, [%r4]
                exit
            "
        ),
        bad!(
            "variable stack write of a pointer",
            M,
            @5,
            K::PointerLeak { .. },
            "
                ldxb %r3, [%r1]
                and %r3, 7
                mov %r4, %r10
                add %r4, -16
                add %r4, %r3
                stxdw [%r4], %r1
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "a pointer spill takes the entry of a spilled number when all are taken",
            M,
            "
                stdw [%r10-8], 1
                stdw [%r10-16], 2
                stdw [%r10-24], 3
                stdw [%r10-32], 4
                stdw [%r10-40], 5
                stdw [%r10-48], 6
                stdw [%r10-56], 7
                stdw [%r10-64], 8
                stdw [%r10-72], 9
                stdw [%r10-80], 10
                stdw [%r10-88], 11
                stdw [%r10-96], 12
                stdw [%r10-104], 13
                stdw [%r10-112], 14
                stw [%r10-120], 15
                sth [%r10-128], 16
                stxdw [%r10-136], %r1
                ldxdw %r1, [%r10-136]
                ldxdw %r0, [%r1]
                exit
            "
        ),
        ok!(
            "narrow spill of a bounded u32 keeps its bounds",
            M,
            "
                ldxw %r3, [%r1]
                jgt %r3, 56, skip
                stxw [%r10-4], %r3
                ldxw %r3, [%r10-4]
                add %r1, %r3
                ldxdw %r0, [%r1]
            skip:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "narrow spill of an unbounded u32 is still unbounded",
            M,
            @5,
            K::MemAccess { .. },
            "
                ldxw %r3, [%r1]
                jgt %r3, 57, skip
                stxw [%r10-4], %r3
                ldxw %r3, [%r10-4]
                add %r1, %r3
                ldxdw %r0, [%r1]
            skip:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "spill and fill a pointer",
            M,
            "
                stxdw [%r10-8], %r1
                ldxdw %r3, [%r10-8]
                ldxb %r0, [%r3]
                exit
            "
        ),
        ok!(
            "spill and fill an exact constant",
            M,
            "
                mov %r3, 8
                stxdw [%r10-8], %r3
                ldxdw %r3, [%r10-8]
                add %r1, %r3
                ldxdw %r0, [%r1]
                exit
            "
        ),
        bad!(
            "partial read of spilled pointer",
            M,
            K::CorruptSpill { .. },
            "
                stxdw [%r10-8], %r1
                ldxw %r0, [%r10-8]
                exit
            "
        ),
        ok!(
            "partial overwrite of spilled pointer destroys it",
            M,
            "
                stxdw [%r10-8], %r1
                stb [%r10-8], 0
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "the rest of a partly overwritten spilled pointer is not readable",
            M,
            @2,
            K::StackReadUninit { .. },
            "
                stxdw [%r10-8], %r1
                stb [%r10-8], 0
                ldxdw %r2, [%r10-8]
                ldxb %r0, [%r2]
                exit
            "
        ),
        ok!(
            "full overwrite of spilled pointer",
            M,
            "
                stxdw [%r10-8], %r1
                stdw [%r10-8], 0
                ldxdw %r0, [%r10-8]
                exit
            "
        ),
        bad!(
            "pointer stored with 4 bytes",
            M,
            K::CorruptSpill { .. },
            "
                stxw [%r10-8], %r1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "misaligned pointer spill",
            M,
            K::CorruptSpill { .. },
            "
                stxdw [%r10-12], %r1
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "misaligned scalar store",
            M,
            "
                stdw [%r10-12], 1
                ldxdw %r0, [%r10-12]
                exit
            "
        ),
        bad!(
            "filled pointer is still a pointer (return leak)",
            M,
            K::PointerLeak {
                reg: 0,
                into: LeakTarget::Return
            },
            "
                stxdw [%r10-8], %r1
                ldxdw %r0, [%r10-8]
                exit
            "
        ),
        ok!(
            "narrow read of spilled scalar",
            M,
            "
                mov %r3, 4660
                stxdw [%r10-8], %r3
                ldxh %r0, [%r10-8]
                exit
            "
        ),
        ok!(
            "callee uses caller stack through pointer",
            M,
            "
                stdw [%r10-8], 3
                mov %r1, %r10
                add %r1, -8
                call local fn1
                exit
            fn1:
                ldxdw %r0, [%r1]
                exit
            "
        ),
        bad!(
            "callee returns its stack pointer",
            M,
            K::StackPointerEscape { reg: 0 },
            "
                call local fn1
                mov %r0, 0
                exit
            fn1:
                mov %r0, %r10
                exit
            "
        ),
        bad!(
            "callee stores its stack pointer in caller frame",
            M,
            K::StackPointerEscape { .. },
            "
                mov %r1, %r10
                add %r1, -8
                call local fn1
                mov %r0, 0
                exit
            fn1:
                stxdw [%r1], %r10
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "stack leak into mem",
            M,
            K::PointerLeak {
                into: LeakTarget::Mem,
                ..
            },
            "
                stxdw [%r1], %r10
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "scalar store into mem",
            M,
            "
                stxdw [%r1], %r2
                mov %r0, 0
                exit
            "
        ),
    ]
}

fn mem_cases() -> Vec<Case> {
    std::vec![
        ok!(
            "memory read in bounds",
            M,
            "
                ldxdw %r0, [%r1+56]
                exit
            "
        ),
        bad!(
            "memory read past end",
            M,
            K::MemAccess {
                off: 57,
                size: 8,
                len: 64
            },
            "
                ldxdw %r0, [%r1+57]
                exit
            "
        ),
        bad!(
            "memory read before start",
            M,
            K::MemAccess { .. },
            "
                ldxb %r0, [%r1-1]
                exit
            "
        ),
        bad!(
            "scalar dereference",
            M,
            @1,
            K::InvalidMemAccess { reg: 2, ty: "scalar" },
            "
                mov %r2, 0
                ldxdw %r0, [%r2]
                exit
            "
        ),
        bad!(
            "empty buffer",
            Ty::Mem(0),
            K::MemAccess { .. },
            "
                ldxb %r0, [%r1]
                exit
            "
        ),
        ok!(
            "atomic add on memory",
            M,
            "
                mov %r3, 1
                lock add [%r1+8], %r3
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "atomic fetch on stack",
            M,
            "
                stdw [%r10-8], 0
                mov %r3, 1
                lock fetch add [%r10-8], %r3
                mov %r0, %r3
                exit
            "
        ),
        bad!(
            "atomic on uninit stack",
            M,
            K::StackReadUninit { .. },
            "
                mov %r3, 1
                lock add [%r10-8], %r3
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "misaligned atomic",
            M,
            K::Misaligned { off: 4, size: 8 },
            "
                mov %r3, 1
                lock add [%r1+4], %r3
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "aligned 32-bit atomic",
            M,
            "
                mov %r3, 1
                lock add32 [%r1+4], %r3
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "atomic with pointer source",
            M,
            K::PointerLeak { .. },
            "
                lock add [%r1], %r10
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "atomic on ctx",
            XDP,
            K::AtomicNotAllowed { ty: "ctx", .. },
            "
                mov %r3, 1
                lock add32 [%r1], %r3
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "atomic on packet",
            XDP,
            K::AtomicNotAllowed { ty: "pkt", .. },
            PKT,
            "
                mov %r3, 1
                lock add32 [%r2], %r3
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "cmpxchg uses r0",
            M,
            "
                mov %r0, 0
                mov %r3, 1
                lock cmpxchg [%r1], %r3
                exit
            "
        ),
        bad!(
            "cmpxchg with uninit r0",
            M,
            K::UninitRegister { reg: 0 },
            "
                mov %r3, 1
                lock cmpxchg [%r1], %r3
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "sign-extending load",
            M,
            "
                ldxsw %r0, [%r1]
                exit
            "
        ),
        ok!(
            "unaligned plain load",
            M,
            "
                ldxw %r0, [%r1+3]
                exit
            "
        ),
        bad!(
            "lddw map index out of table",
            XDP,
            K::BadMap { index: 9 },
            "
                lddw %r1, map[9]
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "lddw map value address",
            XDP,
            "
                lddw %r3, map_value[1]+8
                ldxdw %r0, [%r3]
                exit
            "
        ),
        // Found by fuzzing: a program deleted key 0 of a hash map, then took the address of
        // its "value" with `lddw`; the engine could not resolve it. Only arrays qualify.
        bad!(
            "lddw value address of a hash map",
            XDP,
            K::NoDirectValueAccess { index: 0 },
            "
                lddw %r3, map_value[0]+0
                ldxdw %r0, [%r3]
                exit
            "
        ),
        bad!(
            "lddw map value address past value",
            XDP,
            K::MapValueAccess { .. },
            "
                lddw %r3, map_value[1]+16
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "map value address read past value",
            XDP,
            K::MapValueAccess { .. },
            "
                lddw %r3, map_value[1]+12
                ldxdw %r0, [%r3]
                exit
            "
        ),
        // Found by fuzzing (differential, minimised): an `lddw` of a map the table lacks, behind
        // a branch the verifier knows is never taken, passed; the JIT, which compiles dead
        // code too, could not resolve it. Every `lddw` is checked, reachable or not.
        bad!(
            "lddw of a missing map in dead code",
            XDP,
            @4,
            K::BadMap { index: 7 },
            "
                mov %r9, 2147483647
                jsle32 %r9, 4, dead
                mov %r0, 0
                exit
            dead:
                lddw %r1, map[7]
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "lddw value address of a hash map in dead code",
            XDP,
            @4,
            K::NoDirectValueAccess { index: 0 },
            "
                mov %r9, 5
                jeq %r9, 4, dead
                mov %r0, 0
                exit
            dead:
                lddw %r3, map_value[0]+0
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "map ptr dereference",
            XDP,
            K::InvalidMemAccess { ty: "map_ptr", .. },
            "
                lddw %r3, map[0]
                ldxdw %r0, [%r3]
                exit
            "
        ),
        bad!(
            "pkt_end dereference",
            XDP,
            K::InvalidMemAccess { ty: "pkt_end", .. },
            PKT,
            "
                ldxb %r0, [%r3]
                exit
            "
        ),
    ]
}

fn ctx_cases() -> Vec<Case> {
    std::vec![
        ok!(
            "xdp data and data_end",
            XDP,
            PKT,
            "
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "xdp ifindex",
            XDP,
            "
                ldxw %r0, [%r1+12]
                exit
            "
        ),
        ok!(
            "xdp narrow scalar field load",
            XDP,
            "
                ldxb %r0, [%r1+13]
                exit
            "
        ),
        bad!(
            "xdp narrow load of data",
            XDP,
            K::CtxAccess { off: 0, size: 2 },
            "
                ldxh %r0, [%r1]
                exit
            "
        ),
        bad!(
            "xdp 8-byte load",
            XDP,
            K::CtxAccess { .. },
            "
                ldxdw %r0, [%r1]
                exit
            "
        ),
        bad!(
            "xdp past ctx",
            XDP,
            K::CtxAccess { off: 24, .. },
            "
                ldxw %r0, [%r1+24]
                exit
            "
        ),
        bad!(
            "xdp negative ctx off",
            XDP,
            K::CtxAccess { .. },
            "
                ldxw %r0, [%r1-4]
                exit
            "
        ),
        bad!(
            "xdp ctx write",
            XDP,
            K::CtxAccess { .. },
            "
                stw [%r1+12], 0
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "skb mark write",
            Ty::Skb,
            "
                stw [%r1+8], 1
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "skb cb write",
            Ty::Skb,
            "
                mov %r3, 9
                stxw [%r1+48], %r3
                ldxw %r0, [%r1+48]
                exit
            "
        ),
        bad!(
            "skb len write",
            Ty::Skb,
            K::CtxAccess { .. },
            "
                stw [%r1], 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "skb narrow mark write",
            Ty::Skb,
            K::CtxAccess { .. },
            "
                sth [%r1+8], 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "pointer into ctx",
            Ty::Skb,
            K::PointerLeak {
                into: LeakTarget::Ctx,
                ..
            },
            "
                stxw [%r1+48], %r10
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "modified ctx pointer",
            XDP,
            K::ModifiedCtx { reg: 1 },
            "
                add %r1, 4
                ldxw %r0, [%r1]
                exit
            "
        ),
        bad!(
            "mixed ctx and stack pointer at one insn",
            XDP,
            @7,
            K::MixedPointers,
            "
                ldxw %r3, [%r1+12]
                stdw [%r10-8], 0
                jeq %r3, 0, stack
                mov %r4, %r1
                ja load
            stack:
                mov %r4, %r10
                add %r4, -20
            load:
                ldxw %r0, [%r4+12]
                exit
            "
        ),
        ok!(
            "ctx pointer spill and fill",
            XDP,
            "
                stxdw [%r10-8], %r1
                ldxdw %r6, [%r10-8]
                ldxw %r0, [%r6+16]
                exit
            "
        ),
        ok!(
            "xdp data_meta",
            XDP,
            "
                ldxw %r2, [%r1+8]
                mov %r0, 0
                exit
            "
        ),
    ]
}

fn packet_cases() -> Vec<Case> {
    std::vec![
        // clang's `(u32)(data_end - data)`: the low halves of two packet pointers.
        ok!(
            "32-bit length of the packet, stored in the packet",
            XDP,
            PKT,
            "
                mov32 %r4, %r3
                sub32 %r4, %r2
                stxw [%r10-16], %r4
                mov %r5, %r2
                add %r5, 4
                jgt %r5, %r3, skip
                stxw [%r2], %r4
            skip:
                mov %r0, 2
                exit
            "
        ),
        bad!(
            "packet pointer stored in the packet",
            XDP,
            @8,
            K::PointerLeak { reg: 3, .. },
            PKT,
            "
                mov32 %r4, %r3
                sub32 %r4, %r2
                stxw [%r10-16], %r4
                mov %r5, %r2
                add %r5, 8
                jgt %r5, %r3, skip
                stxdw [%r2], %r3
            skip:
                mov %r0, 2
                exit
            "
        ),
        ok!(
            "packet read after data_end check",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                ldxh %r0, [%r2+12]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "packet read without check",
            XDP,
            K::PacketAccess {
                off: 12,
                size: 2,
                range: 0,
                ..
            },
            PKT,
            "
                ldxh %r0, [%r2+12]
                exit
            "
        ),
        bad!(
            "packet read off by one",
            XDP,
            K::PacketAccess {
                off: 13,
                size: 2,
                range: 14,
                ..
            },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                ldxh %r0, [%r2+13]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "packet read on failing side",
            XDP,
            K::PacketAccess { .. },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, ok
                mov %r0, 0
                exit
            ok:
                ldxb %r0, [%r2]
                exit
            "
        ),
        ok!(
            "packet check jge (strict gives one more)",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jge %r4, %r3, out
                ldxb %r0, [%r2+14]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "packet check jge off by one",
            XDP,
            K::PacketAccess { .. },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jge %r4, %r3, out
                ldxh %r0, [%r2+14]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "packet check jlt",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jlt %r4, %r3, ok
                mov %r0, 0
                exit
            ok:
                ldxb %r0, [%r2+14]
                exit
            "
        ),
        ok!(
            "packet check jle",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jle %r4, %r3, ok
                mov %r0, 0
                exit
            ok:
                ldxh %r0, [%r2+12]
                exit
            "
        ),
        bad!(
            "packet check jle too far",
            XDP,
            K::PacketAccess { .. },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jle %r4, %r3, ok
                mov %r0, 0
                exit
            ok:
                ldxb %r0, [%r2+14]
                exit
            "
        ),
        ok!(
            "end > pkt (taken)",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r3, %r4, ok
                mov %r0, 0
                exit
            ok:
                ldxb %r0, [%r2+14]
                exit
            "
        ),
        ok!(
            "end >= pkt (taken)",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jge %r3, %r4, ok
                mov %r0, 0
                exit
            ok:
                ldxb %r0, [%r2+13]
                exit
            "
        ),
        bad!(
            "end >= pkt off by one",
            XDP,
            K::PacketAccess { .. },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jge %r3, %r4, ok
                mov %r0, 0
                exit
            ok:
                ldxb %r0, [%r2+14]
                exit
            "
        ),
        ok!(
            "end < pkt (fallthrough)",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jlt %r3, %r4, out
                ldxb %r0, [%r2+13]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "end <= pkt (fallthrough)",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jle %r3, %r4, out
                ldxb %r0, [%r2+14]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "range proven through a copy",
            XDP,
            PKT,
            "
                mov %r5, %r2
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                ldxb %r0, [%r5+13]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "packet write of pointer",
            XDP,
            K::PointerLeak {
                into: LeakTarget::Packet,
                ..
            },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                stxdw [%r2], %r10
                mov %r0, 0
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "packet write of scalar",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                stw [%r2], 1
                mov %r0, 0
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "variable packet offset then check",
            XDP,
            PKT,
            "
                ldxw %r0, [%r1+12]
                and %r0, 255
                add %r2, %r0
                mov %r4, %r2
                add %r4, 4
                jgt %r4, %r3, out
                ldxw %r0, [%r2]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "variable offset loses range",
            XDP,
            K::PacketAccess { .. },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                ldxw %r0, [%r1+12]
                and %r0, 255
                add %r2, %r0
                ldxb %r0, [%r2]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "helper that moves the packet invalidates pointers",
            XDP,
            K::UninitRegister { reg: 6 },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                mov %r6, %r2
                mov %r2, 4
                call 44
                ldxb %r0, [%r6]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "reload after adjust_head",
            XDP,
            "
                mov %r6, %r1
                mov %r2, 4
                call 44
                mov %r1, %r6
                ldxw %r2, [%r1]
                ldxw %r3, [%r1+4]
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                ldxb %r0, [%r2]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "a signed bound on data_end - data proves the packet",
            XDP,
            "
                ldxw %r2, [%r1]
                ldxw %r3, [%r1+4]
                sub %r3, %r2
                jslt %r3, 14, out
                ldxb %r0, [%r2+13]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "a bound on data_end - data proves no byte past it",
            XDP,
            @4,
            K::PacketAccess { .. },
            "
                ldxw %r2, [%r1]
                ldxw %r3, [%r1+4]
                sub %r3, %r2
                jslt %r3, 14, out
                ldxb %r0, [%r2+14]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "a signed bound on data_end - (data + 4) proves four bytes more",
            XDP,
            "
                ldxw %r2, [%r1]
                ldxw %r3, [%r1+4]
                mov %r4, %r2
                add %r4, 4
                sub %r3, %r4
                jslt %r3, 14, out
                ldxb %r0, [%r2+17]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "an unsigned bound on data_end - (data + 4) proves nothing",
            XDP,
            @6,
            K::PacketAccess { .. },
            "
                ldxw %r2, [%r1]
                ldxw %r3, [%r1+4]
                mov %r4, %r2
                add %r4, 4
                sub %r3, %r4
                jlt %r3, 14, out
                ldxb %r0, [%r2]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "the room measured before adjust_head proves nothing after",
            XDP,
            @8,
            K::PacketAccess { .. },
            "
                mov %r6, %r1
                ldxw %r2, [%r1]
                ldxw %r7, [%r1+4]
                sub %r7, %r2
                mov %r2, 4
                call 44
                ldxw %r2, [%r6]
                jslt %r7, 14, out
                ldxb %r0, [%r2+13]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "pkt_meta checked against data",
            XDP,
            "
                ldxw %r2, [%r1]
                ldxw %r4, [%r1+8]
                mov %r5, %r4
                add %r5, 4
                jgt %r5, %r2, out
                ldxw %r0, [%r4]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "pkt_meta unchecked",
            XDP,
            K::PacketAccess { .. },
            "
                ldxw %r4, [%r1+8]
                ldxw %r0, [%r4]
                exit
            "
        ),
        bad!(
            "packet access with negative offset",
            XDP,
            K::PacketAccess { .. },
            PKT,
            "
                mov %r4, %r2
                add %r4, 14
                jgt %r4, %r3, out
                ldxb %r0, [%r2-1]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
    ]
}

fn map_cases() -> Vec<Case> {
    std::vec![
        ok!(
            "lookup then null check",
            XDP,
            key_args(0),
            "
                call 1
                jeq %r0, 0, exit
                ldxdw %r0, [%r0]
                exit
            "
        ),
        bad!(
            "lookup without null check",
            XDP,
            K::InvalidMemAccess {
                reg: 0,
                ty: "map_value_or_null"
            },
            key_args(0),
            "
                call 1
                ldxdw %r0, [%r0]
                exit
            "
        ),
        ok!(
            "null check on a copy refines the original",
            XDP,
            key_args(0),
            "
                call 1
                mov %r6, %r0
                jeq %r6, 0, out
                ldxdw %r0, [%r0]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "jne null check",
            XDP,
            key_args(0),
            "
                call 1
                jne %r0, 0, ok
                exit
            ok:
                ldxdw %r0, [%r0]
                exit
            "
        ),
        bad!(
            "map value read past value",
            XDP,
            K::MapValueAccess {
                off: 4,
                size: 8,
                value_size: 8
            },
            key_args(0),
            "
                call 1
                jeq %r0, 0, exit
                ldxdw %r0, [%r0+4]
                exit
            "
        ),
        ok!(
            "array value with bounded index",
            XDP,
            key_args(1),
            "
                call 1
                jeq %r0, 0, out
                ldxdw %r3, [%r0]
                and %r3, 7
                add %r0, %r3
                ldxdw %r0, [%r0]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "array value with too large index",
            XDP,
            K::MapValueAccess { .. },
            key_args(1),
            "
                call 1
                jeq %r0, 0, out
                ldxdw %r3, [%r0]
                and %r3, 15
                add %r0, %r3
                ldxdw %r0, [%r0]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "map value negative variable offset",
            XDP,
            K::NegativeOffset { .. },
            key_args(1),
            "
                call 1
                jeq %r0, 0, out
                ldxsb %r3, [%r0]
                and %r3, 7
                sub %r0, %r3
                ldxb %r0, [%r0+4]
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "pointer leak into map",
            XDP,
            K::PointerLeak {
                reg: 10,
                into: LeakTarget::Map
            },
            key_args(0),
            "
                call 1
                jeq %r0, 0, exit
                stxdw [%r0], %r10
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "scalar store into map",
            XDP,
            key_args(0),
            "
                call 1
                jeq %r0, 0, exit
                mov %r3, 5
                stxdw [%r0], %r3
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "returning map value leaks",
            XDP,
            K::PointerLeak {
                reg: 0,
                into: LeakTarget::Return
            },
            key_args(0),
            "
                call 1
                exit
            "
        ),
        bad!(
            "lookup key uninit",
            XDP,
            K::StackReadUninit { .. },
            "
                mov %r2, %r10
                add %r2, -4
                lddw %r1, map[0]
                call 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "lookup key too small",
            XDP,
            K::StackAccess { .. },
            "
                stw [%r10-4], 0
                mov %r2, %r10
                add %r2, -2
                lddw %r1, map[0]
                call 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "lookup with scalar key",
            XDP,
            K::HelperArg { reg: 2, .. },
            "
                mov %r2, 0
                lddw %r1, map[0]
                call 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "lookup with non-map arg",
            XDP,
            K::HelperArg {
                reg: 1,
                found: "fp",
                ..
            },
            "
                stw [%r10-4], 0
                mov %r2, %r10
                add %r2, -4
                mov %r1, %r10
                call 1
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "update with stack value",
            XDP,
            "
                stdw [%r10-16], 0
                mov %r3, %r10
                add %r3, -16
                stw [%r10-4], 0
                mov %r2, %r10
                add %r2, -4
                lddw %r1, map[0]
                mov %r4, 0
                call 2
                exit
            "
        ),
        bad!(
            "update with short value",
            XDP,
            K::StackReadUninit { .. },
            "
                stw [%r10-16], 0
                mov %r3, %r10
                add %r3, -16
                stw [%r10-4], 0
                mov %r2, %r10
                add %r2, -4
                lddw %r1, map[0]
                mov %r4, 0
                call 2
                exit
            "
        ),
        bad!(
            "update flags pointer",
            XDP,
            K::PointerLeak {
                reg: 4,
                into: LeakTarget::HelperArg
            },
            "
                stdw [%r10-16], 0
                mov %r3, %r10
                add %r3, -16
                stw [%r10-4], 0
                mov %r2, %r10
                add %r2, -4
                lddw %r1, map[0]
                mov %r4, %r10
                call 2
                exit
            "
        ),
        ok!(
            "lookup key from map value",
            XDP,
            key_args(1),
            "
                call 1
                jeq %r0, 0, skip
                mov %r2, %r0
                lddw %r1, map[0]
                call 1
            skip:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "trace_printk with stack buffer",
            XDP,
            "
                stdw [%r10-8], 0
                mov %r1, %r10
                add %r1, -8
                mov %r2, 8
                mov %r3, 0
                call 6
                exit
            "
        ),
        bad!(
            "trace_printk size too large",
            XDP,
            K::StackAccess { .. },
            "
                stdw [%r10-8], 0
                mov %r1, %r10
                add %r1, -8
                mov %r2, 9
                mov %r3, 0
                call 6
                exit
            "
        ),
        bad!(
            "trace_printk zero size",
            XDP,
            K::HelperArg { reg: 2, .. },
            "
                stdw [%r10-8], 0
                mov %r1, %r10
                add %r1, -8
                mov %r2, 0
                mov %r3, 0
                call 6
                exit
            "
        ),
        bad!(
            "trace_printk unbounded size",
            XDP,
            K::UnboundedAccess { reg: 2 } | K::NegativeOffset { reg: 2 },
            "
                stdw [%r10-8], 0
                ldxw %r2, [%r1+12]
                or %r2, 1
                mov %r1, %r10
                add %r1, -8
                mov %r3, 0
                call 6
                exit
            "
        ),
        ok!(
            "probe_read initialises stack",
            XDP,
            "
                mov %r1, %r10
                add %r1, -16
                mov %r2, 16
                mov %r3, 0
                call 4
                ldxdw %r0, [%r10-16]
                exit
            "
        ),
        ok!(
            "csum_diff with zero sizes",
            XDP,
            "
                mov %r1, 0
                mov %r2, 0
                mov %r3, 0
                mov %r4, 0
                mov %r5, 0
                call 28
                exit
            "
        ),
        ok!(
            "csum_diff with packet",
            XDP,
            PKT,
            "
                mov %r4, %r2
                add %r4, 8
                jgt %r4, %r3, out
                mov %r1, %r2
                mov %r2, 8
                mov %r3, 0
                mov %r4, 0
                mov %r5, 0
                call 28
                exit
            out:
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "tail call",
            XDP,
            "
                lddw %r2, map[2]
                mov %r3, 0
                call 12
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "tail call with hash map",
            XDP,
            K::MapHelper { helper: 12 },
            "
                lddw %r2, map[0]
                mov %r3, 0
                call 12
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "lookup in prog array",
            XDP,
            K::MapHelper { helper: 1 },
            key_args(2),
            "
                call 1
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "tail call with modified ctx",
            XDP,
            K::ModifiedCtx { reg: 1 },
            "
                add %r1, 4
                lddw %r2, map[2]
                mov %r3, 0
                call 12
                mov %r0, 0
                exit
            "
        ),
        bad!(
            "tail call with non-ctx",
            XDP,
            K::HelperArg { reg: 1, .. },
            "
                mov %r1, %r10
                lddw %r2, map[2]
                mov %r3, 0
                call 12
                mov %r0, 0
                exit
            "
        ),
        ok!(
            "map value pointer spill/fill",
            XDP,
            key_args(0),
            "
                call 1
                jeq %r0, 0, exit
                stxdw [%r10-16], %r0
                ldxdw %r3, [%r10-16]
                ldxdw %r0, [%r3]
                exit
            "
        ),
        ok!(
            "nullable spill then check original",
            XDP,
            key_args(0),
            "
                call 1
                stxdw [%r10-16], %r0
                jeq %r0, 0, exit
                ldxdw %r3, [%r10-16]
                ldxdw %r0, [%r3]
                exit
            "
        ),
    ]
}

#[test]
fn structure_table() {
    check_cases(&structure_cases());
}

#[test]
fn alu_table() {
    check_cases(&alu_cases());
}

#[test]
fn branch_table() {
    check_cases(&branch_cases());
}

#[test]
fn linked_scalar_table() {
    check_cases(&link_cases());
}

#[test]
fn loop_table() {
    check_cases(&loop_cases());
}

#[test]
fn stack_table() {
    check_cases(&stack_cases());
}

#[test]
fn memory_table() {
    check_cases(&mem_cases());
}

#[test]
fn context_table() {
    check_cases(&ctx_cases());
}

#[test]
fn packet_table() {
    check_cases(&packet_cases());
}

#[test]
fn map_and_helper_table() {
    check_cases(&map_cases());
}

#[test]
fn table_has_enough_cases_and_every_verdict_kind() {
    let all: Vec<Case> = [
        structure_cases(),
        alu_cases(),
        branch_cases(),
        link_cases(),
        loop_cases(),
        stack_cases(),
        mem_cases(),
        ctx_cases(),
        packet_cases(),
        map_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let accepted = all.iter().filter(|c| c.expect.is_none()).count();
    assert!(all.len() >= 150, "only {} cases", all.len());
    assert!(accepted >= 60 && all.len() - accepted >= 60);
}

/// `DefaultWorkspace::new()` is usable in a `static` initialiser.
static STATIC_WS: std::sync::Mutex<DefaultWorkspace> =
    std::sync::Mutex::new(DefaultWorkspace::new());

#[test]
fn default_workspace_fits_in_64_kib_and_in_a_static() {
    let size = DefaultWorkspace::SIZE_BYTES;
    assert!(size <= 64 * 1024, "{size}");
    #[cfg(target_pointer_width = "64")]
    assert_eq!(size, 64_352, "update the documented size");
    let mut ws = STATIC_WS.lock().unwrap();
    let mut prog = [mov(0, 0), exit()].concat();
    assert!(verify(&mut prog, &env(M), &mut *ws).is_ok());
}

#[test]
fn context_accesses_are_rewritten_to_the_runtime_layout() {
    let mut ws = Box::new(Ws::new());
    let prog = [
        ldx(4, 2, 1, 0),
        ldx(4, 3, 1, 4),
        ldx(4, 4, 1, 8),
        ldx(4, 5, 1, 16),
        ldx(1, 6, 1, 13),
        ret0(),
    ]
    .concat();
    let (out, _) = run_case(&prog, &env(XDP), &mut ws).unwrap();
    let dw = BPF_LDX | BPF_MEM | BPF_DW;
    let mark = crate::isa::RUNTIME_FORM_IMM;
    assert_eq!(out[0], Insn::new(dw, 2, 1, 0, mark));
    assert_eq!(out[1], Insn::new(dw, 3, 1, 8, mark));
    assert_eq!(out[2], Insn::new(dw, 4, 1, 16, mark));
    assert_eq!(
        out[3],
        Insn::new(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 28, mark),
        "rx_queue_index"
    );
    assert_eq!(
        out[4],
        Insn::new(BPF_LDX | BPF_MEM | BPF_B, 6, 1, 25, mark),
        "narrow ingress_ifindex"
    );
    assert_eq!(out[5..], prog[5..]);
    // Socket filter: mark store and data_end load.
    let prog = [st(4, 1, 8, 1), ldx(4, 3, 1, 80), ldx(4, 4, 1, 52), ret0()].concat();
    let (out, _) = run_case(&prog, &env(Ty::Skb), &mut ws).unwrap();
    assert_eq!(
        out[0],
        Insn::new(
            BPF_ST | BPF_MEM | BPF_W,
            1,
            crate::isa::RUNTIME_FORM_SRC,
            24,
            1
        )
    );
    assert_eq!(out[1], Insn::new(BPF_LDX | BPF_MEM | BPF_DW, 3, 1, 8, mark));
    assert_eq!(out[2], Insn::new(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 68, mark));
    // Memory programs have no context to rewrite.
    let prog = [ldx(4, 0, 1, 4), exit()].concat();
    assert_eq!(run_case(&prog, &env(M), &mut ws).unwrap().0, prog);
}

#[test]
fn stack_depth_is_the_deepest_call_chain() {
    let mut ws = Box::new(Ws::new());
    // main uses 16 bytes and calls f (40 bytes) which calls g (8 bytes); main also calls g.
    let prog = [
        st(8, 10, -16, 0),
        call_local(3), // -> f at 5
        call_local(5), // -> g at 8
        ret0(),
        // f (pc 5)
        st(8, 10, -40, 0),
        call_local(1), // -> g at 8
        exit(),
        // g (pc 8)
        st(8, 10, -8, 0),
        ret0(),
    ]
    .concat();
    let (_, depth) = run_case(&prog, &env(M), &mut ws).unwrap();
    assert_eq!(depth, 16 + 40 + 8);
    let (_, depth) = run_case(&[st(1, 10, -3, 0), ret0()].concat(), &env(M), &mut ws).unwrap();
    assert_eq!(depth, 8);
    let (_, depth) = run_case(&ret0(), &env(M), &mut ws).unwrap();
    assert_eq!(depth, 0);
}

#[test]
fn log_traces_each_instruction_with_registers() {
    let mut ws = Box::new(Ws::new());
    let mut prog = [
        pkt(),
        movr(4, 2),
        alu(BPF_ADD, 4, 14),
        jmpr(BPF_JGT, 4, 3, 2),
        ldx(2, 0, 2, 12),
        exit(),
        ret0(),
    ]
    .concat();
    let mut log = String::new();
    let r = verify_with_log(&mut prog, &env(XDP), &mut *ws, &mut log);
    assert!(r.is_ok(), "{log}");
    assert!(
        log.contains("0: (61) ldxw %r2, [%r1] ; R1=ctx(off=0) R10=fp0"),
        "{log}"
    );
    assert!(log.contains("R2=pkt(off=0,r=14)"), "{log}");
    assert!(log.contains("R3=pkt_end(off=0)"), "{log}");
    let mut bad = [ldx(8, 0, 10, -8), exit()].concat();
    let mut log = String::new();
    let e = verify_with_log(&mut bad, &env(M), &mut *ws, &mut log).unwrap_err();
    assert!(log.ends_with(&std::format!("{e}\n")), "{log}");
    assert_eq!(
        std::format!("{e}"),
        "insn 0: invalid read from stack off -8 size 8"
    );
}

#[test]
fn messages_read_like_linux() {
    let msg = |kind| std::format!("{}", VerifyError { pc: 3, kind });
    assert_eq!(
        msg(K::InvalidMemAccess {
            reg: 2,
            ty: "scalar"
        }),
        "insn 3: R2 invalid mem access 'scalar'"
    );
    assert_eq!(
        msg(K::PacketAccess {
            reg: 1,
            off: 14,
            size: 2,
            id: 0,
            reg_off: 14,
            range: 0
        }),
        "insn 3: invalid access to packet, off=14 size=2, R1(id=0,off=14,r=0)"
    );
    assert_eq!(msg(K::Unreachable), "unreachable insn 3");
    assert_eq!(
        msg(K::StackAccess { off: -520, size: 8 }),
        "insn 3: invalid stack off=-520 size=8"
    );
    assert_eq!(
        msg(K::PointerLeak {
            reg: 1,
            into: LeakTarget::Map
        }),
        "insn 3: R1 leaks addr into map"
    );
    assert_eq!(
        msg(K::UnknownHelper { id: 99 }),
        "insn 3: invalid func unknown#99"
    );
    assert_eq!(msg(K::InfiniteLoop), "infinite loop detected at insn 3");
    assert!(msg(K::TooComplex(TooComplexReason::Budget)).contains("program too complex"));
}

#[test]
fn standard_helper_table_programs() {
    let mut ws = Box::new(Ws::new());
    let e = VerifyTarget::new(
        ProgramType::Xdp,
        crate::helpers::standard(),
        MapTable::definitions(MAPS),
    );
    let lookup = [
        key_setup(0),
        call(1),
        jmp(BPF_JEQ, 0, 0, 3),
        mov(3, 1),
        atomic(8, 0, 3, 0, ATOMIC_ADD),
        mov(0, 2),
        exit(),
    ]
    .concat();
    assert!(run_case(&lookup, &e, &mut ws).is_ok());
    let adjust = [mov(2, -14), call(44), mov(0, 2), exit()].concat();
    assert!(run_case(&adjust, &e, &mut ws).is_ok());
    let clock = [call(5), exit()].concat();
    assert!(run_case(&clock, &e, &mut ws).is_ok());
    let unknown = [call(1000), exit()].concat();
    assert!(matches!(
        run_case(&unknown, &e, &mut ws),
        Err(VerifyError {
            pc: 0,
            kind: K::UnknownHelper { id: 1000 }
        })
    ));
}

#[test]
fn helper_writes_only_its_minimum_size() {
    let mut ws = Box::new(Ws::new());
    // probe_read into fp-16 with a size in [8, 16]: only 8 bytes are surely written.
    let prefix = [
        ldx(4, 2, 1, 12),
        alu(BPF_AND, 2, 7),
        alu(BPF_ADD, 2, 8),
        movr(1, 10),
        alu(BPF_ADD, 1, -16),
        mov(3, 0),
        call(4),
    ]
    .concat();
    let ok = [prefix.clone(), ldx(8, 0, 10, -16), exit()].concat();
    assert!(run_case(&ok, &env(XDP), &mut ws).is_ok());
    let bad = [prefix, ldx(8, 0, 10, -8), exit()].concat();
    assert!(matches!(
        run_case(&bad, &env(XDP), &mut ws),
        Err(VerifyError {
            kind: K::StackReadUninit { .. },
            ..
        })
    ));
}

#[test]
fn small_workspaces_fail_cleanly() {
    // A program longer than the workspace.
    let mut tiny = Box::new(VerifierWorkspace::<4, 1, 1>::new());
    let mut prog = [mov(0, 0), mov(0, 0), mov(0, 0), mov(0, 0), exit()].concat();
    let e = verify(&mut prog, &env(M), &mut *tiny).unwrap_err();
    assert_eq!(e.kind, K::TooComplex(TooComplexReason::ProgramTooLarge));
    // Too many pending branches: each unknown comparison leaves one pending.
    let mut narrow = Box::new(VerifierWorkspace::<64, 4, 2>::new());
    let mut branches = std::vec![ldx(1, 3, 1, 0), mov(0, 0)];
    for _ in 0..4 {
        branches.push(jmp(BPF_JEQ, 3, 1, 0));
    }
    branches.push(exit());
    let mut prog = branches.concat();
    let e = verify(&mut prog, &env(M), &mut *narrow).unwrap_err();
    assert_eq!(e.kind, K::TooComplex(TooComplexReason::BranchStackFull));
    // The same program in a larger workspace.
    let mut prog = branches.concat();
    assert!(verify(&mut prog, &env(M), &mut *Box::new(Ws::new())).is_ok());
    // A budget too small for a bounded loop.
    let mut lp = [
        mov(0, 0),
        alu(BPF_ADD, 0, 1),
        jmp(BPF_JLT, 0, 1000, -2),
        exit(),
    ]
    .concat();
    let small = VerifyTarget {
        budget: 500,
        ..env(M)
    };
    let e = verify(&mut lp, &small, &mut *Box::new(Ws::new())).unwrap_err();
    assert_eq!(e.kind, K::TooComplex(TooComplexReason::Budget));
    let mut lp = [
        mov(0, 0),
        alu(BPF_ADD, 0, 1),
        jmp(BPF_JLT, 0, 1000, -2),
        exit(),
    ]
    .concat();
    assert!(verify(&mut lp, &env(M), &mut *Box::new(Ws::new())).is_ok());
}

/// A 4,090-slot XDP program: 340 guarded packet reads with a branch each, and a
/// 64-iteration loop over a map value; verified in the default workspace.
/// Sequential two-sided branches (diamonds) in the large program.
const DIAMONDS: i32 = 60;

/// A 4,090-slot XDP program: 200 packet guards that drop the packet, 60 diamonds updating a
/// sum, and a 64-iteration loop over a map value, padded with straight-line code.
fn large_program() -> Vec<Insn> {
    let mut p = std::vec![pkt(), mov(0, 0), mov(6, 0)];
    let mut guards: Vec<usize> = Vec::new();
    for k in 0..200 {
        let n = (k % 60) + 4;
        // r4 = data + n; if r4 > end goto drop; r5 = *(u32 *)(data + n - 4); r6 += r5
        p.push([movr(4, 2), alu(BPF_ADD, 4, n), jmpr(BPF_JGT, 4, 3, 0)].concat());
        guards.push(p.len() - 1);
        p.push([ldx(4, 5, 2, (n - 4) as i16), alur(BPF_ADD, 6, 5)].concat());
        if k < DIAMONDS {
            // if r5 == k goto +1; r6 ^= k
            p.push([jmp(BPF_JEQ, 5, k, 1), alu(BPF_XOR, 6, k)].concat());
        }
    }
    p.push([key_setup(1), call(1), jmp(BPF_JEQ, 0, 0, 8), mov(3, 0)].concat());
    p.push(
        [
            movr(4, 3),
            alu(BPF_AND, 4, 15),
            movr(5, 0),
            alur(BPF_ADD, 5, 4),
            st(1, 5, 0, 1),
            alu(BPF_ADD, 3, 1),
            jmp(BPF_JLT, 3, 64, -7),
        ]
        .concat(),
    );
    p.push(ret0());
    let filler = 4090 - p.iter().map(Vec::len).sum::<usize>() - 2;
    p.insert(1, std::vec![mov(7, 1)[0]; filler]);
    // drop: r0 = 1; exit
    p.push([mov(0, 1), exit()].concat());
    let starts: Vec<usize> = p
        .iter()
        .scan(0, |pc, item| {
            let s = *pc;
            *pc += item.len();
            Some(s)
        })
        .collect();
    let drop = *starts.last().unwrap();
    for &g in &guards {
        let g = g + 1; // the filler went in at 1
        let at = starts[g] + 2;
        p[g][2].off = (drop - at - 1) as i16;
    }
    p.concat()
}

#[test]
fn large_program_verifies_in_the_default_workspace() {
    let mut prog = large_program();
    assert!(prog.len() >= 4000 && prog.len() <= 4096);
    let mut ws = Box::new(DefaultWorkspace::new());
    let e = VerifyTarget {
        budget: DEFAULT_BUDGET,
        ..env(XDP)
    };
    let start = std::time::Instant::now();
    let r = verify(&mut prog, &e, &mut *ws);
    let took = start.elapsed();
    assert!(r.is_ok(), "{r:?}");
    std::eprintln!("verified {} slots in {took:?}", prog.len());
}

#[test]
fn diamonds_are_pruned_where_paths_meet() {
    let mut ws = Box::new(Ws::new());
    let mut prog = [
        pkt(),
        mov(0, 0),
        mov(6, 0),
        movr(4, 2),
        alu(BPF_ADD, 4, 8),
        jmpr(BPF_JGT, 4, 3, 14),
        ldx(4, 5, 2, 0),
        alur(BPF_ADD, 6, 5),
        jmp(BPF_JEQ, 5, 1, 1),
        alu(BPF_XOR, 6, 1),
        ldx(4, 5, 2, 4),
        alur(BPF_ADD, 6, 5),
        jmp(BPF_JEQ, 5, 2, 1),
        alu(BPF_XOR, 6, 2),
        ldx(4, 5, 2, 4),
        alur(BPF_ADD, 6, 5),
        jmp(BPF_JEQ, 5, 3, 1),
        alu(BPF_XOR, 6, 3),
        ret0(),
        mov(0, 1),
        exit(),
    ]
    .concat();
    let mut log = String::new();
    let r = verify_with_log(&mut prog, &env(XDP), &mut *ws, &mut log);
    assert!(r.is_ok(), "{log}");
    // Each diamond's second side meets the first at its join and stops there; the sum in r6
    // does not matter, so it does not keep the sides apart.
    for join in ["11: safe", "15: safe", "19: safe"] {
        assert!(log.contains(join), "{log}");
    }
    assert!(log.lines().count() < 30, "{log}");
}

/// Two paths that store different numbers in a slot that nothing reads again.
fn dead_slot_diamond(tail: Vec<Insn>) -> Vec<Insn> {
    [
        ldx(8, 3, 1, 0),
        jmp(BPF_JEQ, 3, 0, 2),
        st(8, 10, -8, 1),
        ja(1),
        st(8, 10, -8, 2),
        tail,
    ]
    .concat()
}

#[test]
fn dead_stack_slots_do_not_keep_paths_apart() {
    let mut ws = Box::new(Ws::new());
    let mut prog = dead_slot_diamond([mov(0, 0), exit()].concat());
    let mut log = String::new();
    let r = verify_with_log(&mut prog, &env(M), &mut *ws, &mut log);
    assert!(r.is_ok(), "{log}");
    // The second path meets the first where the slot is dead, and stops there.
    assert!(log.contains("5: safe"), "{log}");
    // A slot read again into a number that matters (a branch) keeps them apart: both paths
    // reach the exit.
    let tail = [ldx(8, 0, 10, -8), jmp(BPF_JGT, 0, 5, 1), mov(0, 0), exit()];
    let mut prog = dead_slot_diamond(tail.concat());
    let mut log = String::new();
    let r = verify_with_log(&mut prog, &env(M), &mut *ws, &mut log);
    assert!(r.is_ok(), "{log}");
    assert!(!log.contains("5: safe"), "{log}");
}

#[test]
fn spilled_numbers_that_cannot_matter_do_not_keep_paths_apart() {
    let mut ws = Box::new(Ws::new());
    // Read back only to be returned, or only by a helper reading it as bytes (`csum_diff`
    // of `r3 = r10 - 8`, 8 bytes): the slot's number cannot matter where the paths meet; its
    // bytes stay initialised.
    let returned = [ldx(8, 0, 10, -8), exit()].concat();
    let by_helper = [
        movr(3, 10),
        alu(BPF_ADD, 3, -8),
        mov(1, 0),
        mov(2, 0),
        mov(4, 8),
        mov(5, 0),
        call(28),
        mov(0, 0),
        exit(),
    ]
    .concat();
    for tail in [returned, by_helper] {
        let mut prog = dead_slot_diamond(tail);
        let mut log = String::new();
        let r = verify_with_log(&mut prog, &env(M), &mut *ws, &mut log);
        assert!(r.is_ok(), "{log}");
        assert!(log.contains("5: safe"), "{log}");
    }
    // The bytes are still checked: a slot initialised on one path only is not pruned into
    // an initialised one.
    let mut prog = [
        ldx(8, 3, 1, 0),
        jmp(BPF_JEQ, 3, 0, 2),
        st(8, 10, -8, 1),
        ja(1),
        st(4, 10, -8, 2),
        ldx(8, 0, 10, -8),
        exit(),
    ]
    .concat();
    let r = verify(&mut prog, &env(M), &mut *ws);
    assert!(r.is_err());
}

/// A slot that holds 0 on the path explored first and 100 on the second, read back after
/// the paths meet at pc 5 and added to the memory buffer's pointer (64 bytes): only the
/// second path reads out of bounds. `before` runs first, `after` right after the join.
fn slot_offset_diamond(before: Vec<Insn>, after: Vec<Insn>, read: Vec<Insn>) -> Vec<Insn> {
    [
        before.clone(),
        ldx(8, 3, 1, 0),
        jmp(BPF_JEQ, 3, 0, 2),
        st(8, 10, -8, 100),
        ja(1),
        st(8, 10, -8, 0),
        after,
        read,
        alur(BPF_ADD, 1, 4),
        ldx(1, 0, 1, 0),
        exit(),
    ]
    .concat()
}

#[test]
fn slots_read_through_pointers_stay_live_at_prune_points() {
    let mut ws = Box::new(Ws::new());
    let cases = [
        // Read through r10.
        (Vec::new(), Vec::new(), ldx(8, 4, 10, -8)),
        // Through a pointer made after the paths meet (`r2 = r10; r2 += -8`).
        (
            Vec::new(),
            [movr(2, 10), alu(BPF_ADD, 2, -8)].concat(),
            ldx(8, 4, 2, 0),
        ),
        // Through a pointer made before the branch, live where they meet.
        (
            [movr(2, 10), alu(BPF_ADD, 2, -8)].concat(),
            Vec::new(),
            ldx(8, 4, 2, 0),
        ),
        // Through a copy of a pointer that a helper also reads.
        (
            Vec::new(),
            [
                movr(9, 1),
                movr(3, 10),
                alu(BPF_ADD, 3, -8),
                movr(6, 3),
                mov(1, 0),
                mov(2, 0),
                mov(4, 8),
                mov(5, 0),
                call(28),
                movr(1, 9),
            ]
            .concat(),
            ldx(8, 4, 6, 0),
        ),
        // Through the pointer a helper reads, read before the call.
        (
            Vec::new(),
            [
                movr(9, 1),
                movr(3, 10),
                alu(BPF_ADD, 3, -8),
                ldx(8, 7, 3, 0),
                mov(1, 0),
                mov(2, 0),
                mov(4, 0),
                mov(5, 0),
                call(28),
                movr(1, 9),
            ]
            .concat(),
            movr(4, 7),
        ),
        // Through a pointer made from r10 without the idiom.
        (
            Vec::new(),
            [movr(2, 10), mov(5, -8), alur(BPF_ADD, 2, 5)].concat(),
            ldx(8, 4, 2, 0),
        ),
    ];
    for (i, (before, after, read)) in cases.into_iter().enumerate() {
        let skip = before.len();
        let mut prog = slot_offset_diamond(before, after, read);
        let n = prog.len();
        let mut log = String::new();
        let r = verify_with_log(&mut prog, &env(M), &mut *ws, &mut log);
        // The out-of-bounds read of the second path is found, never pruned away.
        let e = r
            .err()
            .unwrap_or_else(|| panic!("case {i} accepted:\n{log}"));
        assert_eq!(e.pc, n - 2, "case {i}: {e}\n{log}");
        assert!(
            !log.contains(&std::format!("{}: safe", skip + 5)),
            "case {i}:\n{log}"
        );
    }
}
