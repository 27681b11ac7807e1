"""dialup.leftover on the lab's PowWow-like reconnects (nc connects and OPNG pushes to 13223)."""
from _detect_util import CORPUS, ids, lab, one, run


def test_powwow_reconnects():
    f = one(lab("powwow_dialup"), "dialup.leftover", "198.51.100.76")
    assert f["ports"] == [13223]
    assert f["count"] == 9
    assert f["severity"] == "info"
    # ICQ (UDP from source port 4000) and game/RealAudio ports use the same code path; no tool
    # here produced such a log, so they are covered only by the knowledge-base port lists.


def test_scans_are_not_dialup_leftovers():
    assert not ids(lab("nmap_syn"), "dialup.leftover")
    assert not ids(lab("nmap_udp"), "dialup.leftover")
    assert not ids(run(CORPUS / "psad" / "syn_scan_1000_1500", home=False), "dialup.leftover")
