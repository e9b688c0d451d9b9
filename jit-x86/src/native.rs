//! Executable memory, the run state the generated code works on, the helper trampoline, and the
//! call into generated code: the one module of this crate where `unsafe` is allowed.
//!
//! The generated code is an `extern "C" fn(*mut JitState, r1, r2, r10) -> u64` per program: the
//! entry registers arrive in argument registers, the state pointer stays in r12 for the whole
//! run, and every other per-run value is reached through it: the packet of legacy loads, the
//! budget, the call depth, the trap code and the helper arguments.

#![allow(unsafe_code)]

use crate::error::JitErrorKind;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use nanobpf_core::engine::ActiveRun;
use nanobpf_core::Trap;

/// Linux's `BPF_FUNC_tail_call`.
pub(crate) const TAIL_CALL: u32 = 12;
/// Set in the helper id passed to [`helper_trampoline`] for a `call 12` by immediate, which
/// has tail-call semantics (a `callx` to 12 does not, as in the interpreter).
pub(crate) const TAIL_FLAG: u64 = 1 << 32;
/// Linux's limit on chained tail calls.
pub(crate) const MAX_TAIL_CALLS: u32 = 33;
/// `-E2BIG`: what `bpf_tail_call` returns past the chain limit or inside a bpf-to-bpf call.
const E2BIG: u64 = (-7i64) as u64;

/// The per-run state the generated code reads and writes through r12. `repr(C)` so the code
/// generator can use the field offsets.
///
/// Only what the code reads before writing is initialised when a run starts (five stores for
/// a run without helpers); the rest is scratch the code writes first (`MaybeUninit`).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct JitState {
    /// Start of the packet of legacy packet loads.
    pub pkt_start: u64,
    /// Length of that packet.
    pub pkt_len: u64,
    /// Instructions left (metered code only).
    pub budget: u64,
    /// The `ActiveRun` of this run, type-erased (null for code that calls no helper).
    pub run: *mut c_void,
    /// Current bpf-to-bpf call depth (0 in the entry function).
    pub depth: u32,
    /// A `Trap` code, or 0.
    pub trap: u32,
    /// Tail calls taken so far in this run.
    pub tail_calls: u32,
    /// Set when a tail call succeeded: the code returned so that the caller starts the target.
    pub tail_pending: u32,
    /// rsp after the entry prologue: traps unwind to it. Written by every entry prologue.
    pub saved_rsp: MaybeUninit<u64>,
    /// Spill slot for r0 around fetching `cmpxchg` loops, written before it is read.
    pub spill: MaybeUninit<u64>,
    /// r1 to r5 of a helper call, all five written by the code before each trampoline call.
    pub args: [MaybeUninit<u64>; 5],
    /// The target's instruction slice (address, length), to find its compiled code; written
    /// by the trampoline together with `tail_pending`.
    pub tail_target: MaybeUninit<(usize, usize)>,
}

/// Byte offsets of [`JitState`] fields, as displacements from r12.
pub(crate) mod off {
    use super::JitState;
    use core::mem::offset_of;
    pub const PKT_START: i32 = offset_of!(JitState, pkt_start) as i32;
    pub const PKT_LEN: i32 = offset_of!(JitState, pkt_len) as i32;
    pub const BUDGET: i32 = offset_of!(JitState, budget) as i32;
    pub const SAVED_RSP: i32 = offset_of!(JitState, saved_rsp) as i32;
    pub const SPILL: i32 = offset_of!(JitState, spill) as i32;
    pub const ARGS: i32 = offset_of!(JitState, args) as i32;
    pub const DEPTH: i32 = offset_of!(JitState, depth) as i32;
    pub const TRAP: i32 = offset_of!(JitState, trap) as i32;
    pub const TAIL_PENDING: i32 = offset_of!(JitState, tail_pending) as i32;
}

/// The registers a run starts with: r1, r2 and r10.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryRegs {
    pub r1: u64,
    pub r2: u64,
    pub r10: u64,
}

