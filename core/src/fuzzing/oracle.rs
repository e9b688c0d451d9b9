//! The run oracle (see the module documentation of [`super`]): maps, stack and workspace of
//! one fuzzing session, and the check of one program against them.

use super::Source;
use crate::helpers::standard;
use crate::host::{MapDef, ProgramType, Stack, BPF_F_RDONLY_PROG};
use crate::isa::Insn;
use crate::maps::{
    value_words, ArrayMap, BpfHashMap, DevMap, LruHashMap, Map, MapError, MapTable, ProgArray,
    QueueMap, RingBuf, ValueRegion,
};
use crate::verifier::{verify_lifting, DefaultWorkspace, Rule, VerifyError, VerifyTarget};
use crate::{Context, Interpreter, NoPlatform, SkBuff, TcBuff, Trap, VerifiedProgram, XdpBuff};
use core::ptr::NonNull;
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
/// Map 5: read-only array of one 16-byte value ([`BPF_F_RDONLY_PROG`], as `.rodata`).
pub(crate) const MAP_RODATA: i32 = 5;
/// Map 6: ring buffer of [`RINGBUF_BYTES`] bytes.
pub(crate) const MAP_RINGBUF: i32 = 6;
/// Map 7: queue of two 16-byte values (one after a reset).
pub(crate) const MAP_QUEUE: i32 = 7;
/// Value sizes of the maps above, by index (0 where values do not escape).
pub(crate) const VALUE_SIZE: [u32; 8] = [16, 16, 8, 0, 0, 16, 0, 16];
/// The capacity of the ring buffer (map 6).
pub(crate) const RINGBUF_BYTES: usize = 256;
/// The initial bytes of the read-only value (map 5).
const RODATA: [u8; 16] = *b"nanobpf .rodata\0";

/// An array whose definition says [`BPF_F_RDONLY_PROG`]: the program may not write it (the
/// map itself lets anyone write, so the oracle sees a write the verifier let through).
#[derive(Debug, Default)]
pub struct ReadOnlyArray(ArrayMap<16, { value_words(16) }, 1>);

impl crate::maps::sealed::Sealed for ReadOnlyArray {
    fn value_region(&self) -> ValueRegion {
        self.0.value_region()
    }
}

impl Map for ReadOnlyArray {
    fn def(&self) -> MapDef {
        MapDef {
            flags: BPF_F_RDONLY_PROG,
            ..self.0.def()
        }
    }
    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        self.0.lookup(key)
    }
    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        self.0.lookup_copy(key, out)
    }
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.0.update(key, value, flags)
    }
    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.0.delete(key)
    }
    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        self.0.next_key(key, out)
    }
}

