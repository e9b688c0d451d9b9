//! Program slots: a program loaded at run time from an object's bytes, with maps created in a
//! [`MapArena`], replaced atomically while packets flow.
//!
//! A [`ProgramSlot`] is what a board that knows no program in advance holds, next to its
//! arena: two sides, each able to hold one loaded object (its programs, verified, and its
//! maps). The data path runs the active side; [`ProgramSlot::load`] fills the idle side, then
//! makes it the active one.
//!
//! # Replacement
//!
//! - **Atomic per packet.** A run holds a read lock on the side it started on until it ends
//!   (tail calls included), so each packet runs wholly on the old or wholly on the new
//!   program, on every core.
//! - **The data path never waits for a load.** Loading, verifying and creating maps happen on
//!   the idle side, which no run uses; then one atomic store switches sides. A run that read
//!   the old side's index just before the switch still finds the old program whole (it is freed
//!   only after the in-flight packets of every core have left it); at worst a core retries
//!   once on the new side.
//! - **All or nothing.** If the object does not parse, a map cannot be created (the error
//!   names the map, the bytes it needs and the bytes free), or a program fails to verify (the
//!   error names the program and the instruction), the new maps are freed and the running
//!   program goes on with its maps untouched.
//! - **Carried maps.** A map the new object pins by name (`__uint(pinning,
//!   LIBBPF_PIN_BY_NAME)`, [`MapInfo::pinned`](crate::elf::MapInfo::pinned)) and the running program also has, with the same
//!   name and an identical definition, is carried over with its contents (the two programs
//!   share it during the switch); the others are freed with the old program. Program arrays
//!   are never carried: their values index the programs of their own object.
//! - **Tail calls.** When the object has a program array, every program of the entry program's
//!   type is loaded (up to `PROGS`, in the object's order); a program array's value `i` names
//!   the `i`-th of them. Program arrays start empty; the embedder fills them
//!   ([`ProgramSlot::inspect`]).
//!
//! # Sizes
//!
//! Each side holds `INSNS` instruction slots (8 bytes each) for all its programs, at most
//! `MAPS` maps and `PROGS` programs; the slot has two sides. Map storage is in the arena, not in
//! the slot.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::elf::{LoadError, Object};
use crate::host::{HelperTable, MapDef, MapType, ProgramType};
use crate::isa::Insn;
use crate::maps::{ArenaError, Carry, Map, MapArena, MapSet};
use crate::verifier::{verify, VerifierWorkspace, VerifyError, VerifyTarget};
use crate::VerifiedProgram;

/// Bytes of a map or program name a slot keeps (longer map names are told apart by a hash of
/// the whole name).
pub const NAME_LEN: usize = 32;

/// Why a load or an unload failed. The running program, if any, is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// The object does not parse, or a program does not load (section and offset inside).
    Load(LoadError),
    /// The object has no program of that name.
    NoProgram,
    /// The program's section gives no program type.
    UnknownProgramType,
    /// A map the program needs cannot be created (map index, bytes needed and free inside).
    Maps(ArenaError),
    /// Map `map` is of a type or with a flag nanobpf does not have.
    UnsupportedMap {
        /// The loader's index of the map.
        map: u32,
    },
    /// More maps than the slot holds.
    TooManyMaps {
        /// Maps the slot holds.
        max: usize,
    },
    /// The programs need more instruction slots than a side holds.
    TooManyInsns {
        /// Instruction slots of a side.
        max: usize,
    },
    /// Program `program` (0: the entry program; then tail-call targets in the object's order)
    /// was rejected by the verifier (the instruction index inside).
    Verify {
        /// Which program.
        program: u16,
        /// The verifier's error.
        error: VerifyError,
    },
    /// Another load or unload of this slot is in progress.
    Busy,
    /// There is no program to unload.
    Empty,
}

impl core::fmt::Display for SlotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SlotError::Load(e) => write!(f, "{e}"),
            SlotError::NoProgram => f.write_str("no such program in the object"),
            SlotError::UnknownProgramType => f.write_str("the program's section gives no type"),
            SlotError::Maps(e) => write!(f, "{e}"),
            SlotError::UnsupportedMap { map } => {
                write!(f, "map {map}: a type or flag nanobpf does not have")
            }
            SlotError::TooManyMaps { max } => write!(f, "more than {max} maps"),
            SlotError::TooManyInsns { max } => {
                write!(f, "more than {max} instruction slots")
            }
            SlotError::Verify { program, error } => write!(f, "program {program}: {error}"),
            SlotError::Busy => f.write_str("another load is in progress"),
            SlotError::Empty => f.write_str("no program is loaded"),
        }
    }
}

