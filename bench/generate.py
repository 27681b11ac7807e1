#!/usr/bin/env python3
"""Deterministic generator of realistic Linux netfilter LOG syslog lines.

    python bench/generate.py --lines 1m --out bench/data/netfilter-1m.log [--seed 7]

Every kernel record is laid out the way the kernel's nf_log_syslog module prints it
(nf_log_dump_packet_common / dump_ipv4_packet / dump_ipv6_packet): the log prefix glued to
``IN=``, ``MAC=`` only for packets that came in on an interface, ``TOS=0x.. PREC=0x..``,
``DF`` before ``PROTO=``, TCP flags in the kernel's order (CWR ECE URG ACK PSH RST SYN FIN),
``OPT (...)`` when TCP options are logged, the quoted packet of ICMP errors between
``[`` and ``] ``, IPv6 addresses written out in full, and the trailing space the kernel leaves
at the end of every record.  The wrapping is RFC 3164 syslog with the kernel's
``[uptime]`` stamp.

The traffic mix (fractions of lines, roughly):

* background noise from many sources (Zipf-like: a few talk a lot): TCP SYN probes to
  445/23/22/3389/1433/... and scattered ports, stray ACK/RST/FIN packets of dead
  connections, NetBIOS name lookups (UDP 137), other UDP noise, ICMP echo, ICMP errors
  quoting a DNS reply (``[SRC=... PROTO=UDP SPT=53 ...]``) or a TCP packet
  (``INCOMPLETE [8 bytes]``), IGMP/GRE, IPv6 TCP and ICMPv6, blocked outbound LAN traffic,
  and a few odd packets: fragments (``MF``, ``FRAG:n``), loose-source-routed SYNs (IP
  ``OPT (83...)``) and martian sources (127.0.0.1, 0.0.0.0, RFC 1918);
* scan episodes (about 40%): vertical SYN, FIN, XMAS, NULL and ACK scans, UDP scans,
  horizontal sweeps, ping sweeps, IPv6 SYN scans, UDP traceroutes, single-port floods;
* a few percent of unrelated syslog lines (sshd, cron, systemd, dhclient, postfix, and
  kernel lines that are not netfilter records);
* about 1% of lines from a second firewall (``edge2``) whose clock runs 4 s behind: these
  are the only places where the timestamps go backwards;
* files spanning more than two days cross one new year (Dec 31 -> Jan 1) at 80% of the file.

Generation is vectorised (NumPy for the random draws, PyArrow string kernels to assemble
the lines) and runs chunk by chunk on every core; the output depends only on
(--lines, --seed, --chunk), not on the number of processes.
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

GEN_VERSION = 3  # bump when the output changes: cached files in bench/data/ carry it
MEAN_DT = 0.5  # seconds of log time per line, on average
CHUNK = 100_000
SKEW2 = 4.0  # the second firewall's clock is this many seconds behind
NEW_YEAR = dt.datetime(2026, 1, 1)
SHORT_START = dt.datetime(2025, 11, 14, 9, 0, 0)

HOSTS = ["fw1", "edge2"]

# Log prefixes (as given to -j LOG --log-prefix) and whether that rule logs TCP options.
PREFIXES = ["DROP ", "[UFW BLOCK] ", "Shorewall:net2fw:DROP:", "INPUT-DROP: "]
PREFIX_W = [0.40, 0.30, 0.20, 0.10]
PREFIX_OPTS = [True, False, False, True]

TOSPREC = ["TOS=0x00 PREC=0x00 "] * 20 + [
    "TOS=0x08 PREC=0x00 ", "TOS=0x10 PREC=0x00 ", "TOS=0x00 PREC=0x20 ",
    "TOS=0x00 PREC=0x40 ", "TOS=0x1C PREC=0xE0 ", "TOS=0x00 PREC=0xC0 ",
]

OUR_MAC = "00:16:3e:5a:11:02"
UPSTREAM_MACS = ["00:1b:21:3a:0c:91", "f4:8e:38:c2:7d:10", "3c:fd:fe:a1:52:04"]
LAN_MAC = "00:16:3e:5a:11:03"

# TCP ports hit by background probes, with weights (the rest go to scattered ports).
NOISE_TCP_PORTS = [445, 23, 22, 3389, 1433, 80, 8080, 443, 3306, 5900, 2323, 81, 8443, 25,
                   139, 135, 5555, 7547, 6379, 9200, 21, 110, 1080, 3128, 8888, 27017, 5432]
NOISE_TCP_W = [15, 11, 9, 6, 3, 4, 4, 3, 2, 2, 2, 1.5, 1.5, 1.5, 2, 1.5, 1, 1, 1, 1, 1,
               .5, .5, .7, .5, .5, .5]
NOISE_UDP_PORTS = [137, 1434, 53, 161, 123, 1900, 5060, 500, 19, 111, 138, 11211, 3702, 5353]
NOISE_UDP_W = [30, 8, 10, 8, 6, 6, 6, 4, 2, 3, 4, 2, 2, 2]
SWEEP_PORTS = [22, 23, 445, 3389, 80, 1433, 5900, 8080, 1083, 443, 3306, 6379]
WINDOWS = [64240, 65535, 29200, 8192, 14600, 1024, 42340, 5840, 65228, 26883, 16384]

# Noise kinds and their share of the noise budget.
NOISE_KINDS = {
    "tcp_syn": 0.40, "tcp_stray": 0.08, "udp": 0.20, "icmp_echo": 0.06,
    "icmp_err": 0.05, "ipv6": 0.08, "outbound": 0.03, "other_proto": 0.02, "odd": 0.01,
}
EPISODE_KINDS = ["syn_scan", "fin_scan", "xmas_scan", "null_scan", "ack_scan", "udp_scan",
                 "h_sweep", "ping_sweep", "v6_syn_scan", "traceroute", "port_flood",
                 "syn_scan", "udp_scan", "h_sweep"]
SCAN_FLAGS = {"syn_scan": "SYN ", "fin_scan": "FIN ", "xmas_scan": "URG PSH FIN ",
              "null_scan": "", "ack_scan": "ACK "}
UNRELATED_SHARE = 0.03
EPISODE_SHARE = 0.40
HOST2_SHARE = 0.01

UNRELATED_TEMPLATES_KERNEL = [
    "nf_conntrack: nf_conntrack: table full, dropping packet",
    "usb 2-1: USB disconnect, device number {n}",
    "e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
    "TCP: request_sock_TCP: Possible SYN flooding on port 22. Sending cookies.  Check SNMP counters.",
    "net_ratelimit: {n} callbacks suppressed",
]
UNRELATED_TEMPLATES = [
    "sshd[{pid}]: Failed password for invalid user admin from {ip} port {port} ssh2",
    "sshd[{pid}]: Connection closed by authenticating user root {ip} port {port} [preauth]",
    "sshd[{pid}]: Received disconnect from {ip} port {port}:11: Bye Bye [preauth]",
    "CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    "systemd[1]: Starting apt-daily.service - Daily apt download activities...",
    "systemd[1]: logrotate.service: Deactivated successfully.",
    "dhclient[{pid}]: DHCPREQUEST for 203.0.113.10 on eth0 to 203.0.113.1 port 67",
    "dhclient[{pid}]: DHCPACK of 203.0.113.10 from 203.0.113.1",
    "postfix/smtpd[{pid}]: connect from unknown[{ip}]",
    "postfix/smtpd[{pid}]: lost connection after EHLO from unknown[{ip}]",
    "ntpd[{pid}]: Soliciting pool server 198.51.100.{n}",
    "rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\"] rsyslogd was HUPed",
]


def parse_count(text: str) -> int:
    t = text.strip().lower().replace("_", "")
    mult = 1
    if t.endswith("k"):
        mult, t = 1_000, t[:-1]
    elif t.endswith("m"):
        mult, t = 1_000_000, t[:-1]
    elif t.endswith("g"):
        mult, t = 1_000_000_000, t[:-1]
    return int(float(t) * mult)


# --------------------------------------------------------------------------- helpers

def S(values) -> pa.Array:
    """Integers to decimal strings."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def P(pool: pa.Array, idx) -> pa.Array:
    """Pick strings from a pool by index."""
    return pool.take(pa.array(np.asarray(idx, dtype=np.int64)))


