"""IP Filter (ipf) ``ipmon`` log lines, as written to a file or to syslog.

``17/07/2024 12:00:00.123456 2x le0 @0:1 b 203.0.113.9,40000 -> 192.0.2.10,23 PR tcp len 20
40 -S IN``: date (day/month/year) and time, optional repeat count, interface,
``@group:rule``, action letter (``p`` pass, ``b`` block, ``S`` short, ``n`` no match,
``L`` log only, ``B`` blocked by state), ``src,port -> dst,port``, ``PR proto``,
``len`` header and total length, TCP flags after ``-``, or ``icmp type/code``, and
``IN`` / ``OUT``. The layout is ``print_ipflog()`` in ipmon.c (Darren Reed's IP Filter).
Ports may be service names when ipmon ran without ``-n``; the common ones are mapped.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import join, map_unique
from ._fwbase import (LineFormat, flag_cols, group, ints, ips, matches, only_tcp, proto_cols, syslog_head,
                      ts_from_text)
from .cisco_asa import _port

_S = pa.string()
_RE = (r"(?:(?P<d>\d\d)/(?P<m>\d\d)/(?P<y>\d{4}) )?(?P<time>\d\d:\d\d:\d\d(?:\.\d+)?) +(?:(?P<count>\d+)x +)?"
       r"(?P<iface>\S+) @(?P<grp>-?\d+):(?P<rule>-?\d+) (?P<act>[pbBSLnD]) (?P<src>[^\s,]+)(?:,(?P<sport>[^\s,]+))? -> "
       r"(?P<dst>[^\s,]+)(?:,(?P<dport>\S+))? PR (?P<proto>\S+) len (?P<hlen>\d+) (?P<len>\d+)"
       r"(?: -(?P<flags>[A-Z]+))?(?: icmp (?P<itype>\d+)/(?P<icode>\d+))?.*?(?: (?P<dir>IN|OUT))?(?: .*)?$")
_ACT = {"p": "accept", "b": "drop", "B": "drop", "S": "drop", "n": "other", "L": "other", "D": "drop"}


class Ipmon(LineFormat):
    name = "ipmon"
    description = "IP Filter (ipf) ipmon log lines"
    example = "17/07/2024 12:00:00.123456 le0 @0:1 b 203.0.113.9,40000 -> 192.0.2.10,23 PR tcp len 20 40 -S IN"

    def records(self, work):
        return matches(work, r"\S+ @-?\d+:-?\d+ [pbBSLnD] [^\s,]+(?:,\S+)? -> [^\s,]+(?:,\S+)? PR ")

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"ipmon\[\d+\]:|^\d\d/\d\d/\d{4} "))

    def convert(self, rec, ctx: ParseContext):
        st = pc.extract_regex(rec, _RE)
        g = {k: group(st, k) for k in ("d", "m", "y", "time", "iface", "rule", "act", "src", "sport", "dst", "dport",
                                       "proto", "len", "flags", "itype", "icode", "dir")}
        head = syslog_head(rec, ctx)
        own = ts_from_text(join(g["y"], "-", g["m"], "-", g["d"], " ", g["time"]), ctx)
        cols = {"ts": pc.coalesce(own, head["ts"]), "ts_raw": pc.coalesce(join(g["d"], "/", g["m"], "/", g["y"], " ",
                                                                              g["time"]), head["ts_raw"]),
                "log_host": head["log_host"]}
        cols.update(proto_cols(g["proto"]))
        out = pc.fill_null(pc.equal(g["dir"], "OUT"), False)
        cols.update({
            "rule": g["rule"], "action": pc.fill_null(map_unique(g["act"], _ACT.get, _S), "other"),
            "src_ip": ips(g["src"]), "dst_ip": ips(g["dst"]),
            "src_port": map_unique(g["sport"], _port, pa.int32()), "dst_port": map_unique(g["dport"], _port, pa.int32()),
            "in_if": pc.if_else(out, pa.scalar(None, _S), g["iface"]),
            "out_if": pc.if_else(out, g["iface"], pa.scalar(None, _S)),
            "ip_len": ints(g["len"], pa.int32()),
            "icmp_type": ints(g["itype"], pa.int16()), "icmp_code": ints(g["icode"], pa.int16()),
        })
        cols.update(flag_cols(g["flags"], letters=True))
        only_tcp(cols, cols["proto"])
        return cols, st.is_valid()


FORMAT = Ipmon()
