# An IPv4 source-prefix firewall for XDP, the hand-written twin of examples/xdp_firewall.c:
# drop frames whose IPv4 source matches a prefix of the LPM trie `blocklist` (map 0), count
# packets and bytes per source in the hash map `per_source` (map 1), and count verdicts in the
# array `verdicts` (map 2). Frames too short for their headers are dropped# frames that are
# not IPv4 pass. The context is Linux's `struct xdp_md`.
    ldxw %r2, [%r1]             # data
    ldxw %r3, [%r1+4]           # data_end
    mov %r7, %r3
    sub %r7, %r2                # r7 = frame length
    mov %r9, 1                  # XDP_DROP
    mov %r4, %r2
    add %r4, 14
    jgt %r4, %r3, count         # no room for an Ethernet header
    mov %r9, 2                  # XDP_PASS
    ldxh %r5, [%r2+12]
    jne %r5, 0x0008, count      # EtherType is not 0x0800 (big-endian, loaded little-endian)
    mov %r9, 1
    mov %r4, %r2
    add %r4, 34
    jgt %r4, %r3, count         # no room for an IPv4 header
    ldxw %r8, [%r2+26]          # r8 = source address, network order

    # per_source[src]: add one packet and the frame's bytes, or insert {1, len}.
    stxw [%r10-4], %r8
    lddw %r1, map[1]
    mov %r2, %r10
    add %r2, -4
    call 1                      # bpf_map_lookup_elem
    jeq %r0, 0, fresh
    mov %r1, 1
    lock add [%r0], %r1
    lock add [%r0+8], %r7
    ja lookup_block
fresh:
    stdw [%r10-24], 1
    stxdw [%r10-16], %r7
    lddw %r1, map[1]
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -24
    mov %r4, 1                  # BPF_NOEXIST
    call 2                      # bpf_map_update_elem

lookup_block:
    # blocklist[{32, src}]: the longest prefix that holds the source.
    stw [%r10-32], 32
    stxw [%r10-28], %r8
    lddw %r1, map[0]
    mov %r2, %r10
    add %r2, -32
    call 1
    mov %r9, 1
    jne %r0, 0, count
    mov %r9, 2

count:
    # verdicts[r9] += 1
    stxw [%r10-36], %r9
    lddw %r1, map[2]
    mov %r2, %r10
    add %r2, -36
    call 1
    jeq %r0, 0, out
    mov %r1, 1
    lock add [%r0], %r1
out:
    mov %r0, %r9
    exit
