"""The reader's fast paths give exactly what the simple paths give.

* blocks are split into Arrow strings natively (``lines_array``): same lines as decoding the
  block in Python and splitting it, whatever the bytes (invalid UTF-8, CR LF, NUL);
* netfilter blocks are parsed on worker threads (``prepare``) and finished in order
  (``finish``): same batches as one thread, including year inference across blocks;
* IPv6 addresses are printed by the C library when it prints what ``ipaddress`` prints;
* blanks become nulls from the string offsets (``blank_to_null``) as a string comparison makes them.
"""
from __future__ import annotations

import glob
import ipaddress
import os

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from fwforensics import reader
from fwforensics.formats._common import blank_to_null, canonical_ip
from fwforensics.reader import ReadStats, read_events

HERE = os.path.dirname(__file__)
from _shared import CORPUS  # noqa: E402
CORPUS = str(CORPUS)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xc3\xa9", b"\xe6\x97",
                                 b"SRC=1.2.3.4 ", b" "]), max_size=60))
def test_native_line_split_equals_python_split(parts):
    block = b"".join(parts)
    assert reader.lines_array(block).to_pylist() == reader._decode(block).split("\n")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xc3\xa9", b"\xe6\x97",
                                 b"SRC=1.2.3.4 " * 3, b"\n\n"]), max_size=80),
       st.integers(1, 40), st.sampled_from(["file", "gzip", "read-only"]))
def test_blocks_give_every_line_whatever_the_block_size(tmp_path_factory, parts, block, kind):
    """iter_line_blocks (one buffer per block, lines cut from it without a copy): the lines of
    the whole input in order, numbered from 1, whatever the block size and the stream (a file, a
    gzip stream, a stream that has only read()); its index points at the lines' first bytes."""
    import gzip
    import io
    data = b"".join(parts)
    want = reader._decode(data).split("\n")
    if want and want[-1] == "" and data.endswith(b"\n") or data == b"":
        want = want[:-1]
    path = str(tmp_path_factory.mktemp("blocks") / "in.log")
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if kind == "gzip" else data)
    old = reader.BLOCK
    reader.BLOCK = block
    try:
        stats = reader.FileStats(path=path)
        if kind == "read-only":
            class Plain:   # no readinto, no read1: the reader's fallback
                def __init__(self, b):
                    self._f = io.BytesIO(b)

                def read(self, k=-1):
                    return self._f.read(k)
            stream = Plain(data)
        else:
            stream = reader.open_binary(path)[0]
        got, numbers = [], []
        for first, lines in reader.iter_line_blocks(stream, stats):
            numbers.append((first, len(lines)))
            got += lines.to_pylist()
    finally:
        reader.BLOCK = old
    assert got == want
    expect_first = 1
    for first, n in numbers:
        assert first == expect_first
        expect_first += n
    if kind == "file":
        raw = data.split(b"\n")
        starts = [0]
        for line in raw[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        for no, off in zip(*stats.line_index):
            assert starts[no - 1] == off


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from([None, "", "a", "bc", "é"]), max_size=40), st.integers(0, 40), st.integers(0, 40))
def test_blanks_to_nulls_from_offsets_equals_a_comparison(values, start, length):
    import pyarrow.compute as pc
    arr = pa.array(values, pa.string()).slice(min(start, len(values)), length)
    got = blank_to_null(arr)
    got.validate(full=True)
    want = arr if arr.null_count == len(arr) else pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    assert got.to_pylist() == want.to_pylist() and got.null_count == want.null_count


