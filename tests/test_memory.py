"""Process memory: glibc's malloc told to give freed memory back (events.py), the detectors' DuckDB
limit, compact findings."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from fwforensics import events


def _generated(tmp_path, lines, *more: str):
    """bench/generate.py's log of ``lines`` lines (and options ``more``) in ``tmp_path``, made once."""
    log = tmp_path / f"fw-{lines}{''.join(more)}.log"
    if not log.exists():
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "bench", "generate.py"),
                        "--lines", str(lines), *more, "--out", str(log)], check=True, capture_output=True)
    return log

PROBE = r"""
import ctypes, sys
from fwforensics import events
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20
if sys.argv[1] == "fixed":
    assert events.fixed_trim_threshold()
# one large block freed: glibc left to itself raises its thresholds (as a freed read block does)
p = libc.malloc(24 << 20); ctypes.memset(p, 1, 24 << 20); libc.free(p)
before = rss()
blocks = [libc.malloc(1 << 20) for _ in range(32)]
for b in blocks:
    ctypes.memset(b, 1, 1 << 20)
for b in reversed(blocks):
    libc.free(b)
print(rss() - before)
"""


def _kept_mb(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux") or "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""),
                    reason="glibc only")
def test_freed_memory_goes_back_to_the_system():
    # without the setting, 32 MB freed after a large block stay in the process; with it they go back
    assert _kept_mb("adaptive") >= 24
    assert _kept_mb("fixed") <= 8


def test_trim_setting_can_be_turned_off():
    assert events.fixed_trim_threshold(-1) is False


def _limit_of_a_load(tmp_path, monkeypatch, loaded: bool, **patch) -> str:
    """DuckDB's limit after loading a 5 000-line log into the work database (``loaded``: after
    ``events.loaded``, what the detectors get; else after the last insert statement), with the
    ``events`` settings in ``patch``."""
    from fwforensics import analysis
    from fwforensics.reader import ReadStats
    log = _generated(tmp_path, 5000)
    for name, value in patch.items():
        monkeypatch.setattr(events, name, value)
    con = events.connect()
    with events.work_database(con, 10 ** 8):
        analysis.load_inputs(con, [str(log)], analysis.Options(), ReadStats())
        if loaded:
            events.loaded(con)
        assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] > 4000
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_a_long_load_goes_on_with_less_duckdb_memory_once_its_table_has_grown(tmp_path, monkeypatch):
    assert _as_duckdb_says(events.LOAD_MEMORY_BIG) != _as_duckdb_says(events.LOAD_MEMORY)
    # insert statements of 1 000 rows: after each, the limit follows the table's size
    for big, want in ((1 << 40, events.LOAD_MEMORY), (0, events.LOAD_MEMORY_BIG)):
        got = _limit_of_a_load(tmp_path, monkeypatch, False, INSERT_ROWS=1000, LOAD_BIG_TABLE_BYTES=big)
        assert got == _as_duckdb_says(want)


def test_a_load_known_to_be_big_starts_with_less_duckdb_memory():
    def first_limit(size):
        con = events.connect()
        with events.work_database(con, size):
            return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert first_limit(events.LOAD_BIG_INPUT_BYTES + 1) == _as_duckdb_says(events.LOAD_MEMORY_BIG)
    assert first_limit(events.LOAD_BIG_INPUT_BYTES) == _as_duckdb_says(events.LOAD_MEMORY)
    assert first_limit(None) == _as_duckdb_says(events.LOAD_MEMORY)   # standard input: size unknown


def _as_duckdb_says(limit: str) -> str:
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{limit}'")
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_detectors_get_less_duckdb_memory_over_a_table_too_big_to_cache(tmp_path, monkeypatch):
    # (both are 250 MB by default; FWF_MEMORY_LIMIT_BIG sets the second, as here)
    monkeypatch.setattr(events, "WORK_MEMORY_BIG", "90MB")
    assert _as_duckdb_says(events.WORK_MEMORY_BIG) != _as_duckdb_says(events.WORK_MEMORY)
    # a small work database: WORK_MEMORY; one larger than BIG_TABLE_BYTES: WORK_MEMORY_BIG
    for big, want in ((1 << 40, events.WORK_MEMORY), (0, events.WORK_MEMORY_BIG)):
        assert _limit_of_a_load(tmp_path, monkeypatch, True, BIG_TABLE_BYTES=big) == _as_duckdb_says(want)


