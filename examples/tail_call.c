/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A dispatcher that tail-calls a handler per IP protocol from a program array. Handlers count
 * their frames; a protocol without a handler falls through to XDP_PASS.
 */
#include "net.h"

#define SLOT_UDP 0
#define SLOT_TCP 1

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 4);
} handlers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} handled SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&handled, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int dispatcher(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->protocol == IPPROTO_UDP)
		bpf_tail_call(ctx, &handlers, SLOT_UDP);
	else if (ip->protocol == IPPROTO_TCP)
		bpf_tail_call(ctx, &handlers, SLOT_TCP);
	return XDP_PASS;
}

SEC("xdp/udp")
int handle_udp(struct xdp_md *ctx)
{
	count(SLOT_UDP);
	return XDP_DROP;
}

SEC("xdp/tcp")
int handle_tcp(struct xdp_md *ctx)
{
	count(SLOT_TCP);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
