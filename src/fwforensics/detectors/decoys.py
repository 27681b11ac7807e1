"""scan.decoy: one scan sent under several source addresses at once (nmap -D), and who is real (FAQ 1.3, 9.2).

Candidates are the sources of the scan findings (scans.py runs first). Two of them belong to
the same decoy group when they hit the same (host, port) pairs, each pair within
``DECOY_WINDOW`` seconds of the other, for at least ``DECOY_MIN_SHARED`` pairs and
``DECOY_MIN_OVERLAP`` of the smaller source's pairs, and their probes interleave (one machine
sends every copy of a probe together; two scans of the same ports run one after the other do not
interleave). Two independent scanners do not probe the
same ports of the same host in the same seconds; one machine forging several sources does.

Naming the real source (each reason is listed in ``details.reasons``):

* earlier or other activity: the real scanner often pinged, connected or scanned before, or
  does things only it can (completing connections, answering with resets, version probes);
  decoys appear only inside the burst. Records of a member outside the shared probes count,
  and the whole case history is searched;
* TTL behaviour: a member whose TTLs are steady while the others' wander sent from its own
  stack (old decoy tools gave only the decoys random TTLs); modern nmap randomises every TTL,
  which leaves this signal silent;
* impossible sources: a bogon or one of our own addresses cannot receive the answers, so it is
  a decoy (used only when members differ in this);
* the same IP ID (or source port) on every copy of a probe proves the whole group came from one
  machine (reported; it does not say which copy is real).

``confidence`` is high when only one member has activity of its own, medium when only the TTL
or impossible-source signals separate it, low when nothing does; then ``src`` is null and
``details.candidates`` lists every member.
"""
from __future__ import annotations

from typing import Any

from . import _misc, scans, zen

IDS = ("scan.decoy",)
ORDER = 30   # after scans
NEEDS = ("scans",)   # reads the scans' shape findings (and marks the members')

# Tunables
DECOY_WINDOW = 2        # seconds between copies of the same probe from two members. nmap sends the
                        # copies back to back; raise for loggers with coarse or skewed clocks (at the
                        # cost of joining unrelated scanners that probe in lockstep)
DECOY_MIN_SHARED = 10   # (host, port) pairs two members must share; lower finds small decoy scans,
                        # raise to be surer
DECOY_MIN_OVERLAP = 0.8  # share of the smaller member's pairs that must be shared
MAX_CANDIDATES = 5000   # scan sources considered at most (the busiest first); bounds the self-join
TUNABLES = ("DECOY_WINDOW", "DECOY_MIN_SHARED", "DECOY_MIN_OVERLAP", "MAX_CANDIDATES")

SHAPES = ("scan.vertical", "scan.horizontal", "scan.block")
# added to the summaries of the members' own scan findings, by role in the decoy group
_ROLE_NOTE = {
    "real": "; the real sender of a decoy scan (see scan.decoy)",
    "decoy": "; most likely a decoy: {real} sent these probes under this address, and its owner sent "
             "nothing (see scan.decoy)",
    "candidate": "; one of {n} addresses of a decoy scan, only one of which is real; which one is not "
                 "known (see scan.decoy)",
}


def _m() -> str:
    return __name__.rsplit(".", 1)[-1]


