/* A flow counter: per packet, one hash-map lookup of its flow, then an in-place update of the
 * flow's counters on a hit, or the insertion of a new flow on a miss; a flow whose packet
 * carries FIN is deleted after it is counted, as a connection tracker ages out closed flows.
 *
 * The buffer holds a batch of up to 64 flow records of 16 bytes, as a parser stage would hand
 * them on (host byte order, 4-byte aligned):
 *   u32 saddr, u32 daddr, u16 sport, u16 dport   the flow key (the map's 12-byte key)
 *   u16 len, u8 flags (bit 0: FIN), u8 proto
 * The map is a BTF-defined BPF_MAP_TYPE_HASH of 1024 flows with 16-byte values (packets,
 * bytes). Returns the hits in bits 0-15, the misses in bits 16-31, and in bits 32-63 the sum
 * (mod 2^32) of the packet counts found on hits, before their increment. */
#include "bench_maps.h"

#define FLOW_BATCH 64
#define FLOW_FIN 1

struct flow_key {
    u32 saddr;
    u32 daddr;
    u16 sport;
    u16 dport;
};

struct flow_rec {
    struct flow_key key;
    u16 len;
    u8 flags;
    u8 proto;
};

struct flow_stats {
    u64 packets;
    u64 bytes;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, struct flow_key);
    __type(value, struct flow_stats);
    __uint(max_entries, 1024);
} bench_flows BENCH_MAP;

BENCH_PROG u64 prog(const u8 *data, u64 len) {
    /* One accumulator: the hits in bits 0-15, the sum of the packet counts found on hits from
     * bit 16. Four values stay live across the helper calls (this, the record count, the
     * record's offset and address), which fit the four callee-saved registers: a counter
     * spilled to the stack would keep nanobpf's verifier from pruning the paths through the
     * loop (it widens the numbers in registers that cannot matter, not those on the stack). */
    u64 acc = 0, n = 0;
    for (; n < FLOW_BATCH; n++) {
        u64 off = n * sizeof(struct flow_rec);
        if (off + sizeof(struct flow_rec) > len)
            break;
        const struct flow_rec *r = (const struct flow_rec *)(data + off);
        struct flow_key key = r->key;
        struct flow_stats *s = bpf_map_lookup_elem(&bench_flows, &key);
        if (s) {
            acc += (s->packets << 16) + 1;
            s->packets += 1;
            s->bytes += r->len;
            if (r->flags & FLOW_FIN)
                bpf_map_delete_elem(&bench_flows, &key);
        } else {
            struct flow_stats fresh = {1, r->len};
            bpf_map_update_elem(&bench_flows, &key, &fresh, BPF_NOEXIST);
        }
    }
    u64 hits = acc & 0xffff;
    /* Misses are the records not hit. */
    return hits | (n - hits) << 16 | (acc >> 16) << 32;
}
