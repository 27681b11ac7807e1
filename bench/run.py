#!/usr/bin/env python3
"""Side-by-side benchmark: fwforensics against psad, fwlogwatch, fwanalog and logwatch.

    bash bench/setup                 # once: installs the anchors, writes private configs
    python bench/run.py              # sizes 10k,100k,1m; 3 runs; anchors capped at 300 s
    python bench/run.py --sizes 10m --runs 3 --cap 300     # the 10 M-line row (see README)

For every size it generates (or reuses, from bench/data/) a netfilter log with
bench/generate.py, warms the page cache, then times each tool with GNU time
(``/usr/bin/time``: wall clock, user+system CPU, peak RSS), ``--runs`` times, interleaved
(run 1 of every tool, then run 2, ...), and reports medians.  A tool still running after
``--cap`` seconds is killed and reported as "> cap"; it is not run again at that size or at
larger ones (it would only take longer).  A tool whose first run takes more than a fifth of
the cap is run once.  A tool that is not installed is reported as "not installed".  Anchors
run under an address-space limit (``--mem-cap``, 8 GB) so that none can starve the machine.

Results merge into bench/RESULTS.json (keyed by size and tool, newest wins; ``--fresh``
starts over) and bench/RESULTS.md is rewritten from it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402

DATA = HERE / "data"
OUT = HERE / "out"
GNU_TIME = "/usr/bin/time"


# --------------------------------------------------------------------------- tools

def fwforensics_cmd() -> list[str] | None:
    """How to call fwforensics: `python -m fwforensics` on this checkout's src/ (a console script on
    PATH may belong to another install, e.g. an editable install of another clone, and would
    measure that code instead)."""
    return [sys.executable, "-m", "fwforensics"]


def byte_compile() -> None:
    """Compile this checkout's package to bytecode before timing it, as `pip install .` (the
    README's install) does at install time. Run from the source tree under
    PYTHONDONTWRITEBYTECODE=1 (set on these machines), Python would otherwise compile the ~100
    modules an `analyze` run imports from source on every run: ~0.25 s of each run, which an
    installed copy never pays (10 k lines, ten `farm-bench` pairs: wall 0.86-0.88x with bytecode)."""
    import compileall
    compileall.compile_dir(str(ROOT / "src" / "fwforensics"), quiet=1)


def fwf_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def fwf_help(*args: str) -> str | None:
    try:
        r = subprocess.run(fwforensics_cmd() + list(args) + ["--help"], capture_output=True, text=True,
                           env=fwf_env(), timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


READER_SNIPPET = (
    "import sys\n"
    "from fwforensics.reader import read_events, ReadStats\n"
    "s = ReadStats()\n"
    "n = sum(b.num_rows for b in read_events([sys.argv[1]], stats=s))\n"
    "print(n, s.records_read, s.records_unreadable)\n"
)


def tool_table() -> list[dict]:
    """Each tool: name, argv builder (FILE -> list), whether it is an anchor, availability."""
    tools: list[dict] = []
    tools.append({"name": "cat", "argv": lambda f: ["cat", f], "anchor": False, "available": True,
                  "how": "cat FILE >/dev/null"})
    analyze_help = fwf_help("analyze")
    if analyze_help is not None:
        quiet = ["--no-progress"] if "--no-progress" in analyze_help else []
        # --timings: each phase's wall seconds on stderr (no measurable cost), for the table of
        # where the time goes
        timings = ["--timings"] if "--timings" in analyze_help else []
        tools.append({"name": "fwforensics analyze", "anchor": False, "available": True,
                      "argv": lambda f: fwforensics_cmd() + ["analyze", f, "--json"] + quiet + timings,
                      "how": "fwforensics analyze FILE --json" + (" --timings" if timings else "") + " >/dev/null"})
        if "--parse-only" in analyze_help:
            tools.append({"name": "fwforensics analyze --parse-only", "anchor": False, "available": True,
                          "argv": lambda f: fwforensics_cmd() + ["analyze", f, "--parse-only", "--json"] + quiet,
                          "how": "fwforensics analyze FILE --parse-only --json >/dev/null"})
    else:
        tools.append({"name": "fwforensics analyze", "anchor": False, "available": False,
                      "why": "no `analyze` command yet", "argv": None, "how": "fwforensics analyze FILE --json"})
    reader_ok = subprocess.run([sys.executable, "-c", "import fwforensics.reader as r; r.read_events"],
                               env=fwf_env(), capture_output=True).returncode == 0
    tools.append({"name": "fwforensics reader", "anchor": False, "available": reader_ok,
                  "why": "fwforensics.reader.read_events missing",
                  "argv": lambda f: [sys.executable, "-c", READER_SNIPPET, f],
                  "how": "python -c 'iterate fwforensics.reader.read_events([FILE])' (parse only, Arrow batches)"})

    def anchor(name, exe, argv, how, script=None):
        ok = shutil.which(exe) is not None
        if ok and script is not None and not script.exists():
            ok = False
            why = f"run `bash bench/setup` first ({script} missing)"
        else:
            why = "not installed"
        tools.append({"name": name, "anchor": True, "available": ok, "why": why, "argv": argv, "how": how})

    anchor("psad -A", "psad", lambda f: [str(OUT / "psad" / "run-psad"), f],
           "psad -c PRIVATE/psad.conf -A -m FILE --log-server --no-whois --no-rdns --no-fwcheck "
           "--no-netstat --no-daemon", OUT / "psad" / "run-psad")
    anchor("fwlogwatch", "fwlogwatch", lambda f: ["fwlogwatch", f], "fwlogwatch FILE (summary mode)")
    anchor("fwanalog", "fwanalog", lambda f: [str(OUT / "fwanalog" / "run-fwanalog"), f],
           "private fwanalog copy, no services alias file, no DNS, ulimit -v 8 GB",
           OUT / "fwanalog" / "run-fwanalog")
    anchor("logwatch iptables", "logwatch", lambda f: [str(OUT / "logwatch" / "run-logwatch"), f],
           "logwatch --service iptables --logdir DIR(messages -> FILE) --range All --detail High --numeric",
           OUT / "logwatch" / "run-logwatch")
    return tools


# --------------------------------------------------------------------------- timing

def timed_run(argv: list[str], cap: float, env: dict | None, mem_cap_kb: int | None) -> dict:
    """Run argv once under GNU time; kill its process group after cap seconds."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        tpath = tf.name
    errf = tempfile.TemporaryFile()
    full = [GNU_TIME, "-f", "%e %U %S %M %x", "-o", tpath] + argv

    def limits():
        if mem_cap_kb:
            resource.setrlimit(resource.RLIMIT_AS, (mem_cap_kb * 1024, mem_cap_kb * 1024))

    t0 = time.perf_counter()
    proc = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=errf, env=env, cwd=str(ROOT),
                            start_new_session=True, preexec_fn=limits)
    try:
        proc.wait(timeout=cap)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        os.unlink(tpath)
        return {"status": "timeout", "wall": time.perf_counter() - t0}
    wall_py = time.perf_counter() - t0
    text = Path(tpath).read_text().strip().splitlines()
    os.unlink(tpath)
    errf.seek(0)
    err_all = errf.read().decode("utf-8", "replace")
    err_tail = err_all[-600:]
    errf.close()
    last = text[-1].split() if text else []
    if len(last) != 5:
        return {"status": "failed", "wall": wall_py, "error": err_tail or "no GNU time output"}
    wall, user, sys_, rss_kb, code = float(last[0]), float(last[1]), float(last[2]), int(last[3]), int(last[4])
    # Wall clock from Python's monotonic clock (GNU time's %e has 10 ms steps, too coarse
    # for `cat` on small files); it includes the ~1 ms it takes to start GNU time itself.
    res = {"status": "ok" if code == 0 and proc.returncode == 0 else "failed", "wall": wall_py,
           "wall_gnu_time": wall, "cpu": user + sys_, "rss_mb": rss_kb / 1024, "exit": code}
    if res["status"] != "ok":
        res["error"] = err_tail
    phases = parse_timings(err_all)
    if phases:
        res["phases"] = phases
    return res


