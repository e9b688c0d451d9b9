//! The run oracle (see the module documentation of [`super`]): maps, stack and workspace of
//! one fuzzing session, and the check of one program against them.

use super::Source;
use crate::env::{MapDef, ProgramType, Stack};
use crate::helpers::standard;
use crate::isa::{Insn, Program};
use crate::maps::{value_words, ArrayMap, DevMap, HashMap, LruHashMap, Map, MapTable, ProgArray};
use crate::verifier::{verify, DefaultWorkspace, VerifyEnv, VerifyError};
use crate::{Context, Interpreter, NoPlatform, SkBuff, Trap, VerifiedProgram, XdpBuff};
use std::boxed::Box;
use std::vec::Vec;

/// The verifier's budget of processed instructions in fuzzing: small, so that every input
/// finishes in milliseconds.
pub const VERIFY_BUDGET: u32 = 50_000;

/// The run budget: a verified program that executes this many instructions is reported as
/// not terminating.
const RUN_BUDGET: u64 = 1_000_000;

/// Map 0: hash, 4-byte keys, 16-byte values.
pub(crate) const MAP_HASH: i32 = 0;
/// Map 1: array of 4 values of 16 bytes.
pub(crate) const MAP_ARRAY: i32 = 1;
/// Map 2: LRU hash, 4-byte keys, 8-byte values, 4 entries.
pub(crate) const MAP_LRU: i32 = 2;
/// Map 3: program array of 2 slots (empty after a reset: every tail call fails until
/// [`FuzzMaps::set_tail_target`]).
pub(crate) const MAP_PROGS: i32 = 3;
/// Map 4: device map.
pub(crate) const MAP_DEVS: i32 = 4;
/// Value sizes of the maps above, by index (0 where values do not escape).
pub(crate) const VALUE_SIZE: [u32; 5] = [16, 16, 8, 0, 0];

/// The maps of a fuzzing session: a hash map (index 0, 4-byte keys, 16-byte values), an
/// array (1, 4 values of 16 bytes), an LRU hash (2, 8-byte values, 4 entries), a program
/// array of [`FuzzMaps::PROG_SLOTS`] slots (3, empty after a reset) and a device map (4).
#[derive(Debug)]
pub struct FuzzMaps {
    hash: HashMap<4, 16, { value_words(16) }, 8>,
    array: ArrayMap<16, { value_words(16) }, 4>,
    lru: LruHashMap<4, 8, { value_words(8) }, 4>,
    progs: ProgArray<2>,
    devs: DevMap<2>,
}

impl Default for FuzzMaps {
    fn default() -> Self {
        FuzzMaps::new()
    }
}

impl FuzzMaps {
    /// The slots of the program array (map 3).
    pub const PROG_SLOTS: u32 = 2;

    /// Empty maps (call [`FuzzMaps::reset`] for the initial contents).
    pub const fn new() -> Self {
        FuzzMaps {
            hash: HashMap::with_seed(1),
            array: ArrayMap::new(),
            lru: LruHashMap::with_seed(2),
            progs: ProgArray::new(),
            devs: DevMap::new(),
        }
    }

    /// The maps in index order, for a [`MapTable`].
    pub fn table(&self) -> [&dyn Map; 5] {
        [&self.hash, &self.array, &self.lru, &self.progs, &self.devs]
    }

    /// Back to the same initial contents, at the same addresses.
    pub fn reset(&mut self) {
        *self = FuzzMaps::new();
        for k in 0u32..3 {
            let mut v = [0u8; 16];
            v[0] = k as u8 + 1;
            v[8] = 0x80;
            let _ = self.hash.update(&k.to_ne_bytes(), &v, 0);
            let _ = self.array.update(&k.to_ne_bytes(), &v, 0);
            let _ = self.lru.update(&k.to_ne_bytes(), &v[..8], 0);
        }
        let _ = self
            .devs
            .update(&0u32.to_ne_bytes(), &7u32.to_ne_bytes(), 0);
    }

    /// Puts tail-call target `program` (an index into the runtime's program table) in `slot` of
    /// the program array; a slot past [`FuzzMaps::PROG_SLOTS`] is ignored. [`FuzzMaps::reset`]
    /// empties every slot.
    pub fn set_tail_target(&self, slot: u32, program: u32) {
        let _ = self.progs.set(slot, program);
    }

