"""The committed lab run (tests/fixtures/lab): real nmap/hping3/traceroute records.

These run everywhere (no root, no namespaces): they check that the fixtures are intact and
that ``fwforensics analyze --json`` reports, on each scenario's log, every finding its
ground truth expects, with the right ``src`` (and none of the forbidden ones for the
background noise).  An expected id that no detector declares yet is an expected failure
(xfail, not strict) until its detector lands; once a detector declares the id the check is
strict.
"""
from __future__ import annotations

import json

import pytest

import labcheck as lc

TRUTHS = lc.truth_files(lc.FIXTURES)
NAMES = [p.name.removesuffix(".truth.json") for p in TRUTHS]
DETECTOR_IDS = lc.detector_ids()


def _truth(name: str) -> dict:
    return lc.load_truth(lc.FIXTURES / f"{name}.truth.json")


def test_fixtures_present():
    assert len(NAMES) >= 30, f"only {len(NAMES)} lab fixtures in {lc.FIXTURES}"
    total = sum(p.stat().st_size for p in lc.FIXTURES.iterdir())
    assert total < 3_000_000, f"lab fixtures take {total} bytes"


@pytest.mark.parametrize("name", NAMES)
def test_fixture_truth_valid(name):
    truth = _truth(name)
    assert lc.check_truth(truth) == []
    assert truth["scenario"] == name


@pytest.mark.parametrize("name", NAMES)
def test_fixture_log_is_lab_syslog(name):
    truth = _truth(name)
    lines = lc.log_lines(lc.FIXTURES / truth["log"])
    assert len(lines) == truth["records"] > 0
    bad = [l for l in lines if not lc.SYSLOG_RE.match(l)]
    assert not bad, bad[:3]
    missing = lc.must_appear(truth) - lc.addresses_in_log(lines)
    assert not missing, f"addresses not in the log: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_fixture_pcap_readable(name):
    truth = _truth(name)
    packets = lc.pcap_packets(lc.FIXTURES / truth["pcap"])
    # every logged packet came in on the captured outside interface
    assert len(packets) >= truth["records"]
    srcs = lc.pcap_sources(packets)
    if name != "background_noise":
        assert {e["src"] for e in truth["expected"]} <= srcs | {"0.0.0.0"} | {
            e["src"] for e in truth["expected"] if e["id"] == "traceroute.from_inside"}


_REPORTS: dict[str, dict] = {}


def _report(name: str) -> dict:
    if name not in _REPORTS:
        truth = _truth(name)
        _REPORTS[name] = lc.run_analyze_inprocess(lc.FIXTURES / truth["log"], truth)
    return _REPORTS[name]


EXPECTED = [pytest.param(name, i, e, id=f"{name}-{e['id']}-{e['src']}",
                         marks=[] if e["id"] in DETECTOR_IDS else
                         [pytest.mark.xfail(strict=False,
                                            reason=f"no detector declares {e['id']} yet")])
            for name in NAMES for i, e in enumerate(_truth(name)["expected"])]


@pytest.mark.parametrize("name,index,expected", EXPECTED)
def test_fixture_analyze_reports_expected(name, index, expected):
    report = _report(name)
    assert isinstance(report.get("findings"), list)
    assert lc.check_finding(report, expected) == []


@pytest.mark.parametrize("name", [n for n in NAMES if _truth(n)["forbidden"]])
def test_fixture_analyze_forbidden_absent(name):
    truth = _truth(name)
    report = _report(name)
    wrong = [(f["id"], f.get("src")) for f in report["findings"] if f["id"] in truth["forbidden"]]
    assert not wrong, f"benign traffic reported as {wrong}"
