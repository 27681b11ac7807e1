"""Linux netfilter LOG records (iptables, ip6tables, nftables ``log``, ulogd LOGEMU).

The kernel prints a record as ``PREFIX IN=.. OUT=.. [PHYSIN=..] MAC=.. SRC=.. DST=..
LEN=.. ... PROTO=..`` followed by transport fields, in a fixed order (see the
kernel's ``net/netfilter/nf_log_syslog.c``). The record arrives wrapped in one of:

* RFC 3164 syslog ``Mar 11 20:35:11 host kernel: [463490.251762] PREFIX IN=...``
  (with or without ``<PRI>``, the kernel's ``[uptime]`` stamp, ``kernel:`` tag),
* rsyslog high-precision / journalctl ``short-iso``: ``2015-03-07T05:09:30.045015+02:00 host kernel: ...``,
* RFC 5424: ``<4>1 2021-03-12T14:10:18Z host kernel - - - PREFIX IN=...``,
* journalctl ``short`` / ``short-precise`` / ``short-full`` / ``short-unix``,
* ``dmesg`` (``[uptime] PREFIX IN=...``; no wall clock: ``ts`` stays null) and ``dmesg -T``
  (``[Mon Mar 11 20:35:11 2024] PREFIX IN=...``),
* ulogd LOGEMU (``Mar 11 20:35:11 host PREFIX IN=...``, no program tag).

Parsing is two anchored RE2 regexes run by Arrow over a whole batch (header and
body); the rare body the fast regex does not accept (fields out of the kernel's
order, vendor additions) goes through a token parser, so odd records are read
rather than lost.
"""
from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import TCP_FLAG_BITS, conform, normalise_proto
from . import Format, ParseContext, ParseResult
from ._common import (blank_to_null, canonical_ips, hex_to_int, infer_years, iso_to_utc, join,
                      local_to_utc, map_unique, month_numbers, plain_bsd_timestamps, safe_cast_timestamp, to_int)

MAX_LINE = 65536  # longer lines are reported unreadable without being parsed

# ---------------------------------------------------------------------------------------
# Split: wrapper (head) | netfilter record (body, from IN= to the end)
_SPLIT = r"^(?P<head>.*?)(?P<body>\bIN=\S* OUT=\S*(?: .*)?)$"

_MON = r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DOW = r"Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_KERNEL_TAGS = r"kernel|ulogd2?|ulog|vmunix|kern|klogd|nft"
_HEAD = (
    r"^(?:"
    # RFC 5424
    r"<(?P<pri5>\d{1,3})>1 (?P<iso5>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?)(?P<zone5>Z|[+-]\d\d:?\d\d)? "
    r"(?P<host5>\S+) (?P<tag5>\S+) \S+ \S+ (?:-|(?:\[[^\]]*\])+)"
    r"|"
    # dmesg -T (no host, no tag)
    r"\[(?:" + _DOW + r") (?P<tmon>" + _MON + r") +(?P<tday>\d{1,2}) (?P<thms>\d\d:\d\d:\d\d) (?P<tyear>\d{4})\]"
    r"|"
    r"(?:<(?P<pri>\d{1,3})>)?"
    r"(?:"
    r"(?:(?:" + _DOW + r") )?(?P<iso>\d{4}-\d\d-\d\d)[T ](?P<isot>\d\d:\d\d:\d\d(?:[.,]\d+)?)"
    r"(?: ?(?P<zone>Z|[+-]\d\d:?\d\d|UTC|GMT))?"
    r"|(?P<mon>" + _MON + r") +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)(?P<frac>[.,]\d+)?(?: (?P<byear>\d{4}))?"
    r"|(?P<epoch>\d{9,11}\.\d{1,9})"
    r")?"
    r" *(?:(?P<host>[^\s\[\]]*[^\s:\[\]]) +)?"
    r"(?:[a-z]+\.[a-z]+ )?"
    r"(?:(?P<tag>(?:" + _KERNEL_TAGS + r")(?:\[\d+\])?:|[^\s\[\]]+\[\d+\]:) ?)?"
    r")"
    r" *(?:\[ *(?P<uptime>\d+\.\d+)\] ?)?"
    r"(?P<prefix>.*)$"
)

# A record whose beginning was cut off (long kernel lines split by some syslog daemons).
_PARTIAL = (r"^(?P<head>.*?(?:" + _KERNEL_TAGS + r")(?:\[\d+\])?: ?(?:\[ *\d+\.\d+\] ?)?)"
            r"(?P<body>.*\bPROTO=\S+.*)$")

_SYSLOG_START = (r"^(?:<\d{1,3}>)?(?:1 )?(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|(?:" + _MON + r") +\d{1,2} "
                 r"\d\d:\d\d:\d\d|\[ *\d+\.\d+\]|\[(?:" + _DOW + r") )")

# The record, in the kernel's order. Optional groups that do not take part give ''.
_IP4 = (r"TOS=(?:0x)?(?P<tos>[0-9A-Fa-f]{1,2}) PREC=(?:0x)?(?P<prec>[0-9A-Fa-f]{1,2}) "
        r"TTL=(?P<ttl>\d+) ID=(?P<ipid>\d+) ")
