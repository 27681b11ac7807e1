"""Decode a packet given as a hex dump, the way the Firewall Forensics FAQ shows them.

Accepted input: hex bytes separated by spaces (``00 00 BA 5E ...``), with or without a
leading offset column (``00000:``, ``0x0010:``, ``0010``) and with or without a trailing ASCII
column; tcpdump ``-x`` style groups of four hex digits; or one unbroken hex string. The
packet may start with an Ethernet header or directly with an IPv4/IPv6 header.

``decode(text)`` returns a dict::

    {"bytes": int, "link": "ethernet"|"raw-ip", "layers": [{"layer": str, "fields": {...}}, ...],
     "lines": [str, ...],        # the human-readable decode, one field per line
     "reveals": [str, ...],      # what the packet tells you, in plain words
     "errors": [str, ...]}       # what could not be decoded (truncated dumps are normal)

Dissection is done by dpkt; the readings come from the knowledge base.
"""
from __future__ import annotations

import ipaddress
import re
import struct
from typing import Any

import dpkt

from fwforensics.knowledge import kb

_OFFSET = re.compile(r"^(?:0x)?([0-9a-fA-F]{2,8}):?$")
_BYTE = re.compile(r"^[0-9a-fA-F]{2}$")
_WORD = re.compile(r"^[0-9a-fA-F]{4}$")


class DecodeError(ValueError):
    """The text holds no hex bytes that could be a packet."""


def parse_hex(text: str) -> bytes:
    """Extract the packet bytes from a hex dump (see the module docstring for the layouts)."""
    text = text.replace("\r", "")
    compact = re.sub(r"\s+", "", text)
    if compact and re.fullmatch(r"(?:0x)?[0-9a-fA-F]+", compact) and len(compact) % 2 == 0 and "\n" not in text.strip() and " " not in text.strip():
        return bytes.fromhex(compact[2:] if compact.lower().startswith("0x") else compact)
    rows: list[tuple[int | None, bytes]] = []
    for raw in text.splitlines():
        toks = raw.split()
        if not toks:
            continue
        offset = None
        first = toks[0]
        m = _OFFSET.match(first)
        if m and (first.endswith(":") or first.lower().startswith("0x") or len(m.group(1)) >= 5
                  or (len(m.group(1)) == 4 and len(toks) > 1 and _BYTE.match(toks[1]))):
            offset = int(m.group(1), 16)
            toks = toks[1:]
        data = bytearray()
        for t in toks:
            if _BYTE.match(t):
                data.append(int(t, 16))
            elif _WORD.match(t):
                data += bytes.fromhex(t)
            else:
                break  # the ASCII column (or prose) begins
        if data:
            rows.append((offset, bytes(data)))
    if not rows:
        raise DecodeError("no hex bytes found")
    # with offsets, trust them: a line carries exactly the bytes up to the next offset
    out = bytearray()
    for i, (off, data) in enumerate(rows):
        if off is not None and i + 1 < len(rows) and rows[i + 1][0] is not None:
            want = rows[i + 1][0] - off
            if 0 < want <= len(data):
                data = data[:want]
        elif off is not None and i + 1 == len(rows) and i > 0 and rows[i - 1][0] is not None:
            width = off - rows[i - 1][0]  # the last line is at most as wide as the others
            if 0 < width < len(data):
                data = data[:width]
        out += data
    return bytes(out)


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _ip(b: bytes) -> str:
    return str(ipaddress.ip_address(b))


def decode(text: str) -> dict[str, Any]:
    """Decode a hex dump of a packet."""
    return decode_bytes(parse_hex(text))


def decode_bytes(data: bytes) -> dict[str, Any]:
    res: dict[str, Any] = {"bytes": len(data), "link": None, "layers": [], "lines": [], "reveals": [], "errors": []}
    try:
        return _decode_into(res, data)
    except (dpkt.Error, struct.error, IndexError, ValueError, UnicodeError) as exc:
        # malformed packets are normal input: report how far we got
        res["errors"].append(f"decoding stopped: {type(exc).__name__}: {exc}")
        return res


