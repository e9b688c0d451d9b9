//! Program types and their context layouts.
//!
//! A program sees its context (r1 at entry) in Linux's layout (`struct xdp_md`,
//! `struct __sk_buff`), where packet pointers are 32-bit fields. The runtime keeps a different
//! struct, with real 64-bit pointers; the verifier rewrites each context access from the
//! program's offset to the runtime's, as Linux's `convert_ctx_access` does. Each field below
//! gives both.

/// What a context field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtxFieldKind {
    /// A plain integer.
    Scalar,
    /// Loads a pointer to the first byte of the packet.
    PacketData,
    /// Loads a pointer one past the last byte of the packet.
    PacketEnd,
    /// Loads a pointer to the metadata area before the packet (equal to `PacketData` when
    /// there is none).
    PacketMeta,
}

/// One field of a context as the program sees it, and where the runtime keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CtxField {
    /// Byte offset in the program's view (Linux's struct).
    pub offset: u16,
    /// Size in bytes in the program's view.
    pub size: u8,
    /// What it holds.
    pub kind: CtxFieldKind,
    /// Whether the program may store to it.
    pub writable: bool,
    /// Byte offset in the runtime struct.
    pub runtime_offset: u16,
}

impl CtxField {
    const fn ro(offset: u16, kind: CtxFieldKind, runtime_offset: u16) -> CtxField {
        CtxField {
            offset,
            size: 4,
            kind,
            writable: false,
            runtime_offset,
        }
    }
    const fn rw(offset: u16, runtime_offset: u16) -> CtxField {
        CtxField {
            offset,
            size: 4,
            kind: CtxFieldKind::Scalar,
            writable: true,
            runtime_offset,
        }
    }
}

/// The layout of a context: its size in the program's view and its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextLayout {
    /// Size of the program's view in bytes; accesses at or past it are rejected.
    pub size: u16,
    /// The accessible fields; any access that is not within one of them is rejected.
    pub fields: &'static [CtxField],
}

impl ContextLayout {
    /// The field that contains `[offset, offset + size)`, if any.
    pub fn field_at(&self, offset: i64, size: u8) -> Option<&'static CtxField> {
        self.fields.iter().find(|f| {
            let start = f.offset as i64;
            offset >= start
                && offset.saturating_add(size as i64) <= start.saturating_add(f.size as i64)
        })
    }
}

/// The runtime context of an XDP program. Programs see it as Linux's `struct xdp_md`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct XdpCtx {
    /// Address of the first packet byte.
    pub data: u64,
    /// Address one past the last packet byte.
    pub data_end: u64,
    /// Address of the metadata area (equal to `data` when empty).
    pub data_meta: u64,
    /// Interface index the frame arrived on.
    pub ingress_ifindex: u32,
    /// Receive queue the frame arrived on.
    pub rx_queue_index: u32,
    /// Interface index of a redirect's target (0 before one).
    pub egress_ifindex: u32,
    /// Padding, always zero.
    pub _pad: u32,
}

const XDP_FIELDS: &[CtxField] = &[
    CtxField::ro(0, CtxFieldKind::PacketData, 0),
    CtxField::ro(4, CtxFieldKind::PacketEnd, 8),
    CtxField::ro(8, CtxFieldKind::PacketMeta, 16),
    CtxField::ro(12, CtxFieldKind::Scalar, 24),
    CtxField::ro(16, CtxFieldKind::Scalar, 28),
    CtxField::ro(20, CtxFieldKind::Scalar, 32),
];

/// The runtime context of a socket filter. Programs see it as the part of Linux's
/// `struct __sk_buff` that makes sense off-kernel; the 32-bit fields keep Linux's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SkBuffCtx {
    /// Address of the first packet byte.
    pub data: u64,
    /// Address one past the last packet byte.
    pub data_end: u64,
    /// The `__sk_buff` fields at offsets 0 to 72 (`len`, `pkt_type`, `mark`,
    /// `queue_mapping`, `protocol`, `vlan_present`, `vlan_tci`, `vlan_proto`, `priority`,
    /// `ingress_ifindex`, `ifindex`, `tc_index`, `cb[5]`, `hash`), indexed by offset / 4.
    pub fields: [u32; 19],
    /// Padding, always zero.
    pub _pad: u32,
}

impl SkBuffCtx {
    /// Index of `len` in [`SkBuffCtx::fields`].
    pub const LEN: usize = 0;
}

const fn skb_scalar(offset: u16) -> CtxField {
    CtxField::ro(offset, CtxFieldKind::Scalar, offset.saturating_add(16))
}

