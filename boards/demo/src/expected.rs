//! The expected results of the replay, computed by the host tests from the capture alone.

use crate::{Expected, SourceCount};

/// What a correct run over [`CAPTURE`](crate::CAPTURE) reports. The host test
/// `expected_is_what_the_capture_implies` recomputes every number from the frames with a
/// model of the firewall written in Rust, and `the_pipeline_meets_the_expectation` runs the
/// real pipeline on the host.
pub const EXPECTED: Expected = Expected {
    frames: 300,
    drop: 114,
    pass: 186,
    ipv4: 219,
    passed_bytes: 15037,
    sources: &[
        SourceCount {
            addr: [10, 0, 0, 1],
            packets: 21,
            bytes: 1822,
        },
        SourceCount {
            addr: [10, 0, 0, 2],
            packets: 24,
            bytes: 2102,
        },
        SourceCount {
            addr: [10, 0, 0, 3],
            packets: 19,
            bytes: 1596,
        },
        SourceCount {
            addr: [10, 0, 0, 4],
            packets: 28,
            bytes: 2539,
        },
        SourceCount {
            addr: [192, 168, 1, 10],
            packets: 21,
            bytes: 1849,
        },
        SourceCount {
            addr: [192, 168, 1, 20],
            packets: 20,
            bytes: 1662,
        },
        SourceCount {
            addr: [198, 51, 100, 1],
            packets: 36,
            bytes: 3102,
        },
        SourceCount {
            addr: [203, 0, 113, 7],
            packets: 27,
            bytes: 2275,
        },
        SourceCount {
            addr: [203, 0, 113, 99],
            packets: 23,
            bytes: 2029,
        },
    ],
};

/// Frames of the capture shorter than an Ethernet header (14 bytes): the firewall drops them,
/// and a real controller discards them before software sees them (QEMU's LAN9118 does).
pub const RUNTS: u64 = 20;

/// What a run over the capture reports when the frames come from a device that discards
/// [`RUNTS`]: the same, without them. The host test `expected_without_runts_follows` derives it.
pub const EXPECTED_WITHOUT_RUNTS: Expected = Expected {
    frames: EXPECTED.frames - RUNTS,
    drop: EXPECTED.drop - RUNTS,
    ..EXPECTED
};