def J(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def const(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))


class Pools:
    """String pools shared by every chunk (built identically in each worker)."""

    def __init__(self, seed: int, total_lines: int):
        rng = np.random.default_rng([seed, 0xC0FFEE])
        k = int(min(250_000, max(400, total_lines // 15)))
        banned = {0, 10, 100, 127, 169, 172, 192, 198, 203}
        firsts = np.array([o for o in range(1, 224) if o not in banned])
        o1 = rng.choice(firsts, k)
        rest = rng.integers(0, 256, (k, 3))
        rest[:, 2] = rng.integers(1, 255, k)
        self.src = J(S(o1), ".", S(rest[:, 0]), ".", S(rest[:, 1]), ".", S(rest[:, 2]))
        self.n_src = k
        self.our = pa.array([f"203.0.113.{i}" for i in range(256)])
        self.lan = pa.array([f"192.168.1.{i}" for i in range(256)])
        self.hex4 = pa.array([f"{i:04x}" for i in range(65536)])
        self.tosprec = pa.array(TOSPREC)
        self.prefix = pa.array(PREFIXES)
        self.windows = pa.array([str(w) for w in WINDOWS])
        self.mac_in = pa.array([f"MAC={OUR_MAC}:{m}:08:00 " for m in UPSTREAM_MACS])
        self.mac_in6 = pa.array([f"MAC={OUR_MAC}:{m}:86:dd " for m in UPSTREAM_MACS])
        self.mac_lan = pa.array([f"MAC={LAN_MAC}:00:16:3e:{i >> 8:02x}:{i & 255:02x}:{(i * 7) & 255:02x}:08:00 "
                                 for i in range(64)])
        self.df = pa.array(["", "DF "])
        bad = rng.integers(0, 2**32, 1)  # keep the stream aligned if pools change
        del bad


_POOLS: Pools | None = None


def pools(seed: int, total: int) -> Pools:
    global _POOLS
    if _POOLS is None or getattr(_POOLS, "_key", None) != (seed, total):
        _POOLS = Pools(seed, total)
        _POOLS._key = (seed, total)
    return _POOLS


def ttl_from_os(rng, n):
    init = rng.choice([64, 128, 255, 64, 128], n)
    return init - rng.integers(4, 26, n)


def ipv6_addr(pl: Pools, prefix_groups: list[int], tail) -> pa.Array:
    """Full-form IPv6 addresses (as %pI6 prints them): fixed leading groups + random tail."""
    parts = []
    for g in prefix_groups:
        parts += [f"{g:04x}", ":"]
    for i, col in enumerate(tail):
        parts.append(P(pl.hex4, col))
        if i < len(tail) - 1:
            parts.append(":")
    return J(*parts)


# --------------------------------------------------------------------------- record bodies

def v4(prefix, inif, outif, mac, src, dst, ln, tosprec, ttl, ipid, df, proto_part):
    return J(prefix, "IN=", inif, " OUT=", outif, " ", mac, "SRC=", src, " DST=", dst,
             " LEN=", S(ln), " ", tosprec, "TTL=", S(ttl), " ID=", S(ipid), " ", df, proto_part)


def tcp(spt, dpt, win, flags, opt):
    return J("PROTO=TCP SPT=", S(spt), " DPT=", S(dpt), " WINDOW=", win, " RES=0x00 ",
             flags, "URGP=0 ", opt)


def udp(spt, dpt, ulen):
    return J("PROTO=UDP SPT=", S(spt), " DPT=", S(dpt), " LEN=", S(ulen), " ")


def syn_options(rng, n, logged: np.ndarray):
    """TCP options of SYNs (as logged with --log-tcp-options) and the IP length they imply."""
    kind = rng.choice(3, n, p=[0.45, 0.35, 0.20])  # linux, windows, none
    ts = rng.integers(0, 2**32, n)
    hexts = J(P(_POOLS.hex4, ts >> 16), P(_POOLS.hex4, ts & 0xFFFF))
    linux = J("OPT (020405B40402080A", pc.utf8_upper(hexts), "0000000001030307) ")
    windows = const("OPT (020405B40103030801010402) ", n)
    none = const("", n)
    opt = pc.case_when(pc.make_struct(pa.array(kind == 0), pa.array(kind == 1)), linux, windows, none)
    opt = pc.if_else(pa.array(logged), opt, none)
    ln = np.where(kind == 0, 60, np.where(kind == 1, 52, 40))
    return opt, ln


class Block:
    """Lines of one kind with their true times and hosts."""

    def __init__(self, t, host, body, kernel=True):
        self.t = np.asarray(t, dtype=np.float64)
        self.host = np.asarray(host, dtype=np.int8)
        self.body = body
        self.kernel = np.full(len(self.t), kernel, dtype=bool) if np.isscalar(kernel) else kernel


def noise_hosts(rng, n):
    return (rng.random(n) < HOST2_SHARE).astype(np.int8)


def noise_dst(pl, rng, n):
    idx = np.where(rng.random(n) < 0.5, 10, rng.integers(1, 255, n))
    return P(pl.our, idx), idx


def choose_prefix(rng, n):
    idx = rng.choice(len(PREFIXES), n, p=PREFIX_W)
    return idx, np.array(PREFIX_OPTS)[idx]


def noise_src(pl, rng, n):
    return P(pl.src, np.minimum((pl.n_src * rng.random(n) ** 2.5).astype(np.int64), pl.n_src - 1))


def mk_tcp_syn(pl, rng, t):
    n = len(t)
    pidx, logged = choose_prefix(rng, n)
    w = np.array(NOISE_TCP_W + [25.0])
    port_i = rng.choice(len(w), n, p=w / w.sum())
    dpt = np.where(port_i < len(NOISE_TCP_PORTS), np.array(NOISE_TCP_PORTS + [0])[port_i],
                   rng.integers(1, 65536, n))
    opt, ln = syn_options(rng, n, logged)
    mirai = rng.random(n) < 0.05
    df = np.where(mirai, 0, (rng.random(n) < 0.6).astype(np.int64))
    body = v4(P(pl.prefix, pidx), "eth0", "", P(pl.mac_in, rng.integers(0, 3, n)),
              noise_src(pl, rng, n), noise_dst(pl, rng, n)[0], ln,
              P(pl.tosprec, rng.integers(0, len(TOSPREC), n)), ttl_from_os(rng, n),
              rng.integers(0, 65536, n), P(pl.df, df),
              tcp(rng.integers(1024, 65536, n), dpt, P(pl.windows, rng.integers(0, len(WINDOWS), n)),
                  "SYN ", opt))
    return Block(t, noise_hosts(rng, n), body)


def mk_tcp_stray(pl, rng, t):
    n = len(t)
    pidx, _ = choose_prefix(rng, n)
    flags = pa.array(["ACK ", "ACK FIN ", "RST ", "ACK RST ", "ACK PSH ", "ACK PSH FIN ", "ACK SYN "])
    fi = rng.choice(7, n, p=[0.35, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05])
    spt = np.array([80, 443, 443, 443, 22, 25, 993, 8080])[rng.integers(0, 8, n)]
    ln = np.where(fi >= 4, rng.integers(41, 1500, n), 40 + 12 * (rng.random(n) < 0.5))
    body = v4(P(pl.prefix, pidx), "eth0", "", P(pl.mac_in, rng.integers(0, 3, n)),
              noise_src(pl, rng, n), noise_dst(pl, rng, n)[0], ln,
              P(pl.tosprec, rng.integers(0, len(TOSPREC), n)), ttl_from_os(rng, n),
              rng.integers(0, 65536, n), P(pl.df, (rng.random(n) < 0.8).astype(np.int64)),
              tcp(spt, rng.integers(1024, 65536, n), S(rng.integers(0, 65536, n)),
                  P(flags, fi), ""))
    return Block(t, noise_hosts(rng, n), body)


def mk_udp(pl, rng, t):
    n = len(t)
    pidx, _ = choose_prefix(rng, n)
    w = np.array(NOISE_UDP_W + [20.0])
    port_i = rng.choice(len(w), n, p=w / w.sum())
    dpt = np.where(port_i < len(NOISE_UDP_PORTS), np.array(NOISE_UDP_PORTS + [0])[port_i],
                   rng.integers(1, 65536, n))
    netbios = dpt == 137
    spt = np.where(netbios & (rng.random(n) < 0.7), 137, rng.integers(1024, 65536, n))
    ulen = np.where(netbios, 58, rng.integers(9, 120, n))
    ulen = np.where(dpt == 1434, 384, ulen)
    body = v4(P(pl.prefix, pidx), "eth0", "", P(pl.mac_in, rng.integers(0, 3, n)),
              noise_src(pl, rng, n), noise_dst(pl, rng, n)[0], ulen + 20,
              P(pl.tosprec, rng.integers(0, len(TOSPREC), n)), ttl_from_os(rng, n),
              rng.integers(0, 65536, n), P(pl.df, (rng.random(n) < 0.2).astype(np.int64)),
              udp(spt, dpt, ulen))
    return Block(t, noise_hosts(rng, n), body)


def mk_icmp_echo(pl, rng, t):
    n = len(t)
    pidx, _ = choose_prefix(rng, n)
    ln = np.array([84, 60, 28, 92])[rng.choice(4, n, p=[0.4, 0.3, 0.25, 0.05])]
    proto = J("PROTO=ICMP TYPE=8 CODE=0 ID=", S(rng.integers(0, 65536, n)), " SEQ=",
              S(rng.integers(0, 2000, n)), " ")
    body = v4(P(pl.prefix, pidx), "eth0", "", P(pl.mac_in, rng.integers(0, 3, n)),
              noise_src(pl, rng, n), noise_dst(pl, rng, n)[0], ln,
              P(pl.tosprec, rng.integers(0, len(TOSPREC), n)), ttl_from_os(rng, n),
              rng.integers(0, 65536, n), P(pl.df, (rng.random(n) < 0.5).astype(np.int64)), proto)
    return Block(t, noise_hosts(rng, n), body)


def mk_icmp_err(pl, rng, t):
    """ICMP errors quoting the packet that provoked them (mostly late DNS replies)."""
    n = len(t)
    pidx, _ = choose_prefix(rng, n)
    client = noise_src(pl, rng, n)
    ours, _ = noise_dst(pl, rng, n)
    kind = rng.choice(4, n, p=[0.65, 0.15, 0.12, 0.08])  # 3/3 dns, 3/1 dns, 11/0 tcp, 3/4 udp
    itype = np.where(kind == 2, 11, 3)
    icode = np.array([3, 1, 0, 4])[kind]
    dns = kind <= 1
    inner_ulen = np.where(dns, rng.integers(40, 520, n), rng.integers(9, 1400, n))
    inner_len = inner_ulen + 20
    inner_tcp_len = rng.choice([40, 52, 60], n)
    inner_len = np.where(kind == 2, inner_tcp_len, inner_len)
    inner_ttl = np.where(kind == 2, 1, 64)
    spt = np.where(dns, 53, rng.integers(1024, 65536, n))
    dpt = np.where(dns, rng.integers(1024, 65536, n), rng.integers(1, 65536, n))
    # A router answering a TCP packet with "TTL exceeded" quotes only 8 bytes of its header,
    # which the kernel prints as INCOMPLETE.
    inner_proto = pc.if_else(pa.array(kind == 2), const("PROTO=TCP INCOMPLETE [8 bytes] ", n),
                             udp(spt, dpt, inner_ulen))
    inner = J("SRC=", ours, " DST=", client, " LEN=", S(inner_len), " TOS=0x00 PREC=0x00 TTL=",
              S(inner_ttl), " ID=", S(rng.integers(0, 65536, n)), " ",
              P(pl.df, (kind != 0).astype(np.int64)), inner_proto)
    quoted = np.minimum(inner_len, 548)
    quoted = np.where(kind == 2, 28, quoted)
    mtu = pc.if_else(pa.array(kind == 3), const("MTU=1480 ", n), const("", n))
    proto = J("PROTO=ICMP TYPE=", S(itype), " CODE=", S(icode), " [", inner, "] ", mtu)
    body = v4(P(pl.prefix, pidx), "eth0", "", P(pl.mac_in, rng.integers(0, 3, n)),
              client, ours, 28 + quoted, P(pl.tosprec, np.zeros(n, dtype=np.int64)),
              ttl_from_os(rng, n), rng.integers(0, 65536, n), const("", n), proto)
    return Block(t, noise_hosts(rng, n), body)


def mk_ipv6(pl, rng, t):
    n = len(t)
    pidx, logged = choose_prefix(rng, n)
    kind = rng.choice(4, n, p=[0.45, 0.2, 0.2, 0.15])  # tcp syn, icmpv6 echo, NS/RS, udp
    src_tail = [rng.integers(0, 65536, n) for _ in range(6)]
    src = ipv6_addr(pl, [0x2001, 0x0db8], src_tail)
    linklocal = ipv6_addr(pl, [0xfe80, 0, 0, 0], [rng.integers(0, 65536, n) for _ in range(4)])
    is_ns = kind == 2
    src = pc.if_else(pa.array(is_ns), linklocal, src)
    dst = pc.if_else(pa.array(is_ns), const("ff02:0000:0000:0000:0000:0001:ff00:0002", n),
                     const("2001:0db8:0000:f101:0000:0000:0000:0002", n))
    dport = np.array([22, 443, 80, 25, 3389, 445])[rng.integers(0, 6, n)]
    opt, ln = syn_options(rng, n, logged)
    tcp_part = tcp(rng.integers(1024, 65536, n), dport, P(pl.windows, rng.integers(0, len(WINDOWS), n)),
                   "SYN ", opt)
    echo = J("PROTO=ICMPv6 TYPE=128 CODE=0 ID=", S(rng.integers(0, 65536, n)), " SEQ=",
             S(rng.integers(1, 500, n)), " ")
    ns = pc.if_else(pa.array(rng.random(n) < 0.7), const("PROTO=ICMPv6 TYPE=135 CODE=0 ", n),
                    const("PROTO=ICMPv6 TYPE=133 CODE=0 ", n))
    udport = np.array([53, 123, 161, 547, 5353])[rng.integers(0, 5, n)]
    ulen = rng.integers(9, 200, n)
    udp_part = udp(rng.integers(1024, 65536, n), udport, ulen)
    proto = pc.case_when(pc.make_struct(pa.array(kind == 0), pa.array(kind == 1), pa.array(kind == 2)),
                         tcp_part, echo, ns, udp_part)
    plen = np.select([kind == 0, kind == 1, kind == 2], [ln, 104 + 0 * ln, 72 + 0 * ln], 40 + ulen)
    plen = np.where(kind == 0, ln + 20, plen)  # IPv6 header is 20 bytes longer than IPv4's
    hl = np.where(is_ns, 255, rng.choice([64, 128, 255], n) - rng.integers(3, 25, n))
    flow = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 1 << 20, n))
    body = J(P(pl.prefix, pidx), "IN=eth0 OUT= ", P(pl.mac_in6, rng.integers(0, 3, n)), "SRC=", src,
             " DST=", dst, " LEN=", S(plen), " TC=0 HOPLIMIT=", S(hl),
             " FLOWLBL=", S(flow), " ", proto)
    return Block(t, noise_hosts(rng, n), body)


def mk_outbound(pl, rng, t):
    """Forwarded LAN traffic the firewall blocks on its way out (IN=eth1 OUT=eth0)."""
    n = len(t)
    dport = np.array([25, 6667, 53, 123, 445, 1900, 4444, 3389])[rng.integers(0, 8, n)]
    is_udp = np.isin(dport, [53, 123, 1900])
    opt, ln = syn_options(rng, n, np.ones(n, dtype=bool))
    lan = P(pl.lan, rng.integers(2, 60, n))
    remote = noise_src(pl, rng, n)
    tcp_part = tcp(rng.integers(32768, 61000, n), dport, P(pl.windows, np.zeros(n, dtype=np.int64)),
                   "SYN ", opt)
    ulen = rng.integers(20, 100, n)
    proto = pc.if_else(pa.array(is_udp), udp(rng.integers(32768, 61000, n), dport, ulen), tcp_part)
    body = v4("FWD-REJECT ", "eth1", "eth0", P(pl.mac_lan, rng.integers(0, 64, n)), lan, remote,
              np.where(is_udp, ulen + 20, ln), const("TOS=0x00 PREC=0x00 ", n),
              np.where(is_udp, 64, 127), rng.integers(0, 65536, n), const("DF ", n), proto)
    return Block(t, np.zeros(n), body)


def mk_other_proto(pl, rng, t):
    n = len(t)
    kind = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    proto = pa.array(["PROTO=2 ", "PROTO=47 ", "PROTO=41 "]).take(pa.array(kind))
    dst = pc.if_else(pa.array(kind == 0), const("224.0.0.1", n), noise_dst(pl, rng, n)[0])
    body = v4(const("Shorewall:net2fw:DROP:", n), "eth0", "", P(pl.mac_in, rng.integers(0, 3, n)),
              noise_src(pl, rng, n), dst, np.where(kind == 0, 32, rng.integers(40, 200, n)),
              P(pl.tosprec, rng.integers(0, len(TOSPREC), n)), np.where(kind == 0, 1, 50),
              np.where(kind == 0, 0, rng.integers(0, 65536, n)), P(pl.df, (kind != 0).astype(np.int64)),
              proto)
    return Block(t, noise_hosts(rng, n), body)


HEX2 = pa.array([f"{i:02X}" for i in range(256)])
# Last byte of the one-hop loose source route (198.51.100.x).  psad 2.4.6's
# parse_ip_options() skips one byte too few after a variable-length option and then reads
# that byte as an option code; when it is the code of another variable-length option
# (7 = record route, 68 = timestamp, 131..., 137, ...) followed by the 00 padding, it loops
# forever.  Those values are left out so that the benchmark times psad rather than this bug
# (see bench/README.md).
PSAD_VARLEN_CODES = {7, 10, 68, 131, 132, 133, 134, 137, 142, 144, 145, 149, 150, 151, 152, 205}
LSRR_HOPS = np.array([x for x in range(1, 255) if x not in PSAD_VARLEN_CODES])


def mk_odd(pl, rng, t):
    """Rare packets: fragments (MF / FRAG:), loose-source-routed SYNs (IP OPT), martians."""
    n = len(t)
    # first fragment, later fragment, loose source route, martian source: in equal shares
    kind = rng.permutation(np.arange(n) % 4)
    src = noise_src(pl, rng, n)
    martians = pa.array(["127.0.0.1", "0.0.0.0", "10.0.0.1", "192.168.0.1", "172.16.5.4", "169.254.1.1"])
    src = pc.if_else(pa.array(kind == 3), P(martians, rng.integers(0, 6, n)), src)
    dst, _ = noise_dst(pl, rng, n)
    ipid = rng.integers(0, 65536, n)
    offset = rng.integers(1, 44, n) * 185  # 8-byte units (13 bits), as the kernel prints FRAG:
    flagpart = pc.case_when(
        pc.make_struct(pa.array(kind == 0), pa.array(kind == 1), pa.array(kind == 2)),
        const("MF ", n), J(pc.if_else(pa.array(rng.random(n) < 0.5), const("MF ", n), const("", n)),
                           "FRAG:", S(offset), " "),
        J("OPT (830704C63364", P(HEX2, rng.choice(LSRR_HOPS, n)), "00) "), const("", n))
    opt, ln = syn_options(rng, n, np.ones(n, dtype=bool))
    syn = tcp(rng.integers(1024, 65536, n), np.array([80, 22, 23, 445])[rng.integers(0, 4, n)],
              S(rng.choice([1024, 4096, 5840, 65535], n)), "SYN ", opt)
    first = udp(np.full(n, 53), rng.integers(1024, 65536, n), rng.integers(1500, 4000, n))
    proto = pc.case_when(pc.make_struct(pa.array(kind == 0), pa.array(kind == 1)),
                         first, const("PROTO=UDP ", n), syn)
    ln = np.where(kind == 0, 1500, np.where(kind == 1, rng.integers(60, 1500, n), ln + 8 * (kind == 2)))
    body = J("DROP IN=eth0 OUT= ", P(pl.mac_in, rng.integers(0, 3, n)), "SRC=", src, " DST=", dst,
             " LEN=", S(ln), " TOS=0x00 PREC=0x00 TTL=", S(ttl_from_os(rng, n)), " ID=", S(ipid), " ",
             flagpart, proto)
    # "PROTO=UDP " ends a non-first fragment (no ports); the others carry their own ports.
    return Block(t, noise_hosts(rng, n), body)


NOISE_MAKERS = {"tcp_syn": mk_tcp_syn, "tcp_stray": mk_tcp_stray, "udp": mk_udp,
                "icmp_echo": mk_icmp_echo, "icmp_err": mk_icmp_err, "ipv6": mk_ipv6,
                "outbound": mk_outbound, "other_proto": mk_other_proto, "odd": mk_odd}


def mk_episode(pl, rng, kind, n, t0, window_end):
    """One scan episode of n lines starting at t0, squeezed to end before window_end."""
    slow = rng.random() < 0.15
    gap = rng.uniform(2.0, 20.0) if slow else rng.uniform(0.00005, 0.002)
    if kind in ("traceroute",):
        gap = rng.uniform(0.01, 0.3)
    if kind == "port_flood":
        gap = rng.uniform(0.5, 5.0)
    if kind == "h_sweep" and not slow:
        gap = rng.uniform(0.001, 0.05)
    dts = rng.exponential(gap, n)
    t = t0 + np.cumsum(dts)
    if t[-1] >= window_end:
        t = t0 + (t - t0) * (window_end - t0) / (t[-1] - t0 + 1e-3)
    scanner = pl.src.take(pa.array([int(rng.integers(0, pl.n_src))]))[0].as_py()
    pidx = int(rng.choice(len(PREFIXES), p=PREFIX_W))
    prefix = PREFIXES[pidx]
    logged = np.full(n, PREFIX_OPTS[pidx])
    target = int(rng.choice([10, 10, 10, int(rng.integers(1, 255))]))
    tos = const("TOS=0x00 PREC=0x00 ", n)
    mac = P(pl.mac_in, np.full(n, int(rng.integers(0, 3))))
    host = np.zeros(n, dtype=np.int8)
    ttl = rng.integers(37, 60, n)
    ipid = rng.integers(0, 65536, n)
    nodf = const("", n)
    spt = np.full(n, int(rng.integers(32768, 65536)))
    spt[rng.random(n) < 0.02] = int(rng.integers(32768, 65536))  # nmap's second probe port
    win = P(pl.windows, np.full(n, 5)) if rng.random() < 0.5 else S(rng.choice([1024, 2048, 3072, 4096], n))
    dst1 = P(pl.our, np.full(n, target))

    def ports():
        top = rng.permutation(np.arange(1, 1025))
        if n <= 1024 and rng.random() < 0.6:
            return top[:n]
        start = int(rng.integers(1, max(2, 65536 - n)))
        return rng.permutation(np.arange(start, start + n)) % 65536

    if kind in SCAN_FLAGS:
        flags = SCAN_FLAGS[kind]
        if kind == "syn_scan":
            opt = pc.if_else(pa.array(logged), const("OPT (020405B4) ", n), const("", n))
            ln = np.full(n, 44)
        else:
            opt, ln = const("", n), np.full(n, 40)
        body = v4(prefix, "eth0", "", mac, scanner, dst1, ln, tos, ttl, ipid, nodf,
                  tcp(spt, ports(), win, flags, opt))
    elif kind == "udp_scan":
        body = v4(prefix, "eth0", "", mac, scanner, dst1, np.full(n, 28), tos, ttl, ipid, nodf,
                  udp(spt, ports(), np.full(n, 8)))
    elif kind == "h_sweep":
        port = int(rng.choice(SWEEP_PORTS))
        k = np.arange(n)
        hosts = (rng.permutation(254)[k % 254] + 1)
        dport = np.array(SWEEP_PORTS)[(SWEEP_PORTS.index(port) + k // 254) % len(SWEEP_PORTS)]
        body = v4(prefix, "eth0", "", mac, scanner, P(pl.our, hosts), np.full(n, 44), tos, ttl, ipid,
                  nodf, tcp(spt, dport, win, "SYN ",
                            pc.if_else(pa.array(logged), const("OPT (020405B4) ", n), const("", n))))
    elif kind == "ping_sweep":
        k = np.arange(n)
        hosts = (rng.permutation(254)[k % 254] + 1)
        proto = J("PROTO=ICMP TYPE=8 CODE=0 ID=", S(np.full(n, int(rng.integers(0, 65536)))), " SEQ=",
                  S(k // 254), " ")
        body = v4(prefix, "eth0", "", mac, scanner, P(pl.our, hosts), np.full(n, 28), tos, ttl, ipid,
                  nodf, proto)
    elif kind == "v6_syn_scan":
        tail = [np.full(n, int(rng.integers(0, 65536))) for _ in range(6)]
        src = ipv6_addr(pl, [0x2001, 0x0db8], tail)
        opt = pc.if_else(pa.array(logged), const("OPT (020405B4) ", n), const("", n))
        proto = tcp(spt, ports(), win, "SYN ", opt)
        body = J(prefix, "IN=eth0 OUT= ", P(pl.mac_in6, np.zeros(n, dtype=np.int64)), "SRC=", src,
                 " DST=2001:0db8:0000:f101:0000:0000:0000:0002 LEN=64 TC=0 HOPLIMIT=", S(ttl),
                 " FLOWLBL=0 ", proto)
    elif kind == "traceroute":
        k = np.arange(n)
        body = v4(prefix, "eth0", "", mac, scanner, dst1, np.full(n, 60), tos, 1 + (k // 3) % 30,
                  ipid, nodf, udp(spt, 33434 + (k % 90), np.full(n, 40)))
    elif kind == "port_flood":
        if rng.random() < 0.5:  # NetBIOS name queries, one port over and over
            body = v4(prefix, "eth0", "", mac, scanner, dst1, np.full(n, 78), tos, ttl, ipid, nodf,
                      udp(np.full(n, 137), np.full(n, 137), np.full(n, 58)))
        else:  # worm hammering 445 from changing source ports
            body = v4(prefix, "eth0", "", mac, scanner, dst1, np.full(n, 48), tos, ttl, ipid,
                      const("DF ", n), tcp(rng.integers(1024, 5000, n), np.full(n, 445),
                                           S(np.full(n, 64240)), "SYN ", const("", n)))
    else:
        raise ValueError(kind)
    return Block(t, host, body)


def mk_unrelated(pl, rng, t):
    n = len(t)
    rendered, kernel_flags = [], []
    for i in range(64):
        kern = i % 4 == 0
        tpl = UNRELATED_TEMPLATES_KERNEL[i % len(UNRELATED_TEMPLATES_KERNEL)] if kern else \
            UNRELATED_TEMPLATES[i % len(UNRELATED_TEMPLATES)]
        ip = pl.src[int(rng.integers(0, pl.n_src))].as_py()
        rendered.append(tpl.format(pid=int(rng.integers(300, 40000)), ip=ip,
                                   port=int(rng.integers(1024, 65536)), n=int(rng.integers(1, 200))) + "\n")
        kernel_flags.append(kern)
    idx = rng.integers(0, 64, n)
    body = pa.array(rendered).take(pa.array(idx))
    # the "\n" at the end distinguishes these bodies from kernel records' trailing space
    return Block(t, np.zeros(n), body, kernel=np.array(kernel_flags)[idx])


# --------------------------------------------------------------------------- chunks

class Plan:
    def __init__(self, lines: int, seed: int, chunk: int = CHUNK):
        self.lines, self.seed, self.chunk = lines, seed, chunk
        self.n_chunks = max(1, -(-lines // chunk))
        span = lines * MEAN_DT
        if span > 2 * 86400:
            self.start = NEW_YEAR - dt.timedelta(seconds=0.8 * span)
        else:
            self.start = SHORT_START
        self.epoch0 = self.start.replace(tzinfo=dt.timezone.utc).timestamp()
        rng = np.random.default_rng([seed, 0xB007])
        self.boot = np.array([self.epoch0 - rng.uniform(1.5, 9.0) * 86400,
                              self.epoch0 - rng.uniform(0.2, 1.0) * 86400])

    def chunk_lines(self, c: int) -> int:
        return min(self.chunk, self.lines - c * self.chunk)


def build_chunk(plan: Plan, c: int) -> bytes:
    m = plan.chunk_lines(c)
    if m <= 0:
        return b""
    pl = pools(plan.seed, plan.lines)
    rng = np.random.default_rng([plan.seed, c])
    w0 = c * plan.chunk * MEAN_DT
    w1 = w0 + m * MEAN_DT
    blocks: list[Block] = []
    n_unrel = int(round(m * UNRELATED_SHARE))
    budget = int(round(m * EPISODE_SHARE)) if m >= 50 else 0
    # episodes: round robin over a shuffled list of kinds so every kind shows up early
    kinds = list(rng.permutation(EPISODE_KINDS))
    cap = max(12, min(8000, m // 12))
    if budget < len(EPISODE_KINDS) * cap // 2:  # small chunks: room for every kind
        cap = max(12, 2 * budget // len(EPISODE_KINDS))
    used, k = 0, 0
    while used < budget:
        kind = kinds[k % len(kinds)]
        k += 1
        size = int(min(budget - used, np.exp(rng.uniform(np.log(12), np.log(cap)))))
        if size < 5:
            break
        if kind == "traceroute":
            size = min(size, 60)
        t0 = w0 + rng.uniform(0, 0.9) * (w1 - w0)
        blocks.append(mk_episode(pl, rng, kind, size, t0, w1))
        used += size
    n_noise = m - n_unrel - used
    shares = np.array(list(NOISE_KINDS.values()))
    counts = np.floor(shares / shares.sum() * n_noise).astype(int)
    counts[0] += n_noise - counts.sum()
    for (name, cnt) in zip(NOISE_KINDS, counts):
        if cnt > 0:
            blocks.append(NOISE_MAKERS[name](pl, rng, rng.uniform(w0, w1, cnt)))
    if n_unrel:
        blocks.append(mk_unrelated(pl, rng, rng.uniform(w0, w1, n_unrel)))

    t = np.concatenate([b.t for b in blocks])
    host = np.concatenate([b.host for b in blocks]).astype(np.int64)
    kern = np.concatenate([b.kernel for b in blocks])
    body = pa.chunked_array([b.body for b in blocks]).combine_chunks()
    order = np.argsort(t, kind="stable")
    t, host, kern = t[order], host[order], kern[order]
    body = body.take(pa.array(order))

    shown = plan.epoch0 + t - SKEW2 * host
    secs = np.floor(shown).astype("int64")
    stamp = pc.strftime(pa.array(secs.astype("datetime64[s]")), format="%b %e %H:%M:%S")
    up = plan.epoch0 + t - plan.boot[host]
    up_s = np.floor(up).astype(np.int64)
    up_us = np.floor((up - up_s) * 1e6).astype(np.int64)
    uptime = J("kernel: [", pc.utf8_lpad(S(up_s), 5, " "), ".", pc.utf8_lpad(S(up_us), 6, "0"), "] ")
    tag = pc.if_else(pa.array(kern), uptime, const("", m))
    hosts = pa.array(HOSTS).take(pa.array(host))
    # kernel records end in the kernel's trailing space; unrelated bodies carry their own "\n"
    ends_nl = pc.ends_with(body, "\n")
    eol = pc.if_else(ends_nl, const("", m), const("\n", m))
    lines = J(stamp, " ", hosts, " ", tag, body, eol)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    data = lines.buffers()[2]
    return data.to_pybytes()[offsets[0]:offsets[-1]]


def _work(args):
    plan, c = args
    return build_chunk(plan, c)


def generate(lines: int, out: str, seed: int = 7, chunk: int = CHUNK, jobs: int | None = None) -> None:
    plan = Plan(lines, seed, chunk)
    jobs = jobs or min(os.cpu_count() or 1, plan.n_chunks)
    tmp = out + ".part"
    with open(tmp, "wb", buffering=16 << 20) as fh:
        if jobs <= 1:
            for c in range(plan.n_chunks):
                fh.write(build_chunk(plan, c))
        else:
            ctx = mp.get_context("fork")
            with ctx.Pool(jobs) as pool:
                for data in pool.imap(_work, ((plan, c) for c in range(plan.n_chunks))):
                    fh.write(data)
    os.replace(tmp, out)
    stamp(out, lines, seed, chunk)


def last_time(path: str, lines: int, seed: int = 7, chunk: int = CHUNK) -> dt.datetime:
    """The time stamp of the file's last line (syslog lines carry no year: the plan's)."""
    with open(path, "rb") as fh:
        fh.seek(max(0, os.path.getsize(path) - 65536))
        last = fh.read().rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    plan = Plan(lines, seed, chunk)
    t = dt.datetime.strptime(f"{plan.start.year} {last[:15]}", "%Y %b %d %H:%M:%S")
    if t.month < plan.start.month:   # the file crossed the new year
        t = t.replace(year=t.year + 1)
    return t.replace(tzinfo=dt.timezone.utc)


def stamp(path: str, lines: int, seed: int = 7, chunk: int = CHUNK) -> None:
    """Give the file the modification time a syslog file has: that of its last line (plus a
    minute: the second firewall's clock runs behind). Readers guess the year of syslog time stamps from it; with the time of generation
    instead, whether a file that crosses a new year gets its years right at once or only after a
    fix-up over the whole table would depend on the day the benchmark data was made."""
    t = last_time(path, lines, seed, chunk).timestamp() + 60
    os.utime(path, (t, t))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", required=True, help="number of lines: 2000, 10k, 1m, 10m")
    ap.add_argument("--out", required=True, help="output file")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=None, help="processes (default: every core)")
    args = ap.parse_args(argv)
    n = parse_count(args.lines)
    t0 = time.perf_counter()
    generate(n, args.out, args.seed, jobs=args.jobs)
    el = time.perf_counter() - t0
    size = os.path.getsize(args.out)
    print(f"{n} lines, {size} bytes ({size / max(n, 1):.0f} B/line) in {el:.1f} s -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
