"""dialup.leftover on the lab's PowWow-like reconnects (nc connects and OPNG pushes to 13223)."""
from _detect_util import CORPUS, LAB, ids, lab, one, run


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


def test_bittorrent_peers_after_the_address_changed_hands(tmp_path):
    # the lab's PowWow reconnects sent to BitTorrent's 6881 instead of 13223: the knowledge base's
    # p2p entry for 6881-6889 (added after the FAQ) makes them leftovers too
    text = (LAB / "powwow_dialup.log").read_text().replace("DPT=13223 ", "DPT=6881 ")
    assert "DPT=6881 " in text
    (tmp_path / "bt.log").write_text(text)
    f = one(run(tmp_path / "bt.log"), "dialup.leftover", "198.51.100.76")
    assert f["ports"] == [6881] and f["count"] == 9 and "BitTorrent" in f["summary"]
