"""Structural checks of the benchmark's netfilter log generator (bench/generate.py)."""
from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "bench" / "generate.py"

SYSLOG = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) (?P<day>[ \d]\d) (?P<hms>\d\d:\d\d:\d\d) (?P<host>\S+) (?P<rest>.*)$")
KERNEL = re.compile(r"^kernel: \[ *\d+\.\d{6}\] (?P<rec>.*)$")
# Field order of nf_log_syslog for IPv4 and IPv6 records (optional parts in (?:...)?).
IPV4 = re.compile(
    r"^(?P<prefix>.*?)IN=\S* OUT=\S* (?:MAC=(?:[0-9a-f]{2}:){13}[0-9a-f]{2} )?"
    r"SRC=(?P<src>\d+\.\d+\.\d+\.\d+) DST=\d+\.\d+\.\d+\.\d+ LEN=\d+ TOS=0x[0-9A-F]{2} PREC=0x[0-9A-F]{2} "
    r"TTL=\d+ ID=\d+ (?:CE )?(?:DF )?(?P<mf>MF )?(?P<frag>FRAG:\d+ )?(?P<ipopt>OPT \([0-9A-F]+\) )?"
    r"PROTO=(?P<proto>\w+) (?P<tail>.*)$")
IPV6 = re.compile(
    r"^(?P<prefix>.*?)IN=\S* OUT=\S* (?:MAC=(?:[0-9a-f]{2}:){13}[0-9a-f]{2} )?"
    r"SRC=(?P<src>(?:[0-9a-f]{4}:){7}[0-9a-f]{4}) DST=(?:[0-9a-f]{4}:){7}[0-9a-f]{4} LEN=\d+ TC=\d+ "
    r"HOPLIMIT=\d+ FLOWLBL=\d+ PROTO=(?P<proto>\w+) (?P<tail>.*)$")
TCP = re.compile(r"^SPT=\d+ DPT=(?P<dpt>\d+) WINDOW=\d+ RES=0x00 (?P<flags>(?:(?:CWR|ECE|URG|ACK|PSH|RST|SYN|FIN) )*)"
                 r"URGP=0 (?:OPT \([0-9A-F]+\) )?$")
UDP = re.compile(r"^SPT=\d+ DPT=\d+ LEN=\d+ $")
ICMP_ECHO = re.compile(r"^TYPE=(?:8|128) CODE=0 ID=\d+ SEQ=\d+ $")
ICMP_ERR = re.compile(r"^TYPE=(?:3|11) CODE=\d+ \[SRC=\S+ DST=\S+ LEN=\d+ TOS=0x[0-9A-F]{2} PREC=0x[0-9A-F]{2} "
                      r"TTL=\d+ ID=\d+ (?:DF )?PROTO=(?:UDP SPT=\d+ DPT=\d+ LEN=\d+|TCP INCOMPLETE \[\d+ bytes\]) \] "
                      r"(?:MTU=\d+ )?$")
ICMPV6_OTHER = re.compile(r"^TYPE=\d+ CODE=\d+ $")
FLAG_ORDER = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"]
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _load_generator():
    spec = importlib.util.spec_from_file_location("bench_generate", GENERATOR)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "gen.log"
    subprocess.run([sys.executable, str(GENERATOR), "--lines", "2000", "--out", str(out), "--seed", "3"],
                   check=True, capture_output=True)
    data = out.read_bytes()
    assert data.endswith(b"\n")
    return data.decode("ascii").splitlines()


def _times(lines, year=2025):
    """(host, datetime) per line, inferring the year across a Dec -> Jan rollover."""
    out, last_month = [], None
    for line in lines:
        m = SYSLOG.match(line)
        month = MONTHS[m["mon"]]
        if last_month == 12 and month == 1:
            year += 1
        last_month = month
        h, mi, s = map(int, m["hms"].split(":"))
        out.append((m["host"], dt.datetime(year, month, int(m["day"]), h, mi, s)))
    return out


def test_every_line_is_syslog_and_every_record_in_kernel_order(lines):
    assert len(lines) == 2000
    kinds = {"ipv6": 0, "icmp_quoted": 0, "icmp_echo": 0, "udp": 0, "tcp": 0, "other": 0, "unrelated": 0,
             "fragment": 0, "ip_options": 0}
    for line in lines:
        m = SYSLOG.match(line)
        assert m, line
        k = KERNEL.match(m["rest"])
        rec = k["rec"] if k else None
        if rec is None or "IN=" not in rec:
            kinds["unrelated"] += 1
            continue
        assert rec.endswith(" "), f"kernel records end with a space: {line!r}"
        r = IPV4.match(rec) or IPV6.match(rec)
        assert r, line
        proto, tail = r["proto"], r["tail"]
        if ":" in r["src"]:
            kinds["ipv6"] += 1
        elif r["ipopt"]:
            kinds["ip_options"] += 1
        if ":" not in r["src"] and r["frag"]:
            assert int(r["frag"][5:]) < 8192, line  # 13-bit offset in 8-byte units
            assert tail == "", "a later fragment carries no ports: " + line
            kinds["fragment"] += 1
            continue
        if proto == "TCP":
            t = TCP.match(tail)
            assert t, line
            flags = t["flags"].split()
            assert flags == sorted(flags, key=FLAG_ORDER.index), line
            kinds["tcp"] += 1
        elif proto == "UDP":
            assert UDP.match(tail), line
            kinds["udp"] += 1
        elif proto in ("ICMP", "ICMPv6"):
            if ICMP_ERR.match(tail):
                kinds["icmp_quoted"] += 1
            elif ICMP_ECHO.match(tail):
                kinds["icmp_echo"] += 1
            else:
                assert proto == "ICMPv6" and ICMPV6_OTHER.match(tail), line
        else:
            assert proto.isdigit(), line
            assert tail == "", line
            kinds["other"] += 1
    for kind, count in kinds.items():
        assert count > 0, f"no {kind} lines in {kinds}"
    assert 0.01 < kinds["unrelated"] / len(lines) < 0.06


