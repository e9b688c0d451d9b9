//! What can go wrong on the way from the embedded bytes to a report.

use nanobpf_core::LoadError;
#[cfg(feature = "loader")]
use nanobpf_core::SlotError;
use nanobpf_core::{DecodeError, MapError, VerifyError};
use nanobpf_hal::InjectErrorKind;

use crate::CaptureError;

/// Why the demo stopped.
#[derive(Clone, Copy, Debug)]
pub enum DemoError {
    /// The ELF object did not parse, or the program did not load into the instruction buffer.
    Load(LoadError),
    /// The object declares `found` maps, not [`N_MAPS`](crate::N_MAPS).
    MapCount {
        /// Maps the object declares.
        found: usize,
    },
    /// The program bytes did not decode into the instruction buffer.
    Decode(DecodeError),
    /// The verifier rejected the program.
    Verify(VerifyError),
    /// Map storage `index` does not match the program's definition.
    MapDef {
        /// The map index.
        index: usize,
    },
    /// A map refused its initial value or the blocklist.
    Map(MapError),
    /// The capture is malformed.
    Capture(CaptureError),
    /// The ring refused a frame.
    Inject(InjectErrorKind),
    /// A program slot refused a load.
    #[cfg(feature = "loader")]
    Slot(SlotError),
}

impl core::fmt::Display for DemoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DemoError::Load(e) => write!(f, "loading the object: {e}"),
            DemoError::MapCount { found } => write!(
                f,
                "the object declares {found} maps, the storage holds {}",
                crate::N_MAPS
            ),
            DemoError::Decode(e) => write!(f, "decoding the program: {e}"),
            DemoError::Verify(e) => write!(f, "verifying the program: {e}"),
            DemoError::MapDef { index } => {
                write!(
                    f,
                    "map {index}: storage does not match the program's definition"
                )
            }
            DemoError::Map(e) => write!(f, "configuring the maps: {e}"),
            DemoError::Capture(e) => write!(f, "reading the capture: {e}"),
            DemoError::Inject(kind) => write!(f, "feeding the ring: {kind:?}"),
            #[cfg(feature = "loader")]
            DemoError::Slot(e) => write!(f, "loading into the slot: {e}"),
        }
    }
}

impl core::error::Error for DemoError {}
