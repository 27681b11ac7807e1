"""worm.slammer, worm.mssql and worm.telnet: the SQL Server worms and today's telnet worms.

SQL Slammer (January 2003) is one UDP datagram to port 1434 carrying 376 bytes of code
(UDP length 384, IP length 404), sent as fast as the infected machine can. Other packets to
UDP 1434 (e.g. a 1-byte SQL Browser ping from a scanner) are not Slammer. TCP 1433 sweeps come
from worms and bots that try default or weak SQL Server passwords. TCP 23 and 2323 attempts
(worm.telnet, after the FAQ) come from Mirai (2016) and the bots built from its source, which log
in to cameras, recorders and routers with their factory passwords; Mirai tries 2323 about once in
ten. Both are a source whose attempts are mostly on those ports (PORT_WORM_MIN_SHARE).
"""
from __future__ import annotations

from . import _misc as m

IDS = ("worm.slammer", "worm.mssql", "worm.telnet")
ORDER = 50

# Tunables
SLAMMER_IP_LEN = 404      # IP total length of a Slammer datagram
SLAMMER_UDP_LEN = 384     # its UDP length
SLAMMER_PAYLOAD = 376     # its payload
PORT_WORM_MIN_SHARE = 0.5  # share of a source's (non-accepted) destination ports that must be the worm's
                           # (1433; 23 and 2323): lower it to report them inside broad scans as well
PORT_WORM_MIN_RECORDS = 1  # attempts on the worm's port(s) per source; raise to report only real sweeps
MIRAI_SEQ_SHARE = 0.9      # of a telnet worm's SYNs with a logged sequence number, the share that must be
                           # the destination address for its summary to name Mirai's scanner code
MAX_SOURCES = m.MAX_SOURCES  # more sources than this for one id: the rest share one aggregate finding
TOP_SOURCES = m.TOP_SOURCES  # busiest sources that keep their own finding then (see _misc.py);
                             # sources inside the home nets always keep their own (infected hosts)
TUNABLES = ("SLAMMER_IP_LEN", "SLAMMER_UDP_LEN", "SLAMMER_PAYLOAD", "PORT_WORM_MIN_SHARE",
            "PORT_WORM_MIN_RECORDS", "MIRAI_SEQ_SHARE") + m.AGG_TUNABLES


def detect(ctx):
    return _slammer(ctx) + _port_worms(ctx)


def _slammer(ctx):
    me = m.short(__name__)
    t = ctx.table
    size = (f"(ip_len = {int(ctx.tun(me, 'SLAMMER_IP_LEN'))} OR udp_len = {int(ctx.tun(me, 'SLAMMER_UDP_LEN'))} "
            f"OR payload_len = {int(ctx.tun(me, 'SLAMMER_PAYLOAD'))})")
            # IPv6 ip_len is the payload length: 384 = UDP length, matched by the udp_len test too
    unknown = "(ip_len IS NULL AND udp_len IS NULL AND payload_len IS NULL)"
    base = f"proto = 'udp' AND dst_port = 1434 AND src_ip IS NOT NULL"
    rows = ctx.query(f"""
        SELECT src_ip, count(*) AS n, count(DISTINCT dst_ip) AS hosts,
               sum(CASE WHEN {size} THEN 1 ELSE 0 END) AS sized,
               sum(CASE WHEN {unknown} THEN 1 ELSE 0 END) AS unsized,
               {m.secs('max(ts)')} - {m.secs('min(ts)')} AS span
        FROM {t} WHERE {base} AND ({size} OR {unknown})
        GROUP BY src_ip ORDER BY src_ip""")
    rows, rest = m.split_sources(ctx, me, rows)
    # many sources: every look-up below reads a copy of the matching records, not the whole log
    with m.narrowed(ctx, f"{base} AND ({size} OR {unknown})" if rest else None):
        return _slammer_findings(ctx, me, base, size, unknown, rows, rest)


