/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * An IPv4 source-prefix firewall: drop frames whose source address matches a prefix in an LPM
 * trie, count packets and bytes per source in a hash map, and count verdicts in an array.
 * The configuration is a read-only global, set by the loader before the program runs.
 */
#include "net.h"

struct lpm_v4_key {
	__u32 prefixlen;
	__be32 addr;
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct fw_config {
	__u32 count_sources; /* nonzero: keep per-source counters */
	__u32 non_ip_verdict; /* verdict for frames that are not IPv4 */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} blocklist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, struct counters);
	__uint(max_entries, 256);
} per_source SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 5);
	__uint(pinning, LIBBPF_PIN_BY_NAME); /* kept across program replacements */
} verdicts SEC(".maps");

const volatile struct fw_config config = {
	.count_sources = 1,
	.non_ip_verdict = XDP_PASS,
};

/* Frames seen, and IPv4 frames among them, in .bss. */
__u64 frames_seen = 0;
__u64 ipv4_frames = 0;

static __noinline int count_verdict(__u32 verdict)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &verdict);

	if (n)
		__sync_fetch_and_add(n, 1);
	return verdict;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct lpm_v4_key key;
	struct counters *c;
	__u64 len = data_end - data;

	__sync_fetch_and_add(&frames_seen, 1);
	if ((void *)(eth + 1) > data_end)
		return count_verdict(XDP_DROP);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return count_verdict(config.non_ip_verdict);
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return count_verdict(XDP_DROP);
	__sync_fetch_and_add(&ipv4_frames, 1);

	if (config.count_sources) {
		__be32 src = ip->saddr;

		c = bpf_map_lookup_elem(&per_source, &src);
		if (c) {
			__sync_fetch_and_add(&c->packets, 1);
			__sync_fetch_and_add(&c->bytes, len);
		} else {
			struct counters fresh = { .packets = 1, .bytes = len };

			bpf_map_update_elem(&per_source, &src, &fresh, BPF_NOEXIST);
		}
	}

	key.prefixlen = 32;
	key.addr = ip->saddr;
	if (bpf_map_lookup_elem(&blocklist, &key))
		return count_verdict(XDP_DROP);
	return count_verdict(XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