    /// The definitions, for the verifier.
    pub fn defs(&self) -> [MapDef; 5] {
        self.table().map(|m| m.def())
    }

    /// Every key and value of the keyed maps and the array, in a canonical order: map index,
    /// key, value.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = Vec::new();
        for (i, m) in self.table().iter().enumerate().take(3) {
            let def = m.def();
            let mut key = std::vec![0u8; def.key_size as usize];
            let mut cur: Option<Vec<u8>> = None;
            let mut n = 0;
            while m.next_key(cur.as_deref(), &mut key).is_ok() && n <= def.max_entries {
                let mut value = std::vec![0u8; def.value_size as usize];
                let _ = m.lookup_copy(&key, &mut value);
                out.push((i, key.clone(), value));
                cur = Some(key.clone());
                n += 1;
            }
        }
        out.sort();
        out
    }
}

/// The contents of [`FuzzMaps`]: (map index, key, value), sorted.
pub type Snapshot = Vec<(usize, Vec<u8>, Vec<u8>)>;

/// The inputs of one run, drawn from a [`Source`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInput {
    /// The memory buffer, the packet, or an XDP frame buffer: `headroom` bytes, the frame (up
    /// to 80 bytes), `tailroom` bytes.
    pub buf: Vec<u8>,
    /// XDP: bytes before the frame, room for `xdp_adjust_head` and `adjust_meta` to grow it
    /// (0 for other program types).
    pub headroom: usize,
    /// XDP: bytes after the frame, room for `xdp_adjust_tail` to grow it (0 for others).
    pub tailroom: usize,
    /// The scalar fields of a socket filter's `__sk_buff`.
    pub fields: [u32; 19],
    /// Two bytes to fill the stack with before a run.
    pub garbage: [u8; 2],
}

impl RunInput {
    /// Inputs for a program of type `pt`. An XDP frame gets headroom and tailroom, so that a
    /// packet pointer left stale by a helper that moved the frame still points into the
    /// buffer, where only the frame bounds of the checking interpreter catch it.
    pub fn draw(pt: ProgramType, src: &mut impl Source) -> Self {
        let (len, headroom, tailroom) = match pt {
            ProgramType::Memory { len } => (len as usize, 0, 0),
            ProgramType::Xdp => (
                src.below(81) as usize,
                src.pick(&[0, 4, 8, 14, 32, 64, 256]),
                src.pick(&[0, 1, 8, 32, 128]),
            ),
            ProgramType::SocketFilter => (src.below(81) as usize, 0, 0),
        };
        let buf = (0..headroom + len + tailroom)
            .map(|_| src.next_u64() as u8)
            .collect();
        let fields = core::array::from_fn(|_| src.next_u64() as u32);
        let garbage = [src.next_u64() as u8, src.next_u64() as u8 ^ 0xa5];
        RunInput {
            buf,
            headroom,
            tailroom,
            fields,
            garbage,
        }
    }

    /// The context of a program of type `pt` over `buf`, a copy of [`RunInput::buf`] (so the
    /// same input runs at the caller's addresses): a memory buffer, an XDP frame between the
    /// headroom and the tailroom, or a socket buffer with the scalar `fields`.
    pub fn context<'b>(&self, pt: ProgramType, buf: &'b mut [u8]) -> Context<'b> {
        match pt {
            ProgramType::Memory { .. } => Context::Memory(buf),
            ProgramType::Xdp => {
                let len = buf.len().saturating_sub(self.headroom + self.tailroom);
                Context::Xdp(XdpBuff::new(buf, self.headroom, len))
            }
            ProgramType::SocketFilter => Context::SocketFilter(SkBuff {
                packet: buf,
                fields: self.fields,
            }),
        }
    }
}

/// What happened to one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The verifier rejected it (not a finding).
    Rejected(VerifyError),
    /// The verifier accepted it and every run passed the oracle.
    Accepted,
}

/// Maps, stack and verifier workspace, reused from program to program.
#[derive(Debug)]
pub struct Fixture {
    maps: Box<FuzzMaps>,
    stack: Box<Stack>,
    ws: Box<DefaultWorkspace>,
    /// How many runs each accepted program gets, on different inputs.
    pub runs: u32,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

/// What one run left behind.
type Effects = (Result<u64, Trap>, Vec<u8>, Snapshot);

impl Fixture {
    /// A fixture with two runs per accepted program.
    pub fn new() -> Self {
        Fixture {
            maps: Box::new(FuzzMaps::new()),
            stack: Box::new(Stack::new()),
            ws: Box::new(DefaultWorkspace::new()),
            runs: 2,
        }
    }

