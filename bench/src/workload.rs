//! The benchmark programs and their inputs.

/// A program of `examples/bench/`: its code (built by `examples/bench/build.sh`) and, through
/// [`crate::run_native`], its native build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bench {
    /// `r0 = 0; exit`: the fixed cost of one call.
    Nop,
    /// Parse Ethernet / IPv4 / TCP and classify.
    Parse,
    /// Internet checksum over 1500 bytes.
    Checksum,
    /// FNV-1a over up to 1500 bytes.
    Fnv1a,
    /// One million rounds of xorshift64.
    Xorshift,
    /// The same loop with 1000 rounds, for fast tests.
    XorshiftShort,
    /// A switch-driven tokenizer over up to 1500 bytes.
    State,
    /// A flow counter: a hash-map lookup per record, then an update, an insertion or a delete.
    Maps,
}

/// Where a program's code comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Raw instructions (little-endian slots) without relocations, as clang emitted them.
    Raw(&'static [u8]),
    /// An ELF object from `clang -g -target bpf`, with maps and map relocations.
    Object(&'static [u8]),
}

impl Bench {
    /// Every program.
    pub const ALL: [Bench; 8] = [
        Bench::Nop,
        Bench::Parse,
        Bench::Checksum,
        Bench::Fnv1a,
        Bench::Xorshift,
        Bench::XorshiftShort,
        Bench::State,
        Bench::Maps,
    ];

    /// The file stem in `examples/bench/`.
    pub const fn name(self) -> &'static str {
        match self {
            Bench::Nop => "nop",
            Bench::Parse => "parse",
            Bench::Checksum => "checksum",
            Bench::Fnv1a => "fnv1a",
            Bench::Xorshift => "xorshift",
            Bench::XorshiftShort => "xorshift_short",
            Bench::State => "state",
            Bench::Maps => "maps",
        }
    }

    /// The program's code: raw instructions, or an object for programs with maps (see
    /// [`crate::Code::of`]).
    pub const fn source(self) -> Source {
        macro_rules! bin {
            ($f:literal) => {
                include_bytes!(concat!("../../examples/bench/", $f, ".bin"))
            };
        }
        Source::Raw(match self {
            Bench::Nop => bin!("nop"),
            Bench::Parse => bin!("parse"),
            Bench::Checksum => bin!("checksum"),
            Bench::Fnv1a => bin!("fnv1a"),
            Bench::Xorshift => bin!("xorshift"),
            Bench::XorshiftShort => bin!("xorshift_short"),
            Bench::State => bin!("state"),
            Bench::Maps => {
                return Source::Object(include_bytes!("../../examples/bench/maps.o"));
            }
        })
    }
}

/// An input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A minimal TCP segment in a 64-byte Ethernet frame.
    Packet64,
    /// A full 1500-byte frame whose payload is text (header lines, numbers, quoted strings).
    Packet1500,
    /// A batch of 64 flow records of 16 bytes, see [`flow_batch`].
    Flows,
}

impl Input {
    /// The frame length in bytes.
    pub const fn len(self) -> usize {
        match self {
            Input::Packet64 => 64,
            Input::Packet1500 => 1500,
            Input::Flows => FLOW_RECORDS * FLOW_RECORD,
        }
    }

    /// Never true; every input has bytes.
    pub const fn is_empty(self) -> bool {
        false
    }
}

/// One row of the table: a program on an input.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// The row label.
    pub label: &'static str,
    /// The program.
    pub bench: Bench,
    /// Its input.
    pub input: Input,
}

/// The rows of the benchmark table, in order.
pub const TABLE_CASES: [Case; 7] = [
    Case {
        label: "parse (64 B)",
        bench: Bench::Parse,
        input: Input::Packet64,
    },
    Case {
        label: "parse (1500 B)",
        bench: Bench::Parse,
        input: Input::Packet1500,
    },
    Case {
        label: "checksum (1500 B)",
        bench: Bench::Checksum,
        input: Input::Packet1500,
    },
    Case {
        label: "fnv1a (1500 B)",
        bench: Bench::Fnv1a,
        input: Input::Packet1500,
    },
    Case {
        label: "xorshift (1e6 rounds)",
        bench: Bench::Xorshift,
        input: Input::Packet64,
    },
    Case {
        label: "state machine (1500 B)",
        bench: Bench::State,
        input: Input::Packet1500,
    },
    Case {
        label: "maps: flow counter (64 records)",
        bench: Bench::Maps,
        input: Input::Flows,
    },
];

