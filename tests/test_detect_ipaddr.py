"""source_route, bogon.source, broadcast.local, broadcast.directed on lab runs and psad's corpus."""
from _detect_util import CORPUS, LAB, ids, lab, one, run


def test_source_route():
    f = one(lab("source_route"), "source_route", "198.51.100.44")
    assert f["count"] == 2


def test_bogon_sources_from_outside():
    fs = lab("bogon_source")
    for src in ("10.99.0.7", "127.0.0.1", "169.254.10.20"):
        f = one(fs, "bogon.source", src)
        assert f["count"] == 2 and f["targets"] == ["192.0.2.10"]
    # our own (documentation) network forged from outside is not a bogon of its own kind; the
    # lab writes its 0.0.0.0 SYNs as Ethernet frames (a raw IP socket cannot forge that source)
    assert {f["src"] for f in ids(fs, "bogon.source")} == {"10.99.0.7", "127.0.0.1", "169.254.10.20",
                                                          "0.0.0.0"}


def test_loopback_source_in_psad_corpus_without_interface_knowledge():
    f = one(run(CORPUS / "psad" / "syn_scan_1000_1500_localhost", home=False), "bogon.source", "127.0.0.1")
    assert f["count"] == 1002
    # with no --outside-if the outside interface is inferred (detectors/_us.py), so the finding
    # rests on that inference rather than on a fallback
    assert f["details"]["category"] == "loopback"


def test_broadcasts():
    fs = lab("broadcasts")
    loc = one(fs, "broadcast.local", "203.0.113.77")
    assert loc["count"] == 2 and loc["details"]["dhcp"] is True
    d = one(fs, "broadcast.directed", "203.0.113.77")
    assert d["count"] == 2 and d["targets"] == ["203.0.113.255"] and d["ports"] == [137]


def test_ordinary_sources_and_multicast_are_quiet():
    assert not ids(lab("nmap_syn"), "bogon.source")
    assert not ids(run(CORPUS / "psad" / "ipv4_igmp", home=False), "bogon.source")  # private -> multicast
    assert not ids(lab("smurf"), "broadcast.directed")      # reported as smurf
    assert not ids(lab("nmap_syn"), "broadcast.directed")


def test_arp_requests_are_not_directed_broadcasts():
    # The capture of the source-route scenario holds ARP who-has requests (Ethernet broadcast, as
    # ARP always asks): they are not packets to a subnet broadcast address.
    fs = run(LAB / "source_route.pcap", home=False)
    assert ids(fs, "source_route")
    assert not ids(fs, "broadcast.directed")
    # an IP packet to a broadcast address in a capture still is one
    assert ids(run(LAB / "broadcasts.pcap", home=False), "broadcast.directed")


def test_bogon_sources_judged_a_slice_at_a_time(tmp_path, monkeypatch):
    """The special-range sources are classified (and matched with their destinations) a slice at a
    time: the findings do not depend on the slice size. The generated log has thousands of
    documentation and link-local sources, some judged by their destinations."""
    import os
    import subprocess
    import sys
    from fwforensics import analysis, detectors, events
    from fwforensics.detectors import ipaddr
    from fwforensics.reader import ReadStats
    log = tmp_path / "fw.log"
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "bench", "generate.py"),
                    "--lines", "30000", "--out", str(log)], check=True, capture_output=True)
    con = events.connect()
    analysis.load_inputs(con, [str(log)], analysis.Options(), ReadStats())

    def found():
        ctx = detectors.Context(con=con)
        from fwforensics.detectors import _us
        _us.infer(ctx)
        return [f.to_dict() for f in detectors.run(ctx, only=["ipaddr"])]

    whole = found()
    monkeypatch.setattr(ipaddr, "SLICE", 7)
    assert found() == whole
    assert [f for f in whole if f["id"] == "bogon.source"]


def test_host_talking_to_itself_is_not_a_bogon(tmp_path):
    # a real capture of a loopback interface (::1 to ::1): nothing forged
    cap = CORPUS / "zeek-testing-pcaps" / "Traces" / "http" / "connect-with-header.pcap"
    assert not ids(run(cap, home=False), "bogon.source")
    # a firewall's record of the same addresses arriving by a network interface is forged
    line = (CORPUS / "psad" / "syn_scan_1000_1500_localhost").read_text().splitlines()[0]
    p = tmp_path / "land.log"
    p.write_text(line.replace("DST=192.168.10.1", "DST=127.0.0.1") + "\n")
    f = one(run(p, home=False), "bogon.source", "127.0.0.1")
    assert f["count"] == 1 and f["details"]["category"] == "loopback"


