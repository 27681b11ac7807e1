"""proxy.scan: hunting for open proxies (FAQ 5.3).

Open HTTP/SOCKS proxies let people hide where their traffic comes from, so addresses are swept
for the usual proxy ports (``PROXY_PORTS``: 80, 8080, 3128, 8000, 8001, 8888, 1080). A source
is reported when, within one session (``SESSION_GAP``):

* it probed at least ``MIN_PROXY_PORTS`` different proxy ports and they make up most of what it
  probed (``PROXY_SHARE``): a general port scan that happens to include 8080 is a scan, not a
  proxy hunt; or
* it sent the RingZero pattern: probes to 80, 8080 and 3128 of one host, and nothing else,
  within ``RINGZERO_SECONDS`` (the 1999 RingZero trojan's signature; ``details.variant``); or
* it swept one proxy-only port (not 80) across ``SWEEP_MIN_HOSTS`` hosts.

A browser using a proxy on 8080, or clients of a web server on 80, touch one proxy port only
and stay silent.
"""
from __future__ import annotations

from . import _bulk, _misc, zen

IDS = ("proxy.scan",)
ORDER = 40

# Tunables
PROXY_PORTS = (80, 1080, 3128, 8000, 8001, 8080, 8888)
RINGZERO_PORTS = (80, 3128, 8080)
RINGZERO_SECONDS = 60    # the three RingZero probes fall within this many seconds
SESSION_GAP = 900        # seconds of silence that end a source's session
MIN_PROXY_PORTS = 3      # distinct proxy ports; 2 would flag someone trying a site on 80 then 8080
PROXY_SHARE = 0.6        # share of the source's probed ports that must be proxy ports
SWEEP_MIN_HOSTS = 8      # hosts swept on one proxy-only port
TUNABLES = ("PROXY_PORTS", "RINGZERO_PORTS", "RINGZERO_SECONDS", "SESSION_GAP", "MIN_PROXY_PORTS",
            "PROXY_SHARE", "SWEEP_MIN_HOSTS")


def _m() -> str:
    return __name__.rsplit(".", 1)[-1]


