//! What the engines run: a program's instructions, as bytes, and the maps it declares. Raw
//! programs are their committed `.bin`; a program with maps is loaded from its committed ELF
//! object by nanobpf's own loader, which resolves each map reference to the map's index.

use crate::flows::{flow_map, FLOW_KEY};
use crate::workload::{Bench, Source};
use crate::Engine;
use nanobpf_core::Map;
use nanobpf_core::MapDef;
use nanobpf_core::{Insn, Object, ProgramType};

/// The largest program loaded from an object, in slots.
const MAX_SLOTS: usize = 4096;

/// A program ready for the engines.
#[derive(Clone, Copy, Debug)]
pub struct Code {
    /// The instructions, little-endian slots; map references are `lddw` src 5 (map by index).
    pub bytes: &'static [u8],
    /// The maps the program declares, by index (empty for raw programs).
    pub maps: &'static [MapDef],
}

impl Code {
    /// The code of `bench`, for buffers of `len` bytes.
    ///
    /// # Errors
    /// The loader's error, or a map the flow-map storage does not fit, as text.
    pub fn of(bench: Bench, len: usize) -> Result<Code, String> {
        match bench.source() {
            Source::Raw(bytes) => Ok(Code { bytes, maps: &[] }),
            Source::Object(obj) => load(bench, obj, len),
        }
    }

    /// Whether the program uses maps.
    pub fn has_maps(&self) -> bool {
        !self.maps.is_empty()
    }
}

/// Loads function `prog` of `obj` as a memory program over `len` bytes. The program must have
/// exactly one map, which every engine's flow map must fit.
fn load(bench: Bench, obj: &'static [u8], len: usize) -> Result<Code, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}.o: {e}", bench.name());
    let obj = Object::parse(obj).map_err(|e| at(&e))?;
    let len = u32::try_from(len).map_err(|_| at(&"input too large"))?;
    let mut out = vec![Insn::default(); MAX_SLOTS];
    let loaded = obj
        .load_program_as("prog", ProgramType::Memory { len }, &mut out)
        .map_err(|e| at(&e))?;
    let maps: Vec<MapDef> = obj.maps().map(|m| m.verifier_def()).collect();
    if maps.len() != 1 || maps[0].key_size as usize != FLOW_KEY {
        return Err(at(&format!("{} maps, expected one flow map", maps.len())));
    }
    for &e in Engine::ALL {
        flow_map(e).check_def(&maps[0]).map_err(|e| at(&e))?;
    }
    let bytes: Vec<u8> = out[..loaded.len]
        .iter()
        .flat_map(|i| i.to_bytes())
        .collect();
    Ok(Code {
        bytes: Box::leak(bytes.into_boxed_slice()),
        maps: Box::leak(maps.into_boxed_slice()),
    })
}
