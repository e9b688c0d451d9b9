//! The packet a tc program runs on: a buffer with room before and after the packet, as Linux's
//! `sk_buff` has, so the helpers that change the packet's size move its bounds in place.

use crate::host::skb_field;

/// Where `bpf_redirect` and its variants sent a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedirectKind {
    /// Out of the interface (`bpf_redirect` without flags).
    #[default]
    Egress,
    /// Into the interface's receive path (`bpf_redirect` with `BPF_F_INGRESS`).
    Ingress,
    /// Out of the interface, with the next hop's address resolved (`bpf_redirect_neigh`).
    Neigh,
    /// Into the peer of a virtual-ethernet pair (`bpf_redirect_peer`).
    Peer,
}

/// A redirect a tc program chose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcRedirect {
    /// The target interface.
    pub ifindex: u32,
    /// How.
    pub kind: RedirectKind,
}

/// Tunnel metadata `bpf_skb_set_tunnel_key` attached to a packet (Linux's `bpf_tunnel_key`):
/// what an encapsulating interface would use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelKey {
    /// `tunnel_id` (a VNI).
    pub id: u32,
    /// The remote address: IPv4 in the first word unless `ipv6` (words as Linux stores them).
    pub remote: [u32; 4],
    /// Whether `remote` is IPv6 (`BPF_F_TUNINFO_IPV6`).
    pub ipv6: bool,
    /// `tunnel_tos`.
    pub tos: u8,
    /// `tunnel_ttl`.
    pub ttl: u8,
}

/// A packet as a tc program sees it: the whole buffer (headroom and tailroom included) and the
/// packet inside it, with the `__sk_buff` fields the hook provides.
#[derive(Debug)]
pub struct TcBuff<'c> {
    /// The whole buffer.
    pub buf: &'c mut [u8],
    /// Offset of the first packet byte (the link-layer header) in `buf`.
    pub data: usize,
    /// Offset one past the last packet byte in `buf`.
    pub data_end: usize,
    /// The `__sk_buff` scalar fields, indexed by [`skb_field`]; `len` follows the packet.
    pub fields: [u32; 19],
    /// `tstamp`.
    pub tstamp: u64,
    /// After a run that returned `TC_ACT_REDIRECT`: where the program sent the packet.
    pub redirect: Option<TcRedirect>,
    /// Tunnel metadata the program set, if any.
    pub tunnel: Option<TunnelKey>,
}

impl<'c> TcBuff<'c> {
    /// A packet of `len` bytes at offset `headroom` of `buf`, from interface 0; `protocol` is
    /// the Ethernet header's EtherType (network byte order, as Linux keeps it).
    pub fn new(buf: &'c mut [u8], headroom: usize, len: usize) -> Self {
        let data_end = headroom.saturating_add(len).min(buf.len());
        let data = headroom.min(data_end);
        let mut fields = [0; 19];
        if let Some(&[a, b]) = buf.get(data..data_end).and_then(|p| p.get(12..14)) {
            fields[skb_field::PROTOCOL] = u16::from_ne_bytes([a, b]) as u32;
        }
        fields[skb_field::LEN] = data_end.saturating_sub(data) as u32;
        TcBuff {
            buf,
            data,
            data_end,
            fields,
            tstamp: 0,
            redirect: None,
            tunnel: None,
        }
    }

    /// The packet bytes.
    pub fn packet(&self) -> &[u8] {
        self.buf.get(self.data..self.data_end).unwrap_or(&[])
    }
}
