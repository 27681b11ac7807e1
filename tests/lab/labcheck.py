"""Checks shared by the lab tests (live lab runs) and the lab fixture tests.

Everything here reads real lab output: the syslog file, the pcap, the ground-truth file,
and the JSON report of ``python -m fwforensics analyze --json``.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dpkt

REPO = Path(__file__).resolve().parents[2]
LAB_DIR = REPO / "lab"
FIXTURES = REPO / "tests" / "fixtures" / "lab"
SIGNATURES = [REPO / "docs" / "signatures.md", REPO / "spec" / "signatures.md",
              REPO.parent / "shared" / "spec" / "signatures.md", Path("/work/shared/spec/signatures.md")]

# RFC 3164 with the kernel's [uptime] stamp, as lab/netlab.py writes it
SYSLOG_RE = re.compile(
    r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d fwflab kernel: "
    r"\[ *\d+\.\d{6}\] (FWF-DROP|FWF-ANTISPOOF) IN=\S* OUT=\S* .*SRC=\S+ DST=\S+ ")

TRUTH_KEYS = {"truth_version", "scenario", "description", "real_src", "expected", "forbidden",
              "commands", "log", "pcap", "records", "lab"}


# ids the project added to signatures.md's (which allows new ones): its own catalogue lists them
PROJECT_SIGNATURES = REPO / "src" / "fwforensics" / "knowledge" / "data" / "signatures.toml"


def signature_ids() -> set[str] | None:
    """The finding ids of signatures.md (None when the file is not on this machine), and those the
    project's own catalogue adds (worm.telnet, config.advice)."""
    for p in SIGNATURES:
        if p.is_file():
            ids = set()
            for line in p.read_text().splitlines():
                m = re.match(r"^\| ([a-z0-9_.]+(?: / [a-z0-9_.]+)*) \|", line)
                if m and m.group(1) != "id":
                    ids.update(part.strip() for part in m.group(1).split(" / "))
            if PROJECT_SIGNATURES.is_file():
                ids.update(re.findall(r'^id = "([a-z0-9_.]+)"', PROJECT_SIGNATURES.read_text(), re.M))
            return ids
    return None


def truth_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.truth.json"))


def load_truth(path: Path) -> dict:
    return json.loads(path.read_text())


def check_truth(truth: dict) -> list[str]:
    """Problems with a ground-truth file (empty list = valid)."""
    problems = []
    missing = TRUTH_KEYS - set(truth)
    if missing:
        problems.append(f"missing keys {sorted(missing)}")
        return problems
    try:
        ipaddress.ip_address(truth["real_src"])
    except ValueError:
        problems.append(f"real_src {truth['real_src']!r} is not an address")
    ids = signature_ids()
    for e in truth["expected"]:
        if not {"id", "src"} <= set(e):
            problems.append(f"expected entry without id/src: {e}")
            continue
        if e["src"] is None:
            # only where the truth says no reading of the log can name one source
            if e.get("real_src_determinable") is not False:
                problems.append(f"expected entry with src null but no reason: {e}")
        else:
            ipaddress.ip_address(e["src"])
        if ids is not None and e["id"] not in ids:
            problems.append(f"unknown finding id {e['id']!r}")
    for fid in truth["forbidden"]:
        if ids is not None and fid not in ids:
            problems.append(f"unknown forbidden id {fid!r}")
    if not truth["commands"]:
        problems.append("no command recorded")
    for c in truth["commands"]:
        if "command" in c and not c["command"].startswith("ip netns exec fwflab-"):
            problems.append(f"command not run inside a lab namespace: {c['command']}")
    return problems


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def addresses_in_log(lines: list[str]) -> set[str]:
    found = set()
    for line in lines:
        found.update(re.findall(r"\b(?:SRC|DST)=(\d+\.\d+\.\d+\.\d+)", line))
    return found


def pcap_packets(path: Path) -> list[tuple[float, bytes]]:
    with path.open("rb") as f:
        return list(dpkt.pcap.Reader(f))


def pcap_sources(packets) -> set[str]:
    out = set()
    for _, buf in packets:
        eth = dpkt.ethernet.Ethernet(buf)
        if isinstance(eth.data, dpkt.ip.IP):
            out.add(str(ipaddress.ip_address(eth.data.src)))
    return out


