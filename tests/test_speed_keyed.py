"""Grouped per-source look-ups (detectors/_keyed.py) give exactly the findings of one query per finding."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

from fwforensics import analysis, detectors, events
from fwforensics.detectors._keyed import split_key
from fwforensics.reader import ReadStats

HERE = os.path.dirname(__file__)
from _shared import CORPUS as _CORPUS  # noqa: E402
CORPUS = str(_CORPUS) if _CORPUS.is_dir() else ""
LAB_HOME = dict(home_nets=["192.0.2.0/24"], outside_ifs=["eth0"])


def test_split_key_takes_top_level_address_equalities_only():
    assert split_key("proto = 'udp' AND src_ip = '192.0.2.1'") == ("(proto = 'udp')", ("src_ip",), ("192.0.2.1",))
    assert split_key("src_ip = 'a''b' AND dst_ip = '198.51.100.2' AND x BETWEEN 1 AND 2") == (
        "(x BETWEEN 1 AND 2)", ("dst_ip", "src_ip"), ("198.51.100.2", "a'b"))
    # inside parentheses, after NOT, under OR or inside a string: not a key
    assert split_key("(src_ip = '192.0.2.1' OR dst_ip = '192.0.2.2')") is None
    assert split_key("NOT src_ip = '192.0.2.1'") is None
    assert split_key("src_ip = '192.0.2.1' OR proto = 'tcp'") is None
    assert split_key("raw = 'x AND src_ip = ''1''' AND proto = 'tcp'") is None
    assert split_key("src_ip IN (SELECT src_ip FROM events WHERE dst_ip = '1') AND dst_ip = '192.0.2.9'") == (
        "(src_ip IN (SELECT src_ip FROM events WHERE dst_ip = '1'))", ("dst_ip",), ("192.0.2.9",))
    assert split_key("src_ip = '192.0.2.1'") == ("TRUE", ("src_ip",), ("192.0.2.1",))
    assert split_key("(src_ip = '192.0.2.1'") is None


def _findings(paths: list[str], batch: bool, **opts) -> list[dict]:
    o = analysis.Options(**opts)
    con = events.connect()
    analysis.load_inputs(con, paths, o, ReadStats())
    import ipaddress
    ctx = detectors.Context(con=con, home_nets=[ipaddress.ip_network(n) for n in o.home_nets],
                            outside_ifs=o.outside_ifs, batch_lookups=batch)
    out = [f.to_dict() for f in detectors.run(ctx)]
    con.close()
    return out


def _inputs():
    lab = sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log")))
    yield pytest.param(lab, LAB_HOME, id="lab-fixtures")
    yield pytest.param([os.path.join(HERE, "fixtures", "netfilter", "wrappers.log")], {}, id="wrappers")
    if CORPUS:
        files = [p for p in glob.glob(os.path.join(CORPUS, "psad", "*")) if not p.endswith(("MANIFEST.md", "SCAN_LOG"))]
        files += glob.glob(os.path.join(CORPUS, "elastic-integrations", "iptables", "*.log"))
        yield pytest.param(sorted(files), {"year": 2013}, id="corpus-netfilter")


@pytest.mark.parametrize("paths,opts", list(_inputs()))
def test_grouped_lookups_give_the_same_findings(paths, opts):
    grouped = _findings(paths, True, **opts)
    single = _findings(paths, False, **opts)
    assert grouped == single
    assert grouped, "the inputs should give findings, or the comparison proves nothing"


def test_grouped_lookups_on_generated_traffic(tmp_path):
    gen = os.path.join(HERE, "..", "bench", "generate.py")
    if not os.path.exists(gen):
        pytest.skip("bench/generate.py not present")
    out = tmp_path / "gen.log"
    subprocess.run([sys.executable, gen, "--lines", "3000", "--out", str(out), "--jobs", "1"], check=True,
                   capture_output=True)
    grouped = _findings([str(out)], True)
    single = _findings([str(out)], False)
    assert grouped == single
    assert len(grouped) > 20


def test_grouped_lookups_on_probes_without_time_stamps(tmp_path):
    """A session of records without time stamps (proxy's session 0): both ways find its records."""
    lines = open(os.path.join(HERE, "fixtures", "lab", "proxy_scan.log")).read().splitlines(keepends=True)
    p = tmp_path / "untimed.log"
    p.write_text("".join(ln.split(" kernel: ", 1)[1] for ln in lines))
    grouped = _findings([str(p)], True, year=2025)
    single = _findings([str(p)], False, year=2025)
    assert grouped == single
    proxy = [f for f in grouped if f["id"] == "proxy.scan"]
    assert proxy and all(f["count"] > 0 and f["evidence"]["records"] == f["count"] for f in proxy)