def _slammer_findings(ctx, me, base, size, unknown, rows, rest):
    out = []
    scope = m.own_scope(ctx, rows, rest)
    if rest:
        where = m.rest_where(ctx, f"{base} AND ({size} OR {unknown})", rows, rest)
        sized = sum(1 for r in rest if r["sized"])
        details = m.rest_details(rest, slammer_sized_sources=sized)
        out.append(ctx.finding(
            "worm.slammer", None, where, targets=m.targets(ctx, where), ports=[1434], details=details,
            evidence=m.evidence(ctx, where),
            confidence=("high: the datagram size is Slammer's (376-byte payload)" if sized == len(rest) else
                        f"mixed: {sized} of {len(rest)} sources sent Slammer's exact size"),
            summary=f"{m.plural(details['records'], 'UDP 1434 datagram')} from {m.more_sources(rest)}: "
                    f"SQL Slammer-infected machines elsewhere on the Internet"))
    with m.sources_only(ctx, [r["src_ip"] for r in rows]):   # their records only
        for r in rows:
            src, n = r["src_ip"], int(r["n"])
            where = f"{base} AND ({size} OR {unknown}){scope} AND src_ip = {ctx.lit(src)}"
            span = float(r["span"] or 0)
            rate = n / span if span > 0 else None
            sized = int(r["sized"] or 0)
            conf = ("high: the datagram size is Slammer's (376-byte payload)" if sized else
                    "low: the log does not record the datagram size, only the port matches")
            out.append(ctx.finding(
                "worm.slammer", src, where,
                summary=f"{m.plural(n, 'UDP 1434 datagram')} from {src} to {m.plural(int(r['hosts']), 'host')}"
                        + (" with Slammer's exact size" if sized else "") + ": an SQL Slammer-infected machine"
                        + (f" ({rate:.1f} per second)" if rate else ""),
                targets=m.targets(ctx, where), ports=[1434], confidence=conf,
                details={"slammer_sized": sized, "hosts": int(r["hosts"]),
                         "per_second": round(rate, 2) if rate else None}))
    return out


# the worms that sweep one service's port(s): (finding id, ports, what an attempt is, who sends them)
PORT_WORMS = (
    ("worm.mssql", (1433,), "MS SQL Server (TCP 1433)", "worms and bots hunting for weak SQL Server logins",
     "a worm or bot hunting for weak SQL Server logins"),
    ("worm.telnet", (23, 2323), "telnet (TCP 23/2323)",
     "Mirai-family bots hunting for devices that still have their factory passwords",
     "a Mirai-family bot hunting for devices that still have their factory passwords"),
)


def _port_worms(ctx):
    out = []
    for fid, ports, what, many, one in PORT_WORMS:
        out += _port_worm(ctx, fid, ports, what, many, one)
    return out


def _port_worm(ctx, fid, ports, what, many, one):
    me = m.short(__name__)
    t = ctx.table
    base = f"proto = 'tcp' AND src_ip IS NOT NULL AND dst_port IS NOT NULL AND {m.SYN_ONLY} AND {m.NOT_ACCEPTED}"
    mine = f"dst_port IN ({', '.join(str(p) for p in ports)})"
    # grouped rows first, no DISTINCT aggregate: DuckDB can spill a grouping to disk but not a
    # DISTINCT aggregate (over a 10 M-line log's ~60 k telnet sources it ran out of memory)
    groups = f"""
        WITH p AS (
            SELECT src_ip, dst_port, count(*) AS n FROM {t}
            WHERE {base} AND src_ip IN {m.src_set(ctx, f"SELECT src_ip FROM {t} WHERE {base} AND {mine}")}
            GROUP BY src_ip, dst_port),
        h AS (
            SELECT src_ip, count(*) AS hosts
            FROM (SELECT src_ip, dst_ip FROM {t} WHERE {base} AND {mine} GROUP BY src_ip, dst_ip) d
            GROUP BY src_ip),
        s AS (
            SELECT src_ip, count(*) AS all_ports,
                   sum(CASE WHEN {mine} THEN 1 ELSE 0 END) AS own_ports,
                   sum(CASE WHEN {mine} THEN n ELSE 0 END) AS n,
                   {", ".join(f"sum(CASE WHEN dst_port = {p} THEN n ELSE 0 END) AS n_{p}" for p in ports)}
            FROM p GROUP BY src_ip)
        SELECT s.*, h.hosts FROM s JOIN h ON h.src_ip = s.src_ip
        WHERE s.n >= {int(ctx.tun(me, 'PORT_WORM_MIN_RECORDS'))} AND s.n > 0
          AND s.own_ports >= {float(ctx.tun(me, 'PORT_WORM_MIN_SHARE'))} * s.all_ports"""
    rows = ctx.query(groups + """
        ORDER BY s.src_ip""")
    rows, rest = m.split_sources(ctx, me, rows)
    with m.narrowed(ctx, f"{base} AND {mine}" if rest else None):
        out = _port_worm_findings(ctx, fid, ports, what, many, one, f"{base} AND {mine}", groups, rows, rest)
    if fid == "worm.telnet":
        _mirai_seq(ctx, f"{base} AND {mine}", out)
    return out


