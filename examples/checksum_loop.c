/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Loop-heavy: the internet checksum (RFC 1071) of the first `checksum_len` bytes of each frame
 * (at most MAX_BYTES), in a loop with a constant bound. The result goes to a global, the frame
 * passes.
 */
#include "bpf_helpers.h"

#define MAX_BYTES 256

/* How many bytes to sum, in .data: the loader may change it before the run. */
__u32 checksum_len = 64;
/* The last checksum computed, in .bss. */
__u32 last_checksum;

static __noinline __u32 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

SEC("xdp")
int checksum_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = checksum_len;
	__u32 sum = 0;
	__u32 i;

#pragma clang loop unroll(disable)
	for (i = 0; i < MAX_BYTES; i += 2) {
		__u16 *word = data + i;

		if (i >= len || (void *)(word + 1) > data_end)
			break;
		sum += *word;
	}
	last_checksum = fold(sum);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
