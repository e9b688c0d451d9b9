//! Helpers that reach the platform: time, randomness, core id, tracing; and `csum_diff`.

use super::{args, EINVAL};
use crate::host::{ArgKind as A, Helper, HelperCall, HelperProto, RetKind};

fn ktime_get_ns(env: &mut HelperCall<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    env.platform.ktime_ns()
}

fn get_prandom_u32(env: &mut HelperCall<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    env.platform.prandom_u32() as u64
}

fn jiffies64(env: &mut HelperCall<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    env.platform.jiffies64()
}

fn get_smp_processor_id(env: &mut HelperCall<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    env.platform.cpu_id() as u64
}

fn trace_printk(env: &mut HelperCall<'_>, fmt: u64, size: u64, a: u64, b: u64, c: u64) -> u64 {
    match env.read(fmt, size) {
        Some(bytes) => {
            // The format is a C string: stop at its terminator.
            let text = bytes.split(|&b| b == 0).next().unwrap_or(bytes);
            // As in Linux, r3 to r5 need not be set when the format does not use them (the
            // verifier does not check them): only the values its conversions name are passed
            // on, the others are zero.
            let used = conversions(text);
            let mut args = [a, b, c];
            for v in args.iter_mut().skip(used) {
                *v = 0;
            }
            env.platform.trace(text, args);
            size
        }
        None => EINVAL,
    }
}

/// Conversions (`%d`, `%llx`, ...) in a `printf` format; `%%` is a literal `%`.
fn conversions(fmt: &[u8]) -> usize {
    let mut n = 0usize;
    let mut bytes = fmt.iter();
    while let Some(&b) = bytes.next() {
        if b == b'%' {
            if bytes.as_slice().first() == Some(&b'%') {
                bytes.next();
            } else {
                n = n.saturating_add(1);
            }
        }
    }
    n
}

/// Adds `bytes` as native-endian 32-bit words (or their complements) to a 64-bit accumulator.
fn add_words(mut acc: u64, bytes: &[u8], complement: bool) -> u64 {
    // Fewer than 2^32 words are readable: the sum does not wrap.
    for w in bytes.chunks_exact(4) {
        let &[a, b, c, d] = w else { continue };
        let v = u32::from_ne_bytes([a, b, c, d]);
        acc = acc.wrapping_add((if complement { !v } else { v }) as u64);
    }
    acc
}

fn csum_diff(
    env: &mut HelperCall<'_>,
    from: u64,
    from_size: u64,
    to: u64,
    to_size: u64,
    seed: u64,
) -> u64 {
    if from_size % 4 != 0 || to_size % 4 != 0 {
        return EINVAL;
    }
    let (Some(f), Some(t)) = (env.read(from, from_size), env.read(to, to_size)) else {
        return EINVAL;
    };
    // Linux: csum_partial over (~from words, to words) seeded with `seed`, folded to 32 bits.
    let mut acc = add_words(add_words(seed as u32 as u64, f, true), t, false);
    while acc >> 32 != 0 {
        acc = (acc & 0xffff_ffff).wrapping_add(acc >> 32); // two 32-bit halves: no wrap
    }
    acc
}

/// `bpf_ktime_get_ns` (5).
pub const KTIME_GET_NS: Helper = Helper {
    id: 5,
    name: "ktime_get_ns",
    proto: HelperProto::new(args([A::None; 5]), RetKind::Integer),
    func: ktime_get_ns,
};

/// `bpf_trace_printk` (6).
pub const TRACE_PRINTK: Helper = Helper {
    id: 6,
    name: "trace_printk",
    proto: HelperProto::new(
        // Linux checks only the format and its size (`ARG_DONTCARE` for the rest).
        args([A::PtrToMem, A::ConstSize, A::None, A::None, A::None]),
        RetKind::Integer,
    ),
    func: trace_printk,
};

/// `bpf_get_prandom_u32` (7).
pub const GET_PRANDOM_U32: Helper = Helper {
    id: 7,
    name: "get_prandom_u32",
    proto: HelperProto::new(args([A::None; 5]), RetKind::Integer),
    func: get_prandom_u32,
};

/// `bpf_get_smp_processor_id` (8).
pub const GET_SMP_PROCESSOR_ID: Helper = Helper {
    id: 8,
    name: "get_smp_processor_id",
    proto: HelperProto::new(args([A::None; 5]), RetKind::Integer),
    func: get_smp_processor_id,
};

/// `bpf_csum_diff` (28).
pub const CSUM_DIFF: Helper = Helper {
    id: 28,
    name: "csum_diff",
    proto: HelperProto::new(
        args([
            A::PtrToMem,
            A::ConstSizeOrZero,
            A::PtrToMem,
            A::ConstSizeOrZero,
            A::Scalar,
        ]),
        RetKind::Integer,
    ),
    func: csum_diff,
};

/// `bpf_jiffies64` (118).
pub const JIFFIES64: Helper = Helper {
    id: 118,
    name: "jiffies64",
    proto: HelperProto::new(args([A::None; 5]), RetKind::Integer),
    func: jiffies64,
};
