/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Counts IPv4 frames per IP protocol and every verdict; passes everything but runts. Its
 * `verdicts` map is the firewall's (same name, same definition, pinned), so a device that
 * replaces the firewall with this program keeps counting verdicts where the firewall stopped.
 */
#include "net.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} protocols SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 5);
	__uint(pinning, LIBBPF_PIN_BY_NAME); /* kept across program replacements */
} verdicts SEC(".maps");

static __noinline int count_verdict(__u32 verdict)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &verdict);

	if (n)
		__sync_fetch_and_add(n, 1);
	return verdict;
}

SEC("xdp")
int xdp_proto_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 proto;
	__u64 *n;

	if ((void *)(eth + 1) > data_end)
		return count_verdict(XDP_DROP);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return count_verdict(XDP_PASS);
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return count_verdict(XDP_DROP);
	proto = ip->protocol;
	n = bpf_map_lookup_elem(&protocols, &proto);
	if (n)
		__sync_fetch_and_add(n, 1);
	return count_verdict(XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
