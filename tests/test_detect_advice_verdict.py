"""config.advice and verdict over whole lab runs."""
import glob

from _detect_util import LAB, ids, lab, run


def _topic(fs, topic):
    return [f for f in ids(fs, "config.advice") if f["details"]["topic"] == topic]


def test_identd_advice():
    fs = lab("identd_blocked")
    (a,) = _topic(fs, "identd")
    assert a["count"] == 4 and a["targets"] == ["198.51.100.25"]
    assert ids(fs, "identd.blocked")[0]["details"]["advice_topic"] == "identd"


def test_pmtu_advice():
    (a,) = _topic(lab("pmtu_frag_needed"), "pmtu")
    assert a["severity"] == "high" and a["count"] == 3


def test_no_advice_for_plain_scans():
    for name in ("nmap_syn", "background_noise", "netbios_nbstat"):
        assert not ids(lab(name), "config.advice"), name


def test_exactly_one_verdict_everywhere():
    for p in sorted(glob.glob(str(LAB / "*.log"))):
        assert len(ids(run(p), "verdict")) == 1, p


def test_verdict_background_noise_needs_nothing():
    (v,) = ids(lab("background_noise"), "verdict")
    assert v["severity"] == "info" and v["details"]["needs_action"] == []
    assert v["details"]["background"] == {"NetBIOS name lookups": 1}


def test_verdict_smurf_needs_action():
    (v,) = ids(lab("smurf"), "verdict")
    assert v["severity"] == "high"
    assert v["details"]["needs_action"][0]["id"] == "smurf"
    assert "198.51.100.200" in v["explanation"]


def test_findings_are_deterministic():
    a, b = lab("icmp_types"), lab("icmp_types")
    assert a == b


import pytest  # noqa: E402


@pytest.mark.parametrize("merge_at,piece", [(None, None), (1, 1), (3, 5)])
def test_verdict_counts_each_record_once_across_overlapping_findings(monkeypatch, merge_at, piece):
    """The verdict's count of records behind findings (kept as integer arrays, summed with numpy)
    equals the size of the union of every finding's line ranges, on random overlapping spans in
    two files, with single lines, nested, touching and repeated spans; also when a file's spans are
    merged into disjoint ones as they come and the texts are parsed in pieces (``MERGE_SPANS``,
    ``PIECE_CHARS``, which bound memory on big logs)."""
    import random
    from fwforensics.detectors import verdict
    if merge_at is not None:   # (and each ranges text parsed a few characters at a time)
        monkeypatch.setattr(verdict, "MERGE_SPANS", merge_at)
        monkeypatch.setattr(verdict, "PIECE_CHARS", piece)
    from fwforensics.detectors.verdict import _distinct_records
    from fwforensics.findings import Evidence, Finding, compress_lines
    rnd = random.Random(8)
    for _ in range(200):
        fs, want = [], {"a.log": set(), "b.log": set()}
        for _ in range(rnd.randint(0, 6)):
            files = {}
            for name in rnd.sample(sorted(want), rnd.randint(1, 2)):
                lines = set()
                for _ in range(rnd.randint(0, 4)):
                    lo = rnd.randint(1, 60)
                    lines |= set(range(lo, lo + rnd.choice((1, 1, 2, 5, 20))))
                want[name] |= lines
                files[name] = compress_lines(sorted(lines))
            fs.append(Finding("netbios", "low", "192.0.2.1", "s", evidence=Evidence(files=files)))
        assert _distinct_records(fs) == sum(len(v) for v in want.values())
    # line numbers past 2**31 (not packed with their end in one integer) mixed with small ones
    big = 1 << 31
    fs = [Finding("netbios", "low", None, "s", evidence=Evidence(files={"a.log": f"5-9,{big - 2}-{big + 3}", "c.log": f"{big}"})),
          Finding("netbios", "low", None, "s", evidence=Evidence(files={"a.log": f"7-12,{big + 1}-{big + 10}"}))]
    assert _distinct_records(fs) == 8 + 13 + 1