def in_log(expected: dict) -> bool:
    """Can the firewall's log show this expected finding? Not one that only the capture holds
    (``capture_only``: an ARP sweep, which no firewall logs)."""
    return not expected.get("capture_only")


def log_expected(truth: dict) -> list[dict]:
    """The expected findings of a scenario that its log must give."""
    return [e for e in truth["expected"] if in_log(e)]


def must_appear(truth: dict) -> set[str]:
    """Addresses that the log must contain: every expected src, and the real source unless
    every packet of the scenario carried a forged address."""
    out = {e["src"] for e in log_expected(truth) if e["src"] is not None}
    extra = truth.get("extra", {})
    if not (extra.get("victim") or extra.get("forged_only")):
        out.add(truth["real_src"])
    return out


# --- analyze ----------------------------------------------------------------------------

def analyze_args(truth: dict) -> list[str]:
    args = []
    for net in truth["lab"]["home_net"]:
        args += ["--home-net", net]
    args += ["--outside-if", truth["lab"]["outside_if"]]
    return args


def run_analyze(log: Path, truth: dict, timeout: float = 120) -> dict:
    """``python -m fwforensics analyze --json`` over one lab log; the parsed report."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    cp = subprocess.run([sys.executable, "-m", "fwforensics", "analyze", "--json", "--no-progress",
                         *analyze_args(truth), str(log)],
                        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    assert cp.returncode == 0, f"analyze failed ({cp.returncode}): {cp.stderr[-2000:]}"
    return json.loads(cp.stdout)


def run_analyze_inprocess(log: Path, truth: dict) -> dict:
    """The same report as :func:`run_analyze`, through ``fwforensics.cli.main`` in this
    process (no interpreter start per file: the fixture suite stays quick)."""
    import contextlib
    import io
    sys.path.insert(0, str(REPO / "src"))
    from fwforensics.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["analyze", "--json", "--no-progress", *analyze_args(truth), str(log)])
    assert rc == 0, f"analyze failed ({rc}): {err.getvalue()[-2000:]}"
    return json.loads(out.getvalue())


_REPORT_CACHE: dict[tuple[str, str], dict] = {}


def report_cached(log: Path, truth: dict) -> dict:
    """:func:`run_analyze_inprocess`, once per input and lab per test session (the fixture tests
    and the cross-format tests read the same committed files)."""
    key = (str(log), json.dumps(truth["lab"], sort_keys=True))
    if key not in _REPORT_CACHE:
        _REPORT_CACHE[key] = run_analyze_inprocess(log, truth)
    return _REPORT_CACHE[key]


def detector_ids() -> set[str]:
    """Finding ids some detector module declares (IDS) in this checkout."""
    sys.path.insert(0, str(REPO / "src"))
    try:
        from fwforensics import detectors
    except Exception:
        return set()
    ids = set()
    for m in detectors.modules():
        ids.update(getattr(m, "IDS", ()))
    return ids


def findings_matching(report: dict, expected: dict) -> list[dict]:
    """Findings of the report with the expected id whose src is the expected one (or, when
    the truth allows it, one of its alternatives)."""
    allowed = {expected["src"], *expected.get("src_alternatives", [])}
    return [f for f in report.get("findings", [])
            if f.get("id") == expected["id"] and f.get("src") in allowed]


def check_finding(report: dict, expected: dict) -> list[str]:
    """Problems with the report against one expected finding (empty = fine)."""
    hits = findings_matching(report, expected)
    if not hits:
        got = sorted({(f.get("id"), f.get("src")) for f in report.get("findings", [])})
        return [f"no {expected['id']} finding with src {expected['src']}; got {got}"]
    problems = []
    for f in hits:
        if not isinstance(f.get("count"), int) or f["count"] < 1:
            problems.append(f"{expected['id']}: count {f.get('count')!r}")
        if not f.get("evidence"):
            problems.append(f"{expected['id']}: no evidence")
    if expected["id"] == "scan.decoy":
        # the decoys must not be named as the real source
        for f in report.get("findings", []):
            if f.get("id") == "scan.decoy" and f.get("src") in expected.get("decoys", []):
                problems.append(f"scan.decoy names decoy {f['src']} as the source")
    return problems
