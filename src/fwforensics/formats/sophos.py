"""Sophos UTM (ASG) packet filter and Sophos XG / SFOS firewall key="value" logs.

UTM: ``2023:04:28-00:50:54 host ulogd[12511]: id="2021" ... sub="packetfilter" name="Packet
dropped (GEOIP)" action="drop" fwrule="60019" initf="eth6" srcmac=.. dstmac=.. srcip=a dstip=b
proto="6" length="88" tos="0x00" prec="0x00" ttl="227" srcport=p dstport=q tcpflags="ACK PSH"``.
XG: ``device="SFW" date=2019-10-09 time=17:19:06 timezone="+08" ... log_type="Firewall"
status="Deny" fw_rule_id=14 ... src_ip=a dst_ip=b protocol="TCP" src_port=p dst_port=q``.
Other UTM subsystems (HTTP proxy, IPS, VPN) and other XG log types are skipped.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import hex_to_int, join
from ._fwbase import (LineFormat, action_word, actions, flag_cols, ints, ips, kv, matches, only_tcp, ports, proto_cols,
                      syslog_head, ts_from_text)

_S = pa.string()


def _action(a: str) -> str:
    a = a.lower()
    if a in ("deny", "drop", "dropped", "denied"):
        return "drop"
    if a in ("reject",):
        return "reject"
    if a in ("allow", "accept", "allowed", "pass"):
        return "accept"
    return "other" if " " in a else action_word(a)


class Sophos(LineFormat):
    name = "sophos"
    description = "Sophos UTM packet filter (ulogd) and Sophos XG/SFOS firewall logs"
    example = ('2023:04:28-00:50:54 utm ulogd[12511]: id="2021" severity="info" sys="SecureNet" sub="packetfilter" '
               'name="Packet dropped (GEOIP)" action="drop" fwrule="60019" initf="eth6" srcip="203.0.113.2" '
               'dstip="192.0.2.129" proto="6" length="88" tos="0x00" prec="0x00" ttl="227" srcport="443" dstport="42181" tcpflags="ACK PSH"')

    def records(self, work):
        return pc.or_(matches(work, r"\ssub=\"packetfilter\".*\ssrcip="),
                      matches(work, r"device=\"SFW\".*\slog_type=\"Firewall\""))

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"device=\"SFW\"|\ssub=\"\w+\""))

    def vendor(self, work):
        return pc.or_(self.records(work), matches(work, r'device="SFW"|ulogd\[\d+\]: id="\d+"'))

    def convert(self, rec, ctx: ParseContext):
        def k(key):
            return kv(rec, key)
        head = syslog_head(rec, ctx)
        tzone = pc.fill_null(pc.replace_substring_regex(k("timezone"), r"^([+-]\d\d)$", r"\1:00"), "")
        xg_ts = ts_from_text(join(k("date"), " ", k("time")), ctx, tzone)
        cols = {"ts": pc.coalesce(head["ts"], xg_ts), "ts_raw": pc.coalesce(head["ts_raw"], join(k("date"), " ", k("time"))),
                "log_host": pc.coalesce(head["log_host"], k("device_name"))}
        cols.update(proto_cols(pc.coalesce(k("proto"), k("protocol"))))
        cols.update({
            "src_ip": ips(pc.coalesce(k("srcip"), k("src_ip"))), "dst_ip": ips(pc.coalesce(k("dstip"), k("dst_ip"))),
            "src_port": ports(pc.coalesce(k("srcport"), k("src_port"))),
            "dst_port": ports(pc.coalesce(k("dstport"), k("dst_port"))),
            "in_if": pc.coalesce(k("initf"), k("in_interface")), "out_if": pc.coalesce(k("outitf"), k("out_interface")),
            "mac_src": pc.utf8_lower(pc.coalesce(k("srcmac"), k("src_mac"))),
            "mac_dst": pc.utf8_lower(pc.coalesce(k("dstmac"), k("dst_mac"))),
            "rule": pc.coalesce(k("fwrule"), k("fw_rule_id")),
            "action": actions(pc.coalesce(k("action"), k("status")), _action),
            "ip_len": ints(k("length"), pa.int32()), "ttl": ints(k("ttl"), pa.int16()),
            "ip_tos": hex_to_int(k("tos"), pa.int16()), "ip_prec": hex_to_int(k("prec"), pa.int16()),
            "mark": k("mark"),
            "icmp_type": ints(k("icmp_type"), pa.int16()), "icmp_code": ints(k("icmp_code"), pa.int16()),
        })
        cols.update(flag_cols(k("tcpflags")))
        only_tcp(cols, cols["proto"])
        return cols, pc.or_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))


FORMAT = Sophos()
