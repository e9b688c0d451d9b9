//! The memory layer: every raw memory access of the engines' runs, and nothing else. This is
//! the one module of `nanobpf-core` where `unsafe` is allowed.
//!
//! Registers hold real host addresses. An [`Access`] is the permission to dereference them:
//!
//! - `Access<true>` (checked) tests every access against the [`Regions`] of the run (stack,
//!   context, packet buffer, memory buffer) and traps with [`Trap::OutOfBounds`] when it falls
//!   outside them. It is sound for any program, verified or not. An XDP program's packet is
//!   its current frame, read from the live context at each check, so a pointer left stale by
//!   `xdp_adjust_head`/`adjust_meta`/`adjust_tail` is caught even inside the frame buffer.
//! - `Access<false>` (unchecked) dereferences directly. It can only be made by
//!   [`Access::for_verified`], from a [`VerifiedProgram`] and the regions built by
//!   [`crate::Interpreter`] for a context that matches the program's type; the verifier has
//!   proved that every access of such a program stays inside those regions.
//!
//! Atomics are always checked for alignment, since a misaligned atomic is undefined behaviour
//! on the host, whatever the proof says.
//!
//! ## Provenance
//!
//! A BPF register is an integer, so an address handed to a program must become an integer and
//! back. Every region is made from a mutable borrow (or from interior-mutable map storage) and
//! its address *exposed* ([`Region::of_mut`], [`Region::of_struct`], the map helpers); every
//! access turns the register back into a pointer with [`ptr_at`], which takes the exposed
//! provenance. So a write reaches memory through a pointer derived from a `&mut` (or an
//! `UnsafeCell`), never through one derived from a shared borrow, and Miri checks this layer
//! under both Stacked and Tree Borrows (see `.ci/run`).

// Every sum here is an address inside a live borrow (`start + len` of a slice or struct, an
// offset in a context field that `field_at` found), the length `end - start` of a region (whose
// `start <= end`), an offset already checked against its region (`off < size`, `off <= len`),
// or `8 * N` for an access width `N` of 1..=8.
#![allow(clippy::arithmetic_side_effects)]
#![allow(unsafe_code)]

use crate::host::{ContextLayout, CtxFieldKind, TcCtx, Trap, XdpCtx};
use crate::maps::MapTable;
use crate::VerifiedProgram;
use core::cell::Cell;
#[cfg(target_has_atomic = "64")]
use core::sync::atomic::AtomicU64;
use core::sync::atomic::{AtomicU32, Ordering};

/// A half-open address range `[start, end)`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Region {
    pub start: u64,
    pub end: u64,
}

/// The pointer a program's address `addr` stands for, with the provenance exposed when the
/// region or map value holding it was handed out.
#[inline(always)]
pub(crate) fn ptr_at<T>(addr: u64) -> *mut T {
    core::ptr::with_exposed_provenance_mut(addr as usize)
}

impl Region {
    /// The region of `bytes`, which the run may read and write: the address is exposed from
    /// the mutable borrow, so writes through it are allowed.
    pub fn of_mut(bytes: &mut [u8]) -> Region {
        let start = bytes.as_mut_ptr().expose_provenance() as u64;
        Region {
            start,
            end: start + bytes.len() as u64,
        }
    }

    /// The region of the context struct `value`, exposed from its mutable borrow.
    pub fn of_struct<T>(value: &mut T) -> Region {
        let start = core::ptr::from_mut(value).expose_provenance() as u64;
        Region {
            start,
            end: start + core::mem::size_of::<T>() as u64,
        }
    }

    #[inline(always)]
    fn contains(&self, addr: u64, len: u64) -> bool {
        // Every region has `start <= end`. Below `start`, `addr - start` wraps to more than
        // the size; so one subtraction and two comparisons decide, with no overflow to test.
        let off = addr.wrapping_sub(self.start);
        let size = self.end.saturating_sub(self.start);
        off < size && size - off >= len
    }
}

/// What one run may touch. All regions point into buffers that outlive the run, borrowed
/// mutably by [`crate::Runtime`] for its duration.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Regions {
    /// The whole stack buffer (every frame): read and write.
    pub stack: Region,
    /// The runtime context struct: read.
    pub ctx: Region,
    /// The part of the context the program may write.
    pub ctx_write: Region,
    /// The packet buffer or memory buffer: read and write. For XDP, the whole frame buffer
    /// (headroom and tailroom included), the limits of the adjust helpers; the program may
    /// only touch the current frame inside it (see [`Regions::packet`]).
    pub data: Region,
    /// Whether `ctx` is a context whose frame helpers may move within `data`, and which.
    pub frame: LiveFrame,
}

