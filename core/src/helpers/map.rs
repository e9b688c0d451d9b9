//! Map helpers: keyed maps, queues and stacks, and `tail_call`.

use super::{args, EINVAL};
use crate::host::{ArgKind as A, Helper, HelperCall, HelperProto, MapDef, RetKind};
use crate::maps::{Map, MapError};

pub(crate) fn errno(r: Result<(), MapError>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => e.errno() as u64,
    }
}

/// The map of `handle`, its definition, and the key at `key`, read at the map's key size.
/// Inlined into each helper, so that the triple is not passed back through memory.
#[inline(always)]
fn map_and_key<'e>(
    env: &'e HelperCall<'_>,
    handle: u64,
    key: u64,
) -> Option<(&'e dyn Map, MapDef, &'e [u8])> {
    let map = env.map(handle)?;
    let def = map.def();
    let key = env.read(key, def.key_size as u64)?;
    Some((map, def, key))
}

/// The core whose copy a per-CPU map gives; other maps have one copy, so the platform is not
/// asked.
#[inline(always)]
fn cpu_for(env: &HelperCall<'_>, def: &MapDef) -> u32 {
    if def.map_type.per_cpu() {
        env.cpu()
    } else {
        0
    }
}

fn map_lookup_elem(env: &mut HelperCall<'_>, map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    map_and_key(env, map, key)
        .and_then(|(m, def, k)| m.lookup_cpu(k, cpu_for(env, &def)))
        .map_or(0, |v| v.as_ptr().expose_provenance() as u64)
}

fn map_update_elem(
    env: &mut HelperCall<'_>,
    map: u64,
    key: u64,
    value: u64,
    flags: u64,
    _: u64,
) -> u64 {
    let Some((m, def, k)) = map_and_key(env, map, key) else {
        return EINVAL;
    };
    let Some(v) = env.read(value, def.value_size as u64) else {
        return EINVAL;
    };
    errno(m.update_cpu(k, v, flags, cpu_for(env, &def)))
}

fn map_delete_elem(env: &mut HelperCall<'_>, map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    match map_and_key(env, map, key) {
        Some((m, _, k)) => errno(m.delete(k)),
        None => EINVAL,
    }
}

/// The largest value `map_pop_elem` and `map_peek_elem` copy out (they go through a buffer on
/// the native stack, and a BPF frame holds no more).
pub(crate) const MAX_POP_VALUE: usize = crate::host::STACK_FRAME_SIZE;

fn map_push_elem(
    env: &mut HelperCall<'_>,
    map: u64,
    value: u64,
    flags: u64,
    _: u64,
    _: u64,
) -> u64 {
    let Some(m) = env.map(map) else {
        return EINVAL;
    };
    let Some(v) = env.read(value, m.def().value_size as u64) else {
        return EINVAL;
    };
    errno(m.push(v, flags))
}

/// Pop or peek: the value goes to `out`, which is zeroed first (Linux leaves zeros there when
/// the queue is empty).
fn take(env: &HelperCall<'_>, map: u64, out: u64, remove: bool) -> u64 {
    let Some(m) = env.map(map) else {
        return EINVAL;
    };
    let mut buf = [0u8; MAX_POP_VALUE];
    let Some(buf) = buf.get_mut(..m.def().value_size as usize) else {
        return EINVAL;
    };
    // Writable before anything is taken, so a bad destination loses no element.
    if !env.write(out, buf) {
        return EINVAL;
    }
    let r = if remove { m.pop(buf) } else { m.peek(buf) };
    if r.is_ok() {
        env.write(out, buf);
    }
    errno(r)
}

fn map_pop_elem(env: &mut HelperCall<'_>, map: u64, value: u64, _: u64, _: u64, _: u64) -> u64 {
    take(env, map, value, true)
}

fn map_peek_elem(env: &mut HelperCall<'_>, map: u64, value: u64, _: u64, _: u64, _: u64) -> u64 {
    take(env, map, value, false)
}

fn tail_call(env: &mut HelperCall<'_>, _ctx: u64, map: u64, index: u64, _: u64, _: u64) -> u64 {
    let target = env.map(map).and_then(|m| m.prog_at(index as u32));
    match target {
        Some(prog) => {
            env.state.tail_call = Some(prog);
            0
        }
        None => (-2i64) as u64, // ENOENT: the program falls through
    }
}

/// `bpf_map_lookup_elem` (1).
pub const MAP_LOOKUP_ELEM: Helper = Helper {
    id: 1,
    name: "map_lookup_elem",
    proto: HelperProto::new(
        args([A::ConstMapPtr, A::PtrToMapKey, A::None, A::None, A::None]),
        RetKind::MapValueOrNull,
    ),
    func: map_lookup_elem,
};

/// `bpf_map_update_elem` (2).
pub const MAP_UPDATE_ELEM: Helper = Helper {
    id: 2,
    name: "map_update_elem",
    proto: HelperProto::new(
        args([
            A::ConstMapPtr,
            A::PtrToMapKey,
            A::PtrToMapValue,
            A::Scalar,
            A::None,
        ]),
        RetKind::Integer,
    ),
    func: map_update_elem,
};

/// `bpf_map_delete_elem` (3).
pub const MAP_DELETE_ELEM: Helper = Helper {
    id: 3,
    name: "map_delete_elem",
    proto: HelperProto::new(
        args([A::ConstMapPtr, A::PtrToMapKey, A::None, A::None, A::None]),
        RetKind::Integer,
    ),
    func: map_delete_elem,
};

/// `bpf_map_push_elem` (87): appends to a queue or stack; flags `BPF_EXIST` replaces the
/// oldest element when full.
pub const MAP_PUSH_ELEM: Helper = Helper {
    id: 87,
    name: "map_push_elem",
    proto: HelperProto::new(
        args([
            A::ConstMapPtr,
            A::PtrToMapValue,
            A::Scalar,
            A::None,
            A::None,
        ]),
        RetKind::Integer,
    ),
    func: map_push_elem,
};

/// `bpf_map_pop_elem` (88): removes the next element of a queue (oldest) or stack (newest)
/// into the value buffer; `-ENOENT` (and a zeroed buffer) when empty.
pub const MAP_POP_ELEM: Helper = Helper {
    id: 88,
    name: "map_pop_elem",
    proto: HelperProto::new(
        args([
            A::ConstMapPtr,
            A::PtrToUninitMapValue,
            A::None,
            A::None,
            A::None,
        ]),
        RetKind::Integer,
    ),
    func: map_pop_elem,
};

/// `bpf_map_peek_elem` (89): as `map_pop_elem` without removing the element.
pub const MAP_PEEK_ELEM: Helper = Helper {
    id: 89,
    name: "map_peek_elem",
    proto: HelperProto::new(
        args([
            A::ConstMapPtr,
            A::PtrToUninitMapValue,
            A::None,
            A::None,
            A::None,
        ]),
        RetKind::Integer,
    ),
    func: map_peek_elem,
};

/// `bpf_tail_call` (12): on success the engine jumps to the program the program array names;
/// on failure (no such entry, chain of 33 reached) the call returns and the program goes on.
pub const TAIL_CALL: Helper = Helper {
    id: 12,
    name: "tail_call",
    proto: HelperProto::new(
        args([A::PtrToCtx, A::ConstMapPtr, A::Scalar, A::None, A::None]),
        RetKind::Integer,
    ),
    func: tail_call,
};
