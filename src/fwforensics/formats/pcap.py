"""Packet captures: libpcap (``.pcap``, micro- and nanosecond, either byte order) and pcapng.

One event per packet; ``line`` is the packet number (1-based, as Wireshark counts).
A capture has no verdict, so ``action`` is ``other`` unless the link type is pflog, whose
header carries pf's action, rule, interface and direction.

Link types: Ethernet (with 802.1Q/QinQ VLAN tags, MPLS and PPPoE session frames), Linux
cooked SLL and SLL2, raw IP (DLT_RAW 12/14, LINKTYPE_RAW 101, IPV4 228, IPV6 229), pflog,
BSD loopback/null (0) and OpenBSD loop (108), PPP (9, 50) and Cisco HDLC (104). ARP frames
become events with ``proto`` = ``arp`` (an ARP sweep is how nmap finds hosts on a LAN);
other non-IP frames are counted as skipped.

Framing is read with ``struct`` straight off the stream (the measurements in
``notes/measurements.md``: raw records + struct unpacking is the fastest way in Python, and
it lets a truncated last record be counted instead of raising); headers are unpacked with
``struct`` too, never by full dpkt dissection. Truncation anywhere (file header, record
header, record body, or a packet shorter than its headers say) is reported as an unreadable
record or an ``incomplete`` event, never an exception.
"""
from __future__ import annotations

import socket
import struct
from typing import Iterator

import pyarrow as pa

from ..schema import EVENT_SCHEMA, PROTO_NAMES, conform
from . import Format, ParseContext, ParseResult
from . import _payload as app
from .netfilter import _decode_ip_options

BATCH = 20000

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000), b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000), b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

_ETHER_IPV4, _ETHER_IPV6, _ETHER_ARP = 0x0800, 0x86DD, 0x0806
_ETHER_VLAN = (0x8100, 0x88A8, 0x9100)
_ETHER_MPLS = (0x8847, 0x8848)
_ETHER_PPPOE = 0x8864
_PPP_PROTOS = {0x0021: _ETHER_IPV4, 0x0057: _ETHER_IPV6, 0x0281: 0x8847, 0x0283: 0x8847}

_TCP_FLAG_NAMES = [(128, "CWR"), (64, "ECE"), (32, "URG"), (16, "ACK"), (8, "PSH"), (4, "RST"), (2, "SYN"), (1, "FIN")]
_FLAG_TEXT = {b: " ".join(n for bit, n in _TCP_FLAG_NAMES if b & bit) for b in range(256)}

_PF_ACTIONS = {0: "accept", 1: "drop", 10: "drop"}  # pass, block, synproxy-drop; the rest are nat/scrub/...

_ICMP4_ERRORS = {3, 4, 5, 11, 12}
_ICMP6_ERRORS = {1, 2, 3, 4}
_V6_EXT = {0: "hop-by-hop", 43: "routing", 44: "fragment", 60: "destination options", 51: "AH", 135: "mobility"}

_ip4 = socket.inet_ntoa


def _ip6(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, b)


def _mac(b: bytes) -> str:
    return b.hex(":")


class Truncated(Exception):
    pass


# ------------------------------------------------------------------------------ framing
def _frames(stream, stats: dict) -> Iterator[tuple[int, int, int, bytes, int, str | None, str]]:
    """(ts_us, frac_digits-ish raw text, linktype, data, orig_len, ifname, ts_raw) per record.

    ``stats`` receives 'truncated' notes: (packet number, reason).
    """
    head = stream.read(4)
    if head in _PCAP_MAGIC:
        yield from _pcap_frames(stream, head, stats)
    elif head == _PCAPNG_MAGIC:
        yield from _pcapng_frames(stream, head, stats)
    else:
        stats["bad"].append((1, "not a pcap or pcapng file"))


