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


def test_what_the_firewall_did_is_said_only_when_the_log_says_it():
    from _detect_util import CORPUS, LAB, run
    assert "the firewall did not let them through" in one(lab("smurf"), "smurf", "198.51.100.200")["summary"]
    # a capture of the same packets, and a real capture of THC's rsmurf6 (echo requests to ff02::1
    # from ff02::1): the packets were seen, their fate is not known
    for f in (one(run(LAB / "smurf.pcap"), "smurf", "198.51.100.200"),
              one(run(CORPUS / "suricata-verify-pcaps" / "tests" / "ipv6-evasion" / "ipv6-rsmurf" / "rsmurf6.pcap",
                      home=False), "smurf", "ff02::1")):
        assert "does not show whether a firewall stopped them" in f["summary"]
        assert "did not let them through" not in f["summary"]


def test_a_smurfs_forged_multicast_source_is_not_reported_again_as_a_bogon():
    # THC's rsmurf6 forges ff02::1 as the source of echo requests to ff02::1: one smurf finding,
    # not also 1000 "impossible source" records counted as background noise by the verdict
    from _detect_util import CORPUS, run
    fs = run(CORPUS / "suricata-verify-pcaps" / "tests" / "ipv6-evasion" / "ipv6-rsmurf" / "rsmurf6.pcap",
             home=False)
    assert one(fs, "smurf", "ff02::1")["count"] == 1000
    assert not ids(fs, "bogon.source")
    (v,) = ids(fs, "verdict")
    assert v["details"]["background_records"] == 0 and v["summary"] == "1 finding needs action."
