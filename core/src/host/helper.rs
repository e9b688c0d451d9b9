//! Helper functions: Linux-numbered, each with a prototype the verifier checks calls against.

use crate::maps::{Map, MapTable};
use crate::mem::Regions;

/// What a helper argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// Not an argument: the register is not read.
    None,
    /// Any initialised scalar.
    Scalar,
    /// A pointer to a map (from `lddw` src 1, 5).
    ConstMapPtr,
    /// A pointer to initialised memory of the map's key size (stack, map value, packet).
    PtrToMapKey,
    /// A pointer to initialised memory of the map's value size.
    PtrToMapValue,
    /// A pointer to writable memory of the map's value size, possibly uninitialised: the
    /// helper fills it (Linux's `ARG_PTR_TO_MAP_VALUE | MEM_UNINIT`, as `map_pop_elem` takes).
    PtrToUninitMapValue,
    /// A pointer to initialised, readable memory whose size is the next argument.
    PtrToMem,
    /// A pointer to writable memory, possibly uninitialised, whose size is the next argument.
    PtrToUninitMem,
    /// A pointer to initialised memory whose size is the next argument, which the helper reads
    /// and may write (Linux's `ARG_PTR_TO_MEM` without `MEM_RDONLY`, as `fib_lookup`'s
    /// parameters).
    PtrToWritableMem,
    /// The size of the previous pointer argument: a scalar known to be in `1..=` the region.
    ConstSize,
    /// As [`ArgKind::ConstSize`] but 0 is allowed.
    ConstSizeOrZero,
    /// The context pointer, unmodified.
    PtrToCtx,
    /// The size of the memory the helper returns: a known constant, 0 to 65,535 (Linux's
    /// `ARG_CONST_ALLOC_SIZE_OR_ZERO`).
    ConstAllocSize,
    /// A pointer to the start of a reserved ring buffer record, which the call releases
    /// (Linux's `ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`): the program must not use it after.
    PtrToRingbufMem,
}

/// What a helper returns in r0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetKind {
    /// A scalar.
    Integer,
    /// Nothing useful: r0 is a scalar the program should not rely on.
    Void,
    /// A pointer to a value of the map in argument 1, or null.
    MapValueOrNull,
    /// A pointer to a new record of the ring buffer in argument 1, of the size in argument 2
    /// (an [`ArgKind::ConstAllocSize`]), or null. The program holds a reference to it until it
    /// passes the pointer to a helper taking [`ArgKind::PtrToRingbufMem`].
    RingbufMemOrNull,
}

/// A helper's prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HelperProto {
    /// Arguments r1 to r5.
    pub args: [ArgKind; 5],
    /// The return kind.
    pub ret: RetKind,
}

impl HelperProto {
    /// A prototype from its parts.
    pub const fn new(args: [ArgKind; 5], ret: RetKind) -> HelperProto {
        HelperProto { args, ret }
    }
}

/// What a helper may use while a program runs: the context, the embedder's services, the maps,
/// and checked access to the memory of the run.
#[derive(Debug)]
pub struct HelperCall<'r> {
    /// The context pointer the run started with (r1 at entry).
    pub ctx: u64,
    /// Embedder services.
    pub platform: &'r dyn Platform,
    pub(crate) maps: MapTable<'r>,
    pub(crate) regions: &'r Regions,
    pub(crate) state: &'r mut HelperEffects,
}

/// Per-run state that helpers change and the caller reads after the run.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HelperEffects {
    /// Where a successful `redirect_map` sends the frame.
    pub redirect: Option<crate::maps::Redirect>,
    /// The program a successful `tail_call` chose (index into the interpreter's program table).
    pub tail_call: Option<u32>,
    /// How a tc program's redirect goes (with `redirect`).
    pub redirect_kind: crate::runtime::RedirectKind,
    /// The tunnel metadata `skb_set_tunnel_key` set.
    pub tunnel: Option<crate::runtime::TunnelKey>,
}

