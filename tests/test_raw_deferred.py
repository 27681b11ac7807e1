"""`analyze` leaves a netfilter record's text out of its events table and reads the lines its
evidence samples show back from the input afterwards (analysis.fill_raw, reader.lines_at); it
also leaves out the columns nothing reads (events.WORK_OMITTED, ``Options.narrow``).
The report must be the same as with the text and every column loaded: checked on real lab logs, on the
benchmark's generated mix, compressed, and on a file whose lines need the reader's repairs
(CRLF, invalid UTF-8, NUL, a line over the kept length)."""
from __future__ import annotations

import glob
import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest

from fwforensics import reader
from fwforensics.analysis import Options, analyze
from fwforensics.reader import ReadStats, read_events
from fwforensics.reports.export import _default as _json_default   # (a finding's PortRuns as its list)

HERE = os.path.dirname(__file__)


def _both(paths: list[str], **kw) -> tuple[dict, dict, ReadStats]:
    loaded = analyze(paths, Options(**kw))
    opts = Options(defer_raw=True, narrow=True, **kw)   # as `analyze` without --events-out
    deferred = analyze(paths, opts)
    return loaded, deferred, opts


def _samples(rep: dict) -> list[tuple]:
    return [(f["id"], f.get("src"), s["file"], s["line"], s["raw"])
            for f in rep["findings"] for s in f["evidence"]["samples"]]


def _generated(tmp_path, lines: int = 20000) -> str:
    out = tmp_path / "fw.log"
    subprocess.run([sys.executable, os.path.join(HERE, "..", "bench", "generate.py"), "--lines", str(lines),
                    "--out", str(out)], check=True, capture_output=True)
    return str(out)


def test_deferred_text_gives_the_same_report_on_lab_logs():
    paths = sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log")))
    assert paths
    loaded, deferred, _ = _both(paths, home_nets=["192.0.2.0/24"], outside_ifs=["eth0"])
    assert _samples(loaded) and all(s[4] for s in _samples(deferred))
    assert json.dumps(deferred, sort_keys=True, default=_json_default) == json.dumps(loaded, sort_keys=True, default=_json_default)


