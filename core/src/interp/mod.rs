//! The interpreter: runs a program over a context, with a caller-provided stack, and returns
//! r0 or a [`Trap`]. It never allocates and never panics.
//!
//! Two entry points:
//!
//! - [`Interpreter::run`] takes a [`VerifiedProgram`] and accesses memory without checks: the
//!   verifier has proved every access safe. With the `extra-checks` feature it re-checks anyway
//!   and traps on a failed check, which makes it the oracle of soundness tests.
//! - [`Interpreter::run_checked`] takes any decoded [`Program`] and checks every memory access
//!   against the regions of the run (stack, context, packet or buffer), trapping with
//!   [`Trap::OutOfBounds`]. For images without a verifier, and for untrusted experiments.
//!
//! Both share one dispatch loop, monomorphised per mode, so the verified loop has no check in it.

mod alu;
mod exec;
pub(crate) mod mem;

pub use alu::{
    bswap, sdiv32, sdiv64, sext, smod32, smod64, to_be, to_le, udiv32, udiv64, umod32, umod64,
};

use crate::env::{HelperTable, Platform, ProgramType, RunState, SkBuffCtx, Stack, Trap, XdpCtx};
use crate::isa::Program;
use crate::maps::MapTable;
use crate::VerifiedProgram;
use exec::Entry;
use mem::{Access, Region, Regions};

/// A frame buffer as an XDP program sees it, like Linux's `xdp_buff`: the whole buffer
/// (headroom and tailroom included) and the frame inside it.
#[derive(Debug)]
pub struct XdpBuff<'c> {
    /// The whole buffer.
    pub buf: &'c mut [u8],
    /// Offset of the first frame byte in `buf`.
    pub data: usize,
    /// Offset one past the last frame byte in `buf`.
    pub data_end: usize,
    /// Interface the frame arrived on.
    pub ingress_ifindex: u32,
    /// Receive queue the frame arrived on.
    pub rx_queue_index: u32,
    /// After a run that returned `XDP_REDIRECT`: the interface `redirect_map` chose.
    pub redirect: Option<u32>,
}

impl<'c> XdpBuff<'c> {
    /// A frame of `len` bytes at offset `headroom` of `buf`, from interface 0, queue 0.
    pub fn new(buf: &'c mut [u8], headroom: usize, len: usize) -> Self {
        XdpBuff {
            buf,
            data: headroom,
            data_end: headroom.saturating_add(len),
            ingress_ifindex: 0,
            rx_queue_index: 0,
            redirect: None,
        }
    }
}

/// A packet as a socket filter sees it.
#[derive(Debug)]
pub struct SkBuff<'c> {
    /// The packet bytes, from the link-layer header on.
    pub packet: &'c mut [u8],
    /// The `__sk_buff` scalar fields; `len` is filled in from `packet` at each run.
    pub fields: [u32; 19],
}

/// What r1 points to during a run; its variant must match the program's type.
#[derive(Debug)]
pub enum Context<'c> {
    /// [`ProgramType::Memory`]: r1 = the buffer, r2 = its length. Legacy packet loads read it.
    Memory(&'c mut [u8]),
    /// [`ProgramType::Xdp`].
    Xdp(XdpBuff<'c>),
    /// [`ProgramType::SocketFilter`].
    SocketFilter(SkBuff<'c>),
}

/// A platform with the default services (no clock, no randomness, trace output discarded).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPlatform;

impl Platform for NoPlatform {}

/// The interpreter: a helper table, the platform services, the map table, the programs that
/// tail calls may reach, and an optional instruction budget. Cheap to build and `Copy`; one can
/// serve many runs on many cores.
#[derive(Clone, Copy, Debug)]
pub struct Interpreter<'e> {
    helpers: HelperTable<'e>,
    platform: &'e dyn Platform,
    maps: MapTable<'e>,
    programs: &'e [VerifiedProgram<'e>],
    budget: Option<u64>,
}

impl<'e> Interpreter<'e> {
    /// An interpreter with these helpers and services and no budget.
    pub const fn new(helpers: HelperTable<'e>, platform: &'e dyn Platform) -> Self {
        Interpreter {
            helpers,
            platform,
            maps: MapTable::EMPTY,
            programs: &[],
            budget: None,
        }
    }

    /// Sets the map table that `lddw` map references and map helpers resolve against; it must
    /// be the table the programs were verified with.
    pub const fn with_maps(mut self, maps: MapTable<'e>) -> Self {
        self.maps = maps;
        self
    }

