"""Findings: what the detectors report (ids from shared/spec/signatures.md).

A finding is plain data so every report (terminal, JSON, HTML, Markdown) and
every export reads the same thing. ``to_dict`` is the JSON shape (documented
in ``docs/findings.schema.json``).
"""
from __future__ import annotations

from array import array
from dataclasses import asdict, dataclass, field, fields, is_dataclass
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
        """The JSON shape. Ports in runs stay a :class:`PortRuns` (a sequence equal to the list it
        stands for; the JSON writers print it as that list): the findings of a 10 M-line log list
        5.4 M ports, ~43 MB as lists, which the report would hold all at once."""
        ports = self.ports
        d = {}
        for f in _FINDING_FIELDS:   # (what dataclasses.asdict gives, in its order, several times faster)
            d[f.name] = None if f.name == "ports" else _plain(getattr(self, f.name))
        d["ports"] = ports if isinstance(ports, PortRuns) else _port_list(ports)
        for k in ("first_seen", "last_seen"):
            v = d[k]
            d[k] = v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v
        return d


_FINDING_FIELDS = fields(Finding)
_SCALARS = (str, int, float, bool, type(None))


def _plain(v):
    """``v`` as :func:`dataclasses.asdict` gives a field's value: dataclasses (nested too) as dicts,
    dicts, lists and tuples copied, anything else deep-copied; plain types without a call to
    ``copy.deepcopy`` each (asdict's cost: ~0.3 ms per finding)."""
    t = type(v)
    if t in _SCALARS:
        return v
    if t is dict:
        return {_plain(k): _plain(x) for k, x in v.items()}
    if t is list:
        return [_plain(x) for x in v]
    if t is tuple:
        return tuple(_plain(x) for x in v)
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in fields(v)}
    return asdict(_Boxed(v))["v"]   # (other types: asdict's own rules)


@dataclass
class _Boxed:
    v: Any


class PortRuns(Sequence):
    """Strictly increasing port numbers kept as the two ends of each run of consecutive numbers
    (``ends``: lo, hi, lo, hi, ... as 2-byte numbers): a sequence of ints like the list it stands
    for (length, iteration, indexing, ``in``, equality with a list). A scan's ports are mostly
    runs: a 10 M-line log's findings list 5.4 M ports in 340 k runs (~11 MB as 2-byte numbers,
    ~1.4 MB as run ends)."""

    __slots__ = ("ends", "_n")

    def __init__(self, ends: array) -> None:
        self.ends = ends
        self._n = sum(ends[i + 1] - ends[i] + 1 for i in range(0, len(ends), 2))

    def runs(self):
        e = self.ends
        return ((e[i], e[i + 1]) for i in range(0, len(e), 2))

    def __len__(self) -> int:
        return self._n

    def __iter__(self):
        for lo, hi in self.runs():
            yield from range(lo, hi + 1)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(self)[i]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("port index out of range")
        for lo, hi in self.runs():
            if i <= hi - lo:
                return lo + i
            i -= hi - lo + 1
        raise IndexError("port index out of range")

    def __contains__(self, p) -> bool:
        e, lo, hi = self.ends, 0, len(self.ends) // 2 - 1
        while lo <= hi:   # binary search over the runs
            mid = (lo + hi) // 2
            if p < e[2 * mid]:
                hi = mid - 1
            elif p > e[2 * mid + 1]:
                lo = mid + 1
            else:
                return True
        return False

    def __eq__(self, other) -> bool:
        if isinstance(other, PortRuns):
            return self.ends == other.ends
        if isinstance(other, (list, tuple, array, range)):
            return len(other) == self._n and list(self) == list(other)
        return NotImplemented

    __hash__ = None   # type: ignore[assignment]

    def __repr__(self) -> str:
        return "PortRuns(" + ",".join(f"{lo}-{hi}" if hi > lo else str(lo) for lo, hi in self.runs()) + ")"


