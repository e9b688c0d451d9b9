/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The smallest XDP program: let every frame through. */
#include "bpf_helpers.h"

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
