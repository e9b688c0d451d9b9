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
/// Map 3: program array (empty: every tail call fails).
pub(crate) const MAP_PROGS: i32 = 3;
/// Map 4: device map.
pub(crate) const MAP_DEVS: i32 = 4;
/// Value sizes of the maps above, by index (0 where values do not escape).
pub(crate) const VALUE_SIZE: [u32; 5] = [16, 16, 8, 0, 0];

/// The maps of a fuzzing session: a hash map (index 0, 4-byte keys, 16-byte values), an
/// array (1, 4 values of 16 bytes), an LRU hash (2, 8-byte values, 4 entries), an empty
/// program array (3: every tail call fails) and a device map (4).
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
    /// The memory buffer or packet (its length is the memory length, or up to 80 bytes).
    pub buf: Vec<u8>,
    /// The scalar fields of a socket filter's `__sk_buff`.
    pub fields: [u32; 19],
    /// Two bytes to fill the stack with before a run.
    pub garbage: [u8; 2],
}

impl RunInput {
    /// Inputs for a program of type `pt`.
    pub fn draw(pt: ProgramType, src: &mut impl Source) -> Self {
        let len = match pt {
            ProgramType::Memory { len } => len as usize,
            _ => src.below(81) as usize,
        };
        let buf = (0..len).map(|_| src.next_u64() as u8).collect();
        let fields = core::array::from_fn(|_| src.next_u64() as u32);
        let garbage = [src.next_u64() as u8, src.next_u64() as u8 ^ 0xa5];
        RunInput {
            buf,
            fields,
            garbage,
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

/// The context of a program of type `pt` over `buf` (an XDP frame with no headroom, a socket
/// buffer with the scalar `fields`).
pub fn context<'b>(pt: ProgramType, buf: &'b mut [u8], fields: [u32; 19]) -> Context<'b> {
    match pt {
        ProgramType::Memory { .. } => Context::Memory(buf),
        ProgramType::Xdp => {
            let len = buf.len();
            Context::Xdp(XdpBuff::new(buf, 0, len))
        }
        ProgramType::SocketFilter => Context::SocketFilter(SkBuff {
            packet: buf,
            fields,
        }),
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
        for _ in 0..self.runs {
            let RunInput {
                buf: base,
                fields,
                garbage,
            } = RunInput::draw(pt, src);
            let mut work = base.clone();
            let first = self.run(&verified, pt, &base, &mut work, fields, garbage[0], true);
            if let Err(trap) = first.0 {
                panic!(
                    "verifier soundness: an accepted program traps with {trap:?} on the checking \
                     interpreter (buffer {base:02x?})\n{}",
                    listing(prog)
                );
            }
            let again = self.run(&verified, pt, &base, &mut work, fields, garbage[1], true);
            assert!(
                again == first,
                "verifier soundness: the result depends on uninitialised stack: {:?} then {:?} \
                 (buffer {base:02x?})\n{}",
                first.0,
                again.0,
                listing(prog)
            );
            let fast = self.run(&verified, pt, &base, &mut work, fields, garbage[0], false);
            assert!(
                fast == first,
                "engines disagree: checked {:?}, verified {:?} (buffer {base:02x?})\n{}",
                first.0,
                fast.0,
                listing(prog)
            );
        }
        Outcome::Accepted
    }

    /// One run over a copy of `base` in `work` (same addresses every time), with fresh maps and
    /// the stack filled with `garbage`.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        verified: &VerifiedProgram<'_>,
        pt: ProgramType,
        base: &[u8],
        work: &mut [u8],
        fields: [u32; 19],
        garbage: u8,
        checked: bool,
    ) -> Effects {
        self.maps.reset();
        self.stack.0.fill(garbage);
        work.copy_from_slice(base);
        let table = self.maps.table();
        let interp = Interpreter::new(standard(), &NoPlatform)
            .with_maps(MapTable::new(&table))
            .with_budget(RUN_BUDGET);
        let r = {
            let mut ctx = context(pt, work, fields);
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
