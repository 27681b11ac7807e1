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


# --- answers whose fate the log does not give (captures) ---------------------------------------
def _dns_pair_shifted(src_pcap, out, delay: float) -> int:
    """A copy of a real capture in which every DNS answer (UDP from port 53) comes ``delay`` seconds
    later; returns how many answers were moved."""
    import dpkt
    moved = 0
    with open(src_pcap, "rb") as f, open(out, "wb") as g:
        r = dpkt.pcap.Reader(f)
        w = dpkt.pcap.Writer(g, linktype=r.datalink())
        pkts = []
        for ts, buf in r:
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP) and ip.data.sport == 53:
                ts += delay
                moved += 1
            pkts.append((ts, buf))
        for ts, buf in sorted(pkts, key=lambda p: p[0]):
            w.writepkt(buf, ts)
    return moved


def test_answers_in_time_in_a_capture_are_not_stale():
    # real exchanges: the lab's web client asking its resolver, tcpdump's own test capture, and
    # nmap's reverse look-ups: each answer came back within milliseconds of its question
    assert not ids(run(LAB / "background_noise.pcap"), "dns.stale")
    assert not ids(run(CORPUS / "tcpdump-tests" / "dns_udp.pcap", home=False), "dns.stale")
    assert not ids(run(CORPUS / "zeek-testing-pcaps" / "Traces" / "nmap-vsn.pcap", home=False), "dns.stale")
    # hping3's datagrams from port 53 that no one asked for stay late answers, in the capture too
    assert one(run(LAB / "dns_stale.pcap"), "dns.stale", "198.51.100.53")["count"] == 4


def test_late_answer_in_a_capture_is_stale(tmp_path):
    p = tmp_path / "late.pcap"
    assert _dns_pair_shifted(LAB / "background_noise.pcap", p, 12.0) == 2
    f = one(run(p), "dns.stale", "198.51.100.53")
    assert f["count"] == 2 and f["details"]["matched_questions"] == 2
    assert 12.0 <= f["details"]["late_seconds_max"] < 12.1
    assert "late answers to questions already given up" in f["summary"]
    # within the tunable's reach: 12 s is in time when the resolver waits 15 s
    assert not ids(run(p, cfg={"dns_stale": {"ANSWER_TIMEOUT": 15}}), "dns.stale")


def test_prompt_answer_dropped_by_the_firewall(tmp_path):
    # the lab's late answer with its question logged 0.2 s before (the question as the firewall
    # logs an outgoing datagram: addresses and ports swapped, an ACCEPT rule)
    line = (LAB / "dns_stale.log").read_text().splitlines()[0]
    question = (line.replace("FWF-DROP", "FWF-ACCEPT").replace("[ 3006.479899]", "[ 3006.279899]")
                .replace("IN=eth0 OUT=eth1", "IN=eth1 OUT=eth0")
                .replace("SRC=198.51.100.53 DST=192.0.2.10", "SRC=192.0.2.10 DST=198.51.100.53")
                .replace("SPT=53 DPT=40123", "SPT=40123 DPT=53"))
    p = tmp_path / "prompt.log"
    p.write_text(question.replace("03:55:27", "03:55:26") + "\n" + line + "\n")
    f = one(run(p), "dns.stale", "198.51.100.53")
    assert f["count"] == 1 and f["details"]["matched_questions"] == 1
    assert "did not match them to their questions" in f["summary"]


def test_an_ids_alone_does_not_show_a_closed_port():
    # Snort alerts on DNS answers (a local rule) and Suricata's DNS log of an answer: an IDS logs
    # what matched, not every question, and drops nothing here
    for p in (CORPUS / "elastic-integrations" / "snort" / "test-log-fast.log",
              CORPUS / "elastic-integrations" / "suricata" / "test-eve-small.log"):
        assert not ids(run(p, home=False), "dns.stale"), p
