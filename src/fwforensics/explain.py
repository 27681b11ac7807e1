"""Answer "what is this?" for one thing seen in a log.

``explain(query)`` returns a list of answers (a query may have several readings, e.g. port 22
over TCP and over UDP). Every answer is a dict::

    {"query": str, "kind": str, "short": str, "detail": [str, ...], "certainty": str, "data": dict}

``kind`` is one of port, srcport, icmp, address, rpc, rpc_proc, ttl, ipid, finding, term,
record, unknown. ``short`` is one line; ``detail`` holds the rest. ``certainty`` says how sure
the answer is (see CERTAINTY). ``data`` is machine-readable.

Understood queries (case does not matter):

    31337   31337/tcp   port 31789/udp   dport 80   33434-33600
    sport 61000   source port 53/udp   srcport 4000
    icmp 3/4   icmp 3 4   icmp 11   icmp type 3 code 13   icmp6 2   icmpv6 1/4
    ICMP port 11          (the firewall wording for ICMP type 11)
    192.0.2.7   10.0.0.0/8   2001:db8::1   198.51.100.7:31337   [2001:db8::1]:22
    rpc 100083   rpc program 100232   rpc proc 5   rpc procedure CALLIT
    ttl 112
    ipid 64769 65025 65281 2     (decimal, or hex with 0x)
    smurf   scan.decoy           (terms and finding ids)
    a whole log line in any format fwforensics reads (firewall records, and DNS/web/mail/
    portmapper/ident records through the app_* columns), and firewall lines that log the ICMP
    type in a port field ('REJECT proto=1 ... port 11')

``explain_record(row)`` explains one event of the common schema directly (detectors and
reports can use it for sample records).
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from fwforensics.knowledge import KnowledgeBase, PortInfo, kb

# How sure an answer is. Ordered from most to least sure.
CERTAINTY = {
    "certain": "a fact of the protocol or a registry (not a guess)",
    "registered use": "what the number is registered for; says nothing about who really uses it",
    "commonly seen as": "what this usually turns out to be in firewall logs",
    "in 2003 this was": "what this meant in 1999-2003; may be history today",
    "best guess": "an inference from typical values; other explanations are possible",
    "unknown": "fwforensics knows nothing specific about it",
}

_PROTO_RE = r"(?:/(?P<proto>tcp|udp|both|any))?"
RE_PORT = re.compile(rf"^(?:(?:port|dport|dst ?port|destination port|dpt)\s*[= ]?\s*)?(?P<lo>\d{{1,5}})(?:\s*-\s*(?P<hi>\d{{1,5}}))?{_PROTO_RE}$", re.I)
RE_PROTO_FIRST = re.compile(r"^(?P<proto>tcp|udp)\s*(?:/|\s)\s*(?P<lo>\d{1,5})$", re.I)
RE_SPORT = re.compile(rf"^(?:sport|spt|src ?port|source ?port|srcport)\s*[= ]?\s*(?P<lo>\d{{1,5}}){_PROTO_RE}$", re.I)
RE_ICMP = re.compile(r"^icmp(?P<v6>v6|6)?\s*(?:type\s*[= ]?\s*)?(?P<t>\d{1,3})(?:\s*(?:/|\s|,|code\s*[= ]?)\s*(?:code\s*[= ]?\s*)?(?P<c>\d{1,3}))?$", re.I)
RE_ICMP_PORT = re.compile(r"^icmp(?P<v6>v6|6)?\s+(?:port|dport|dst ?port)\s*[= ]?\s*(?P<t>\d{1,3})(?:\s*/\s*(?P<c>\d{1,3}))?$", re.I)
RE_RPC_PROC = re.compile(r"^(?:rpc|portmap(?:per)?)\s+(?:proc|procedure)\s*[= ]?\s*(?P<n>\w+)$", re.I)
RE_RPC = re.compile(r"^rpc\s+(?:prog(?:ram)?\s*[= ]?\s*)?(?P<n>\w[\w.-]*)$", re.I)
RE_TTL = re.compile(r"^(?:ttl|hop ?limit|hlim)\s*[= ]?\s*(?P<n>\d{1,3})$", re.I)
RE_IPID = re.compile(r"^(?:ip ?id|ipid|id)\s*[= ]?\s*(?P<rest>(?:(?:0x)?[0-9a-f]+[\s,]*)+)$", re.I)

RE_ADDR_PORT = re.compile(r"^\[?(?P<ip>[0-9a-fA-F:.]+?)\]?[:.#](?P<port>\d{1,5})(?:/(?P<proto>tcp|udp))?$")
RE_PROTO1 = re.compile(r"\bproto(?:col)?\s*[=:]?\s*(?:1|icmp)\b", re.I)
RE_ANY_PORT = re.compile(r"\b(?:d?port|dst[_ ]?port|service)\s*[=:]?\s*(\d{1,5})\b", re.I)

KEYWORDS = ("port", "dport", "sport", "srcport", "source", "icmp", "icmp6", "icmpv6", "rpc", "ttl", "ipid", "ip")


def _ans(query: str, kind: str, short: str, detail: list[str], certainty: str, data: dict | None = None) -> dict:
    assert certainty in CERTAINTY, certainty
    return {"query": query, "kind": kind, "short": short, "detail": [d for d in detail if d],
            "certainty": certainty, "data": data or {}}


def _port_certainty(e: PortInfo) -> str:
    if e.dated and e.category in ("trojan", "backdoor", "game", "chat", "p2p", "multimedia", "adware", "discovery"):
        return "in 2003 this was"
    return "commonly seen as"


def _port_detail(k: KnowledgeBase, e: PortInfo, port: int) -> list[str]:
    out = [e.meaning]
    if e.advice:
        out.append("What to do: " + e.advice)
    if e.dated:
        out.append("Dated: " + e.dated)
    protos = ("tcp", "udp") if e.proto == "both" else (e.proto,)
    for p in protos:
        r = k.registered(port, p)
        if r:
            desc = f" ({r.description})" if r.description and r.description.lower() != r.name.lower() else ""
            out.append(f"Registered (IANA) for {port}/{p}: {r.name}{desc}")
    if e.refs:
        out.append("References: " + ", ".join(sorted(e.refs)))
    if e.faq:
        out.append("Firewall Forensics FAQ sections: " + ", ".join(e.faq))
    out.append(f"How worried to be about a blocked hit: {e.worry}.")
    return out


def explain_port(port: int, proto: str | None = None, query: str | None = None, hi: int | None = None) -> list[dict]:
    """Answers for a destination port (or a range lo-hi)."""
    k = kb()
    q = query or (f"{port}/{proto}" if proto else str(port))
    if not 0 <= port <= 65535 or (hi is not None and not port <= hi <= 65535):
        return [_ans(q, "unknown", f"{q}: not a port number (ports run from 0 to 65535).", [], "certain")]
    if hi is not None and hi != port:
        seen, out = set(), []
        for e in k.all_ports():
            if e.proto != "both" and proto and e.proto != proto:
                continue
            ports = e.ports if e.ports else range(e.lo, e.hi + 1)
            if any(port <= p <= hi for p in ports) and id(e) not in seen:
                seen.add(id(e))
                out.append(_ans(q, "port", f"{e.label}: {e.summary}", _port_detail(k, e, max(port, e.lo)), _port_certainty(e), _port_data(e)))
        if not out:
            out.append(_ans(q, "port", f"{q}: no known meaning for this range as a whole; ask about single ports.", [], "unknown"))
        return out
    entries = k.ports(port, proto)
    answers = []
    for e in entries:
        # a port listed in a multi-port entry next to a more specific one: keep only the best per proto
        if any(a["data"].get("proto") == e.proto and a["data"].get("category") == e.category for a in answers):
            continue
        label = f"{port}/{e.proto}" if e.proto != "both" else str(port)
        answers.append(_ans(q, "port", f"{label}: {e.summary}", _port_detail(k, e, port), _port_certainty(e), _port_data(e)))
    if answers:
        return answers
    return [_registered_only(k, port, proto, q, "port")]


def _port_data(e: PortInfo) -> dict:
    return {"service": e.service, "category": e.category, "worry": e.worry, "proto": e.proto,
            "ports": list(e.ports) if e.ports else [e.lo, e.hi], "refs": list(e.refs), "faq": list(e.faq), "dated": e.dated}


def _registered_only(k: KnowledgeBase, port: int, proto: str | None, q: str, kind: str) -> dict:
    regs = [r for p in ((proto,) if proto in ("tcp", "udp") else ("tcp", "udp")) if (r := k.registered(port, p))]
    if regs:
        names = sorted({r.name for r in regs})
        r0 = regs[0]
        desc = f" ({r0.description})" if r0.description and r0.description.lower() != r0.name.lower() else ""
        where = "/".join(r.proto for r in regs)
        short = f"{port}/{where}: registered to {', '.join(names)}{desc}; nothing known about abuse."
        detail = ["This is only the name in the IANA port registry: it says what the number is assigned to, not what actually uses it. Any program can listen on any port."]
        if port >= 1024:
            detail.append("Above 1023 the port may just as well be a client's temporary port, so also check whether this was a reply to a connection from your side.")
        if any(r.source == "netbase" for r in regs):
            detail.append("(Name from Debian's /etc/services; IANA lists no assignment.)")
        return _ans(q, kind, short, detail, "registered use", {"registered": [r.__dict__ for r in regs]})
    detail = ["No service is registered on this port and fwforensics knows of no common use."]
    lbl = f"{port}/{proto}" if proto in ("tcp", "udp") else str(port)
    if port >= 49152:
        short = f"{lbl}: not registered; in the dynamic range, so most likely a client's temporary port (a late reply or a connection from your side)."
    elif port >= 32768:
        short = f"{lbl}: not registered; in Linux's default client-port range, so most likely a temporary port."
    elif port >= 1024:
        short = f"{lbl}: not registered to any service; nothing known about it."
    else:
        short = f"{lbl}: a reserved low port with no registered service; probes here are scans."
    detail.append("To see what a persistent visitor wants, `fwforensics` can listen on the port and record the first bytes each connection sends.")
    return _ans(q, kind, short, detail, "unknown", {})


def explain_srcport(port: int, proto: str | None = None, query: str | None = None) -> list[dict]:
    k = kb()
    q = query or f"sport {port}" + (f"/{proto}" if proto else "")
    if not 0 <= port <= 65535:
        return [_ans(q, "unknown", f"{q}: not a port number (ports run from 0 to 65535).", [], "certain")]
    hits = k.srcports(port, proto)
    if not hits:
        a = _registered_only(k, port, proto, q, "srcport")
        a["short"] = "Source " + a["short"]
        a["detail"].insert(0, "As a source port this usually only identifies the client end; the destination port is the one that names the service.")
        return [a]
    e = hits[0]
    detail = [e.meaning]
    if e.advice:
        detail.append("What to do: " + e.advice)
    if e.dated:
        detail.append("Dated: " + e.dated)
    for other in hits[1:3]:
        detail.append(f"Also fits: {other.label} ({other.service}).")
    if e.faq:
        detail.append("Firewall Forensics FAQ sections: " + ", ".join(e.faq))
    cert = "in 2003 this was" if e.dated else "commonly seen as"
    return [_ans(q, "srcport", f"source port {port} ({e.service}): {e.summary}", detail, cert, _port_data(e))]


def explain_icmp(type_: int, code: int | None = None, v6: bool = False, query: str | None = None, as_port: bool = False) -> list[dict]:
    k = kb()
    fam = "icmpv6" if v6 else "icmp"
    q = query or (f"{fam} {type_}" + (f"/{code}" if code is not None else ""))
    if not 0 <= type_ <= 255 or (code is not None and not 0 <= code <= 255):
        return [_ans(q, "unknown", f"{q}: ICMP types and codes run from 0 to 255.", [], "certain")]
    info = k.icmp(type_, code, v6)
    label = f"{'ICMPv6' if v6 else 'ICMP'} type {type_}" + (f" code {code}" if code is not None else "")
    if info.code_known and info.name != info.type_name:
        short = f"{label}: {info.type_name}, {info.name}."
    else:
        short = f"{label}: {info.type_name}."
    detail = []
    if as_port:
        short = (f"'ICMP port {type_}' means {label}: {info.type_name}. "
                 "ICMP has no ports; the firewall printed the ICMP type in the port column.")
        detail.append("Some firewalls log ICMP type and code in the fields they use for TCP/UDP ports, so 'port 11' "
                      "on a proto=1 line means ICMP type 11, and the 'other port' is the code.")
    detail.append(info.meaning)
    if code is None:
        codes = k.icmp_codes(type_, v6)
        if codes:
            detail.append("Codes: " + "; ".join(f"{c.code} {c.name}" for c in codes) + ".")
    if info.status in ("deprecated", "unassigned", "reserved", "experimental"):
        detail.append(f"Registry status: {info.status}.")
    detail.append(f"How worried to be: {info.worry}.")
    if type_ == 3 and not v6 or (v6 and type_ == 1):
        detail.append("The message quotes the start of the packet that failed; `fwforensics decode` reads it from a hex dump.")
    cert = "commonly seen as" if info.from_faq else ("certain" if info.status != "current" else "registered use")
    data = {"type": type_, "code": code, "v6": v6, "type_name": info.type_name, "name": info.name,
            "status": info.status, "worry": info.worry}
    return [_ans(q, "icmp", short, detail, cert, data)]


def explain_address(text: str, query: str | None = None) -> list[dict]:
    k = kb()
    q = query or text
    a = k.address(text)
    if a is None:
        return [_ans(q, "unknown", f"{q}: not an IP address or network.", [], "certain")]
    short = f"{a.ip}: {a.category} address" + (f" ({a.name}, {a.rfc})" if a.rfc else "") + ". " + _first_sentence(a.text)
    detail = [a.text]
    if a.bogon:
        detail.append("Never a valid source address on the public Internet.")
    if a.dated:
        detail.append("Dated: " + a.dated)
    try:
        ip = ipaddress.ip_network(a.ip, strict=False).network_address if a.is_network else ipaddress.ip_address(a.ip)
    except ValueError:  # pragma: no cover - k.address validated it
        ip = None
    if ip is not None and ip.version == 4 and a.category == "global" and not a.is_network:
        last = int(ip) & 0xFF
        if last in (0, 255):
            detail.append(k.zen["global"]["directed_broadcast"])
    if a.is_network:
        net = ipaddress.ip_network(a.ip, strict=False)
        detail.append(f"The network {net} holds {net.num_addresses} addresses ({net[0]} to {net[-1]}).")
    data = {"ip": a.ip, "version": a.version, "category": a.category, "name": a.name, "bogon": a.bogon,
            "block": a.cidr, "rfc": a.rfc}
    return [_ans(q, "address", short, detail, "certain", data)]


def explain_rpc(number_or_name: str, query: str | None = None) -> list[dict]:
    k = kb()
    q = query or f"rpc {number_or_name}"
    prog = None
    if number_or_name.isdigit():
        n = int(number_or_name)
        prog = k.rpc_program(n)
    else:
        want = number_or_name.lower()
        for p in k.rpc_programs().values():
            if want == p.name.lower() or want in (a.lower() for a in p.aliases) or want == p.name.lower().split(" ")[0]:
                prog = p
                break
        if prog is None:
            return [_ans(q, "unknown", f"{q}: no RPC program of that name is known.", [], "unknown")]
        n = prog.number
    if prog is None:
        rng = k.rpc_range(n)
        if rng is None:
            return [_ans(q, "unknown", f"{q}: RPC program numbers are 32-bit (0-4294967295).", [], "certain")]
        return [_ans(q, "rpc", f"RPC program {n}: no name known; it lies in the {rng.name}.",
                     [rng.description, "Ask the host's portmapper (rpcinfo -p) which service registered it."],
                     "unknown", {"number": n, "range": rng.name})]
    aka = f" (also {', '.join(prog.aliases)})" if prog.aliases else ""
    short = f"RPC program {prog.number}: {prog.name}{aka}. {prog.description}"
    detail = []
    if prog.reading:
        detail.append(prog.reading)
    if prog.callit:
        detail.append("Known to use portmapper CALLIT broadcasts, so seeing it broadcast on your segment is normal for that product.")
    if prog.refs:
        detail.append("References: " + ", ".join(sorted(prog.refs)))
    detail.append("Source of the number: " + _RPC_SOURCES.get(prog.source, prog.source) + ".")
    cert = "commonly seen as" if prog.reading else "registered use"
    return [_ans(q, "rpc", short, detail, cert, {"number": prog.number, "name": prog.name, "aliases": list(prog.aliases),
                                                 "worry": prog.worry, "callit": prog.callit, "source": prog.source})]


_RPC_SOURCES = {
    "faq": "the Firewall Forensics FAQ, section 7.3.2",
    "netbase /etc/rpc": "the system RPC name list (/etc/rpc, Debian netbase)",
    "nmap-rpc (cross-check)": "vendor documentation as collected in Nmap's RPC list",
}


def explain_rpc_proc(n_or_name: str, query: str | None = None) -> list[dict]:
    k = kb()
    q = query or f"rpc proc {n_or_name}"
    proc = None
    if n_or_name.isdigit():
        proc = k.rpc_proc(int(n_or_name))
    else:
        for i in range(6):
            p = k.rpc_proc(i)
            if p and p.name.lower() == n_or_name.lower():
                proc = p
    if proc is None:
        return [_ans(q, "unknown", f"{q}: the portmapper (version 2) has procedures 0-5 only; rpcbind versions 3/4 add more.", [], "certain")]
    return [_ans(q, "rpc_proc", f"Portmapper procedure {proc.number}: {proc.name}. {proc.reading.split('. ')[0].rstrip('.')}.",
                 [proc.reading, f"How worried to be when it comes from outside: {proc.worry}."], "certain",
                 {"number": proc.number, "name": proc.name, "worry": proc.worry})]


def explain_ttl(ttl: int, query: str | None = None) -> list[dict]:
    k = kb()
    q = query or f"ttl {ttl}"
    if not 0 <= ttl <= 255:
        return [_ans(q, "unknown", f"{q}: a TTL is between 0 and 255.", [], "certain")]
    g = k.ttl(ttl)
    hop = "hop" if g.hops == 1 else "hops"
    short = f"TTL {ttl}: probably started at {g.initial_ttl} ({g.os_family}), so the sender is about {g.hops} {hop} away."
    detail = [
        f"Senders start from a few typical values (32, 64, 128, 255) and every router subtracts one; the nearest value at or above {ttl} is {g.initial_ttl}, and {g.initial_ttl} - {ttl} = {g.hops}.",
        g.note,
        "Paths longer than about 30 hops are rare, so a large 'distance' more likely means a different starting value.",
        "For decoy scans: the real scanner's TTL fits its distance, forged decoys often do not (though newer tools randomise all of them).",
    ]
    return [_ans(q, "ttl", short, detail, "best guess", {"ttl": ttl, "initial_ttl": g.initial_ttl, "hops": g.hops, "os_family": g.os_family})]


def explain_ipid(ids: list[int], query: str | None = None) -> list[dict]:
    k = kb()
    q = query or "ipid " + " ".join(str(i) for i in ids)
    try:
        r = k.ipid_order(ids)
    except ValueError as exc:
        return [_ans(q, "unknown", f"{q}: {exc}.", [], "certain")]
    hexes = " ".join(f"{i:04X}" for i in ids)
    short = f"IP IDs {' '.join(str(i) for i in ids)}: {r.order}."
    detail = [r.detail, f"The same numbers in hex: {hexes}."]
    if r.swapped:
        detail.append("Bytes swapped: " + " ".join(f"{i:04X}" for i in r.swapped) + " = " + " ".join(str(i) for i in r.swapped) + " in decimal.")
    detail.append(k.zen["ipid"]["hex_advice"])
    return [_ans(q, "ipid", short, detail, "best guess", {"ids": ids, "order": r.order, "swapped": list(r.swapped)})]


def explain_finding(id_: str, query: str | None = None) -> list[dict]:
    s = kb().signature(id_)
    if s is None:
        return []
    return [_ans(query or id_, "finding", f"{s.id}: {s.title}. {_first_sentence(s.explanation)}",
                 [s.explanation, "What to do: " + s.advice, f"Default severity: {s.severity}."]
                 + (["Firewall Forensics FAQ sections: " + ", ".join(s.faq)] if s.faq else []),
                 "certain", {"id": s.id, "title": s.title, "severity": s.severity})]


def explain_term(name: str, query: str | None = None) -> list[dict]:
    k = kb()
    t = k.term(name)
    out = []
    if t is not None:
        detail = [t.text]
        if t.see:
            detail.append("See also: " + ", ".join(t.see))
        kind = {"quasi": "term", "log": "term"}.get(t.group, "term")
        cert = "commonly seen as" if t.group in ("quasi", "log") else "certain"
        out.append(_ans(query or name, kind, f"{t.name}: {_first_sentence(t.text)}", detail, cert, {"term": t.name, "group": t.group}))
    return out


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return m.group(1) if m else text


# --------------------------------------------------------------------------------- records
_FLAG_READING = [
    (frozenset({"SYN"}), "a connection attempt (SYN)"),
    (frozenset({"SYN", "ACK"}), "a connection acceptance (SYN-ACK): a reply, or backscatter from someone forging your address"),
    (frozenset({"ACK"}), "a bare ACK: a late packet of a finished connection, or an ACK probe mapping your filter"),
    (frozenset({"RST"}), "a reset: a refusal, often backscatter or a late answer"),
    (frozenset({"RST", "ACK"}), "a reset: a refusal, often backscatter or a late answer"),
    (frozenset({"FIN"}), "a lone FIN with no connection: a stealth FIN scan"),
    (frozenset(), "no flags at all: a NULL scan"),
    (frozenset({"FIN", "PSH", "URG"}), "FIN+PSH+URG: an XMAS scan"),
    (frozenset({"SYN", "FIN"}), "SYN+FIN together, which no real stack sends: a crafted probe"),
]


def _flags_reading(flags: str | None) -> str | None:
    if flags is None:
        return None
    fs = frozenset(f for f in flags.upper().split() if f not in ("ECE", "CWR"))
    for want, text in _FLAG_READING:
        if fs == want:
            return text
    if {"FIN", "PSH", "URG"} <= fs:
        return "many flags at once: an XMAS-style probe"
    if "SYN" in fs and "ACK" not in fs:
        return "a connection attempt (SYN with extra flags)"
    return f"flags {flags}: part of an established conversation (or a late packet)"


def explain_record(rec: dict[str, Any], query: str | None = None) -> list[dict]:
    """Explain one event of the common schema (a dict of column -> value)."""
    k = kb()
    q = query or (rec.get("raw") or "record")
    g = rec.get
    lines: list[str] = []
    proto = (g("proto") or "").lower() or None
    sport, dport = g("src_port"), g("dst_port")
    src, dst = g("src_ip"), g("dst_ip")
    action = g("action")
    if action or g("rule"):
        lines.append(f"Action: {action or 'unknown'}" + (f" by rule {g('rule')}" if g("rule") else "")
                     + (f", in on {g('in_if')}" if g("in_if") else "") + (f", out on {g('out_if')}" if g("out_if") else "") + ".")
    sa = k.address(src) if src else None
    da = k.address(dst) if dst else None
    if sa:
        lines.append(f"Source {src}: {sa.category}" + (" (never a valid Internet source)" if sa.bogon else "") + ".")
    if da:
        extra = ""
        if da.category == "broadcast":
            extra = ": the local broadcast, so the sender is on your own segment"
        elif da.category == "multicast":
            extra = ": a multicast group, local discovery or routing traffic"
        elif da.version == 4 and da.category == "global" and dst.split(".")[-1] in ("255", "0"):
            extra = ": possibly a subnet broadcast address (depends on the mask)"
        lines.append(f"Destination {dst}: {da.category}{extra}.")
    if proto:
        lines.append(f"Protocol: {proto}" + (f" (IP protocol {g('proto_num')})" if g("proto_num") is not None else "") + ".")
    dport_info = sport_info = None
    if proto in ("tcp", "udp") and dport is not None:
        dport_info = k.port(dport, proto)
        if dport_info:
            lines.append(f"Destination port {dport}/{proto}: {dport_info.summary}")
        else:
            r = k.registered(dport, proto)
            lines.append(f"Destination port {dport}/{proto}: " + (f"registered to {r.name}; nothing specific known." if r else "not a registered service port."))
    if proto in ("tcp", "udp") and sport is not None:
        hits = k.srcports(sport, proto)
        sport_info = hits[0] if hits else None
        if sport_info and (sport_info.category != "dynamic" or sport < 1024):
            lines.append(f"Source port {sport}: {sport_info.summary}")
        elif sport_info:
            lines.append(f"Source port {sport}: an ordinary client port ({sport_info.service}).")
    if proto == "tcp":
        fr = _flags_reading(g("tcp_flags"))
        if fr:
            lines.append(f"TCP flags {g('tcp_flags') or '(none)'}: {fr}.")
    icmp_info = None
    if g("icmp_type") is not None:
        v6 = proto in ("ipv6-icmp", "icmpv6") or g("ip_version") == 6
        icmp_info = k.icmp(int(g("icmp_type")), None if g("icmp_code") is None else int(g("icmp_code")), v6)
        lines.append(f"ICMP type {g('icmp_type')} code {g('icmp_code')}: {icmp_info.type_name}"
                     + (f", {icmp_info.name}" if icmp_info.code_known and icmp_info.name != icmp_info.type_name else "") + ".")
        if g("icmp_mtu"):
            lines.append(f"Next-hop MTU given by the router: {g('icmp_mtu')} bytes.")
    inner_reading = None
    if g("inner_proto") or g("inner_dst_port") is not None:
        ip_, isp, idp = g("inner_proto"), g("inner_src_port"), g("inner_dst_port")
        lines.append(f"Quoted packet: {g('inner_src_ip')}:{isp} -> {g('inner_dst_ip')}:{idp} ({ip_}).")
        inner_reading = _inner_reading(ip_, isp, idp, g("inner_src_ip"))
    if g("ttl") is not None:
        t = k.ttl(int(g("ttl")))
        lines.append(f"TTL {g('ttl')}: probably started at {t.initial_ttl} ({_os_short(t.os_family)}), about {t.hops} hop{'' if t.hops == 1 else 's'} away.")
    if g("app_proto"):
        lines.append(f"Application: {g('app_proto')}" + (f", {g('app_detail')!r}" if g("app_detail") else "")
                     + (f", outcome {g('app_status')!r}" if g("app_status") else "") + ".")
    if g("source_route"):
        lines.append("Carries a source-route option: " + (g("ip_options") or "") + " (never legitimate from the Internet).")
    if g("frag_offset") or g("mf"):
        lines.append("A fragment: ports may be missing because only the first fragment carries them.")
    verdict, finding = _record_verdict(k, rec, proto, sa, da, dport_info, sport_info, icmp_info, inner_reading)
    if sa is not None and sa.bogon:
        internal = da is not None and (da.bogon or da.category == "broadcast")
        generic = finding is None and (verdict.startswith(("A packet from", "A connection attempt from", "A bare ACK", "A reset"))
                                       or " packet from " in verdict.split(":")[0])
        if sa.category == "unspecified" and not (proto == "udp" and dport == 67):
            internal = False
        if internal:
            lines.append("Both addresses are non-public, so this is traffic inside a network (or test data), not a packet from the Internet.")
        else:
            if sa.category == "link-local":
                bog = f"The source {src} is link-local: a machine on your segment that failed to get an address by DHCP."
            elif sa.category == "unspecified":
                bog = f"The source is {src}, which no real sender on the Internet uses: a forged or crafted packet" + (
                    " (with port 0: OS fingerprinting)." if 0 in (sport, dport) else ".")
            else:
                bog = (f"The source {src} is a {sa.category} address, which cannot be a real Internet source: if it arrived from "
                       "outside, it is a leaking dual-homed host, an ISP router, a neighbour on a shared segment, or spoofing.")
            if generic:
                verdict, finding = bog, "bogon.source"
            else:
                lines.append(bog + " (finding bogon.source)")
    detail = lines
    if finding:
        s = k.signature(finding)
        if s:
            detail = lines + [f"Related finding: {finding} ({s.title}).", "What to do: " + s.advice]
    cert = "best guess" if finding is None else "commonly seen as"
    data = {"record": {c: v for c, v in rec.items() if v is not None and c != "raw" and not hasattr(v, "isoformat")},
            "finding": finding}
    return [_ans(q, "record", verdict, detail, cert, data)]


def _inner_reading(proto: str | None, sport: int | None, dport: int | None, inner_src: str | None = None) -> str | None:
    if dport is not None and 33434 <= dport <= 33600:
        return "the failed packet was a traceroute probe, so a traceroute from your side reached its target"
    if sport == 53:
        return "the failed packet was a DNS answer that arrived after the asker had closed its port (stale DNS)"
    if dport == 137:
        return "the failed packet was a NetBIOS name lookup the target does not answer"
    if dport is not None:
        return (f"the failed packet went to {proto or ''} port {dport}; if {inner_src or 'the quoted source'} is yours and sent "
                "no such thing, your address was forged by someone scanning that host (a decoy scan), the more so if the "
                "port changes from one message to the next")
    return None


def _os_short(family: str) -> str:
    return family.split(" (")[0].split(",")[0]


_NIMDA = ("cmd.exe", "root.exe", "/_vti_bin/", "/msadc/", "/scripts/..", "%c0%af", "%c1%1c")


def _app_verdict(rec) -> tuple[str, str | None] | None:
    """Readings of DNS, web, mail, portmapper and ident log records (app_* columns)."""
    g = rec.get
    app = (g("app_proto") or "").lower()
    det = g("app_detail") or ""
    st = g("app_status") or ""
    up, low = det.upper(), det.lower()
    src = g("src_ip") or "a client"
    if app == "dns":
        if "VERSION.BIND" in up or ("CHAOS" in up and "TXT" in up):
            return f"{src} asked the DNS server for its BIND version (VERSION.BIND, CHAOS TXT): fingerprinting before picking an exploit.", "dns.version_query"
        if "AXFR" in up or "IXFR" in up:
            return f"{src} asked for a zone transfer: a full list of the names in the zone.", "dns.axfr"
        if "unexpected source" in (st + " " + det).lower():
            return "A DNS answer came from a different address than the question went to: usually a multi-homed server or a proxy, rarely cache poisoning.", "dns.unexpected_source"
        if st == "unexpected-response":
            return f"{src} sent the DNS server an answer it had never asked for: backscatter of queries forged in the server's name, a stray reply, or a blind poisoning try.", "dns.unexpected_source"
        if re.search(r"\b127\.\d+\.\d+\.\d+\b", det + " " + st):
            return "A name resolved to a loopback address: a blocked name, a mistake, or a trick to make a program talk to itself.", None
        return None
    if app == "http":
        if re.match(r"^(GET|POST|HEAD)\s+https?://", det, re.I) or up.startswith("CONNECT "):
            return f"{src} sent a proxy-style request (full URL or CONNECT): testing whether the web server will fetch pages for strangers.", "http.proxy_attempt"
        if "default.ida" in low:
            return f"A CodeRed worm request from infected host {src}; harmless to servers that are not unpatched IIS.", "worm.http"
        if any(n in low for n in _NIMDA):
            return f"A Nimda-style request from {src} looking for cmd.exe/root.exe or directory traversal; harmless to patched servers.", "worm.http"
        if "/favicon.ico" in low:
            return "A browser asking for the site's icon (favicon.ico); harmless.", None
        if "/robots.txt" in low:
            return f"{src} read robots.txt: a crawler (or someone reading which paths you would rather hide).", None
        return None
    if app == "smtp":
        both = (det + " " + st).lower()
        if "relay" in both and any(w in both for w in ("denied", "not permitted", "refused", "prohibited", "we do not relay", "550", "554")):
            return f"Relaying refused for {src}: the mail server correctly declined to pass on mail for a domain it does not serve.", "smtp.relay_attempt"
        if up.startswith(("EXPN", "VRFY")):
            return f"{src} probed for accounts with {up.split()[0]}: reconnaissance.", "smtp.recon"
        if any(len(w) > 256 for w in det.split()) or "too long" in st.lower():
            return f"{src} sent an SMTP command with a very long argument: an overflow attempt or a vulnerability scanner.", "smtp.recon"
        return None
    if app == "rpc":
        m = re.search(r"\b(DUMP|CALLIT|UNSET|SET|GETPORT|NULL)\b", up)
        pm = re.search(r"\b(\d{6,10})\b", det)
        prog = kb().rpc_program(int(pm.group(1))) if pm else None
        if m and m.group(1) in ("DUMP", "CALLIT", "SET", "UNSET"):
            return f"A portmapper {m.group(1)} from {src}: " + kb().rpc_proc({"NULL": 0, "SET": 1, "UNSET": 2, "GETPORT": 3, "DUMP": 4, "CALLIT": 5}[m.group(1)]).reading, "rpc.portmap"
        if prog is not None:
            bad = prog.worry in ("medium", "high")
            return (f"{src} asked the portmapper for {prog.name} (program {prog.number})"
                    + (": a service with a history of remote exploits, so this is reconnaissance." if bad else "."), "rpc.portmap" if bad else None)
        return None
    if app in ("ident", "irc") and "no ident response" in (det + " " + st).lower():
        return "The IRC server got no answer from your ident port (113); harmless.", "identd.blocked"
    return None


def _record_verdict(k, rec, proto, sa, da, dinfo, sinfo, icmp, inner) -> tuple[str, str | None]:
    g = rec.get
    app = _app_verdict(rec)
    if app is not None:
        return app
    sport, dport = g("src_port"), g("dst_port")
    flags = (g("tcp_flags") or "").upper().split() if g("tcp_flags") is not None else None
    src = g("src_ip") or "?"
    if g("source_route"):
        return f"A source-routed packet from {src}: an attempt to steer the reply path; drop these.", "source_route"
    if icmp is not None:
        t, c = g("icmp_type"), g("icmp_code")
        v6 = icmp.v6
        if (not v6 and t == 3 and c == 4) or (v6 and t == 2):
            return "A 'packet too big / fragmentation needed' message was logged: if it was dropped, Path MTU Discovery breaks for connections from your side.", "icmp.frag_needed"
        if (not v6 and t == 3) or (v6 and t == 1):
            return (f"{icmp.type_name} ({icmp.name}) from {src}: " + (inner or "the quoted header of the failed packet says what was attempted") + "."), "icmp.unreach_backscatter"
        if not v6 and t == 8 and da is not None and (da.category == "broadcast" or (g("dst_ip") or "").endswith((".255", ".0"))):
            return f"A ping to a broadcast address: {src} (possibly forged) is testing whether your network amplifies smurf floods.", "smurf"
        if not icmp.code_known and c not in (None, 0):
            return (f"ICMP {icmp.type_name} from {src} with code {c}, which this type never carries: a crafted packet, "
                    "most likely an OS-fingerprinting probe or a tool testing your filter."), None
        if (not v6 and t == 8) or (v6 and t == 128):
            return f"A ping from {src}: someone checking whether this address is alive (often before a scan).", None
        if (not v6 and t == 0) or (v6 and t == 129):
            return f"An echo reply from {src}: an answer to a ping; if nobody here pinged, a decoy ping sweep or a covert channel.", "icmp.echo_reply_unsolicited"
        if not v6 and t == 11 or v6 and t == 3:
            return f"A time-exceeded message from router {src}: most likely answering a traceroute from your side.", "traceroute.from_inside"
        if not v6 and t == 4:
            return f"A source quench from {src}: obsolete; possibly an attempt to slow your traffic.", "icmp.source_quench"
        if (not v6 and t == 5) or (v6 and t == 137):
            return f"An ICMP redirect from {src}: an attempt to reroute traffic unless it comes from your own router.", "icmp.redirect"
        if (not v6 and t == 9) or (v6 and t == 134 and sa is not None and sa.category != "link-local"):
            return f"A router advertisement from {src}: only your own router should send these.", "icmp.router_advert"
        if (not v6 and t == 12) or (v6 and t == 4):
            return f"A parameter-problem message from {src}: usually the answer to a malformed fingerprinting probe.", "icmp.param_problem"
        if not v6 and t == 13:
            return f"A timestamp request from {src}: host information gathering.", "icmp.timestamp"
        if not v6 and t == 17:
            return f"An address-mask request from {src}: host information gathering.", "icmp.addr_mask"
        return f"{'ICMPv6' if v6 else 'ICMP'} {icmp.type_name} from {src}: {_first_sentence(icmp.meaning)}", None
    if da is not None and da.category == "broadcast":
        if proto == "udp" and dport in (67, 68):
            return "A DHCP broadcast from a machine on your segment asking for (or offering) an address; harmless.", "broadcast.local"
        return f"A local broadcast from {src}: a machine on your own segment announcing something; harmless.", "broadcast.local"
    if proto == "udp" and dport in (7, 19) and (g("dst_ip") or "").endswith((".255", ".0")):
        return f"UDP {dport} to a possible broadcast address: fraggle amplifier probing; {src} may be the forged victim.", "fraggle"
    if dport == 0 or sport == 0:
        return f"A packet using port 0 from {src}: most likely OS fingerprinting.", "port.zero"
    if proto == "udp" and dport == 137:
        flavour = "a Windows machine" if sport == 137 else "Samba, a personal firewall or a worm"
        return f"A NetBIOS name lookup from {src} ({flavour}) asking this address for its Windows name; normal background noise.", "netbios.nbstat"
    if proto == "udp" and dport == 1434:
        if g("ip_len") == 404 or g("udp_len") == 384:
            return f"SQL Slammer: a single 376-byte worm datagram from infected host {src}.", "worm.slammer"
        return f"A probe of the MS SQL resolution service from {src} (Slammer's port).", "worm.slammer"
    if proto == "udp" and sport == 53 and dport is not None and dport >= 1024:
        return f"A DNS answer from {src} that reached a closed port: it arrived after the asking program gave up (stale DNS).", "dns.stale"
    if proto == "tcp" and dport == 113:
        return f"An ident lookup from {src}, a server someone here connected to; if dropped, logins there are slow. Reject it with a RST instead.", "identd.blocked"
    if proto == "udp" and dport is not None and 33434 <= dport <= 33600:
        return f"A traceroute probe from {src} mapping the path to this address; harmless.", "traceroute.unix"
    if proto == "tcp" and flags is not None:
        fs = set(flags) - {"ECE", "CWR"}
        if not fs:
            return f"A TCP NULL scan probe from {src}.", "scan.null"
        if fs == {"FIN"}:
            return f"A TCP FIN scan probe from {src}.", "scan.fin"
        if {"FIN", "PSH", "URG"} <= fs:
            return f"A TCP XMAS scan probe from {src}.", "scan.xmas"
        if fs == {"ACK"} and sport is not None and sport == dport and dport in (23, 25, 80, 110, 143):
            return f"An ACK 'ping' with source port = destination port from {src}: the sscan tool checking this host.", "sscan"
        if proto == "tcp" and sport is not None and 1 <= sport <= 5 and "SYN" in fs:
            return f"A probe from source port {sport}: the sscan tool fingerprinting the OS.", "sscan"
    if dinfo is not None:
        cat = dinfo.category
        attempt = _what_packet(proto, flags)
        if cat in ("trojan", "backdoor"):
            return f"{attempt} from {src} to {dinfo.service} ({dport}/{proto}): a search for machines already infected or backdoored; harmless if nothing listens.", "trojan.probe"
        if cat == "proxy":
            return f"{attempt} from {src} to {dport}/{proto}: someone hunting for an open proxy.", "proxy.scan"
        if cat in ("game", "chat", "p2p", "multimedia"):
            return f"{attempt} from {src} for {dinfo.service}: most likely meant for a previous user of this address.", "dialup.leftover"
        if dport == 1433:
            return f"{attempt} from {src} to MS SQL Server: a worm or password-guessing bot.", "worm.mssql"
        if proto == "tcp" and dport in (23, 2323):
            return (f"{attempt} from {src} to telnet ({dport}/tcp): most likely a Mirai-family bot trying factory "
                    f"passwords of cameras and routers.", "worm.telnet")
        return f"{attempt} from {src} to {dport}/{proto} ({dinfo.service}). {dinfo.summary}", None
    if sinfo is not None and sinfo.category not in ("dynamic",):
        return f"Traffic from {src} source port {sport} ({sinfo.service}) to port {dport}: " + _first_sentence(sinfo.summary), None
    if proto in ("tcp", "udp") and dport is not None:
        r = k.registered(dport, proto)
        attempt = _what_packet(proto, flags)
        if r:
            return f"{attempt} from {src} to {dport}/{proto} (registered to {r.name}); nothing specific is known about abuse of it.", None
        if dport >= 1024:
            return f"{attempt} from {src} to unregistered high port {dport}/{proto}: probably a late reply to a connection from your side, or a scan.", None
    if proto and proto.isdigit():
        return f"A packet of IP protocol {proto} from {src}: an unusual protocol; many different ones in a row are a protocol scan.", None
    name = (proto or "IP").upper()
    art = "An" if name[:1] in "AEIOU" or name.startswith(("ICMP", "IGMP", "ESP", "AH", "L2TP", "OSPF")) else "A"
    return f"{art} {name} packet from {src}.", None


def _what_packet(proto: str | None, flags: list[str] | None) -> str:
    if proto != "tcp" or flags is None:
        return "A packet"
    fs = set(flags) - {"ECE", "CWR"}
    if fs == {"SYN"}:
        return "A connection attempt"
    if fs == {"ACK"}:
        return "A bare ACK (a late packet, or an ACK probe)"
    if fs == {"SYN", "ACK"}:
        return "A SYN-ACK (a reply, or backscatter)"
    if "RST" in fs:
        return "A reset"
    return "A TCP packet (" + " ".join(flags) + ")"


def explain_line(text: str, query: str | None = None) -> list[dict]:
    """Explain a whole log line by parsing it with fwforensics.formats.parse_line."""
    q = query or text
    try:
        from fwforensics.formats import parse_line
    except ImportError:  # pragma: no cover - formats always present once merged
        return [_ans(q, "unknown", "Log lines cannot be read: the formats package is missing.", [], "unknown")]
    try:
        rec = parse_line(text)
    except Exception as exc:  # a reader must never take explain down
        return [_ans(q, "unknown", f"The line could not be parsed ({type(exc).__name__}).", [], "unknown")]
    if rec is None:
        return []
    return explain_record(rec, q)


# --------------------------------------------------------------------------------- dispatch
def _parse_int(s: str) -> int:
    s = s.strip().lower()
    return int(s, 16) if s.startswith("0x") else int(s)


def explain(query: str) -> list[dict]:
    """All readings of one query (see the module docstring for what is understood)."""
    raw = query
    q = " ".join(str(query).replace("\x00", " ").split())
    if len(q) > 100_000:
        q = q[:100_000]
    if not q:
        return [_ans(raw, "unknown", "Nothing to explain.", [], "unknown")]
    try:
        return _dispatch(q) or [_unknown(q)]
    except (ValueError, OverflowError):
        return [_unknown(q)]


def _unknown(q: str) -> dict:
    return _ans(q, "unknown", f"{q[:80]}: not something fwforensics recognises.",
                ["Try a port (31337, 31789/udp), 'sport 61000', 'icmp 3/4', an address, 'rpc 100083', 'rpc proc 5', "
                 "'ttl 112', 'ipid 1 2 3', a term such as 'smurf', a finding id such as 'scan.decoy', or a whole log line."],
                "unknown")


def _dispatch(q: str) -> list[dict]:
    low = q.lower()
    if m := RE_ICMP_PORT.match(q):
        return explain_icmp(int(m["t"]), int(m["c"]) if m["c"] else None, bool(m["v6"]), q, as_port=True)
    if m := RE_ICMP.match(q):
        return explain_icmp(int(m["t"]), int(m["c"]) if m["c"] else None, bool(m["v6"]), q)
    if m := RE_SPORT.match(q):
        return explain_srcport(int(m["lo"]), _proto(m["proto"]), q)
    if m := RE_PROTO_FIRST.match(q):
        return explain_port(int(m["lo"]), m["proto"].lower(), q)
    if m := RE_PORT.match(q):
        hi = int(m["hi"]) if m["hi"] else None
        return explain_port(int(m["lo"]), _proto(m["proto"]), q, hi)
    if m := RE_RPC_PROC.match(q):
        return explain_rpc_proc(m["n"], q)
    if m := RE_RPC.match(q):
        return explain_rpc(m["n"], q)
    if m := RE_TTL.match(q):
        return explain_ttl(int(m["n"]), q)
    if m := RE_IPID.match(q):
        ids = [_parse_int(x) for x in re.split(r"[\s,]+", m["rest"].strip()) if x]
        return explain_ipid(ids, q)
    tok = q.strip("[]")
    if kb().address(tok) is not None and " " not in tok:
        return explain_address(tok, q)
    if m := RE_ADDR_PORT.match(q):
        ans = explain_address(m["ip"], q)
        if ans and ans[0]["kind"] == "address":
            return ans + explain_port(int(m["port"]), _proto(m["proto"]), q)
    if kb().signature(low):
        return explain_finding(low, q)
    if t := explain_term(q, q):
        return t
    if " " in q:
        # a log line?
        rec = explain_line(q, q)
        if rec:
            return rec
        # a firewall line that files ICMP type/code under "port": 'REJECT proto=1 ... port 11'
        if RE_PROTO1.search(q) and (m := RE_ANY_PORT.search(q)):
            mc = re.search(r"\b(?:code|icmpcode|sport|src[_ ]?port)\s*[=:]\s*(\d{1,3})\b", q, re.I)
            t = int(m.group(1))
            if t <= 255:
                return explain_icmp(t, int(mc.group(1)) if mc and int(mc.group(1)) <= 255 else None, False, q, as_port=True)
        # several simple queries in one string: '31337 12345', 'icmp 3/4 ttl 112'
        parts = group_args(q.split())
        if len(parts) > 1:
            out: list[dict] = []
            for p in parts:
                got = _dispatch(p)
                if not got:
                    return []
                out.extend(got)
            return out
    return []


def _proto(p: str | None) -> str | None:
    if p is None:
        return None
    p = p.lower()
    return None if p in ("both", "any") else p


_STARTERS = {"icmp", "icmp6", "icmpv6", "sport", "spt", "srcport", "source", "rpc", "portmap", "portmapper", "ttl", "ipid", "port", "dport", "tcp", "udp"}


def group_args(args: list[str]) -> list[str]:
    """Turn command-line words into queries: 'icmp 3/4 ttl 112 31337' -> ['icmp 3/4', 'ttl 112', '31337'].

    A word containing spaces (a quoted log line) is always a query of its own. A keyword
    (icmp, sport, rpc, ttl, ipid, port ...) takes the longest run of following words that
    still forms a query it understands.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        w = args[i]
        if " " in w.strip() or w.lower() not in _STARTERS:
            out.append(w)
            i += 1
            continue
        best = i + 1
        j = i + 1
        limit = len(args) if w.lower() == "ipid" else min(len(args), i + 6)
        while j < limit:
            nxt = args[j].lower()
            if nxt in _STARTERS and not (nxt == "port" and args[j - 1].lower() in ("icmp", "icmp6", "icmpv6", "source")):
                break
            j += 1
            if _dispatch_ok(" ".join(args[i:j])):
                best = j
        out.append(" ".join(args[i:best]))
        i = best
    return out


def _dispatch_ok(q: str) -> bool:
    return any(r.match(q) for r in (RE_ICMP_PORT, RE_ICMP, RE_SPORT, RE_PROTO_FIRST, RE_PORT, RE_RPC_PROC, RE_RPC, RE_TTL, RE_IPID))
