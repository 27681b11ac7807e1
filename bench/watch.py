#!/usr/bin/env python3
"""Live-follow benchmark of ``fwforensics watch`` (issue 8, item 4).

    python bench/watch.py                      # 10 000 records/s for 60 s, then the report
    python bench/watch.py --rate 20000 --seconds 120 --events-out

A writer appends realistic netfilter records (bench/generate.py's lines, their syslog time
rewritten to the wall clock as they are written) to a log file at ``--rate`` records per
second, in ten slices a second, while ``fwforensics watch`` follows the file with a webhook
pointed at a small HTTP server in this process.  Every ``--marker-every`` seconds the writer
adds one marker record: a TCP packet to port 0 from a source used nowhere else
(192.0.2.x), which the port.zero detector reports.  Measured:

* throughput: records written and records the watcher has read (its state file), the
  largest backlog seen, and how long it took to catch up after the writer stopped;
* alert latency: for every marker, from the moment its line was flushed to the file to the
  moment its webhook POST arrived (min, median, max; a marker with no alert is a miss);
* memory: the watcher's resident set size (``/proc/PID/status`` VmRSS) sampled four times a
  second: peak, and the peaks of each third of the run (bounded memory shows as a flat
  curve once the window is full);
* CPU: the watcher's user+system seconds over the run, as a share of one core.

Writes bench/WATCH.json and bench/WATCH.md; exits 1 when a floor is missed (10 000
records/s kept up with, every marker alerted within 2 s, the last third's RSS peak not more
than 10% above the middle third's).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

LATENCY_FLOOR = 2.0     # seconds, marker line flushed -> webhook received
GROWTH_FLOOR = 1.10     # last third's RSS peak / middle third's RSS peak


def marker_line(k: int, when: dt.datetime) -> tuple[str, str]:
    src = f"192.0.2.{1 + k % 250}" if k < 250 else f"198.51.100.{1 + (k - 250) % 250}"
    stamp = when.strftime("%b %d %H:%M:%S")
    line = (f"{stamp} fw1 kernel: [123456.789012] DROP IN=eth0 OUT= MAC=00:16:3e:00:00:01:00:16:3e:00:00:02:08:00 "
            f"SRC={src} DST=203.0.113.5 LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID={40000 + k} PROTO=TCP "
            f"SPT={20000 + k} DPT=0 WINDOW=1024 RES=0x00 SYN URGP=0 ")
    return src, line


class Hook(BaseHTTPRequestHandler):
    got: dict[str, float] = {}
    total = 0

    def do_POST(self):  # noqa: N802
        t = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            a = json.loads(body)
        except ValueError:
            a = {}
        Hook.total += 1
        if a.get("id") == "port.zero" and a.get("src") and a["src"] not in Hook.got:
            Hook.got[a["src"]] = t
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for ln in fh:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def lines_read(state: Path) -> int:
    """Lines the watcher has consumed (records and the syslog lines that are not records)."""
    try:
        return int(json.loads(state.read_text())["line"])
    except (OSError, ValueError, KeyError):
        return -1


def records_in(state: Path) -> int:
    try:
        return int(json.loads(state.read_text())["records"])
    except (OSError, ValueError, KeyError):
        return -1


def perf_of(state: Path) -> dict:
    try:
        return json.loads(state.read_text()).get("perf", {})
    except (OSError, ValueError):
        return {}


def source_lines(seed: int) -> list[str]:
    """The body of every line of a generated 100 k-line log, without its syslog time."""
    import run  # bench/run.py: the cached generated files
    path, _ = run.ensure_file("100k", seed)
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for ln in fh:
            ln = ln.rstrip("\n")
            if len(ln) > 16:
                out.append(ln[15:])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=10_000, help="records per second (default 10000)")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the writer writes (default 60)")
    ap.add_argument("--window", type=float, default=None, help="watch --window (default: watch's own)")
    ap.add_argument("--events-out", action="store_true", help="also have the watcher write ECS NDJSON")
    ap.add_argument("--marker-every", type=float, default=2.0, help="seconds between marker records")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(HERE / "WATCH.md"))
    ap.add_argument("--json", default=str(HERE / "WATCH.json"))
    a = ap.parse_args()

    bodies = source_lines(a.seed)
    import run   # bench/run.py
    run.byte_compile()   # (timed as installed: see run.byte_compile)
    tmp = Path(tempfile.mkdtemp(prefix="fwf-watch-bench-"))
    log, state = tmp / "fw.log", tmp / "watch.state"
    log.write_text("")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/alert"
    cmd = [sys.executable, "-m", "fwforensics.watch", str(log), "--state", str(state), "--webhook", url,
           "--quiet", "--format", "netfilter"]
    if a.window:
        cmd += ["--window", str(a.window)]
    if a.events_out:
        cmd += ["--events-out", str(tmp / "events.ndjson")]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "watch.err", "w"))
    time.sleep(2.0)  # let it import and open the file

    samples: list[tuple[float, int, int]] = []   # (t, rss kB, records read)
    written = [0]
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            samples.append((time.time(), rss_kb(p.pid), lines_read(state)))
            time.sleep(0.25)

    threading.Thread(target=sampler, daemon=True).start()
    cpu0 = cpu_s(p.pid)
    markers: dict[str, float] = {}
    per_slice = a.rate / 10
    t0 = time.time()
    next_marker = t0 + a.marker_every
    k = j = 0
    due = 0.0
    with open(log, "a", encoding="utf-8") as fh:
        while True:
            now = time.time()
            if now - t0 >= a.seconds:
                break
            due += per_slice
            n = int(due)
            due -= n
            stamp = dt.datetime.now().strftime("%b %d %H:%M:%S")
            chunk = []
            for _ in range(n):
                chunk.append(stamp + bodies[j % len(bodies)])
                j += 1
            fh.write("\n".join(chunk) + "\n")
            written[0] += n
            mark = None
            if now >= next_marker:
                mark, line = marker_line(k, dt.datetime.now())
                k += 1
                fh.write(line + "\n")
                written[0] += 1
                next_marker += a.marker_every
            fh.flush()
            if mark:
                markers[mark] = time.time()
            slice_end = t0 + (written[0] / a.rate)
            time.sleep(max(0.0, min(0.1, slice_end - time.time())))
    t_end = time.time()
    rate_written = written[0] / (t_end - t0)
    caught = None
    while time.time() - t_end < 60:
        if lines_read(state) >= written[0]:
            caught = time.time() - t_end
            break
        time.sleep(0.1)
    time.sleep(3.0)   # alerts of the last markers
    cpu = cpu_s(p.pid) - cpu0
    stop.set()
    os.kill(p.pid, signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
    srv.shutdown()

    lat = [Hook.got[s] - t for s, t in markers.items() if s in Hook.got]
    missed = [s for s in markers if s not in Hook.got]
    run_s = [x for x in samples if t0 <= x[0] <= t_end]
    thirds = [[x[1] for x in run_s if t0 + i * (t_end - t0) / 3 <= x[0] < t0 + (i + 1) * (t_end - t0) / 3]
              for i in range(3)]
    lag = max((written_at(x[0], t0, a.rate) - x[2] for x in run_s if x[2] >= 0), default=0)
    res = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rate_asked": a.rate, "seconds": a.seconds, "events_out": a.events_out, "window": a.window,
        "written": written[0], "rate_written": round(rate_written),
        "read": lines_read(state), "records": records_in(state), "max_backlog_records": int(max(lag, 0)),
        "catch_up_s": None if caught is None else round(caught, 2),
        "markers": len(markers), "alerted": len(lat), "missed": missed,
        "latencies_s": [round(Hook.got[s] - t, 3) if s in Hook.got else None for s, t in markers.items()],
        "latency_s": {"min": round(min(lat), 3), "median": round(statistics.median(lat), 3),
                      "max": round(max(lat), 3)} if lat else None,
        "rss_mb": {"peak": round(max((x[1] for x in samples), default=0) / 1024, 1),
                   "thirds": [round(max(t, default=0) / 1024, 1) for t in thirds]},
        "cpu_share": round(cpu / (t_end - t0), 2),
        "alerts_total": Hook.total,
        "watcher_perf": perf_of(state),
        "stderr": (tmp / "watch.err").read_text()[-2000:],
    }
    th = res["rss_mb"]["thirds"]
    floors = {
        f"keeps up with {a.rate} records/s": caught is not None and caught <= LATENCY_FLOOR
                                              and rate_written >= 0.98 * a.rate,
        f"every marker alerted within {LATENCY_FLOOR:g} s": bool(lat) and not missed and max(lat) <= LATENCY_FLOOR,
        "memory bounded (last third's RSS peak <= 1.1 x the middle third's)":
            th[1] > 0 and th[2] <= GROWTH_FLOOR * th[1],
    }
    res["floors"] = floors
    Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    Path(a.out).write_text(render(res))
    print(render(res))
    return 0 if all(floors.values()) else 1


def written_at(t: float, t0: float, rate: int) -> float:
    return max(0.0, (t - t0) * rate)


def render(r: dict) -> str:
    lat = r["latency_s"] or {"min": "-", "median": "-", "max": "-"}
    th = r["rss_mb"]["thirds"]
    rows = [
        "# `fwforensics watch` under a sustained load",
        "",
        f"Generated by `python bench/watch.py --rate {r['rate_asked']} --seconds {r['seconds']:g}"
        + (" --events-out" if r["events_out"] else "") + f"` on {r['date']} ({r['machine']}).",
        "A writer appends realistic netfilter records (bench/generate.py's traffic, time-stamped as written)",
        "in ten slices a second; `fwforensics watch` follows the file and posts alerts to a local webhook.",
        "Markers (a TCP packet to port 0 from a source seen nowhere else) measure the alert latency:",
        "from the marker's line reaching the file to its alert reaching the webhook.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| lines written | {r['written']:,} in {r['seconds']:g} s ({r['rate_written']:,}/s) |",
        f"| lines read by the watcher | {r['read']:,} ({r['records']:,} firewall records, the rest other syslog) |",
        f"| largest backlog during the run | {r['max_backlog_records']:,} lines |",
        f"| caught up after the writer stopped | "
        + ("not within 60 s" if r["catch_up_s"] is None else f"{r['catch_up_s']} s") + " |",
        f"| markers alerted | {r['alerted']} of {r['markers']} |",
        f"| alert latency min / median / max | {lat['min']} / {lat['median']} / {lat['max']} s |",
        f"| watcher RSS peak | {r['rss_mb']['peak']} MB |",
        f"| RSS peak in each third of the run | {th[0]} / {th[1]} / {th[2]} MB |",
        f"| watcher CPU (share of one core) | {r['cpu_share']} |",
        f"| alerts posted in all | {r['alerts_total']} |",
        f"| detection passes; mean pass | {r['watcher_perf'].get('passes', 0)}; "
        f"{r['watcher_perf'].get('detect_s', 0) / max(1, r['watcher_perf'].get('passes', 0)):.2f} s |",
        f"| watcher seconds parsing / detecting / alerting / saving | {r['watcher_perf'].get('ingest_s', 0)} / "
        f"{r['watcher_perf'].get('detect_s', 0)} / {r['watcher_perf'].get('alert_s', 0)} / "
        f"{r['watcher_perf'].get('save_s', 0)} |",
        "",
        "Floors (issue 8):",
        "",
    ]
    rows += [f"- {'met' if ok else 'NOT met'}: {name}" for name, ok in r["floors"].items()]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
