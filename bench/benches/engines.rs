//! Criterion benchmarks: every engine on every row of the table (the maps program included, in
//! its steady state), plus the call overhead.
//! `cargo bench -p nanobpf-bench`; the `bench-table` binary prints the same comparison as one
//! Markdown table.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nanobpf_bench::{input, Bench, Case, Engine, Input, Runner, TABLE_CASES};
use std::hint::black_box;
use std::time::Duration;

fn bench_case(c: &mut Criterion, case: &Case) {
    let mut group = c.benchmark_group(case.label);
    if case.bench == Bench::Xorshift {
        // Tens of milliseconds per run on the interpreters.
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
    } else {
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
    }
    let mut runner = Runner::new(case.bench, input(case.input)).expect("decodes");
    for &engine in Engine::available() {
        if runner.run(engine).is_err() {
            continue;
        }
        group.bench_function(BenchmarkId::from_parameter(engine.label()), |b| {
            run_on(b, &mut runner, engine)
        });
    }
    group.finish();
}

/// Times `engine` with the engine chosen outside the timed closure.
fn run_on(b: &mut criterion::Bencher<'_>, runner: &mut Runner, engine: Engine) {
    let bench = runner.bench();
    let buf = &mut runner.buf;
    match engine {
        Engine::Native => b.iter(|| nanobpf_bench::run_native(bench, black_box(buf))),
        Engine::Nanobpf => {
            let e = runner.verified.as_mut().expect("checked by the caller");
            b.iter(|| e.run(black_box(buf)))
        }
        #[cfg(target_arch = "x86_64")]
        Engine::NanobpfJit => {
            let e = runner.jit_nanobpf.as_mut().expect("checked by the caller");
            b.iter(|| e.run(black_box(buf)))
        }
        #[cfg(not(target_arch = "x86_64"))]
        Engine::NanobpfJit => {}
        Engine::NanobpfChecked => {
            let e = &mut runner.checked;
            b.iter(|| e.run(black_box(buf)))
        }
        Engine::RbpfInterp => {
            let e = runner.rbpf.as_ref().expect("checked by the caller");
            b.iter(|| e.run(black_box(buf)))
        }
        #[cfg(all(target_arch = "x86_64", not(windows)))]
        Engine::RbpfJit => {
            let e = runner.jit.as_mut().expect("checked by the caller");
            b.iter(|| e.run())
        }
        #[cfg(not(all(target_arch = "x86_64", not(windows))))]
        Engine::RbpfJit => {}
    }
}

fn engines(c: &mut Criterion) {
    for case in &TABLE_CASES {
        bench_case(c, case);
    }
    bench_case(
        c,
        &Case {
            label: "call overhead (nop)",
            bench: Bench::Nop,
            input: Input::Packet64,
        },
    );
}

criterion_group!(benches, engines);
criterion_main!(benches);
