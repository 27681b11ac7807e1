"""ping.sweep by ARP (detectors/arp.py): nmap's host discovery on its own Ethernet segment, in a
real capture, and the look-alikes that must stay silent, in captures written with dpkt."""
from __future__ import annotations

import socket
import struct

import dpkt
import pytest

from fwforensics.analysis import Options, analyze

from _detect_util import LAB, LAB_HOME, ids, one, run
from _shared import CORPUS

NMAP_VSN = CORPUS / "zeek-testing-pcaps" / "Traces" / "nmap-vsn.pcap"


def _report(path, **kw):
    return analyze([str(path)], Options(**kw))


def test_nmap_arp_sweep_in_a_real_capture():
    if not NMAP_VSN.exists():
        pytest.skip("corpus file missing")
    rep = _report(NMAP_VSN)
    f = one(rep["findings"], "ping.sweep", "192.168.1.71")
    d = f["details"]
    assert d["method"] == "arp" and d["local"] is True
    # 503 requests for 245 addresses (.2-.254 but for the few nmap had already resolved), and the
    # capture holds no reply to any of them
    assert (d["requests"], d["hosts"], d["unanswered"]) == (503, 245, 245)
    assert f["count"] == 503 and d["networks"] == ["192.168.1.0/24"]
    assert f["targets"] == 245 and f["severity"] == "medium"
    assert "ARP sweep" in f["summary"] and "192.168.1.0/24" in f["summary"]
    assert "ARP" in f["explanation"] and "--suppress id=ping.sweep" in f["advice"]
    # the evidence is the requests themselves
    assert all("who-has" in s["raw"] for s in f["evidence"]["samples"])
    # nothing was dropped, and 192.168.1.0/24 both sent and received: that is the home net, so the
    # sweeper is a host of our own, which needs action rather than being background radiation
    assert any(a.startswith("Home network(s) assumed to be 192.168.1.0/24: no record was dropped")
               for a in rep["assumptions"])
    v = one(rep["findings"], "verdict", None)
    assert v["details"]["scanning_inside"] == ["192.168.1.71"] and v["details"]["scanning_segment"] == []
    assert {"id": "ping.sweep", "src": "192.168.1.71", "severity": "medium"} in v["details"]["needs_action"]
    assert "ping sweeps" not in v["details"]["background"]
    assert "Hosts of your own network (192.168.1.71) scan others" in v["explanation"]


def test_arp_sweep_from_outside_the_home_net_is_a_neighbour():
    # the lab: the neighbour on the firewall's outside segment swept it with real nmap (-sn). The
    # sender is not ours, but ARP never passes a router, so it shares the capture's segment
    pcap = LAB / "arp_sweep.pcap"
    for home in (True, False):   # (without a home net: a capture of public addresses gets none)
        rep = analyze([str(pcap)], Options(**(LAB_HOME if home else {})))
        f = one(rep["findings"], "ping.sweep", "203.0.113.77")
        assert f["details"]["method"] == "arp" and f["details"]["hosts"] >= 60
        assert f["details"]["unanswered"] >= f["details"]["hosts"] - 2   # the firewall (and router) answer
        v = one(rep["findings"], "verdict", None)
        assert v["details"]["scanning_segment"] == ["203.0.113.77"] == v["details"]["scanning_inside"]
        assert "Hosts on the capture's own network segment (203.0.113.77) scan others" in v["explanation"]
        assert "if the segment is shared" in v["advice"]
        assert home or any("No home network could be inferred" in a for a in rep["assumptions"])
    # the firewall's log of the same run holds only the two probes that followed
    assert not ids(run(LAB / "arp_sweep.log"), "ping.sweep")


def test_tunables_apply():
    if not NMAP_VSN.exists():
        pytest.skip("corpus file missing")
    assert not ids(run(NMAP_VSN, home=False, cfg={"arp": {"MIN_HOSTS": 300}}), "ping.sweep")
    # two sessions when the gap is shorter than the sweep's pauses
    got = ids(run(NMAP_VSN, home=False, cfg={"arp": {"SESSION_GAP": 0, "MIN_HOSTS": 1}}), "ping.sweep")
    assert len(got) > 1 and all(f["details"]["method"] == "arp" for f in got)


MAC_A = bytes.fromhex("020000000001")
BCAST = b"\xff" * 6


def _arp(op: int, sha: bytes, spa: str, tpa: str, tha: bytes = bytes(6)) -> bytes:
    arp = dpkt.arp.ARP(op=op, sha=sha, spa=socket.inet_aton(spa), tha=tha, tpa=socket.inet_aton(tpa))
    return bytes(dpkt.ethernet.Ethernet(src=sha, dst=BCAST if op == 1 else tha,
                                        type=dpkt.ethernet.ETH_TYPE_ARP, data=arp))


def _write(path, frames):
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        for i, fr in enumerate(frames):
            w.writepkt(fr, ts=1_700_000_000 + i * 0.01)
    return path


def test_look_alikes_stay_silent(tmp_path):
    router = "198.51.100.1"
    frames = []
    # a router resolving 40 busy clients: every one answers
    for h in range(10, 50):
        ip = f"198.51.100.{h}"
        mac = struct.pack("!HI", 0x0200, h)
        frames.append(_arp(1, MAC_A, router, ip))
        frames.append(_arp(2, mac, ip, router, MAC_A))
    # address-conflict probes (sender 0.0.0.0, RFC 5227) and gratuitous announcements (sender = target)
    for h in range(60, 90):
        mac = struct.pack("!HI", 0x0200, h)
        frames.append(_arp(1, mac, "0.0.0.0", f"198.51.100.{h}"))
        frames.append(_arp(1, mac, f"198.51.100.{h}", f"198.51.100.{h}"))
    p = _write(tmp_path / "busy.pcap", frames)
    rep = _report(p)
    assert rep["records_read"] == len(frames)
    assert not ids(rep["findings"], "ping.sweep")


def test_half_answered_is_the_threshold(tmp_path):
    src = "203.0.113.5"
    frames = []
    for h in range(1, 21):   # 20 addresses asked for, 10 of them answer
        ip = f"203.0.113.{100 + h}"
        frames.append(_arp(1, MAC_A, src, ip))
        if h <= 10:
            frames.append(_arp(2, struct.pack("!HI", 0x0200, h), ip, src, MAC_A))
    p = _write(tmp_path / "half.pcap", frames)
    f = one(_report(p)["findings"], "ping.sweep", src)
    assert (f["details"]["hosts"], f["details"]["unanswered"]) == (20, 10)
    assert "10 were not answered" in f["summary"]
    assert not ids(run(p, home=False, cfg={"arp": {"UNANSWERED_SHARE": 0.6}}), "ping.sweep")