def _pcap_frames(stream, magic: bytes, stats: dict):
    endian, unit = _PCAP_MAGIC[magic]
    rest = stream.read(20)
    if len(rest) < 20:
        stats["bad"].append((1, "capture file header cut short"))
        return
    _vmaj, _vmin, _tz, _sig, _snap, linktype = struct.unpack(endian + "HHiIII", rest)
    linktype &= 0x0FFFFFFF  # upper bits may carry FCS information
    rec = struct.Struct(endian + "IIII")
    n = 0
    digits = 6 if unit == 1_000_000 else 9
    read = stream.read
    while True:
        h = read(16)
        if not h:
            return
        n += 1
        if len(h) < 16:
            stats["bad"].append((n, f"record header cut short ({len(h)} of 16 bytes): capture ends mid-record"))
            return
        sec, frac, caplen, origlen = rec.unpack(h)
        if caplen > 0x4000000:
            stats["bad"].append((n, f"record claims {caplen} bytes: file damaged, reading stopped"))
            return
        data = read(caplen)
        if len(data) < caplen:
            stats["bad"].append((n, f"record cut short ({len(data)} of {caplen} bytes): capture ends mid-record"))
            return
        ts_us = sec * 1_000_000 + (frac if unit == 1_000_000 else frac // 1000)
        yield n, ts_us, linktype, data, origlen, None, f"{sec}.{frac:0{digits}d}"


def _pcapng_frames(stream, first: bytes, stats: dict):
    endian = "<"
    ifaces: list[tuple[int, int, str | None]] = []  # (linktype, units per second, name)
    n = 0
    blk_type_bytes = first
    while True:
        if blk_type_bytes is None:
            blk_type_bytes = stream.read(4)
            if not blk_type_bytes:
                return
        if len(blk_type_bytes) < 4:
            stats["bad"].append((n + 1, "block header cut short: capture ends mid-block"))
            return
        lenb = stream.read(4)
        if len(lenb) < 4:
            stats["bad"].append((n + 1, "block header cut short: capture ends mid-block"))
            return
        if blk_type_bytes == _PCAPNG_MAGIC:
            bom = stream.read(4)
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                stats["bad"].append((n + 1, "pcapng section header with unknown byte order"))
                return
            blen = struct.unpack(endian + "I", lenb)[0]
            if blen < 28 or blen > 0x1000000:
                stats["bad"].append((n + 1, "pcapng section header with bad length"))
                return
            if len(stream.read(blen - 12)) < blen - 12:
                stats["bad"].append((n + 1, "section header cut short"))
                return
            ifaces = []
            blk_type_bytes = None
            continue
        btype = struct.unpack(endian + "I", blk_type_bytes)[0]
        blen = struct.unpack(endian + "I", lenb)[0]
        blk_type_bytes = None
        if blen < 12 or blen > 0x4000000 or blen % 4:
            stats["bad"].append((n + 1, f"pcapng block with bad length {blen}: file damaged, reading stopped"))
            return
        body = stream.read(blen - 8)
        if len(body) < blen - 8:
            if btype in (3, 6, 2):
                stats["bad"].append((n + 1, "packet block cut short: capture ends mid-record"))
            else:
                stats["bad"].append((n + 1, "block cut short: capture ends mid-block"))
            return
        body = body[:-4]  # trailing length
        if btype == 1:  # interface description
            if len(body) < 8:
                continue
            linktype, _res, _snap = struct.unpack_from(endian + "HHI", body)
            units, name = 1_000_000, None
            off = 8
            while off + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, off)
                val = body[off + 4:off + 4 + olen]
                if code == 0:
                    break
                if code == 9 and val:  # if_tsresol
                    r = val[0]
                    units = 2 ** (r & 0x7F) if r & 0x80 else 10 ** (r & 0x7F)
                elif code == 2:  # if_name
                    name = val.decode("utf-8", "replace").rstrip("\x00") or None
                off += 4 + ((olen + 3) & ~3)
            ifaces.append((linktype, units, name))
        elif btype in (6, 2):  # enhanced packet block, obsolete packet block
            if len(body) < 20:
                continue
            n += 1
            if btype == 6:
                ifid, tsh, tsl, caplen, origlen = struct.unpack_from(endian + "IIIII", body)
            else:
                ifid, _drops, tsh, tsl, caplen, origlen = struct.unpack_from(endian + "HHIIII", body)
            data = body[20:20 + caplen]
            if ifid >= len(ifaces):
                stats["bad"].append((n, f"packet names interface {ifid} that was never described"))
                continue
            linktype, units, name = ifaces[ifid]
            if len(data) < caplen:
                stats["bad"].append((n, "packet block shorter than its captured length"))
                continue
            t = (tsh << 32) | tsl
            sec, frac = divmod(t, units)
            ts_us = sec * 1_000_000 + frac * 1_000_000 // units
            digits = max(0, len(str(units)) - 1)
            yield n, ts_us, linktype, data, origlen, name, f"{sec}.{frac:0{digits}d}" if digits else str(sec)
        elif btype == 3:  # simple packet block: interface 0, no timestamp
            if len(body) < 4 or not ifaces:
                continue
            n += 1
            origlen = struct.unpack_from(endian + "I", body)[0]
            data = body[4:4 + origlen]
            linktype, _u, name = ifaces[0]
            yield n, None, linktype, data, origlen, name, None
        # other blocks (name resolution, statistics, custom) carry no packets