/// The kind of context whose first three words (`data`, `data_end`, `data_meta`) describe a
/// frame that helpers move inside the packet buffer while the program runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum LiveFrame {
    /// No such context: the packet is the whole of `data`.
    #[default]
    None,
    /// An [`XdpCtx`].
    Xdp,
    /// A [`TcCtx`].
    Tc,
}

impl Regions {
    #[inline(always)]
    pub fn allows(&self, addr: u64, len: u64, write: bool) -> bool {
        self.stack.contains(addr, len)
            || self.packet().contains(addr, len)
            || if write {
                self.ctx_write.contains(addr, len)
            } else {
                self.ctx.contains(addr, len)
            }
    }

    /// The packet bytes the program may touch at this moment. For XDP and tc, the frame as
    /// the live context says now, `[data_meta, data_end)` (the adjust helpers move it in
    /// place), within the buffer: a packet pointer made before a helper moved the frame is
    /// caught when it falls outside the new frame, even inside the buffer. Otherwise the whole
    /// `data`.
    #[inline(always)]
    pub fn packet(&self) -> Region {
        if self.frame == LiveFrame::None {
            return self.data;
        }
        let words = ptr_at::<[u64; 3]>(self.ctx.start);
        // SAFETY: when `frame` is not `None`, `ctx.start` is the address of the `XdpCtx` or
        // `TcCtx` that `Runtime::enter` made for this run on its own stack, live and aligned for
        // the whole run; both begin with the words `data`, `data_end`, `data_meta` (`#[repr(C)]`,
        // at least 24 bytes). They are only written by the frame helpers (through
        // `with_xdp_ctx`/`with_tc_ctx`, while the program is stopped in them) and by
        // `Runtime::enter` before and after the run; the program cannot write them (`ctx_write`
        // is empty for XDP and starts after them for tc). So this plain read races with
        // nothing. It goes through the raw pointer and makes no reference, so it may overlap a
        // helper's shared slice of the context.
        let [_, end, meta] = unsafe { words.read() };
        // The helpers keep the frame inside the buffer; clamping keeps the check sound anyway.
        let start = meta.max(self.data.start);
        Region {
            start,
            end: end.min(self.data.end).max(start),
        }
    }
}

/// Permission to access memory during one run; see the module documentation.
#[derive(Debug)]
pub(crate) struct Access<'m, const CHECKED: bool> {
    regions: Regions,
    maps: MapTable<'m>,
    /// Checked mode: the context layout the running program sees (Linux's struct), while its
    /// instructions are not the verifier's output; see [`Access::in_program_view`].
    view: Option<ContextLayout>,
    in_view: Cell<bool>,
}

/// Where a context access of the program's view goes in the runtime struct.
enum CtxTarget {
    /// Not a context access.
    Elsewhere,
    /// A scalar field: the runtime address, same width.
    Scalar(u64),
    /// A packet pointer field: the runtime address of the 8-byte pointer.
    Pointer(u64),
}

impl<'m> Access<'m, true> {
    /// Checked access over `regions` and the values of `maps`, for a program that sees its
    /// context as `view` (the layout of its type; `None` for memory programs): context accesses
    /// are translated from the program's offsets to the runtime struct's, as the verifier
    /// rewrites them, so a program gives the same results checked and verified.
    pub fn checked(regions: Regions, maps: MapTable<'m>, view: Option<ContextLayout>) -> Self {
        Access {
            regions,
            maps,
            view,
            in_view: Cell::new(true),
        }
    }
}

impl<'m> Access<'m, false> {
    /// Unchecked access for a verified program, over the maps it was verified against.
    /// `regions` must be the regions the interpreter built for a context whose type and size
    /// match `program.prog_type()`; the interpreter checks the context before calling this.
    pub fn for_verified(program: &VerifiedProgram<'m>, regions: Regions) -> Self {
        Access {
            regions,
            maps: program.maps(),
            view: None,
            in_view: Cell::new(false),
        }
    }
}

