"""watch: follow a growing log through rotation (rename and copytruncate) and a SIGKILL.

Every record is counted exactly once (checked by the unique IP ID of each appended record
in the watcher's ECS events-out file) and each expected alert is raised once (webhook on a
local http.server and the terminal output), across a kill and a restart.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from _shared import CORPUS

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = next(ln for ln in (CORPUS / "psad" / "syn_scan_1000_1500").read_text().splitlines()
                if "PROTO=TCP" in ln)
PROBERS = ["203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13", "203.0.113.14"]


def record(k: int, src: str = "198.51.100.20", dport: int | None = None) -> str:
    """Record k: a real netfilter line with its own IP ID (= k) and time."""
    mm, ss = divmod(k // 4, 60)
    ln = TEMPLATE.replace("20:35:11", f"20:{35 + mm:02d}:{ss:02d}")
    ln = ln.replace("SRC=192.168.10.55", f"SRC={src}").replace("DST=192.168.10.1", "DST=192.0.2.1")
    import re
    ln = re.sub(r" ID=\d+ ", f" ID={k} ", ln)
    ln = re.sub(r" DPT=\d+ ", f" DPT={dport if dport is not None else 1000 + k % 7} ", ln)
    return ln


class Hook(BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.got.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_watch_rotation_kill_restart(tmp_path):
    log, state, ev = tmp_path / "fw.log", tmp_path / "watch.state", tmp_path / "events.ndjson"
    srv = HTTPServer(("127.0.0.1", 0), Hook)
    Hook.got = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/alert"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, "-m", "fwforensics.watch", str(log), "--state", str(state), "--events-out", str(ev),
           "--webhook", url, "--window", "3600", "--format", "netfilter"]
    outs = []

    def start():
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    k = 0

    def append(n: int, prober: str | None = None, pause: float = 0.01):
        nonlocal k
        with open(log, "a") as fh:
            for i in range(n):
                k += 1
                if prober and i == n // 2:
                    fh.write(record(k, prober, dport=0) + "\n")
                else:
                    fh.write(record(k) + "\n")
                if i % 10 == 9:
                    fh.flush()
                    time.sleep(pause)

    def wait_for(pred, what, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def hooks_for(src):
        return sum(1 for a in Hook.got if a["id"] == "port.zero" and a["src"] == src)

    def records_in_state():
        try:
            return json.loads(state.read_text())["records"]
        except (OSError, ValueError):
            return -1

    log.write_text("")
    p = start()
    try:
        append(120, PROBERS[0])
        wait_for(lambda: hooks_for(PROBERS[0]) == 1, "alert 1")
        # rotation by rename while running (the watcher drains the old file, then follows the new one)
        os.rename(log, f"{log}.1")
        append(120, PROBERS[1])
        wait_for(lambda: hooks_for(PROBERS[1]) == 1, "alert 2")
        # SIGKILL in the middle of a stream of appends
        t = threading.Thread(target=append, args=(1000,), kwargs={"pause": 0.02})
        t.start()
        time.sleep(0.5)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        outs.append(p.stdout.read())
        t.join()
        assert 0 < records_in_state() < k, "the kill should land mid-stream"
        # while it is down: more records, then copytruncate (logrotate's way: shift, copy, truncate)
        append(80, PROBERS[2])
        os.rename(f"{log}.1", f"{log}.2")
        shutil.copyfile(log, f"{log}.1")
        with open(log, "r+") as fh:
            fh.truncate(0)
        append(60)
        p = start()
        append(100, PROBERS[3])
        wait_for(lambda: records_in_state() == k, "catch-up after restart")
        # copytruncate while running
        os.rename(f"{log}.1", f"{log}.2")
        shutil.copyfile(log, f"{log}.1")
        with open(log, "r+") as fh:
            fh.truncate(0)
        append(90, PROBERS[4])
        wait_for(lambda: records_in_state() == k and hooks_for(PROBERS[4]) == 1, "all records and alert 5")
        time.sleep(1.0)  # room for a (wrong) duplicate alert to show up
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        outs.append(p.stdout.read())
        err = p.stderr.read()
        srv.shutdown()

    # every record exactly once
    ids = Counter()
    for ln in ev.read_text().splitlines():
        ids[json.loads(ln)["fwforensics"]["ip_id"]] += 1
    missing = [i for i in range(1, k + 1) if ids[i] == 0]
    twice = [i for i, c in ids.items() if c > 1]
    assert not missing, f"records lost: {missing[:20]} ({len(missing)})"
    assert not twice, f"records counted twice: {twice[:20]} ({len(twice)})"
    assert len(ids) == k == json.loads(state.read_text())["records"]
    # each expected alert once, on the webhook and on the terminal; no alert key repeats
    for src in PROBERS:
        assert hooks_for(src) == 1, (src, [a["src"] for a in Hook.got], err)
    keys = Counter((a["id"], a["src"]) for a in Hook.got)
    assert max(keys.values()) == 1, keys
    term = [ln for out in outs for ln in out.splitlines() if ln.startswith("ALERT") and " port.zero " in ln]
    assert Counter(ln.split("src=")[1].split()[0] for ln in term) == Counter({s: 1 for s in PROBERS})


def test_watch_window_keeps_the_newest_rows_and_is_compacted(tmp_path):
    """The window holds at most max_rows records, the newest by arrival, and the table is
    rewritten once as many rows were deleted as it holds (DuckDB keeps deleted rows' space)."""
    sys.path.insert(0, str(ROOT / "src"))
    from fwforensics import watch
    log, state = tmp_path / "fw.log", tmp_path / "watch.state"
    w = watch.Watcher(str(log), str(state), fmt="netfilter", window=1e9, max_rows=700,
                      alerter=watch.Alerter(terminal=False))
    k = 0
    for _ in range(6):
        with open(log, "a") as fh:
            for _ in range(500):
                k += 1
                fh.write(record(k) + "\n")
        w.run_file(once=True)
        n, lo, hi = w.con.execute("SELECT count(*), min(ip_id), max(ip_id) FROM events").fetchall()[0]
        assert n == min(k, 700) and hi == k and lo == k - n + 1
    assert w._deleted < 700          # compacted at least once along the way
    assert json.loads(state.read_text())["records"] == k == 3000
    w.close()
    # the window survives a restart (saved at the clean stop)
    w2 = watch.Watcher(str(log), str(state), fmt="netfilter", max_rows=700, alerter=watch.Alerter(terminal=False))
    assert w2.con.execute("SELECT count(*), max(ip_id) FROM events").fetchall()[0] == (700, 3000)
