#!/usr/bin/env bash
# Measures the figures the README quotes and writes them into its generated block (between
# the `figures:begin` and `figures:end` markers), so that no figure in the README is typed by
# hand. Run it from anywhere on a quiet machine; it takes a few minutes:
#
#   conformance   `nanobpf conformance` on every host engine (../shared beside the repository)
#   corpus        `nanobpf corpus ../shared/corpus`: per family, programs verified and refused
#   cortex-m4     the MPS2-AN386 images under QEMU (-icount, so exact): emulated instructions
#                 per frame of the firewall on the interpreter, the Thumb-2 JIT and the checked
#                 interpreter; and each image's flash and RAM (boards/footprint.sh has the
#                 split by part)
#   speed         `bench-table`: every engine beside native code, in one process and one run
#
# Usage: scripts/figures.sh [--print]   (--print writes the block to stdout, not the README)
set -euo pipefail
cd "$(dirname "$0")/.."

readme=README.md
begin='<!-- figures:begin (written by scripts/figures.sh; edit the script, not this block) -->'
end='<!-- figures:end -->'
grep -qxF "$begin" "$readme" && grep -qxF "$end" "$readme" ||
    { echo "$readme has no generated block (markers missing)" >&2; exit 1; }

block=$(mktemp)
trap 'rm -f "$block"' EXIT

cargo build --release --quiet -p nanobpf-cli -p nanobpf-bench
nanobpf=target/release/nanobpf

{
    echo "Measured on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD)."
    echo
    echo "**Conformance** (bpf_conformance, \`nanobpf conformance\`):"
    echo
    echo "| engine | result |"
    echo "|---|---|"
    for engine in interp checked jit; do
        result=$("$nanobpf" conformance ../shared/conformance/bpf_conformance --engine "$engine" | tail -n 1)
        echo "| $engine | $result |"
    done
    echo
    echo "**Real objects** (\`nanobpf corpus ../shared/corpus\`, default workspace; docs/corpus.md):"
    echo
    # The per-family table and its summary line, up to the first disagreement (awk reads on to
    # the end, so the writer never meets a closed pipe).
    "$nanobpf" corpus ../shared/corpus 2>/dev/null | awk '
        /^disagree/ { done = 1 }
        done { next }
        NR == 1 { n = split($0, h, /  +/); printf "|"; for (i = 1; i <= n; i++) printf " %s |", h[i]; printf "\n|"; for (i = 1; i <= n; i++) printf "---|"; printf "\n"; next }
        /^[a-z]+ +[0-9]/ { n = split($0, f, /  +/); printf "|"; for (i = 1; i <= n; i++) printf " %s |", f[i]; printf "\n"; next }
        NF { print ""; print $0 }'
    echo
    echo "**Cortex-M4** (MPS2-AN386 under QEMU with \`-icount\`: emulated instructions, exact):"
    echo
    echo "| firewall, per frame (300 frames, helpers and runner included) | instructions |"
    echo "|---|---:|"
    for image in firewall firewall-jit interp-only; do
        line=$(cd boards/qemu-mps2-an386 && cargo build --release --quiet --bin "$image" &&
            timeout 120 cargo run --release --quiet --bin "$image" 2>&1 | grep "instructions per frame")
        per_frame=$(sed -E 's/.* ([0-9]+) instructions per frame.*/\1/' <<<"$line")
        case $image in
            firewall) what="interpreter (verified on the device)" ;;
            firewall-jit) what="Thumb-2 JIT" ;;
            interp-only) what="checked interpreter, no verifier linked" ;;
        esac
        echo "| $what | $per_frame |"
    done
    echo
    echo "| image (opt-level s, LTO) | flash: code + constants + .data image | RAM: .data + .bss |"
    echo "|---|---:|---:|"
    boards/footprint.sh | awk '
        /^### / { name = substr($0, 5) }
        /^\| \*\*total\*\*/ { gsub(/\*/, ""); split($0, f, "|"); printf "| %s | %d | %d |\n", name, f[3] + f[4], f[5] }'
    echo
    echo "**Speed** (\`cargo run --release -p nanobpf-bench --bin bench-table\`; ns per run, one process, one run):"
    echo
    target/release/bench-table 2>/dev/null | awk '
        /^Machine:/ { print "Machine: " substr($0, 10); print ""; next }
        done { next }
        /^\| program/ { on = 1 }
        on && !/^\|/ { done = 1; next }
        on { print }'
} >"$block"

if [[ "${1:-}" == "--print" ]]; then
    cat "$block"
    exit 0
fi

out=$(mktemp)
awk -v begin="$begin" -v end="$end" -v block="$block" '
    $0 == begin { print; while ((getline line < block) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' "$readme" >"$out"
mv "$out" "$readme"
echo "wrote the figures into $readme"
