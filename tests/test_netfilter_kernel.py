"""The C kernel of the netfilter reader and its Arrow/RE2 path give identical event tables."""
from __future__ import annotations

import glob
import os
import random
import subprocess
import sys

import pyarrow as pa
import pytest

from fwforensics.formats import netfilter
from fwforensics.reader import FileStats, read_file

HERE = os.path.dirname(__file__)
from _shared import CORPUS as _CORPUS  # noqa: E402
CORPUS = str(_CORPUS) if _CORPUS.is_dir() else ""

needs_kernel = pytest.mark.skipif(not netfilter.kernel_available(),
                                  reason="C kernel not built (pip install . or python setup.py build_ext --inplace)")


def _netfilter_files() -> list[str]:
    files = [os.path.join(HERE, "fixtures", "netfilter", "wrappers.log")]
    files += sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log")))
    if CORPUS:
        files += sorted(p for p in glob.glob(os.path.join(CORPUS, "psad", "*"))
                        if not p.endswith(("MANIFEST.md", "SCAN_LOG")))
        files += sorted(glob.glob(os.path.join(CORPUS, "elastic-integrations", "iptables", "*.log")))
        files += [os.path.join(CORPUS, "wazuh-ruleset-tests", "iptables.ini")]
    return [f for f in files if os.path.isfile(f)]


def _read(path: str, kernel: bool, monkeypatch) -> tuple[pa.Table, FileStats]:
    monkeypatch.setattr(netfilter, "USE_KERNEL", kernel)
    fs = FileStats(path=path)
    batches = list(read_file(path, fs, "netfilter", 2024, None))
    table = pa.Table.from_batches(batches) if batches else None
    return table, fs


def _same(path, monkeypatch):
    tk, fk = _read(path, True, monkeypatch)
    tr, fr = _read(path, False, monkeypatch)
    assert (fk.records, fk.skipped, fk.unreadable_count, fk.unreadable) == \
        (fr.records, fr.skipped, fr.unreadable_count, fr.unreadable)
    if tr is None:
        assert tk is None
        return 0
    assert tk.schema == tr.schema
    for name in tr.column_names:
        assert tk.column(name).to_pylist() == tr.column(name).to_pylist(), f"{path}: column {name} differs"
    return tr.num_rows


@needs_kernel
def test_every_netfilter_file_reads_the_same_through_both_paths(monkeypatch):
    files = _netfilter_files()
    assert len(files) > 20
    total = sum(_same(f, monkeypatch) for f in files)
    assert total > 1000


@needs_kernel
def test_kernel_reads_most_generated_lines_and_matches(tmp_path, monkeypatch):
    gen = os.path.join(HERE, "..", "bench", "generate.py")
    if not os.path.exists(gen):
        pytest.skip("bench/generate.py not present")
    out = tmp_path / "gen.log"
    subprocess.run([sys.executable, gen, "--lines", "5000", "--out", str(out), "--jobs", "1"], check=True,
                   capture_output=True)
    lines = out.read_text().splitlines()
    arr = pa.array(lines, pa.string())
    ok, ext = netfilter._kernel_extract(arr, pa.array(range(1, len(lines) + 1), pa.int64()))
    assert len(ext) > 0.9 * len(lines)  # the fast path is really taken
    assert _same(str(out), monkeypatch) > 4000


@needs_kernel
def test_mutated_lines_read_the_same_through_both_paths(tmp_path, monkeypatch):
    """Damaged and odd records: the kernel must take a line only when it reads it as the regexes do."""
    src = _netfilter_files()
    pool = []
    for f in src:
        with open(f, encoding="utf-8", errors="replace") as fh:
            pool += [s.rstrip("\n") for s in fh if "SRC=" in s][:40]
    rnd = random.Random(8)
    edits = [" ", "  ", "\t", "[", "]", "(", ")", "=", ":", "0x", "x", "é", "\x0b", "IN= OUT= ", "SYN ", "DF ",
             "OPT (0204) ", "2024 ", "<4>", "kernel: ", "UID=0 GID=0 ", "MARK=0x1 ", "[1.5] "]
    out = []
    for _ in range(4000):
        s = rnd.choice(pool)
        for _k in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(s) + 1)
            op = rnd.random()
            if op < 0.4:
                s = s[:i] + rnd.choice(edits) + s[i:]
            elif op < 0.7:
                s = s[:i] + s[i + rnd.randint(1, 4):]
            elif op < 0.85:
                s = s[:i]
            else:
                s = s[:i] + s[i:].replace(" ", "  ", 1)
        out.append(s)
    path = tmp_path / "mutated.log"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    assert _same(str(path), monkeypatch) > 1000