def detect(ctx):
    m = _m()
    shape_f = [f for f in ctx.findings if f.id in SHAPES and f.src]
    if len(shape_f) < 2:
        return []
    by_src: dict[str, int] = {}
    for f in shape_f:
        by_src[f.src] = by_src.get(f.src, 0) + f.count
    cands = sorted(by_src, key=lambda s: (-by_src[s], s))[: int(ctx.tun(m, "MAX_CANDIDATES"))]
    win = int(ctx.tun(m, "DECOY_WINDOW"))
    min_shared = int(ctx.tun(m, "DECOY_MIN_SHARED"))
    min_overlap = float(ctx.tun(m, "DECOY_MIN_OVERLAP"))
    t = ctx.table
    probe = scans.probe_sql(ctx, echo=False)
    # Only a probe with another source's probe of the same (host, port) close in time can pair:
    # a window keeps those (with a second of slack),
    # so the self-join below builds its table from a few rows, not from every probe of every
    # scanner (at 10 M lines 3 M rows, a join that spilled to disk). Probes of one (host, port)
    # within DECOY_WINDOW seconds fall in the same or adjacent time buckets of that width: joining
    # on the bucket (each probe also stands in its two neighbours) keeps the self-join from pairing
    # every two scanners of a popular port.
    pairs = ctx.query(f"""
    WITH f AS (SELECT src_ip, dst_ip, dst_port, min(ts) AS t
               FROM {t} WHERE {probe} AND src_ip IN {ctx.lit(cands)}
               GROUP BY src_ip, dst_ip, dst_port),
    fk AS (SELECT src_ip, dst_ip, dst_port FROM (
               SELECT f.*, count(*) OVER (PARTITION BY dst_ip, dst_port ORDER BY EPOCH(t)
                                          RANGE BETWEEN {win + 1} PRECEDING AND {win + 1} FOLLOWING) AS near FROM f) x
           WHERE near >= 2),
    fn AS (SELECT e.src_ip, e.dst_ip, e.dst_port, min(e.ts) AS t, min(e.ip_id) AS ipid, min(e.src_port) AS sport,
                  min(e.line) AS ln, min(e.source_file) AS sf
           FROM (SELECT src_ip, dst_ip, dst_port, ts, ip_id, src_port, line, source_file FROM {t}
                 WHERE {probe} AND src_ip IN {ctx.lit(cands)}) e
           JOIN fk ON e.src_ip = fk.src_ip AND e.dst_ip = fk.dst_ip AND e.dst_port = fk.dst_port
           GROUP BY e.src_ip, e.dst_ip, e.dst_port),
    fb AS (SELECT fn.*, FLOOR(EPOCH(t) / {max(win, 1)}) AS bk FROM fn),
    fx AS (SELECT fb.*, fb.bk + v.d AS xbk FROM fb CROSS JOIN (VALUES (-1), (0), (1)) AS v(d)),
    j AS (SELECT a.src_ip AS a, b.src_ip AS b, count(*) AS shared,
                 sum(CASE WHEN a.ipid = b.ipid THEN 1 ELSE 0 END) AS same_id,
                 sum(CASE WHEN a.sport = b.sport THEN 1 ELSE 0 END) AS same_sport,
                 min(CASE WHEN a.t < b.t THEN a.t ELSE b.t END) AS first_seen,
                 max(CASE WHEN a.t > b.t THEN a.t ELSE b.t END) AS last_seen,
                 min(a.ln) AS a_lo, max(a.ln) AS a_hi, min(b.ln) AS b_lo, max(b.ln) AS b_hi,
                 min(a.t) AS a_t0, max(a.t) AS a_t1, min(b.t) AS b_t0, max(b.t) AS b_t1,
                 sum(CASE WHEN a.sf = b.sf THEN 1 ELSE 0 END) AS same_file
          FROM fb a JOIN fx b ON a.dst_ip = b.dst_ip AND a.dst_port = b.dst_port AND a.bk = b.xbk
               AND a.src_ip < b.src_ip
               AND b.t >= a.t - INTERVAL '{win}' SECOND AND b.t <= a.t + INTERVAL '{win}' SECOND
          GROUP BY a.src_ip, b.src_ip)
    SELECT j.* FROM j WHERE j.shared >= {min_shared} ORDER BY j.a, j.b""")
    # each paired source's number of (host, port) pairs, counted apart: read by only one step, the
    # per-source aggregate above streams into the window instead of being held whole
    involved = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    tot = {r["src_ip"]: r["n"] for r in ctx.query(
        f"""SELECT src_ip, count(*) AS n FROM (SELECT src_ip, dst_ip, dst_port FROM {t}
                WHERE {probe} AND src_ip IN {ctx.lit(involved)} GROUP BY src_ip, dst_ip, dst_port) x
            GROUP BY src_ip""")} if involved else {}
    for p in pairs:
        p["na"], p["nb"] = tot.get(p["a"], 0), tot.get(p["b"], 0)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links = []
    for p in pairs:
        if p["shared"] >= min_overlap * min(p["na"], p["nb"]) and _interleaved(p):
            links.append(p)
            ra, rb = find(p["a"]), find(p["b"])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for s in sorted(parent):
        groups.setdefault(find(s), []).append(s)
    out = []
    for members in sorted(groups.values()):
        if len(members) < 2:
            continue
        glinks = [p for p in links if p["a"] in members]
        out.append(_group_finding(ctx, members, glinks, probe))
    return out


