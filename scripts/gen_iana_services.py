#!/usr/bin/env python3
"""Generate src/fwforensics/knowledge/data/iana_services.tsv, once.

Sources (install with `apt-get install -y libwireshark-data netbase`):
  1. /usr/share/wireshark/services -- Wireshark's copy of the IANA "Service Name and
     Transport Protocol Port Number Registry"
     (https://www.iana.org/assignments/service-names-port-numbers/), services(5) format,
     protocols merged as e.g. "80/tcp/udp", ranges as "6000-6063/tcp/udp".
  2. /etc/services from Debian's netbase package -- fills in names the IANA copy lacks
     (a handful of widely used unofficial names); such rows are marked source=netbase.

Output: one row per (port, proto) for tcp and udp only, columns
  port  proto  name  description  source
The first name IANA lists for a port wins (IANA lists the primary assignment first).

Usage: python scripts/gen_iana_services.py [--out PATH]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import re
import subprocess
from pathlib import Path

WIRESHARK = Path("/usr/share/wireshark/services")
NETBASE = Path("/etc/services")
OUT = Path(__file__).resolve().parent.parent / "src/fwforensics/knowledge/data/iana_services.tsv"

LINE = re.compile(r"^(?P<name>\S+)\s+(?P<lo>\d+)(?:-(?P<hi>\d+))?/(?P<protos>[a-z/]+)\s*(?:#\s*(?P<desc>.*))?$")


def _pkg_version(pkg: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def read(path: Path, source: str, table: dict) -> None:
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            continue
        lo = int(m["lo"])
        hi = int(m["hi"]) if m["hi"] else lo
        if hi < lo or hi > 65535:
            continue
        desc = _clean(m["desc"] or "")
        for proto in m["protos"].split("/"):
            if proto not in ("tcp", "udp"):
                continue
            for port in range(lo, hi + 1):
                table.setdefault((port, proto), (m["name"], desc, source))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    table: dict[tuple[int, str], tuple[str, str, str]] = {}
    read(WIRESHARK, "iana", table)
    read(NETBASE, "netbase", table)
    today = _dt.date.today().isoformat()
    header = [
        "# IANA-assigned service names for TCP and UDP ports 0-65535 (one row per port and protocol).",
        f"# Generated {today} by scripts/gen_iana_services.py; do not edit by hand.",
        f"# Source 1 (source=iana): IANA Service Name and Transport Protocol Port Number Registry, as copied in",
        f"#   Debian libwireshark-data {_pkg_version('libwireshark-data')}, /usr/share/wireshark/services;",
        "#   https://www.iana.org/assignments/service-names-port-numbers/ (used with IANA's permission, see that file).",
        f"# Source 2 (source=netbase): Debian netbase {_pkg_version('netbase')}, /etc/services, for names IANA lacks.",
        "# A registered name says what the port is assigned to, not what uses it in practice.",
        "port\tproto\tname\tdescription\tsource",
    ]
    rows = [f"{p}\t{proto}\t{n}\t{d}\t{s}" for (p, proto), (n, d, s) in sorted(table.items())]
    args.out.write_text("\n".join(header + rows) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
