//! Criterion benchmarks of classic BPF filters: each expression of `FILTER_EXPRESSIONS`, one
//! pass over the sample capture per iteration, on libpcap's interpreter, nanobpf's interpreter
//! and nanobpf's JIT. `cargo bench -p nanobpf-bench --bench filters`; the `bench-table` binary
//! prints the same comparison as one Markdown table.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nanobpf_bench::{sample_capture, FilterCase, FilterEngine, FILTER_EXPRESSIONS};
use std::time::Duration;

fn filters(c: &mut Criterion) {
    if let Err(e) = nanobpf_cli::libpcap::Libpcap::get() {
        eprintln!("filters: skipped: {e}");
        return;
    }
    let mut cap = sample_capture().expect("the sample capture reads");
    for expr in FILTER_EXPRESSIONS {
        let mut case = FilterCase::new(expr, &mut cap).expect("every engine agrees with libpcap");
        let mut group = c.benchmark_group(format!("filter {expr}"));
        group.throughput(Throughput::Elements(cap.packets.len() as u64));
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
        for &engine in FilterEngine::available() {
            group.bench_function(BenchmarkId::from_parameter(engine.label()), |b| {
                b.iter(|| case.pass(engine, &mut cap).expect("no trap"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, filters);
criterion_main!(benches);