def parse_timings(stderr: str) -> dict[str, float]:
    """{phase: seconds} from what `analyze --timings` printed on stderr (empty when it did not):
    lines of "  <phase>  <seconds>  <peak MB>" after a line starting "timings (wall seconds"."""
    out: dict[str, float] = {}
    lines = stderr.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("timings (wall seconds")), None)
    if start is None:
        return out
    for ln in lines[start + 1:]:
        parts = ln.strip().rsplit(None, 2)
        try:
            out[parts[0]] = float(parts[1])
            float(parts[2])
        except (ValueError, IndexError):
            break
    return out


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        while True:
            b = fh.read(16 << 20)
            if not b:
                return n
            n += b.count(b"\n")


def ensure_file(size_label: str, seed: int) -> tuple[Path, int]:
    n = generate.parse_count(size_label)
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"netfilter-{size_label}-s{seed}-g{generate.GEN_VERSION}.log"
    if not path.exists():
        t0 = time.perf_counter()
        generate.generate(n, str(path), seed)
        print(f"  generated {path.name}: {n} lines in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    else:
        generate.stamp(str(path), n, seed)   # (a file made before the generator stamped its files)
    return path, n


# --------------------------------------------------------------------------- machine / versions

def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return ""


def machine_info() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version()}


def versions() -> dict:
    v = {}
    for pkg in ["psad", "fwlogwatch", "fwanalog", "analog", "logwatch", "time"]:
        out = sh(f"dpkg-query -W -f='${{Version}}' {pkg} 2>/dev/null")
        v[pkg] = out or "not installed"
    env = fwf_env()
    r = subprocess.run([sys.executable, "-c",
                        "import fwforensics, pyarrow, duckdb; print(getattr(fwforensics,'__version__','?'),"
                        " pyarrow.__version__, duckdb.__version__)"], capture_output=True, text=True, env=env)
    parts = r.stdout.split()
    if len(parts) == 3:
        v["fwforensics"], v["pyarrow"], v["duckdb"] = parts
    v["fwforensics commit"] = sh(f"git -C {shlex.quote(str(ROOT))} rev-parse --short HEAD")
    return v


