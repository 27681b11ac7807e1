"""Cisco IOS / IOS-XE access-list logging and IOS IPS signatures.

``%SEC-6-IPACCESSLOGP: list 102 denied tcp 10.0.6.56(3067) -> 172.16.4.7(139), 1 packet``
(LOGP ports, LOGDP ICMP ``(type/code)``, LOGNP protocol number, LOGS/LOGRP/LOGSP no
ports), the IPv6 ``%IPV6-6-ACCESSLOGP`` / ``%IPV6_ACL-6-ACCESSLOGSP``, IOS-XE
``%FMANFP-6-IPACCESSLOGP: ... fman_fp_image: list ...``, the optional ``(Interface MAC)``
after the source, and ``%IPS-4-SIGNATURE: Sig:3051 ... [a:p -> b:p]``. The count of
packets the line stands for is not a schema column; each line is one record. Rate-limit
notices (``IPACCESSLOGRL``) and other IOS messages are skipped.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import join
from ._fwbase import LineFormat, actions, bsd_ts, group, ints, ips, matches, ports, proto_cols, syslog_head

_S = pa.string()
_MON = r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_ACL_TAG = r"%(?:SEC|FMANFP|IPV6|IPV6_ACL|SEC_ACL)-\d-(?:IP)?ACCESSLOG(?:P|DP|NP|S|RP|SP)\b"
_RECORD = _ACL_TAG + r"|%IPS-\d-SIGNATURE\b"
_ACL = (r"(?P<tag>%[A-Z0-9_]+-\d-[A-Z_]+):\s+(?:.*?fman_fp_image:\s+)?list (?P<acl>\S+) (?P<act>permitted|denied) "
        r"(?P<proto>\w+) (?:(?P<mac1>[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}) )?(?P<src>[^\s(,]+)(?:\((?P<sport>\d+)\))?"
        r"(?: ?\((?P<inif>[^)\s]+)(?: (?P<mac>[0-9a-fA-F.]+))? ?\))?(?: ?(?P<inif2>[A-Za-z][\w/.-]*))? ?-> "
        r"(?P<dst>[^\s(,]+)(?:\((?P<dport>\d+)\))?(?: \((?P<itype>\d+)/(?P<icode>\d+)\))?(?: \((?P<pnum>\d+)\))?,")
_IPS = (r"(?P<tag>%IPS-\d-SIGNATURE): Sig:(?P<sig>\d+) Subsig:\d+ Sev:\d+ (?P<name>.*?) "
        r"\[(?P<src>[^\s\]]+):(?P<sport>\d+) -> (?P<dst>[^\s\]]+):(?P<dport>\d+)\]")
_INNER_TS = (r"(?:^|: )\*?(?P<mon>" + _MON + r") +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?"
             r"(?: [A-Za-z]{2,5})?: %")


def _action(a: str) -> str:
    return {"permitted": "accept", "denied": "drop"}.get(a, "other")


class CiscoIos(LineFormat):
    name = "cisco_ios"
    description = "Cisco IOS / IOS-XE ACL logging (%SEC-6-IPACCESSLOG*) and IOS IPS signatures"
    example = "Jun 20 02:43:09 rtr 1663321: Jun 20 02:43:08.454: %SEC-6-IPACCESSLOGP: list 150 denied tcp 192.0.2.12(59832) -> 198.51.100.144(80), 1 packet"

    def records(self, work):
        return matches(work, _RECORD)

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"%[A-Z][A-Z0-9_]*-(?:[A-Z0-9]+-)?\d-[A-Z0-9_]+"))

    def vendor(self, work):
        return matches(work, r"^(?:<\d{1,3}>)?[^\"|{}=]{0,160}?%[A-Z][A-Z0-9_]*-(?:[A-Z0-9]+-)?\d-[A-Z0-9_]+:")

    def convert(self, rec, ctx: ParseContext):
        a = pc.extract_regex(rec, _ACL)
        s = pc.extract_regex(rec, _IPS)

        def g(k, both=True):
            return pc.coalesce(group(a, k), group(s, k)) if both else group(a, k)
        cols = syslog_head(rec, ctx)
        inner = pc.extract_regex(rec, _INNER_TS)
        if pc.any(pc.is_null(cols["ts"])).as_py():
            its = bsd_ts(group(inner, "mon"), group(inner, "day"), group(inner, "hms"), group(inner, "frac"), None, None, ctx)
            cols["ts"] = pc.coalesce(cols["ts"], its)
            cols["ts_raw"] = pc.coalesce(cols["ts_raw"], join(group(inner, "mon"), " ", group(inner, "day"), " ",
                                                              group(inner, "hms")))
        proto = g("proto", False)
        proto = pc.if_else(pc.fill_null(pc.is_in(proto, pa.array(["0", "ip", "ipv6"])), False),
                           pc.coalesce(group(a, "pnum"), pa.scalar(None, _S)), proto)
        cols.update(proto_cols(proto))
        sig_rule = join("Sig:", group(s, "sig"), " ", group(s, "name"))
        cols.update({
            "rule": pc.coalesce(group(a, "acl"), sig_rule),
            "action": actions(group(a, "act"), _action),
            "src_ip": ips(g("src")), "dst_ip": ips(g("dst")),
            "src_port": ports(g("sport")), "dst_port": ports(g("dport")),
            "in_if": pc.coalesce(group(a, "inif"), group(a, "inif2")),
            "mac_src": pc.coalesce(group(a, "mac"), group(a, "mac1")),
            "icmp_type": ints(group(a, "itype"), pa.int16()), "icmp_code": ints(group(a, "icode"), pa.int16()),
        })
        ok = pc.or_(a.is_valid(), s.is_valid())
        return cols, ok


FORMAT = CiscoIos()