/// The bytes of `input`.
pub fn input(input: Input) -> Vec<u8> {
    match input {
        Input::Flows => flow_batch(),
        _ => tcp_packet(input.len()),
    }
}

/// Records in [`flow_batch`].
pub const FLOW_RECORDS: usize = 64;
/// Bytes per flow record.
pub const FLOW_RECORD: usize = 16;
/// Long-lived flows in [`flow_batch`]: one record each.
pub const STABLE_FLOWS: u32 = 40;
/// Short-lived flows in [`flow_batch`]: two records each, the second with FIN.
pub const SHORT_FLOWS: u32 = 12;

/// Map operations of one run of the maps program on [`flow_batch`] in the steady state: a
/// lookup per record, an insertion and a delete per short-lived flow.
pub const FLOW_MAP_OPS: u32 = FLOW_RECORDS as u32 + 2 * SHORT_FLOWS;

/// One flow record of `maps.c`: the key (saddr, daddr, sport, dport), then the packet length,
/// the flags (bit 0: FIN) and the protocol, all in host byte order.
pub fn flow_record(flow: u32, short: bool, fin: bool) -> [u8; FLOW_RECORD] {
    let mut r = [0u8; FLOW_RECORD];
    r[0..4].copy_from_slice(&(0x0a00_0000 | flow).to_ne_bytes());
    r[4..8].copy_from_slice(&0xc0a8_0001u32.to_ne_bytes());
    let (sport, dport) = if short {
        (50_000 + flow as u16, 443u16)
    } else {
        (40_000 + flow as u16, 80u16)
    };
    r[8..10].copy_from_slice(&sport.to_ne_bytes());
    r[10..12].copy_from_slice(&dport.to_ne_bytes());
    r[12..14].copy_from_slice(&(64 + (flow * 37 % 1400) as u16).to_ne_bytes());
    r[14] = u8::from(fin);
    r[15] = 6;
    r
}

/// The batch of the maps program: [`STABLE_FLOWS`] long-lived flows, one record each, and
/// [`SHORT_FLOWS`] short-lived flows, each opened by one record and closed by a later one with
/// FIN: the first half of the long-lived flows, the openings, the second half, the closings.
///
/// From the second run on, every run does 64 lookups: 40 hits that update a long-lived flow's
/// counters, 12 misses that insert a short-lived flow, and 12 hits that count and delete it; so
/// the map holds 40 to 52 flows, never fills, and every run inserts and deletes.
pub fn flow_batch() -> Vec<u8> {
    let half = STABLE_FLOWS / 2;
    let stable = |range: std::ops::Range<u32>| range.map(|f| flow_record(f, false, false));
    let short = |fin| (0..SHORT_FLOWS).map(move |f| flow_record(f, true, fin));
    let b: Vec<u8> = stable(0..half)
        .chain(short(false))
        .chain(stable(half..STABLE_FLOWS))
        .chain(short(true))
        .flatten()
        .collect();
    debug_assert_eq!(b.len(), FLOW_RECORDS * FLOW_RECORD);
    b
}

/// An Ethernet / IPv4 / TCP frame of `len` bytes (at least 54): 10.0.0.1:40000 to
/// 10.0.0.2:80, PSH|ACK, a correct IPv4 header checksum, and a text payload.
pub fn tcp_packet(len: usize) -> Vec<u8> {
    assert!(len >= 54, "a TCP/IPv4 frame needs 54 bytes");
    let mut p = Vec::with_capacity(len);
    // Ethernet: destination, source, ethertype IPv4.
    p.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
    // IPv4, 20 bytes.
    let total = (len - 14) as u16;
    let mut ip = [
        0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let mut sum: u32 = ip
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p.extend_from_slice(&ip);
    // TCP, 20 bytes: ports, sequence, acknowledgement, data offset 5, PSH|ACK, window.
    p.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    // Payload: lines of text that exercise every state of the tokenizer.
    let mut line = 0u32;
    while p.len() < len {
        let text = format!(
            "GET /item_{line} HTTP/1.1\r\nX-Id: {}\r\nX-Tag: \"v\\\"{line}\"\n# note {line}\n",
            line.wrapping_mul(2_654_435_761) % 100_000
        );
        p.extend_from_slice(text.as_bytes());
        line += 1;
    }
    p.truncate(len);
    p
}
