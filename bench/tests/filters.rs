//! The filter table's expressions: every engine keeps exactly the packets libpcap keeps, each
//! expression splits the sample, and a quick measurement gives a time for every engine.
#![cfg(feature = "pcap")]

use nanobpf_bench::{
    filter_geomean, filter_rows, sample_capture, FilterCase, FilterEngine, Timing,
    FILTER_EXPRESSIONS,
};
use std::time::Duration;

#[test]
fn every_engine_keeps_what_libpcap_keeps_on_every_expression() {
    let mut cap = sample_capture().unwrap();
    let total = cap.packets.len();
    assert_eq!(total, 300);
    for expr in FILTER_EXPRESSIONS {
        let mut case = FilterCase::new(expr, &mut cap).unwrap();
        assert!(
            case.matched > 0 && case.matched < total,
            "'{expr}' keeps {} of {total}: it tells nothing",
            case.matched
        );
        assert!(
            case.slots >= case.classic,
            "'{expr}': {} classic instructions became {} slots",
            case.classic,
            case.slots
        );
        for &engine in FilterEngine::available() {
            assert_eq!(
                case.pass(engine, &mut cap),
                Ok(case.matched),
                "'{expr}' on {}",
                engine.label()
            );
        }
    }
    assert_eq!(
        FilterEngine::available().contains(&FilterEngine::NanobpfJit),
        cfg!(target_arch = "x86_64")
    );
}

#[test]
fn an_expression_libpcap_rejects_is_an_error() {
    let mut cap = sample_capture().unwrap();
    let e = FilterCase::new("tcp port", &mut cap).unwrap_err();
    assert!(e.contains("tcp port"), "{e}");
}

#[test]
fn a_quick_measurement_times_every_engine() {
    let timing = Timing {
        warmup: Duration::from_millis(1),
        batch: Duration::from_millis(1),
        batches: 1,
    };
    let rows = filter_rows(&timing).unwrap();
    assert_eq!(rows.len(), FILTER_EXPRESSIONS.len());
    for r in &rows {
        assert_eq!(r.packets, 300);
        for &e in FilterEngine::available() {
            let ns = r.ns(e).unwrap();
            assert!(
                ns.is_finite() && ns > 0.0,
                "'{}' on {}: {ns}",
                r.expr,
                e.label()
            );
        }
        let s = r.speedup(FilterEngine::Nanobpf).unwrap();
        let want = r.ns(FilterEngine::Libpcap).unwrap() / r.ns(FilterEngine::Nanobpf).unwrap();
        assert!((s - want).abs() < 1e-9);
    }
    let g = filter_geomean(&rows, |r| r.ns(FilterEngine::Libpcap));
    let libpcap_ns = rows.iter().filter_map(|r| r.ns(FilterEngine::Libpcap));
    let (lo, hi) = libpcap_ns.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    assert!(lo <= g && g <= hi, "{lo} <= {g} <= {hi}");
}
