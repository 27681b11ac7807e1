"""The committed lab run (tests/fixtures/lab): real nmap/hping3/traceroute records.

These run everywhere (no root, no namespaces): they check that the fixtures are intact and
that ``fwforensics analyze --json`` reports, on each scenario's log, every finding its
ground truth expects, with the right ``src`` (and none of the forbidden ones for the
background noise).  An expected id that no detector declares yet is an expected failure
(xfail, not strict) until its detector lands; once a detector declares the id the check is
strict.
"""
from __future__ import annotations

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
        assert {e["src"] for e in truth["expected"] if e["src"]} <= srcs | {"0.0.0.0"} | {
            e["src"] for e in truth["expected"] if e["id"] == "traceroute.from_inside"}


def _report(name: str) -> dict:
    truth = _truth(name)
    return lc.report_cached(lc.FIXTURES / truth["log"], truth)


EXPECTED = [pytest.param(name, i, e, id=f"{name}-{e['id']}-{e['src']}",
                         marks=[] if e["id"] in DETECTOR_IDS else
                         [pytest.mark.xfail(strict=False,
                                            reason=f"no detector declares {e['id']} yet")])
            for name in NAMES for i, e in enumerate(lc.log_expected(_truth(name)))]


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


# --- the same findings from the captures -------------------------------------------------

def _pcap_reader() -> bool:
    try:
        from fwforensics import formats
        return any(n in formats.registry() for n in ("pcap", "pcapng"))
    except Exception:
        return False


PCAP_READER = _pcap_reader()
# Gaps known at the time of writing, each with its reason (non-strict: they pass once fixed).
KNOWN_PCAP_GAPS: dict[tuple[str, str], str] = {
    # (bogon_source, bogon.source) was one until a capture's records that name no interface were
    # taken as inbound when --outside-if is given (detectors/_misc.py NO_IF_CAPTURED)
}


def _pcap_marks(name: str, fid: str) -> list:
    if not PCAP_READER:
        return [pytest.mark.xfail(strict=False, reason="no pcap reader registered yet")]
    if fid not in DETECTOR_IDS:
        return [pytest.mark.xfail(strict=False, reason=f"no detector declares {fid} yet")]
    if (name, fid) in KNOWN_PCAP_GAPS:
        return [pytest.mark.xfail(strict=False, reason=KNOWN_PCAP_GAPS[(name, fid)])]
    return []


def _pcap_report(name: str) -> dict:
    truth = _truth(name)
    return lc.report_cached(lc.FIXTURES / truth["pcap"], truth)


# Findings about what the firewall did, which a capture cannot show: its records carry no verdict.
# The captures must leave them out (tests/test_detect_icmp.py asserts it of pmtu_frag_needed.pcap).
CAPTURE_CANNOT_TELL = {"icmp.frag_needed"}   # "fragmentation-needed messages being dropped"

PCAP_EXPECTED = [pytest.param(name, e, id=f"{name}-{e['id']}-{e['src']}",
                              marks=_pcap_marks(name, e["id"]))
                 for name in NAMES for e in _truth(name)["expected"] if e["id"] not in CAPTURE_CANNOT_TELL]


@pytest.mark.parametrize("name", [n for n in NAMES if any(e["id"] in CAPTURE_CANNOT_TELL for e in _truth(n)["expected"])])
def test_fixture_pcap_does_not_claim_the_firewalls_part(name):
    if not PCAP_READER:
        pytest.xfail("no pcap reader registered yet")
    got = {f["id"] for f in _pcap_report(name)["findings"]}
    assert not got & CAPTURE_CANNOT_TELL


@pytest.mark.parametrize("name,expected", PCAP_EXPECTED)
def test_fixture_pcap_analyze_reports_expected(name, expected):
    if not PCAP_READER:
        pytest.xfail("no pcap reader registered yet")
    report = _pcap_report(name)
    assert report["records_read"] >= _truth(name)["records"]
    assert lc.check_finding(report, expected) == []


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if PCAP_READER else [
    pytest.mark.xfail(strict=False, reason="no pcap reader registered yet")])
    for n in NAMES if _truth(n)["forbidden"]])
def test_fixture_pcap_analyze_forbidden_absent(name):
    if not PCAP_READER:
        pytest.xfail("no pcap reader registered yet")
    truth = _truth(name)
    report = _pcap_report(name)
    assert report["records_read"] > truth["records"]       # the accepted web/DNS traffic too
    wrong = [(f["id"], f.get("src")) for f in report["findings"] if f["id"] in truth["forbidden"]]
    assert not wrong, f"benign traffic reported as {wrong}"