# Mirai's scanner sets each SYN's sequence number to the destination address (in its published
# source: the 32 bits of the address, in the same byte order). Where the input holds sequence
# numbers (captures; netfilter's --log-tcp-sequence) the telnet finding says how many of its SYNs
# carry that fingerprint, which no other scanner leaves by chance (1 in 2^32 per packet).
def _mirai_seq(ctx, pred: str, out) -> None:
    if not out or not ctx.query(f"SELECT 1 AS x FROM {ctx.table} WHERE {pred} AND tcp_seq IS NOT NULL LIMIT 1"):
        return
    own = [f for f in out if f.src]
    ip = m.v4_number("dst_ip")
    rows = ctx.query(f"""SELECT src_ip, count(*) AS n, sum(CASE WHEN tcp_seq = {ip} THEN 1 ELSE 0 END) AS k
                         FROM {ctx.table} WHERE {pred} AND tcp_seq IS NOT NULL AND dst_ip NOT LIKE '%:%'
                         GROUP BY src_ip""")
    got = {r["src_ip"]: (int(r["n"]), int(r["k"] or 0)) for r in rows}
    share = float(ctx.tun(m.short(__name__), "MIRAI_SEQ_SHARE"))
    for f in own:
        n, k = got.get(f.src, (0, 0))
        if not n:
            continue
        f.details["seq_logged"], f.details["seq_is_destination"] = n, k
        if k >= share * n:
            f.summary += (f"; {'its SYN carries' if n == 1 else f'{k} of its {n} SYNs carry'} the destination "
                          f"address as sequence number: Mirai's own scanner code")
    agg = [f for f in out if not f.src]
    if agg:
        own_srcs = {f.src for f in own}
        rest = [v for s_, v in got.items() if s_ not in own_srcs]
        n, k = sum(v[0] for v in rest), sum(v[1] for v in rest)
        if n:
            agg[0].details["seq_logged"], agg[0].details["seq_is_destination"] = n, k


def _port_worm_findings(ctx, fid, ports, what, many, one, pred, groups, rows, rest):
    out = []
    scope = m.own_scope(ctx, rows, rest)
    if rest:
        where = m.rest_where(ctx, pred, rows, rest, groups)
        details = m.rest_details(rest)
        out.append(ctx.finding(
            fid, None, where, targets=m.targets(ctx, where), ports=list(ports), details=details,
            evidence=m.evidence(ctx, where),
            summary=f"{m.plural(details['records'], what + ' attempt')} from {m.more_sources(rest)}: {many}"))
    with m.sources_only(ctx, [r["src_ip"] for r in rows]):   # their records only
        for r in rows:
            src = r["src_ip"]
            where = f"{pred}{scope} AND src_ip = {ctx.lit(src)}"
            hosts = int(r["hosts"])
            out.append(ctx.finding(
                fid, src, where,
                summary=f"{src} tried {what} on {m.plural(hosts, 'host')}"
                        + (" (a sweep)" if hosts > 1 else "") + f": {one}",
                targets=m.targets(ctx, where), ports=[p for p in ports if r[f"n_{p}"]],
                details={"hosts": hosts, "attempts": int(r["n"])}))
    return out