# ------------------------------------------------------------------------------ decoding
def _link(linktype: int, d: bytes, r: dict) -> tuple[int, int] | None:
    """Strip the link layer: return (ethertype-like network protocol, offset) or None."""
    if linktype == 1:  # Ethernet
        if len(d) < 14:
            raise Truncated("Ethernet header")
        r["mac_dst"] = _mac(d[0:6])
        r["mac_src"] = _mac(d[6:12])
        et = (d[12] << 8) | d[13]
        r["mac_raw"] = _mac(d[0:14])
        return _ether_payload(d, et, 14, r)
    if linktype in (101, 12, 14):  # raw IP
        return (_ETHER_IPV6 if d[:1] and d[0] >> 4 == 6 else _ETHER_IPV4), 0
    if linktype == 228:
        return _ETHER_IPV4, 0
    if linktype == 229:
        return _ETHER_IPV6, 0
    if linktype in (0, 108):  # null / loop: 4-byte address family
        if len(d) < 4:
            raise Truncated("loopback header")
        if len(d) > 4 and d[4] >> 4 == 6:
            return _ETHER_IPV6, 4
        if len(d) > 4 and d[4] >> 4 == 4:
            return _ETHER_IPV4, 4
        return None
    if linktype == 113:  # Linux cooked SLL
        if len(d) < 16:
            raise Truncated("Linux cooked header")
        ptype, hatype, alen = struct.unpack_from("!HHH", d)
        if hatype == 1 and alen == 6:
            r["mac_src"] = _mac(d[6:12])
        if ptype == 4:
            r["out_if"] = "outgoing"
        et = (d[14] << 8) | d[15]
        return _ether_payload(d, et, 16, r)
    if linktype == 276:  # Linux cooked SLL2
        if len(d) < 20:
            raise Truncated("Linux cooked v2 header")
        et, _res, ifindex, hatype, ptype, alen = struct.unpack_from("!HHIHBB", d)
        if hatype == 1 and alen == 6:
            r["mac_src"] = _mac(d[12:18])
        r["out_if" if ptype == 4 else "in_if"] = f"ifindex {ifindex}"
        return _ether_payload(d, et, 20, r)
    if linktype == 117:  # pflog
        if len(d) < 4:
            raise Truncated("pflog header")
        hlen = d[0]
        if hlen < 45 or len(d) < 45:
            raise Truncated("pflog header")
        action, reason = d[2], d[3]
        ifname = d[4:20].split(b"\x00", 1)[0].decode("ascii", "replace")
        ruleset = d[20:36].split(b"\x00", 1)[0].decode("ascii", "replace")
        rulenr, subrulenr = struct.unpack_from("!iI", d, 36)
        direction = d[60] if len(d) > 60 else 0
        r["action"] = _PF_ACTIONS.get(action, "other")
        rs = f"{rulenr}" if subrulenr == 0xFFFFFFFF else f"{rulenr}.{ruleset}.{subrulenr}"
        r["rule"] = rs   # as the pf text reader gives it ("5", "5.anchor.2"); action and interface have own fields
        if direction == 2:
            r["out_if"] = ifname
        else:
            r["in_if"] = ifname
        off = (hlen + 3) & ~3
        if len(d) <= off:
            raise Truncated("pflog payload")
        return (_ETHER_IPV6 if d[off] >> 4 == 6 else _ETHER_IPV4), off
    if linktype in (9, 50):  # PPP, PPP in HDLC framing
        off = 0
        if d[:2] == b"\xff\x03":
            off = 2
        if len(d) < off + 1:
            raise Truncated("PPP header")
        if d[off] & 1:
            proto, off = d[off], off + 1
        else:
            if len(d) < off + 2:
                raise Truncated("PPP header")
            proto, off = (d[off] << 8) | d[off + 1], off + 2
        et = _PPP_PROTOS.get(proto)
        return None if et is None else _ether_payload(d, et, off, r)
    if linktype == 104:  # Cisco HDLC
        if len(d) < 4:
            raise Truncated("Cisco HDLC header")
        return _ether_payload(d, (d[2] << 8) | d[3], 4, r)
    return None


