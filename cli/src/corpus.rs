//! `nanobpf corpus DIR`: loads and verifies every program of a corpus of real objects and
//! compares each verdict with the one expected.
//!
//! `DIR/expected.tsv` has one row per program (`object`, `section`, `function`, `family`,
//! `expected`), as `../shared/corpus/README.md` describes: `accept` (a correct program the
//! kernel's rules accept), `reject` (written to break a rule), `load-fail` (the object itself
//! is broken), `accept?` (the kernel's verdict is not recorded). A row agrees when an `accept`
//! program is accepted, a `reject` program is not, a `load-fail` program is refused by the
//! loader; `accept?` rows are counted, never judged.

use crate::verify::{verify_program, Status, Verdict};
use nanobpf_core::MapDef;
use nanobpf_core::{MapInfo, Object};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One row of `expected.tsv`, with what nanobpf made of it.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    /// Path of the object under the corpus folder.
    pub object: String,
    /// Section of the program.
    pub section: String,
    /// Function (or section) naming the program.
    pub function: String,
    /// `xdp`, `socket`, `tc`, `cgroup`, `tracing`, `other`.
    pub family: String,
    /// `accept`, `reject`, `load-fail` or `accept?`.
    pub expected: String,
    /// What nanobpf made of it: the verdict (loaded and verified, or why not).
    pub verdict: Verdict,
}

impl Row {
    /// Whether the verdict is the one expected (`None` for `accept?` rows).
    pub fn agrees(&self) -> Option<bool> {
        let s = self.verdict.status;
        match self.expected.as_str() {
            "accept" => Some(s == Status::Accepted),
            "reject" => Some(s != Status::Accepted),
            "load-fail" => Some(s == Status::LoadFailed),
            _ => None,
        }
    }

    /// The verdict's reason, on one line.
    pub fn cause(&self) -> String {
        match &self.verdict.error {
            Some(e) if e.insn.is_empty() => e.message.clone(),
            Some(e) => format!("insn {} ({}): {}", e.pc, e.insn, e.message),
            None => "accepted".into(),
        }
    }
}

/// Figures of one family.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Tally {
    /// Rows.
    pub rows: usize,
    /// Rows expected `accept`, and of those the programs accepted.
    pub expect_accept: usize,
    /// Of the `accept` rows, the programs accepted.
    pub accepted: usize,
    /// Rows expected `reject` or `load-fail`.
    pub expect_refusal: usize,
    /// Of those, the programs refused (rejected, not run, or not loaded).
    pub refused: usize,
    /// Rows whose verdict is the one expected.
    pub agree: usize,
    /// Rows judged (all but `accept?`).
    pub judged: usize,
}

/// The whole report.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// Every row, in file order.
    pub rows: Vec<Row>,
    /// Per family, in name order.
    pub families: BTreeMap<String, Tally>,
}

/// Reads `dir/expected.tsv` and verifies every program it names.
///
/// # Errors
/// When `expected.tsv` cannot be read or a row is malformed (the line is named).
pub fn run(dir: &Path) -> Result<Report, String> {
    let tsv = dir.join("expected.tsv");
    let text = std::fs::read_to_string(&tsv).map_err(|e| format!("{}: {e}", tsv.display()))?;
    let mut objects: BTreeMap<String, Result<Vec<u8>, String>> = BTreeMap::new();
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [object, section, function, family, expected] = cols[..] else {
            return Err(format!("{}:{}: expected 5 columns", tsv.display(), n + 1));
        };
        let bytes = objects
            .entry(object.to_string())
            .or_insert_with(|| std::fs::read(dir.join(object)).map_err(|e| e.to_string()));
        let label = format!("{function} ({section})");
        let verdict = match bytes {
            Ok(bytes) => verify_row(bytes, section, function, label),
            Err(e) => Verdict::not_verified(label, Status::LoadFailed, e.clone()),
        };
        rows.push(Row {
            object: object.into(),
            section: section.into(),
            function: function.into(),
            family: family.into(),
            expected: expected.into(),
            verdict,
        });
    }
    let mut families: BTreeMap<String, Tally> = BTreeMap::new();
    for r in &rows {
        let t = families.entry(r.family.clone()).or_default();
        t.rows += 1;
        let status = r.verdict.status;
        if r.expected == "accept" {
            t.expect_accept += 1;
            t.accepted += usize::from(status == Status::Accepted);
        }
        if r.expected == "reject" || r.expected == "load-fail" {
            t.expect_refusal += 1;
            t.refused += usize::from(status != Status::Accepted);
        }
        if let Some(agree) = r.agrees() {
            t.judged += 1;
            t.agree += usize::from(agree);
        }
    }
    Ok(Report { rows, families })
}

/// Loads and verifies the program of one row: the function called `function` in `section`
/// (or, in objects that name programs by section, the section's program).
fn verify_row(bytes: &[u8], section: &str, function: &str, label: String) -> Verdict {
    let obj = match Object::parse(bytes) {
        Ok(o) => o,
        Err(e) => return Verdict::not_verified(label, Status::LoadFailed, e.to_string()),
    };
    let maps: Vec<MapInfo<'_>> = obj.maps().collect();
    let defs: Vec<MapDef> = maps.iter().map(|m| m.verifier_def()).collect();
    let found = obj
        .programs()
        .find(|p| p.name == function && p.section == section)
        .or_else(|| {
            obj.programs()
                .find(|p| p.section == section && function == section)
        })
        .or_else(|| obj.program(function).ok().filter(|p| p.section == section));
    match found {
        Some(p) => verify_program(&obj, &defs, &p, None, false),
        None => Verdict::not_verified(label, Status::LoadFailed, "no such program".into()),
    }
}

impl Report {
    /// The per-family table, the figures of the verified programs (median and largest time
    /// and workspace bytes), and every judged row that disagrees, with its cause.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<8} {:>5}  {:>16}  {:>18}  {:>9}",
            "family", "rows", "accept: verified", "reject: refused", "agree"
        );
        for (family, t) in &self.families {
            let _ = writeln!(
                out,
                "{family:<8} {:>5}  {:>16}  {:>18}  {:>9}",
                t.rows,
                format!("{} of {}", t.accepted, t.expect_accept),
                format!("{} of {}", t.refused, t.expect_refusal),
                format!("{} of {}", t.agree, t.judged),
            );
        }
        let verified: Vec<&Verdict> = self
            .rows
            .iter()
            .map(|r| &r.verdict)
            .filter(|v| v.stats.is_some())
            .collect();
        let mut times: Vec<f64> = verified.iter().map(|v| v.elapsed_us).collect();
        let mut bytes: Vec<u32> = verified
            .iter()
            .filter_map(|v| v.stats.map(|s| s.peak_bytes))
            .collect();
        times.sort_by(f64::total_cmp);
        bytes.sort_unstable();
        if let (Some(t), Some(b)) = (times.last(), bytes.last()) {
            let _ = writeln!(
                out,
                "{} programs verified: time median {:.1} us, largest {:.1} us; \
                 state bytes median {}, largest {}",
                verified.len(),
                times[times.len() / 2],
                t,
                bytes[bytes.len() / 2],
                b
            );
        }
        for r in self.rows.iter().filter(|r| r.agrees() == Some(false)) {
            let _ = writeln!(
                out,
                "disagree: {} {} ({}, expected {}): {}",
                r.object,
                r.verdict.program,
                r.family,
                r.expected,
                r.cause()
            );
        }
        out
    }
}
