"""netbios.nbstat and worm.fileshare: UDP 137 node-status lookups, and lookups followed by
connections to the file-sharing ports (139/445) of the same host.

A NetBIOS lookup on its own is background noise: a Windows program asked for the name of one
of our addresses, DNS did not answer in time, so Windows asked the address itself. The
flavour tells who asked: Windows uses source port 137; Samba and other UNIX tools a dynamic
port; personal firewalls a dynamic port with retries after about 15, 30 and 60 seconds.
A worm (or a share scanner such as Legion) looks the name up first and then connects to
139 or 445 of the same host: that sequence is worm.fileshare.
"""
from __future__ import annotations

from . import _misc as m

IDS = ("netbios.nbstat", "worm.fileshare")
ORDER = 50

# Tunables
MIN_LOOKUPS = 1          # lookups from one source before netbios.nbstat; raise to hide single
                         # lookups (they are harmless) at the cost of a less complete picture
SCAN_HOSTS = 10          # distinct hosts looked up by one source that make it a NetBIOS scan
                         # (severity low instead of info); lower to flag smaller scans
FOLLOW_UP_SECONDS = 300  # how long after a lookup a 139/445 attempt still counts as its follow-up;
                         # longer windows catch slow worms but also join unrelated events
FOLLOW_UP_HOSTS = 1      # hosts with lookup-then-connect before worm.fileshare; raise to 2+ to
                         # ignore a single client that looked a name up and then mapped a share
RETRY_TOLERANCE = 0.35   # personal-firewall retry gaps may differ from 15/30/60 s by this share
MAX_OTHER_PORTS = 5      # a source that also tried more than this many other ports is a port scan that
                         # included 137 (the scan detectors report it); raise to name those lookups too
MAX_SOURCES = m.MAX_SOURCES  # more looking-up sources than this: the rest share one aggregate finding
TOP_SOURCES = m.TOP_SOURCES  # busiest sources that keep their own finding then (see _misc.py)
TUNABLES = ("MAX_OTHER_PORTS", "MIN_LOOKUPS", "SCAN_HOSTS", "FOLLOW_UP_SECONDS", "FOLLOW_UP_HOSTS",
            "RETRY_TOLERANCE") + m.AGG_TUNABLES

LOOKUP = "proto = 'udp' AND dst_port = 137"
SHARE = "proto = 'tcp' AND dst_port IN (139, 445)"


def lookup_pred(ctx) -> str:
    bc, _ = m.broadcast_pred(ctx)
    most = int(ctx.tun(m.short(__name__), "MAX_OTHER_PORTS"))
    t = ctx.table
    # port scanners among the sources of any UDP 137 record (only those can matter here): computed
    # once, not by every query that reads the lookups
    scanners = (f"SELECT src_ip FROM {t} WHERE proto IN ('tcp', 'udp') AND dst_port NOT IN (137, 139, 445) "
                f"AND src_ip IS NOT NULL AND src_ip IN {m.src_set(ctx, f'SELECT src_ip FROM {t} WHERE {LOOKUP}')} "
                f"GROUP BY src_ip HAVING count(DISTINCT dst_port) > {most}")
    return f"({LOOKUP} AND src_ip IS NOT NULL AND NOT {bc} AND src_ip NOT IN {m.src_set(ctx, scanners)})"


def detect(ctx):
    look = lookup_pred(ctx)
    with m.narrowed(ctx, look):   # the lookups' records only: every look-up below reads those
        out = _lookups(ctx, look)
    out.extend(_fileshare(ctx, look))
    return out


