"""Helpers for the firewall-format tests: Wazuh / OSSEC ruleset INI lines, reading a file."""
from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from fwforensics.reader import ReadStats, read_events

from _shared import CORPUS  # noqa: E402
SAMPLES = Path(__file__).resolve().parent / "fw_samples"

_LOG = re.compile(r"^log \d+ (pass|fail) = (.*)$")


def ini_lines(path: Path, outcome: str | None = "pass") -> list[str]:
    """The raw vendor lines of a Wazuh/OSSEC ruleset test INI (``log N pass = <line>``)."""
    out = []
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LOG.match(text)
        if m and (outcome is None or m.group(1) == outcome):
            out.append(m.group(2))
    return out


def read(path, fmt: str | None = None, **kw):
    """Read one file through the real reader; (table, FileStats)."""
    stats = ReadStats()
    batches = list(read_events([str(path)], stats=stats, fmt=fmt, **kw))
    from fwforensics.schema import EVENT_SCHEMA
    table = pa.Table.from_batches(batches, schema=EVENT_SCHEMA)
    return table, stats.files[0]


def rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()
