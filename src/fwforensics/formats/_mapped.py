"""Columns named by a user mapping -> event schema columns (shared by csv_generic,
json_generic and uci_csv).

A mapping is ``{schema column: input column}``; input values arrive as text and are
converted by the schema column's meaning: timestamps (ISO 8601 with optional zone, or
epoch seconds/ms/us/ns), addresses (canonical text), ports (0-65535), protocol (name or
number -> ``proto`` + ``proto_num``), action (vendor words -> drop/reject/accept/other),
integers, booleans and plain strings.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..schema import EVENT_SCHEMA
from . import ParseContext
from ._common import blank_to_null, iso_to_utc, map_unique, to_int
from ._fwbase import action_word, actions, epoch_ts, group, ips, ports, proto_cols

_S = pa.string()
_IP_COLS = {"src_ip", "dst_ip", "inner_src_ip", "inner_dst_ip", "icmp_gateway"}
_PORT_COLS = {"src_port", "dst_port", "inner_src_port", "inner_dst_port"}
_ISO = r"^(?P<t>\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?)\s*(?P<z>Z|[+-]\d\d:?\d\d|UTC|GMT)?$"


def _action(word: str) -> str:
    w = word.strip().lower()
    if w in ("reset", "reset-both", "reset-client", "reset-server", "reject", "refuse", "rst"):
        return "reject"
    return action_word(w)


def _bool(s: str) -> bool | None:
    return {"true": True, "1": True, "yes": True, "t": True, "false": False, "0": False, "no": False,
            "f": False}.get(s.strip().lower())


def timestamps(text: pa.Array, ctx: ParseContext) -> pa.Array:
    st = pc.extract_regex(text, _ISO)
    t = pc.replace_substring_regex(group(st, "t"), r"^(\d{4})/(\d\d)/(\d\d) ", r"\1-\2-\3T")
    t = pc.replace_substring(t, ",", ".")
    iso = iso_to_utc(t, pc.fill_null(group(st, "z"), ""), ctx.tz)
    numeric = pc.fill_null(pc.match_substring_regex(text, r"^\d{9,19}(?:\.\d+)?$"), False)
    return pc.coalesce(iso, epoch_ts(pc.if_else(numeric, text, pa.scalar(None, _S))))


def convert_mapped(values: dict[str, pa.Array], n: int, ctx: ParseContext) -> dict[str, pa.Array]:
    """``values``: schema column -> text column (already looked up through the mapping)."""
    cols: dict[str, pa.Array] = {}
    for name, arr in values.items():
        arr = blank_to_null(pc.utf8_trim_whitespace(pc.cast(arr, _S)))
        if name == "ts":
            cols["ts"] = timestamps(arr, ctx)
            cols.setdefault("ts_raw", arr)
        elif name in _IP_COLS:
            cols[name] = ips(arr)
        elif name in _PORT_COLS:
            cols[name] = ports(arr)
        elif name == "proto":
            pcs = proto_cols(arr)
            cols["proto"] = pcs["proto"]
            cols.setdefault("proto_num", pcs["proto_num"])
        elif name == "action":
            cols["action"] = actions(arr, _action)
        else:
            field = EVENT_SCHEMA.field(name)
            if pa.types.is_integer(field.type):
                cols[name] = to_int(arr, field.type)
            elif pa.types.is_floating(field.type):
                cols[name] = pc.cast(map_unique(arr, lambda s: float(s), pa.float64()), field.type)
            elif pa.types.is_boolean(field.type):
                cols[name] = map_unique(arr, _bool, pa.bool_())
            elif pa.types.is_timestamp(field.type):
                cols[name] = timestamps(arr, ctx)
            else:
                cols[name] = arr
    return cols


def check_mapping(mapping: dict) -> dict[str, str]:
    """Keep the entries that name schema columns; raise on none (a clear user error)."""
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError("this format needs a column mapping (schema column -> input column); give --map FILE")
    known = set(EVENT_SCHEMA.names) - {"line", "source_file", "format", "raw"}
    bad = [k for k in mapping if k not in known]
    if bad:
        raise ValueError(f"mapping names unknown schema columns: {', '.join(sorted(bad))}")
    return {k: str(v) for k, v in mapping.items()}
