//! Compiles the benchmark programs of `examples/bench/` natively, the physical limit the
//! engines are measured against. Each file defines `prog`; it is renamed `native_NAME` so they
//! link side by side as `extern "C"` functions. `maps.c` calls its map helpers as extern
//! functions, defined in Rust by the library (`src/flows.rs`). Uses clang when it is installed (the same
//! compiler as the BPF build), else the default C compiler; always `-O2`.

use std::path::Path;
use std::process::{Command, Stdio};

/// Extra `-D NAME=VALUE` flags.
type Defines = &'static [(&'static str, &'static str)];

/// (symbol suffix, source file stem, extra defines)
const PROGRAMS: &[(&str, &str, Defines)] = &[
    ("nop", "nop", &[]),
    ("parse", "parse", &[]),
    ("checksum", "checksum", &[]),
    ("fnv1a", "fnv1a", &[]),
    ("xorshift", "xorshift", &[]),
    ("xorshift_short", "xorshift", &[("XORSHIFT_ROUNDS", "1000")]),
    ("state", "state", &[]),
    ("maps", "maps", &[]),
];

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bench");
    let have_clang = Command::new("clang")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    println!("cargo:rerun-if-changed={}", dir.join("bench.h").display());
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("bench_maps.h").display()
    );
    for (name, stem, defines) in PROGRAMS {
        let src = dir.join(format!("{stem}.c"));
        println!("cargo:rerun-if-changed={}", src.display());
        let mut build = cc::Build::new();
        if have_clang {
            build.compiler("clang");
        }
        build
            .file(&src)
            .include(&dir)
            .opt_level(2)
            .define("prog", format!("native_{name}").as_str());
        for (k, v) in *defines {
            build.define(k, *v);
        }
        build.compile(&format!("nanobpf_bench_{name}"));
    }
}
