"""Exports that other tools read: JSON, NDJSON findings, Markdown for tickets, events as
Parquet or ECS-shaped NDJSON, and the exit status for ``--fail-on``.

* JSON: the report dict as is (documented by ``docs/report.schema.json``, versioned by
  ``report_schema_version``).
* NDJSON: one finding per line, each carrying the tool, version and schema version, for
  log shippers (Filebeat, Vector, Fluent Bit).
* Events: the normalised ``events`` table, written set-based by DuckDB/Arrow, never row by
  row in Python: ``.parquet`` keeps our column names and their descriptions; ``.ndjson`` /
  ``.json`` uses Elastic Common Schema names (``schema.ECS``), nested as ECS nests them,
  ``fwforensics.<column>`` for the columns ECS has no field for.
"""
from __future__ import annotations

import json
import os
import re
from datetime import date, datetime
from typing import IO, Any

import orjson

from ..findings import SEVERITIES, SEVERITY_RANK, PortRuns
from ..schema import COLUMNS, ECS, EVENT_SCHEMA
from . import common as C
from .text import clean

ECS_VERSION = "8.11.0"


class ExportError(ValueError):
    """Bad export request (unknown extension, unwritable path): one clear line for the user."""


def _default(o: Any):
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if isinstance(o, PortRuns):   # a finding's ports in runs: the list they stand for
        return list(o)
    return str(o)


# ------------------------------------------------------------------------------ JSON / NDJSON
# orjson writes what ``json.dumps(v, indent=2, ensure_ascii=False)`` writes ~10x faster (the
# standard library's indented encoder is pure Python: 1.6 s for a 1 M-line log's 1 100 findings).
# Differences: a float that needs an exponent prints in its shortest form (1e16, not 1e+16), and
# NaN/infinity as null (the standard library writes NaN, which is not JSON). What orjson refuses
# (integers beyond 64 bits, strings with lone surrogates) goes to the standard library.
_ORJSON = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _dumps(v: Any, indent: str) -> str:
    try:
        text = orjson.dumps(v, default=_default, option=_ORJSON).decode()
    except TypeError:   # orjson.JSONEncodeError
        text = json.dumps(v, indent=2, default=_default, ensure_ascii=False)
    return text.replace("\n", "\n" + indent) if indent else text


def write_json(rep: dict[str, Any], fh: IO[str]) -> None:
    """The report as indented JSON (the text of ``json.dumps(rep, indent=2)``, floats with an
    exponent aside: see above), written a finding at a time: no second copy of a large report
    as one string."""
    if not rep:
        fh.write("{}\n")
        return
    fh.write("{")
    for i, (k, v) in enumerate(rep.items()):
        fh.write(("," if i else "") + "\n  " + json.dumps(k, ensure_ascii=False) + ": ")
        if isinstance(v, list) and v:
            fh.write("[")
            for j, item in enumerate(v):
                fh.write(("," if j else "") + "\n    " + _dumps(item, "    "))
            fh.write("\n  ]")
        else:
            fh.write(_dumps(v, "  "))
    fh.write("\n}\n")


def ndjson_lines(rep: dict[str, Any]):
    base = {"tool": rep.get("tool", "fwforensics"), "version": rep.get("version"),
            "report_schema_version": rep.get("report_schema_version")}
    for fail in rep.get("detector_errors") or []:   # (before the findings: they are incomplete)
        yield json.dumps(dict(base, detector_error=fail), default=_default, ensure_ascii=False)
    for f in rep.get("findings") or []:
        d = dict(base)
        d["finding"] = f
        yield json.dumps(d, default=_default, ensure_ascii=False)


def write_ndjson(rep: dict[str, Any], fh: IO[str]) -> None:
    for ln in ndjson_lines(rep):
        fh.write(ln + "\n")


# ------------------------------------------------------------------------------ exit status
# analyze's exit status when a detector failed (the report is printed all the same): above --fail-on's 1
INCOMPLETE_STATUS = 3


