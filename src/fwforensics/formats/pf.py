"""OpenBSD / FreeBSD pf log as printed by ``tcpdump -e -n [-v] [-tttt] -r /var/log/pflog``.

``2023-11-14 22:13:20.000000 rule 5/0(match): block in on em0: 203.0.113.9.40000 >
192.0.2.10.23: Flags [S], seq 1000, win 1024, length 0``

The pflog part is ``rule N[.anchor.M]/SUB(REASON): ACTION DIR on IFACE:``; the packet
is tcpdump's usual one-line decode: ``SRC[.PORT] > DST[.PORT]: ...``, with TCP flags as
``Flags [S.]`` (``Flags [none]`` for a null scan; Linux/FreeBSD tcpdump) or the older
OpenBSD ``S 1:1(0) win 512``. ICMP as tcpdump words it (``ICMP echo request, id 7, seq 1``,
``ICMP 192.0.2.7 udp port 53 unreachable``, ``ICMP time exceeded in-transit``, ``ICMP
redirect ... to host ...``, ``ICMP6, echo request ...``) gives type, code, MTU, gateway and
what it says of the quoted packet.

Timestamps: ``-tttt`` date and time, ``-tt`` epoch, OpenBSD ``-ttt`` ``Mon dd
hh:mm:ss.ffffff``; the default time of day and the delta stamps (tcpdump.org ``-ttt`` and
``-ttttt``) carry no date: the record is read, ``ts`` stays null.

``-v`` (and ``-vv``) output prints the IP header in parentheses after ``on IFACE:`` and, for
IPv4, the packet on the next, indented line (ICMP errors add the quoted packet's header and
decode on two more lines): the lines are joined into one record (``raw`` keeps them, joined
by newlines) and TTL, IP ID, TOS, length, DF/MF, fragment offset, IP options (source
routes), IPv6 hop limit and flow label, and the quoted packet's fields are filled.
"""
from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext, ParseResult
from ._common import blank_to_null, join, map_unique
from ._fwbase import (LineFormat, actions, bsd_ts, epoch_ts, flag_cols, group, ints, ips, matches, only_tcp, ports,
                      ts_from_text)
from ..schema import normalise_proto

_S = pa.string()
_MON = r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_A4 = r"\d+\.\d+\.\d+\.\d+"
_A6 = r"[0-9a-fA-F]*:[0-9a-fA-F:]*"
_PAREN = r"(?:[^()]|\([^()]*\))*"   # text with one level of nested parentheses
_HEAD = r"\brule -?\d+(?:\.[^/\s]+\.\d+)?/-?\d*\(?[\w-]+\)?:? \w+ (?:(?:in|out|fwd) )?on [^\s:]+: "
_RE = (
    r"^ *(?:(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)|(?P<epoch>\d{9,10}\.\d+)"
    r"|(?P<mon>" + _MON + r") +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d+)?|(?P<tod>\d\d:\d\d:\d\d\.\d+))? *"
    r"rule (?P<rule>-?\d+(?:\.[^/\s]+\.\d+)?)/(?P<sub>-?\d*)\(?(?P<reason>[\w-]+)\)?:? (?P<act>\w+) (?:(?P<dir>in|out|fwd) )?"
    r"on (?P<iface>[^\s:]+): (?:\[[^\]]*\] )?(?:\((?P<vh>" + _PAREN + r")\) )?"
    r"(?:(?P<s4>" + _A4 + r")(?:\.(?P<sp4>\d+))?|(?P<s6>" + _A6 + r")(?:\.(?P<sp6>\d+))?) > "
    r"(?:(?P<d4>" + _A4 + r")(?:\.(?P<dp4>\d+))?|(?P<d6>" + _A6 + r")(?:\.(?P<dp6>\d+))?): ?"
    r"(?P<rest>.*?)(?: <inner> (?P<inner>.*))?$"
)
# -v IP header: IPv4 "(tos 0x0, ttl 51, id 634, offset 0, flags [DF], proto TCP (6), length 44[, options (...)])",
# IPv6 "([class 0x10, ][flowlabel 0x12345, ]hlim 64, next-header TCP (6) payload length: 20)"
_VH4 = (r"^tos (?P<tos>0x[0-9a-fA-F]+)[^,]*(?:,[A-Z]+(?:\(\d\))?)?, ttl (?P<ttl>\d+), id (?P<id>\d+), offset (?P<off>\d+), "
        r"flags \[(?P<ipf>[^\]]*)\], proto (?P<pname>\S+) \((?P<pnum>\d+)\), length (?P<len>\d+)"
        r"(?:, options \((?P<opts>[^()]*)\))?")
