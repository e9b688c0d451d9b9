/* Parse Ethernet / IPv4 / TCP and classify the packet, as a firewall or load balancer would.
 *
 * Returns a verdict class in the low byte and a 16-bit flow hash above it:
 *   0 = too short or not IPv4, 1 = other IP protocol, 2 = fragment, 3 = UDP, 4 = TCP SYN,
 *   5 = TCP to a well-known service port (< 1024), 6 = other TCP.
 * Every access is checked against `len`, with header lengths masked, so offsets are bounded. */
#include "bench.h"

BENCH_PROG u64 prog(const u8 *data, u64 len) {
    if (len < 14 + 20)
        return 0;
    if (be16_at(data + 12) != 0x0800) /* ethertype IPv4 */
        return 0;
    const u8 *ip = data + 14;
    u32 ver_ihl = ip[0];
    if ((ver_ihl >> 4) != 4)
        return 0;
    u32 ihl = (ver_ihl & 0x0f) * 4;
    if (ihl < 20)
        return 0;
    u32 total = be16_at(ip + 2);
    if (total < ihl || 14 + (u64)total > len)
        return 0;
    u32 saddr = be32_at(ip + 12);
    u32 daddr = be32_at(ip + 16);
    u32 hash = saddr ^ daddr;
    u32 frag = be16_at(ip + 6);
    if (frag & 0x3fff)
        return 2 | ((u64)(hash & 0xffff) << 8);
    u32 proto = ip[9];
    if (proto == 17) {
        if (14 + (u64)ihl + 8 > len)
            return 0;
        const u8 *udp = ip + ihl;
        hash ^= be32_at(udp);
        return 3 | ((u64)((hash ^ (hash >> 16)) & 0xffff) << 8);
    }
    if (proto != 6)
        return 1 | ((u64)(hash & 0xffff) << 8);
    if (14 + (u64)ihl + 20 > len)
        return 0;
    const u8 *tcp = ip + ihl;
    u32 sport = be16_at(tcp);
    u32 dport = be16_at(tcp + 2);
    u32 doff = (tcp[12] >> 4) * 4;
    u32 flags = tcp[13];
    if (doff < 20 || 14 + (u64)ihl + doff > len)
        return 0;
    hash ^= (sport << 16) | dport;
    hash ^= hash >> 16;
    u64 h = (u64)(hash & 0xffff) << 8;
    if ((flags & 0x12) == 0x02) /* SYN without ACK */
        return 4 | h;
    if (dport < 1024)
        return 5 | h;
    return 6 | h;
}
