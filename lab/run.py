"""Run the fwforensics traffic lab.

    python lab/run.py [SCENARIO...] --out DIR     run scenarios (all when none named)
    python lab/run.py --list                      list the scenarios
    python lab/run.py --cleanup                   remove a crashed run's namespaces

Each scenario writes ``<name>.log`` (the firewall's LOG records as RFC 3164 syslog lines),
``<name>.pcap`` (tcpdump on the firewall's outside interface) and ``<name>.truth.json``
(what ran, the real source, the findings ``analyze`` must report).  Needs root.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import netlab  # noqa: E402
from netlab import KmsgCollector, Lab, LabUnavailable, boot_wall_time, kmsg_to_syslog  # noqa: E402
from scenarios import Scenario, scenarios  # noqa: E402

TRUTH_VERSION = 1


def tool_versions() -> dict:
    out = {}
    for tool, args in (("nmap", ["--version"]), ("hping3", ["--version"]),
                       ("traceroute", ["--version"]), ("tcpdump", ["--version"]),
                       ("iptables", ["-V"])):
        if shutil.which(tool):
            cp = subprocess.run([tool, *args], capture_output=True, text=True)
            text = (cp.stdout or cp.stderr).strip().splitlines()
            out[tool] = text[0] if text else ""
    return out


def lab_description() -> dict:
    return {
        "home_net": [netlab.HOME_NET],
        "outside_net": netlab.OUTSIDE_NET,
        "outside_if": netlab.OUTSIDE_IF,
        "inside_if": netlab.INSIDE_IF,
        "firewall_outside_ip": netlab.FW_OUT_IP,
        "firewall_inside_ip": netlab.FW_IN_IP,
        "router_ip": netlab.ROUTER_SEG_IP,
        "neighbour_ip": netlab.NEIGHBOUR_IP,
        "lan_host": netlab.LAN_HOST,
        "open_service": f"{netlab.LAN_HOST}:80/tcp",
        "attacker_ip": netlab.ATTACKER_IP,
        "log_prefixes": [netlab.LOG_PREFIX, netlab.SPOOF_PREFIX],
        "syslog_host": netlab.SYSLOG_HOST,
        "timezone": "UTC",
    }


def observed(lines: list[str]) -> dict:
    """Per source address of the collected records: how many, and the TTLs seen (outer
    header only; the quoted header of an ICMP error is inside [...])."""
    import re
    out: dict[str, dict] = {}
    for line in lines:
        outer = line.split(" [SRC=", 1)[0]
        m = re.search(r" SRC=(\S+) DST=(\S+) .*?TTL=(\d+)", outer)
        if not m:
            continue
        o = out.setdefault(m.group(1), {"records": 0, "ttl_min": 999, "ttl_max": 0, "dsts": set()})
        o["records"] += 1
        o["ttl_min"] = min(o["ttl_min"], int(m.group(3)))
        o["ttl_max"] = max(o["ttl_max"], int(m.group(3)))
        o["dsts"].add(m.group(2))
    for o in out.values():
        o["dsts"] = len(o["dsts"])
    return dict(sorted(out.items()))


def run_scenario(lab: Lab, sc: Scenario, out: Path, versions: dict, verbose: bool) -> dict:
    log_path = out / f"{sc.name}.log"
    pcap_path = out / f"{sc.name}.pcap"
    if verbose:
        print(f"== {sc.name}: {sc.description}")
    boot = boot_wall_time()
    cap = lab.start_capture(pcap_path)
    kmsg = KmsgCollector()
    started = time.time()
    commands = []
    background = []
    try:
        for st in sc.steps:
            if st.ns is None:
                time.sleep(st.seconds)
                commands.append({"pause_seconds": st.seconds})
            elif st.background:
                background.append(lab.spawn(st.ns, st.argv))
            else:
                commands.append(lab.execute(st.ns, st.argv, timeout=st.timeout, stdin=st.stdin))
        time.sleep(0.5)
    finally:
        for p in background:
            lab.stop(p)
        records = kmsg.stop()
        lab.stop_capture(cap)
    lines = [l for l in (kmsg_to_syslog(r, boot) for r in records) if l]
    log_path.write_text("".join(l + "\n" for l in lines))
    try:
        pcap_path.chmod(0o644)
    except OSError:
        pass
    truth = {
        "truth_version": TRUTH_VERSION,
        "scenario": sc.name,
        "description": sc.description,
        "batch": sc.batch,
        "real_src": sc.real_src,
        "expected": sc.expected,
        "forbidden": sc.forbidden,
        "notes": sc.notes,
        "extra": sc.extra,
        "commands": commands,
        "log": log_path.name,
        "pcap": pcap_path.name,
        "records": len(lines),
        "observed": observed(lines),
        "kmsg_overruns": kmsg.lost,
        "started": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 2),
        "lab": lab_description(),
        "kernel": platform.release(),
        "tools": versions,
    }
    (out / f"{sc.name}.truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    if verbose:
        print(f"   {len(lines)} records, {pcap_path.stat().st_size} bytes of pcap, "
              f"{truth['seconds']} s")
    return truth


def _expected_src(e: dict) -> str:
    if e["src"]:
        return e["src"]
    if e.get("candidates"):
        return f"no single source: {len(e['candidates'])} candidates"
    return "no source: forged"


def markdown_table(directory: Path) -> str:
    """The table of a run (scenario, tool, records, packets, expected findings) for docs."""
    import dpkt
    rows = ["| scenario | tool(s) | log records | pcap packets | expected findings (src) |",
            "| --- | --- | ---: | ---: | --- |"]
    for p in sorted(directory.glob("*.truth.json")):
        t = json.loads(p.read_text())
        tools = []
        for c in t["commands"]:
            argv = c.get("argv") or []
            if argv:
                name = Path(argv[1]).name if argv[0] == "python3" and len(argv) > 1 else argv[0]
                if argv[0] == "python3" and argv[1] == "-c":
                    name = "python3 http.client"
                if name not in tools:
                    tools.append(name)
        with (directory / t["pcap"]).open("rb") as f:
            packets = sum(1 for _ in dpkt.pcap.Reader(f))
        exp = ", ".join(f"{e['id']} ({_expected_src(e)}{', capture only' if e.get('capture_only') else ''})"
                        for e in t["expected"])
        if exp and t["forbidden"]:
            exp += "; must not report " + ", ".join(t["forbidden"])
        elif not exp:
            exp = ("none; must not report " + "/".join(sorted({i.split('.')[0] for i in t["forbidden"]}))
                   if t["forbidden"] else "none (Packet Zen input)")
        rows.append(f"| {t['scenario']} | {', '.join(tools)} | {t['records']} | {packets} | {exp} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fwforensics traffic lab")
    ap.add_argument("scenario", nargs="*", help="scenario names (default: all)")
    ap.add_argument("--out", default="lab-out", help="output directory")
    ap.add_argument("--batch", type=int, help="only scenarios of this batch")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--cleanup", action="store_true",
                    help="remove fwflab-* namespaces (and their processes) left by a crashed run")
    ap.add_argument("--table", metavar="DIR",
                    help="print the markdown table of a finished run in DIR and exit")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.table:
        print(markdown_table(Path(a.table)), end="")
        return 0
    if a.cleanup:
        import fcntl
        fd = os.open(str(netlab.LOCK_FILE), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("a lab run is in progress (it holds /run/fwflab.lock); nothing removed",
                  file=sys.stderr)
            os.close(fd)
            return 4
        try:
            removed = netlab.cleanup_leftovers(kill_ns_processes=True)
        finally:
            os.close(fd)
        print("removed: " + (", ".join(removed) if removed else "nothing"))
        return 0
    # a SIGTERM (a CI timeout, a killed test run) unwinds through Lab.__exit__ as well
    import signal
    old_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="fwflab-"))
    try:
        all_sc = scenarios(tmp)
        if a.list:
            for sc in all_sc:
                print(f"{sc.name:24} batch {sc.batch}  {sc.description}")
            return 0
        names = {sc.name for sc in all_sc}
        unknown = [n for n in a.scenario if n not in names]
        if unknown:
            print("unknown scenario(s): " + ", ".join(unknown), file=sys.stderr)
            return 2
        chosen = [sc for sc in all_sc if (not a.scenario or sc.name in a.scenario)
                  and (a.batch is None or sc.batch == a.batch)]
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        versions = tool_versions()
        try:
            with Lab(verbose=not a.quiet) as lab:
                (out / "firewall.rules").write_text(lab.firewall_ruleset())
                for sc in chosen:
                    run_scenario(lab, sc, out, versions, not a.quiet)
        except LabUnavailable as e:
            print(f"the lab cannot run here: {e}", file=sys.stderr)
            return 3
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, old_term)


if __name__ == "__main__":
    sys.exit(main())
