"""WatchGuard Firebox traffic syslog (``msg_id="3000-0148" Allow ...``).

``firewall[10]: msg_id="3000-0148" Allow 1-Trusted 0-External 52 tcp 20 127 a b 62443 80
offset 8 S 832026162 win 8192 (HTTP-00)``: verdict, source and destination interface,
[packet length, protocol, IP header length, TTL,] source, destination, ports, [TCP offset,
flags, sequence, window,] extra key="value" pairs and the policy name in parentheses.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._fwbase import (LineFormat, actions, flag_cols, group, ints, ips, matches, only_tcp, ports, proto_cols,
                      syslog_head)

_RE = (r"msg_id=\"(?P<mid>[0-9A-F]{4}-[0-9A-F]{4})\" (?P<act>Allow|Deny|Drop|Block) (?P<sif>\S+) (?P<dif>\S+) "
       r"(?:(?P<len>\d+) )?(?P<proto>[a-z]+|\d+)/?\S* (?:(?P<hlen>\d+) (?P<ttl>\d+) )?(?P<src>[0-9a-fA-F.:]+) "
       r"(?P<dst>[0-9a-fA-F.:]+)(?: (?P<sport>\d+) (?P<dport>\d+))?"
       r"(?: offset \d+ (?P<flags>[A-Z]+) (?P<seq>\d+) win (?P<win>\d+))?")
_RULE = r"\((?P<rule>[^()]*)\)\s*$"


class Watchguard(LineFormat):
    name = "watchguard"
    description = "WatchGuard Firebox traffic syslog"
    example = ('<142>May 10 15:19:06 Firebox FVE6035FD3AE3 (2024-01-10T09:49:05) firewall[10]: msg_id="3000-0148" '
               'Allow 1-Trusted 0-External 52 tcp 20 127 192.0.2.2 198.51.100.192 62443 80 offset 8 S 832026162 win 8192 (HTTP-00)')

    def records(self, work):
        return matches(work, r"msg_id=\"[0-9A-F]{4}-[0-9A-F]{4}\" (?:Allow|Deny|Drop|Block) ")

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"msg_id=\""))

    def vendor(self, work):
        return pc.or_(self.records(work), matches(work, r'msg_id="[0-9A-F]{4}-[0-9A-F]{4}"'))

    def convert(self, rec, ctx: ParseContext):
        st = pc.extract_regex(rec, _RE)
        g = {k: group(st, k) for k in ("act", "sif", "dif", "len", "proto", "ttl", "src", "dst", "sport", "dport",
                                       "flags", "seq", "win")}
        cols = syslog_head(rec, ctx)
        cols.update(proto_cols(g["proto"]))
        cols.update({
            "action": actions(g["act"]), "in_if": g["sif"], "out_if": g["dif"],
            "src_ip": ips(g["src"]), "dst_ip": ips(g["dst"]),
            "src_port": ports(g["sport"]), "dst_port": ports(g["dport"]),
            "ip_len": ints(g["len"], pa.int32()), "ttl": ints(g["ttl"], pa.int16()),
            "tcp_seq": ints(g["seq"]), "tcp_window": ints(g["win"], pa.int32()),
            "rule": group(pc.extract_regex(rec, _RULE), "rule"),
        })
        cols.update(flag_cols(g["flags"], letters=True))
        only_tcp(cols, cols["proto"])
        return cols, st.is_valid()


FORMAT = Watchguard()
