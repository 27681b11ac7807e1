"""Background noise from many sources: beyond MAX_SOURCES sources of one finding id, the busiest
TOP_SOURCES keep their own finding and the rest share one aggregate finding (detectors/_misc.py).
Run on the lab's real logs (the corpus logs have too few sources per id) with the limits turned down, compared with the same run with aggregation off."""
from __future__ import annotations

import glob
import os
from collections import defaultdict

import pytest

from fwforensics.analysis import Options, analyze

HERE = os.path.dirname(__file__)
MODULES = ("icmp", "netbios", "worms", "dns_stale", "ipaddr", "identd", "trojans")


def _run(paths, most: int, top: int, min_records: int | None = None, **kw) -> list[dict]:
    cfg = {mod: {"MAX_SOURCES": most, "TOP_SOURCES": top} for mod in MODULES}
    if min_records:   # per-source queries that drop the sources with fewer records: the aggregate
        for mod, name in MIN_RECORDS:   # then names its sources from that query's rows
            cfg[mod][name] = min_records
    return analyze(paths, Options(cfg=cfg, **kw))["findings"]


MIN_RECORDS = (("icmp", "MIN_RECORDS"), ("netbios", "MIN_RECORDS"), ("ipaddr", "MIN_RECORDS"),
               ("dns_stale", "MIN_RECORDS"), ("worms", "PORT_WORM_MIN_RECORDS"), ("identd", "MIN_RECORDS"),
               ("trojans", "MIN_RECORDS"))


def _inputs():
    lab = sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log")))
    yield pytest.param(lab, dict(home_nets=["192.0.2.0/24"], outside_ifs=["eth0"]), id="lab-fixtures")


def _generated(tmp_path_factory) -> list[str]:
    """20 k lines of the benchmark's netfilter mix (bench/generate.py: kernel-format records, many
    noise sources of every kind), for the ids the lab logs have too few sources of."""
    import subprocess
    import sys
    out = tmp_path_factory.mktemp("gen") / "fw.log"
    subprocess.run([sys.executable, os.path.join(HERE, "..", "bench", "generate.py"), "--lines", "20000",
                    "--out", str(out)], check=True, capture_output=True)
    return [str(out)]


def _many_sources(tmp_path_factory) -> list[str]:
    """Netfilter lines of identd SYNs (some retransmitted) and trojan-port probes from many
    sources, one of whose probes was let through, and forged sources of several address kinds."""
    lines = []
    head = "Jun  1 12:{m:02d}:{s:02d} gw kernel: {act} IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 "
    tail = "LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID={i} DF PROTO=TCP SPT={sp} DPT={dp} WINDOW=5840 RES=0x00 SYN URGP=0"
    k = 0

    def add(src, dst, dp, act="DROP", times=1):
        nonlocal k
        for t in range(times):
            k += 1
            lines.append(head.format(m=k // 60 % 60, s=k % 60, act=act) + f"SRC={src} DST={dst} "
                         + tail.format(i=k, sp=40000 + k % 1000 if t == 0 else 40000 + (k - t) % 1000, dp=dp))
    for n in range(9):
        add(f"198.51.100.{10 + n}", "192.0.2.25", 113, times=1 + n % 3)
        add(f"203.0.113.{20 + n}", f"192.0.2.{30 + n % 4}", 31337, times=1 + n % 2)
        add(f"10.9.{n}.1", "192.0.2.40", 80)
        add(f"127.0.{n}.1", "192.0.2.40", 80, times=2)
    add("203.0.113.99", "192.0.2.31", 12345, act="ACCEPT")
    out = tmp_path_factory.mktemp("many") / "many.log"
    out.write_text("\n".join(lines) + "\n")
    return [str(out)]


@pytest.mark.parametrize("paths,kw", list(_inputs()) + [
    pytest.param("many", dict(home_nets=["192.0.2.0/24"], outside_ifs=["eth0"]), id="many-sources"),
    pytest.param(None, {}, id="bench-generated-20k"),
    pytest.param(None, {"min_records": 2}, id="bench-generated-20k-min-records-2")])
def test_aggregate_keeps_every_record_and_the_busiest_sources(paths, kw, tmp_path_factory):
    if paths is None:
        paths = _generated(tmp_path_factory)
    elif paths == "many":
        paths = _many_sources(tmp_path_factory)
    full = _run(paths, 0, 0, **kw)
    capped = _run(paths, 2, 1, **kw)
    if paths[0].endswith("many.log"):   # every id it was made for is aggregated, each kind apart
        got = [f["id"] for f in capped if f["details"].get("aggregated")]
        assert sorted(set(got)) == ["bogon.source", "identd.blocked", "trojan.probe"] and got.count("bogon.source") == 2
        # the source whose probe was let through keeps its own finding, whatever the cap
        assert [f["severity"] for f in capped if f["id"] == "trojan.probe" and f["src"] == "203.0.113.99"] == ["medium"]
        # advice counts every identd server, the aggregated ones too
        (adv,) = [f for f in capped if f["id"] == "config.advice" and f["details"].get("topic") == "identd"]
        assert "9 servers had to wait" in adv["summary"] and len(adv["targets"]) == 9
    by_id: dict[str, list[dict]] = defaultdict(list)
    for f in full:
        by_id[f["id"]].append(f)
    agg = [f for f in capped if f["details"].get("aggregated")]
    assert agg, "no finding id had more than 2 sources: the test input does not exercise aggregation"
    aggs: dict[str, list[dict]] = defaultdict(list)   # (bogon.source: one aggregate per address kind)
    for a in agg:
        aggs[a["id"]].append(a)
    for fid, parts in aggs.items():
        per_src = {f["src"]: f for f in by_id[fid]}
        own = [f for f in capped if f["id"] == fid and not f["details"].get("aggregated")]
        assert all(a["src"] is None for a in parts)
        # the busiest source keeps its own finding, identical to the uncapped run
        busiest = max(per_src.values(), key=lambda f: (f["count"], [-ord(c) for c in f["src"]]))
        assert any(f["src"] == busiest["src"] for f in own)
        for f in own:
            assert f == per_src[f["src"]]
        rest = [f for s, f in per_src.items() if s not in {o["src"] for o in own}]
        # the aggregates hold exactly the records of the other sources
        assert sum(a["details"]["sources"] for a in parts) == len(rest) >= 2
        assert sum(a["count"] for a in parts) == sum(a["evidence"]["records"] for a in parts) == \
            sum(f["count"] for f in rest)
        assert min(a["first_seen"] for a in parts) == min(f["first_seen"] for f in rest)
        assert max(a["last_seen"] for a in parts) == max(f["last_seen"] for f in rest)
        for a in parts:
            assert {t["src"] for t in a["details"]["top_sources"]} <= {f["src"] for f in rest}
            if fid == "bogon.source":   # one address kind each, the kind of each of its sources
                assert {per_src[t["src"]]["details"]["category"] for t in a["details"]["top_sources"]} == \
                    {a["details"]["category"]}
    # ids with few sources are untouched
    for fid, fs in by_id.items():
        if len(fs) <= 2:
            assert sorted((f["src"] or "", f["count"]) for f in capped if f["id"] == fid) == \
                sorted((f["src"] or "", f["count"]) for f in fs)
