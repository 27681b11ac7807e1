"""The records of many findings at once: one temporary table, a few grouped queries.

Detectors that report sessions build each finding's ``where`` as ``<base> AND <key> = v ... AND
ts >= t0 AND ts <= t1``. Answered one finding at a time (evidence, ports, targets) that is three
to six full-table queries per finding, and the keyed cache of :mod:`._keyed` cannot batch them
because the time range differs from finding to finding. Here the (key values, t0, t1) of every
finding are registered as a small table and joined to the events once, with the same ``base``
predicate, so each record of the table is a record of exactly the findings whose ``where`` it
satisfies (the rows of one group are the rows the per-finding query returns, by construction).
Evidence, line ranges and samples then come from three grouped queries.

DuckDB only (``rowid``, ``string_agg ... ORDER BY``, registered Arrow tables); on other engines
(Spark) the detectors run their per-finding queries, with the same results
(``tests/test_speed_keyed.py`` runs both ways).
"""
from __future__ import annotations

import itertools
from typing import Any

from ..findings import Evidence
from . import SAMPLES, no_records

_SEQ = itertools.count()


def can_group(ctx) -> bool:
    import duckdb
    return bool(getattr(ctx, "batch_lookups", False)) and isinstance(ctx.con, duckdb.DuckDBPyConnection)


class Groups:
    """``with Groups(ctx, base, keys, groups, cols) as g``: ``g.table`` holds one row per (group,
    record) with ``gid`` (the index in ``groups``), ``__rid`` (the record's rowid), ``ts``,
    ``source_file``, ``line`` and the columns ``cols`` of the record.

    ``keys`` are SQL expressions over the events table; each group is a tuple of their values
    followed by t0 and t1 (the inclusive time range; both None: the records without a time
    stamp, as in ``ts IS NULL``)."""

    def __init__(self, ctx, base: str, keys: list[str], groups: list[tuple], cols: tuple[str, ...] = ()):
        self.ctx, self.base, self.keys, self.groups, self.cols = ctx, base, keys, groups, cols
        n = next(_SEQ)
        self.table = f"_fwf_bulk_{n}"
        self._keys = f"_fwf_bulk_keys_{n}"

    def __enter__(self) -> "Groups":
        import pyarrow as pa
        con, t = self.ctx.con, self.ctx.table
        nk = len(self.keys)
        data: dict[str, Any] = {f"k{i}": [g[i] for g in self.groups] for i in range(nk)}
        data["t0"] = [g[nk] for g in self.groups]
        data["t1"] = [g[nk + 1] for g in self.groups]
        data["gid"] = pa.array(range(len(self.groups)), pa.int32())
        tbl = pa.table(data)
        con.register(self._keys, tbl)
        try:
            on = " AND ".join(f"({k}) = g.k{i}" for i, k in enumerate(self.keys))
            extra = "".join(f", e.{c}" for c in self.cols)
            con.execute(f"""CREATE OR REPLACE TEMPORARY TABLE {self.table} AS
                SELECT g.gid, e.rowid AS __rid, e.ts, e.source_file, e.line{extra}
                FROM {t} e JOIN {self._keys} g ON {on}
                     AND ((e.ts >= g.t0 AND e.ts <= g.t1) OR (e.ts IS NULL AND g.t0 IS NULL AND g.t1 IS NULL))
                WHERE {self.base}""")
        finally:
            con.unregister(self._keys)
        return self

    def __exit__(self, *exc) -> None:
        self.ctx.con.execute(f"DROP TABLE IF EXISTS {self.table}")

    def rows(self, sql: str) -> list[tuple]:
        """Rows of a query over ``{g}`` (this table)."""
        return self.ctx.con.execute(sql.format(g=self.table)).fetchall()

    def distinct(self, col: str, limit: int | None = None) -> dict[int, list]:
        """Per group: the distinct non-null values of ``col``, sorted (the first ``limit``)."""
        lst = f"list_sort(list_distinct(list({col})))"
        if limit is not None:
            lst = f"list_slice({lst}, 1, {int(limit)})"
        return {gid: list(v) for gid, v in self.rows(f"SELECT gid, {lst} FROM {{g}} GROUP BY gid")}

    def evidence(self, samples: int = SAMPLES) -> dict[int, tuple[Evidence, dict[str, Any]]]:
        return evidence(self.ctx, self.table, samples)


def evidence(ctx, table: str, samples: int = SAMPLES) -> dict[int, tuple[Evidence, dict[str, Any]]]:
    """Per ``gid`` of ``table`` (columns gid, __rid, ts, source_file, line: records of ``ctx.table``):
    what :meth:`Context.evidence` returns for the group's records."""
    con, events, order = ctx.con, ctx.table, ctx.record_order()
    out: dict[int, tuple[Evidence, dict[str, Any]]] = {}
    for gid, n, first, last in con.execute(
            f"SELECT gid, count(*), min(ts), max(ts) FROM {table} GROUP BY gid").fetchall():
        out[gid] = (Evidence(records=int(n)), {"first_seen": first, "last_seen": last, "n": n})
    for gid, f, ranges in con.execute(f"""
            SELECT gid, source_file, string_agg(CASE WHEN lo = hi THEN CAST(lo AS VARCHAR) ELSE
                   CAST(lo AS VARCHAR) || '-' || CAST(hi AS VARCHAR) END, ',' ORDER BY lo)
            FROM ({ctx.islands(f"SELECT gid, source_file, line FROM {table}", "gid")}) i
            GROUP BY gid, source_file ORDER BY gid, source_file""").fetchall():
        got = out.get(gid)
        if got is not None:
            got[0].files[f] = ranges
    # the samples: the first records by (ts, file, line) of each group, among the records no later
    # than the group's n-th earliest time stamp (the window then sorts a few rows per group)
    n = int(samples)
    # (their text joined back from the events by rowid, unless no record has any)
    raw_col, join = ("NULL", "") if ctx.no_raw() else ("e.raw", f"JOIN {events} e ON e.rowid = s.__rid")
    for gid, f, line, raw in con.execute(f"""
            WITH th AS (SELECT gid, list_max(min(ts, {n})) AS tmax FROM {table} GROUP BY gid),
                 c AS (SELECT x.gid, x.__rid, x.source_file, x.line, x.ts FROM {table} x JOIN th ON x.gid = th.gid
                       WHERE x.ts IS NULL OR th.tmax IS NULL OR x.ts <= th.tmax)
            SELECT s.gid, s.source_file, s.line, {raw_col} FROM (
                SELECT gid, __rid, source_file, line,
                       row_number() OVER (PARTITION BY gid ORDER BY {order}) AS rn FROM c) s
            {join}
            WHERE s.rn <= {n} ORDER BY s.gid, s.rn""").fetchall():
        got = out.get(gid)
        if got is not None:
            got[0].samples.append({"file": f, "line": line, "raw": raw})
    return out


def empty() -> tuple[Evidence, dict[str, Any]]:
    """The evidence of a group without records."""
    return no_records()


def prefetch_zen(ctx, srcs) -> None:
    """Ask for the Zen readings of all these sources in one query (zen.short asks one at a time)."""
    from . import zen
    prof = zen.profile(ctx)
    if hasattr(prof, "prefetch"):
        prof.prefetch(srcs)
