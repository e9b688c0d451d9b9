//! The route table `bpf_fib_lookup` consults: the embedder provides it through
//! [`super::Platform::fib_lookup`]; [`StaticRoutes`] is a ready one over a fixed slice of
//! routes (longest prefix first), for boards and the host tool.

/// What a program asks `bpf_fib_lookup` (the input half of Linux's `struct bpf_fib_lookup`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FibQuery {
    /// Whether the addresses are IPv6 (`AF_INET6`); IPv4 otherwise (`AF_INET`).
    pub ipv6: bool,
    /// The interface the packet arrived on (or leaves by, with `BPF_FIB_LOOKUP_OUTPUT`).
    pub ifindex: u32,
    /// Source address: IPv4 in the first four bytes, network order.
    pub src: [u8; 16],
    /// Destination address, as `src`.
    pub dst: [u8; 16],
    /// Total length of the packet at the network layer, for the MTU check (0: none).
    pub tot_len: u16,
}

/// A route's answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FibRoute {
    /// The interface the packet leaves by.
    pub ifindex: u32,
    /// The source MAC address on that interface.
    pub smac: [u8; 6],
    /// The next hop's MAC address; `None` when the neighbour is not known
    /// (`BPF_FIB_LKUP_RET_NO_NEIGH`).
    pub dmac: Option<[u8; 6]>,
    /// The interface's MTU (0: no limit).
    pub mtu: u16,
}

/// What a lookup found, as `BPF_FIB_LKUP_RET_*` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FibOutcome {
    /// A route to forward by.
    Forward(FibRoute),
    /// `BPF_FIB_LKUP_RET_BLACKHOLE` (1): the route drops.
    Blackhole,
    /// `BPF_FIB_LKUP_RET_UNREACHABLE` (2).
    Unreachable,
    /// `BPF_FIB_LKUP_RET_PROHIBIT` (3).
    Prohibit,
    /// `BPF_FIB_LKUP_RET_NOT_FWDED` (4): no route, or for the local host.
    NotForwarded,
}

/// One route of a [`StaticRoutes`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Whether the prefix is IPv6.
    pub ipv6: bool,
    /// The prefix: IPv4 in the first four bytes, network order.
    pub prefix: [u8; 16],
    /// Prefix length in bits.
    pub len: u8,
    /// What the route answers.
    pub outcome: FibOutcome,
}

/// A route table over a slice the embedder owns: the longest matching prefix wins.
#[derive(Clone, Copy, Debug)]
pub struct StaticRoutes<'a> {
    routes: &'a [Route],
}

impl<'a> StaticRoutes<'a> {
    /// A table over `routes`.
    pub const fn new(routes: &'a [Route]) -> Self {
        StaticRoutes { routes }
    }

    /// The outcome for `q`: the longest prefix of its family that holds `q.dst`, else
    /// [`FibOutcome::NotForwarded`].
    pub fn lookup(&self, q: &FibQuery) -> FibOutcome {
        self.routes
            .iter()
            .filter(|r| r.ipv6 == q.ipv6 && prefix_matches(&r.prefix, r.len, &q.dst))
            .max_by_key(|r| r.len)
            .map_or(FibOutcome::NotForwarded, |r| r.outcome)
    }
}

/// Whether the first `len` bits of `addr` are those of `prefix`.
fn prefix_matches(prefix: &[u8; 16], len: u8, addr: &[u8; 16]) -> bool {
    let bits = (len as usize).min(128);
    let (whole, rest) = (bits / 8, bits % 8);
    if prefix.get(..whole) != addr.get(..whole) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    // `rest` is 1..=7 here, and `whole` below 16.
    let mask = 0xffu8.wrapping_shl(8u32.wrapping_sub(rest as u32));
    prefix.get(whole).map(|p| p & mask) == addr.get(whole).map(|a| a & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut b = [0; 16];
        b[..4].copy_from_slice(&a);
        b
    }

    #[test]
    fn longest_prefix_wins_within_its_family() {
        let via = |ifindex| {
            FibOutcome::Forward(FibRoute {
                ifindex,
                ..FibRoute::default()
            })
        };
        let routes = [
            Route {
                ipv6: false,
                prefix: v4([10, 0, 0, 0]),
                len: 8,
                outcome: via(1),
            },
            Route {
                ipv6: false,
                prefix: v4([10, 1, 0, 0]),
                len: 16,
                outcome: via(2),
            },
            Route {
                ipv6: false,
                prefix: v4([10, 1, 2, 0]),
                len: 23,
                outcome: FibOutcome::Blackhole,
            },
        ];
        let t = StaticRoutes::new(&routes);
        let q = |dst, ipv6| FibQuery {
            ipv6,
            dst: v4(dst),
            ..FibQuery::default()
        };
        assert_eq!(t.lookup(&q([10, 9, 9, 9], false)), via(1));
        assert_eq!(t.lookup(&q([10, 1, 9, 9], false)), via(2));
        assert_eq!(t.lookup(&q([10, 1, 3, 1], false)), FibOutcome::Blackhole);
        assert_eq!(t.lookup(&q([10, 1, 4, 1], false)), via(2));
        assert_eq!(t.lookup(&q([11, 0, 0, 1], false)), FibOutcome::NotForwarded);
        assert_eq!(t.lookup(&q([10, 0, 0, 1], true)), FibOutcome::NotForwarded);
    }
}
