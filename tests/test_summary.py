"""The report's summary: its top sources and ports (counted in two steps) match the plain queries."""
from __future__ import annotations

import ipaddress
from pathlib import Path

from fwforensics import analysis, events
from fwforensics.reader import ReadStats

LAB = Path(__file__).parent / "fixtures" / "lab"


def _plain(con):
    # what the summary computed before: every distinct count for every source and port, then the top
    # (ties in address order: IPv4 by number, then the rest by text)
    src = con.execute("""SELECT src_ip, count(*), count(DISTINCT dst_ip), count(DISTINCT dst_port), min(ts), max(ts)
                         FROM events WHERE src_ip IS NOT NULL GROUP BY src_ip""").fetchall()
    src = sorted(src, key=lambda r: (-r[1], _v4(r[0]), r[0]))[:analysis.TOP]
    ports = con.execute(f"""SELECT proto, dst_port, count(*), count(DISTINCT src_ip) FROM events
                            WHERE dst_port IS NOT NULL GROUP BY proto, dst_port
                            ORDER BY 3 DESC, dst_port, proto LIMIT {analysis.TOP}""").fetchall()
    return src, ports


def _v4(a: str) -> tuple:
    try:
        return (0, int(ipaddress.IPv4Address(a)))
    except ValueError:
        return (1, 0)


def test_top_sources_and_ports_equal_the_plain_queries():
    con = events.connect()
    logs = [str(LAB.parent.parent.parent / "examples" / "sample.log")] + \
        [str(LAB / n) for n in ("background_noise.log", "block_scan.log", "icmp_types.log")]
    analysis.load_inputs(con, logs, analysis.Options(), ReadStats())
    # rows without a protocol name but with a port, among the top ports: the second step must find their group
    con.execute("""INSERT INTO events (src_ip, dst_ip, dst_port, proto) SELECT src_ip, dst_ip, dst_port, NULL
                   FROM events WHERE dst_port = (SELECT dst_port FROM events GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)""")
    s = analysis.summarise(con)
    src, ports = _plain(con)
    assert len(s["top_sources"]) == len(src) == analysis.TOP and len(s["top_ports"]) == analysis.TOP
    assert [(r["src"], r["records"], r["targets"], r["ports"]) for r in s["top_sources"]] == [r[:4] for r in src]
    assert [(r["proto"], r["port"], r["records"], r["sources"]) for r in s["top_ports"]] == list(ports)
    assert any(r["proto"] is None for r in s["top_ports"])
    assert any(r["ports"] > 1 for r in s["top_sources"]) and any(r["sources"] > 1 for r in s["top_ports"])


def test_top_sources_tied_in_address_order():
    # 520 forged sources with 3 packets each: 10.99.0.2 comes before 10.99.0.10
    con = events.connect()
    analysis.load_inputs(con, [str(LAB / "syn_flood.log")], analysis.Options(), ReadStats())
    top = [r["src"] for r in analysis.summarise(con)["top_sources"]]
    assert top == [f"10.99.0.{i}" for i in range(1, analysis.TOP + 1)]