def test_the_mix_has_scans_of_every_advertised_kind(lines):
    by_src = {}
    for line in lines:
        r = IPV4.search(line) or IPV6.search(line)
        if not r:
            continue
        flags = ""
        if r["proto"] == "TCP":
            flags = TCP.match(r["tail"])["flags"].strip()
        key = (r["src"], r["proto"], flags)
        ports = by_src.setdefault(key, set())
        dpt = re.search(r"DPT=(\d+)", r["tail"])
        ports.add(dpt.group(1) if dpt else None)
    vertical = {(proto, flags) for (src, proto, flags), ports in by_src.items() if len(ports) >= 10}
    assert ("TCP", "SYN") in vertical
    # with 2,000 lines each episode kind appears once, in a shuffled order
    others = {("TCP", "FIN"), ("TCP", "URG PSH FIN"), ("TCP", ""), ("TCP", "ACK"), ("UDP", "")}
    assert len(others & vertical) >= 3, vertical
    assert any(":" in src for (src, proto, flags), ports in by_src.items() if len(ports) >= 10), "IPv6 scan"
    dsts = {}
    for line in lines:
        m = re.search(r"SRC=(\S+) DST=(\S+) .*?DPT=(\d+)", line)
        if m:
            dsts.setdefault((m[1], m[3]), set()).add(m[2])
    assert max(len(v) for v in dsts.values()) >= 10, "a horizontal sweep"
    assert any(" SPT=137 DPT=137 " in line for line in lines), "NetBIOS name lookups"


def test_timestamps_only_go_back_on_the_skewed_second_host(lines):
    times = _times(lines)
    per_host = {}
    backwards = 0
    prev = None
    for host, t in times:
        if host in per_host:
            assert t >= per_host[host], (host, t, per_host[host])
        per_host[host] = t
        if prev and t < prev[1]:
            backwards += 1
            assert "edge2" in (host, prev[0])
            assert (prev[1] - t).total_seconds() <= 5
        prev = (host, t)
    assert set(per_host) == {"fw1", "edge2"}
    assert backwards > 0, "the skewed host makes a few lines go back in time"


def test_long_files_cross_a_new_year_and_output_is_deterministic(tmp_path):
    gen = _load_generator()
    plan = gen.Plan(500_000, 7)
    assert plan.start.year == 2025 and plan.start.month == 12
    # one chunk near the end of a long file lies in January, the first one in December
    first = gen.build_chunk(gen.Plan(500_000, 7, chunk=1000), 0)
    last = gen.build_chunk(gen.Plan(500_000, 7, chunk=1000), 499)
    assert first.startswith(b"Dec ") and last.startswith(b"Jan ")
    again = gen.build_chunk(gen.Plan(500_000, 7, chunk=1000), 499)
    assert again == last
    assert gen.build_chunk(gen.Plan(500_000, 8, chunk=1000), 499) != last


def test_a_file_is_stamped_with_its_last_time_so_guessed_years_are_right_at_once(tmp_path):
    """A generated file's modification time is its last line's (as a syslog file's is): the
    streaming reader gives a file that crosses a new year its years without a later fix-up, on
    whatever day the file was generated."""
    import pyarrow.compute as pc
    from fwforensics.reader import ReadStats, read_events
    gen = _load_generator()
    n = 400_000   # 200 000 s of log time: more than two days, so the file crosses a new year
    out = str(tmp_path / "long.log")
    gen.generate(n, out, 7, jobs=1)
    mtime = dt.datetime.fromtimestamp(os.path.getmtime(out), dt.timezone.utc)
    assert mtime == gen.last_time(out, n, 7) + dt.timedelta(seconds=60)
    assert (mtime.year, mtime.month) == (2026, 1)
    os.utime(out, (mtime.timestamp() + 300 * 86400,) * 2)   # as a copy made months later would have
    gen.stamp(out, n, 7)                                     # (bench/run.py re-stamps cached files)
    assert os.path.getmtime(out) == mtime.timestamp()
    lo = hi = None
    for b in read_events([out], stats=ReadStats()):
        mn, mx = pc.min_max(b.column("ts")).values()
        lo = mn.as_py() if lo is None or (mn.is_valid and mn.as_py() < lo) else lo
        hi = mx.as_py() if hi is None or (mx.is_valid and mx.as_py() > hi) else hi
    assert (lo.year, lo.month) == (2025, 12) and (hi.year, hi.month) == (2026, 1)
    assert hi <= mtime
    short = str(tmp_path / "short.log")   # a short file does not cross the new year
    gen.generate(2000, short, 7, jobs=1)
    st = dt.datetime.fromtimestamp(os.path.getmtime(short), dt.timezone.utc)
    assert (st.year, st.month) == (2025, 11)
