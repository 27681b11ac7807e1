"""Packet Zen, host linking and the inference of "us", on real records where tools can make them."""
from __future__ import annotations

from pathlib import Path

import sqlglot

from fwforensics import analysis, detectors, events
from fwforensics.detectors import _us, zen
from fwforensics.reader import ReadStats

LAB = Path(__file__).parent / "fixtures" / "lab"


def ctx_for(*paths, tmp=None):
    con = events.connect()
    analysis.load_inputs(con, [str(p) for p in paths], analysis.Options(), ReadStats())
    return detectors.Context(con=con)


def test_zen_ttl_families_and_hops():
    # hping3 --ttl 64 and --ttl 128, both two hops away (lab truth: extra.initial_ttl, extra.hops)
    p = zen.profile(ctx_for(LAB / "ttl_families.log"))
    assert p["198.51.100.64"]["initial_ttl"] == 64 and p["198.51.100.64"]["hops"] == 2
    assert p["198.51.100.128"]["initial_ttl"] == 128 and p["198.51.100.128"]["hops"] == 2
    assert p["198.51.100.128"]["os_family"] == "Windows"
    assert p["198.51.100.64"]["ip_id"] == "random"


def test_zen_traceroute_probes_do_not_fake_a_ttl_family():
    p = zen.profile(ctx_for(LAB / "traceroute_udp.log"))
    assert p.get("198.51.100.66") is None or p["198.51.100.66"]["initial_ttl"] is None


def test_zen_nmap_random_ttl():
    p = zen.profile(ctx_for(LAB / "nmap_syn.log"))["198.51.100.66"]
    assert p["ttl_wandering"] and p["hops"] is None


HAND = Path(__file__).parent / "fixtures" / "hand" / "hostlink_counter.log"


def test_host_link_one_counter_two_addresses():
    # HAND-WRITTEN records (tests/fixtures/hand/hostlink_counter.log): a host whose single global IP ID
    # counter stamps packets from two addresses. No tool or kernel available here produces a global
    # counter any more (Linux and hping3 randomise or hash IDs per destination), so the lab cannot
    # record one.
    rep = analysis.analyze([str(HAND)], analysis.Options())
    links = [f for f in rep["findings"] if f["id"] == "host.link"]
    assert len(links) == 1 and links[0]["src"] == "192.0.2.50" and links[0]["targets"] == ["198.51.100.7"]
    assert links[0]["count"] == 12 and links[0]["details"]["ip_id"] == "incrementing"


def test_host_link_silent_on_unrelated_sources():
    for name in ("ttl_families", "nmap_decoy", "background_noise", "sscan"):
        rep = analysis.analyze([str(LAB / f"{name}.log")], analysis.Options())
        assert not [f for f in rep["findings"] if f["id"] == "host.link"], name


def test_us_inferred_and_reported():
    rep = analysis.analyze([str(LAB / "nmap_syn.log")], analysis.Options())
    assert any("192.0.2.0/24" in a for a in rep["assumptions"])
    assert any("Outside interface assumed to be eth0" in a for a in rep["assumptions"])


def test_us_given_is_not_overridden():
    rep = analysis.analyze([str(LAB / "nmap_syn.log")], analysis.Options(home_nets=["192.0.2.0/25"], outside_ifs=["eth0"]))
    assert not rep["assumptions"] or not any("assumed" in a for a in rep["assumptions"])


class Recorder:
    """Records every SQL text sent to the real DuckDB connection."""

    def __init__(self, con):
        self.con, self.sql = con, []

    def execute(self, sql, *a):
        self.sql.append(sql)
        return self.con.execute(sql, *a)


