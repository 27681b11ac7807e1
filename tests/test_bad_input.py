"""Bad input is normal input: nothing raises, every line is accounted for, with its number."""
from __future__ import annotations

import bz2
import gzip
import lzma
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from fwforensics.reader import ReadStats, read_events

HERE = os.path.dirname(__file__)
GOOD = open(os.path.join(HERE, "fixtures", "netfilter", "wrappers.log"), encoding="utf-8").readline()


def account(path, **kw):
    stats = ReadStats()
    n = sum(b.num_rows for b in read_events([path], stats=stats, **kw))
    f = stats.files[0]
    assert n == f.records
    return f


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(tmp_path, data):
    p = tmp_path / "random.log"
    p.write_bytes(data)
    f = account(str(p))
    # every line is a record, unreadable (with its number) or skipped; nothing vanishes
    assert f.records + f.unreadable_count + f.skipped == f.lines
    assert all(1 <= n <= max(f.lines, 1) for n, _ in f.unreadable)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=len(GOOD)), min_size=1, max_size=20),
       st.sampled_from(["utf-8", "latin-1", "utf-16-le"]))
def test_truncated_and_mis_encoded_records(tmp_path, cuts, enc):
    lines = [GOOD[:c].rstrip("\n") for c in cuts] + [GOOD.rstrip("\n")]
    p = tmp_path / "cut.log"
    p.write_bytes("\n".join(lines).encode(enc, errors="replace"))
    f = account(str(p), fmt="netfilter")
    assert f.records + f.unreadable_count + f.skipped == f.lines
    if enc == "utf-8":
        assert f.records >= 1  # the whole record at the end is always read


def test_huge_lines_and_binary_are_counted_with_line_numbers(tmp_path):
    p = tmp_path / "huge.log"
    with open(p, "wb") as fh:
        fh.write(GOOD.encode())
        fh.write(b"A" * (3 << 20) + b"\n")               # a 3 MB line
        fh.write(GOOD.encode())
        fh.write(b"IN=eth0 OUT= " + b"SRC=1.2.3.4 " * 200_000 + b"\n")  # 2.4 MB netfilter-looking line
        fh.write(b"\x00\x01\x02\xff\xfe binary junk\n")
        fh.write(GOOD.encode())
    f = account(str(p))
    assert f.records == 3
    assert [n for n, _ in f.unreadable] == [2, 4, 5]
    assert "longer than" in dict(f.unreadable)[2]


def test_no_trailing_newline_and_crlf(tmp_path):
    p = tmp_path / "crlf.log"
    p.write_bytes((GOOD.rstrip("\n") + "\r\n") .encode() * 2 + GOOD.rstrip("\n").encode())
    f = account(str(p))
    assert (f.records, f.lines, f.unreadable_count) == (3, 3, 0)


def test_compressed_inputs(tmp_path):
    data = (GOOD * 5).encode()
    for name, opener in (("a.gz", gzip.open), ("a.bz2", bz2.open), ("a.xz", lzma.open)):
        p = tmp_path / name
        with opener(p, "wb") as fh:
            fh.write(data)
        assert account(str(p)).records == 5


def test_truncated_gzip_is_reported_not_raised(tmp_path):
    p = tmp_path / "cut.gz"
    with gzip.open(p, "wb") as fh:
        fh.write((GOOD * 2000).encode())
    p.write_bytes(p.read_bytes()[:-200])
    f = account(str(p))
    assert f.records > 0 and f.note and "ended early" in f.note
