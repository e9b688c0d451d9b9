//! The filter table's expressions: every engine keeps exactly the packets libpcap keeps, each
//! expression splits the sample, and a quick measurement gives a time for every engine.
//!
//! They need libpcap (loaded at run time): without it each test says so and passes, unless
//! `NANOBPF_REQUIRE_LIBPCAP=1` (CI) makes its absence a failure.

use nanobpf_bench::{
    filter_geomean, filter_rows, sample_capture, FilterCase, FilterEngine, Timing,
    FILTER_EXPRESSIONS,
};
use nanobpf_cli::libpcap::Libpcap;
use std::io::Write;
use std::time::Duration;

/// Whether libpcap is here; when it is not, prints why the test is skipped, or fails under
/// `NANOBPF_REQUIRE_LIBPCAP=1`.
fn have_libpcap(test: &str) -> bool {
    match Libpcap::get() {
        Ok(_) => true,
        Err(e) if Libpcap::required() => panic!("{test}: NANOBPF_REQUIRE_LIBPCAP=1 but {e}"),
        Err(e) => {
            // Straight to stderr, past the harness's capture, so the skip is seen.
            let _ = writeln!(std::io::stderr(), "skipped {test}: {e}");
            false
        }
    }
}

#[test]
fn every_engine_keeps_what_libpcap_keeps_on_every_expression() {
    if !have_libpcap("every_engine_keeps_what_libpcap_keeps_on_every_expression") {
        return;
    }
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
    if !have_libpcap("an_expression_libpcap_rejects_is_an_error") {
        return;
    }
    let mut cap = sample_capture().unwrap();
    let e = FilterCase::new("tcp port", &mut cap).unwrap_err();
    assert!(e.contains("tcp port"), "{e}");
}

#[test]
fn a_quick_measurement_times_every_engine() {
    if !have_libpcap("a_quick_measurement_times_every_engine") {
        return;
    }
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