impl JitState {
    /// A fresh state for `run`, which must outlive every use of the state, and the entry
    /// registers.
    #[inline(always)]
    pub fn new(run: &mut ActiveRun<'_, '_>, budget: u64) -> (JitState, EntryRegs) {
        let (mut state, regs) = JitState::detached(run, budget);
        state.run = run as *mut ActiveRun<'_, '_> as *mut c_void;
        (state, regs)
    }

    /// A fresh state for `run` without a way back to it, for code that calls no helper: the
    /// trampoline then traps with [`Trap::UnknownHelper`] instead of calling one.
    #[inline(always)]
    pub fn detached(run: &ActiveRun<'_, '_>, budget: u64) -> (JitState, EntryRegs) {
        let (pkt_start, pkt_len) = run.packet();
        let state = JitState {
            pkt_start,
            pkt_len,
            budget,
            run: core::ptr::null_mut(),
            depth: 0,
            trap: 0,
            tail_calls: 0,
            tail_pending: 0,
            saved_rsp: MaybeUninit::uninit(),
            spill: MaybeUninit::uninit(),
            args: [MaybeUninit::uninit(); 5],
            tail_target: MaybeUninit::uninit(),
        };
        let regs = EntryRegs {
            r1: run.r1(),
            r2: run.r2(),
            r10: run.stack_top(),
        };
        (state, regs)
    }

    /// The target of the tail call the trampoline just took (`tail_pending` is set).
    pub fn tail_target(&self) -> (usize, usize) {
        if self.tail_pending == 0 {
            return (0, 0);
        }
        // SAFETY: the trampoline writes `tail_target` before it sets `tail_pending`, and
        // nothing else sets `tail_pending`, so the value is initialised.
        unsafe { self.tail_target.assume_init() }
    }
}

/// The one function generated code calls: helper `id` (low 32 bits) with `state.args`. On a
/// trap it writes the trap code to `state.trap` and returns 0; the code then unwinds through its
/// epilogue. With [`TAIL_FLAG`] it also takes a successful tail call as the interpreter does.
pub(crate) extern "C" fn helper_trampoline(state: *mut JitState, id: u64) -> u64 {
    // SAFETY: generated code passes the state pointer it was entered with (r12), which
    // `call_code` made from a `&mut JitState` live for the whole call; the code does not touch
    // the state while the trampoline runs, so this is the only reference to it.
    let st = unsafe { &mut *state };
    if st.run.is_null() {
        // A detached state: the code was compiled without helper calls, so this is unreachable;
        // trap rather than trust that.
        st.trap = Trap::UnknownHelper as u8 as u32;
        return 0;
    }
    // SAFETY: `st.run` is not null, so it was made in `JitState::new` from the `&mut ActiveRun`
    // that `engine::enter_verified` (or `engine::enter`) gave `JitProgram::run`, which stays
    // borrowed (and unused) for as long as the code runs; the lifetimes are erased but the value
    // is live, so the reference is valid for this call.
    let run = unsafe { &mut *(st.run as *mut ActiveRun<'_, '_>) };
    // SAFETY: the code stores all five argument slots right before every call of the
    // trampoline (see `Emitter::helper_call`), so each is initialised.
    let args = st.args.map(|a| unsafe { a.assume_init() });
    let result = run.call_helper(id as u32, args);
    match result {
        Err(t) => {
            st.trap = t as u8 as u32;
            0
        }
        Ok(r0) if id & TAIL_FLAG != 0 => match run.take_tail_call() {
            Some(target) if st.tail_calls < MAX_TAIL_CALLS && st.depth == 0 => {
                let insns = target.insns();
                st.tail_target = MaybeUninit::new((insns.as_ptr() as usize, insns.len()));
                st.tail_pending = 1;
                r0
            }
            Some(_) => E2BIG,
            None => r0,
        },
        Ok(r0) => r0,
    }
}

/// The address of [`helper_trampoline`], the only indirect call target the checker allows.
pub(crate) fn trampoline_address() -> u64 {
    helper_trampoline as extern "C" fn(*mut JitState, u64) -> u64 as usize as u64
}

