#!/usr/bin/env bash
# Flash and RAM of each board image, split by what the bytes are for. Builds the images
# (release), then reads their symbol tables with llvm-nm and their sections with llvm-size.
#
#   group        what it holds
#   interpreter  nanobpf_core::{interp, runtime, verified, isa, env}: decoding and running
#   jit          nanobpf_jit_thumb2: the Thumb-2 compiler, its check and the routines its code
#                calls; the code buffer and the compiler's workspace statics (RAM)
#   helpers      nanobpf_core::helpers: the helper functions and their table
#   verifier     nanobpf_core::verifier, and the workspace static (RAM)
#   loader       nanobpf_core::elf: the ELF loader (parsing the object, binding maps, relocating)
#   maps         nanobpf_core::maps, and the map statics
#   driver       the board's Ethernet driver (the LAN9118's, in the lan9118 image), UART0's
#                (deploy image), and the static holding their buffers (RAM)
#   runner       nanobpf_hal (ring, runner, engine) and the demo's replay loop, into which the
#                optimiser inlines the runner's poll; the ring static (RAM)
#   program      the embedded BPF program (OBJECT, the clang-built ELF; PROGRAM_VERIFIED;
#                RODATA_INIT)
#   capture      the embedded pcap (CAPTURE)
#   control      nanobpf_control: the control channel's state machine and wire format; the
#                upload buffer (RAM); deploy image only
#   signature    ed25519_dalek, curve25519_dalek, sha2: the Ed25519 signature check; deploy
#                image only
#   network      smoltcp, and the board's split of the driver between smoltcp and the runner
#                (net.rs); the socket statics (RAM); deploy image only
#   other        startup, formatting, semihosting, compiler builtins, the board's own code,
#                and bytes no symbol names
#
# Columns: code and constants in flash (.vector_table, .text, .rodata); the initial image of
# .data, also in flash (statics whose const initialiser is not all zeros are copied from it at
# boot); RAM (.data + .bss; the stack is not counted: it is what is left of RAM). Code the optimiser inlined into a
# function of another group counts in that group (with LTO, the replay loop carries the
# interpreter's entry, for example): the split is close, not exact.
#
# Usage: boards/footprint.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")"

NM=${LLVM_NM:-llvm-nm}
SIZE=${LLVM_SIZE:-llvm-size}

if [[ "${1:-}" != "--no-build" ]]; then
    (cd qemu-mps2-an386 && cargo build --release --quiet --bins &&
        cargo build --release --quiet --features loader --bin loader &&
        cargo build --release --quiet --features deploy --bin deploy)
    (cd stm32f407 && cargo build --release --quiet)
    (cd riscv32imac-virt && cargo build --release --quiet)
fi

images=(
    "qemu-mps2-an386 firewall|target/thumbv7em-none-eabihf/release/firewall"
    "qemu-mps2-an386 firewall-jit|target/thumbv7em-none-eabihf/release/firewall-jit"
    "qemu-mps2-an386 interp-only|target/thumbv7em-none-eabihf/release/interp-only"
    "qemu-mps2-an386 loader|target/thumbv7em-none-eabihf/release/loader"
    "qemu-mps2-an386 lan9118|target/thumbv7em-none-eabihf/release/lan9118"
    "qemu-mps2-an386 deploy|target/thumbv7em-none-eabihf/release/deploy"
    "stm32f407|target/thumbv7em-none-eabihf/release/stm32f407"
    "riscv32imac-virt|target/riscv32imac-unknown-none-elf/release/riscv32imac-virt"
)

