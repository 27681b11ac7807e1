"""dnsmasq query logs (``log-queries``, with or without ``=extra``), in syslog form.

``query[A] name from 10.0.0.3`` -> one event per query (``app_detail`` = ``name ? A``: dnsmasq
does not log the class; ``src_ip`` = the client). ``reply``/``cached``/``config`` lines ->
an event with ``app_detail`` = ``name ? A`` and ``app_status`` = ``answer <value>`` (how
names resolving to loopback or internal addresses are seen); ``forwarded`` lines and
dnsmasq's other messages are counted as skipped. With ``log-queries=extra`` the serial and
``client/port`` prefix give ``src_port`` and tie answers to their client.
"""
from __future__ import annotations

import re

import pyarrow as pa

from . import Format, ParseContext
from ._rows import Lines, base, clip, ip, port

_EXTRA = re.compile(r"^(?P<serial>\d+) (?P<cip>[0-9A-Fa-f:.]+)/(?P<cport>\d+) (?P<rest>.*)$")
_QUERY = re.compile(r"^query\[(?P<type>[A-Za-z0-9]+)\] (?P<name>\S+) from (?P<ip>[0-9A-Fa-f:.]+)")
_ANSWER = re.compile(r"^(?P<kind>reply|cached|config|/etc/hosts|DHCP|[\w/.-]+hosts?) (?P<name>\S+) is (?P<val>.+)$")


class Dnsmasq(Format):
    name = "dnsmasq"
    description = "dnsmasq DNS query logs (log-queries) in syslog form"
    example = "Jul 17 14:49:57 dnsmasq[15210]: 21745 10.10.10.33/59490 query[A] server.example.com from 10.10.10.33"

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip()][:400]
        if not lines:
            return 0.0
        hits = sum(1 for s in lines if "dnsmasq[" in s or " dnsmasq:" in s)
        return 0.0 if hits == 0 else 0.5 + 0.45 * hits / len(lines)

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        acc = Lines()
        for n, line, m, ts, ts_raw in acc.each_syslog(lines, first_line, ctx):
            if (m["prog"] or "").lower() not in ("dnsmasq", "dnsmasq-dhcp"):
                acc.skipped += 1
                continue
            msg = m["msg"]
            r = base(n, ctx, "dnsmasq", line, ts, ts_raw, m["host"])
            r["app_proto"] = "dns"
            e = _EXTRA.match(msg)
            if e:
                msg = e["rest"]
                r["src_ip"], r["src_port"] = ip(e["cip"]), port(e["cport"])
            q = _QUERY.match(msg)
            if q:
                r["src_ip"] = ip(q["ip"]) or r.get("src_ip")
                r["app_detail"] = clip(f"{q['name']} ? {q['type'].upper()}")
                r["rule"] = "query"
            else:
                a = _ANSWER.match(msg)
                if not a:
                    acc.skipped += 1  # forwarded, DHCP, startup
                    continue
                val = a["val"].strip()
                typ = "AAAA" if ":" in val and ip(val) else "A" if ip(val) else val.strip("<>") if val.startswith("<") else "?"
                r["app_detail"] = clip(f"{a['name']} ? {typ}")
                r["app_status"] = clip(f"answer {val}", 256)
                r["rule"] = a["kind"]
                r.pop("src_port", None) if not e else None
                if not e:
                    r["src_ip"] = None
            if r.get("src_ip"):
                r["ip_version"] = 6 if ":" in r["src_ip"] else 4
            acc.rows.append(r)
        return acc.result()


FORMAT = Dnsmasq()
