"""identd (RFC 1413) server logs and IRC "No Ident response" notices.

* ``pidentd``/``identd``/``in.identd``: ``Connection from host (198.51.100.7)`` / ``from: 198.51.100.7
  ( host ) for: 6191, 23`` -> an ident lookup by that host (``dst_port`` 113);
* ``oidentd``: ``Connection from host (198.51.100.7):51433`` and ``[user] Successful lookup: 6191 , 23 : user``;
* IRC clients and bouncers (irssi, ZNC, weechat logs; mIRC status windows): ``*** No Ident response;
  username prefixed with ~`` -> ``app_status`` = ``no-response``: the IRC server asked our port 113
  and got nothing, the usual sign that a firewall drops ident silently instead of rejecting it.

``app_proto`` = ident; ``app_detail`` = the port pair asked about when logged.
"""
from __future__ import annotations

import re

import pyarrow as pa

from . import Format, ParseContext
from ._rows import Lines, base, clip, ip, port, syslog_head

_CONN = re.compile(r"(?i)connection from (?:(?P<host>\S+) )?\(?(?P<ip>\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f:.]+)\)?(?::(?P<port>\d+))?")
_PIDENT = re.compile(r"from: (?P<ip>[0-9A-Fa-f:.]+)\s*\(\s*(?P<host>[^)]*?)\s*\)\s*for:\s*(?P<a>\d+)\s*,\s*(?P<b>\d+)")
_LOOKUP = re.compile(r"(?i)(?:successful lookup|lookup)[^:]*:\s*(?P<a>\d+)\s*,\s*(?P<b>\d+)(?:\s*:\s*(?P<user>\S+))?")
_NOIDENT = re.compile(r"(?i)no ident(?:d)? response")
_IRC_TIME = re.compile(r"^\[?(?P<t>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|\d\d:\d\d(?::\d\d)?)\]?\s*")
_IDENT_PROGS = ("identd", "in.identd", "pidentd", "oidentd", "fakeidentd", "ident2", "nullidentd", "authd", "midentd")


class Identd(Format):
    name = "identd"
    description = "identd server logs (pidentd, oidentd) and IRC 'No Ident response' notices"
    example = "Nov 22 03:40:01 gw oidentd[901]: Connection from irc.example.net (198.51.100.7):51433"

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip()][:400]
        if not lines:
            return 0.0
        hits = sum(1 for s in lines if _NOIDENT.search(s) or any(f" {p}[" in s or f" {p}:" in s for p in _IDENT_PROGS))
        return 0.0 if hits == 0 else 0.3 + 0.6 * hits / len(lines)

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        acc = Lines()
        for n, line in acc.each(lines, first_line):
            if _NOIDENT.search(line):
                m, ts, ts_raw = syslog_head(line, ctx)
                if m is None:
                    t = _IRC_TIME.match(line)
                    ts_raw = t["t"] if t else None
                r = base(n, ctx, "identd", line, ts, ts_raw, m["host"] if m else None)
                r.update(app_proto="ident", app_status="no-response", dst_port=113, proto="tcp", proto_num=6,
                         rule="IRC: No Ident response", app_detail=None)
                acc.rows.append(r)
                continue
            m, ts, ts_raw = syslog_head(line, ctx)
            if m is None:
                acc.skipped += 1  # IRC log chatter
                continue
            if (m["prog"] or "").lower() not in _IDENT_PROGS:
                acc.skipped += 1
                continue
            msg = m["msg"]
            r = base(n, ctx, "identd", line, ts, ts_raw, m["host"])
            r.update(app_proto="ident", dst_port=113, proto="tcp", proto_num=6)
            p = _PIDENT.search(msg)
            c = _CONN.search(msg)
            lk = _LOOKUP.search(msg)
            if p:
                r["src_ip"] = ip(p["ip"])
                r["app_detail"] = f"{p['a']} , {p['b']}"
                r["rule"] = "lookup"
            elif c:
                r["src_ip"] = ip(c["ip"])
                r["src_port"] = port(c["port"])
                r["rule"] = "connection"
            elif lk:
                r["app_detail"] = f"{lk['a']} , {lk['b']}"
                r["app_status"] = clip(f"answered {lk['user']}" if lk["user"] else "answered", 128)
                r["rule"] = "lookup"
            else:
                acc.skipped += 1
                continue
            if r.get("src_ip"):
                r["ip_version"] = 6 if ":" in r["src_ip"] else 4
            acc.rows.append(r)
        return acc.result()


FORMAT = Identd()
