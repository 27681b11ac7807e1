"""identd.blocked: dropped connection attempts to port 113 (identd/auth).

Mail, IRC and some FTP servers ask the client's identd who opened the connection. When the
firewall silently drops that SYN, the server's kernel retransmits it (after about 1, 2, 4 s)
and the login waits for the timeout: the slow-mail symptom of FAQ 4.1. A rejected (RST or
ICMP-answered) 113 attempt costs nothing and is not reported.
"""
from __future__ import annotations

from . import _misc as m

IDS = ("identd.blocked",)
ORDER = 50

# Tunables
MIN_RECORDS = 1     # dropped 113 SYNs per server before a finding; raise to hide single ones
MAX_OTHER_PORTS = 2 # a source that also tried more than this many other ports is a port scan that
                    # happened to include 113, not a server asking identd; raise to report those too
MAX_SOURCES = m.MAX_SOURCES  # more servers than this: the rest share one aggregate finding
TOP_SOURCES = m.TOP_SOURCES  # busiest servers that keep their own finding then (see _misc.py)
TUNABLES = ("MIN_RECORDS", "MAX_OTHER_PORTS") + m.AGG_TUNABLES

PRED = f"proto = 'tcp' AND dst_port = 113 AND {m.SYN_ONLY} AND {m.DROPPED} AND src_ip IS NOT NULL"


def rows_sql(ctx) -> str:
    """One row per server whose identd SYNs were dropped (``src_ip``, ``n`` SYNs, ``conns``,
    ``hosts``, ``retries``, ``waited`` seconds); advice.py counts the servers from it."""
    me = m.short(__name__)
    t = ctx.table
    # (the port scanners among the sources: counted for the sources of 113 attempts only, not for
    # every source of the log: 2.8 -> 0.4 s over 10 M lines)
    return f"""
        WITH c AS (SELECT src_ip, dst_ip, src_port, count(*) AS tries,
                          {m.secs('max(ts)')} - {m.secs('min(ts)')} AS waited
                   FROM {t} WHERE {PRED} GROUP BY src_ip, dst_ip, src_port),
        busy AS (SELECT src_ip FROM {t} WHERE proto IN ('tcp', 'udp') AND dst_port <> 113
                 AND src_ip IN (SELECT src_ip FROM c)
                 GROUP BY src_ip HAVING count(DISTINCT dst_port) > {int(ctx.tun(me, 'MAX_OTHER_PORTS'))})
        SELECT src_ip, sum(tries) AS n, count(*) AS conns, count(DISTINCT dst_ip) AS hosts,
               sum(tries) - count(*) AS retries, max(waited) AS waited
        FROM c WHERE src_ip NOT IN (SELECT src_ip FROM busy)
        GROUP BY src_ip HAVING sum(tries) >= {int(ctx.tun(me, 'MIN_RECORDS'))}"""


def detect(ctx):
    me = m.short(__name__)
    gsql = rows_sql(ctx)
    rows, rest = m.split_sources(ctx, me, ctx.query(gsql + " ORDER BY src_ip"))
    out = []
    scope = m.own_scope(ctx, rows, rest)
    if rest:
        where = m.rest_where(ctx, PRED, rows, rest, gsql)
        details = m.rest_details(rest, connections=sum(int(r["conns"]) for r in rest),
                                 retransmissions=sum(int(r["retries"]) for r in rest),
                                 longest_wait_seconds=round(max(float(r["waited"] or 0) for r in rest), 1))
        out.append(ctx.finding(
            "identd.blocked", None, where, targets=m.targets(ctx, where), ports=[113],
            summary=f"{m.more_sources(rest).capitalize()} tried identd (113) "
                    f"{m.plural(details['connections'], 'time')} and the SYNs were dropped "
                    f"({details['retransmissions']} retransmissions): their users wait for the timeout",
            details=details))
    for r in rows:
        src = r["src_ip"]
        where = f"{PRED}{scope} AND src_ip = {ctx.lit(src)}"
        waited = float(r["waited"] or 0)
        out.append(ctx.finding(
            "identd.blocked", src, where, targets=m.targets(ctx, where), ports=[113],
            summary=f"{src} tried identd (113) {m.plural(int(r['conns']), 'time')} on {m.plural(int(r['hosts']), 'host')} "
                    f"and the SYNs were dropped ({int(r['retries'])} retransmissions"
                    + (f", for {waited:.0f} s" if waited >= 1 else "") + "): its users wait for the timeout",
            details={"connections": int(r["conns"]), "retransmissions": int(r["retries"]),
                     "longest_wait_seconds": round(waited, 1)}))
    return out
