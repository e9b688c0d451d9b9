//! Prints the benchmark table in Markdown: every engine on every program, in one process and one
//! run, with ratios and geometric means; then ns per executed instruction on the xorshift loop,
//! ns per map operation of the maps program, and the fixed cost of one call; then ns per map
//! lookup and update from the host; then classic BPF filters against libpcap (skipped with a
//! message when libpcap is not installed, unless `NANOBPF_REQUIRE_LIBPCAP=1`).
//! `--quick` measures for less time.

use nanobpf_bench::{
    count_insns, geomean, input, Bench, Engine, Input, MapBench, Runner, Timing, FLOW_MAP_OPS,
    MAP_SIZES, TABLE_CASES,
};

fn main() -> Result<(), String> {
    let quick = std::env::args().any(|a| a == "--quick");
    let timing = if quick {
        Timing::QUICK
    } else {
        Timing::STANDARD
    };
    let engines = Engine::available();
    // Each ratio column: (header, numerator, denominator).
    let ratios = [
        ("nanobpf / native", Engine::Nanobpf, Engine::Native),
        ("rbpf interp / nanobpf", Engine::RbpfInterp, Engine::Nanobpf),
        ("nanobpf JIT / native", Engine::NanobpfJit, Engine::Native),
        (
            "rbpf JIT / nanobpf JIT",
            Engine::RbpfJit,
            Engine::NanobpfJit,
        ),
        ("nanobpf / nanobpf JIT", Engine::Nanobpf, Engine::NanobpfJit),
    ];

    println!("Machine: {}", cpu_model());
    println!();
    let mut header = String::from("| program | BPF insns executed |");
    let mut rule = String::from("|---|---:|");
    for e in engines {
        header += &format!(" {} (ns) |", e.label());
        rule += "---:|";
    }
    for (label, _, _) in &ratios {
        header += &format!(" {label} |");
        rule += "---:|";
    }
    println!("{header}\n{rule}");

    let mut ratio_values: Vec<Vec<f64>> = vec![Vec::new(); ratios.len()];
    let mut per_engine: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    // The maps row, per engine: for the per-operation table below.
    let mut maps_ns: Vec<Option<f64>> = Vec::new();
    for case in TABLE_CASES {
        let mut runner = Runner::new(case.bench, input(case.input))?;
        let mut buf = runner.buf.clone();
        let insns = count_insns(&mut runner.checked, &mut buf).map_err(|t| t.to_string())?;
        let mut row = format!("| {} | {insns} |", case.label);
        let mut ns = Vec::new();
        for (i, &e) in engines.iter().enumerate() {
            match runner.time(e, &timing) {
                Ok(m) => {
                    row += &format!(" {} |", fmt_ns(m.ns_per_run));
                    per_engine[i].push(m.ns_per_run);
                    ns.push(Some(m.ns_per_run));
                }
                Err(why) => {
                    row += " n/a |";
                    eprintln!("{}: {}: {why}", case.label, e.label());
                    ns.push(None);
                }
            }
        }
        let at = |e: Engine| engines.iter().position(|&x| x == e).and_then(|i| ns[i]);
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a / b),
            _ => None,
        };
        for (k, &(_, a, b)) in ratios.iter().enumerate() {
            let r = ratio(at(a), at(b));
            ratio_values[k].extend(r);
            row += &format!(" {} |", fmt_ratio(r));
        }
        println!("{row}");
        if case.bench == Bench::Maps {
            maps_ns = ns;
        }
    }
    let mut row = String::from("| **geometric mean** | |");
    for v in &per_engine {
        row += &format!(" {} |", fmt_ns(geomean(v)));
    }
    for v in &ratio_values {
        row += &format!(" **{:.2}x** |", geomean(v));
    }
    println!("{row}");

    // ns per executed instruction on the xorshift loop.
    println!();
    println!("| xorshift loop | executed BPF insns | ns per run | ns per insn |");
    println!("|---|---:|---:|---:|");
    let mut buf = input(Input::Packet64);
    let mut runner = Runner::new(Bench::Xorshift, buf.clone())?;
    let insns = count_insns(&mut runner.checked, &mut buf).map_err(|t| t.to_string())?;
    for &e in engines.iter().filter(|&&e| e != Engine::Native) {
        // rbpf runs one more instruction: the prologue that sets r2.
        let n = if matches!(e, Engine::RbpfInterp | Engine::RbpfJit) {
            insns + 1
        } else {
            insns
        };
        match runner.time(e, &timing) {
            Ok(m) => println!(
                "| {} | {n} | {} | {:.2} |",
                e.label(),
                fmt_ns(m.ns_per_run),
                m.ns_per_run / n as f64
            ),
            Err(why) => println!("| {} | {n} | n/a ({why}) | n/a |", e.label()),
        }
    }

    // The maps program per map operation (from the maps row above).
    println!();
    println!(
        "| flow counter, per map operation ({FLOW_MAP_OPS} per run) | ns per operation | more than native |"
    );
    println!("|---|---:|---:|");
    let native = engines
        .iter()
        .position(|&e| e == Engine::Native)
        .and_then(|i| maps_ns.get(i).copied().flatten());
    for (i, &e) in engines.iter().enumerate() {
        let per_op = |ns: f64| ns / f64::from(FLOW_MAP_OPS);
        match maps_ns.get(i).copied().flatten() {
            Some(ns) => println!(
                "| {} | {:.1} | {} |",
                e.label(),
                per_op(ns),
                native.map_or_else(|| "n/a".into(), |n| format!("{:+.1}", per_op(ns - n)))
            ),
            None => println!("| {} | n/a | n/a |", e.label()),
        }
    }

    // The fixed cost of one call.
    println!();
    println!("| call overhead (`r0 = 0; exit`, 64 B buffer) | ns per call |");
    println!("|---|---:|");
    let mut runner = Runner::new(Bench::Nop, input(Input::Packet64))?;
    for &e in engines {
        match runner.time(e, &timing) {
            Ok(m) => println!("| {} | {:.1} |", e.label(), m.ns_per_run),
            Err(why) => println!("| {} | n/a ({why}) |", e.label()),
        }
    }

    #[cfg(target_arch = "x86_64")]
    compile_table(&timing)?;

    // Map operations from the host, the cost a helper call adds to.
    println!();
    println!("### map operations");
    println!();
    println!("| map (u32 keys, 8-byte values; LPM: IPv4 /24s) | entries | ns per lookup | ns per update | storage bytes |");
    println!("|---|---:|---:|---:|---:|");
    for entries in MAP_SIZES {
        for m in MapBench::all(entries)? {
            let r = m.measure(&timing);
            println!(
                "| {} | {} | {:.1} | {:.1} | {} |",
                r.map, r.entries, r.lookup_ns, r.update_ns, r.storage
            );
        }
    }

    match nanobpf_cli::libpcap::Libpcap::get() {
        Ok(_) => filter_table(&timing)?,
        Err(e) if !nanobpf_cli::libpcap::Libpcap::required() => {
            println!();
            println!("### classic BPF filters: skipped: {e}");
        }
        Err(e) => return Err(e.to_string()),
    }
    Ok(())
}

