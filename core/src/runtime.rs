//! What every engine shares: the embedder's configuration ([`Runtime`]: helpers, platform
//! services, maps, tail-call targets, budget), the contexts a program runs on ([`Context`]), and
//! the per-run state an engine works with ([`ActiveRun`]: entry registers, the regions of the run,
//! helper calls with their checked memory access, redirect and tail-call results).
//!
//! The interpreter is one engine over this; the JIT is another.

use crate::host::{
    skb_field, HelperCall, HelperEffects, HelperTable, Platform, ProgramType, SkBuffCtx, Stack,
    TcCtx, Trap, XdpCtx,
};
use crate::isa::Insn;
use crate::maps::{MapTable, Redirect};
use crate::mem::{LiveFrame, Region, Regions};
use crate::VerifiedProgram;

mod tc;

pub use tc::{RedirectKind, TcBuff, TcRedirect, TunnelKey};

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
    /// After a run that returned `XDP_REDIRECT`: where `redirect_map` sends the frame.
    pub redirect: Option<crate::maps::Redirect>,
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
    /// [`ProgramType::Tc`].
    Tc(TcBuff<'c>),
}

impl Context<'_> {
    /// The program type this context is for (a memory buffer's length as its `len`).
    pub fn program_type(&self) -> ProgramType {
        match self {
            Context::Memory(buf) => ProgramType::Memory {
                len: u32::try_from(buf.len()).unwrap_or(u32::MAX),
            },
            Context::Xdp(_) => ProgramType::Xdp,
            Context::SocketFilter(_) => ProgramType::SocketFilter,
            Context::Tc(_) => ProgramType::Tc,
        }
    }
}

/// A platform with the default services (no clock, no randomness, trace output discarded).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPlatform;

impl Platform for NoPlatform {}

/// The embedder's configuration of runs: platform services, the programs tail calls may reach,
/// an optional instruction budget, and the helper and map tables of *checked* runs (programs
/// that have not been verified). A [`VerifiedProgram`] always runs with the helpers and maps
/// it was verified against, whatever the runtime holds. `Copy`; one serves many runs on many
/// cores.
#[derive(Clone, Copy, Debug)]
pub struct Runtime<'e> {
    helpers: HelperTable<'e>,
    platform: &'e dyn Platform,
    maps: MapTable<'e>,
    programs: &'e [VerifiedProgram<'e>],
    #[cfg(feature = "metering")]
    budget: Option<u64>,
}

impl<'e> Runtime<'e> {
    /// A runtime with these helpers and services, no maps, no tail-call targets, no budget.
    pub const fn new(helpers: HelperTable<'e>, platform: &'e dyn Platform) -> Self {
        Runtime {
            helpers,
            platform,
            maps: MapTable::EMPTY,
            programs: &[],
            #[cfg(feature = "metering")]
            budget: None,
        }
    }

    /// Sets the map table of checked runs (programs that have not been verified): their `lddw`
    /// map references and map helpers resolve against it. A verified program runs with its own.
    pub const fn with_maps(mut self, maps: MapTable<'e>) -> Self {
        self.maps = maps;
        self
    }

