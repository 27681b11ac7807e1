"""Proxifier proxy-client logs (Windows/macOS): which program opened which connection through
which proxy.

    [10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS

Not a firewall, but the same question ("what is connecting where?") from the client side.
The timestamp is ``[MM.DD HH:MM:SS]`` with no year (inferred as for syslog). The target
is a host name or an address: addresses fill ``dst_ip``; every target is in ``app_detail``
as ``program -> host:port``. ``open`` -> accept, ``error`` -> reject, ``close`` -> other.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..schema import conform
from . import Format, ParseContext, ParseResult
from ._common import blank_to_null, canonical_ips, infer_years, join, local_to_utc, safe_cast_timestamp, to_int

_LINE = (r"^\[(?P<mon>\d\d)\.(?P<day>\d\d) (?P<hms>\d\d:\d\d:\d\d)\] (?P<prog>.+?) - "
         r"(?P<host>[^\s:]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5}) (?P<msg>(?P<verb>open|close|error)\b.*)$")


class Proxifier(Format):
    name = "proxifier"
    description = "Proxifier proxy-client log: program, target host:port, proxy, open/close/error"
    example = "[10.30 16:49:06] chrome.exe - proxy.example.net:5070 open through proxy proxy.example.net:5070 HTTPS"

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip()]
        if not lines:
            return 0.0
        import re
        rx = re.compile(_LINE)
        hits = sum(1 for s in lines if rx.match(s))
        return 0.0 if hits < max(1, len(lines) // 3) else 0.5 + 0.4 * hits / len(lines)

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext) -> ParseResult:
        n = len(lines)
        m = pc.extract_regex(lines, _LINE)
        ok = pc.fill_null(m.is_valid(), False)
        nos = pa.array(range(first_line, first_line + n), pa.int64())
        unreadable, skipped = [], 0
        for no, text, good in zip(nos.to_pylist(), lines.to_pylist(), ok.to_pylist()):
            if not good:
                if text is None or not text.strip():
                    skipped += 1
                else:
                    unreadable.append((no, "not a Proxifier record"))
        m = pc.filter(m, ok)
        k = len(m)
        f = {name: m.field(name) for name in ("mon", "day", "hms", "prog", "host", "port", "msg", "verb")}
        months = to_int(f["mon"], pa.int8())
        years = infer_years(months, to_int(f["day"], pa.int8()), ctx.state, ctx.year, ctx.reference_time, ctx.tz)
        text = join(pc.cast(years, pa.string()), "-", f["mon"], "-", f["day"], "T", f["hms"])
        host = pc.utf8_trim(f["host"], "[]")
        verb = f["verb"]
        action = pc.if_else(pc.equal(verb, "open"), "accept", pc.if_else(pc.equal(verb, "error"), "reject", "other"))
        cols = {
            "ts": local_to_utc(safe_cast_timestamp(text), ctx.tz),
            "ts_raw": join(f["mon"], ".", f["day"], " ", f["hms"]),
            "source_file": pa.array([ctx.source_file] * k, pa.string()),
            "line": pc.filter(nos, ok),
            "format": pa.array(["proxifier"] * k, pa.string()),
            "action": action,
            "dst_ip": canonical_ips(host),
            "dst_port": to_int(f["port"], pa.int32()),
            "proto": pa.array(["tcp"] * k, pa.string()),
            "proto_num": pa.array([6] * k, pa.int16()),
            "app_proto": pa.array(["proxy-client"] * k, pa.string()),
            "app_detail": join(f["prog"], " -> ", f["host"], ":", f["port"]),
            "app_status": blank_to_null(f["msg"]),
            "raw": pc.filter(lines, ok),
        }
        return ParseResult(conform(cols, k), unreadable, skipped)


FORMAT = Proxifier()