/// The maps of a fuzzing session: a hash map (index 0, 4-byte keys, 16-byte values), an
/// array (1, 4 values of 16 bytes), an LRU hash (2, 8-byte values, 4 entries), a program
/// array of [`FuzzMaps::PROG_SLOTS`] slots (3, empty after a reset), a device map (4), a
/// read-only array of one 16-byte value (5, `BPF_F_RDONLY_PROG` as `.rodata`), a ring buffer
/// (6) and a queue of 16-byte values (7).
#[derive(Debug)]
pub struct FuzzMaps {
    hash: BpfHashMap<4, 16, { value_words(16) }, 8>,
    array: ArrayMap<16, { value_words(16) }, 4>,
    lru: LruHashMap<4, 8, { value_words(8) }, 4>,
    progs: ProgArray<2>,
    devs: DevMap<2>,
    rodata: ReadOnlyArray,
    ringbuf: RingBuf<RINGBUF_BYTES, { RINGBUF_BYTES / 8 }>,
    queue: QueueMap<16, 2, { value_words(16) }>,
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
            hash: BpfHashMap::with_seed(1),
            array: ArrayMap::new(),
            lru: LruHashMap::with_seed(2),
            progs: ProgArray::new(),
            devs: DevMap::new(),
            rodata: ReadOnlyArray(ArrayMap::new()),
            ringbuf: RingBuf::new(),
            queue: QueueMap::new(),
        }
    }

    /// The maps in index order, for a [`MapTable`].
    pub fn table(&self) -> [&dyn Map; 8] {
        [
            &self.hash,
            &self.array,
            &self.lru,
            &self.progs,
            &self.devs,
            &self.rodata,
            &self.ringbuf,
            &self.queue,
        ]
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
        let _ = self.rodata.update(&0u32.to_ne_bytes(), &RODATA, 0);
        let _ = self.queue.push(&[0x5a; 16], 0);
    }

    /// Whether the read-only value (map 5) still holds its initial bytes.
    pub fn rodata_intact(&self) -> bool {
        let mut v = [0u8; 16];
        self.rodata.lookup_copy(&0u32.to_ne_bytes(), &mut v).is_ok() && v == RODATA
    }

    /// Whether the ring buffer (map 6) holds a record reserved and never submitted nor
    /// discarded: after [`FuzzMaps::snapshot`] consumed every finished record, any byte still
    /// pending belongs to one (the consumer stops at it for good).
    pub fn ringbuf_reserved(&self) -> bool {
        self.ringbuf.pending() != 0
    }

    /// The address range `[start, end)` of the maps' storage.
    pub fn span(&self) -> (usize, usize) {
        let start = core::ptr::from_ref(self).addr();
        (start, start + core::mem::size_of::<Self>())
    }

    /// Puts tail-call target `program` (an index into the runtime's program table) in `slot` of
    /// the program array; a slot past [`FuzzMaps::PROG_SLOTS`] is ignored. [`FuzzMaps::reset`]
    /// empties every slot.
    pub fn set_tail_target(&self, slot: u32, program: u32) {
        let _ = self.progs.set(slot, program);
    }

    /// The definitions, for the verifier.
    pub fn defs(&self) -> [MapDef; 8] {
        self.table().map(|m| m.def())
    }

    /// Every key and value of the keyed maps and the arrays, in a canonical order: map index,
    /// key, value; then the queue's values (key: position) and the ring buffer's finished
    /// records (key: position), which this consumes.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = Vec::new();
        let keyed = [MAP_HASH, MAP_ARRAY, MAP_LRU, MAP_RODATA].map(|i| i as usize);
        for (i, m) in self.table().iter().enumerate() {
            if !keyed.contains(&i) {
                continue;
            }
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
        let mut value = [0u8; 16];
        if self.queue.peek(&mut value).is_ok() {
            out.push((MAP_QUEUE as usize, Vec::new(), value.to_vec()));
        }
        let mut scratch = [0u8; RINGBUF_BYTES];
        let mut k = 0u32;
        self.ringbuf.consume(&mut scratch, |record| {
            out.push((
                MAP_RINGBUF as usize,
                k.to_ne_bytes().to_vec(),
                record.to_vec(),
            ));
            k += 1;
        });
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
    /// XDP and tc: bytes before the frame, room for `xdp_adjust_head`, `adjust_meta` and the
    /// tc helpers to grow it (0 for other program types).
    pub headroom: usize,
    /// XDP and tc: bytes after the frame, room for `xdp_adjust_tail` and `skb_change_tail` to
    /// grow it (0 for others).
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
            ProgramType::Xdp | ProgramType::Tc => (
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
            ProgramType::Tc => {
                let len = buf.len().saturating_sub(self.headroom + self.tailroom);
                let mut t = TcBuff::new(buf, self.headroom, len);
                t.fields = self.fields;
                Context::Tc(t)
            }
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
    /// Soundness rules the fixture's verifier has lifted (see [`Fixture::lift_rule`]).
    lifted: Vec<Rule>,
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
            lifted: Vec::new(),
        }
    }

    /// Lifts (or puts back) a soundness rule of the fixture's verifier, to show that the
    /// generators and the oracle find the hole it closes. [`verify_then_run`] never lifts one.
    ///
    /// [`verify_then_run`]: super::verify_then_run
    pub fn lift_rule(&mut self, rule: Rule, lifted: bool) {
        self.lifted.retain(|&r| r != rule);
        if lifted {
            self.lifted.push(rule);
        }
    }

    /// Verifies `prog` for `pt` (standard helpers, the fixture's maps, [`VERIFY_BUDGET`]); if
    /// accepted, runs it [`Fixture::runs`] times on inputs drawn from `src` through the run
    /// oracle.
    ///
    /// # Panics
    /// On a finding: an accepted program that traps, reads uninitialised stack, does not
    /// terminate, leaves a ring buffer record reserved, writes a read-only map, copies a host
    /// address into a map, or on which the two engines disagree.
    pub fn check(&mut self, prog: &[Insn], pt: ProgramType, src: &mut impl Source) -> Outcome {
        match self.try_check(prog, pt, src) {
            Ok(outcome) => outcome,
            Err(finding) => panic!("{finding}\n{}", listing(prog)),
        }
    }

    /// As [`Fixture::check`], with the finding described in the error instead of a panic.
    ///
    /// # Errors
    /// The first finding.
    pub fn try_check(
        &mut self,
        prog: &[Insn],
        pt: ProgramType,
        src: &mut impl Source,
    ) -> Result<Outcome, std::string::String> {
        let defs = self.maps.defs();
        let env = VerifyTarget {
            budget: VERIFY_BUDGET,
            ..VerifyTarget::new(pt, standard(), MapTable::definitions(&defs))
        };
        let mut insns = prog.to_vec();
        let verified = match verify_lifting(&mut insns, &env, &mut *self.ws, &self.lifted) {
            Ok(v) => v,
            Err(e) => return Ok(Outcome::Rejected(e)),
        };
        match self.finding(&verified, src) {
            Some(finding) => Err(finding),
            None => Ok(Outcome::Accepted),
        }
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
            if let Some(finding) = self.after_run(&first, &input, &work) {
                return Some(std::format!(
                    "verifier soundness: {finding} (input {input:02x?})"
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

    /// What the checking interpreter cannot see in one run that ended normally, `effects`,
    /// over `work`: a ring buffer record still reserved (the consumer would stall at it for
    /// good), the read-only map changed, or a host address (of the stack, the buffer or the
    /// maps) in a map's keys or values, in the ring buffer's records or in the buffer (unless
    /// the input itself holds one, as a fuzzer that learnt the addresses from the comparisons
    /// here could make it).
    fn after_run(&self, effects: &Effects, input: &RunInput, work: &[u8]) -> Option<&'static str> {
        if self.maps.ringbuf_reserved() {
            return Some("a ring buffer record is still reserved after the run");
        }
        if !self.maps.rodata_intact() {
            return Some("the program wrote the read-only map (BPF_F_RDONLY_PROG)");
        }
        let stack = self.stack.0.as_ptr_range();
        let buf = work.as_ptr_range();
        let spans = [
            (stack.start.addr(), stack.end.addr()),
            (buf.start.addr(), buf.end.addr()),
            self.maps.span(),
        ];
        let host = |bytes: &[u8]| {
            bytes.windows(8).any(|w| {
                let x = u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])) as usize;
                // An empty buffer's dangling address is no address.
                spans.iter().any(|&(a, b)| a < b && (a..=b).contains(&x))
            })
        };
        let fields: Vec<u8> = input.fields.iter().flat_map(|f| f.to_ne_bytes()).collect();
        if host(&input.buf) || host(&fields) {
            return None;
        }
        let leaked = effects.2.iter().any(|(_, k, v)| host(k) || host(v)) || host(&effects.1);
        leaked.then_some("a host address was copied into a map or the buffer")
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
        let table = MapTable::new(&table);
        let interp = Interpreter::new(standard(), &NoPlatform)
            .with_maps(table)
            .with_budget(RUN_BUDGET);
        // Verified against the definitions of these maps: the same shape.
        let Some(verified) = verified.rebind(table) else {
            panic!("the fixture's maps changed shape");
        };
        let verified = &verified;
        let r = {
            let mut ctx = input.context(verified.prog_type(), work);
            if checked {
                interp.run_verified_checked(verified, &mut ctx, &mut self.stack)
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
