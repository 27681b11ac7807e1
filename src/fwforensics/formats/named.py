"""ISC BIND ``named`` logs: query log, security (denied queries and zone transfers),
``response from unexpected source``, ``dropping source port zero packet``; in syslog form
(``Aug 29 15:33:13 ns3 named[464]: client ...``) or as written to a named ``channel`` file
(``22-Nov-2026 03:24:58.526 security: info: client @0x.. 198.51.100.7#57767 (version.bind): ...``).

Events (``app_proto`` = ``dns``; ``src_ip``/``src_port`` = the client):

* ``query: version.bind CH TXT +E(0)K (192.0.2.1)`` -> ``app_detail`` = ``version.bind CH TXT``,
  ``dst_ip`` = the server address in parentheses;
* ``query (cache) 'name/A/IN' denied`` and ``query 'version.bind/TXT/CH' denied`` ->
  ``app_detail`` = ``name IN A``, ``app_status`` = ``denied``, ``action`` = ``reject``;
* ``zone transfer 'example.com/AXFR/IN' denied`` / ``bad zone transfer request`` /
  ``transfer of 'zone/IN': AXFR started`` -> ``app_detail`` = ``example.com IN AXFR``;
* ``query failed (REFUSED) for name/CLASS/TYPE`` -> ``app_status`` = ``REFUSED``;
* ``response from unexpected source`` (BIND 4/8) -> ``src_ip`` = that source, ``app_status`` =
  ``unexpected-source``; BIND 9's ``client @0x.. ip#port: dropped request: unexpected response``
  (category security, severity debug 10: a DNS answer arrived at the server's query port
  although the server had asked nothing of that address) -> ``src_ip`` = the sender,
  ``app_status`` = ``unexpected-response``, ``action`` = drop;
  ``dropping source port zero packet from [ip].0`` -> ``src_port`` 0, ``app_status`` = ``dropped``.

Other named lines (zone loads, startup, debug-level client housekeeping such as ``reset
client``) and other programs' lines are counted as skipped.
"""
from __future__ import annotations

import re

import pyarrow as pa

from . import Format, ParseContext
from ._rows import Lines, base, clip, ip, port

_CLIENT = re.compile(r"client (?:@0x[0-9a-f]+ )?(?P<ip>[0-9A-Fa-f:.]+)#(?P<port>\d+)(?: \((?P<qn>[^)]*)\))?:?\s*(?P<rest>.*)$")
_QUERY = re.compile(r"^query: (?P<name>\S+) (?P<cls>\S+) (?P<type>\S+) (?P<flags>\S*)(?: \((?P<srv>[0-9A-Fa-f:.]+)\))?")
_DENIED = re.compile(r"^(?P<what>query(?: \(cache\))?|zone transfer|update|notify|query \(cache\)) '(?P<name>[^'/]*)/(?P<a>[^'/]*)/(?P<b>[^'/]*)' (?P<verdict>denied|approved|refused)")
_OLD_DENIED = re.compile(r"^query(?: \(cache\))?(?: (?P<verdict>denied))?\s*$")
_BADXFR = re.compile(r"^bad zone transfer request: '(?P<name>[^'/]*)/(?P<cls>[^']*)': (?P<why>.*)$")
_XFR = re.compile(r"^transfer of '(?P<name>[^'/]*)/(?P<cls>[^']*)': (?P<kind>AXFR|IXFR|AXFR-style IXFR) (?P<st>started|ended|.*)")
_FAILED = re.compile(r"^query failed \((?P<rc>[A-Z]+)\) for (?P<name>[^/\s]*)/(?P<cls>[^/\s]*)/(?P<type>\S+)")
_UNEXPECTED = re.compile(r"(?i)response from unexpected source\W*\[?(?P<ip>[0-9A-Fa-f:.]*[0-9A-Fa-f])\]?(?:[.#](?P<port>\d+))?")
_PORTZERO = re.compile(r"dropping source port zero packet from \[(?P<ip>[0-9A-Fa-f:.]+)\]\.(?P<port>\d+)")
_CLASSES = {"IN", "CH", "CHAOS", "HS", "ANY", "NONE", "CLASS3"}


def _name_class_type(name: str, a: str, b: str) -> str:
    """BIND writes 'name/TYPE/CLASS' in security lines and 'name/CLASS/TYPE' elsewhere."""
    if a.upper() in _CLASSES and b.upper() not in _CLASSES:
        return f"{name} {a} {b}"
    return f"{name} {b} {a}"