def _ether_payload(d: bytes, et: int, off: int, r: dict) -> tuple[int, int] | None:
    for _ in range(8):
        if et in _ETHER_VLAN:
            if len(d) < off + 4:
                raise Truncated("VLAN tag")
            et = (d[off + 2] << 8) | d[off + 3]
            off += 4
        elif et in _ETHER_MPLS:
            while True:
                if len(d) < off + 4:
                    raise Truncated("MPLS label")
                bottom = d[off + 2] & 1
                off += 4
                if bottom:
                    break
            if len(d) <= off:
                raise Truncated("MPLS payload")
            v = d[off] >> 4
            et = _ETHER_IPV4 if v == 4 else _ETHER_IPV6 if v == 6 else 0
        elif et == _ETHER_PPPOE:
            if len(d) < off + 8:
                raise Truncated("PPPoE header")
            et = _PPP_PROTOS.get((d[off + 6] << 8) | d[off + 7], 0)
            off += 8
        else:
            break
    if et in (_ETHER_IPV4, _ETHER_IPV6, _ETHER_ARP):
        return et, off
    return None


def _arp(d: bytes, r: dict) -> None:
    if len(d) < 28:
        raise Truncated("ARP packet")
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", d)
    r["proto"] = "arp"
    r["app_proto"] = "arp"
    if ptype == 0x0800 and hlen == 6 and plen == 4:
        r["src_ip"] = _ip4(d[14:18])
        r["dst_ip"] = _ip4(d[24:28])
        if op == 1:
            r["app_detail"] = f"who-has {r['dst_ip']} tell {r['src_ip']}"
        elif op == 2:
            r["app_detail"] = f"{r['src_ip']} is-at {_mac(d[8:14])}"
        else:
            r["app_detail"] = f"operation {op}"
    else:
        r["app_detail"] = f"operation {op} for protocol 0x{ptype:04x}"


