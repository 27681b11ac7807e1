"""Detectors on worker threads give exactly the report of detectors run one after another:
same findings in the same order, same assumptions (detectors.run merges in detector order)."""
from __future__ import annotations

import glob
import json
import os

import pytest

from fwforensics import analysis, detectors
from fwforensics.reports.export import _default as _json_default   # (a finding's PortRuns as its list)

HERE = os.path.dirname(__file__)
from _shared import CORPUS as _CORPUS  # noqa: E402
CORPUS = str(_CORPUS) if _CORPUS.is_dir() else ""


def _report(paths, threads, monkeypatch, **opts) -> str:
    monkeypatch.setattr(detectors, "THREADS", threads)
    rep = analysis.analyze(paths, analysis.Options(**opts))
    return json.dumps({k: rep[k] for k in ("findings", "assumptions", "summary", "suppressed")}, default=_json_default)


def _inputs():
    lab = sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log")))
    yield pytest.param(lab, {"home_nets": ["192.0.2.0/24"], "outside_ifs": ["eth0"]}, id="lab-fixtures")
    yield pytest.param(lab, {}, id="lab-fixtures-inferred-home")   # assumptions written by detectors
    yield pytest.param(sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.pcap")))[:12], {}, id="lab-pcaps")
    if CORPUS:
        files = [p for p in glob.glob(os.path.join(CORPUS, "psad", "*")) if not p.endswith(("MANIFEST.md", "SCAN_LOG"))]
        yield pytest.param(sorted(files), {"year": 2013, "suppress": [{"id": "netbios.*"}]}, id="corpus-suppressed")


@pytest.mark.parametrize("paths,opts", list(_inputs()))
def test_threaded_detectors_give_the_same_report(paths, opts, monkeypatch):
    one = _report(paths, 1, monkeypatch, **opts)
    two = _report(paths, 2, monkeypatch, **opts)
    assert json.loads(one)["findings"], "no findings: the comparison would prove nothing"
    assert one == two


def test_readers_of_findings_are_known():
    names = {m.__name__.rsplit(".", 1)[-1] for m in detectors.modules() if detectors._reads_findings(m)}
    assert {"decoys", "advice", "verdict"} <= names


def test_readers_of_findings_wait_only_for_what_they_read():
    """A detector that names the modules it reads (NEEDS) starts once those are filed and sees their
    findings only; any other reader of findings waits for every detector before it; the rest wait
    for nothing. (That the reports stay the same is the test above.)"""
    mods = detectors.modules()
    names = [m.__name__.rsplit(".", 1)[-1] for m in mods]
    waits = dict(zip(names, detectors._waits(mods)))
    assert waits["decoys"] == (names.index("scans") + 1, frozenset(detectors._module("scans").IDS))
    assert waits["ipaddr"] == (max(names.index("smurf"), names.index("flood")) + 1,
                               frozenset(detectors._module("smurf").IDS) | frozenset(detectors._module("flood").IDS))
    assert waits["advice"] == (names.index("advice"), None)
    assert waits["verdict"] == (names.index("verdict"), None)
    assert waits["netbios"] == (0, None)
    for m in mods:   # NEEDS names modules that run before
        for need in getattr(m, "NEEDS", ()):
            assert names.index(need) < names.index(m.__name__.rsplit(".", 1)[-1])
    # with only some detectors, a need that is not run is not waited for
    sub = [m for m in mods if m.__name__.rsplit(".", 1)[-1] in ("smurf", "ipaddr")]
    assert detectors._waits(sub) == [(0, None), (1, frozenset(detectors._module("smurf").IDS))]
    sub = [m for m in mods if m.__name__.rsplit(".", 1)[-1] in ("decoys",)]
    assert detectors._waits(sub) == [(0, frozenset())]


def test_the_long_detectors_that_start_first_exist_and_wait_for_few():
    # (START_FIRST is a start order only; that the findings are the same is the test above)
    mods = {m.__name__.rsplit(".", 1)[-1]: m for m in detectors.modules()}
    assert detectors.START_FIRST and len(set(detectors.START_FIRST)) == len(detectors.START_FIRST)
    for name in detectors.START_FIRST:
        # none waits for every detector before it (one that did could not start first)
        m = mods[name]
        assert not detectors._reads_findings(m) or getattr(m, "NEEDS", None) is not None


def test_detectors_side_by_side_share_the_engine_threads(monkeypatch):
    """With two detectors running side by side, each query gets one of DuckDB's two threads (a core
    each), and the setting is put back afterwards; one after another, each query has both."""
    from fwforensics import events
    from fwforensics.detectors import port_zero
    from fwforensics.reader import ReadStats
    lab = sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log")))
    con = events.connect(spill=False)
    analysis.load_inputs(con, lab, analysis.Options(), ReadStats())
    seen = []
    real = port_zero.detect

    def detect(ctx):
        seen.append(int(ctx.con.execute("SELECT current_setting('threads')").fetchall()[0][0]))
        return real(ctx)
    monkeypatch.setattr(port_zero, "detect", detect)
    for threads, want in ((2, 1), (1, 2)):
        monkeypatch.setattr(detectors, "THREADS", threads)
        assert int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]) == 2
        assert detectors.run(detectors.Context(con=con))
        assert seen.pop() == want
        assert int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]) == 2