impl core::error::Error for SlotError {}

/// A definition for the places of `defs` past the object's maps (never created).
const UNUSED: MapDef = MapDef {
    map_type: MapType::Array,
    key_size: 4,
    value_size: 1,
    max_entries: 1,
    flags: 0,
};

/// What a successful [`ProgramSlot::load`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadReport {
    /// Programs loaded (the entry program and its tail-call targets).
    pub programs: usize,
    /// Instruction slots used.
    pub insns: usize,
    /// Maps of the new program.
    pub maps: usize,
    /// Of them, carried over from the program replaced.
    pub carried: usize,
    /// Whether a program was replaced.
    pub replaced: bool,
}

/// A map or program name as a slot keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Name {
    bytes: [u8; NAME_LEN],
    len: u8,
    /// FNV-1a of the whole name.
    hash: u64,
}

impl Name {
    const EMPTY: Name = Name {
        bytes: [0; NAME_LEN],
        len: 0,
        hash: 0,
    };

    fn new(name: &str) -> Name {
        let mut bytes = [0; NAME_LEN];
        let kept = name.len().min(NAME_LEN);
        bytes.iter_mut().zip(name.bytes()).for_each(|(d, s)| *d = s);
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Name {
            bytes,
            len: kept as u8,
            hash,
        }
    }

    /// The name, or its first [`NAME_LEN`] bytes (cut at a character boundary).
    fn as_str(&self) -> &str {
        let b = self.bytes.get(..self.len as usize).unwrap_or_default();
        match core::str::from_utf8(b) {
            Ok(s) => s,
            Err(e) => {
                core::str::from_utf8(b.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or("")
            }
        }
    }
}

/// One program of a side: where its instructions are and what the verifier found.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    len: u32,
    stack_depth: u32,
    name: Name,
}

/// One side of a slot.
#[derive(Debug)]
struct Side<'a, const INSNS: usize, const MAPS: usize, const PROGS: usize> {
    loaded: bool,
    prog_type: ProgramType,
    version: u32,
    insns: [Insn; INSNS],
    /// The entry program first, then the tail-call targets.
    programs: heapless::Vec<Span, PROGS>,
    maps: MapSet<'a, MAPS>,
    /// Per map: its name and whether it is pinned.
    names: [(Name, bool); MAPS],
}

impl<'a, const INSNS: usize, const MAPS: usize, const PROGS: usize> Side<'a, INSNS, MAPS, PROGS> {
    const fn new() -> Self {
        Side {
            loaded: false,
            prog_type: ProgramType::Xdp,
            version: 0,
            insns: [Insn::new(0, 0, 0, 0, 0); INSNS],
            programs: heapless::Vec::new(),
            maps: MapSet::empty(),
            names: [(Name::EMPTY, false); MAPS],
        }
    }

    /// Empties the side: its maps back to `arena` (the maps a later set shares stay), no
    /// program.
    fn clear<const BLOCKS: usize>(&mut self, arena: &mut MapArena<'a, BLOCKS>) {
        let maps = core::mem::replace(&mut self.maps, MapSet::empty());
        // Refused only for a set of another arena (the empty set): not ours to free.
        let _ = arena.free(maps);
        self.loaded = false;
        self.programs.clear();
    }

