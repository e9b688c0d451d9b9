#!/usr/bin/env bash
# Builds every example program into examples/build/*.o with clang's BPF target.
# Usage: examples/build.sh [OUT_DIR]   (CLANG=clang-15 examples/build.sh to pick a compiler)
set -euo pipefail
cd "$(dirname "$0")"
CLANG="${CLANG:-clang}"
OUT="${1:-build}"
mkdir -p "$OUT"
for src in *.c; do
	obj="$OUT/${src%.c}.o"
	"$CLANG" -O2 -g -target bpf -mcpu=v3 -Wall -Werror -Wno-unused-function \
		-fdebug-prefix-map="$PWD"=. -c "$src" -o "$obj"
	echo "built $obj"
done
