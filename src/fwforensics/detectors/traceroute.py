"""Traceroutes: someone tracing the path to you, or someone inside tracing out (FAQ 5.1).

* ``traceroute.unix``: UDP to ports 33434-33600 (``PORT_RANGE``), port numbers rising with each
  probe, about three probes per hop. The classic tool starts at 33434 and adds one per probe,
  so the first port that reaches you tells the distance: hops = (first port - 33434) / 3.
* ``traceroute.windows``: ICMP echo requests whose TTL on arrival is small and rises in steps
  (tracert, ``traceroute -I``, mtr). An ordinary ping arrives with one steady, large TTL.
  (psad calls this pattern the "Nachi worm"; the worm's pings do not rise in TTL.)
* ``traceroute.from_inside``: time-exceeded and port-unreachable messages coming back for a host
  of yours, quoting traceroute probes (UDP 33434-33600 or ICMP echo). ``src`` is the inside host
  doing the tracing; the routers that answered are in ``details.routers``.

Look-alikes kept out: a single UDP datagram that happens to use a port in the range (needs
``MIN_PROBES`` distinct ports, rising), a steady ping, a lone time-exceeded from a routing loop.
"""
from __future__ import annotations

from . import _bulk, zen

IDS = ("traceroute.unix", "traceroute.windows", "traceroute.from_inside")
ORDER = 25

# Tunables
PORT_RANGE = (33434, 33600)  # UDP ports traceroute uses by default (30 hops x 3 probes stay inside)
SESSION_GAP = 60             # seconds of silence between probes that end one traceroute; raise for
                             # very slow tracers (-w 5 and many silent hops), lower to split repeats
MIN_PROBES = 3               # distinct probes (ports, or echo TTLs x probes) before a trace is named;
                             # lower catches traces ending one hop past you, at the risk of noise
RISING_SHARE = 0.6           # share of consecutive probes whose port (or TTL) does not fall; lower for
                             # tracers that send probes in parallel and out of order
LOW_TTL = 5                  # an echo arriving with a TTL at most this is a traceroute candidate
PROBES_PER_HOP = 3           # probes per hop assumed for the hop estimate
MIN_ANSWERS = 3              # ICMP answers (time exceeded / port unreachable) for from_inside
TUNABLES = ("PORT_RANGE", "SESSION_GAP", "MIN_PROBES", "RISING_SHARE", "LOW_TTL", "PROBES_PER_HOP",
            "MIN_ANSWERS")


def _m() -> str:
    return __name__.rsplit(".", 1)[-1]


def _sessions(ctx, base: str, key: str, order_val: str) -> str:
    """Rows of ``base`` with a session number per ``key`` and the previous ``order_val``."""
    gap = int(ctx.tun(_m(), "SESSION_GAP"))
    w = f"PARTITION BY {key} ORDER BY {ctx.record_order()}"
    return f"""
    b AS ({base}),
    g AS (SELECT b.*, CASE WHEN LAG(ts) OVER ({w}) IS NULL
                             OR ts > LAG(ts) OVER ({w}) + INTERVAL '{gap}' SECOND THEN 1 ELSE 0 END AS brk
          FROM b),
    s AS (SELECT g.*, SUM(brk) OVER ({w} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sess FROM g),
    r AS (SELECT s.*, LAG({order_val}) OVER (PARTITION BY {key}, sess ORDER BY {ctx.record_order()}) AS prev_v
          FROM s)"""


def detect(ctx):
    return _unix(ctx) + _windows(ctx) + _inside(ctx)


def _evidence(ctx, base: str, keys: list[str], rows: list[dict], key_cols: tuple[str, ...]):
    """Evidence of every finding of ``rows`` (the ``where`` of each: ``base``, the keys, the time
    span) from one grouped table, or None when each finding is to look up its own."""
    if not rows or not _bulk.can_group(ctx):
        return None
    _bulk.prefetch_zen(ctx, [r["src_ip"] for r in rows])
    with _bulk.Groups(ctx, base, keys, [tuple(r[c] for c in key_cols) + (r["first_seen"], r["last_seen"])
                                        for r in rows]) as g:
        ev = g.evidence()
    return [ev.get(i) or _bulk.empty() for i in range(len(rows))]