    /// Sets the programs that `bpf_tail_call` may jump to: a program array's values index
    /// this slice. From a verified program, a tail call goes only to a program verified for
    /// the same program type, helper table and map table
    /// ([`VerifiedProgram::same_binding`]); to any other it fails as if the slot were empty.
    pub const fn with_programs(mut self, programs: &'e [VerifiedProgram<'e>]) -> Self {
        self.programs = programs;
        self
    }

    /// Sets the instruction budget: a run that would execute more than `budget` instructions
    /// stops with [`Trap::BudgetExhausted`]. Only with the `metering` feature (on by default):
    /// without it there is no metered engine, so a budget cannot be set and then ignored.
    #[cfg(feature = "metering")]
    pub const fn with_budget(mut self, budget: u64) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The instruction budget, if any; always `None` without the `metering` feature.
    pub const fn budget(&self) -> Option<u64> {
        #[cfg(feature = "metering")]
        {
            self.budget
        }
        #[cfg(not(feature = "metering"))]
        {
            None
        }
    }

    /// The map table of checked runs.
    pub const fn maps(&self) -> MapTable<'e> {
        self.maps
    }

    /// The helper table of checked runs.
    pub const fn helpers(&self) -> HelperTable<'e> {
        self.helpers
    }

    /// The tail-call target with this index.
    pub fn program(&self, index: u32) -> Option<&'e VerifiedProgram<'e>> {
        self.programs.get(index as usize)
    }

    /// Checks that `ctx` fits a program verified for `prog_type`.
    ///
    /// # Errors
    /// [`Trap::WrongContext`] when the variant differs or a memory buffer is shorter than the
    /// length verified.
    pub(crate) fn check_context(prog_type: ProgramType, ctx: &Context<'_>) -> Result<(), Trap> {
        let ok = match (prog_type, ctx) {
            (ProgramType::Memory { len }, Context::Memory(buf)) => buf.len() >= len as usize,
            (ProgramType::Xdp, Context::Xdp(_)) => true,
            (ProgramType::SocketFilter, Context::SocketFilter(_)) => true,
            (ProgramType::Tc, Context::Tc(_)) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Trap::WrongContext)
        }
    }

    /// Starts a run of `program` on `ctx` with `stack`, with the helpers and maps it was
    /// verified against: builds the runtime context struct, the entry registers and the regions
    /// of the run, calls `f` with the [`ActiveRun`], and writes back what the program may have changed
    /// (XDP frame bounds and redirect, socket-filter fields). The caller checks the context
    /// first ([`Runtime::check_context`]).
    #[inline]
    pub(crate) fn enter_verified<R>(
        &self,
        program: &VerifiedProgram<'_>,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
        f: impl FnOnce(&mut ActiveRun<'_, 'e>) -> R,
    ) -> R {
        self.enter_with(Binding::of(program), ctx, stack, f)
    }

    /// As [`Runtime::enter_verified`], for a checked run of a program that was not verified:
    /// with the runtime's helpers and maps.
    // Inlined: an engine's closure then sees the entry values as values, not as fields of a
    // `ActiveRun` it must load back (see `JitProgram::run`).
    #[inline]
    pub(crate) fn enter<R>(
        &self,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
        f: impl FnOnce(&mut ActiveRun<'_, 'e>) -> R,
    ) -> R {
        self.enter_with(Binding::checked(self), ctx, stack, f)
    }

    #[inline]
    fn enter_with<R>(
        &self,
        binding: Binding<'_>,
        ctx: &mut Context<'_>,
        stack: &mut Stack,
        f: impl FnOnce(&mut ActiveRun<'_, 'e>) -> R,
    ) -> R {
        let stack_region = Region::of_mut(&mut stack.0);
        let mut regions = Regions {
            stack: stack_region,
            ..Regions::default()
        };
        // The arithmetic below is on addresses of live borrows: a buffer's address plus an
        // offset clamped to its length, a struct's address plus a field's offset, a pointer the
        // helpers keep inside the buffer minus the buffer's address. None can wrap, so it is
        // written `wrapping_*`, which costs nothing here; `saturating_*` cost 75 instructions
        // per frame on the Cortex-M4 (it changes what gets inlined into every run).
        match ctx {
            Context::Memory(buf) => {
                regions.data = Region::of_mut(buf);
                let entry = Entry {
                    r1: regions.data.start,
                    r2: buf.len() as u64,
                    stack_top: stack_region.end,
                    packet: regions.data,
                };
                f(&mut ActiveRun::new(self, binding, entry, regions))
            }
            Context::Xdp(x) => {
                regions.data = Region::of_mut(x.buf);
                let base = regions.data.start;
                let clamp = |o: usize| base.wrapping_add(o.min(x.buf.len()) as u64);
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
                regions.ctx = Region::of_struct(&mut md);
                let md_addr = regions.ctx.start;
                regions.frame = LiveFrame::Xdp;
                let entry = Entry {
                    r1: md_addr,
                    r2: 0,
                    stack_top: stack_region.end,
                    packet: Region {
                        start: md.data,
                        end: md.data_end,
                    },
                };
                let mut run = ActiveRun::new(self, binding, entry, regions);
                let r = f(&mut run);
                // The program cannot write the pointers and the helpers keep them in `buf`.
                x.data = md.data.wrapping_sub(base) as usize;
                x.data_end = md.data_end.wrapping_sub(base) as usize;
                x.redirect = run.state.redirect;
                r
            }
            Context::SocketFilter(skb) => {
                regions.data = Region::of_mut(skb.packet);
                let mut sk = SkBuffCtx {
                    data: regions.data.start,
                    data_end: regions.data.end,
                    fields: skb.fields,
                    _pad: 0,
                };
                sk.fields[SkBuffCtx::LEN] = skb.packet.len() as u32;
                regions.ctx = Region::of_struct(&mut sk);
                let sk_addr = regions.ctx.start;
                // Only the scalar fields are writable, never the packet pointers.
                regions.ctx_write = Region {
                    start: sk_addr.wrapping_add(16),
                    end: regions.ctx.end,
                };
                let entry = Entry {
                    r1: sk_addr,
                    r2: 0,
                    stack_top: stack_region.end,
                    packet: regions.data,
                };
                let r = f(&mut ActiveRun::new(self, binding, entry, regions));
                skb.fields = sk.fields;
                r
            }
            Context::Tc(t) => {
                regions.data = Region::of_mut(t.buf);
                let base = regions.data.start;
                let clamp = |o: usize| base.wrapping_add(o.min(t.buf.len()) as u64);
                let data = clamp(t.data);
                let data_end = clamp(t.data_end).max(data);
                let mut sk = TcCtx {
                    data,
                    data_end,
                    data_meta: data,
                    tstamp: t.tstamp,
                    fields: t.fields,
                    wire_len: data_end.wrapping_sub(data) as u32,
                    gso_segs: 1,
                    ..TcCtx::default()
                };
                sk.fields[skb_field::LEN] = data_end.wrapping_sub(data) as u32;
                regions.ctx = Region::of_struct(&mut sk);
                let sk_addr = regions.ctx.start;
                // Never the packet pointers: only the helpers move them.
                regions.ctx_write = Region {
                    start: sk_addr.wrapping_add(24),
                    end: regions.ctx.end,
                };
                regions.frame = LiveFrame::Tc;
                let entry = Entry {
                    r1: sk_addr,
                    r2: 0,
                    stack_top: stack_region.end,
                    packet: Region {
                        start: data,
                        end: data_end,
                    },
                };
                let mut run = ActiveRun::new(self, binding, entry, regions);
                let r = f(&mut run);
                // The program cannot write the pointers and the helpers keep them in `buf`.
                t.data = sk.data.wrapping_sub(base) as usize;
                t.data_end = sk.data_end.wrapping_sub(base) as usize;
                t.fields = sk.fields;
                t.tstamp = sk.tstamp;
                // tc programs redirect only to interfaces (`bpf_redirect` and its kin).
                t.redirect = run.state.redirect.map(|r| TcRedirect {
                    ifindex: match r {
                        Redirect::Device(i) | Redirect::Cpu(i) | Redirect::Xsk(i) => i,
                    },
                    kind: run.state.redirect_kind,
                });
                t.tunnel = run.state.tunnel;
                r
            }
        }
    }
}

