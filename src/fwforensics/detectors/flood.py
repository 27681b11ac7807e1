"""flood: one of our hosts flooded with packets from many sources at once.

A denial-of-service flood shows in a firewall log as one destination receiving far
more packets in a minute than background scanning ever sends to one address, from a great many
sources. When each source sends only a packet or two, the sources are forged: the attacker
picks a random address for every packet (so the victim cannot filter them, and a SYN flood
leaves half-open connections behind), and some of those random addresses land in private or
reserved space (bogon.source says which). When the packets all come from one UDP source port of
a service that answers more than it is asked (DNS 53, NTP 123, SSDP 1900, memcached 11211 ...),
real servers were tricked into answering forged questions in our name: a reflection flood.
Only packets the firewall did not accept count: a busy server whose accepted connections are
logged is not a flood. A flood is MIN_PACKETS packets in a row at one target (address and
protocol), all within WINDOW seconds and from at least MIN_SOURCES distinct sources, wherever they
start; such runs less than WINDOW apart are one finding (a flood that pauses for half a minute
is one flood; a long port scan of one host, with background from other sources beside it, is
none). Its ports are listed unless the flood aims at many
(reflected answers go to random ones).
"""
from __future__ import annotations

from . import _misc as m

IDS = ("flood",)
ORDER = 45
NEEDS = ()   # reads no findings (predicates() is ipaddr's, over the findings filed by then)

# Tunables
WINDOW = 60            # seconds within which MIN_PACKETS in a row must arrive (any start)
MIN_PACKETS = 1000     # packets in a row at one target (host, protocol) within WINDOW; background
                       # scanning sends a single address a few dozen a minute at most. Lower to see
                       # smaller floods (and busy noise sooner)
MIN_SOURCES = 100      # distinct sources of those packets: fewer is one or a few senders, which the
                       # scan and service detectors describe
FORGED_MAX_PER_SOURCE = 3.0  # packets per source at most (on average) for "forged sources"; real
                             # bots or reflectors each send many
REFLECT_SHARE = 0.8    # share of a UDP flood's packets from one source port to call it reflection
TUNABLES = ("WINDOW", "MIN_PACKETS", "MIN_SOURCES", "FORGED_MAX_PER_SOURCE", "REFLECT_SHARE")
MAX_PORTS = 10         # destination ports listed at most; a flood at more is "to random ports"

BASE = f"{m.NOT_ACCEPTED} AND dst_ip IS NOT NULL AND src_ip IS NOT NULL AND ts IS NOT NULL"


def detect(ctx):
    me = m.short(__name__)
    t = ctx.table
    win = max(int(ctx.tun(me, "WINDOW")), 1)
    least, sources = max(int(ctx.tun(me, "MIN_PACKETS")), 1), int(ctx.tun(me, "MIN_SOURCES"))
    bucket = f"CAST(floor({m.secs('ts')} / {win}) AS BIGINT)"
    # A flood is MIN_PACKETS packets in a row at one target (address, protocol), all within WINDOW
    # seconds and from at least MIN_SOURCES distinct sources, wherever they start; such runs of
    # packets less than WINDOW apart are one flood. They lie inside two aligned slices of WINDOW seconds, one
    # of which holds at least half of MIN_PACKETS: those slices (a grouped count, cheap over the
    # whole log) and their neighbours are the only records read again, and of those, pairs of
    # slices that together hold too few packets or sources are dropped (a long port scan of one
    # host is many packets from one source, beside a little background). Each run's records are
    # then counted from the whole log (a pause inside a run may hold packets of slices not read again).
    half = (least + 1) // 2
    mat = "MATERIALIZED " if m.is_duckdb(ctx) else ""   # (read twice)
    part = "PARTITION BY dst_ip, proto ORDER BY"
    same = "IS NOT DISTINCT FROM"
    floods = ctx.query(f"""
        WITH b AS (SELECT dst_ip AS b_dst, {bucket} AS b_k FROM {t} WHERE {BASE}
                   GROUP BY dst_ip, {bucket} HAVING count(*) >= {half}),
        c AS (SELECT DISTINCT b_dst AS c_dst, b_k + o AS c_k FROM b CROSS JOIN (VALUES (-1), (0), (1)) AS v(o)),
        e0 AS {mat}(SELECT dst_ip, proto, src_ip, ts, {m.secs('ts')} AS s, c_k AS k FROM {t}
                    JOIN c ON dst_ip = c_dst AND {bucket} = c_k WHERE {BASE}),
        cs AS (SELECT dst_ip AS s_dst, proto AS s_proto, k AS s_k, count(*) AS n, count(DISTINCT src_ip) AS srcs
               FROM e0 GROUP BY dst_ip, proto, k),
        pr AS (SELECT a.s_dst, a.s_proto, a.s_k FROM cs a
               LEFT JOIN cs z ON z.s_dst = a.s_dst AND z.s_proto {same} a.s_proto AND z.s_k = a.s_k + 1
               WHERE a.n + coalesce(z.n, 0) >= {least} AND a.srcs + coalesce(z.srcs, 0) >= {sources}),
        ok AS (SELECT DISTINCT s_dst AS o_dst, s_proto AS o_proto, s_k + o AS o_k
               FROM pr CROSS JOIN (VALUES (0), (1)) AS v(o)),
        e AS (SELECT e0.* FROM e0 JOIN ok ON dst_ip = o_dst AND proto {same} o_proto AND k = o_k),
        w AS (SELECT dst_ip, proto, s, lead(s, {least - 1}) OVER ({part} s, src_ip) AS s_last,
                     count(DISTINCT src_ip) OVER ({part} s, src_ip ROWS BETWEEN CURRENT ROW AND {least - 1} FOLLOWING)
                         AS srcs FROM e),
        q AS (SELECT dst_ip, proto, s AS lo, s_last AS hi FROM w WHERE s_last < s + {win} AND srcs >= {sources}),
        g AS (SELECT *, CASE WHEN lo < max(hi) OVER ({part} lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                                       + {win} THEN 0 ELSE 1 END AS brk FROM q),
        r AS (SELECT dst_ip AS r_dst, proto AS r_proto, lo, hi,
                     sum(brk) OVER ({part} lo, hi ROWS UNBOUNDED PRECEDING) AS run FROM g),
        runs AS (SELECT r_dst, r_proto, run, min(lo) AS lo, max(hi) AS hi FROM r GROUP BY r_dst, r_proto, run)
        SELECT r_dst AS dst_ip, r_proto AS proto, count(*) AS n, count(DISTINCT src_ip) AS srcs,
               min(ts) AS t0, max(ts) AS t1
        FROM runs JOIN {t} ON dst_ip = r_dst AND proto {same} r_proto
                             AND {m.secs('ts')} >= lo AND {m.secs('ts')} <= hi
        WHERE {BASE}
        GROUP BY r_dst, r_proto, run
        ORDER BY dst_ip, proto, t0""")
    return [_finding(ctx, me, f) for f in floods]