def test_deferred_text_plain_and_gzip(tmp_path):
    plain = _generated(tmp_path)
    gz = str(tmp_path / "fw.log.gz")
    with open(plain, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    for path in (plain, gz):
        loaded, deferred, _ = _both([path])
        assert len(_samples(loaded)) > 50
        assert _samples(deferred) == _samples(loaded)
        assert deferred["findings"] == loaded["findings"]


def test_lines_at_matches_the_readers_raw(tmp_path):
    """Every record's raw, as the reader gives it, is what lines_at reads back for its line."""
    rec = ("Mar 11 20:35:11 gw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:13:46:3a:41:36:00:1b:b9:76:9c:e4:08:00 "
           "SRC=198.51.100.{i} DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=4000 "
           "DPT={p} WINDOW=1024 RES=0x00 SYN URGP=0 ")
    body = bytearray()
    for i in range(1, 200):
        line = rec.format(i=i % 250 + 1, p=i).encode()
        if i % 7 == 0:
            line += b"\r"                      # CRLF line
        if i % 11 == 0:
            line = line.replace(b"gw", b"g\xffw")   # invalid UTF-8 in the host name
        if i % 13 == 0:
            line += b"\x00"                    # a NUL
        body += line + b"\n"
        if i == 100:
            body += b"x" * (reader.MAX_LINE_KEEP + 10) + b"\n"   # an over-long line, cut by the reader
            body += b"not a firewall line\n"
    path = tmp_path / "odd.log"
    path.write_bytes(bytes(body))
    stats = ReadStats()
    recs = [r for b in read_events([str(path)], stats=stats) for r in b.select(["line", "raw"]).to_pylist()]
    assert len(recs) > 150
    got = reader.lines_at(str(path), [r["line"] for r in recs] + [10 ** 6])
    assert {r["line"]: r["raw"] for r in recs} == got   # and the line past the end is left out
    loaded, deferred, opts = _both([str(path)])
    assert _samples(deferred) == _samples(loaded)


def test_text_stays_where_it_cannot_be_read_back(tmp_path):
    """Standard input, formats whose raw is not one input line, and callers that did not ask keep
    the text in the table."""
    path = _generated(tmp_path, 2000)
    import duckdb
    from fwforensics import analysis, events
    for opts, want_null in ((Options(defer_raw=True), True), (Options(), False)):
        con = events.connect()
        stats = ReadStats()
        analysis.load_inputs(con, [path], opts, stats)
        nulls, n = con.execute("SELECT count(*) FILTER (WHERE raw IS NULL), count(*) FROM events").fetchall()[0]
        assert n > 1000
        assert (nulls == n) is want_null and (bool(stats.raw_deferred) is want_null)
        con.close()
    pf = os.path.join(HERE, "fw_samples", "pf-tcpdump.txt")
    con = events.connect()
    stats = ReadStats()
    analysis.load_inputs(con, [pf], Options(defer_raw=True), stats)
    nulls, n = con.execute("SELECT count(*) FILTER (WHERE raw IS NULL), count(*) FROM events").fetchall()[0]
    assert n and not nulls and not stats.raw_deferred
    assert isinstance(con, duckdb.DuckDBPyConnection)
    con.close()


def test_cli_defers_unless_events_are_exported(tmp_path):
    """The CLI's report is the same either way; --events-out still writes every record's text."""
    path = _generated(tmp_path, 3000)
    run = lambda *a: subprocess.run([sys.executable, "-m", "fwforensics", "analyze", path, "--json", "--no-progress", *a],
                                    check=True, capture_output=True, text=True).stdout
    plain = json.loads(run())
    out = tmp_path / "ev.parquet"
    exported = json.loads(run("--events-out", str(out)))
    assert plain["findings"] == exported["findings"]
    import pyarrow.parquet as pq
    raw = pq.read_table(out, columns=["raw"]).column("raw")
    assert raw.null_count == 0 and len(raw) > 2000


def test_a_file_replaced_after_reading_shows_no_other_text(tmp_path):
    """Logs rotate: when the input is another file (or shorter) by the time the samples are read
    back, the samples keep file and line without text and the file's note says why; a file that
    only grew is read back as usual."""
    from fwforensics import analysis, detectors, events
    path = _generated(tmp_path, 3000)
    for change in ("grow", "rotate"):
        con = events.connect()
        stats = ReadStats()
        analysis.load_inputs(con, [path], Options(defer_raw=True), stats)
        found = detectors.run(detectors.Context(con=con))
        con.close()
        if change == "grow":
            with open(path, "a") as fh:
                fh.write("Mar 11 20:35:11 gw sshd[1]: a later line\n")
        else:
            os.rename(path, path + ".1")
            with open(path, "w") as fh:
                fh.write("a new log\n" * 10)
        analysis.fill_raw(found, stats)
        samples = [s for f in found for s in f.evidence.samples]
        assert len(samples) > 10
        if change == "grow":
            assert all(s["raw"] for s in samples) and not stats.files[0].note
        else:
            assert all(s["raw"] is None for s in samples)
            assert "changed after it was read" in stats.files[0].note


def test_lines_at_seeks_by_the_readers_index(tmp_path, monkeypatch):
    """With the reader's block index, lines_at seeks near each line and reads back what it reads
    from the start: on small blocks (hundreds of index entries), an over-long line and odd bytes."""
    monkeypatch.setattr(reader, "BLOCK", 2048)
    rec = ("Mar 11 20:35:11 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.{i} DST=192.0.2.10 LEN=60 "
           "TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=4000 DPT={p} WINDOW=1024 RES=0x00 SYN URGP=0 ")
    body = bytearray()
    for i in range(1, 3000):
        line = rec.format(i=i % 250 + 1, p=i).encode()
        if i % 7 == 0:
            line += b"\r"
        if i % 11 == 0:
            line = line.replace(b"gw", b"g\xffw")
        body += line + b"\n"
        if i == 1500:
            body += b"y" * 5000 + b"\n"       # longer than a block
    path = tmp_path / "many.log"
    path.write_bytes(bytes(body))
    stats = ReadStats()
    recs = [r for b in read_events([str(path)], stats=stats) for r in b.select(["line", "raw"]).to_pylist()]
    index = stats.files[0].line_index
    assert len(index[0]) > 100 and (index[0][0], index[1][0]) == (1, 0)
    last = bytes(body).count(b"\n")
    want = [r["line"] for r in recs][::37] + [1, 1501, 1502, last - 1, last, last + 1, 10 ** 6]
    plain = reader.lines_at(str(path), want)
    assert reader.lines_at(str(path), want, index) == plain
    assert {n: r["raw"] for n, r in ((r["line"], r) for r in recs) if n in set(want)} == \
        {n: v for n, v in plain.items() if n != 1501}
    # a line the reader cuts (longer than it keeps): the same text through the index
    monkeypatch.setattr(reader, "MAX_LINE_KEEP", 3000)
    stats = ReadStats()
    recs = [r for b in read_events([str(path)], stats=stats) for r in b.select(["line", "raw"]).to_pylist()]
    plain = reader.lines_at(str(path), want)
    assert plain[1501] == "y" * 3000
    assert reader.lines_at(str(path), want, stats.files[0].line_index) == plain
    # a compressed input keeps no index (it cannot seek): read from the start
    gz = tmp_path / "many.log.gz"
    gz.write_bytes(gzip.compress(bytes(body)))
    gstats = ReadStats()
    for _ in read_events([str(gz)], stats=gstats):
        pass
    assert len(gstats.files[0].line_index[0]) == 0


@pytest.mark.parametrize("kernel", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_reader_without_raw_gives_the_same_records(tmp_path, monkeypatch, kernel, threads):
    """keep_raw=False (what analyze asks for when it reads sample lines back): the netfilter reader
    drops each block's lines early and leaves raw null; every other column is unchanged, on the
    C kernel and the regex path, on worker threads and without them."""
    import pyarrow as pa
    from fwforensics.formats import netfilter
    monkeypatch.setattr(netfilter, "USE_KERNEL", kernel)
    monkeypatch.setattr(reader, "PARSE_THREADS", threads)
    path = _generated(tmp_path, 40000)

    def table(keep_raw):
        fs = reader.FileStats(path=path)
        return pa.Table.from_batches(list(reader.read_file(path, fs, keep_raw=keep_raw))), fs

    full, fs_full = table(True)
    bare, fs_bare = table(False)
    assert full.num_rows == bare.num_rows == fs_full.records == fs_bare.records > 30000
    assert full.column("raw").null_count == 0 and bare.column("raw").null_count == bare.num_rows
    assert bare.drop_columns(["raw"]).equals(full.drop_columns(["raw"]))
    assert (fs_bare.unreadable_count, fs_bare.skipped) == (fs_full.unreadable_count, fs_full.skipped)


def test_narrow_table_leaves_out_the_unread_columns_loudly(tmp_path):
    """The narrow work table has no omitted column at all (a query reading one fails instead of
    seeing nulls), keeps every other column of the schema in order, and takes the reader's batches."""
    import duckdb
    from fwforensics import analysis, events
    from fwforensics.schema import EVENT_SCHEMA
    path = _generated(tmp_path, 2000)
    con = events.connect(spill=False)
    stats = ReadStats()
    analysis.load_inputs(con, [path], Options(defer_raw=True, narrow=True), stats)
    cols = [d[0] for d in con.execute("SELECT * FROM events LIMIT 0").description]
    assert cols == [c for c in EVENT_SCHEMA.names if c not in events.WORK_OMITTED]
    assert len(cols) == len(EVENT_SCHEMA.names) - len(events.WORK_OMITTED)
    assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] == stats.records_read > 1000
    with pytest.raises(duckdb.BinderException):
        con.execute("SELECT count(tcp_ack) FROM events")
    # a table made before with every column still takes every column
    full = events.connect(spill=False)
    analysis.load_inputs(full, [path], Options(), ReadStats())
    analysis.load_inputs(full, [path], Options(narrow=True), ReadStats())
    assert full.execute("SELECT count(uid), count(*) FROM events").fetchall()[0][1] == 2 * stats.records_read


def test_samples_without_text_skip_the_join_only_when_no_record_has_any():
    """Context.no_raw: true over a table of deferred lines only (the samples then come without a
    second read of the table, and get their text afterwards), false once one record keeps its text
    (a packet capture's text stays: its samples still read it from the table); handed on to a
    narrowed copy. Mixed inputs give the report of a run that kept every text."""
    from fwforensics import analysis, detectors, events
    from fwforensics.detectors import _misc
    lab = [p for p in sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log"))) if "nmap_xmas" not in p]
    pf = os.path.join(HERE, "fixtures", "lab", "nmap_xmas.pcap")   # (its scan is in no log given)
    for paths, want in ((lab, True), (lab + [pf], False)):
        con = events.connect()
        analysis.load_inputs(con, paths, Options(defer_raw=True, narrow=True), ReadStats())
        ctx = detectors.Context(con=con)
        assert ctx.no_raw() is want
        with _misc.narrowed(ctx, "proto = 'tcp'") as nw:
            assert nw.name and ctx.table == nw.name and ctx.no_raw() is want
        con.close()
    loaded, deferred, _ = _both(lab + [pf])
    files = {s[2] for s in _samples(deferred)}
    assert pf in files and len(files) > 1 and all(s[4] for s in _samples(deferred))
    assert json.dumps(deferred, sort_keys=True, default=_json_default) == json.dumps(loaded, sort_keys=True, default=_json_default)