/// The helpers and maps a run uses, and the program type it was verified for (`None` for a
/// checked run of a program that was not verified).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Binding<'a> {
    pub helpers: HelperTable<'a>,
    pub maps: MapTable<'a>,
    pub verified: Option<ProgramType>,
}

impl<'a> Binding<'a> {
    /// The binding of a verified program's run.
    pub fn of(program: &VerifiedProgram<'a>) -> Self {
        Binding {
            helpers: program.helpers(),
            maps: program.maps(),
            verified: Some(program.prog_type()),
        }
    }

    /// The binding of a checked run under `rt`.
    pub fn checked(rt: &Runtime<'a>) -> Self {
        Binding {
            helpers: rt.helpers,
            maps: rt.maps,
            verified: None,
        }
    }
}

/// What a run starts with, besides the code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub r1: u64,
    pub r2: u64,
    /// Top of the stack buffer (r10 of the entry frame).
    pub stack_top: u64,
    /// The packet of legacy packet loads.
    pub packet: Region,
}

/// One run in progress, as an engine sees it: the entry registers, the regions of the run,
/// helper calls with their checked memory access, and the tail call a helper chose. Made only by
/// [`crate::engine::enter`] and [`crate::engine::enter_verified`].
#[derive(Debug)]
pub struct ActiveRun<'a, 'e> {
    rt: &'a Runtime<'e>,
    binding: Binding<'a>,
    pub(crate) entry: Entry,
    pub(crate) regions: Regions,
    pub(crate) state: HelperEffects,
}

