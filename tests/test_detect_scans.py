"""Scan, decoy, traceroute, sscan and proxy detectors on real records (psad corpus, lab fixtures)."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from fwforensics import analysis
from fwforensics.reports.export import _default as _json_default   # (a finding's PortRuns as its list)

from _shared import CORPUS  # noqa: E402
PSAD = CORPUS / "psad"
LAB = Path(__file__).parent / "fixtures" / "lab"
MINE = {"scan.vertical", "scan.horizontal", "scan.block", "scan.syn", "scan.fin", "scan.null", "scan.xmas",
        "scan.ack", "scan.udp", "ping.sweep", "scan.decoy", "traceroute.unix", "traceroute.windows",
        "traceroute.from_inside", "sscan", "proxy.scan", "host.link"}

needs_psad = pytest.mark.skipif(not PSAD.is_dir(), reason="shared psad corpus not present")


def run(*paths, **opts):
    if not opts:
        return _cached(tuple(str(p) for p in paths))
    return analysis.analyze([str(p) for p in paths], analysis.Options(**opts))


@functools.lru_cache(maxsize=None)
def _cached(paths):
    # reports are only read by the tests, never changed
    return analysis.analyze(list(paths), analysis.Options())


def by_id(report, fid):
    return [f for f in report["findings"] if f["id"] == fid]


def one(report, fid, src):
    got = [f for f in by_id(report, fid) if f["src"] == src]
    assert len(got) == 1, (fid, src, [(f["id"], f["src"]) for f in report["findings"]])
    return got[0]


# --- psad's own test assertions (MANIFEST.md) -------------------------------------------------
PSAD_CASES = [
    # file, flavour id, scan_type, shape id, src, records, port ranges, hosts
    ("syn_scan_1000_1500", "scan.syn", "syn", "scan.vertical", "192.168.10.55", 1002, "1000-1500", 1),
    ("fin_scan_1000_1150", "scan.fin", "fin", "scan.vertical", "192.168.10.55", 302, "1000-1150", 1),
    ("null_scan_1000_1150", "scan.null", "null", "scan.vertical", "192.168.10.55", 302, "1000-1150", 1),
    ("xmas_scan_1000_1150", "scan.xmas", "xmas", "scan.vertical", "192.168.10.55", 302, "1000-1150", 1),
    ("ack_scan_1000_1150", "scan.ack", "ack", "scan.vertical", "192.168.10.55", 302, "1000-1150", 1),
    ("udp_scan_1000_1150", "scan.udp", "udp", "scan.vertical", "192.168.10.55", 302, "1000-1150", 1),
    ("syn_scan_1000_1500_multi_dst", "scan.syn", "syn", "scan.block", "192.168.10.55", 4008, "1000-1500", 4),
    ("syn_sweep", "scan.syn", "syn", "scan.horizontal", "192.168.10.55", 12, "1083", 11),
    ("topera_ipv6_syn_scan_no_ip_opts", "scan.syn", "syn", "scan.vertical", "2012:1234:1234::1", 1024, "0-1023", 1),
    ("topera_ipv6_syn_scan_with_ip_opts", "scan.syn", "syn", "scan.vertical", "2012:1234:1234::1", 1025, "0-1023,1234", 1),
    ("syn_scan_1000_1500_localhost", "scan.syn", "syn", "scan.vertical", "127.0.0.1", 1002, "1000-1500", 1),
    ("syn_scan_1000_1500_zeroip", "scan.syn", "syn", "scan.vertical", "0.0.0.0", 1002, "1000-1500", 1),
]


@needs_psad
@pytest.mark.parametrize("name,fid,stype,shape,src,n,ranges,hosts", PSAD_CASES, ids=[c[0] for c in PSAD_CASES])
def test_psad_scans(name, fid, stype, shape, src, n, ranges, hosts):
    rep = run(PSAD / name)
    f = one(rep, fid, src)
    assert f["count"] == n and f["details"]["scan_type"] == stype
    assert f["details"]["port_ranges"] == ranges and f["details"]["hosts"] == hosts
    s = one(rep, shape, src)
    assert s["count"] == n and s["details"]["scan_type"] == stype and s["details"]["shape"] == shape.split(".")[1]
    assert s["evidence"]["records"] == n and s["evidence"]["samples"]
    # one flavour only: an ACK scan is not also called a SYN scan, and so on
    flavours = {x["id"] for x in rep["findings"] if x["id"] in
                {"scan.syn", "scan.fin", "scan.null", "scan.xmas", "scan.ack", "scan.udp"}}
    assert flavours == {fid}


@needs_psad
def test_nmap_raw_probes_recognised_by_ttl_and_window():
    f = one(run(PSAD / "ack_scan_1000_1150"), "scan.ack", "192.168.10.55")
    assert "nmap" in f["details"]["tool_hint"]
    z = f["details"]["zen"]
    assert z["hops"] is None and z["ttl_range"] == [37, 59] and "37-59" in z["note"]


@needs_psad
def test_ipv6_connect_scan_is_a_syn_scan_not_sscan_nor_proxy_hunt():
    # nmap's top-1000 connect scan covers sscan's whole port list and every proxy port
    rep = run(PSAD / "ipv6_tcp_connect_nmap_default_scan")
    f = one(rep, "scan.vertical", "2001:db8:0:f101::2")
    assert f["details"]["ports"] == 1000
    assert not by_id(rep, "sscan") and not by_id(rep, "proxy.scan") and not by_id(rep, "scan.decoy")


@needs_psad
@pytest.mark.parametrize("name", ["ipv4_valid_ping", "mirai_default_credentials_scan", "ms_sql_server_sig_match",
                                  "reputation_scan", "fwknop_spa_pkt", "ipv6_ping_scan", "syslog_time_fmt1.log"])
def test_psad_small_files_are_not_scans(name):
    rep = run(PSAD / name)
    assert not [f for f in rep["findings"] if f["id"] in MINE]


# --- lab fixtures: real nmap / hping3 / traceroute runs --------------------------------------
def _truth(name):
    return json.loads((LAB / f"{name}.truth.json").read_text())


LAB_NAMES = sorted(p.name[: -len(".truth.json")] for p in LAB.glob("*.truth.json"))


@pytest.mark.parametrize("name", [n for n in LAB_NAMES if n != "nmap_decoy"])
def test_lab_expected_and_forbidden(name):
    t = _truth(name)
    rep = run(LAB / t["log"])
    got = {(f["id"], f["src"]) for f in rep["findings"]}
    for e in t["expected"]:
        if e["id"] in MINE and not e.get("capture_only"):   # (an ARP sweep is in the capture only)
            assert (e["id"], e["src"]) in got, (e, sorted(got))
    for fid in t["forbidden"]:
        assert not by_id(rep, fid), fid


def test_lab_counts():
    f = one(run(LAB / "nmap_syn.log"), "scan.syn", "198.51.100.66")
    assert f["details"]["port_ranges"] == "1-79,81-300" and f["targets"] == ["192.0.2.10"]
    assert f["count"] == 299   # port 80 is open on the lab host: the firewall accepts it and does not log it
    b = one(run(LAB / "block_scan.log"), "scan.block", "198.51.100.17")
    assert b["ports"] == [21, 22, 23, 24, 25] and b["details"]["hosts"] >= 8
    p = one(run(LAB / "ping_sweep.log"), "ping.sweep", "198.51.100.17")
    assert p["details"]["hosts"] >= 8


def test_traceroute_details():
    u = one(run(LAB / "traceroute_udp.log"), "traceroute.unix", "198.51.100.66")
    assert u["count"] == 18 and u["details"]["first_port"] == 33440 and u["details"]["hops_estimate"] == 2
    w = one(run(LAB / "traceroute_icmp.log"), "traceroute.windows", "198.51.100.66")
    assert w["count"] == 18 and w["details"]["arrival_ttl"] == [1, 6]
    i = one(run(LAB / "traceroute_from_inside.log"), "traceroute.from_inside", "192.0.2.10")
    assert i["details"]["routers"] == ["203.0.113.1"] and i["details"]["traced"] == ["198.51.100.66"]
    assert i["count"] == 9


def test_traceroute_from_next_door_says_so(tmp_path):
    # the lab's UDP traceroute with every port 6 lower: its first probes (33434, TTL 1) reached the
    # firewall, a tracer on an attached network ("about 0 hop(s) away" before)
    import re
    text = re.sub(r"DPT=(\d+)", lambda mt: f"DPT={int(mt.group(1)) - 6}", (LAB / "traceroute_udp.log").read_text())
    (tmp_path / "t.log").write_text(text)
    u = one(run(tmp_path / "t.log"), "traceroute.unix", "198.51.100.66")
    assert u["details"]["first_port"] == 33434 and u["details"]["hops_estimate"] == 0
    assert u["summary"].endswith("its first probes (sent with a TTL of 1) were seen here: the tracer is on an attached network, "
                                "or is this host itself")
    assert "hop(s) away" in one(run(LAB / "traceroute_udp.log"), "traceroute.unix", "198.51.100.66")["summary"]


def test_sscan_and_proxy_details():
    s = one(run(LAB / "sscan.log"), "sscan", "198.51.100.5")
    assert set(s["details"]["phases"]) == {"ack-pings", "fingerprint", "port-list"}
    assert s["details"]["ack_pings"] == 5 and s["confidence"].startswith("high")
    p = one(run(LAB / "proxy_scan.log"), "proxy.scan", "198.51.100.31")
    assert p["details"]["variant"] == "RingZero" and p["ports"] == [80, 1080, 3128, 8000, 8001, 8080, 8888]


# --- decoys ---------------------------------------------------------------------------------
def test_decoy_group_found_and_real_source_named_from_history():
    # the same attacker's earlier SYN scan (nmap_syn) is in the history: only it has activity of its own
    rep = run(LAB / "nmap_syn.log", LAB / "nmap_decoy.log")
    t = _truth("nmap_decoy")
    d = one(rep, "scan.decoy", t["real_src"])
    assert d["details"]["real_source"] == t["real_src"]
    assert sorted(d["details"]["decoys"]) == sorted(t["expected"][0]["decoys"])
    assert d["confidence"].startswith("high") and d["count"] == 400 and d["ports"] == list(range(1, 101))
    assert "same IP ID" in d["details"]["one_machine"]
    # the decoys' own scan findings are marked
    # (the real one's finding is a block scan: its earlier scan of 192.0.2.10 falls in the same session)
    roles = {f["src"]: f["details"]["decoy_group"]["role"] for f in rep["findings"]
             if f["id"] in ("scan.vertical", "scan.block") and "decoy_group" in f["details"]}
    assert roles[t["real_src"]] == "real" and sorted(k for k, v in roles.items() if v == "decoy") == sorted(
        t["expected"][0]["decoys"])


def test_decoy_group_alone_says_it_cannot_tell():
    # nmap randomises every copy's TTL and there is no other activity: no honest way to pick one
    rep = run(LAB / "nmap_decoy.log")
    d = by_id(rep, "scan.decoy")
    assert len(d) == 1 and d[0]["src"] is None and d[0]["confidence"].startswith("low")
    assert len(d[0]["details"]["candidates"]) == 4


def test_decoys_are_said_to_be_forged_and_left_out_of_the_verdicts_sources():
    # the scan findings of each decoy said "X probed 100 ports", and the verdict listed every decoy
    # among the sources aimed at this site: the ones an abuse report would be written about
    rep = run(LAB / "nmap_syn.log", LAB / "nmap_decoy.log")
    t = _truth("nmap_decoy")
    real, decoys = t["real_src"], sorted(t["expected"][0]["decoys"])
    marked = [f for f in rep["findings"] if f["details"].get("decoy_group", {}).get("role") == "decoy"]
    assert sorted({f["src"] for f in marked}) == decoys
    for f in marked:
        assert f"most likely a decoy: {real} sent these probes under this address" in f["summary"], f["summary"]
    assert all("the real sender of a decoy scan" in f["summary"] for f in rep["findings"]
               if f["details"].get("decoy_group", {}).get("role") == "real")
    (v,) = by_id(rep, "verdict")
    assert v["details"]["forged_decoys"] == {d: real for d in decoys}
    assert real in v["details"]["aimed_sources"] and not set(decoys) & set(v["details"]["aimed_sources"])
    assert f"{real} also sent its scan under {', '.join(decoys)}" in v["explanation"]
    # the aimed kinds overlap (a SYN scan's records are also its port scan's): their sum is more than
    # the log holds, and the explanation says that each kind counts its own records
    assert sum(v["details"]["aimed"].values()) > v["count"]
    assert "Aimed at this site (records counted in each of their kinds): " in v["explanation"]


def test_decoy_group_without_a_real_source_keeps_every_candidate():
    # nothing tells the four apart: each may be the real one, so none is left out, and each says so
    rep = run(LAB / "nmap_decoy.log")
    cands = sorted(by_id(rep, "scan.decoy")[0]["details"]["candidates"])
    (v,) = by_id(rep, "verdict")
    assert v["details"]["forged_decoys"] == {} and sorted(v["details"]["aimed_sources"]) == cands
    assert "Forged decoys" not in v["explanation"]
    for f in by_id(rep, "scan.vertical"):
        assert "one of 4 addresses of a decoy scan, only one of which is real" in f["summary"]


def test_two_scans_one_after_the_other_are_not_decoys():
    # ttl_families: two hping3 runs over the same 12 ports, the second after the first
    rep = run(LAB / "ttl_families.log")
    assert not by_id(rep, "scan.decoy")
    assert {f["src"] for f in by_id(rep, "scan.vertical")} == {"198.51.100.64", "198.51.100.128"}


# --- look-alike benign traffic ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["background_noise", "identd_blocked", "dns_stale", "netbios_nbstat",
                                  "icmp_backscatter", "pmtu_frag_needed", "broadcasts"])
def test_benign_lookalikes_silent(name):
    # web fetches, a client (mail server) retrying one port, late DNS answers, NetBIOS lookups,
    # backscatter, PMTU messages, broadcasts: none is a scan, sweep, trace, sscan or proxy hunt
    rep = run(LAB / f"{name}.log")
    assert not [f for f in rep["findings"] if f["id"] in MINE], [(f["id"], f["src"]) for f in rep["findings"]]


@needs_psad
def test_steady_ping_is_not_a_traceroute():
    rep = run(PSAD / "ipv4_valid_ping")
    assert not by_id(rep, "traceroute.windows") and not by_id(rep, "ping.sweep")


def test_thresholds_are_tunable():
    rep = run(LAB / "block_scan.log", cfg={"scans": {"HORIZONTAL_MIN_HOSTS": 100}})
    assert not by_id(rep, "scan.block") and not by_id(rep, "scan.horizontal")


def test_deterministic():
    paths = [str(LAB / n) for n in ("nmap_syn.log", "nmap_decoy.log", "sscan.log", "traceroute_udp.log")]
    a = analysis.analyze(paths, analysis.Options())
    b = analysis.analyze(list(reversed(paths))[::-1], analysis.Options())
    assert json.dumps(a["findings"], default=_json_default) == json.dumps(b["findings"], default=_json_default)


@needs_psad
def test_record_without_time_stamp_is_in_no_session():
    # the first line of this psad file carries a prefix before its syslog date, so the record has
    # no time stamp: it belongs to no scan session, and each finding's per-flavour counts add up
    # to the records it cites (the ts-less record used to be counted into the last session only)
    rep = run(PSAD / "ipv6_tcp_connect_nmap_default_scan", PSAD / "ipv6_ms_sql_server_sig_match")
    f = one(rep, "scan.vertical", "2001:db8:0:f101::2")
    assert sum(f["details"]["scan_types"].values()) == f["count"] == f["evidence"]["records"]
    assert "1" not in f["evidence"]["files"].get(str(PSAD / "ipv6_ms_sql_server_sig_match"), "").split(",")
    flav = one(rep, "scan.syn", "2001:db8:0:f101::2")
    assert flav["details"]["scan_types"] == {"syn": flav["count"]}


def test_proxy_hunt_sessions_end_after_a_quiet_gap_and_untimed_probes_make_one(tmp_path):
    """proxy's sessions: the lab's RingZero run again an hour later is a second hunt; the same
    probes without a time stamp are one session of their own."""
    lines = (LAB / "proxy_scan.log").read_text().splitlines(keepends=True)
    later = [ln.replace("Nov 22 03:", "Nov 22 04:", 1) for ln in lines]
    two = tmp_path / "twice.log"
    two.write_text("".join(lines + later))
    got = [f for f in by_id(run(two, year=2025), "proxy.scan") if f["src"] == "198.51.100.31"]
    assert len(got) == 2 and [f["count"] for f in got] == [len(lines)] * 2
    assert got[0]["last_seen"] < got[1]["first_seen"]
    untimed = tmp_path / "untimed.log"
    untimed.write_text("".join(ln.split(" kernel: ", 1)[1] for ln in lines))
    rep = run(untimed, year=2025)
    assert rep["records_read"] == len(lines)
    got = [f for f in by_id(rep, "proxy.scan") if f["src"] == "198.51.100.31"]
    assert len(got) == 1 and got[0]["details"]["proxy_ports"] == 7   # (RingZero's pattern needs times)
    # its records are the untimed probes: counted, with their ports, hosts and evidence
    probes = [ln for ln in lines if "SRC=198.51.100.31 " in ln and " SYN " in ln]
    f = got[0]
    assert f["count"] == len(probes) and f["first_seen"] is None and f["ports"] == [80, 1080, 3128, 8000, 8001, 8080, 8888]
    assert f["evidence"]["records"] == len(probes) and len(f["evidence"]["samples"]) == 3
    assert f["evidence"]["files"] == {str(untimed): f"1-{len(lines)}"}


def test_scan_sessions_follow_slow_probes_across_buckets_and_end_after_the_gap(tmp_path):
    """Scan sessions (scans.sessions): a source's probes 600 s apart stay one session over hours
    (across many SESSION_GAP-long buckets of time), a gap of exactly SESSION_GAP does not end it,
    one second more does; probes each more than SESSION_GAP apart are no scan at all."""
    from datetime import datetime, timedelta
    t0 = datetime(2025, 3, 11, 20, 7, 30)

    def line(t, src, port):
        return (f"{t:%b %e %H:%M:%S} gw kernel: DROP IN=eth1 OUT= SRC={src} DST=192.0.2.10 LEN=44 TOS=0x00 "
                f"PREC=0x00 TTL=53 ID=1 PROTO=TCP SPT=40000 DPT={port} WINDOW=3072 RES=0x00 SYN URGP=0 \n")
    out = []
    out += [line(t0 + timedelta(seconds=600 * i), "198.51.100.1", 1000 + i) for i in range(12)]      # slow, one session
    out += [line(t0 + timedelta(seconds=901 * i), "198.51.100.2", 2000 + i) for i in range(12)]      # every gap too long
    out += [line(t0 + timedelta(seconds=900 * i), "198.51.100.3", 3000 + i) for i in range(12)]      # gaps of exactly 900 s
    quick = [t0 + timedelta(seconds=i) for i in range(10)]
    out += [line(t, "198.51.100.5", 5000 + i) for i, t in enumerate(quick)]                           # two scans,
    out += [line(t + timedelta(seconds=9 + 901), "198.51.100.5", 6000 + i) for i, t in enumerate(quick)]  # 901 s apart
    p = tmp_path / "slow.log"
    p.write_text("".join(sorted(out, key=lambda s: datetime.strptime("2025 " + s[:15], "%Y %b %d %H:%M:%S"))))
    rep = run(p, year=2025)
    vert = {}
    for f in by_id(rep, "scan.vertical"):
        vert.setdefault(f["src"], []).append(f)
    assert sorted(vert) == ["198.51.100.1", "198.51.100.3", "198.51.100.5"]
    assert [f["ports"] for f in vert["198.51.100.1"]] == [list(range(1000, 1012))]
    assert [f["ports"] for f in vert["198.51.100.3"]] == [list(range(3000, 3012))]
    assert sorted(f["details"]["port_ranges"] for f in vert["198.51.100.5"]) == ["5000-5009", "6000-6009"]


def test_a_scan_within_one_second_says_so():
    # the README's sample: 198.51.100.33 sent its 13 SYNs in the same second ("over 0s" before)
    rep = run(Path(__file__).resolve().parents[1] / "examples" / "sample.log")
    (f,) = [f for f in by_id(rep, "scan.syn") if f["src"] == "198.51.100.33"]
    assert f["summary"].endswith("with TCP SYN packets within a second"), f["summary"]
    assert not [f["summary"] for f in rep["findings"] if "over 0s" in f["summary"]]


# --- what the scanned hosts answered (captures hold the answers) ------------------------------
def test_a_capture_tells_which_probed_port_answered_open():
    # the lab's nmap SYN scan of ports 1-300 of the LAN host, whose web server on 80 answered
    # with a SYN-ACK (in the capture: the firewall passed it and logged nothing)
    rep = run(LAB / "nmap_syn.pcap", home_nets=["192.0.2.0/24"])
    for fid in ("scan.syn", "scan.vertical"):
        f = one(rep, fid, "198.51.100.66")
        assert f["details"]["answers"] == {"open": ["192.0.2.10:80"], "open_count": 1, "closed": 0}
        assert f["summary"].endswith("; 1 port answered open (192.0.2.10:80)")
    v = one(rep, "verdict", None)
    assert v["details"]["open_answers"] == ["192.0.2.10:80"]
    assert v["summary"].startswith("Someone looked at this site on purpose (1 source) and found 1 open service,")
    assert "answered as open on 192.0.2.10:80" in v["explanation"]
    assert v["advice"].startswith("Check that the service that answered the scans (192.0.2.10:80)")
    # when other findings need action, the open services are added to their advice
    ss = one(run(LAB / "sscan.pcap", home_nets=["192.0.2.0/24"]), "verdict", None)
    assert ss["details"]["needs_action"] and ss["advice"].endswith(
        "Also check that the services that answered the scans (192.0.2.10:80) are meant to be reachable.")
    # the firewall's log of the same run holds no answer: nothing is claimed
    log = run(LAB / "nmap_syn.log", home_nets=["192.0.2.0/24"])
    assert "answers" not in one(log, "scan.syn", "198.51.100.66")["details"]
    assert one(log, "verdict", None)["details"]["open_answers"] == []
    assert one(log, "verdict", None)["advice"].startswith("Nothing needs doing")


def _tcp_frame(src, dst, sport, dport, flags):
    import socket

    import dpkt
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=1, win=1024)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), ttl=50, id=7,
                    p=dpkt.ip.IP_PROTO_TCP, data=tcp)
    ip.len = len(bytes(ip))
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def test_open_and_closed_answers_within_the_wait(tmp_path):
    import dpkt
    scanner, host = "198.51.100.70", "192.0.2.30"
    SYN, RST, ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_RST, dpkt.tcp.TH_ACK
    frames = []   # (seconds, frame)
    for i, port in enumerate(range(20, 40)):   # 20 ports probed in 2 s
        t = i * 0.1
        frames.append((t, _tcp_frame(scanner, host, 50000, port, SYN)))
        if port in (22, 25):
            frames.append((t + 0.01, _tcp_frame(host, scanner, port, 50000, SYN | ACK)))
        elif port != 39:
            frames.append((t + 0.01, _tcp_frame(host, scanner, port, 50000, RST | ACK)))
    frames.append((1.0, _tcp_frame(host, scanner, 8080, 50000, SYN | ACK)))   # a port never probed
    frames.append((300.0, _tcp_frame(host, scanner, 39, 50000, SYN | ACK)))   # five minutes later
    p = tmp_path / "answers.pcap"
    with open(p, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for t, fr in frames:
            w.writepkt(fr, ts=1_700_000_000 + t)
    rep = run(p, home_nets=["192.0.2.0/24"])
    f = one(rep, "scan.vertical", scanner)
    assert f["details"]["answers"] == {"open": ["192.0.2.30:22", "192.0.2.30:25"], "open_count": 2, "closed": 17}
    assert "2 ports answered open (192.0.2.30:22, 192.0.2.30:25) and 17 closed" in f["summary"]
    late = run(p, home_nets=["192.0.2.0/24"], cfg={"scans": {"ANSWER_WAIT": 400}})
    assert one(late, "scan.vertical", scanner)["details"]["answers"]["open_count"] == 3


def test_a_zeek_log_tells_which_connections_of_a_scan_were_established():
    # the Trickbot capture's Zeek conn.log: the infected 172.16.9.5 tried 10 ports on 21 hosts; the
    # connections Zeek saw established (SF, S1, S3, RSTO, RSTR) reached open ports, REJ closed ones
    rep = run(CORPUS / "zeek-trickbot-tsv" / "conn.log")
    f = one(rep, "scan.syn", "172.16.9.5")
    a = f["details"]["answers"]
    assert (a["open_count"], a["closed"]) == (14, 2)
    assert {"190.145.74.84:449", "78.47.139.102:443", "172.16.9.1:445"} <= set(a["open"])
    assert "14 ports answered open" in f["summary"]
    # a host of ours scanning out: what it reached is said in its finding, not as our open services
    v = one(rep, "verdict", None)
    assert v["details"]["open_answers"] == [] and "answered the scans" not in v["advice"]
