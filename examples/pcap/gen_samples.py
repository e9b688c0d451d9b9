#!/usr/bin/env python3
"""Writes sample.pcap: a few hundred Ethernet frames with a known mix of traffic.

Standard library only; seeded, so every run writes the same bytes. The counts per class are
printed at the end and recorded in README.md.

    python3 examples/pcap/gen_samples.py [OUT.pcap]
"""

import random
import struct
import sys
from collections import Counter

SEED = 11
rng = random.Random(SEED)

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
BCAST = b"\xff" * 6

HOSTS4 = ["10.0.0.1", "10.0.0.2", "10.0.0.77", "192.168.1.10", "192.168.1.20",
          "172.16.5.4", "8.8.8.8", "1.1.1.1"]
HOSTS6 = ["2001:db8::1", "2001:db8::2", "2001:db8:1::10", "fe80::1", "2606:4700::1111"]


def ip4(s):
    return bytes(int(p) for p in s.split("."))


def ip6(s):
    head, _, tail = s.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    words = h + [0] * (8 - len(h) - len(t)) + t
    return struct.pack("!8H", *words)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(dst, src, ethertype, payload, vlan=None):
    if vlan is not None:
        return dst + src + struct.pack("!HHH", 0x8100, vlan, ethertype) + payload
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, options=b"", frag=0, mf=False, ttl=64):
    ihl = 5 + len(options) // 4
    flags = (0x2000 if mf else 0) | (frag & 0x1FFF)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload),
                      rng.randrange(65536), flags, ttl, proto, 0, ip4(src), ip4(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nxt, payload, hop=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, hop, ip6(src), ip6(dst)) + payload


def tcp(sport, dport, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, rng.randrange(1 << 32), rng.randrange(1 << 32),
                       5 << 4, flags, 65535, 0, 0) + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp_echo(kind, ident, seq, payload=b""):
    body = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + payload
    return body[:2] + struct.pack("!H", csum(body)) + body[4:]


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip4(spa), tha, ip4(tpa))