def _decode_into(res: dict[str, Any], data: bytes) -> dict[str, Any]:
    if not data:
        res["errors"].append("empty packet")
        return res
    version = data[0] >> 4
    looks_ip = (version == 4 and len(data) >= 20 and (data[0] & 0x0F) >= 5 and struct.unpack("!H", data[2:4])[0] >= 20) or (version == 6 and len(data) >= 40)
    ethertype = struct.unpack("!H", data[12:14])[0] if len(data) >= 14 else None
    if ethertype in (0x0800, 0x86DD, 0x8100, 0x0806) or not looks_ip:
        res["link"] = "ethernet"
        try:
            eth = dpkt.ethernet.Ethernet(data)
        except (dpkt.UnpackError, struct.error) as exc:
            res["errors"].append(f"Ethernet header could not be read: {exc}")
            return res
        fields = {"dst": _mac(eth.dst), "src": _mac(eth.src), "type": f"0x{eth.type:04x}"}
        _add(res, "ethernet", fields, [
            f"Ethernet: {fields['src']} -> {fields['dst']}, type {fields['type']} ({_ethertype(eth.type)})"])
        if eth.dst == b"\xff" * 6:
            res["reveals"].append("Sent to the Ethernet broadcast address: every machine on the segment received it.")
        payload = eth.data
    else:
        res["link"] = "raw-ip"
        try:
            payload = dpkt.ip.IP(data) if version == 4 else dpkt.ip6.IP6(data)
        except (dpkt.UnpackError, struct.error) as exc:
            res["errors"].append(f"IP header could not be read: {exc}")
            return res
    if isinstance(payload, dpkt.ip.IP):
        _ipv4(res, payload)
    elif isinstance(payload, dpkt.ip6.IP6):
        _ipv6(res, payload)
    elif isinstance(payload, (bytes, bytearray)):
        res["errors"].append(f"payload of {len(payload)} bytes not dissected")
    else:
        res["lines"].append(f"{type(payload).__name__}: not an IP packet; not decoded further.")
    return res


def _add(res: dict, layer: str, fields: dict, lines: list[str]) -> None:
    res["layers"].append({"layer": layer, "fields": fields})
    res["lines"].extend(lines)


def _ethertype(t: int) -> str:
    return {0x0800: "IPv4", 0x86DD: "IPv6", 0x0806: "ARP", 0x8100: "802.1Q VLAN"}.get(t, "other")


def _ipv4(res: dict, ip: dpkt.ip.IP, inner: bool = False) -> None:
    k = kb()
    src, dst = _ip(ip.src), _ip(ip.dst)
    proto_name = {1: "ICMP", 6: "TCP", 17: "UDP"}.get(ip.p, f"protocol {ip.p}")
    df, mf, frag = bool(ip.df), bool(ip.mf), ip.offset
    fields = {"version": 4, "hl": ip.hl * 4, "tos": ip.tos, "len": ip.len, "id": ip.id, "df": df, "mf": mf,
              "frag_offset": frag, "ttl": ip.ttl, "proto": ip.p, "checksum": f"0x{ip.sum:04x}", "src": src, "dst": dst}
    who = "Quoted IP" if inner else "IP"
    lines = [
        f"{who}: {src} -> {dst}, {proto_name}",
        f"{who}: total length {ip.len}, header {ip.hl * 4} bytes, ID 0x{ip.id:04X} ({ip.id}), TTL {ip.ttl}"
        + (", DF" if df else "") + (", MF" if mf else "") + (f", fragment offset {frag}" if frag else "")
        + f", checksum 0x{ip.sum:04X}",
    ]
    if ip.opts:
        lines.append(f"{who}: options {ip.opts.hex()}" + (" (source route!)" if ip.opts[:1] in (b"\x83", b"\x89") else ""))
    _add(res, "ip-inner" if inner else "ip", fields, lines)
    if not inner:
        g = k.ttl(ip.ttl)
        dist = "right next to the capture point" if g.hops == 0 else f"about {g.hops} hop{'s' if g.hops != 1 else ''} before the capture point"
        res["reveals"].append(f"TTL {ip.ttl}: the sender probably started at {g.initial_ttl} ({g.os_family.split(',')[0]}), {dist}.")
        for label, addr in (("Source", src), ("Destination", dst)):
            a = k.address(addr)
            if a and a.category != "global":
                res["reveals"].append(f"{label} {addr} is a {a.category} address ({a.name}).")
    body = ip.data
    if inner:
        _inner_transport(res, ip)
        return
    if isinstance(body, dpkt.icmp.ICMP):
        _icmp(res, body, v6=False)
    elif isinstance(body, dpkt.udp.UDP):
        _udp(res, body, src, dst)
    elif isinstance(body, dpkt.tcp.TCP):
        _tcp(res, body)
    elif isinstance(body, (bytes, bytearray)) and body:
        res["lines"].append(f"{proto_name}: {len(body)} bytes not dissected")