def _ipv4(d: bytes, off: int, r: dict) -> tuple[int, bytes, int] | None:
    """Fill IPv4 fields; return (protocol, transport bytes, transport length on the wire)."""
    if len(d) < off + 20:
        raise Truncated("IPv4 header")
    vhl, tos, tot, ipid, fo, ttl, proto = struct.unpack_from("!BBHHHBB", d, off)
    ihl = (vhl & 0x0F) * 4
    r["ip_version"] = 4
    r["ip_tos"] = tos
    r["ip_prec"] = tos & 0xE0
    r["ip_len"] = tot
    r["ip_id"] = ipid
    r["ttl"] = ttl
    r["ce"] = bool(fo & 0x8000)
    r["df"] = bool(fo & 0x4000)
    r["mf"] = bool(fo & 0x2000)
    r["frag_offset"] = fo & 0x1FFF
    r["proto_num"] = proto
    r["proto"] = PROTO_NAMES.get(proto, str(proto))
    r["src_ip"] = _ip4(d[off + 12:off + 16])
    r["dst_ip"] = _ip4(d[off + 16:off + 20])
    if ihl < 20:
        raise Truncated(f"IPv4 header length {ihl} below the minimum")
    if ihl > 20:
        opts = d[off + 20:off + ihl]
        r["ip_options_raw"] = opts.hex().upper()
        dec = _decode_ip_options(f"OPT ({opts.hex().upper()})")
        r["ip_options"] = dec
        r["source_route"] = bool(dec and any(p.startswith(("LSRR", "SSRR")) for p in dec.split("; ")))
        if len(opts) < ihl - 20:
            raise Truncated("IPv4 options")
    else:
        r["source_route"] = False
    end = off + tot if tot >= ihl else len(d)
    payload = d[off + ihl:end]
    if fo & 0x1FFF:
        return None  # a later fragment: no transport header
    return proto, payload, max(0, tot - ihl)


def _ipv6(d: bytes, off: int, r: dict) -> tuple[int, bytes, int] | None:
    if len(d) < off + 40:
        raise Truncated("IPv6 header")
    vtf, plen, nxt, hlim = struct.unpack_from("!IHBB", d, off)
    r["ip_version"] = 6
    r["ip_tos"] = (vtf >> 20) & 0xFF
    r["flow_label"] = vtf & 0xFFFFF
    r["ip_len"] = plen
    r["ttl"] = hlim
    r["src_ip"] = _ip6(d[off + 8:off + 24])
    r["dst_ip"] = _ip6(d[off + 24:off + 40])
    r["df"] = False
    r["mf"] = False
    r["frag_offset"] = 0
    r["source_route"] = False
    p = off + 40
    end = p + plen if plen else len(d)
    remaining = plen
    names, raw = [], []
    later_fragment = False
    for _ in range(16):
        if nxt not in _V6_EXT:
            break
        if len(d) < p + 8:
            raise Truncated("IPv6 extension header")
        if nxt == 44:
            fnxt = d[p]
            fo, fid = struct.unpack_from("!HI", d, p + 2)
            r["frag_offset"] = fo >> 3
            r["mf"] = bool(fo & 1)
            r["ip_id"] = fid
            names.append(f"fragment offset {fo >> 3}{' MF' if fo & 1 else ''} id {fid}")
            raw.append(d[p:p + 8].hex().upper())
            later_fragment = (fo >> 3) != 0
            hl = 8
            nxt = fnxt
        elif nxt == 51:
            hl = (d[p + 1] + 2) * 4
            names.append("AH")
            raw.append(d[p:p + hl].hex().upper())
            nxt = d[p]
        else:
            hl = (d[p + 1] + 1) * 8
            if nxt == 43:
                rtype, left = d[p + 2], d[p + 3]
                names.append(f"routing type {rtype} segments left {left}")
                if rtype == 0:
                    r["source_route"] = True
            else:
                names.append(_V6_EXT[nxt])
            raw.append(d[p:p + hl].hex().upper())
            nxt = d[p]
        p += hl
        remaining -= hl
    if names:
        r["ip_options"] = "; ".join("IPv6 " + n for n in names)
        r["ip_options_raw"] = " ".join(raw)
    r["proto_num"] = nxt
    r["proto"] = PROTO_NAMES.get(nxt, str(nxt))
    if later_fragment or nxt == 59:
        return None
    return nxt, d[p:end], max(0, remaining)