    /// The verified programs of this side, bound to its maps and `helpers`. The side was
    /// filled only with programs the verifier accepted against exactly these.
    fn verified(&self, helpers: HelperTable<'a>) -> heapless::Vec<VerifiedProgram<'_>, PROGS> {
        let mut out = heapless::Vec::new();
        for s in &self.programs {
            let (start, end) = (s.start as usize, s.start.saturating_add(s.len) as usize);
            let Some(insns) = self.insns.get(start..end) else {
                continue;
            };
            // Cannot fail: `programs` holds at most PROGS spans.
            let _ = out.push(VerifiedProgram::assume_verified(
                insns,
                self.prog_type,
                s.stack_depth,
                helpers,
                self.maps.table(),
            ));
        }
        out
    }
}

/// A slot for a program loaded at run time: two sides, a reader-writer lock each, one atomic
/// switch between them. `INSNS` instruction
/// slots, `MAPS` maps and `PROGS` programs per side; `const fn new()`, so it lives in a
/// `static`.
#[derive(Debug)]
pub struct ProgramSlot<'a, const INSNS: usize, const MAPS: usize, const PROGS: usize> {
    sides: [spin::RwLock<Side<'a, INSNS, MAPS, PROGS>>; 2],
    active: AtomicUsize,
    loading: spin::Mutex<()>,
    helpers: HelperTable<'a>,
}

impl<'a, const INSNS: usize, const MAPS: usize, const PROGS: usize>
    ProgramSlot<'a, INSNS, MAPS, PROGS>
{
    /// An empty slot whose programs may call `helpers`.
    pub const fn new(helpers: HelperTable<'a>) -> Self {
        ProgramSlot {
            sides: [
                spin::RwLock::new(Side::new()),
                spin::RwLock::new(Side::new()),
            ],
            active: AtomicUsize::new(0),
            loading: spin::Mutex::new(()),
            helpers,
        }
    }

    /// Runs `f` with the running program (bound to its maps and the slot's helpers) and its
    /// tail-call targets (the slice to give `Runtime::with_programs`); `None` when the slot is
    /// empty. The program cannot be replaced or freed while `f` runs: call it once per packet.
    pub fn run<R>(
        &self,
        f: impl FnOnce(&VerifiedProgram<'_>, &[VerifiedProgram<'_>]) -> R,
    ) -> Option<R> {
        self.with_running(|side| {
            let programs = side.verified(self.helpers);
            programs.first().map(|entry| f(entry, &programs))
        })?
    }

    /// Runs `f` with a view of the running program (name, version, maps by name), for the
    /// control path; `None` when the slot is empty.
    pub fn inspect<R>(&self, f: impl FnOnce(&RunningProgram<'_, 'a>) -> R) -> Option<R> {
        self.with_running(|side| {
            f(&RunningProgram {
                prog_type: side.prog_type,
                version: side.version,
                programs: &side.programs,
                maps: side.maps.maps(),
                names: &side.names,
            })
        })
    }

