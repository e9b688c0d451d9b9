#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after the other, and prints
# executions and findings per target. Exits 1 when any target found something (a crash, a
# panic, a timeout of one input over 10 s, or running out of memory); the inputs are in
# fuzz/artifacts/<target>/.
#
# Usage: fuzz/campaign.sh SECONDS [TARGET...]
# Needs: a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#
# New inputs go to fuzz/work/corpus/<target> (not committed), seeded from the committed
# fuzz/corpus/<target>; a later campaign resumes from both.
set -uo pipefail
secs="${1:?usage: $0 SECONDS [TARGET...]}"
shift
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
if ! cargo +nightly fuzz build >build.log 2>&1; then
    tail -30 build.log
    echo "fuzz build failed"
    exit 2
fi
failed=0
printf '%-18s %12s %10s %8s  %s\n' target executions exec/s findings status
for t in "${targets[@]}"; do
    mkdir -p "work/corpus/$t" "corpus/$t" "artifacts/$t" work/logs
    before=$(ls "artifacts/$t" | wc -l)
    log="work/logs/$t.log"
    cargo +nightly fuzz run "$t" "work/corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    if [ -z "$execs" ]; then
        # Stopped early (a finding): the last status line has the count.
        execs=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | tail -1)
    fi
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    after=$(ls "artifacts/$t" | wc -l)
    found=$((after - before))
    status=ok
    if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
        status="FINDING (exit $rc), see $here/$log"
        failed=1
        [ "$found" -eq 0 ] && found=1
    fi
    printf '%-18s %12s %10s %8s  %s\n' "$t" "${execs:-0}" "${rate:-?}" "$found" "$status"
    if [ "$rc" -ne 0 ]; then
        grep -m1 -A12 -E 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" | sed 's/^/    /'
        ls -t "artifacts/$t" | head -3 | sed "s|^|    artifact: $here/artifacts/$t/|"
    fi
done
exit "$failed"