impl<const CHECKED: bool> Access<'_, CHECKED> {
    /// Whether the running instructions are in the program's view of the context (`true` at
    /// the start of a checked run) or the verifier's output, already in the runtime layout (a
    /// verified tail-call target).
    pub fn in_program_view(&self, yes: bool) {
        self.in_view.set(yes);
    }

    /// Where an access of `n` bytes at `addr` goes, when it is a context access of the
    /// program's view. An access inside the context that is not within one field (or a store
    /// to a field the program may not write) traps, as the verifier rejects it.
    #[inline(always)]
    fn ctx_target(&self, addr: u64, n: u8, write: bool) -> Result<CtxTarget, Trap> {
        let ctx = self.regions.ctx;
        let off = addr.wrapping_sub(ctx.start);
        if off >= ctx.end.saturating_sub(ctx.start) {
            return Ok(CtxTarget::Elsewhere);
        }
        let Some(layout) = self.view.filter(|_| self.in_view.get()) else {
            return Ok(CtxTarget::Elsewhere);
        };
        let field = layout
            .field_at(off as i64, n)
            .filter(|f| !write || f.writable)
            .ok_or(Trap::OutOfBounds)?;
        Ok(match field.kind {
            CtxFieldKind::Scalar => CtxTarget::Scalar(
                ctx.start + field.runtime_offset as u64 + off - field.offset as u64,
            ),
            _ if write => return Err(Trap::OutOfBounds),
            _ => CtxTarget::Pointer(ctx.start + field.runtime_offset as u64),
        })
    }

    /// In checked mode, an atomic on the context in the program's view traps, as the
    /// verifier rejects it.
    #[inline(always)]
    fn no_ctx_atomic(&self, addr: u64, n: u8) -> Result<(), Trap> {
        if CHECKED && !matches!(self.ctx_target(addr, n, false)?, CtxTarget::Elsewhere) {
            return Err(Trap::OutOfBounds);
        }
        Ok(())
    }

    /// Loads `N` bytes (1, 2, 4 or 8) at `addr` in host order, zero-extended. In checked
    /// mode a context access in the program's view reads the runtime field it names.
    #[inline(always)]
    pub fn load<const N: usize>(&self, addr: u64) -> Result<u64, Trap> {
        if CHECKED {
            let (at, pointer) = self.checked_at(addr, N as u8, false)?;
            if pointer {
                // SAFETY: `checked_at` found `[at, at + 8)`, a packet pointer field of the
                // runtime context, readable for the whole run.
                return Ok(unsafe { read::<8>(at) });
            }
            // SAFETY: `checked_at` found `[at, at + N)` inside a readable region of this run.
            return Ok(unsafe { read::<N>(at) });
        }
        self.check(addr, N as u64, false)?;
        // SAFETY: `[addr, addr + N)` lies inside one region of this run, as the verifier proved
        // (see `for_verified`; re-checked just above with `extra-checks`).
        Ok(unsafe { read::<N>(addr) })
    }

    /// Stores the low `N` bytes (1, 2, 4 or 8) of `v` at `addr` in host order. In checked
    /// mode a context access in the program's view writes the runtime field it names.
    #[inline(always)]
    pub fn store<const N: usize>(&self, addr: u64, v: u64) -> Result<(), Trap> {
        let at = if CHECKED {
            self.checked_at(addr, N as u8, true)?.0
        } else {
            self.check(addr, N as u64, true)?;
            addr
        };
        // SAFETY: `[at, at + N)` is inside a writable region of this run: found by
        // `checked_at` in checked mode, proved by the verifier otherwise (re-checked with
        // `extra-checks`).
        unsafe { write::<N>(at, v) };
        Ok(())
    }

    /// Checked mode: where an access of `n` bytes at `addr` goes, and whether it reads a packet
    /// pointer field (8 bytes, whatever `n`), or a trap. The stack and the packet first (the
    /// common cases), then the context (through the program's view while it has one), then
    /// the map values.
    #[inline(always)]
    fn checked_at(&self, addr: u64, n: u8, write: bool) -> Result<(u64, bool), Trap> {
        let r = &self.regions;
        let len = n as u64;
        if r.stack.contains(addr, len) || r.packet().contains(addr, len) {
            return Ok((addr, false));
        }
        match self.ctx_target(addr, n, write)? {
            CtxTarget::Scalar(at) => return Ok((at, false)),
            CtxTarget::Pointer(at) => return Ok((at, true)),
            CtxTarget::Elsewhere => {}
        }
        let ctx = if write { r.ctx_write } else { r.ctx };
        if ctx.contains(addr, len) || self.maps.contains_value(addr, len) {
            return Ok((addr, false));
        }
        Err(Trap::OutOfBounds)
    }

    #[inline(always)]
    fn check(&self, addr: u64, len: u64, write: bool) -> Result<(), Trap> {
        if (CHECKED || cfg!(feature = "extra-checks"))
            && !self.regions.allows(addr, len, write)
            && !self.maps.contains_value(addr, len)
        {
            return Err(Trap::OutOfBounds);
        }
        Ok(())
    }

    /// The 32-bit atomic at `addr`.
    #[inline(always)]
    pub fn atomic32(&self, addr: u64) -> Result<&AtomicU32, Trap> {
        self.no_ctx_atomic(addr, 4)?;
        self.check(addr, 4, true)?;
        if addr % 4 != 0 {
            return Err(Trap::Misaligned);
        }
        // SAFETY: the four bytes at `addr` are inside a writable region of this run (checked or
        // proved), aligned (checked just above), and live for the run, which outlives the
        // returned reference's use inside one instruction. All concurrent access to them from
        // BPF code goes through atomics or plain stores of whole values.
        Ok(unsafe { AtomicU32::from_ptr(ptr_at(addr)) })
    }

    /// The 64-bit atomic at `addr`.
    #[cfg(target_has_atomic = "64")]
    #[inline(always)]
    pub fn atomic64(&self, addr: u64) -> Result<&AtomicU64, Trap> {
        self.no_ctx_atomic(addr, 8)?;
        self.check(addr, 8, true)?;
        if addr % 8 != 0 {
            return Err(Trap::Misaligned);
        }
        // SAFETY: as in `atomic32`, with eight aligned bytes.
        Ok(unsafe { AtomicU64::from_ptr(ptr_at(addr)) })
    }

    /// The 64-bit word at `addr`, updated under a global lock on targets without 64-bit
    /// atomics (Cortex-M). Every BPF 64-bit atomic of every core takes the same lock.
    #[cfg(not(target_has_atomic = "64"))]
    #[inline(always)]
    pub fn atomic64(&self, addr: u64) -> Result<Locked64, Trap> {
        self.no_ctx_atomic(addr, 8)?;
        self.check(addr, 8, true)?;
        if addr % 8 != 0 {
            return Err(Trap::Misaligned);
        }
        Ok(Locked64(ptr_at(addr)))
    }
}

