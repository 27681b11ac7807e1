"""Narrowed copies (detectors._misc.narrowed) hold only the columns their detector names: the
reports are the same as with whole copies, and a detector naming a column some other way is run
again with whole copies instead of failing."""
from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from fwforensics import analysis, detectors, events
from fwforensics.detectors import _misc
from fwforensics.reader import ReadStats

ROOT = Path(__file__).resolve().parents[1]
LAB = Path(__file__).parent / "fixtures" / "lab"


def _report(paths, monkeypatch, named: bool):
    monkeypatch.setattr(_misc, "COPY_NAMED_COLUMNS", named)
    opts = analysis.Options()
    opts.timings = []
    rep = analysis.analyze([str(p) for p in paths], opts, events.connect())
    said = [name for name, _, _ in opts.timings if "narrowed copy" in name]
    return json.dumps(rep["findings"], sort_keys=True, default=str), said


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A 30 k-line log of the benchmark's generator: every narrowing detector has work in it."""
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = tmp_path_factory.mktemp("gen") / "gen.log"
    gen.generate(30_000, str(out), 3, jobs=1)
    return out


def test_named_copies_give_the_same_findings(generated, monkeypatch):
    inputs = [[generated]] + [[p] for p in sorted(LAB.glob("*.log"))]
    narrowing = {"icmp", "worms", "ipaddr", "netbios", "dialup", "trojans", "dns_stale"}
    seen = set()
    for paths in inputs:
        named, said = _report(paths, monkeypatch, True)
        whole, _ = _report(paths, monkeypatch, False)
        assert named == whole, paths
        assert not said, (paths, said)   # no detector needed whole copies
        seen |= {f["id"].split(".")[0] for f in json.loads(named)}
    # the narrowing detectors found something somewhere (so their copies were read)
    assert {"icmp", "worm", "bogon", "netbios", "dialup", "dns"} <= seen, seen


DETECTOR = '''
from fwforensics.detectors import _misc as m

IDS = ()


def detect(ctx):
    col = "icmp" + "_" + "seq"   # a column this source never names as such
    with m.narrowed(ctx, "proto = 'icmp'"):
        ctx.shared["counted"] = ctx.query(f"SELECT count({col}) AS n FROM {ctx.table}")[0]["n"]
    return []
'''


@contextlib.contextmanager
def detector_module(tmp_path, short: str):
    """DETECTOR written to a file and loaded as ``fwforensics.detectors.<short>`` (a detector of
    the package, as narrowed sees it), with a context over a lab log with ICMP records."""
    src = tmp_path / f"{short}.py"
    src.write_text(DETECTOR)
    name = f"fwforensics.detectors.{short}"
    spec = importlib.util.spec_from_file_location(name, src)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
        con = events.connect()
        analysis.load_inputs(con, [str(LAB / "icmp_types.log")], analysis.Options(), ReadStats())
        yield mod, detectors.Context(con=con)
    finally:
        sys.modules.pop(name, None)
        _misc.named_columns.cache_clear()


def test_a_column_named_another_way_reruns_with_whole_copies(tmp_path):
    with detector_module(tmp_path, "seqcount") as (mod, ctx):
        want = ctx.con.execute("SELECT count(icmp_seq) FROM events WHERE proto = 'icmp'").fetchall()[0][0]
        assert want > 0
        assert detectors._detect_once(ctx, mod) == []
        assert ctx.shared["counted"] == want
        assert ctx.shared.get(_misc.WHOLE_COPIES) is True
        assert [r[0] for r in ctx.shared["memory_reruns"]] == ["seqcount"]
        assert "narrowed copy" in ctx.shared["memory_reruns"][0][3]


def test_without_a_readable_source_the_copies_are_whole(tmp_path):
    """An installation without sources (only compiled files): nothing to read the names from, so
    every column is copied."""
    with detector_module(tmp_path, "blind") as (mod, ctx):
        name = mod.__name__
        assert _misc.named_columns(name) is not None
        _misc.named_columns.cache_clear()
        mod.__file__ = str(tmp_path / "blind.pyc")   # (no such file)
        assert _misc.named_columns(name) is None
        assert detectors._detect_once(ctx, mod) == []
        assert ctx.shared["counted"] > 0 and not ctx.shared.get(_misc.WHOLE_COPIES)
        assert "memory_reruns" not in ctx.shared   # whole copies from the start: nothing failed