def test_finding_ports_are_kept_in_two_bytes_when_they_are_port_numbers():
    from array import array
    from fwforensics.findings import Finding
    f = Finding("scan.horizontal", "low", "192.0.2.9", "s", ports=[0, 80, 65535, 80])
    assert f.ports.itemsize == 2 and f.to_dict()["ports"] == [0, 80, 65535, 80]
    f = Finding("scan.horizontal", "low", "192.0.2.9", "s", ports=array("i", range(0, 60000, 2)))
    assert f.ports.itemsize == 2 and f.to_dict()["ports"] == list(range(0, 60000, 2))
    # anything that is not a port number keeps the wider array, values unchanged
    f = Finding("scan.horizontal", "low", "192.0.2.9", "s", ports=array("i", [-1, 70000]))
    assert f.ports.itemsize == 4 and f.to_dict()["ports"] == [-1, 70000]
    assert Finding("port_zero", "low", None, "s").to_dict()["ports"] == []


def test_finding_ports_in_runs_are_kept_as_the_runs_ends():
    """A scan's ports are mostly runs (1-1024, 6000-6063): strictly increasing ports in fewer runs
    than half their count keep only each run's two ends, and still read as the list they stand for
    (length, order, indexing, membership, equality, the report), on random port sets."""
    import random
    from array import array
    from fwforensics.findings import Finding, PortRuns
    f = Finding("scan.vertical", "low", "192.0.2.9", "s", ports=list(range(1, 1025)) + [3389] + list(range(6000, 6064)))
    assert isinstance(f.ports, PortRuns) and list(f.ports.ends) == [1, 1024, 3389, 3389, 6000, 6063]
    assert len(f.ports) == 1089 and f.ports[1024] == 3389 and f.ports[-1] == 6063 and 6010 in f.ports
    assert 1025 not in f.ports and f.to_dict()["ports"] == list(range(1, 1025)) + [3389] + list(range(6000, 6064))
    rnd = random.Random(5)
    for _ in range(500):
        want = sorted(set(rnd.choice((rnd.randint(0, 65535), rnd.randint(0, 80))) for _ in range(rnd.randint(0, 90))))
        got = Finding("scan.vertical", "low", "192.0.2.9", "s", ports=want).ports
        assert isinstance(got, (PortRuns, array)) and list(got) == want and len(got) == len(want)
        assert not isinstance(got, PortRuns) or got == want
        assert all((p in got) == (p in want) for p in range(0, 90)) and [got[i] for i in range(len(want))] == want
    # ports out of order or repeated keep their order and repeats (an array)
    assert Finding("scan.vertical", "low", None, "s", ports=[5, 1, 2, 3, 4, 5, 6, 7, 8, 9]).to_dict()["ports"] == \
        [5, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_finding_to_dict_is_what_asdict_gives_and_shares_nothing():
    """Finding.to_dict builds the JSON shape by hand (dataclasses.asdict cost ~0.1 ms per finding):
    the same keys in the same order and the same values as asdict, nested dataclasses and
    containers included, copies that share nothing with the finding, on findings of a real run."""
    import dataclasses
    from collections import OrderedDict
    from datetime import datetime, timezone
    from fwforensics import analysis, detectors
    from fwforensics.findings import Evidence, Finding

    def by_asdict(f):
        d = dataclasses.asdict(dataclasses.replace(f, ports=()))
        d["ports"] = list(f.ports)
        for k in ("first_seen", "last_seen"):
            d[k] = d[k].isoformat().replace("+00:00", "Z") if isinstance(d[k], datetime) else d[k]
        return d

    @dataclasses.dataclass
    class Inner:
        a: list
        b: tuple = (1, ("x", [2]))

    f = Finding("scan.vertical", "high", "192.0.2.9", "s", targets=["198.51.100.1"], ports=[22, 80],
                first_seen=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), count=3,
                evidence=Evidence(records=3, files={"a.log": "1-3"}, samples=[{"file": "a.log", "line": 1, "raw": "x"}]),
                details={"inner": Inner([{"z": 1}]), "od": OrderedDict(b=1, a=[2]), "t": (1, [2, 3]),
                         "n": None, "f": 1.5, "ok": True, 7: "seven"}, confidence="high")
    got, want = f.to_dict(), by_asdict(f)
    assert list(got.items()) == list(want.items()) and list(got) == list(want)
    assert type(got["details"]["od"]) is OrderedDict
    assert got["details"]["inner"] == {"a": [{"z": 1}], "b": (1, ("x", [2]))}
    got["details"]["t"][1].append(4)
    got["evidence"]["samples"][0]["raw"] = "changed"
    got["details"]["od"]["a"].append(9)
    assert f.details["t"] == (1, [2, 3]) and f.evidence.samples[0]["raw"] == "x" and f.details["od"]["a"] == [2]
    # every finding of a real run
    seen = []
    real = detectors.run

    def run(ctx, **kw):
        out = real(ctx, **kw)
        seen.extend(out)
        return out
    detectors.run = run
    try:
        analysis.analyze([os.path.join(os.path.dirname(__file__), os.pardir, "examples", "sample.log")],
                         analysis.Options())
    finally:
        detectors.run = real
    assert len(seen) >= 3
    for f in seen:
        got, want = f.to_dict(), by_asdict(f)
        assert list(got) == list(want) and {k: v for k, v in got.items() if k != "ports"} == \
            {k: v for k, v in want.items() if k != "ports"} and list(got["ports"]) == want["ports"]