/// What the JIT costs: one compilation of each program (translation, two or more assemblies
/// when loop heads are aligned, the decode-back check, mapping and sealing the pages).
#[cfg(target_arch = "x86_64")]
fn compile_table(timing: &Timing) -> Result<(), String> {
    use nanobpf_bench::{Code, NanobpfJit};
    println!();
    println!("| JIT compilation | BPF slots | code bytes | µs per compilation | ns per slot |");
    println!("|---|---:|---:|---:|---:|");
    let mut seen = Vec::new();
    let (mut slots, mut ns) = (0usize, 0f64);
    for case in TABLE_CASES.iter().filter(|c| c.bench != Bench::Nop) {
        if seen.contains(&case.bench) {
            continue;
        }
        seen.push(case.bench);
        let buf = input(case.input);
        let code = Code::of(case.bench, buf.len())?;
        let runner = Runner::new(case.bench, buf)?;
        let verified = runner.verified.as_ref().map_err(|e| e.clone())?;
        let t = NanobpfJit::compile_time(verified, &code, timing)?;
        println!(
            "| {} | {} | {} | {:.1} | {:.0} |",
            case.bench.name(),
            t.slots,
            t.bytes,
            t.ns / 1e3,
            t.ns / t.slots as f64
        );
        slots += t.slots;
        ns += t.ns;
    }
    println!(
        "| **all** | {slots} | | {:.1} | {:.0} |",
        ns / 1e3,
        ns / slots as f64
    );
    Ok(())
}

/// Classic BPF filters: tcpdump expressions over the sample capture, libpcap's interpreter
/// against nanobpf's interpreter and JIT.
fn filter_table(timing: &Timing) -> Result<(), String> {
    use nanobpf_bench::{filter_geomean, filter_rows, FilterEngine};
    let engines = FilterEngine::available();
    let ours = || engines.iter().filter(|&&e| e != FilterEngine::Libpcap);
    let rows = filter_rows(timing)?;
    println!();
    println!("### classic BPF filters (tcpdump expressions over `examples/pcap/sample.pcap`)");
    println!();
    let mut header = String::from("| expression | classic insns | eBPF slots | matched |");
    let mut rule = String::from("|---|---:|---:|---:|");
    for e in engines {
        header += &format!(" {} (ns/packet) |", e.label());
        rule += "---:|";
    }
    for e in ours() {
        header += &format!(" libpcap / {} |", e.label());
        rule += "---:|";
    }
    println!("{header}\n{rule}");
    for r in &rows {
        let mut row = format!(
            "| `{}` | {} | {} | {}/{} |",
            r.expr, r.classic, r.slots, r.matched, r.packets
        );
        for &e in engines {
            row += &format!(" {} |", r.ns(e).map_or("n/a".into(), fmt_ns));
        }
        for &e in ours() {
            row += &format!(" {} |", fmt_ratio(r.speedup(e)));
        }
        println!("{row}");
    }
    let mut row = String::from("| **geometric mean** | | | |");
    for &e in engines {
        row += &format!(" {} |", fmt_ns(filter_geomean(&rows, |r| r.ns(e))));
    }
    for &e in ours() {
        row += &format!(" **{:.2}x** |", filter_geomean(&rows, |r| r.speedup(e)));
    }
    println!("{row}");
    Ok(())
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 100.0 {
        format!("{:.0}", ns)
    } else {
        format!("{:.1}", ns)
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".into(), |r| format!("{r:.2}x"))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
