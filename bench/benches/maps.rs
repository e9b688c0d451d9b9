//! Criterion benchmarks of host-side map operations: one lookup and one in-place update of the
//! array, hash, LRU hash and LPM trie maps at each size of `MAP_SIZES`, as const-generic types
//! and as the run-time forms a map arena creates. Each iteration does `OPS_PER_CALL`
//! operations. `cargo bench -p nanobpf-bench --bench maps`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nanobpf_bench::{MapBench, MAP_SIZES, OPS_PER_CALL};
use std::time::Duration;

fn maps(c: &mut Criterion) {
    for op in ["lookup", "update"] {
        let mut group = c.benchmark_group(format!("map {op}"));
        group.throughput(Throughput::Elements(OPS_PER_CALL as u64));
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
        for entries in MAP_SIZES {
            for m in MapBench::all(entries).expect("maps fill") {
                let id = BenchmarkId::new(m.name(), m.entries());
                let mut at = 0;
                if op == "lookup" {
                    group.bench_function(id, |b| b.iter(|| m.lookups(&mut at)));
                } else {
                    group.bench_function(id, |b| b.iter(|| m.updates(&mut at)));
                }
            }
        }
        group.finish();
    }
}

criterion_group!(benches, maps);
criterion_main!(benches);