def test_port_arrays_take_the_numpy_path_with_the_same_results():
    """Arrays of ports (as the grouped scan queries give them) are cut into runs and checked for
    order by numpy: the same text and the same kept form as from the list of the distinct ports,
    for sorted and unsorted, repeated, 2- and 4-byte, small and large arrays."""
    import random
    from array import array
    from fwforensics.detectors import _port_set
    from fwforensics.findings import compact_ports, compress_lines
    rnd = random.Random(11)
    for _ in range(400):
        xs = [rnd.choice((rnd.randrange(70000), rnd.randrange(100))) for _ in range(rnd.randrange(0, 300))]
        if rnd.random() < 0.4:
            xs = sorted(set(xs))
        for tc in "iHq":
            ys = [x for x in xs if tc != "H" or x < 65536]
            a = array(tc, ys)
            assert compress_lines(a) == compress_lines(list(ys))
            got, want = _port_set(a), compact_ports(sorted(set(ys)))
            assert list(got) == list(want) and type(got) is type(want)
            assert getattr(got, "typecode", None) == getattr(want, "typecode", None)
    assert compress_lines(array("i", [9, 1, 2, 3] + list(range(40, 80)) + [3])) == "1-3,9,40-79"


def test_port_forms_of_grouped_ports_equal_compact_ports_and_compress_lines():
    """findings.port_forms (every group's sorted distinct ports cut into runs at once, as the
    grouped scan query gives them) keeps what compact_ports keeps and writes what compress_lines
    writes, group by group: runs, scattered, short, empty groups, and groups with numbers that are
    not ports (a damaged log) next to ordinary ones; _port_set passes its forms through unchanged."""
    import random
    from array import array
    import numpy as np
    from fwforensics.detectors import _port_set
    from fwforensics.findings import PortRuns, compact_ports, compress_lines, port_forms
    rnd = random.Random(5)
    for big in (False, True):
        groups = []
        for _ in range(1500):
            k = rnd.choice([0, 1, 2, 7, 8, 9, 33, 200])
            r = rnd.random()
            if r < 0.35:
                top = 70000 if big and rnd.random() < 0.1 else 65536
                g = sorted({rnd.randrange(top) for _ in range(k)})
            elif r < 0.7:
                a = rnd.randrange(65536 - k)
                g = list(range(a, a + k))
            else:
                g = sorted({x for _ in range(3) for x in range(*sorted((rnd.randrange(65536), rnd.randrange(65536))))})[:k]
            groups.append(g)
        vals = np.array([p for g in groups for p in g], np.int32)
        offs = np.cumsum([0] + [len(g) for g in groups])
        forms = port_forms(vals, offs)
        assert len(forms) == len(groups)
        runs = 0
        for g, (kept, text) in zip(groups, forms):
            want = compact_ports(list(g))
            assert list(kept) == list(want) and type(kept) is type(want)
            assert getattr(kept, "typecode", None) == getattr(want, "typecode", None)
            assert text == compress_lines(g)
            assert _port_set(kept) is kept or list(_port_set(kept)) == list(kept)
            runs += isinstance(kept, PortRuns)
        assert runs > 100
        assert any(max(g, default=0) >= 65536 for g in groups) == big


