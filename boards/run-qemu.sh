#!/usr/bin/env bash
# Builds and runs the emulated boards under QEMU, each image with `cargo run --release` from its
# own folder (the runner is in its .cargo/config.toml). Fails when an image exits non-zero (the
# firmware exits 1 when its counts differ from the expected ones, or on a panic) or does not
# finish within 120 seconds. Also runs the host tests that derive the expected counts.
set -euo pipefail
cd "$(dirname "$0")"

command -v qemu-system-arm >/dev/null || { echo "qemu-system-arm is not installed" >&2; exit 1; }

echo "--- host: the expected counts follow from the capture"
(cd demo && cargo test --release)

for image in firewall interp-only; do
    echo "--- qemu-mps2-an386: $image"
    (cd qemu-mps2-an386 && cargo build --release --bin "$image" &&
        timeout 120 cargo run --release --bin "$image")
done
echo "--- emulated boards passed"
