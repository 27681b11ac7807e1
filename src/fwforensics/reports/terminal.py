"""The terminal report: verdict first, then findings by severity, then the summary.

Every string taken from a log goes through :func:`fwforensics.reports.text.clean`
and into Rich ``Text`` objects (never markup), so a log cannot colour, move or
clear the user's terminal. Colour only on a terminal; ``NO_COLOR`` is respected
by Rich. Laid out to be read at 80 columns.
"""
from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from . import common as C
from .text import clean

SEV_STYLE = {"high": "bold red", "medium": "bold yellow", "low": "cyan", "info": "dim", "other": ""}
SAMPLES_SHOWN = 3


def _kv(label: str, value: str, style: str = "") -> Text:
    return Text(f"{label} ", style="bold") + Text(value, style=style)


def _indent(r, n: int = 2):
    return Padding(r, (0, 0, 0, n))


def render(rep: dict[str, Any], console: Console, verbose: bool = False) -> None:
    files = rep.get("files", [])
    s = rep.get("summary", {}) or {}
    verdicts, findings = C.split_findings(rep)
    who = rep.get("who")
    if who is None and rep.get("records_read"):
        try:
            from .who import enrich
            who = enrich(rep).get("who")
        except Exception:
            who = {}
    who = who or {}
    units = C.evidence_units(rep)

    # -- header ----------------------------------------------------------------------
    head = Text(f"fwforensics {rep.get('version', '')}", style="bold")
    head += Text(f"  {rep.get('records_read', 0)} record(s) from {len(files)} input(s)"
                 f", {rep.get('records_unreadable', 0)} unreadable")
    console.print(head)
    if rep.get("records_read"):
        console.print(Text("Time span ") + Text(C.span(s.get("first_seen"), s.get("last_seen")))
                      + Text(f"  (UTC; zone-less logs as {clean(rep.get('time_zone_assumed', 'UTC'), 20)})",
                             style="dim"))

    # -- verdict ---------------------------------------------------------------------
    console.print()
    if verdicts:
        for v in verdicts:
            sev = v.get("severity", "info")
            console.print(Text("VERDICT ", style="bold reverse") + Text(" ")
                          + Text(clean(v.get("summary")), style=SEV_STYLE.get(sev, "")))
            if v.get("explanation"):
                console.print(_indent(Text(clean(v["explanation"]))))
            if v.get("advice"):
                console.print(_indent(_kv("What to do:", clean(v["advice"]))))
    else:
        w = C.worst(findings)
        console.print(Text("VERDICT ", style="bold reverse") + Text(" ")
                      + Text(C.fallback_verdict(rep), style=SEV_STYLE.get(w or "info", "")))
    for line in C.failure_lines(rep):
        console.print(_indent(Text(clean(line), style="bold red")))
    for a in rep.get("assumptions", []):
        console.print(_indent(Text("Assumed: " + clean(a), style="dim")))

    # -- findings ----------------------------------------------------------------------
    if findings:
        counts = ", ".join(f"{n} {k}" for k, n in C.severity_counts(findings).items())
        sup = rep.get("suppressed") or 0
        console.print()
        console.print(Text(f"FINDINGS  {len(findings)} ({counts})" + (f"; {sup} suppressed" if sup else ""),
                           style="bold"))
        for sev, group in C.grouped(findings):
            console.print()
            console.print(Text(f"── {sev.upper()} ({len(group)}) ", style=SEV_STYLE.get(sev, "")) + Text("─" * 20,
                                                                                                    style="dim"))
            for f in group:
                _finding(console, f, who, verbose, units)
    elif rep.get("records_read"):
        console.print(Text("No findings.", style="dim"))
        if rep.get("suppressed"):
            console.print(Text(f"({rep['suppressed']} finding(s) suppressed by configuration)", style="dim"))

    # -- summary -----------------------------------------------------------------------
    if rep.get("records_read"):
        console.print()
        console.print(Text("RECORDS", style="bold"))
        ba = ", ".join(f"{clean(k)} {v}" for k, v in (s.get("by_action") or {}).items())
        bp = ", ".join(f"{clean(k)} {v}" for k, v in (s.get("by_protocol") or {}).items())
        console.print(_indent(_kv("by action:  ", ba)))
        console.print(_indent(_kv("by protocol:", bp)))
        if s.get("top_sources"):
            t = Table(title=None, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
            t.add_column("top source", overflow="fold", max_width=39)
            t.add_column("recs", justify="right")
            t.add_column("hosts", justify="right")
            t.add_column("ports", justify="right")
            t.add_column("who", overflow="fold", max_width=24)
            for r in s["top_sources"]:
                t.add_row(Text(clean(r["src"])), str(r["records"]), str(r["targets"]), str(r["ports"]),
                          Text(clean(_who_short(who, r["src"]), 60), style="dim"))
            console.print()
            console.print(t)
        if s.get("top_ports"):
            t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
            t.add_column("top port", overflow="fold")
            t.add_column("service", overflow="fold", max_width=28)
            t.add_column("recs", justify="right")
            t.add_column("sources", justify="right")
            for r in s["top_ports"]:
                t.add_row(Text(f"{r['port']}/{clean(r['proto'])}"), Text(clean(C.port_name(r["port"], r["proto"]), 40)),
                          str(r["records"]), str(r["sources"]))
            console.print()
            console.print(t)

    # -- reading problems ----------------------------------------------------------------
    for f in files:
        if f.get("records_unreadable"):
            lines = ", ".join(str(u["line"]) for u in f["unreadable"][:20])
            more = "" if f["records_unreadable"] <= 20 else f" (+{f['records_unreadable'] - 20} more)"
            reasons = sorted({u["reason"] for u in f["unreadable"]})
            console.print(Text(f"Unreadable in {clean(f['path'])}: {f['records_unreadable']} line(s): {lines}{more}"
                               f" [{clean('; '.join(reasons), 200)}]", style="yellow"))
        if f.get("note"):
            console.print(Text(f"Note on {clean(f['path'])}: {clean(f['note'])}", style="dim"))
    geo = (rep.get("who_sources") or {}).get("geo")
    if who and geo:
        console.print(Text(f"Country/AS from {geo['name']}, dated {geo.get('date') or 'unknown'}.", style="dim"))


def _who_short(who: dict, ip: str | None) -> str:
    if not ip:
        return ""
    from .who import short
    return short(who.get(ip))


def _finding(console: Console, f: dict, who: dict, verbose: bool, units: dict[str, str] | None = None) -> None:
    out: list = []   # printed at once: each console.print costs Rich a layout pass (1 k findings: ~1 s)
    sev = f.get("severity", "")
    title = Text(f"{f.get('id')}", style="bold " + SEV_STYLE.get(sev, ""))
    if f.get("src"):
        title += Text("  from ") + Text(clean(f["src"]), style="bold")
    out.append(title)
    out.append(_indent(Text(clean(f.get("summary")))))
    facts = []
    w = _who_short(who, f.get("src"))
    zen = C.zen_text((f.get("details") or {}).get("zen"), full=verbose)
    if w or zen:
        facts.append(_kv("source ", clean("; ".join(x for x in (w, zen) if x))))
    tg = f.get("targets")
    n_t = C.count_of(tg)
    if n_t:
        facts.append(_kv("targets", f"{n_t}: " + clean(C.targets_text(tg))))
    if f.get("ports"):
        facts.append(_kv("ports  ", f"{len(f['ports'])}: " + C.port_ranges(f["ports"])))
    facts.append(_kv("seen   ", C.span(f.get("first_seen"), f.get("last_seen"))
                     + f"; {f.get('count', 0)} record(s)"))
    for x in facts:
        out.append(_indent(x, 4))
    if verbose:
        for label, key in (("What it is:", "explanation"), ("What to do:", "advice"), ("Confidence:", "confidence")):
            if f.get(key):
                out.append(_indent(_kv(label, clean(f[key])), 4))
        ev = f.get("evidence") or {}
        for path, lines in (ev.get("files") or {}).items():
            unit = (units or {}).get(path, "line(s)")
            out.append(_indent(_kv("Evidence:", f"{clean(path)} {unit} {clean(lines, 200)}"), 4))
        for smp in (ev.get("samples") or [])[:SAMPLES_SHOWN]:
            out.append(_indent(Text(f"{smp.get('line', '?')}: {clean(smp.get('raw'), 300)}", style="dim"), 6))
    console.print(Group(*out, Text()))
