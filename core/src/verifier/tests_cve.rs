//! A pair suite modelled on the public history of Linux verifier bugs since 2017.
//!
//! Each [`Pair`] holds an *unsafe* program, written the way the bug let such a program
//! through, and its *safe twin*, the nearest program a sound verifier must accept, with the
//! class and the bug it models and inputs that would trigger the bug at run time. The harness
//! checks that the unsafe program is rejected (with the kind of error expected) and the safe
//! one accepted; every accepted program then runs on the checking interpreter on the trigger
//! inputs and must not trap, leak a ring-buffer record or change a read-only map. The unsafe
//! program also runs there unverified (with its context accesses rewritten as the verifier
//! would): where the bug's effect is a memory fault it must trap, which shows that the pair
//! models a real bug; where the effect is something else (a leaked reference, a write to a
//! read-only map) that effect must show; where it cannot show in this runtime the pair says
//! why.
//!
//! Map 0 holds the trigger number: the program reads it (as "any number") from the only value
//! of an array, `lddw %r6, map_value[0]` / `ldxdw %r7, [%r6]`.

use super::*;
use crate::asm::assemble;
use crate::host::{MapDef, BPF_F_RDONLY_PROG};
use crate::maps::{value_words, ArrayMap, BpfHashMap, Map, MapTable, ProgArray, QueueMap, RingBuf};
use crate::{Context, Interpreter, NoPlatform, SkBuff, Stack, Trap, XdpBuff};
use std::boxed::Box;
use std::format;
use std::string::String;
use std::vec::Vec;

/// The classes of documented Linux verifier bugs the suite covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// 32-bit ALU and JMP32 bounds.
    Alu32,
    /// Sign extension, signed and unsigned bounds confused.
    Signedness,
    /// Shifts.
    Shift,
    /// Division and modulo: by zero, truncation.
    DivMod,
    /// Pointer arithmetic: limits, `_or_null`, pointer minus pointer.
    PointerArith,
    /// `_or_null` pointers and their null checks.
    OrNull,
    /// Spills and fills: narrow fills, partial overwrites, invalidated spills.
    SpillFill,
    /// State pruning and precision tracking.
    Pruning,
    /// References: ring-buffer records leaked, used after release, released twice.
    References,
    /// Packet pointers after `xdp_adjust_head/meta/tail`.
    PacketInvalidation,
    /// Packet range proofs.
    PacketRange,
    /// Tail calls.
    TailCall,
    /// bpf-to-bpf calls: frames, stack pointers, depth.
    Frames,
    /// v4 instructions: movsx, ldsx, sdiv/smod, bswap, gotol.
    V4,
    /// Loops, bounded and unbounded.
    Loops,
    /// Helper memory arguments.
    HelperMem,
    /// Writes to read-only maps (`BPF_F_RDONLY_PROG`, `.rodata`).
    ReadOnlyMap,
    /// Context accesses.
    Context,
}

const CLASSES: [Class; 18] = [
    Class::Alu32,
    Class::Signedness,
    Class::Shift,
    Class::DivMod,
    Class::PointerArith,
    Class::OrNull,
    Class::SpillFill,
    Class::Pruning,
    Class::References,
    Class::PacketInvalidation,
    Class::PacketRange,
    Class::TailCall,
    Class::Frames,
    Class::V4,
    Class::Loops,
    Class::HelperMem,
    Class::ReadOnlyMap,
    Class::Context,
];

