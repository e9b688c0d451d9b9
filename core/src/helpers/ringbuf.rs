//! Ring buffer helpers: `ringbuf_output` copies a record in; `ringbuf_reserve` hands the
//! program a record to fill in place, which it must give back with `ringbuf_submit` or
//! `ringbuf_discard` (the verifier tracks that as a reference).

use super::map::errno;
use super::{args, EINVAL};
use crate::host::{ArgKind as A, Helper, HelperCall, HelperProto, MapType, RetKind};

fn ringbuf_output(
    env: &mut HelperCall<'_>,
    map: u64,
    data: u64,
    size: u64,
    flags: u64,
    _: u64,
) -> u64 {
    let (Some(m), Some(d)) = (env.map(map), env.read(data, size)) else {
        return EINVAL;
    };
    errno(m.ringbuf_output(d, flags))
}

fn ringbuf_reserve(
    env: &mut HelperCall<'_>,
    map: u64,
    size: u64,
    flags: u64,
    _: u64,
    _: u64,
) -> u64 {
    env.map(map)
        .and_then(|m| m.ringbuf_reserve(size, flags))
        .map_or(0, |p| p.as_ptr().expose_provenance() as u64)
}

/// Finishes the record at `data` in whichever ring buffer of the run holds it (as in Linux,
/// the pointer alone names the record). A pointer that is no reserved record changes nothing.
fn commit(env: &HelperCall<'_>, data: u64, flags: u64, discard: bool) -> u64 {
    for m in env.maps.iter() {
        if m.def().map_type != MapType::RingBuf {
            continue;
        }
        let done = if discard {
            m.ringbuf_discard(data, flags)
        } else {
            m.ringbuf_submit(data, flags)
        };
        if done.is_ok() {
            break;
        }
    }
    0
}

fn ringbuf_submit(env: &mut HelperCall<'_>, data: u64, flags: u64, _: u64, _: u64, _: u64) -> u64 {
    commit(env, data, flags, false)
}

fn ringbuf_discard(env: &mut HelperCall<'_>, data: u64, flags: u64, _: u64, _: u64, _: u64) -> u64 {
    commit(env, data, flags, true)
}

/// `bpf_ringbuf_output` (130).
pub const RINGBUF_OUTPUT: Helper = Helper {
    id: 130,
    name: "ringbuf_output",
    proto: HelperProto::new(
        args([
            A::ConstMapPtr,
            A::PtrToMem,
            A::ConstSize,
            A::Scalar,
            A::None,
        ]),
        RetKind::Integer,
    ),
    func: ringbuf_output,
};

/// `bpf_ringbuf_reserve` (131): a record of `size` bytes (a known constant) to fill in place,
/// or null when the ring buffer has no room (or flags are not 0).
pub const RINGBUF_RESERVE: Helper = Helper {
    id: 131,
    name: "ringbuf_reserve",
    proto: HelperProto::new(
        args([
            A::ConstMapPtr,
            A::ConstAllocSize,
            A::Scalar,
            A::None,
            A::None,
        ]),
        RetKind::RingbufMemOrNull,
    ),
    func: ringbuf_reserve,
};

/// `bpf_ringbuf_submit` (132): hands a reserved record to the consumer.
pub const RINGBUF_SUBMIT: Helper = Helper {
    id: 132,
    name: "ringbuf_submit",
    proto: HelperProto::new(
        args([A::PtrToRingbufMem, A::Scalar, A::None, A::None, A::None]),
        RetKind::Void,
    ),
    func: ringbuf_submit,
};

/// `bpf_ringbuf_discard` (133): gives a reserved record back unseen.
pub const RINGBUF_DISCARD: Helper = Helper {
    id: 133,
    name: "ringbuf_discard",
    proto: HelperProto::new(
        args([A::PtrToRingbufMem, A::Scalar, A::None, A::None, A::None]),
        RetKind::Void,
    ),
    func: ringbuf_discard,
};