def dns_payload():
    name = rng.choice([b"\x07example\x03com\x00", b"\x03www\x06kernel\x03org\x00"])
    return struct.pack("!HHHHHH", rng.randrange(65536), 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"


def pad(n):
    return bytes(rng.randrange(256) for _ in range(n))


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04
TCP_FLAGS = [SYN, SYN | ACK, ACK, PSH | ACK, FIN | ACK, RST | ACK]
TCP_PORTS = [80, 443, 22, 8080, 1234, 1999, 2000, 25]
UDP_PORTS = [123, 5353, 1500, 4789, 161]

frames = []  # (class, bytes)


def add(cls, frame):
    frames.append((cls, frame))


def two_hosts(pool):
    a = rng.choice(pool)
    b = rng.choice([h for h in pool if h != a])
    return a, b


def tcp4(cls, vlan=None, options=b""):
    src, dst = two_hosts(HOSTS4)
    sport, dport = rng.randrange(32768, 61000), rng.choice(TCP_PORTS)
    if rng.random() < 0.5:
        sport, dport = dport, sport
    seg = tcp(sport, dport, rng.choice(TCP_FLAGS), pad(rng.choice([0, 0, 10, 120, 600])))
    add(cls, eth(MAC_A, MAC_B, 0x0800, ipv4(src, dst, 6, seg, options=options), vlan))


def udp4(cls, port=None, vlan=None):
    src, dst = two_hosts(HOSTS4)
    dport = port if port is not None else rng.choice(UDP_PORTS)
    payload = dns_payload() if dport == 53 else pad(rng.choice([4, 40, 200]))
    sport = rng.randrange(32768, 61000)
    if rng.random() < 0.3:
        sport, dport = dport, sport
    add(cls, eth(MAC_A, MAC_B, 0x0800, ipv4(src, dst, 17, udp(sport, dport, payload)), vlan))


def icmp4(cls, vlan=None):
    src, dst = two_hosts(HOSTS4)
    kind = rng.choice([8, 0])
    add(cls, eth(MAC_A, MAC_B, 0x0800,
                 ipv4(src, dst, 1, icmp_echo(kind, 0x42, rng.randrange(100), pad(56))), vlan))


for _ in range(90):
    tcp4("ipv4/tcp")
for _ in range(12):
    # Options make the header 24 or 28 bytes: the transport header moves.
    tcp4("ipv4/tcp with IP options", options=b"\x01" * rng.choice([4, 8]))
for _ in range(6):
    # Non-first fragments: no transport header, so no port matches.
    src, dst = two_hosts(HOSTS4)
    add("ipv4/tcp fragment", eth(MAC_A, MAC_B, 0x0800,
                                 ipv4(src, dst, 6, pad(64), frag=rng.randrange(1, 200))))
for _ in range(25):
    udp4("ipv4/udp dns", port=53)
for _ in range(35):
    udp4("ipv4/udp other")
for _ in range(20):
    icmp4("ipv4/icmp echo")
for _ in range(16):
    spa, tpa = two_hosts(HOSTS4[:5])
    if rng.random() < 0.5:
        add("arp", eth(BCAST, MAC_A, 0x0806, arp(1, MAC_A, spa, b"\0" * 6, tpa)))
    else:
        add("arp", eth(MAC_A, MAC_B, 0x0806, arp(2, MAC_B, spa, MAC_A, tpa)))
for _ in range(20):
    src, dst = two_hosts(HOSTS6)
    seg = tcp(rng.randrange(32768, 61000), rng.choice(TCP_PORTS), rng.choice(TCP_FLAGS), pad(20))
    add("ipv6/tcp", eth(MAC_A, MAC_B, 0x86DD, ipv6(src, dst, 6, seg)))
for _ in range(15):
    src, dst = two_hosts(HOSTS6)
    port = rng.choice([53, 53, 123, 1500, 5353])
    payload = dns_payload() if port == 53 else pad(30)
    add("ipv6/udp", eth(MAC_A, MAC_B, 0x86DD,
                        ipv6(src, dst, 17, udp(rng.randrange(32768, 61000), port, payload))))
for _ in range(10):
    src, dst = two_hosts(HOSTS6)
    add("ipv6/icmpv6 echo", eth(MAC_A, MAC_B, 0x86DD,
                                ipv6(src, dst, 58, icmp_echo(rng.choice([128, 129]), 7, 1, pad(32)))))
for _ in range(10):
    tcp4("vlan/ipv4/tcp", vlan=rng.choice([10, 20, 100]))
for _ in range(6):
    udp4("vlan/ipv4/udp", vlan=rng.choice([10, 20]))
for _ in range(4):
    icmp4("vlan/ipv4/icmp", vlan=100)

# Truncated: well-formed frames of the classes above, cut short inside a header.
for _ in range(15):
    cls, whole = rng.choice(frames)
    cut = rng.randrange(6, min(len(whole), 54))
    add("truncated", whole[:cut])

# Garbage: random bytes of random length, some with a plausible EtherType.
for _ in range(16):
    junk = bytearray(pad(rng.randrange(1, 90)))
    if len(junk) >= 14 and rng.random() < 0.5:
        junk[12:14] = rng.choice([b"\x08\x00", b"\x86\xdd", b"\x81\x00"])
    add("garbage", bytes(junk))

rng.shuffle(frames)


def write_pcap(path):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (_, frame) in enumerate(frames):
            ts = 1_700_000_000 + i // 1000
            f.write(struct.pack("<IIII", ts, (i % 1000) * 1000, len(frame), len(frame)))
            f.write(frame)


out = sys.argv[1] if len(sys.argv) > 1 else __file__.rsplit("/", 1)[0] + "/sample.pcap"
write_pcap(out)
counts = Counter(cls for cls, _ in frames)
print(f"{len(frames)} frames -> {out}")
for cls in sorted(counts):
    print(f"| {cls} | {counts[cls]} |")
big = sum(1 for _, f in frames if len(f) > 100)
print(f"frames longer than 100 bytes: {big}")