def _ipv6(res: dict, ip: dpkt.ip6.IP6) -> None:
    src, dst = _ip(ip.src), _ip(ip.dst)
    fields = {"version": 6, "plen": ip.plen, "nxt": ip.nxt, "hlim": ip.hlim, "flow": ip.flow, "src": src, "dst": dst}
    _add(res, "ipv6", fields, [f"IPv6: {src} -> {dst}, next header {ip.nxt}, hop limit {ip.hlim}, payload {ip.plen} bytes"])
    body = ip.data
    if isinstance(body, dpkt.icmp6.ICMP6):
        _icmp(res, body, v6=True)
    elif isinstance(body, dpkt.udp.UDP):
        _udp(res, body, src, dst)
    elif isinstance(body, dpkt.tcp.TCP):
        _tcp(res, body)


def _icmp(res: dict, ic, v6: bool) -> None:
    k = kb()
    info = k.icmp(ic.type, ic.code, v6)
    fam = "ICMPv6" if v6 else "ICMP"
    fields = {"type": ic.type, "code": ic.code, "checksum": f"0x{ic.sum:04x}", "name": info.name, "type_name": info.type_name}
    lines = [f"{fam}: type {ic.type} code {ic.code} = {info.type_name}" + (f", {info.name}" if info.code_known and info.name != info.type_name else "") + f", checksum 0x{ic.sum:04X}"]
    _add(res, "icmpv6" if v6 else "icmp", fields, lines)
    res["reveals"].append(f"{fam} {info.type_name}" + (f" ({info.name})" if info.code_known and info.name != info.type_name else "") + ": " + info.meaning)
    body = ic.data
    error_types = (1, 2, 3, 4) if v6 else (3, 4, 5, 11, 12)
    if ic.type in error_types:
        quoted = getattr(body, "data", None)
        if not v6 and ic.type == 3 and ic.code == 4 and hasattr(body, "mtu"):
            res["lines"].append(f"{fam}: next-hop MTU {body.mtu}")
        if isinstance(quoted, dpkt.ip.IP):
            res["lines"].append(f"{fam}: the message quotes the IP header and first 8 data bytes of the packet that failed:")
            _ipv4(res, quoted, inner=True)
        elif isinstance(quoted, dpkt.ip6.IP6):
            res["lines"].append(f"{fam}: the message quotes the start of the packet that failed:")
            _add(res, "ipv6-inner", {"src": _ip(quoted.src), "dst": _ip(quoted.dst), "nxt": quoted.nxt},
                 [f"Quoted IPv6: {_ip(quoted.src)} -> {_ip(quoted.dst)}, next header {quoted.nxt}"])
            _inner_transport(res, quoted)
        else:
            res["errors"].append("the quoted packet could not be read")
    elif ic.type in ((128, 129) if v6 else (0, 8)):
        e = body
        if hasattr(e, "id"):
            res["lines"].append(f"{fam}: echo id {e.id}, sequence {e.seq}, {len(e.data)} bytes of data")