_IP6 = r"TC=(?P<tc>\d+) HOPLIMIT=(?P<hoplimit>\d+) FLOWLBL=(?P<flowlbl>\d+) "
_TCP = (r"(?:INCOMPLETE \[(?P<tinc>\d+) bytes\] "
        r"|SPT=(?P<tspt>\d+) DPT=(?P<tdpt>\d+) (?:SEQ=(?P<seq>\d+) ACK=(?P<ack>\d+) )?"
        r"WINDOW=(?P<win>\d+) RES=0x(?P<res>[0-9A-Fa-f]+) "
        r"(?P<flags>(?:(?:CWR|ECE|URG|ACK|PSH|RST|SYN|FIN) )*)URGP=(?P<urgp>\d+) ?"
        r"(?:OPT \((?P<tcpopt>[0-9A-Fa-f]*)\) ?)?)")
_UDP = r"(?:INCOMPLETE \[(?P<uinc>\d+) bytes\] |SPT=(?P<uspt>\d+) DPT=(?P<udpt>\d+) LEN=(?P<ulen>\d+) ?)"
_INNER = r"\[(?P<inner>SRC=(?:[^\[\]]|\[[^\[\]]*\])*)\] ?"
_ICMP = (r"(?:INCOMPLETE \[(?P<iinc>\d+) bytes\] "
         r"|TYPE=(?P<itype>\d+) CODE=(?P<icode>\d+) "
         r"(?:INCOMPLETE \[\d+ bytes\] )?"
         r"(?:ID=(?P<iid>\d+) SEQ=(?P<iseq>\d+) )?"
         r"(?:PARAMETER=(?P<iparam>\d+) |POINTER=(?P<ipointer>[0-9A-Fa-f]+) )?"
         r"(?:GATEWAY=(?P<igw>\S+) )?"
         r"(?:" + _INNER + r")?"
         r"(?:MTU=(?P<imtu>\d+) ?)?)")
_BODY = (
    r"^IN=(?P<in_if>\S*) OUT=(?P<out_if>\S*) "
    r"(?:PHYSIN=(?P<physin>\S*) )?(?:PHYSOUT=(?P<physout>\S*) )?"
    r"(?:MAC=(?P<mac>\S*) ?)?"
    r"(?:MACSRC=(?P<macsrc>\S+) MACDST=(?P<macdst>\S+) MACPROTO=(?P<macproto>\S+) )?"
    r"SRC=(?P<src>\S+) DST=(?P<dst>\S+) LEN=(?P<len>\d+) "
    r"(?:" + _IP4 + "|" + _IP6 + r")"
    r"(?P<ipflags>(?:(?:CE|DF|MF) )*)"
    r"(?:FRAG:(?P<frag>\d+) )?"
    r"(?P<ipopt>(?:OPT \((?:[^()]*)\) ?)*)"
    r"PROTO=(?P<proto>\S+) ?"
    r"(?:" + _TCP + r"|" + _UDP + r"|" + _ICMP + r"|SPI=(?P<spi>0x[0-9A-Fa-f]+) ?"
    r")?"
    r"(?:UID=(?P<uid>\d+) GID=(?P<gid>\d+) ?)?"
    r"(?:MARK=(?P<mark>\S+) ?)?"
    r" *$"
)

_INNER_RE = (
    r"^SRC=(?P<s>\S+) DST=(?P<d>\S+) LEN=(?P<l>\d+) "
    r"(?:TOS=\S+ PREC=\S+ TTL=(?P<ttl>\d+) ID=(?P<id>\d+) |TC=\S+ HOPLIMIT=(?P<hl>\d+) FLOWLBL=\S+ )"
    r"[^\[]*?PROTO=(?P<p>\S+)"
    r"(?: (?:TYPE=\d+ CODE=\d+ )?(?:INCOMPLETE \[\d+ bytes\] )?(?:SPT=(?P<sp>\d+) DPT=(?P<dp>\d+))?)?"
)

# Names of the string groups the conversion step reads; the token parser fills the same.
_GROUPS = list(re.compile(_BODY).groupindex)


class Netfilter(Format):
    name = "netfilter"
    raw_is_line = True
    description = "Linux netfilter LOG records: iptables, ip6tables, nftables log, ulogd, in syslog/journal/dmesg wrappers"
    example = ("Mar 11 20:35:11 gw kernel: [463490.251762] [UFW BLOCK] IN=eth0 OUT= MAC=00:13:46:3a:41:36:00:1b:b9:76:9c:e4:08:00 "
               "SRC=203.0.113.55 DST=198.51.100.1 LEN=44 TOS=0x00 PREC=0x00 TTL=53 ID=15270 PROTO=TCP SPT=56247 "
               "DPT=1025 WINDOW=3072 RES=0x00 SYN URGP=0 OPT (020405B4)")

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip()]
        if not lines:
            return 0.0
        hits = sum(1 for s in lines if " OUT=" in s and "SRC=" in s and "IN=" in s)
        return 0.0 if hits == 0 else 0.5 + 0.5 * hits / len(lines)

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext) -> ParseResult:
        return parse_batch(lines, first_line, ctx)

    # The two halves of ``parse``: the reader runs ``prepare`` of the next batches on worker
    # threads while it finishes this one (see reader.read_file).
    def prepare(self, lines: pa.Array, first_line: int, keep_raw: bool = True, leave_out: frozenset = frozenset()):
        return prepare_batch(lines, first_line, keep_raw, leave_out)

    def finish(self, prepared, ctx: ParseContext) -> ParseResult:
        return finish_batch(prepared, ctx)


