"""Windows (Defender) Firewall ``pfirewall.log`` (W3C extended log format).

The ``#Fields:`` header names the space-separated columns, by default
``date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack
tcpwin icmptype icmpcode info path`` (newer Windows adds ``pid``). ``-`` is an empty
value. Times are local (``#Time Format: Local``): give ``--tz``. ``INFO-EVENTS-LOST``
lines say how many events the logger dropped; they are counted as skipped.

The log names no interface. ``path`` goes to ``rule``; a ``SEND`` record (this host sent the
packet) gets an empty ``in_if``, as netfilter writes ``IN=`` for a packet the host itself sent, so
that it is not taken for one that arrived from outside.
"""
from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import blank_to_null
from ._fwbase import LineFormat, actions, flag_cols, group, ints, ips, matches, only_tcp, ports, proto_cols, ts_from_text

_S = pa.string()
DEFAULT_FIELDS = ("date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin "
                  "icmptype icmpcode info path").split()
_REC = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:ALLOW|DROP|BLOCK|ALLOW-CLOSE|OPEN|CLOSE|OPEN-INBOUND)\b"


def _action(a: str) -> str:
    a = a.upper()
    return "accept" if a.startswith(("ALLOW", "OPEN", "CLOSE")) else "drop" if a in ("DROP", "BLOCK") else "other"


class WindowsFirewall(LineFormat):
    name = "windows_firewall"
    description = "Windows Defender Firewall pfirewall.log (W3C, #Fields header)"
    example = "2021-06-22 12:19:41 DROP UDP 192.0.2.25 224.0.0.251 5353 5353 73 - - - - - - - RECEIVE"

    def records(self, work):
        return matches(work, _REC)

    def skippable(self, work):
        return matches(work, r"^#|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO-")

    def sniff(self, sample):
        text = "\n".join(sample[:50])
        if "#Software: Microsoft Windows Firewall" in text or re.search(r"^#Fields: date time action protocol", text, re.M):
            return 0.99
        return 0.9 * super().sniff(sample)

    def parse(self, lines, first_line, ctx):
        # the #Fields header of this batch (or a previous one) sets the column order
        for s in lines.filter(pc.starts_with(lines, "#Fields:")).to_pylist():
            ctx.state["w3c_fields"] = s.split()[1:]
        return super().parse(lines, first_line, ctx)

    def convert(self, rec, ctx: ParseContext):
        fields = ctx.state.get("w3c_fields") or DEFAULT_FIELDS
        names = [re.sub(r"\W", "_", f) for f in fields]
        pat = "^" + " ".join(f"(?P<{n}>\\S*)" for n in names[:1]) + "".join(f"(?: (?P<{n}>\\S*))?" for n in names[1:])
        st = pc.extract_regex(rec, pat)

        def col(name):
            n = re.sub(r"\W", "_", name)
            if n not in names:
                return pa.nulls(len(rec), _S)
            v = group(st, n)
            return blank_to_null(pc.if_else(pc.fill_null(pc.equal(v, "-"), False), pa.scalar("", _S), v))
        cols = {"ts": ts_from_text(pc.binary_join_element_wise(col("date"), col("time"), " "), ctx),
                "ts_raw": pc.binary_join_element_wise(col("date"), col("time"), " ")}
        cols.update(proto_cols(col("protocol")))
        path = col("path")
        cols.update({
            "action": actions(col("action"), _action),
            "rule": path,  # SEND / RECEIVE / FORWARD: the only rule-like word the log has
            # sent by this host: received on no interface (RECEIVE, FORWARD: on one the log does not name)
            "in_if": pc.if_else(pc.fill_null(pc.equal(path, "SEND"), False), pa.scalar("", _S), pa.scalar(None, _S)),
            "src_ip": ips(col("src-ip")), "dst_ip": ips(col("dst-ip")),
            "src_port": ports(col("src-port")), "dst_port": ports(col("dst-port")),
            "ip_len": ints(col("size"), pa.int32()),
            "tcp_seq": ints(col("tcpsyn")), "tcp_ack": ints(col("tcpack")),
            "tcp_window": ints(col("tcpwin"), pa.int32()),
            "icmp_type": ints(col("icmptype"), pa.int16()), "icmp_code": ints(col("icmpcode"), pa.int16()),
        })
        cols.update(flag_cols(col("tcpflags"), letters=True))
        only_tcp(cols, cols["proto"])
        is_icmp = pc.fill_null(pc.match_substring(cols["proto"], "icmp"), False)
        for k in ("src_port", "dst_port"):  # Windows writes 0 / '-' ports for ICMP
            cols[k] = pc.if_else(is_icmp, pa.scalar(None, pa.int32()), cols[k])
        ok = pc.and_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))
        return cols, ok


FORMAT = WindowsFirewall()