const SKB_FIELDS: &[CtxField] = &[
    skb_scalar(0),        // len
    skb_scalar(4),        // pkt_type
    CtxField::rw(8, 24),  // mark
    skb_scalar(12),       // queue_mapping
    skb_scalar(16),       // protocol
    skb_scalar(20),       // vlan_present
    skb_scalar(24),       // vlan_tci
    skb_scalar(28),       // vlan_proto
    CtxField::rw(32, 48), // priority
    skb_scalar(36),       // ingress_ifindex
    skb_scalar(40),       // ifindex
    skb_scalar(44),       // tc_index
    CtxField::rw(48, 64), // cb[0]
    CtxField::rw(52, 68), // cb[1]
    CtxField::rw(56, 72), // cb[2]
    CtxField::rw(60, 76), // cb[3]
    CtxField::rw(64, 80), // cb[4]
    skb_scalar(68),       // hash
    CtxField::ro(76, CtxFieldKind::PacketData, 0),
    CtxField::ro(80, CtxFieldKind::PacketEnd, 8),
];

/// The runtime context of a tc (traffic-control classifier) program. Programs see it as the
/// part of Linux's `struct __sk_buff` that `BPF_PROG_TYPE_SCHED_CLS` programs may use.
///
/// The first three words are those of [`XdpCtx`] (`data`, `data_end`, `data_meta`): the
/// size-changing helpers move them inside the packet buffer, and the run's checks read the
/// live frame from them, the same way for both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct TcCtx {
    /// Address of the first packet byte (the link-layer header).
    pub data: u64,
    /// Address one past the last packet byte.
    pub data_end: u64,
    /// Address of the metadata area before the packet (equal to `data` when empty).
    pub data_meta: u64,
    /// `tstamp` (writable), nanoseconds.
    pub tstamp: u64,
    /// The `__sk_buff` fields at offsets 0 to 72, indexed by offset / 4, as
    /// [`SkBuffCtx::fields`]; `tc_classid` (offset 72) is the last.
    pub fields: [u32; 19],
    /// `napi_id`.
    pub napi_id: u32,
    /// `wire_len`.
    pub wire_len: u32,
    /// `gso_segs`.
    pub gso_segs: u32,
    /// `gso_size`.
    pub gso_size: u32,
    /// Padding, always zero.
    pub _pad: u32,
    /// `hwtstamp`, nanoseconds.
    pub hwtstamp: u64,
}

/// Indices into the `fields` of [`SkBuff`](crate::SkBuff) and [`TcBuff`](crate::TcBuff) (the
/// `__sk_buff` offset / 4).
pub mod skb_field {
    /// `len`: the packet's length in bytes (kept equal to `data_end - data`).
    pub const LEN: usize = 0;
    /// `pkt_type`: `PACKET_HOST` 0, `BROADCAST` 1, `MULTICAST` 2, `OTHERHOST` 3.
    pub const PKT_TYPE: usize = 1;
    /// `mark`.
    pub const MARK: usize = 2;
    /// `queue_mapping`.
    pub const QUEUE_MAPPING: usize = 3;
    /// `protocol`: the EtherType in network byte order, as Linux keeps it.
    pub const PROTOCOL: usize = 4;
    /// `vlan_present`.
    pub const VLAN_PRESENT: usize = 5;
    /// `vlan_tci`.
    pub const VLAN_TCI: usize = 6;
    /// `vlan_proto`.
    pub const VLAN_PROTO: usize = 7;
    /// `priority`.
    pub const PRIORITY: usize = 8;
    /// `ingress_ifindex`.
    pub const INGRESS_IFINDEX: usize = 9;
    /// `ifindex`.
    pub const IFINDEX: usize = 10;
    /// `tc_index`.
    pub const TC_INDEX: usize = 11;
    /// `cb[0]`; `cb[1..5]` follow.
    pub const CB: usize = 12;
    /// `hash`.
    pub const HASH: usize = 17;
    /// `tc_classid`.
    pub const TC_CLASSID: usize = 18;
}

const _: () = {
    assert!(core::mem::size_of::<TcCtx>() == 136);
    assert!(core::mem::offset_of!(TcCtx, fields) == 32);
    assert!(core::mem::offset_of!(TcCtx, napi_id) == 108);
    assert!(core::mem::offset_of!(TcCtx, hwtstamp) == 128);
};

const fn tc_scalar(offset: u16) -> CtxField {
    CtxField::ro(offset, CtxFieldKind::Scalar, offset.saturating_add(32))
}

const fn tc_rw(offset: u16) -> CtxField {
    CtxField::rw(offset, offset.saturating_add(32))
}

const fn tc_u64(offset: u16, writable: bool, runtime_offset: u16) -> CtxField {
    CtxField {
        offset,
        size: 8,
        kind: CtxFieldKind::Scalar,
        writable,
        runtime_offset,
    }
}