def _inner_transport(res: dict, ip) -> None:
    """Read the first 8 bytes after a quoted IP header (ports of the failed packet)."""
    body = ip.data
    raw = bytes(body) if not isinstance(body, (bytes, bytearray)) else body
    proto = ip.p if hasattr(ip, "p") else ip.nxt
    if proto not in (6, 17) or len(raw) < 4:
        return
    sport, dport = struct.unpack("!HH", raw[:4])
    name = "UDP" if proto == 17 else "TCP"
    fields = {"sport": sport, "dport": dport}
    lines = [f"Quoted {name}: source port {sport}, destination port {dport}"]
    if proto == 17 and len(raw) >= 8:
        ulen, usum = struct.unpack("!HH", raw[4:8])
        fields.update(length=ulen, checksum=f"0x{usum:04x}")
        lines.append(f"Quoted UDP: length {ulen}, checksum 0x{usum:04X}")
    elif proto == 6 and len(raw) >= 8:
        (seq,) = struct.unpack("!I", raw[4:8])
        fields["seq"] = seq
        lines.append(f"Quoted TCP: sequence number {seq}")
    _add(res, "udp-inner" if proto == 17 else "tcp-inner", fields, lines)
    k = kb()
    src, dst = _ip(ip.src), _ip(ip.dst)
    what = []
    if 33434 <= dport <= 33600:
        what.append("the failed packet was a traceroute probe, so this is the end of someone's traceroute")
    elif sport == 53:
        what.append("the failed packet came from a DNS server (source port 53): a DNS answer arrived after the client had closed its port (stale DNS)")
    elif dport == 137:
        what.append("the failed packet was a NetBIOS name lookup; the target does not speak NetBIOS")
    info = k.port(dport, name.lower())
    svc = f" ({info.service})" if info else ""
    res["reveals"].append(
        f"The packet that failed went from {src} port {sport} to {dst} port {dport}/{name.lower()}{svc}: "
        f"someone at {src} was trying to reach port {dport} on {dst}."
        + (" " + "; ".join(what).capitalize() + "." if what else
           f" If {src} is yours and nobody there sent it, your address was forged; a destination port that changes from message to message means a decoy scan."))
    if sport >= 1024 and not what:
        res["reveals"].append(f"Source port {sport} is probably a temporary client port and says little.")


def _udp(res: dict, u: dpkt.udp.UDP, src: str, dst: str) -> None:
    k = kb()
    fields = {"sport": u.sport, "dport": u.dport, "length": u.ulen, "checksum": f"0x{u.sum:04x}"}
    _add(res, "udp", fields, [f"UDP: port {u.sport} -> {u.dport}, length {u.ulen}, checksum 0x{u.sum:04X}"])
    if 137 in (u.sport, u.dport):
        _netbios_ns(res, bytes(u.data), u.sport, u.dport)
        return
    info = k.port(u.dport, "udp")
    if info:
        res["reveals"].append(f"UDP port {u.dport}: {info.summary}")
    if u.data:
        res["lines"].append(f"UDP payload: {len(u.data)} bytes, printable: {_printable(bytes(u.data))!r}")


def _tcp(res: dict, t: dpkt.tcp.TCP) -> None:
    k = kb()
    names = [n for bit, n in ((dpkt.tcp.TH_FIN, "FIN"), (dpkt.tcp.TH_SYN, "SYN"), (dpkt.tcp.TH_RST, "RST"), (dpkt.tcp.TH_PUSH, "PSH"),
                              (dpkt.tcp.TH_ACK, "ACK"), (dpkt.tcp.TH_URG, "URG"), (dpkt.tcp.TH_ECE, "ECE"), (dpkt.tcp.TH_CWR, "CWR")) if t.flags & bit]
    fields = {"sport": t.sport, "dport": t.dport, "seq": t.seq, "ack": t.ack, "flags": " ".join(names), "window": t.win}
    _add(res, "tcp", fields, [f"TCP: port {t.sport} -> {t.dport}, flags {' '.join(names) or '(none)'}, seq {t.seq}, ack {t.ack}, window {t.win}"])
    info = k.port(t.dport, "tcp")
    if info:
        res["reveals"].append(f"TCP port {t.dport}: {info.summary}")
    if t.data:
        res["lines"].append(f"TCP payload: {len(t.data)} bytes, printable: {_printable(bytes(t.data))!r}")


def _printable(b: bytes, n: int = 48) -> str:
    return "".join(chr(c) if 32 <= c < 127 else "." for c in b[:n])


_NB_SUFFIX = {0x00: "workstation / domain name", 0x03: "messenger service", 0x20: "file server service",
              0x1B: "domain master browser", 0x1C: "domain controllers", 0x1D: "master browser", 0x1E: "browser election"}
