#!/usr/bin/env bash
# Builds the benchmark programs for BPF and extracts their raw instruction bytes.
#
# For each NAME.c here: clang -O2 -target bpf -mcpu=$MCPU compiles it to an object (in a temporary
# folder, never committed), the script refuses any relocation (the programs must be
# self-contained), and llvm-objcopy extracts section "bench" into NAME.bin, which is committed
# so the benchmarks run without clang. Programs with maps (listed in `objects` below) are built
# with -g instead (BTF describes their maps) into NAME.o, committed whole: their map relocations
# are resolved by an ELF loader. Usage: build.sh [NAME...] (default: every .c file).
set -euo pipefail
cd "$(dirname "$0")"

CLANG=${CLANG:-clang}
OBJCOPY=${OBJCOPY:-llvm-objcopy}
READELF=${READELF:-llvm-readelf}
# rbpf, the peer interpreter, runs every v3 instruction these programs use; see
# bench/README.md if a program ever needs a lower -mcpu for it.
MCPU=${MCPU:-v3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Variants: OUTPUT=SOURCE plus extra flags. xorshift_short is the same loop with 1000 rounds,
# for tests that must stay fast in debug builds.
variants=(
    "xorshift_short=xorshift -DXORSHIFT_ROUNDS=1000"
)

# Programs with maps: kept as ELF objects with BTF and relocations.
objects=(maps)

is_object() {
    local o
    for o in "${objects[@]}"; do [ "$o" = "$1" ] && return 0; done
    return 1
}

if [ $# -eq 0 ]; then
    set -- *.c
    for v in "${variants[@]}"; do set -- "$@" "${v%%=*}"; done
fi

for src in "$@"; do
    name=$(basename "$src" .c)
    source=$name
    flags=()
    for v in "${variants[@]}"; do
        if [ "${v%%=*}" = "$name" ]; then
            read -r source rest <<<"${v#*=}"
            read -r -a flags <<<"$rest"
        fi
    done
    if is_object "$name"; then
        "$CLANG" -O2 -g -target bpf -mcpu="$MCPU" -Wall -Werror -fdebug-prefix-map="$PWD"=. \
            ${flags[@]+"${flags[@]}"} -c "$source.c" -o "$name.o"
        echo "$name.o: ELF object, $("$READELF" -r "$name.o" | grep -c "R_BPF_64_64") map references"
        continue
    fi
    obj="$tmp/$name.o"
    "$CLANG" -O2 -g0 -target bpf -mcpu="$MCPU" -Wall -Werror ${flags[@]+"${flags[@]}"} \
        -c "$source.c" -o "$obj"
    if "$READELF" -r "$obj" | grep -q "Relocation section"; then
        echo "error: $name.o has relocations; benchmark programs must be self-contained:" >&2
        "$READELF" -r "$obj" >&2
        exit 1
    fi
    "$OBJCOPY" -O binary --only-section=bench "$obj" "$name.bin"
    size=$(stat -c %s "$name.bin")
    if [ "$size" -eq 0 ] || [ $((size % 8)) -ne 0 ]; then
        echo "error: $name.bin has $size bytes, not a whole number of instructions" >&2
        exit 1
    fi
    echo "$name.bin: $((size / 8)) instructions"
done