/// What the unsafe program does when run without the verifier's protection.
#[derive(Clone, Copy, Debug)]
enum Effect {
    /// The checking interpreter traps with this.
    Traps(Trap),
    /// A ring-buffer record stays reserved: the consumer stalls.
    Leak,
    /// The read-only map's value changes.
    RoWrite,
    /// No effect this runtime can show; why it is a bug all the same.
    NoFault(&'static str),
}

const OOB: Effect = Effect::Traps(Trap::OutOfBounds);

/// Inputs that trigger the bug: map 0's value words, and the packet.
#[derive(Clone, Copy, Debug)]
struct Trigger {
    num: u64,
    num2: u64,
    /// Packet (XDP frame or socket buffer) length.
    pkt: usize,
    /// Every packet byte.
    fill: u8,
}

const fn t(num: u64) -> Trigger {
    Trigger {
        num,
        num2: 0,
        pkt: 64,
        fill: 0xab,
    }
}

type Pred = fn(&VerifyErrorKind) -> bool;

struct Pair {
    class: Class,
    /// The CVE, or the kernel bug modelled in words.
    reference: &'static str,
    name: String,
    bad: String,
    good: String,
    pt: ProgramType,
    trigger: Trigger,
    reject: Pred,
    effect: Effect,
}

macro_rules! rej {
    ($pat:pat) => {
        (|k: &VerifyErrorKind| matches!(k, $pat)) as Pred
    };
}

use VerifyErrorKind as K;

/// Any rejection of an access or offset out of its region's bounds.
fn bounds(k: &VerifyErrorKind) -> bool {
    matches!(
        k,
        K::MapValueAccess { .. }
            | K::UnboundedAccess { .. }
            | K::NegativeOffset { .. }
            | K::PointerOutOfBounds { .. }
            | K::PacketAccess { .. }
            | K::StackAccess { .. }
            | K::MemAccess { .. }
    )
}

fn any(_: &VerifyErrorKind) -> bool {
    true
}

#[allow(clippy::too_many_arguments)]
fn pair(
    class: Class,
    reference: &'static str,
    name: &str,
    pt: ProgramType,
    trigger: Trigger,
    reject: Pred,
    effect: Effect,
    bad: &str,
    good: &str,
) -> Pair {
    Pair {
        class,
        reference,
        name: String::from(name),
        bad: String::from(bad),
        good: String::from(good),
        pt,
        trigger,
        reject,
        effect,
    }
}

const XDP: ProgramType = ProgramType::Xdp;
const SKB: ProgramType = ProgramType::SocketFilter;

/// `r6` = map 0's value, `r7` = its first word (the trigger number).
const NUM: &str = "lddw %r6, map_value[0]\nldxdw %r7, [%r6]\n";
/// Reads the byte at `r6 + r7`.
const USE7: &str = "add %r6, %r7\nldxb %r0, [%r6]\nexit\n";
/// The exit label.
const OUT: &str = "out:\nmov %r0, 0\nexit\n";
/// `r0` = lookup of key `k` in the hash map (1), or null.
fn lookup(k: i32) -> String {
    format!("stw [%r10-4], {k}\nlddw %r1, map[1]\nmov %r2, %r10\nadd %r2, -4\ncall 1\n")
}
/// `r6` = a reserved 16-byte record; exits on null.
const RESERVE: &str = "lddw %r1, map[2]\nmov %r2, 16\nmov %r3, 0\ncall 131\n\
jne %r0, 0, +2\nmov %r0, 0\nexit\nmov %r6, %r0\n";
/// Submits the record in `r6`.
const SUBMIT6: &str = "mov %r1, %r6\nmov %r2, 0\ncall 132\n";
/// XDP: `r6` = ctx, `r2` = data, `r3` = data_end, exits unless 8 bytes are there.
const PKT8: &str = "mov %r6, %r1\nldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\n\
add %r4, 8\njgt %r4, %r3, out\n";

fn alu32() -> Vec<Pair> {
    let c = Class::Alu32;
    std::vec![
        pair(
            c,
            "CVE-2017-16995: mov32 imm sign-extended in the verifier, zero-extended at run time",
            "mov32 -1 then a 64-bit compare with -1",
            XDP,
            t(0),
            bounds,
            OOB,
            "lddw %r6, map_value[0]\nmov32 %r2, -1\njne %r2, -1, far\nmov %r0, 0\nexit\n\
far:\nlddw %r3, 0x100000000\nadd %r6, %r3\nldxb %r0, [%r6]\nexit",
            "lddw %r6, map_value[0]\nmov %r2, -1\njne %r2, -1, far\nmov %r0, 0\nexit\n\
far:\nlddw %r3, 0x100000000\nadd %r6, %r3\nldxb %r0, [%r6]\nexit"
        ),
        pair(
            c,
            "CVE-2017-16996: a 32-bit mov kept the 64-bit bounds (register truncation)",
            "w7 = w7 of [2^32-1, 2^32+254], then minus 2^32-1",
            XDP,
            t(1),
            bounds,
            OOB,
            "lddw %r6, map_value[0]\nldxb %r7, [%r6]\nlddw %r2, 0xffffffff\nadd %r7, %r2\n\
mov32 %r7, %r7\nsub %r7, %r2\nadd %r6, %r7\nldxb %r0, [%r6]\nexit",
            "lddw %r6, map_value[0]\nldxb %r7, [%r6]\nlddw %r2, 0xffffffff\nadd %r7, %r2\n\
mov32 %r7, %r7\nsub %r7, %r2\nand %r7, 15\nadd %r6, %r7\nldxb %r0, [%r6]\nexit"
        ),
        pair(
            c,
            "CVE-2020-8835: 32-bit bounds derived from 64-bit bounds [1, 2^32+1] as [1, 1]",
            "64-bit range across 2^32 seen through jmp32 and w7",
            XDP,
            t(0x10000),
            bounds,
            OOB,
            &format!(
                "{NUM}jlt %r7, 1, out\nlddw %r2, 0x100000001\njgt %r7, %r2, out\n\
jeq32 %r7, 0, out\nmov32 %r7, %r7\n{USE7}{OUT}"
            ),
            &format!(
                "{NUM}jlt %r7, 1, out\nlddw %r2, 0x100000001\njgt %r7, %r2, out\n\
jeq32 %r7, 0, out\nmov32 %r7, %r7\njgt %r7, 15, out\n{USE7}{OUT}"
            )
        ),
        pair(
            c,
            "CVE-2020-27194: 32-bit OR bounds taken from the 64-bit bounds",
            "or32 of an unknown u32",
            XDP,
            t(0x10000),
            bounds,
            OOB,
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\nor32 %r7, 1\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\nand32 %r7, 14\nor32 %r7, 1\n{USE7}")
        ),
        pair(
            c,
            "CVE-2021-3490: 32-bit AND bounds not updated when the low halves are known",
            "and32 of two unknowns",
            XDP,
            Trigger {
                num2: 0xffff_ffff,
                ..t(0x10000)
            },
            bounds,
            OOB,
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand32 %r7, %r8\n{USE7}"),
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand32 %r8, 15\nand32 %r7, %r8\n{USE7}")
        ),
        pair(
            c,
            "CVE-2021-3490: 32-bit OR bounds not updated when the low halves are known",
            "or32 of two unknowns",
            XDP,
            Trigger {
                num2: 1,
                ..t(0x10000)
            },
            bounds,
            OOB,
            &format!("{NUM}ldxdw %r8, [%r6+8]\nor32 %r7, %r8\n{USE7}"),
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand32 %r7, 7\nand32 %r8, 7\nor32 %r7, %r8\n{USE7}")
        ),
        pair(
            c,
            "CVE-2021-3490: 32-bit XOR bounds not updated when the low halves are known",
            "xor32 of two unknowns",
            XDP,
            Trigger {
                num2: 1,
                ..t(0x10000)
            },
            bounds,
            OOB,
            &format!("{NUM}ldxdw %r8, [%r6+8]\nxor32 %r7, %r8\n{USE7}"),
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand32 %r7, 7\nand32 %r8, 7\nxor32 %r7, %r8\n{USE7}")
        ),
        pair(
            c,
            "CVE-2021-31440: 64-bit signed bounds propagated to 32 bits",
            "r7 s<= 15, then w7 = w7",
            XDP,
            t(0xffff_ffff_ffff_fff0),
            bounds,
            OOB,
            &format!("{NUM}jsgt %r7, 15, out\nmov32 %r7, %r7\n{USE7}{OUT}"),
            &format!("{NUM}jsgt %r7, 15, out\njslt %r7, 0, out\nmov32 %r7, %r7\n{USE7}{OUT}")
        ),
        pair(
            c,
            "JMP32 signed compare taken as an unsigned bound of the low half",
            "w7 s<= 15 leaves w7 up to 2^32-1",
            XDP,
            t(0x8000_0000),
            bounds,
            OOB,
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\njsgt32 %r7, 15, out\n{USE7}{OUT}"),
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\njgt32 %r7, 15, out\n{USE7}{OUT}")
        ),
        pair(
            c,
            "32-bit subtraction wrapping below zero to 2^32-1",
            "w7 - 1 of [0, 15]",
            XDP,
            t(0),
            bounds,
            OOB,
            &format!("{NUM}and %r7, 15\nsub32 %r7, 1\n{USE7}"),
            &format!("{NUM}and %r7, 15\njeq %r7, 0, out\nsub32 %r7, 1\n{USE7}{OUT}")
        ),
    ]
}

fn signedness() -> Vec<Pair> {
    let c = Class::Signedness;
    std::vec![
        pair(
            c,
            "signed upper bound used as an unsigned bound (the bounds class of CVE-2017-16995)",
            "r7 s<= 15 may be negative",
            XDP,
            t(-8i64 as u64),
            bounds,
            OOB,
            &format!("{NUM}jsgt %r7, 15, out\n{USE7}{OUT}"),
            &format!("{NUM}jgt %r7, 15, out\n{USE7}{OUT}")
        ),
        pair(
            c,
            "arithmetic right shift keeps the sign",
            "r7 s>> 60 is in [-8, 7]",
            XDP,
            t(0x8000_0000_0000_0000),
            bounds,
            OOB,
            &format!("{NUM}arsh %r7, 60\n{USE7}"),
            &format!("{NUM}rsh %r7, 60\n{USE7}")
        ),
        pair(
            c,
            "negation of a non-negative range is non-positive",
            "-r7 of [0, 15]",
            XDP,
            t(5),
            bounds,
            OOB,
            &format!("{NUM}and %r7, 15\nneg %r7\n{USE7}"),
            &format!("{NUM}and %r7, 15\nneg %r7\nadd %r7, 15\n{USE7}")
        ),
        pair(
            c,
            "a 32-bit immediate is sign-extended in a 64-bit compare",
            "r7 > 0xfffffff0 bounds nothing",
            XDP,
            t(0x10000),
            bounds,
            OOB,
            &format!("{NUM}jgt %r7, 0xfffffff0, out\n{USE7}{OUT}"),
            &format!("{NUM}lddw %r2, 0xf\njgt %r7, %r2, out\n{USE7}{OUT}")
        ),
        pair(
            c,
            "unsigned lower bound with signed upper bound leaves the negatives",
            "r7 >= 4 and r7 s<= 15",
            XDP,
            t(u64::MAX),
            bounds,
            OOB,
            &format!("{NUM}jlt %r7, 4, out\njsgt %r7, 15, out\n{USE7}{OUT}"),
            &format!("{NUM}jlt %r7, 4, out\njgt %r7, 15, out\n{USE7}{OUT}")
        ),
    ]
}

fn shifts() -> Vec<Pair> {
    let c = Class::Shift;
    std::vec![
        pair(c, "a shift by 64 or more is masked at run time, not zero",
            "0x80000 >> r7 with r7 in [16, 127]", XDP, t(64), bounds, OOB,
            &format!("{NUM}and %r7, 127\njlt %r7, 16, out\nmov %r8, 0x80000\nrsh %r8, %r7\nmov %r7, %r8\n{USE7}{OUT}"),
            &format!("{NUM}and %r7, 127\njlt %r7, 16, out\nmov %r8, 0x80000\nrsh %r8, %r7\nand %r8, 15\nmov %r7, %r8\n{USE7}{OUT}")),
        pair(c, "32-bit arithmetic shift: the sign fills the low half only, then zero-extends",
            "w7 s>> 28", XDP, t(0x8000_0000), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\narsh32 %r7, 28\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\nrsh32 %r7, 28\n{USE7}")),
        pair(c, "shift pair keeps only the bits it did not shift out",
            "(r7 << 40) >> 40", XDP, t(0xff_ffff), bounds, OOB,
            &format!("{NUM}lsh %r7, 40\nrsh %r7, 40\n{USE7}"),
            &format!("{NUM}lsh %r7, 60\nrsh %r7, 60\n{USE7}")),
        pair(c, "a 32-bit right shift works on the low half of a 64-bit value",
            "w7 >> 4 of an unknown", XDP, t(0xffff_fff0), bounds, OOB,
            &format!("{NUM}rsh32 %r7, 4\n{USE7}"),
            &format!("{NUM}rsh32 %r7, 28\n{USE7}")),
        pair(c, "arithmetic shift by an unknown amount",
            "r7 s>> r8", XDP, Trigger { num2: 1, ..t(0x8000_0000_0000_0000) }, bounds, OOB,
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand %r8, 63\narsh %r7, %r8\n{USE7}"),
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand %r8, 63\narsh %r7, %r8\nand %r7, 15\n{USE7}")),
    ]
}

fn divmod() -> Vec<Pair> {
    let c = Class::DivMod;
    std::vec![
        pair(c, "CVE-2021-3444: mod32 by zero must still truncate the destination to 32 bits",
            "r7 mod 0 keeps the upper half; w7 mod 0 clears it", XDP, t(0x0001_0000_0000_0000), bounds, OOB,
            &format!("{NUM}mov %r8, 0\nmod %r7, %r8\nrsh %r7, 32\n{USE7}"),
            &format!("{NUM}mov %r8, 0\nmod32 %r7, %r8\nrsh %r7, 32\n{USE7}")),
        pair(c, "modulo by a divisor that may be zero leaves the dividend",
            "r7 mod (r8 & 15)", XDP, Trigger { num2: 0, ..t(0x10000) }, bounds, OOB,
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand %r8, 15\nmod %r7, %r8\n{USE7}"),
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand %r8, 15\nor %r8, 1\nmod %r7, %r8\nand %r7, 15\n{USE7}")),
        pair(c, "64-bit and 32-bit division confused (truncation of the dividend)",
            "0x100000010 / 2 is 0x80000008, w-wise 8", XDP, t(0), bounds, OOB,
            "lddw %r6, map_value[0]\nlddw %r7, 0x100000010\ndiv %r7, 2\nadd %r6, %r7\nldxb %r0, [%r6]\nexit",
            "lddw %r6, map_value[0]\nlddw %r7, 0x100000010\ndiv32 %r7, 2\nadd %r6, %r7\nldxb %r0, [%r6]\nexit"),
        pair(c, "division by a divisor that may be one leaves the dividend",
            "r7 / r8 with r8 unknown", XDP, Trigger { num2: 1, ..t(0x10000000) }, bounds, OOB,
            &format!("{NUM}ldxdw %r8, [%r6+8]\ndiv %r7, %r8\n{USE7}"),
            &format!("{NUM}ldxdw %r8, [%r6+8]\nand %r7, 15\ndiv %r7, %r8\n{USE7}")),
    ]
}

fn pointer_arith() -> Vec<Pair> {
    let c = Class::PointerArith;
    let l0 = lookup(0);
    let (l1, l2) = (lookup(1), lookup(2));
    std::vec![
        pair(c, "CVE-2021-33200: limits of a map value pointer moved by a variable amount backwards",
            "end of value minus [0, 31]", XDP, t(31), bounds, OOB,
            &format!("{NUM}and %r7, 31\nadd %r6, 16\nsub %r6, %r7\nldxb %r0, [%r6]\nexit"),
            &format!("{NUM}and %r7, 15\nadd %r7, 1\nadd %r6, 16\nsub %r6, %r7\nldxb %r0, [%r6]\nexit")),
        pair(c, "CVE-2022-23222: arithmetic on a map_value_or_null pointer before its null check",
            "r0 += 8, then the null check", XDP, t(0), rej!(K::PointerArithOnType { .. }), OOB,
            &format!("{l0}add %r0, 8\njeq %r0, 0, out\nldxb %r0, [%r0]\nexit\n{OUT}"),
            &format!("{l0}jeq %r0, 0, out\nadd %r0, 8\nldxb %r0, [%r0]\nexit\n{OUT}")),
        pair(c, "pointer minus pointer of two values of one map is not their offsets' difference",
            "(&v[2] - &v[1]) * 4096 added to a value pointer", XDP, t(0), bounds, OOB,
            &format!("{l1}jeq %r0, 0, out\nmov %r6, %r0\n{l2}jeq %r0, 0, out\nmov %r7, %r0\n\
mov %r8, %r7\nsub %r8, %r6\nmul %r8, 4096\nadd %r6, %r8\nldxb %r0, [%r6]\nexit\n{OUT}"),
            &format!("{l1}jeq %r0, 0, out\nmov %r6, %r0\n{l2}jeq %r0, 0, out\nmov %r7, %r0\n\
mov %r8, %r7\nsub %r8, %r6\nand %r8, 15\nadd %r6, %r8\nldxb %r0, [%r6]\nexit\n{OUT}")),
        pair(c, "pointer plus pointer", "r6 += r10", XDP, t(0),
            rej!(K::PointerArith { .. } | K::InvalidMemAccess { .. }), OOB,
            "lddw %r6, map_value[0]\nmov %r7, %r10\nadd %r6, %r7\nldxb %r0, [%r6]\nexit",
            "lddw %r6, map_value[0]\nmov %r7, 8\nadd %r6, %r7\nldxb %r0, [%r6]\nexit"),
        pair(c, "bitwise operation on a pointer", "r6 ^= 0x10000000", XDP, t(0),
            rej!(K::PointerArith { .. }), OOB,
            "lddw %r6, map_value[0]\nxor %r6, 0x10000000\nldxb %r0, [%r6]\nexit",
            "lddw %r6, map_value[0]\nadd %r6, 8\nldxb %r0, [%r6]\nexit"),
        pair(c, "32-bit arithmetic on a pointer truncates the address", "w6 += 8", XDP, t(0),
            rej!(K::Pointer32 { .. } | K::PointerArith { .. } | K::InvalidMemAccess { .. }), OOB,
            "lddw %r6, map_value[0]\nadd32 %r6, 8\nldxb %r0, [%r6]\nexit",
            "lddw %r6, map_value[0]\nadd %r6, 8\nldxb %r0, [%r6]\nexit"),
        pair(c, "pointer offset tracked past its limit wraps around",
            "r6 += 2^63 twice, plus 16", XDP, t(0), any, OOB,
            "lddw %r6, map_value[0]\nlddw %r2, 0x8000000000000000\nadd %r6, %r2\nadd %r6, %r2\nadd %r6, 16\nldxb %r0, [%r6]\nexit",
            "lddw %r6, map_value[0]\nadd %r6, 15\nldxb %r0, [%r6]\nexit"),
        pair(c, "variable-offset stack pointer below the frame",
            "r10 - 8 - (r7 & 0xffff)", XDP, t(0xffff),
            rej!(K::StackAccess { .. } | K::VariableStackAccess { .. }), OOB,
            &format!("{NUM}and %r7, 0xffff\nmov %r2, %r10\nadd %r2, -8\nsub %r2, %r7\nstb [%r2], 0\nmov %r0, 0\nexit"),
            &format!("{NUM}and %r7, 63\nmov %r2, %r10\nadd %r2, -8\nsub %r2, %r7\nstb [%r2], 0\nmov %r0, 0\nexit")),
        pair(c, "unbounded scalar added to a map value pointer", "r6 += r7", XDP, t(0x10000000), bounds, OOB,
            &format!("{NUM}{USE7}"),
            &format!("{NUM}and %r7, 15\n{USE7}")),
    ]
}

fn or_null() -> Vec<Pair> {
    let c = Class::OrNull;
    let (l0, l1) = (lookup(0), lookup(1));
    std::vec![
        pair(c, "map_value_or_null dereferenced without a null check", "lookup of a missing key",
            XDP, t(0), rej!(K::InvalidMemAccess { .. }), OOB,
            &format!("{l0}ldxb %r0, [%r0]\nexit"),
            &format!("{l0}jeq %r0, 0, out\nldxb %r0, [%r0]\nexit\n{OUT}")),
        pair(c, "null check of one lookup taken for another", "two lookups, one check", XDP, t(0),
            rej!(K::InvalidMemAccess { .. }), OOB,
            &format!("{l1}mov %r6, %r0\n{l0}mov %r7, %r0\njeq %r6, 0, out\nldxb %r0, [%r7]\nexit\n{OUT}"),
            &format!("{l1}mov %r6, %r0\n{l0}mov %r7, %r0\njeq %r7, 0, out\nldxb %r0, [%r7]\nexit\n{OUT}")),
        pair(c, "null check on the low half of the pointer", "w0 == 0", XDP, t(0), any,
            Effect::NoFault("a null pointer is caught by the low half too; a real address whose low half is zero would be taken for null, and the verifier cannot know which"),
            &format!("{l1}jeq32 %r0, 0, out\nldxb %r0, [%r0]\nexit\n{OUT}"),
            &format!("{l1}jeq %r0, 0, out\nldxb %r0, [%r0]\nexit\n{OUT}")),
        pair(c, "inverted null check", "dereference on the null side", XDP, t(0),
            rej!(K::InvalidMemAccess { .. }), OOB,
            &format!("{l0}jne %r0, 0, out\nldxb %r0, [%r0]\nexit\n{OUT}"),
            &format!("{l0}jeq %r0, 0, out\nldxb %r0, [%r0]\nexit\n{OUT}")),
        pair(c, "comparison with a non-zero constant proves nothing", "r0 == 1", XDP, t(0),
            any, OOB,
            &format!("{l0}jeq %r0, 1, out\nldxb %r0, [%r0]\nexit\n{OUT}"),
            &format!("{l0}jeq %r0, 0, out\nldxb %r0, [%r0]\nexit\n{OUT}")),
        pair(c, "map_value_or_null passed as a helper's memory argument", "lookup key = r0", XDP, t(0),
            rej!(K::HelperArg { .. }),
            Effect::NoFault("the runtime's lookup refuses a null key (EINVAL-style null result); Linux would read the key through null"),
            &format!("{l0}mov %r2, %r0\nlddw %r1, map[1]\ncall 1\nmov %r0, 0\nexit"),
            &format!("{l0}jeq %r0, 0, out\nmov %r2, %r0\nlddw %r1, map[1]\ncall 1\nmov %r0, 0\nexit\n{OUT}")),
    ]
}

/// A packet pointer (or a ring buffer record) spilled at `[r10-8]`, invalidated by
/// `xdp_adjust_head` (or `ringbuf_submit`), then `[r10-8+off]` read back at `width` bytes: the
/// bytes are part of an address, any number, never the constant a stale spill would give. The
/// unsafe program uses them as an offset; the twin bounds them first.
fn invalidated_spill(width: u8, off: i16, ringbuf: bool) -> Pair {
    let ld = match width {
        1 => "ldxb",
        2 => "ldxh",
        4 => "ldxw",
        _ => "ldxdw",
    };
    let (prologue, invalidate, what) = if ringbuf {
        (
            format!("{RESERVE}stxdw [%r10-8], %r6\n"),
            String::from(SUBMIT6),
            "ringbuf_submit",
        )
    } else {
        (
            String::from("mov %r6, %r1\nldxw %r2, [%r1+0]\nstxdw [%r10-8], %r2\n"),
            String::from("mov %r1, %r6\nmov %r2, 8\ncall 44\n"),
            "xdp_adjust_head",
        )
    };
    let tail = |bound: &str| {
        format!(
            "lddw %r6, map_value[0]\n{ld} %r7, [%r10{:+}]\n{bound}\nadd %r6, %r7\nldxb %r0, [%r6]\nexit",
            off - 8
        )
    };
    Pair {
        class: Class::SpillFill,
        reference: "spilled pointer invalidated by a helper and read back narrow (nanobpf issue 21, hole 2)",
        name: format!("{what} then a {width}-byte fill at slot offset {off}"),
        // The bytes read may all be zero (the top bytes of a 48-bit address, or any byte of
        // some address): setting bit 0 first makes the offset 4 GiB or more whatever they
        // are, so the unsafe program traps on every run, wherever the allocator put the
        // record or the frame.
        bad: format!("{prologue}{invalidate}{}", tail("or %r7, 1\nlsh %r7, 32")),
        good: format!("{prologue}{invalidate}{}", tail("and %r7, 15")),
        pt: XDP,
        trigger: t(0),
        reject: bounds,
        effect: OOB,
    }
}

fn spill_fill() -> Vec<Pair> {
    let c = Class::SpillFill;
    let mut v = std::vec![
        pair(c, "narrow fill of a spilled pointer", "4-byte fill of a spilled map value pointer",
            XDP, t(0), rej!(K::CorruptSpill { .. }), OOB,
            "lddw %r6, map_value[0]\nstxdw [%r10-8], %r6\nldxw %r7, [%r10-8]\nlsh %r7, 20\nadd %r6, %r7\nldxb %r0, [%r6]\nexit",
            "lddw %r6, map_value[0]\nstxdw [%r10-8], %r6\nldxdw %r7, [%r10-8]\nldxb %r0, [%r7]\nexit"),
        pair(c, "partial overwrite of a spilled pointer", "stw over the low half, then an 8-byte fill",
            XDP, t(0), rej!(K::CorruptSpill { .. } | K::InvalidMemAccess { .. } | K::StackReadUninit { .. }), OOB,
            "lddw %r6, map_value[0]\nstxdw [%r10-8], %r6\nstw [%r10-8], 0\nldxdw %r7, [%r10-8]\nldxb %r0, [%r7]\nexit",
            "lddw %r6, map_value[0]\nstxdw [%r10-8], %r6\nstdw [%r10-8], 0\nldxdw %r7, [%r10-8]\nadd %r6, %r7\nldxb %r0, [%r6]\nexit"),
        pair(c, "narrow spill of a bounded number, one byte then overwritten",
            "stxw of [0, 15], stb over its top byte, ldxw", XDP, t(3), bounds, OOB,
            &format!("{NUM}and %r7, 15\nstxw [%r10-8], %r7\nstb [%r10-5], 0x7f\nldxw %r7, [%r10-8]\n{USE7}"),
            &format!("{NUM}and %r7, 15\nstxw [%r10-8], %r7\nldxw %r7, [%r10-8]\n{USE7}")),
        pair(c, "8-byte spill of a bounded number, then a narrow overwrite",
            "stxdw of [0, 15], stb over byte 7, ldxdw", XDP, t(3), bounds, OOB,
            &format!("{NUM}and %r7, 15\nstxdw [%r10-8], %r7\nstb [%r10-1], 1\nldxdw %r7, [%r10-8]\n{USE7}"),
            &format!("{NUM}and %r7, 15\nstxdw [%r10-8], %r7\nldxdw %r7, [%r10-8]\n{USE7}")),
        pair(c, "narrow fill of the upper half of a spilled number", "ldxw of bytes 4..8",
            XDP, t(0x10000), bounds, OOB,
            &format!("{NUM}lsh %r7, 32\nor %r7, 8\nstxdw [%r10-8], %r7\nldxw %r7, [%r10-4]\n{USE7}"),
            &format!("{NUM}lsh %r7, 32\nor %r7, 8\nstxdw [%r10-8], %r7\nldxw %r7, [%r10-8]\nand %r7, 15\n{USE7}")),
    ];
    for ringbuf in [false, true] {
        for (width, offs) in [
            (8u8, &[0i16][..]),
            (4, &[0, 4]),
            (2, &[0, 2, 4, 6]),
            (1, &[0, 1, 2, 3, 4, 5, 6, 7]),
        ] {
            for &off in offs {
                v.push(invalidated_spill(width, off, ringbuf));
            }
        }
    }
    v
}

fn pruning() -> Vec<Pair> {
    let c = Class::Pruning;
    std::vec![
        pair(c, "CVE-2023-2163-style: precision not propagated through a stack slot, so a join pruned a path that needed it",
            "offset through [r10-8], 0 or 2^28 by path", XDP, t(1), bounds, OOB,
            &format!("{NUM}stdw [%r10-8], 0\njeq %r7, 0, join\nmov %r2, 0x10000000\nstxdw [%r10-8], %r2\n\
join:\nldxdw %r7, [%r10-8]\n{USE7}"),
            &format!("{NUM}stdw [%r10-8], 0\njeq %r7, 0, join\nmov %r2, 8\nstxdw [%r10-8], %r2\n\
join:\nldxdw %r7, [%r10-8]\n{USE7}")),
        pair(c, "CVE-2023-2163-style: precision not propagated back through an addition",
            "r8 = 0 + r9, r9 is 0 or 2^28 by path", XDP, t(1), bounds, OOB,
            &format!("{NUM}mov %r9, 0\njeq %r7, 0, join\nmov %r9, 0x10000000\njoin:\nmov %r8, 0\nadd %r8, %r9\nmov %r7, %r8\n{USE7}"),
            &format!("{NUM}mov %r9, 0\njeq %r7, 0, join\nmov %r9, 8\njoin:\nmov %r8, 0\nadd %r8, %r9\nmov %r7, %r8\n{USE7}")),
        pair(c, "precision through a callee's return value at a prune point",
            "f returns 0 or 2^28", XDP, t(1), bounds, OOB,
            "lddw %r6, map_value[0]\nldxdw %r1, [%r6]\ncall local f\nadd %r6, %r0\nldxb %r0, [%r6]\nexit\n\
f:\nmov %r0, 0\njeq %r1, 0, done\nmov %r0, 0x10000000\ndone:\nexit",
            "lddw %r6, map_value[0]\nldxdw %r1, [%r6]\ncall local f\nadd %r6, %r0\nldxb %r0, [%r6]\nexit\n\
f:\nmov %r0, 0\njeq %r1, 0, done\nmov %r0, 8\ndone:\nexit"),
        pair(c, "linked scalars: a bound on r7 moved to its copy with the wrong delta",
            "r8 = r7 - 1, r7 <= 15", XDP, t(0), bounds, OOB,
            &format!("{NUM}mov %r8, %r7\nadd %r8, -1\njgt %r7, 15, out\nadd %r6, %r8\nldxb %r0, [%r6]\nexit\n{OUT}"),
            &format!("{NUM}mov %r8, %r7\nadd %r8, -1\njgt %r7, 15, out\njlt %r7, 1, out\nadd %r6, %r8\nldxb %r0, [%r6]\nexit\n{OUT}")),
        pair(c, "a stack slot holds a pointer on one path and a number on the other",
            "fill after the join, dereference", XDP, t(0x1234),
            rej!(K::InvalidMemAccess { .. }), OOB,
            &format!("{NUM}stxdw [%r10-8], %r6\njeq %r7, 0, join\nstxdw [%r10-8], %r7\njoin:\nldxdw %r8, [%r10-8]\nldxb %r0, [%r8]\nexit"),
            &format!("{NUM}stxdw [%r10-8], %r6\njeq %r7, 0, join\nmov %r2, %r6\nadd %r2, 8\nstxdw [%r10-8], %r2\njoin:\nldxdw %r8, [%r10-8]\nldxb %r0, [%r8]\nexit")),
        pair(c, "a register holds a pointer on one path and a number on the other",
            "dereference after the join", XDP, t(0x1234),
            rej!(K::InvalidMemAccess { .. }), OOB,
            &format!("{NUM}mov %r8, %r6\njeq %r7, 0, join\nmov %r8, %r7\njoin:\nldxb %r0, [%r8]\nexit"),
            &format!("{NUM}mov %r8, %r6\njeq %r7, 0, join\nadd %r8, 8\njoin:\nldxb %r0, [%r8]\nexit")),
        pair(c, "stack initialised on one path only", "read after the join", XDP, t(0),
            rej!(K::StackReadUninit { .. }),
            Effect::NoFault("returns stack garbage: an information leak, not a fault"),
            &format!("{NUM}jeq %r7, 0, join\nstdw [%r10-8], 1\njoin:\nldxdw %r0, [%r10-8]\nexit"),
            &format!("{NUM}stdw [%r10-8], 0\njeq %r7, 0, join\nstdw [%r10-8], 1\njoin:\nldxdw %r0, [%r10-8]\nexit")),
    ]
}

fn references() -> Vec<Pair> {
    let c = Class::References;
    std::vec![
        pair(c, "ring buffer record leaked at exit", "reserve, write, exit", XDP, t(0),
            rej!(K::UnreleasedReference { .. }), Effect::Leak,
            &format!("{RESERVE}stdw [%r6], 1\nmov %r0, 0\nexit"),
            &format!("{RESERVE}stdw [%r6], 1\n{SUBMIT6}mov %r0, 0\nexit")),
        pair(c, "ring buffer record leaked on one path", "submit only when the number is 0", XDP, t(1),
            rej!(K::UnreleasedReference { .. }), Effect::Leak,
            &format!("{RESERVE}lddw %r8, map_value[0]\nldxdw %r7, [%r8]\njne %r7, 0, skip\n{SUBMIT6}skip:\nmov %r0, 0\nexit"),
            &format!("{RESERVE}lddw %r8, map_value[0]\nldxdw %r7, [%r8]\njne %r7, 0, skip\n{SUBMIT6}mov %r0, 0\nexit\nskip:\nmov %r1, %r6\nmov %r2, 0\ncall 133\nmov %r0, 0\nexit")),
        pair(c, "ring buffer record written after submit", "use after release", XDP, t(0),
            rej!(K::UninitRegister { .. } | K::InvalidMemAccess { .. }),
            Effect::NoFault("the write lands in a record already handed to the consumer, inside the ring"),
            &format!("{RESERVE}{SUBMIT6}stdw [%r6], 1\nmov %r0, 0\nexit"),
            &format!("{RESERVE}stdw [%r6], 1\n{SUBMIT6}mov %r0, 0\nexit")),
        pair(c, "ring buffer record submitted twice", "double release", XDP, t(0),
            rej!(K::UninitRegister { .. } | K::HelperArg { .. }),
            Effect::NoFault("the runtime's commit ignores a record that is no longer reserved; Linux would corrupt the ring's header"),
            &format!("{RESERVE}{SUBMIT6}{SUBMIT6}mov %r0, 0\nexit"),
            &format!("{RESERVE}{SUBMIT6}mov %r0, 0\nexit")),
        pair(c, "record used after release through a spilled copy", "spill, discard, fill, write", XDP, t(0),
            rej!(K::UninitRegister { .. } | K::InvalidMemAccess { .. } | K::StackReadUninit { .. }),
            Effect::NoFault("the write lands in the discarded record, inside the ring"),
            &format!("{RESERVE}stxdw [%r10-8], %r6\nmov %r1, %r6\nmov %r2, 0\ncall 133\nldxdw %r7, [%r10-8]\nstdw [%r7], 1\nmov %r0, 0\nexit"),
            &format!("{RESERVE}stxdw [%r10-8], %r6\nldxdw %r7, [%r10-8]\nstdw [%r7], 1\nmov %r1, %r6\nmov %r2, 0\ncall 133\nmov %r0, 0\nexit")),
        pair(c, "LD_ABS while holding a reference (nanobpf issue 21, hole 3; Linux forbids mixing them)",
            "ld_abs past the packet ends the program with the record reserved",
            SKB, Trigger { pkt: 20, ..t(0) }, rej!(K::LdAbsHoldingReference { .. }), Effect::Leak,
            &format!("mov %r9, %r1\n{RESERVE}mov %r7, %r6\nmov %r6, %r9\nldabsw 100\nmov %r6, %r7\n{SUBMIT6}mov %r0, 0\nexit"),
            &format!("mov %r9, %r1\nmov %r6, %r9\nldabsw 100\n{RESERVE}{SUBMIT6}mov %r0, 0\nexit")),
        pair(c, "LD_IND while holding a reference", "ld_ind past the packet",
            SKB, Trigger { pkt: 20, ..t(0) }, rej!(K::LdAbsHoldingReference { .. }), Effect::Leak,
            &format!("mov %r9, %r1\n{RESERVE}mov %r7, %r6\nmov %r6, %r9\nmov %r8, 90\nldindw %r8, 10\nmov %r6, %r7\n{SUBMIT6}mov %r0, 0\nexit"),
            &format!("mov %r9, %r1\nmov %r6, %r9\nmov %r8, 90\nldindw %r8, 10\n{RESERVE}{SUBMIT6}mov %r0, 0\nexit")),
        pair(c, "record released through a pointer that is not its start", "submit r6 + 8", XDP, t(0),
            rej!(K::ReleaseOffset { .. }), Effect::Leak,
            &format!("{RESERVE}mov %r1, %r6\nadd %r1, 8\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit"),
            &format!("{RESERVE}mov %r1, %r6\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit")),
        pair(c, "release of a pointer that is no reference", "submit a map value", XDP, t(0),
            rej!(K::HelperArg { .. }),
            Effect::NoFault("the runtime's commit ignores an address that is no reserved record"),
            "lddw %r1, map_value[0]\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit",
            &format!("{RESERVE}{SUBMIT6}mov %r0, 0\nexit")),
        pair(c, "record reserved in a subprogram and never released", "callee returns the record, caller exits",
            XDP, t(0), rej!(K::UnreleasedReference { .. }), Effect::Leak,
            "call local f\njeq %r0, 0, out\nmov %r0, 0\nexit\nout:\nmov %r0, 0\nexit\n\
f:\nlddw %r1, map[2]\nmov %r2, 16\nmov %r3, 0\ncall 131\nexit",
            "call local f\njeq %r0, 0, out\nmov %r1, %r0\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit\nout:\nmov %r0, 0\nexit\n\
f:\nlddw %r1, map[2]\nmov %r2, 16\nmov %r3, 0\ncall 131\nexit"),
    ]
}

fn packet_invalidation() -> Vec<Pair> {
    let c = Class::PacketInvalidation;
    let reload = "mov %r1, %r6\nldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, out\nmov %r7, %r2\n";
    let stale = rej!(K::InvalidMemAccess { .. } | K::UninitRegister { .. });
    std::vec![
        pair(c, "packet pointer used after xdp_adjust_head", "data, then the head moves 16 bytes in",
            XDP, t(0), stale, OOB,
            &format!("{PKT8}mov %r7, %r2\nmov %r1, %r6\nmov %r2, 16\ncall 44\nldxb %r0, [%r7]\nexit\n{OUT}"),
            &format!("{PKT8}mov %r1, %r6\nmov %r2, 16\ncall 44\n{reload}ldxb %r0, [%r7]\nexit\n{OUT}")),
        pair(c, "packet pointer used after xdp_adjust_tail", "range 64 proven, then the tail shrinks by 32",
            XDP, t(0), stale, OOB,
            "mov %r6, %r1\nldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 64\njgt %r4, %r3, out\n\
mov %r7, %r2\nmov %r1, %r6\nmov %r2, -32\ncall 65\nldxb %r0, [%r7+40]\nexit\nout:\nmov %r0, 0\nexit",
            "mov %r6, %r1\nldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 64\njgt %r4, %r3, out\n\
mov %r1, %r6\nmov %r2, -32\ncall 65\nmov %r1, %r6\nldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, out\nldxb %r0, [%r2+7]\nexit\nout:\nmov %r0, 0\nexit"),
        pair(c, "packet pointer used after xdp_adjust_meta", "data kept across adjust_meta",
            XDP, t(0), stale,
            Effect::NoFault("adjust_meta moves only data_meta, so the stale data pointer still lands in the frame here; Linux invalidates every packet pointer all the same"),
            &format!("{PKT8}mov %r7, %r2\nmov %r1, %r6\nmov %r2, -8\ncall 54\nldxb %r0, [%r7]\nexit\n{OUT}"),
            &format!("{PKT8}mov %r1, %r6\nmov %r2, -8\ncall 54\n{reload}ldxb %r0, [%r7]\nexit\n{OUT}")),
        pair(c, "packet pointer kept across a subprogram that moves the packet", "callee calls xdp_adjust_head",
            XDP, t(0), stale, OOB,
            &format!("{PKT8}mov %r7, %r2\nmov %r1, %r6\ncall local f\nldxb %r0, [%r7]\nexit\n{OUT}\
f:\nmov %r2, 16\ncall 44\nmov %r0, 0\nexit"),
            &format!("{PKT8}mov %r1, %r6\ncall local f\n{reload}ldxb %r0, [%r7]\nexit\n{OUT}\
f:\nmov %r2, 16\ncall 44\nmov %r0, 0\nexit")),
        pair(c, "stale data_end compared after xdp_adjust_tail", "new data against the old end",
            XDP, t(0), stale, OOB,
            "mov %r6, %r1\nldxw %r3, [%r1+4]\nmov %r8, %r3\nmov %r2, -32\ncall 65\nmov %r1, %r6\nldxw %r2, [%r1+0]\n\
mov %r4, %r2\nadd %r4, 64\njgt %r4, %r8, out\nldxb %r0, [%r2+60]\nexit\nout:\nmov %r0, 0\nexit",
            "mov %r6, %r1\nldxw %r3, [%r1+4]\nmov %r8, %r3\nmov %r2, -32\ncall 65\nmov %r1, %r6\nldxw %r2, [%r1+0]\n\
ldxw %r8, [%r1+4]\nmov %r4, %r2\nadd %r4, 64\njgt %r4, %r8, out\nldxb %r0, [%r2+60]\nexit\nout:\nmov %r0, 0\nexit"),
    ]
}

fn packet_range() -> Vec<Pair> {
    let c = Class::PacketRange;
    std::vec![
        pair(c, "off-by-one packet range", "8 bytes proven, 8 read at offset 1",
            XDP, Trigger { pkt: 8, ..t(0) }, rej!(K::PacketAccess { .. }), OOB,
            &format!("{PKT8}ldxdw %r0, [%r2+1]\nexit\n{OUT}"),
            &format!("{PKT8}ldxdw %r0, [%r2+0]\nexit\n{OUT}")),
        pair(c, "inverted packet comparison", "reads on the short side",
            XDP, Trigger { pkt: 4, ..t(0) }, rej!(K::PacketAccess { .. }), OOB,
            "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 8\njle %r4, %r3, out\nldxdw %r0, [%r2]\nexit\nout:\nmov %r0, 0\nexit",
            "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, out\nldxdw %r0, [%r2]\nexit\nout:\nmov %r0, 0\nexit"),
        pair(c, "range proven before a variable offset is added", "check data+4, then add a packet byte",
            XDP, Trigger { pkt: 8, fill: 0x3f, ..t(0) }, rej!(K::PacketAccess { .. } | K::UnboundedAccess { .. }), OOB,
            "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, out\nldxb %r5, [%r2]\nand %r5, 63\n\
add %r2, %r5\nldxw %r0, [%r2]\nexit\nout:\nmov %r0, 0\nexit",
            "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, out\nldxb %r5, [%r2]\nand %r5, 63\n\
add %r2, %r5\nmov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, out\nldxw %r0, [%r2]\nexit\nout:\nmov %r0, 0\nexit"),
        pair(c, "paths with different packet ranges meet", "8 bytes proven on one path, 2 on the other",
            XDP, Trigger { pkt: 4, ..t(1) }, rej!(K::PacketAccess { .. }), OOB,
            "lddw %r6, map_value[0]\nldxdw %r7, [%r6]\nldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\njeq %r7, 0, short\nadd %r4, 2\nja check\n\
short:\nadd %r4, 8\ncheck:\njgt %r4, %r3, out\nldxdw %r0, [%r2]\nexit\nout:\nmov %r0, 0\nexit",
            "lddw %r6, map_value[0]\nldxdw %r7, [%r6]\nldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\njeq %r7, 0, short\nadd %r4, 8\nja check\n\
short:\nadd %r4, 8\ncheck:\njgt %r4, %r3, out\nldxdw %r0, [%r2]\nexit\nout:\nmov %r0, 0\nexit"),
        pair(c, "socket filter direct packet access past the proven range", "4 bytes proven, 4 read at offset 2",
            SKB, Trigger { pkt: 4, ..t(0) }, rej!(K::PacketAccess { .. }), OOB,
            "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, out\nldxw %r0, [%r2+2]\nexit\nout:\nmov %r0, 0\nexit",
            "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, out\nldxw %r0, [%r2+0]\nexit\nout:\nmov %r0, 0\nexit"),
        pair(c, "packet metadata read before its range is proven", "meta - 4",
            XDP, t(0), bounds, OOB,
            "ldxw %r8, [%r1+8]\nldxw %r0, [%r8-4]\nexit",
            "ldxw %r8, [%r1+8]\nldxw %r2, [%r1+0]\nmov %r4, %r8\nadd %r4, 4\njgt %r4, %r2, out\nldxw %r0, [%r8+0]\nexit\nout:\nmov %r0, 0\nexit"),
    ]
}

fn tail_calls() -> Vec<Pair> {
    let c = Class::TailCall;
    let tail = |idx: i32| format!("mov %r1, %r9\nlddw %r2, map[3]\nmov %r3, {idx}\ncall 12\n");
    std::vec![
        pair(c, "tail call while holding a reference", "reserve, tail call, submit",
            XDP, t(0), rej!(K::UnreleasedReference { .. }), Effect::Leak,
            &format!("mov %r9, %r1\n{RESERVE}{}{SUBMIT6}mov %r0, 0\nexit", tail(0)),
            &format!("mov %r9, %r1\n{RESERVE}{SUBMIT6}{}mov %r0, 0\nexit", tail(0))),
        pair(c, "argument registers read after a tail call", "a packet pointer in r4 used after a failed tail call",
            XDP, t(0), rej!(K::UninitRegister { .. }),
            Effect::NoFault("this interpreter leaves r1-r5 as they were when the tail call fails; another engine need not"),
            &format!("mov %r9, %r1\n{PKT8}{}ldxb %r0, [%r2]\nexit\n{OUT}", tail(1)),
            &format!("mov %r9, %r1\n{PKT8}mov %r7, %r2\n{}ldxb %r0, [%r7]\nexit\n{OUT}", tail(1))),
        pair(c, "tail call with a context pointer that is not the context's start", "r1 = ctx + 4",
            XDP, t(0), rej!(K::HelperArg { .. } | K::ModifiedCtx { .. } | K::PointerArithOnType { .. }),
            Effect::NoFault("the runtime hands the target the original context"),
            &format!("add %r1, 4\nmov %r9, %r1\n{}mov %r0, 0\nexit", tail(0)),
            &format!("mov %r9, %r1\n{}mov %r0, 0\nexit", tail(0))),
        pair(c, "tail call through a map that is not a program array", "map 0 as the program array",
            XDP, t(0), rej!(K::MapHelper { .. } | K::HelperArg { .. }),
            Effect::NoFault("the runtime finds no program and falls through"),
            "mov %r1, %r1\nlddw %r2, map[0]\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit",
            "mov %r1, %r1\nlddw %r2, map[3]\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit"),
        pair(c, "stack state across a tail call: the target must not trust the caller's stack",
            "the target reads a slot it never wrote", XDP, t(0), rej!(K::StackReadUninit { .. }),
            Effect::NoFault("the target reads what the caller left on the shared stack: an information leak"),
            "ldxdw %r0, [%r10-8]\nexit",
            "stdw [%r10-8], 0\nldxdw %r0, [%r10-8]\nexit"),
    ]
}

fn frames() -> Vec<Pair> {
    let c = Class::Frames;
    std::vec![
        pair(c, "a pointer to the callee's stack escapes its frame", "callee returns r10 - 8",
            XDP, t(0), rej!(K::StackPointerEscape { .. }),
            Effect::NoFault("the dead frame is still inside the stack buffer; the next call's frame would be corrupted"),
            "call local f\nldxdw %r0, [%r0]\nexit\nf:\nstdw [%r10-8], 1\nmov %r0, %r10\nadd %r0, -8\nexit",
            "call local f\nexit\nf:\nstdw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit"),
        pair(c, "callee writes its caller's stack out of bounds", "caller passes r10 - 8, callee writes [r1 + 8]",
            XDP, t(0), bounds, OOB,
            "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\ncall local f\nldxdw %r0, [%r10-8]\nexit\nf:\nstdw [%r1+8], 7\nmov %r0, 0\nexit",
            "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\ncall local f\nldxdw %r0, [%r10-8]\nexit\nf:\nstdw [%r1+0], 7\nmov %r0, 0\nexit"),
        pair(c, "callee reads its caller's uninitialised stack", "through a pointer argument",
            XDP, t(0), rej!(K::StackReadUninit { .. }),
            Effect::NoFault("returns stack garbage: an information leak"),
            "mov %r1, %r10\nadd %r1, -8\ncall local f\nexit\nf:\nldxdw %r0, [%r1]\nexit",
            "stdw [%r10-8], 3\nmov %r1, %r10\nadd %r1, -8\ncall local f\nexit\nf:\nldxdw %r0, [%r1]\nexit"),
        pair(c, "unbounded recursion", "f calls itself", XDP, t(0),
            rej!(K::CallTooDeep { .. } | K::InfiniteLoop | K::TooComplex(_)), Effect::Traps(Trap::CallDepth),
            "call local f\nexit\nf:\ncall local f\nmov %r0, 0\nexit",
            "call local f\nexit\nf:\ncall local g\nmov %r0, 0\nexit\ng:\nmov %r0, 0\nexit"),
        pair(c, "call chain of nine frames", "eight nested calls", XDP, t(0),
            rej!(K::CallTooDeep { .. }), Effect::Traps(Trap::CallDepth),
            "call local f1\nexit\nf1:\ncall local f2\nexit\nf2:\ncall local f3\nexit\nf3:\ncall local f4\nexit\n\
f4:\ncall local f5\nexit\nf5:\ncall local f6\nexit\nf6:\ncall local f7\nexit\nf7:\ncall local f8\nexit\nf8:\nmov %r0, 0\nexit",
            "call local f1\nexit\nf1:\ncall local f2\nexit\nf2:\ncall local f3\nexit\nf3:\ncall local f4\nexit\n\
f4:\ncall local f5\nexit\nf5:\ncall local f6\nexit\nf6:\ncall local f7\nexit\nf7:\nmov %r0, 0\nexit"),
        pair(c, "caller-saved registers read after a call", "r2 used after the call",
            XDP, t(0), rej!(K::UninitRegister { .. }),
            Effect::NoFault("this interpreter leaves r1-r5 as they were; a JIT need not"),
            "stdw [%r10-8], 0\nmov %r2, %r10\nadd %r2, -8\ncall local f\nldxdw %r0, [%r2]\nexit\nf:\nmov %r0, 0\nexit",
            "stdw [%r10-8], 0\nmov %r7, %r10\nadd %r7, -8\ncall local f\nldxdw %r0, [%r7]\nexit\nf:\nmov %r0, 0\nexit"),
        pair(c, "a callee's unbounded return value used as an offset", "f returns the number",
            XDP, t(0x10000000), bounds, OOB,
            "lddw %r6, map_value[0]\nmov %r1, %r6\ncall local f\nadd %r6, %r0\nldxb %r0, [%r6]\nexit\nf:\nldxdw %r0, [%r1]\nexit",
            "lddw %r6, map_value[0]\nmov %r1, %r6\ncall local f\nadd %r6, %r0\nldxb %r0, [%r6]\nexit\nf:\nldxdw %r0, [%r1]\nand %r0, 15\nexit"),
    ]
}

fn v4() -> Vec<Pair> {
    let c = Class::V4;
    std::vec![
        pair(c, "movsx 8 to 64 taken as a zero extension", "(s8)r7 >> 4", XDP, t(0x80), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxb %r7, [%r6]\nmovsx864 %r7, %r7\nrsh %r7, 4\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxb %r7, [%r6]\nmovsx864 %r7, %r7\nand %r7, 15\n{USE7}")),
        pair(c, "movsx 32 to 64 taken as a zero extension", "(s32)r7 >> 28", XDP, t(0x8000_0000), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\nmovsx3264 %r7, %r7\nrsh %r7, 28\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\nmovsx3264 %r7, %r7\nand %r7, 15\n{USE7}")),
        pair(c, "movsx 16 to 32 taken as a zero extension", "(s16)w7 >> 12", XDP, t(0x8000), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxh %r7, [%r6]\nmovsx1632 %r7, %r7\nrsh %r7, 12\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxh %r7, [%r6]\nmovsx1632 %r7, %r7\nand %r7, 15\n{USE7}")),
        pair(c, "ldxsb taken as ldxb", "sign-extending byte load >> 4", XDP, t(0x80), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxsb %r7, [%r6]\nrsh %r7, 4\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxb %r7, [%r6]\nrsh %r7, 4\n{USE7}")),
        pair(c, "ldxsh taken as ldxh", "sign-extending half load >> 12", XDP, t(0x8000), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxsh %r7, [%r6]\nrsh %r7, 12\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxh %r7, [%r6]\nrsh %r7, 12\n{USE7}")),
        pair(c, "ldxsw taken as ldxw", "sign-extending word load >> 28", XDP, t(0x8000_0000), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxsw %r7, [%r6]\nrsh %r7, 28\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\nrsh %r7, 28\n{USE7}")),
        pair(c, "sdiv: S64_MIN / -1 overflows to S64_MIN, not a positive number",
            "negative r7 s/ -1, then r7 s<= 15", XDP, t(0x8000_0000_0000_0000), bounds, OOB,
            &format!("{NUM}jsgt %r7, -1, out\nsdiv %r7, -1\njsgt %r7, 15, out\n{USE7}{OUT}"),
            &format!("{NUM}jsgt %r7, -1, out\nsdiv %r7, -1\njsgt %r7, 15, out\njslt %r7, 0, out\n{USE7}{OUT}")),
        pair(c, "smod keeps the dividend's sign", "r7 smod 16 is in [-15, 15]", XDP, t(-15i64 as u64), bounds, OOB,
            &format!("{NUM}smod %r7, 16\n{USE7}"),
            &format!("{NUM}smod %r7, 16\nand %r7, 15\n{USE7}")),
        pair(c, "sdiv32 zero-extends a negative quotient", "w7 s/ -1", XDP, t(1), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\nsdiv32 %r7, -1\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxw %r7, [%r6]\nsdiv32 %r7, -1\nand32 %r7, 15\n{USE7}")),
        pair(c, "bswap64 moves the low byte to the top", "bswap64 of [0, 255]", XDP, t(1), bounds, OOB,
            &format!("lddw %r6, map_value[0]\nldxb %r7, [%r6]\nbswap64 %r7\n{USE7}"),
            &format!("lddw %r6, map_value[0]\nldxb %r7, [%r6]\nbswap64 %r7\nrsh %r7, 60\n{USE7}")),
        pair(c, "bswap16 keeps 16 bits of an unknown", "bswap16 of any number", XDP, t(0xffff), bounds, OOB,
            &format!("{NUM}bswap16 %r7\n{USE7}"),
            &format!("{NUM}bswap16 %r7\nrsh %r7, 12\n{USE7}")),
        pair(c, "gotol's target is its 32-bit immediate, not the offset field", "gotol over the bounds check",
            XDP, t(0x10000000), bounds, OOB,
            &format!("{NUM}jeq %r7, 5, check\nja32 +1\ncheck:\njgt %r7, 15, out\n{USE7}{OUT}"),
            &format!("{NUM}jeq %r7, 5, check\nja32 +0\ncheck:\njgt %r7, 15, out\n{USE7}{OUT}")),
    ]
}

fn loops() -> Vec<Pair> {
    let c = Class::Loops;
    std::vec![
        pair(c, "loop bounded by an unknown number", "count r7 down to 0", XDP, t(0),
            rej!(K::TooComplex(_) | K::InfiniteLoop), Effect::Traps(Trap::BudgetExhausted),
            &format!("{NUM}loop:\nsub %r7, 1\njne %r7, 0, loop\nmov %r0, 0\nexit"),
            &format!("{NUM}and %r7, 15\njeq %r7, 0, out\nloop:\nsub %r7, 1\njne %r7, 0, loop\n{OUT}")),
        pair(c, "loop that makes no progress", "r7 += 0 while r7 == 0", XDP, t(0),
            rej!(K::InfiniteLoop | K::TooComplex(_)), Effect::Traps(Trap::BudgetExhausted),
            "mov %r7, 0\nloop:\nadd %r7, 0\njeq %r7, 0, loop\nmov %r0, 0\nexit",
            "mov %r7, 0\nloop:\nadd %r7, 1\njlt %r7, 10, loop\nmov %r0, 0\nexit"),
        pair(c, "bounded loop reading past the value", "v[i] for i < 20", XDP, t(0), bounds, OOB,
            "lddw %r6, map_value[0]\nmov %r8, 0\nloop:\nmov %r2, %r6\nadd %r2, %r8\nldxb %r0, [%r2]\nadd %r8, 1\njlt %r8, 20, loop\nexit",
            "lddw %r6, map_value[0]\nmov %r8, 0\nloop:\nmov %r2, %r6\nadd %r2, %r8\nldxb %r0, [%r2]\nadd %r8, 1\njlt %r8, 16, loop\nexit"),
        pair(c, "bounded loop writing below the stack frame", "600 slots down from r10", XDP, t(0), bounds, OOB,
            "mov %r2, %r10\nmov %r8, 0\nloop:\nadd %r2, -8\nstdw [%r2], 0\nadd %r8, 1\njlt %r8, 600, loop\nmov %r0, 0\nexit",
            "mov %r2, %r10\nmov %r8, 0\nloop:\nadd %r2, -8\nstdw [%r2], 0\nadd %r8, 1\njlt %r8, 64, loop\nmov %r0, 0\nexit"),
        pair(c, "loop from an unknown start with a signed bound", "i = number; while i s< 16",
            XDP, t(-4i64 as u64), bounds, OOB,
            "lddw %r6, map_value[0]\nldxdw %r8, [%r6]\nloop:\njsge %r8, 16, done\nmov %r2, %r6\nadd %r2, %r8\nldxb %r0, [%r2]\nadd %r8, 1\nja loop\ndone:\nmov %r0, 0\nexit",
            "lddw %r6, map_value[0]\nldxdw %r8, [%r6]\nand %r8, 15\nloop:\njsge %r8, 16, done\nmov %r2, %r6\nadd %r2, %r8\nldxb %r0, [%r2]\nadd %r8, 1\nja loop\ndone:\nmov %r0, 0\nexit"),
        pair(c, "loop counter kept in a stack slot", "v[i] for i < 20, i spilled",
            XDP, t(0), bounds, OOB,
            "lddw %r6, map_value[0]\nstdw [%r10-8], 0\nloop:\nldxdw %r8, [%r10-8]\nmov %r2, %r6\nadd %r2, %r8\nldxb %r0, [%r2]\nadd %r8, 1\nstxdw [%r10-8], %r8\njlt %r8, 20, loop\nexit",
            "lddw %r6, map_value[0]\nstdw [%r10-8], 0\nloop:\nldxdw %r8, [%r10-8]\nmov %r2, %r6\nadd %r2, %r8\nldxb %r0, [%r2]\nadd %r8, 1\nstxdw [%r10-8], %r8\njlt %r8, 16, loop\nexit"),
    ]
}

fn helper_mem() -> Vec<Pair> {
    let c = Class::HelperMem;
    let output = |data: &str, size: &str| {
        format!("lddw %r1, map[2]\n{data}{size}mov %r4, 0\ncall 130\nmov %r0, 0\nexit")
    };
    let refused = Effect::NoFault("the runtime's helper checks the buffer and refuses it (EINVAL); Linux's helper would read past it");
    std::vec![
        pair(c, "helper memory size larger than the stack buffer", "ringbuf_output of 16 bytes at r10 - 8",
            XDP, t(0), bounds, refused,
            &format!("stdw [%r10-8], 0\n{}", output("mov %r2, %r10\nadd %r2, -8\n", "mov %r3, 16\n")),
            &format!("stdw [%r10-8], 0\n{}", output("mov %r2, %r10\nadd %r2, -8\n", "mov %r3, 8\n"))),
        pair(c, "helper memory size unbounded", "size = the number", XDP, t(0x10000),
            rej!(K::UnboundedAccess { .. } | K::NegativeOffset { .. } | K::StackAccess { .. } | K::HelperArg { .. }), refused,
            &format!("{NUM}stdw [%r10-8], 0\nmov %r3, %r7\n{}", output("mov %r2, %r10\nadd %r2, -8\n", "")),
            &format!("{NUM}stdw [%r10-8], 0\nmov %r3, %r7\nand %r3, 7\nadd %r3, 1\n{}", output("mov %r2, %r10\nadd %r2, -8\n", ""))),
        pair(c, "helper memory size that may be negative", "size = byte - 8", XDP, t(0),
            rej!(K::NegativeOffset { .. } | K::UnboundedAccess { .. } | K::StackAccess { .. } | K::HelperArg { .. }), refused,
            &format!("lddw %r6, map_value[0]\nldxb %r3, [%r6]\nsub %r3, 8\nstdw [%r10-8], 0\n{}", output("mov %r2, %r10\nadd %r2, -8\n", "")),
            &format!("lddw %r6, map_value[0]\nldxb %r3, [%r6]\nand %r3, 7\nadd %r3, 1\nstdw [%r10-8], 0\n{}", output("mov %r2, %r10\nadd %r2, -8\n", ""))),
        pair(c, "helper reads uninitialised stack", "map_update_elem of an unwritten value",
            XDP, t(0), rej!(K::StackReadUninit { .. }),
            Effect::NoFault("copies stack garbage into the map: an information leak"),
            "stw [%r10-4], 0\nlddw %r1, map[0]\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -24\nmov %r4, 0\ncall 2\nmov %r0, 0\nexit",
            "stw [%r10-4], 0\nstdw [%r10-24], 0\nstdw [%r10-16], 0\nlddw %r1, map[0]\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -24\nmov %r4, 0\ncall 2\nmov %r0, 0\nexit"),
        pair(c, "spilled pointer inside a helper's memory argument (nanobpf issue 21, hole 4)",
            "map_update_elem value holds a spilled stack pointer", XDP, t(0), rej!(K::PointerLeak { .. }),
            Effect::NoFault("stores a host address into the map: a pointer leak"),
            "stw [%r10-4], 0\nstdw [%r10-24], 0\nmov %r5, %r10\nstxdw [%r10-16], %r5\nlddw %r1, map[0]\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -24\nmov %r4, 0\ncall 2\nmov %r0, 0\nexit",
            "stw [%r10-4], 0\nstdw [%r10-24], 0\nmov %r5, 77\nstxdw [%r10-16], %r5\nlddw %r1, map[0]\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -24\nmov %r4, 0\ncall 2\nmov %r0, 0\nexit"),
        pair(c, "spilled pointer inside ringbuf_output's data", "a spilled map value pointer", XDP, t(0),
            rej!(K::PointerLeak { .. }),
            Effect::NoFault("copies a host address into the ring: a pointer leak"),
            &format!("lddw %r6, map_value[0]\nstxdw [%r10-8], %r6\n{}", output("mov %r2, %r10\nadd %r2, -8\n", "mov %r3, 8\n")),
            &format!("lddw %r6, map_value[0]\nldxdw %r7, [%r6]\nstxdw [%r10-8], %r7\n{}", output("mov %r2, %r10\nadd %r2, -8\n", "mov %r3, 8\n"))),
        pair(c, "map key buffer shorter than the key", "4-byte key at r10 - 2", XDP, t(0), bounds, refused,
            "sth [%r10-2], 0\nlddw %r1, map[1]\nmov %r2, %r10\nadd %r2, -2\ncall 1\nmov %r0, 0\nexit",
            "stw [%r10-4], 0\nlddw %r1, map[1]\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r0, 0\nexit"),
        pair(c, "map value as a helper's memory argument past the value's end", "ringbuf_output(v + 8, 16)",
            XDP, t(0), bounds, refused,
            &output("lddw %r2, map_value[0]+8\n", "mov %r3, 16\n"),
            &output("lddw %r2, map_value[0]+8\n", "mov %r3, 8\n")),
        pair(c, "packet as a helper's memory argument without a range proof", "ringbuf_output(data, 8)",
            XDP, Trigger { pkt: 4, ..t(0) }, bounds, refused,
            &format!("ldxw %r2, [%r1+0]\n{}", output("", "mov %r3, 8\n")),
            &format!("ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, out\n{}\n{OUT}", output("", "mov %r3, 8\n"))),
    ]
}

fn read_only_maps() -> Vec<Pair> {
    let c = Class::ReadOnlyMap;
    let ro = rej!(K::ReadOnlyMapWrite { .. });
    std::vec![
        pair(c, "store into a BPF_F_RDONLY_PROG map (.rodata) (nanobpf issue 21, hole 5)", "stdw into map_value[4]",
            XDP, t(0), ro, Effect::RoWrite,
            "lddw %r6, map_value[4]\nstdw [%r6], 1\nmov %r0, 0\nexit",
            "lddw %r6, map_value[4]\nldxdw %r0, [%r6]\nexit"),
        pair(c, "register store through a looked-up read-only value", "lookup, check, stxdw",
            XDP, t(0), ro, Effect::RoWrite,
            "stw [%r10-4], 0\nlddw %r1, map[4]\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, out\nmov %r1, 5\nstxdw [%r0], %r1\nout:\nmov %r0, 0\nexit",
            "stw [%r10-4], 0\nlddw %r1, map[0]\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, out\nmov %r1, 5\nstxdw [%r0], %r1\nout:\nmov %r0, 0\nexit"),
        pair(c, "atomic add on a read-only map value", "lock add", XDP, t(0), ro, Effect::RoWrite,
            "lddw %r6, map_value[4]\nmov %r1, 1\nlock add [%r6+8], %r1\nmov %r0, 0\nexit",
            "lddw %r6, map_value[0]\nmov %r1, 1\nlock add [%r6+8], %r1\nmov %r0, 0\nexit"),
        pair(c, "store at an offset into a read-only value", "stb at map_value[4] + 8 + 3",
            XDP, t(0), ro, Effect::RoWrite,
            "lddw %r6, map_value[4]+8\nadd %r6, 3\nstb [%r6], 1\nmov %r0, 0\nexit",
            "lddw %r6, map_value[4]+8\nadd %r6, 3\nldxb %r0, [%r6]\nexit"),
        pair(c, "map_update_elem on a read-only map", "update key 0 of map 4",
            XDP, t(0), rej!(K::ReadOnlyMapWrite { .. } | K::MapHelper { .. }), Effect::RoWrite,
            "stw [%r10-4], 0\nstdw [%r10-24], 9\nstdw [%r10-16], 9\nlddw %r1, map[4]\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -24\nmov %r4, 0\ncall 2\nmov %r0, 0\nexit",
            "stw [%r10-4], 0\nstdw [%r10-24], 9\nstdw [%r10-16], 9\nlddw %r1, map[0]\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -24\nmov %r4, 0\ncall 2\nmov %r0, 0\nexit"),
        pair(c, "map_delete_elem on a read-only map", "delete key 0 of map 4",
            XDP, t(0), rej!(K::ReadOnlyMapWrite { .. } | K::MapHelper { .. }),
            Effect::NoFault("array elements cannot be deleted: the runtime refuses it"),
            "stw [%r10-4], 0\nlddw %r1, map[4]\nmov %r2, %r10\nadd %r2, -4\ncall 3\nmov %r0, 0\nexit",
            "stw [%r10-4], 0\nlddw %r1, map[4]\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r0, 0\nexit"),
        pair(c, "a helper fills a read-only value", "map_pop_elem into map_value[4]",
            XDP, t(0), ro, Effect::RoWrite,
            "lddw %r1, map[5]\nlddw %r2, map_value[4]\ncall 88\nmov %r0, 0\nexit",
            "lddw %r1, map[5]\nlddw %r2, map_value[0]\ncall 88\nmov %r0, 0\nexit"),
    ]
}

fn context() -> Vec<Pair> {
    let c = Class::Context;
    std::vec![
        pair(c, "context read past the last field", "xdp_md + 40", XDP, t(0),
            rej!(K::CtxAccess { .. }), OOB,
            "ldxw %r0, [%r1+40]\nexit",
            "ldxw %r0, [%r1+12]\nexit"),
        pair(c, "write to a read-only context field", "xdp_md.ingress_ifindex", XDP, t(0),
            rej!(K::CtxAccess { .. }), OOB,
            "stw [%r1+12], 0\nmov %r0, 0\nexit",
            "ldxw %r0, [%r1+12]\nexit"),
        pair(c, "write to a read-only __sk_buff field", "skb->len", SKB, t(0),
            rej!(K::CtxAccess { .. }),
            Effect::NoFault("the runtime's struct lets the scalar fields be written; the program changes the packet length it reports"),
            "stw [%r1+0], 0\nmov %r0, 0\nexit",
            "stw [%r1+8], 0\nmov %r0, 0\nexit"),
        pair(c, "context access through a modified context pointer", "r1 += 20, read [r1 + 20]",
            XDP, t(0), rej!(K::ModifiedCtx { .. } | K::PointerArithOnType { .. } | K::CtxAccess { .. }), OOB,
            "add %r1, 20\nldxw %r0, [%r1+20]\nexit",
            "ldxw %r0, [%r1+20]\nexit"),
        pair(c, "wide read across two context fields", "ldxdw of xdp_md.data", XDP, t(0),
            rej!(K::CtxAccess { .. }),
            Effect::NoFault("reads half of the runtime's packet pointer: an address leak"),
            "ldxdw %r0, [%r1+0]\nexit",
            "ldxw %r0, [%r1+0]\nldxw %r2, [%r1+4]\nmov %r0, 0\nexit"),
        pair(c, "atomic on the context", "lock add on xdp_md.rx_queue_index", XDP, t(0),
            rej!(K::AtomicNotAllowed { .. } | K::CtxAccess { .. }), OOB,
            "mov %r2, 1\nlock add32 [%r1+16], %r2\nmov %r0, 0\nexit",
            "ldxw %r0, [%r1+16]\nexit"),
        pair(c, "context passed as a helper's memory argument", "ringbuf_output(ctx, 24)", XDP, t(0),
            rej!(K::HelperArg { .. } | K::CtxAccess { .. }),
            Effect::NoFault("copies the runtime's context, packet addresses included, into the ring: a pointer leak"),
            "mov %r2, %r1\nlddw %r1, map[2]\nmov %r3, 24\nmov %r4, 0\ncall 130\nmov %r0, 0\nexit",
            "ldxw %r5, [%r1+12]\nstxdw [%r10-8], %r5\nmov %r2, %r10\nadd %r2, -8\nlddw %r1, map[2]\nmov %r3, 8\nmov %r4, 0\ncall 130\nmov %r0, 0\nexit"),
    ]
}

fn all_pairs() -> Vec<Pair> {
    [
        alu32(),
        signedness(),
        shifts(),
        divmod(),
        pointer_arith(),
        or_null(),
        spill_fill(),
        pruning(),
        references(),
        packet_invalidation(),
        packet_range(),
        tail_calls(),
        frames(),
        v4(),
        loops(),
        helper_mem(),
        read_only_maps(),
        context(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- the world a pair runs in -------------------------------------------------------------

/// The initial bytes of the read-only map's value.
const RODATA: [u8; 16] = [0x5a; 16];

/// Map 0: array of one 16-byte value (the trigger numbers); 1: hash, 4-byte keys, 16-byte
/// values, keys 1 and 2 present; 2: 4 KiB ring buffer; 3: program array (slot 0 holds a
/// program that returns 2); 4: array of one 16-byte value, read-only for programs; 5: queue
/// of 8-byte values holding one value.
///
/// Every region a run can reach (the maps, the stack, the packet) lives in this one
/// allocation, in a fixed order and apart by gaps that belong to no region. So where a stray
/// access of an unverified program lands relative to the regions is the same in every run:
/// separate allocations would put the regions wherever the heap had room, and an access
/// meant to miss could now and then land inside another map.
#[repr(C)]
struct Regions {
    _gap0: [u8; GAP],
    stack: Stack,
    _gap1: [u8; GAP],
    maps: Maps,
    packet: [u8; PACKET_BUF],
    _gap8: [u8; GAP],
}

/// The maps of [`Regions`], each followed by a gap.
#[repr(C)]
struct Maps {
    data: ArrayMap<16, { value_words(16) }, 1>,
    _gap2: [u8; GAP],
    hash: BpfHashMap<4, 16, { value_words(16) }, 4>,
    _gap3: [u8; GAP],
    ring: RingBuf<4096, 512>,
    _gap4: [u8; GAP],
    progs: ProgArray<2>,
    _gap5: [u8; GAP],
    rodata: ArrayMap<16, { value_words(16) }, 1>,
    _gap6: [u8; GAP],
    queue: QueueMap<8, 4>,
    _gap7: [u8; GAP],
}

/// Bytes between two regions.
const GAP: usize = 4096;
/// Headroom and tailroom around the packet.
const ROOM: usize = 64;
/// The packet buffer: the longest trigger packet with its headroom and tailroom.
const PACKET_BUF: usize = ROOM + 64 + ROOM;

struct World {
    r: Box<Regions>,
}

impl World {
    fn new(tr: &Trigger) -> World {
        assert!(tr.pkt <= PACKET_BUF - 2 * ROOM, "trigger packet too long");
        let mut w = World {
            r: Box::new(Regions {
                _gap0: [0; GAP],
                stack: Stack::new(),
                _gap1: [0; GAP],
                maps: Maps {
                    data: ArrayMap::new(),
                    _gap2: [0; GAP],
                    hash: BpfHashMap::with_seed(3),
                    _gap3: [0; GAP],
                    ring: RingBuf::new(),
                    _gap4: [0; GAP],
                    progs: ProgArray::new(),
                    _gap5: [0; GAP],
                    rodata: ArrayMap::new(),
                    _gap6: [0; GAP],
                    queue: QueueMap::new(),
                    _gap7: [0; GAP],
                },
                packet: [tr.fill; PACKET_BUF],
                _gap8: [0; GAP],
            }),
        };
        w.r.stack.0.fill(0xcc);
        let m = &w.r.maps;
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&tr.num.to_ne_bytes());
        v[8..].copy_from_slice(&tr.num2.to_ne_bytes());
        m.data.update(&0u32.to_ne_bytes(), &v, 0).unwrap();
        for k in [1u32, 2] {
            m.hash.update(&k.to_ne_bytes(), &[k as u8; 16], 0).unwrap();
        }
        m.rodata.update(&0u32.to_ne_bytes(), &RODATA, 0).unwrap();
        m.queue.push(&[3; 8], 0).unwrap();
        m.progs.set(0, 0).unwrap();
        w
    }
}

impl Maps {
    fn table(&self) -> [&dyn Map; 6] {
        [
            &self.data,
            &self.hash,
            &self.ring,
            &self.progs,
            &self.rodata,
            &self.queue,
        ]
    }

    /// The definitions the verifier sees: map 4 is read-only for programs.
    fn defs(&self) -> [MapDef; 6] {
        let mut d = self.table().map(|m| m.def());
        d[4].flags |= BPF_F_RDONLY_PROG;
        d
    }

    /// Whether a ring-buffer record is still reserved once every finished one is consumed.
    fn leaked(&self) -> bool {
        let mut scratch = [0u8; 64];
        self.ring.consume(&mut scratch, |_| {});
        self.ring.pending() != 0
    }

    fn rodata_changed(&self) -> bool {
        let mut v = [0u8; 16];
        self.rodata
            .lookup_copy(&0u32.to_ne_bytes(), &mut v)
            .unwrap();
        v != RODATA
    }
}

/// What one run did.
#[derive(Debug)]
struct Seen {
    result: Result<u64, Trap>,
    leaked: bool,
    rodata_changed: bool,
}

/// The tail-call target of program array slot 0.
fn tail_target() -> Vec<Insn> {
    assemble_vec("mov %r0, 2\nexit")
}

fn assemble_vec(src: &str) -> Vec<Insn> {
    let mut buf = std::vec![Insn::default(); 512];
    let n = assemble(src, &mut buf).unwrap_or_else(|e| panic!("{e}\n{src}"));
    buf.truncate(n);
    buf
}

/// Runs `insns` (as written, in Linux's context layout) on the checking interpreter over the
/// trigger inputs.
fn run_checked(insns: &[Insn], pt: ProgramType, tr: &Trigger) -> Seen {
    let mut world = World::new(tr);
    let r = &mut *world.r;
    let table = r.maps.table();
    let defs = r.maps.defs();
    let mut target = tail_target();
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyTarget::new(pt, crate::helpers::standard(), MapTable::definitions(&defs));
    let target = verify(&mut target, &env, &mut *ws).unwrap();
    let programs = [target];
    let interp = Interpreter::new(crate::helpers::standard(), &NoPlatform)
        .with_maps(MapTable::new(&table))
        .with_programs(&programs)
        .with_budget(1_000_000);
    let head = ROOM;
    let buf = &mut r.packet[..ROOM + tr.pkt + ROOM];
    let result = {
        let mut ctx = match pt {
            ProgramType::Xdp => Context::Xdp(XdpBuff::new(buf, head, tr.pkt)),
            ProgramType::SocketFilter => Context::SocketFilter(SkBuff {
                packet: &mut buf[head..head + tr.pkt],
                fields: [0; 19],
            }),
            ProgramType::Tc => Context::Tc(crate::TcBuff::new(buf, head, tr.pkt)),
            ProgramType::Memory { .. } => Context::Memory(buf),
        };
        let program = Program::new(insns).unwrap();
        interp.run_checked(&program, &mut ctx, &mut r.stack)
    };
    Seen {
        result,
        leaked: r.maps.leaked(),
        rodata_changed: r.maps.rodata_changed(),
    }
}

fn verdict(
    src: &str,
    pt: ProgramType,
    tr: &Trigger,
    ws: &mut DefaultWorkspace,
) -> (Vec<Insn>, Result<Vec<Insn>, VerifyError>) {
    let insns = assemble_vec(src);
    let world = World::new(tr);
    let defs = world.r.maps.defs();
    let env = VerifyTarget::new(pt, crate::helpers::standard(), MapTable::definitions(&defs));
    let mut copy = insns.clone();
    let r = verify(&mut copy, &env, ws).map(|v| v.insns().to_vec());
    (insns, r)
}

/// Checks one pair; the problems found, described.
fn check_pair(p: &Pair, ws: &mut DefaultWorkspace) -> Vec<String> {
    let mut problems = Vec::new();
    let what = format!("[{:?}] {} ({})", p.class, p.name, p.reference);
    // The unsafe program.
    let (raw, bad) = verdict(&p.bad, p.pt, &p.trigger, ws);
    let seen = run_checked(&raw, p.pt, &p.trigger);
    match &bad {
        Ok(_) => problems.push(format!(
            "{what}: UNSAFE ACCEPTED; run unverified on the trigger: {seen:?}\n{}",
            p.bad
        )),
        Err(e) if !(p.reject)(&e.kind) => {
            problems.push(format!("{what}: unsafe rejected for another reason: {e:?}"))
        }
        Err(_) => {}
    }
    let shows = match p.effect {
        Effect::Traps(t) => seen.result == Err(t),
        Effect::Leak => seen.leaked,
        Effect::RoWrite => seen.rodata_changed,
        Effect::NoFault(_) => true,
    };
    if !shows {
        problems.push(format!(
            "{what}: the unsafe program does not show {:?} when run unverified: {seen:?}",
            p.effect
        ));
    }
    // The safe twin.
    match verdict(&p.good, p.pt, &p.trigger, ws) {
        (_, Err(e)) => problems.push(format!("{what}: SAFE REJECTED: {e:?}\n{}", p.good)),
        (raw, Ok(_)) => {
            let seen = run_checked(&raw, p.pt, &p.trigger);
            if seen.result.is_err() || seen.leaked || seen.rodata_changed {
                problems.push(format!(
                    "{what}: the accepted twin misbehaves on the checking interpreter: {seen:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn cve_pairs_unsafe_rejected_safe_accepted_and_run() {
    let mut ws = Box::new(DefaultWorkspace::new());
    let pairs = all_pairs();
    let mut problems = Vec::new();
    for p in &pairs {
        problems.extend(check_pair(p, &mut ws));
    }
    assert!(
        problems.is_empty(),
        "{} problems in {} pairs:\n{}",
        problems.len(),
        pairs.len(),
        problems.join("\n")
    );
}

#[test]
fn cve_suite_covers_every_class() {
    let pairs = all_pairs();
    assert!(pairs.len() >= 60, "{} pairs", pairs.len());
    for c in CLASSES {
        let n = pairs.iter().filter(|p| p.class == c).count();
        assert!(n >= 1, "no pair for {c:?}");
    }
    for p in &pairs {
        assert!(CLASSES.contains(&p.class));
        assert!(!p.reference.is_empty() && !p.name.is_empty());
        // A pair whose effect cannot show says why.
        if let Effect::NoFault(why) = p.effect {
            assert!(!why.is_empty(), "{}", p.name);
        }
    }
}
