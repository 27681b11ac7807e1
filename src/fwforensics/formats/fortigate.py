"""Fortinet FortiGate (FortiOS) key=value logs: ``type=traffic`` sessions and ``type=utm`` /
``anomaly`` attack records.

``date=2019-05-10 time=11:37:47 ... type="traffic" subtype="forward" srcip=a srcport=p
srcintf="port12" dstip=b dstport=q dstintf="port11" proto=6 action="close" policyid=1 ...``
Times are the device's local time; a ``tz="-0800"`` field is used when present,
otherwise ``--tz``. Event logs (``type=event``: VPN, admin logins, system) are skipped.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import join
from ._fwbase import LineFormat, actions, ints, ips, kv, matches, only_tcp, ports, proto_cols, ts_from_text

_S = pa.string()
_REC = r"(?:^|\s)type=\"?(?:traffic|utm|anomaly)\"?\s.*\bsrcip="


def _action(a: str) -> str:
    a = a.lower()
    if a in ("deny", "blocked", "dropped", "block", "drop", "clear_session"):
        return "drop"
    if a in ("reset", "reject"):
        return "reject"
    if a in ("accept", "close", "timeout", "server-rst", "client-rst", "ip-conn", "pass", "passthrough", "start",
             "allow", "allowed"):
        return "accept"
    return "other"


class Fortigate(LineFormat):
    name = "fortigate"
    description = "Fortinet FortiGate key=value logs (traffic, utm/ips, anomaly)"
    example = ('date=2019-05-10 time=11:37:47 logid="0000000013" type="traffic" subtype="forward" srcip=192.0.2.11 '
               'srcport=58012 srcintf="port12" dstip=198.51.100.142 dstport=80 dstintf="port11" proto=6 action="close" policyid=1')

    def records(self, work):
        return matches(work, _REC)

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"(?:^|\s)(?:date|logid|devname)=\S"))

    def vendor(self, work):
        return pc.or_(self.records(work), matches(work, r'(?:^|\s)logid="?\d{10}"?\s.*\btype="?\w+'))

    def convert(self, rec, ctx: ParseContext):
        def k(key):
            return kv(rec, key)
        date, time, tz = k("date"), k("time"), k("tz")
        cols = {"ts": ts_from_text(join(date, " ", time), ctx, pc.fill_null(tz, "")),
                "ts_raw": join(date, " ", time), "log_host": k("devname")}
        cols.update(proto_cols(k("proto")))
        act = pc.coalesce(k("action"), k("utmaction"))
        cols.update({
            "src_ip": ips(k("srcip")), "dst_ip": ips(k("dstip")),
            "src_port": ports(k("srcport")), "dst_port": ports(k("dstport")),
            "in_if": k("srcintf"), "out_if": k("dstintf"),
            "rule": pc.coalesce(k("attack"), k("policyname"), k("policyid")),
            "action": actions(act, _action),
            "icmp_type": ints(k("icmptype"), pa.int16()), "icmp_code": ints(k("icmpcode"), pa.int16()),
        })
        is_icmp = pc.fill_null(pc.match_substring(cols["proto"], "icmp"), False)
        for p in ("src_port", "dst_port"):
            cols[p] = pc.if_else(is_icmp, pa.scalar(None, pa.int32()), cols[p])
        only_tcp(cols, cols["proto"])
        return cols, pc.or_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))


FORMAT = Fortigate()
