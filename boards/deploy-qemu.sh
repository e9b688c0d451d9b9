#!/usr/bin/env bash
# The deploy scenario on the emulated MPS2-AN386: the `deploy` image boots with no program,
# and the operator's commands (`nanobpf device ...`) reach it over UDP through QEMU's user
# network, forwarded from loopback ports only: CTRL_PORT to the control channel (10.0.2.15:7700
# on the board), DATA_PORT to 10.0.2.15:7701, which is data traffic for the XDP runner.
#
# Uploads the firewall, sends traffic, reads the counters and maps through the channel, fills
# the blocklist, replaces the firewall by xdp_proto_count while traffic flows and checks that
# the pinned `verdicts` map kept counting every frame across the replacement; then runs
# `nanobpf device selftest`, the suite of every bad input (the one cli/tests/device.rs runs
# against the host agent), which checks that each is refused with a status that says why and
# leaves the running program, its counters and its maps as they were, and that an upload
# abandoned half-way does not stop the next (the firewall again); then the firewall replaces
# itself. Exits non-zero on the first mismatch. Run by run-qemu.sh; runs alone too.
#
# The key pair is qemu-mps2-an386/keys/ci-test-only.key: for tests only (its README).
set -euo pipefail
cd "$(dirname "$0")"

command -v qemu-system-arm >/dev/null || { echo "qemu-system-arm is not installed" >&2; exit 1; }
command -v perl >/dev/null || { echo "perl is not installed (the data traffic)" >&2; exit 1; }

CTRL_PORT=${DEPLOY_CTRL_PORT:-47700}
DATA_PORT=${DEPLOY_DATA_PORT:-47701}
# UART0, the same channel on a serial line (COBS): QEMU's -serial as a TCP server on loopback.
SERIAL_PORT=${DEPLOY_SERIAL_PORT:-47702}
KEY=qemu-mps2-an386/keys/ci-test-only.key
TO=udp:127.0.0.1:$CTRL_PORT

(cd qemu-mps2-an386 && cargo build --release --features deploy --bin deploy)
(cd .. && cargo build --release -p nanobpf-cli --bin nanobpf)
nanobpf=../target/release/nanobpf

work=$(mktemp -d)
qemu=
sender=
cleanup() {
    [[ -n $sender ]] && kill "$sender" 2>/dev/null || true
    [[ -n $qemu ]] && kill "$qemu" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
log=$work/board.log

fail() {
    echo "FAIL: $*" >&2
    echo "--- the board's console:" >&2
    cat "$log" >&2
    exit 1
}

# Runs `nanobpf device --to TO ARGS...`; its output in $out; fails the script if it fails.
device() {
    out=$("$nanobpf" device --to "$TO" "$@" 2>&1) || fail "nanobpf device $* failed: $out"
}

# Runs `nanobpf device --to TO ARGS...`, which must be refused with a message containing WANT.
refused() {
    local want=$1
    shift
    if out=$("$nanobpf" device --to "$TO" "$@" 2>&1); then
        fail "nanobpf device $* was accepted: $out"
    fi
    [[ $out == *"$want"* ]] || fail "nanobpf device $*: wanted '$want', got: $out"
    echo "refused as expected: $out"
}

# The runner's counter NAME (drop, pass, ...) from a status text.
counter() {
    sed -n "s/^verdicts: .* $2 \([0-9]*\) .*/\1/p" <<<"$1"
}

# The decimal value of KEY in map MAP (an array of u64).
entry() {
    device maps --map "$1" --show 256
    awk -v k="$2" '$1 == k && $3 == "=>" { print $4 }' <<<"$out"
}

# Sends COUNT datagrams to the data port, one every 200 µs.
traffic() {
    perl -MIO::Socket::INET -MTime::HiRes=usleep -e '
        my ($port, $count) = @ARGV;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "udp")
            or die "socket: $!";
        for my $i (1 .. $count) { $s->send("data frame $i") or die "send: $!"; usleep(200); }
    ' "$DATA_PORT" "$1"
}

# Waits until the board has counted FRAMES data frames (drop + pass), for up to 20 s.
wait_frames() {
    local want=$1 got=0
    for _ in $(seq 200); do
        device status
        got=$(($(counter "$out" drop) + $(counter "$out" pass)))
        ((got >= want)) && break
        sleep 0.1
    done
    ((got == want)) || fail "the board counted $got data frames, expected $want: $out"
}

