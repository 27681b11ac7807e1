"""Detectors: one module per signature family, set-based SQL over the ``events`` table.

A detector module looks like this (Zeek's scan.zeek is the model: a short file
whose tunables are documented constants and whose output is a typed finding)::

    \"\"\"What it recognises, in two lines.\"\"\"
    IDS = ("port.zero",)           # finding ids it may emit (shared/spec/signatures.md)
    ORDER = 50                     # run order; detectors reading other findings run later
    NEEDS = ("scans",)             # optional, for a detector that reads ``ctx.findings``: the
                                   # modules whose findings it reads (the only ones it may read);
                                   # without it, it waits for every detector before it

    # Tunables: each a module constant with a comment on what raising/lowering trades.
    MIN_RECORDS = 1                # raise to ignore single stray packets; lower never misses one

    def detect(ctx) -> list[Finding]:
        rows = ctx.query(f"SELECT src_ip, count(*) AS n FROM events WHERE ... GROUP BY src_ip")
        return [ctx.finding("port.zero", src=r["src_ip"], where=..., summary=...) for r in rows]

Rules: never loop in Python over events, only over result rows (groups); keep
SQL portable (standard aggregates and window functions, no engine-only
function without a portable equivalent) because the same text runs on Spark;
inline values with :meth:`Context.lit`. Tunables are read with
``ctx.tun(module, "NAME")`` so that the config file (``[detectors.<module>]``)
and ``--set module.NAME=value`` override them.
"""
from __future__ import annotations

from array import array

import importlib
import inspect
import ipaddress
import os
import pkgutil
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import ModuleType
from typing import Callable, Any, Iterable

from .. import events
from .._timing import peak_mb
from ..findings import Evidence, Finding, PortRuns, compact_ports
from . import _keyed

SAMPLES = 3
QUERY_CHUNK = 8192   # rows of a query result turned into dicts at a time (Context.query)


def no_records() -> tuple[Evidence, dict[str, Any]]:
    """The evidence and span of a predicate that matches no record."""
    return Evidence(), {"first_seen": None, "last_seen": None, "n": 0}


def modules() -> list[ModuleType]:
    mods = []
    for m in pkgutil.iter_modules(__path__):
        if m.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{m.name}")
        if hasattr(mod, "detect"):
            mods.append(mod)
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 50), m.__name__))


def tunables() -> dict[str, dict[str, Any]]:
    """Every detector's tunables with their default values: {module: {NAME: value}}."""
    out = {}
    for m in modules():
        short = m.__name__.rsplit(".", 1)[-1]
        out[short] = {n: getattr(m, n) for n in getattr(m, "TUNABLES", ())}
    return out