def _interleaved(p: dict) -> bool:
    """Copies of a decoy scan are sent together, so the two members' probes interleave: their spans
    (in line order within one file, else in time) overlap for most of the shorter one. Two scans run
    one after the other over the same ports do not."""
    if p["same_file"] == p["shared"]:
        lo, hi = max(p["a_lo"], p["b_lo"]), min(p["a_hi"], p["b_hi"])
        shorter = min(p["a_hi"] - p["a_lo"], p["b_hi"] - p["b_lo"])
        return hi - lo > 0.5 * shorter
    lo, hi = max(p["a_t0"], p["b_t0"]), min(p["a_t1"], p["b_t1"])
    shorter = min(p["a_t1"] - p["a_t0"], p["b_t1"] - p["b_t0"])
    return hi > lo and (hi - lo) > 0.5 * shorter


def _group_finding(ctx, members: list[str], links: list[dict], probe: str):
    t = ctx.table
    start = min(p["first_seen"] for p in links)
    end = max(p["last_seen"] for p in links)
    mem = ctx.lit(members)
    # the (host, port) pairs of the group: the shared probes
    shared_keys = f"""(SELECT DISTINCT dst_ip, dst_port FROM {t}
                       WHERE {probe} AND src_ip IN {mem} AND ts >= {ctx.lit(start)} AND ts <= {ctx.lit(end)})"""
    act = {r["src_ip"]: r for r in ctx.query(f"""
        SELECT e.src_ip,
               sum(CASE WHEN e.ts < {ctx.lit(start)} THEN 1 ELSE 0 END) AS before,
               sum(CASE WHEN e.ts > {ctx.lit(end)} THEN 1 ELSE 0 END) AS after,
               sum(CASE WHEN e.ts >= {ctx.lit(start)} AND e.ts <= {ctx.lit(end)} AND k.dst_ip IS NULL
                        THEN 1 ELSE 0 END) AS unshared,
               min(e.ts) AS first_any
        FROM {t} e LEFT JOIN {shared_keys} k ON e.dst_ip = k.dst_ip
             AND (e.dst_port = k.dst_port OR (e.dst_port IS NULL AND k.dst_port IS NULL))
        WHERE e.src_ip IN {mem}
        GROUP BY e.src_ip ORDER BY e.src_ip""")}
    from ..knowledge import kb
    prof = zen.profile(ctx)
    if hasattr(prof, "prefetch"):
        prof.prefetch(members)
    reasons: dict[str, list[str]] = {s: [] for s in members}
    own = {s: int((act.get(s) or {}).get("before") or 0) + int((act.get(s) or {}).get("after") or 0)
           + int((act.get(s) or {}).get("unshared") or 0) for s in members}
    for s in members:
        a = act.get(s) or {}
        if a.get("before"):
            reasons[s].append(f"{a['before']} record(s) before the decoy burst")
        if a.get("after"):
            reasons[s].append(f"{a['after']} record(s) after it")
        if a.get("unshared"):
            reasons[s].append(f"{a['unshared']} record(s) during it that no other member sent")
    steady = {s for s in members if prof.get(s) and not prof[s]["ttl_wandering"]}
    impossible = set()
    info = {s: kb().address(s) for s in members}
    bogon = {s for s in members if info[s] is not None and info[s].bogon}
    if bogon and bogon != set(members):
        impossible |= bogon
    impossible |= {s for s in members if _misc.home_ip(ctx, s)}
    for s in impossible:
        reasons[s].append("cannot be the real scanner: answers to this address would never reach it")
    possible = [s for s in members if s not in impossible] or list(members)
    real, conf, why = None, "low", ""
    with_own = [s for s in possible if own[s] > 0]
    if len(with_own) == 1:
        real = with_own[0]
        conf, why = "high", "it is the only member with activity of its own outside the shared probes"
    elif len(with_own) > 1:
        best = sorted(with_own, key=lambda s: (-own[s], s))
        if own[best[0]] >= 3 * max(1, own[best[1]]):
            real = best[0]
            conf, why = "medium", "it has clearly more activity of its own than the other members"
    if real is None:
        st = [s for s in possible if s in steady]
        if len(st) == 1 and len(steady) < len(members):
            real = st[0]
            conf, why = "medium", "its TTLs are steady while the other members' wander (forged copies)"
            reasons[real].append("steady TTL while the others wander")
        elif len(possible) == 1 and len(members) > 1:
            real = possible[0]
            conf, why = "medium", "every other member is an address that could not receive the answers"
    same_id = sum(int(p["same_id"] or 0) for p in links)
    shared = sum(int(p["shared"]) for p in links)
    same_sport = sum(int(p["same_sport"] or 0) for p in links)
    one_machine = []
    if shared and same_id >= 0.9 * shared:
        one_machine.append("every copy of a probe carries the same IP ID")
    if shared and same_sport >= 0.9 * shared:
        one_machine.append("and the same source port" if one_machine else "every copy of a probe uses the same source port")
    wandering = [s for s in members if prof.get(s) and prof[s]["ttl_wandering"]]
    if real is None:
        why = ("nothing in these records separates the members: none has activity of its own, and "
               + ("all TTLs are randomised (nmap does this for every copy)" if len(wandering) == len(members)
                  else "their TTLs behave alike")
               + "; search older logs for one of them, or watch which one comes back")
    confidence = f"{conf}: {why}" if real else f"low: {why}"
    decoys = [s for s in members if s != real]
    targets = [r["dst_ip"] for r in ctx.query(f"SELECT DISTINCT dst_ip FROM {shared_keys} x ORDER BY dst_ip LIMIT 65")]
    ports = [r["dst_port"] for r in ctx.query(
        f"SELECT DISTINCT dst_port FROM {shared_keys} x WHERE dst_port IS NOT NULL ORDER BY dst_port")]
    where = f"{probe} AND src_ip IN {mem} AND ts >= {ctx.lit(start)} AND ts <= {ctx.lit(end)}"
    who = f"{real} (confidence {conf})" if real else "not identifiable from these records"
    summary = (f"One scan of {len(ports)} port(s) on {len(targets)} host(s) arrived from {len(members)} addresses "
               f"at once (a decoy scan); the real scanner: {who}")
    details: dict[str, Any] = {
        "real_source": real, "decoys": decoys if real else [], "candidates": members,
        "reasons": {s: r for s, r in reasons.items() if r},
        "shared_probes": shared, "one_machine": "; ".join(one_machine) if one_machine else None,
        "window_seconds": int(ctx.tun(_m(), "DECOY_WINDOW")),
        "zen": {s: zen.short(ctx, s) for s in members},
    }
    # mark the members' own scan findings, and say it where every report shows it: a decoy's scan
    # findings otherwise read as that address's own scan (and would go into an abuse report)
    for f in ctx.findings:
        if f.id.startswith("scan.") and f.src in members and "decoy_group" not in f.details:
            role = "real" if f.src == real else ("decoy" if real else "candidate")
            f.details["decoy_group"] = {"real_source": real, "role": role}
            f.summary += _ROLE_NOTE[role].format(real=real, n=len(members))
    return ctx.finding("scan.decoy", real, where, summary, targets=targets if len(targets) <= 64 else len(targets),
                       ports=ports, details=details, confidence=confidence)
