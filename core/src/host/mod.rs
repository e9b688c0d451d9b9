//! What the embedder gives the verifier and the engines: the program type (which fixes the
//! context layout), the helper table with prototypes, and the map table.
//!
//! Everything here is static data or borrowed; nothing allocates.

mod context;
mod fib;
mod helper;
mod map;
mod trap;

pub use context::{skb_field, tc_act, ProgramType};
pub(crate) use context::{ContextLayout, CtxFieldKind, SkBuffCtx, TcCtx, XdpCtx};
pub use fib::{FibOutcome, FibQuery, FibRoute, Route, StaticRoutes};
pub(crate) use helper::HelperEffects;
pub use helper::{
    ArgKind, Helper, HelperCall, HelperFn, HelperProto, HelperTable, Platform, RetKind,
};
pub use map::{MapDef, MapType, BPF_F_RDONLY_PROG};
pub use trap::Trap;

/// The BPF stack of one frame, in bytes (as in Linux).
pub const STACK_FRAME_SIZE: usize = 512;
/// The deepest chain of bpf-to-bpf calls, counting the entry function.
pub const MAX_CALL_FRAMES: usize = 8;
/// The stack a run needs at most: every frame at full size.
pub const STACK_SIZE: usize = STACK_FRAME_SIZE * MAX_CALL_FRAMES;

/// The stack memory of one run, owned by the caller so a run never allocates.
///
/// Aligned to 8 so that aligned BPF stack slots are aligned host words.
#[derive(Clone, Debug)]
#[repr(C, align(16))]
pub struct Stack(pub [u8; STACK_SIZE]);

impl Stack {
    /// A zeroed stack, usable in a `static`.
    pub const fn new() -> Stack {
        Stack([0; STACK_SIZE])
    }
}

impl Default for Stack {
    fn default() -> Self {
        Stack::new()
    }
}