report() {
    local name=$1 elf=$2
    # Section totals: flash and RAM as the linker placed them.
    local code data ram
    read -r code data ram < <("$SIZE" -A "$elf" | awk '
        $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" || $1 == ".init" || $1 == ".trap" { c += $2 }
        $1 == ".data" || $1 == ".sdata" { d += $2; r += $2 }
        $1 == ".bss" || $1 == ".sbss" { r += $2 }
        END { print c + 0, d + 0, r + 0 }')
    printf '\n### %s\n\n| part | flash: code + constants | flash: .data image | RAM: .data + .bss |\n|---|---:|---:|---:|\n' "$name"
    "$NM" -C --size-sort -S --radix=d "$elf" |
        sed -e 's/_\$LT\$/</g; s/\$LT\$/</g; s/\$GT\$/>/g; s/\$u20\$/ /g; s/\$C\$/,/g; s/\.\./::/g' |
        awk -v code="$code" -v data="$data" -v ram="$ram" '
        NF >= 4 {
            size = $2 + 0; type = $3; name = $0
            sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
            cd = 0; dd = 0; rm = 0
            if (type ~ /^[tTrR]$/) cd = size
            else if (type ~ /^[dD]$/) { dd = size; rm = size }
            else if (type ~ /^[bB]$/) rm = size
            else next
            g = "other"
            if (match(name, /nanobpf_(core|hal|board_demo|jit_thumb2)::[A-Za-z_]+/)) {
                m = substr(name, RSTART, RLENGTH)
                if (m ~ /^nanobpf_core::(interp|runtime|verified|isa|env)$/) g = "interpreter"
                else if (m ~ /^nanobpf_jit_thumb2::/) g = "jit"
                else if (m == "nanobpf_core::helpers") g = "helpers"
                else if (m == "nanobpf_core::verifier") g = "verifier"
                else if (m == "nanobpf_core::elf") g = "loader"
                else if (m == "nanobpf_core::maps") g = "maps"
                else if (m ~ /^nanobpf_hal::/ || m == "nanobpf_board_demo::run") g = "runner"
                else if (m ~ /^nanobpf_board_demo::(PROGRAM|OBJECT|RODATA)/) g = "program"
                else if (m ~ /^nanobpf_board_demo::CAPTURE/) g = "capture"
            }
            if (name ~ /nanobpf_board_qemu_mps2_an386::(lan9118|uart)::/) g = "driver"
            # The deploy image: the channel, the signature check, the network stack.
            if (match(name, /(nanobpf_control|ed25519_dalek|curve25519_dalek|ed25519|sha2|smoltcp|nanobpf_board_qemu_mps2_an386::net)::/)) {
                m = substr(name, RSTART, RLENGTH)
                if (m == "nanobpf_control::") g = "control"
                else if (m ~ /^(smoltcp|nanobpf_board_qemu_mps2_an386::net)::$/) g = "network"
                else g = "signature"
            }
            if (name ~ /::WORKSPACE(::|$)/) g = "verifier"
            else if (name ~ /::NIC(::|$)/) g = "driver"
            else if (name ~ /::MAPS(::|$)/) g = "maps"
            else if (name ~ /::RING(::|$)/) g = "runner"
            else if (name ~ /::(CODE|JIT_WORKSPACE)(::|$)/) g = "jit"
            else if (name ~ /::UPLOAD_BUF(::|$)/) g = "control"
            else if (name ~ /::(SOCKETS|UDP_RX|UDP_TX|UDP_META)(::|$)/) g = "network"
            C[g] += cd; D[g] += dd; R[g] += rm; tc += cd; td += dd; tr += rm
        }
        END {
            C["other"] += code - tc; D["other"] += data - td; R["other"] += ram - tr
            n = split("interpreter jit helpers verifier loader maps driver runner program capture control signature network other", order, " ")
            for (i = 1; i <= n; i++) {
                g = order[i]
                # The deploy image groups are shown only where they have bytes.
                if (g ~ /^(control|signature|network)$/ && C[g] + D[g] + R[g] == 0) continue
                printf "| %s | %d | %d | %d |\n", g, C[g], D[g], R[g]
            }
            printf "| **total** | **%d** | **%d** | **%d** |\n", code, data, ram
        }'
}

for entry in "${images[@]}"; do
    name=${entry%%|*}
    elf=${entry#*|}
    [[ -f $elf ]] || { echo "missing $elf (build it first)" >&2; exit 1; }
    report "$name" "$elf"
done
