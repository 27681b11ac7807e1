"""smurf / fraggle on the lab's hping3 runs (forged source 198.51.100.200 to 203.0.113.255)."""
from _detect_util import ids, lab, one


def test_smurf_names_the_forged_victim():
    f = one(lab("smurf"), "smurf", "198.51.100.200")
    assert f["count"] == 5
    assert f["targets"] == ["203.0.113.255"]
    assert f["severity"] == "high"
    assert f["details"]["passed"] == 0


def test_smurf_without_home_net_uses_the_dot255_guess_and_says_so():
    f = one(lab("smurf", home=False), "smurf", "198.51.100.200")
    assert f["count"] == 5
    assert "mask_assumption" in f["details"]


def test_fraggle_echo_and_chargen():
    f = one(lab("fraggle"), "fraggle", "198.51.100.200")
    assert f["count"] == 6
    assert f["ports"] == [7, 19]
    # the same packets are not reported a second time as a directed broadcast
    assert not ids(lab("fraggle"), "broadcast.directed")


def test_pings_and_udp_probes_to_hosts_are_not_smurf_or_fraggle():
    assert not ids(lab("ping_sweep"), "smurf")          # echo requests to unicast hosts
    assert not ids(lab("traceroute_icmp"), "smurf")
    assert not ids(lab("nmap_udp"), "fraggle")          # UDP 7 and 19 to one host
