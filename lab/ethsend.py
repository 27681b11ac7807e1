"""Send one TCP SYN in a hand-built Ethernet frame (AF_PACKET), for sources the kernel
will not let a raw IP socket use.

A raw IP socket with IP_HDRINCL fills in a source address of 0.0.0.0 with the host's own
(raw(7)), so a forged 0.0.0.0 source has to be written below IP.  The frame goes to the
MAC address of --via, read from the neighbour table (/proc/net/arp), so something must have
talked to --via before.  Stdlib only.

Usage: ethsend.py --iface eth0 --via 203.0.113.2 --src 0.0.0.0 --dst 192.0.2.10
                  [--sport 40000] [--dport 80] [--count 2] [--ttl 64]
"""
import argparse
import socket
import struct
import sys
import time


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def arp_lookup(ip: str, iface: str) -> bytes | None:
    with open("/proc/net/arp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[0] == ip and parts[5] == iface and parts[3] != "00:00:00:00:00:00":
                return bytes.fromhex(parts[3].replace(":", ""))
    return None


def syn(src: str, dst: str, sport: int, dport: int, ttl: int, ident: int) -> bytes:
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0x1F2E3D4C, 0, 5 << 4, 0x02, 1024, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", csum(s + d + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ident, 0, ttl, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--via", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--sport", type=int, default=40000)
    ap.add_argument("--dport", type=int, default=80)
    ap.add_argument("--count", type=int, default=2)
    ap.add_argument("--ttl", type=int, default=64)
    a = ap.parse_args()
    mac = arp_lookup(a.via, a.iface)
    if mac is None:
        print(f"ethsend: no neighbour entry for {a.via} on {a.iface}", file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    own = s.getsockname()[4]
    for i in range(a.count):
        frame = mac + own + b"\x08\x00" + syn(a.src, a.dst, a.sport + i, a.dport, a.ttl, 0x4242 + i)
        s.send(frame)
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