def test_field_names_match_the_regex_groups():
    if not netfilter.kernel_available():
        pytest.skip("C kernel not built")
    names = set(netfilter._nfkernel.FIELDS)
    assert {n for n in names if not n.startswith("h_")} == set(netfilter._GROUPS)
    assert {n[2:] for n in names if n.startswith("h_")} <= set(netfilter._HEAD_NAMES) | set(netfilter._BUILT_HEAD)
    assert set(netfilter._BUILT_HEAD) <= {n[2:] for n in names}


@needs_kernel
def test_v4_mask_is_the_canonical_regex():
    # the kernel's check of "an IPv4 address as ipaddress prints it" answers as the regex does,
    # on sliced arrays and with nulls, for near-misses of every kind
    import pyarrow.compute as pc
    from fwforensics.formats import _common
    assert _common._v4_mask is not None
    rnd = random.Random(11)
    parts = ["0", "00", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "300", "012",
             "1a", "", " 1", "٣", "1234"]
    vals = ["1.2.3.4", "0.0.0.0", "255.255.255.255", "1.2.3.4\n", "::ffff:1.2.3.4", None, ""]
    vals += [".".join(rnd.choice(parts) for _ in range(rnd.choice([3, 4, 4, 4, 5]))) for _ in range(20000)]
    arr = pa.array(vals, pa.string())
    for a in (arr, arr.slice(5, 9000), arr.slice(13)):
        want = pc.fill_null(pc.match_substring_regex(a, _common._CANON_V4), False)
        assert _common._canonical_v4(a).equals(want)
    assert 1000 < sum(_common._canonical_v4(arr).to_pylist()) < 19000
    # and the addresses come out the same as without the kernel
    assert _common.canonical_ips(arr).equals(pa.array([_common.canonical_ip(v) if v else None for v in vals]))


def test_plain_bsd_timestamps_equal_parsing_the_text():
    # the arithmetic path gives what joining and parsing the ISO text gives, or declines (None)
    # when some row is not plain; checked on random dates with every kind of edge
    import pyarrow.compute as pc
    from fwforensics.formats import _common
    rnd = random.Random(5)
    declined = computed = 0
    for _ in range(400):
        n = rnd.randint(1, 12)
        years = [rnd.choice([1, 1970, 1999, 2000, 2023, 2024, 2100, 9999, 10000, 0]) for _ in range(n)]
        months = [rnd.choice([1, 2, 2, 4, 6, 9, 11, 12]) for _ in range(n)]
        days = [rnd.choice([1, 9, 28, 29, 30, 31, 0, 32]) for _ in range(n)]
        hms = [rnd.choice(["00:00:00", "23:59:59", "12:34:56", "24:00:00", "12:60:00", "12:00:60", "1:02:03",
                           "12:34:5x", "12-34-56", "٣2:00:00"]) for _ in range(n)]
        frac = [rnd.choice([None, None, ".5", ",5", ".123456", ".000001", ".1234567", ".", ".1a"]) for _ in range(n)]
        if rnd.random() < 0.7:   # mostly plain batches, so both outcomes are exercised
            years = [rnd.choice([1970, 2024, 2023, 2000]) for _ in range(n)]
            days = [rnd.choice([1, 9, 28]) for _ in range(n)]
            hms = [rnd.choice(["00:00:00", "23:59:59", "12:34:56"]) for _ in range(n)]
            frac = [rnd.choice([None, ".5", ",25", ".123456"]) for _ in range(n)]
        y, mo, d = pa.array(years, pa.int32()), pa.array(months, pa.int8()), pa.array(days, pa.int8())
        h, fr = pa.array(hms, pa.string()), pa.array(frac, pa.string())
        got = _common.plain_bsd_timestamps(y, mo, d, h, fr)
        text = _common.join(pc.utf8_lpad(pc.cast(y, pa.string()), 4, "0"), "-",
                            pc.utf8_lpad(pc.cast(mo, pa.string()), 2, "0"), "-",
                            pc.utf8_lpad(pc.cast(d, pa.string()), 2, "0"), "T", h,
                            pc.replace_substring(pc.coalesce(fr, pa.scalar("", pa.string())), ",", "."))
        want = _common.safe_cast_timestamp(text)
        if got is None:
            declined += 1
            assert want.null_count > 0 or any(f is not None and len(f) > 7 for f in frac) or \
                any(x < 1 or x > 9999 for x in years) or any(not s.isascii() for s in hms)
        else:
            computed += 1
            assert got.type == pa.timestamp("us")
            assert got.to_pylist() == want.to_pylist()
    assert declined > 50 and computed > 150


