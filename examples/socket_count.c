/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A socket filter that counts IPv4 packets and bytes per IP protocol, with the legacy packet
 * loads socket filters have always used, and keeps every packet.
 */
#include "net.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} proto_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} proto_bytes SEC(".maps");

SEC("socket")
int socket_count(struct __sk_buff *skb)
{
	__u32 proto;
	__u64 *n;

	if (load_half(skb, 12) != ETH_P_IP)
		return skb->len;
	proto = load_byte(skb, ETH_HLEN + __builtin_offsetof(struct iphdr, protocol));
	n = bpf_map_lookup_elem(&proto_packets, &proto);
	if (n)
		__sync_fetch_and_add(n, 1);
	n = bpf_map_lookup_elem(&proto_bytes, &proto);
	if (n)
		__sync_fetch_and_add(n, skb->len);
	return skb->len;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