/// A trap code written by generated code or the trampoline, back to a [`Trap`].
pub(crate) fn trap_of(code: u32) -> Trap {
    match code {
        1 => Trap::BudgetExhausted,
        2 => Trap::OutOfBounds,
        3 => Trap::UnknownHelper,
        4 => Trap::CallDepth,
        6 => Trap::HelperFailed,
        7 => Trap::Misaligned,
        8 => Trap::WrongContext,
        9 => Trap::UnresolvedMap,
        _ => Trap::InvalidInstruction,
    }
}

/// Memory the embedder made readable, writable and executable, for [`crate::compile_into`]
/// on targets without an operating system (no MMU, or memory the firmware mapped RWX).
#[derive(Debug)]
pub struct ExecRegion<'r> {
    ptr: NonNull<u8>,
    len: usize,
    _mem: PhantomData<&'r mut [u8]>,
}

// SAFETY: an `ExecRegion` is an exclusive borrow of bytes, like the `&'r mut [u8]` it was made
// from, which is `Send`; moving it moves the borrow.
unsafe impl Send for ExecRegion<'_> {}
// SAFETY: as for `&'r mut [u8]`, which is `Sync`: `&self` methods only read.
unsafe impl Sync for ExecRegion<'_> {}

impl<'r> ExecRegion<'r> {
    /// Wraps `mem` as a region code can be written to and run from.
    ///
    /// # Safety
    /// The CPU must be able to execute instructions from every byte of `mem` for all of `'r`
    /// (and fetch them coherently after they are written: on x86-64 this holds), and nothing
    /// else may execute from or write to it while it is borrowed.
    pub unsafe fn new(mem: &'r mut [u8]) -> ExecRegion<'r> {
        ExecRegion {
            // A slice's pointer is never null.
            ptr: NonNull::from(&mut *mem).cast(),
            len: mem.len(),
            _mem: PhantomData,
        }
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no room at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` and `len` come from the `&'r mut [u8]` given to `new`, still exclusively
        // borrowed by `self`.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// Where compiled code lives: pages mapped by this crate, or an embedder's region.
#[derive(Debug)]
pub(crate) enum Code<'r> {
    /// Pages from the OS, read+execute once sealed, unmapped on drop.
    #[cfg(feature = "std")]
    Mapped(os::Mapping),
    /// The embedder's region.
    Region(ExecRegion<'r>),
}

impl<'r> Code<'r> {
    /// Copies `bytes` into `region` and hands back the code it now holds.
    pub fn in_region(mut region: ExecRegion<'r>, bytes: &[u8]) -> Result<Code<'r>, JitErrorKind> {
        let dst = region
            .bytes_mut()
            .get_mut(..bytes.len())
            .ok_or(JitErrorKind::RegionTooSmall)?;
        dst.copy_from_slice(bytes);
        Ok(Code::Region(region))
    }

    /// The bytes as they are in executable memory, for the decode-back check.
    pub fn bytes(&self, len: usize) -> &[u8] {
        let (ptr, cap) = match self {
            #[cfg(feature = "std")]
            Code::Mapped(m) => (m.ptr, m.len),
            Code::Region(r) => (r.ptr, r.len),
        };
        // SAFETY: both variants own (or exclusively borrow) `cap` readable bytes at `ptr`; the
        // slice is shortened to `len` only.
        unsafe { core::slice::from_raw_parts(ptr.as_ptr(), len.min(cap)) }
    }

    #[inline(always)]
    fn base(&self) -> *const u8 {
        match self {
            #[cfg(feature = "std")]
            Code::Mapped(m) => m.ptr.as_ptr(),
            Code::Region(r) => r.ptr.as_ptr(),
        }
    }
}

/// Runs the compiled function at `entry` bytes into `code` on `state`, starting with the
/// registers `regs`; returns r0.
///
/// Sound only for code this crate generated and checked, with `state` made by
/// [`JitState::new`] (or [`JitState::detached`] for code without helper calls) for the run in
/// progress. `JitProgram` upholds that: it is the only caller, with its own code and entry
/// offsets.
#[inline(always)]
pub(crate) fn call_code(
    code: &Code<'_>,
    entry: usize,
    state: &mut JitState,
    regs: EntryRegs,
) -> u64 {
    type EntryFn = unsafe extern "C" fn(*mut JitState, u64, u64, u64) -> u64;
    let at = code.base().wrapping_add(entry);
    // SAFETY: `entry` is the offset of a function prologue the code generator emitted inside
    // `code` (recorded at compile time), and the memory is executable (sealed read+execute, or
    // an `ExecRegion` the embedder vouched for). The decode-back check has confirmed the bytes
    // are the instructions emitted, so the pointer is a function of this signature.
    let f: EntryFn = unsafe { core::mem::transmute::<*const u8, EntryFn>(at) };
    // SAFETY: the generated code follows the System V ABI (it saves and restores the
    // callee-saved registers it uses and keeps rsp 16-byte aligned at calls), touches only
    // memory the verifier proved the program may touch plus `*state` and its own stack frames,
    // and always returns.
    unsafe { f(state, regs.r1, regs.r2, regs.r10) }
}

#[cfg(feature = "std")]
pub(crate) mod os {
    //! Pages from the operating system: mapped read+write, written, then flipped to
    //! read+execute; never writable and executable at once.

    use super::*;
    use rustix::mm::{mmap_anonymous, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};

    /// An anonymous private mapping.
    #[derive(Debug)]
    pub(crate) struct Mapping {
        pub(super) ptr: NonNull<u8>,
        pub(super) len: usize,
        sealed: bool,
    }

    // SAFETY: after `seal` the mapping is immutable machine code; sharing or moving the
    // owner between threads only shares read+execute pages, and `Drop` unmaps them once.
    unsafe impl Send for Mapping {}
    // SAFETY: as above: no method mutates the pages through `&self`.
    unsafe impl Sync for Mapping {}

    impl Mapping {
        /// Maps `bytes.len()` bytes (rounded up to pages) read+write, copies `bytes` in.
        pub fn with_bytes(bytes: &[u8]) -> Result<Mapping, JitErrorKind> {
            let page = rustix::param::page_size();
            let len = bytes
                .len()
                .max(1)
                .checked_next_multiple_of(page)
                .ok_or(JitErrorKind::TooLarge)?;
            // SAFETY: a fresh anonymous private mapping at an address the kernel picks aliases
            // no existing memory.
            let ptr = unsafe {
                mmap_anonymous(
                    core::ptr::null_mut(),
                    len,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::PRIVATE,
                )
            }
            .map_err(|_| JitErrorKind::MapFailed)?;
            let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(JitErrorKind::MapFailed)?;
            let m = Mapping {
                ptr,
                len,
                sealed: false,
            };
            // SAFETY: the mapping is `len >= bytes.len()` bytes, readable and writable, owned
            // by `m` alone, and cannot overlap `bytes`, which was allocated before it.
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), bytes.len()) };
            Ok(m)
        }

        /// Flips the pages to read+execute.
        pub fn seal(&mut self) -> Result<(), JitErrorKind> {
            // SAFETY: `ptr`/`len` are exactly the mapping made in `with_bytes`; no reference
            // to its bytes is held for writing (we only hand out shared slices).
            unsafe {
                mprotect(
                    self.ptr.as_ptr().cast(),
                    self.len,
                    MprotectFlags::READ | MprotectFlags::EXEC,
                )
            }
            .map_err(|_| JitErrorKind::ProtectFailed)?;
            self.sealed = true;
            Ok(())
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `with_bytes`, unmapped once; nothing borrows it past
            // its owner. A failure leaks the pages, which is all that can be done in `drop`.
            let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }

    impl<'r> Code<'r> {
        /// Pages holding `bytes`, still writable (seal them after the check).
        pub fn mapped(bytes: &[u8]) -> Result<Code<'r>, JitErrorKind> {
            Ok(Code::Mapped(Mapping::with_bytes(bytes)?))
        }

        /// Makes mapped code read+execute.
        pub fn seal(&mut self) -> Result<(), JitErrorKind> {
            match self {
                Code::Mapped(m) => m.seal(),
                Code::Region(_) => Ok(()),
            }
        }

        /// Whether mapped code is sealed.
        pub fn is_sealed(&self) -> bool {
            match self {
                Code::Mapped(m) => m.sealed,
                Code::Region(_) => true,
            }
        }
    }
}
