"""The records' order (time, file, line) that evidence samples and the windows of the detectors
use: the file is left out of the sort only when every record comes from one file."""
from __future__ import annotations

import shutil

from fwforensics import analysis, events
from fwforensics.analysis import Options, analyze
from fwforensics.detectors import Context
from fwforensics.reader import ReadStats

from _detect_util import LAB, LAB_HOME, run


def _ctx(paths) -> Context:
    con = events.connect()
    analysis.load_inputs(con, [str(p) for p in paths], analysis.Options(), ReadStats())
    return Context(con=con)


def test_one_file_sorts_by_time_and_line():
    assert _ctx([LAB / "block_scan.log"]).record_order() == "ts, line"


def test_two_files_sort_by_time_file_and_line(tmp_path):
    b = tmp_path / "copy.log"
    shutil.copy(LAB / "block_scan.log", b)
    assert _ctx([LAB / "block_scan.log", b]).record_order() == "ts, source_file, line"


def test_samples_of_two_copies_come_file_by_file_within_a_second(tmp_path):
    # two copies of one capture: records of the same second are ordered by file, then line, so a
    # scan's first samples are the first file's lines (ordered by line only, they would alternate)
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    shutil.copy(LAB / "block_scan.log", a)
    shutil.copy(LAB / "block_scan.log", b)
    found = [f for f in run(a) if f["id"].startswith("scan.") and len(f["evidence"]["samples"]) >= 3]
    assert found
    both = {(f["id"], f["src"], f["first_seen"]): f for f in analyze([str(a), str(b)], Options(**LAB_HOME))["findings"]}
    for f in found:
        g = both[(f["id"], f["src"], f["first_seen"])]
        keys = [(s["file"], s["line"]) for s in g["evidence"]["samples"]]
        # they begin with the one-file run's first sample, and a.log's lines never follow b.log's
        assert keys[0] == (str(a), f["evidence"]["samples"][0]["line"])
        files = [k[0] for k in keys]
        assert files == sorted(files, key=lambda x: x != str(a))



def _runs(ctx, rows, keys=""):
    k = f"{keys}, " if keys else ""
    return sorted(tuple(r.values()) for r in ctx.query(f"SELECT {k}source_file, lo, hi FROM ({ctx.islands(rows, keys)}) i"))


def test_line_runs_of_one_file_match_the_general_sql_with_repeated_lines():
    ctx = _ctx([LAB / "block_scan.log"])
    assert ctx.single_file()[0]
    # gaps (every third line left out), a line listed twice, and two keys
    rows = ("SELECT line % 2 AS k, source_file, line FROM events WHERE line % 3 <> 0 "
            "UNION ALL SELECT line % 2 AS k, source_file, line FROM events WHERE line < 40")
    fast = _runs(ctx, rows, "k"), _runs(ctx, "SELECT source_file, line FROM events WHERE line % 5 <> 1")
    ctx.shared[("one_file", "events")] = (False, None)   # the general SQL (DISTINCT, per file)
    general = _runs(ctx, rows, "k"), _runs(ctx, "SELECT source_file, line FROM events WHERE line % 5 <> 1")
    assert fast == general and len(fast[0]) > 10 and len(fast[1]) > 10
    assert fast[1][0][0] == str(LAB / "block_scan.log")
