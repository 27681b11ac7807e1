"""Helpers every report shares: grouping findings, short forms of ports, times and Packet Zen.

All functions here take the report dict (``analysis.report``) or parts of it and return
plain strings; escaping for the medium (terminal, HTML, Markdown) is the caller's job.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from ..findings import SEVERITIES, SEVERITY_RANK

SEVERITY_ORDER = tuple(reversed(SEVERITIES))   # high first


def parse_ts(v: Any) -> datetime | None:
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)
    try:
        d = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def fmt_ts(v: Any) -> str:
    d = parse_ts(v)
    if d is None:
        return "?"
    d = d.astimezone(timezone.utc)
    s = d.strftime("%Y-%m-%d %H:%M:%S")
    if d.microsecond:
        s += f".{d.microsecond // 1000:03d}"
    return s + "Z"


def duration(first: Any, last: Any) -> str:
    a, b = parse_ts(first), parse_ts(last)
    if a is None or b is None:
        return ""
    secs = max(0.0, (b - a).total_seconds())
    if secs < 1:
        return f"{secs * 1000:.0f} ms" if secs else "an instant"
    if secs < 120:
        return f"{secs:.0f} s"
    if secs < 7200:
        return f"{secs / 60:.0f} min"
    if secs < 172800:
        return f"{secs / 3600:.1f} h"
    return f"{secs / 86400:.1f} days"


def span(first: Any, last: Any) -> str:
    """'2026-03-11 20:35:11Z .. 20:36:53Z (102 s)' (the date once when both ends share it)."""
    a, b = fmt_ts(first), fmt_ts(last)
    if a == "?" and b == "?":
        return "time unknown"
    if a[:10] == b[:10] and a != "?":
        b = b[11:]
    if a == fmt_ts(last):
        return a
    d = duration(first, last)
    return f"{a} .. {b}" + (f" ({d})" if d else "")


def port_ranges(ports: Iterable[int], limit: int = 12) -> str:
    """[1,2,3,7,80,81] -> '1-3,7,80-81'; at most ``limit`` pieces, then '+N more'."""
    ps = sorted({int(p) for p in ports if p is not None})
    if not ps:
        return ""
    pieces: list[str] = []
    start = prev = ps[0]
    for p in ps[1:] + [None]:  # type: ignore[list-item]
        if p is not None and p == prev + 1:
            prev = p
            continue
        pieces.append(f"{start}-{prev}" if prev != start else str(start))
        if p is not None:
            start = prev = p
    extra = len(pieces) - limit
    out = ",".join(pieces[:limit])
    if extra > 0:
        out += f" +{extra} more"
    return out


def count_of(x: Any) -> int:
    if isinstance(x, int):
        return x
    return len(x or [])


def targets_text(targets: Any, limit: int = 3) -> str:
    if isinstance(targets, int):
        return f"{targets} host(s)"
    t = list(targets or [])
    if not t:
        return ""
    head = ", ".join(str(x) for x in t[:limit])
    return head + (f" +{len(t) - limit} more" if len(t) > limit else "")


def port_name(port: int | None, proto: str | None) -> str:
    """Short name of a destination port from the knowledge base (or the services table)."""
    if port is None:
        return ""
    try:
        from ..knowledge import kb
        k = kb()
        info = k.port(int(port), proto)
        if info is not None and info.service:
            return info.service
        reg = k.registered(int(port), proto)
        if reg is not None:
            return getattr(reg, "name", "") or ""
    except Exception:
        return ""
    return ""


def zen_text(zen: Any, full: bool = False) -> str:
    """Packet Zen of a source (``details.zen`` of a finding) as one short phrase.

    Accepts the keys a detector may set: os_family/os, hops, initial_ttl, ttl, ip_id/ipid,
    spoof/spoofed; unknown keys are ignored, so the wording never depends on a guess."""
    if not isinstance(zen, dict) or not zen:
        return ""
    parts = []
    fam = zen.get("os_family") or zen.get("os")
    init = zen.get("initial_ttl")
    hops = zen.get("hops")
    if fam:
        parts.append(str(fam).split(",")[0] + (f" (TTL {init})" if init else ""))
    elif init:
        parts.append(f"initial TTL {init}")
    if hops is not None:
        parts.append(f"{hops} hop(s) away")
    rng = zen.get("ttl_range")
    if isinstance(rng, (list, tuple)) and len(rng) == 2 and rng[0] != rng[1]:
        parts.append(f"TTLs {rng[0]}-{rng[1]}")
    ipid = zen.get("ip_id") or zen.get("ipid")
    if isinstance(ipid, dict):
        ipid = ipid.get("order") or ipid.get("reading")
    if ipid:
        parts.append(f"IP ID {ipid}")
    sp = zen.get("spoof") or zen.get("spoofed") or zen.get("spoof_suspect")
    if sp:
        parts.append("TTLs jump: possibly spoofed" if sp is True else f"spoof suspicion: {sp}")
    if full and zen.get("note"):
        parts.append(str(zen["note"]))
    return "; ".join(str(p) for p in parts)


# formats whose records are numbered by packet, not by line (evidence "packet(s) 2-10")
PACKET_FORMATS = ("pcap",)


def evidence_units(rep: dict[str, Any]) -> dict[str, str]:
    """What each input's evidence numbers count: "packet(s)" for a capture, else "line(s)" (the
    default for a path not listed)."""
    return {f.get("path"): "packet(s)" for f in rep.get("files") or [] if f.get("format") in PACKET_FORMATS}


def split_findings(rep: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """(verdict findings, other findings)."""
    fs = rep.get("findings") or []
    return [f for f in fs if f.get("id") == "verdict"], [f for f in fs if f.get("id") != "verdict"]


def grouped(findings: list[dict]) -> list[tuple[str, list[dict]]]:
    """[(severity, findings)] high first; inside a group the biggest (most records) first."""
    out = []
    for sev in SEVERITY_ORDER:
        g = [f for f in findings if f.get("severity") == sev]
        if g:
            g.sort(key=lambda f: (-(f.get("count") or 0), f.get("id") or "", f.get("src") or ""))
            out.append((sev, g))
    other = [f for f in findings if f.get("severity") not in SEVERITY_RANK]
    if other:
        out.append(("other", other))
    return out


def severity_counts(findings: list[dict]) -> dict[str, int]:
    c = {s: 0 for s in SEVERITY_ORDER}
    for f in findings:
        c[f.get("severity")] = c.get(f.get("severity"), 0) + 1
    return {k: v for k, v in c.items() if v}


def worst(findings: list[dict]) -> str | None:
    ranks = [SEVERITY_RANK[f["severity"]] for f in findings if f.get("severity") in SEVERITY_RANK]
    return SEVERITIES[max(ranks)] if ranks else None


def fallback_verdict(rep: dict[str, Any]) -> str:
    """A one-line reading when no verdict finding exists (the verdict detector did not run)."""
    _v, fs = split_findings(rep)
    n = rep.get("records_read") or 0
    if not n:
        return "Nothing to judge: no records were read."
    if not fs:
        return f"No known pattern in {n} record(s): nothing here needs action."
    c = severity_counts(fs)
    w = worst(fs)
    counts = ", ".join(f"{v} {k}" for k, v in c.items())
    lead = {"high": "Needs attention", "medium": "Worth a look", "low": "Mostly routine",
            "info": "Routine"}.get(w or "", "Findings")
    return f"{lead}: {len(fs)} finding(s) ({counts}) in {n} record(s)."


def failure_lines(rep: dict[str, Any]) -> list[str]:
    """One line per detector that failed (``detector_errors``): the run went on without it."""
    return [f"Incomplete: the {d.get('detector')} detector failed ({d.get('error')}); the findings it looks for "
            f"({', '.join(d.get('ids') or []) or 'none listed'}) are missing from this report."
            for d in rep.get("detector_errors") or []]
