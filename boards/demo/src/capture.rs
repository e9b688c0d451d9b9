//! A classic pcap file read in place: the global header once, then one record per frame.

/// Why a capture could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureError {
    /// Shorter than the 24-byte global header, or not a little-endian microsecond pcap of
    /// Ethernet frames; the byte offset is 0.
    BadHeader,
    /// A record header or body runs past the end of the file, at this byte offset.
    Truncated(usize),
}

impl core::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CaptureError::BadHeader => f.write_str("not a little-endian Ethernet pcap file"),
            CaptureError::Truncated(at) => write!(f, "pcap record truncated at byte {at}"),
        }
    }
}

impl core::error::Error for CaptureError {}

/// The frames of a pcap file, in order, borrowed from its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Capture<'a> {
    records: &'a [u8],
}

impl<'a> Capture<'a> {
    /// Checks the global header.
    ///
    /// # Errors
    /// [`CaptureError::BadHeader`] for anything but a little-endian (magic `a1b2c3d4`) pcap of
    /// link type Ethernet (1).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CaptureError> {
        let magic = bytes.get(0..4);
        let link = bytes.get(20..24);
        match (magic, link) {
            (Some([0xd4, 0xc3, 0xb2, 0xa1]), Some([1, 0, 0, 0])) => Ok(Capture {
                records: bytes.get(24..).unwrap_or(&[]),
            }),
            _ => Err(CaptureError::BadHeader),
        }
    }

    /// The frames, each `Ok(bytes)` or, for a record that runs past the end, one final error.
    pub fn frames(&self) -> Frames<'a> {
        Frames {
            rest: self.records,
            at: 24,
        }
    }
}

/// The iterator of [`Capture::frames`].
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    rest: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<&'a [u8], CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let frame = self
            .rest
            .get(8..12)
            .and_then(|l| Some(u32::from_le_bytes(l.try_into().ok()?) as usize))
            .and_then(|len| Some((len, self.rest.get(16..16usize.checked_add(len)?)?)));
        match frame {
            Some((len, bytes)) => {
                self.rest = self.rest.get(16 + len..).unwrap_or(&[]);
                self.at += 16 + len;
                Some(Ok(bytes))
            }
            None => {
                self.rest = &[];
                Some(Err(CaptureError::Truncated(self.at)))
            }
        }
    }
}