def detect(ctx):
    m, t = _m(), ctx.table
    pp = ctx.lit(list(ctx.tun(m, "PROXY_PORTS")))
    rz = list(ctx.tun(m, "RINGZERO_PORTS"))
    gap = int(ctx.tun(m, "SESSION_GAP"))
    bits = "COALESCE(tcp_flag_bits, CASE WHEN tcp_flags = '' THEN 0 ELSE NULL END)"
    probe = (f"proto = 'tcp' AND src_ip IS NOT NULL AND dst_port IS NOT NULL AND MOD({bits}, 64) = 2 "
             f"AND coalesce(action, 'other') <> 'accept'")
    # Sessions need only the order of times: they are cut on the distinct (source, time) pairs
    # (over a 10 M-line log ~590 k of the ~1.05 M probes of the sources kept below), so rows with
    # equal times share a session whatever their order, and the windows sort two narrow columns
    # instead of every probe with its host and port (on two threads those windows at times did not
    # fit DuckDB's 100 MB there); the probes get their session back by an equality join. A source's
    # probes without a time stamp are one session of their own (number 0).
    nm = "NOT MATERIALIZED " if _misc.is_duckdb(ctx) else ""   # (read twice: a second scan, not ~50 MB held)
    w = "PARTITION BY src_ip ORDER BY ts"
    # Only sources that could qualify in some session get sessions: each test below needs, within
    # one session, at least that many distinct proxy ports, RingZero ports or swept hosts, and a
    # session never has more than its source.
    rzp, cp = ctx.lit(rz), ctx.lit(sorted(set(ctx.tun(m, "PROXY_PORTS")) | set(rz)))
    need_pp = max(1, int(ctx.tun(m, "MIN_PROXY_PORTS")))
    need_rz = max(1, len(set(rz)))
    need_sw = max(1, int(ctx.tun(m, "SWEEP_MIN_HOSTS")))
    sessions = f"""c AS (SELECT src_ip FROM {t} WHERE {probe} AND dst_port IN {cp} GROUP BY src_ip
               HAVING count(DISTINCT CASE WHEN dst_port IN {pp} THEN dst_port END) >= {need_pp}
                   OR count(DISTINCT CASE WHEN dst_port IN {rzp} THEN dst_port END) >= {need_rz}
                   OR count(DISTINCT CASE WHEN dst_port IN {pp} AND dst_port <> 80 THEN dst_ip END) >= {need_sw}),
    b AS {nm}(SELECT src_ip, dst_ip, dst_port, ts FROM {t}
          WHERE {probe} AND src_ip IN (SELECT src_ip FROM c)),
    bt AS (SELECT src_ip, ts FROM b WHERE ts IS NOT NULL GROUP BY src_ip, ts),
    g AS (SELECT src_ip, ts, CASE WHEN LAG(ts) OVER ({w}) IS NULL OR ts > LAG(ts) OVER ({w}) + INTERVAL '{gap}' SECOND
                                  THEN 1 ELSE 0 END AS brk FROM bt),
    gs AS (SELECT src_ip, ts, SUM(brk) OVER ({w} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sess FROM g),
    s AS (SELECT b.*, coalesce(gs.sess, 0) AS sess FROM b LEFT JOIN gs ON b.src_ip = gs.src_ip AND b.ts = gs.ts)"""
    with _misc.kept(ctx, sessions, "s") as (defs, s):
        # Only a session with enough distinct proxy ports, ports or hosts can pass a test: the
        # per-host and per-port counts are made for those (over a 10 M-line log ~1% of them). What
        # can spill does: the sessions' distinct ports and hosts are counted from grouped rows, not
        # by DISTINCT aggregates (those could not spill: the query failed DuckDB's 90-100 MB on two
        # threads over a 10 M-line log and was rerun on one, ~+6 s), and the sessions' counts (ag)
        # and the probes of the sessions that may pass (sk), each read more than once, are steps
        # kept in temporary tables (as common table expressions, held in memory whole, they made
        # the query fail 70 MB there, and now and then the detectors' 90 MB).
        counts = f"""SELECT an.src_ip, an.sess, an.n, ap.ports, ap.proxy_ports, ah.hosts, an.first_seen, an.last_seen
           FROM (SELECT src_ip, sess, count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
                 FROM {s} GROUP BY src_ip, sess) an
           JOIN (SELECT src_ip, sess, count(dst_port) AS ports,
                        count(CASE WHEN dst_port IN {pp} THEN dst_port END) AS proxy_ports
                 FROM (SELECT src_ip, sess, dst_port FROM {s} GROUP BY src_ip, sess, dst_port) x
                 GROUP BY src_ip, sess) ap ON an.src_ip = ap.src_ip AND an.sess = ap.sess
           JOIN (SELECT src_ip, sess, count(dst_ip) AS hosts
                 FROM (SELECT src_ip, sess, dst_ip FROM {s} GROUP BY src_ip, sess, dst_ip) x
                 GROUP BY src_ip, sess) ah ON an.src_ip = ah.src_ip AND an.sess = ah.sess"""
        ak = f"proxy_ports >= {need_pp} OR ports >= {need_rz} OR hosts >= {need_sw}"
        steps = [("ag", lambda n: counts),
                 ("sk", lambda n: f"""SELECT x.* FROM {s} x JOIN (SELECT src_ip, sess FROM {n['ag']} WHERE {ak}) ak
                                      ON x.src_ip = ak.src_ip AND x.sess = ak.sess""")]
        with _misc.kept_steps(ctx, defs, steps) as (d2, names):
            ag, sk = names["ag"], names["sk"]
            rows = ctx.query(f"""WITH {d2}
    hd AS (SELECT src_ip, sess, dst_ip, count(dst_port) AS ports,
                  count(CASE WHEN dst_port IN {ctx.lit(rz)} THEN dst_port END) AS rz_ports,
                  min(t0) AS t0, max(t1) AS t1
           FROM (SELECT src_ip, sess, dst_ip, dst_port, min(ts) AS t0, max(ts) AS t1 FROM {sk}
                 GROUP BY src_ip, sess, dst_ip, dst_port) x
           GROUP BY src_ip, sess, dst_ip),
    rzh AS (SELECT src_ip, sess, count(*) AS rz_hosts FROM hd
            WHERE ports = {len(rz)} AND rz_ports = {len(rz)}
              AND t1 <= t0 + INTERVAL '{int(ctx.tun(m, "RINGZERO_SECONDS"))}' SECOND
            GROUP BY src_ip, sess),
    sw AS (SELECT src_ip, sess, max(nh) AS sweep_hosts FROM (
              SELECT src_ip, sess, dst_port, count(dst_ip) AS nh FROM (
                  SELECT src_ip, sess, dst_port, dst_ip FROM {sk} WHERE dst_port IN {pp} AND dst_port <> 80
                  GROUP BY src_ip, sess, dst_port, dst_ip) y
              GROUP BY src_ip, sess, dst_port) x
           GROUP BY src_ip, sess)
    SELECT ag.*, coalesce(rzh.rz_hosts, 0) AS rz_hosts, coalesce(sw.sweep_hosts, 0) AS sweep_hosts
    FROM {ag} ag
            LEFT JOIN rzh ON ag.src_ip = rzh.src_ip AND ag.sess = rzh.sess
            LEFT JOIN sw ON ag.src_ip = sw.src_ip AND ag.sess = sw.sess
    WHERE ag.proxy_ports >= 1 AND ({ak})
    ORDER BY ag.src_ip, ag.first_seen""")
    hits = []
    for r in rows:
        hunt = (r["proxy_ports"] >= int(ctx.tun(m, "MIN_PROXY_PORTS"))
                and r["proxy_ports"] >= float(ctx.tun(m, "PROXY_SHARE")) * r["ports"])
        ring = r["rz_hosts"] >= 1
        sweep = r["sweep_hosts"] >= int(ctx.tun(m, "SWEEP_MIN_HOSTS"))
        if hunt or ring or sweep:
            hits.append((r, hunt, ring, sweep))
    base = f"{probe} AND dst_port IN {pp}"
    _bulk.prefetch_zen(ctx, [r["src_ip"] for r, *_ in hits])
    if hits and _bulk.can_group(ctx):   # ports, targets and evidence of every finding at once
        with _bulk.Groups(ctx, base, ["src_ip"], [(r["src_ip"], r["first_seen"], r["last_seen"]) for r, *_ in hits],
                          ("dst_ip", "dst_port")) as g:
            ports_of, targets_of, ev_of = g.distinct("dst_port"), g.distinct("dst_ip", 65), g.evidence()
        pre = [(ports_of.get(i, []), targets_of.get(i, []), ev_of.get(i) or _bulk.empty()) for i in range(len(hits))]
    else:
        pre = None
    out = []
    for i, (r, hunt, ring, sweep) in enumerate(hits):
        src = r["src_ip"]
        where = f"{base} AND src_ip = {ctx.lit(src)} AND " + (
            "ts IS NULL" if r["first_seen"] is None   # (session 0: the source's probes without a time)
            else f"ts >= {ctx.lit(r['first_seen'])} AND ts <= {ctx.lit(r['last_seen'])}")
        if pre is not None:
            ports, targets, ev = pre[i]
        else:
            ports = [x["dst_port"] for x in ctx.query(f"SELECT DISTINCT dst_port FROM {t} WHERE {where} ORDER BY dst_port")]
            targets = [x["dst_ip"] for x in ctx.query(
                f"SELECT DISTINCT dst_ip FROM {t} WHERE {where} ORDER BY dst_ip LIMIT 65")]
            ev = None
        how = []
        if hunt:
            how.append(f"{r['proxy_ports']} proxy ports")
        if ring:
            how.append(f"RingZero's 80/8080/3128 triple on {r['rz_hosts']} host(s)")
        if sweep:
            how.append(f"a sweep of a proxy port over {r['sweep_hosts']} hosts")
        out.append(ctx.finding(
            "proxy.scan", src, where,
            summary=f"{src} was hunting for open proxies: " + ", ".join(how) + f" ({', '.join(map(str, ports))})",
            targets=targets if len(targets) <= 64 else r["hosts"], ports=ports,
            details={"variant": "RingZero" if ring else None, "proxy_ports": r["proxy_ports"],
                     "ringzero_hosts": r["rz_hosts"], "zen": zen.short(ctx, src)}, evidence=ev))
    return out