def compact_ports(ports: Sequence[int]) -> array | PortRuns:
    """Ports as an array of 2-byte numbers when they are all port numbers (0-65535), else of 4-byte
    ones: the findings of a 10 M-line log list 5.4 M ports (~11 MB at 2 bytes). Strictly increasing
    port numbers that form fewer runs than half their count are kept as the runs' ends
    (:class:`PortRuns`)."""
    if isinstance(ports, PortRuns):
        return ports
    if not (isinstance(ports, array) and ports.typecode == "H"):
        if not isinstance(ports, (array, list, tuple)):
            ports = list(ports)
        if not (ports and 0 <= min(ports) and max(ports) < 65536):
            return ports if isinstance(ports, array) else array("i", ports)
        ports = array("H", ports)
    if len(ports) < 8:
        return ports
    import numpy as np
    v = np.frombuffer(ports, np.uint16)
    if not (v[1:] > v[:-1]).all():
        return ports
    kept = port_forms(v, (0, len(v)), text=False)[0][0]
    return kept if isinstance(kept, PortRuns) else ports


def port_forms(values, offsets, text: bool = True) -> list[tuple[array | PortRuns, str]]:
    """For each slice ``values[offsets[i]:offsets[i + 1]]`` of strictly increasing port numbers
    (a grouped query's sorted distinct ports, as numpy arrays): the form a finding keeps
    (what :func:`compact_ports` gives) and the range text (what :func:`compress_lines` gives;
    empty without ``text``), the runs of every slice found at once."""
    import numpy as np
    v = np.asarray(values, np.int64)
    offs = np.asarray(offsets, np.int64)
    n = len(offs) - 1
    if n <= 0:
        return []
    nonempty = offs[:-1] < offs[1:]
    if len(v) == 0 or (int(v.min()) >= 0 and int(v.max()) < 65536):
        small = nonempty.copy()
    else:   # (only a damaged log has others) slice by slice, as compact_ports decides
        at = offs[:-1][nonempty]
        small = np.zeros(n, np.bool_)
        small[nonempty] = (np.minimum.reduceat(v, at) >= 0) & (np.maximum.reduceat(v, at) < 65536)
    # a run starts at a slice's first value and wherever a value is not its predecessor + 1
    first = np.zeros(len(v), np.bool_)
    first[offs[:-1][nonempty]] = True
    if len(v) > 1:
        first[1:] |= v[1:] != v[:-1] + 1
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(v)) - 1
    # a run never crosses a slice's end: every slice start is a run start
    run_of = np.searchsorted(starts, offs)          # first run of each slice
    lo, hi = v[starts].tolist(), v[ends].tolist()
    out = []
    for i in range(n):
        a, b = int(offs[i]), int(offs[i + 1])
        r0, r1 = int(run_of[i]), int(run_of[i + 1])
        ranges = ",".join(f"{lo[k]}-{hi[k]}" if hi[k] != lo[k] else str(lo[k]) for k in range(r0, r1)) if text else ""
        if not small[i]:
            kept: array | PortRuns = array("i", v[a:b].astype(np.int32).tobytes())
        elif b - a >= 8 and 2 * (r1 - r0) < b - a:
            e = np.empty(2 * (r1 - r0), np.uint16)
            e[0::2] = v[starts[r0:r1]]
            e[1::2] = v[ends[r0:r1]]
            kept = PortRuns(array("H", e.tobytes()))
        else:
            kept = array("H", v[a:b].astype(np.uint16).tobytes())
        out.append((kept, ranges))
    return out


# One int object per port number, shared by every list of ports: the findings of a 10 M-line log
# list 5.4 M ports, ~190 MB as separate ints and ~45 MB as references to these.
_PORT_INTS = list(range(65536))


def _port_list(ports: array) -> list[int]:
    if ports and 0 <= min(ports) and max(ports) < 65536:
        return list(map(_PORT_INTS.__getitem__, ports))
    return ports.tolist()


def compress_lines(lines: Sequence[int]) -> str:
    """[1,2,3,7,9,10] -> '1-3,7,9-10'. (An array of numbers, as the grouped scan queries give a
    10 M-line log's 5.4 M ports, is cut into runs by numpy: one string per run, not per number.)"""
    if not len(lines):
        return ""
    if isinstance(lines, array) and len(lines) > 32:
        import numpy as np
        v = np.unique(np.frombuffer(lines, dtype=lines.typecode))
        return port_forms(v, (0, len(v)))[0][1]
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