def checked_tunables(cfg: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``cfg`` ({module: {NAME: value}}, from --set or a config file) checked against the detectors'
    tunables: a module or name that does not exist, or a value of another type than the default's,
    raises ValueError with a message for the user (a typo must not be ignored in silence). Values
    come back in the default's type (a list for a tuple, an integer for a float)."""
    known = tunables()
    out: dict[str, dict[str, Any]] = {}
    for mod, vals in cfg.items():
        if mod not in known:
            raise ValueError(f"no detector {mod!r} (detectors: {', '.join(sorted(known))})")
        for name, v in (vals or {}).items():
            if name not in known[mod]:
                raise ValueError(f"detector {mod} has no tunable {name!r} "
                                 f"(its tunables: {', '.join(known[mod]) or 'none'})")
            default = known[mod][name]
            want = type(default)
            ok = (isinstance(v, bool) if want is bool else
                  isinstance(v, int) and not isinstance(v, bool) if want is int else
                  isinstance(v, (int, float)) and not isinstance(v, bool) if want is float else
                  isinstance(v, (list, tuple)) if want is tuple else isinstance(v, want))
            if not ok:
                kind = {bool: "true or false", int: "a whole number", float: "a number",
                        tuple: "a list such as [1, 2]", str: "a text"}.get(want, want.__name__)
                raise ValueError(f"{mod}.{name} wants {kind} (default {default!r}); got {v!r}")
            out.setdefault(mod, {})[name] = float(v) if want is float else tuple(v) if want is tuple else v
    return out


@dataclass
class Context:
    con: Any                                   # DuckDB connection (or an engine adapter with .query)
    cfg: dict[str, dict[str, Any]] = field(default_factory=dict)
    home_nets: list[ipaddress._BaseNetwork] = field(default_factory=list)
    outside_ifs: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # those of detectors that ran before
    table: str = "events"
    batch_lookups: bool = True   # answer per-source evidence/target look-ups from grouped queries
    # values computed once per run and shared by every detector (and detector thread): the same
    # dict object is handed on by dataclasses.replace(); keys are owned by the module that sets them
    shared: dict[str, Any] = field(default_factory=dict)
    # wanted(id, src) -> False: the caller will drop that finding (watch: already alerted), so only
    # its count and time span are computed, not its line ranges and samples. The verdict counts the
    # records behind the other findings from their line ranges: with this set it undercounts.
    wanted: Callable[[str, str | None], bool] | None = None
    # detectors that failed ({"detector", "ids", "error"}, see RAISE_FAILURES): their findings are
    # missing; detectors that read earlier findings (the verdict) see this list too
    failures: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keyed = _keyed.KeyedCache(self.query) if self.batch_lookups else None

    # -- tunables ----------------------------------------------------------------------
    def tun(self, module: ModuleType | str, name: str) -> Any:
        short = module if isinstance(module, str) else module.__name__.rsplit(".", 1)[-1]
        over = self.cfg.get(short, {})
        if name in over:
            return over[name]
        mod = module if not isinstance(module, str) else _module(module)
        return getattr(mod, name)

    # -- SQL ---------------------------------------------------------------------------
    def single_file(self) -> tuple[bool, Any]:
        """(True, its name) when every record of the table comes from one file (or none), else
        (False, None); asked once per table and run."""
        key = ("one_file", self.table)
        got = self.shared.get(key)
        if got is None:
            r = self.query(f"SELECT count(DISTINCT source_file) + max(CASE WHEN source_file IS NULL THEN 1 "
                           f"ELSE 0 END) AS n, min(source_file) AS f FROM {self.table}")
            one = int((r[0]["n"] if r else 0) or 0) <= 1
            got = self.shared[key] = (one, r[0]["f"] if one and r else None)
        return got

    def formats(self) -> frozenset[str]:
        """The formats of the table's records (reader names); asked once per table and run, so that
        detectors whose extra look-ups concern captures or Zeek logs only skip them cheaply."""
        key = ("formats", self.table)
        got = self.shared.get(key)
        if got is None:
            got = self.shared[key] = frozenset(
                r["format"] for r in self.query(f"SELECT DISTINCT format FROM {self.table} WHERE format IS NOT NULL"))
        return got

    def no_raw(self) -> bool:
        """True when no record of the table carries its text (``analyze`` reads the samples' lines
        back from the input afterwards): the samples' queries then take file and line only instead
        of joining the table again for ``raw`` (a scan of every row for nothing). Asked once per
        table and run; always False on other engines (their sample queries read ``raw`` anyway)."""
        import duckdb
        if not isinstance(self.con, duckdb.DuckDBPyConnection):
            return False
        key = ("no_raw", self.table)
        got = self.shared.get(key)
        if got is None:
            got = self.shared[key] = not self.con.execute(
                f"SELECT 1 FROM {self.table} WHERE raw IS NOT NULL LIMIT 1").fetchall()
        return got

    def subset_of_table(self, copy: str) -> None:
        """``copy`` holds records of this table only: when they all come from one file, so do its
        (the answer of :meth:`single_file` is handed on instead of asked again); when none of them
        has its text, neither has any of the copy's."""
        one = self.single_file()
        if one[0]:
            self.shared[("one_file", copy)] = one
        if self.no_raw():
            self.shared[("no_raw", copy)] = True

    def record_order(self) -> str:
        """The order of the records (time stamp, file, line) as an ``ORDER BY`` list. The file is
        left out when every record of the table comes from one file: the same order, and a sort of
        millions of records no longer compares a path on every tie of time stamps (over a 10 M-line
        log the window of the Zen query took a third longer with it)."""
        return "ts, line" if self.single_file()[0] else "ts, source_file, line"

    def islands(self, rows: str, keys: str = "") -> str:
        """SQL for the runs of consecutive line numbers (gaps and islands) of the records ``rows``
        (a sub-query with the columns ``keys``, source_file and line), per key and file: columns
        ``keys``, source_file, lo, hi. On DuckDB with one file the file is left out of the work
        and named as a constant (over a 10 M-line log the line ranges of the scans took 2.3 s with
        the path in every row to hash and sort, 0.6 s without)."""
        k = f"{keys}, " if keys else ""
        one, name = self.single_file()
        if one and not hasattr(self.con, "query_dicts"):
            part = f"PARTITION BY {keys} " if keys else ""
            # dense_rank: a line listed twice (the same record twice in a group) stays in its run
            return (f"SELECT {k}{self.lit(name)} AS source_file, min(line) AS lo, max(line) AS hi FROM ("
                    f"SELECT {k}line, line - dense_rank() OVER ({part}ORDER BY line) AS g FROM ({rows}) r) x "
                    f"GROUP BY {k}g")
        return (f"SELECT {k}source_file, min(line) AS lo, max(line) AS hi FROM ("
                f"SELECT {k}source_file, line, line - row_number() OVER (PARTITION BY {k}source_file ORDER BY line) AS g "
                f"FROM (SELECT DISTINCT {k}source_file, line FROM ({rows}) r) d) x GROUP BY {k}source_file, g")

    def query(self, sql: str) -> list[dict[str, Any]]:
        if hasattr(self.con, "query_dicts"):
            return self.con.query_dicts(sql)
        cur = self.con.execute(sql)
        cols = [d[0] for d in cur.description]
        out: list[dict[str, Any]] = []
        # a chunk of tuples at a time: a result of 100 k rows is not held twice (tuples and dicts)
        while chunk := cur.fetchmany(QUERY_CHUNK):
            out.extend([dict(zip(cols, row)) for row in chunk])
        return out

    @staticmethod
    def lit(v: Any) -> str:
        """A SQL literal for a Python value (strings quoted, None as NULL)."""
        if v is None:
            return "NULL"
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, datetime):
            return f"TIMESTAMP '{v.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
        if isinstance(v, (list, tuple, set)):
            return "(" + ", ".join(Context.lit(x) for x in v) + ")"
        return "'" + str(v).replace("'", "''") + "'"

    def home_predicate(self, col: str) -> str:
        """SQL predicate: the address column is inside one of the home nets (IPv4 /8-/32 text prefix
        match is not exact, so compare with the list of known home addresses instead)."""
        if not self.home_nets:
            return "FALSE"
        parts = []
        for net in self.home_nets:
            if net.version == 4 and net.prefixlen in (8, 16, 24):
                octets = str(net.network_address).split(".")[: net.prefixlen // 8]
                parts.append(f"{col} LIKE {self.lit('.'.join(octets) + '.%')}")
            elif net.num_addresses <= 4096:
                parts.append(f"{col} IN {self.lit([str(a) for a in net])}")
            else:
                parts.append(f"{col} LIKE {self.lit(str(net.network_address).rstrip(':0') + '%')}")
        return "(" + " OR ".join(parts) + ")"

    # -- building findings -------------------------------------------------------------
    def evidence(self, where: str, samples: int = SAMPLES) -> tuple[Evidence, dict[str, Any]]:
        """Evidence (every record's file and line, a few samples) and the time span and count."""
        split = _keyed.split_key(where) if self.keyed is not None else None
        if split is not None:
            base, cols, vals = split
            got = self.keyed.get(("evidence", self.table, base, cols, int(samples)), vals,
                                 lambda: self._fill_evidence(base, cols, int(samples)))
            if got is _keyed.MISSING:
                return no_records()
            if got is not None:
                ev, span = got
                return Evidence(records=ev.records, files=dict(ev.files), samples=[dict(x) for x in ev.samples]), dict(span)
        t = self.table
        span = self._span_row(where)
        if not span["n"]:
            return no_records()
        files = self._line_ranges(where)
        order = f"ORDER BY {self.record_order()}"
        no_raw = self.no_raw()
        if no_raw or hasattr(self.con, "query_dicts"):
            raw = "NULL AS raw" if no_raw else "raw"
            sample_sql = f"SELECT source_file, line, {raw} FROM {t} WHERE {where} {order} LIMIT {int(samples)}"
        else:  # DuckDB: choose the rows first, then read only their raw text
            sample_sql = (f"SELECT source_file, line, raw FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE {where} "
                          f"{order} LIMIT {int(samples)}) {order}")
        sample_rows = self.query(sample_sql)
        ev = Evidence(records=int(span["n"] or 0), files=files,
                      samples=[{"file": s["source_file"], "line": s["line"], "raw": s["raw"]} for s in sample_rows])
        return ev, span

    def span(self, where: str) -> tuple[Evidence, dict[str, Any]]:
        """The count and time span of ``where`` (evidence without line ranges or samples)."""
        split = _keyed.split_key(where) if self.keyed is not None else None
        if split is not None:
            base, cols, vals = split
            got = self.keyed.get(("span", self.table, base, cols), vals,
                                 lambda: self._fill_evidence(base, cols, 0, full=False))
            if got is _keyed.MISSING:
                return no_records()
            if got is not None:
                return Evidence(records=got[0].records), dict(got[1])
        span = self._span_row(where)
        return Evidence(records=int(span["n"] or 0)), span

    def _span_row(self, where: str) -> dict[str, Any]:
        return self.query(f"SELECT min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS n FROM {self.table} "
                          f"WHERE {where}")[0]

    def _line_ranges(self, where: str) -> dict[str, str]:
        """{file: "1-40,52,60-61"} of the records of ``where``, built from runs of consecutive lines
        (gaps and islands) in the engine, so memory follows the number of runs, not of records."""
        t = self.table
        islands = self.islands(f"SELECT source_file, line FROM {t} WHERE {where}")
        if hasattr(self.con, "query_dicts"):  # another engine: portable SQL, strings joined here
            out: dict[str, list[str]] = {}
            for r in self.query(islands + " ORDER BY source_file, lo"):
                lo, hi = r["lo"], r["hi"]
                out.setdefault(r["source_file"], []).append(str(lo) if lo == hi else f"{lo}-{hi}")
            return {f: ",".join(v) for f, v in out.items()}
        return {r["source_file"]: r["ranges"] for r in self.query(
            f"SELECT source_file, string_agg(CASE WHEN lo = hi THEN CAST(lo AS VARCHAR) ELSE CAST(lo AS VARCHAR) "
            f"|| '-' || CAST(hi AS VARCHAR) END, ',' ORDER BY lo) AS ranges FROM ({islands}) i "
            f"GROUP BY source_file ORDER BY source_file")}

    def _keyed_where(self, base: str, cols: tuple[str, ...]) -> str:
        return f"({base})" + "".join(f" AND {c} IS NOT NULL" for c in cols)

    def _fill_evidence(self, base: str, cols: tuple[str, ...], samples: int, full: bool = True) -> dict[tuple, Any]:
        """Evidence and span of every key of ``base`` in three grouped queries (``full=False``: the
        span and count only, in one)."""
        t, ks, kn = self.table, _keyed.key_select(cols), _keyed.key_names(cols)
        w = self._keyed_where(base, cols)
        out: dict[tuple, Any] = {}
        for r in self.query(f"SELECT {ks}, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS n "
                            f"FROM {t} WHERE {w} GROUP BY {', '.join(cols)}"):
            k = _keyed.row_key(r, cols)
            out[k] = (Evidence(records=int(r["n"])), {"first_seen": r["first_seen"], "last_seen": r["last_seen"],
                                                      "n": r["n"]})
        if not full:
            return out
        islands = self.islands(f"SELECT {ks}, source_file, line FROM {t} WHERE {w}", kn)
        if hasattr(self.con, "query_dicts"):  # another engine: portable SQL, ranges joined here
            ranges: dict[tuple, dict[str, list[str]]] = {}
            for r in self.query(islands + f" ORDER BY {kn}, source_file, lo"):
                lo, hi = r["lo"], r["hi"]
                ranges.setdefault(_keyed.row_key(r, cols), {}).setdefault(r["source_file"], []).append(
                    str(lo) if lo == hi else f"{lo}-{hi}")
            for k, files in ranges.items():
                if k in out:
                    out[k][0].files = {f: ",".join(v) for f, v in files.items()}
        else:  # DuckDB: the range strings are built by the engine, one row per key and file
            for r in self.query(
                    f"SELECT {kn}, source_file, string_agg(CASE WHEN lo = hi THEN CAST(lo AS VARCHAR) ELSE "
                    f"CAST(lo AS VARCHAR) || '-' || CAST(hi AS VARCHAR) END, ',' ORDER BY lo) AS ranges "
                    f"FROM ({islands}) i GROUP BY {kn}, source_file ORDER BY {kn}, source_file"):
                k = _keyed.row_key(r, cols)
                if k in out:
                    out[k][0].files[r["source_file"]] = r["ranges"]
        import duckdb
        no_raw = self.no_raw()
        if isinstance(self.con, duckdb.DuckDBPyConnection) and not no_raw:
            # the raw lines only of the samples (joined back by rowid), not through the window of every row
            sample_sql = (f"SELECT {', '.join('s.' + k for k in kn.split(', '))}, s.source_file, s.line, e.raw FROM ("
                          f"SELECT {ks}, source_file, line, rowid AS __rid, row_number() OVER (PARTITION BY "
                          f"{', '.join(cols)} ORDER BY {self.record_order()}) AS __rn FROM {t} WHERE {w}) s "
                          f"JOIN {t} e ON e.rowid = s.__rid WHERE s.__rn <= {samples} ORDER BY {kn}, s.__rn")
        else:   # (another engine; or no text to read back: the first rows' file and line)
            raw = "NULL AS raw" if no_raw else "raw"
            sample_sql = (f"SELECT {kn}, source_file, line, raw FROM (SELECT {ks}, source_file, line, {raw}, "
                          f"row_number() OVER (PARTITION BY {', '.join(cols)} ORDER BY {self.record_order()}) AS __rn "
                          f"FROM {t} WHERE {w}) s WHERE __rn <= {samples} ORDER BY {kn}, __rn")
        for r in self.query(sample_sql):
            k = _keyed.row_key(r, cols)
            if k in out:
                out[k][0].samples.append({"file": r["source_file"], "line": r["line"], "raw": r["raw"]})
        return out

    def distinct(self, where: str, col: str, limit: int) -> list[Any]:
        """``SELECT DISTINCT col ... WHERE where AND col IS NOT NULL ORDER BY col LIMIT limit`` as a list,
        answered from one grouped query when many look-ups share a base."""
        limit = int(limit)
        split = _keyed.split_key(where) if self.keyed is not None else None
        if split is not None:
            base, cols, vals = split
            got = self.keyed.get(("distinct", self.table, base, cols, col, limit), vals,
                                 lambda: self._fill_distinct(base, cols, col, limit))
            if got is _keyed.MISSING:
                return []
            if got is not None:
                return list(got)
        return [r["v"] for r in self.query(
            f"SELECT DISTINCT {col} AS v FROM {self.table} WHERE {where} AND {col} IS NOT NULL "
            f"ORDER BY v LIMIT {limit}")]

    def count(self, where: str) -> int:
        """``SELECT count(*) ... WHERE where``, grouped like :meth:`distinct`."""
        split = _keyed.split_key(where) if self.keyed is not None else None
        if split is not None:
            base, cols, vals = split
            t, ks = self.table, _keyed.key_select(cols)
            got = self.keyed.get(("count", t, base, cols), vals, lambda: {
                _keyed.row_key(r, cols): int(r["n"]) for r in self.query(
                    f"SELECT {ks}, count(*) AS n FROM {t} WHERE {self._keyed_where(base, cols)} GROUP BY {', '.join(cols)}")})
            if got is _keyed.MISSING:
                return 0
            if got is not None:
                return got
        return int(self.query(f"SELECT count(*) AS n FROM {self.table} WHERE {where}")[0]["n"])

    def _fill_distinct(self, base: str, cols: tuple[str, ...], col: str, limit: int) -> dict[tuple, Any]:
        t, ks, kn = self.table, _keyed.key_select(cols), _keyed.key_names(cols)
        w = self._keyed_where(base, cols)
        out: dict[tuple, list] = {}
        for r in self.query(f"SELECT {kn}, v FROM (SELECT {kn}, v, row_number() OVER (PARTITION BY {kn} ORDER BY v) "
                            f"AS __rn FROM (SELECT DISTINCT {ks}, {col} AS v FROM {t} WHERE {w} AND {col} IS NOT NULL) d"
                            f") r WHERE __rn <= {limit} ORDER BY {kn}, __rn"):
            out.setdefault(_keyed.row_key(r, cols), []).append(r["v"])
        return out

    def finding(self, id: str, src: str | None, where: str, summary: str, *, severity: str | None = None,
                targets: Iterable[str] | int | None = None, ports: Iterable[int] | None = None,
                details: dict | None = None, confidence: str | None = None,
                explanation: str | None = None, advice: str | None = None,
                evidence: tuple[Evidence, dict[str, Any]] | None = None) -> Finding:
        """A finding about the records of ``where``; ``evidence`` (what :meth:`evidence` returns for
        ``where``) when the detector has already computed it in a grouped query."""
        if evidence is not None:
            ev, span = evidence
        elif self.wanted is not None and not self.wanted(id, src):
            ev, span = self.span(where)
        else:
            ev, span = self.evidence(where)
        info = signature_info(id)
        tg: list[str] | int
        if isinstance(targets, int):
            tg = targets
        else:
            tg = sorted(set(targets or []))
        return Finding(
            id=id, severity=severity or (info.get("severity") if info else None) or "low", src=src,
            summary=summary,
            explanation=explanation if explanation is not None else (info.get("explanation", "") if info else ""),
            advice=advice if advice is not None else (info.get("advice", "") if info else ""),
            targets=tg, ports=_port_set(ports),
            first_seen=span["first_seen"], last_seen=span["last_seen"], count=int(span["n"] or 0),
            evidence=ev, details=details or {}, confidence=confidence,
        )


def _port_set(ports: Iterable[int] | None) -> list[int] | array:
    """Distinct ports in order (the engines give ints; anything else is converted one by one). An
    array (a grouped query's ports, fetched without a Python int per port) stays one, built once
    in the form the finding keeps (findings.compact_ports)."""
    if isinstance(ports, PortRuns):   # (a kept form already: findings.port_forms)
        return ports
    if isinstance(ports, array):
        if len(ports) > 32 and ports.typecode in "iH":   # (sorted and made distinct by numpy)
            import numpy as np
            v = np.frombuffer(ports, dtype=ports.typecode)
            if not (v[1:] > v[:-1]).all():
                ports = array(ports.typecode, np.unique(v).tobytes())
            return compact_ports(ports)
        return compact_ports(sorted(set(ports)))
    got = set(ports or ())
    got.discard(None)
    if all(type(p) is int for p in got):
        return sorted(got)
    return sorted({int(p) for p in got})


_MODULES: dict[str, ModuleType] = {}


def _module(short: str) -> ModuleType:
    """A detector module by short name (imported once: tunables are read per result row)."""
    mod = _MODULES.get(short)
    if mod is None:
        mod = _MODULES[short] = importlib.import_module(f"{__name__}.{short}")
    return mod


def signature_info(id: str) -> dict[str, Any] | None:
    """Title, default severity, explanation and advice of a finding id from the knowledge base."""
    try:
        from ..knowledge import kb
    except ImportError:
        return None
    try:
        s = kb().signature(id)
    except Exception:
        return None
    if s is None:
        return None
    return {k: getattr(s, k, None) for k in ("title", "severity", "explanation", "advice")}


# Detectors run on this many threads at once (DuckDB releases the GIL while it works, so a
# detector's queries run while another builds its findings). 1 runs them one after another.
# Over an on-disk database larger than DuckDB keeps cached (a large input's work database, a case
# file: events.cached_whole) they run one after another: there each query already uses every core,
# and two detectors' working sets at once would make the peak memory of a large input grow past
# that of a small one (measured on 10 M lines: the same time, ~100 MB less at the peak). A cached
# table (a 1 M-line log's work database) keeps the threads: ~6% faster, the same peak.
THREADS = max(1, min(int(os.environ.get("FWF_DETECT_THREADS", os.cpu_count() or 1)), 8))
SHARE_ENGINE_THREADS = os.environ.get("FWF_SHARE_ENGINE_THREADS", "1") == "1"
# On threads, these detectors (the longest over a large log, longest first) start before the others,
# which then fill in around them: started in detector order, the last long one (worms) ran alone
# at the end while the other thread idled (1 M netfilter lines: detectors 6.5 s, ~1.8 s of it on one
# thread). The start order changes nothing else: findings are filed in detector order.
START_FIRST = ("scans", "ipaddr", "worms", "netbios", "icmp", "proxy")


def run(ctx: Context, only: Iterable[str] | None = None, suppress: Iterable[dict] | None = None,
        timings: list[tuple[str, float, float]] | None = None) -> list[Finding]:
    """Run every detector (or those whose module name is in ``only``) and return sorted findings.

    Suppressed findings are set aside as each detector finishes, so that the detectors that
    read earlier findings (advice, verdict) do not speak of what the user silenced; they are
    returned too, marked ``suppressed``, to be counted.

    With THREADS > 1 (and a DuckDB connection) detectors run concurrently, each on its own
    cursor; a detector that reads earlier findings (``ctx.findings`` in its source) waits until
    every detector before it has finished. Results are merged in detector order, so the report
    is the same as with one thread.

    ``timings``, when given, receives ``("detector <name>", seconds, peak MB)`` per detector in
    detector order (with threads: the time on its thread, waits for earlier findings excluded;
    the process's memory high-water mark when it ended)."""
    only = set(only) if only else None
    rules = list(suppress or [])
    mods = [m for m in modules() if not only or m.__name__.rsplit(".", 1)[-1] in only]
    silenced: list[Finding] = []

    def file(found: Iterable[Finding]) -> None:
        for f in found:
            f.suppressed = any(_matches(rule, f) for rule in rules)
            (silenced if f.suppressed else ctx.findings).append(f)

    import duckdb
    took = [(0.0, 0.0)] * len(mods)
    if (THREADS > 1 and len(mods) > 1 and isinstance(ctx.con, duckdb.DuckDBPyConnection)
            and events.cached_whole(ctx.con)):
        _run_threads(ctx, mods, file, took)
    else:
        for i, mod in enumerate(mods):
            t0 = time.perf_counter()
            try:
                found = _detect_within_memory(ctx, mod)
            except Exception as e:
                if RAISE_FAILURES:
                    raise
                ctx.failures.append(failure(mod, e))
                found = []
            file(found)
            events.release_memory()
            took[i] = (time.perf_counter() - t0, peak_mb())
    reruns = ctx.shared.pop("memory_reruns", [])
    if timings is not None:
        timings.extend(("detector " + m.__name__.rsplit(".", 1)[-1], t, mb) for m, (t, mb) in zip(mods, took))
        # a try that ran out of DuckDB memory (or failed to bind a column, see _detect_once): its time
        # is in the detector's above, and said here
        timings.extend((f"detector {name}: {what}", t, mb) for name, t, mb, what in reruns)
    ctx.findings.sort(key=Finding.sort_key)
    return ctx.findings + sorted(silenced, key=Finding.sort_key)


# When a detector's query needs more memory than DuckDB's limit allows (an operator that cannot
# spill, or two threads' sorts and hash tables that do not fit side by side), the detector is run
# again, first on one thread (half the working memory, same limit), then with the limit doubled,
# up to MEMORY_RETRIES reruns in all; the setting is put back afterwards. A low limit keeps the
# peak of a large input down without making a rare heavy query fail. (Measured on 10 M lines:
# proxy's windows now and then failed 100 MB on two threads and its rerun with 200 MB set the
# run's peak, 471 MB instead of ~410.)
MEMORY_RETRIES = int(os.environ.get("FWF_MEMORY_RETRIES", 3))


# A detector that fails (a fault of ours met on some input, or a query still out of DuckDB memory
# after MEMORY_RETRIES reruns) costs its own findings, not the run: the error is kept in
# ``Context.failures``, the other detectors go on, and the report says what is missing (analyze
# exits 3). FWF_DETECTOR_ERRORS=raise (set by ``--debug``) raises it instead, with its traceback.
RAISE_FAILURES = os.environ.get("FWF_DETECTOR_ERRORS", "") == "raise"
FAILURE_TEXT = 300   # characters of an error's message kept


def failure(mod: ModuleType, e: BaseException) -> dict[str, Any]:
    """What the report says of a detector that failed with ``e``."""
    text = " ".join(str(e).split())
    if len(text) > FAILURE_TEXT:
        text = text[:FAILURE_TEXT - 1] + "…"
    return {"detector": mod.__name__.rsplit(".", 1)[-1], "ids": sorted(getattr(mod, "IDS", ()) or ()),
            "error": f"{type(e).__name__}: {text}" if text else type(e).__name__}


def _rerun_said(ctx: Context, mod: ModuleType, t0: float, what: str) -> None:
    """Keep for ``run``'s timings that a try of ``mod`` failed and was rerun, and why (shared by the
    detector threads' contexts; list appends are atomic)."""
    ctx.shared.setdefault("memory_reruns", []).append(
        (mod.__name__.rsplit(".", 1)[-1], time.perf_counter() - t0, peak_mb(), what))


def _detect_once(ctx: Context, mod: ModuleType) -> list[Finding]:
    """``mod.detect(ctx)`` as a list. A query that fails to bind a column (on DuckDB) may be one that
    reads a column a narrowed copy left out (see ``_misc.narrowed``): the detector is then run again
    with whole copies, for the rest of the run, and ``--timings`` says so."""
    import duckdb
    t0 = time.perf_counter()
    try:
        return list(mod.detect(ctx) or [])
    except duckdb.BinderException:
        from ._misc import WHOLE_COPIES
        if ctx.shared.get(WHOLE_COPIES):
            raise
        ctx.shared[WHOLE_COPIES] = True
        _rerun_said(ctx, mod, t0, "a query named a column left out of a narrowed copy: rerun with whole copies")
        return list(mod.detect(ctx) or [])


def _detect_within_memory(ctx: Context, mod: ModuleType) -> list[Finding]:
    import duckdb
    if not isinstance(ctx.con, duckdb.DuckDBPyConnection):
        return list(mod.detect(ctx) or [])
    before: float | None = None   # the limit before the first doubling, in MiB
    threads: int | None = None    # the thread count before the rerun on one thread

    def setting(name: str) -> str:
        return str(ctx.con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0])
    try:
        for attempt in range(MEMORY_RETRIES + 1):
            t0 = time.perf_counter()
            try:
                return _detect_once(ctx, mod)
            except duckdb.OutOfMemoryException:
                if attempt == MEMORY_RETRIES:
                    raise
                if threads is None and int(setting("threads")) > 1:
                    threads = int(setting("threads"))
                    ctx.con.execute("SET threads = 1")
                    _rerun_said(ctx, mod, t0, "out of DuckDB memory, rerun on one thread")
                    continue
                mb = _mb(setting("memory_limit"))
                if mb is None:
                    raise
                before = mb if before is None else before
                ctx.con.execute(f"SET memory_limit = '{int(mb * 2 * 2**20)}B'")
                _rerun_said(ctx, mod, t0, f"out of DuckDB memory, rerun with {mb * 2:.0f} MiB")
        return []
    finally:
        if before is not None:   # (as precise as DuckDB shows it: to 0.1 of its unit)
            ctx.con.execute(f"SET memory_limit = '{int(before * 2**20)}B'")
        if threads is not None:
            ctx.con.execute(f"SET threads = {threads}")


