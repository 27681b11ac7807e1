"""The HTML report: one self-contained file that works offline.

Built with Jinja2 with auto-escaping on; charts are inline SVG drawn by
:mod:`fwforensics.reports.charts`. A Content-Security-Policy in the page allows
only our own inline style and the one script carrying this page's nonce, and no
network access at all, so even a string that escaped escaping could neither run
nor fetch anything. Chart data comes from set-based queries on the ``events``
table (one GROUP BY per chart, never a loop over records).
"""
from __future__ import annotations

import secrets
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from . import charts
from . import common as C
from .text import clean

TIMELINE_BINS = 60
HEAT_PORTS = 12
FOOTPRINTS = 6
FOOTPRINT_POINTS = 1500
SAMPLES = 5


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def chart_data(con, rep: dict[str, Any]) -> dict[str, str]:
    """Every chart of the report as an SVG string (empty when there is nothing to draw)."""
    out: dict[str, str] = {}
    span = _rows(con, "SELECT epoch(min(ts)) AS t0, epoch(max(ts)) AS t1, count(ts) AS n FROM events")[0]
    if span["n"]:
        t0, t1 = float(span["t0"]), float(span["t1"])
        width = max((t1 - t0) / TIMELINE_BINS, 1.0)
        nbins = min(TIMELINE_BINS, int((t1 - t0) // width) + 1)
        for key, col, title in (("timeline_action", "coalesce(action, 'other')", "Records over time, by action"),
                                ("timeline_proto", "coalesce(proto, 'unknown')", "Records over time, by protocol")):
            rows = _rows(con, f"""
                SELECT least(CAST(floor((epoch(ts) - ?) / ?) AS BIGINT), {nbins - 1}) AS b, {col} AS k, count(*) AS n
                FROM events WHERE ts IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""", [t0, width])
            keys = [r["k"] for r in _rows(con, f"SELECT {col} AS k, count(*) AS n FROM events GROUP BY 1 "
                                               f"ORDER BY n DESC, k LIMIT 10")]
            rows = [r for r in rows if r["k"] in keys]
            out[key] = charts.stacked_timeline([(r["b"], r["k"], r["n"]) for r in rows], t0, width, nbins,
                                               title, keys)
        ports = _rows(con, f"""SELECT dst_port, proto, count(*) AS n FROM events
                               WHERE dst_port IS NOT NULL AND ts IS NOT NULL
                               GROUP BY 1, 2 ORDER BY n DESC, dst_port LIMIT {HEAT_PORTS}""")
        if ports:
            labels = [f"{r['dst_port']}/{r['proto']}" for r in ports]
            cells = _rows(con, f"""
                SELECT CAST(dst_port AS VARCHAR) || '/' || proto AS k, hour(ts) AS h, count(*) AS n
                FROM events WHERE ts IS NOT NULL AND dst_port IS NOT NULL
                  AND CAST(dst_port AS VARCHAR) || '/' || proto IN ({", ".join("?" * len(labels))})
                GROUP BY 1, 2""", labels)
            out["ports_by_hour"] = charts.heatmap([(c["k"], c["h"], c["n"]) for c in cells], labels,
                                                  "Top destination ports by hour of day (UTC)")
    s = rep.get("summary") or {}
    who = rep.get("who") or {}
    out["top_sources"] = charts.hbars(
        [(r["src"], r["records"], _who_note(who.get(r["src"]))) for r in s.get("top_sources") or []],
        "Top sources (records)")
    out["top_ports"] = charts.hbars(
        [(f"{r['port']}/{r['proto']} {C.port_name(r['port'], r['proto'])}".strip(), r["records"],
          f"from {r['sources']} source(s)") for r in s.get("top_ports") or []],
        "Top destination ports (records)", colour="#8e6c8a")
    return out


def footprints(con, rep: dict[str, Any]) -> list[dict[str, Any]]:
    """Scan footprints (time x port) for the sources of scan-like findings, else the top sources."""
    _v, fs = C.split_findings(rep)
    srcs: list[str] = []
    for f in fs:
        if f.get("src") and f["id"].split(".")[0] in ("scan", "proxy", "sscan", "trojan", "worm", "ping") \
                and f["src"] not in srcs:
            srcs.append(f["src"])
    if not srcs:
        srcs = [r["src"] for r in (rep.get("summary") or {}).get("top_sources") or [] if r.get("ports", 0) >= 10]
    srcs = srcs[:FOOTPRINTS]
    if not srcs:
        return []
    rows = _rows(con, f"""
        WITH x AS (
            SELECT src_ip, epoch(ts) AS t, dst_port, coalesce(action, 'other') AS a,
                   row_number() OVER (PARTITION BY src_ip ORDER BY ts, line) AS rn,
                   count(*) OVER (PARTITION BY src_ip) AS total
            FROM events
            WHERE ts IS NOT NULL AND dst_port IS NOT NULL AND src_ip IN ({", ".join("?" * len(srcs))}))
        SELECT src_ip, t, dst_port, a, total FROM x
        WHERE rn % greatest(1, CAST(ceil(total / {FOOTPRINT_POINTS}.0) AS BIGINT)) = 0 OR rn = 1
        ORDER BY src_ip, t""", srcs)
    by: dict[str, list] = {}
    totals: dict[str, int] = {}
    for r in rows:
        by.setdefault(r["src_ip"], []).append((r["t"], r["dst_port"], r["a"]))
        totals[r["src_ip"]] = r["total"]
    out = []
    for s in srcs:
        if s in by:
            out.append({"src": s, "records": totals[s],
                        "svg": Markup(charts.footprint(by[s], f"{clean(s, 45)}: ports over time"))})
    return out


def _who_note(w: dict | None) -> str:
    if not w:
        return ""
    from .who import short
    return short(w)


def rules(con, limit: int = 15) -> list[dict]:
    return _rows(con, f"""SELECT coalesce(rule, '') AS rule, coalesce(action, 'other') AS action, count(*) AS n,
                                 count(DISTINCT src_ip) AS srcs
                          FROM events GROUP BY 1, 2 ORDER BY n DESC, rule LIMIT {limit}""")


def log_hosts(con, limit: int = 10) -> list[dict]:
    return _rows(con, f"""SELECT log_host AS host, count(*) AS n FROM events WHERE log_host IS NOT NULL
                          GROUP BY 1 ORDER BY n DESC, host LIMIT {limit}""")


def _env() -> Environment:
    env = Environment(loader=PackageLoader("fwforensics.reports", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["clean"] = lambda s, n=None: clean(s, n)
    env.filters["span"] = lambda f: C.span(f.get("first_seen"), f.get("last_seen"))
    env.filters["ports"] = lambda p, n=30: C.port_ranges(p or [], n)
    env.filters["targets"] = lambda t, n=10: C.targets_text(t, n)
    env.filters["count_of"] = C.count_of
    env.filters["zen"] = C.zen_text
    env.filters["ts"] = C.fmt_ts
    env.filters["who"] = _who_note
    return env


def render_html(rep: dict[str, Any], con=None) -> str:
    if "who" not in rep:
        try:
            from .who import enrich
            enrich(rep)
        except Exception:
            rep["who"] = {}
    verdicts, findings = C.split_findings(rep)
    svg = chart_data(con, rep) if con is not None else {}
    ctx = {
        "rep": rep,
        "s": rep.get("summary") or {},
        "verdicts": verdicts,
        "verdict_line": None if verdicts else C.fallback_verdict(rep),
        "failures": C.failure_lines(rep),
        "worst": C.worst(findings) or "info",
        "groups": C.grouped(findings),
        "counts": C.severity_counts(findings),
        "n_findings": len(findings),
        "charts": {k: Markup(v) for k, v in svg.items() if v},
        "footprints": footprints(con, rep) if con is not None else [],
        "rules": rules(con) if con is not None else [],
        "hosts": log_hosts(con) if con is not None else [],
        "who": rep.get("who") or {},
        "geo": (rep.get("who_sources") or {}).get("geo"),
        "nonce": secrets.token_urlsafe(16),
        "samples": SAMPLES,
        "units": C.evidence_units(rep),
    }
    return _env().get_template("report.html.j2").render(**ctx)


def write_html(rep: dict[str, Any], con, path: str) -> None:
    text = render_html(rep, con)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


write = write_html
