"""bench/run.py reads `analyze --timings` from a real run and renders where the time goes."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_phases_from_a_real_run_become_the_table():
    R = _bench()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    runs = []
    for log in ("examples/sample.log", "tests/fixtures/lab/block_scan.log"):
        p = subprocess.run([sys.executable, "-m", "fwforensics", "analyze", log, "--json", "--no-progress", "--timings"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        assert p.returncode == 0, p.stderr
        runs.append(R.parse_timings(p.stderr))
    assert R.parse_timings("no timings here\n") == {}
    for ph in runs:
        assert "read and load" in ph and "detector scans" in ph and "total (start-up not included)" in ph
    rows = [{"tool": "fwforensics analyze", "size": "10k", "phases": runs[0]},
            {"tool": "fwforensics analyze", "size": "1m", "phases": runs[1]},
            {"tool": "cat", "size": "1m"}]
    text = "\n".join(R.phase_table(rows, top=5))
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| ---")]
    assert lines[0] == "| phase | 10k | 1m |"
    assert len(lines) == 1 + 5 + 2   # header, the five longest, everything else, total
    total = "total (start-up not included)"
    assert lines[-1] == f"| **{total}** | **{runs[0][total]:.2f}** | **{runs[1][total]:.2f}** |"
    # the five shown plus everything else add up to the sum of the phases
    shown = [ln.split(" | ") for ln in lines[1:-1]]
    for col, ph in enumerate(runs, start=1):
        got = sum(float(c[col].strip(" |")) for c in shown)
        assert abs(got - sum(v for k, v in ph.items() if k != total)) < 0.01 * 7 + 1e-9
    assert R.phase_table([{"tool": "cat", "size": "1m"}]) == []


def test_the_package_is_timed_as_installed_with_its_bytecode(tmp_path, monkeypatch):
    """byte_compile writes, for every module of the package, the bytecode that Python reads instead
    of compiling the source (its header carries the source's time and size), whatever
    PYTHONDONTWRITEBYTECODE says."""
    import importlib.util
    import shutil
    import struct
    R = _bench()
    shutil.copytree(ROOT / "src" / "fwforensics", tmp_path / "src" / "fwforensics",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    monkeypatch.setattr(R, "ROOT", tmp_path)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    sources = sorted((tmp_path / "src" / "fwforensics").rglob("*.py"))
    assert len(sources) > 50 and not list((tmp_path / "src").rglob("*.pyc"))
    R.byte_compile()
    for src in sources:
        cached = Path(importlib.util.cache_from_source(str(src)))
        head = cached.read_bytes()[:16]
        assert head[:4] == importlib.util.MAGIC_NUMBER, src
        flags, mtime, size = struct.unpack("<III", head[4:16])
        st = src.stat()
        assert flags == 0 and mtime == int(st.st_mtime) & 0xFFFFFFFF and size == st.st_size & 0xFFFFFFFF, src
