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
logged is not a flood. Consecutive busy minutes of one target (address and protocol) are one
finding (a minute counts as busy from half of MIN_PACKETS, so that a flood across the boundary of
two minutes is not missed); its ports are listed unless the flood aims at many (reflected answers
go to random ones).
"""
from __future__ import annotations

from . import _misc as m

IDS = ("flood",)
ORDER = 45
NEEDS = ()   # reads no findings (predicates() is ipaddr's, over the findings filed by then)

# Tunables
WINDOW = 60            # seconds per time slice in which packets are counted
MIN_PACKETS = 1000     # packets at one target (host, protocol) in one slice; background
                       # scanning sends a single address a few dozen a minute at most. Lower to see
                       # smaller floods (and busy noise sooner)
MIN_SOURCES = 100      # distinct sources in that slice: fewer is one or a few senders, which the
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
    least, sources = int(ctx.tun(me, "MIN_PACKETS")), int(ctx.tun(me, "MIN_SOURCES"))
    bucket = f"CAST(floor({m.secs('ts')} / {win}) AS BIGINT)"
    # Packets are counted per target (address, protocol) in aligned slices of WINDOW seconds. A
    # flood that straddles a slice boundary has half of it on each side: the slices with at least
    # half of MIN_PACKETS are kept (a grouped count, cheap over the whole log; the sources are
    # counted in those only), consecutive ones of a target are joined, and a run that reaches
    # MIN_PACKETS is a flood when enough distinct sources sent it.
    half = max((least + 1) // 2, 1)
    busy = ctx.query(f"""
        WITH b AS (SELECT dst_ip AS b_dst, {bucket} AS b_k FROM {t} WHERE {BASE}
                   GROUP BY dst_ip, {bucket} HAVING count(*) >= {half}),
        e AS (SELECT dst_ip, proto, src_ip, ts, {bucket} AS k FROM {t} WHERE {BASE})
        SELECT e.dst_ip, e.proto, e.k, count(*) AS n, count(DISTINCT e.src_ip) AS srcs,
               min(e.ts) AS t0, max(e.ts) AS t1
        FROM e JOIN b ON e.dst_ip = b.b_dst AND e.k = b.b_k
        GROUP BY e.dst_ip, e.proto, e.k HAVING count(*) >= {half}
        ORDER BY e.dst_ip, e.proto, e.k""")
    runs: list[dict] = []
    for r in busy:
        last = runs[-1] if runs else None
        if last and (last["dst_ip"], last["proto"]) == (r["dst_ip"], r["proto"]) and r["k"] == last["k"] + 1:
            last.update(k=r["k"], t1=r["t1"], n=last["n"] + r["n"], srcs=last["srcs"] + r["srcs"])
        else:
            runs.append(dict(r))
    floods = []
    for f in runs:
        # (the slices' source counts summed: at least the run's; a scan's busy minutes stop here)
        if f["n"] < least or f["srcs"] < sources:
            continue
        (c,) = ctx.query(f"SELECT count(DISTINCT src_ip) AS srcs FROM {t} WHERE "
                         f"{_where(ctx, f['dst_ip'], f['proto'], f['t0'], f['t1'])}")
        if int(c["srcs"]) >= sources:
            floods.append(dict(f, srcs=int(c["srcs"])))
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
    # (the run's slices hold exactly the records of ``where``: their count, and the sources counted
    # for the run, are the flood's)
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