FORMAT = Netfilter()


# ---------------------------------------------------------------------------------------
_HEAD_NAMES = ("pri5", "iso5", "zone5", "host5", "tag5", "pri", "iso", "isot", "zone", "mon", "day", "hms",
               "frac", "byear", "tmon", "tday", "thms", "tyear", "epoch", "host", "tag", "uptime", "prefix")
# head values the C kernel builds itself (null on the lines the regex path reads): "tsraw" is a BSD
# timestamp as ts_raw shows it, "Mon d hh:mm:ss[.frac]" (the reader would join it from the parts)
_BUILT_HEAD = ("tsraw",)

try:  # the compiled reader kernel (setup.py builds it); without it the regex path reads every line
    from . import _nfkernel
except ImportError:  # pragma: no cover - depends on the install
    _nfkernel = None

USE_KERNEL = True  # tests switch this off to compare both paths


def kernel_available() -> bool:
    return _nfkernel is not None


class _Extract:
    """Text groups of the records of a batch, before conversion (both paths fill this)."""

    def __init__(self, rec_no, rec_lines, partial, groups, head, head_valid, head_text):
        self.rec_no, self.rec_lines, self.partial = rec_no, rec_lines, partial
        self.groups, self.head, self.head_valid, self.head_text = groups, head, head_valid, head_text

    def __len__(self) -> int:
        return len(self.rec_no)

    def arrays(self) -> dict[str, pa.Array]:
        d = {"__no": self.rec_no, "__raw": self.rec_lines, "__partial": self.partial,
             "__hvalid": self.head_valid, "__htext": self.head_text}
        d.update({"g_" + k: v for k, v in self.groups.items()})
        d.update({"h_" + k: v for k, v in self.head.items()})
        return d

    @classmethod
    def from_arrays(cls, d: dict[str, pa.Array]) -> "_Extract":
        return cls(d["__no"], d["__raw"], d["__partial"], {g: d["g_" + g] for g in _GROUPS},
                   {h: d["h_" + h] for h in _HEAD_NAMES + _BUILT_HEAD}, d["__hvalid"], d["__htext"])


def parse_batch(lines: pa.Array, first_line: int, ctx: ParseContext) -> ParseResult:
    return finish_batch(prepare_batch(lines, first_line, ctx.keep_raw, ctx.leave_out), ctx)


class _Prepared:
    """What :func:`prepare_batch` computed: the record columns that need no reader state."""

    def __init__(self, ext, cols, unreadable, skipped):
        self.ext, self.cols, self.unreadable, self.skipped = ext, cols, unreadable, skipped


def prepare_batch(lines: pa.Array, first_line: int, keep_raw: bool = True,
                  leave_out: frozenset = frozenset()) -> _Prepared:
    """Everything of a batch that depends on its lines alone (no year inference, no file name):
    safe to run on several batches at once on worker threads (the C kernel and Arrow's kernels
    release the GIL). What waits for ``finish_batch`` is kept small (the reader holds a few
    prepared batches): not the fields' text once converted, nor the lines without ``keep_raw``.
    Columns in ``leave_out`` are not computed (left null)."""
    n = len(lines)
    line_no = pa.array(np.arange(first_line, first_line + n, dtype=np.int64), pa.int64())
    unreadable: list[tuple[int, str]] = []
    kern = _kernel_extract(lines, line_no, keep_raw) if (USE_KERNEL and _nfkernel is not None and n) else None
    if kern is None:
        ext, skipped = _regex_extract(lines, line_no, unreadable)
    else:
        status, kext = kern
        skipped = int(np.count_nonzero(status == 2))   # blank and other programs' lines
        if len(kext) + skipped == n:
            ext = kext
        else:
            rest = pa.array(status == 0)
            rext, more = _regex_extract(pc.filter(lines, rest), pc.filter(line_no, rest), unreadable)
            skipped += more
            if rext is None or len(rext) == 0:
                ext = kext
            else:
                if not keep_raw:
                    rext.rec_lines = None
                if len(kext) == 0:
                    ext = rext
                else:
                    ka, ra = kext.arrays(), rext.arrays()
                    merged = {k: pa.concat_arrays([ka[k], ra[k].cast(ka[k].type)]) for k in ka if ka[k] is not None}
                    order = pc.sort_indices(merged["__no"])
                    ext = _Extract.from_arrays({k: pc.take(merged[k], order) if k in merged else None for k in ka})
    if ext is None or len(ext) == 0:
        return _Prepared(None, None, unreadable, skipped)
    cols = _convert(ext.groups, leave_out)
    if "incomplete" in cols:
        cols["incomplete"] = pc.or_(cols["incomplete"], ext.partial)
    ext.groups = None
    if not keep_raw:
        ext.rec_lines = None
    return _Prepared(ext, cols, unreadable, skipped)


