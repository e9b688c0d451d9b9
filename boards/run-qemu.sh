#!/usr/bin/env bash
# Builds and runs the emulated boards under QEMU, each image with `cargo run --release` from its
# own folder (the runner is in its .cargo/config.toml). Fails when an image exits non-zero (the
# firmware exits 1 when its counts differ from the expected ones, or on a panic) or does not
# finish within 120 seconds. Also runs the host tests that derive the expected counts. The
# conformance image runs every bpf_conformance program on the interpreter and the Thumb-2 JIT
# (and under small instruction budgets on both) and exits non-zero unless both pass all of them.
# The deploy image's scenario is deploy-qemu.sh (see there).
set -euo pipefail
cd "$(dirname "$0")"

command -v qemu-system-arm >/dev/null || { echo "qemu-system-arm is not installed" >&2; exit 1; }

echo "--- host: the expected counts follow from the capture"
(cd demo && cargo test --release --features loader)

for image in firewall firewall-jit interp-only loader conformance; do
    echo "--- qemu-mps2-an386: $image"
    # The conformance image also compares the engines under instruction budgets.
    features=()
    [[ $image == conformance ]] && features=(--features metering)
    [[ $image == loader ]] && features=(--features loader)
    (cd qemu-mps2-an386 && cargo build --release "${features[@]}" --bin "$image" &&
        timeout 120 cargo run --release "${features[@]}" --bin "$image")
done
# The device path: frames from the host reach the LAN9118 through QEMU's socket netdev, on
# loopback only. QEMU listens on RX_PORT (localaddr) and sends to TX_PORT (udp); the sender
# binds TX_PORT and sends to RX_PORT once the firmware says it is ready.
echo "--- qemu-mps2-an386: lan9118 (frames from the host over UDP on loopback)"
RX_PORT=${LAN_RX_PORT:-47012}
TX_PORT=${LAN_TX_PORT:-47011}
(cd qemu-mps2-an386 && cargo build --release --bin lan9118)
(cd demo && cargo build --release --example send_capture)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 120 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -icount shift=0 \
    -semihosting-config enable=on,target=native \
    -nic "socket,udp=127.0.0.1:$TX_PORT,localaddr=127.0.0.1:$RX_PORT" \
    -kernel target/thumbv7em-none-eabihf/release/lan9118 >"$log" 2>&1 &
qemu=$!
for _ in $(seq 600); do
    grep -q "ready for" "$log" && break
    kill -0 "$qemu" 2>/dev/null || break
    sleep 0.1
done
if grep -q "ready for" "$log"; then
    target/release/examples/send_capture "127.0.0.1:$RX_PORT" "127.0.0.1:$TX_PORT"
fi
status=0
wait "$qemu" || status=$?
cat "$log"
[[ $status -eq 0 ]] || { echo "lan9118 image failed (status $status)" >&2; exit 1; }
# The deploy image: no program at boot, the control channel over UDP through QEMU's user
# network (loopback ports only) and on UART0, uploads while traffic flows, bad inputs refused.
echo "--- qemu-mps2-an386: deploy (the control channel over UDP and a serial port, on loopback)"
timeout 900 ./deploy-qemu.sh
echo "--- emulated boards passed"