/// Reads `N` bytes (1, 2, 4 or 8) at `addr` in host order, zero-extended.
///
/// # Safety
/// `[addr, addr + N)` must be readable memory of the run (a region or a map value).
#[inline(always)]
unsafe fn read<const N: usize>(addr: u64) -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: the caller's promise; every region is a live buffer borrowed for the run, a byte
    // copy has no alignment need, and `b` has room for `N <= 8` bytes.
    unsafe { core::ptr::copy_nonoverlapping(ptr_at::<u8>(addr), b.as_mut_ptr(), N) };
    from_host_bytes::<N>(b)
}

/// Writes the low `N` bytes (1, 2, 4 or 8) of `v` at `addr` in host order.
///
/// # Safety
/// `[addr, addr + N)` must be writable memory of the run (a region or a map value).
#[inline(always)]
unsafe fn write<const N: usize>(addr: u64, v: u64) {
    let b = to_host_bytes::<N>(v);
    // SAFETY: the caller's promise, and a byte copy has no alignment need. Other cores may
    // access map values at the same time; BPF's memory model leaves such plain races to the
    // program, as Linux does, and they cannot break the host's invariants since the bytes are
    // plain data.
    unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), ptr_at::<u8>(addr), N) };
}

/// The `len` bytes at `addr` for a helper, if the run may read them.
pub(crate) fn helper_read<'a>(
    regions: &'a Regions,
    maps: &MapTable<'_>,
    addr: u64,
    len: u64,
) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if !regions.allows(addr, len, false) && !maps.contains_value(addr, len) {
        return None;
    }
    // SAFETY: `[addr, addr + len)` was just checked to lie inside a region of this run or a map
    // value, all of which outlive the helper call that holds the returned slice (its lifetime is
    // tied to the run's regions). While the helper runs, the program is stopped; only another
    // core's program may write the same map value, the data race BPF programs accept in Linux,
    // on plain bytes.
    Some(unsafe { core::slice::from_raw_parts(ptr_at::<u8>(addr), len as usize) })
}