def test_a_host_firewalls_own_addresses_are_not_bogons():
    # Windows Firewall logs the host's own SSDP over loopback (127.0.0.1 and ::1 to 239.255.255.250
    # and ff02::c, sent and heard back) and its duplicate address detection from ::; it names no
    # interface. None of it came from outside.
    fs = run(CORPUS / "windows-firewall" / "pfirewall.log", home=False)
    assert not ids(fs, "bogon.source"), [(f["src"], f["count"]) for f in ids(fs, "bogon.source")]


def test_ipv6_duplicate_address_detection_from_unspecified(tmp_path):
    # a neighbour solicitation from :: for a tentative address (RFC 4862), written with dpkt, and a
    # TCP SYN from :: beside it: only the SYN is a bogon
    import dpkt

    def frame(nxt, payload, dst):
        ip6 = dpkt.ip6.IP6(src=bytes(16), dst=bytes.fromhex(dst), nxt=nxt, hlim=255, data=payload)
        ip6.plen = len(bytes(payload))
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x33\x33\xff\x00\x00\x01",
                                            type=dpkt.ethernet.ETH_TYPE_IP6, data=ip6))
    target = bytes.fromhex("20010db8000000000000000000000001")
    ns = dpkt.icmp6.ICMP6(type=135, code=0, data=b"\0\0\0\0" + target)
    syn = dpkt.tcp.TCP(sport=4000, dport=22, flags=dpkt.tcp.TH_SYN, seq=1)
    p = tmp_path / "dad.pcap"
    with open(p, "wb") as f:
        w = dpkt.pcap.Writer(f)
        w.writepkt(frame(58, ns, "ff0200000000000000000001ff000001"), 1.0)
        w.writepkt(frame(6, syn, "20010db8000000000000000000000001"), 2.0)
    f = one(run(p, home=False), "bogon.source", "::")
    assert f["count"] == 1 and f["ports"] == [22]


def test_broadcast_from_inside_its_own_subnet():
    fs = run(CORPUS / "windows-firewall" / "pfirewall.log", home=False)
    own = one(fs, "broadcast.directed", "192.168.178.51")
    assert own["details"]["own_subnet"] is True and "its own subnet" in own["summary"]
    # a /20 (WSL's virtual switch) outside the .255 guess's /24: not called its own
    other = one(fs, "broadcast.directed", "172.30.240.1")
    assert other["details"]["own_subnet"] is False and "amplifier hunting" in other["summary"]


def test_a_record_without_protocol_is_still_judged():
    # Cisco ASA's "Deny IP spoof from (0.0.0.0)" names no protocol: the DHCP exception (a UDP
    # test) must not drop it by comparing with an unknown value
    fs = run(CORPUS / "elastic-integrations" / "cisco_asa" / "test-sample.log", home=False)
    f = one(fs, "bogon.source", "0.0.0.0")
    assert f["count"] == 8


def test_capture_without_interface_names_and_an_outside_interface_given(tmp_path):
    # a classic pcap names no interface. With --outside-if given its records are taken as inbound
    # as when none is known: impossible sources always, private ones only towards the home nets
    # (a capture behind NAT is full of private sources going out). Written with dpkt.
    import socket

    import dpkt

    def syn(src, dst):
        tcp = dpkt.tcp.TCP(sport=40000, dport=80, flags=dpkt.tcp.TH_SYN, seq=1)
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), ttl=50, id=1,
                        p=dpkt.ip.IP_PROTO_TCP, data=tcp)
        ip.len = len(bytes(ip))
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))
    frames = [syn("192.168.7.20", "203.0.113.80"),   # our LAN host going out: normal
              syn("10.9.9.9", "198.51.100.5"),        # someone else's private address, not towards us
              syn("10.9.9.9", "192.0.2.10"),          # a private source towards our public address
              syn("127.0.0.1", "192.0.2.10")]         # never a real sender from the wire
    p = tmp_path / "noif.pcap"
    with open(p, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i, fr in enumerate(frames):
            w.writepkt(fr, ts=1_700_000_000 + i)
    fs = run(p, home=False, home_nets=["192.0.2.0/24", "192.168.7.0/24"], outside_ifs=["eth0"])
    got = {f["src"]: f for f in ids(fs, "bogon.source")}
    assert set(got) == {"10.9.9.9", "127.0.0.1"}
    assert got["10.9.9.9"]["count"] == 1 and got["10.9.9.9"]["targets"] == ["192.0.2.10"]
    assert all("names no interface" in f["details"]["assumption"] for f in got.values())
    # the lab's capture of forged sources, with the lab's outside interface given (was a known gap)
    lab_fs = run(LAB / "bogon_source.pcap")
    assert {f["src"] for f in ids(lab_fs, "bogon.source")} == {"10.99.0.7", "127.0.0.1", "169.254.10.20", "0.0.0.0"}
