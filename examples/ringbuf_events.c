/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Send a small event for every frame to a ring buffer, then pass the frame. */
#include "net.h"

struct event {
	__u32 len;
	__be16 eth_proto;
	__u8 ip_proto;
	__u8 pad;
	__be32 saddr;
	__be32 daddr;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int ringbuf_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct event e = {};
	/* clang computes the length on the pointers' low halves (`w3 = w2; w3 -= w1`), which
	 * the verifier, like Linux for privileged programs, takes as a 32-bit number. */
	e.len = data_end - data;
	if ((void *)(eth + 1) <= data_end) {
		e.eth_proto = eth->h_proto;
		if (eth->h_proto == bpf_htons(ETH_P_IP) && (void *)(ip + 1) <= data_end) {
			e.ip_proto = ip->protocol;
			e.saddr = ip->saddr;
			e.daddr = ip->daddr;
		}
	}
	bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