impl<'a, 'e> ActiveRun<'a, 'e> {
    fn new(rt: &'a Runtime<'e>, binding: Binding<'a>, entry: Entry, regions: Regions) -> Self {
        ActiveRun {
            rt,
            binding,
            entry,
            regions,
            state: HelperEffects::default(),
        }
    }

    /// r1 at entry: the context pointer, or the buffer of a memory program.
    pub fn r1(&self) -> u64 {
        self.entry.r1
    }

    /// r2 at entry: the buffer length of a memory program, else 0.
    pub fn r2(&self) -> u64 {
        self.entry.r2
    }

    /// r10 at entry: the top of the stack buffer.
    pub fn stack_top(&self) -> u64 {
        self.entry.stack_top
    }

    /// The packet legacy packet loads read: start address and length.
    pub fn packet(&self) -> (u64, u64) {
        // A region's end is never below its start.
        (
            self.entry.packet.start,
            self.entry.packet.end.wrapping_sub(self.entry.packet.start),
        )
    }

    /// Whether `[addr, addr + len)` is memory this run may read (or write): for engines that
    /// check accesses at run time.
    pub fn allows(&self, addr: u64, len: u64, write: bool) -> bool {
        self.regions.allows(addr, len, write) || self.binding.maps.contains_value(addr, len)
    }

    /// Calls helper `id` with r1 to r5.
    ///
    /// # Errors
    /// [`Trap::UnknownHelper`] when the table has no such id.
    // Inlined: an engine's call site then builds the helper's environment in place.
    #[inline]
    pub fn call_helper(&mut self, id: u32, args: [u64; 5]) -> Result<u64, Trap> {
        let helper = self.binding.helpers.get(id).ok_or(Trap::UnknownHelper)?;
        let mut env = HelperCall {
            ctx: self.entry.r1,
            platform: self.rt.platform,
            maps: self.binding.maps,
            regions: &self.regions,
            state: &mut self.state,
        };
        let [a, b, c, d, e] = args;
        Ok((helper.func)(&mut env, a, b, c, d, e))
    }

    /// The value of an `lddw` (`insn` and its second slot `next`) in this run: its immediate,
    /// a map handle, or the address of a map value. `None` when it names a map the run's table
    /// does not have.
    #[inline]
    pub fn lddw_value(&self, insn: Insn, next: Insn) -> Option<u64> {
        self.binding.maps.lddw_value(insn, next)
    }

    /// The program a successful `bpf_tail_call` chose, taken (so it is returned once). From a
    /// verified program, only a program with the same binding
    /// ([`VerifiedProgram::same_binding`]); `None` for any other, and the tail call fails as if
    /// the slot were empty.
    pub fn take_tail_call(&mut self) -> Option<&'e VerifiedProgram<'e>> {
        let index = self.state.tail_call.take()?;
        let target = self.rt.program(index)?;
        let bound = match self.binding.verified {
            None => true,
            Some(pt) => {
                target.prog_type() == pt
                    && target.helpers().same(&self.binding.helpers)
                    && target.maps().same(&self.binding.maps)
            }
        };
        bound.then_some(target)
    }
}
