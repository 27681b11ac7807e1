"""JSON validates against the published schema; NDJSON, Markdown, ECS and Parquet exports; --fail-on."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pytest

from fwforensics import analysis, events
from fwforensics.reports import export, who
from fwforensics.schema import COLUMNS, ECS, EVENT_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
from _shared import CORPUS  # noqa: E402
INPUTS = [CORPUS / "psad" / "topera_ipv6_syn_scan_no_ip_opts",
          CORPUS / "elastic-integrations" / "iptables" / "test-iptables-raw.log",
          CORPUS / "psad" / "syn_scan_1000_1500"]


def _validator(ref: str | None = None):
    schema = SCHEMA if ref is None else {"$ref": f"#/$defs/{ref}", "$defs": SCHEMA["$defs"]}
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def analysed():
    con = events.connect()
    rep = analysis.analyze([str(p) for p in INPUTS], analysis.Options(), con)
    return rep, con


def test_cli_json_validates_against_published_schema():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run([sys.executable, "-m", "fwforensics", "analyze", "--json", *map(str, INPUTS)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    errors = sorted(_validator().iter_errors(rep), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    assert rep["records_read"] > 2000 and any(f["id"] == "port.zero" for f in rep["findings"])


def test_schema_rejects_what_it_should(analysed):
    rep, _ = analysed
    bad = json.loads(json.dumps(rep, default=export._default))
    bad["findings"][0]["severity"] = "critical"
    assert not _validator().is_valid(bad)
    bad = json.loads(json.dumps(rep, default=export._default))
    del bad["findings"][0]["evidence"]
    assert not _validator().is_valid(bad)


def test_enriched_report_still_validates(analysed):
    rep, _ = analysed
    rep = json.loads(json.dumps(who.enrich(dict(rep)), default=export._default))
    assert rep["who"]["192.168.10.55"]["class"] == "private"
    assert not list(_validator().iter_errors(rep))


def test_ndjson_one_finding_per_line(analysed, tmp_path):
    rep, _ = analysed
    p = tmp_path / "f.ndjson"
    with open(p, "w") as fh:
        export.write_ndjson(rep, fh)
    lines = p.read_text().splitlines()
    assert len(lines) == len(rep["findings"]) >= 1
    v = _validator("finding")
    for ln in lines:
        obj = json.loads(ln)
        assert obj["report_schema_version"] == 1
        assert not list(v.iter_errors(obj["finding"]))


def test_ecs_ndjson_export(analysed, tmp_path):
    rep, con = analysed
    p = tmp_path / "events.ndjson"
    n = export.write_events(con, str(p))
    assert n == rep["records_read"]
    rows = [json.loads(ln) for ln in p.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == n
    ecs_top = {f.split(".")[0] for f in ECS.values() if f}
    for r in rows:
        assert set(r) <= ecs_top | {"fwforensics", "ecs"}, set(r) - ecs_top
        assert r["ecs"]["version"] and r["event"]["kind"] == "event"
    # ECS names and values, checked against a record we know from the corpus
    port0 = next(r for r in rows if r["destination"]["port"] == 0)
    assert port0["source"]["ip"] == "2012:1234:1234::1"
    assert port0["network"]["transport"] == "tcp" and port0["network"]["type"] == "ipv6"
    assert port0["event"]["action"] == "drop" and port0["observer"]["ingress"]["interface"]["name"] == "eth0"
    assert port0["@timestamp"].endswith("Z") and "T" in port0["@timestamp"]
    assert port0["log"]["offset"] == 22 and "DPT=0" in port0["event"]["original"]
    assert port0["fwforensics"]["tcp_flags"] == "SYN"
    # every column went somewhere: ECS field or fwforensics.<col>
    unmapped = {c for c in COLUMNS if ECS[c] is None}
    assert unmapped == set(port0["fwforensics"])


def test_parquet_export_keeps_schema(analysed, tmp_path):
    rep, con = analysed
    p = tmp_path / "events.parquet"
    assert export.write_events(con, str(p)) == rep["records_read"]
    t = pq.read_table(p)
    assert t.num_rows == rep["records_read"]
    assert t.schema.names == EVENT_SCHEMA.names
    assert t.schema.field("src_ip").metadata[b"description"]


def test_events_out_rejects_unknown_extension(analysed, tmp_path):
    _, con = analysed
    with pytest.raises(export.ExportError):
        export.write_events(con, str(tmp_path / "events.csv"))


def test_fail_on(analysed):
    rep, _ = analysed
    assert export.fail_on_status(rep, None) == 0
    assert export.fail_on_status(rep, "low") == 1      # port.zero is low
    assert export.fail_on_status(rep, "high") == (1 if any(f["severity"] == "high" for f in rep["findings"]
                                                          if f["id"] != "verdict") else 0)
    with pytest.raises(export.ExportError):
        export.fail_on_status(rep, "urgent")


def test_markdown_neutralises_log_strings(tmp_path):
    line = Path(INPUTS[0]).read_text().splitlines()
    port0 = next(ln for ln in line if "DPT=0 " in ln).replace("DROP IN=", "DROP<img src=x onerror=alert(1)>``` IN=")
    p = tmp_path / "x.log"
    p.write_text(port0 + "\n")
    rep = analysis.analyze([str(p)], analysis.Options(), events.connect())
    text = export.markdown(rep)
    assert "port.zero" in text.replace("\\", "")
    outside, inside, fence = [], [], None
    for ln in text.splitlines():
        if fence is None and ln.startswith("```"):
            fence = ln[: len(ln) - len(ln.lstrip("`"))]
            continue
        if fence is not None and ln == fence:
            fence = None
            continue
        (inside if fence else outside).append(ln)
    assert fence is None, "the evidence fence was closed early by the log's own backticks"
    assert any("<img" in ln for ln in inside), "evidence keeps the raw record inside the fence"
    assert not any("<img" in ln for ln in outside), "a raw tag outside the fence would render in a tracker"


def test_json_written_a_finding_at_a_time_is_the_plain_dump():
    # write_json streams the report; its text must be exactly json.dumps(indent=2) of it
    import io
    lab = Path(__file__).parent / "fixtures" / "lab"
    rep = analysis.analyze([str(lab / "nmap_syn.log"), str(lab / "broadcasts.log"), str(lab / "traceroute_udp.pcap")],
                           analysis.Options())
    assert len(rep["findings"]) > 2
    rep["extra"] = {"empty_list": [], "empty_dict": {}, "nested": [1, {"text": "é\n\u2028<>"}],
                    # what the fast encoder refuses goes to the standard library, same text
                    "huge": 2**70, "surrogate": "\udcff", "int_keys": {3: "x"}, "a_set": {5}, "ratio": 0.25}
    buf = io.StringIO()
    export.write_json(rep, buf)
    assert buf.getvalue() == json.dumps(rep, indent=2, default=export._default, ensure_ascii=False) + "\n"


def test_geo_database_loads_once_whoever_asks_first():
    # preload() starts the load on a thread; callers meanwhile wait for it instead of loading again
    import threading
    from fwforensics.reports import who
    saved = list(who._GEO)
    who._GEO.clear()
    try:
        who.preload()
        got = []
        ts = [threading.Thread(target=lambda: got.append(who._geo())) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(got) == 4 and len({id(g) for g in got}) == 1 and got[0] is who._geo()
        assert len(who._GEO) == 1
        if got[0] is not None:   # the database is there: its source is read without a rescan, same text
            assert who.geo_source()["source"] == str(got[0].get_database_info()["source_info"])
            assert who.geo_source()["date"] and who.lookup("8.8.8.8")["country"]
    finally:
        who._GEO[:] = saved or who._GEO


def test_compact_geo_copy_answers_as_geoip2fast_and_is_cached(tmp_path, monkeypatch):
    """The country/AS tables are read from a compact copy (numpy files, mapped) that the first run
    makes from geoip2fast's own and later runs reuse: the same country and AS answers as geoip2fast
    for the first address of networks (and the addresses either side), random IPv4 and IPv6
    addresses and odd text; a damaged copy is made again; without a writable cache geoip2fast
    answers itself."""
    import random
    import socket
    import geoip2fast.geoip2fast as G
    from geoip2fast import GeoIP2Fast
    from fwforensics.reports import who
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = who._load_geo()
    assert isinstance(made, who._CompactGeo)
    copies = list((tmp_path / "cache" / "fwforensics" / "geo").iterdir())
    assert len(copies) == 1 and (copies[0] / "hi.npy").exists()
    again = who._load_geo()
    assert isinstance(again, who._CompactGeo) and again is not made
    assert type(again.a["hi"]).__name__ == "memmap" and again.source_info == made.source_info
    ref = GeoIP2Fast(geoip2fast_data_file=who.GEO_FILE, verbose=False)

    def seen(r):   # what who.lookup keeps of an answer
        cc, asn = getattr(r, "country_code", None), getattr(r, "asn_name", None)
        return ((cc, r.country_name) if cc not in ("--", "", None) else None,
                (asn, r.asn_cidr) if asn and asn != "IANA.ORG" else None)
    rnd = random.Random(3)
    ips = {"0.0.0.0", "255.255.255.255", "::", "::1", "::ffff:192.0.2.1", "8.8.8.8", "2001:db8::1", "fe80::1",
           "1.2.3", "not an address", "2a02:26f7:fb80:4000::1"}
    for chunk in G.mainListFirstIP[::5] + G.mainListFirstIPASN[::5]:
        for first in chunk[::40]:
            for n in (first - 1, first, first + 1):
                if 0 <= n < 2 ** 32:
                    ips.add(socket.inet_ntoa(n.to_bytes(4, "big")))
                elif 2 ** 32 <= n < 2 ** 128:
                    ips.add(socket.inet_ntop(socket.AF_INET6, n.to_bytes(16, "big")))
    ips |= {socket.inet_ntoa(rnd.getrandbits(32).to_bytes(4, "big")) for _ in range(20000)}
    ips |= {socket.inet_ntop(socket.AF_INET6, ((2 << 124) | rnd.getrandbits(124)).to_bytes(16, "big")) for _ in range(5000)}
    assert len(ips) > 40000
    differ = [ip for ip in ips if seen(again.lookup(ip)) != seen(ref.lookup(ip))]
    assert differ == []
    assert sum(1 for ip in ips if seen(again.lookup(ip))[0]) > 10000   # (most addresses have a country)
    # a damaged copy is made again
    (copies[0] / "asn.npy").unlink()
    fixed = who._load_geo()
    assert isinstance(fixed, who._CompactGeo) and (copies[0] / "asn.npy").exists()
    assert seen(fixed.lookup("8.8.8.8")) == seen(ref.lookup("8.8.8.8"))
    # no writable cache: geoip2fast itself
    ro = tmp_path / "ro"
    ro.write_text("a file, not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(ro))
    plain = who._load_geo()
    assert isinstance(plain, GeoIP2Fast) and seen(plain.lookup("8.8.8.8"))[0]
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")   # never a copy under the working directory
    assert who._compact_path(who.__file__) is None and isinstance(who._load_geo(), GeoIP2Fast)


def test_evidence_of_a_capture_counts_packets_in_every_report():
    # a capture's records are numbered by packet: its evidence says "packet(s)", a log's "line(s)"
    import io

    from rich.console import Console

    from fwforensics.reports import html, terminal
    cap = CORPUS / "zeek-testing-pcaps" / "Traces" / "nmap-vsn.pcap"
    log = Path(__file__).parent / "fixtures" / "lab" / "ping_sweep.log"
    rep = analysis.analyze([str(cap), str(log)], analysis.Options(home_nets=["192.0.2.0/24"]))
    md = export.markdown(rep)
    assert f"Evidence: {export.md(str(cap))} packet(s) 2-10," in md
    assert f"Evidence: {export.md(str(log))} line(s) 1-" in md
    buf = io.StringIO()
    terminal.render(rep, Console(file=buf, width=400, color_system=None), verbose=True)
    out = buf.getvalue()
    assert f"Evidence: {cap} packet(s) 2-10," in out and f"Evidence: {log} line(s) 1-" in out
    page = html.render_html(rep, None)
    assert "</code> packet(s) 2-10," in page and "</code> line(s) 1-" in page
