"""host.link: two source addresses that are one machine (FAQ 3.4, 9.1).

A host with one global IP ID counter stamps every packet it sends, whatever source address it
uses. When two addresses each show a counting IP ID (:mod:`zen`), the same TTL family and hop
distance, overlapping activity, and their IDs merged in time order still form one steadily
rising counter, they are very probably one machine (a dual-homed host leaking its private
address, a server answering from two addresses, a NAT box's own traffic).

Candidates are bounded (``MAX_CANDIDATES`` busiest counting sources) and the merged-counter test
is one set-based query over all candidate pairs.
"""
from __future__ import annotations

from . import zen

IDS = ("host.link",)
ORDER = 45

# Tunables
MIN_PACKETS = 6        # packets each address needs; fewer cannot show a counter reliably
MERGED_SHARE = 0.9     # share of steps in the merged sequence that must be small and positive; lower
                       # links more pairs (more false links between unrelated counting hosts)
MAX_STEP = 2048        # largest step still read as "the same counter moved on"
MAX_CANDIDATES = 200   # counting sources considered at most
TUNABLES = ("MIN_PACKETS", "MERGED_SHARE", "MAX_STEP", "MAX_CANDIDATES")


def _m() -> str:
    return __name__.rsplit(".", 1)[-1]


def detect(ctx):
    m, t = _m(), ctx.table
    prof = zen.profile(ctx)
    need = int(ctx.tun(m, "MIN_PACKETS"))
    most = int(ctx.tun(m, "MAX_CANDIDATES"))

    def counting(p) -> bool:
        return (p["ip_id"] in ("incrementing", "byte-swapped increment") and p["packets"] >= need
                and not p["ttl_wandering"] and p["initial_ttl"] is not None)

    if hasattr(prof, "busiest"):   # streamed busiest first: stop at MAX_CANDIDATES
        cands, seen = [], {}
        for s, p in prof.busiest(need, counting=True):
            if len(cands) >= most:
                break
            if counting(p):
                cands.append(s)
                seen[s] = p
        prof = seen
    else:
        cands = sorted((s for s, p in prof.items() if counting(p)),
                       key=lambda s: (-prof[s]["packets"], s))[:most]
    pairs = []
    for i, a in enumerate(cands):
        for b in cands[i + 1:]:
            pa, pb = prof[a], prof[b]
            if (pa["initial_ttl"], pa["hops"], pa["ip_id"]) != (pb["initial_ttl"], pb["hops"], pb["ip_id"]):
                continue
            if pa["first_seen"] and pb["first_seen"] and (pa["last_seen"] < pb["first_seen"] or pb["last_seen"] < pa["first_seen"]):
                continue
            pairs.append((min(a, b), max(a, b), pa["ip_id"]))
    if not pairs:
        return []
    step = int(ctx.tun(m, "MAX_STEP"))
    values = " UNION ALL ".join(f"SELECT {ctx.lit(a)} AS a, {ctx.lit(b)} AS b, {ctx.lit(k)} AS kind" for a, b, k in pairs)

    def sw(c):
        return f"(MOD({c}, 256) * 256 + CAST(({c} - MOD({c}, 256)) / 256 AS BIGINT))"

    rows = ctx.query(f"""
    WITH p AS ({values}),
    e AS (SELECT p.a, p.b, p.kind, ev.src_ip, ev.ts, ev.source_file, ev.line,
                 CASE WHEN p.kind = 'incrementing' THEN ev.ip_id ELSE {sw('ev.ip_id')} END AS v
          FROM p JOIN {t} ev ON ev.src_ip = p.a OR ev.src_ip = p.b
          WHERE ev.ip_id IS NOT NULL AND ev.ip_version = 4),
    l AS (SELECT e.*, LAG(v) OVER (PARTITION BY a, b ORDER BY {ctx.record_order()}) AS pv,
                 LAG(src_ip) OVER (PARTITION BY a, b ORDER BY {ctx.record_order()}) AS ps
          FROM e)
    SELECT a, b, count(*) AS n,
           sum(CASE WHEN pv IS NOT NULL THEN 1 ELSE 0 END) AS steps,
           sum(CASE WHEN pv IS NOT NULL AND MOD(v - pv + 65536, 65536) BETWEEN 1 AND {step} THEN 1 ELSE 0 END) AS good,
           sum(CASE WHEN ps IS NOT NULL AND ps <> src_ip THEN 1 ELSE 0 END) AS switches
    FROM l GROUP BY a, b ORDER BY a, b""")
    share = float(ctx.tun(m, "MERGED_SHARE"))
    out = []
    for r in rows:
        if not r["steps"] or r["good"] < share * r["steps"] or r["switches"] < 2:
            continue
        a, b = r["a"], r["b"]
        pa = prof[a]
        where = f"src_ip IN {ctx.lit([a, b])} AND ip_id IS NOT NULL"
        out.append(ctx.finding(
            "host.link", a, where,
            summary=(f"{a} and {b} look like one machine: their IP IDs continue one counter across "
                     f"{r['switches']} switches between the addresses, and both are {pa['hops']} hop(s) away "
                     f"with initial TTL {pa['initial_ttl']}"),
            severity="info", targets=[b], confidence="medium: IP ID counter and TTL agree; timing alone cannot prove it",
            details={"linked": b, "ip_id": pa["ip_id"], "merged_steps": r["steps"], "steady_steps": r["good"],
                     "switches": r["switches"], "zen": zen.short(ctx, a)}))
    return out
