"""The report options of `analyze` and the commands of the reports area through the real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fwforensics.cli import cli

ROOT = Path(__file__).resolve().parents[1]
from _shared import CORPUS

LOG = str(CORPUS / "psad" / "topera_ipv6_syn_scan_no_ip_opts")


def run(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "fwforensics", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_fail_on_exit_status():
    assert run("analyze", LOG, "--fail-on", "low").returncode == 1     # port.zero is low
    assert run("analyze", LOG, "--fail-on", "high").returncode == 0


def test_outputs_together(tmp_path):
    html, ev = tmp_path / "r.html", tmp_path / "e.ndjson"
    r = run("analyze", LOG, "--ndjson", "--html", str(html), "--events-out", str(ev))
    assert r.returncode == 0, r.stderr
    ids = [json.loads(x)["finding"]["id"] for x in r.stdout.splitlines()]
    assert "port.zero" in ids and len(ids) == len(set((i, n) for n, i in enumerate(ids)))
    assert "<svg" in html.read_text() and len(ev.read_text().splitlines()) == 1058


def test_commands_are_registered():
    assert {"analyze", "ingest", "explain", "decode", "formats", "abuse", "watch"} <= set(cli.commands)
    assert "fail_on" in {p.name for p in cli.commands["analyze"].params}


def test_exports_of_a_large_input_read_the_temporary_database(tmp_path):
    # Large inputs (FWF_SPILL_BYTES and FWF_MEMORY_TABLE_BYTES force the path for a small one) are
    # loaded into a temporary on-disk database that is dropped when the analysis ends: --html and --events-out must be
    # written before that, and the report must be the one of the in-memory path.
    lab = ROOT / "tests" / "fixtures" / "lab"
    logs = [str(lab / "nmap_syn.log"), str(lab / "broadcasts.log")]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), FWF_SPILL_BYTES="0", FWF_MEMORY_TABLE_BYTES="0")
    out = subprocess.run([sys.executable, "-m", "fwforensics", "analyze", *logs, "--json",
                          "--events-out", str(tmp_path / "ev.parquet"), "--html", str(tmp_path / "r.html")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    disk = json.loads(out.stdout)
    mem = json.loads(run("analyze", *logs, "--json").stdout)
    assert disk["findings"] and disk["findings"] == mem["findings"] and disk["summary"] == mem["summary"]
    import pyarrow.parquet as pq
    assert pq.read_table(tmp_path / "ev.parquet").num_rows == disk["records_read"]
    html = (tmp_path / "r.html").read_text()
    assert all(f["id"] in html for f in disk["findings"])


def test_timings_on_stderr_leave_the_report_alone(tmp_path):
    # --timings: every phase and every detector with its wall seconds on stderr; stdout unchanged
    html = tmp_path / "r.html"
    plain = run("analyze", LOG, "--json")
    timed = run("analyze", LOG, "--json", "--timings", "--html", str(html))
    assert plain.returncode == timed.returncode == 0, timed.stderr
    assert json.loads(timed.stdout)["findings"] == json.loads(plain.stdout)["findings"]
    lines = timed.stderr.splitlines()
    assert lines[0].startswith("timings (wall seconds")
    rows = [ln.strip().rsplit(None, 2) for ln in lines[1:]]
    took = {name: float(sec) for name, sec, _ in rows}
    # the memory column is the high-water mark when each phase ended: it never falls from one
    # phase to the next (detectors may run on two threads: each is marked when it ends)
    peaks = [float(mb) for name, _, mb in rows if not name.startswith("detector ")]
    assert peaks == sorted(peaks) and peaks[0] > 10
    assert peaks[-1] == max(float(mb) for _, _, mb in rows)
    from fwforensics import detectors
    names = ["detector " + m.__name__.rsplit(".", 1)[-1] for m in detectors.modules()]
    assert [k for k in took if k.startswith("detector ")] == names
    for phase in ("read and load", "summary", "report (who is it, output)", "--html / --events-out files",
                  "total (start-up not included)"):
        assert phase in took
    assert all(t >= 0 for t in took.values())
    # (detectors may run on two threads at once: each is within the total, not their sum)
    assert max(took.values()) == took["total (start-up not included)"]
    assert "timings" not in run("analyze", LOG, "--json").stderr


def test_a_detector_that_fails_costs_its_findings_not_the_report(tmp_path):
    # An absurd tunable makes one detector's query fail in DuckDB (an interval out of range): the
    # others' findings are all there, every form of the report says what is missing, exit status 3.
    import jsonschema
    lab = ROOT / "tests" / "fixtures" / "lab"
    logs = [str(lab / "nmap_syn.log"), str(lab / "broadcasts.log"), str(lab / "block_scan.log")]
    bad = ("--set", f"sscan.SESSION_GAP={10 ** 30}")
    whole = json.loads(run("analyze", *logs, "--json").stdout)
    r = run("analyze", *logs, "--json", *bad)
    assert r.returncode == 3, r.stderr
    rep = json.loads(r.stdout)
    jsonschema.validate(rep, json.loads((ROOT / "docs" / "report.schema.json").read_text()))
    from fwforensics.detectors import sscan
    assert [(d["detector"], d["ids"]) for d in rep["detector_errors"]] == [("sscan", sorted(sscan.IDS))]
    assert rep["detector_errors"][0]["error"].startswith("OutOfRangeException: ")
    assert whole["detector_errors"] == []
    kept = [f for f in whole["findings"] if f["id"] not in sscan.IDS and f["id"] != "verdict"]
    assert kept and [f for f in rep["findings"] if f["id"] != "verdict"] == kept
    verdict = next(f for f in rep["findings"] if f["id"] == "verdict")
    assert "incomplete: the sscan detector failed" in verdict["explanation"]
    said = "Incomplete: the sscan detector failed (OutOfRangeException"
    term = run("analyze", *logs, "--no-progress", *bad)
    assert term.returncode == 3 and said in term.stdout
    md = run("analyze", *logs, "--markdown", *bad)
    assert md.returncode == 3 and "**Incomplete:** the sscan detector failed" in md.stdout
    nd = run("analyze", *logs, "--ndjson", *bad).stdout.splitlines()
    assert json.loads(nd[0])["detector_error"] == rep["detector_errors"][0]
    assert all("finding" in json.loads(x) for x in nd[1:])
    html = tmp_path / "r.html"
    assert run("analyze", *logs, "--html", str(html), "--no-progress", *bad).returncode == 3
    assert said in html.read_text()
    # --fail-on's 1 gives way to 3; --debug stops at the failure with its traceback
    assert run("analyze", *logs, "--fail-on", "info", *bad).returncode == 3
    dbg = run("--debug", "analyze", *logs, "--json", *bad)
    assert dbg.returncode not in (0, 3) and "Traceback" in dbg.stderr and "OutOfRange" in dbg.stderr
