"""The CLI as a user runs it (a real subprocess) and the DuckDB case store."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(HERE)
from _shared import CORPUS  # noqa: E402
CORPUS = str(CORPUS)
WRAPPERS = os.path.join(HERE, "fixtures", "netfilter", "wrappers.log")
GOOD = open(WRAPPERS, encoding="utf-8").readline()


def fwf(*args, input=None, check=True):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    p = subprocess.run([sys.executable, "-m", "fwforensics", *args], capture_output=True, text=True,
                       input=input, env=env, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr}")
    return p


def test_version_and_formats():
    assert "fwforensics" in fwf("--version").stdout
    out = json.loads(fwf("formats", "--json").stdout)
    nf = [f for f in out if f["name"] == "netfilter"][0]
    assert "IN=" in nf["example"]


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="corpus not present")
def test_analyze_psad_summary_json():
    rep = json.loads(fwf("analyze", "--json", os.path.join(CORPUS, "psad", "syn_scan_1000_1500")).stdout)
    assert isinstance(rep["records_read"], int) and isinstance(rep["records_unreadable"], int)
    assert rep["records_read"] == 1002 and rep["records_unreadable"] == 0
    s = rep["summary"]
    assert s["by_action"] == {"drop": 1002} and s["by_protocol"] == {"tcp": 1002}
    assert s["top_sources"][0]["src"] == "192.168.10.55" and s["top_sources"][0]["ports"] == 501
    assert s["top_ports"][0]["records"] == 2


def test_analyze_terminal_stdin_and_unreadable_lines():
    text = GOOD + "garbage line\n" + GOOD
    p = fwf("analyze", "-", input=text)
    assert "2 record(s)" in p.stdout and "1 unreadable" in p.stdout
    assert "Unreadable in -: 1 line(s): 2" in p.stdout


def test_errors_are_one_line():
    p = fwf("analyze", "/no/such/file.log", check=False)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "no such file" in p.stderr
    p = fwf("analyze", "--tz", "Mars/Olympus", WRAPPERS, check=False)
    assert p.returncode == 2 and "time zone" in p.stderr and "Traceback" not in p.stderr
    p = fwf("--debug", "analyze", "/no/such/file.log", check=False)
    assert "Traceback" in p.stderr


def test_explain_port():
    p = fwf("explain", "22", "--json")
    assert "22" in p.stdout


def count(case):
    con = duckdb.connect(case, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    finally:
        con.close()


def test_case_ingest_is_idempotent_and_appends(tmp_path):
    case = str(tmp_path / "c.duckdb")
    log = tmp_path / "fw.log"
    log.write_text(GOOD * 10)
    out = json.loads(fwf("ingest", "--json", "--case", case, str(log)).stdout)
    assert out["files"][0]["status"] == "added" and count(case) == 10
    # same content again, even under another name: nothing added
    copy = tmp_path / "copy.log"
    copy.write_text(GOOD * 10)
    out = json.loads(fwf("ingest", "--json", "--case", case, str(log), str(copy)).stdout)
    assert [f["status"] for f in out["files"]] == ["already in case", "already in case"] and count(case) == 10
    # the log grows: only the new lines are added, numbered after the old ones
    with open(log, "a") as fh:
        fh.write(GOOD * 3)
    out = json.loads(fwf("ingest", "--json", "--case", case, str(log)).stdout)
    assert out["files"][0]["status"] == "appended" and count(case) == 13
    con = duckdb.connect(case, read_only=True)
    assert con.execute("SELECT min(line), max(line), count(DISTINCT line) FROM events").fetchall()[0] == (1, 13, 13)
    con.close()
    # analyze works on the case
    rep = json.loads(fwf("analyze", "--json", "--case", case).stdout)
    assert rep["records_read"] == 13 and rep["summary"]["by_action"] == {"drop": 13}


def test_interrupted_ingest_leaves_case_as_before(tmp_path):
    case = str(tmp_path / "c.duckdb")
    small = tmp_path / "small.log"
    small.write_text(GOOD * 5)
    fwf("ingest", "--case", case, str(small))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    # Feed the ingest through a pipe we hold open: it is mid-transaction, waiting for more input,
    # when it is killed, whatever the machine's speed.
    proc = subprocess.Popen([sys.executable, "-m", "fwforensics", "ingest", "--case", case, "-"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(40):
        proc.stdin.write((GOOD * 5000).encode())  # 200,000 records, more than one read block
    proc.stdin.flush()
    time.sleep(3)
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    assert count(case) == 5
    # and the same input can be ingested afterwards in full
    big = tmp_path / "big.log"
    big.write_text(GOOD * 200_000)
    fwf("ingest", "--case", case, str(big))
    assert count(case) == 5 + 200_000


def test_generic_csv_with_mapping(tmp_path):
    log = tmp_path / "fw.csv"
    log.write_text("time,source,dest,dport,proto,verdict\n"
                   "2024-05-01T10:00:00Z,203.0.113.5,192.0.2.9,23,tcp,deny\n"
                   "2024-05-01T10:00:01Z,203.0.113.5,192.0.2.9,2323,tcp,deny\n")
    m = tmp_path / "map.toml"
    m.write_text('ts = "time"\nsrc_ip = "source"\ndst_ip = "dest"\ndst_port = "dport"\nproto = "proto"\naction = "verdict"\n')
    rep = json.loads(fwf("analyze", "--json", "--format", "csv_generic", "--map", str(m), str(log)).stdout)
    assert rep["records_read"] == 2 and rep["summary"]["by_action"] == {"drop": 2}
    p = fwf("analyze", "--format", "csv_generic", str(log), check=False)
    assert p.returncode == 2 and "--map" in p.stderr and "Traceback" not in p.stderr


def test_suppression_counts_not_hides():
    sample = os.path.join(ROOT, "examples", "sample.log")
    full = json.loads(fwf("analyze", "--json", sample).stdout)
    n_syn = sum(1 for f in full["findings"] if f["id"] == "scan.syn")
    assert n_syn >= 1
    rep = json.loads(fwf("analyze", "--json", "--suppress", "id=scan.syn", sample).stdout)
    assert not any(f["id"] == "scan.syn" for f in rep["findings"])
    assert rep["suppressed"] == n_syn
    p = fwf("analyze", "--suppress", "colour=blue", sample, check=False)
    assert p.returncode == 2 and "--suppress" in p.stderr


def test_exports_and_fail_on(tmp_path):
    sample = os.path.join(ROOT, "examples", "sample.log")
    p = fwf("analyze", "--ndjson", "--fail-on", "high", "--events-out", str(tmp_path / "ev.ndjson"), sample,
            check=False)
    assert p.returncode == 1  # a high finding (smurf) is shown
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert lines and all("finding" in x for x in lines)
    ev = [json.loads(x) for x in open(tmp_path / "ev.ndjson")]
    assert len(ev) == 759 and ev[0]["source"]["ip"] and ev[0]["event"]["action"] == "drop"
    assert fwf("analyze", "--json", "--fail-on", "high", "--suppress", "id=smurf", "--suppress", "id=verdict",
               sample, check=False).returncode == 0
    md = fwf("analyze", "--markdown", sample).stdout
    assert md.startswith("## fwforensics report") and "smurf" in md


def test_html_option_writes_a_self_contained_report(tmp_path):
    sample = os.path.join(ROOT, "examples", "sample.log")
    out = tmp_path / "r.html"
    fwf("analyze", "--no-progress", "--html", str(out), sample)
    page = out.read_text()
    assert page.count("<svg") >= 3 and "smurf" in page
    assert "http://" not in page.split("<body", 1)[0] and "<script src=" not in page


def test_tunables_from_set_and_config_are_checked(tmp_path):
    # a typo in a tunable's module or name, or a value of the wrong type, is an error that names
    # what exists, not a setting ignored in silence (or a Python error from inside a detector)
    lab = os.path.join(HERE, "fixtures", "lab", "nmap_syn.log")
    for sets, words in ((["scan.VERTICAL_MIN_PORTS=5"], ["no detector 'scan'", "scans"]),
                        (["scans.VERTICAL_MIN_PORT=5"], ["no tunable 'VERTICAL_MIN_PORT'", "VERTICAL_MIN_PORTS"]),
                        (["scans.VERTICAL_MIN_PORTS=abc"], ["wants a whole number (default 10)", "'abc'"]),
                        (["proxy.PROXY_PORTS=80"], ["wants a list"]),
                        (["scans.COUNT_ACCEPTED=1"], ["wants true or false"])):
        p = fwf("analyze", lab, *[x for s in sets for x in ("--set", s)], check=False)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.strip().count("\n") == 0 and all(w in p.stderr for w in words), p.stderr
    cfg = tmp_path / "c.toml"
    cfg.write_text("[detectors.scans]\nVERTICAL_MIN_PORT = 400\n")
    p = fwf("analyze", "--config", str(cfg), lab, check=False)
    assert p.returncode == 2 and "no tunable 'VERTICAL_MIN_PORT'" in p.stderr
    # right ones take effect: 300 ports probed, a vertical scan needs 400 now; a float takes an int
    ids = lambda p: {f["id"] for f in json.loads(p.stdout)["findings"]}   # noqa: E731
    assert "scan.vertical" in ids(fwf("analyze", "--json", lab))
    cfg.write_text("[detectors.scans]\nVERTICAL_MIN_PORTS = 400\n[detectors.arp]\nUNANSWERED_SHARE = 1\n")
    assert "scan.vertical" not in ids(fwf("analyze", "--json", "--config", str(cfg), lab))
    assert "scan.vertical" not in ids(fwf("analyze", "--json", "--set", "scans.VERTICAL_MIN_PORTS=400",
                                          "--set", "proxy.PROXY_PORTS=[80, 3128]", lab))
