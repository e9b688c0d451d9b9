//! The one module of this crate where `unsafe` is allowed: the code buffer, the two routines
//! generated code calls (helpers; and 64-bit division and legacy packet loads), the lock word
//! of 64-bit atomics, and the call into generated code.
//!
//! Generated code is an AAPCS function `extern "C" fn(*mut JitState) -> u64`; it keeps the
//! state pointer in r11 and calls the routines below with it as the first argument.

#![allow(unsafe_code)]

use crate::emit::Routines;
use crate::rt;
use crate::state::{op, JitState, MAX_TAIL_CALLS};
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU32;
use nanobpf_core::engine::ActiveRun;
use nanobpf_core::Trap;

/// `-E2BIG`: what `bpf_tail_call` returns past the chain limit or inside a bpf-to-bpf call.
const E2BIG: u64 = (-7i64) as u64;

/// Memory the embedder made writable and executable, for [`crate::compile`]: on a Cortex-M,
/// SRAM the MPU (if any) leaves executable. It must be 4-byte aligned.
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
    /// The CPU must be able to execute instructions from every byte of `mem` for all of `'r`,
    /// and nothing else may execute from or write to it while it is borrowed. On a core with
    /// caches (Cortex-M7) the embedder must also make written code visible to instruction
    /// fetch (clean the data cache, invalidate the instruction cache) before running it; this
    /// crate issues the `dsb`/`isb` pair that is enough on cores without caches.
    pub unsafe fn new(mem: &'r mut [u8]) -> ExecRegion<'r> {
        ExecRegion {
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

    /// Whether it starts at a multiple of 4 bytes.
    pub(crate) fn aligned(&self) -> bool {
        self.ptr.as_ptr() as usize % 4 == 0
    }

    /// The bytes, to write code into.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` and `len` come from the `&'r mut [u8]` given to `new`, still
        // exclusively borrowed by `self`.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The first `len` bytes, as written.
    pub(crate) fn bytes(&self, len: usize) -> &[u8] {
        // SAFETY: as in `bytes_mut`; shared access through `&self`, shortened to `len`.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), len.min(self.len)) }
    }

    /// Makes the bytes just written visible to instruction fetch (on the device).
    pub(crate) fn sync(&self) {
        #[cfg(target_arch = "arm")]
        // SAFETY: `dsb` and `isb` are barriers: they touch no memory or register the
        // compiler tracks.
        unsafe {
            core::arch::asm!("dsb", "isb", options(nostack, preserves_flags));
        }
    }

    /// The address of byte `offset`, with the Thumb bit, as generated code is entered.
    #[cfg(target_arch = "arm")]
    fn entry(&self, offset: usize) -> usize {
        (self.ptr.as_ptr() as usize + offset) | 1
    }
}

/// As [`crate::compile`], without decoding the code back and checking it: for firmware that
/// cannot spare the check's time or flash (about 5 KiB, which LTO drops when nothing else calls
/// it; `JitProgram::recheck` links it back).
///
/// # Errors
/// As [`crate::compile`], but never [`crate::JitErrorKind::Check`].
///
/// # Safety
/// The code runs without the check that every instruction is one the translation emits, with
/// branches and calls inside the code and the two routines, and registers and memory used as
/// designed. The caller takes the translator on trust: it is the code `compile` produces, whose
/// check passes for every program of the tests (the conformance suite, thousands of generated
/// programs); a translator bug would go unnoticed and could run arbitrary machine code.
pub unsafe fn compile_unchecked<'r, const N: usize>(
    program: &nanobpf_core::VerifiedProgram<'r>,
    rt: &nanobpf_core::Runtime<'r>,
    region: ExecRegion<'r>,
    ws: &mut crate::JitWorkspace<N>,
) -> Result<crate::JitProgram<'r>, crate::JitError> {
    crate::program::translate(program, rt, region, ws, false)
}

/// The routines' addresses as the code calls them. On the host (where code is generated and
/// checked but not run) fixed stand-ins, so that tests see stable encodings.
pub(crate) fn routines() -> Routines {
    #[cfg(target_arch = "arm")]
    {
        Routines {
            helper: helper as extern "C" fn(*mut JitState, u32, u32) -> u64 as usize as u32,
            support: support as extern "C" fn(*mut JitState, u32) -> u64 as usize as u32,
            lock64: &LOCK64 as *const AtomicU32 as usize as u32,
        }
    }
    #[cfg(not(target_arch = "arm"))]
    {
        Routines {
            helper: 0x0001_2345,
            support: 0x0006_789b,
            lock64: 0x2000_0100,
        }
    }
}

impl JitState {
    /// The target of the tail call the helper routine just took (`tail_pending` is set), or
    /// `(0, 0)`.
    #[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
    pub(crate) fn tail_target(&self) -> (usize, usize) {
        if self.tail_pending == 0 {
            return (0, 0);
        }
        // SAFETY: the helper routine writes `tail_target` before it sets `tail_pending`, and
        // nothing else sets `tail_pending`, so the value is initialised.
        unsafe { self.tail_target.assume_init() }
    }

    /// The stop path after a trap: records it and tells the code to leave.
    fn trap(&mut self, t: Trap) {
        self.trap = t as u8 as u32;
        self.stop = 1;
    }
}