def _inner(q: bytes, r: dict) -> None:
    """The packet quoted in an ICMP error (as much as was quoted)."""
    if len(q) < 1:
        return
    v = q[0] >> 4
    if v == 4 and len(q) >= 20:
        ihl = (q[0] & 0x0F) * 4
        tot, ipid, fo, ttl, proto = struct.unpack_from("!HHHBB", q, 2)
        r["inner_len"], r["inner_ip_id"], r["inner_ttl"] = tot, ipid, ttl
        r["inner_proto"] = PROTO_NAMES.get(proto, str(proto))
        r["inner_src_ip"] = _ip4(q[12:16])
        r["inner_dst_ip"] = _ip4(q[16:20])
        t = q[ihl:] if ihl >= 20 and not (fo & 0x1FFF) else b""
    elif v == 6 and len(q) >= 40:
        plen, nxt, hlim = struct.unpack_from("!HBB", q, 4)
        r["inner_len"], r["inner_ttl"] = plen, hlim
        r["inner_src_ip"] = _ip6(q[8:24])
        r["inner_dst_ip"] = _ip6(q[24:40])
        p = 40
        while nxt in _V6_EXT and len(q) >= p + 8:
            if nxt == 44:
                r["inner_ip_id"] = struct.unpack_from("!I", q, p + 4)[0]
                hl = 8
            elif nxt == 51:
                hl = (q[p + 1] + 2) * 4
            else:
                hl = (q[p + 1] + 1) * 8
            nxt = q[p]
            p += hl
        proto = nxt
        r["inner_proto"] = PROTO_NAMES.get(proto, str(proto))
        t = q[p:]
    else:
        return
    if proto in (6, 17, 132, 33, 136) and len(t) >= 4:
        r["inner_src_port"], r["inner_dst_port"] = struct.unpack_from("!HH", t)


def _icmp(t: bytes, v6: bool, r: dict) -> None:
    if len(t) < 4:
        raise Truncated("ICMP header")
    typ, code = t[0], t[1]
    r["icmp_type"], r["icmp_code"] = typ, code
    if not v6:
        if typ in (0, 8, 13, 14, 15, 16, 17, 18) and len(t) >= 8:
            r["icmp_id"], r["icmp_seq"] = struct.unpack_from("!HH", t, 4)
        elif typ == 5 and len(t) >= 8:
            r["icmp_gateway"] = _ip4(t[4:8])
        elif typ == 3 and code == 4 and len(t) >= 8:
            r["icmp_mtu"] = struct.unpack_from("!H", t, 6)[0]
        elif typ == 12 and len(t) >= 5:
            r["icmp_parameter"] = t[4]
        if typ in _ICMP4_ERRORS:
            _inner(t[8:], r)
    else:
        if typ in (128, 129) and len(t) >= 8:
            r["icmp_id"], r["icmp_seq"] = struct.unpack_from("!HH", t, 4)
        elif typ == 2 and len(t) >= 8:
            r["icmp_mtu"] = struct.unpack_from("!I", t, 4)[0]
        elif typ == 4 and len(t) >= 8:
            r["icmp_parameter"] = struct.unpack_from("!I", t, 4)[0]
        elif typ == 137 and len(t) >= 24:
            r["icmp_gateway"] = _ip6(t[8:24])
        if typ in _ICMP6_ERRORS:
            _inner(t[8:], r)


_DNS_PORTS = {53, 5353, 5355}
_HTTP_PORTS = {80, 8080, 3128, 8000, 8001, 8008, 8888, 1080, 81, 591, 8081, 8118, 6588, 3129}
_SMTP_PORTS = {25, 587, 465, 2525}


