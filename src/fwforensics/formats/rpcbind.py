"""Portmapper / rpcbind connection logs (the TCP-wrappers style lines of Wietse Venema's
``portmap`` and of ``rpcbind -l``)::

    Nov 22 03:40:01 srv rpcbind[812]: connect from 198.51.100.7 to getport/addr(mountd)
    Nov 22 03:40:01 srv portmap[77]: refused connect from 203.0.113.9 to callit(sadmind)
    Nov 22 03:40:01 srv portmap[77]: connect from 203.0.113.9 to dump(): request from unprivileged port

One event per line: ``src_ip`` = the caller, ``dst_port`` = 111, ``app_proto`` = rpc,
``app_detail`` = ``portmap <PROCEDURE> <program>`` in the capture reader's spelling
(``portmap GETPORT mountd (100005)``), ``app_status`` = ``refused`` or ``allowed`` plus any
reason, ``action`` = reject for refused calls.
"""
from __future__ import annotations

import re

import pyarrow as pa

from . import Format, ParseContext
from ._rows import Lines, base, clip, ip
from ._rpc import BY_NAME, program_label

_LINE = re.compile(r"(?P<refused>refused )?connect from (?P<ip>[0-9A-Fa-f:.]+) to (?P<proc>[\w/-]+)\((?P<prog>[^)]*)\)(?::\s*(?P<why>.*))?")
_PROCS = {"set": "SET", "unset": "UNSET", "getport": "GETPORT", "getport/addr": "GETPORT", "getaddr": "GETADDR",
          "dump": "DUMP", "callit": "CALLIT", "indirect": "CALLIT", "null": "NULL", "gettime": "GETTIME",
          "getversaddr": "GETVERSADDR", "getaddrlist": "GETADDRLIST", "getstat": "GETSTAT", "pmapdump": "DUMP",
          "rpcbdump": "DUMP", "set/unset": "SET", "addr": "GETPORT", "taddr2uaddr": "TADDR2UADDR",
          "uaddr2taddr": "UADDR2TADDR"}


def _program(p: str) -> str:
    p = p.strip()
    if not p:
        return ""
    if p.isdigit():
        return program_label(int(p))
    num = BY_NAME.get(p.lower())
    return f"{p} ({num})" if num else p


class Rpcbind(Format):
    name = "rpcbind"
    description = "portmap / rpcbind connection logs (connect from ... to getport(prog))"
    example = "Nov 22 03:40:01 srv portmap[77]: refused connect from 203.0.113.9 to callit(sadmind)"

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip()][:400]
        if not lines:
            return 0.0
        hits = sum(1 for s in lines if ("portmap" in s or "rpcbind" in s) and _LINE.search(s))
        return 0.0 if hits == 0 else 0.5 + 0.45 * hits / len(lines)

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        acc = Lines()
        for n, line, m, ts, ts_raw in acc.each_syslog(lines, first_line, ctx):
            if (m["prog"] or "").lower() not in ("portmap", "rpcbind", "rpc.portmap", "portmapper"):
                acc.skipped += 1
                continue
            x = _LINE.search(m["msg"])
            if not x or ip(x["ip"]) is None:
                acc.skipped += 1  # startup, warnings
                continue
            r = base(n, ctx, "rpcbind", line, ts, ts_raw, m["host"])
            r["src_ip"] = ip(x["ip"])
            r["ip_version"] = 6 if ":" in r["src_ip"] else 4
            r["dst_port"] = 111
            r["app_proto"] = "rpc"
            proc = _PROCS.get(x["proc"].lower(), x["proc"].upper())
            r["app_detail"] = clip(f"portmap {proc} {_program(x['prog'])}".strip())
            status = "refused" if x["refused"] else "allowed"
            if x["why"]:
                status += ": " + x["why"].strip()
            r["app_status"] = clip(status, 256)
            r["action"] = "reject" if x["refused"] else "other"
            r["rule"] = x["proc"]
            acc.rows.append(r)
        return acc.result()


FORMAT = Rpcbind()
