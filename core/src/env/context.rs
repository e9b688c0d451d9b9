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
            offset >= start && offset + size as i64 <= start + f.size as i64
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
    /// Index of `protocol` (network byte order, as Linux) in [`SkBuffCtx::fields`].
    pub const PROTOCOL: usize = 4;
}

const fn skb_scalar(offset: u16) -> CtxField {
    CtxField::ro(offset, CtxFieldKind::Scalar, 16 + offset)
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

/// The kinds of program nanobpf runs; the type fixes the context and what the program may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramType {
    /// r1 points to a plain buffer of `len` bytes (readable and writable), r2 holds `len`.
    /// The conformance suite's programs are of this type.
    Memory {
        /// Buffer length, fixed at verification.
        len: u32,
    },
    /// XDP: r1 is an [`XdpCtx`], seen as `struct xdp_md`. Returns a verdict.
    Xdp,
    /// Socket filter: r1 is an [`SkBuffCtx`], seen as `struct __sk_buff`; legacy packet loads
    /// are allowed. Returns how many bytes to keep (0 drops).
    SocketFilter,
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
        }
    }

    /// Whether legacy packet loads (`LD_ABS`, `LD_IND`) are allowed.
    pub const fn allows_ld_abs(self) -> bool {
        matches!(self, ProgramType::SocketFilter | ProgramType::Memory { .. })
    }
}