def parse_message(msg: str, r: dict) -> bool:
    """Fill ``r`` from a named message; False when the message is not about a client or packet."""
    m = _PORTZERO.search(msg)
    if m:
        r.update(src_ip=ip(m["ip"]), src_port=port(m["port"]), app_status="dropped", action="drop",
                 app_detail=None, rule="source port zero")
        return r["src_ip"] is not None
    m = _UNEXPECTED.search(msg)
    if m:
        r.update(src_ip=ip(m["ip"]), src_port=port(m["port"]), app_status="unexpected-source",
                 rule="response from unexpected source")
        return True
    m = _CLIENT.search(msg)
    if not m:
        return False
    r["src_ip"], r["src_port"] = ip(m["ip"]), port(m["port"])
    if r["src_ip"] is None:
        return False
    rest = m["rest"]
    if rest.startswith("dropped request: unexpected response"):
        r.update(app_status="unexpected-response", action="drop", rule="unexpected response", app_detail=None)
        return True
    q = _QUERY.match(rest)
    if q:
        r["app_detail"] = clip(f"{q['name']} {q['cls']} {q['type']}")
        r["dst_ip"] = ip(q["srv"]) if q["srv"] else None
        r["rule"] = "query"
        return True
    d = _DENIED.match(rest)
    if d:
        r["app_detail"] = clip(_name_class_type(d["name"], d["a"], d["b"]))
        r["app_status"] = d["verdict"]
        r["rule"] = d["what"]
        if d["verdict"] in ("denied", "refused"):
            r["action"] = "reject"
        return True
    d = _OLD_DENIED.match(rest)
    if d:
        r["app_status"] = d["verdict"] or None
        r["rule"] = "query (cache)"
        if d["verdict"]:
            r["action"] = "reject"
        if m["qn"]:
            r["app_detail"] = clip(f"{m['qn']} ? ?")
        return True
    d = _BADXFR.match(rest)
    if d:
        r["app_detail"] = clip(f"{d['name']} {d['cls']} AXFR")
        r["app_status"] = "denied (" + d["why"][:120] + ")"
        r["action"] = "reject"
        r["rule"] = "bad zone transfer request"
        return True
    d = _XFR.match(rest)
    if d:
        r["app_detail"] = clip(f"{d['name']} {d['cls']} {'IXFR' if d['kind'] == 'IXFR' else 'AXFR'}")
        r["app_status"] = d["st"][:60]
        r["action"] = "accept"
        r["rule"] = "zone transfer"
        return True
    d = _FAILED.match(rest)
    if d:
        r["app_detail"] = clip(f"{d['name']} {d['cls']} {d['type']}")
        r["app_status"] = d["rc"]
        r["rule"] = "query failed"
        return True
    r["app_detail"] = clip(rest, 256)
    r["rule"] = "client"
    return True


class Named(Format):
    name = "named"
    description = "ISC BIND named query and security logs (syslog or named channel files)"
    example = "Mar 13 01:42:45 net19 named[6147]: client 31.150.218.239#6173 (x.example.com): query (cache) 'x.example.com/A/IN' denied"

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip()][:400]
        if not lines:
            return 0.0
        hits = 0
        for s in lines:
            if (" named[" in s or " named:" in s or re.match(r"^\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d\.\d{3} [a-z-]+: [a-z]+: ", s)) \
                    and ("client " in s or "query" in s or "zone" in s or "unexpected source" in s or "source port zero" in s
                         or "named" in s):
                hits += 1
        return 0.0 if hits == 0 else 0.5 + 0.45 * hits / len(lines)

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        acc = Lines()
        for n, line, m, ts, ts_raw in acc.each_syslog(lines, first_line, ctx, "no syslog or named timestamp"):
            prog = (m["prog"] or "").lower()
            msg = m["msg"]
            host = m["host"]
            debug = msg.startswith("debug ")
            if m["bmon"]:  # named channel file: 'category: severity: message'
                host = None
                msg = re.sub(r"^(?:[a-z-]+: )?(?:[a-z]+(?: \d+)?: )?", "", (m["prog"] + ": " if m["prog"] else "") + msg, count=1)
            elif prog not in ("named", "lwresd", "bind", "named-checkconf"):
                acc.skipped += 1  # another program's line
                continue
            r = base(n, ctx, "named", line, ts, ts_raw, host)
            r["app_proto"] = "dns"
            try:
                ok = parse_message(msg, r)
            except (ValueError, TypeError) as e:
                acc.bad.append((n, f"unreadable named line: {type(e).__name__}"))
                continue
            if not ok or (debug and r.get("rule") == "client"):
                acc.skipped += 1  # zone loads, startup, shutdown; debug-level client housekeeping
                continue
            if r.get("src_ip"):
                r["ip_version"] = 6 if ":" in r["src_ip"] else 4
            acc.rows.append(r)
        return acc.result()


FORMAT = Named()
