"""port.zero: TCP or UDP packets to (or from) port 0.

No service can listen on port 0, so a packet for it is either a probe whose
answer (reset, unreachable or silence) differs between operating systems (an
OS fingerprinting step), a sign of a broken or hostile packet generator, or a
fragment mis-logged by a device. One finding per source.
"""
from __future__ import annotations

IDS = ("port.zero",)
ORDER = 50

# Tunables
MIN_RECORDS = 1   # records per source before a finding; raise to ignore one-off oddities, at the cost
                  # of missing a single fingerprinting probe
TUNABLES = ("MIN_RECORDS",)


def detect(ctx):
    t = ctx.table
    minimum = int(ctx.tun(__name__.rsplit(".", 1)[-1], "MIN_RECORDS"))
    rows = ctx.query(f"""
        SELECT src_ip, count(*) AS n, count(DISTINCT dst_ip) AS hosts
        FROM {t}
        WHERE proto IN ('tcp', 'udp') AND (dst_port = 0 OR src_port = 0) AND src_ip IS NOT NULL
        GROUP BY src_ip
        HAVING count(*) >= {minimum}
        ORDER BY src_ip""")
    out = []
    for r in rows:
        src = r["src_ip"]
        where = f"proto IN ('tcp', 'udp') AND (dst_port = 0 OR src_port = 0) AND src_ip = {ctx.lit(src)}"
        targets = [x["dst_ip"] for x in ctx.query(f"SELECT DISTINCT dst_ip FROM {t} WHERE {where} ORDER BY dst_ip LIMIT 50")]
        out.append(ctx.finding(
            "port.zero", src, where,
            summary=f"{src} sent {r['n']} packet(s) to or from port 0 ({r['hosts']} host(s)): a probe no real service answers",
            targets=targets, ports=[0]))
    return out
