"""Write a pcap with link type PFLOG (117) holding pf-logged packets, for tcpdump to print.

    python make_pflog.py OUT.pcap          six packets (TCP, UDP, ICMP, IPv6)
    python make_pflog.py --icmp OUT.pcap   one packet per ICMP type/code tcpdump words differently

The pflog header layout is OpenBSD's ``struct pfloghdr`` (net/if_pflog.h): length, af,
action, reason, ifname[16], ruleset[16], rulenr, subrulenr, uid, pid, rule_uid, rule_pid,
dir, pad[3] (61 bytes, padded to 64 on the wire as BPF_WORDALIGN).
"""
import socket
import struct
import sys

import dpkt

PF_PASS, PF_DROP = 0, 1
PF_IN, PF_OUT = 1, 2


def pflog_header(af, action, ifname, rulenr, direction, reason=0):
    body = struct.pack("!BBB", af, action, reason) + ifname.encode().ljust(16, b"\0") + b"".ljust(16, b"\0")
    body += struct.pack("!IIIiIiB3x", rulenr, 0xFFFFFFFF, 0, 0, 0, 0, direction)
    length = 1 + len(body)  # 61
    hdr = struct.pack("!B", length) + body
    return hdr + b"\0" * (64 - len(hdr))


def tcp4(src, dst, sport, dport, flags, ttl=64, ip_id=1):
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=1000, flags=flags, win=1024)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, ttl=ttl, id=ip_id, data=t)
    ip.len = len(ip)
    return bytes(ip)


def udp4(src, dst, sport, dport, payload=None):
    if payload is None:
        payload = bytes(dpkt.dns.DNS(id=4660, qd=[dpkt.dns.DNS.Q(name="example.com")]))
    u = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    u.ulen = len(u)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=17, ttl=64, data=u)
    ip.len = len(ip)
    return bytes(ip)


def icmp4(src, dst, typ=8, code=0):
    ic = dpkt.icmp.ICMP(type=typ, code=code, data=dpkt.icmp.ICMP.Echo(id=7, seq=1, data=b"ping"))
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=1, ttl=64, data=ic)
    ip.len = len(ip)
    return bytes(ip)


def tcp6(src, dst, sport, dport, flags):
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=5, flags=flags, win=1024)
    ip6 = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
                       nxt=6, hlim=64, data=t, plen=len(bytes(t)))
    ip6.v = 6
    return bytes(ip6)


def icmp_error(src, dst, typ, code, quoted, rest=b"\0\0\0\0"):
    """An ICMP error quoting the IP header and first 8 bytes of ``quoted`` (bytes of an IP packet)."""
    body = rest + quoted[:28]
    ic = dpkt.icmp.ICMP(type=typ, code=code, data=body)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=1, ttl=61, id=77, data=ic)
    ip.len = len(ip)
    return bytes(ip)


def icmp_raw(src, dst, typ, code, body):
    ic = dpkt.icmp.ICMP(type=typ, code=code, data=body)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=1, ttl=62, id=78, data=ic)
    ip.len = len(ip)
    return bytes(ip)


def icmp6(src, dst, typ, code, body):
    ic = dpkt.icmp6.ICMP6(type=typ, code=code, data=body)
    raw = bytes(ic)
    ip6 = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
                       nxt=58, hlim=255, plen=len(raw))
    ip6.v = 6
    return bytes(ip6)[:40] + raw


