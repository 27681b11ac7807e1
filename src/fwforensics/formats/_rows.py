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