_NB_QTYPE = {0x20: "NB (name query)", 0x21: "NBSTAT (node status request)"}


def decode_netbios_name(encoded: bytes | str) -> tuple[str, int, bytes]:
    """First-level NetBIOS name decoding (RFC 1001 14.1): 'CKAAAA...' -> ('*', 0x00, raw16)."""
    if isinstance(encoded, bytes):
        encoded = encoded.decode("ascii", "replace")
    encoded = encoded.strip()
    if len(encoded) != 32 or any(not "A" <= c <= "P" for c in encoded.upper()):
        raise ValueError("a first-level encoded NetBIOS name is 32 letters A-P")
    enc = encoded.upper()
    raw = bytes(((ord(enc[i]) - 65) << 4) | (ord(enc[i + 1]) - 65) for i in range(0, 32, 2))
    if raw[0] == 0x2A and not any(raw[1:]):
        return "*", 0, raw
    name = raw[:15].rstrip(b" \x00").decode("latin-1")
    return name, raw[15], raw


def _netbios_ns(res: dict, data: bytes, sport: int, dport: int) -> None:
    try:
        ns = dpkt.netbios.NS(data)
    except (dpkt.UnpackError, struct.error, IndexError) as exc:
        res["errors"].append(f"NetBIOS name-service packet could not be read: {exc}")
        return
    is_resp = bool(ns.op & 0x8000)
    opcode = (ns.op >> 11) & 0xF
    fields = {"transaction_id": ns.id, "flags": f"0x{ns.op:04x}", "response": is_resp, "opcode": opcode,
              "questions": len(ns.qd), "answers": len(ns.an), "authority": len(ns.ns), "additional": len(ns.ar)}
    lines = [
        f"NetBIOS name service: {'response' if is_resp else 'request'}, opcode {opcode} ({'query' if opcode == 0 else 'other'}), "
        f"transaction ID {ns.id} (0x{ns.id:04X}), flags 0x{ns.op:04X}",
        f"NetBIOS: {len(ns.qd)} question(s), {len(ns.an)} answer(s), {len(ns.ns)} authority, {len(ns.ar)} additional",
    ]
    for q in ns.qd:
        enc = q.name if isinstance(q.name, str) else q.name.decode("ascii", "replace")
        try:
            name, suffix, raw = decode_netbios_name(enc)
            shown = "*" if name == "*" else f"{name}<{suffix:02X}>"
        except ValueError:
            name, suffix, shown = enc, None, enc
        qtype = _NB_QTYPE.get(q.type, f"type {q.type}")
        qclass = "IN (Internet)" if q.cls == 1 else f"class {q.cls}"
        fields.update(question_name=shown, question_encoded=enc, question_type=q.type, question_class=q.cls)
        lines.append(f"NetBIOS question: name {shown!s} (encoded {enc}), type 0x{q.type:04X} {qtype}, class {qclass}")
        if name == "*":
            lines.append("NetBIOS: '*' followed by 15 zero bytes is the wildcard name: 'tell me all your names'.")
        if q.type == 0x21:
            flavour = ("source port 137: Windows itself asking" if sport == 137 else
                       f"source port {sport}: Samba, a personal firewall or a worm asking")
            res["reveals"].append(
                f"A NetBIOS node-status request ({flavour}): the sender wants this machine's NetBIOS name table, "
                "usually because a reverse DNS lookup of this address failed. Normal background noise unless followed by "
                "connections to 139/445 (a file-sharing worm).")
    _add(res, "netbios-ns", fields, lines)


def render(res: dict[str, Any]) -> str:
    """Plain-text rendering of a decode result."""
    out = [f"{res['bytes']} bytes, starting at the {'Ethernet' if res['link'] == 'ethernet' else 'IP'} header", ""]
    out += res["lines"]
    if res["reveals"]:
        out += ["", "What it tells you:"] + [f"- {r}" for r in res["reveals"]]
    if res["errors"]:
        out += ["", "Not decoded:"] + [f"- {e}" for e in res["errors"]]
    return "\n".join(out)


__all__ = ["decode", "decode_bytes", "parse_hex", "decode_netbios_name", "render", "DecodeError"]
