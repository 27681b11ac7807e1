"""Zeek (Bro) logs: ``conn.log`` above all, as TSV (with its ``#fields`` header) or JSON lines.

One event per connection (per record for the other Zeek logs: weird, dns, http, ssh, ssl and
any log with ``id.orig_h``/``id.resp_h``). The originator is ``src``, the responder ``dst``.

``action`` from ``conn_state`` (Zeek has no verdict; this says what the network did):

=========  ===============================================================  =========
state      meaning                                                          action
=========  ===============================================================  =========
S0         attempt seen, no reply at all (filtered port, dead host, scan)   drop
REJ        attempt rejected (RST answered the SYN: closed port)             reject
RSTOS0     originator sent SYN then RST, never a SYN-ACK (half-open scan)   drop
SH         originator sent SYN then FIN, no SYN-ACK                         drop
S1 SF S2   established (SF: closed normally; S2/S3: half-closed)            accept
S3 RSTO    established, then reset by one side                              accept
RSTR
RSTRH      responder SYN-ACK then RST, originator's SYN never seen          other
SHR        responder SYN-ACK then FIN, originator's SYN never seen          other
OTH        no SYN seen (midstream traffic)                                  other
=========  ===============================================================  =========

For ICMP Zeek stores the type in ``id.orig_p`` and the code in ``id.resp_p``; they go to
``icmp_type``/``icmp_code`` and the ports stay null. ``conn_state`` is kept in ``app_status``,
``service`` in ``app_proto``, the originator's payload bytes in ``payload_len`` and the
history in ``rule`` (``conn S0 history S``).
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..schema import conform, normalise_proto
from . import Format, ParseContext, ParseResult
from ._common import canonical_ips, join, map_unique, to_int
from ._rows import MAX_LINE, clip, epoch_us, ip, iso_us, json_obj, port, proto, result, sniff_json_keys

CONN_ACTIONS = {"S0": "drop", "REJ": "reject", "RSTOS0": "drop", "SH": "drop", "S1": "accept", "SF": "accept",
                "S2": "accept", "S3": "accept", "RSTO": "accept", "RSTR": "accept", "RSTRH": "other",
                "SHR": "other", "OTH": "other"}
_FIRST_FLAG = {"S": "SYN", "F": "FIN", "R": "RST", "A": "ACK", "D": None}


def _event(o: dict, n: int, ctx: ParseContext, kind: str | None, raw: str) -> dict | None:
    src, dst = ip(o.get("id.orig_h")), ip(o.get("id.resp_h"))
    if src is None and dst is None:
        return None
    ts = o.get("ts")
    ts_us = epoch_us(ts) if not isinstance(ts, str) or ts.replace(".", "", 1).isdigit() else iso_us(ts, ctx.tz)
    pname, pnum = proto(o.get("proto"))
    r = {"line": n, "ts": ts_us, "ts_raw": str(ts) if ts is not None else None, "source_file": ctx.source_file,
         "format": "zeek_conn", "src_ip": src, "dst_ip": dst, "raw": raw,
         "ip_version": 6 if (src or dst or "").count(":") else 4}
    if pname:
        r["proto"], r["proto_num"] = pname, pnum
    sp, dp = port(o.get("id.orig_p")), port(o.get("id.resp_p"))
    if pname in ("icmp", "ipv6-icmp"):
        r["icmp_type"], r["icmp_code"] = sp, dp
    else:
        r["src_port"], r["dst_port"] = sp, dp
    state = o.get("conn_state")
    if state not in (None, "-"):
        state = str(state)
        r["action"] = CONN_ACTIONS.get(state, "other")
        r["app_status"] = state
        hist = o.get("history")
        hist = None if hist in (None, "-", "(empty)") else str(hist)
        r["rule"] = f"conn {state}" + (f" history {hist}" if hist else "")
        if pname == "tcp" and hist:
            r["tcp_flags"] = _FIRST_FLAG.get(hist[0])
            if r["tcp_flags"]:
                r["tcp_flag_bits"] = {"SYN": 2, "FIN": 1, "RST": 4, "ACK": 16}[r["tcp_flags"]]
        ob = o.get("orig_bytes")
        if isinstance(ob, (int, float)) or (isinstance(ob, str) and ob.isdigit()):
            r["payload_len"] = min(int(ob), 2**31 - 1)
        svc = o.get("service")
        if svc not in (None, "-", "(empty)"):
            r["app_proto"] = str(svc)
    else:
        r["action"] = "other"
        if kind == "dns" or "qtype_name" in o or "query" in o:
            r["app_proto"] = "dns"
            q = o.get("query")
            if q not in (None, "-"):
                r["app_detail"] = f"{q} {o.get('qclass_name') or 'IN'} {o.get('qtype_name') or '?'}"
            rc = o.get("rcode_name")
            r["app_status"] = None if rc in (None, "-") else str(rc)
        elif kind == "http" or "method" in o:
            r["app_proto"] = "http"
            uri = o.get("uri")
            if o.get("method") not in (None, "-"):
                r["app_detail"] = clip(f"{o.get('method')} {uri if uri not in (None, '-') else ''} HTTP/{o.get('version') or '1.1'}")
            sc = o.get("status_code")
            r["app_status"] = None if sc in (None, "-") else str(sc)
        elif kind == "weird" or "name" in o and "addl" in o:
            r["rule"] = f"weird {o.get('name')}"
            r["app_detail"] = clip(o.get("name"))
        else:
            eng = o.get("bro_engine") or o.get("_path") or kind
            if eng:
                r["app_proto"] = str(eng).lower()
            for k in ("client", "server_name", "version"):
                if o.get(k) not in (None, "-"):
                    r["app_detail"] = clip(o.get(k))
                    break
    return r


def _tsv_value(v: str, unset: str, empty: str):
    if v == unset:
        return None
    if v == empty:
        return ""
    return v


def _header(line: str, st: dict) -> None:
    key, _, val = line.partition("\t")
    if line.startswith("#separator"):
        try:
            sep = line[len("#separator"):].strip().encode("latin-1", "replace").decode("unicode_escape")
        except (UnicodeDecodeError, ValueError):
            sep = "\t"
        st["sep"] = sep or "\t"
    elif key == "#fields":
        st["fields"] = line.split(st.get("sep", "\t"))[1:]
    elif key == "#path":
        st["path"] = val.strip()
    elif key == "#unset_field":
        st["unset"] = val
    elif key == "#empty_field":
        st["empty"] = val


def _vector_parse(lines: pa.Array, first_line: int, ctx: ParseContext):
    """A batch of plain conn.log TSV (headers first, records after, '#close' at the end) read
    entirely with Arrow kernels; None when the batch needs the line-by-line path."""
    st = ctx.state
    if len(lines) == 0 or lines.null_count:
        return None
    hashes = pc.starts_with(lines, "#")
    blank = pc.match_substring_regex(lines, r"^\s*$")
    data = pc.and_(pc.invert(hashes), pc.invert(blank))
    data_idx = pc.indices_nonzero(data)
    if len(data_idx) == 0:
        return None
    first_data = data_idx[0].as_py()
    hash_idx = pc.indices_nonzero(hashes).to_pylist()
    heads = lines.take(pa.array(hash_idx, pa.int64())).to_pylist() if hash_idx else []
    for i, h in zip(hash_idx, heads):
        if i > first_data and not h.startswith("#close"):
            return None  # a new header in the middle: line by line
    data_lines = lines.filter(data)
    if pc.any(pc.starts_with(pc.utf8_ltrim_whitespace(data_lines), "{")).as_py() \
            or pc.any(pc.greater(pc.utf8_length(data_lines), MAX_LINE)).as_py():
        return None
    probe = dict(st)
    for i, h in zip(hash_idx, heads):
        if i < first_data:
            _header(h, probe)
    fields = probe.get("fields")
    sep = probe.get("sep", "\t")
    if not fields or "conn_state" not in fields or "id.orig_h" not in fields or len(sep) != 1:
        return None
    st.update(probe)
    nums = pc.add(data_idx.cast(pa.int64()), first_line)
    parts = pc.split_pattern(data_lines, sep)
    good = pc.equal(pc.list_value_length(parts), len(fields))
    bad = []
    if not pc.all(good).as_py():
        lens = pc.list_value_length(parts)
        for j in pc.indices_nonzero(pc.invert(good)).to_pylist():
            bad.append((nums[j].as_py(), f"{lens[j].as_py()} columns where the #fields header has {len(fields)}"))
        parts, nums, data_lines = parts.filter(good), nums.filter(good), data_lines.filter(good)
    cols = {f: pc.list_element(parts, k) for k, f in enumerate(fields)} if len(parts) else {}
    skipped = len(lines) - len(data_idx)
    if not len(parts):
        return ParseResult(conform({}, 0), sorted(bad), skipped)
    batch, fbad = _conn_columns(cols, nums, data_lines, st, ctx)
    return ParseResult(batch, sorted(bad + fbad), skipped)


def _merge(res, fast_batch, bad):
    """Put the row-wise and column-wise parts of a batch back into line order."""
    if res.batch.num_rows == 0:
        return ParseResult(fast_batch, sorted(bad), res.skipped)
    t = pa.Table.from_batches([res.batch, fast_batch]).sort_by("line")
    return ParseResult(t.combine_chunks().to_batches()[0], sorted(bad), res.skipped)


def _rows_to_columns(fast, st):
    fields = st["fields"]
    nums = pa.array([f[0] for f in fast], pa.int64())
    raw = pa.array([f[1] for f in fast], pa.string())
    cols = {k: pa.array(v, pa.string()) for k, v in zip(fields, zip(*(f[2] for f in fast)))}
    return cols, nums, raw


def _conn_columns(cols, nums, raw, st, ctx):
    """conn.log TSV columns -> a schema batch with Arrow kernels."""
    unset = st.get("unset", "-")
    empty = st.get("empty", "(empty)")
    n = len(nums)

    def col(name):
        a = cols.get(name)
        if a is None:
            return pa.nulls(n, pa.string())
        bad_val = pc.or_(pc.equal(a, unset), pc.equal(a, empty))
        return pc.if_else(bad_val, pa.scalar(None, pa.string()), a)

    ts_txt = col("ts")
    secs = _to_float(ts_txt)
    ts = pc.cast(pc.cast(pc.round(pc.multiply(secs, 1e6)), pa.int64()), pa.timestamp("us", tz="UTC"))
    src, dst = canonical_ips(col("id.orig_h")), canonical_ips(col("id.resp_h"))
    proto_name = map_unique(col("proto"), lambda p: normalise_proto(p)[0], pa.string())
    proto_num = map_unique(col("proto"), lambda p: normalise_proto(p)[1], pa.int16())
    is_icmp = pc.fill_null(pc.is_in(proto_name, pa.array(["icmp", "ipv6-icmp"])), False)
    sp, dp = to_int(col("id.orig_p"), pa.int32()), to_int(col("id.resp_p"), pa.int32())
    null32 = pa.scalar(None, pa.int32())
    state = col("conn_state")
    hist = col("history")
    first = map_unique(hist, lambda h: _FIRST_FLAG.get(h[0]), pa.string())
    first = pc.if_else(pc.equal(proto_name, "tcp"), first, pa.scalar(None, pa.string()))
    ob = to_int(col("orig_bytes"), pa.int64())
    ob = pc.if_else(pc.greater(ob, 2**31 - 1), pa.scalar(2**31 - 1, pa.int64()), ob)
    rule = join("conn ", state, pc.if_else(pc.is_valid(hist), join(" history ", hist), pa.scalar("", pa.string())))
    out = {
        "ts": ts, "ts_raw": ts_txt, "line": nums, "raw": raw,
        "source_file": pa.array([ctx.source_file] * n, pa.string()), "format": pa.array(["zeek_conn"] * n, pa.string()),
        "src_ip": src, "dst_ip": dst, "proto": proto_name, "proto_num": proto_num,
        "ip_version": pc.if_else(pc.fill_null(pc.match_substring(pc.coalesce(src, dst), ":"), False),
                                 pa.scalar(6, pa.int8()), pa.scalar(4, pa.int8())),
        "src_port": pc.if_else(is_icmp, null32, sp), "dst_port": pc.if_else(is_icmp, null32, dp),
        "icmp_type": pc.if_else(is_icmp, sp, null32), "icmp_code": pc.if_else(is_icmp, dp, null32),
        "action": pc.fill_null(map_unique(state, lambda x: CONN_ACTIONS.get(x, "other"), pa.string()), "other"),
        "app_status": state, "rule": rule, "app_proto": col("service"), "payload_len": ob,
        "tcp_flags": first,
        "tcp_flag_bits": map_unique(first, lambda f: {"SYN": 2, "FIN": 1, "RST": 4, "ACK": 16}[f], pa.int16()),
    }
    ok = pc.or_(pc.is_valid(src), pc.is_valid(dst))
    fbad = []
    if not pc.all(ok).as_py():
        for i in pc.indices_nonzero(pc.invert(ok)).to_pylist():
            fbad.append((nums[i].as_py(), "Zeek record without id.orig_h/id.resp_h addresses"))
        out = {k: pc.filter(v, ok) for k, v in out.items()}
        n = len(out["line"])
    return conform(out, n), fbad


def _to_float(a: pa.Array) -> pa.Array:
    try:
        return pc.cast(a, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        def f(x):
            try:
                return float(x)
            except ValueError:
                return None
        return map_unique(a, f, pa.float64())


class ZeekConn(Format):
    name = "zeek_conn"
    description = "Zeek conn.log (TSV with #fields header, or JSON lines); other Zeek logs with id.orig_h too"
    example = ("1541117137.618695\tCYtJYz4gNk3t5ZEt2\t172.16.9.233\t49159\t172.16.9.5\t88\ttcp\tkrb_tcp\t0.013561\t"
               "244\t292\tRSTR\tT\tT\t0\tShADdFar\t4\t416\t4\t464\t-\t6")
    priority = 10

    def sniff(self, sample: list[str]) -> float:
        for s in sample[:20]:
            if s.startswith("#fields\t") and "id.orig_h" in s:
                return 1.0
            if s.startswith("#path\t") or s.startswith("#separator \\x09"):
                return 0.9
        return 0.95 * sniff_json_keys(sample, {"id.orig_h", "id.resp_h"}, {"ts", "uid"})

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        fast_res = _vector_parse(lines, first_line, ctx)
        if fast_res is not None:
            return fast_res
        st = ctx.state
        rows, bad, skipped = [], [], 0
        fast: list[tuple[int, str, list[str]]] = []  # conn.log TSV records, converted column-wise
        for i, line in enumerate(lines.to_pylist()):
            n = first_line + i
            if line is None or not line.strip():
                skipped += 1
                continue
            if len(line) > MAX_LINE:
                bad.append((n, f"line longer than {MAX_LINE} characters"))
                continue
            if line.startswith("#"):
                _header(line, st)
                skipped += 1
                continue
            if line.lstrip().startswith("{"):
                o = json_obj(line)
                if o is None:
                    bad.append((n, "not valid JSON"))
                    continue
                kind = o.get("_path")
            else:
                fields = st.get("fields")
                if not fields:
                    bad.append((n, "Zeek TSV record before any #fields header"))
                    continue
                vals = line.split(st.get("sep", "\t"))
                if len(vals) != len(fields):
                    bad.append((n, f"{len(vals)} columns where the #fields header has {len(fields)}"))
                    continue
                if "conn_state" in fields and "id.orig_h" in fields:
                    fast.append((n, line, vals))
                    continue
                unset, empty = st.get("unset", "-"), st.get("empty", "(empty)")
                o = {k: _tsv_value(v, unset, empty) for k, v in zip(fields, vals)}
                kind = st.get("path")
            try:
                r = _event(o, n, ctx, kind, line)
            except (ValueError, TypeError, KeyError) as e:
                bad.append((n, f"unreadable Zeek record: {type(e).__name__}"))
                continue
            if r is None:
                bad.append((n, "Zeek record without id.orig_h/id.resp_h addresses"))
                continue
            rows.append(r)
        res = result(rows, bad, skipped)
        if fast:
            fb, fbad = _conn_columns(*_rows_to_columns(fast, st), st, ctx)
            bad.extend(fbad)
            res = _merge(res, fb, bad)
        return res


FORMAT = ZeekConn()
