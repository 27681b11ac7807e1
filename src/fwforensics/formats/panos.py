"""Palo Alto Networks PAN-OS syslog CSV, ``TRAFFIC`` and ``THREAT`` logs.

``FUTURE_USE,receive_time,serial,type,subtype,FUTURE_USE,generated_time,src,dst,natsrc,
natdst,rule,srcuser,dstuser,app,vsys,from_zone,to_zone,inbound_if,outbound_if,log_action,
FUTURE_USE,session_id,repeat_count,sport,dport,natsport,natdport,flags,proto,action,...``
(the field order of PAN-OS 8-11; later fields differ between TRAFFIC and THREAT and are
not needed here). ``SYSTEM`` / ``CONFIG`` and other log types are skipped.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._fwbase import LineFormat, actions, group, ips, matches, ports, proto_cols, syslog_head, ts_from_text

_F = r"(?:\"[^\"]*\"|[^,]*)"
_RE = (r"(?:^|\s)\d*,(?P<rtime>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d),(?P<serial>[^,]*),(?P<type>TRAFFIC|THREAT),(?P<sub>[^,]*),"
       r"[^,]*,(?P<gtime>[^,]*),(?P<src>[^,]*),(?P<dst>[^,]*),[^,]*,[^,]*,(?P<rule>" + _F + r"),"
       + _F + r"," + _F + r",(?P<app>[^,]*),[^,]*,(?P<fz>[^,]*),(?P<tz>[^,]*),(?P<inif>[^,]*),(?P<outif>[^,]*),"
       r"[^,]*,[^,]*,(?P<sid>[^,]*),[^,]*,(?P<sport>[^,]*),(?P<dport>[^,]*),[^,]*,[^,]*,[^,]*,(?P<proto>[^,]*),"
       r"(?P<act>[^,]*)(?:,(?P<misc>" + _F + r"))?")


def _action(a: str) -> str:
    a = a.lower()
    if a.startswith("reset"):
        return "reject"
    if a in ("deny", "drop", "drop-icmp", "drop-all-packets", "block-url", "block", "sinkhole", "block-ip",
             "drop-all", "block-continue", "block-override"):
        return "drop"
    if a in ("allow", "alert", "continue", "override"):
        return "accept" if a == "allow" else "other"
    return "other"


class Panos(LineFormat):
    name = "panos"
    description = "Palo Alto Networks PAN-OS syslog CSV (TRAFFIC and THREAT logs)"
    example = ("Nov 30 16:09:08 PA-220 1,2018/11/30 16:09:07,012801096514,TRAFFIC,end,2049,2018/11/30 16:09:07,"
               "192.0.2.207,198.51.100.1,192.0.2.63,198.51.100.1,new_outbound_from_trust,,,ssl,vsys1,trust,untrust,"
               "ethernet1/2,ethernet1/1,send_to_mac,2018/11/30 16:09:07,22751,1,55113,443,16418,443,0x400053,tcp,allow,...")
    bad_reason = "PAN-OS record with too few fields"

    def records(self, work):
        return matches(work, r"(?:^|\s)\d*,\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,(?:TRAFFIC|THREAT),")

    def skippable(self, work):
        return pc.or_(super().skippable(work),
                      matches(work, r"(?:^|\s)\d*,\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,[A-Z]+,"))

    def vendor(self, work):
        return pc.or_(self.records(work), matches(work, r'(?:^|\s)\d*,\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,[A-Z]+,'))

    def convert(self, rec, ctx: ParseContext):
        st = pc.extract_regex(rec, _RE)
        g = {k: group(st, k) for k in ("rtime", "type", "sub", "gtime", "src", "dst", "rule", "app", "inif", "outif",
                                       "sport", "dport", "proto", "act", "misc")}
        head = syslog_head(rec, ctx)
        cols = {"ts": pc.coalesce(ts_from_text(g["gtime"], ctx), ts_from_text(g["rtime"], ctx)),
                "ts_raw": pc.coalesce(g["gtime"], g["rtime"]), "log_host": head["log_host"]}
        cols.update(proto_cols(g["proto"]))
        rule = pc.replace_substring_regex(g["rule"], r'^"|"$', "")
        is_threat = pc.fill_null(pc.equal(g["type"], "THREAT"), False)
        misc = pc.replace_substring_regex(g["misc"], r'^"|"$', "")
        cols.update({
            "src_ip": ips(g["src"]), "dst_ip": ips(g["dst"]),
            "src_port": ports(g["sport"]), "dst_port": ports(g["dport"]),
            "in_if": g["inif"], "out_if": g["outif"],
            "rule": pc.if_else(is_threat, pc.coalesce(misc, rule), rule),
            "action": actions(g["act"], _action),
        })
        is_icmp = pc.fill_null(pc.match_substring(cols["proto"], "icmp"), False)
        for p in ("src_port", "dst_port"):
            cols[p] = pc.if_else(is_icmp, pa.scalar(None, pa.int32()), cols[p])
        return cols, pc.and_(st.is_valid(), pc.or_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"])))


FORMAT = Panos()
