/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Counts frames per ingress queue in a map declared the legacy way, in section "maps". */
#include "bpf_helpers.h"

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") queue_frames = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

SEC("xdp")
int xdp_legacy_map(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	__u64 *n = bpf_map_lookup_elem(&queue_frames, &queue);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
