"""trojan.probe: connection attempts to ports that remote-access trojans and backdoors listen on.

Someone looks for machines already infected with SubSeven, NetBus, Back Orifice and the like.
The probe cannot infect anything by itself; it only matters if a host here really listens on
that port. The port list is the knowledge base's ``trojan`` category (per transport). A source
whose probes are mostly other ports is a general port scan (the scan detectors report it), and
a source that only keeps hitting SubSeven's 6776 is left to dialup.leftover.
"""
from __future__ import annotations

from . import _misc as m

IDS = ("trojan.probe",)
ORDER = 50

# Tunables
MIN_SHARE = 0.5        # share of a source's distinct destination ports that must be trojan ports;
                       # lower it to also name trojan ports inside broad scans (noisier)
MIN_RECORDS = 1        # probes per source before a finding; raise to ignore one-off packets
DIALUP_ONLY = (6776,)  # ports left to dialup.leftover when a source hits nothing else
MAX_SOURCES = m.MAX_SOURCES  # more sources than this: the rest share one aggregate finding (a source
                             # whose probes were let through always keeps its own)
TOP_SOURCES = m.TOP_SOURCES  # busiest sources that keep their own finding then (see _misc.py)
TUNABLES = ("MIN_SHARE", "MIN_RECORDS", "DIALUP_ONLY") + m.AGG_TUNABLES


def trojan_pred() -> str:
    from ..knowledge import kb
    return m.port_match([e for e in kb().all_ports() if e.category == "trojan"])


def detect(ctx):
    me = m.short(__name__)
    t = ctx.table
    tp = trojan_pred()
    if tp == "FALSE":
        return []
    base = f"proto IN ('tcp', 'udp') AND src_ip IS NOT NULL AND dst_port IS NOT NULL AND {m.SYN_ONLY}"
    dial = ", ".join(str(int(p)) for p in ctx.tun(me, "DIALUP_ONLY")) or "-1"
    gsql = f"""
        WITH s AS (
            SELECT src_ip, count(DISTINCT dst_port) AS all_ports,
                   count(DISTINCT CASE WHEN {tp} THEN dst_port END) AS tports,
                   count(DISTINCT CASE WHEN {tp} AND dst_port NOT IN ({dial}) THEN dst_port END) AS other_tports,
                   sum(CASE WHEN {tp} THEN 1 ELSE 0 END) AS n,
                   count(DISTINCT CASE WHEN {tp} THEN dst_ip END) AS hosts,
                   sum(CASE WHEN {tp} AND coalesce(action, 'other') = 'accept' THEN 1 ELSE 0 END) AS passed
            FROM {t} WHERE {base} AND src_ip IN {m.src_set(ctx, f"SELECT src_ip FROM {t} WHERE {base} AND {tp}")}
            GROUP BY src_ip)
        SELECT * FROM s
        WHERE tports > 0 AND other_tports > 0 AND n >= {int(ctx.tun(me, 'MIN_RECORDS'))}
          AND tports >= {float(ctx.tun(me, 'MIN_SHARE'))} * all_ports"""
    rows, rest = m.split_sources(ctx, me, ctx.query(gsql + " ORDER BY src_ip"))
    if rest:   # a probe let through is worth its own finding, however many sources there are
        rows = sorted(rows + [r for r in rest if int(r["passed"] or 0)], key=lambda r: r["src_ip"])
        rest = [r for r in rest if not int(r["passed"] or 0)]
    out = []
    from ..knowledge import kb
    k = kb()
    scope = m.scope(ctx, [r["src_ip"] for r in rows])   # the reported sources: look-ups read only theirs
    with m.sources_only(ctx, [r["src_ip"] for r in rows + rest]):   # their records only
        if rest:
            where = m.rest_where(ctx, f"{base} AND {tp}", rows, rest, gsql)
            pl = m.ports(ctx, where)
            details = m.rest_details(rest, trojan_ports=len(pl))
            out.append(ctx.finding(
                "trojan.probe", None, where,
                summary=f"{m.plural(details['records'], 'probe')} from {m.more_sources(rest)} for "
                        f"{m.plural(len(pl), 'trojan/backdoor port')}: {_names(k, pl)}",
                targets=m.targets(ctx, where), ports=pl, details=details))
        for r in rows:
            src = r["src_ip"]
            where = f"{base}{scope} AND {tp} AND src_ip = {ctx.lit(src)}"
            pl = m.ports(ctx, where)
            passed = int(r["passed"] or 0)
            out.append(ctx.finding(
                "trojan.probe", src, where,
                summary=f"{src} probed {m.plural(len(pl), 'trojan/backdoor port')} on "
                        f"{m.plural(int(r['hosts']), 'host')}: {_names(k, pl)}"
                        + (f"; {passed} of the probes were let through, check those hosts" if passed else ""),
                targets=m.targets(ctx, where), ports=pl, severity="medium" if passed else None,
                details={"trojan_ports": len(pl), "all_ports": int(r["all_ports"]), "passed": passed}))
    return out


def _names(k, ports) -> str:
    """The first ports with the trojan the knowledge base names for each."""
    names = []
    for p in ports[:8]:
        e = next((x for x in k.ports(p) if x.category == "trojan"), None)
        names.append(f"{p} ({e.service})" if e else str(p))
    return ", ".join(names) + (" ..." if len(ports) > 8 else "")