@settings(max_examples=2000, deadline=None)
@given(st.ip_addresses(v=6))
def test_ipv6_canonical_text_equals_ipaddress(addr):
    expected = str(addr)
    for text in (expected, addr.exploded, addr.exploded.upper()):
        assert canonical_ip(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.ip_addresses(v=6).map(str), st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"), st.ip_addresses(v=6).map(lambda a: f"{a}%eth0"),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"), st.ip_addresses(v=4).map(str),
    st.sampled_from(["", "::", "1::2::3", "gggg::1", "é::1", "::1\x00", "[]", "01.2.3.4", "1:2:3:4:5:6:7:8:9",
                     ":" * 70, "[[::1]]", "::1]", None,
                     # no dot written, one printed by the C library (IPv4-mapped, -compatible)
                     "::ffff:102:304", "::102:304", "0:0:0:0:0:FFFF:0102:0304", "[::ffff:a00:1]"]),
    st.text(alphabet="0123456789abcdefABCDEF:.[]%", max_size=45)), max_size=60),
    st.integers(0, 60), st.integers(0, 60))
def test_canonical_ips_by_the_kernel_equal_canonical_ip(values, start, length):
    """canonical_ips (the C kernel's inet_ntop where it is sure, canonical_ip for the rest) gives
    for every value what canonical_ip gives for it alone, on sliced arrays with nulls."""
    from fwforensics.formats import _common
    arr = pa.array(values, pa.string()).slice(min(start, len(values)), length)
    got = _common.canonical_ips(arr)
    got.validate(full=True)
    assert got.to_pylist() == [canonical_ip(v) if v else None for v in arr.to_pylist()]


@pytest.mark.parametrize("text", ["::ffff:1.2.3.4", "::1.2.3.4", "::ffff:0:0", "fe80::1%eth0", "1::2::3", "gggg::1"])
def test_ipv6_special_forms(text):
    try:
        expected = str(ipaddress.ip_address(text))
    except ValueError:
        expected = None
    assert canonical_ip(text) == expected


def _read(paths, threads, monkeypatch, block=None, **kw):
    monkeypatch.setattr(reader, "PARSE_THREADS", threads)
    if block:
        monkeypatch.setattr(reader, "BLOCK", block)
    stats = ReadStats()
    table = pa.Table.from_batches(list(read_events(paths, stats=stats, **kw)))
    return table, [(f.records, f.skipped, f.lines, f.unreadable) for f in stats.files]


def test_threads_give_the_same_events_on_a_generated_log(tmp_path, monkeypatch):
    # Many small blocks, so several are in flight at once; the log crosses a new year, so the
    # year inference (carried from block to block) must see the blocks in order.
    line = ("{ts} gw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:13:46:3a:41:36:00:1b:b9:76:9c:e4:08:00 "
            "SRC=203.0.113.{a} DST=2001:db8::{a:x} LEN=44 TOS=0x00 PREC=0x00 TTL=53 ID={a} PROTO=TCP SPT=56247 "
            "DPT={p} WINDOW=3072 RES=0x00 SYN URGP=0 OPT (020405B4)\n")
    days = ["Dec 30 10:00:00", "Dec 31 23:59:59", "Jan  1 00:00:01", "Jan  2 08:00:00"]
    p = tmp_path / "fw.log"
    with open(p, "w") as f:
        for i in range(6000):
            f.write(line.format(ts=days[i * len(days) // 6000], a=i % 250, p=i % 1024))
            if i % 997 == 0:
                f.write("garbage that is no record \x00 \xff\n")
    one, s1 = _read([str(p)], 1, monkeypatch, block=8192, year=2024)
    two, s2 = _read([str(p)], 2, monkeypatch, block=8192, year=2024)
    assert one.num_rows == 6000 and s1[0][2] == 6007
    assert one.equals(two) and s1 == s2
    assert {t.year for t in one.column("ts").to_pylist()} == {2024, 2025}


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="../shared/corpus not present")
def test_threads_give_the_same_events_on_the_corpus(monkeypatch):
    paths = sorted(p for p in glob.glob(os.path.join(CORPUS, "psad", "*")) if not p.endswith(("MANIFEST.md", "SCAN_LOG")))
    paths += glob.glob(os.path.join(CORPUS, "elastic-integrations", "iptables", "*.log"))
    one, s1 = _read(paths, 1, monkeypatch, block=4096, year=2015)
    two, s2 = _read(paths, 2, monkeypatch, block=4096, year=2015)
    assert one.num_rows > 1000
    assert one.equals(two) and s1 == s2
