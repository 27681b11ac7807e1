"""Shared machinery for the firewall vendor readers (pf, filterlog, ASA, FortiGate, ...).

A vendor reader subclasses :class:`LineFormat` and writes three small methods:

* ``records(work)``: a boolean mask of the lines that are traffic records of this format
  (one vectorised regex test over the batch),
* ``skippable(work)``: a mask of the other lines that are fine to pass over (headers,
  comments, the vendor's non-traffic messages, unrelated syslog lines); the rest is
  reported unreadable,
* ``convert(rec, ctx)``: the record lines -> schema columns, plus an ``ok`` mask; records
  whose essentials cannot be decoded are reported unreadable with ``bad_reason``.

The base class does the accounting (records + unreadable + skipped == lines given),
too-long lines, and fills ``line``, ``source_file``, ``format`` and ``raw``.
The helpers below (syslog headers, key=value extraction, protocol/flag/action
normalisation) are vectorised Arrow kernels; Python runs only over distinct values.
"""
from __future__ import annotations

import re
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from ..schema import TCP_FLAG_BITS, conform, normalise_proto
from . import Format, ParseContext, ParseResult
from ._common import (blank_to_null, canonical_ips, infer_years, iso_to_utc, join, local_to_utc,
                      map_unique, month_numbers, plain_bsd_timestamps, safe_cast_timestamp, to_int)

MAX_LINE = 65536
_S = pa.string()
_MON = r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
SYSLOG_START = (r"^(?:<\d{1,3}>)?(?:1 )?(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|\*?(?:" + _MON +
                r") +\d{1,2} (?:\d{4} )?\d\d:\d\d:\d\d|\d{4}:\d\d:\d\d-\d\d:\d\d:\d\d)")


_QUOTED = re.compile(r'^\s*(?:[|"{\[]|log \d+ (?:pass|fail) = |#)')


class LineFormat(Format):
    bad_reason = "record fields could not be decoded"

    def records(self, work: pa.Array) -> pa.Array:  # pragma: no cover - every reader overrides
        raise NotImplementedError

    def skippable(self, work: pa.Array) -> pa.Array:
        """Default: lines that start like a syslog line (another program's message)."""
        return pc.match_substring_regex(work, SYSLOG_START)

    def convert(self, rec: pa.Array, ctx: ParseContext) -> tuple[dict, pa.Array]:  # pragma: no cover
        raise NotImplementedError

    def vendor(self, work: pa.Array) -> pa.Array:
        """Lines that are unmistakably this vendor's (records or not); used by sniff."""
        return self.records(work)

    def sniff(self, sample: list[str]) -> float:
        """Share of the first lines that are this vendor's; under 30 % is no claim (a README or
        an expected-output JSON that quotes a line is not a log)."""
        lines = [s for s in sample if s.strip()][:200]
        if not lines:
            return 0.0
        # a log line quoted in a document (Markdown table, JSON string, ruleset test INI) is not a log
        lines = [s if not _QUOTED.match(s) else "" for s in lines]
        try:
            hits = pc.sum(pc.cast(pc.fill_null(self.vendor(pa.array(lines, _S)), False), pa.int64())).as_py() or 0
        except Exception:
            return 0.0
        share = hits / len(lines)
        return 0.0 if share < 0.3 else 0.5 + 0.45 * share

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext) -> ParseResult:
        n = len(lines)
        line_no = pa.array(range(first_line, first_line + n), pa.int64())
        too_long = pc.fill_null(pc.greater(pc.utf8_length(lines), MAX_LINE), True)
        work = pc.if_else(too_long, pa.scalar("", _S), lines)
        is_rec = pc.and_(pc.fill_null(self.records(work), False), pc.invert(too_long))
        unreadable: list[tuple[int, str]] = []
        skipped = 0

        not_rec = pc.invert(is_rec)
        if pc.any(not_rec).as_py():
            others = pc.filter(work, not_rec)
            blank = pc.fill_null(pc.match_substring_regex(others, r"^\s*$"), True)
            ok_skip = pc.or_(blank, pc.fill_null(self.skippable(others), False))
            skip_no_long = pc.and_(ok_skip, pc.invert(pc.filter(too_long, not_rec)))
            skipped += pc.sum(pc.cast(skip_no_long, pa.int64())).as_py() or 0
            bad = pc.invert(skip_no_long)
            if pc.any(bad).as_py():
                for no, lg in zip(pc.filter(pc.filter(line_no, not_rec), bad).to_pylist(),
                                  pc.filter(pc.filter(too_long, not_rec), bad).to_pylist()):
                    unreadable.append((no, f"line longer than {MAX_LINE} characters" if lg
                                       else f"not a {self.name} record"))
        if not pc.any(is_rec).as_py():
            return ParseResult(conform({}, 0), sorted(unreadable), skipped)

        rec = pc.filter(lines, is_rec)
        rec_no = pc.filter(line_no, is_rec)
        cols, ok = self.convert(rec, ctx)
        ok = pc.fill_null(ok, False)
        if not pc.all(ok).as_py():
            for no in pc.filter(rec_no, pc.invert(ok)).to_pylist():
                unreadable.append((no, self.bad_reason))
            cols = {k: pc.filter(v, ok) for k, v in cols.items()}
            rec, rec_no = pc.filter(rec, ok), pc.filter(rec_no, ok)
        m = len(rec)
        cols["line"] = rec_no
        cols["source_file"] = pa.array([ctx.source_file] * m, _S)
        cols["format"] = pa.array([self.name] * m, _S)
        cols["raw"] = rec
        if "action" in cols:
            cols["action"] = pc.fill_null(cols["action"], "other")
        else:
            cols["action"] = pa.array(["other"] * m, _S)
        if "ip_version" not in cols and "src_ip" in cols:
            cols["ip_version"] = ip_version(cols["src_ip"], cols.get("dst_ip"))
        if "proto" in cols and "ip_version" in cols:  # 'ICMP' logged for an IPv6 packet is ICMPv6
            v6icmp = pc.fill_null(pc.and_(pc.equal(cols["proto"], "icmp"), pc.equal(cols["ip_version"], 6)), False)
            cols["proto"] = pc.if_else(v6icmp, pa.scalar("ipv6-icmp", _S), cols["proto"])
            cols["proto_num"] = pc.if_else(v6icmp, pa.scalar(58, pa.int16()),
                                           pc.cast(cols["proto_num"], pa.int16()))
        return ParseResult(conform(cols, m), sorted(unreadable), skipped)