def test_report_dict_keeps_ports_in_runs_and_every_writer_prints_the_list(capsys):
    """The report's dict holds a finding's PortRuns itself (not a list of its ports: the findings
    of a 10 M-line log list 5.4 M ports, ~43 MB as lists, held while the country database loads);
    JSON, NDJSON and the CLI's JSON print the list, with nothing of the finding changed."""
    import io
    import json
    from fwforensics.cli import _dump
    from fwforensics.findings import Finding, PortRuns
    from fwforensics.reports import export
    ports = list(range(1, 1025)) + [3389] + list(range(6000, 6064))
    f = Finding("scan.vertical", "low", "192.0.2.9", "s", ports=ports)
    runs = f.ports
    d = f.to_dict()
    assert d["ports"] is runs and f.ports is runs and d["ports"] == ports
    rep = {"findings": [d]}
    buf = io.StringIO()
    export.write_json(rep, buf)
    assert json.loads(buf.getvalue())["findings"][0]["ports"] == ports
    assert json.loads(next(export.ndjson_lines(rep)))["finding"]["ports"] == ports
    _dump(d)
    assert json.loads(capsys.readouterr().out)["ports"] == ports
    assert isinstance(Finding("x", "low", None, "s", ports=[7, 19]).to_dict()["ports"], list)
    assert not isinstance(d["ports"], list) and isinstance(d["ports"], PortRuns)


def test_findings_of_one_source_share_its_zen_reading():
    """A source's findings (a scan's shape and flavour findings) hold one Zen dict between them,
    not a copy each, and every report still shows it in full."""
    from pathlib import Path
    from fwforensics import analysis, detectors
    from fwforensics.reader import ReadStats
    log = Path(__file__).parent / "fixtures" / "lab" / "nmap_syn.log"
    con = events.connect()
    analysis.load_inputs(con, [str(log)], analysis.Options(), ReadStats())
    found = [f for f in detectors.run(detectors.Context(con=con)) if f.details.get("zen")]
    by_src: dict = {}
    for f in found:
        by_src.setdefault(f.src, []).append(f)
    shared = [fs for fs in by_src.values() if len(fs) > 1]
    assert shared, [(f.id, f.src) for f in found]
    for fs in shared:
        assert all(f.details["zen"] is fs[0].details["zen"] for f in fs)
        assert all(f.to_dict()["details"]["zen"] == fs[0].details["zen"] for f in fs)
        assert "initial_ttl" in fs[0].details["zen"]



@contextlib.contextmanager
def _generated_work_table(tmp_path, lines: int):
    """A detector context over the work database of a generated log of ``lines`` lines (seed 7),
    loaded as ``analyze`` loads it, on DuckDB's two threads."""
    from fwforensics import analysis, detectors
    from fwforensics.detectors import _us
    from fwforensics.reader import ReadStats
    log = _generated(tmp_path, lines, "--seed", "7")
    con = events.connect()
    with events.work_database(con, 10 ** 8):
        analysis.load_inputs(con, [str(log)], analysis.Options(defer_raw=True, narrow=True), ReadStats())
        events.loaded(con)
        ctx = detectors.Context(con=con, cfg={}, home_nets=[], outside_ifs=[])
        _us.infer(ctx)
        assert con.execute("SELECT current_setting('threads')").fetchall()[0][0] == 2
        yield ctx


def _same_findings_within(ctx, mod, limit: str, at_least: int) -> None:
    """``mod.detect`` finds the same (and at least ``at_least`` findings) under DuckDB's ``limit``
    as under the detectors' usual limit, without running out of memory."""
    import duckdb
    want = [f.to_dict() for f in mod.detect(ctx)]
    assert len(want) >= at_least
    ctx.con.execute(f"SET memory_limit = '{limit}'")
    try:
        got = [f.to_dict() for f in mod.detect(ctx)]
    except duckdb.OutOfMemoryException as e:   # (said plainly rather than as an error)
        pytest.fail(f"{mod.__name__} ran out of {limit}: {e}")
    assert got == want


def test_scan_sessions_are_counted_within_a_small_duckdb_limit_on_two_threads(tmp_path):
    """The scans' per-session counts go through temporary tables DuckDB can spill: over a generated
    300 k-line log (~270 scan findings) they fit 48 MB on two threads (40 MB is enough), where the
    former single query, with its large common table expressions held in memory, needed ~70 MB
    (and over a 10 M-line log ran out of the detectors' 90 MB and was rerun on one thread)."""
    from fwforensics.detectors import scans
    with _generated_work_table(tmp_path, 300_000) as ctx:
        _same_findings_within(ctx, scans, "48MB", 200)