def _mb(setting: str) -> float | None:
    """'250.0 MiB' / '1.5 GiB' / '262144000B' -> megabytes."""
    import re
    m = re.match(r"\s*([0-9.]+)\s*([KMGT]?i?B)\s*$", str(setting))
    if not m:
        return None
    scale = {"B": 1 / 2**20, "KB": 1e3 / 2**20, "KiB": 1 / 1024, "MB": 1e6 / 2**20, "MiB": 1, "GB": 1e9 / 2**20,
             "GiB": 1024, "TB": 1e12 / 2**20, "TiB": 2**20}.get(m.group(2))
    return float(m.group(1)) * scale if scale else None


def _reads_findings(mod: ModuleType) -> bool:
    """Does the detector read the findings of the detectors before it?"""
    try:
        return "ctx.findings" in inspect.getsource(mod)
    except (OSError, TypeError):
        return True


def _waits(mods: list[ModuleType]) -> list[tuple[int, frozenset[str] | None]]:
    """For each detector: how many detectors (in order) must have been filed before it starts,
    and the finding ids it is given (None: every finding filed so far). A detector that reads no
    findings waits for none; one that names the modules it reads in ``NEEDS`` waits for those
    (and is given their findings only, so what it sees does not depend on which other detectors
    happened to finish first); any other reader of findings waits for every detector before it."""
    index = {m.__name__.rsplit(".", 1)[-1]: i for i, m in enumerate(mods)}
    out: list[tuple[int, frozenset[str] | None]] = []
    for i, mod in enumerate(mods):
        if not _reads_findings(mod):
            out.append((0, None))
            continue
        needs = getattr(mod, "NEEDS", None)
        if needs is None:
            out.append((i, None))
            continue
        before = [index[n] for n in needs if n in index and index[n] < i]
        ids = frozenset(x for j in before for x in getattr(mods[j], "IDS", ()))
        out.append((max(before) + 1 if before else 0, ids))
    return out