# ---------------------------------------------------------------------------------------
# Regex helpers
def extract(arr: pa.Array, pattern: str) -> pa.StructArray:
    """extract_regex that never raises on nulls."""
    return pc.extract_regex(arr, pattern)


def group(st: pa.StructArray, name: str) -> pa.Array:
    """A named group of an extract() result: '' and non-matching rows become null."""
    return blank_to_null(pc.if_else(st.is_valid(), st.field(name), pa.scalar(None, _S)))


def matches(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(arr, pattern), False)


def kv(arr: pa.Array, key: str, sep: str = "=", stop: str = r"\s") -> pa.Array:
    """Value of ``key<sep>value`` or ``key<sep>"value"`` anywhere in the line (first occurrence)."""
    pat = (r"(?:^|[\s,;\[|])" + re.escape(key) + re.escape(sep) +
           r'(?:"(?P<q>[^"]*)"|(?P<w>[^' + stop + r'",;\]]*))')
    st = pc.extract_regex(arr, pat)
    q = pc.if_else(st.is_valid(), st.field("q"), pa.scalar(None, _S))
    w = pc.if_else(st.is_valid(), st.field("w"), pa.scalar(None, _S))
    # a quoted value wins; an empty quoted value is null
    out = pc.if_else(pc.fill_null(pc.match_substring_regex(arr, r"(?:^|[\s,;\[|])" + re.escape(key) +
                                                           re.escape(sep) + '"'), False), q, w)
    return blank_to_null(out)


# ---------------------------------------------------------------------------------------
# Column helpers
def ips(arr: pa.Array) -> pa.Array:
    return canonical_ips(blank_to_null(arr))


def ports(arr: pa.Array) -> pa.Array:
    p = to_int(arr, pa.int32())
    return pc.if_else(pc.and_(pc.greater_equal(p, 0), pc.less_equal(p, 65535)), p, pa.scalar(None, pa.int32()))


def ints(arr: pa.Array, typ: pa.DataType = pa.int64()) -> pa.Array:
    return to_int(arr, typ)


def proto_cols(arr: pa.Array) -> dict[str, pa.Array]:
    """proto + proto_num from a name or number column."""
    arr = blank_to_null(arr)
    return {"proto": map_unique(arr, lambda p: normalise_proto(p)[0], _S),
            "proto_num": map_unique(arr, lambda p: normalise_proto(p)[1], pa.int16())}


def ip_version(src: pa.Array, dst: pa.Array | None = None) -> pa.Array:
    a = src if dst is None else pc.coalesce(src, dst)
    has = pc.is_valid(a)
    v6 = pc.fill_null(pc.match_substring(a, ":"), False)
    return pc.if_else(has, pc.if_else(v6, pa.scalar(6, pa.int8()), pa.scalar(4, pa.int8())),
                      pa.scalar(None, pa.int8()))


