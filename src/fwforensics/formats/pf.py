"""OpenBSD / FreeBSD pf log as printed by ``tcpdump -e -n [-tttt] -r /var/log/pflog``.

``2023-11-14 22:13:20.000000 rule 5/0(match): block in on em0: 203.0.113.9.40000 >
192.0.2.10.23: Flags [S], seq 1000, win 1024, length 0``

The pflog part is ``rule N[.anchor.M]/SUB(REASON): ACTION DIR on IFACE:``; the packet
is tcpdump's usual one-line decode: ``SRC[.PORT] > DST[.PORT]: ...``, with TCP flags as
``Flags [S.]`` (Linux/FreeBSD tcpdump) or the older OpenBSD ``S 1:1(0) win 512``, and
``ICMP echo request, id 7, seq 1`` for ICMP. Timestamps: ``-tttt`` date and time,
``-tt`` epoch, OpenBSD ``Mon dd hh:mm:ss.ffffff``, or the plain time of day (no date:
``ts`` stays null). ``-v`` output (the IP header on a line of its own) is not read.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import join, map_unique
from ._fwbase import (LineFormat, actions, bsd_ts, epoch_ts, flag_cols, group, ints, ips, matches, only_tcp, ports,
                      proto_cols, ts_from_text)

_S = pa.string()
_MON = r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_RE = (
    r"^(?:(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)|(?P<epoch>\d{9,10}\.\d+)"
    r"|(?P<mon>" + _MON + r") +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?|(?P<tod>\d\d:\d\d:\d\d\.\d+))? *"
    r"rule (?P<rule>-?\d+(?:\.[^/\s]+\.\d+)?)/(?P<sub>-?\d*)\(?(?P<reason>[\w-]+)\)?:? (?P<act>\w+) (?:(?P<dir>in|out|fwd) )?"
    r"on (?P<iface>[^\s:]+): (?:\[[^\]]*\] )?"
    r"(?:(?P<s4>\d+\.\d+\.\d+\.\d+)(?:\.(?P<sp4>\d+))?|(?P<s6>[0-9a-fA-F]*:[0-9a-fA-F:]*)(?:\.(?P<sp6>\d+))?) > "
    r"(?:(?P<d4>\d+\.\d+\.\d+\.\d+)(?:\.(?P<dp4>\d+))?|(?P<d6>[0-9a-fA-F]*:[0-9a-fA-F:]*)(?:\.(?P<dp6>\d+))?): ?(?P<rest>.*)$"
)
_TCP = (r"^(?:Flags \[(?P<flags>[^\]]*)\]|(?P<oflags>[FSRPUWE.]+) \d+:\d+\(\d+\)|(?P<oack>ack) \d+)"
        r"(?:.*?\bseq (?P<seq>\d+))?(?:.*?\back (?P<ack>\d+))?(?:.*?\bwin (?P<win>\d+))?")
_ICMP = (r"^(?P<v6>ICMP6|ICMP)(?:,| ) ?(?P<what>echo request|echo reply|[^,]*)(?:, id (?P<id>\d+), seq (?P<seq>\d+))?")


def _action(a: str) -> str:
    return {"block": "drop", "pass": "accept", "match": "other", "rdr": "other", "nat": "other",
            "scrub": "other"}.get(a.lower(), "other")


class Pf(LineFormat):
    name = "pf"
    description = "OpenBSD/FreeBSD pf log as printed by tcpdump -e -n -r pflog"
    example = ("2023-11-14 22:13:20.000000 rule 5/0(match): block in on em0: 203.0.113.9.40000 > 192.0.2.10.23: "
               "Flags [S], seq 1000, win 1024, length 0")

    def records(self, work):
        return matches(work, r"\brule -?\d+(?:\.[^/\s]+\.\d+)?/-?\d*\(?[\w-]+\)?:? \w+ (?:(?:in|out|fwd) )?on [^\s:]+: ")

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"^(?:reading from file|\s+0x[0-9a-f]{4}:|\s)"))

    def convert(self, rec, ctx: ParseContext):
        st = pc.extract_regex(rec, _RE)
        g = {k: group(st, k) for k in ("date", "time", "epoch", "mon", "day", "hms", "frac", "tod", "rule", "reason",
                                       "act", "dir", "iface", "s4", "sp4", "s6", "sp6", "d4", "dp4", "d6", "dp6", "rest")}
        ts = ts_from_text(join(g["date"], " ", g["time"]), ctx)
        ts = pc.coalesce(ts, epoch_ts(g["epoch"]))
        if g["mon"].null_count < len(rec):
            ts = pc.coalesce(ts, bsd_ts(g["mon"], g["day"], g["hms"], g["frac"], None, None, ctx))
        rest = pc.fill_null(g["rest"], "")
        tcp = pc.extract_regex(rest, _TCP)
        icmp = pc.extract_regex(rest, _ICMP)
        is_tcp, is_icmp = tcp.is_valid(), icmp.is_valid()
        has_port = pc.is_valid(pc.coalesce(g["sp4"], g["sp6"]))
        proto = pc.if_else(is_tcp, pa.scalar("tcp", _S),
                           pc.if_else(is_icmp, pc.if_else(pc.equal(group(icmp, "v6"), "ICMP6"),
                                                          pa.scalar("ipv6-icmp", _S), pa.scalar("icmp", _S)),
                                      pc.if_else(has_port, pa.scalar("udp", _S), pa.scalar(None, _S))))
        outward = pc.fill_null(pc.equal(g["dir"], "out"), False)
        cols = {"ts": ts,
                "ts_raw": pc.coalesce(join(g["date"], " ", g["time"]), g["epoch"],
                                      join(g["mon"], " ", g["day"], " ", g["hms"], pc.fill_null(g["frac"], "")), g["tod"]),
                "rule": g["rule"], "action": actions(g["act"], _action),
                "in_if": pc.if_else(outward, pa.scalar(None, _S), g["iface"]),
                "out_if": pc.if_else(outward, g["iface"], pa.scalar(None, _S)),
                "src_ip": ips(pc.coalesce(g["s4"], g["s6"])), "dst_ip": ips(pc.coalesce(g["d4"], g["d6"])),
                "src_port": ports(pc.coalesce(g["sp4"], g["sp6"])), "dst_port": ports(pc.coalesce(g["dp4"], g["dp6"])),
                "tcp_seq": ints(group(tcp, "seq")), "tcp_ack": ints(group(tcp, "ack")),
                "tcp_window": ints(group(tcp, "win"), pa.int32())}
        cols.update(proto_cols(proto))
        flags = pc.coalesce(group(tcp, "flags"), group(tcp, "oflags"), group(tcp, "oack"))
        flags = pc.if_else(pc.fill_null(pc.equal(flags, "ack"), False), pa.scalar(".", _S), flags)
        cols.update(flag_cols(flags, letters=True))
        only_tcp(cols, cols["proto"])
        what = group(icmp, "what")
        echo = {"echo request": 8, "echo reply": 0}
        cols["icmp_type"] = pc.coalesce(
            pc.if_else(pc.fill_null(pc.equal(group(icmp, "v6"), "ICMP6"), False),
                       map_unique(what, lambda w: {"echo request": 128, "echo reply": 129}.get(w), pa.int16()),
                       map_unique(what, lambda w: echo.get(w), pa.int16())))
        cols["icmp_id"] = ints(group(icmp, "id"), pa.int32())
        cols["icmp_seq"] = ints(group(icmp, "seq"), pa.int32())
        ok = pc.and_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))
        return cols, ok


FORMAT = Pf()