def _run_threads(ctx: Context, mods: list[ModuleType], file, took: list[tuple[float, float]]) -> None:
    """Run the detectors on THREADS worker threads; file their findings (and add their
    assumptions) in detector order as soon as every detector before has been filed."""
    n = len(mods)
    results: list[tuple | None] = [None] * n   # (findings, new assumptions, error)
    waits = _waits(mods)
    started = [False] * n
    cond = threading.Condition()
    # running: detectors running now; alone: one is being rerun with more memory, by itself
    state = {"filed": 0, "running": 0, "alone": False, "gone": 0}   # gone: threads that could not start

    first = {name: k for k, name in enumerate(START_FIRST)}
    rank = [first.get(m.__name__.rsplit(".", 1)[-1], len(first)) for m in mods]

    def next_ready() -> int | None:
        """(Under cond.) The detector to start: the first one held back for findings that may start
        now (it has waited while later ones ran: the run's tail would otherwise be it alone), else
        the first of START_FIRST not started, else the first one not started that may start."""
        ready = [i for i in range(n) if not started[i] and state["filed"] >= waits[i][0]]
        return next((i for i in ready if waits[i][0]), min(ready, key=lambda i: (rank[i], i)) if ready else None)
    db = ctx.con.execute("SELECT current_database()").fetchall()[0][0]
    tz = ctx.con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    errors: list[BaseException] = []
    import duckdb

    def file_ready() -> None:   # under cond
        while state["filed"] < n and results[state["filed"]] is not None:
            found, notes, err = results[state["filed"]]
            if err is not None and (RAISE_FAILURES or not isinstance(err, Exception)):
                errors.append(err)
            elif err is not None:
                ctx.failures.append(failure(mods[state["filed"]], err))
            else:
                for text in notes:
                    if text not in ctx.assumptions:
                        ctx.assumptions.append(text)
                file(found)
            state["filed"] += 1
        cond.notify_all()

    def worker() -> None:
        cur = ctx.con.cursor()
        try:
            try:
                cur.execute(f'USE "{db}"')
                cur.execute(f"SET TimeZone = {Context.lit(tz)}")
            except BaseException as e:   # (DuckDB out of memory while another thread's query holds it)
                with cond:
                    # the other threads run the detectors; if none is left, the run fails loudly
                    # instead of returning without the detectors nobody ran
                    state["gone"] += 1
                    if state["gone"] == len(threads) and not all(started):
                        errors.append(e)
                    cond.notify_all()
                return
            cache = None
            while True:
                with cond:
                    # a detector waiting for findings does not hold up the ones after it
                    cond.wait_for(lambda: errors or all(started) or next_ready() is not None)
                    if errors or all(started):
                        return
                    i = next_ready()
                    started[i] = True
                    ids = waits[i][1]
                    prefix = list(ctx.findings) if ids is None else [f for f in ctx.findings if f.id in ids]
                    notes0 = list(ctx.assumptions)
                known = len(notes0)
                wctx = replace(ctx, con=cur, findings=prefix, assumptions=notes0)
                if cache is None:
                    cache = wctx.keyed
                else:
                    wctx.keyed = cache   # one look-up cache per thread (its cursor answers it)
                t0 = time.perf_counter()
                with cond:
                    cond.wait_for(lambda: not state["alone"])
                    state["running"] += 1
                oom = False
                try:
                    out = (_detect_once(wctx, mods[i]), wctx.assumptions[known:], None)
                except duckdb.OutOfMemoryException:
                    oom = True
                    _rerun_said(wctx, mods[i], t0, "out of DuckDB memory, rerun alone")
                except BaseException as e:  # re-raised by the caller, in detector order
                    out = ([], [], e)
                finally:
                    with cond:
                        state["running"] -= 1
                        cond.notify_all()
                if oom:
                    # a query that cannot spill: the detector runs again by itself (the other
                    # thread finishes its detector and waits), with more memory as
                    # _detect_within_memory gives it; the limit is put back
                    with cond:
                        cond.wait_for(lambda: not state["alone"])
                        state["alone"] = True
                        cond.wait_for(lambda: state["running"] == 0)
                    try:
                        wctx = replace(ctx, con=cur, findings=list(prefix), assumptions=list(notes0))
                        wctx.keyed = cache
                        out = (_detect_within_memory(wctx, mods[i]), wctx.assumptions[known:], None)
                    except BaseException as e:
                        out = ([], [], e)
                    finally:
                        with cond:
                            state["alone"] = False
                            cond.notify_all()
                took[i] = (time.perf_counter() - t0, peak_mb())
                with cond:
                    results[i] = out
                    file_ready()
        finally:
            cur.close()

    threads = [threading.Thread(target=worker, name=f"fwforensics-detect-{k}", daemon=True)
               for k in range(min(THREADS, n))]
    # DuckDB's threads shared out among the detectors running side by side: each query on a core
    # of its own instead of every query spread over all of them (on 2 cores, a 1 M-line log's
    # detectors ~12% faster than with two DuckDB threads under each of two detectors)
    engine = int(ctx.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    share = max(1, engine // len(threads)) if SHARE_ENGINE_THREADS else engine
    if share != engine:
        ctx.con.execute(f"SET threads = {share}")
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if share != engine:
            ctx.con.execute(f"SET threads = {engine}")
    if errors:
        raise errors[0]


def _matches(rule: dict, f: Finding) -> bool:
    """A suppression rule matches when every key it gives matches (id, src, port, net)."""
    if "id" in rule and rule["id"] != f.id and not (rule["id"].endswith("*") and f.id.startswith(rule["id"][:-1])):
        return False
    if "src" in rule and rule["src"] != f.src:
        return False
    if "port" in rule and int(rule["port"]) not in f.ports:
        return False
    if "net" in rule:
        try:
            if f.src is None or ipaddress.ip_address(f.src) not in ipaddress.ip_network(rule["net"], strict=False):
                return False
        except ValueError:
            return False
    return True