def map_values(arr: pa.Array, func: Callable[[str], object], typ: pa.DataType = _S) -> pa.Array:
    return map_unique(blank_to_null(arr), func, typ)


_ACTION_WORDS = [
    ("reject", re.compile(r"reject|refuse|reset|\brst\b", re.I)),
    ("drop", re.compile(r"drop|deny|denied|block|discard|kill|prevent|fail", re.I)),
    ("accept", re.compile(r"accept|allow|permit|pass|\bbuilt\b|\bopen|\bclose|start|\bend\b|teardown|trust", re.I)),
]


def action_word(word: str | None) -> str:
    """drop / reject / accept / other from a vendor's verdict word."""
    if not word:
        return "other"
    for action, rx in _ACTION_WORDS:
        if rx.search(word):
            return action
    return "other"


def actions(arr: pa.Array, func: Callable[[str], str] = action_word) -> pa.Array:
    return pc.fill_null(map_values(arr, func), "other")


_FLAG_LETTERS = {"F": "FIN", "S": "SYN", "R": "RST", "P": "PSH", "A": "ACK", "U": "URG", "E": "ECE",
                 "W": "CWR", "C": "CWR", ".": "ACK"}
_WIRE = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"]


def flag_names(text: str, letters: bool = False) -> str | None:
    """'S' / 'SA' / 'ACK PSH' / 'ack,syn' / 'RST ACK' -> names in wire order, e.g. 'ACK SYN'."""
    t = text.strip().strip("[]")
    names = set()
    if letters or (t and re.fullmatch(r"[FSRPAUEWC.]+", t)):
        for ch in t:
            if ch in _FLAG_LETTERS:
                names.add(_FLAG_LETTERS[ch])
            else:
                return None
    else:
        for w in re.split(r"[\s,;|/]+", t.upper()):
            if not w:
                continue
            w = {"PUSH": "PSH", "RESET": "RST", "URGENT": "URG"}.get(w, w)
            if w in TCP_FLAG_BITS:
                names.add(w)
            elif w not in ("NONE", "NULL"):
                return None
    return " ".join(f for f in _WIRE if f in names)


def flag_cols(arr: pa.Array, letters: bool = False) -> dict[str, pa.Array]:
    names = map_values(arr, lambda t: flag_names(t, letters))
    bits = map_unique(names, lambda s: sum(TCP_FLAG_BITS[f] for f in s.split()), pa.int16())
    empty = pc.fill_null(pc.equal(names, ""), False)
    bits = pc.if_else(empty, pa.scalar(0, pa.int16()), bits)
    return {"tcp_flags": names, "tcp_flag_bits": bits}


def only_tcp(cols: dict, proto: pa.Array) -> None:
    """Blank TCP-only columns on rows that are not TCP."""
    is_tcp = pc.fill_null(pc.equal(proto, "tcp"), False)
    for k in ("tcp_flags", "tcp_flag_bits", "tcp_window", "tcp_seq", "tcp_ack", "tcp_options", "tcp_urgp"):
        if k in cols:
            cols[k] = pc.if_else(is_tcp, cols[k], pa.scalar(None, cols[k].type))


def const(value, n: int, typ: pa.DataType = _S) -> pa.Array:
    return pa.array([value] * n, typ)


# ---------------------------------------------------------------------------------------
# Timestamps
_HEAD = (
    r"^(?:<(?P<pri>\d{1,3})>)?(?:1 )?\*?"
    r"(?:(?P<iso>\d{4}-\d\d-\d\d)[T ](?P<isot>\d\d:\d\d:\d\d(?:[.,]\d+)?) ?(?P<zone>Z|[+-]\d\d:?\d\d)?"
    r"|(?P<bsd>(?P<mon>" + _MON + r") +(?P<day>\d{1,2})(?: (?P<byear>\d{4}))? (?P<hms>\d\d:\d\d:\d\d)(?P<frac>[.,]\d+)?)"
    r"(?: (?P<tzn>[A-Za-z]{3,4}):)?"
    r"|(?P<sy>\d{4}):(?P<sm>\d\d):(?P<sd>\d\d)-(?P<st>\d\d:\d\d:\d\d))"
    r":? +(?:(?P<host>[^\s:\[\]]+)(?: +: *| +))?"
)
_UTC_NAMES = {"UTC", "GMT", "UT", "Z", "utc", "gmt"}


