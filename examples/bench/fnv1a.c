/* 64-bit FNV-1a hash over the first 1500 bytes of the buffer (or all of it if shorter). */
#include "bench.h"

#define FNV_MAX 1500

BENCH_PROG u64 prog(const u8 *data, u64 len) {
    u64 h = 0xcbf29ce484222325ULL;
    for (u32 i = 0; i < FNV_MAX; i++) {
        if (i >= len)
            break;
        h ^= data[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
