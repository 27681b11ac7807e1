"""SonicWall (SonicOS) key=value syslog.

``id=firewall sn=SERIAL time="2007-01-03 14:48:06" fw=a pri=6 c=262144 m=98 msg="Connection
Opened" n=1 src=a:p:IF dst=b:q:IF proto=tcp/50000 [type=3 code=3] [fw_action="drop"]``.
IPv6 addresses come as ``srcV6=``/``dstV6=`` with ``src=:port:IF``. Every message with a
source and destination is read; the verdict comes from ``fw_action`` or the message text
(dropped / denied / blocked -> drop, opened / closed / allowed -> accept).
"""
from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._fwbase import (LineFormat, action_word, actions, group, ints, ips, kv, matches, ports, proto_cols, syslog_head,
                      ts_from_text)

_S = pa.string()
_EP = r"^(?P<ip>[^:\s]*)(?::(?P<port>\d*))?(?::(?P<if>[^\s:]*))?"


def _action(fa_msg: str) -> str:
    fa, _, msg = fa_msg.partition("|")
    if fa and fa.upper() != "NA":
        return action_word(fa)
    m = msg.lower()
    if re.search(r"drop|denied|deny|block|discard|reject", m):
        return "reject" if "reject" in m else "drop"
    if re.search(r"connection (opened|closed)|allowed|permitted|accept", m):
        return "accept"
    return "other"


class Sonicwall(LineFormat):
    name = "sonicwall"
    description = "SonicWall SonicOS key=value syslog"
    example = ('id=firewall sn=000SERIAL time="2007-01-03 14:48:06" fw=192.0.2.4 pri=6 c=262144 m=98 '
               'msg="Connection Opened" n=23419 src=203.0.113.57:36701:WAN dst=192.0.2.4:50000:WAN proto=tcp/50000')

    def records(self, work):
        return matches(work, r"(?:^|\s)id=\S+\s+sn=\S+.*\ssrc(?:V6)?=\S*.*\sdst(?:V6)?=")

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"(?:^|\s)id=\S+\s+sn=\S+"))

    def vendor(self, work):
        return pc.or_(self.records(work), matches(work, r'(?:^|\s)id=\S+\s+sn=\S+\s+time='))

    def convert(self, rec, ctx: ParseContext):
        def k(key):
            return kv(rec, key)
        s = pc.extract_regex(pc.fill_null(k("src"), ""), _EP)
        d = pc.extract_regex(pc.fill_null(k("dst"), ""), _EP)
        head = syslog_head(rec, ctx)
        t = k("time")
        tz = pc.fill_null(pc.extract_regex(pc.fill_null(t, ""), r" (?P<z>UTC|GMT|[+-]\d\d:?\d\d)$").field("z"), "")
        t = pc.replace_substring_regex(t, r" (?:UTC|GMT|[+-]\d\d:?\d\d)$", "")
        cols = {"ts": pc.coalesce(ts_from_text(t, ctx, tz), head["ts"]),
                "ts_raw": pc.coalesce(k("time"), head["ts_raw"]), "log_host": head["log_host"]}
        proto = pc.replace_substring_regex(k("proto"), r"/.*$", "")
        cols.update(proto_cols(proto))
        msg = pc.fill_null(k("msg"), "")
        cols.update({
            "src_ip": ips(pc.coalesce(k("srcV6"), group(s, "ip"))),
            "dst_ip": ips(pc.coalesce(k("dstV6"), group(d, "ip"))),
            "src_port": ports(group(s, "port")), "dst_port": ports(group(d, "port")),
            "in_if": group(s, "if"), "out_if": group(d, "if"),
            "mac_src": k("srcMac"), "mac_dst": k("dstMac"),
            "rule": pc.coalesce(k("rule"), k("msg")),
            "action": actions(pc.binary_join_element_wise(pc.fill_null(k("fw_action"), ""), msg, "|"), _action),
            "icmp_type": ints(k("type"), pa.int16()), "icmp_code": ints(k("code"), pa.int16()),
        })
        is_icmp = pc.fill_null(pc.match_substring(cols["proto"], "icmp"), False)
        for p in ("icmp_type", "icmp_code"):
            cols[p] = pc.if_else(is_icmp, cols[p], pa.scalar(None, pa.int16()))
        # SonicWall fills icmp_type only in the ICMP-dropped message, where proto is absent
        icmp_msg = pc.fill_null(pc.match_substring(msg, "ICMP"), False)
        cols["icmp_type"] = pc.if_else(icmp_msg, ints(k("type"), pa.int16()), cols["icmp_type"])
        cols["icmp_code"] = pc.if_else(icmp_msg, ints(k("code"), pa.int16()), cols["icmp_code"])
        no_proto = pc.and_(icmp_msg, pc.is_null(cols["proto"]))
        cols["proto"] = pc.if_else(no_proto, pa.scalar("icmp", _S), cols["proto"])
        cols["proto_num"] = pc.if_else(no_proto, pa.scalar(1, pa.int16()), cols["proto_num"])
        for p in ("src_port", "dst_port"):
            cols[p] = pc.if_else(pc.fill_null(pc.match_substring(cols["proto"], "icmp"), False),
                                 pa.scalar(None, pa.int32()), cols[p])
        return cols, pc.or_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))


FORMAT = Sonicwall()