    /// Side `i & 1`: the two sides are indexed by the low bit of `active`.
    fn side(&self, i: usize) -> &spin::RwLock<Side<'a, INSNS, MAPS, PROGS>> {
        let [even, odd] = &self.sides;
        if i & 1 == 0 {
            even
        } else {
            odd
        }
    }

    /// Runs `f` on the active side under its read lock, if it holds a program.
    fn with_running<R>(&self, f: impl FnOnce(&Side<'a, INSNS, MAPS, PROGS>) -> R) -> Option<R> {
        loop {
            let i = self.active.load(Ordering::Acquire) & 1;
            let Some(side) = self.side(i).try_read() else {
                // A load is freeing this side: the other one is active now.
                core::hint::spin_loop();
                continue;
            };
            // A load may have switched sides and freed this one between the two lines above:
            // the side is the running one only if it is still active now that it is held
            // (freeing or filling it needs its write lock).
            if self.active.load(Ordering::Acquire) & 1 != i {
                drop(side);
                core::hint::spin_loop();
                continue;
            }
            return side.loaded.then(|| f(&side));
        }
    }

    /// Loads program `name` of the ELF object `object` (and its tail-call targets, when the
    /// object has a program array) into the idle side: its maps created in `arena` (pinned
    /// maps carried over from the running program), each program verified with `ws`; then
    /// makes it the running program and frees the one it replaces. `version` is the caller's
    /// (reported by [`ProgramSlot::inspect`]).
    ///
    /// `arena` must be the arena the running program's maps were created in.
    ///
    /// # Errors
    /// See [`SlotError`]. On an error nothing that was running or stored changes.
    pub fn load<const BLOCKS: usize, const I: usize, const S: usize, const B: usize>(
        &self,
        arena: &mut MapArena<'a, BLOCKS>,
        object: &[u8],
        name: &str,
        version: u32,
        ws: &mut VerifierWorkspace<I, S, B>,
    ) -> Result<LoadReport, SlotError> {
        let _one = self.loading.try_lock().ok_or(SlotError::Busy)?;
        let active = self.active.load(Ordering::Acquire) & 1;
        let idle = active ^ 1;
        let obj = Object::parse(object).map_err(SlotError::Load)?;
        let report = {
            // Only stragglers of the last switch can hold the idle side: each for one packet.
            let mut new = self.side(idle).write();
            let old = self.side(active).read();
            let report = self.fill(&mut new, &old, arena, &obj, name, version, ws)?;
            new.loaded = true;
            report
        };
        self.active.store(idle, Ordering::Release);
        self.free_side(active, arena);
        Ok(report)
    }

    /// Stops running the loaded program and frees its maps; the slot is empty afterwards.
    ///
    /// # Errors
    /// [`SlotError::Empty`] when nothing is loaded, [`SlotError::Busy`] during a load.
    pub fn unload<const BLOCKS: usize>(
        &self,
        arena: &mut MapArena<'a, BLOCKS>,
    ) -> Result<(), SlotError> {
        let _one = self.loading.try_lock().ok_or(SlotError::Busy)?;
        let active = self.active.load(Ordering::Acquire) & 1;
        if !self.side(active).read().loaded {
            return Err(SlotError::Empty);
        }
        // The idle side is empty: switching to it stops the program for new packets.
        self.active.store(active ^ 1, Ordering::Release);
        self.free_side(active, arena);
        Ok(())
    }

    /// Waits for the runs still on side `i` (one packet each), then frees its maps.
    fn free_side<const BLOCKS: usize>(&self, i: usize, arena: &mut MapArena<'a, BLOCKS>) {
        self.side(i).write().clear(arena);
    }

    /// Fills the idle side `new` with `obj`'s program `name`, carrying pinned maps of `old`.
    #[allow(clippy::too_many_arguments)]
    fn fill<const BLOCKS: usize, const I: usize, const S: usize, const B: usize>(
        &self,
        new: &mut Side<'a, INSNS, MAPS, PROGS>,
        old: &Side<'a, INSNS, MAPS, PROGS>,
        arena: &mut MapArena<'a, BLOCKS>,
        obj: &Object<'_>,
        name: &str,
        version: u32,
        ws: &mut VerifierWorkspace<I, S, B>,
    ) -> Result<LoadReport, SlotError> {
        let entry = obj.program(name).map_err(|_| SlotError::NoProgram)?;
        let prog_type = entry.prog_type.ok_or(SlotError::UnknownProgramType)?;
        // The maps: definitions, names, and which to carry.
        let mut defs = [UNUSED; MAPS];
        let mut carry: heapless::Vec<Carry, MAPS> = heapless::Vec::new();
        let mut count = 0;
        let mut has_prog_array = false;
        for info in obj.maps() {
            let i = info.index as usize;
            let (Some(d), Some(n)) = (defs.get_mut(i), new.names.get_mut(i)) else {
                return Err(SlotError::TooManyMaps { max: MAPS });
            };
            *d = info
                .def
                .map_err(|_| SlotError::UnsupportedMap { map: info.index })?;
            *n = (Name::new(info.name), info.pinned);
            count = count.max(i.saturating_add(1));
            has_prog_array |= d.map_type == MapType::ProgArray;
            if !info.pinned || d.map_type == MapType::ProgArray || !old.loaded {
                continue;
            }
            let same = old
                .names
                .iter()
                .take(old.maps.len())
                .position(|(o, pinned)| {
                    *pinned && o.hash == n.0.hash && o.as_str() == n.0.as_str()
                });
            if let Some(o) = same.filter(|&o| old.maps.def(o as u32) == Some(*d)) {
                let c = Carry {
                    new: info.index,
                    old: o as u32,
                };
                // Cannot fail: at most one carry per map, MAPS maps.
                let _ = carry.push(c);
            }
        }
        let defs = &defs[..count];
        let set = if carry.is_empty() {
            arena.create_all::<MAPS>(defs)
        } else {
            arena.create_all_carrying::<MAPS, MAPS>(defs, &old.maps, &carry)
        };
        let set = set.map_err(SlotError::Maps)?;
        new.maps = set;
        // Global data starts with the object's bytes (`.rodata`, `.data`); carried maps keep
        // theirs.
        for info in obj.maps() {
            let (Some(init), Some(map)) = (info.init, new.maps.get(info.index)) else {
                continue;
            };
            if carry.iter().any(|c| c.new == info.index) {
                continue;
            }
            if map.update(&0u32.to_ne_bytes(), init, 0).is_err() {
                new.clear(arena);
                return Err(SlotError::UnsupportedMap { map: info.index });
            }
        }
        let filled = self.fill_programs(new, obj, name, prog_type, has_prog_array, ws);
        if let Err(e) = filled {
            new.clear(arena);
            return Err(e);
        }
        new.prog_type = prog_type;
        new.version = version;
        Ok(LoadReport {
            programs: new.programs.len(),
            insns: new.programs.iter().map(|s| s.len as usize).sum(),
            maps: count,
            carried: carry.len(),
            replaced: old.loaded,
        })
    }

    /// Loads and verifies the entry program and, with a program array, the other programs of
    /// its type, into `new.insns`.
    fn fill_programs<const I: usize, const S: usize, const B: usize>(
        &self,
        new: &mut Side<'a, INSNS, MAPS, PROGS>,
        obj: &Object<'_>,
        name: &str,
        prog_type: ProgramType,
        has_prog_array: bool,
        ws: &mut VerifierWorkspace<I, S, B>,
    ) -> Result<(), SlotError> {
        new.programs.clear();
        let env = VerifyTarget::new(prog_type, self.helpers, new.maps.table());
        let mut at = 0usize;
        let others = obj
            .programs()
            .filter(|p| has_prog_array && p.name != name && p.prog_type == Some(prog_type));
        let names = core::iter::once(name).chain(others.map(|p| p.name));
        for (k, n) in names.enumerate() {
            let program = u16::try_from(k).unwrap_or(u16::MAX);
            if new.programs.is_full() {
                break;
            }
            let out = new
                .insns
                .get_mut(at..)
                .ok_or(SlotError::TooManyInsns { max: INSNS })?;
            let loaded = obj.load_program_as(n, prog_type, out).map_err(|e| {
                if matches!(e.kind, crate::elf::LoadErrorKind::OutputTooSmall(_)) {
                    SlotError::TooManyInsns { max: INSNS }
                } else {
                    SlotError::Load(e)
                }
            })?;
            let slots = out
                .get_mut(..loaded.len)
                .ok_or(SlotError::TooManyInsns { max: INSNS })?;
            let v =
                verify(slots, &env, ws).map_err(|error| SlotError::Verify { program, error })?;
            let span = Span {
                start: at as u32,
                len: loaded.len as u32,
                stack_depth: v.stack_depth(),
                name: Name::new(n),
            };
            // Cannot fail: checked `is_full` above.
            let _ = new.programs.push(span);
            at = at.saturating_add(loaded.len);
        }
        Ok(())
    }
}

