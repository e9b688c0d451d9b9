/* The smallest program: `r0 = 0; exit`. Measures the fixed cost of one call. */
#include "bench.h"

BENCH_PROG u64 prog(const u8 *data, u64 len) {
    (void)data;
    (void)len;
    return 0;
}