def test_an_inside_host_scanning_others_needs_action_not_aimed_at_us():
    # a Zeek sensor's log of a LAN where 172.16.9.5 (Trickbot) probes 445, 447, 449, 8082... on
    # two dozen hosts: that host is the problem, not a visitor
    from _detect_util import CORPUS
    (v,) = ids(run(CORPUS / "zeek-trickbot-tsv" / "conn.log", home=False), "verdict")
    assert v["details"]["scanning_inside"] == ["172.16.9.5"]
    assert "172.16.9.5" not in v["details"]["aimed_sources"] and not v["details"]["aimed"]
    assert {(a["id"], a["src"]) for a in v["details"]["needs_action"]} >= {("scan.block", "172.16.9.5")}
    assert "Hosts of your own network (172.16.9.5) scan others" in v["explanation"]
    assert "check it for malware" in v["advice"]
    # the same kind of scan from outside stays aimed at us, and needs no action by itself
    (v,) = ids(lab("nmap_syn"), "verdict")
    assert v["details"]["scanning_inside"] == [] and v["details"]["aimed_sources"]


def test_without_a_home_net_the_verdict_does_not_say_whose_hosts():
    # a capture of someone's traceroute, with no home net: it cannot tell it was aimed at "this site"
    from _detect_util import CORPUS
    (v,) = ids(run(CORPUS / "tcpdump-tests" / "mpls-traceroute.pcap", home=False), "verdict")
    assert "this site" not in v["summary"] + v["explanation"]
    assert "not known whether they were run from your side or aimed at it" in v["explanation"]
    (v,) = ids(run(LAB / "nmap_syn.pcap", home=False), "verdict")
    assert "Aimed at hosts in this log (which of them are yours is not known)" in v["explanation"]
    (v,) = ids(lab("nmap_syn"), "verdict")
    assert "Aimed at this site" in v["explanation"]


def test_our_own_traceroute_is_not_background_radiation():
    # the LAN host traced out; the firewall logged the routers' time-exceeded and the target's
    # unreachables: the verdict says so instead of calling them backscatter of attacks on others
    (v,) = ids(lab("traceroute_from_inside"), "verdict")
    assert v["summary"].startswith("Nothing aimed at you") and "background" not in v["summary"]
    assert "Traceroutes run from your side: 192.0.2.10" in v["explanation"]
    assert v["details"]["background_records"] == 0


def test_a_smurfs_victim_is_not_named_among_those_who_aimed_at_us():
    # the lab's smurf forges 198.51.100.200 as the source: it is the victim, named as such
    (v,) = ids(lab("smurf"), "verdict")
    assert "198.51.100.200" not in v["details"]["aimed_sources"]
    assert "amplifier (smurf/fraggle) against 198.51.100.200" in v["explanation"]
    assert "Aimed at" not in v["explanation"]


def test_an_infected_inside_host_is_not_background_noise():
    # psad's one IPv6 record of 1433 between two addresses of one /64 (the inferred home net): the
    # verdict called the same record "internet background radiation" and "a host of your own
    # network behaving like a worm"
    from _detect_util import CORPUS
    (v,) = ids(run(CORPUS / "psad" / "ipv6_ms_sql_server_sig_match", home=False), "verdict")
    assert v["details"]["infected_inside"] == ["2001:db8:0:f101::2"]
    assert v["details"]["background"] == {} and v["details"]["background_records"] == 0
    assert "background" not in v["summary"] + v["explanation"]
    assert v["summary"] == "1 finding needs action."


def test_one_record_is_counted_in_the_singular():
    from _detect_util import CORPUS
    rep = analyze_json(CORPUS / "psad" / "fwknop_spa_pkt")
    (v,) = ids(rep["findings"], "verdict")
    assert v["summary"].startswith("Nothing recognised in 1 record:")
    rep = analyze_json(CORPUS / "psad" / "ipv6_ms_sql_server_sig_match")
    assert any("the one dropped record was addressed there" in a for a in rep["assumptions"])
    assert any("the one drop arrived there" in a for a in rep["assumptions"])


