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
