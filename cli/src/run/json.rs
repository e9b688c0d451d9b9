//! The `--json` document of `nanobpf run`: everything the text report shows, maps with their
//! typed keys and values.

use super::render::index_key;
use super::typed::{hex, Value};
use super::{MapDump, Report, RunArgs, BUF_SIZE};
use crate::verify::map_type_name;
use nanobpf_core::MapSource;
use nanobpf_core::MapType;
use serde::Serialize;

/// The document.
#[derive(Debug, Serialize)]
pub struct RunJson {
    /// The program's function name.
    pub program: String,
    /// Its section.
    pub section: String,
    /// Slots loaded (with called functions).
    pub slots: usize,
    /// The engine.
    pub engine: String,
    /// The capture replayed.
    pub capture: String,
    /// Frames in the capture.
    pub frames: u64,
    /// The tail-call table, when the object has a program array.
    pub tail_call_table: Vec<String>,
    /// Frames per verdict.
    pub verdicts: Verdicts,
    /// Frames redirected to other ports.
    pub redirected: Vec<Redirected>,
    /// Time in the replay loop, in milliseconds.
    pub elapsed_ms: f64,
    /// Frames per second through the replay loop.
    pub packets_per_second: f64,
    /// With `--out`: the file and the frames written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<Out>,
    /// Every map after the run.
    pub maps: Vec<MapJson>,
}

/// Frames per verdict, as in the text table.
#[derive(Debug, Serialize)]
pub struct Verdicts {
    pub aborted: u64,
    pub drop: u64,
    pub pass: u64,
    pub tx: u64,
    pub redirect: u64,
    pub tx_full: u64,
    pub redirect_failed: u64,
    pub traps: u64,
    pub invalid: u64,
    /// Frames longer than a ring buffer holds ([`too_long_limit`](Verdicts::too_long_limit)
    /// bytes): not run.
    pub too_long: u64,
    pub too_long_limit: usize,
    pub total: u64,
}

/// Frames redirected to one interface.
#[derive(Debug, Serialize)]
pub struct Redirected {
    pub ifindex: u32,
    pub frames: u64,
}

/// The `--out` file.
#[derive(Debug, Serialize)]
pub struct Out {
    pub path: String,
    pub frames: usize,
}

/// One map. Keys and values are typed where the object's BTF gives their types (numbers,
/// addresses as strings, structs as objects), hex strings where it does not; array-like maps
/// list their non-zero entries with the index as key. Every entry is listed (`--show` limits
/// only the text).
#[derive(Debug, Serialize)]
pub struct MapJson {
    pub name: String,
    /// Linux's map type name, or `global_data`.
    #[serde(rename = "type")]
    pub map_type: &'static str,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// Whether keys and values are typed (the object gives their BTF types).
    pub typed: bool,
    pub entries: Vec<Entry>,
    /// Ring buffer records consumed at the end, in hex.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
}

/// One key and value.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub key: Value,
    pub value: Value,
}

fn map_json(m: &MapDump) -> MapJson {
    let d = &m.def;
    let global = m.source == MapSource::GlobalData;
    let array = matches!(d.map_type, MapType::Array | MapType::PerCpuArray) && !global;
    let entries = m
        .entries
        .iter()
        .enumerate()
        .filter(|(_, (_, v))| !array || v.iter().any(|&b| b != 0))
        .map(|(i, (k, v))| {
            let (tk, tv) = m.typed.get(i).cloned().unwrap_or_default();
            let key = match index_key(d.map_type, k) {
                Some(n) => Value::Uint(n.into()),
                None => tk.unwrap_or_else(|| Value::Hex(k.clone())),
            };
            Entry {
                key,
                value: tv.unwrap_or_else(|| Value::Hex(v.clone())),
            }
        })
        .collect();
    MapJson {
        name: m.name.clone(),
        map_type: if global {
            "global_data"
        } else {
            map_type_name(d.map_type)
        },
        key_size: d.key_size,
        value_size: d.value_size,
        max_entries: d.max_entries,
        typed: m.typed.iter().any(|(k, v)| k.is_some() || v.is_some()),
        entries,
        records: m.records.iter().map(|r| hex(r)).collect(),
    }
}

/// The document for `report`.
pub fn to_json(report: &Report, args: &RunArgs) -> RunJson {
    let c = &report.counters;
    RunJson {
        program: report.program.clone(),
        section: report.section.clone(),
        slots: report.slots,
        engine: report.engine.clone(),
        capture: args.pcap.display().to_string(),
        frames: report.frames(),
        tail_call_table: report.tail_call_table.clone(),
        verdicts: Verdicts {
            aborted: c.aborted,
            drop: c.drop,
            pass: c.pass,
            tx: c.tx,
            redirect: c.redirect,
            tx_full: c.tx_full,
            redirect_failed: c.redirect_failed,
            traps: c.traps,
            invalid: c.invalid,
            too_long: report.too_long,
            too_long_limit: BUF_SIZE - nanobpf_hal::XDP_PACKET_HEADROOM,
            total: c.frames() + report.too_long,
        },
        redirected: report
            .redirected
            .iter()
            .map(|&(ifindex, frames)| Redirected { ifindex, frames })
            .collect(),
        elapsed_ms: report.elapsed.as_secs_f64() * 1e3,
        packets_per_second: report.packets_per_second(),
        out: args.out.as_ref().map(|p| Out {
            path: p.display().to_string(),
            frames: report.out.len(),
        }),
        maps: report.maps.iter().map(map_json).collect(),
    }
}