@needs_kernel
def test_lines_of_other_programs_are_skipped_as_the_regex_path_skips_them(tmp_path, monkeypatch):
    """The kernel marks lines it is sure the regex path would skip (blank, another program's
    syslog line); near-misses of every syslog start, and lines with netfilter words, must come out
    with the same counts of skipped and unreadable lines (and the same messages) as the regexes give."""
    rnd = random.Random(3)
    pri = ["", "", "<13>", "<4>", "<999>", "<1234>", "<>", "<x>"]
    one = ["", "", "1 ", "1", "11 "]
    starts = ["Dec  7 12:00:00", "Dec 7 12:00:00", "Dec 17 12:00:00", "Dec 123 12:00:00", "Dec 7 1:00:00",
              "dec 7 12:00:00", "Dec7 12:00:00", "Dec 7 12:00:0", "Dec 7 12:00:00.5", "2026-03-01T10:00:00",
              "2026-03-01 10:00:00", "2026-3-01T10:00:00", "2026-03-01t10:00:00", "26-03-01T10:00:00",
              "[ 12.5]", "[12.5]", "[12.]", "[.5]", "[  3.25] ", "[Mon ", "[Mon", "[Fri Dec", "[mon ",
              "", " ", "\t", "é", "٣", "\x0b"]
    bodies = [" fw sshd[1]: session closed", " host ntpd: x", "", " ", "\f", "\x0b", " x SRC=1.2.3.4 DST=5.6.7.8",
              " x SRC=1.2.3.4", " DST=1.2.3.4 only", " kernel: IN= OUT=", " x PROTO=TCP y", " kernel: PROTO=UDP",
              " IN=eth0 something", " xIN=", "\r"]
    out = []
    for _ in range(6000):
        s = rnd.choice(pri) + rnd.choice(one) + rnd.choice(starts) + rnd.choice(bodies)
        if rnd.random() < 0.2:
            i = rnd.randrange(len(s) + 1)
            s = s[:i] + rnd.choice([" ", "", "\t", "0", "]", "["]) + s[i + rnd.randint(0, 2):]
        out.append(s)
    out += ["", " ", "\t\f ", "\x0b", "   \r"]
    path = tmp_path / "others.log"
    path.write_bytes(("\n".join(out) + "\n").encode("utf-8"))
    _same(str(path), monkeypatch)
    fs = _read(str(path), True, monkeypatch)[1]
    assert fs.skipped > 400 and fs.unreadable_count > 1000
    arr = pa.array(out, pa.string())
    status, _ext = netfilter._kernel_extract(arr, pa.array(range(1, len(out) + 1), pa.int64()))
    assert 400 < int((status == 2).sum()) <= fs.skipped   # the kernel really takes them


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "regex"])
def test_columns_left_out_are_null_and_the_others_unchanged(kernel, monkeypatch):
    """``leave_out`` (analyze's narrow work table): those columns are not computed; every other
    column is what a full read gives, on both paths."""
    if kernel and not netfilter.kernel_available():
        pytest.skip("C kernel not built")
    from fwforensics import events
    monkeypatch.setattr(netfilter, "USE_KERNEL", kernel)
    leave = events.WORK_OMITTED
    filled = set()
    for path in _netfilter_files():
        full = list(read_file(path, FileStats(path=path), "netfilter", 2024, None))
        narrow = list(read_file(path, FileStats(path=path), "netfilter", 2024, None, leave_out=leave))
        if not full:
            continue
        tf, tn = pa.Table.from_batches(full), pa.Table.from_batches(narrow)
        assert tf.schema == tn.schema and tf.num_rows == tn.num_rows
        for name in tf.column_names:
            if name in leave:
                assert tn.column(name).null_count == tn.num_rows, f"{path}: {name} computed"
                if tf.column(name).null_count < tf.num_rows:
                    filled.add(name)
            else:
                assert tn.column(name).equals(tf.column(name)), f"{path}: column {name} differs"
    # the files have values in most of those columns: leaving them out really left something out
    assert {"uptime", "out_if", "proto_num", "ip_tos", "ip_prec", "tcp_urgp", "mac_src", "incomplete", "df"} <= filled
