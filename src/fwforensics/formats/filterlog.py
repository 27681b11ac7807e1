"""pfSense / OPNsense ``filterlog`` CSV records (pf's log, as the firewall's syslog writes it).

``filterlog[123]: rule,subrule,anchor,tracker,iface,reason,action,dir,ipver,`` then for
IPv4 ``tos,ecn,ttl,id,offset,flags,protonum,protoname,length,src,dst`` and for IPv6
``class,flowlabel,hoplimit,protoname,protonum,length,src,dst``, then per protocol:
TCP ``sport,dport,datalen,flags,seq,ack,window,urg,options``; UDP ``sport,dport,datalen``;
ICMP ``type-word[,...]`` (``request,id,seq``, ``unreachport,dst,proto,port``, ...).
The layout is documented in pfSense's ``filterlog`` source (``filterlog.c``).
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import blank_to_null, hex_to_int, map_unique
from ._fwbase import (LineFormat, actions, flag_cols, group, ints, ips, matches, only_tcp, ports, proto_cols,
                      syslog_head)

_S = pa.string()
_HEAD = (r"^(?P<head>.*?)filterlog(?:\[\d+\])?: ?(?P<rule>\d*),(?P<sub>[^,]*),(?P<anchor>[^,]*),(?P<tracker>[^,]*),"
         r"(?P<iface>[^,]*),(?P<reason>[^,]*),(?P<act>[^,]*),(?P<dir>[^,]*),(?P<ver>[46]),(?P<rest>.*)$")
_V4 = (r"^(?P<tos>[^,]*),(?P<ecn>[^,]*),(?P<ttl>\d*),(?P<id>\d*),(?P<off>\d*),(?P<flags>[^,]*),(?P<pnum>\d*),"
       r"(?P<pname>[^,]*),(?P<len>\d*),(?P<src>[^,]*),(?P<dst>[^,]*),?(?P<tr>.*)$")
_V6 = (r"^(?P<cls>[^,]*),(?P<flow>[^,]*),(?P<hop>\d*),(?P<pname>[^,]*),(?P<pnum>\d*),(?P<len>\d*),"
       r"(?P<src>[^,]*),(?P<dst>[^,]*),?(?P<tr>.*)$")
_PORTS = (r"^(?P<sport>\d+),(?P<dport>\d+),(?P<dlen>\d*)(?:,(?P<tflags>[^,]*),(?P<seq>[^,]*),(?P<ack>[^,]*),"
          r"(?P<win>[^,]*),(?P<urg>[^,]*),(?P<opts>[^,]*))?")
_ICMP = r"^(?P<iword>[a-z]+)(?:,(?P<a>[^,]*))?(?:,(?P<b>[^,]*))?(?:,(?P<c>[^,]*))?"

# pf's words for ICMP types (filterlog.c) -> (type, code)
_ICMP_WORDS = {"request": (8, 0), "reply": (0, 0), "unreachproto": (3, 2), "unreachport": (3, 3),
               "unreach": (3, None), "needfrag": (3, 4), "timexceed": (11, None), "paramprob": (12, None),
               "redirect": (5, None), "maskreply": (18, 0), "tstamp": (13, 0), "tstampreply": (14, 0)}


def _action(a: str) -> str:
    return {"block": "drop", "pass": "accept", "reject": "reject"}.get(a.lower(), "other")


class Filterlog(LineFormat):
    name = "filterlog"
    description = "pfSense / OPNsense filterlog CSV (pf rule matches written by syslog)"
    example = ("Jul  3 19:10:30 fw filterlog[72237]: 146,,,1535324496,igb1.12,match,block,in,4,0x0,,63,12617,0,DF,6,"
               "tcp,60,198.51.100.50,192.0.2.1,49724,853,0,S,1891286705,,64240,,mss;sackOK;TS;nop;wscale")

    def records(self, work):
        return matches(work, r"filterlog(?:\[\d+\])?: ?\d*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[46],")

    def convert(self, rec, ctx: ParseContext):
        h = pc.extract_regex(rec, _HEAD)
        f = {k: group(h, k) for k in ("rule", "tracker", "iface", "act", "dir", "ver", "rest")}
        is6 = pc.fill_null(pc.equal(f["ver"], "6"), False)
        rest = pc.fill_null(f["rest"], "")
        v4 = pc.extract_regex(pc.if_else(is6, pa.scalar("", _S), rest), _V4)
        v6 = pc.extract_regex(pc.if_else(is6, rest, pa.scalar("", _S)), _V6)

        def both(k):
            return pc.coalesce(group(v4, k), group(v6, k))
        cols = syslog_head(rec, ctx)
        pnum = both("pnum")
        cols.update(proto_cols(pc.coalesce(pnum, both("pname"))))
        tr = pc.fill_null(both("tr"), "")
        is_tu = pc.fill_null(pc.is_in(cols["proto"], pa.array(["tcp", "udp", "udplite", "sctp"])), False)
        pt = pc.extract_regex(pc.if_else(is_tu, tr, pa.scalar("", _S)), _PORTS)
        is_icmp = pc.fill_null(pc.equal(cols["proto"], "icmp"), False)
        ic = pc.extract_regex(pc.if_else(is_icmp, tr, pa.scalar("", _S)), _ICMP)
        iword = group(ic, "iword")
        flags = group(v4, "flags")
        cols.update({
            "rule": f["rule"], "in_if": pc.if_else(pc.fill_null(pc.equal(f["dir"], "out"), False),
                                                  pa.scalar(None, _S), f["iface"]),
            "out_if": pc.if_else(pc.fill_null(pc.equal(f["dir"], "out"), False), f["iface"], pa.scalar(None, _S)),
            "action": actions(f["act"], _action),
            "ip_version": pc.if_else(is6, pa.scalar(6, pa.int8()), pa.scalar(4, pa.int8())),
            "src_ip": ips(both("src")), "dst_ip": ips(both("dst")),
            "ip_len": ints(both("len"), pa.int32()),
            "ip_tos": pc.coalesce(hex_to_int(group(v4, "tos"), pa.int16()), hex_to_int(group(v6, "cls"), pa.int16())),
            "ttl": pc.coalesce(ints(group(v4, "ttl"), pa.int16()), ints(group(v6, "hop"), pa.int16())),
            "ip_id": ints(group(v4, "id")),
            "flow_label": hex_to_int(group(v6, "flow"), pa.int32()),
            "frag_offset": pc.fill_null(ints(group(v4, "off"), pa.int32()), 0),
            "df": pc.fill_null(pc.match_substring(flags, "DF"), False),
            "mf": pc.fill_null(pc.match_substring(flags, "MF"), False),
            "src_port": ports(group(pt, "sport")), "dst_port": ports(group(pt, "dport")),
            "tcp_seq": ints(group(pt, "seq")), "tcp_ack": ints(group(pt, "ack")),
            "tcp_window": ints(group(pt, "win"), pa.int32()), "tcp_urgp": ints(group(pt, "urg"), pa.int32()),
            "tcp_options": group(pt, "opts"),
            "icmp_type": map_unique(iword, lambda w: _ICMP_WORDS.get(w, (None,))[0], pa.int16()),
            "icmp_code": map_unique(iword, lambda w: _ICMP_WORDS.get(w, (None, None))[1], pa.int16()),
        })
        is_echo = pc.fill_null(pc.is_in(iword, pa.array(["request", "reply", "tstamp", "tstampreply"])), False)
        cols["icmp_id"] = pc.if_else(is_echo, ints(group(ic, "a"), pa.int32()), pa.scalar(None, pa.int32()))
        cols["icmp_seq"] = pc.if_else(is_echo, ints(group(ic, "b"), pa.int32()), pa.scalar(None, pa.int32()))
        is_unr = pc.fill_null(pc.is_in(iword, pa.array(["unreachport", "unreachproto"])), False)
        cols["inner_dst_ip"] = pc.if_else(is_unr, ips(group(ic, "a")), pa.scalar(None, _S))
        cols["inner_proto"] = pc.if_else(is_unr, proto_cols(group(ic, "b"))["proto"], pa.scalar(None, _S))
        cols["inner_dst_port"] = pc.if_else(pc.fill_null(pc.equal(iword, "unreachport"), False),
                                            ints(group(ic, "c"), pa.int32()), pa.scalar(None, pa.int32()))
        cols["icmp_mtu"] = pc.if_else(pc.fill_null(pc.equal(iword, "needfrag"), False),
                                      ints(group(ic, "b"), pa.int32()), pa.scalar(None, pa.int32()))
        cols.update(flag_cols(blank_to_null(group(pt, "tflags")), letters=True))
        only_tcp(cols, cols["proto"])
        ok = pc.and_(pc.is_valid(cols["src_ip"]), pc.is_valid(cols["dst_ip"]))
        return cols, ok


FORMAT = Filterlog()
