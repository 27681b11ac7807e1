"""Check Point Log Exporter syslog (``[key:"value"; key:"value"; ...]``, RFC 5424 wrapper).

``<134>1 2025-01-21T09:36:10Z gw CheckPoint 16953 - [action:"Drop"; ifdir:"inbound";
ifname:"eth0"; src:"a"; dst:"b"; proto:"6"; s_port:"p"; service:"q"; rule_name:"x" ...]``.
Optimized-drop summaries carry ``packets:"<src,sport,dst,dport,proto;if> ..."`` instead
of src/dst: the first listed packet fills the address and port fields (one record per
line; the list itself stays in ``raw``). Records without any address (VPN key
exchange, system notices) are skipped.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._fwbase import (LineFormat, action_word, actions, epoch_ts, group, ips, kv, matches, ports, proto_cols,
                      syslog_head)

_S = pa.string()
_PKT = r"packets:\" ?<(?P<src>[^,>]+),(?P<sport>\d*),(?P<dst>[^,>]+),(?P<dport>\d*),(?P<proto>\d*)(?:;(?P<if>[^>]*))?>"


def _action(a: str) -> str:
    a = a.lower()
    if a in ("drop", "block", "prevent"):
        return "drop"
    if a == "reject":
        return "reject"
    if a in ("accept", "allow", "encrypt", "decrypt", "key install"):
        return "accept"
    return action_word(a) if a in ("deny",) else "other"


class Checkpoint(LineFormat):
    name = "checkpoint"
    description = "Check Point Log Exporter syslog ([key:\"value\"; ...])"
    example = ('<134>1 2025-01-21T09:36:10Z gw CheckPoint 16953 - [action:"Drop"; ifdir:"inbound"; ifname:"eth0"; '
               'src:"192.0.2.142"; dst:"198.51.100.144"; proto:"6"; s_port:"59912"; service:"1990"; rule_name:"Cleanup rule"]')

    def records(self, work):
        return matches(work, r"CheckPoint \S+ - \[.*(?:[\[ ]src:\"|[\[ ]dst:\"|packets:\" ?<)")

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"CheckPoint \S+ - \["))

    def vendor(self, work):
        return pc.or_(self.records(work), matches(work, r'CheckPoint \S+ - \['))

    def convert(self, rec, ctx: ParseContext):
        def k(key):
            return kv(rec, key, sep=":")
        p = pc.extract_regex(rec, _PKT)
        cols = syslog_head(rec, ctx)
        cols["ts"] = pc.coalesce(cols["ts"], epoch_ts(k("time")))
        cols.update(proto_cols(pc.coalesce(k("proto"), group(p, "proto"))))
        inbound = pc.fill_null(pc.equal(k("ifdir"), "inbound"), True)
        ifname = pc.coalesce(k("ifname"), group(p, "if"))
        cols.update({
            "src_ip": ips(pc.coalesce(k("src"), group(p, "src"))),
            "dst_ip": ips(pc.coalesce(k("dst"), group(p, "dst"))),
            "src_port": ports(pc.coalesce(k("s_port"), group(p, "sport"))),
            "dst_port": ports(pc.coalesce(k("service"), group(p, "dport"))),
            "in_if": pc.if_else(inbound, ifname, pa.scalar(None, _S)),
            "out_if": pc.if_else(inbound, pa.scalar(None, _S), ifname),
            "rule": pc.coalesce(k("rule_name"), k("rule"), k("rule_uid")),
            "action": actions(k("action"), _action),
            "icmp_type": pc.cast(ports(k("icmp_type")), pa.int16()),
            "icmp_code": pc.cast(ports(k("icmp_code")), pa.int16()),
        })
        return cols, pc.or_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))


FORMAT = Checkpoint()
