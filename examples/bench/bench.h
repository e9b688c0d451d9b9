/* Shared by the benchmark programs: fixed-width types and the entry-point attribute.
 *
 * Each program is one function `prog(data, len)` that reads the buffer at `data` of `len` bytes
 * and returns a 64-bit value. For BPF (`clang -target bpf`) it lives in section "bench" with
 * r1 = data and r2 = len; natively it is an ordinary function, renamed with -Dprog=native_NAME.
 * No maps, no helpers, no global data (nothing that needs a relocation). */
#ifndef NANOBPF_BENCH_H
#define NANOBPF_BENCH_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#ifdef __bpf__
#define BENCH_PROG __attribute__((section("bench"), used))
#else
#define BENCH_PROG
#endif

#define INLINE static inline __attribute__((always_inline))

/* Big-endian loads, byte by byte (alignment-free on every target). */
INLINE u32 be16_at(const u8 *p) { return ((u32)p[0] << 8) | p[1]; }
INLINE u32 be32_at(const u8 *p) {
    return ((u32)p[0] << 24) | ((u32)p[1] << 16) | ((u32)p[2] << 8) | p[3];
}

#endif
