"""dns.stale: datagrams from source port 53 to closed high ports, i.e. DNS answers that arrived
after the asking program had given up and closed its port (a slow recursive server retried, a
resolver sent its question twice, or an answer was duplicated). A stateful firewall drops them
because the connection entry is gone. An answer that arrives in time is accepted and is not
reported; when the question is in the log too, the finding says how late the answer was.

Where the log does not say what became of an answer (a packet capture, a log line without a
verdict), one that came back within ANSWER_TIMEOUT of its logged question is an ordinary answer
and is left out. An IDS's answers without a verdict are left out too: an IDS logs what matched
its rules, not every question. An answer the firewall dropped or rejected that soon is reported,
and the finding says the firewall did not match it to its question.
"""
from __future__ import annotations

from . import _misc as m

IDS = ("dns.stale",)
ORDER = 50

# Tunables
MIN_RECORDS = 1      # late answers per server before a finding; raise to ignore a single straggler
MIN_PORT = 1024      # lowest destination port counted (answers to server port 53 are server-to-server)
QUERY_WINDOW = 120   # seconds: how far back a logged question from the same port still counts as the
                     # question this answer belongs to (used only to say how late it was)
ANSWER_TIMEOUT = 5.0  # seconds: an answer this soon after its question came back in time (glibc's
                      # resolver waits 5 s per try; other stub resolvers keep the port open as long
                      # or longer). Lower it to report prompt answers of unknown fate too; raise it
                      # to leave out slower ones
MAX_SOURCES = m.MAX_SOURCES  # more servers than this: the rest share one aggregate finding
TOP_SOURCES = m.TOP_SOURCES  # busiest servers that keep their own finding then (see _misc.py)
TUNABLES = ("MIN_RECORDS", "MIN_PORT", "QUERY_WINDOW", "ANSWER_TIMEOUT") + m.AGG_TUNABLES

FATE_KNOWN = "coalesce(action, 'other') IN ('drop', 'reject')"   # the firewall said it dropped it


# an IDS's record without a verdict: it logs what matched its rules (or the DNS it parsed), not
# every question, so an answer alone there says nothing of a closed port
IDS_UNKNOWN = m.no_verdict(m.IDS_FORMATS)


def pred(ctx) -> str:
    me = m.short(__name__)
    return (f"proto = 'udp' AND src_port = 53 AND dst_port >= {int(ctx.tun(me, 'MIN_PORT'))} "
            f"AND {m.NOT_ACCEPTED} AND NOT {IDS_UNKNOWN} AND src_ip IS NOT NULL")


def _answered_in_time(ctx, p: str) -> str:
    """The records (file, line) of the answers of ``p`` whose fate the log does not give and whose
    question, from the same port, was logged at most ANSWER_TIMEOUT seconds earlier."""
    t = ctx.table
    limit = float(ctx.tun(m.short(__name__), "ANSWER_TIMEOUT"))
    return f"""
        SELECT a.source_file, a.line FROM
            (SELECT source_file, line, src_ip, dst_ip, dst_port, ts FROM {t} WHERE {p} AND NOT {FATE_KNOWN}) a
        JOIN (SELECT src_ip, dst_ip, src_port, ts FROM {t} WHERE proto = 'udp' AND dst_port = 53) q
          ON q.src_ip = a.dst_ip AND q.dst_ip = a.src_ip AND q.src_port = a.dst_port
         AND {m.secs('q.ts')} <= {m.secs('a.ts')} AND {m.secs('q.ts')} >= {m.secs('a.ts')} - {limit}"""


def detect(ctx):
    me = m.short(__name__)
    t = ctx.table
    p = pred(ctx)
    # (the join runs once: on DuckDB the set is kept, and the count reads that)
    in_time = m.record_set(ctx, _answered_in_time(ctx, p))
    if ctx.query(f"SELECT count(*) AS n FROM {in_time} x")[0]["n"]:
        p = f"{p} AND NOT ((coalesce(source_file, ''), line) IN {in_time})"
    window = float(ctx.tun(me, "QUERY_WINDOW"))
    prompt = float(ctx.tun(me, "ANSWER_TIMEOUT"))
    mn = int(ctx.tun(me, 'MIN_RECORDS'))
    gsql = f"""
        WITH a AS (SELECT src_ip, dst_ip, dst_port, ts FROM {t} WHERE {p}),
             q AS (SELECT src_ip, dst_ip, src_port, ts FROM {t}
                   WHERE proto = 'udp' AND dst_port = 53),
             l AS (SELECT a.src_ip, a.dst_ip, a.dst_port, a.ts,
                          min({m.secs('a.ts')} - {m.secs('q.ts')}) AS late
                   FROM a LEFT JOIN q ON q.src_ip = a.dst_ip AND q.dst_ip = a.src_ip AND q.src_port = a.dst_port
                        AND {m.secs('q.ts')} <= {m.secs('a.ts')} AND {m.secs('q.ts')} >= {m.secs('a.ts')} - {window}
                   GROUP BY a.src_ip, a.dst_ip, a.dst_port, a.ts)
        SELECT src_ip, count(*) AS n, count(DISTINCT dst_ip) AS hosts, count(DISTINCT dst_port) AS ports,
               max(late) AS late_max, min(late) AS late_min, count(late) AS matched
        FROM l GROUP BY src_ip HAVING count(*) >= {mn}"""
    rows = ctx.query(gsql + " ORDER BY src_ip")
    rows, rest = m.split_sources(ctx, me, rows)
    if not rows and not rest:
        return []
    with m.narrowed(ctx, p):   # the answers' records only: the look-ups below scan those
        return _findings(ctx, p, gsql if mn > 1 else None, rows, rest, prompt)


def _findings(ctx, p, gsql, rows, rest, prompt):
    out = []
    scope = m.own_scope(ctx, rows, rest)
    if rest:
        where = m.rest_where(ctx, p, rows, rest, gsql)
        details = m.rest_details(rest, matched_questions=sum(int(r["matched"] or 0) for r in rest))
        out.append(ctx.finding(
            "dns.stale", None, where, evidence=m.evidence(ctx, where), targets=m.targets(ctx, where), ports=m.ports(ctx, where), details=details,
            summary=f"{m.plural(details['records'], 'DNS answer')} from {m.more_sources(rest)} arrived at closed "
                    f"ports: late answers to questions already given up"))
    for r in rows:
        src = r["src_ip"]
        where = f"{p}{scope} AND src_ip = {ctx.lit(src)}"
        late, why = "", "late answers to questions already given up"
        if r["matched"]:
            late = f"; the matching questions had been asked {r['late_min']:.1f}-{r['late_max']:.1f} s earlier"
            if int(r["matched"]) == int(r["n"]) and r["late_max"] <= prompt:
                # every one came back in time, and the firewall dropped it all the same
                why = ("dropped although they came back in time: the firewall did not match them to their "
                       "questions (it keeps no state for DNS over UDP, or the answers took another path)")
        out.append(ctx.finding(
            "dns.stale", src, where, targets=m.targets(ctx, where), ports=m.ports(ctx, where),
            summary=f"{m.plural(int(r['n']), 'DNS answer')} from {src} arrived at "
                    f"{m.plural(int(r['ports']), 'closed port')} on {m.plural(int(r['hosts']), 'host')}: "
                    f"{why}{late}",
            details={"answers": int(r["n"]), "matched_questions": int(r["matched"] or 0),
                     "late_seconds_max": r["late_max"]}))
    return out
