"""Application-layer reading of packet payloads (captures) into ``app_proto``/``app_detail``/
``app_status`` and ``payload_hint``, using the same conventions as the service-log readers so
that one detector query serves both:

* DNS: ``app_detail`` = ``"<name> <CLASS> <TYPE>"`` (BIND's query-log order, e.g.
  ``"version.bind CH TXT"``); ``app_status`` = the response code of a response
  (``NOERROR``, ``REFUSED``, ...) and null for a query.
* HTTP: ``app_detail`` = the request line (``"GET http://example.com/ HTTP/1.0"``);
  ``app_status`` = the status code of a response line.
* SMTP: ``app_detail`` = the client's command line (``"VRFY bob"``); a server reply gives
  ``app_status`` = the reply line (``"252 2.0.0 bob"``).
* RPC: ``app_detail`` = ``"portmap GETPORT sadmind (100232) v10 udp"`` for portmapper calls and
  ``"call sadmind (100232) v10 proc 1"`` for calls to other programs; a reply gives
  ``app_status`` = ``accepted``/``denied``.

Every function takes untrusted bytes and returns None rather than raise.
"""
from __future__ import annotations

import struct

from ._rpc import PMAP_PROCS, RPCB_PROCS, program_label

MAX_DETAIL = 1024  # longer command lines are cut (the length is kept in the text)

DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
             33: "SRV", 35: "NAPTR", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 52: "TLSA",
             64: "SVCB", 65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "ANY", 257: "CAA", 32: "NB",
             10: "NULL", 11: "WKS", 17: "RP", 29: "LOC", 41: "OPT", 249: "TKEY", 250: "TSIG"}
DNS_CLASSES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
              6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}

HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"CONNECT ", b"TRACE ",
                b"PATCH ", b"PROPFIND ", b"SEARCH ", b"PROPPATCH ", b"MKCOL ", b"COPY ", b"MOVE ", b"LOCK ",
                b"UNLOCK ")
SMTP_VERBS = {b"HELO", b"EHLO", b"MAIL", b"RCPT", b"DATA", b"RSET", b"VRFY", b"EXPN", b"HELP", b"NOOP",
              b"QUIT", b"TURN", b"ETRN", b"AUTH", b"STARTTLS", b"BDAT", b"ATRN", b"SEND", b"SOML", b"SAML",
              b"WIZ", b"DEBUG", b"KILL"}


_PRINTABLE = bytes(c if 32 <= c <= 126 else 46 for c in range(256))


def printable(b: bytes, limit: int = MAX_DETAIL) -> str:
    """Bytes as text for a record: printable ASCII kept, everything else as '.'."""
    return b[:limit].translate(_PRINTABLE).decode("ascii")


def _first_line(b: bytes) -> bytes:
    end = b.find(b"\n")
    line = b if end < 0 else b[:end]
    return line.rstrip(b"\r")


