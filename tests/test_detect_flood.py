"""flood: denial-of-service floods at one host (forged, reflected, distributed), and what is not one.

The logs are netfilter lines as the kernel writes them, made here: a flood needs thousands of
records, more than the lab's scenarios send."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from _detect_util import ids, run

T0 = datetime(2025, 6, 1, 12, 0, 0)
HOME = dict(home_nets=["203.0.113.0/24"], outside_ifs=["eth0"], year=2025)


def _line(t: datetime, src: str, dst: str, body: str, act: str = "DROP") -> str:
    return (f"{t:%b %e %H:%M:%S} gw kernel: {act} IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 "
            f"SRC={src} DST={dst} LEN=40 TOS=0x00 PREC=0x00 TTL=57 ID=4242 {body}\n")


def _syn(rng: random.Random, dport: int) -> str:
    return f"PROTO=TCP SPT={rng.randint(1024, 65535)} DPT={dport} WINDOW=512 RES=0x00 SYN URGP=0"


def _random_v4(rng: random.Random) -> str:
    return ".".join(str(rng.randint(0, 255)) for _ in range(4))


def _write(tmp_path, name: str, lines: list[str]) -> str:
    p = tmp_path / name
    p.write_text("".join(lines))
    return str(p)


def _forged_syn_flood(tmp_path, n=3000, rate=200) -> tuple[str, set[str]]:
    """``n`` SYNs at 203.0.113.10:80, ``rate`` a second, each from a new random address (as
    hping3 --rand-source sends them), then a loopback source 10 minutes later on its own."""
    rng = random.Random(7)
    lines, srcs = [], set()
    for i in range(n):
        src = _random_v4(rng)
        srcs.add(src)
        lines.append(_line(T0 + timedelta(seconds=i / rate), src, "203.0.113.10", _syn(rng, 80)))
    lines.append(_line(T0 + timedelta(minutes=10), "127.0.0.9", "203.0.113.20", _syn(rng, 22)))
    return _write(tmp_path, "synflood.log", lines), srcs


def test_forged_syn_flood_is_one_high_finding_and_the_verdict_says_so(tmp_path):
    path, srcs = _forged_syn_flood(tmp_path)
    fs = run(path, home=False, **HOME)
    (f,) = ids(fs, "flood")
    assert f["severity"] == "high" and f["src"] is None
    assert f["targets"] == ["203.0.113.10"] and f["ports"] == [80]
    assert f["count"] == 3000 and f["evidence"]["records"] == 3000
    d = f["details"]
    assert d["kind"] == "forged" and d["proto"] == "tcp" and d["sources"] == len(srcs)
    assert d["packets_per_source"] < 1.1 and 150 <= d["packets_per_second"] <= 250
    assert f["first_seen"].startswith("2025-06-01T12:00:00") and f["last_seen"].startswith("2025-06-01T12:00:14")
    # its forged sources in private or reserved space are the flood's, not background on their own;
    # an impossible source outside the flood still is
    assert [b["src"] for b in ids(fs, "bogon.source")] == ["127.0.0.9"]
    (v,) = ids(fs, "verdict")
    assert v["summary"].startswith("A denial-of-service flood is aimed at 203.0.113.10")
    assert "Flooded (denial of service): 203.0.113.10 (tcp port 80, 3000 packets" in v["explanation"]
    # (the one background record is the loopback source outside the flood)
    assert "forged sources" in v["explanation"] and "background radiation: impossible source addresses (1)." in v["explanation"]
    assert v["advice"].startswith("flood: If the flood fills your line, ask your provider")


def test_a_reflection_flood_is_named_by_its_source_port(tmp_path):
    # 300 DNS servers answering questions nobody here asked, 8 answers each, within a minute
    rng = random.Random(3)
    servers = [f"198.51.100.{i}" for i in range(1, 151)] + [f"192.0.2.{i}" for i in range(1, 151)]
    lines = []
    for k in range(8):
        for j, s in enumerate(servers):
            t = T0 + timedelta(seconds=k * 5 + j / 100)
            lines.append(_line(t, s, "203.0.113.7", f"PROTO=UDP SPT=53 DPT={rng.randint(1024, 65535)} LEN=1200"))
    (f,) = ids(run(_write(tmp_path, "reflect.log", lines), home=False, **HOME), "flood")
    assert f["details"]["kind"] == "reflected" and f["details"]["top_source_port"] == 53
    assert f["details"]["sources"] == 300 and f["count"] == 2400
    assert f["targets"] == ["203.0.113.7"] and f["ports"] == []   # (to random ports: none named)
    assert "from UDP source port 53" in f["summary"] and "reflection flood" in f["summary"]


def test_what_is_not_a_flood(tmp_path):
    rng = random.Random(5)
    lines = []
    # the same 3000 SYNs spread over 50 minutes: background, not a flood
    for i in range(3000):
        lines.append(_line(T0 + timedelta(seconds=i), _random_v4(rng), "203.0.113.10", _syn(rng, 80)))
    # 3000 connections a minute to a busy web server that the firewall accepted and logged
    for i in range(3000):
        lines.append(_line(T0 + timedelta(hours=2, seconds=i / 60), _random_v4(rng), "203.0.113.11", _syn(rng, 443),
                           act="ACCEPT"))
    # one source sending 3000 packets in a minute: a single sender, for the other detectors
    for i in range(3000):
        lines.append(_line(T0 + timedelta(hours=3, seconds=i / 60), "198.51.100.9", "203.0.113.12", _syn(rng, 22)))
    fs = run(_write(tmp_path, "busy.log", lines), home=False, **HOME)
    assert not ids(fs, "flood")


def test_thresholds_are_tunables(tmp_path):
    path, _ = _forged_syn_flood(tmp_path, n=600, rate=50)
    assert not ids(run(path, home=False, **HOME), "flood")   # 600 packets in 12 s: under MIN_PACKETS
    (f,) = ids(run(path, home=False, cfg={"flood": {"MIN_PACKETS": 500}}, **HOME), "flood")
    assert f["count"] == 600
    assert not ids(run(path, home=False, cfg={"flood": {"MIN_PACKETS": 500, "MIN_SOURCES": 1000}}, **HOME), "flood")


def test_consecutive_minutes_of_one_target_are_one_flood(tmp_path):
    # 3 minutes at 20 a second (1200 a minute), then a pause, then another minute
    rng = random.Random(11)
    lines = []
    for i in range(3600):
        lines.append(_line(T0 + timedelta(seconds=i / 20), _random_v4(rng), "203.0.113.10", _syn(rng, 80)))
    for i in range(1200):
        lines.append(_line(T0 + timedelta(minutes=30, seconds=i / 20), _random_v4(rng), "203.0.113.10", _syn(rng, 80)))
    got = sorted((f["count"], f["first_seen"][11:19]) for f in ids(run(_write(tmp_path, "long.log", lines),
                                                                           home=False, **HOME), "flood"))
    assert got == [(1200, "12:30:00"), (3600, "12:00:00")]
    assert datetime.fromisoformat("2025-06-01T12:00:00+00:00").tzinfo == timezone.utc


def _burst(rng: random.Random, start: float, n: int, rate: float) -> list[str]:
    """``n`` SYNs at 203.0.113.10:80 from new random sources, ``rate`` a second from T0 + ``start`` s."""
    return [_line(T0 + timedelta(seconds=start + i / rate), _random_v4(rng), "203.0.113.10", _syn(rng, 80))
            for i in range(n)]


def test_a_flood_across_the_boundary_of_two_minutes_is_found(tmp_path):
    # 1200 SYNs in 40 s from 12:00:40: 400 before the minute turns, 800 after; and a short burst
    # at half the rate an hour later, which is no flood
    rng = random.Random(13)
    lines = _burst(rng, 40, 1200, 30) + _burst(rng, 3600 + 50, 900, 30)
    (f,) = ids(run(_write(tmp_path, "edge.log", lines), home=False, **HOME), "flood")
    assert f["count"] == 1200 and f["first_seen"][11:19] == "12:00:40" and f["last_seen"][11:19] == "12:01:19"


def test_a_flood_is_counted_over_any_span_of_a_minute(tmp_path):
    # 1100 SYNs in 55 s from 12:00:38: 440 before the minute turns and 660 after, so neither minute
    # holds the 1000 of MIN_PACKETS, but the 55 s do; and 990 SYNs within 50 s later, just short
    rng = random.Random(17)
    lines = _burst(rng, 38, 1100, 20) + _burst(rng, 3600 + 30, 990, 20)
    (f,) = ids(run(_write(tmp_path, "span.log", lines), home=False, **HOME), "flood")
    assert f["count"] == 1100 and f["first_seen"][11:19] == "12:00:38" and f["last_seen"][11:19] == "12:01:32"
    # with a shorter span the same packets are no flood (at most 800 within 40 s)
    assert not ids(run(_write(tmp_path, "span.log", lines), home=False, cfg={"flood": {"WINDOW": 40}}, **HOME),
                   "flood")


def test_a_long_port_scan_of_one_host_beside_background_is_no_flood(tmp_path):
    # one scanner at 1200 ports a minute for 10 minutes, and 25 other sources a minute knocking
    # once each (250 in all): many packets, many sources over the run, but never a minute in which
    # a hundred sources sent them; then a real flood of the same host an hour later
    rng = random.Random(19)
    lines = []
    for i in range(12000):
        t = T0 + timedelta(seconds=i / 20)
        lines.append(_line(t, "198.51.100.9", "203.0.113.10", _syn(rng, 1 + i % 65535)))
        if i % 48 == 0:
            lines.append(_line(t, _random_v4(rng), "203.0.113.10", _syn(rng, 23)))
    lines += _burst(rng, 3600, 1500, 50)
    fs = run(_write(tmp_path, "longscan.log", lines), home=False, **HOME)
    (f,) = ids(fs, "flood")
    assert f["first_seen"][11:16] == "13:00" and f["count"] == 1500
    assert any(s["src"] == "198.51.100.9" for s in ids(fs, "scan.vertical"))


def test_a_flood_that_pauses_for_less_than_a_minute_is_one(tmp_path):
    # pulses of 1200 SYNs in 20 s: 30 s of quiet between the first two (one flood), 90 s before
    # the third (a flood of its own)
    rng = random.Random(23)
    lines = _burst(rng, 0, 1200, 60) + _burst(rng, 50, 1200, 60) + _burst(rng, 160, 1200, 60)
    got = [(f["count"], f["first_seen"][11:19], f["last_seen"][11:19])
           for f in ids(run(_write(tmp_path, "pulses.log", lines), home=False, **HOME), "flood")]
    assert sorted(got) == [(1200, "12:02:40", "12:02:59"), (2400, "12:00:00", "12:01:09")]
