"""Log formats: one module per format, lines in, rows of the event schema out.

A format module exposes a module-level object ``FORMAT`` of class :class:`Format`
(or a subclass) and is listed in :data:`MODULES`. The framework gives each
format batches of decoded lines (a ``pyarrow.StringArray``) with the number of
the first line; the format returns a :class:`ParseResult`:

* ``batch``: an Arrow record batch conforming to :data:`fwforensics.schema.EVENT_SCHEMA`
  (build it with :func:`fwforensics.schema.conform`),
* ``unreadable``: lines that look like records of this format but could not be
  decoded, each as ``(line_number, reason)``,
* ``skipped``: how many lines were recognised as not being records at all
  (blank lines, headers, comments, unrelated syslog programs).

``records_read + len(unreadable) + skipped`` equals the number of lines given:
nothing is lost without being counted.

Formats are chosen by :func:`detect`, which asks every format's ``sniff`` for a
confidence in [0, 1] on the first lines of an input.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

import pyarrow as pa

def _discover() -> list[str]:
    """Every module of this package not starting with '_' is a format (it must define FORMAT)."""
    import pkgutil
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


MODULES: list[str] = _discover()


@dataclass
class ParseContext:
    """What a reader needs to know beyond the lines themselves."""

    source_file: str = "-"
    year: int | None = None          # year of the first record (syslog lines have none)
    tz: tzinfo | str | None = None   # zone of timestamps that carry none; None = UTC
    reference_time: float | None = None  # epoch seconds the log is known to end by (file mtime)
    state: dict[str, Any] = field(default_factory=dict)  # a reader's carry-over between batches
    # False: ``analyze`` reads the sampled lines back by number (Format.raw_is_line), so a format
    # whose raw is its line may drop the text early and leave ``raw`` null
    keep_raw: bool = True
    # event columns the caller drops: a reader may leave them null rather than compute them
    leave_out: frozenset = frozenset()


@dataclass
class ParseResult:
    batch: pa.RecordBatch
    unreadable: list[tuple[int, str]]
    skipped: int


class Format:
    name: str = ""
    description: str = ""
    example: str = ""
    binary: bool = False  # True for captures: parse_file is used instead of parse
    priority: int = 0     # on equal sniff scores the higher priority wins
    # True when every record's ``raw`` is exactly the input line numbered ``line`` (as the reader
    # splits and decodes it): ``analyze`` may then leave the text out of its events table and read
    # back the few lines its evidence samples show (reader.lines_at)
    raw_is_line: bool = False

    def sniff(self, sample: list[str]) -> float:
        """Confidence in [0, 1] that these first lines of an input are in this format."""
        return 0.0

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext) -> ParseResult:  # pragma: no cover
        """Text formats: one batch of decoded lines in, events out."""
        raise NotImplementedError

    def end(self, ctx: ParseContext) -> "ParseResult | None":
        """At the end of an input: what a reader still holds over from its last batch (a record
        whose remaining lines never came), as a last result; None when nothing is held."""
        return None

    def sniff_bytes(self, head: bytes) -> float:
        """Binary formats: confidence from the first bytes of an input (magic numbers)."""
        return 0.0

    def parse_file(self, stream, ctx: ParseContext):  # pragma: no cover - binary formats override
        """Binary formats: a byte stream in, an iterator of ParseResult out (bounded batches)."""
        raise NotImplementedError


_registry: dict[str, Format] | None = None


def registry() -> dict[str, Format]:
    global _registry
    if _registry is None:
        reg: dict[str, Format] = {}
        for mod in MODULES:
            m = importlib.import_module(f"{__name__}.{mod}")
            fmt = m.FORMAT
            reg[fmt.name] = fmt
        _registry = reg
    return _registry


def get(name: str) -> Format:
    reg = registry()
    if name not in reg:
        raise KeyError(f"unknown format {name!r}; known: {', '.join(sorted(reg))}")
    return reg[name]


def detect(sample: list[str]) -> tuple[Format | None, float]:
    """Pick the format that claims the sample with the highest confidence."""
    best, best_score = None, 0.0
    for fmt in registry().values():
        if fmt.binary:
            continue
        try:
            score = float(fmt.sniff(sample))
        except Exception:  # a sniffer must never break detection
            score = 0.0
        if score > best_score or (score == best_score and best is not None and score > 0
                                  and fmt.priority > best.priority):
            best, best_score = fmt, score
    return best, best_score


def parse_line(text: str, fmt: str | None = None, ctx: ParseContext | None = None) -> dict | None:
    """Parse one log line with the named (or detected) format; the event as a dict, or None."""
    text = text.rstrip("\r\n")
    f = get(fmt) if fmt else detect([text])[0]
    if f is None or f.binary:
        return None
    res = f.parse(pa.array([text], pa.string()), 1, ctx or ParseContext())
    if res.batch.num_rows == 0:
        return None
    return res.batch.slice(0, 1).to_pylist()[0]
