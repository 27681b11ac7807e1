"""Web server access logs: Apache/Nginx ``combined`` and ``common`` (also with a leading
``vhost:port``, an ``X-Forwarded-For`` address, or a syslog wrapper) and Microsoft IIS W3C
extended logs (with their ``#Fields:`` header, or the IIS 6 / IIS 7+ default field sets when
the header is missing).

One event per request: ``src_ip`` = the client, ``dst_ip``/``dst_port`` = the server when the
log says (IIS ``s-ip``/``s-port``, ``vhost:port``), ``proto`` = tcp, ``app_proto`` = http,
``app_detail`` = the request line as sent (``GET http://example.com/ HTTP/1.0`` keeps its
absolute URL, which is what proxy probing looks like), ``app_status`` = the status code,
``payload_len`` = the response bytes. ``action`` is ``other``: a web server answers, it does
not filter.
"""
from __future__ import annotations

import re
from datetime import datetime

import pyarrow as pa

from . import Format, ParseContext
from ._common import canonical_ip
from ._rows import MAX_LINE, MONTHS, base, clip, dt_us, iso_us, port, result, syslog_head

_CLF = re.compile(
    r"^(?:(?P<vhost>[\w.-]+:\d+) )?(?P<pre>[^\[\"]*?)\s*\[(?P<date>\d{1,2}/\w{3}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?)\] "
    r"\"(?P<req>(?:[^\"\\]|\\.)*)\" (?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r"(?: +\"(?P<ref>(?:[^\"\\]|\\.)*)\" +\"(?P<ua>(?:[^\"\\]|\\.)*)\")?")
_CLF_DATE = re.compile(r"(\d{1,2})/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d)(?: ([+-])(\d\d)(\d\d))?")
_IIS_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
_IIS6 = ["date", "time", "s-sitename", "s-computername", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port",
         "cs-username", "c-ip"]
_IIS7 = ["date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip"]
_METHOD = re.compile(r"^[A-Z][A-Z_-]{1,19}$")


def _ip(s: str | None) -> str | None:
    if not s:
        return None
    if s.lower().startswith("::ffff:") and "." in s:
        s = s[7:]  # IPv4-mapped: the IPv4 address is what the user knows
    return canonical_ip(s)


def _clf_ts(s: str, tz) -> int | None:
    m = _CLF_DATE.match(s)
    if not m or m[2] not in MONTHS:
        return None
    try:
        dt = datetime(int(m[3]), MONTHS[m[2]], int(m[1]), int(m[4]), int(m[5]), int(m[6]))
    except ValueError:
        return None
    us = dt_us(dt, "UTC")
    if m[7]:
        off = (int(m[8]) * 60 + int(m[9])) * 60_000_000
        return us - off if m[7] == "+" else us + off
    return dt_us(dt, tz)


def parse_clf(line: str, r: dict, ctx: ParseContext) -> bool:
    m = _CLF.search(line)
    if not m:
        return False
    pre = m["pre"].split()
    client = next((a for a in (_ip(t) for t in pre) if a), None)
    if client is None and pre:
        r["rule"] = clip(pre[0], 128)  # a host name instead of an address (HostnameLookups on)
    r["src_ip"] = client
    if m["vhost"]:
        r["dst_port"] = port(m["vhost"].rsplit(":", 1)[1])
    r["ts"], r["ts_raw"] = _clf_ts(m["date"], ctx.tz), m["date"]
    r["app_detail"] = clip(m["req"].replace('\\"', '"'))
    r["app_status"] = None if m["status"] == "-" else m["status"]
    r["payload_len"] = int(m["bytes"]) if m["bytes"].isdigit() and int(m["bytes"]) < 2**31 else None
    return True


def parse_iis(line: str, fields: list[str] | None, r: dict, ctx: ParseContext) -> bool:
    vals = line.split(" ")
    if fields and len(vals) == len(fields):
        d = dict(zip(fields, vals))
    else:
        # no (matching) header: the IIS 6 or IIS 7+ default field sets, told apart by where the method is
        if len(vals) > 5 and _METHOD.match(vals[5]) and not _METHOD.match(vals[3]):
            d = dict(zip(_IIS6, vals))
            rest = vals[len(_IIS6):]
        elif len(vals) > 3 and _METHOD.match(vals[3]):
            d = dict(zip(_IIS7, vals))
            rest = vals[len(_IIS7):]
        else:
            return False
        # the status is the first 3-digit token followed by two numbers (substatus, win32 status)
        for k in range(len(rest) - 2):
            if re.fullmatch(r"[1-5]\d\d", rest[k]) and rest[k + 1].isdigit() and rest[k + 2].isdigit():
                d["sc-status"] = rest[k]
                break
        if rest and rest[0].startswith("HTTP/"):
            d["cs-version"] = rest[0]
    if "cs-method" not in d or "date" not in d:
        return False
    r["ts"] = iso_us(f"{d['date']}T{d.get('time', '00:00:00')}+00:00")  # W3C logs are UTC
    r["ts_raw"] = f"{d['date']} {d.get('time', '')}".strip()
    r["src_ip"] = _ip(d.get("c-ip"))
    r["dst_ip"] = _ip(d.get("s-ip"))
    r["dst_port"] = port(d.get("s-port"))
    q = d.get("cs-uri-query", "-")
    target = d.get("cs-uri-stem", "-") + ("" if q in ("-", "") else "?" + q)
    ver = d.get("cs-version")
    r["app_detail"] = clip(f"{d['cs-method']} {target}" + (f" {ver}" if ver and ver != "-" else ""))
    st = d.get("sc-status")
    r["app_status"] = st if st and st != "-" else None
    b = d.get("sc-bytes")
    r["payload_len"] = int(b) if b and b.isdigit() and int(b) < 2**31 else None
    return r["src_ip"] is not None


class WebAccess(Format):
    name = "web_access"
    description = "web server access logs: Apache/Nginx combined and common, IIS W3C extended"
    example = ('23.95.237.180 - - [25/Oct/2015:04:11:26 +0100] "GET http://niels.basj.es/join_form HTTP/1.0" 200 11114 '
               '"http://howto.basjes.nl/" "Mozilla/5.0 (Windows NT 5.1; rv:35.0) Gecko/20100101 Firefox/35.0"')

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip() and not s.startswith("#")][:400]
        if any(s.startswith("#Fields:") and "cs-method" in s for s in sample[:50]):
            return 0.95
        if not lines:
            return 0.0
        hits = sum(1 for s in lines if _CLF.search(s) or (_IIS_START.match(s) and re.search(r" (?:GET|POST|HEAD|PUT|OPTIONS|CONNECT|PROPFIND|SEARCH) /", s)))
        return 0.0 if hits == 0 else 0.4 + 0.55 * hits / len(lines)

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        st = ctx.state
        rows, bad, skipped = [], [], 0
        for i, line in enumerate(lines.to_pylist()):
            n = first_line + i
            if line is None or not line.strip():
                skipped += 1
                continue
            if len(line) > MAX_LINE:
                bad.append((n, f"line longer than {MAX_LINE} characters"))
                continue
            if line.startswith("#"):
                if line.startswith("#Fields:"):
                    st["fields"] = line[len("#Fields:"):].split()
                skipped += 1
                continue
            r = base(n, ctx, "web_access", line, None, None)
            r["proto"], r["proto_num"], r["app_proto"] = "tcp", 6, "http"
            ok = False
            if _IIS_START.match(line):
                ok = parse_iis(line, st.get("fields"), r, ctx)
            if not ok:
                ok = parse_clf(line, r, ctx)
                if ok:
                    m, _ts, _raw = syslog_head(line, ctx)
                    if m is not None and m["host"] and not _ip(m["host"]):
                        r["log_host"] = m["host"]
            if not ok:
                bad.append((n, "not an access-log request line"))
                continue
            if r.get("src_ip"):
                r["ip_version"] = 6 if ":" in r["src_ip"] else 4
            rows.append(r)
        return result(rows, bad, skipped)


FORMAT = WebAccess()
