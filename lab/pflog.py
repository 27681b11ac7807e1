"""Turn a lab scenario's real capture into the pf log of the same traffic.

    python lab/pflog.py SCENARIO.pcap SCENARIO.log OUT.pflog [--all] [--text OUT.txt]

The lab firewall is Linux netfilter (``tests/fixtures/lab/firewall.rules``); this writes
what an OpenBSD/FreeBSD pf firewall with the same policy would have written to
``/var/log/pflog``: a pcap of link type PFLOG (117) holding the captured packets, each
behind OpenBSD's ``struct pfloghdr`` (``net/if_pflog.h``).  ``--text`` then runs the real
``tcpdump -e -n -r`` over it, so the text is exactly what a pf user reads.

The pf ruleset that matches the netfilter one (rule numbers as ``pfctl -vvsr`` counts):

    @0 block drop in log quick on eth0 from <martians> to any      # FWF-ANTISPOOF
    @1 block drop log all                                          # FWF-DROP (policy)
    @2 pass in log (all) on eth0 proto tcp to 192.0.2.10 port 80   # accepted inbound
    @3 pass out log (all) on eth0                                  # outbound, replies

A packet is ``block`` exactly when the netfilter log holds its record: the two are paired
on the IP header (addresses, protocol, IP ID, TTL, total length and ports), so the pf log
sees the very packets netfilter logged, with the rule of its prefix.  By default only those
are written (``block log``, the usual pf setup: passes are not logged); with ``--all`` the
passed packets follow as ``pass in``/``pass out`` (``log (all)`` on the pass rules), so the
pf log holds every IP packet of the capture.  Direction: a frame sent from the firewall's
own MAC address (the destination MAC in the netfilter ``MAC=`` field) went out.
"""
from __future__ import annotations

import argparse
import collections
import ipaddress
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

LINKTYPE_PFLOG = 117
PF_PASS, PF_DROP = 0, 1
PF_IN, PF_OUT = 1, 2
RULE_ANTISPOOF, RULE_DROP, RULE_PASS_IN, RULE_PASS_OUT = 0, 1, 2, 3
PREFIX_RULES = {"FWF-ANTISPOOF": RULE_ANTISPOOF, "FWF-DROP": RULE_DROP}
IFNAME = "eth0"

_KV = re.compile(r"\b(OUT|SRC|DST|LEN|TTL|ID|PROTO|SPT|DPT|HOPLIMIT|MAC)=(\S*)")
_PREFIX = re.compile(r"\] (FWF-[A-Z]+) IN=")
_PROTO_NUM = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58}


def pflog_header(af: int, action: int, rulenr: int, direction: int, ifname: str = IFNAME,
                 reason: int = 0) -> bytes:
    """OpenBSD ``struct pfloghdr``: 61 bytes, padded to 64 (BPF_WORDALIGN) as pflogd writes it."""
    body = struct.pack("!BBB", af, action, reason) + ifname.encode()[:15].ljust(16, b"\0") + b"\0" * 16
    body += struct.pack("!IIIiIiB3x", rulenr, 0xFFFFFFFF, 0, 0, 0, 0, direction)
    hdr = struct.pack("!B", 1 + len(body)) + body
    return hdr + b"\0" * (64 - len(hdr))


def _key(src: str, dst: str, proto: int, ip_id, ttl: int, length: int, sport, dport) -> tuple:
    return (src, dst, proto, ip_id, ttl, length, sport, dport)


def log_keys(log_text: str) -> tuple[collections.Counter, str | None, int]:
    """The netfilter records as pairing keys -> (key, prefix) counts; the firewall's MAC; lines."""
    keys: collections.Counter = collections.Counter()
    fw_mac = None
    n = 0
    for line in log_text.splitlines():
        pm = _PREFIX.search(line)
        if not pm:
            continue
        n += 1
        kv: dict[str, str] = {}
        for k, v in _KV.findall(line.split(" [SRC=")[0]):  # not the ICMP error's quoted packet   # the IP header's LEN= and ID= come first (UDP LEN=, ICMP ID= later)
            kv.setdefault(k, v)
        proto = _PROTO_NUM.get(kv.get("PROTO", ""), None)
        if proto is None:
            proto = int(kv["PROTO"]) if kv.get("PROTO", "").isdigit() else -1
        v6 = "HOPLIMIT" in kv
        src = str(ipaddress.ip_address(kv["SRC"]))
        dst = str(ipaddress.ip_address(kv["DST"]))
        ttl = int(kv["HOPLIMIT"] if v6 else kv["TTL"])
        if kv.get("OUT"):   # the FORWARD chain logs after routing took one off the TTL
            ttl += 1
        ip_id = None if v6 else int(kv["ID"])
        length = int(kv["LEN"])
        sport = int(kv["SPT"]) if "SPT" in kv else None
        dport = int(kv["DPT"]) if "DPT" in kv else None
        keys[(_key(src, dst, proto, ip_id, ttl, length, sport, dport), pm.group(1))] += 1
        if fw_mac is None and len(kv.get("MAC", "")) >= 17:
            fw_mac = kv["MAC"][:17].lower()
    return keys, fw_mac, n