/// What Linux's `tc_cls_act_is_valid_access` allows, less the socket pointer (`sk`) and the
/// flow keys: the socket fields (`family` to `local_port`, offsets 88 to 139) are not
/// accessible to tc programs in Linux either.
const TC_FIELDS: &[CtxField] = &[
    tc_scalar(0),  // len
    tc_scalar(4),  // pkt_type
    tc_rw(8),      // mark
    tc_rw(12),     // queue_mapping
    tc_scalar(16), // protocol
    tc_scalar(20), // vlan_present
    tc_scalar(24), // vlan_tci
    tc_scalar(28), // vlan_proto
    tc_rw(32),     // priority
    tc_scalar(36), // ingress_ifindex
    tc_scalar(40), // ifindex
    tc_rw(44),     // tc_index
    tc_rw(48),     // cb[0]
    tc_rw(52),     // cb[1]
    tc_rw(56),     // cb[2]
    tc_rw(60),     // cb[3]
    tc_rw(64),     // cb[4]
    tc_scalar(68), // hash
    tc_rw(72),     // tc_classid
    CtxField::ro(76, CtxFieldKind::PacketData, 0),
    CtxField::ro(80, CtxFieldKind::PacketEnd, 8),
    CtxField::ro(84, CtxFieldKind::Scalar, 108), // napi_id
    CtxField::ro(140, CtxFieldKind::PacketMeta, 16),
    tc_u64(152, true, 24),                        // tstamp
    CtxField::ro(160, CtxFieldKind::Scalar, 112), // wire_len
    CtxField::ro(164, CtxFieldKind::Scalar, 116), // gso_segs
    CtxField::ro(176, CtxFieldKind::Scalar, 120), // gso_size
    tc_u64(184, false, 128),                      // hwtstamp
];

/// The kinds of program nanobpf runs; the type fixes the context and what the program may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramType {
    /// r1 points to a plain buffer of `len` bytes (readable and writable), r2 holds `len`.
    /// The conformance suite's programs are of this type.
    Memory {
        /// Buffer length, fixed at verification.
        len: u32,
    },
    /// XDP: r1 is the runtime's XDP context, seen as `struct xdp_md`. Returns a verdict.
    Xdp,
    /// Socket filter: r1 is the runtime's skb context, seen as `struct __sk_buff`; legacy packet loads
    /// are allowed. Returns how many bytes to keep (0 drops).
    SocketFilter,
    /// tc classifier (Linux's `BPF_PROG_TYPE_SCHED_CLS`): r1 is the runtime's tc context, seen as
    /// `struct __sk_buff`; direct packet access through `data`, `data_meta` and `data_end`, and
    /// legacy packet loads, as Linux allows. Returns a `TC_ACT_*` verdict.
    Tc,
}

/// tc verdicts (`TC_ACT_*`), as a tc program returns them.
pub mod tc_act {
    /// `TC_ACT_UNSPEC` (-1): the default action of the hook (continue).
    pub const UNSPEC: i32 = -1;
    /// `TC_ACT_OK` (0): pass the packet on.
    pub const OK: i32 = 0;
    /// `TC_ACT_RECLASSIFY` (1).
    pub const RECLASSIFY: i32 = 1;
    /// `TC_ACT_SHOT` (2): drop.
    pub const SHOT: i32 = 2;
    /// `TC_ACT_PIPE` (3): the next action.
    pub const PIPE: i32 = 3;
    /// `TC_ACT_STOLEN` (4): consumed.
    pub const STOLEN: i32 = 4;
    /// `TC_ACT_QUEUED` (5).
    pub const QUEUED: i32 = 5;
    /// `TC_ACT_REPEAT` (6).
    pub const REPEAT: i32 = 6;
    /// `TC_ACT_REDIRECT` (7): to the interface `bpf_redirect` chose.
    pub const REDIRECT: i32 = 7;
    /// `TC_ACT_TRAP` (8).
    pub const TRAP: i32 = 8;
}

impl ProgramType {
    /// The context layout, or `None` for [`ProgramType::Memory`] (a plain buffer).
    pub const fn context(self) -> Option<ContextLayout> {
        match self {
            ProgramType::Memory { .. } => None,
            ProgramType::Xdp => Some(ContextLayout {
                size: 24,
                fields: XDP_FIELDS,
            }),
            ProgramType::SocketFilter => Some(ContextLayout {
                size: 84,
                fields: SKB_FIELDS,
            }),
            ProgramType::Tc => Some(ContextLayout {
                size: 192,
                fields: TC_FIELDS,
            }),
        }
    }

    /// Whether legacy packet loads (`LD_ABS`, `LD_IND`) are allowed.
    pub const fn allows_ld_abs(self) -> bool {
        matches!(
            self,
            ProgramType::SocketFilter | ProgramType::Tc | ProgramType::Memory { .. }
        )
    }
}