def test_unwanted_findings_keep_their_counts_but_carry_no_samples():
    """Context.wanted (watch: findings already alerted): the same findings with the same counts and
    time spans; only the wanted ones carry line ranges and samples. (The verdict, which counts the
    records behind other findings from their line ranges, is the one finding that differs: watch
    never sends it.)"""
    from fwforensics import events
    from fwforensics.reader import ReadStats
    lab = sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log")))
    con = events.connect(spill=False)
    analysis.load_inputs(con, lab, analysis.Options(), ReadStats())
    full = detectors.run(detectors.Context(con=con))
    ids = sorted({f.id for f in full})
    assert len(ids) >= 4
    keep = set(ids[::2])
    part = detectors.run(detectors.Context(con=con, wanted=lambda fid, src: fid in keep))
    full = [f for f in full if f.id != "verdict"]
    part = [f for f in part if f.id != "verdict"]
    key = lambda f: (f.id, f.src, f.summary)   # noqa: E731
    assert [key(f) for f in part] == [key(f) for f in full]
    dropped = 0
    for a, b in zip(full, part):
        assert (a.count, a.first_seen, a.last_seen) == (b.count, b.first_seen, b.last_seen)
        if a.id in keep:
            assert a.to_dict() == b.to_dict()
        elif b.evidence.samples != a.evidence.samples:   # (evidence a detector computed itself stays)
            assert b.evidence.samples == [] and b.evidence.files == {} and b.evidence.records == a.count
            dropped += 1
    assert dropped


def test_detector_reruns_with_more_memory_when_a_query_cannot_spill(tmp_path, monkeypatch):
    """Over an on-disk database the detectors run under DuckDB's memory limit (on threads here: the
    table is small enough to stay cached); a detector whose query runs out of memory is run again,
    on one thread and then with the limit doubled (and both settings are put back), so a low limit
    never loses findings. 4 MB
    is too little for scans on 20 k lines. The same one detector after another (a large table)."""
    import subprocess
    import sys
    import duckdb
    from fwforensics import analysis, detectors, events
    from fwforensics.reader import ReadStats
    log = tmp_path / "fw.log"
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "bench", "generate.py"),
                    "--lines", "20000", "--out", str(log)], check=True, capture_output=True)
    con = events.connect()
    with events.work_database(con, 10 ** 9):
        analysis.load_inputs(con, [str(log)], analysis.Options(), ReadStats())
        assert events.on_disk(con) and events.cached_whole(con)
        want = [f.to_dict() for f in detectors.run(detectors.Context(con=con))]

        def low_memory_run() -> list[dict]:
            con.execute("SET memory_limit = '4MiB'")
            limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
            assert threads > 1
            monkeypatch.setattr(detectors, "MEMORY_RETRIES", 0)
            # without reruns, detectors fail: each is said once, in detector order, and the run goes on
            starved = detectors.Context(con=con)
            rest = detectors.run(starved)
            names = [m.__name__.rsplit(".", 1)[-1] for m in detectors.modules()]
            failed = [d["detector"] for d in starved.failures]
            assert failed and failed == sorted(set(failed), key=names.index)
            assert all(d["error"].startswith("OutOfMemoryException: ") and d["ids"] for d in starved.failures)
            others = {i for m in detectors.modules() if m.__name__.rsplit(".", 1)[-1] not in failed for i in m.IDS}
            assert not {f.id for f in rest} & ({i for d in starved.failures for i in d["ids"]} - others)
            monkeypatch.setattr(detectors, "RAISE_FAILURES", True)   # (--debug)
            with pytest.raises(duckdb.OutOfMemoryException):
                detectors.run(detectors.Context(con=con))
            monkeypatch.setattr(detectors, "RAISE_FAILURES", False)
            monkeypatch.setattr(detectors, "MEMORY_RETRIES", 8)
            took: list = []
            last = detectors.Context(con=con)
            out = [f.to_dict() for f in detectors.run(last, timings=took)]
            assert last.failures == []
            # each try that ran out of memory is said in the timings, after the detectors' own rows
            names = [t[0] for t in took]
            said = [n for n in names if ": out of DuckDB memory, " in n]
            assert said and names[:len(names) - len(said)] == [n for n in names if n not in said]
            assert any("rerun" in n for n in said) and all(t[1] >= 0 for t in took)
            assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == limit
            assert con.execute("SELECT current_setting('threads')").fetchall()[0][0] == threads   # (a rerun was on one)
            return out

        got = low_memory_run()   # on threads
        monkeypatch.setattr(events, "BIG_TABLE_BYTES", 0)   # now one after another
        assert not events.cached_whole(con)
        again = low_memory_run()
    # (which findings differ first, by id, source and count; then everything)
    brief = lambda fs: [(f["id"], f["src"], f["count"]) for f in fs]  # noqa: E731
    assert len(want) > 20 and brief(got) == brief(want) and brief(again) == brief(want)
    assert got == want and again == want