def _lookups(ctx, look: str):
    me = m.short(__name__)
    t = ctx.table
    tol = float(ctx.tun(me, "RETRY_TOLERANCE"))
    band = lambda s: f"gap BETWEEN {s * (1 - tol)} AND {s * (1 + tol)}"  # noqa: E731
    mn = int(ctx.tun(me, 'MIN_LOOKUPS'))
    gsql = f"""
        WITH q AS (
            SELECT src_ip, dst_ip, src_port, ts,
                   {m.secs('ts')} - {m.secs('lag(ts) OVER (PARTITION BY src_ip, dst_ip ORDER BY ts, line)')} AS gap
            FROM {t} WHERE {look})
        SELECT src_ip, count(*) AS n, count(DISTINCT dst_ip) AS hosts,
               sum(CASE WHEN src_port = 137 THEN 1 ELSE 0 END) AS win,
               sum(CASE WHEN src_port > 1023 THEN 1 ELSE 0 END) AS dyn,
               sum(CASE WHEN {band(15)} THEN 1 ELSE 0 END) AS g15,
               sum(CASE WHEN {band(30)} THEN 1 ELSE 0 END) AS g30,
               sum(CASE WHEN {band(60)} THEN 1 ELSE 0 END) AS g60
        FROM q GROUP BY src_ip HAVING count(*) >= {mn}"""
    rows = ctx.query(gsql + " ORDER BY src_ip")
    out = []
    scan_hosts = int(ctx.tun(me, "SCAN_HOSTS"))
    rows, rest = m.split_sources(ctx, me, rows)
    scope = m.scope(ctx, [r["src_ip"] for r in rows])
    if rest:
        where = m.rest_where(ctx, look, rows, rest, gsql if mn > 1 else None)
        flavours: dict[str, int] = {}
        for r in rest:
            fl = _flavour(r)[0]
            flavours[fl] = flavours.get(fl, 0) + 1
        scans = sum(1 for r in rest if r["hosts"] >= scan_hosts)
        details = m.rest_details(rest, flavours=dict(sorted(flavours.items(), key=lambda kv: (-kv[1], kv[0]))),
                                 name_scans=scans)
        out.append(ctx.finding(
            "netbios.nbstat", None, where, targets=m.targets(ctx, where), ports=[137], evidence=m.evidence(ctx, where),
            severity="low" if scans else "info", details=details,
            summary=f"{m.plural(details['records'], 'NetBIOS node-status lookup')} from {m.more_sources(rest)}"
                    + (f" ({m.plural(scans, 'name scan')} among them)" if scans else "")
                    + ": background noise, Windows resolving our addresses to names when DNS did not answer"))
    for r in rows:
        src, n = r["src_ip"], int(r["n"])
        flavour, who = _flavour(r)
        where = f"{look}{scope} AND src_ip = {ctx.lit(src)}"
        tg = m.targets(ctx, where)
        scan = r["hosts"] >= scan_hosts
        what = (f"a NetBIOS name scan of {r['hosts']} hosts" if scan else
                "background noise: someone resolved one of your addresses to a name and DNS did not answer")
        out.append(ctx.finding(
            "netbios.nbstat", src, where,
            summary=f"{m.plural(n, 'NetBIOS node-status lookup')} from {src} to "
                    f"{m.plural(int(r['hosts']), 'host')}, {who}: {what}",
            targets=tg, ports=[137], severity="low" if scan else "info",
            details={"flavour": flavour, "lookups": n, "hosts": int(r["hosts"]),
                     "windows_source_port": int(r["win"] or 0), "dynamic_source_port": int(r["dyn"] or 0),
                     "retry_gaps_15_30_60": [int(r["g15"] or 0), int(r["g30"] or 0), int(r["g60"] or 0)]}))
    return out


def _flavour(r) -> tuple[str, str]:
    """Who asked, from one source's source ports and retry gaps: (flavour, the words for it)."""
    n = int(r["n"])
    steps = sum(1 for g in ("g15", "g30", "g60") if r[g])
    if r["dyn"] and steps >= 2:
        return "personal-firewall", ("a personal firewall's own lookups (dynamic source port, "
                                     "retries after about 15, 30 and 60 seconds)")
    if r["win"] * 2 >= n:
        return "windows", "Windows (source port 137 to 137)"
    if r["dyn"] * 2 >= n:
        return "samba", "Samba or another UNIX tool (dynamic source port)"
    return "other", "an unusual source port"


