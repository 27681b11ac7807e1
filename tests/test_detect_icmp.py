"""ICMP findings on hping3-made messages, a real PMTU black hole, backscatter and the elastic corpus."""
import pytest

from _detect_util import CORPUS, lab, one, run

TYPES = ["icmp.frag_needed", "icmp.source_quench", "icmp.redirect", "icmp.router_advert",
         "icmp.param_problem", "icmp.timestamp", "icmp.addr_mask", "icmp.echo_reply_unsolicited"]


@pytest.mark.parametrize("fid", TYPES)
def test_icmp_types(fid):
    f = one(lab("icmp_types"), fid, "198.51.100.12")
    assert f["count"] == 2 and f["targets"] == ["192.0.2.10"]


def test_redirect_names_the_gateway():
    assert one(lab("icmp_types"), "icmp.redirect", "198.51.100.12")["details"]["gateway"] == "198.51.100.66"


def test_real_fragmentation_needed_from_the_router():
    f = one(lab("pmtu_frag_needed"), "icmp.frag_needed", "203.0.113.1")
    assert f["count"] == 3 and f["details"]["mtu"] == 1280


def test_backscatter_of_a_decoy_udp_scan():
    f = one(lab("icmp_backscatter"), "icmp.unreach_backscatter", "198.51.100.99")
    assert f["count"] == 6
    assert f["details"]["reason"] == "decoy-scan"
    assert f["ports"] == [21, 111, 137, 161, 515, 2049]


def test_backscatter_in_elastic_iptables_log():
    f = one(run(CORPUS / "elastic-integrations" / "iptables" / "test-iptables-raw.log", home=False),
            "icmp.unreach_backscatter", "192.168.2.71")
    assert f["count"] == 1 and f["ports"] == [62936]


def test_own_traffic_is_not_an_icmp_oddity():
    for name in ("ping_sweep", "traceroute_icmp", "traceroute_udp", "nmap_syn"):
        fs = lab(name)
        assert not [f for f in fs if f["id"].startswith("icmp.")], name


def test_fragmentation_needed_in_a_capture_is_not_said_to_be_dropped():
    # the same router messages seen by a capture: it shows them arriving, not what the firewall did
    # with them, so neither the finding ("being dropped") nor the advice to let them in is given
    from _detect_util import LAB, ids
    fs = run(LAB / "pmtu_frag_needed.pcap")
    assert not ids(fs, "icmp.frag_needed") and not ids(fs, "config.advice")
    assert ids(lab("pmtu_frag_needed"), "config.advice")


def test_unreachables_answering_our_own_traceroute_do_not_say_we_never_contacted_them():
    f = one(lab("traceroute_from_inside"), "icmp.unreach_backscatter", "198.51.100.66")
    assert f["details"]["reason"] == "traceroute"
    assert "never contacted" not in f["summary"] and "someone inside ran traceroute" in f["summary"]