def exit_status(rep: dict[str, Any], severity: str | None) -> int:
    """INCOMPLETE_STATUS when a detector failed, else :func:`fail_on_status`."""
    return INCOMPLETE_STATUS if rep.get("detector_errors") else fail_on_status(rep, severity)


def fail_on_status(rep: dict[str, Any], severity: str | None) -> int:
    """1 when a shown finding (not the verdict) has ``severity`` or worse, else 0."""
    if not severity:
        return 0
    if severity not in SEVERITY_RANK:
        raise ExportError(f"--fail-on wants one of {', '.join(SEVERITIES)}, got {severity!r}")
    floor = SEVERITY_RANK[severity]
    for f in rep.get("findings") or []:
        if f.get("id") != "verdict" and SEVERITY_RANK.get(f.get("severity"), -1) >= floor:
            return 1
    return 0


# ------------------------------------------------------------------------------ Markdown
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md(s: Any, limit: int | None = None) -> str:
    """A log-derived string made inert for Markdown (and the HTML many trackers allow in it)."""
    out = _MD_SPECIAL.sub(r"\\\1", clean(s, limit).replace("&", "&amp;"))
    if re.match(r"^[#+=-]", out):
        out = "\\" + out
    out = re.sub(r"^(\d+)([.)])", r"\1\\\2", out)
    return out


def _fence(text: str) -> str:
    ticks = max([len(m) for m in re.findall(r"`+", text)] + [2]) + 1
    return "`" * ticks + "text\n" + text + "\n" + "`" * ticks


def markdown(rep: dict[str, Any]) -> str:
    s = rep.get("summary") or {}
    verdicts, findings = C.split_findings(rep)
    who = rep.get("who") or {}
    units = C.evidence_units(rep)
    out = [f"## fwforensics report: {len(findings)} finding(s)", ""]
    if verdicts:
        for v in verdicts:
            out.append(f"**Verdict:** {md(v.get('summary'))}")
            if v.get("advice"):
                out.append(f"**What to do:** {md(v['advice'])}")
    else:
        out.append(f"**Verdict:** {md(C.fallback_verdict(rep))}")
    out += [f"**Incomplete:** {md(line.removeprefix('Incomplete: '))}" for line in C.failure_lines(rep)]
    out += ["", f"- Records: {rep.get('records_read', 0)} read, {rep.get('records_unreadable', 0)} unreadable, "
                f"from {len(rep.get('files') or [])} input(s)",
            f"- Time span: {md(C.span(s.get('first_seen'), s.get('last_seen')))} (UTC)"]
    for f in rep.get("files") or []:
        out.append(f"- Input: `{clean(f.get('path')).replace('`', chr(39))}` ({md(f.get('format') or 'unrecognised')})")
    if rep.get("suppressed"):
        out.append(f"- Suppressed by configuration: {rep['suppressed']}")
    out.append("")
    if findings:
        out += ["| severity | finding | source | records | seen |", "| --- | --- | --- | ---: | --- |"]
        for _sev, group in C.grouped(findings):
            for f in group:
                out.append(f"| {f.get('severity')} | {md(f.get('id'))} | {md(f.get('src') or '-')} | "
                           f"{f.get('count', 0)} | {md(C.span(f.get('first_seen'), f.get('last_seen')))} |")
        out.append("")
        for _sev, group in C.grouped(findings):
            for f in group:
                out.append(f"### {md(f.get('id'))} from {md(f.get('src') or 'unknown source')} ({f.get('severity')})")
                out.append("")
                out.append(md(f.get("summary")))
                out.append("")
                w = who.get(f.get("src") or "")
                if w:
                    from .who import short
                    out.append(f"- Source: {md(short(w))}")
                zen = C.zen_text((f.get("details") or {}).get("zen"), full=True)
                if zen:
                    out.append(f"- Packet Zen: {md(zen)}")
                if C.count_of(f.get("targets")):
                    out.append(f"- Targets ({C.count_of(f.get('targets'))}): {md(C.targets_text(f.get('targets'), 10))}")
                if f.get("ports"):
                    out.append(f"- Ports ({len(f['ports'])}): {md(C.port_ranges(f['ports'], 30))}")
                for label, key in (("What it is", "explanation"), ("What to do", "advice"),
                                   ("Confidence", "confidence")):
                    if f.get(key):
                        out.append(f"- {label}: {md(f[key])}")
                ev = f.get("evidence") or {}
                for path, lines in (ev.get("files") or {}).items():
                    out.append(f"- Evidence: {md(path)} {units.get(path, 'line(s)')} {md(lines, 300)}")
                samples = [f"{smp.get('line')}: {clean(smp.get('raw'), 500)}" for smp in ev.get("samples") or []]
                if samples:
                    out += ["", _fence("\n".join(samples))]
                out.append("")
    else:
        out += ["No findings.", ""]
    return "\n".join(out) + "\n"


