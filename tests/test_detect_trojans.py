"""trojan.probe on the lab's nmap run against trojan ports; silent on scans that merely include some."""
from _detect_util import CORPUS, ids, lab, one, run


def test_trojan_probe():
    f = one(lab("trojan_probe"), "trojan.probe", "198.51.100.33")
    assert {1243, 12345, 31337, 27374}.issubset(f["ports"])
    assert f["targets"] == ["192.0.2.10"]
    assert f["count"] >= 10


def test_general_scans_that_include_trojan_ports_are_not_trojan_probes():
    assert not ids(lab("sscan"), "trojan.probe")        # sscan's list includes 12345 and 31337
    assert not ids(lab("nmap_syn"), "trojan.probe")     # a plain port scan
    assert not ids(run(CORPUS / "psad" / "syn_scan_1000_1500", home=False), "trojan.probe")  # includes 1243
