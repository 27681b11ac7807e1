"""A SYN flood from forged random sources, and the time `fwforensics analyze` takes to read it.

Writes a seeded netfilter log of N SYNs at one port of one host, each from a new random IPv4
address (what ``hping3 --rand-source`` sends; about one in eight such addresses is private,
reserved or multicast space), then runs ``python -m fwforensics analyze LOG --json`` RUNS times
and prints the wall time, the peak memory and what the report found. Before the twenty-second
session 200 000 such lines did not finish in 10 minutes.

    python bench/flood.py [--lines 200000] [--runs 3] [--out bench/data/flood-200k.log]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta


def write(path: str, lines: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    t0 = datetime(2025, 6, 1, 12, 0, 0)
    with open(path, "w") as out:
        for i in range(lines):
            t = t0 + timedelta(microseconds=i * 500)
            src = ".".join(str(rng.randint(0, 255)) for _ in range(4))
            out.write(f"{t:%b %e %H:%M:%S} gw kernel: DROP IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 "
                      f"SRC={src} DST=203.0.113.10 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID={rng.randint(0, 65535)} "
                      f"PROTO=TCP SPT={rng.randint(1024, 65535)} DPT=80 WINDOW=512 RES=0x00 SYN URGP=0 \n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    path = a.out or os.path.join(os.path.dirname(__file__), "data", f"flood-{a.lines}.log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        write(path, a.lines)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import run   # bench/run.py
    run.byte_compile()   # (timed as installed: see run.byte_compile)
    walls, peaks, rep = [], [], {}
    for _ in range(a.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "fwforensics", "analyze", path, "--json", "--year", "2025"],
                           capture_output=True, text=True, timeout=1800)
        walls.append(time.perf_counter() - t)
        peaks.append(max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024)
        if p.returncode not in (0, 1):
            sys.exit(f"analyze failed ({p.returncode}): {p.stderr[-500:]}")
        rep = json.loads(p.stdout)
    ids: dict[str, int] = {}
    for f in rep.get("findings", []):
        ids[f["id"]] = ids.get(f["id"], 0) + 1
    verdict = next((f["summary"] for f in rep.get("findings", []) if f["id"] == "verdict"), "")
    print(f"{a.lines} lines: wall median {statistics.median(walls):.2f} s (runs: "
          f"{', '.join(f'{w:.2f}' for w in walls)}), peak {max(peaks):.0f} MB")
    print(f"findings: {ids}")
    print(f"verdict: {verdict}")


if __name__ == "__main__":
    main()