def _fileshare(ctx, look: str):
    me = m.short(__name__)
    t = ctx.table
    window = float(ctx.tun(me, "FOLLOW_UP_SECONDS"))
    pairs = f"""
        WITH l AS (SELECT src_ip, dst_ip, min(ts) AS first_lookup FROM {t} WHERE {look} GROUP BY src_ip, dst_ip),
             c AS (SELECT src_ip, dst_ip, ts, dst_port FROM {t} WHERE {SHARE} AND {m.SYN_ONLY}),
             f AS (SELECT c.src_ip, c.dst_ip, c.dst_port FROM c JOIN l ON c.src_ip = l.src_ip AND c.dst_ip = l.dst_ip
                   WHERE {m.secs('c.ts')} >= {m.secs('l.first_lookup')} - 1
                     AND {m.secs('c.ts')} <= {m.secs('l.first_lookup')} + {window})"""
    # per (source, host) pair in one query; the per-source figures are summed here (few pairs)
    per: dict[str, dict] = {}
    for x in ctx.query(pairs + """
        SELECT src_ip, dst_ip, count(*) AS attempts,
               sum(CASE WHEN dst_port = 139 THEN 1 ELSE 0 END) AS p139,
               sum(CASE WHEN dst_port = 445 THEN 1 ELSE 0 END) AS p445
        FROM f GROUP BY src_ip, dst_ip ORDER BY src_ip, dst_ip"""):
        r = per.setdefault(x["src_ip"], {"src_ip": x["src_ip"], "hosts": 0, "attempts": 0, "p139": 0, "p445": 0,
                                         "list": []})
        r["hosts"] += 1
        r["list"].append(x["dst_ip"])
        for k in ("attempts", "p139", "p445"):
            r[k] += int(x[k] or 0)
    least = int(ctx.tun(me, 'FOLLOW_UP_HOSTS'))
    rows = [per[s] for s in sorted(per) if per[s]["hosts"] >= least]
    if not rows:
        return []
    srcs = [r["src_ip"] for r in rows]
    hosts_of = {r["src_ip"]: r["list"] for r in rows}
    # each source's records are those to its own hosts: one set of (source, host) pairs as the base,
    # so that the evidence of every source comes from one grouped look-up
    pairs_in = ctx.lit(sorted(f"{s}|{h}" for s, hs in hosts_of.items() for h in hs))
    out = []
    for r in rows:
        src = r["src_ip"]
        hosts = hosts_of.get(src, [])
        where = (f"src_ip IN {ctx.lit(sorted(srcs))} AND concat(src_ip, '|', dst_ip) IN {pairs_in} AND "
                 f"(({look}) OR ({SHARE} AND {m.SYN_ONLY})) AND src_ip = {ctx.lit(src)}")
        out.append(ctx.finding(
            "worm.fileshare", src, where,
            summary=f"{src} looked up the NetBIOS name of {m.plural(int(r['hosts']), 'host')} and then tried "
                    f"{_tries(r)}: "
                    f"a Windows file-sharing worm or share scanner",
            targets=hosts, ports=[137] + ([139] if r["p139"] else []) + ([445] if r["p445"] else []),
            details={"hosts": int(r["hosts"]), "connection_attempts": int(r["attempts"]),
                     "follow_up_seconds": window}))
    return out


def _tries(r) -> str:
    """"their file-sharing port(s) ..." with the attempts on each port tried (none is left out as 0)."""
    tried = [f"{m.plural(int(r[k]), 'attempt')} on {p}" for k, p in (("p139", 139), ("p445", 445)) if r[k]]
    return f"their file-sharing port{'s' if len(tried) > 1 else ''} ({', '.join(tried)})"