_VH6 = (r"^(?:class (?P<cls>0x[0-9a-fA-F]+), )?(?:flowlabel (?P<fl>0x[0-9a-fA-F]+), )?hlim (?P<hlim>\d+), "
        r"next-header (?P<pname>\S+) \((?P<pnum>\d+)\) payload length: (?P<plen>\d+)")
_INNER = (r"^\((?P<vh>" + _PAREN + r")\) "
          r"(?:(?P<s4>" + _A4 + r")(?:\.(?P<sp4>\d+))?|(?P<s6>" + _A6 + r")(?:\.(?P<sp6>\d+))?) > "
          r"(?:(?P<d4>" + _A4 + r")(?:\.(?P<dp4>\d+))?|(?P<d6>" + _A6 + r")(?:\.(?P<dp6>\d+))?):")
_TCP = (r"^(?:Flags \[(?P<flags>[^\]]*)\]|(?P<oflags>[FSRPUWE.]+) \d+:\d+\(\d+\)|(?P<oack>ack) \d+)"
        r"(?:.*?\bseq (?P<seq>\d+))?(?:.*?\back (?P<ack>\d+))?(?:.*?\bwin (?P<win>\d+))?(?:.*?\burg (?P<urg>\d+))?"
        r"(?:.*?, length (?P<plen>\d+)(?:$|[ :]))?")
_UDP = r"^(?:\[[^\]]*\] )?UDP, length (?P<ulen>\d+)"
# ICMP as tcpdump's print-icmp.c / print-icmp6.c words it
_ICMP = (
    r"^(?:\[[^\]]*\] )?(?P<v6>ICMP6|ICMP)(?:,| ) ?(?:"   # -v: "[icmp6 sum ok] ICMP6, ..."
    r"echo (?P<echo>request|reply)(?:, id (?P<id>\d+), seq (?P<seq>\d+))?"
    r"|(?P<uscope>net |host )?(?P<uaddr>" + _A4 + r") (?:(?P<uproto>tcp|udp) port (?P<uport>\d+) "
    r"|protocol (?P<upnum>\d+) (?:port (?P<upport>\d+) )?)?unreachable(?: - (?P<ureason>[^,(]*[^,( ]))?"
    r"(?: \(mtu (?P<mtu>\d+)\))?"
    r"|redirect(?P<rtos>-tos|-#\d+)? (?P<raddr>" + _A4 + r") to (?P<rscope>net |host )?(?P<rgw>" + _A4 + r")"
    r"|(?P<named>time exceeded in-transit|ip6? reassembly time exceeded|source quench|router advertisement"
    r"|router solicitation|information request|information reply|address mask request|address mask is"
    r"|time stamp query|time stamp request|time stamp reply|destination unreachable|packet too big"
    r"|time exceeded|parameter problem|neighbor solicitation|neighbor advertisement|multicast listener query"
    r"|multicast listener report v2|multicast listener report|multicast listener done)"
    r"(?: - (?:octet (?P<ppoct>\d+)|code (?P<ppcode>\d+)))?(?: id (?P<tsid>\d+) seq (?P<tsseq>\d+))?"
    r"(?:, mtu (?P<mtu6>\d+))?"
    r"|time exceeded-#(?P<txcode>\d+)|type-#(?P<typenum>\d+))"
)
_ICMP_NAMED = {  # (type, code) by the words tcpdump prints; code None = not said
    "time exceeded in-transit": (11, 0), "ip reassembly time exceeded": (11, 1), "source quench": (4, 0),
    "router advertisement": (9, 0), "router solicitation": (10, 0), "information request": (15, 0),
    "information reply": (16, 0), "address mask request": (17, 0), "address mask is": (18, 0),
    "time stamp query": (13, 0), "time stamp request": (13, 0), "time stamp reply": (14, 0),
    "parameter problem": (12, None),
}
_ICMP6_NAMED = {
    "destination unreachable": (1, None), "packet too big": (2, 0), "time exceeded": (3, None),
    "time exceeded in-transit": (3, 0), "ip6 reassembly time exceeded": (3, 1),
    "parameter problem": (4, None), "router solicitation": (133, 0), "router advertisement": (134, 0),
    "neighbor solicitation": (135, 0), "neighbor advertisement": (136, 0), "redirect": (137, 0),
    "multicast listener query": (130, 0), "multicast listener report": (131, 0),
    "multicast listener done": (132, 0), "multicast listener report v2": (143, 0),
}
_UNREACH = {  # ICMP unreachable codes from tcpdump's wording: (scope, reason) -> code
    ("net", ""): 0, ("host", ""): 1, ("", "need to frag"): 4, ("", "source route failed"): 5,
    ("net", "unknown"): 6, ("host", "unknown"): 7, ("", "source host isolated"): 8,
    ("net", "admin prohibited"): 9, ("host", "admin prohibited"): 10, ("net", "tos prohibited"): 11,
    ("host", "tos prohibited"): 12, ("host", "admin prohibited filter"): 13,
    ("host", "host precedence violation"): 14, ("host", "precedence cutoff"): 15,
}


