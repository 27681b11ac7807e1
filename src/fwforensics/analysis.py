"""The analyze pipeline: inputs -> events table -> summary + findings -> one report dict."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import __version__, detectors, events
from ._timing import phase
from .detectors._misc import v4_number
from .reader import ReadStats, read_file, expand_inputs, FileStats
from .schema import SCHEMA_VERSION

TOP = 10
_BSD_NO_YEAR = r"^[A-Z][a-z][a-z] +[0-9]+ [0-9][0-9]:[0-9][0-9]:[0-9][0-9]([.,][0-9]+)?$"


@dataclass
class Options:
    fmt: str | None = None
    year: int | None = None
    tz: str | None = None
    home_nets: list[str] = field(default_factory=list)
    outside_ifs: list[str] = field(default_factory=list)
    cfg: dict[str, dict[str, Any]] = field(default_factory=dict)
    suppress: list[dict] = field(default_factory=list)
    progress: bool = False
    detect: bool = True
    mapping: dict | None = None  # schema column -> input column, for csv_generic / json_generic
    # leave records' text out of the events table where it can be read back from the input (a
    # regular file in a format whose raw is its line): the findings' samples get it afterwards.
    # Off for callers that read ``raw`` from the table themselves (events export, abuse drafts).
    defer_raw: bool = False
    # leave the columns that no detector, summary or report reads (events.WORK_OMITTED) out of the
    # events table. Off for callers that export or keep the events (--events-out, cases).
    narrow: bool = False
    # when a list: (phase, seconds, peak MB so far) of the run are appended (``analyze --timings``)
    timings: list[tuple[str, float, float]] | None = None


def fix_future_years(con, source_file: str, first_line: int, reference: float | None) -> int:
    """Syslog years are guessed while streaming; when a file's guessed timestamps end up after the
    file was last written, the guess was a year (or more) too late: move those rows back.
    Returns the number of years moved."""
    ref = datetime.fromtimestamp(reference, timezone.utc) if reference else datetime.now(timezone.utc)
    slack = 2 * 86400

    def ahead(extra: str) -> float | None:
        """Seconds by which the latest time stamp of the file's rows (and ``extra``) is after ``ref``."""
        row = con.execute(f"SELECT max(ts) FROM events WHERE source_file = ? AND line >= ?{extra}",
                          [source_file, first_line]).fetchall()[0]
        if not row or row[0] is None:
            return None
        latest = row[0] if row[0].tzinfo else row[0].replace(tzinfo=timezone.utc)
        return (latest - ref).total_seconds()

    # Almost always no row at all is in the future: the plain maximum says so without matching
    # every row's time text (a 10 M-line log's ts_raw read back from disk and matched: ~4 s).
    delta = ahead("")
    if delta is None or delta <= slack:
        return 0
    delta = ahead(f" AND regexp_matches(ts_raw, '{_BSD_NO_YEAR}')")
    if delta is None or delta <= slack:
        return 0
    years = int(delta // (365.25 * 86400)) + 1
    con.execute(
        f"UPDATE events SET ts = ts - INTERVAL {years} YEAR WHERE source_file = ? AND line >= ? "
        f"AND regexp_matches(ts_raw, '{_BSD_NO_YEAR}')", [source_file, first_line])
    return years


def prefetch(it, depth: int = 2):
    """Run a batch iterator on a worker thread, ``depth`` batches ahead: the reader (C kernel and
    Arrow kernels, which release the GIL) parses the next block while DuckDB loads this one, so
    both cores work. Memory stays bounded by ``depth`` batches; errors surface in the caller."""
    import queue
    import threading
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in it:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as e:  # handed to the consumer
            q.put(("error", e))

    t = threading.Thread(target=work, name="fwforensics-reader", daemon=True)
    t.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                break
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            t.join(timeout=0.05)


def _without_raw(batches, path: str, fs: FileStats, stats: ReadStats):
    """The batches of one input with ``raw`` left empty when the input's format lets it be read
    back by line number (on a 1 M-line netfilter log the text is ~60% of the on-disk table and of
    the time spent writing it)."""
    from . import formats
    import pyarrow as pa
    i = None
    for b in batches:
        if i is None:
            fmt = formats.get(fs.format) if fs.format else None
            i = b.schema.get_field_index("raw") if getattr(fmt, "raw_is_line", False) else -1
            if i >= 0:
                st = os.stat(path)
                stats.raw_deferred[path] = (st.st_ino, st.st_size)
        if i >= 0 and b.column(i).null_count < b.num_rows:   # (a reader told keep_raw=False left it out)
            cols = list(b.columns)
            cols[i] = pa.nulls(b.num_rows, pa.string())
            b = pa.RecordBatch.from_arrays(cols, schema=b.schema)
        yield b


def fill_raw(found, stats: ReadStats) -> None:
    """Give the evidence samples of ``found`` the text of their lines from inputs loaded without it."""
    from .reader import lines_at
    if not stats.raw_deferred:
        return
    want: dict[str, set[int]] = {}
    for f in found:
        for smp in f.evidence.samples:
            if smp.get("raw") is None and smp.get("file") in stats.raw_deferred and smp.get("line") is not None:
                want.setdefault(smp["file"], set()).add(int(smp["line"]))
    got: dict[str, dict[int, str]] = {}
    for path, lines in want.items():
        got[path] = {}
        try:
            st = os.stat(path)
            ino, size = stats.raw_deferred[path]
            if st.st_ino == ino and st.st_size >= size:   # the same file (a log may have grown)
                index = next((fs.line_index for fs in stats.files if fs.path == path), None)
                got[path] = lines_at(path, lines, index)
        except Exception:
            pass
        if not got[path]:   # replaced, shortened or gone since it was read: say so, show no other text
            for fs in stats.files:
                if fs.path == path:
                    why = "the file changed after it was read: its sample lines are not shown"
                    fs.note = (fs.note + "; " if fs.note else "") + why
    for f in found:
        for smp in f.evidence.samples:
            if smp.get("raw") is None and smp.get("file") in got:
                smp["raw"] = got[smp["file"]].get(int(smp["line"]))


def load_inputs(con, inputs: list[str], opts: Options, stats: ReadStats) -> None:
    events.ensure_table(con, omit=events.WORK_OMITTED if opts.narrow else ())
    bar = None
    if opts.progress:
        from .reader import _Progress
        bar = _Progress([])
    try:
        for path in expand_inputs(inputs):
            fs = FileStats(path=path)
            stats.files.append(fs)
            if bar:
                bar.start_file(path)
            defer = opts.defer_raw and path != "-" and os.path.isfile(path)
            batches = read_file(path, fs, opts.fmt, opts.year, opts.tz,
                                on_progress=bar.update if bar else None, mapping=opts.mapping, keep_raw=not defer,
                                leave_out=events.WORK_OMITTED if opts.narrow else ())
            if defer:
                batches = _without_raw(batches, path, fs, stats)
            events.append_stream(con, prefetch(batches))
            if bar:
                bar.finish_file()
            if opts.year is None and fs.records:
                mtime = os.stat(path).st_mtime if path != "-" and os.path.exists(path) else None
                moved = fix_future_years(con, path, 1, mtime)
                if moved:
                    fs.note = (fs.note + "; " if fs.note else "") + \
                        f"syslog lines carry no year: dates moved back {moved} year(s) so none is after the file's time (use --year)"
    finally:
        if bar:
            bar.close()


def _address_order(col: str) -> str:
    """ORDER BY terms for ties of the top sources: address order (10.0.0.2 before 10.0.0.10), IPv4
    first (IPv6 has no number: NULLS LAST), then the text."""
    return f"{v4_number(col)} NULLS LAST, {col}"


def summarise(con) -> dict[str, Any]:
    def rows(sql: str) -> list[dict]:
        if hasattr(con, "query_dicts"):  # another engine (Spark): same SQL, translated there
            return con.query_dicts(sql)
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    span = rows("SELECT min(ts) AS first, max(ts) AS last, count(*) AS n FROM events")[0]
    return {
        "first_seen": _iso(span["first"]),
        "last_seen": _iso(span["last"]),
        "by_action": {r["action"]: r["n"] for r in rows(
            "SELECT coalesce(action, 'other') AS action, count(*) AS n FROM events GROUP BY 1 ORDER BY n DESC, action")},
        "by_protocol": {r["proto"]: r["n"] for r in rows(
            "SELECT coalesce(proto, 'unknown') AS proto, count(*) AS n FROM events GROUP BY 1 ORDER BY n DESC, proto")},
        # the top rows are chosen by their count alone: distinct targets, ports and sources (and a
        # source's first and last time) are found for those rows only (over a 10 M-line log,
        # counting them for every source and port took 7 s of the summary's 7.5 s)
        "top_sources": [
            {"src": r["src_ip"], "records": r["n"], "targets": r["hosts"], "ports": r["ports"],
             "first_seen": _iso(r["first"]), "last_seen": _iso(r["last"])}
            for r in rows(f"""WITH top AS (SELECT src_ip, count(*) AS n FROM events WHERE src_ip IS NOT NULL
                                            GROUP BY src_ip ORDER BY n DESC, {_address_order("src_ip")}
                                            LIMIT {TOP}),
                                   d AS (SELECT src_ip, count(DISTINCT dst_ip) AS hosts,
                                                count(DISTINCT dst_port) AS ports, min(ts) AS first, max(ts) AS last
                                         FROM events WHERE src_ip IN (SELECT src_ip FROM top) GROUP BY src_ip)
                              SELECT top.src_ip, n, hosts, ports, first, last FROM top JOIN d ON d.src_ip = top.src_ip
                              ORDER BY n DESC, {_address_order("top.src_ip")}""")],
        "top_ports": [
            {"proto": r["proto"], "port": r["dst_port"], "records": r["n"], "sources": r["srcs"]}
            for r in rows(f"""WITH top AS (SELECT proto, dst_port, count(*) AS n FROM events
                                            WHERE dst_port IS NOT NULL GROUP BY proto, dst_port
                                            ORDER BY n DESC, dst_port, proto LIMIT {TOP}),
                                   d AS (SELECT e.proto, e.dst_port, count(DISTINCT e.src_ip) AS srcs
                                         FROM events e JOIN top ON e.dst_port = top.dst_port
                                              AND e.proto IS NOT DISTINCT FROM top.proto
                                         GROUP BY e.proto, e.dst_port)
                              SELECT top.proto, top.dst_port, n, srcs FROM top JOIN d ON d.dst_port = top.dst_port
                                   AND d.proto IS NOT DISTINCT FROM top.proto
                              ORDER BY n DESC, top.dst_port, top.proto""")],
    }


def _iso(v):
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return v.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return v


def report(con, stats: ReadStats, opts: Options) -> dict[str, Any]:
    """Summary and findings of the events table in ``con`` as one JSON-ready dict."""
    ctx = detectors.Context(con=con, cfg=opts.cfg,
                            home_nets=[ipaddress.ip_network(n, strict=False) for n in opts.home_nets],
                            outside_ifs=list(opts.outside_ifs))
    if opts.detect:
        from .detectors import _us
        with phase(opts.timings, "home networks and outside interface"):
            _us.infer(ctx)
    found = detectors.run(ctx, suppress=opts.suppress, timings=opts.timings) if opts.detect else []
    with phase(opts.timings, "evidence samples' text"):
        fill_raw(found, stats)
    with phase(opts.timings, "summary"):
        summary = summarise(con)
    # each finding becomes its report dict and is let go at once (both forms of a 10 M-line log's
    # 9.6 k findings at once would add to the run's end; its ports in runs move over, not copied)
    ctx.findings.clear()
    n_found = len(found)
    found.reverse()
    shown = []
    while found:
        f = found.pop()
        if not f.suppressed:
            shown.append(f.to_dict())
    return {
        "tool": "fwforensics",
        "version": __version__,
        "report_schema_version": 1,
        "event_schema_version": SCHEMA_VERSION,
        "records_read": stats.records_read,
        "records_unreadable": stats.records_unreadable,
        "lines": stats.lines,
        "time_zone_assumed": opts.tz or "UTC",
        "files": [f.as_dict() for f in stats.files],
        "summary": summary,
        "assumptions": ctx.assumptions,
        "detector_errors": ctx.failures,
        "findings": shown,
        "suppressed": n_found - len(shown),
    }


def analyze(inputs: list[str], opts: Options, con=None, then=None, size: int | None = None) -> dict[str, Any]:
    """Read ``inputs``, detect, and return the report. ``then(report, con)`` runs while the events
    are still there (for large inputs they live in a temporary database dropped on return):
    use it for exports that read the events (HTML charts, --events-out). ``size``: the inputs'
    total bytes when the caller has already measured them (:func:`input_bytes`)."""
    con = con or events.connect()
    stats = ReadStats()
    from .reader import estimate
    size = size if size is not None else input_bytes(inputs)
    # (MEMORY_ROW_BYTES is the narrow work table's cost: a table of every column goes to disk)
    guess = estimate(inputs, opts.fmt, opts.defer_raw) \
        if opts.narrow and size is not None and size > events.SPILL_BYTES else None
    with events.work_database(con, size, guess):
        with phase(opts.timings, "read and load"):
            load_inputs(con, inputs, opts, stats)
            events.loaded(con)
        rep = report(con, stats, opts)
        if then is not None:
            then(rep, con)
        return rep


def input_bytes(inputs: list[str]) -> int | None:
    """Total size of the inputs (None when unknown: standard input)."""
    total = 0
    try:
        for p in expand_inputs(inputs):
            if p == "-":
                return None
            total += os.path.getsize(p)
    except Exception:  # unreadable inputs are reported by the reader, not here
        return 0
    return total