# --------------------------------------------------------------------------------- DNS
def _dns_name(msg: bytes, off: int) -> tuple[str, int] | None:
    labels, jumps, end = [], 0, None
    while True:
        if off >= len(msg):
            return None
        ln = msg[off]
        if ln == 0:
            off += 1
            break
        if ln & 0xC0 == 0xC0:
            if off + 1 >= len(msg) or jumps > 16:
                return None
            if end is None:
                end = off + 2
            off = ((ln & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            continue
        if ln & 0xC0:
            return None
        lab = msg[off + 1:off + 1 + ln]
        if len(lab) < ln:
            return None
        labels.append(printable(lab, 63).replace(" ", "\\032"))
        off += 1 + ln
        if len(labels) > 128:
            return None
    return (".".join(labels) or "."), (end if end is not None else off)


def dns(payload: bytes, over_tcp: bool = False) -> tuple[str | None, str | None] | None:
    """(detail, status) of a DNS message, or None when it is not one."""
    if over_tcp:
        if len(payload) < 2:
            return None
        payload = payload[2:]
    if len(payload) < 12:
        return None
    _id, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", payload)
    if qd == 0 or qd > 32 or (flags >> 11) & 0xF > 5:
        return None
    is_resp = bool(flags & 0x8000)
    q = _dns_name(payload, 12)
    if q is None:
        return None
    name, off = q
    if off + 4 > len(payload):
        detail = f"{name} ? ?"
    else:
        qtype, qclass = struct.unpack_from("!HH", payload, off)
        detail = f"{name} {DNS_CLASSES.get(qclass & 0x7FFF, f'CLASS{qclass}')} {DNS_TYPES.get(qtype, f'TYPE{qtype}')}"
    if (flags >> 11) & 0xF == 4:
        detail = "NOTIFY " + detail
    elif (flags >> 11) & 0xF == 5:
        detail = "UPDATE " + detail
    status = DNS_RCODES.get(flags & 0xF, f"RCODE{flags & 0xF}") if is_resp else None
    return detail, status


# -------------------------------------------------------------------------------- HTTP
def http(payload: bytes) -> tuple[str | None, str | None] | None:
    if payload.startswith(HTTP_METHODS):
        line = _first_line(payload[:8192])
        return printable(line), None
    if payload.startswith(b"HTTP/1.") or payload.startswith(b"HTTP/2"):
        line = _first_line(payload[:256])
        parts = line.split(b" ", 2)
        if len(parts) >= 2 and parts[1].isdigit():
            return None, parts[1].decode("ascii")
    return None


# -------------------------------------------------------------------------------- SMTP
def smtp(payload: bytes, to_server: bool) -> tuple[str | None, str | None] | None:
    line = _first_line(payload[:8192])
    if to_server:
        verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper()
        if verb in SMTP_VERBS:
            text = printable(line)
            if len(line) > MAX_DETAIL:
                text += f" ... ({len(line)} bytes)"
            return text, None
        return None
    if len(line) >= 3 and line[:3].isdigit() and (len(line) == 3 or line[3:4] in (b" ", b"-")):
        return None, printable(line, 256)
    return None


# --------------------------------------------------------------------------------- RPC
def rpc(payload: bytes, over_tcp: bool = False) -> tuple[str | None, str | None] | None:
    """An ONC RPC call (any port) or reply; portmapper calls are decoded to their arguments."""
    if over_tcp:
        if len(payload) < 4:
            return None
        payload = payload[4:]  # record mark
    if len(payload) < 12:
        return None
    xid, mtype = struct.unpack_from("!II", payload)
    if mtype == 1:  # reply: xid, 1, reply_stat
        stat = struct.unpack_from("!I", payload, 8)[0]
        if stat not in (0, 1) or len(payload) < 24:
            return None
        return None, "accepted" if stat == 0 else "denied"
    if mtype != 0 or len(payload) < 40:
        return None
    rpcvers, prog, vers, proc = struct.unpack_from("!IIII", payload, 8)
    if rpcvers != 2:
        return None
    # skip credentials and verifier (flavor, length, body padded to 4)
    off = 24
    for _ in range(2):
        if off + 8 > len(payload):
            return None
        _flav, ln = struct.unpack_from("!II", payload, off)
        if ln > 400:
            return None
        off += 8 + ((ln + 3) & ~3)
    args = payload[off:]
    if prog == 100000:
        procs = PMAP_PROCS if vers == 2 else RPCB_PROCS
        pname = procs.get(proc, f"proc {proc}")
        detail = f"portmap {pname}"
        if vers == 2 and proc in (1, 2, 3) and len(args) >= 16:
            aprog, avers, aproto, aport = struct.unpack_from("!IIII", args)
            proto = {6: "tcp", 17: "udp"}.get(aproto, str(aproto))
            detail += f" {program_label(aprog)} v{avers} {proto}"
            if proc == 1:
                detail += f" port {aport}"
        elif proc == 5 and len(args) >= 12:
            aprog, avers, aproc = struct.unpack_from("!III", args)
            detail += f" {program_label(aprog)} v{avers} proc {aproc}"
        elif vers > 2 and proc in (1, 2, 3, 9, 11) and len(args) >= 8:
            aprog, avers = struct.unpack_from("!II", args)
            detail += f" {program_label(aprog)} v{avers}"
        return detail, None
    if prog < 100000 or vers > 64:
        return None
    return f"call {program_label(prog)} v{vers} proc {proc}", None


# ------------------------------------------------------------------------ payload hints
_HP_OID = b"\x2b\x06\x01\x04\x01\x0b"  # BER of 1.3.6.1.4.1.11 (Hewlett-Packard enterprise)
_NBSTAT_NAME = b"\x20CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00"


def hint(proto: str, sport: int | None, dport: int | None, payload: bytes, payload_len: int) -> str | None:
    """A short tag for payloads the FAQ teaches to recognise, else a printable preview."""
    if not payload and not payload_len:
        return None
    if payload.startswith(b"OPNG"):
        return "OPNG (PowWow connection attempt)"
    if proto == "udp":
        if dport == 1434 and payload_len == 376 and payload[:1] in (b"\x04", b""):
            return "SLAMMER (376-byte SQL Server resolution datagram)"
        if dport == 137 and len(payload) >= 50 and payload[12:46] == _NBSTAT_NAME \
                and payload[46:48] == b"\x00\x21":
            return "NBSTAT * (NetBIOS node-status query)"
        if (dport in (161, 162) or sport in (161, 162)) and _HP_OID in payload[:512]:
            return "SNMP HP enterprise OID 1.3.6.1.4.1.11 (HP JetDirect management)"
    if b"IIOP" in payload[:1024] or payload.startswith(b"GIOP"):
        return "IIOP (CORBA)"
    return printable(payload[:32]) if payload else None