def _app(proto: str, sp: int, dp: int, payload: bytes, plen: int, r: dict) -> None:
    tcp = proto == "tcp"
    res = None
    if sp in _DNS_PORTS or dp in _DNS_PORTS:
        res = app.dns(payload, tcp)
        if res:
            r["app_proto"] = "dns"
    if res is None and tcp and (dp in _SMTP_PORTS or sp in _SMTP_PORTS):
        res = app.smtp(payload, dp in _SMTP_PORTS)
        if res:
            r["app_proto"] = "smtp"
    if res is None and (sp == 111 or dp == 111 or (not tcp and payload[4:8] in (b"\x00\x00\x00\x00", b"\x00\x00\x00\x01"))):
        res = app.rpc(payload, tcp)
        if res:
            r["app_proto"] = "rpc"
    if res is None and tcp:
        res = app.http(payload)
        if res:
            r["app_proto"] = "http"
    if res:
        r["app_detail"], r["app_status"] = res
    h = app.hint(proto, sp, dp, payload, plen)
    if h:
        r["payload_hint"] = h


def decode(linktype: int, d: bytes, r: dict) -> bool:
    """Fill ``r`` from one frame. True if it is an event (IP or ARP), False for other frames.

    Raises Truncated when the frame ends inside a header; ``r`` keeps what was read.
    """
    lk = _link(linktype, d, r)
    if lk is None:
        return False
    et, off = lk
    if et == _ETHER_ARP:
        _arp(d[off:], r)
        return True
    if et == _ETHER_IPV4:
        if len(d) <= off or d[off] >> 4 != 4:
            if len(d) > off and d[off] >> 4 == 6:
                res = _ipv6(d, off, r)
            else:
                raise Truncated("IP header")
        else:
            res = _ipv4(d, off, r)
    else:
        res = _ipv6(d, off, r)
    if res is None:
        return True
    proto, t, wire_len = res
    if proto == 6:
        if len(t) < 20:
            if len(t) >= 4:
                r["src_port"], r["dst_port"] = struct.unpack_from("!HH", t)
            raise Truncated("TCP header")
        sp, dp, seq, ack, offb, flags, win, _ck, urp = struct.unpack_from("!HHIIBBHHH", t)
        thl = (offb >> 4) * 4
        r.update(src_port=sp, dst_port=dp, tcp_seq=seq, tcp_ack=ack, tcp_window=win, tcp_urgp=urp,
                 tcp_flag_bits=flags, tcp_flags=_FLAG_TEXT[flags])
        if thl > 20:
            r["tcp_options"] = t[20:thl].hex().upper()
        payload = t[thl:] if thl >= 20 else b""
        plen = max(0, wire_len - thl)
        r["payload_len"] = plen
        if plen:
            _app("tcp", sp, dp, payload, plen, r)
        if len(t) < thl:
            raise Truncated("TCP options")
    elif proto in (17, 136):
        if len(t) < 8:
            if len(t) >= 4:
                r["src_port"], r["dst_port"] = struct.unpack_from("!HH", t)
            raise Truncated("UDP header")
        sp, dp, ulen = struct.unpack_from("!HHH", t)
        r.update(src_port=sp, dst_port=dp, udp_len=ulen)
        plen = max(0, (ulen if ulen >= 8 else wire_len) - 8)
        r["payload_len"] = plen
        payload = t[8:8 + plen]
        _app("udp", sp, dp, payload, plen, r)
    elif proto == 1 or proto == 58:
        _icmp(t, proto == 58, r)
        r["payload_len"] = max(0, wire_len - 8)
    elif proto in (132, 33) and len(t) >= 4:
        r["src_port"], r["dst_port"] = struct.unpack_from("!HH", t)
    return True


