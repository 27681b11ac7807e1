"""fwforensics watch: follow a growing log (or ``journalctl -k -f``) and alert in near real time.

* Follows a file across rotation by rename (logrotate's default) and by copytruncate: the
  rest of the old file is read before the new one, from the rotated copy when needed.
* Detects with the same detectors as ``analyze``, over a sliding window of log time.
* Alerts to the terminal, syslog, a webhook (HTTP POST of JSON) or a command (alert JSON
  on its standard input, no shell), at most once per finding id and source, and at most
  one alert per source per ``rate_limit`` seconds (the rest wait their turn).
* Keeps its place in a state file: device and inode, byte offset, line number, length and
  SHA-256 of the last line read, the window, the alerts already sent, and the size of the
  ``--events-out`` file. The state is written atomically after each batch; on restart an
  events-out file longer than the state says (a kill between writing and saving) is cut
  back, so no record is lost or counted twice.

Run as ``python -m fwforensics.watch LOG --state FILE ...`` or through the CLI command.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import ipaddress
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import detectors, events, reader
from .formats import ParseContext
from .reports.text import clean

WINDOW = 600.0          # seconds of log time the detectors see; longer finds slower scans, costs memory
MAX_ROWS = 20_000       # ...and at most this many records (the newest): bounds memory and the time of a
                        # detection pass (~0.6 s at 20 k on 2 cores), so alerts stay within 2 s at 10 k/s
POLL = 0.25             # seconds between looks at the file when it is quiet
DETECT_EVERY = 1.0      # while a backlog is being read, detect at least this often (seconds); a quiet
                        # file is detected on as soon as what arrived has been read
SAVE_WINDOW_EVERY = 10.0  # seconds between saves of the window (a cache for restarts) and at exit
RATE_LIMIT = 60.0       # at most one alert per source in this many seconds (wall clock)
REALERT = 3600.0        # the same finding (id, source) alerts again only after this long
MAX_BATCH = 5000        # lines parsed per batch
STATE_VERSION = 1


# ------------------------------------------------------------------------------ state
@dataclass
class State:
    path: str = ""
    dev: int = 0
    ino: int = 0
    offset: int = 0
    line: int = 0                      # lines consumed in the current file
    last_len: int = 0
    last_hash: str = ""
    records: int = 0                   # records read, all files
    unreadable: int = 0
    events_out_size: int = 0
    alerted: dict[str, float] = field(default_factory=dict)      # "id|src" -> wall time sent
    source_last: dict[str, float] = field(default_factory=dict)  # src -> wall time of last alert
    pending: list[dict] = field(default_factory=list)            # alerts held back by the rate limit
    fmt: str | None = None
    perf: dict[str, float] = field(default_factory=dict)          # seconds spent, by phase (informative)

    @classmethod
    def load(cls, path: str) -> "State":
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as e:
            raise SystemExit(f"fwforensics watch: state file {path} is unreadable ({e}); move it away to start afresh")
        d.pop("version", None)
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def save(self, path: str) -> None:
        tmp = f"{path}.tmp"
        d = dict(self.__dict__, version=STATE_VERSION)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(d, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def _line_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _matches_at(path: str, offset: int, last_len: int, last_hash: str) -> bool:
    """Does ``path`` hold the remembered last line just before ``offset``?"""
    try:
        if os.path.getsize(path) < offset:
            return False
        if offset == 0:
            return True
        with open(path, "rb") as fh:
            fh.seek(offset - last_len)
            return _line_hash(fh.read(last_len)) == last_hash
    except OSError:
        return False


def _rotated_candidates(path: str) -> list[str]:
    c = glob.glob(glob.escape(path) + ".*") + glob.glob(glob.escape(path) + "-*")
    c = [x for x in c if os.path.isfile(x) and not x.endswith((".gz", ".bz2", ".xz", ".zst", ".tmp"))]
    return sorted(c, key=lambda x: -os.path.getmtime(x))


# ------------------------------------------------------------------------------ alerts
class Alerter:
    def __init__(self, terminal: bool = True, syslog: str | None = None, webhook: str | None = None,
                 command: list[str] | None = None, out=None):
        self.terminal, self.webhook, self.command = terminal, webhook, command
        self.out = out or sys.stdout
        self.syslog = None
        if syslog:
            import logging
            import logging.handlers
            addr: Any = syslog
            if syslog == "local":
                addr = "/dev/log"
            elif ":" in syslog and not syslog.startswith("/"):
                host, port = syslog.rsplit(":", 1)
                addr = (host, int(port))
            lg = logging.getLogger("fwforensics.watch")
            lg.setLevel(logging.INFO)
            h = logging.handlers.SysLogHandler(address=addr)
            h.setFormatter(logging.Formatter("fwforensics: %(message)s"))
            lg.addHandler(h)
            self.syslog = lg

    def send(self, alert: dict) -> None:
        line = (f"ALERT {alert['severity']} {alert['id']} src={clean(alert.get('src') or '-')} "
                f"records={alert['count']} {clean(alert['summary'], 300)}")
        if self.terminal:
            self.out.write(line + "\n")
            self.out.flush()
        if self.syslog:
            try:
                self.syslog.warning(line)
            except Exception as e:  # a syslog hiccup must not stop the watch
                sys.stderr.write(f"fwforensics watch: syslog failed: {e}\n")
        body = json.dumps(alert, default=str).encode()
        if self.webhook:
            import urllib.request
            req = urllib.request.Request(self.webhook, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "fwforensics"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read()
            except Exception as e:
                sys.stderr.write(f"fwforensics watch: webhook {self.webhook} failed: {e}\n")
        if self.command:
            env = dict(os.environ, FWF_ID=alert["id"], FWF_SEVERITY=alert["severity"], FWF_SRC=alert.get("src") or "")
            try:
                subprocess.run(self.command, input=body, env=env, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError) as e:
                sys.stderr.write(f"fwforensics watch: alert command failed: {e}\n")


# ------------------------------------------------------------------------------ the watcher
class Watcher:
    def __init__(self, path: str | None, state_path: str, fmt: str | None = None, window: float = WINDOW,
                 rate_limit: float = RATE_LIMIT, realert: float = REALERT, alerter: Alerter | None = None,
                 events_out: str | None = None, home_nets: list[str] | None = None, journal: bool = False,
                 tz=None, min_severity: str = "info", max_rows: int = MAX_ROWS):
        self.path, self.state_path, self.journal = path, state_path, journal
        self.window, self.rate_limit, self.realert = window, rate_limit, realert
        self.max_rows = max_rows
        self._dirty = False            # records ingested since the last detection pass
        self._last_detect = 0.0
        self._last_window_save = time.monotonic()
        self._deleted = 0              # rows deleted from the window since it was last compacted
        self._failures_said: set[str] = set()   # detector failures already written to stderr
        self.alerter = alerter or Alerter()
        self.events_out = events_out
        self.home_nets = [ipaddress.ip_network(n, strict=False) for n in home_nets or []]
        from .findings import SEVERITY_RANK
        self.floor = SEVERITY_RANK.get(min_severity, 0)
        self.state = State.load(state_path)
        if fmt:
            self.state.fmt = fmt
        self.tz = tz
        self.con = events.connect(spill=False)
        events.ensure_table(self.con)
        self.pctx = ParseContext(source_file=path or "journal", tz=tz, reference_time=time.time())
        self.fmt_obj = None
        self.stop = False
        self._load_window()
        if self.events_out:
            self._trim_events_out()

    # -- persistence of the window and the events sink ----------------------------------
    def _window_path(self) -> str:
        return self.state_path + ".window.parquet"

    def _load_window(self) -> None:
        p = self._window_path()
        if os.path.exists(p):
            import pyarrow.parquet as pq
            try:
                for b in pq.read_table(p).to_batches():
                    events.append(self.con, b)
            except Exception:
                pass  # the window is a cache: losing it only delays detection

    def _save_window(self) -> None:
        import pyarrow.parquet as pq
        t = self.con.sql("SELECT * FROM events").to_arrow_table()
        tmp = self._window_path() + ".tmp"
        pq.write_table(t, tmp)
        os.replace(tmp, self._window_path())

    def _trim_events_out(self) -> None:
        try:
            size = os.path.getsize(self.events_out)
        except OSError:
            return
        if size > self.state.events_out_size:
            with open(self.events_out, "r+b") as fh:
                fh.truncate(self.state.events_out_size)

    def _write_events_out(self, batch: pa.RecordBatch) -> None:
        from .reports.export import ecs_select
        con = self.con
        con.register("_fwf_new", batch)
        try:
            q = ecs_select("_fwf_new")
            tmp = self.events_out + ".part.ndjson"
            con.execute(f"COPY ({q}) TO '{tmp.replace(chr(39), chr(39) * 2)}' (FORMAT JSON)").fetchall()
        finally:
            con.unregister("_fwf_new")
        with open(tmp, "rb") as src, open(self.events_out, "ab") as dst:
            dst.write(src.read())
            dst.flush()
            os.fsync(dst.fileno())
        os.unlink(tmp)
        self.state.events_out_size = os.path.getsize(self.events_out)

    # -- parsing ------------------------------------------------------------------------
    def _format(self, lines: list[str]):
        from . import formats
        if self.fmt_obj is None:
            if self.state.fmt:
                self.fmt_obj = formats.get(self.state.fmt)
            else:
                f, _ = formats.detect(lines)
                if f is None:
                    return None
                self.fmt_obj = f
                self.state.fmt = f.name
        return self.fmt_obj

    def _ingest(self, lines: list[str] | pa.StringArray, first_line: int, source: str) -> int:
        if not len(lines):
            return 0
        arr = lines if isinstance(lines, pa.Array) else pa.array(lines, pa.string())
        if self.fmt_obj is None:
            head = arr.slice(0, 1000).to_pylist()
            if self._format([ln for ln in head if ln and ln.strip()][:200] or head) is None:
                blank = pc.sum(pc.match_substring_regex(arr, r"^\s*$").cast(pa.int64())).as_py() or 0
                self.state.unreadable += len(arr) - blank
                return 0
        fmt = self.fmt_obj
        self.pctx.source_file = source
        t0 = time.monotonic()
        res = fmt.parse(arr, first_line, self.pctx)
        self.state.unreadable += len(res.unreadable)
        b = res.batch
        if b.num_rows:
            events.append(self.con, b)
            self.state.records += b.num_rows
            if self.events_out:
                self._write_events_out(b)
        self.state.perf["ingest_s"] = round(self.state.perf.get("ingest_s", 0.0) + time.monotonic() - t0, 3)
        return b.num_rows

    # -- detection ----------------------------------------------------------------------
    def _prune(self) -> None:
        """Keep the window: records within ``window`` seconds of the newest, and the newest
        ``max_rows`` of them (by arrival). DuckDB keeps the space of deleted rows until the table is
        rewritten, so the table is compacted once as many rows were deleted as it holds."""
        con = self.con
        n = con.execute(f"""DELETE FROM events WHERE ts < (SELECT max(ts) FROM events) - INTERVAL
                             {int(self.window * 1_000_000)} MICROSECOND""").fetchall()[0][0]
        n += con.execute(f"""DELETE FROM events WHERE rowid <= (SELECT max(rowid) FROM events)
                              - {int(self.max_rows)}""").fetchall()[0][0]
        self._deleted += n
        if self._deleted and self._deleted >= con.execute("SELECT count(*) FROM events").fetchall()[0][0]:
            con.execute("CREATE OR REPLACE TABLE events AS FROM events")
            self._deleted = 0

    def _detect(self) -> None:
        self._prune()
        now = time.time()
        pending = {p["key"] for p in self.state.pending}
        alerted = self.state.alerted

        def wanted(fid: str, src: str | None) -> bool:
            # findings that will not alert need no line ranges or samples (about a third of a pass)
            key = f"{fid}|{src or ''}"
            return fid != "verdict" and key not in pending and now - alerted.get(key, -1e18) >= self.realert

        ctx = detectors.Context(con=self.con, home_nets=self.home_nets, wanted=wanted)
        try:
            found = detectors.run(ctx)
        except Exception as e:
            sys.stderr.write(f"fwforensics watch: a detector failed: {clean(f'{type(e).__name__}: {e}')}\n")
            return
        for fail in ctx.failures:   # (the others' findings still alert; each failure is said once)
            said = f"{fail['detector']}: {fail['error']}"
            if said not in self._failures_said:
                self._failures_said.add(said)
                sys.stderr.write(f"fwforensics watch: the detector {clean(said)} (its findings are missing)\n")
        from .findings import SEVERITY_RANK
        for f in found:
            if SEVERITY_RANK.get(f.severity, 0) < self.floor or not wanted(f.id, f.src):
                continue
            key = f"{f.id}|{f.src or ''}"
            pending.add(key)
            d = f.to_dict()
            self.state.pending.append({"key": key, "id": f.id, "severity": f.severity, "src": f.src,
                                       "summary": f.summary, "count": f.count, "first_seen": d["first_seen"],
                                       "last_seen": d["last_seen"], "ports": d["ports"][:50],
                                       "evidence": d["evidence"]})

    def _flush_alerts(self) -> None:
        now = time.time()
        keep = []
        for a in self.state.pending:
            src = a.get("src") or ""
            if now - self.state.source_last.get(src, -1e18) < self.rate_limit:
                keep.append(a)
                continue
            self.alerter.send(a)
            self.state.alerted[a["key"]] = now
            self.state.source_last[src] = now
        self.state.pending = keep
        # forget old alerts so the state stays small
        self.state.alerted = {k: t for k, t in self.state.alerted.items() if now - t < self.realert}

    def _cycle(self, final: bool = False) -> None:
        """A detection pass over the window, its alerts, and the state (and, now and then, the
        window) saved."""
        t0 = time.monotonic()
        self._detect()
        t1 = time.monotonic()
        self._dirty = False
        self._last_detect = t1
        self._flush_alerts()
        t2 = time.monotonic()
        if final or t2 - self._last_window_save >= SAVE_WINDOW_EVERY:
            self._save_window()
            self._last_window_save = time.monotonic()
        self.state.save(self.state_path)
        perf = self.state.perf
        perf["passes"] = perf.get("passes", 0) + 1
        perf["detect_s"] = round(perf.get("detect_s", 0.0) + t1 - t0, 3)
        perf["alert_s"] = round(perf.get("alert_s", 0.0) + t2 - t1, 3)
        perf["save_s"] = round(perf.get("save_s", 0.0) + time.monotonic() - t2, 3)
        perf["last_detect_s"] = round(t1 - t0, 3)

    def close(self) -> None:
        """Detect on what is left, save the window and the state (a clean stop)."""
        if self._dirty:
            self._cycle(final=True)
        else:
            self._save_window()
            self.state.save(self.state_path)

    def _batch_done(self) -> None:
        """After a batch was ingested and the read position moved: save the state (events-out
        and state agree from here on), and detect if a pass is due while input keeps coming."""
        self._dirty = True
        self.state.save(self.state_path)
        if time.monotonic() - self._last_detect >= DETECT_EVERY:
            self._cycle()

    # -- following a file ---------------------------------------------------------------
    def _read_from(self, fh, source: str, until_eof: bool = False) -> int:
        """Read complete lines from the current position; return the number of lines read. With
        ``until_eof`` (a rotated file nobody writes to any more) a last line without a newline is
        read too. Lines are split and decoded natively, MAX_BATCH at a time."""
        got = 0
        while not self.stop:
            pos = fh.tell()
            data = fh.read(4 << 20)
            if not data:
                break
            cut = data.rfind(b"\n")
            if cut < 0 and not until_eof:
                fh.seek(pos)
                break
            if cut < 0 or (until_eof and len(data) < (4 << 20) and not data.endswith(b"\n")):
                fh.seek(pos + len(data))
                chunk = data + b"\n"          # the unfinished last line of a file nobody writes to
            else:
                chunk = data[:cut + 1]
                fh.seek(pos + len(chunk))
            ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
            start = 0
            for i in range(0, len(ends), MAX_BATCH):
                end = int(ends[min(i + MAX_BATCH, len(ends)) - 1]) + 1
                part = chunk[start:end]
                lines = reader.lines_array(part[:-1])
                self._ingest(lines, self.state.line + 1, source)
                got += len(lines)
                last = part[part.rfind(b"\n", 0, len(part) - 1) + 1:]
                self.state.line += len(lines)
                self.state.offset += len(part)
                self.state.last_len = len(last)
                self.state.last_hash = _line_hash(last)
                start = end
                self._batch_done()
            if len(data) < (4 << 20):
                break       # at the end of what is written so far: detect now, come back for more
        if self._dirty:
            self._cycle()
        return got

    def _start_new(self, st: os.stat_result) -> None:
        self.state.path = os.path.abspath(self.path)
        self.state.dev, self.state.ino = st.st_dev, st.st_ino
        self.state.offset = self.state.line = self.state.last_len = 0
        self.state.last_hash = ""
        self.pctx.state.clear()

    def _catch_up_rotated(self) -> None:
        """Before reading a new file: finish the one we were reading, wherever it went."""
        st = self.state
        if not st.ino:
            return
        for c in _rotated_candidates(self.path):
            cs = os.stat(c)
            same_inode = (cs.st_dev, cs.st_ino) == (st.dev, st.ino)
            if (same_inode or cs.st_size > st.offset) and _matches_at(c, st.offset, st.last_len, st.last_hash):
                with open(c, "rb") as fh:
                    fh.seek(st.offset)
                    self._read_from(fh, c, until_eof=True)
                return
        sys.stderr.write("fwforensics watch: the file was rotated and the rest of the old one was not found; "
                         "records written to it after the last read may be missing\n")

    def _open(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None, None
        s = self.state
        if s.ino and (st.st_dev, st.st_ino) == (s.dev, s.ino) and _matches_at(self.path, s.offset, s.last_len,
                                                                             s.last_hash):
            fh = open(self.path, "rb")
            fh.seek(s.offset)
            return fh, st
        if s.ino:
            self._catch_up_rotated()
        self._start_new(st)
        self.state.save(self.state_path)
        return open(self.path, "rb"), st

    def run_file(self, once: bool = False) -> None:
        fh, st = self._open()
        while not self.stop:
            if fh is None:
                time.sleep(POLL)
                fh, st = self._open()
                continue
            got = self._read_from(fh, self.path)
            if self.state.pending:
                self._flush_alerts()
                self.state.save(self.state_path)
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                # renamed away: drain what was written to it before the rename, then follow the new file
                self._read_from(fh, self.path, until_eof=True)
                fh.close()
                fh, st = None, None
                if now is not None:
                    self._start_new(now)
                    self.state.save(self.state_path)
                    fh, st = open(self.path, "rb"), now
                continue
            if now.st_size < self.state.offset:
                # copytruncate: the copy holds what we had not read yet
                fh.close()
                self._catch_up_rotated()
                self._start_new(now)
                self.state.save(self.state_path)
                fh, st = open(self.path, "rb"), now
                continue
            if once:
                break
            if not got:
                time.sleep(POLL)
        if fh is not None:
            fh.close()

    def run_journal(self) -> None:
        cursor = self.state_path + ".cursor"
        cmd = ["journalctl", "-k", "-f", "-o", "short-iso", "--no-pager", "--cursor-file", cursor]
        try:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        except OSError as e:
            raise SystemExit(f"fwforensics watch: cannot run journalctl: {e.strerror}")
        assert p.stdout is not None
        fd, buf = p.stdout.fileno(), b""
        try:
            while not self.stop:
                ready, _, _ = select.select([fd], [], [], POLL)
                if ready:
                    data = os.read(fd, 1 << 20)
                    if not data:
                        break
                    *lines, buf = (buf + data).split(b"\n")
                    if lines:
                        text = [ln.decode("utf-8", "replace").replace("\x00", "\ufffd") for ln in lines]
                        self._ingest(text, self.state.line + 1, "journal")
                        self.state.line += len(lines)
                        self._batch_done()
                if self._dirty and not ready:   # quiet: detect on what came in
                    self._cycle()
        finally:
            p.terminate()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fwforensics watch", description=__doc__.splitlines()[0])
    ap.add_argument("log", nargs="?")
    ap.add_argument("--journal", action="store_true", help="follow journalctl -k -f instead of a file")
    ap.add_argument("--state", required=True, help="state file (created if missing)")
    ap.add_argument("--format", dest="fmt")
    ap.add_argument("--window", type=float, default=WINDOW, help=f"seconds of log time detected on (default {WINDOW:g})")
    ap.add_argument("--max-rows", type=int, default=MAX_ROWS,
                    help=f"at most this many of the newest records in the window (default {MAX_ROWS})")
    ap.add_argument("--rate-limit", type=float, default=RATE_LIMIT)
    ap.add_argument("--realert", type=float, default=REALERT)
    ap.add_argument("--syslog", metavar="local|HOST:PORT|/path")
    ap.add_argument("--webhook", metavar="URL")
    ap.add_argument("--command", metavar="CMD", nargs="+")
    ap.add_argument("--quiet", action="store_true", help="no alerts on the terminal")
    ap.add_argument("--events-out", metavar="FILE.ndjson", help="append every record as ECS NDJSON")
    ap.add_argument("--home-net", action="append", default=[])
    ap.add_argument("--min-severity", default="info", choices=["info", "low", "medium", "high"])
    ap.add_argument("--once", action="store_true", help="read what is there, alert, and exit")
    a = ap.parse_args(argv)
    return run(a.log, a.state, journal=a.journal, fmt=a.fmt, window=a.window, rate_limit=a.rate_limit,
               realert=a.realert, syslog=a.syslog, webhook=a.webhook, command=a.command, quiet=a.quiet,
               events_out=a.events_out, home_nets=a.home_net, min_severity=a.min_severity, once=a.once,
               max_rows=a.max_rows)


def run(log, state, journal=False, fmt=None, window=WINDOW, rate_limit=RATE_LIMIT, realert=REALERT, syslog=None,
        webhook=None, command=None, quiet=False, events_out=None, home_nets=(), min_severity="info",
        once=False, max_rows=MAX_ROWS) -> int:
    if not log and not journal:
        sys.stderr.write("fwforensics watch: give a LOG file or --journal\n")
        return 2
    if webhook and not webhook.startswith(("http://", "https://")):
        sys.stderr.write("fwforensics watch: --webhook wants an http:// or https:// URL\n")
        return 2
    w = Watcher(log, state, fmt=fmt, window=window, rate_limit=rate_limit, realert=realert,
                alerter=Alerter(terminal=not quiet, syslog=syslog, webhook=webhook, command=list(command or [])
                                or None),
                events_out=events_out, home_nets=list(home_nets), journal=journal, min_severity=min_severity,
                max_rows=max_rows)

    def _stop(*_):
        w.stop = True
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if journal:
        w.run_journal()
    else:
        w.run_file(once=once)
    w.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
