//! The verifier's output: the only program the fast engines accept.

use crate::host::{HelperTable, ProgramType};
use crate::isa::Insn;
use crate::maps::MapTable;

/// A program the verifier has proved safe for one environment: every memory access in bounds,
/// every register initialised before use, every path ending in `exit` within the budget, and
/// context accesses rewritten to the runtime's context layout.
///
/// It holds everything the proof was made against: the instructions, the program type, the
/// helper table and the map table. The engines run it with these, never with others, so no
/// safe code can run it against maps or helpers it was not verified for.
///
/// Only the verifier makes one (and, inside this crate, tests through
/// `VerifiedProgram::assume_verified`), so an engine holding one may skip run-time checks.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedProgram<'a> {
    insns: &'a [Insn],
    prog_type: ProgramType,
    stack_depth: u32,
    helpers: HelperTable<'a>,
    maps: MapTable<'a>,
}

impl<'a> VerifiedProgram<'a> {
    /// Wraps instructions the verifier has accepted against `helpers` and `maps`.
    /// `stack_depth` is the deepest stack use of any call chain, in bytes.
    pub(crate) fn assume_verified(
        insns: &'a [Insn],
        prog_type: ProgramType,
        stack_depth: u32,
        helpers: HelperTable<'a>,
        maps: MapTable<'a>,
    ) -> Self {
        VerifiedProgram {
            insns,
            prog_type,
            stack_depth,
            helpers,
            maps,
        }
    }

    /// The instructions, with context accesses in the runtime layout.
    #[inline]
    pub fn insns(&self) -> &'a [Insn] {
        self.insns
    }

    /// The program type it was verified for.
    #[inline]
    pub fn prog_type(&self) -> ProgramType {
        self.prog_type
    }

    /// The deepest stack use of any call chain, in bytes.
    #[inline]
    pub fn stack_depth(&self) -> u32 {
        self.stack_depth
    }

    /// The helpers it was verified against: the only ones it runs with.
    #[inline]
    pub fn helpers(&self) -> HelperTable<'a> {
        self.helpers
    }

    /// The maps it was verified against: the only ones it runs with.
    #[inline]
    pub fn maps(&self) -> MapTable<'a> {
        self.maps
    }

    /// The same program bound to other storage of the same shape: `maps` must have as many
    /// maps as the table it was verified against, each with an equal definition (type, key
    /// and value size, capacity, flags), since verification depends on nothing else of a map.
    /// For a fresh set of maps per test run, or one set per core. `None` when a definition
    /// differs: a program verified against a 64-byte array value never runs against an 8-byte
    /// one.
    pub fn rebind<'b>(&self, maps: MapTable<'b>) -> Option<VerifiedProgram<'b>>
    where
        'a: 'b,
    {
        let same_shape = maps.len() == self.maps.len()
            && (0..maps.len()).all(|i| maps.def(i) == self.maps.def(i));
        same_shape.then_some(VerifiedProgram { maps, ..*self })
    }

    /// Whether `other` was verified for the same program type, helper table and map table, so
    /// that one may tail-call the other: a tail call keeps the context, the helpers and the
    /// maps of the run.
    pub fn same_binding(&self, other: &VerifiedProgram<'_>) -> bool {
        self.prog_type == other.prog_type
            && self.helpers.same(&other.helpers)
            && self.maps.same(&other.maps)
    }
}

#[cfg(test)]
mod tests {
    use crate::asm::assemble;
    use crate::helpers::standard;
    use crate::maps::{ArrayMap, Map, MapTable, ProgArray};
    use crate::verifier::{verify, DefaultWorkspace, VerifyTarget};
    use crate::{Context, Insn, Interpreter, NoPlatform, ProgramType, Stack};
    use std::boxed::Box;
    use std::vec;
    use std::vec::Vec;

