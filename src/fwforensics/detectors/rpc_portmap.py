"""Portmapper (rpcbind, port 111) use that deserves attention: DUMP (list every RPC service),
SET/UNSET (register or remove services remotely), CALLIT (have the portmapper forward a call,
hiding the caller) and GETPORT for programs with a history of remote exploits (sadmind, cmsd,
ToolTalk, snmpXdmid, statd, mountd, amd, rexd ...). From rpcbind/portmap logs and RPC decoded
from captures; a following direct call to the program makes it an exploit attempt.
"""
from __future__ import annotations

from ._service import distinct_values, per_source

IDS = ("rpc.portmap",)
ORDER = 40

# Tunables
MIN_RECORDS = 1   # records per source; one DUMP or GETPORT for sadmind is already worth a look
TUNABLES = ("MIN_RECORDS",)

RISKY_PROGRAMS = ("sadmind", "cmsd", "ttdbserverd", "snmpXdmid", "status", "statmon", "mountd", "amd", "rexd",
                  "walld", "rusersd", "rstatd", "ypserv", "ypbind", "yppasswdd", "bootparam", "sprayd", "nfs")

EXPLANATION = (
    "The portmapper tells callers on which port each RPC service listens. From outside, "
    "GETPORT for a service with known remote holes (sadmind, cmsd, ToolTalk, statd, mountd, "
    "snmpXdmid, amd ...) is the first step of exploiting it; DUMP lists everything the host "
    "offers; SET and UNSET change the registrations; CALLIT makes the portmapper pass a call on, "
    "so the target service sees the portmapper, not the attacker, as the caller.")
ADVICE = (
    "Port 111 and the RPC services should not be reachable from the Internet: block TCP and UDP "
    "111 (and the services' own ports) at the border, and restrict rpcbind to trusted hosts. If a "
    "call to the program followed, check that host for compromise.")


def where(ctx) -> str:
    risky = " OR ".join(f"app_detail LIKE 'portmap GETPORT {p} %' OR app_detail LIKE 'portmap GETADDR {p} %' "
                        f"OR app_detail LIKE 'portmap GETPORT {p}' " for p in RISKY_PROGRAMS)
    w = ("app_proto = 'rpc' AND app_detail IS NOT NULL AND (app_detail LIKE 'portmap DUMP%' OR app_detail LIKE 'portmap SET%' "
         f"OR app_detail LIKE 'portmap UNSET%' OR app_detail LIKE 'portmap CALLIT%' OR {risky})")
    if ctx.home_nets:
        w += f" AND NOT {ctx.home_predicate('src_ip')}"
    return w


def detect(ctx):
    mod = __name__.rsplit(".", 1)[-1]
    minimum = int(ctx.tun(mod, "MIN_RECORDS"))

    def details(c, cond, r):
        asks = distinct_values(c, cond, "app_detail", 10)
        progs = sorted({a.split(" ")[2] for a in asks if len(a.split(" ")) > 2})
        follow = []
        for p in progs:
            follow += distinct_values(c, f"app_proto = 'rpc' AND src_ip = {c.lit(r['src'])} "
                                         f"AND app_detail LIKE {c.lit('call ' + p + ' %')}", "app_detail", 3)
        return {"requests": asks, "programs": progs, "follow_up_calls": follow}

    def sev(c, cond, r, d):
        if d["follow_up_calls"]:
            return "high"
        return "medium" if any(p in RISKY_PROGRAMS for p in d["programs"]) else "low"

    return [f for f in per_source(
        ctx, "rpc.portmap", where(ctx), "src_ip",
        summary=lambda r, d: (f"{r['src']} asked the portmapper of {r['hosts']} host(s): {', '.join(d['requests'][:3])}"
                              + ("; then called the program directly" if d["follow_up_calls"] else "")),
        details=details, severity=sev, explanation=EXPLANATION, advice=ADVICE) if f.count >= minimum]
