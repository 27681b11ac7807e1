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
TUNABLES = ("MIN_RECORDS", "MAX_OTHER_PORTS")

PRED = f"proto = 'tcp' AND dst_port = 113 AND {m.SYN_ONLY} AND {m.DROPPED} AND src_ip IS NOT NULL"


def detect(ctx):
    me = m.short(__name__)
    t = ctx.table
    # (the port scanners among the sources: counted for the sources of 113 attempts only, not for
    # every source of the log: 2.8 -> 0.4 s over 10 M lines)
    rows = ctx.query(f"""
        WITH c AS (SELECT src_ip, dst_ip, src_port, count(*) AS tries,
                          {m.secs('max(ts)')} - {m.secs('min(ts)')} AS waited
                   FROM {t} WHERE {PRED} GROUP BY src_ip, dst_ip, src_port),
        busy AS (SELECT src_ip FROM {t} WHERE proto IN ('tcp', 'udp') AND dst_port <> 113
                 AND src_ip IN (SELECT src_ip FROM c)
                 GROUP BY src_ip HAVING count(DISTINCT dst_port) > {int(ctx.tun(me, 'MAX_OTHER_PORTS'))})
        SELECT src_ip, sum(tries) AS n, count(*) AS conns, count(DISTINCT dst_ip) AS hosts,
               sum(tries) - count(*) AS retries, max(waited) AS waited
        FROM c WHERE src_ip NOT IN (SELECT src_ip FROM busy)
        GROUP BY src_ip HAVING sum(tries) >= {int(ctx.tun(me, 'MIN_RECORDS'))} ORDER BY src_ip""")
    out = []
    for r in rows:
        src = r["src_ip"]
        where = f"{PRED} AND src_ip = {ctx.lit(src)}"
        waited = float(r["waited"] or 0)
        out.append(ctx.finding(
            "identd.blocked", src, where, targets=m.targets(ctx, where), ports=[113],
            summary=f"{src} tried identd (113) {m.plural(int(r['conns']), 'time')} on {m.plural(int(r['hosts']), 'host')} "
                    f"and the SYNs were dropped ({int(r['retries'])} retransmissions"
                    + (f", for {waited:.0f} s" if waited >= 1 else "") + "): its users wait for the timeout",
            details={"connections": int(r["conns"]), "retransmissions": int(r["retries"]),
                     "longest_wait_seconds": round(waited, 1)}))
    return out