# The running program must still be NAME at VERSION, with the counters of STATUS.
untouched() {
    local name=$1 version=$2 before=$3
    device status
    [[ $out == *"running: $name version $version "* ]] || fail "the running program changed: $out"
    [[ $(counter "$out" drop) == $(counter "$before" drop) &&
        $(counter "$out" pass) == $(counter "$before" pass) ]] ||
        fail "the counters changed: before: $before; now: $out"
}

cp ../examples/build/xdp_firewall.o ../examples/build/xdp_proto_count.o "$work/"
fw=$work/xdp_firewall.o
pc=$work/xdp_proto_count.o
"$nanobpf" sign "$fw" --key "$KEY" --version 1 >/dev/null
"$nanobpf" sign "$pc" --key "$KEY" --version 2 >/dev/null

echo "--- boot: the deploy image, control on 127.0.0.1:$CTRL_PORT, data on 127.0.0.1:$DATA_PORT"
# User networking without `restrict=on`: QEMU 7.2's libslirp drops a restricted guest's UDP
# answers to forwarded ports. The board sends nothing but ARP and answers to 10.0.2.2 (the
# host's side of the forwarded control port); no program here transmits.
timeout 600 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -icount shift=0 \
    -semihosting-config enable=on,target=native -monitor none \
    -serial "tcp:127.0.0.1:$SERIAL_PORT,server,nowait" \
    -nic "user,model=lan9118,ipv6=off,hostfwd=udp:127.0.0.1:$CTRL_PORT-10.0.2.15:7700,hostfwd=udp:127.0.0.1:$DATA_PORT-10.0.2.15:7701" \
    -kernel target/thumbv7em-none-eabihf/release/deploy >"$log" 2>&1 &
qemu=$!
for _ in $(seq 600); do
    grep -q "; ready" "$log" && break
    kill -0 "$qemu" 2>/dev/null || fail "the board stopped"
    sleep 0.1
done
grep -q "; ready" "$log" || fail "the board did not come up"
device status
[[ $out == *"running: nothing"* ]] || fail "a program runs at boot: $out"

echo "--- upload the firewall, send traffic, read the counters"
device load "$fw"
echo "$out"
[[ $out == *"loaded xdp_firewall version 1 in "* ]] || fail "$out"
traffic 100
wait_frames 100
device status
[[ $(counter "$out" pass) == 100 && $(counter "$out" drop) == 0 ]] || fail "$out"
device set blocklist:10.0.2.2/32=1 --key "$KEY"
traffic 50
wait_frames 150
device status
echo "$out"
[[ $(counter "$out" pass) == 100 && $(counter "$out" drop) == 50 ]] || fail "$out"
[[ $(entry verdicts 1) == 50 && $(entry verdicts 2) == 100 ]] || fail "verdicts: $out"

echo "--- replace the firewall by xdp_proto_count while traffic flows"
traffic 3000 &
sender=$!
for _ in $(seq 200); do
    device status
    (($(counter "$out" drop) >= 250)) && break
    sleep 0.05
done
device load "$pc"
echo "$out"
[[ $out == *"loaded xdp_proto_count version 2 in "* && $out == *"(1 carried over)"* ]] || fail "$out"
device status
after_load=$out
wait "$sender"
sender=
# Every datagram sent is counted (3,150 in all), except any QEMU reports its LAN9118 refused
# with a full receive FIFO (while a commit kept the board from draining it).
refused_by_fifo() { grep -c "Slirp: Failed to send packet" "$log" || true; }
counted=0
for _ in $(seq 100); do
    device status
    counted=$(($(counter "$out" drop) + $(counter "$out" pass)))
    ((counted + $(refused_by_fifo) >= 3150)) && break
    sleep 0.2
done
((counted + $(refused_by_fifo) == 3150)) ||
    fail "counted $counted data frames, QEMU refused $(refused_by_fifo), sent 3150: $out"
echo "3,150 data frames sent: $counted counted, $(refused_by_fifo) refused by the full receive FIFO"
device status
echo "$out"
[[ $out == *"running: xdp_proto_count version 2 "* ]] || fail "$out"
drop=$(counter "$out" drop)
pass=$(counter "$out" pass)
# The firewall dropped part of the traffic before the replacement (the blocklist), and the
# new program dropped nothing after it.
((drop > 50)) || fail "the firewall saw none of the traffic before the replacement: $out"
[[ $drop == $(counter "$after_load" drop) ]] || fail "frames dropped after the replacement: $out"
((pass > $(counter "$after_load" pass))) || fail "no traffic after the replacement: $out"
# The pinned map counted every frame of both programs: the firewall's counts were carried.
[[ $(entry verdicts 1) == "$drop" && $(entry verdicts 2) == "$pass" ]] ||
    fail "verdicts do not match the counters (drop $drop pass $pass): $out"