def _action(a: str) -> str:
    return {"block": "drop", "pass": "accept", "match": "other", "rdr": "other", "nat": "other",
            "scrub": "other"}.get(a.lower(), "other")


def _icmp_kind(key: str) -> tuple[int | None, int | None]:
    """The ICMP groups joined by '|' (see Pf._icmp) -> (type, code)."""
    v, echo, uaddr, scope, reason, uproto, upnum, named, rtos, raddr, rscope, txcode, typenum, ppcode = key.split("|")
    v6 = v == "ICMP6"
    if echo:
        return ((128 if echo == "request" else 129) if v6 else (8 if echo == "request" else 0)), 0
    if uaddr:   # unreachable
        scope, reason = scope.strip(), reason.strip()
        if reason.startswith("#") and reason[1:].isdigit():
            return 3, int(reason[1:])
        if uproto:
            return 3, 3
        if upnum and not reason:
            return 3, 2      # "protocol N port P unreachable" is set to 3 by the caller
        return 3, _UNREACH.get((scope, reason))
    if raddr:   # redirect
        if rtos.startswith("-#") and rtos[2:].isdigit():
            return 5, int(rtos[2:])
        return 5, {("", "net"): 0, ("", "host"): 1, ("-tos", "net"): 2, ("-tos", "host"): 3}.get((rtos, rscope.strip()))
    if txcode:
        return 11, int(txcode)
    if typenum:
        return int(typenum), None
    if named:
        t, c = (_ICMP6_NAMED if v6 else _ICMP_NAMED).get(named, (None, None))
        if named == "parameter problem" and not v6:
            c = int(ppcode) if ppcode else 0
        return t, c
    return None, None