    fn asm(src: &str) -> Vec<Insn> {
        let mut buf = vec![Insn::default(); 64];
        let n = assemble(src, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// Stores at offset 56 of the value of map 0: in bounds for a 64-byte value only.
    const STORE_AT_56: &str = "
        stw [%r10-4], 0
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, out
        stdw [%r0+56], 7
    out:
        mov %r0, 0
        exit";

    const MEM: ProgramType = ProgramType::Memory { len: 0 };

    #[test]
    fn a_program_runs_only_against_the_maps_it_was_verified_for() {
        static BIG: ArrayMap<64, 8, 1> = ArrayMap::new();
        static SMALL: ArrayMap<8, 1, 1> = ArrayMap::new();
        static NEIGHBOUR: ArrayMap<8, 1, 1> = ArrayMap::new();
        let big: [&dyn Map; 1] = [&BIG];
        let small: [&dyn Map; 1] = [&SMALL];
        let mut insns = asm(STORE_AT_56);
        let env = VerifyTarget::new(MEM, standard(), MapTable::new(&big));
        let mut ws = Box::new(DefaultWorkspace::new());
        let program = verify(&mut insns, &env, &mut ws).unwrap();
        // The interpreter's own map table does not reach a verified program: it runs with
        // the table it was verified against, so the store lands in `BIG`.
        let vm = Interpreter::new(standard(), &NoPlatform).with_maps(MapTable::new(&small));
        let mut stack = Stack::new();
        assert_eq!(
            vm.run(&program, &mut Context::Memory(&mut []), &mut stack),
            Ok(0)
        );
        let mut v = [0u8; 64];
        BIG.lookup_copy(&0u32.to_ne_bytes(), &mut v).unwrap();
        assert_eq!(v[56], 7);
        let mut n = [0u8; 8];
        SMALL.lookup_copy(&0u32.to_ne_bytes(), &mut n).unwrap();
        NEIGHBOUR.lookup_copy(&0u32.to_ne_bytes(), &mut n).unwrap();
        assert_eq!(n, [0; 8]);
        // Binding it to the small array is refused; to another 64-byte array, allowed.
        assert!(program.rebind(MapTable::new(&small)).is_none());
        static OTHER: ArrayMap<64, 8, 1> = ArrayMap::new();
        let other: [&dyn Map; 1] = [&OTHER];
        let moved = program.rebind(MapTable::new(&other)).unwrap();
        assert_eq!(
            vm.run(&moved, &mut Context::Memory(&mut []), &mut stack),
            Ok(0)
        );
        OTHER.lookup_copy(&0u32.to_ne_bytes(), &mut v).unwrap();
        assert_eq!(v[56], 7);
    }

    #[test]
    fn a_verified_program_cannot_be_verified_again() {
        use crate::{DecodeErrorKind, VerifyError, VerifyErrorKind};
        // Reads `data` and `data_end` (offsets 0 and 4 in `struct xdp_md`, 0 and 8 in the
        // runtime's context) and the mark of an skb (a store the verifier rewrites too).
        let src = "ldxw %r2, [%r1+0]\n ldxw %r3, [%r1+4]\n mov %r0, 2\n exit";
        let mut insns = asm(src);
        let env = VerifyTarget::new(ProgramType::Xdp, standard(), MapTable::definitions(&[]));
        let mut ws = Box::new(DefaultWorkspace::new());
        let mut copy = verify(&mut insns, &env, &mut ws).unwrap().insns().to_vec();
        let refused = Err(VerifyError {
            pc: 0,
            kind: VerifyErrorKind::Decode(DecodeErrorKind::RuntimeForm),
        });
        // Neither the same slots nor a copy of the runtime form verify a second time.
        assert_eq!(verify(&mut insns, &env, &mut ws).map(|_| ()), refused);
        assert_eq!(verify(&mut copy, &env, &mut ws).map(|_| ()), refused);
        // An immediate store into an skb's context is marked in its source field.
        let mut skb = asm("stw [%r1+8], 1\n mov %r0, 0\n exit");
        let env = VerifyTarget::new(
            ProgramType::SocketFilter,
            standard(),
            MapTable::definitions(&[]),
        );
        verify(&mut skb, &env, &mut ws).unwrap();
        assert_eq!(verify(&mut skb, &env, &mut ws).map(|_| ()), refused);
    }

    #[test]
    fn a_tail_call_goes_only_to_a_program_with_the_same_binding() {
        static PROGS: ProgArray<2> = ProgArray::new();
        static BIG: ArrayMap<64, 8, 1> = ArrayMap::new();
        static SMALL: ArrayMap<8, 1, 1> = ArrayMap::new();
        let ours: [&dyn Map; 2] = [&BIG, &PROGS];
        let theirs: [&dyn Map; 2] = [&SMALL, &PROGS];
        let mut ws = Box::new(DefaultWorkspace::new());
        let caller_src = "
            lddw %r2, map[1]
            mov %r3, 0
            call 12
            mov %r0, 99
            exit";
        let target_src = "mov %r0, 42\nexit";
        let mut caller = asm(caller_src);
        let (mut same, mut other) = (asm(target_src), asm(target_src));
        let env = VerifyTarget::new(ProgramType::Xdp, standard(), MapTable::new(&ours));
        let caller = verify(&mut caller, &env, &mut ws).unwrap();
        let same = verify(&mut same, &env, &mut ws).unwrap();
        let env = VerifyTarget::new(ProgramType::Xdp, standard(), MapTable::new(&theirs));
        let other = verify(&mut other, &env, &mut ws).unwrap();
        assert!(caller.same_binding(&same) && !caller.same_binding(&other));
        let programs = [same, other];
        let vm = Interpreter::new(standard(), &NoPlatform).with_programs(&programs);
        let mut stack = Stack::new();
        let mut frame = [0u8; 64];
        let mut run = || {
            let mut ctx = Context::Xdp(crate::XdpBuff::new(&mut frame, 0, 64));
            vm.run(&caller, &mut ctx, &mut stack)
        };
        PROGS.set(0, 0).unwrap();
        assert_eq!(run(), Ok(42));
        // Slot 0 -> a program bound to other maps: the tail call fails and the caller goes on.
        PROGS.set(0, 1).unwrap();
        assert_eq!(run(), Ok(99));
    }
}