# xdp_proto_count saw at least every frame passed after its load returned, all UDP.
udp=$(entry protocols 17)
((udp >= pass - $(counter "$after_load" pass) && udp <= drop + pass - 150)) ||
    fail "protocols[17] = $udp, passed $pass: $out"
echo "carried: verdicts drop $drop pass $pass (the counters: drop $drop pass $pass); xdp_proto_count saw $udp UDP frames"

echo "--- every bad input is refused and changes nothing (nanobpf device selftest)"
# The suite cli/tests/device.rs runs against the host agent: unsigned, another key, an older
# version, an altered header, truncated, reordered, corrupted and tampered uploads, objects
# too big for the upload buffer and for the arena, a program the verifier rejects, bad map
# writes and reads, a replayed write, a flood of garbage; after each, the same program, the
# same counters and every map as before. Last, an upload abandoned half-way, then the
# firewall at version 3 goes through, its verdicts carried back.
suite_start=$(date +%s%N)
if ! "$nanobpf" device --to "$TO" selftest --key "$KEY" >"$work/selftest.txt" 2>&1; then
    cat "$work/selftest.txt" >&2
    fail "the self-test suite failed"
fi
cat "$work/selftest.txt"
grep -q "^selftest: 21 of 21 cases passed" "$work/selftest.txt" || fail "not every case ran"
echo "(the suite took $((($(date +%s%N) - suite_start) / 1000000)) ms against the board)"
device status
[[ $out == *"running: xdp_firewall version 3 "* ]] || fail "$out"
[[ $out == *"last commit: loaded"* ]] || fail "$out"
[[ $(entry verdicts 1) == "$drop" && $(entry verdicts 2) == "$pass" ]] || fail "verdicts: $out"

echo "--- a newer version still goes through: the firewall in place of itself"
# The same program at a newer version replaces itself (both sets of maps fit the arena).
"$nanobpf" sign "$fw" --key "$KEY" --version 12 >/dev/null
device load "$fw"
echo "$out"
[[ $out == *"loaded xdp_firewall version 12 in "* && $out == *"(1 carried over)"* ]] || fail "$out"
[[ $(entry verdicts 1) == "$drop" && $(entry verdicts 2) == "$pass" ]] || fail "verdicts: $out"

echo "--- the same channel on UART0: COBS frames over QEMU's serial port on 127.0.0.1:$SERIAL_PORT"
TO=serial-tcp:127.0.0.1:$SERIAL_PORT
device status
[[ $out == *"running: xdp_firewall version 12 "* ]] || fail "over the serial line: $out"
"$nanobpf" sign "$fw" --key "$KEY" --version 13 >/dev/null
device --timeout-ms 2000 load "$fw"
echo "$out"
[[ $out == *"loaded xdp_firewall version 13 in "* && $out == *"(1 carried over)"* ]] || fail "$out"
refused "version not newer than the running one (version 13, the device is at 13)" --timeout-ms 2000 load "$fw"
[[ $(entry verdicts 1) == "$drop" && $(entry verdicts 2) == "$pass" ]] || fail "verdicts: $out"
# The suite again, over the serial line (its flood there: noise bytes and frames not ours).
suite_start=$(date +%s%N)
if ! "$nanobpf" device --to "$TO" --timeout-ms 2000 selftest --key "$KEY" >"$work/selftest.txt" 2>&1; then
    cat "$work/selftest.txt" >&2
    fail "the self-test suite failed over the serial line"
fi
cat "$work/selftest.txt"
grep -q "^selftest: 21 of 21 cases passed" "$work/selftest.txt" || fail "not every case ran"
echo "(the suite took $((($(date +%s%N) - suite_start) / 1000000)) ms over the serial line)"
# And the UDP channel sees the commits made over the serial line.
TO=udp:127.0.0.1:$CTRL_PORT
device status
[[ $out == *"running: xdp_firewall version 14 "* ]] || fail "over UDP after the serial uploads: $out"
[[ $(entry verdicts 1) == "$drop" && $(entry verdicts 2) == "$pass" ]] || fail "verdicts: $out"

echo "--- the board's console (without QEMU's reports of frames the full receive FIFO refused during the flood):"
grep -v "Slirp: Failed to send packet" "$log" || true
echo "($(grep -c "Slirp: Failed to send packet" "$log" || true) frames refused by the full receive FIFO)"
echo "--- deploy scenario passed"
