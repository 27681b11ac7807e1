"""dns.stale (hping3 datagrams from port 53 to closed ports) and identd.blocked (nc's dropped SYNs)."""
from _detect_util import CORPUS, LAB, ids, lab, one, run


def test_stale_dns():
    f = one(lab("dns_stale"), "dns.stale", "198.51.100.53")
    assert f["count"] == 4 and f["ports"] == [40123, 40124, 40125, 40126]


def test_answer_in_time_is_not_stale(tmp_path):
    # Hand-written from the real lab record: the same datagram logged by an ACCEPT rule (an answer
    # the firewall matched to its question). The lab firewall logs only drops, so no tool here
    # produces an accepted-answer record.
    line = (LAB / "dns_stale.log").read_text().splitlines()[0].replace("FWF-DROP", "FWF-ACCEPT")
    p = tmp_path / "accepted.log"
    p.write_text(line + "\n")
    assert not ids(run(p), "dns.stale")


def test_identd_blocked_with_retransmissions():
    f = one(lab("identd_blocked"), "identd.blocked", "198.51.100.25")
    assert f["count"] == 4
    assert f["details"]["connections"] == 1 and f["details"]["retransmissions"] == 3


def test_port_scan_including_113_is_not_identd():
    assert not ids(run(CORPUS / "psad" / "ipv6_tcp_connect_nmap_default_scan", home=False), "identd.blocked")
    assert not ids(lab("sscan"), "identd.blocked")     # sscan's port list includes 113


def test_port_zero():
    f = one(lab("port_zero"), "port.zero", "198.51.100.9")
    assert f["count"] == 4