# ------------------------------------------------------------------------------ the format
class Pcap(Format):
    name = "pcap"
    description = "packet captures: pcap and pcapng (Ethernet, Linux cooked, raw IP, pflog, loopback, PPP)"
    example = "tcpdump -w capture.pcap / dumpcap -w capture.pcapng"
    binary = True

    def sniff_bytes(self, head: bytes) -> float:
        if head[:4] in _PCAP_MAGIC:
            return 1.0
        if head[:4] == _PCAPNG_MAGIC and head[8:12] in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
            return 1.0
        return 0.0

    def sniff(self, sample: list[str]) -> float:
        return 0.0

    def parse_file(self, stream, ctx: ParseContext) -> Iterator[ParseResult]:
        notes: dict = {"bad": []}
        rows: list[dict] = []
        unreadable: list[tuple[int, str]] = []
        skipped = 0
        src = ctx.source_file
        last = 0
        try:
            for n, ts_us, linktype, data, origlen, ifname, ts_raw in _frames(stream, notes):
                last = n
                r = {"line": n, "ts": ts_us, "ts_raw": ts_raw, "source_file": src, "format": "pcap",
                     "action": "other"}
                if ifname:
                    r["in_if"] = ifname
                try:
                    ok = decode(linktype, data, r)
                except Truncated as e:
                    ok = "src_ip" in r or r.get("proto") == "arp"
                    r["incomplete"] = True
                    if not ok:
                        unreadable.append((n, f"frame ends inside the {e} ({len(data)} bytes captured)"))
                except (struct.error, IndexError, ValueError, OSError) as e:
                    ok = False
                    unreadable.append((n, f"undecodable frame: {type(e).__name__}"))
                if ok:
                    rows.append(r)
                elif not unreadable or unreadable[-1][0] != n:
                    skipped += 1  # not IP/ARP (STP, LLDP, IPX, ...)
                if len(rows) >= BATCH:
                    yield _result(rows, unreadable, skipped)
                    rows, unreadable, skipped = [], [], 0
        except (OSError, EOFError, ValueError) as e:  # decompression errors, damaged streams
            notes["bad"].append((last + 1, f"input ended early: {e}"))
        unreadable.extend(notes["bad"])
        yield _result(rows, unreadable, skipped)


_FIELDS = [(f.name, f.type) for f in EVENT_SCHEMA]


def _result(rows: list[dict], unreadable: list[tuple[int, str]], skipped: int) -> ParseResult:
    if not rows:
        return ParseResult(conform({}, 0), sorted(unreadable), skipped)
    summary = _summary
    for r in rows:
        r["raw"] = summary(r)
    present = set().union(*rows)
    n = len(rows)
    arrays = []
    for name, typ in _FIELDS:
        if name in present:
            arrays.append(pa.array([r.get(name) for r in rows], type=typ))
        else:
            arrays.append(pa.nulls(n, typ))
    return ParseResult(pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA), sorted(unreadable), skipped)


def _summary(r: dict) -> str:
    """A one-line, tcpdump-like text of the packet for ``raw`` (a capture has no log line)."""
    g = r.get
    proto = g("proto") or "?"
    if proto == "arp":
        return f"{g('ts_raw') or ''} ARP {g('app_detail') or ''}"
    sp = g("src_port")
    if sp is not None:
        head = f"{g('ts_raw') or ''} IP{g('ip_version') or ''} {g('src_ip')}.{sp} > {g('dst_ip')}.{g('dst_port')}: {proto}"
    else:
        head = f"{g('ts_raw') or ''} IP{g('ip_version') or ''} {g('src_ip')} > {g('dst_ip')}: {proto}"
    fl = g("tcp_flags")
    if fl is not None:
        head += f" [{fl or 'none'}]"
    it = g("icmp_type")
    if it is not None:
        head += f" type {it} code {g('icmp_code')}"
    head += f" ttl {g('ttl')} id {g('ip_id')} length {g('ip_len')}"
    ad = g("app_detail")
    if ad:
        head += f' "{ad[:200]}"'
    return head


FORMAT = Pcap()