def test_proxy_sessions_are_counted_within_a_small_duckdb_limit_on_two_threads(tmp_path):
    """The same for the proxy hunters' sessions: over a generated 3 M-line log their counts fit
    50 MB on two threads (40 MB is enough); the former query, holding its sessions' probes as a
    common table expression, ran out of 60 MB there and of 70 MB over 10 M lines."""
    from fwforensics.detectors import proxy
    with _generated_work_table(tmp_path, 3_000_000) as ctx:
        _same_findings_within(ctx, proxy, "50MB", 40)


def test_the_estimate_counts_lines_and_the_text_a_reader_keeps(tmp_path):
    import gzip
    from fwforensics.reader import estimate, ESTIMATE_HEAD_BYTES
    log = _generated(tmp_path, "3000")   # smaller than the head read: counted exactly
    n = log.read_bytes().count(b"\n")
    assert estimate([str(log)]) == (n, 0)          # netfilter: its lines are read back, not kept
    assert estimate([str(log)], defer_raw=False) == (n, log.stat().st_size)   # ... unless kept (--events-out)
    assert estimate([str(log), str(log)]) == (2 * n, 0)
    # a larger file: guessed from its head, close to the truth
    body = log.read_bytes()
    (tmp_path / "long.log").write_bytes(body * (3 * ESTIMATE_HEAD_BYTES // len(body) + 1))
    long_n = (tmp_path / "long.log").read_bytes().count(b"\n")
    got, kept = estimate([str(tmp_path / "long.log")])
    assert kept == 0 and abs(got - long_n) <= 0.02 * long_n
    # another format keeps each record's text: all its bytes count
    web = tmp_path / "access.log"
    web.write_text("".join(f'198.51.100.{i % 250} - - [10/Oct/2026:13:55:36 +0000] "GET /x{i} HTTP/1.1" 404 209 "-" "curl/8"\n'
                           for i in range(500)))
    assert estimate([str(web)]) == (500, web.stat().st_size)
    assert estimate([str(web)], "netfilter") == (500, 0)   # --format says which reader
    # what cannot be told without reading it whole
    gz = tmp_path / "big.log.gz"
    gz.write_bytes(gzip.compress(body))
    assert estimate([str(gz)]) is None
    assert estimate([str(log), str(gz)]) is None
    assert estimate(["-"]) is None
    pcap = os.path.join(os.path.dirname(__file__), "fixtures", "lab", "arp_sweep.pcap")
    assert estimate([pcap]) is None
    (tmp_path / "noise.txt").write_text("nothing any reader knows\n" * 50)
    assert estimate([str(tmp_path / "noise.txt")]) is None


def test_an_input_whose_table_fits_stays_in_memory_with_the_same_report(tmp_path, monkeypatch):
    # a log larger than SPILL_BYTES: in memory when its estimate fits MEMORY_TABLE_BYTES, else on
    # a temporary database file; the report is the same either way
    from fwforensics import analysis
    log = _generated(tmp_path, "20k")
    monkeypatch.setattr(events, "SPILL_BYTES", 1 << 20)
    assert log.stat().st_size > events.SPILL_BYTES

    def run(table_bytes):
        monkeypatch.setattr(events, "MEMORY_TABLE_BYTES", table_bytes)
        where = []
        rep = analysis.analyze([str(log)], analysis.Options(defer_raw=True, narrow=True),
                               then=lambda rep, con: where.append(events.on_disk(con)))
        return rep, where[0]
    in_memory, on_disk = run(1 << 30), run(20_000 * events.MEMORY_ROW_BYTES - 1)
    assert (in_memory[1], on_disk[1]) == (False, True)
    assert in_memory[0]["findings"] and in_memory[0] == on_disk[0]


def test_the_memory_estimate_is_bounded():
    assert events.fits_memory((1000, 0)) and not events.fits_memory(None)
    most = events.MEMORY_TABLE_BYTES // events.MEMORY_ROW_BYTES
    assert events.fits_memory((most, 0)) and not events.fits_memory((most + 1, 0))
    assert not events.fits_memory((most // 2, events.MEMORY_TABLE_BYTES))   # text kept counts too
