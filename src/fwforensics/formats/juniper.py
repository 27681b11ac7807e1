"""Juniper SRX structured syslog (``RT_FLOW`` sessions, ``RT_IDS`` screen alarms) and
NetScreen / ScreenOS traffic and screen-alarm lines.

SRX: ``<14>1 2019-11-14T09:37:51.184+01:00 fw RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636...
source-address="a" source-port="p" destination-address="b" destination-port="q"
protocol-id="17" policy-name="x" ...]``; screens: ``RT_SCREEN_TCP [... attack-name="TCP
port scan!" ... action="drop"]``. ScreenOS: ``NetScreen device_id=x [Root]system-notification-
00257(traffic): ... action=Deny ... src=a dst=b src_port=p dst_port=q`` and
``system-emergency-00005: SYN flood! From a:p to b:q, proto TCP (zone Untrust int ethernet0/0).``
The plain-syslog form ``RT_FLOW_SESSION_DENY: session denied a/p->b/q junos-telnet 6(0) policy ...``
is read too. Other SRX / ScreenOS messages are skipped.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._fwbase import (LineFormat, action_word, actions, group, ints, ips, kv, map_values, matches, ports, proto_cols,
                      syslog_head)

_S = pa.string()
_SRX = r"\b(?P<ev>RT_FLOW_SESSION_(?:CREATE|CLOSE|DENY)(?:_LS)?|RT_SCREEN_\w+|RT_IDP_ATTACK_LOG_EVENT\w*)\b"
# the same events in the plain (non-structured) syslog form
_BSD = (r"\b(?P<ev>RT_FLOW_SESSION_(?:CREATE|DENY|CLOSE))(?:_LS)?: session (?:created|denied|closed)(?: [^:>]*:)? "
        r"(?P<src>[^\s/]+)/(?P<sport>\d+)->(?P<dst>[^\s/]+)/(?P<dport>\d+) (?P<svc>\S+)(?: \S+->\S+ \S+ \S+)? "
        r"(?P<proto>\d+)(?:\(\d+\))? (?P<policy>\S+)")
_NS_TRAFFIC = r"NetScreen device_id=\S+\s+\[[^\]]*\]system-\w+-\d+\(traffic\):"
_NS_SCREEN = (r"NetScreen device_id=\S+\s+\[[^\]]*\]system-\w+-\d+: (?P<attack>[^!]*!) From (?P<src>[^\s:]+):(?P<sport>\d+)"
              r" to (?P<dst>[^\s:]+):(?P<dport>\d+), proto (?P<proto>\w+) \(zone (?P<zone>\S+),? int\s+(?P<iface>[^)\s]+)\)")


def _action(ev_act: str) -> str:
    ev, _, act = ev_act.partition("|")
    if ev.startswith("RT_FLOW_SESSION_DENY"):
        return "drop"
    if ev.startswith("RT_FLOW_SESSION"):
        return "accept"
    if act.lower().startswith("alarm"):
        return "other"
    return action_word(act)


def _screen_proto(ev: str) -> str | None:
    """RT_SCREEN_TCP / _UDP / _ICMP name the protocol the screen looked at."""
    for p in ("TCP", "UDP", "ICMP"):
        if ev.startswith("RT_SCREEN_" + p):
            return p.lower()
    return None


class Juniper(LineFormat):
    name = "juniper"
    description = "Juniper SRX RT_FLOW / RT_IDS structured syslog and NetScreen ScreenOS traffic/screen alarms"
    example = ('<14>1 2014-05-01T08:26:51.179Z fw01 RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636.1.1.1.2.39 '
               'source-address="192.0.2.15" source-port="56639" destination-address="198.51.100.15" '
               'destination-port="2003" service-name="None" protocol-id="6" icmp-type="0" policy-name="log-all-else"]')

    def records(self, work):
        return pc.or_(pc.or_(matches(work, _SRX + r" \["), pc.or_(matches(work, _NS_TRAFFIC), matches(work, _BSD))),
                      matches(work, r"NetScreen device_id=\S+\s+\[[^\]]*\]system-\w+-\d+: [^!]*! From "))

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"NetScreen device_id=|\bRT_\w+|junos"))

    def vendor(self, work):
        return pc.or_(self.records(work), matches(work, r'NetScreen device_id=\S+\s+\[|\sRT_[A-Z_]+ - [A-Z_]+ \[junos@'))

    def convert(self, rec, ctx: ParseContext):
        cols = syslog_head(rec, ctx)
        ev = group(pc.extract_regex(rec, _SRX), "ev")
        scr = pc.extract_regex(rec, _NS_SCREEN)
        bsd = pc.extract_regex(rec, _BSD)
        ev = pc.coalesce(ev, group(bsd, "ev"))
        is_ns = matches(rec, _NS_TRAFFIC)

        def k(key):
            return kv(rec, key)
        act = pc.coalesce(k("action"), pa.scalar("", _S))
        proto = pc.coalesce(k("protocol-id"), k("protocol-name"), pc.if_else(is_ns, k("proto"), pa.scalar(None, _S)),
                            group(scr, "proto"), group(bsd, "proto"), map_values(ev, _screen_proto))
        cols.update(proto_cols(proto))
        cols.update({
            "src_ip": ips(pc.coalesce(k("source-address"), pc.if_else(is_ns, k("src"), pa.scalar(None, _S)),
                                      group(scr, "src"), group(bsd, "src"))),
            "dst_ip": ips(pc.coalesce(k("destination-address"), pc.if_else(is_ns, k("dst"), pa.scalar(None, _S)),
                                      group(scr, "dst"), group(bsd, "dst"))),
            "src_port": ports(pc.coalesce(k("source-port"), k("src_port"), group(scr, "sport"), group(bsd, "sport"))),
            "dst_port": ports(pc.coalesce(k("destination-port"), k("dst_port"), group(scr, "dport"), group(bsd, "dport"))),
            "rule": pc.coalesce(k("attack-name"), k("policy-name"), k("policy_id"), group(scr, "attack"),
                                group(bsd, "policy")),
            "in_if": pc.coalesce(k("packet-incoming-interface"), k("interface-name"), group(scr, "iface")),
            "action": actions(pc.binary_join_element_wise(pc.fill_null(ev, ""), act, "|"), _action),
        })
        screen = pc.is_valid(group(scr, "attack"))
        cols["action"] = pc.if_else(screen, pa.scalar("other", _S), cols["action"])
        is_icmp = pc.fill_null(pc.match_substring(cols["proto"], "icmp"), False)
        cols["icmp_type"] = pc.if_else(is_icmp, ints(k("icmp-type"), pa.int16()), pa.scalar(None, pa.int16()))
        for p in ("src_port", "dst_port"):  # SRX puts ICMP type/id in the port fields
            cols[p] = pc.if_else(is_icmp, pa.scalar(None, pa.int32()), cols[p])
        ok = pc.or_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))
        return cols, ok


FORMAT = Juniper()