class Pf(LineFormat):
    name = "pf"
    description = "OpenBSD/FreeBSD pf log as printed by tcpdump -e -n [-v] -r pflog"
    example = ("2023-11-14 22:13:20.000000 rule 5/0(match): block in on em0: 203.0.113.9.40000 > 192.0.2.10.23: "
               "Flags [S], seq 1000, win 1024, length 0")

    def records(self, work):
        return matches(work, _HEAD)

    def sniff(self, sample: list[str]) -> float:
        # -v output: only the pflog lines count, not the indented packet decodes under them
        return super().sniff([s for s in sample if s[:1] not in (" ", "\t") or _HEAD_RE.search(s)])

    def skippable(self, work):
        return pc.or_(super().skippable(work), matches(work, r"^(?:reading from file|\s+0x[0-9a-f]{4}:|\s)"))

    def end(self, ctx: ParseContext):
        """A -v head whose packet line never came (the input ended): read what the head holds.
        It was counted as skipped when carried over; this result moves it to read or unreadable."""
        pending = ctx.state.pop("pf_pending", None)
        if pending is None:
            return None
        res = super().parse(pa.array([pending[1]], _S), pending[0], ctx)
        if not res.batch.num_rows and not res.unreadable:
            res.unreadable.append((pending[0], "record cut off by the end of the input"))
            res.skipped = 0
        res.skipped -= 1
        return res

    # -- -v output: the IP header ends the pflog line, the packet follows on indented lines ---------
    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext) -> ParseResult:
        pending = ctx.state.pop("pf_pending", None)   # (line number, text) of a -v head cut off by the batch end
        cont = pc.fill_null(pc.and_(pc.match_substring_regex(lines, r"^[ \t]+\S"),
                                    pc.invert(pc.match_substring_regex(lines, _HEAD))), False)
        if pending is None and not pc.any(cont).as_py():
            return super().parse(lines, first_line, ctx)
        texts = lines.to_pylist()
        conts = cont.to_pylist()
        n = len(texts)
        fix_line: dict[int, int] = {}   # index in this batch -> line number of the record's first line
        out: list[str | None] = list(texts)
        i = 0
        if pending is not None:
            j = 0
            parts = [pending[1]]
            while j < n and conts[j]:
                parts.append(texts[j])
                out[j] = ""
                j += 1
            if j > 0:
                out[0] = "\n".join(parts)
                fix_line[0] = pending[0]
            i = j
        head = None
        while i < n:
            if conts[i]:
                if head is not None:
                    out[head] = out[head] + "\n" + texts[i]
                    out[i] = ""
                i += 1
                continue
            t = texts[i]
            head = i if t is not None and _HEAD_RE.search(t) else None
            i += 1
        # a -v IPv4 head whose packet line is in the next batch: carry it over (it counts as skipped here)
        if head is not None and "\n" not in out[head] and _incomplete_v(out[head]):
            ctx.state["pf_pending"] = (first_line + head, out[head])
            out[head] = ""
        res = super().parse(pa.array(out, _S), first_line, ctx)
        if fix_line and res.batch.num_rows:
            b = res.batch
            idx = b.schema.get_field_index("line")
            fixed = pc.if_else(pc.equal(b.column(idx), first_line), pa.scalar(fix_line[0], pa.int64()), b.column(idx))
            res = ParseResult(b.set_column(idx, b.schema.field(idx), fixed), res.unreadable, res.skipped)
        return res

    def convert(self, rec, ctx: ParseContext):
        # join -v continuation lines; the quoted packet of an ICMP error (tab-indented) is marked
        flat = pc.replace_substring_regex(pc.replace_substring(rec, "\n\t", " <inner> "), r"\n\s*", " ")
        st = pc.extract_regex(flat, _RE)
        g = {k: group(st, k) for k in ("date", "time", "epoch", "mon", "day", "hms", "frac", "tod", "rule", "reason",
                                       "act", "dir", "iface", "vh", "s4", "sp4", "s6", "sp6", "d4", "dp4", "d6",
                                       "dp6", "rest", "inner")}
        ts = ts_from_text(join(g["date"], " ", g["time"]), ctx)
        ts = pc.coalesce(ts, epoch_ts(g["epoch"]))
        if g["mon"].null_count < len(rec):
            ts = pc.coalesce(ts, bsd_ts(g["mon"], g["day"], g["hms"], g["frac"], None, None, ctx))
        rest = pc.fill_null(g["rest"], "")
        tcp = pc.extract_regex(rest, _TCP)
        icmp = pc.extract_regex(rest, _ICMP)
        udp = pc.extract_regex(rest, _UDP)
        vh = pc.fill_null(g["vh"], "")
        v4 = pc.extract_regex(vh, _VH4)
        v6 = pc.extract_regex(vh, _VH6)
        is_tcp, is_icmp = tcp.is_valid(), icmp.is_valid()
        has_port = pc.is_valid(pc.coalesce(g["sp4"], g["sp6"]))
        guessed = pc.if_else(is_tcp, pa.scalar("tcp", _S),
                             pc.if_else(is_icmp, pc.if_else(pc.equal(group(icmp, "v6"), "ICMP6"),
                                                            pa.scalar("ipv6-icmp", _S), pa.scalar("icmp", _S)),
                                        pc.if_else(has_port, pa.scalar("udp", _S), pa.scalar(None, _S))))
        # -v says the protocol number outright
        pnum = ints(pc.coalesce(group(v4, "pnum"), group(v6, "pnum")), pa.int16())
        said = map_unique(pc.cast(pnum, _S), lambda s: normalise_proto(s)[0], _S)
        proto = pc.coalesce(said, guessed)
        outward = pc.fill_null(pc.equal(g["dir"], "out"), False)
        ipf = pc.fill_null(group(v4, "ipf"), "")
        has_v4 = v4.is_valid()
        off = ints(group(v4, "off"), pa.int32())
        # "LSRR 203.0.113.1,,EOL": the list ends with empty items and the end-of-list option
        opts = blank_to_null(pc.replace_substring_regex(pc.fill_null(group(v4, "opts"), ""), r",*(?:EOL)?,*$", ""))
        cols = {"ts": ts,
                "ts_raw": pc.coalesce(join(g["date"], " ", g["time"]), g["epoch"],
                                      join(g["mon"], " ", g["day"], " ", g["hms"], pc.fill_null(g["frac"], "")), g["tod"]),
                "rule": g["rule"], "action": actions(g["act"], _action),
                "in_if": pc.if_else(outward, pa.scalar(None, _S), g["iface"]),
                "out_if": pc.if_else(outward, g["iface"], pa.scalar(None, _S)),
                "src_ip": ips(pc.coalesce(g["s4"], g["s6"])), "dst_ip": ips(pc.coalesce(g["d4"], g["d6"])),
                "src_port": ports(pc.coalesce(g["sp4"], g["sp6"])), "dst_port": ports(pc.coalesce(g["dp4"], g["dp6"])),
                "tcp_seq": ints(group(tcp, "seq")), "tcp_ack": ints(group(tcp, "ack")),
                "tcp_window": ints(group(tcp, "win"), pa.int32()), "tcp_urgp": ints(group(tcp, "urg"), pa.int32()),
                "proto": proto, "proto_num": pc.coalesce(pnum, map_unique(proto, lambda p: normalise_proto(p)[1],
                                                                          pa.int16())),
                "ttl": ints(pc.coalesce(group(v4, "ttl"), group(v6, "hlim")), pa.int16()),
                "ip_id": ints(group(v4, "id")),
                "ip_tos": pc.coalesce(map_unique(group(v4, "tos"), lambda s: int(s, 16), pa.int16()),
                                      map_unique(group(v6, "cls"), lambda s: int(s, 16), pa.int16())),
                "flow_label": map_unique(group(v6, "fl"), lambda s: int(s, 16), pa.int32()),
                "ip_len": ints(pc.coalesce(group(v4, "len"), group(v6, "plen")), pa.int32()),
                "df": pc.if_else(has_v4, pc.match_substring(ipf, "DF"), pa.scalar(None, pa.bool_())),
                "mf": pc.if_else(has_v4, pc.match_substring(ipf, "+"), pa.scalar(None, pa.bool_())),
                "frag_offset": pc.divide(off, pa.scalar(8, pa.int32())),   # tcpdump prints it in bytes
                "ip_options": opts,
                "source_route": pc.if_else(has_v4, pc.fill_null(pc.match_substring_regex(opts, r"\b[LS]SRR\b"), False),
                                           pa.scalar(None, pa.bool_())),
                }
        is_udp = pc.fill_null(pc.equal(proto, "udp"), False)
        ulen = ints(group(udp, "ulen"), pa.int32())
        cols["udp_len"] = pc.if_else(is_udp, pc.add(ulen, pa.scalar(8, pa.int32())), pa.scalar(None, pa.int32()))
        cols["payload_len"] = pc.if_else(is_udp, ulen, ints(group(tcp, "plen"), pa.int32()))
        flags = pc.coalesce(group(tcp, "flags"), group(tcp, "oflags"), group(tcp, "oack"))
        flags = pc.if_else(pc.fill_null(pc.equal(flags, "ack"), False), pa.scalar(".", _S), flags)
        cols.update(flag_cols(flags, letters=True))
        none = pc.fill_null(pc.equal(flags, "none"), False)   # tcpdump.org: "Flags [none]" (a null scan)
        cols["tcp_flags"] = pc.if_else(none, pa.scalar("", _S), cols["tcp_flags"])
        cols["tcp_flag_bits"] = pc.if_else(none, pa.scalar(0, pa.int16()), cols["tcp_flag_bits"])
        only_tcp(cols, cols["proto"])
        _drop_relative_numbers(cols, ctx)
        self._icmp(cols, icmp, g["inner"])
        ok = pc.and_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))
        return cols, ok

    @staticmethod
    def _icmp(cols: dict, icmp: pa.StructArray, inner_text: pa.Array) -> None:
        names = ("v6", "echo", "uaddr", "uscope", "ureason", "uproto", "upnum", "named", "rtos", "raddr", "rscope",
                 "txcode", "typenum", "ppcode")
        valid = icmp.is_valid()
        key = pc.binary_join_element_wise(*[pc.fill_null(group(icmp, k), "") for k in names], "|")
        key = pc.if_else(valid, key, pa.scalar(None, _S))
        # "port" never appears in a key; unreachable with "protocol N port P" is a port unreachable
        port_unr = pc.is_valid(blank_to_null(group(icmp, "upport")))
        cols["icmp_type"] = map_unique(key, lambda k: _icmp_kind(k)[0], pa.int16())
        code = map_unique(key, lambda k: _icmp_kind(k)[1], pa.int16())
        cols["icmp_code"] = pc.if_else(pc.fill_null(port_unr, False), pa.scalar(3, pa.int16()), code)
        cols["icmp_id"] = ints(pc.coalesce(blank_to_null(group(icmp, "id")), blank_to_null(group(icmp, "tsid"))),
                               pa.int32())
        cols["icmp_seq"] = ints(pc.coalesce(blank_to_null(group(icmp, "seq")), blank_to_null(group(icmp, "tsseq"))),
                                pa.int32())
        # "need to frag" without "(mtu N)": the router sent a next-hop MTU of 0 (the pre-RFC 1191 form)
        frag = pc.fill_null(pc.equal(group(icmp, "ureason"), "need to frag"), False)
        cols["icmp_mtu"] = pc.coalesce(ints(group(icmp, "mtu"), pa.int32()), ints(group(icmp, "mtu6"), pa.int32()),
                                       pc.if_else(frag, pa.scalar(0, pa.int32()), pa.scalar(None, pa.int32())))
        cols["icmp_gateway"] = ips(group(icmp, "rgw"))
        cols["icmp_parameter"] = ints(group(icmp, "ppoct"), pa.int32())
        # the quoted packet: -v prints it whole; without -v the wording names its destination (and port)
        inn = pc.extract_regex(pc.fill_null(inner_text, ""), _INNER)
        ivh = pc.fill_null(group(inn, "vh"), "")
        i4 = pc.extract_regex(ivh, _VH4)
        i6 = pc.extract_regex(ivh, _VH6)
        ipnum = pc.coalesce(group(i4, "pnum"), group(i6, "pnum"))
        worded = pc.coalesce(blank_to_null(group(icmp, "uproto")), blank_to_null(group(icmp, "upnum")))
        cols["inner_src_ip"] = ips(pc.coalesce(group(inn, "s4"), group(inn, "s6")))
        cols["inner_dst_ip"] = ips(pc.coalesce(group(inn, "d4"), group(inn, "d6"), group(icmp, "uaddr"),
                                               group(icmp, "raddr")))
        cols["inner_proto"] = map_unique(pc.coalesce(ipnum, worded), lambda s: normalise_proto(s)[0], _S)
        cols["inner_src_port"] = ports(pc.coalesce(group(inn, "sp4"), group(inn, "sp6")))
        cols["inner_dst_port"] = ports(pc.coalesce(group(inn, "dp4"), group(inn, "dp6"),
                                                   blank_to_null(group(icmp, "uport")),
                                                   blank_to_null(group(icmp, "upport"))))
        cols["inner_ttl"] = ints(pc.coalesce(group(i4, "ttl"), group(i6, "hlim")), pa.int16())
        cols["inner_ip_id"] = ints(group(i4, "id"))
        cols["inner_len"] = ints(pc.coalesce(group(i4, "len"), group(i6, "plen")), pa.int32())