def _where(ctx, dst, proto, t0, t1) -> str:
    return (f"{BASE} AND dst_ip = {ctx.lit(dst)} AND proto {'IS NULL' if proto is None else '= ' + ctx.lit(proto)} "
            f"AND ts >= {ctx.lit(t0)} AND ts <= {ctx.lit(t1)}")


def predicates(ctx) -> list[str]:
    """The records of the flood findings already made, one predicate each (ipaddr.py leaves them out
    of bogon.source: a forged flood's impossible sources are part of the flood, not background)."""
    return [f"({_where(ctx, f.targets[0], f.details.get('proto'), f.first_seen, f.last_seen)})"
            for f in ctx.findings if f.id == "flood" and f.targets and f.first_seen is not None]


def _finding(ctx, me, f):
    dst, proto = f["dst_ip"], f["proto"]
    where = _where(ctx, dst, proto, f["t0"], f["t1"])
    # (detect() counted the records and sources of exactly ``where``: its first and last times bound it)
    n, srcs = int(f["n"]), int(f["srcs"])
    top = ctx.query(f"""SELECT src_port, count(*) AS n FROM {ctx.table} WHERE {where}
                        GROUP BY src_port ORDER BY count(*) DESC, src_port LIMIT 1""")
    ports = [int(p["dst_port"]) for p in ctx.query(
        f"SELECT DISTINCT dst_port FROM {ctx.table} WHERE {where} AND dst_port IS NOT NULL ORDER BY dst_port "
        f"LIMIT {MAX_PORTS + 1}")]
    many_ports = len(ports) > MAX_PORTS
    per_src = n / max(srcs, 1)
    secs = max((f["t1"] - f["t0"]).total_seconds(), 1.0)
    what = f"{proto or 'IP'}" + (" to random ports" if many_ports else f" port {', '.join(map(str, ports))}"
                                 if ports else "")
    sport = top[0]["src_port"] if top else None
    share = (int(top[0]["n"]) / n) if top and n else 0.0
    if proto == "udp" and sport is not None and share >= float(ctx.tun(me, "REFLECT_SHARE")):
        kind = "reflected"
        how = (f"{share:.0%} of them from UDP source port {sport}: answers to questions nobody here asked, "
               f"which the attacker sent to those servers with this host's address forged as the sender "
               f"(a reflection flood)")
    elif per_src <= float(ctx.tun(me, "FORGED_MAX_PER_SOURCE")):
        kind = "forged"
        how = (f"{per_src:.1f} per source: a flood whose sender addresses are forged, picked anew for "
               f"(almost) every packet")
    else:
        kind = "distributed"
        how = f"{per_src:.0f} per source: many machines sending at once (a botnet)"
    return ctx.finding(
        "flood", None, where, targets=[dst], ports=[] if many_ports else ports,
        summary=f"{m.plural(n, 'packet')} at {dst} ({what}) in {secs:.0f} s, about {n / secs:.0f} a second, "
                f"from {m.plural(srcs, 'source')}, {how}: a denial-of-service flood aimed at this host",
        details={"kind": kind, "proto": proto, "sources": srcs, "packets_per_source": round(per_src, 2),
                 "packets_per_second": round(n / secs, 1), "top_source_port": sport,
                 "top_source_port_share": round(share, 3)})