def test_detector_sql_transpiles_to_spark():
    con = events.connect()
    analysis.load_inputs(con, [str(LAB / n) for n in ("nmap_syn.log", "nmap_decoy.log", "traceroute_udp.log",
                                                      "traceroute_icmp.log", "traceroute_from_inside.log",
                                                      "sscan.log", "proxy_scan.log")], analysis.Options(), ReadStats())
    rec = Recorder(con)
    ctx = detectors.Context(con=rec)
    _us.infer(ctx)
    detectors.run(ctx, only=["scans", "decoys", "traceroute", "sscan", "proxy", "hostlink"])
    assert len(rec.sql) > 20
    for s in rec.sql:
        out = sqlglot.transpile(s, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
        assert out and out[0]


def test_home_net_grouping_of_dotted_quads_is_ipaddress_own():
    # the integer path of _us._net gives the network ipaddress would (and None where it says none)
    import ipaddress
    import random
    rnd = random.Random(3)

    def slow(ip):
        try:
            a = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if a.is_multicast or a.is_unspecified or a.is_loopback or str(a).endswith(".255"):
            return None
        return ipaddress.ip_network(f"{a}/{24 if a.version == 4 else 64}", strict=False)

    ips = ["0.0.0.0", "255.255.255.255", "224.0.0.1", "127.0.0.1", "127.255.0.7", "::1", "239.255.255.254", "240.0.0.1", "10.0.0.255",
           "192.0.2.0", "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "١.2.3.4", " 1.2.3.4", "2001:db8::1"]
    ips += [".".join(str(rnd.randrange(256)) for _ in range(4)) for _ in range(5000)]
    for ip in ips:
        assert _us._net(ip) == slow(ip), ip


def test_outside_interface_counts_only_what_the_knowledge_base_calls_public(tmp_path):
    # drops from the IETF protocol block 192.0.0.0/24 (which Python 3.11's is_global calls global)
    # on eth1 outnumber the drops from a public address on eth0: eth0 is still the outside
    line = ("Mar 11 20:35:{s:02d} gw kernel: [UFW BLOCK] IN={i} OUT= SRC={src} DST=192.0.2.10 LEN=60 TOS=0x00 "
            "PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=4000 DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0 \n")
    text = "".join(line.format(s=k, i="eth1", src=f"192.0.0.{k + 20}") for k in range(30))
    text += "".join(line.format(s=k, i="eth0", src="8.8.4.4") for k in range(5))
    p = tmp_path / "fw.log"
    p.write_text(text)
    ctx = ctx_for(p)
    _us.infer(ctx)
    assert ctx.outside_ifs == ["eth0"]
    assert "public" in ctx.assumptions[-1]


def test_without_a_home_net_a_capture_says_so_and_traceroutes_from_inside_are_tentative():
    # a capture has no dropped records to infer our network from, and its traceroute answers look
    # the same whichever side traced: the finding is kept, but not asserted (real lab captures)
    out = analysis.analyze([str(LAB / "traceroute_udp.pcap")], analysis.Options())
    assert any(a.startswith("No home network could be inferred (no record was dropped") for a in out["assumptions"])
    f = [x for x in out["findings"] if x["id"] == "traceroute.from_inside"]
    assert f and f[0]["src"] == "198.51.100.66"          # the outside tracer, which it cannot rule out
    assert "taken as inside: no home network is known" in f[0]["summary"] and f[0]["confidence"].startswith("low")
    known = analysis.analyze([str(LAB / "traceroute_udp.pcap")], analysis.Options(home_nets=["192.0.2.0/24"]))
    assert not [x for x in known["findings"] if x["id"] == "traceroute.from_inside"]
    assert not any(a.startswith("No home network") for a in known["assumptions"])
    log = analysis.analyze([str(LAB / "traceroute_from_inside.log")], analysis.Options())   # drops: inferred
    g = [x for x in log["findings"] if x["id"] == "traceroute.from_inside"]
    assert g[0]["src"] == "192.0.2.10" and "(inside) ran" in g[0]["summary"] and g[0]["confidence"] is None


def _nf(sec: int, src: str, ttl: int, ipid: int, dpt: int = 80) -> str:
    return (f"Dec  1 10:{sec // 60:02d}:{sec % 60:02d} gw kernel: [ 1.0] DROP IN=eth0 OUT= SRC={src} "
            f"DST=192.0.2.10 LEN=40 TOS=0x00 PREC=0x00 TTL={ttl} ID={ipid} PROTO=TCP SPT=40000 DPT={dpt} "
            f"WINDOW=1024 RES=0x00 SYN URGP=0")


def test_zen_ip_id_behaviours_and_ttl_figures(tmp_path):
    # Records written here, one source per IP ID behaviour; TTL 3 is a traceroute-style probe
    # (counted as a packet, left out of the TTL figures).
    ids = {"198.51.100.1": [0] * 5, "198.51.100.2": [4242] * 5, "198.51.100.3": [100, 101, 102, 104, 105],
           "198.51.100.4": [256, 512, 768, 1024, 1280], "198.51.100.5": [9, 40000, 123, 61000, 7777],
           "198.51.100.6": [5, 6]}
    ttls = [50, 50, 3, 52, 50]
    lines, sec = [], 0
    for k in range(5):   # interleaved sources, in time order
        for src, seq in ids.items():
            if k < len(seq):
                lines.append(_nf(sec, src, ttls[k], seq[k], 80 + k))
                sec += 1
    log = tmp_path / "zen.log"
    log.write_text("\n".join(lines) + "\n")
    p = zen.profile(ctx_for(log))
    want = {"198.51.100.1": "zero", "198.51.100.2": "constant", "198.51.100.3": "incrementing",
            "198.51.100.4": "byte-swapped increment", "198.51.100.5": "random", "198.51.100.6": "too few"}
    assert {s: p[s]["ip_id"] for s in want} == want
    r = p["198.51.100.1"]
    assert r["packets"] == 5 and (r["ttl_min"], r["ttl_max"], r["ttl_mode"], r["ttl_values"]) == (50, 52, 50, 2)
    assert r["first_seen"].minute == 0 and r["last_seen"] > r["first_seen"]
    r = p["198.51.100.6"]
    assert r["packets"] == 2 and (r["ttl_min"], r["ttl_max"], r["ttl_values"]) == (50, 50, 1)
    assert (r["ip_id_min"], r["ip_id_max"]) == (5, 6)


def test_a_log_of_our_own_traffic_out_puts_us_where_the_drops_came_from():
    # a Zeek sensor's conn.log of a LAN with a Trickbot-infected host: its dropped (S0/REJ)
    # connections go to a few dozen public servers; those servers are not our network
    from _shared import CORPUS
    rep = analysis.analyze([str(CORPUS / "zeek-trickbot-tsv" / "conn.log")], analysis.Options())
    home = [a for a in rep["assumptions"] if a.startswith("Home network")]
    assert home and "assumed to be 172.16.9.0/24:" in home[0] and "traffic out" in home[0]
    assert not [f for f in rep["findings"] if f["id"] == "bogon.source"]
    # pfSense blocking a LAN host's DNS-over-TLS to 1.1.1.1: the LAN is ours, and the interface
    # those drops came in by is an inside one
    rep = analysis.analyze([str(CORPUS / "elastic-integrations" / "pfsense" / "test-pfsense-bsd.log")],
                           analysis.Options())
    assert any(a.startswith("Home network(s) assumed to be 10.170.12.0/24:") for a in rep["assumptions"])
    assert any(a.startswith("No outside interface could be inferred") for a in rep["assumptions"])
    assert not [f for f in rep["findings"] if f["id"] == "bogon.source"]


def test_drops_of_our_own_hosts_going_out_do_not_make_a_home_net(tmp_path):
    # real drops addressed to the lab's LAN, and more drops of a LAN host's own datagrams to an
    # outside server (the lab's drop line with the sides swapped): that server's net is not ours
    lines = (LAB / "nmap_syn.log").read_text().splitlines()[:20]
    out = (LAB / "dns_stale.log").read_text().splitlines()[0]
    out = (out.replace("IN=eth0 OUT=eth1", "IN=eth1 OUT=eth0")
           .replace("SRC=198.51.100.53 DST=192.0.2.10", "SRC=192.0.2.10 DST=198.51.100.53")
           .replace("SPT=53 DPT=40123", "SPT=40123 DPT=53"))
    p = tmp_path / "mixed.log"
    p.write_text("\n".join(lines + [out] * 6) + "\n")
    ctx = ctx_for(p)
    _us.infer(ctx)
    assert [str(n) for n in ctx.home_nets] == ["192.0.2.0/24"]


def test_loopback_is_never_a_home_net():
    # Proxifier's failed connections include some to 127.0.0.1: a host's loopback is no network of ours
    from _shared import CORPUS
    rep = analysis.analyze([str(CORPUS / "loghub" / "Proxifier_2k.log")], analysis.Options())
    home = [a for a in rep["assumptions"] if a.startswith("Home network")]
    assert home and "127.0.0.0/24" not in home[0]


def test_a_capture_without_drops_takes_the_private_networks_that_talk_as_home(tmp_path):
    # behind NAT: a LAN host 192.168.7.20 and its resolver 192.168.7.1 talk to public servers, and
    # a forged 10.0.0.0/8 source sends a SYN that nobody answers. Written with dpkt
    import socket

    import dpkt

    def frame(src, dst, sport, dport, flags=dpkt.tcp.TH_SYN, udp=False):
        l4 = (dpkt.udp.UDP(sport=sport, dport=dport, data=b"x") if udp else
              dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=1))
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), ttl=64, id=1,
                        p=dpkt.ip.IP_PROTO_UDP if udp else dpkt.ip.IP_PROTO_TCP, data=l4)
        ip.len = len(bytes(ip))
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))
    frames = []
    for i in range(20):
        frames.append(frame("192.168.7.20", "192.168.7.1", 40000 + i, 53, udp=True))
        frames.append(frame("192.168.7.1", "192.168.7.20", 53, 40000 + i, udp=True))
        frames.append(frame("192.168.7.20", "203.0.113.80", 41000 + i, 443))
        frames.append(frame("203.0.113.80", "192.168.7.20", 443, 41000 + i, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK))
    frames.append(frame("10.9.9.9", "198.51.100.5", 1234, 80))
    p = tmp_path / "nat.pcap"
    with open(p, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i, fr in enumerate(frames):
            w.writepkt(fr, ts=1_700_000_000 + i * 0.01)
    out = analysis.analyze([str(p)], analysis.Options())
    assert out["records_read"] == len(frames)
    assert any(a.startswith("Home network(s) assumed to be 192.168.7.0/24: no record was dropped")
               for a in out["assumptions"]), out["assumptions"]
    # a home net given is never overridden
    given = analysis.analyze([str(p)], analysis.Options(home_nets=["198.51.100.0/24"]))
    assert not any(a.startswith("Home network(s) assumed") for a in given["assumptions"])


def test_forged_private_sources_and_public_captures_make_no_home_net():
    # the lab's bogon capture: 10.99.0.7 only sends (forged), every other address is public
    for name in ("bogon_source", "nmap_syn"):
        out = analysis.analyze([str(LAB / f"{name}.pcap")], analysis.Options())
        assert any(a.startswith("No home network could be inferred (no record was dropped")
                   for a in out["assumptions"]), (name, out["assumptions"])
