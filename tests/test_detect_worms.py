"""worm.slammer (hping3 376-byte UDP 1434 datagrams) and worm.mssql (nmap 1433 sweep, psad corpus)."""
from _detect_util import CORPUS, ids, lab, one, run


def test_slammer_sized_datagrams():
    f = one(lab("slammer"), "worm.slammer", "198.51.100.14")
    assert f["count"] == 9
    assert f["details"]["slammer_sized"] == 9 and f["details"]["hosts"] == 3
    assert f["confidence"].startswith("high")


def test_mssql_sweep():
    f = one(lab("worm_mssql"), "worm.mssql", "198.51.100.45")
    assert f["count"] == 16 and f["details"]["hosts"] == 16


def test_mssql_psad_signature_file():
    f = one(run(CORPUS / "psad" / "ms_sql_server_sig_match", home=False), "worm.mssql", "192.168.10.55")
    assert f["count"] == 2


def test_scans_that_include_1433_or_1434_are_not_worms():
    assert not ids(run(CORPUS / "psad" / "syn_scan_1000_1500", home=False), "worm.mssql")
    assert not ids(lab("nmap_udp"), "worm.slammer")


def test_telnet_worm_on_psads_mirai_records():
    # psad's Mirai test: one source's SYNs to telnet, ten to 23 and one to 2323 (Mirai's habit)
    from _detect_util import CORPUS
    fs = run(CORPUS / "psad" / "mirai_default_credentials_scan", home=False)
    w = one(fs, "worm.telnet", "192.168.10.55")
    assert w["ports"] == [23, 2323] and w["count"] == 11 and w["details"]["attempts"] == 11
    assert "Mirai-family bot" in w["summary"]
    # the home net inferred from the drops holds the source: an infected device of our own
    (v,) = ids(fs, "verdict")
    assert v["details"]["infected_inside"] == ["192.168.10.55"]
    assert "worm.telnet (192.168.10.55): find the machine with that address" in v["advice"]


def test_telnet_inside_a_broad_scan_is_not_a_telnet_worm():
    # nmap's SYN scan of ports 1-300 includes 23: a port scan, not a telnet worm
    assert not ids(lab("nmap_syn"), "worm.telnet")
    assert not ids(run(CORPUS / "psad" / "syn_scan_1000_1500", home=False), "worm.telnet")