def write_markdown(rep: dict[str, Any], fh: IO[str]) -> None:
    fh.write(markdown(rep))


# ------------------------------------------------------------------------------ events
def _ecs_tree() -> dict:
    """Nested dict of ECS paths -> SQL expressions."""
    tree: dict = {}
    for col in COLUMNS:
        field = ECS.get(col)
        if col == "ts":
            expr = "strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')"
        elif col == "ip_version":
            expr = "CASE WHEN ip_version IS NULL THEN NULL ELSE 'ipv' || CAST(ip_version AS VARCHAR) END"
        else:
            expr = f'"{col}"'
        path = field.split(".") if field and field != "@timestamp" else (["@timestamp"] if field else
                                                                        ["fwforensics", col])
        node = tree
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = expr
    tree.setdefault("ecs", {})["version"] = f"'{ECS_VERSION}'"
    ev = tree.setdefault("event", {})
    ev["kind"] = "'event'"
    ev["category"] = "['network']"
    ev["dataset"] = "'fwforensics.events'"
    tree.setdefault("observer", {})["type"] = "'firewall'"
    return tree


def _struct_sql(node: dict) -> str:
    parts = []
    for k, v in node.items():
        val = _struct_sql(v) if isinstance(v, dict) else v
        parts.append(f'"{k}" := {val}')
    return "struct_pack(" + ", ".join(parts) + ")"


def ecs_select(table: str = "events") -> str:
    tree = _ecs_tree()
    cols = []
    for k, v in tree.items():
        val = _struct_sql(v) if isinstance(v, dict) else v
        cols.append(f'{val} AS "{k}"')
    return f"SELECT {', '.join(cols)} FROM {table} ORDER BY source_file, line"


def write_events(con, path: str, table: str = "events") -> int:
    """Write the events table to ``path`` (.parquet, or .ndjson/.jsonl/.json as ECS NDJSON).

    Returns the number of rows written."""
    ext = os.path.splitext(path.lower())[1]
    if ext.endswith(("gz", "zst")):
        raise ExportError("compressed event exports are not supported; write a plain file and compress it")
    n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    if ext == ".parquet":
        import pyarrow.parquet as pq
        reader = con.sql(f"SELECT * FROM {table} ORDER BY source_file, line").to_arrow_reader(65536)
        try:
            with pq.ParquetWriter(path, EVENT_SCHEMA, compression="zstd") as w:
                for batch in reader:
                    w.write_batch(batch.cast(EVENT_SCHEMA) if batch.schema != EVENT_SCHEMA else batch)
        except OSError as e:
            raise ExportError(f"cannot write {path}: {e}") from None
        return n
    if ext in (".ndjson", ".jsonl", ".json"):
        q = ecs_select(table)
        lit = "'" + path.replace("'", "''") + "'"
        try:
            con.execute(f"COPY ({q}) TO {lit} (FORMAT JSON)")
        except Exception as e:  # duckdb.IOException and friends
            raise ExportError(f"cannot write {path}: {e}") from None
        return n
    raise ExportError(f"--events-out: unknown extension {ext or '(none)'!r}: use .parquet, .ndjson or .json")
