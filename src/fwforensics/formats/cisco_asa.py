"""Cisco ASA / PIX / Firepower Threat Defense syslog (``%ASA-4-106023: Deny tcp src ...``).

Traffic messages are read: access-list denies and permits (106001-106023, 106100),
connection build/teardown (302013-302021), ICMP denies (313001/313004/313005/313008),
botnet filter (338xxx), IDS (400xxx), management access (710001-710005), threat
detection (733100/733101), invalid transport (500004), and FTD connection events
(430001-430005, ``Key: Value`` lists). Other ASA messages (configuration, VPN, AAA,
NAT translations, URLs) are counted as skipped: they are not traffic.

Each family has one RE2 pattern run over the batch; a row takes its fields from the
first pattern that matched. For ``Built outbound`` connections the ASA prints the
outside end first; source and destination are swapped so that the source is the
initiator (as Elastic's pipeline does).
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import ParseContext
from ._common import blank_to_null, canonical_ip, join, map_unique
from ._fwbase import (LineFormat, actions, action_word, flag_cols, ints, ips, matches, only_tcp,
                      proto_cols, syslog_head)

_S = pa.string()
_TAG = r"%%?(?P<vendor>ASA|PIX|FTD|FWSM)-(?:[a-z]+-)?(?P<sev>\d)-(?P<id>\d{6}):? ?"
_TRAFFIC_IDS = (r"10600[1-9]|1060[12]\d|106100|3020(?:1[3-9]|2[01])|31300[1458]|3380\d\d|4000\d\d|500004"
                r"|71000[1-5]|73310[01]|43000[1-5]")
_RECORD = r"%%?(?:ASA|PIX|FTD|FWSM)-(?:[a-z]+-)?\d-(?:" + _TRAFFIC_IDS + r")\b"
_ANY_TAG = r"%%?(?:ASA|PIX|FTD|FWSM)-(?:[a-z]+-)?\d-\d{6}\b"

_EP = r"(?:(?P<{p}if>[^\s:/()]+):)?\(?(?P<{p}>[^\s/()]+)\)?(?:/(?P<{p}port>[\w-]+))?(?:\([^)]*\))?"
_SRC = _EP.format(p="src")
_DST = _EP.format(p="dst")
_FROM_TO = r"from " + _SRC + r",? to " + _DST

_PATTERNS = [
    # 106001 Inbound TCP connection denied from a/p to b/p flags SYN on interface outside
    r"^Inbound (?P<proto>\w+) connection denied " + _FROM_TO + r"(?: flags ?(?P<flags>(?:[A-Z]+ ?)*))?(?: ?on interface (?P<inif>\S+))?",
    # 106015 Deny TCP (no connection) from a/p to b/p flags RST on interface outside
    r"^Deny (?P<proto>\w+) \(no connection\) " + _FROM_TO + r"(?: flags ?(?P<flags>(?:[A-Z]+ ?)*))?(?: *on interface (?P<inif>\S+))?",
    # 106006 / 106007 Deny inbound UDP from a/p to b/p on interface X | due to DNS Query
    r"^Deny (?:inbound|outbound) (?P<proto>\w+) " + _FROM_TO + r"(?: on interface (?P<inif>\S+)| due to (?P<why>.*))?",
    # 106010 / 106011 / 106014 / 106023 Deny [inbound] [(No xlate)] tcp src if:a/p dst if:b/p [(type 3, code 0)] by access-group "x"
    r"^Deny (?:inbound |outbound )?(?:\(No xlate\) )?(?:protocol )?(?P<proto>\w+) src " + _SRC + r"(?: dst(?: " + _DST + r")?)?"
    r"(?: \(?type (?P<itype>\d+), code (?P<icode>\d+)\)?,?)?(?: by access-group \"(?P<rule>[^\"]*)\")?",
    # 106016/17/20/21/22, 106012: Deny IP spoof from (a) to b on interface X, and kin
    r"^Deny (?P<proto>\w+) (?P<why>[^/]*?) ?from \(?(?P<src>[^\s()]+?)\)?,? to (?P<dst>[^\s,]+?),?(?: on interface (?P<inif>\S+))?(?:[, ].*)?$",
    # 106100 access-list acl permitted tcp if/a(p) -> if/b(p) hit-cnt 1
    r"^access-list (?P<rule>\S+) (?P<act>permitted|denied|est-allowed) (?P<proto>\w+) (?P<srcif>[^\s/]+)/(?P<src>[^\s(]+)"
    r"\((?P<srcport>\d+)\)(?:\([^)]*\))? -> (?P<dstif>[^\s/]+)/(?P<dst>[^\s(]+)\((?P<dstport>\d+)\)",
    # 302013/15/17 Built inbound TCP connection id for if:a/p (m/p)(user) to if:b/p (m/p)
    r"^Built (?P<dir>inbound|outbound) (?P<proto>\w+) connection (?:\d+ )?(?:for|from) (?P<srcif>[^\s:]+):(?P<src>[^\s/]+)/(?P<srcport>\d+)"
    r"(?: ?\([^)]*\))*(?: \S+)? to (?P<dstif>[^\s:]+):(?P<dst>[^\s/]+)/(?P<dstport>\d+)",
    # 302014/16/18 Teardown TCP connection id for if:a/p to if:b/p duration d bytes n reason
    r"^Teardown (?P<proto>\w+) connection (?:\d+ )?(?:for|from) (?P<srcif>[^\s:]+):(?P<src>[^\s/]+)/(?P<srcport>\d+)"
    r"(?:\([^)]*\))?(?: \S+)? to (?P<dstif>[^\s:]+):(?P<dst>[^\s/]+)/(?P<dstport>\d+)(?:\([^)]*\))?"
    r"(?: \S+)?(?: duration \S+)?(?: bytes (?P<bytes>\d+))?(?: (?P<why>.*))?",
    # 302020/21 Built inbound ICMP connection for faddr a/0 gaddr g/0 laddr b/0 type 3 code 3
    r"^(?:Built|Teardown) (?:(?P<dir>inbound|outbound) )?(?P<proto>ICMP(?:v6)?) connection (?:\d+ )?for faddr (?P<src>[^\s/]+)/\d+"
    r"(?:\([^)]*\))? gaddr [^\s/]+/\d+ laddr (?P<dst>[^\s/]+)/\d+(?:\([^)]*\))?(?: \([^)]*\))?"
    r"(?: type (?P<itype>\d+) code (?P<icode>\d+))?",
    # 313001/313004/313008 Denied ICMP type=3, code=3 from a on interface X [to b: no matching session]
    r"^Denied (?P<proto>ICMP(?:v6)?) type=(?P<itype>\d+),(?: code=(?P<icode>\d+))? from (?:laddr )?(?P<src>\S+?),? on interface"
    r" (?P<inif>\S+)(?: to (?P<dst>\S+?):?(?: .*)?)?$",
    # 313005 No matching connection for ICMP error message: icmp src if:a dst if:b (type 3, code 3) on X interface. Original IP payload: udp src c/p dst d/p.
    r"^No matching connection for ICMP error message: (?P<proto>icmp6?) src (?P<srcif>[^\s:]+):(?P<src>\S+) dst (?P<dstif>[^\s:]+):(?P<dst>\S+)"
    r" \(type (?P<itype>\d+), code (?P<icode>\d+)\) on (?P<inif>\S+) interface\.?\s*(?:Original IP payload: (?P<iproto>\w+) src "
    r"(?P<isrc>[^\s/]+?)(?:/(?P<isport>\d+))? dst (?P<idst>[^\s/]+?)(?:/(?P<idport>\d+))?\.?)?\s*$",
    # 338002/4/6/8 Dynamic Filter dropped blacklisted TCP traffic from if:a/p (m/p) to if:b/p (m/p)
    r"^Dynamic Filter (?P<act>\w+) (?:black|white|grey|gray) ?listed (?P<proto>\w+) traffic from (?P<srcif>[^\s:]+):(?P<src>[^\s/]+)/(?P<srcport>\d+)"
    r" \([^)]*\) to (?P<dstif>[^\s:]+):(?P<dst>[^\s/]+)/(?P<dstport>\d+)",
    # 400xxx IDS:2003 ICMP redirect from a to b on interface dmz
    r"^IDS:(?P<sig>\d+) (?P<why>.*?) from (?P<src>\S+) to (?P<dst>\S+) on interface (?P<inif>\S+)",
    # 106002 udp connection denied by outbound list 30 src a 138 dest b 138
    r"^(?P<proto>\w+) [Cc]onnection denied by outbound list (?P<rule>\S+) src (?P<src>\S+) (?P<srcport>\d+) dest (?P<dst>\S+) (?P<dstport>\d+)",
    # 106018 ICMP packet type 8 denied by outbound list acl src a dest b
    r"^(?P<proto>ICMP) packet type (?P<itype>\d+) denied by outbound list (?P<rule>\S+) src (?P<src>\S+) dest (?P<dst>\S+)",
    # 500004 Invalid transport field for protocol=TCP, from a/p to b/p
    r"^Invalid transport field for protocol=(?P<proto>\w+), " + _FROM_TO,
    # 710001-710005 TCP access denied by ACL from a/p to if:b/ssh
    r"^(?P<proto>TCP|UDP) (?:access|request) (?P<act>denied by ACL|permitted|requested|discarded) " + _FROM_TO,
    # 710004 TCP connection limit exceeded from a/p to if:b/p
    r"^(?P<proto>TCP|UDP) connection limit exceeded " + _FROM_TO,
    # 733100 [ Scanning] drop rate-1 exceeded ...
    r"^\[?\s*(?P<rule>[^\]]*?)\s*\]? (?P<why>drop rate[- ]\d+ exceeded)",
    # 733101 Host a is attacking / targeted
    r"^(?:Host|Subnet) (?P<src>\S+) is (?P<why>attacking|targeted)",
]
_GROUPS = ["proto", "src", "srcif", "srcport", "dst", "dstif", "dstport", "inif", "flags", "why", "itype", "icode",
           "rule", "act", "dir", "bytes", "sig", "iproto", "isrc", "isport", "idst", "idport"]

_SERVICES = {"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "tftp": 69, "www": 80, "http": 80,
             "pop3": 110, "sunrpc": 111, "ident": 113, "nntp": 119, "ntp": 123, "netbios-ns": 137,
             "netbios-dgm": 138, "netbios-ssn": 139, "imap4": 143, "snmp": 161, "snmptrap": 162, "bgp": 179,
             "ldap": 389, "https": 443, "isakmp": 500, "syslog": 514, "sqlnet": 1521, "h323": 1720,
             "sip": 5060, "citrix-ica": 1494, "rsh": 514, "lpd": 515, "kerberos": 88, "rtsp": 554}

_ICMP_NAMES = {"echo reply": (0, None), "destination unreachable": (3, None), "source quench": (4, None),
               "redirect": (5, None), "echo request": (8, None), "router advertisement": (9, None),
               "router solicitation": (10, None), "time exceeded": (11, None), "parameter problem": (12, None),
               "timestamp request": (13, None), "timestamp reply": (14, None)}


def _port(s: str) -> int | None:
    s = s.strip().lower()
    if s.isdigit():
        v = int(s)
        return v if v <= 65535 else None
    return _SERVICES.get(s)


def _action(code_act: str) -> str:
    code, _, act = code_act.partition("|")
    if code == "106100" or code.startswith("338") or code.startswith("7100"):
        a = act.lower()
        if a in ("permitted", "est-allowed"):
            return "accept"
        if a in ("requested", "monitored"):
            return "other"
        return action_word(a)
    if code.startswith("106") or code.startswith("313") or code in ("500004", "733100"):
        return "drop"
    if code.startswith("302"):
        return "accept"
    if code.startswith("430"):
        a = act.lower()
        if "reset" in a:
            return "reject"
        if a.startswith("block"):
            return "drop"
        if a in ("allow", "trust", "fastpath"):
            return "accept"
        return "other"
    return "other"


def _split_if(ifc: pa.Array, addr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """'fe80' + '::1' is an IPv6 address, not interface 'fe80': put it back together."""
    glued = map_unique(join(ifc, ":", addr), canonical_ip, _S)
    is_glued = pc.is_valid(glued)
    ip = pc.if_else(is_glued, glued, ips(addr))
    return pc.if_else(is_glued, pa.scalar(None, _S), ifc), ip


class CiscoAsa(LineFormat):
    name = "cisco_asa"
    description = "Cisco ASA / PIX / Firepower FTD syslog (%ASA-, %PIX-, %FTD- traffic messages)"
    example = ('Apr 30 2013 09:23:40: %ASA-4-106023: Deny tcp src outside:192.0.2.126/53638 dst '
               'inside:198.51.100.132/8111 by access-group "acl_out" [0x71761f18, 0x0]')
    bad_reason = "ASA traffic message in an unknown layout"

    def records(self, work):
        return matches(work, _RECORD)

    def skippable(self, work):
        return pc.or_(matches(work, _ANY_TAG), super().skippable(work))

    def vendor(self, work):
        return matches(work, r"^(?:<\d{1,3}>)?[^\"|{}=]{0,120}?" + _ANY_TAG)

    def convert(self, rec, ctx: ParseContext):
        n = len(rec)
        head = syslog_head(rec, ctx)
        t = pc.extract_regex(rec, r"^(?P<pre>.*?)" + _TAG + r"(?:message repeated \d+ times: \[ ?)?(?P<body>.*?)\]?\s*$")
        code = pc.if_else(t.is_valid(), t.field("id"), pa.scalar(None, _S))
        tag = join("%", t.field("vendor"), "-", t.field("sev"), "-", t.field("id"))
        body = pc.if_else(t.is_valid(), t.field("body"), pa.scalar("", _S))

        g = {k: pa.nulls(n, _S) for k in _GROUPS}
        taken = pa.array([False] * n)
        for pat in _PATTERNS:
            st = pc.extract_regex(body, pat)
            hit = pc.and_(pc.fill_null(st.is_valid(), False), pc.invert(taken))
            if not pc.any(hit).as_py():
                continue
            names = {f.name for f in st.type}
            for k in _GROUPS:
                if k in names:
                    g[k] = pc.if_else(hit, blank_to_null(st.field(k)), g[k])
            taken = pc.or_(taken, hit)

        is_ftd = pc.fill_null(pc.match_substring_regex(code, r"^430"), False)
        if pc.any(is_ftd).as_py():
            self._ftd(body, is_ftd, g)
            taken = pc.or_(taken, is_ftd)

        srcif, src = _split_if(g["srcif"], g["src"])
        dstif, dst = _split_if(g["dstif"], g["dst"])
        sport = map_unique(g["srcport"], _port, pa.int32())
        dport = map_unique(g["dstport"], _port, pa.int32())
        swap = pc.fill_null(pc.equal(g["dir"], "outbound"), False)
        # a teardown of an ICMP connection does not say its direction: faddr is taken as the sender,
        # unless it is a multicast address, which sends nothing (an IPv6 router advertisement to ff02::1)
        group_faddr = pc.and_(pc.and_(pc.is_null(g["dir"]), pc.is_in(code, pa.array(["302020", "302021"]))),
                              pc.match_substring_regex(src, r"^(?:[fF][fF][0-9a-fA-F]{0,2}:|2(?:2[4-9]|3[0-9])\.)"))
        swap = pc.or_(swap, pc.fill_null(group_faddr, False))

        def sw(a, b):
            return pc.if_else(swap, b, a), pc.if_else(swap, a, b)
        src, dst = sw(src, dst)
        sport, dport = sw(sport, dport)
        srcif, dstif = sw(srcif, dstif)

        cols = {**head}
        cols.update(proto_cols(map_unique(g["proto"], lambda p: None if p.lower() in ("ip", "protocol") else p.lower(), _S)))
        is_icmp = pc.fill_null(pc.match_substring(cols["proto"], "icmp"), False)
        nul = pa.scalar(None, pa.int32())
        cols["src_ip"], cols["dst_ip"] = src, dst
        cols["src_port"] = pc.if_else(is_icmp, nul, sport)
        cols["dst_port"] = pc.if_else(is_icmp, nul, dport)
        cols["in_if"] = pc.coalesce(g["inif"], srcif)
        cols["out_if"] = dstif
        cols["rule"] = pc.coalesce(g["rule"], tag)
        cols["action"] = actions(join(code, "|", pc.fill_null(g["act"], "")), _action)
        cols.update(flag_cols(g["flags"]))
        only_tcp(cols, cols["proto"])
        cols["icmp_type"] = ints(g["itype"], pa.int16())
        cols["icmp_code"] = ints(g["icode"], pa.int16())
        cols["inner_src_ip"] = ips(g["isrc"])
        cols["inner_dst_ip"] = ips(g["idst"])
        cols["inner_proto"] = proto_cols(g["iproto"])["proto"]
        cols["inner_src_port"] = ints(g["isport"], pa.int32())
        cols["inner_dst_port"] = ints(g["idport"], pa.int32())
        return cols, taken

    @staticmethod
    def _ftd(body, is_ftd, g):
        def kv(key):
            st = pc.extract_regex(body, r"(?:^|, )" + key + r": (?P<v>[^,]*)")
            return pc.if_else(is_ftd, blank_to_null(pc.utf8_trim_whitespace(st.field("v"))), pa.scalar(None, _S))
        for k, key in (("src", "SrcIP"), ("dst", "DstIP"), ("srcport", "SrcPort"), ("dstport", "DstPort"),
                       ("proto", "Protocol"), ("act", "AccessControlRuleAction"), ("rule", "AccessControlRuleName"),
                       ("inif", "IngressInterface"), ("dstif", "EgressInterface")):
            g[k] = pc.if_else(is_ftd, kv(key), g[k])
        itype = kv("ICMPType")
        g["itype"] = pc.if_else(is_ftd, map_unique(itype, lambda s: str(_ICMP_NAMES.get(s.lower(), (s,))[0])
                                                   if not s.isdigit() else s, _S), g["itype"])
        code = kv("ICMPCode")
        g["icode"] = pc.if_else(is_ftd, map_unique(code, lambda s: "0" if s.lower() == "no code" else s, _S), g["icode"])


FORMAT = CiscoAsa()