/// Copies `data` to `addr` for a helper, if the run may write there; returns whether it did.
pub(crate) fn helper_write(regions: &Regions, maps: &MapTable<'_>, addr: u64, data: &[u8]) -> bool {
    let len = data.len() as u64;
    if len == 0 {
        return true;
    }
    if !regions.allows(addr, len, true) && !maps.contains_value(addr, len) {
        return false;
    }
    // SAFETY: the destination was just checked to be writable memory of this run or a map value,
    // live for the run; `data` is a different borrow (helpers copy from their own buffers or from
    // map storage reached by a checked read), and a byte copy needs no alignment.
    unsafe { core::ptr::copy(data.as_ptr(), ptr_at::<u8>(addr), data.len()) };
    true
}

/// Calls `f` on the whole packet buffer of a run whose context has a live frame (XDP, tc):
/// headroom and tailroom included, for the helpers that move packet bytes inside it. `f` must
/// not reach the run's memory any other way (it gets no [`HelperCall`](crate::host::HelperCall)).
pub(crate) fn with_buffer<R>(regions: &Regions, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
    if regions.frame == LiveFrame::None {
        return None;
    }
    let (start, len) = (regions.data.start, regions.data.end - regions.data.start);
    // SAFETY: for a run with a live frame, `regions.data` is the frame buffer that
    // `Runtime::enter` borrowed mutably from the context for the whole run (`XdpBuff::buf`,
    // `TcBuff::buf`). The program is stopped in a helper, and the helper holds no other
    // reference into the buffer while `f` runs (it reads and writes the run's memory through
    // `HelperCall::read`/`write` only outside `f`), so this slice is the only access to it.
    let buf = unsafe { core::slice::from_raw_parts_mut(ptr_at::<u8>(start), len as usize) };
    Some(f(buf))
}

/// Calls `f` on the tc context of the run, if it has one at `ctx`.
pub(crate) fn with_tc_ctx<R>(
    regions: &Regions,
    ctx: u64,
    f: impl FnOnce(&mut TcCtx) -> R,
) -> Option<R> {
    if regions.frame != LiveFrame::Tc || ctx != regions.ctx.start {
        return None;
    }
    // SAFETY: when `regions.frame` is `Tc`, `regions.ctx.start` is the address of the `TcCtx`
    // `Runtime::enter` made for this run on its own stack, live for the run and only reached
    // through raw pointers while the program runs; the program is stopped in a helper, and the
    // helper holds no other reference into the context while `f` runs (helpers read the
    // context through `HelperCall::read` only before or after), so this is the only access.
    let sk = unsafe { &mut *ptr_at::<TcCtx>(ctx) };
    Some(f(sk))
}

/// Calls `f` on the XDP context of the run, if it has one at `ctx`.
pub(crate) fn with_xdp_ctx<R>(
    regions: &Regions,
    ctx: u64,
    f: impl FnOnce(&mut XdpCtx) -> R,
) -> Option<R> {
    if regions.frame != LiveFrame::Xdp || ctx != regions.ctx.start {
        return None;
    }
    // SAFETY: when `regions.frame` is `Xdp`, `regions.ctx.start` is the address of the `XdpCtx`
    // `Runtime::enter` made for this run on its own stack, live for the run and only reached
    // through raw pointers while the program runs; the program is stopped in a helper, and the
    // helper holds no other reference into the context while `f` runs, so this is the only
    // access to it.
    let md = unsafe { &mut *ptr_at::<XdpCtx>(ctx) };
    Some(f(md))
}

/// A legacy packet load (`LD_ABS`/`LD_IND`): `N` bytes at `off` of `packet`, big-endian. `None`
/// when out of bounds, which ends the program with r0 = 0 (Linux semantics). Always checked.
#[inline]
pub(crate) fn packet_load<const N: usize>(packet: Region, off: u64) -> Option<u64> {
    let len = packet.end - packet.start;
    if off > len || len - off < N as u64 {
        return None;
    }
    let p = ptr_at::<u8>(packet.start + off);
    let mut b = [0u8; 8];
    // SAFETY: `[p, p + N)` lies inside the packet buffer (checked just above), which is borrowed
    // for the run; a byte copy has no alignment need and `b` has room for `N <= 8` bytes.
    unsafe { core::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), N) };
    Some(u64::from_be_bytes(b) >> (64 - 8 * N))
}

