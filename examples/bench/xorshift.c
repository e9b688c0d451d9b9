/* A pure ALU loop: one million rounds of xorshift64 (13, 7, 17), seeded from the buffer length
 * so the compiler cannot fold it. Measures raw dispatch speed. */
#include "bench.h"

#ifndef XORSHIFT_ROUNDS
#define XORSHIFT_ROUNDS 1000000
#endif

BENCH_PROG u64 prog(const u8 *data, u64 len) {
    (void)data;
    u64 x = 0x9e3779b97f4a7c15ULL ^ len;
    for (u32 i = 0; i < XORSHIFT_ROUNDS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}