def _unix(ctx):
    m, t = _m(), ctx.table
    lo, hi = ctx.tun(m, "PORT_RANGE")
    minp, share = int(ctx.tun(m, "MIN_PROBES")), float(ctx.tun(m, "RISING_SHARE"))
    base = (f"SELECT src_ip, dst_ip, dst_port, ttl, ts, source_file, line FROM {t} "
            f"WHERE proto = 'udp' AND src_ip IS NOT NULL AND dst_port BETWEEN {int(lo)} AND {int(hi)}")
    rows = ctx.query(f"""WITH {_sessions(ctx, base, 'src_ip, dst_ip', 'dst_port')}
        SELECT src_ip, dst_ip, sess, count(*) AS n, count(DISTINCT dst_port) AS ports,
               min(dst_port) AS first_port, max(dst_port) AS last_port, min(ts) AS first_seen, max(ts) AS last_seen,
               sum(CASE WHEN prev_v IS NOT NULL THEN 1 ELSE 0 END) AS steps,
               sum(CASE WHEN prev_v IS NOT NULL AND dst_port >= prev_v THEN 1 ELSE 0 END) AS rising,
               min(ttl) AS ttl_min, max(ttl) AS ttl_max
        FROM r GROUP BY src_ip, dst_ip, sess
        HAVING count(DISTINCT dst_port) >= {minp}
        ORDER BY src_ip, dst_ip, min(ts)""")
    out = []
    per_hop = int(ctx.tun(m, "PROBES_PER_HOP"))
    rows = [r for r in rows if not (r["steps"] and r["rising"] < share * r["steps"])]
    ev = _evidence(ctx, f"proto = 'udp' AND dst_port BETWEEN {int(lo)} AND {int(hi)}", ["src_ip", "dst_ip"], rows,
                   ("src_ip", "dst_ip"))
    for i, r in enumerate(rows):
        hops = (r["first_port"] - int(lo)) // per_hop
        where = (f"proto = 'udp' AND src_ip = {ctx.lit(r['src_ip'])} AND dst_ip = {ctx.lit(r['dst_ip'])} "
                 f"AND dst_port BETWEEN {int(lo)} AND {int(hi)} AND ts >= {ctx.lit(r['first_seen'])} "
                 f"AND ts <= {ctx.lit(r['last_seen'])}")
        out.append(ctx.finding(
            "traceroute.unix", r["src_ip"], where,
            summary=(f"{r['src_ip']} traced the route to {r['dst_ip']} (UDP traceroute, {r['n']} probes on ports "
                     f"{r['first_port']}-{r['last_port']}); "
                     + (f"the first port seen puts it about {hops} hop(s) away" if hops else
                        "its first probes (sent with a TTL of 1) were seen here: the tracer is on an attached network, "
                        "or is this host itself")),
            severity="info", targets=[r["dst_ip"]], ports=range(r["first_port"], r["last_port"] + 1),
            details={"probes": r["n"], "first_port": r["first_port"], "last_port": r["last_port"],
                     "hops_estimate": hops, "arrival_ttl": [r["ttl_min"], r["ttl_max"]],
                     "zen": zen.short(ctx, r["src_ip"])}, evidence=ev[i] if ev else None))
    return out