def analyze_json(path):
    from fwforensics.analysis import Options, analyze
    return analyze([str(path)], Options())


def test_a_scan_from_an_impossible_source_is_aimed_and_forged_not_background():
    # psad's SYN scan of 192.168.10.1 from 127.0.0.1 arriving on eth1: the verdict called its 1002
    # records background radiation ("impossible source addresses") and a scan aimed at the site
    from _detect_util import CORPUS
    (v,) = ids(run(CORPUS / "psad" / "syn_scan_1000_1500_localhost", home=False), "verdict")
    assert v["details"]["background"] == {} and v["details"]["background_records"] == 0
    assert v["details"]["aimed_sources"] == ["127.0.0.1"]
    assert "127.0.0.1 cannot be a real sender there (see bogon.source)" in v["explanation"]
    assert "background" not in v["summary"] + v["explanation"]


def test_a_tiny_share_is_not_rounded_to_zero():
    from _detect_util import CORPUS
    (v,) = ids(run(CORPUS / "psad" / "topera_ipv6_syn_scan_no_ip_opts", home=False), "verdict")
    assert v["explanation"].startswith("Under 1% of the records (4) are internet background radiation")


def test_a_capture_of_a_traceroute_and_its_answers_says_neither_side():
    # the lab's traceroutes from outside (UDP, ICMP) and from the LAN, captured: each capture holds
    # the probes and the routers' answers, and without a home net the verdict said both "traceroutes
    # towards you" and "run from your side" of the same host
    for name, tracer in (("traceroute_udp", "198.51.100.66"), ("traceroute_icmp", "198.51.100.66"),
                         ("traceroute_from_inside", "192.0.2.10")):
        (v,) = ids(run(LAB / f"{name}.pcap", home=False), "verdict")
        text = v["summary"] + " " + v["explanation"]
        assert "towards you" not in text and "run from your side:" not in text, (name, text)
        assert v["summary"].startswith("Only traceroutes and the routers' answers to them were recognised")
        assert f"Traceroutes by {tracer}, with the routers' answers" in v["explanation"]
    # with the home net the log of the LAN's own traceroute still says so
    (v,) = ids(lab("traceroute_from_inside"), "verdict")
    assert v["summary"].startswith("Nothing aimed at you")


def test_the_syn_finding_of_a_one_port_sweep_is_background_like_the_sweep():
    # the lab's MS SQL worm sweep (16 hosts, port 1433): its scan.syn finding (the same records as
    # its scan.horizontal) made the verdict say "someone looked at this site on purpose"
    (v,) = ids(lab("worm_mssql"), "verdict")
    assert v["summary"].startswith("Only internet background radiation was recognised")
    assert v["details"]["aimed"] == {} and v["details"]["aimed_sources"] == []
    assert v["details"]["background"]["sweeps of one port"] == 16


def test_netbios_advice_counts_the_sources_of_grouped_findings(tmp_path):
    # the benchmark generator's log (10 k lines): 130 sources of NetBIOS lookups, 110 of them in one
    # grouped finding; the advice said "from 21 sources" (the number of findings)
    import subprocess
    import sys
    from pathlib import Path
    gen = Path(__file__).resolve().parents[1] / "bench" / "generate.py"
    log = tmp_path / "gen.log"
    subprocess.run([sys.executable, str(gen), "--lines", "10000", "--out", str(log), "--seed", "7"],
                   check=True, capture_output=True)
    fs = run(log, home=False)
    nb = ids(fs, "netbios.nbstat")
    grouped = [f for f in nb if f["details"].get("aggregated")]
    assert grouped, "the generated log no longer has a grouped NetBIOS finding"
    sources = sum(f["details"]["sources"] for f in grouped) + len(nb) - len(grouped)
    assert sources > len(nb)
    (a,) = _topic(fs, "netbios-ptr")
    assert a["summary"].startswith("Check that reverse DNS (PTR) for your addresses answers: ")
    assert a["summary"].endswith(f"NetBIOS lookups from {sources} sources"), a["summary"]
