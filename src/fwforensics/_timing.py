"""Marks for ``analyze --timings``: a phase's name, its wall seconds and the process's memory
high-water mark when it ended (which phase raised the peak shows where memory goes)."""
from __future__ import annotations

import contextlib
import resource
import sys
import time


def peak_mb() -> float:
    """The most resident memory this process has held so far, in MB."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)   # macOS reports bytes


def mark(name: str, seconds: float) -> tuple[str, float, float]:
    return name, seconds, peak_mb()


@contextlib.contextmanager
def phase(timings: list | None, name: str):
    """``with phase(timings, "load"):`` appends the block's mark to ``timings`` (when not None)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings.append(mark(name, time.perf_counter() - t0))