def _windows(ctx):
    m, t = _m(), ctx.table
    minp, share = int(ctx.tun(m, "MIN_PROBES")), float(ctx.tun(m, "RISING_SHARE"))
    low = int(ctx.tun(m, "LOW_TTL"))
    echo = "((proto = 'icmp' AND icmp_type = 8) OR (proto = 'ipv6-icmp' AND icmp_type = 128))"
    # only the (source, destination) pairs with an echo arriving at LOW_TTL or less get sessions: a
    # trace needs one (an empty string stands for a missing destination on both sides of the join)
    low_pairs = (f"SELECT src_ip AS lo_src, coalesce(dst_ip, '') AS lo_dst FROM {t} "
                 f"WHERE {echo} AND src_ip IS NOT NULL AND ttl <= {low} GROUP BY src_ip, coalesce(dst_ip, '')")
    base = (f"SELECT src_ip, dst_ip, ttl, icmp_seq, ts, source_file, line FROM {t} "
            f"JOIN ({low_pairs}) lp ON src_ip = lp.lo_src AND coalesce(dst_ip, '') = lp.lo_dst "
            f"WHERE {echo} AND src_ip IS NOT NULL AND ttl IS NOT NULL")
    rows = ctx.query(f"""WITH {_sessions(ctx, base, 'src_ip, dst_ip', 'ttl')}
        SELECT src_ip, dst_ip, sess, count(*) AS n, count(DISTINCT ttl) AS ttls, min(ttl) AS ttl_min,
               max(ttl) AS ttl_max, min(ts) AS first_seen, max(ts) AS last_seen, min(icmp_seq) AS first_seq,
               sum(CASE WHEN prev_v IS NOT NULL THEN 1 ELSE 0 END) AS steps,
               sum(CASE WHEN prev_v IS NOT NULL AND ttl >= prev_v THEN 1 ELSE 0 END) AS rising,
               sum(CASE WHEN prev_v IS NOT NULL AND ttl > prev_v THEN 1 ELSE 0 END) AS ups
        FROM r GROUP BY src_ip, dst_ip, sess
        HAVING count(*) >= {minp} AND count(DISTINCT ttl) >= 2 AND min(ttl) <= {low}
        ORDER BY src_ip, dst_ip, min(ts)""")
    out = []
    rows = [r for r in rows if not (not r["steps"] or r["rising"] < share * r["steps"] or r["ups"] < 1)]
    ev = _evidence(ctx, echo, ["src_ip", "dst_ip"], rows, ("src_ip", "dst_ip"))
    for i, r in enumerate(rows):
        where = (f"{echo} AND src_ip = {ctx.lit(r['src_ip'])} AND dst_ip = {ctx.lit(r['dst_ip'])} "
                 f"AND ts >= {ctx.lit(r['first_seen'])} AND ts <= {ctx.lit(r['last_seen'])}")
        out.append(ctx.finding(
            "traceroute.windows", r["src_ip"], where,
            summary=(f"{r['src_ip']} traced the route to {r['dst_ip']} with ICMP echo requests whose TTL rose from "
                     f"{r['ttl_min']} to {r['ttl_max']} ({r['n']} probes): Windows tracert or traceroute -I"),
            severity="info", targets=[r["dst_ip"]],
            details={"probes": r["n"], "arrival_ttl": [r["ttl_min"], r["ttl_max"]], "first_seq": r["first_seq"],
                     "zen": zen.short(ctx, r["src_ip"])}, evidence=ev[i] if ev else None))
    return out