/// The running program, as [`ProgramSlot::inspect`] shows it.
#[derive(Debug)]
pub struct RunningProgram<'s, 'a> {
    prog_type: ProgramType,
    version: u32,
    programs: &'s [Span],
    maps: &'s [crate::maps::AnyMap<'a>],
    names: &'s [(Name, bool)],
}

impl<'s, 'a> RunningProgram<'s, 'a> {
    /// The entry program's name (its first [`NAME_LEN`] bytes).
    pub fn name(&self) -> &'s str {
        self.program_name(0).unwrap_or("")
    }

    /// The name of program `i`: 0 is the entry program, then the tail-call targets, whose
    /// index a program array's value gives.
    pub fn program_name(&self, i: usize) -> Option<&'s str> {
        self.programs.get(i).map(|s| s.name.as_str())
    }

    /// The version the loader gave.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The program type.
    pub fn prog_type(&self) -> ProgramType {
        self.prog_type
    }

    /// Programs loaded: the entry program and its tail-call targets.
    pub fn programs(&self) -> usize {
        self.programs.len()
    }

    /// The maps in the loader's index order, with their names (the first [`NAME_LEN`]
    /// bytes) and whether they are pinned.
    pub fn maps(&self) -> impl Iterator<Item = (&'s str, bool, &'s dyn Map)> + '_ {
        self.maps
            .iter()
            .zip(self.names)
            .map(|(m, (n, pinned))| (n.as_str(), *pinned, m as &dyn Map))
    }

    /// The map called `name`.
    pub fn map(&self, name: &str) -> Option<&'s dyn Map> {
        let want = Name::new(name);
        self.maps
            .iter()
            .zip(self.names)
            .find(|(_, (n, _))| n.hash == want.hash && n.as_str() == want.as_str())
            .map(|(m, _)| m as &dyn Map)
    }
}

#[cfg(test)]
mod tests;