/// The value of the first `N` bytes of `b` read in host order, zero-extended.
#[inline(always)]
fn from_host_bytes<const N: usize>(b: [u8; 8]) -> u64 {
    if cfg!(target_endian = "little") {
        u64::from_le_bytes(b)
    } else {
        u64::from_be_bytes(b) >> (64 - 8 * N)
    }
}

/// The low `N` bytes of `v` in host order, at the start of the array.
#[inline(always)]
fn to_host_bytes<const N: usize>(v: u64) -> [u8; 8] {
    if cfg!(target_endian = "little") {
        v.to_le_bytes()
    } else {
        (v << (64 - 8 * N)).to_be_bytes()
    }
}

/// Atomic read-modify-write operations, by the `imm` of the instruction, on either width.
pub(crate) trait AtomicOps {
    fn rmw(&self, op: i32, src: u64, r0: u64) -> u64;
}

macro_rules! atomic_ops {
    ($atomic:ty, $int:ty) => {
        impl AtomicOps for $atomic {
            /// Performs `op` and returns the old value (zero-extended).
            #[inline(always)]
            fn rmw(&self, op: i32, src: u64, r0: u64) -> u64 {
                use crate::isa::opcode::*;
                let s = src as $int;
                let o = Ordering::SeqCst;
                (match op & !ATOMIC_FETCH {
                    ATOMIC_ADD => self.fetch_add(s, o),
                    ATOMIC_OR => self.fetch_or(s, o),
                    ATOMIC_AND => self.fetch_and(s, o),
                    ATOMIC_XOR => self.fetch_xor(s, o),
                    0xe0 => self.swap(s, o),
                    _ => match self.compare_exchange(r0 as $int, s, o, o) {
                        Ok(v) | Err(v) => v,
                    },
                }) as u64
            }
        }
    };
}
atomic_ops!(AtomicU32, u32);
#[cfg(target_has_atomic = "64")]
atomic_ops!(AtomicU64, u64);

/// A 64-bit word in a region of the run, for targets without 64-bit atomics.
#[cfg(not(target_has_atomic = "64"))]
pub(crate) struct Locked64(*mut u64);

#[cfg(not(target_has_atomic = "64"))]
static LOCK64: AtomicU32 = AtomicU32::new(0);

#[cfg(not(target_has_atomic = "64"))]
impl AtomicOps for Locked64 {
    fn rmw(&self, op: i32, src: u64, r0: u64) -> u64 {
        use crate::isa::opcode::*;
        while LOCK64
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: the pointer is an aligned word inside a writable region of the run (checked
        // or proved in `Access::atomic64`), live for the run; every BPF 64-bit atomic holds
        // LOCK64 while it reads and writes, so this read-modify-write is not torn by another.
        let old = unsafe { self.0.read() };
        let new = match op & !ATOMIC_FETCH {
            ATOMIC_ADD => old.wrapping_add(src),
            ATOMIC_OR => old | src,
            ATOMIC_AND => old & src,
            ATOMIC_XOR => old ^ src,
            0xe0 => src,
            _ if old == r0 => src,
            _ => old,
        };
        // SAFETY: as for the read above.
        unsafe { self.0.write(new) };
        LOCK64.store(0, Ordering::Release);
        old
    }
}

#[cfg(test)]
mod tests {
    use super::Region;

    #[test]
    fn region_bounds_are_exact() {
        let r = Region {
            start: 1000,
            end: 1016,
        };
        assert!(r.contains(1000, 8));
        assert!(r.contains(1008, 8));
        assert!(r.contains(1015, 1));
        assert!(!r.contains(1009, 8));
        assert!(!r.contains(1016, 1));
        assert!(!r.contains(999, 1));
        assert!(!r.contains(999, 8));
        assert!(!r.contains(u64::MAX, 8));
        assert!(!r.contains(0, 1));
        let top = Region {
            start: u64::MAX - 7,
            end: u64::MAX,
        };
        assert!(top.contains(u64::MAX - 7, 7));
        assert!(!top.contains(u64::MAX - 7, 8));
        assert!(!Region::default().contains(0, 1));
    }
}