# (type, code, packet) of every ICMP wording tcpdump has for the messages the FAQ discusses
def icmp_cases():
    out_udp = udp4("192.0.2.10", "198.51.100.9", 41000, 33434, payload=b"")
    out_tcp = tcp4("192.0.2.10", "198.51.100.9", 41001, 25, dpkt.tcp.TH_SYN)
    g, h = "203.0.113.1", "192.0.2.10"
    cases = [(3, c, icmp_error(g, h, 3, c, out_udp if c == 3 else out_tcp)) for c in range(16)]
    cases += [(3, 4, icmp_error(g, h, 3, 4, out_tcp, rest=b"\0\0\x05\x00")),          # need to frag (mtu 1280)
              (4, 0, icmp_error(g, h, 4, 0, out_tcp))]
    cases += [(5, c, icmp_error(g, h, 5, c, out_tcp, rest=socket.inet_aton("203.0.113.254"))) for c in range(4)]
    cases += [(11, 0, icmp_error(g, h, 11, 0, out_udp)), (11, 1, icmp_error(g, h, 11, 1, out_udp)),
              (12, 0, icmp_error(g, h, 12, 0, out_tcp, rest=b"\x14\0\0\0")), (12, 1, icmp_error(g, h, 12, 1, out_tcp))]
    cases += [(8, 0, icmp4(g, h, 8)), (0, 0, icmp4(g, h, 0)),
              (13, 0, icmp_raw(g, h, 13, 0, b"\x00\x07\x00\x01" + b"\0" * 12)),
              (14, 0, icmp_raw(g, h, 14, 0, b"\x00\x07\x00\x01" + b"\0" * 12)),
              (17, 0, icmp_raw(g, h, 17, 0, b"\x00\x07\x00\x01\0\0\0\0")),
              (18, 0, icmp_raw(g, h, 18, 0, b"\x00\x07\x00\x01\xff\xff\xff\0")),
              (9, 0, icmp_raw(g, h, 9, 0, b"\x01\x02\x07\x08" + socket.inet_aton(g) + b"\0\0\0\0")),
              (10, 0, icmp_raw(g, h, 10, 0, b"\0\0\0\0")), (15, 0, icmp_raw(g, h, 15, 0, b"\0\x07\0\x01")),
              (16, 0, icmp_raw(g, h, 16, 0, b"\0\x07\0\x01")), (42, 0, icmp_raw(g, h, 42, 0, b"\0\0\0\0"))]
    cases += [(128, 0, icmp6("2001:db8::9", "2001:db8::10", 128, 0, b"\x00\x07\x00\x01ping")),
              (129, 0, icmp6("2001:db8::9", "2001:db8::10", 129, 0, b"\x00\x07\x00\x01ping"))]
    return cases


def main_icmp(path):
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=117)
        for i, (_t, _c, pkt) in enumerate(icmp_cases()):
            af = 24 if pkt[0] >> 4 == 6 else socket.AF_INET
            w.writepkt(pflog_header(af, PF_DROP, "em0", 3, PF_IN) + pkt, ts=1700000000 + i)


def main(path):
    pkts = [
        (pflog_header(socket.AF_INET, PF_DROP, "em0", 5, PF_IN), tcp4("203.0.113.9", "192.0.2.10", 40000, 23, dpkt.tcp.TH_SYN)),
        (pflog_header(socket.AF_INET, PF_DROP, "em0", 5, PF_IN), tcp4("203.0.113.9", "192.0.2.10", 40001, 25, dpkt.tcp.TH_FIN | dpkt.tcp.TH_PUSH | dpkt.tcp.TH_URG)),
        (pflog_header(socket.AF_INET, PF_PASS, "em1", 12, PF_OUT), udp4("192.0.2.10", "198.51.100.53", 5353, 53)),
        (pflog_header(socket.AF_INET, PF_DROP, "em0", 7, PF_IN), icmp4("203.0.113.9", "192.0.2.10")),
        (pflog_header(24, PF_DROP, "em0", 9, PF_IN), tcp6("2001:db8::9", "2001:db8::10", 40002, 80, dpkt.tcp.TH_SYN)),
    ]
    pkts.append((pflog_header(socket.AF_INET, PF_DROP, "em0", 5, PF_IN),
                 tcp4("203.0.113.9", "192.0.2.10", 40003, 445, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, ttl=50, ip_id=4242)))
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=117)
        for i, (h, p) in enumerate(pkts):
            w.writepkt(h + p, ts=1700000000 + i)


if __name__ == "__main__":
    if sys.argv[1] == "--icmp":
        main_icmp(sys.argv[2])
    else:
        main(sys.argv[1])
