"""ping.sweep by ARP (detectors/arp.py): nmap's host discovery on its own Ethernet segment, in a
real capture, and the look-alikes that must stay silent, in captures written with dpkt."""
from __future__ import annotations

import socket
import struct

import dpkt
import pytest

from fwforensics.analysis import Options, analyze

from _detect_util import ids, one, run
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
    # ARP never passes a router: the verdict counts the sender as a scanner inside, even without a
    # home net, and asks for action rather than calling it background radiation
    v = one(rep["findings"], "verdict", None)
    assert v["details"]["scanning_inside"] == ["192.168.1.71"]
    assert {"id": "ping.sweep", "src": "192.168.1.71", "severity": "medium"} in v["details"]["needs_action"]
    assert "ping sweeps" not in v["details"]["background"]
    assert "capture's own network segment" in v["explanation"]


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
