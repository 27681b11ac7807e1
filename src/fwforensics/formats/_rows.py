"""Helpers for readers that parse line by line in Python (JSON, TSV, multi-line text).

They collect one dict per event (only the columns they fill) and turn the list into a
schema batch at the end of each input batch; timestamps are epoch microseconds (UTC).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pyarrow as pa

from ..schema import EVENT_SCHEMA, conform, normalise_proto
from . import ParseResult
from ._common import canonical_ip, resolve_tz

MAX_LINE = 65536
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def result(rows: list[dict], unreadable: list[tuple[int, str]], skipped: int) -> ParseResult:
    if not rows:
        return ParseResult(conform({}, 0), sorted(unreadable), skipped)
    return ParseResult(pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA), sorted(unreadable), skipped)


class Lines:
    """The accounting every line-by-line reader shares: the rows it read, unreadable lines with
    their number and reason, and the number of lines skipped as not being records."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.bad: list[tuple[int, str]] = []
        self.skipped = 0

    def each(self, lines: pa.Array, first_line: int):
        """(number, text) of every line that is neither blank (skipped) nor over-long (unreadable)."""
        for i, line in enumerate(lines.to_pylist()):
            n = first_line + i
            if line is None or not line.strip():
                self.skipped += 1
            elif len(line) > MAX_LINE:
                self.bad.append((n, f"line longer than {MAX_LINE} characters"))
            else:
                yield n, line

    def each_syslog(self, lines: pa.Array, first_line: int, ctx, missing: str = "no syslog timestamp"):
        """Like :meth:`each`, for lines that must start with a syslog header: yields
        (number, text, header match, ts_us, ts_raw); a line without one is unreadable (``missing``)."""
        for n, line in self.each(lines, first_line):
            m, ts, ts_raw = syslog_head(line, ctx)
            if m is None:
                self.bad.append((n, missing))
            else:
                yield n, line, m, ts, ts_raw

    def result(self) -> ParseResult:
        return result(self.rows, self.bad, self.skipped)


def epoch_us(v) -> int | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if f != f or abs(f) > 1e11:
        return None
    return int(round(f * 1_000_000))


def dt_us(dt: datetime, tz=None) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=resolve_tz(tz))
    return (dt - _EPOCH) // timedelta(microseconds=1)


_ISO_Z = re.compile(r"([+-]\d\d)(\d\d)$")


def iso_us(s: str, tz=None) -> int | None:
    """ISO 8601 text (also with '+0000' zones and 'Z') -> epoch microseconds; None when unreadable."""
    if not isinstance(s, str) or len(s) < 10:
        return None
    t = s.strip().replace("Z", "+00:00")
    t = _ISO_Z.sub(r"\1:\2", t)
    try:
        return dt_us(datetime.fromisoformat(t), tz)
    except ValueError:
        return None


def ip(v) -> str | None:
    return canonical_ip(v) if isinstance(v, str) and v else None


def port(v) -> int | None:
    try:
        p = int(v)
    except (TypeError, ValueError):
        return None
    return p if 0 <= p <= 65535 else None


def proto(v) -> tuple[str | None, int | None]:
    return normalise_proto(str(v)) if v not in (None, "", "-") else (None, None)


def json_obj(line: str) -> dict | None:
    s = line.strip()
    if not s.startswith("{"):
        return None
    try:
        o = json.loads(s)
    except (ValueError, RecursionError):
        return None
    return o if isinstance(o, dict) else None


def sniff_json_keys(sample: list[str], keys: set[str], any_of: set[str] = frozenset()) -> float:
    """Share of JSON lines in the sample that have all of ``keys`` (and one of ``any_of``)."""
    lines = [s for s in sample if s.strip()][:200]
    if not lines:
        return 0.0
    hits = 0
    for s in lines:
        o = json_obj(s)
        if o is not None and keys <= o.keys() and (not any_of or any_of & o.keys()):
            hits += 1
    return hits / len(lines)


def clip(s, n: int = 1024) -> str | None:
    if s is None:
        return None
    s = str(s)
    return s if len(s) <= n else s[:n] + f" ... ({len(s)} characters)"


# ------------------------------------------------------------------ syslog-style headers
MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
SYSLOG = re.compile(
    r"^(?:<\d{1,3}>\d?\s*)?"
    r"(?:(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r"|(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)(?:[.,](?P<frac>\d+))?(?: (?P<yr>\d{4}))?"
    r"|(?P<bday>\d\d)-(?P<bmon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(?P<byr>\d{4}) (?P<bhms>\d\d:\d\d:\d\d)(?:\.(?P<bfrac>\d+))?)"
    r"\s+(?:(?P<host>[^\s\[\]:]+)\s+)?"
    r"(?:(?P<prog>[A-Za-z][\w./-]*)(?:\[(?P<pid>\d+)\])?:\s+)?"
    r"(?P<msg>.*)$")


def syslog_year(mon: int, day: int, ctx) -> int:
    """Year for a month/day without one: --year, else inferred from the file time, rolling over at New Year."""
    st = ctx.state
    if "sy_year" not in st:
        if ctx.year:
            y = ctx.year
        else:
            ref = datetime.fromtimestamp(ctx.reference_time, timezone.utc) if ctx.reference_time else datetime.now(timezone.utc)
            y = ref.year - (1 if (mon, day) > (ref.month, ref.day + 1) else 0)
        st["sy_year"], st["sy_month"] = y, mon
    if st["sy_month"] - mon > 6:
        st["sy_year"] += 1
    st["sy_month"] = mon
    return st["sy_year"]


def syslog_head(line: str, ctx) -> tuple[re.Match | None, int | None, str | None]:
    """(match, ts_us, ts_raw) of a syslog/BIND-file header; match None when the line has none."""
    m = SYSLOG.match(line)
    if not m:
        return None, None, None
    try:
        if m["iso"]:
            return m, iso_us(m["iso"].replace(",", "."), ctx.tz), m["iso"]
        if m["bmon"]:
            us = int((m["bfrac"] or "0").ljust(6, "0")[:6])
            h, mi, s = (int(x) for x in m["bhms"].split(":"))
            dt = datetime(int(m["byr"]), MONTHS[m["bmon"]], int(m["bday"]), h, mi, s, us)
            return m, dt_us(dt, ctx.tz), f"{m['bday']}-{m['bmon']}-{m['byr']} {m['bhms']}" + (f".{m['bfrac']}" if m["bfrac"] else "")
        mon, day = MONTHS[m["mon"]], int(m["day"])
        year = int(m["yr"]) if m["yr"] else syslog_year(mon, day, ctx)
        h, mi, s = (int(x) for x in m["hms"].split(":"))
        us = int((m["frac"] or "0").ljust(6, "0")[:6])
        raw = f"{m['mon']} {m['day']} {m['hms']}" + (f".{m['frac']}" if m["frac"] else "")
        return m, dt_us(datetime(year, mon, day, h, mi, s, us), ctx.tz), raw
    except (ValueError, OverflowError):
        return m, None, None


def base(n: int, ctx, fmt: str, line: str, ts, ts_raw, host=None) -> dict:
    return {"line": n, "ts": ts, "ts_raw": ts_raw, "source_file": ctx.source_file, "format": fmt, "raw": line,
            "log_host": host, "action": "other"}
