//! Capture files, read and written in Rust (the `pcap-file` crate): nothing outside Rust is
//! needed to replay or filter a capture.
//!
//! Reading takes pcap (either byte order, micro- or nanosecond timestamps) and pcapng
//! (enhanced and simple packet blocks; the link type of the first interface). Writing produces
//! pcap with microsecond timestamps, as tcpdump does. A file that does not parse is a
//! [`CaptureError`] naming the file and the byte offset of the record that failed.

use pcap_file::pcap::{PcapHeader, PcapParser, PcapWriter, RawPcapPacket};
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Link type 1: Ethernet.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// The snapshot length written to capture headers (and libpcap's for compiled filters).
pub const SNAPLEN: u32 = 65_535;

/// One frame of a capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// When it was captured, from the Unix epoch.
    pub ts: Duration,
    /// Its length on the wire (at least `data.len()`).
    pub orig_len: u32,
    /// The bytes captured.
    pub data: Vec<u8>,
}

impl Frame {
    /// A frame of `data`, whole (its length on the wire is its length).
    pub fn new(ts: Duration, data: Vec<u8>) -> Frame {
        Frame {
            ts,
            orig_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
            data,
        }
    }
}

/// A capture read into memory.
#[derive(Clone, Debug, Default)]
pub struct Capfile {
    /// The link type (1 is Ethernet), which an expression is compiled for.
    pub linktype: u32,
    /// The frames, in order.
    pub packets: Vec<Frame>,
}

/// Why a capture could not be read or written.
#[derive(Debug)]
pub enum CaptureErrorKind {
    /// The file could not be opened, read or written.
    Io(std::io::Error),
    /// Neither the pcap nor the pcapng magic number.
    NotACapture,
    /// The file ends inside a header or a record.
    Truncated,
    /// A record that does not parse.
    Malformed(String),
}

