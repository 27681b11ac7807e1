"""Any JSON-lines log, with a user-given mapping (``--map FILE``: schema column -> JSON key).

Keys may be dotted paths into nested objects (``"src_ip": "source.ip"``). Lines that are
not JSON objects are reported unreadable; blank lines are skipped. Values are read as
text and converted by the target column (see ``_mapped``). Never chosen by
auto-detection: select it with ``--format json_generic``.
"""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from ..schema import conform
from . import Format, ParseContext, ParseResult
from ._fwbase import ip_version
from ._mapped import check_mapping, convert_mapped

_S = pa.string()


def _get(obj, path: str):
    if path in obj:
        return obj[path]
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _text(v) -> str | None:
    if v is None or isinstance(v, (dict, list)):
        return None if v is None else json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class JsonMapped(Format):
    name = "json_generic"
    description = "generic JSON lines with a key mapping (--map)"
    example = '{"time": "2024-01-01T00:00:00Z", "src": "192.0.2.1", "dport": 23, "verdict": "deny"}'

    def sniff(self, sample):
        return 0.0

    def parse(self, lines, first_line, ctx: ParseContext):
        mapping = check_mapping(ctx.state.get("mapping"))
        vals = {k: [] for k in mapping}
        keep, raw, unreadable, skipped = [], [], [], 0
        for i, text in enumerate(lines.to_pylist()):
            if not text or not text.strip():
                skipped += 1
                continue
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                unreadable.append((first_line + i, "not valid JSON"))
                continue
            if not isinstance(obj, dict):
                unreadable.append((first_line + i, "JSON value is not an object"))
                continue
            for k, path in mapping.items():
                vals[k].append(_text(_get(obj, path)))
            keep.append(first_line + i)
            raw.append(text)
        m = len(keep)
        if m == 0:
            return ParseResult(conform({}, 0), unreadable, skipped)
        cols = convert_mapped({k: pa.array(v, _S) for k, v in vals.items()}, m, ctx)
        cols.update(line=pa.array(keep, pa.int64()), raw=pa.array(raw, _S),
                    source_file=pa.array([ctx.source_file] * m, _S), format=pa.array([self.name] * m, _S))
        cols["action"] = pc.fill_null(cols.get("action", pa.nulls(m, _S)), "other")
        if "src_ip" in cols:
            cols.setdefault("ip_version", ip_version(cols["src_ip"], cols.get("dst_ip")))
        return ParseResult(conform(cols, m), unreadable, skipped)


FORMAT = JsonMapped()
