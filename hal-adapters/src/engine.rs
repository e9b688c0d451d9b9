//! Engines: what runs an XDP program over one frame. The runner and the smoltcp hook take any
//! [`XdpEngine`]; the interpreter is one, a JIT plugs in the same way.

#[cfg(feature = "slot")]
use nanobpf_core::Platform;
#[cfg(feature = "slot")]
use nanobpf_core::ProgramSlot;
use nanobpf_core::{Context, Interpreter, Program, Stack, Trap, VerifiedProgram, XdpBuff};

/// XDP verdicts, the values an XDP program returns (Linux's `enum xdp_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u32)]
pub enum XdpAction {
    /// `XDP_ABORTED` (0): a program error; the frame is dropped and counted.
    Aborted = 0,
    /// `XDP_DROP` (1): drop the frame.
    Drop = 1,
    /// `XDP_PASS` (2): hand the frame to the network stack.
    Pass = 2,
    /// `XDP_TX` (3): send the frame back out of the port it came in on.
    Tx = 3,
    /// `XDP_REDIRECT` (4): send the frame out of the port `bpf_redirect_map` chose.
    Redirect = 4,
}

impl XdpAction {
    /// The verdict a program's return value names; `None` for any other value (which the
    /// runtime treats as aborted, as Linux does).
    pub const fn from_ret(ret: u64) -> Option<XdpAction> {
        Some(match ret {
            0 => XdpAction::Aborted,
            1 => XdpAction::Drop,
            2 => XdpAction::Pass,
            3 => XdpAction::Tx,
            4 => XdpAction::Redirect,
            _ => return None,
        })
    }
}

/// Runs an XDP program over one frame.
///
/// On entry `frame` holds the whole buffer, the frame's bounds, the ingress port and queue,
/// and no redirect. On return `data` and `data_end` are where the program left the frame (it
/// may have moved either inside the buffer) and `redirect` is the interface a successful
/// `bpf_redirect_map` chose.
///
/// `&mut self` because an engine owns its scratch memory (the BPF stack), so a run needs no
/// lock and no allocation.
pub trait XdpEngine {
    /// Runs the program and returns its r0.
    ///
    /// # Errors
    ///
    /// The [`Trap`] that stopped the run; the caller treats the frame as aborted.
    fn run(&mut self, frame: &mut XdpBuff<'_>) -> Result<u64, Trap>;
}

impl<E: XdpEngine + ?Sized> XdpEngine for &mut E {
    fn run(&mut self, frame: &mut XdpBuff<'_>) -> Result<u64, Trap> {
        (**self).run(frame)
    }
}

/// Whatever program a [`ProgramSlot`] runs now, on the interpreter: an [`XdpEngine`] for a
/// device that loads its programs at run time. Each frame runs wholly on the program that was
/// running when it started (the slot may be replaced between frames, from another core or an
/// interrupt). With the slot empty every frame passes, as on a Linux interface with no XDP
/// program attached. (Feature `slot`.)
#[cfg(feature = "slot")]
pub struct SlotEngine<'s, 'a, const INSNS: usize, const MAPS: usize, const PROGS: usize> {
    slot: &'s ProgramSlot<'a, INSNS, MAPS, PROGS>,
    platform: &'s dyn Platform,
    stack: Stack,
}

#[cfg(feature = "slot")]
impl<const INSNS: usize, const MAPS: usize, const PROGS: usize> core::fmt::Debug
    for SlotEngine<'_, '_, INSNS, MAPS, PROGS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SlotEngine").finish_non_exhaustive()
    }
}

#[cfg(feature = "slot")]
impl<'s, 'a, const INSNS: usize, const MAPS: usize, const PROGS: usize>
    SlotEngine<'s, 'a, INSNS, MAPS, PROGS>
{
    /// An engine over `slot`, its helpers served by `platform`.
    pub const fn new(
        slot: &'s ProgramSlot<'a, INSNS, MAPS, PROGS>,
        platform: &'s dyn Platform,
    ) -> Self {
        SlotEngine {
            slot,
            platform,
            stack: Stack::new(),
        }
    }
}

#[cfg(feature = "slot")]
impl<const INSNS: usize, const MAPS: usize, const PROGS: usize> XdpEngine
    for SlotEngine<'_, '_, INSNS, MAPS, PROGS>
{
    fn run(&mut self, frame: &mut XdpBuff<'_>) -> Result<u64, Trap> {
        let (platform, stack) = (self.platform, &mut self.stack);
        let ran = self.slot.run(|program, tail| {
            let vm = Interpreter::new(program.helpers(), platform).with_programs(tail);
            in_context(frame, |ctx| vm.run(program, ctx, stack))
        });
        ran.unwrap_or(Ok(XdpAction::Pass as u64))
    }
}

/// The interpreter with one program and the stack its runs use: an [`XdpEngine`].
///
/// With a [`VerifiedProgram`] it runs [`Interpreter::run`] (no run-time checks: the verifier's
/// proof stands); with a plain [`Program`] it runs [`Interpreter::run_checked`], checking every
/// access, for images without a verifier. Both see the XDP context as Linux's `struct xdp_md`
/// (`data` at 0, `data_end` at 4). The stack (`nanobpf_core::STACK_SIZE` bytes) lives
/// inside, so an engine in a `static` costs no stack space per run.
#[derive(Clone)]
pub struct Engine<'e, P> {
    vm: Interpreter<'e>,
    program: P,
    stack: Stack,
}

impl<P: core::fmt::Debug> core::fmt::Debug for Engine<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("vm", &self.vm)
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

impl<'e, P> Engine<'e, P> {
    /// An engine that runs `program` on `vm`.
    pub const fn new(vm: Interpreter<'e>, program: P) -> Self {
        Engine {
            vm,
            program,
            stack: Stack::new(),
        }
    }

    /// The program.
    pub fn program(&self) -> &P {
        &self.program
    }

    /// The interpreter.
    pub fn interpreter(&self) -> &Interpreter<'e> {
        &self.vm
    }
}

impl XdpEngine for Engine<'_, VerifiedProgram<'_>> {
    fn run(&mut self, frame: &mut XdpBuff<'_>) -> Result<u64, Trap> {
        let (vm, program) = (&self.vm, &self.program);
        in_context(frame, |ctx| vm.run(program, ctx, &mut self.stack))
    }
}

impl XdpEngine for Engine<'_, Program<'_>> {
    fn run(&mut self, frame: &mut XdpBuff<'_>) -> Result<u64, Trap> {
        let (vm, program) = (&self.vm, &self.program);
        in_context(frame, |ctx| vm.run_checked(program, ctx, &mut self.stack))
    }
}

/// Lends `frame` to `run` as an XDP [`Context`] and takes the program's changes back (the frame
/// bounds the adjust helpers moved, the redirect target). For engines of one's own, such as a
/// JIT, implementing [`XdpEngine`].
pub fn in_context<'c>(
    frame: &mut XdpBuff<'c>,
    run: impl FnOnce(&mut Context<'c>) -> Result<u64, Trap>,
) -> Result<u64, Trap> {
    let mut ctx = Context::Xdp(XdpBuff {
        buf: core::mem::take(&mut frame.buf),
        data: frame.data,
        data_end: frame.data_end,
        ingress_ifindex: frame.ingress_ifindex,
        rx_queue_index: frame.rx_queue_index,
        redirect: None,
    });
    let ret = run(&mut ctx);
    if let Context::Xdp(x) = ctx {
        frame.buf = x.buf;
        frame.data = x.data;
        frame.data_end = x.data_end;
        frame.redirect = x.redirect;
    }
    ret
}