impl<'r> HelperCall<'r> {
    /// The `len` bytes at `addr`, if they lie inside memory this run may read (its stack, its
    /// packet or buffer, its context, or a value of one of its maps). Always checked, whatever
    /// the verifier proved, so a helper is safe even when its prototype is too lax.
    pub fn read(&self, addr: u64, len: u64) -> Option<&[u8]> {
        crate::mem::helper_read(self.regions, &self.maps, addr, len)
    }

    /// Copies `data` to `addr` if the bytes lie inside memory this run may write; returns
    /// whether it did.
    pub fn write(&self, addr: u64, data: &[u8]) -> bool {
        crate::mem::helper_write(self.regions, &self.maps, addr, data)
    }

    /// The map a program passed as a map pointer.
    pub fn map(&self, handle: u64) -> Option<&'r dyn Map> {
        self.maps.from_handle(handle)
    }

    /// The core this run executes on.
    pub fn cpu(&self) -> u32 {
        self.platform.cpu_id()
    }
}

/// The embedder's services for helpers. Every method has a harmless default.
pub trait Platform: core::fmt::Debug + Sync {
    /// Monotonic time in nanoseconds (`bpf_ktime_get_ns`).
    fn ktime_ns(&self) -> u64 {
        0
    }
    /// A pseudo-random number (`bpf_get_prandom_u32`).
    fn prandom_u32(&self) -> u32 {
        0
    }
    /// The core this run executes on (`bpf_get_smp_processor_id`).
    fn cpu_id(&self) -> u32 {
        0
    }
    /// Receives `bpf_trace_printk` output: the format string and up to three arguments.
    fn trace(&self, fmt: &[u8], args: [u64; 3]) {
        let _ = (fmt, args);
    }
    /// Drives general-purpose output `pin` high or low, for embedder helpers that let a program
    /// signal on hardware (an LED on drops). Returns whether the pin exists and was set; the
    /// default has no pins.
    fn gpio_set(&self, pin: u32, high: bool) -> bool {
        let _ = (pin, high);
        false
    }
    /// The kernel tick counter (`bpf_jiffies64`); the default counts milliseconds of
    /// [`Platform::ktime_ns`], as a kernel with `HZ` 1000.
    fn jiffies64(&self) -> u64 {
        self.ktime_ns() / 1_000_000
    }
    /// Looks a destination up in the embedder's route table (`bpf_fib_lookup`); the default
    /// has no routes.
    fn fib_lookup(&self, query: &super::FibQuery) -> super::FibOutcome {
        let _ = query;
        super::FibOutcome::NotForwarded
    }
}

/// The implementation of a helper: the environment and r1 to r5; the result goes to r0.
pub type HelperFn = fn(&mut HelperCall<'_>, u64, u64, u64, u64, u64) -> u64;

/// A helper: Linux id, name for logs, prototype, implementation.
#[derive(Clone, Copy, Debug)]
pub struct Helper {
    /// Linux helper id (`BPF_FUNC_*`).
    pub id: u32,
    /// Name without the `bpf_` prefix, as in Linux's verifier log.
    pub name: &'static str,
    /// What the verifier checks calls against.
    pub proto: HelperProto,
    /// What runs.
    pub func: HelperFn,
}

/// The embedder's helper table: a static slice, looked up by id.
#[derive(Clone, Copy, Debug)]
pub struct HelperTable<'a> {
    helpers: &'a [Helper],
}

impl<'a> HelperTable<'a> {
    /// A table over `helpers`. When ids repeat, the first entry wins.
    pub const fn new(helpers: &'a [Helper]) -> Self {
        HelperTable { helpers }
    }

    /// The helper with Linux id `id`.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&'a Helper> {
        self.helpers.iter().find(|h| h.id == id)
    }

    /// All helpers in table order.
    pub fn iter(&self) -> core::slice::Iter<'a, Helper> {
        self.helpers.iter()
    }

    /// Whether `self` and `other` are the same table (the same slice, not equal contents).
    pub fn same(&self, other: &HelperTable<'_>) -> bool {
        core::ptr::eq(self.helpers, other.helpers)
    }
}