/// Calls helper `id` with BPF r1 to r5 from the state. `tail` is set for `call 12` by
/// immediate, which takes a successful tail call as the interpreter does.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
pub(crate) extern "C" fn helper(state: *mut JitState, id: u32, tail: u32) -> u64 {
    // SAFETY: generated code passes the state pointer it was entered with (r11), which
    // `enter_code` made from a `&mut JitState` live for the whole call; the code does not
    // touch the state while a routine runs, so this is the only reference to it.
    let st = unsafe { &mut *state };
    if st.run.is_null() {
        st.trap(Trap::UnknownHelper);
        return 0;
    }
    // SAFETY: `st.run` was made in `JitProgram::run` from the `&mut ActiveRun` that
    // `engine::enter_verified` handed it, which stays borrowed (and unused) while the code
    // runs; the lifetimes are erased but the value is live for this call.
    let run = unsafe { &mut *(st.run as *mut ActiveRun<'_, '_>) };
    let [_, a, b, c, d, e] = st.regs;
    match rt::call_helper(run, id, [a, b, c, d, e]) {
        Err(t) => {
            st.trap(t);
            0
        }
        Ok(r0) if tail != 0 => match rt::take_tail_call(run) {
            Some(target) if st.tail_calls < MAX_TAIL_CALLS && st.depth == 0 => {
                st.tail_target = MaybeUninit::new((target.as_ptr() as usize, target.len()));
                st.tail_pending = 1;
                st.stop = 1;
                r0
            }
            Some(_) => E2BIG,
            None => r0,
        },
        Ok(r0) => r0,
    }
}

/// 64-bit division and modulo and legacy packet loads, on the state's operands
/// (`op` in the low byte of `code`, its operand in the next).
#[cfg_attr(not(any(target_arch = "arm", test)), allow(dead_code))]
pub(crate) extern "C" fn support(state: *mut JitState, code: u32) -> u64 {
    // SAFETY: as in `helper`.
    let st = unsafe { &mut *state };
    let (a, b) = (st.a, st.b);
    let arg = (code >> 8) & 0xff;
    match code & 0xff {
        op::UDIV64 => a.checked_div(b).unwrap_or(0),
        op::SDIV64 if b == 0 => 0,
        op::SDIV64 => (a as i64).wrapping_div(b as i64) as u64,
        op::UMOD64 => a.checked_rem(b).unwrap_or(a),
        op::SMOD64 if b == 0 => a,
        op::SMOD64 => (a as i64).wrapping_rem(b as i64) as u64,
        op::PACKET => packet(st, arg as u64),
        _ => {
            st.trap(Trap::InvalidInstruction);
            0
        }
    }
}

/// The lock word of 64-bit atomics in generated code (see `emit::mem`): 0 free, 1 held.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
pub(crate) static LOCK64: AtomicU32 = AtomicU32::new(0);

/// A legacy packet load of `size` bytes at packet offset `a`, big-endian; out of bounds, the
/// run ends with 0.
fn packet(st: &mut JitState, size: u64) -> u64 {
    let at = st.a as u32 as u64;
    let len = st.pkt_len;
    if at > len || len - at < size || size > 8 {
        st.zero_exit = 1;
        st.stop = 1;
        return 0;
    }
    let mut v = 0u64;
    for i in 0..size {
        let p = (st.pkt_start + at + i) as usize as *const u8;
        // SAFETY: `[start, start + len)` is the run's packet, borrowed for the run, and
        // `at + i < len` (checked above).
        v = v << 8 | unsafe { p.read() } as u64;
    }
    v
}

/// Runs the code at `offset` of `region` on `state`; returns r0.
///
/// Sound only for code this crate generated and checked in `region`, entered at a program's
/// entry offset, with `state` prepared by `JitProgram::run` for the run in progress.
#[cfg(target_arch = "arm")]
pub(crate) fn enter_code(region: &ExecRegion<'_>, offset: usize, state: &mut JitState) -> u64 {
    type EntryFn = unsafe extern "C" fn(*mut JitState) -> u64;
    // SAFETY: `offset` is the offset of a prologue the code generator emitted in `region`,
    // whose memory the embedder vouched executable (`ExecRegion::new`); the check decoded
    // every instruction back, so the address (with the Thumb bit) is a function of this type.
    let f: EntryFn = unsafe { core::mem::transmute::<usize, EntryFn>(region.entry(offset)) };
    // SAFETY: the code follows the AAPCS (saves r4 to r11 and lr, keeps sp 8-byte aligned at
    // calls), touches only memory the verifier proved the program may touch plus `*state` and
    // its own stack frames (at most 8 of 40 bytes), and returns on every path.
    unsafe { f(state) }
}

#[cfg(test)]
impl<'r> ExecRegion<'r> {
    /// A region for host tests, which generate and check code but never run it.
    pub(crate) fn for_host_tests(mem: &'r mut [u8]) -> ExecRegion<'r> {
        ExecRegion {
            ptr: NonNull::from(&mut *mem).cast(),
            len: mem.len(),
            _mem: PhantomData,
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! The routines, called from host tests.
    use super::*;

    /// Calls `support` on `st`.
    pub fn support_on(st: &mut JitState, code: u32) -> u64 {
        support(st, code)
    }
}