/// A capture error: the file, the byte offset of the header or record at fault, and why.
#[derive(Debug)]
pub struct CaptureError {
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the header or record that failed (0 for I/O errors).
    pub offset: u64,
    /// What went wrong.
    pub kind: CaptureErrorKind,
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.path.display();
        match &self.kind {
            CaptureErrorKind::Io(e) => write!(f, "{p}: {e}"),
            CaptureErrorKind::NotACapture => {
                write!(
                    f,
                    "{p}: not a pcap or pcapng capture (unknown magic number)"
                )
            }
            CaptureErrorKind::Truncated => write!(
                f,
                "{p}: truncated at offset {}: the record there is incomplete",
                self.offset
            ),
            CaptureErrorKind::Malformed(why) => {
                write!(f, "{p}: bad record at offset {}: {why}", self.offset)
            }
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CaptureErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CaptureError> for String {
    fn from(e: CaptureError) -> String {
        e.to_string()
    }
}

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x4d, 0x3c, 0xb2, 0xa1],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Reads a whole pcap or pcapng file.
///
/// # Errors
/// A [`CaptureError`] naming the file (and the offset of the record that does not parse).
pub fn read_capture(path: &Path) -> Result<Capfile, CaptureError> {
    let bytes = std::fs::read(path).map_err(|e| CaptureError {
        path: path.to_path_buf(),
        offset: 0,
        kind: CaptureErrorKind::Io(e),
    })?;
    parse_capture(&bytes).map_err(|(offset, kind)| CaptureError {
        path: path.to_path_buf(),
        offset,
        kind,
    })
}

type ParseError = (u64, CaptureErrorKind);

fn kind_of(e: PcapError) -> CaptureErrorKind {
    match e {
        PcapError::IncompleteBuffer => CaptureErrorKind::Truncated,
        PcapError::IoError(e) => CaptureErrorKind::Io(e),
        other => CaptureErrorKind::Malformed(other.to_string()),
    }
}

/// Parses a capture held in memory; errors carry the byte offset of the failing record.
///
/// # Errors
/// The offset and kind of the first record that does not parse.
pub fn parse_capture(bytes: &[u8]) -> Result<Capfile, (u64, CaptureErrorKind)> {
    let magic = bytes.get(..4);
    if magic.is_some_and(|m| PCAP_MAGICS.iter().any(|p| p == m)) {
        parse_pcap(bytes)
    } else if magic == Some(&PCAPNG_MAGIC[..]) {
        parse_pcapng(bytes)
    } else if bytes.len() < 4 {
        Err((0, CaptureErrorKind::Truncated))
    } else {
        Err((0, CaptureErrorKind::NotACapture))
    }
}

fn parse_pcap(bytes: &[u8]) -> Result<Capfile, ParseError> {
    let at = |rest: &[u8]| (bytes.len() - rest.len()) as u64;
    let (mut rest, parser) = PcapParser::new(bytes).map_err(|e| (0, kind_of(e)))?;
    let header = parser.header();
    let mut packets = Vec::new();
    while !rest.is_empty() {
        let offset = at(rest);
        let (next, raw) = parser
            .next_raw_packet(rest)
            .map_err(|e| (offset, kind_of(e)))?;
        // libpcap's rules, not the stricter ones of `PcapPacket`: a frame may be longer on
        // the wire than the snapshot length.
        let nanos = match header.ts_resolution {
            TsResolution::MicroSecond => u64::from(raw.ts_frac) * 1_000,
            TsResolution::NanoSecond => u64::from(raw.ts_frac),
        };
        packets.push(Frame {
            ts: Duration::from_secs(raw.ts_sec.into()) + Duration::from_nanos(nanos),
            orig_len: raw.orig_len.max(raw.incl_len),
            data: raw.data.into_owned(),
        });
        rest = next;
    }
    Ok(Capfile {
        linktype: header.datalink.into(),
        packets,
    })
}

fn parse_pcapng(bytes: &[u8]) -> Result<Capfile, ParseError> {
    let at = |rest: &[u8]| (bytes.len() - rest.len()) as u64;
    let (mut rest, mut parser) = PcapNgParser::new(bytes).map_err(|e| (0, kind_of(e)))?;
    let mut linktype = None;
    let mut packets = Vec::new();
    while !rest.is_empty() {
        let offset = at(rest);
        let (next, block) = parser.next_block(rest).map_err(|e| (offset, kind_of(e)))?;
        match block {
            Block::InterfaceDescription(i) => {
                linktype.get_or_insert(u32::from(i.linktype));
            }
            Block::EnhancedPacket(p) => packets.push(Frame {
                ts: p.timestamp,
                orig_len: p.original_len.max(p.data.len() as u32),
                data: p.data.into_owned(),
            }),
            Block::SimplePacket(p) => packets.push(Frame {
                ts: Duration::ZERO,
                orig_len: p.original_len.max(p.data.len() as u32),
                data: p.data.into_owned(),
            }),
            _ => {}
        }
        rest = next;
    }
    Ok(Capfile {
        linktype: linktype.unwrap_or(LINKTYPE_ETHERNET),
        packets,
    })
}

/// Writes frames to a pcap file of the given link type (microsecond timestamps, native byte
/// order, as libpcap writes).
///
/// # Errors
/// A [`CaptureError`] naming the file when it cannot be written.
pub fn write_capture<'a>(
    path: &Path,
    linktype: u32,
    frames: impl IntoIterator<Item = &'a Frame>,
) -> Result<(), CaptureError> {
    let err = |offset: u64, kind: CaptureErrorKind| CaptureError {
        path: path.to_path_buf(),
        offset,
        kind,
    };
    let file = std::fs::File::create(path).map_err(|e| err(0, CaptureErrorKind::Io(e)))?;
    let header = PcapHeader {
        version_major: 2,
        version_minor: 4,
        ts_correction: 0,
        ts_accuracy: 0,
        snaplen: SNAPLEN,
        datalink: DataLink::from(linktype),
        ts_resolution: TsResolution::MicroSecond,
        endianness: if cfg!(target_endian = "big") {
            Endianness::Big
        } else {
            Endianness::Little
        },
    };
    let mut w = PcapWriter::with_header(std::io::BufWriter::new(file), header)
        .map_err(|e| err(0, kind_of(e)))?;
    let mut offset = 24u64;
    for f in frames {
        let incl_len = u32::try_from(f.data.len())
            .map_err(|_| err(offset, CaptureErrorKind::Malformed("frame too long".into())))?;
        let raw = RawPcapPacket {
            ts_sec: u32::try_from(f.ts.as_secs()).unwrap_or(u32::MAX),
            ts_frac: f.ts.subsec_micros(),
            incl_len,
            orig_len: f.orig_len.max(incl_len),
            data: Cow::Borrowed(&f.data),
        };
        let n = w
            .write_raw_packet(&raw)
            .map_err(|e| err(offset, kind_of(e)))?;
        offset += n as u64;
    }
    use std::io::Write;
    w.into_writer()
        .flush()
        .map_err(|e| err(offset, CaptureErrorKind::Io(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pcap/sample.pcap"))
            .unwrap()
    }

    #[test]
    fn the_sample_reads_and_round_trips() {
        let cap = parse_capture(&sample()).unwrap();
        assert_eq!((cap.linktype, cap.packets.len()), (1, 300));
        let path = std::env::temp_dir().join(format!("nanobpf-cap-{}.pcap", std::process::id()));
        write_capture(&path, cap.linktype, &cap.packets).unwrap();
        let again = read_capture(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(again.packets, cap.packets);
    }

    #[test]
    fn a_truncated_capture_names_the_record() {
        let bytes = sample();
        let first_len = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
        let second = 24 + 16 + first_len;
        let (offset, kind) = parse_capture(&bytes[..second + 20]).unwrap_err();
        assert_eq!(offset, second as u64);
        assert!(matches!(kind, CaptureErrorKind::Truncated));
        let (offset, kind) = parse_capture(&bytes[..10]).unwrap_err();
        assert_eq!(offset, 0);
        assert!(matches!(kind, CaptureErrorKind::Truncated));
        assert!(matches!(
            parse_capture(b"GIF89a..").unwrap_err().1,
            CaptureErrorKind::NotACapture
        ));
        let e = CaptureError {
            path: "x.pcap".into(),
            offset: 77,
            kind: CaptureErrorKind::Truncated,
        };
        assert_eq!(
            e.to_string(),
            "x.pcap: truncated at offset 77: the record there is incomplete"
        );
    }
}