@dataclass
class Conversion:
    blocked: int = 0
    passed_in: int = 0
    passed_out: int = 0
    not_ip: int = 0
    log_records: int = 0
    unmatched: list = field(default_factory=list)   # netfilter records not found in the capture
    by_rule: collections.Counter = field(default_factory=collections.Counter)


def _packet_key(ip) -> tuple:
    l4 = ip.data
    sport = dport = None
    if isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
        sport, dport = l4.sport, l4.dport
    if isinstance(ip, dpkt.ip6.IP6):
        return _key(str(ipaddress.ip_address(ip.src)), str(ipaddress.ip_address(ip.dst)), ip.nxt, None,
                    ip.hlim, ip.plen + 40, sport, dport)
    if ip.offset:                           # a later fragment carries no ports
        sport = dport = None
    return _key(str(ipaddress.ip_address(ip.src)), str(ipaddress.ip_address(ip.dst)), ip.p, ip.id,
                ip.ttl, ip.len, sport, dport)


def convert(pcap: Path, log: Path, out: Path, log_all: bool = False) -> Conversion:
    keys, fw_mac, n = log_keys(log.read_text(errors="replace"))
    res = Conversion(log_records=n)
    fw_mac_bytes = bytes.fromhex(fw_mac.replace(":", "")) if fw_mac else None
    with pcap.open("rb") as fin, out.open("wb") as fout:
        reader = dpkt.pcap.Reader(fin)
        writer = dpkt.pcap.Writer(fout, snaplen=reader.snaplen, linktype=LINKTYPE_PFLOG,
                                  nano=getattr(reader, "_divisor", 1e6) == 1e9)
        for ts, buf in reader:
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                res.not_ip += 1
                continue
            af = socket.AF_INET if isinstance(ip, dpkt.ip.IP) else 24   # OpenBSD AF_INET6 is 24
            raw = bytes(buf[14:14 + (ip.len if af == socket.AF_INET else ip.plen + 40)])
            k = _packet_key(ip)
            prefix = next((p for p in PREFIX_RULES if keys.get((k, p), 0) > 0), None)
            if prefix is not None:
                keys[(k, prefix)] -= 1
                rule = PREFIX_RULES[prefix]
                hdr = pflog_header(af, PF_DROP, rule, PF_IN)
                res.blocked += 1
                res.by_rule[rule] += 1
            else:
                outward = fw_mac_bytes is not None and eth.src == fw_mac_bytes
                if outward:
                    res.passed_out += 1
                else:
                    res.passed_in += 1
                if not log_all:
                    continue
                rule = RULE_PASS_OUT if outward else RULE_PASS_IN
                hdr = pflog_header(af, PF_PASS, rule, PF_OUT if outward else PF_IN)
                res.by_rule[rule] += 1
            writer.writepkt(hdr + raw, ts=ts)
    res.unmatched = [k for k, c in keys.items() if c > 0 for _ in range(c)]
    return res


TCPDUMP_STYLES = {
    "tttt": ["-tttt"],          # 2026-11-22 03:52:17.357775 (date and time; FreeBSD users' choice)
    "tt": ["-tt"],              # 1795319537.357775 (epoch seconds)
    "default": [],              # 03:52:17.357775 (time of day only: no date)
    "tttt-v": ["-tttt", "-v"],  # -v: IP header (ttl, id, length, options) on the line, packet on the next
}


def tcpdump_text(pflog: Path, style: str = "tttt") -> str:
    """The real tcpdump's reading of a pflog file (UTC), as ``tcpdump -e -n [opts] -r FILE``."""
    exe = shutil.which("tcpdump")
    if not exe:
        raise FileNotFoundError("tcpdump is not installed")
    env = dict(os.environ, TZ="UTC")
    cp = subprocess.run([exe, "-e", "-n", *TCPDUMP_STYLES[style], "-r", str(pflog)],
                        capture_output=True, text=True, env=env, timeout=120)
    if cp.returncode != 0:
        raise RuntimeError(f"tcpdump failed ({cp.returncode}): {cp.stderr[-500:]}")
    return cp.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pcap", type=Path)
    ap.add_argument("log", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--all", action="store_true", help="also log the passed packets (pass ... log (all))")
    ap.add_argument("--text", type=Path, help="write tcpdump -e -n -r output of the pflog here")
    ap.add_argument("--style", choices=sorted(TCPDUMP_STYLES), default="tttt")
    a = ap.parse_args(argv)
    res = convert(a.pcap, a.log, a.out, a.all)
    print(f"{res.blocked} blocked, {res.passed_in} passed in, {res.passed_out} passed out, "
          f"{res.not_ip} not IP; {len(res.unmatched)} of {res.log_records} netfilter records not in the capture",
          file=sys.stderr)
    if a.text:
        a.text.write_text(tcpdump_text(a.out, a.style))
    return 1 if res.unmatched else 0


if __name__ == "__main__":
    sys.exit(main())
