//! `nanobpf`: the host tool.

fn main() {
    let groups = nanobpf_core::supported_groups();
    println!("nanobpf {} ({groups:?})", env!("CARGO_PKG_VERSION"));
}