def finish_batch(prep: _Prepared, ctx: ParseContext) -> ParseResult:
    """The rest of a batch, in input order: timestamps (years are inferred across batches)."""
    ext, unreadable, skipped = prep.ext, prep.unreadable, prep.skipped
    if ext is None or len(ext) == 0:
        return ParseResult(conform({}, 0), sorted(unreadable), skipped)
    cols = dict(prep.cols)
    cols.update(_head_convert(ext.head, ext.head_valid, ext.head_text, ctx))
    m = len(ext)
    cols["line"] = ext.rec_no
    cols["source_file"] = pa.repeat(pa.scalar(ctx.source_file, pa.string()), m)
    cols["format"] = pa.repeat(pa.scalar("netfilter", pa.string()), m)
    cols["raw"] = ext.rec_lines if ext.rec_lines is not None else pa.nulls(m, pa.string())
    return ParseResult(conform(cols, m), sorted(unreadable), skipped)


def _kernel_extract(lines: pa.Array, line_no: pa.Array, keep_raw: bool = True):
    """Lines the C kernel reads with certainty -> (per line 1 read, 2 skipped, 0 left to the
    regex path (numpy uint8); the _Extract of the lines read, their text only with ``keep_raw``)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if lines.type != pa.string() or lines.null_count:
        return None
    _validity, offsets, data = lines.buffers()
    if data is None:
        return None
    okb, nok, fields = _nfkernel.parse(offsets, data, len(lines), lines.offset)
    status = np.frombuffer(okb, dtype=np.uint8)
    arrs = {name: pa.StringArray.from_buffers(nok, pa.py_buffer(o), pa.py_buffer(d))
            for name, (o, d) in zip(_nfkernel.FIELDS, fields)}
    empty = pa.array([""] * nok, pa.string()) if nok else pa.array([], pa.string())
    groups = {g: arrs.get(g, empty) for g in _GROUPS}
    head = {h: arrs.get("h_" + h, empty) for h in _HEAD_NAMES + _BUILT_HEAD}
    every = nok == len(lines)   # the usual case: no filtering needed
    ok = None if every else pa.array(status == 1)
    rec_lines = None if not keep_raw else lines if every else pc.filter(lines, ok)
    ext = _Extract(line_no if every else pc.filter(line_no, ok), rec_lines,
                   pa.array(np.zeros(nok, np.bool_)), groups, head, pa.array(np.ones(nok, np.bool_)), empty)
    return status, ext


def _regex_extract(lines: pa.Array, line_no: pa.Array, unreadable: list) -> tuple[_Extract | None, int]:
    """The Arrow/RE2 path: every line, whatever its wrapper."""
    lengths = pc.utf8_length(lines)
    too_long = pc.fill_null(pc.greater(lengths, MAX_LINE), True)
    work = pc.if_else(too_long, pa.scalar("", pa.string()), lines)

    split = pc.extract_regex(work, _SPLIT)
    is_full = pc.fill_null(split.is_valid(), False)
    part = pc.extract_regex(pc.if_else(is_full, pa.scalar("", pa.string()), work), _PARTIAL)
    is_part = pc.fill_null(part.is_valid(), False)
    is_rec = pc.or_(is_full, is_part)
    skipped = 0

    # Lines that are not records: blank, unrelated syslog lines, or unreadable.
    not_rec = pc.invert(is_rec)
    if pc.any(not_rec).as_py():
        others = pc.filter(work, not_rec)
        other_no = pc.filter(line_no, not_rec)
        other_long = pc.filter(too_long, not_rec)
        blank = pc.fill_null(pc.match_substring_regex(others, r"^\s*$"), True)
        netfilterish = pc.and_(pc.match_substring(others, "SRC="), pc.match_substring(others, "DST="))
        has_head = pc.match_substring_regex(others, _SYSLOG_START)
        for no, b, nf, hh, lg in zip(other_no.to_pylist(), blank.to_pylist(), netfilterish.to_pylist(),
                                    has_head.to_pylist(), other_long.to_pylist()):
            if lg:
                unreadable.append((no, f"line longer than {MAX_LINE} characters"))
            elif b:
                skipped += 1
            elif nf:
                unreadable.append((no, "netfilter fields without IN=/OUT="))
            elif hh:
                skipped += 1  # a syslog line from another program
            else:
                unreadable.append((no, "not a netfilter record"))

    if not pc.any(is_rec).as_py():
        return None, skipped

    rec_lines = pc.filter(lines, is_rec)
    rec_no = pc.filter(line_no, is_rec)
    # (a struct that did not match still has '' in its fields: choose by the match flag)
    head = pc.filter(pc.if_else(is_full, split.field("head"), part.field("head")), is_rec)
    body = pc.filter(pc.if_else(is_full, split.field("body"), part.field("body")), is_rec)
    body = join(body, " ")  # the kernel ends every field with a space; some loggers trim the last
    partial = pc.filter(is_part, is_rec)

    fast = pc.extract_regex(body, _BODY)
    ok = pc.fill_null(fast.is_valid(), False)
    groups: dict[str, pa.Array] = {g: fast.field(g) for g in _GROUPS}
    if not pc.all(ok).as_py():
        bad_idx = pc.indices_nonzero(pc.invert(ok))
        bad_bodies = pc.take(body, bad_idx).to_pylist()
        rows, keep = [], []
        for i, b in zip(bad_idx.to_pylist(), bad_bodies):
            d = _token_parse(b)
            if d is None:
                unreadable.append((rec_no[i].as_py(), "netfilter record without SRC=/DST=/PROTO= fields"))
            else:
                rows.append(d)
                keep.append(i)
        good_idx = pc.indices_nonzero(ok).cast(pa.int64())
        order = pa.concat_arrays([good_idx, pa.array(keep, pa.int64())])
        for g in _GROUPS:
            fb = pa.array([r.get(g, "") for r in rows], pa.string())
            groups[g] = pa.concat_arrays([pc.take(groups[g], good_idx), fb])
        sort_idx = pc.sort_indices(order)  # back to line order
        order = pc.take(order, sort_idx)
        groups = {g: pc.take(a, sort_idx) for g, a in groups.items()}
        head, rec_lines, rec_no, partial = (pc.take(a, order) for a in (head, rec_lines, rec_no, partial))
    if len(rec_no) == 0:
        return None, skipped
    h = pc.extract_regex(head, _HEAD)
    hf = {name: h.field(name) for name in _HEAD_NAMES}
    hf.update({name: pa.nulls(len(head), pa.string()) for name in _BUILT_HEAD})
    return _Extract(rec_no, rec_lines, partial, groups, hf, pc.fill_null(h.is_valid(), False), head), skipped


# ---------------------------------------------------------------------------------------
def _parse_head(head: pa.Array, ctx: ParseContext) -> dict[str, pa.Array]:
    h = pc.extract_regex(head, _HEAD)
    return _head_convert({name: h.field(name) for name in _HEAD_NAMES}, h.is_valid(), head, ctx)


def _head_convert(fields: dict[str, pa.Array], valid: pa.Array, head: pa.Array,
                  ctx: ParseContext) -> dict[str, pa.Array]:
    f = {name: blank_to_null(fields[name]) for name in _HEAD_NAMES}
    n = len(head)
    tz = ctx.tz

    # ISO forms (RFC 5424, rsyslog, journalctl short-iso/short-full)
    iso_local = pc.coalesce(f["iso5"], join(f["iso"], "T", f["isot"]))
    iso_local = pc.replace_substring(iso_local, ",", ".")
    iso_zone = pc.coalesce(f["zone5"], f["zone"], pa.scalar("", pa.string()))
    ts = iso_to_utc(iso_local, iso_zone, tz)

    # BSD syslog: month/day/time, year inferred
    if f["mon"].null_count < n:
        months = month_numbers(f["mon"])
        days = to_int(f["day"], pa.int8())
        explicit = to_int(f["byear"], pa.int32())
        inferred = infer_years(pc.if_else(pc.is_valid(explicit), pa.scalar(None, pa.int8()), months),
                               days, ctx.state, ctx.year, ctx.reference_time, tz)
        years = pc.coalesce(explicit, inferred)
        naive = plain_bsd_timestamps(years, months, days, f["hms"], f["frac"])
        if naive is None:   # some line is not plain: the text is parsed, as ever
            frac = pc.replace_substring(pc.coalesce(f["frac"], pa.scalar("", pa.string())), ",", ".")
            text = join(pc.cast(years, pa.string()), "-", pc.utf8_lpad(pc.cast(months, pa.string()), 2, "0"), "-",
                        pc.utf8_lpad(f["day"], 2, "0"), "T", f["hms"], frac)
            naive = safe_cast_timestamp(text)
        ts = pc.coalesce(ts, local_to_utc(naive, tz, ctx.state))
    # dmesg -T
    if f["tmon"].null_count < n:
        months = month_numbers(f["tmon"])
        text = join(f["tyear"], "-", pc.utf8_lpad(pc.cast(months, pa.string()), 2, "0"), "-",
                    pc.utf8_lpad(f["tday"], 2, "0"), "T", f["thms"])
        ts = pc.coalesce(ts, local_to_utc(safe_cast_timestamp(text), tz, ctx.state))
    # journalctl short-unix
    if f["epoch"].null_count < n:
        secs = pc.cast(f["epoch"], pa.float64())
        us = pc.cast(pc.round(pc.multiply(secs, 1e6)), pa.int64())
        ts = pc.coalesce(ts, pc.cast(us, pa.timestamp("us", tz="UTC")))

    built = fields.get("tsraw")
    if built is not None and built.null_count == 0:   # every line read by the kernel (the usual case)
        ts_raw = built
    else:
        ts_raw = _joined_ts_raw(f, built)
    prefix = pc.if_else(valid, f["prefix"], head)  # no header recognised: all of it is prefix
    prefix = blank_to_null(pc.utf8_trim_whitespace(prefix))
    return {
        "ts": ts,
        "ts_raw": ts_raw,
        "uptime": None if "uptime" in ctx.leave_out else pc.cast(f["uptime"], pa.float64()),
        "log_host": pc.coalesce(f["host5"], f["host"]),
        "rule": prefix,
        "action": pc.fill_null(map_unique(prefix, action_from_prefix, pa.string()), "other"),
    }


def _joined_ts_raw(f: dict[str, pa.Array], built: pa.Array | None) -> pa.Array:
    """ts_raw: the timestamp as written, its parts joined (what the kernel built comes first)."""
    return pc.coalesce(
        *([built] if built is not None else []),
        join(f["iso5"], pc.coalesce(f["zone5"], pa.scalar("", pa.string()))),
        join(f["iso"], "T", f["isot"], pc.coalesce(f["zone"], pa.scalar("", pa.string()))),
        join(f["mon"], " ", f["day"], " ", f["hms"], pc.coalesce(f["frac"], pa.scalar("", pa.string()))),
        join(f["tmon"], " ", f["tday"], " ", f["thms"], " ", f["tyear"]),
        f["epoch"],
        join("[", f["uptime"], "]"),
    )


_ACTION_WORDS = [
    ("reject", re.compile(r"reject|\bREJ\b|-R\]|_R\b", re.I)),
    # (an anti-spoofing chain logs the forged sources it drops: "ANTISPOOF", "SPOOFED")
    ("drop", re.compile(r"drop|deny|denied|block|discard|spoof|-D\]|\bBAD\b|invalid|_D\b|\bD\b", re.I)),
    ("accept", re.compile(r"accept|allow|permit|pass|-A\]|\bOK\b|_A\b|\bA\b", re.I)),
]


def action_from_prefix(prefix: str | None) -> str:
    """drop / reject / accept / other, from the words of a log prefix."""
    if not prefix:
        return "other"
    for action, rx in _ACTION_WORDS:
        if rx.search(prefix):
            return action
    return "other"


# ---------------------------------------------------------------------------------------
def _convert(g: dict[str, pa.Array], leave_out: frozenset = frozenset()) -> dict[str, pa.Array]:
    """The event columns of the records' text groups; a column in ``leave_out`` (one the caller
    drops) is not computed (each is a function below, called only for the columns kept)."""
    n = len(g["src"])
    s = pa.scalar
    src = canonical_ips(g["src"])
    dst = canonical_ips(g["dst"])
    is6 = pc.not_equal(g["hoplimit"], "")
    proto_name = map_unique(g["proto"], lambda p: normalise_proto(p)[0], pa.string())

    mac = blank_to_null(g["mac"])
    mac_dst = pc.coalesce(blank_to_null(g["macdst"]), map_unique(mac, lambda m: _mac_part(m, 0), pa.string()))

    ipflags = g["ipflags"]
    ipopt = blank_to_null(pc.utf8_trim_whitespace(g["ipopt"]))
    opt_decoded = map_unique(ipopt, _decode_ip_options, pa.string())
    v6id = map_unique(ipopt, _v6_frag_id, pa.int64())

    flags = pc.if_else(pc.equal(proto_name, "tcp"), pc.utf8_trim_whitespace(g["flags"]), s(None, pa.string()))
    flags = pc.if_else(pc.and_(pc.equal(proto_name, "tcp"), pc.equal(g["win"], "")), s(None, pa.string()), flags)

    inner = pc.extract_regex(blank_to_null(g["inner"]), _INNER_RE)
    inner_ok = inner.is_valid()

    def inner_field(name, typ=None):
        a = blank_to_null(inner.field(name))
        a = pc.if_else(inner_ok, a, s(None, pa.string()))
        return a if typ is None else to_int(a, typ)

    inner_proto = map_unique(inner_field("p"), lambda p: normalise_proto(p)[0], pa.string())
    cols = {
        "in_if": lambda: blank_to_null(g["in_if"]),
        "out_if": lambda: blank_to_null(g["out_if"]),
        "phys_in": lambda: blank_to_null(g["physin"]),
        "phys_out": lambda: blank_to_null(g["physout"]),
        "mac_raw": lambda: mac,
        "mac_src": lambda: pc.coalesce(blank_to_null(g["macsrc"]), map_unique(mac, lambda m: _mac_part(m, 1), pa.string())),
        "mac_dst": lambda: mac_dst,
        "ip_version": lambda: pc.if_else(is6, s(6, pa.int8()), s(4, pa.int8())),
        "src_ip": lambda: src,
        "dst_ip": lambda: dst,
        "proto": lambda: proto_name,
        "proto_num": lambda: map_unique(g["proto"], lambda p: normalise_proto(p)[1], pa.int16()),
        "ip_len": lambda: to_int(g["len"], pa.int32()),
        "ip_tos": lambda: pc.coalesce(hex_to_int(g["tos"], pa.int16()), to_int(g["tc"], pa.int16())),
        "ip_prec": lambda: hex_to_int(g["prec"], pa.int16()),
        "ttl": lambda: pc.coalesce(to_int(g["ttl"], pa.int16()), to_int(g["hoplimit"], pa.int16())),
        "ip_id": lambda: pc.coalesce(to_int(g["ipid"], pa.int64()), v6id),
        "flow_label": lambda: to_int(g["flowlbl"], pa.int32()),
        "df": lambda: pc.match_substring(ipflags, "DF"),
        "mf": lambda: pc.match_substring(ipflags, "MF"),
        "ce": lambda: pc.match_substring(ipflags, "CE"),
        "frag_offset": lambda: pc.coalesce(to_int(g["frag"], pa.int32()), map_unique(ipopt, _v6_frag, pa.int32()),
                                           s(0, pa.int32())),
        "ip_options_raw": lambda: ipopt,
        "ip_options": lambda: opt_decoded,
        "source_route": lambda: pc.fill_null(pc.match_substring_regex(opt_decoded, r"^(?:.*; )?(?:LSRR|SSRR)"), False),
        "src_port": lambda: pc.coalesce(to_int(g["tspt"], pa.int32()), to_int(g["uspt"], pa.int32())),
        "dst_port": lambda: pc.coalesce(to_int(g["tdpt"], pa.int32()), to_int(g["udpt"], pa.int32())),
        "tcp_flags": lambda: flags,
        "tcp_flag_bits": lambda: pc.if_else(pc.equal(flags, ""), pa.scalar(0, pa.int16()),  # a NULL scan: no flags
                                    map_unique(flags, _flag_bits, pa.int16())) if flags.null_count < n
        else pa.nulls(n, pa.int16()),
        "tcp_window": lambda: to_int(g["win"], pa.int32()),
        "tcp_seq": lambda: to_int(g["seq"], pa.int64()),
        "tcp_ack": lambda: to_int(g["ack"], pa.int64()),
        "tcp_urgp": lambda: to_int(g["urgp"], pa.int32()),
        "tcp_options": lambda: blank_to_null(g["tcpopt"]),
        "udp_len": lambda: to_int(g["ulen"], pa.int32()),
        "icmp_type": lambda: to_int(g["itype"], pa.int16()),
        "icmp_code": lambda: to_int(g["icode"], pa.int16()),
        "icmp_id": lambda: to_int(g["iid"], pa.int32()),
        "icmp_seq": lambda: to_int(g["iseq"], pa.int32()),
        "icmp_gateway": lambda: canonical_ips(g["igw"]),
        "icmp_mtu": lambda: to_int(g["imtu"], pa.int32()),
        "icmp_parameter": lambda: pc.coalesce(to_int(g["iparam"], pa.int32()), hex_to_int(g["ipointer"], pa.int32())),
        "inner_src_ip": lambda: canonical_ips(inner_field("s")),
        "inner_dst_ip": lambda: canonical_ips(inner_field("d")),
        "inner_proto": lambda: inner_proto,
        "inner_src_port": lambda: inner_field("sp", pa.int32()),
        "inner_dst_port": lambda: inner_field("dp", pa.int32()),
        "inner_ttl": lambda: pc.coalesce(inner_field("ttl", pa.int16()), inner_field("hl", pa.int16())),
        "inner_ip_id": lambda: inner_field("id", pa.int64()),
        "inner_len": lambda: inner_field("l", pa.int32()),
        "incomplete": lambda: pc.or_(pc.or_(pc.not_equal(g["tinc"], ""), pc.not_equal(g["uinc"], "")),
                                     pc.not_equal(g["iinc"], "")),
        "mark": lambda: blank_to_null(g["mark"]),
        "uid": lambda: to_int(g["uid"], pa.int32()),
    }
    return {name: make() for name, make in cols.items() if name not in leave_out}


def _mac_part(mac: str, which: int) -> str | None:
    parts = mac.split(":")
    if len(parts) < 12:
        return None
    return ":".join(parts[which * 6:(which + 1) * 6]).lower()


def _flag_bits(flags: str) -> int:
    return sum(TCP_FLAG_BITS.get(f, 0) for f in flags.split())


def _v6_frag(opt: str) -> int | None:
    m = re.search(r"FRAG:(\d+)", opt)
    return int(m.group(1)) // 8 if m else None


def _v6_frag_id(opt: str) -> int | None:
    m = re.search(r"ID:([0-9A-Fa-f]+)", opt)
    return int(m.group(1), 16) if m else None


_OPT_NAMES = {0x00: "EOL", 0x01: "NOP", 0x07: "RR", 0x44: "TS", 0x82: "SEC", 0x83: "LSRR", 0x89: "SSRR",
              0x88: "SID", 0x94: "RA", 0x86: "CIPSO", 0x85: "ESEC", 0x0F: "ENCODE", 0x52: "TR"}


def _decode_ip_options(raw: str) -> str | None:
    """Decode IPv4 options from the hex the kernel logs (``OPT (830B04...)``).

    IPv6 extension headers are logged as ``OPT ( ... )`` with their own words and are
    returned as the names of what they show (fragment header, AH, ...).
    """
    chunks = re.findall(r"OPT \(([^()]*)\)", raw)
    out = []
    for c in chunks:
        c = c.strip()
        if not c:
            out.append("IPv6 extension header")
            continue
        if not re.fullmatch(r"[0-9A-Fa-f]+", c):
            out.append("IPv6 " + " ".join(c.split()))
            continue
        try:
            data = bytes.fromhex(c if len(c) % 2 == 0 else c + "0")
        except ValueError:
            out.append("undecodable " + c)
            continue
        i = 0
        while i < len(data):
            t = data[i]
            name = _OPT_NAMES.get(t, f"option {t}")
            if t in (0x00, 0x01):
                if t == 0x00:
                    break
                i += 1
                continue
            if i + 1 >= len(data):
                out.append(f"{name} (truncated)")
                break
            ln = data[i + 1]
            if ln < 2 or i + ln > len(data):
                out.append(f"{name} (bad length {ln})")
                break
            body = data[i + 2:i + ln]
            if t in (0x83, 0x89, 0x07) and len(body) >= 1:
                addrs = [".".join(str(b) for b in body[1 + k:5 + k]) for k in range(0, len(body) - 1 - 3, 4)]
                out.append(f"{name} {','.join(addrs)}" if addrs else name)
            else:
                out.append(name)
            i += ln
    return "; ".join(out) if out else None


# ---------------------------------------------------------------------------------------
_TOKEN_KEYS_IP = {"SRC": "src", "DST": "dst", "LEN": "len", "TOS": "tos", "PREC": "prec", "TTL": "ttl",
                  "ID": "ipid", "TC": "tc", "HOPLIMIT": "hoplimit", "FLOWLBL": "flowlbl", "IN": "in_if",
                  "OUT": "out_if", "MAC": "mac", "PHYSIN": "physin", "PHYSOUT": "physout",
                  "MACSRC": "macsrc", "MACDST": "macdst", "MACPROTO": "macproto", "MARK": "mark",
                  "UID": "uid", "GID": "gid"}


def _token_parse(body: str) -> dict[str, str] | None:
    """Order-tolerant reading of a record body the fast regex refused.

    Returns the same named groups as the fast regex, or None when the essentials
    (source, destination, protocol) are missing.
    """
    d: dict[str, str] = {}
    m = re.search(r"\[(SRC=(?:[^\[\]]|\[[^\[\]]*\])*)\]", body)
    if m:
        d["inner"] = m.group(1)
        body = body[:m.start()] + " " + body[m.end():]
    # OPT (...) before PROTO= are IP options, after are TCP options
    proto_at = body.find("PROTO=")
    ipopts = []
    for om in re.finditer(r"OPT \(([^()]*)\)", body):
        if proto_at < 0 or om.start() < proto_at:
            ipopts.append(om.group(0))
        else:
            d["tcpopt"] = om.group(1).strip()
    body = re.sub(r"OPT \([^()]*\)", " ", body)
    body = re.sub(r"INCOMPLETE \[(\d+) bytes\]", r"INCOMPLETE=\1", body)
    if ipopts:
        d["ipopt"] = " ".join(ipopts)
    after_proto = False
    flags, ipflags = [], []
    proto = ""
    for tok in body.split():
        if "=" in tok:
            k, _, v = tok.partition("=")
            if k == "PROTO":
                after_proto = True
                proto = v.upper()
                d["proto"] = v
                continue
            if not after_proto:
                key = _TOKEN_KEYS_IP.get(k)
                if key and key not in d:
                    d[key] = v.removeprefix("0x") if k in ("TOS", "PREC") else v
                continue
            if proto == "TCP":
                key = {"SPT": "tspt", "DPT": "tdpt", "SEQ": "seq", "ACK": "ack", "WINDOW": "win",
                       "RES": "res", "URGP": "urgp", "INCOMPLETE": "tinc"}.get(k)
            elif proto in ("UDP", "UDPLITE"):
                key = {"SPT": "uspt", "DPT": "udpt", "LEN": "ulen", "INCOMPLETE": "uinc"}.get(k)
            elif proto in ("ICMP", "ICMPV6"):
                key = {"TYPE": "itype", "CODE": "icode", "ID": "iid", "SEQ": "iseq", "PARAMETER": "iparam",
                       "POINTER": "ipointer", "GATEWAY": "igw", "MTU": "imtu", "INCOMPLETE": "iinc"}.get(k)
            else:
                key = {"SPI": "spi"}.get(k)
            if key is None:
                key = _TOKEN_KEYS_IP.get(k) if k in ("MARK", "UID", "GID") else None
            if key and key not in d:
                d[key] = v.removeprefix("0x") if k == "RES" else v
        elif tok in ("CE", "DF", "MF") and not after_proto:
            ipflags.append(tok)
        elif tok.startswith("FRAG:") and not after_proto:
            d["frag"] = tok[5:]
        elif after_proto and proto == "TCP" and tok in TCP_FLAG_BITS:
            flags.append(tok)
    if not d.get("proto"):
        return None
    if not d.get("src") and not any(d.get(k) for k in ("ttl", "hoplimit", "tspt", "uspt", "itype")):
        return None
    if ipflags:
        d["ipflags"] = " ".join(ipflags) + " "
    if proto == "TCP":
        d["flags"] = " ".join(flags)
        if "tspt" not in d and "tinc" not in d:
            d["win"] = ""
    return d
