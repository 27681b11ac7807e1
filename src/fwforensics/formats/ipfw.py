"""FreeBSD / macOS ``ipfw`` kernel log lines (``net.inet.ip.fw.verbose``).

``ipfw: 100 Deny TCP 203.0.113.9:40000 192.0.2.10:23 in via em0`` - rule number, verdict
(Accept, Deny, Reset, Unreach N, Count, Divert/Tee/Pipe/Queue/SkipTo/Fwd ...), protocol
(``ICMP:8.0`` carries ICMP type.code, ``P:47`` a protocol number), source and
destination (IPv6 in brackets: ``[2001:db8::1]:80``), direction and interface, and an
optional ``(frag id:offset@len)``. The layout is ipfw's ``ipfw_log()`` in the FreeBSD
kernel (``sys/netpfil/ipfw/ip_fw_log.c``).
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._fwbase import LineFormat, actions, group, ints, ips, matches, ports, proto_cols, syslog_head

_S = pa.string()
_EP = r"(?:\[(?P<{p}6>[0-9a-fA-F:.]+)\]|(?P<{p}4>\d+\.\d+\.\d+\.\d+))(?::(?P<{p}port>\d+))?"
_RE = (r"ipfw: (?P<rule>\d+) (?P<act>Accept|Deny|Reset|Refuse|Count|Unreach(?:6)? \S+|Divert \d+|Tee \d+|"
       r"Pipe \d+|Queue \d+|SkipTo \d+|Fwd \S+|Nat|Reass|Call \d+|Return|SetFib \d+|Tag \d+|Untag \d+|\w+(?: \S+)?) "
       r"(?P<proto>TCP|UDP|SCTP|ICMP6?|ICMPv6|IPV6-ICMP|P:\d+)(?::(?P<itype>\d+)\.(?P<icode>\d+))?(?: \S+)?? "
       + _EP.format(p="s") + " " + _EP.format(p="d") +
       r" (?P<dir>in|out) via (?P<iface>\S+)(?: \(frag (?P<fid>\d+):(?P<foff>\d+)@(?P<flen>\d+)\+?\))?")


def _action(a: str) -> str:
    w = a.split()[0].lower()
    return {"accept": "accept", "deny": "drop", "reset": "reject", "unreach": "reject", "unreach6": "reject",
            "refuse": "reject"}.get(w, "other")


class Ipfw(LineFormat):
    name = "ipfw"
    description = "FreeBSD / macOS ipfw kernel log lines"
    example = "Nov 14 22:13:20 gw kernel: ipfw: 100 Deny TCP 203.0.113.9:40000 192.0.2.10:23 in via em0"

    def records(self, work):
        return matches(work, r"ipfw: \d+ \S+")

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"ipfw: (?:\d+ )?(?:limit|[A-Za-z])"))

    def convert(self, rec, ctx: ParseContext):
        st = pc.extract_regex(rec, _RE)
        g = {k: group(st, k) for k in ("rule", "act", "proto", "itype", "icode", "s6", "s4", "sport", "d6", "d4",
                                       "dport", "dir", "iface", "fid", "foff")}
        cols = syslog_head(rec, ctx)
        proto = pc.replace_substring_regex(g["proto"], r"^P:", "")
        cols.update(proto_cols(pc.replace_substring(proto, "ICMP6", "ipv6-icmp")))
        out = pc.fill_null(pc.equal(g["dir"], "out"), False)
        cols.update({
            "rule": g["rule"], "action": actions(g["act"], _action),
            "src_ip": ips(pc.coalesce(g["s4"], g["s6"])), "dst_ip": ips(pc.coalesce(g["d4"], g["d6"])),
            "src_port": ports(g["sport"]), "dst_port": ports(g["dport"]),
            "in_if": pc.if_else(out, pa.scalar(None, _S), g["iface"]),
            "out_if": pc.if_else(out, g["iface"], pa.scalar(None, _S)),
            "icmp_type": ints(g["itype"], pa.int16()), "icmp_code": ints(g["icode"], pa.int16()),
            "ip_id": ints(g["fid"]),
            "frag_offset": pc.fill_null(pc.divide(ints(g["foff"], pa.int32()), 8), 0),  # logged in bytes
        })
        return cols, st.is_valid()


FORMAT = Ipfw()
