"""One detector definition, two engines: Spark (local mode) finds exactly what DuckDB finds."""
from __future__ import annotations

import os
import shutil

import pytest

from fwforensics import analysis, detectors, events
from fwforensics.reader import read_file, FileStats

pytestmark = pytest.mark.slow

HERE = os.path.dirname(__file__)
from _shared import CORPUS as _CORPUS  # noqa: E402
CORPUS = str(_CORPUS) if _CORPUS.is_dir() else ""


def _spark_or_skip():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (pip install 'fwforensics[spark]')")
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for Spark")
    from fwforensics.engines.spark import session
    return session("local[2]")


@pytest.fixture(scope="module")
def spark():
    s = _spark_or_skip()
    yield s
    s.stop()


def _inputs():
    # (and a firewall log with sequence numbers: Mirai's fingerprint read from SEQ=)
    yield pytest.param([os.path.join(HERE, "fixtures", "lab", "background_noise.log"),
                        os.path.join(HERE, "fixtures", "lab", "block_scan.log"),
                        os.path.join(HERE, "fixtures", "lab", "mirai_telnet_seq.log")], 2026, id="lab")
    # captures: times with fractions of a second (decoy pairing, sessions and traceroute
    # windows read them through epoch())
    yield pytest.param([os.path.join(HERE, "fixtures", "lab", n + ".pcap")
                        for n in ("nmap_decoy", "traceroute_udp", "block_scan")], None, id="lab-pcap")
    # answers in time left out of dns.stale by a set of records (a sub-query on Spark), a late one
    # kept; an ARP sweep (its sessions by a window over fractions of a second); Mirai's sequence
    # numbers (the destination address as a number)
    yield pytest.param([os.path.join(HERE, "fixtures", "lab", n + ".pcap")
                        for n in ("background_noise", "dns_stale", "arp_sweep", "mirai_telnet")], None,
                       id="lab-pcap-dns")
    # a forged SYN flood (made by test_detect_flood's writer): the flood's spans (lead/lag windows)
    yield pytest.param("flood", 2025, id="flood")
    if CORPUS:
        yield pytest.param([os.path.join(CORPUS, "psad", "syn_scan_1000_1500"),
                            os.path.join(CORPUS, "elastic-integrations", "iptables", "test-iptables-raw.log")],
                           2013, id="corpus")


@pytest.mark.parametrize("paths,year", list(_inputs()))
def test_spark_findings_equal_duckdb(spark, tmp_path, paths, year):
    from fwforensics.engines.spark import SparkEngine, write_parquet
    out = str(tmp_path / "pq")
    if paths == "flood":
        from test_detect_flood import _forged_syn_flood
        paths = [_forged_syn_flood(tmp_path, n=1500, rate=100)[0]]
    for p in paths:
        assert write_parquet(read_file(p, FileStats(path=p), None, year, None), out) > 0
    # DuckDB over the same dataset
    con = events.connect()
    con.execute(f"CREATE TABLE events AS SELECT * EXCLUDE (day) FROM read_parquet('{out}/**/*.parquet', hive_partitioning=true)")
    def found(con):   # as analyze does: home nets and outside interface inferred first (their SQL too)
        from fwforensics.detectors import _us
        ctx = detectors.Context(con=con)
        _us.infer(ctx)
        return [f.to_dict() for f in detectors.run(ctx)]
    duck = found(con)
    # and DuckDB the usual way, straight from the files
    direct = analysis.analyze(paths, analysis.Options(year=year))["findings"]
    eng = SparkEngine(out, spark=spark)
    sp = found(eng)
    key = lambda f: (f["id"], f["src"] or "", f["summary"])  # noqa: E731
    assert sorted(duck, key=key) == sorted(direct, key=key)
    assert duck, "no findings: the comparison would prove nothing"
    assert sorted(sp, key=key) == sorted(duck, key=key)
    assert year != 2025 or [f["count"] for f in sp if f["id"] == "flood"] == [1500]
    # the report's summary (top sources and ports: their distinct counts in a second step) too
    assert analysis.summarise(eng) == analysis.summarise(con)
    assert analysis.summarise(con)["top_ports"]


@pytest.mark.slow
def test_cli_parquet_then_spark_agrees_with_duckdb(tmp_path):
    """The user's path: `ingest --parquet DIR`, then `analyze --engine spark --dataset DIR`."""
    import json
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.path.join(root, "src"))
    sample = os.path.join(root, "examples", "sample.log")

    def run(*a):
        p = subprocess.run([sys.executable, "-m", "fwforensics", *a], capture_output=True, text=True, env=env,
                           timeout=600)
        assert p.returncode == 0, p.stderr
        return p.stdout
    run("ingest", "--parquet", str(tmp_path / "pq"), sample)
    spark = json.loads(run("analyze", "--engine", "spark", "--dataset", str(tmp_path / "pq"), "--json"))
    duck = json.loads(run("analyze", "--json", sample))
    key = lambda r: [(f["id"], f["src"], f["count"]) for f in r["findings"]]  # noqa: E731
    assert spark["records_read"] == duck["records_read"] == 759
    assert key(spark) == key(duck)
    assert spark["summary"] == duck["summary"]


def test_translate_keeps_fractions_of_a_second(spark):
    """DuckDB's epoch() keeps the fraction of a second; the Spark translation must too
    (sqlglot's own UNIX_TIMESTAMP would not)."""
    from fwforensics.engines.spark import translate
    sql = ("SELECT epoch(TIMESTAMP '2026-03-01 10:00:00.250000') AS a, "
           "epoch(TIMESTAMP '2026-03-01 10:00:01.750000') - epoch(TIMESTAMP '2026-03-01 10:00:00.250000') AS d, "
           "CAST(floor(epoch(TIMESTAMP '2026-03-01 10:00:59.999999') / 60) AS BIGINT) AS k")
    duck = events.connect().execute(sql).fetchall()[0]
    row = spark.sql(translate(sql)).collect()[0]
    assert (row["a"], row["d"], row["k"]) == duck
    assert duck[1] == 1.5



def test_translate_counts_distinct_over_a_window(spark):
    """Spark has no DISTINCT aggregate over a window (flood.py counts a run's sources that way):
    the translation must give DuckDB's answer."""
    from fwforensics.engines.spark import translate
    sql = ("SELECT s, count(DISTINCT x) OVER (ORDER BY s ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) AS d "
           "FROM (VALUES (1, 'a'), (2, 'a'), (3, 'b'), (4, 'c'), (5, 'c'), (6, 'c')) AS t(s, x) ORDER BY s")
    duck = [tuple(r) for r in events.connect().execute(sql).fetchall()]
    assert duck == [(1, 2), (2, 3), (3, 2), (4, 1), (5, 1), (6, 1)]
    assert [(r["s"], r["d"]) for r in spark.sql(translate(sql)).collect()] == duck