    /// Sets the programs that `bpf_tail_call` may jump to: a program array's values index
    /// this slice. They must be verified for the same program type and maps.
    pub const fn with_programs(mut self, programs: &'e [VerifiedProgram<'e>]) -> Self {
        self.programs = programs;
        self
    }

    /// Sets the instruction budget: a run that would execute more than `budget` instructions
    /// stops with [`Trap::BudgetExhausted`].
    pub const fn with_budget(mut self, budget: u64) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Runs a verified program.
    ///
    /// # Errors
    /// [`Trap::WrongContext`] when `ctx` does not match the program type (or a memory buffer is
    /// shorter than the length verified), [`Trap::BudgetExhausted`] when the budget is spent, and
    /// with `extra-checks`, [`Trap::OutOfBounds`] when a check fails (a verifier bug).
    pub fn run(
        &self,
        program: &VerifiedProgram<'_>,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
    ) -> Result<u64, Trap> {
        let matches = match (program.prog_type(), &*ctx) {
            (ProgramType::Memory { len }, Context::Memory(buf)) => buf.len() >= len as usize,
            (ProgramType::Xdp, Context::Xdp(_)) => true,
            (ProgramType::SocketFilter, Context::SocketFilter(_)) => true,
            _ => false,
        };
        if !matches {
            return Err(Trap::WrongContext);
        }
        self.with_context(ctx, stack, |entry, regions, state| {
            let mem = Access::for_verified(program, regions, self.maps);
            self.dispatch(program.insns(), &mem, entry, state)
        })
    }

    /// Runs a program that has not been verified, checking every memory access.
    ///
    /// # Errors
    /// [`Trap::OutOfBounds`] for an access outside the run's regions,
    /// [`Trap::Misaligned`] for a misaligned atomic, [`Trap::UnknownHelper`],
    /// [`Trap::CallDepth`], [`Trap::BudgetExhausted`].
    pub fn run_checked(
        &self,
        program: &Program<'_>,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
    ) -> Result<u64, Trap> {
        self.with_context(ctx, stack, |entry, regions, state| {
            let mem = Access::checked(regions, self.maps);
            self.dispatch(program.insns(), &mem, entry, state)
        })
    }

    fn dispatch<const CHECKED: bool>(
        &self,
        insns: &[crate::Insn],
        mem: &Access<'_, CHECKED>,
        entry: &Entry,
        state: &mut RunState,
    ) -> Result<u64, Trap> {
        if self.budget.is_some() {
            self.exec::<CHECKED, true>(insns, mem, entry, state)
        } else {
            self.exec::<CHECKED, false>(insns, mem, entry, state)
        }
    }

    /// Builds the runtime context struct, the entry registers and the regions for `ctx`, calls
    /// `f`, and writes back what the program may have changed.
    fn with_context<R>(
        &self,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
        f: impl FnOnce(&Entry, Regions, &mut RunState) -> R,
    ) -> R {
        let mut state = RunState::default();
        let stack_region = Region::of(&stack.0);
        let mut regions = Regions {
            stack: stack_region,
            ..Regions::default()
        };
        match ctx {
            Context::Memory(buf) => {
                regions.data = Region::of(buf);
                let entry = Entry {
                    r1: regions.data.start,
                    r2: buf.len() as u64,
                    stack_top: stack_region.end,
                    packet: regions.data,
                };
                f(&entry, regions, &mut state)
            }
            Context::Xdp(x) => {
                regions.data = Region::of(x.buf);
                let base = regions.data.start;
                let clamp = |o: usize| base + o.min(x.buf.len()) as u64;
                let data = clamp(x.data);
                let mut md = XdpCtx {
                    data,
                    data_end: clamp(x.data_end).max(data),
                    data_meta: data,
                    ingress_ifindex: x.ingress_ifindex,
                    rx_queue_index: x.rx_queue_index,
                    egress_ifindex: 0,
                    _pad: 0,
                };
                let md_addr = &mut md as *mut XdpCtx as u64;
                regions.ctx = Region {
                    start: md_addr,
                    end: md_addr + core::mem::size_of::<XdpCtx>() as u64,
                };
                regions.xdp = true;
                let entry = Entry {
                    r1: md_addr,
                    r2: 0,
                    stack_top: stack_region.end,
                    packet: Region {
                        start: md.data,
                        end: md.data_end,
                    },
                };
                let r = f(&entry, regions, &mut state);
                x.data = (md.data - base) as usize;
                x.data_end = (md.data_end - base) as usize;
                x.redirect = state.redirect;
                r
            }
            Context::SocketFilter(skb) => {
                regions.data = Region::of(skb.packet);
                let mut sk = SkBuffCtx {
                    data: regions.data.start,
                    data_end: regions.data.end,
                    fields: skb.fields,
                    _pad: 0,
                };
                sk.fields[SkBuffCtx::LEN] = skb.packet.len() as u32;
                let sk_addr = &mut sk as *mut SkBuffCtx as u64;
                regions.ctx = Region {
                    start: sk_addr,
                    end: sk_addr + core::mem::size_of::<SkBuffCtx>() as u64,
                };
                // Only the scalar fields are writable, never the packet pointers.
                regions.ctx_write = Region {
                    start: sk_addr + 16,
                    end: regions.ctx.end,
                };
                let entry = Entry {
                    r1: sk_addr,
                    r2: 0,
                    stack_top: stack_region.end,
                    packet: regions.data,
                };
                let r = f(&entry, regions, &mut state);
                skb.fields = sk.fields;
                r
            }
        }
    }
}

#[cfg(test)]
mod tests;