def syslog_head(lines: pa.Array, ctx: ParseContext) -> dict[str, pa.Array]:
    """ts, ts_raw, log_host from the syslog wrapper at the start of each line.

    Understands ``<PRI>``, RFC 5424 ``1 ISO HOST``, ISO timestamps with zone, BSD
    ``Mon dd [yyyy] hh:mm:ss[.fff] [ZONE]`` (year inferred when missing; a zone name other
    than UTC/GMT is ignored and ``ctx.tz`` used), and Sophos ``yyyy:mm:dd-hh:mm:ss``.
    The word after the time is the host unless it is a program tag (``prog:``/``prog[pid]:``).
    """
    h = pc.extract_regex(lines, _HEAD)
    f = {k: group(h, k) for k in ("iso", "isot", "zone", "bsd", "mon", "day", "byear", "hms", "frac", "tzn",
                                  "sy", "sm", "sd", "st", "host")}
    n = len(lines)
    ts = iso_to_utc(pc.replace_substring(join(f["iso"], "T", f["isot"]), ",", "."),
                    pc.fill_null(f["zone"], ""), ctx.tz)
    if f["mon"].null_count < n:
        ts = pc.coalesce(ts, bsd_ts(f["mon"], f["day"], f["hms"], f["frac"], f["byear"], f["tzn"], ctx))
    if f["sy"].null_count < n:
        ts = pc.coalesce(ts, local_to_utc(safe_cast_timestamp(join(f["sy"], "-", f["sm"], "-", f["sd"], "T", f["st"])),
                                          ctx.tz))
    e = pa.scalar("", _S)
    ts_raw = pc.coalesce(
        join(f["iso"], "T", f["isot"], pc.coalesce(f["zone"], e)),
        join(f["bsd"], pc.coalesce(join(" ", f["tzn"]), e)),
        join(f["sy"], ":", f["sm"], ":", f["sd"], "-", f["st"]))
    return {"ts": ts, "ts_raw": ts_raw, "log_host": f["host"]}


def bsd_ts(mon, day, hms, frac, byear, tzn, ctx: ParseContext) -> pa.Array:
    """Month-name timestamps -> UTC, year inferred (ctx.state) where the log gives none."""
    months = month_numbers(mon)
    days = to_int(day, pa.int8())
    explicit = to_int(byear, pa.int32()) if byear is not None else pa.nulls(len(mon), pa.int32())
    inferred = infer_years(pc.if_else(pc.is_valid(explicit), pa.scalar(None, pa.int8()), months),
                           days, ctx.state, ctx.year, ctx.reference_time, ctx.tz)
    years = pc.coalesce(explicit, inferred)
    naive = plain_bsd_timestamps(years, months, days, hms, frac if frac is not None else pa.nulls(len(mon), _S))
    if naive is None:   # some row is not plain: parse the text
        fr = pc.replace_substring(pc.coalesce(frac, pa.scalar("", _S)), ",", ".") if frac is not None else pa.scalar("", _S)
        text = join(pc.cast(years, _S), "-", pc.utf8_lpad(pc.cast(months, _S), 2, "0"), "-",
                    pc.utf8_lpad(day, 2, "0"), "T", hms, fr)
        naive = safe_cast_timestamp(text)
    out = local_to_utc(naive, ctx.tz, ctx.state)
    if tzn is not None and tzn.null_count < len(mon):
        is_utc = pc.fill_null(pc.is_in(tzn, pa.array(sorted(_UTC_NAMES))), False)
        out = pc.if_else(is_utc, pc.cast(naive, pa.timestamp("us", tz="UTC")), out)
    return out


def epoch_ts(arr: pa.Array) -> pa.Array:
    """Epoch seconds (10 digits), ms (13), us (16) or ns (19) -> UTC timestamp."""
    def one(s: str):
        s = s.strip()
        if "." in s:
            return int(round(float(s) * 1_000_000))
        if not s.isdigit():
            return None
        v = int(s)
        scale = {10: 1_000_000, 9: 1_000_000, 13: 1000, 16: 1, 19: None}.get(len(s), 1_000_000)
        return v // 1000 if scale is None else v * scale
    us = map_values(arr, one, pa.int64())
    return pc.cast(us, pa.timestamp("us", tz="UTC"))


def ts_from_text(text: pa.Array, ctx: ParseContext, zone: pa.Array | None = None) -> pa.Array:
    """'YYYY-MM-DD HH:MM:SS' / 'YYYY/MM/DD HH:MM:SS' (+ optional zone column) -> UTC."""
    t = pc.replace_substring_regex(blank_to_null(text), r"^(\d{4})[/:](\d\d)[/:](\d\d)[ T-]", r"\1-\2-\3T")
    return iso_to_utc(t, zone if zone is not None else pa.array([""] * len(text), _S), ctx.tz)
