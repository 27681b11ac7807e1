"""Barracuda (WAF / CloudGen) ``NF`` network-firewall syslog lines.

``<129>2023-03-09 13:56:18.404 +0100  barracuda NF ALER TCP 198.51.100.144 57296 192.0.2.4 80
DENY SSH_ATTACK_SOURCES MGMT/LAN/WAN interface traffic:deny``: log level, protocol,
source, source port, destination, destination port, verdict, ACL name, interface text.
"""
from __future__ import annotations

import pyarrow.compute as pc

from . import ParseContext
from ._fwbase import LineFormat, actions, group, ips, matches, ports, proto_cols, syslog_head

_RE = (r"\sNF (?P<lvl>\w+) (?P<proto>\w+) (?P<src>[0-9a-fA-F.:]+) (?P<sport>\d+) (?P<dst>[0-9a-fA-F.:]+) "
       r"(?P<dport>\d+) (?P<act>\w+) (?P<rule>\S+)(?: (?P<iface>\S+))?")


class Barracuda(LineFormat):
    name = "barracuda"
    description = "Barracuda WAF / CloudGen NF network-firewall syslog"
    example = ("<129>2023-03-09 13:56:18.404 +0100  barracuda NF ALER TCP 198.51.100.144 57296 192.0.2.4 80 DENY "
               "SSH_ATTACK_SOURCES MGMT/LAN/WAN interface traffic:deny")

    def records(self, work):
        return matches(work, r"\sNF \w+ \w+ [0-9a-fA-F.:]+ \d+ [0-9a-fA-F.:]+ \d+ \w+ ")

    def convert(self, rec, ctx: ParseContext):
        st = pc.extract_regex(rec, _RE)
        cols = syslog_head(rec, ctx)
        cols.update(proto_cols(group(st, "proto")))
        cols.update({"src_ip": ips(group(st, "src")), "dst_ip": ips(group(st, "dst")),
                     "src_port": ports(group(st, "sport")), "dst_port": ports(group(st, "dport")),
                     "action": actions(group(st, "act")), "rule": group(st, "rule"), "in_if": group(st, "iface")})
        return cols, st.is_valid()


FORMAT = Barracuda()
