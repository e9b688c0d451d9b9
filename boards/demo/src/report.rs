//! What a replay produced: verdict counts from the runner and the maps' contents, printable
//! and comparable with what the host computed.

use core::fmt;

use nanobpf_core::Map;
use nanobpf_hal::Counters;

use crate::Maps;

/// The most sources a report lists (the capacity of the `per_source` map).
pub const MAX_SOURCES: usize = 32;

/// One entry of the `per_source` map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceCount {
    /// The IPv4 source address.
    pub addr: [u8; 4],
    /// Frames from it.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// The outcome of a replay.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// The runner's verdict counters.
    pub counters: Counters,
    /// The `verdicts` map: frames per XDP verdict (aborted, drop, pass, tx, redirect).
    pub verdicts: [u64; 5],
    /// The `per_source` map, sorted by address; the first `n_sources` entries are used.
    pub sources: [SourceCount; MAX_SOURCES],
    /// How many entries of `sources` are used.
    pub n_sources: usize,
    /// The `.bss` map: the program's globals `frames_seen` and `ipv4_frames`.
    pub globals: [u64; 2],
    /// Bytes of the frames handed to the stack (`XDP_PASS`).
    pub passed_bytes: u64,
    /// Clock ticks spent inside the runner.
    pub ticks: u64,
}

/// What a correct run reports, computed on the host from the capture alone.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    /// Frames in the capture.
    pub frames: u64,
    /// Frames dropped.
    pub drop: u64,
    /// Frames passed.
    pub pass: u64,
    /// IPv4 frames with a whole IPv4 header (the program's `ipv4_frames`).
    pub ipv4: u64,
    /// Bytes of the passed frames.
    pub passed_bytes: u64,
    /// The `per_source` map, sorted by address.
    pub sources: &'static [SourceCount],
}

/// The first part of a report that differs from the expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The runner's counters (frames, pass, drop, or any other outcome).
    Counters,
    /// The `verdicts` map.
    VerdictMap,
    /// The `per_source` map.
    SourceMap,
    /// The bytes handed to the stack.
    PassedBytes,
    /// The program's global counters (the `.bss` map).
    Globals,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mismatch::Counters => "verdict counters differ from the expected ones",
            Mismatch::VerdictMap => "the verdicts map differs from the expected one",
            Mismatch::SourceMap => "the per_source map differs from the expected one",
            Mismatch::PassedBytes => "the passed bytes differ from the expected ones",
            Mismatch::Globals => "the program's global counters differ from the expected ones",
        })
    }
}

impl core::error::Error for Mismatch {}

impl Report {
    /// Reads the maps after a run.
    pub fn collect(counters: Counters, maps: &Maps, passed_bytes: u64, ticks: u64) -> Report {
        let mut verdicts = [0u64; 5];
        for (i, v) in (0u32..).zip(verdicts.iter_mut()) {
            let mut out = [0u8; 8];
            if maps
                .verdicts
                .lookup_copy(&i.to_ne_bytes(), &mut out)
                .is_ok()
            {
                *v = u64::from_ne_bytes(out);
            }
        }
        let mut sources = [SourceCount::default(); MAX_SOURCES];
        let mut n_sources = 0;
        let mut key = [0u8; 4];
        let mut first = true;
        while n_sources < MAX_SOURCES {
            let prev = key;
            let next = maps
                .per_source
                .next_key((!first).then_some(&prev[..]), &mut key);
            if next.is_err() {
                break;
            }
            first = false;
            let mut value = [0u8; 16];
            if maps.per_source.lookup_copy(&key, &mut value).is_ok() {
                let (p, b) = value.split_at(8);
                if let (Some(slot), Ok(p), Ok(b)) =
                    (sources.get_mut(n_sources), p.try_into(), b.try_into())
                {
                    *slot = SourceCount {
                        addr: key,
                        packets: u64::from_ne_bytes(p),
                        bytes: u64::from_ne_bytes(b),
                    };
                    n_sources += 1;
                }
            }
        }
        let mut bss = [0u8; 16];
        let _ = maps.bss.lookup_copy(&0u32.to_ne_bytes(), &mut bss);
        let (seen, ipv4) = bss.split_at(8);
        let word = |b: &[u8]| b.try_into().map_or(0, u64::from_ne_bytes);
        let globals = [word(seen), word(ipv4)];
        // Insertion sort: a few entries, and far less code than `sort_unstable`.
        for i in 1..n_sources {
            let mut j = i;
            while j > 0 && sources.get(j - 1) > sources.get(j) {
                sources.swap(j - 1, j);
                j -= 1;
            }
        }
        Report {
            counters,
            verdicts,
            sources,
            n_sources,
            globals,
            passed_bytes,
            ticks,
        }
    }

    /// The used entries of [`Report::sources`].
    pub fn sources(&self) -> &[SourceCount] {
        self.sources.get(..self.n_sources).unwrap_or(&[])
    }

    /// Compares the report with `want`.
    ///
    /// # Errors
    /// The first part that differs.
    pub fn check(&self, want: &Expected) -> Result<(), Mismatch> {
        let c = &self.counters;
        let others = c.aborted + c.tx + c.tx_full + c.redirect + c.redirect_failed + c.invalid;
        if (c.frames(), c.drop, c.pass, others) != (want.frames, want.drop, want.pass, 0) {
            return Err(Mismatch::Counters);
        }
        if self.verdicts != [0, want.drop, want.pass, 0, 0] {
            return Err(Mismatch::VerdictMap);
        }
        if self.sources() != want.sources {
            return Err(Mismatch::SourceMap);
        }
        if self.passed_bytes != want.passed_bytes {
            return Err(Mismatch::PassedBytes);
        }
        if self.globals != [want.frames, want.ipv4] {
            return Err(Mismatch::Globals);
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        writeln!(
            f,
            "frames {}: pass {}, drop {}, aborted {} (traps {}), tx {}, redirect {}, invalid {}",
            c.frames(),
            c.pass,
            c.drop,
            c.aborted,
            c.traps,
            c.tx + c.tx_full,
            c.redirect + c.redirect_failed,
            c.invalid
        )?;
        writeln!(f, "passed to the stack: {} bytes", self.passed_bytes)?;
        let [aborted, drop, pass, tx, redirect] = self.verdicts;
        writeln!(
            f,
            "map verdicts: aborted {aborted}, drop {drop}, pass {pass}, tx {tx}, redirect {redirect}"
        )?;
        let [seen, ipv4] = self.globals;
        writeln!(f, "map .bss: frames_seen {seen}, ipv4_frames {ipv4}")?;
        writeln!(f, "map per_source ({} sources):", self.n_sources)?;
        for s in self.sources() {
            let [a, b, c, d] = s.addr;
            writeln!(
                f,
                "  {:>15}  packets {:>4}  bytes {:>6}",
                Ipv4(a, b, c, d),
                s.packets,
                s.bytes
            )?;
        }
        Ok(())
    }
}

/// An address printed with padding honoured.
struct Ipv4(u8, u8, u8, u8);

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 15];
        let mut w = Cursor {
            buf: &mut buf,
            len: 0,
        };
        let _ = fmt::write(
            &mut w,
            format_args!("{}.{}.{}.{}", self.0, self.1, self.2, self.3),
        );
        let len = w.len;
        f.pad(core::str::from_utf8(buf.get(..len).unwrap_or(&[])).unwrap_or(""))
    }
}

struct Cursor<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
