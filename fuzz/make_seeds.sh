#!/usr/bin/env bash
# Rebuilds the committed seed corpora in fuzz/corpus/<target>/seed-*: a few conformance
# programs (assembled with the nanobpf CLI) and the example programs, framed for each target,
# a few example objects, plus small deterministic byte strings for the generator-driven targets.
# Usage: fuzz/make_seeds.sh [CONFORMANCE_DIR]   (default: $NANOBPF_SHARED/conformance/bpf_conformance)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
conf="${1:-${NANOBPF_SHARED:-$root/../shared}/conformance/bpf_conformance}"
corpus="$here/corpus"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cargo build -q -p nanobpf-cli --manifest-path "$root/Cargo.toml"
nanobpf="$root/target/debug/nanobpf"
for t in decode_verify verify_then_run maps_ops asm_roundtrip elf_load differential slot_load; do
    mkdir -p "$corpus/$t"
    rm -f "$corpus/$t"/seed-*
done

# The `-- asm` section of a conformance file.
asm_of() { awk '/^--/{on = ($0 ~ /-- asm/); next} on' "$1" | sed 's/#.*//'; }

files=(add alu64-arith alu-bit jeq-imm jslt-reg ldxdw stxw lock_add lock_cmpxchg mem-len
       call_local_use_stack call_unwind_fail div64-by-zero-reg lsh64-reg mov64-sign-extend
       jmp32-jsle-reg le16 be64 neg64 ldxh-same-reg)
for name in "${files[@]}"; do
    f="$conf/$name.data"
    [ -f "$f" ] || continue
    asm_of "$f" > "$tmp/$name.asm"
    # asm_roundtrip: mode byte 0 then the text.
    { printf '\x00'; cat "$tmp/$name.asm"; } > "$corpus/asm_roundtrip/seed-$name"
    "$nanobpf" asm "$tmp/$name.asm" -o "$tmp/$name.bin" 2>/dev/null || continue
    # decode_verify: program type byte (0: 64-byte memory) then the slots.
    { printf '\x00'; cat "$tmp/$name.bin"; } > "$corpus/decode_verify/seed-$name"
done
for bin in "$root"/examples/bench/*.bin; do
    name="$(basename "$bin" .bin)"
    { printf '\x00'; cat "$bin"; } > "$corpus/decode_verify/seed-ex-$name"
    { printf '\x02'; cat "$bin"; } > "$corpus/asm_roundtrip/seed-ex-$name"
done

# Generator-driven targets: the first byte picks the generator or the map, the rest are
# choices; deterministic bytes give each a starting point.
bytes() { python3 -c "import random,sys; r=random.Random('$1'); sys.stdout.buffer.write(bytes([$2]+[r.randrange(256) for _ in range($3)]))"; }
for k in 0 1 2 3 4 5 6 7 8; do
    for s in 1 2; do
        bytes "$k$s" "$k" 400 > "$corpus/verify_then_run/seed-gen$k-$s"
    done
done
for k in 0 1 2 3 4; do
    bytes "9$k" "$k" 600 > "$corpus/maps_ops/seed-map$k"
done
# differential: the first byte's low two bits pick the generator, bit 2 blinding, bits 3 and 4
# together a budget.
for k in 0 1 2 3 4 5 6 7; do
    for s in 1 2; do
        bytes "d$k$s" "$k" 400 > "$corpus/differential/seed-gen$k-$s"
    done
done
for k in 0 1 2 3; do
    bytes "b$k" "$((24 + k))" 400 > "$corpus/differential/seed-budget$k"
done
# elf_load: a few small example objects, and two of them as older clang writes objects:
# functions as global symbols without a type, and no symbol naming a function (whole sections).
for name in xdp_pass xdp_legacy_map socket_count checksum_loop; do
    cp "$root/examples/build/$name.o" "$corpus/elf_load/seed-$name"
done
legacy() {
    python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
src, dst, mode = sys.argv[1], sys.argv[2], sys.argv[3]
b = bytearray(open(src, 'rb').read())
shoff, = struct.unpack_from('<Q', b, 0x28)
shentsize, shnum = struct.unpack_from('<HH', b, 0x3a)
for i in range(shnum):
    h = shoff + i * shentsize
    if struct.unpack_from('<I', b, h + 4)[0] == 2:  # SHT_SYMTAB
        off, size = struct.unpack_from('<QQ', b, h + 0x18)
        for s in range(off, off + size, 24):
            info = b[s + 4]
            if mode == 'notype' and info & 0xf == 2:
                b[s + 4] = info & 0xf0
            if mode == 'section' and (info & 0xf == 2 or (info & 0xf == 0 and info >> 4)):
                b[s + 4] = 0
open(dst, 'wb').write(b)
PY
}
for name in xdp_legacy_map socket_count; do
    legacy "$root/examples/build/$name.o" "$corpus/elf_load/seed-$name-notype" notype
    legacy "$root/examples/build/$name.o" "$corpus/elf_load/seed-$name-section" section
done
# slot_load: mode byte 0 then arena operations; mode byte 1 then an object for a program slot.
for k in 0 1 2 3; do
    bytes "s$k" 0 300 > "$corpus/slot_load/seed-arena$k"
done
for name in xdp_firewall xdp_proto_count tail_call; do
    { printf '\x01'; cat "$root/examples/build/$name.o"; } > "$corpus/slot_load/seed-$name"
done
du -sh --apparent-size "$corpus"; for t in "$corpus"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) files"; done
