"""The terminal report: verdict first, then findings by severity, then the summary.

Every string taken from a log goes through :func:`fwforensics.reports.text.clean`
and into Rich ``Text`` objects (never markup), so a log cannot colour, move or
clear the user's terminal. Colour only on a terminal; ``NO_COLOR`` is respected
by Rich.
"""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .text import clean

SEV_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def render(rep: dict[str, Any], console: Console, verbose: bool = False) -> None:
    files = rep.get("files", [])
    console.print(Text(f"fwforensics {rep.get('version', '')}: {rep['records_read']} records read, "
                       f"{rep['records_unreadable']} unreadable, from {len(files)} input(s)", style="bold"))
    verdicts = [f for f in rep.get("findings", []) if f["id"] == "verdict"]
    for v in verdicts:
        console.print(Text("Verdict: ", style="bold") + Text(clean(v["summary"])))
        if v.get("explanation"):
            console.print(Text(clean(v["explanation"])))
        if v.get("advice"):
            console.print(Text("What to do: ", style="bold") + Text(clean(v["advice"])))
    for a in rep.get("assumptions", []):
        console.print(Text("Assumed: ", style="dim") + Text(clean(a), style="dim"))

    findings = [f for f in rep.get("findings", []) if f["id"] != "verdict"]
    if findings:
        t = Table(title="Findings", show_lines=False, expand=False)
        for col in ("sev", "id", "source", "what", "records"):
            t.add_column(col, overflow="fold")
        for f in findings:
            t.add_row(Text(f["severity"], style=SEV_STYLE.get(f["severity"], "")), Text(f["id"]),
                      Text(clean(f.get("src") or "-")), Text(clean(f["summary"])), str(f.get("count", "")))
        console.print(t)
        if verbose:
            for f in findings:
                console.print(Text(f"\n[{f['id']}] {clean(f.get('src') or '')}", style="bold"))
                for label, key in (("What it is", "explanation"), ("What to do", "advice"), ("Confidence", "confidence")):
                    if f.get(key):
                        console.print(Text(f"{label}: ", style="bold") + Text(clean(f[key])))
                span = f"{f.get('first_seen') or '?'} .. {f.get('last_seen') or '?'}"
                console.print(Text(f"Seen: {span}; records: {f.get('count')}"))
                ev = f.get("evidence") or {}
                for path, lines in (ev.get("files") or {}).items():
                    console.print(Text(f"Evidence: {clean(path)} lines {clean(lines, 200)}"))
                for s in ev.get("samples") or []:
                    console.print(Text(f"  {clean(s.get('raw'), 300)}", style="dim"))
    elif rep.get("records_read"):
        console.print(Text("No findings.", style="dim"))

    s = rep.get("summary", {})
    if rep.get("records_read"):
        console.print(Text(f"\nTime span: {s.get('first_seen') or '?'} .. {s.get('last_seen') or '?'} "
                           f"(times in UTC; zone-less logs read as {rep.get('time_zone_assumed', 'UTC')})"))
        t = Table(title="Records by action and protocol")
        t.add_column("action")
        t.add_column("records", justify="right")
        for k, v in s.get("by_action", {}).items():
            t.add_row(Text(clean(k)), str(v))
        t2 = Table()
        t2.add_column("protocol")
        t2.add_column("records", justify="right")
        for k, v in s.get("by_protocol", {}).items():
            t2.add_row(Text(clean(k)), str(v))
        console.print(t)
        console.print(t2)
        t = Table(title="Top sources")
        for c in ("source", "records", "hosts", "ports", "first seen", "last seen"):
            t.add_column(c, overflow="fold")
        for r in s.get("top_sources", []):
            t.add_row(Text(clean(r["src"])), str(r["records"]), str(r["targets"]), str(r["ports"]),
                      str(r["first_seen"] or ""), str(r["last_seen"] or ""))
        console.print(t)
        t = Table(title="Top destination ports")
        for c in ("port", "records", "sources"):
            t.add_column(c)
        for r in s.get("top_ports", []):
            t.add_row(Text(f"{r['port']}/{clean(r['proto'])}"), str(r["records"]), str(r["sources"]))
        console.print(t)
    for f in files:
        if f.get("records_unreadable"):
            lines = ", ".join(str(u["line"]) for u in f["unreadable"][:20])
            more = "" if f["records_unreadable"] <= 20 else f" (+{f['records_unreadable'] - 20} more)"
            reasons = sorted({u["reason"] for u in f["unreadable"]})
            console.print(Text(f"Unreadable in {clean(f['path'])}: {f['records_unreadable']} line(s): {lines}{more}"
                               f" [{clean('; '.join(reasons), 200)}]", style="yellow"))
        if f.get("note"):
            console.print(Text(f"Note on {clean(f['path'])}: {clean(f['note'])}", style="dim"))
