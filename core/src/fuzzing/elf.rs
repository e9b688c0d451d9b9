//! `elf_load`: mutated ELF objects through the loader, and what it loads through the verifier.

use super::oracle::VERIFY_BUDGET;
use crate::elf::{LoadErrorKind, Object, MAX_FUNCTIONS};
use crate::helpers::standard;
use crate::host::{MapDef, ProgramType};
use crate::isa::{Insn, Program};
use crate::verifier::{verify, DefaultWorkspace, VerifyTarget};
use std::boxed::Box;
use std::vec::Vec;

/// Slots of the load buffer: larger than any example program, small enough that a mutated
/// object also runs out of room.
const OUT_SLOTS: usize = 2048;

/// Parses `data` as a BPF object and walks everything it declares: the license, every map
/// (by iteration, by index and by name), every program (by name and by section), each loaded
/// into a fixed buffer; a loaded program that decodes is verified with the object's maps and a
/// small budget. Nothing may panic or run without bound.
///
/// # Panics
/// On a finding only: a panic inside the loader or the verifier, or an inconsistency between
/// the loader's views of the object (a map whose index is not its position, a program not
/// found by its own name, a load that reports more slots than it wrote without saying so).
pub fn elf_load(data: &[u8]) {
    let Ok(obj) = Object::parse(data) else {
        return;
    };
    let _ = obj.license();
    let mut defs: Vec<MapDef> = Vec::new();
    for (i, m) in obj.maps().enumerate() {
        assert_eq!(m.index as usize, i, "map {} is not at its index", m.name);
        let by_index = obj.map(m.index);
        assert!(
            by_index.is_none_or(|b| b.index == m.index),
            "map {i} by index is another map"
        );
        if let Some(b) = obj.map_by_name(m.name) {
            assert_eq!(b.name, m.name, "map {} by name has another name", m.name);
        }
        defs.push(m.verifier_def());
    }
    let mut out = std::vec![Insn::default(); OUT_SLOTS];
    let mut ws: Option<Box<DefaultWorkspace>> = None;
    for p in obj.programs() {
        let found = obj.program(p.name);
        assert!(
            found.is_ok_and(|f| f.name == p.name),
            "program {} is not found by its name",
            p.name
        );
        let _ = obj.program(p.section);
        let pt = p.prog_type.unwrap_or(ProgramType::Memory { len: 64 });
        let loaded = match obj.load_program_as(p.name, pt, &mut out) {
            Ok(l) => l,
            Err(e) => {
                if let LoadErrorKind::OutputTooSmall(needed) = e.kind {
                    assert!(needed as usize > OUT_SLOTS, "output too small for {needed}");
                }
                continue;
            }
        };
        assert!(
            loaded.len <= OUT_SLOTS && loaded.functions <= MAX_FUNCTIONS,
            "load of {} reports {loaded:?}",
            p.name
        );
        let Some(insns) = out.get_mut(..loaded.len) else {
            continue;
        };
        if Program::new(insns).is_err() {
            continue;
        }
        let env = VerifyTarget {
            budget: VERIFY_BUDGET,
            ..VerifyTarget::new(pt, standard(), crate::maps::MapTable::definitions(&defs))
        };
        let ws = ws.get_or_insert_with(|| Box::new(DefaultWorkspace::new()));
        let _ = verify(insns, &env, &mut **ws);
    }
}
