"""Findings: what the detectors report (ids from shared/spec/signatures.md).

A finding is plain data so every report (terminal, JSON, HTML, Markdown) and
every export reads the same thing. ``to_dict`` is the JSON shape (documented
in ``docs/findings.schema.json``).
"""
from __future__ import annotations

from array import array
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Sequence

SEVERITIES = ("info", "low", "medium", "high")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass
class Evidence:
    """Where the records behind a finding are: line ranges per file, and a few samples."""

    records: int = 0
    files: dict[str, str] = field(default_factory=dict)   # file -> "1-40,52,60-61"
    samples: list[dict[str, Any]] = field(default_factory=list)  # {file, line, raw}


@dataclass
class Finding:
    id: str
    severity: str
    src: str | None
    summary: str
    explanation: str = ""
    advice: str = ""
    targets: list[str] | int = field(default_factory=list)
    ports: Sequence[int] = field(default_factory=list)   # kept as an array (compact_ports): a scan can list 60 k ports
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    count: int = 0
    evidence: Evidence = field(default_factory=Evidence)
    details: dict[str, Any] = field(default_factory=dict)
    confidence: str | None = None    # e.g. "high: TTLs of the decoys do not fit their addresses"
    suppressed: bool = False

    def __post_init__(self) -> None:
        self.ports = compact_ports(self.ports)

    def sort_key(self) -> tuple:
        return (-SEVERITY_RANK.get(self.severity, 0), self.id, self.src or "",
                self.first_seen.isoformat() if self.first_seen else "", -self.count)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ports"] = _port_list(self.ports)
        for k in ("first_seen", "last_seen"):
            v = d[k]
            d[k] = v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v
        return d


def compact_ports(ports: Sequence[int]) -> array:
    """Ports as an array of 2-byte numbers when they are all port numbers (0-65535), else of 4-byte
    ones: the findings of a 10 M-line log list 5.4 M ports (~11 MB at 2 bytes)."""
    if isinstance(ports, array) and ports.typecode == "H":
        return ports
    if not isinstance(ports, (array, list, tuple)):
        ports = list(ports)
    if ports and 0 <= min(ports) and max(ports) < 65536:
        return array("H", ports)
    return ports if isinstance(ports, array) else array("i", ports)


# One int object per port number, shared by every list of ports: the findings of a 10 M-line log
# list 5.4 M ports, ~190 MB as separate ints and ~45 MB as references to these.
_PORT_INTS = list(range(65536))


def _port_list(ports: array) -> list[int]:
    if ports and 0 <= min(ports) and max(ports) < 65536:
        return list(map(_PORT_INTS.__getitem__, ports))
    return ports.tolist()


def compress_lines(lines: list[int]) -> str:
    """[1,2,3,7,9,10] -> '1-3,7,9-10'."""
    if not lines:
        return ""
    lines = sorted(set(lines))
    out, start, prev = [], lines[0], lines[0]
    for n in lines[1:]:
        if n == prev + 1:
            prev = n
            continue
        out.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = n
    out.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(out)
