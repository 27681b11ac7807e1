"""worm.slammer (hping3 376-byte UDP 1434 datagrams) and worm.mssql (nmap 1433 sweep, psad corpus)."""
from _detect_util import CORPUS, LAB, ids, lab, one, run


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


def _syn_capture(path, packets):
    """A capture of TCP SYNs (src, dst, dport, seq), written with dpkt."""
    import socket

    import dpkt
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i, (src, dst, dport, seq) in enumerate(packets):
            tcp = dpkt.tcp.TCP(sport=40000 + i, dport=dport, flags=dpkt.tcp.TH_SYN, seq=seq, win=14600)
            ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), ttl=50, id=i + 1,
                            p=dpkt.ip.IP_PROTO_TCP, data=tcp)
            ip.len = len(bytes(ip))
            w.writepkt(bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6,
                                                    type=dpkt.ethernet.ETH_TYPE_IP, data=ip)),
                       ts=1_700_000_000 + i * 0.5)
    return path


def test_mirai_sequence_number_fingerprint(tmp_path):
    import ipaddress
    as_int = lambda a: int(ipaddress.ip_address(a))   # noqa: E731
    mirai, other = "198.51.100.72", "198.51.100.73"
    dsts = [f"192.0.2.{h}" for h in (50, 51, 52, 53)]
    packets = [(mirai, d, 23, as_int(d)) for d in dsts] + [(mirai, dsts[0], 2323, as_int(dsts[0]))]
    packets += [(other, d, 23, 1000 + i) for i, d in enumerate(dsts)]   # a telnet scanner of another make
    fs = run(_syn_capture(tmp_path / "telnet.pcap", packets))
    f = one(fs, "worm.telnet", mirai)
    assert (f["details"]["seq_logged"], f["details"]["seq_is_destination"]) == (5, 5)
    assert f["summary"].endswith("5 of its 5 SYNs carry the destination address as sequence number: "
                                 "Mirai's own scanner code")
    g = one(fs, "worm.telnet", other)
    assert (g["details"]["seq_logged"], g["details"]["seq_is_destination"]) == (4, 0)
    assert "sequence number" not in g["summary"]
    # a log without sequence numbers (psad's Mirai records) says nothing of them
    h = one(run(CORPUS / "psad" / "mirai_default_credentials_scan"), "worm.telnet", "192.168.10.55")
    assert "seq_logged" not in h["details"]


def test_mirai_fingerprint_in_the_lab_capture():
    # real hping3 SYNs with the destination as sequence number (-M), as Mirai sends them: the
    # capture names Mirai's scanner code, the firewall's log of the same packets cannot
    f = one(lab("mirai_telnet"), "worm.telnet", "198.51.100.72")
    assert "seq_logged" not in f["details"] and "sequence number" not in f["summary"]
    g = one(run(LAB / "mirai_telnet.pcap"), "worm.telnet", "198.51.100.72")
    assert (g["details"]["seq_logged"], g["details"]["seq_is_destination"]) == (5, 5)
    assert "Mirai's own scanner code" in g["summary"]


def test_mirai_fingerprint_in_a_firewall_log_with_sequence_numbers():
    # the same real SYNs, logged by an iptables rule with --log-tcp-sequence: the log's records
    # carry SEQ=, and its worm.telnet finding names Mirai's scanner code as the capture's does
    text = (LAB / "mirai_telnet_seq.log").read_text()
    assert text.count(" SEQ=") == 5
    f = one(lab("mirai_telnet_seq"), "worm.telnet", "198.51.100.73")
    assert (f["details"]["seq_logged"], f["details"]["seq_is_destination"]) == (5, 5)
    assert "Mirai's own scanner code" in f["summary"]
