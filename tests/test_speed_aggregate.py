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
MODULES = ("icmp", "netbios", "worms", "dns_stale", "ipaddr")


def _run(paths, most: int, top: int, min_records: int | None = None, **kw) -> list[dict]:
    cfg = {mod: {"MAX_SOURCES": most, "TOP_SOURCES": top} for mod in MODULES}
    if min_records:   # per-source queries that drop the sources with fewer records: the aggregate
        for mod, name in MIN_RECORDS:   # then names its sources from that query's rows
            cfg[mod][name] = min_records
    return analyze(paths, Options(cfg=cfg, **kw))["findings"]


MIN_RECORDS = (("icmp", "MIN_RECORDS"), ("netbios", "MIN_RECORDS"), ("ipaddr", "MIN_RECORDS"),
               ("dns_stale", "MIN_RECORDS"), ("worms", "PORT_WORM_MIN_RECORDS"))


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


@pytest.mark.parametrize("paths,kw", list(_inputs()) + [
    pytest.param(None, {}, id="bench-generated-20k"),
    pytest.param(None, {"min_records": 2}, id="bench-generated-20k-min-records-2")])
def test_aggregate_keeps_every_record_and_the_busiest_sources(paths, kw, tmp_path_factory):
    if paths is None:
        paths = _generated(tmp_path_factory)
    full = _run(paths, 0, 0, **kw)
    capped = _run(paths, 2, 1, **kw)
    by_id: dict[str, list[dict]] = defaultdict(list)
    for f in full:
        by_id[f["id"]].append(f)
    agg = [f for f in capped if f["details"].get("aggregated")]
    assert agg, "no finding id had more than 2 sources: the test input does not exercise aggregation"
    for a in agg:
        fid = a["id"]
        per_src = {f["src"]: f for f in by_id[fid]}
        own = [f for f in capped if f["id"] == fid and not f["details"].get("aggregated")]
        assert a["src"] is None
        # the busiest source keeps its own finding, identical to the uncapped run
        busiest = max(per_src.values(), key=lambda f: (f["count"], [-ord(c) for c in f["src"]]))
        assert any(f["src"] == busiest["src"] for f in own)
        for f in own:
            assert f == per_src[f["src"]]
        rest = [f for s, f in per_src.items() if s not in {o["src"] for o in own}]
        # the aggregate holds exactly the records of the other sources
        assert a["details"]["sources"] == len(rest) >= 2
        assert a["count"] == a["evidence"]["records"] == sum(f["count"] for f in rest)
        assert a["first_seen"] == min(f["first_seen"] for f in rest)
        assert a["last_seen"] == max(f["last_seen"] for f in rest)
        assert {t["src"] for t in a["details"]["top_sources"]} <= {f["src"] for f in rest}
    # ids with few sources are untouched
    for fid, fs in by_id.items():
        if len(fs) <= 2:
            assert sorted((f["src"] or "", f["count"]) for f in capped if f["id"] == fid) == \
                sorted((f["src"] or "", f["count"]) for f in fs)
