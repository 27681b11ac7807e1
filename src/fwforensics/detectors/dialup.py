"""dialup.leftover: traffic meant for whoever held a dynamic address before.

Peer-to-peer clients, chat programs, game servers and streaming servers keep sending to an
address long after its previous holder hung up: PowWow reconnects to 13223 (its heartbeat
starts with "OPNG"), ICQ servers send from UDP port 4000, Gnutella/Napster-clone peers try
6346/6347/6699, game servers and players use their well-known ports, RealAudio streams arrive
on UDP 6970-7170 and a SubSeven master keeps calling its slave's port 6776. The ports come
from the knowledge base (destination categories chat, p2p, game, multimedia and SubSeven's data
port; source-port categories chat and game). Harmless; nothing to do.
"""
from __future__ import annotations

from . import _misc as m

IDS = ("dialup.leftover",)
ORDER = 50

# Tunables
DST_CATEGORIES = ("chat", "p2p", "game", "multimedia")   # knowledge-base port categories
SRC_CATEGORIES = ("chat", "game")   # source-port categories (ICQ server 4000, Quake servers)
EXTRA_PORTS = (6776,)               # SubSeven data port: a master reconnecting to a gone slave
MIN_RECORDS = 1       # packets per source; raise to 2-3 to report only persistent reconnects
MIN_SHARE = 0.5       # share of a source's destination ports that must be such ports; lower it to
                      # name these ports inside broad scans too (which are rarely leftovers)
TUNABLES = ("DST_CATEGORIES", "SRC_CATEGORIES", "EXTRA_PORTS", "MIN_RECORDS", "MIN_SHARE")


def preds(ctx) -> tuple[str, str]:
    from ..knowledge import kb
    k = kb()
    me = m.short(__name__)
    dcat = set(ctx.tun(me, "DST_CATEGORIES"))
    scat = set(ctx.tun(me, "SRC_CATEGORIES"))
    dst = m.port_match([e for e in k.all_ports() if e.category in dcat])
    extra = [int(p) for p in ctx.tun(me, "EXTRA_PORTS")]
    if extra:
        dst = f"({dst} OR (proto = 'tcp' AND dst_port IN ({', '.join(map(str, extra))})))"
    src = m.port_match([e for e in k.all_srcports() if e.category in scat], col="src_port")
    # a source port only matters when the destination is a dynamic port (the client side)
    src = f"({src} AND dst_port > 1023)"
    return dst, src


def detect(ctx):
    me = m.short(__name__)
    t = ctx.table
    dst, src = preds(ctx)
    # TCP: connection attempts, or pushes of data to a session the new holder never had
    base = (f"proto IN ('tcp', 'udp') AND src_ip IS NOT NULL AND dst_port IS NOT NULL AND "
            f"(tcp_flags IS NULL OR tcp_flags LIKE '%SYN%' OR tcp_flags LIKE '%PSH%') AND "
            f"(tcp_flags IS NULL OR tcp_flags NOT LIKE '%RST%')")
    hit = f"({dst} OR {src})"
    rows = ctx.query(f"""
        WITH s AS (
            SELECT src_ip, count(DISTINCT dst_port) AS all_ports,
                   count(DISTINCT CASE WHEN {hit} THEN dst_port END) AS hports,
                   sum(CASE WHEN {hit} THEN 1 ELSE 0 END) AS n,
                   count(DISTINCT CASE WHEN {hit} THEN dst_ip END) AS hosts,
                   sum(CASE WHEN {hit} AND payload_hint LIKE '%OPNG%' THEN 1 ELSE 0 END) AS opng,
                   sum(CASE WHEN {src} THEN 1 ELSE 0 END) AS by_src
            FROM {t} WHERE {base} AND src_ip IN {m.src_set(ctx, f"SELECT src_ip FROM {t} WHERE {base} AND {hit}")}
            GROUP BY src_ip)
        SELECT * FROM s WHERE n >= {int(ctx.tun(me, 'MIN_RECORDS'))} AND n > 0
          AND (hports >= {float(ctx.tun(me, 'MIN_SHARE'))} * all_ports OR by_src = n)
        ORDER BY src_ip""")
    from ..knowledge import kb
    k = kb()
    out = []
    # the findings read only the reported sources' records
    with m.sources_only(ctx, [r["src_ip"] for r in rows]):
        scope = m.scope(ctx, [r["src_ip"] for r in rows])
        for r in rows:
            s = r["src_ip"]
            where = f"{base}{scope} AND {hit} AND src_ip = {ctx.lit(s)}"
            dports = m.ports(ctx, f"{base}{scope} AND {dst} AND src_ip = {ctx.lit(s)}")
            sports = m.ports(ctx, f"{base}{scope} AND {src} AND src_ip = {ctx.lit(s)}", col="src_port")
            apps = []
            for p in dports[:6]:
                e = next((x for x in k.ports(p) if x.category in ("chat", "p2p", "game", "multimedia", "trojan")), None)
                apps.append(f"{p} {e.service}" if e else str(p))
            for p in sports[:3]:
                e = k.srcport(p)
                apps.append(f"from {p} {e.service}" if e else f"from {p}")
            tg = m.targets(ctx, where)
            opng = int(r["opng"] or 0)
            out.append(ctx.finding(
                "dialup.leftover", s, where,
                summary=f"{m.plural(int(r['n']), 'packet')} from {s} to {m.plural(len(tg), 'host')} for chat, "
                        f"P2P, game or streaming software ({'; '.join(apps)})"
                        + (f", {opng} carrying PowWow's OPNG heartbeat" if opng else "")
                        + ": most likely meant for the previous holder of the address",
                targets=tg, ports=dports,
                details={"destination_ports": dports, "source_ports": sports, "opng": opng,
                         "hosts": int(r["hosts"])}))
    return out