def _inside(ctx):
    m, t = _m(), ctx.table
    lo, hi = ctx.tun(m, "PORT_RANGE")
    need = int(ctx.tun(m, "MIN_ANSWERS"))
    te = "((proto = 'icmp' AND icmp_type = 11) OR (proto = 'ipv6-icmp' AND icmp_type = 3))"
    pu = "((proto = 'icmp' AND icmp_type = 3 AND icmp_code = 3) OR (proto = 'ipv6-icmp' AND icmp_type = 1 AND icmp_code = 4))"
    probe = (f"((inner_proto = 'udp' AND inner_dst_port BETWEEN {int(lo)} AND {int(hi)}) "
             f"OR inner_proto IN ('icmp', 'ipv6-icmp'))")
    tracer = "coalesce(inner_src_ip, dst_ip)"
    if ctx.home_nets:
        # With the home network known, the tracer must be in it: a capture also holds the answers
        # that our own routers send to someone tracing in from outside.
        probe = f"{probe} AND {ctx.home_predicate(tracer)}"
    base = (f"SELECT {tracer} AS tracer, src_ip, inner_dst_ip, inner_dst_port, inner_ttl, ts, source_file, line, "
            f"CASE WHEN {te} THEN 1 ELSE 0 END AS is_te FROM {t} "
            f"WHERE ({te} OR {pu}) AND {probe} AND {tracer} IS NOT NULL")
    rows = ctx.query(f"""WITH {_sessions(ctx, base, 'tracer', 'inner_ttl')}
        SELECT tracer, sess, count(*) AS n, sum(is_te) AS te, count(DISTINCT src_ip) AS answerers,
               count(DISTINCT CASE WHEN is_te = 1 THEN src_ip END) AS routers,
               min(ts) AS first_seen, max(ts) AS last_seen
        FROM r GROUP BY tracer, sess
        HAVING count(*) >= {need} OR count(DISTINCT CASE WHEN is_te = 1 THEN src_ip END) >= 2
        ORDER BY tracer, min(ts)""")
    out = []
    pre = None
    base = f"({te} OR {pu}) AND {probe}"
    if rows and _bulk.can_group(ctx):   # every finding's lists and evidence at once
        with _bulk.Groups(ctx, base, [tracer], [(r["tracer"], r["first_seen"], r["last_seen"]) for r in rows],
                          ("src_ip", "inner_dst_ip", "proto", "icmp_type")) as g:
            routers_of: dict[int, list] = {}
            for gid, ip in g.rows(f"SELECT gid, src_ip FROM {{g}} WHERE {te} GROUP BY gid, src_ip "
                                  f"ORDER BY gid, min(ts), src_ip"):
                routers_of.setdefault(gid, []).append(ip)
            dests_of = g.distinct("inner_dst_ip")
            answ_of = g.distinct("src_ip")
            for gid, in g.rows("SELECT gid FROM {g} GROUP BY gid HAVING count(*) > count(src_ip)"):
                answ_of.setdefault(gid, []).append(None)   # DISTINCT keeps NULL, sorted last
            ev_of = g.evidence()
        pre = [(routers_of.get(i, []), dests_of.get(i, []), answ_of.get(i, []), ev_of.get(i) or _bulk.empty())
               for i in range(len(rows))]
    for i, r in enumerate(rows):
        tr = r["tracer"]
        where = (f"{base} AND {tracer} = {ctx.lit(tr)} "
                 f"AND ts >= {ctx.lit(r['first_seen'])} AND ts <= {ctx.lit(r['last_seen'])}")
        if pre is not None:
            routers, dests, answerers, ev = pre[i]
        else:
            ev = None
            routers = [x["src_ip"] for x in ctx.query(
                f"SELECT src_ip FROM {t} WHERE {where} AND {te} GROUP BY src_ip ORDER BY min(ts), src_ip")]
            dests = [x["d"] for x in ctx.query(
                f"SELECT DISTINCT inner_dst_ip AS d FROM {t} WHERE {where} AND inner_dst_ip IS NOT NULL ORDER BY d")]
            answerers = [x["src_ip"] for x in ctx.query(
                f"SELECT DISTINCT src_ip FROM {t} WHERE {where} ORDER BY src_ip")]
        # without a home network the answers alone cannot tell our tracer from one outside whose
        # answers our side sent (a capture holds both): said, not asserted
        side = "(inside)" if ctx.home_nets else "(taken as inside: no home network is known)"
        out.append(ctx.finding(
            "traceroute.from_inside", tr, where,
            summary=(f"{tr} {side} ran a traceroute to {', '.join(dests[:3]) or 'somewhere'}: {r['te']} time-exceeded "
                     f"answer(s) from {len(routers)} router(s) and {r['n'] - r['te']} unreachable(s) came back and were "
                     f"logged"),
            confidence=None if ctx.home_nets else
            "low: with no home network known, a trace from outside whose answers our side sent looks the same",
            severity="info", targets=dests,
            details={"routers": routers, "answering_hosts": answerers, "time_exceeded": r["te"],
                     "port_unreachable": r["n"] - r["te"], "traced": dests}, evidence=ev))
    return out