    /// Verifies `prog` for `pt` (standard helpers, the fixture's maps, [`VERIFY_BUDGET`]); if
    /// accepted, runs it [`Fixture::runs`] times on inputs drawn from `src` through the run
    /// oracle.
    ///
    /// # Panics
    /// On a finding: an accepted program that traps, reads uninitialised stack, does not
    /// terminate, or on which the two engines disagree.
    pub fn check(&mut self, prog: &[Insn], pt: ProgramType, src: &mut impl Source) -> Outcome {
        let defs = self.maps.defs();
        let env = VerifyEnv {
            budget: VERIFY_BUDGET,
            ..VerifyEnv::new(pt, standard(), &defs)
        };
        let mut insns = prog.to_vec();
        let verified = match verify(&mut insns, &env, &mut *self.ws) {
            Ok(v) => v,
            Err(e) => return Outcome::Rejected(e),
        };
        if let Some(finding) = self.finding(&verified, src) {
            panic!("{finding}\n{}", listing(prog));
        }
        Outcome::Accepted
    }

    /// Runs `verified` (taken as the verifier's output) [`Fixture::runs`] times on inputs drawn
    /// from `src` through the run oracle; the first finding, described, or `None`.
    pub(crate) fn finding(
        &mut self,
        verified: &VerifiedProgram<'_>,
        src: &mut impl Source,
    ) -> Option<std::string::String> {
        let pt = verified.prog_type();
        for _ in 0..self.runs {
            let input = RunInput::draw(pt, src);
            let base = &input.buf;
            let mut work = base.clone();
            let first = self.run(verified, &input, &mut work, input.garbage[0], true);
            if let Err(trap) = first.0 {
                return Some(std::format!(
                    "verifier soundness: an accepted program traps with {trap:?} on the checking \
                     interpreter (input {input:02x?})"
                ));
            }
            let again = self.run(verified, &input, &mut work, input.garbage[1], true);
            if again != first {
                return Some(std::format!(
                    "verifier soundness: the result depends on uninitialised stack: {:?} then \
                     {:?} (input {input:02x?})",
                    first.0,
                    again.0,
                ));
            }
            let fast = self.run(verified, &input, &mut work, input.garbage[0], false);
            if fast != first {
                return Some(std::format!(
                    "engines disagree: checked {:?}, verified {:?} (input {input:02x?})",
                    first.0,
                    fast.0,
                ));
            }
        }
        None
    }

    /// One run over a copy of the input's buffer in `work` (same addresses every time), with
    /// fresh maps and the stack filled with `garbage`.
    fn run(
        &mut self,
        verified: &VerifiedProgram<'_>,
        input: &RunInput,
        work: &mut [u8],
        garbage: u8,
        checked: bool,
    ) -> Effects {
        self.maps.reset();
        self.stack.0.fill(garbage);
        work.copy_from_slice(&input.buf);
        let table = self.maps.table();
        let interp = Interpreter::new(standard(), &NoPlatform)
            .with_maps(MapTable::new(&table))
            .with_budget(RUN_BUDGET);
        let r = {
            let mut ctx = input.context(verified.prog_type(), work);
            if checked {
                match Program::new(verified.insns()) {
                    Ok(p) => interp.run_checked(&p, &mut ctx, &mut self.stack),
                    Err(e) => panic!("the verifier's output does not decode: {e:?}"),
                }
            } else {
                interp.run(verified, &mut ctx, &mut self.stack)
            }
        };
        (r, work.to_vec(), self.maps.snapshot())
    }
}

/// Verifies and checks `prog` on a fresh [`Fixture`]; see [`Fixture::check`].
///
/// # Panics
/// On a finding, see [`Fixture::check`].
pub fn check_program(prog: &[Insn], pt: ProgramType, src: &mut impl Source) -> Outcome {
    Fixture::new().check(prog, pt, src)
}

/// The program as text, for a finding's message.
pub(crate) fn listing(prog: &[Insn]) -> std::string::String {
    use std::fmt::Write;
    let mut s = std::string::String::new();
    let _ = write!(s, "{}", crate::asm::Disasm::new(prog));
    s
}