def _drop_relative_numbers(cols: dict, ctx: ParseContext) -> None:
    """tcpdump prints seq/ack relative to the first ACK-carrying packet of a connection it has seen
    (print-tcp.c; absolute only with -S): those later numbers are not the packet's, so they stay null.
    A packet without ACK, or the first ACK-carrying one of its address/port pair, shows absolute ones."""
    bits = cols["tcp_flag_bits"]
    has_ack = pc.fill_null(pc.not_equal(pc.bit_wise_and(bits, pa.scalar(16, pa.int16())), 0), False)
    if not pc.any(has_ack).as_py():
        return
    seen: set = ctx.state.setdefault("pf_tcp_flows", set())
    idx = pc.indices_nonzero(has_ack).to_pylist()
    take = {k: pc.take(cols[k], pa.array(idx)).to_pylist() for k in ("src_ip", "src_port", "dst_ip", "dst_port")}
    relative = [False] * len(bits)
    for j, i in enumerate(idx):
        a = (take["src_ip"][j], take["src_port"][j])
        b = (take["dst_ip"][j], take["dst_port"][j])
        key = (a, b) if str(a) <= str(b) else (b, a)
        if key in seen:
            relative[i] = True
        elif len(seen) < 1_000_000:
            seen.add(key)
    rel = pa.array(relative)
    for k in ("tcp_seq", "tcp_ack"):
        cols[k] = pc.if_else(rel, pa.scalar(None, cols[k].type), cols[k])


def _incomplete_v(text: str) -> bool:
    """A -v pflog line that ends with the IP header: the packet's addresses are on the next line."""
    return _INCOMPLETE.search(text) is not None


_HEAD_RE = re.compile(_HEAD)
_INCOMPLETE = re.compile(_HEAD + r"(?:\[[^\]]*\] )?\(" + _PAREN + r"\)\s*$")


FORMAT = Pf()