# --------------------------------------------------------------------------- report

def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 100:
        return f"{s:.2f} s"
    return f"{s:.0f} s"


def fmt_rate(x: float | None) -> str:
    if not x:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k"
    return f"{x:.0f}"


def fmt_ratio(x: float) -> str:
    if x >= 10:
        return f"{x:.0f}"
    if x >= 1:
        return f"{x:.1f}"
    return f"{x:.2g}"


def size_key(label: str) -> int:
    return generate.parse_count(label)


def render(store: dict) -> str:
    rows = store["results"]
    sizes = sorted({r["size"] for r in rows}, key=size_key)
    order = ["cat", "fwforensics analyze", "fwforensics analyze --parse-only", "fwforensics reader",
             "psad -A", "fwlogwatch", "fwanalog", "logwatch iptables"]
    m = store["machine"]
    out = ["# Benchmark results", "",
           f"Generated by `{store['command']}` on {store['date']}.", "",
           f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Linux {m['kernel']}, "
           f"Python {m['python']}.", "",
           "Versions: " + ", ".join(f"{k} {v}" for k, v in store["versions"].items()) + ".", "",
           "Input: `bench/generate.py` netfilter logs (seeded; ~250 bytes/line; scans, noise, NetBIOS, "
           "ICMP errors with quoted packets, IPv6, 3% unrelated syslog lines). Page cache warm. "
           "Wall, CPU (user+system) and peak RSS from GNU time; medians over the runs shown. "
           "`x fwf` = wall / fwforensics analyze wall (how many times slower than fwforensics); "
           "`x cat` = wall / `cat` wall. How each tool is invoked: `bench/README.md`.", "",
           "| lines | tool | wall | CPU | peak RSS | lines/s | x fwf | x cat | runs |",
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    daggers = False
    for size in sizes:
        here = {r["tool"]: r for r in rows if r["size"] == size}
        base_cat = here.get("cat", {}).get("wall") if here.get("cat", {}).get("status") == "ok" else None
        fwf = here.get("fwforensics analyze", {})
        base_fwf = fwf.get("wall") if fwf.get("status") == "ok" else None
        mark = ""
        if base_fwf is None and here.get("fwforensics reader", {}).get("status") == "ok":
            base_fwf, mark = here["fwforensics reader"]["wall"], " †"
            daggers = True
        for tool in order + sorted(set(here) - set(order)):
            r = here.get(tool)
            if not r:
                continue
            st = r["status"]
            if st == "ok":
                wall = r["wall"]
                cells = [fmt_time(wall), fmt_time(r.get("cpu")), f"{r['rss_mb']:.0f} MB",
                         fmt_rate(r["lines"] / wall if wall > 0 else None),
                         f"{fmt_ratio(wall / base_fwf)}{mark}" if base_fwf else "-",
                         fmt_ratio(wall / base_cat) if base_cat else "-", f"{r['runs']}"]
            elif st == "timeout":
                cells = [f"> {r['cap']:.0f} s (cap)", "-", "-", f"< {fmt_rate(r['lines'] / r['cap'])}",
                         f"> {r['cap'] / base_fwf:.0f}{mark}" if base_fwf else "-",
                         f"> {r['cap'] / base_cat:.0f}" if base_cat else "-", r.get("note", "killed at the cap")]
            else:
                cells = [st, "-", "-", "-", "-", "-", r.get("note", "")]
            out.append(f"| {size} | {tool} | " + " | ".join(cells) + " |")
    if daggers:
        out += ["", "† `fwforensics analyze` had no result at this size (the command did not exist yet "
                "when it ran), so this ratio is to the fwforensics reader alone (parse only)."]
    out += floors(rows)
    out += phase_table(rows)
    out += ["", "Raw figures (every run): `bench/RESULTS.json`.", ""]
    notes = HERE / "RESULTS-NOTES.md"   # written by hand: what the figures mean, kept across runs
    if notes.exists():
        out += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(out)


def phase_table(rows: list[dict], top: int = 12) -> list[str]:
    """Where `fwforensics analyze`'s time goes at each size (its --timings, medians over the runs):
    the phases that took longest at the largest size, the rest summed."""
    timed = sorted((r for r in rows if r["tool"] == "fwforensics analyze" and r.get("phases")),
                   key=lambda r: size_key(r["size"]))
    if not timed:
        return []
    total = "total (start-up not included)"
    big = timed[-1]["phases"]
    names = [k for k in sorted(big, key=lambda k: -big[k]) if k != total][:top]
    out = ["", "## Where the time of `fwforensics analyze` goes", "",
           "Its own `--timings` (wall seconds, medians over the runs above). Over a table that "
           "stays cached (up to 1 M lines here) the detectors run on two threads and each one's "
           "time is on its own thread, so they overlap; over a larger one (10 M) they run one after "
           "another. Start-up (interpreter and imports) is the difference between the table's wall "
           "time and the total here.", "",
           "| phase | " + " | ".join(r["size"] for r in timed) + " |",
           "| --- |" + " ---: |" * len(timed)]
    for k in names:
        out.append(f"| {k} | " + " | ".join(f"{r['phases'].get(k, 0.0):.2f}" for r in timed) + " |")
    rest = [sum(v for k, v in r["phases"].items() if k not in names and k != total) for r in timed]
    out.append("| everything else | " + " | ".join(f"{v:.2f}" for v in rest) + " |")
    out.append(f"| **{total}** | " + " | ".join(f"**{r['phases'].get(total, 0.0):.2f}**" for r in timed) + " |")
    return out


FLOOR_WALL_1M = 3.0       # issue 8: full analyze of 1 M lines in at most 3 s wall
FLOOR_RSS_1M_MB = 1024.0  # ... and at most 1 GB peak RSS
FLOOR_10M_RATIO = 11.0    # 10 M lines within 11x the time of 1 M, peak RSS no higher than at 1 M


def floors(rows: list[dict]) -> list[str]:
    """Issue 8's floors for `fwforensics analyze`, each said plainly as met or not, with figures."""
    by = {(r["size"], r["tool"]): r for r in rows}
    one, ten = by.get(("1m", "fwforensics analyze")), by.get(("10m", "fwforensics analyze"))
    ok1 = one is not None and one.get("status") == "ok"
    ok10 = ten is not None and ten.get("status") == "ok"
    out = ["", "## Issue 8 floors (fwforensics analyze)", "",
           "| floor | measured | met |", "| --- | --- | --- |"]

    def row(name: str, measured: str, met: bool | None) -> None:
        out.append(f"| {name} | {measured} | {'yes' if met else ('no' if met is False else 'not measured')} |")

    if ok1:
        row(f"1 M lines in <= {FLOOR_WALL_1M:.0f} s wall", f"{fmt_time(one['wall'])} (median of {one['runs']})",
            one["wall"] <= FLOOR_WALL_1M)
        row("1 M lines in <= 1 GB peak RSS", f"{one['rss_mb']:.0f} MB", one["rss_mb"] <= FLOOR_RSS_1M_MB)
    else:
        row("1 M lines in <= 3 s wall, <= 1 GB", "no result", None)
    if ok1 and ok10:
        ratio = ten["wall"] / one["wall"]
        row(f"10 M lines within {FLOOR_10M_RATIO:.0f}x the time of 1 M",
            f"{fmt_time(ten['wall'])} ({ten['runs']} run(s)) = {ratio:.1f}x", ratio <= FLOOR_10M_RATIO)
        row("10 M lines with peak RSS no higher than 1 M", f"{ten['rss_mb']:.0f} MB vs {one['rss_mb']:.0f} MB",
            ten["rss_mb"] <= one["rss_mb"])
    else:
        row("10 M lines: time within 11x, RSS no higher than 1 M", "no result", None)
    return out


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="fwforensics side-by-side benchmark")
    ap.add_argument("--sizes", default="10k,100k,1m")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cap", type=float, default=300.0, help="seconds before a tool is killed")
    ap.add_argument("--mem-cap", type=float, default=8.0, help="GB of address space for each anchor")
    ap.add_argument("--tools", default="", help="comma list of tool names to run (default: all)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--fresh", action="store_true", help="forget earlier results")
    ap.add_argument("--results", default=str(HERE / "RESULTS.json"))
    args = ap.parse_args(argv)

    if not Path(GNU_TIME).exists():
        print("bench: GNU time (/usr/bin/time) is needed: run `bash bench/setup`", file=sys.stderr)
        return 2
    if any(shutil.which(t) for t in ("psad", "fwanalog", "logwatch")) and not (OUT / "psad" / "run-psad").exists():
        print("bench: preparing private anchor configs (bench/setup)", file=sys.stderr)
        subprocess.run(["bash", str(HERE / "setup")], check=False)

    byte_compile()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    wanted = {t.strip() for t in args.tools.split(",") if t.strip()}
    tools = [t for t in tool_table() if not wanted or t["name"] in wanted or t["name"].split()[0] in wanted]
    env = fwf_env()
    mem_cap_kb = int(args.mem_cap * 1024 * 1024)
    results: list[dict] = []
    capped_at: dict[str, str] = {}

    for size in sorted(sizes, key=size_key):
        path, n = ensure_file(size, args.seed)
        lines = count_lines(path)
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL)  # warm the page cache
        print(f"[{size}] {path.name}: {lines} lines, {path.stat().st_size / 1e6:.0f} MB", file=sys.stderr)
        runs: dict[str, list[dict]] = {t["name"]: [] for t in tools}
        done: dict[str, dict] = {}
        for t in tools:
            if not t["available"]:
                done[t["name"]] = {"status": "not installed" if t["anchor"] else "not available",
                                   "note": t.get("why", "")}
            elif t["name"] in capped_at:
                done[t["name"]] = {"status": "timeout", "cap": args.cap,
                                   "note": f"not run: over the cap at {capped_at[t['name']]}"}
        for r in range(args.runs):
            for t in tools:
                name = t["name"]
                if name in done:
                    continue
                res = timed_run(t["argv"](str(path)), args.cap, env, mem_cap_kb if t["anchor"] else None)
                runs[name].append(res)
                print(f"  run {r + 1} {name}: {res['status']} {fmt_time(res.get('wall'))}"
                      + (f" {res.get('rss_mb', 0):.0f} MB" if res["status"] == "ok" else "")
                      + (f"  {res.get('error', '')[-200:]!r}" if res["status"] == "failed" else ""),
                      file=sys.stderr)
                if res["status"] == "timeout":
                    done[name] = {"status": "timeout", "cap": args.cap, "note": "killed at the cap"}
                    capped_at[name] = size
                elif res["status"] != "ok":
                    done[name] = {"status": "failed", "note": f"exit {res.get('exit')}: "
                                  + " ".join(res.get("error", "").split())[-120:]}
                elif res["wall"] > args.cap / 5:
                    done[name] = None  # slow: one run is enough
        for t in tools:
            name = t["name"]
            ok = [x for x in runs[name] if x["status"] == "ok"]
            entry = {"size": size, "tool": name, "lines": lines, "how": t["how"],
                     "date": dt.datetime.now().isoformat(timespec="seconds"), "all_runs": runs[name]}
            final = done.get(name)
            if final:
                entry.update(final)
            elif ok:
                entry.update({"status": "ok", "runs": len(ok),
                              "wall": statistics.median(x["wall"] for x in ok),
                              "cpu": statistics.median(x["cpu"] for x in ok),
                              "rss_mb": statistics.median(x["rss_mb"] for x in ok)})
                timed = [x["phases"] for x in ok if x.get("phases")]
                if timed:
                    entry["phases"] = {k: statistics.median(x.get(k, 0.0) for x in timed) for k in timed[0]}
            else:
                entry.update({"status": "failed", "note": "no run"})
            results.append(entry)

    store_path = Path(args.results)
    old = []
    if store_path.exists() and not args.fresh:
        try:
            old = json.loads(store_path.read_text()).get("results", [])
        except (OSError, ValueError):
            old = []
    keys = {(r["size"], r["tool"]) for r in results}
    merged = [r for r in old if (r["size"], r["tool"]) not in keys] + results
    cmd = "python bench/run.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    store = {"date": dt.datetime.now().isoformat(timespec="seconds"), "command": cmd.strip(),
             "machine": machine_info(), "versions": versions(), "cap_s": args.cap, "results": merged}
    store_path.write_text(json.dumps(store, indent=1) + "\n")
    md = render(store)
    (store_path.with_suffix(".md")).write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
