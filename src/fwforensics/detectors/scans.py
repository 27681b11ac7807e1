"""Port scans (vertical, horizontal, block), their TCP/UDP flavours, and ping sweeps (FAQ 1.1, 2.8).

How a scan is reported. Each source's probes are cut into *sessions*: a new session starts when
the source has been quiet for more than ``SESSION_GAP`` seconds (records without a time stamp belong
to no session). Inside one session:

* the **shape** finding (``scan.vertical`` / ``scan.horizontal`` / ``scan.block``) covers every
  TCP/UDP probe of the session whatever its flags; ``details.scan_type`` names the main flavour
  and ``details.scan_types`` counts each;
* a **flavour** finding (``scan.syn``, ``scan.fin``, ``scan.null``, ``scan.xmas``, ``scan.ack``,
  ``scan.udp``) is added for each flavour whose own probes form a scan shape, with
  ``details.shape``. So users can filter on either the shape or the technique; a stray ACK among
  a SYN scan does not make an "ACK scan".
* ``ping.sweep``: ICMP/ICMPv6 echo requests to at least ``SWEEP_MIN_HOSTS`` hosts in a session.

What counts as a probe: TCP packets whose flags are exactly SYN, FIN, none (NULL), FIN+PSH+URG
(XMAS) or ACK; UDP datagrams; echo requests. Records the firewall accepted are left out (a
logged accept is a served connection, not a probe) unless ``COUNT_ACCEPTED``. Answers are left
out: ACK-only packets and UDP datagrams *from* a port below 1024 *to* one at or above 1024 look
like late replies of a real service (a web server's ACK after your firewall forgot the
connection, a DNS answer); psad drops every ACK and RST for the same reason
(``IGNORE_CONNTRACK_BUG_PKTS``), which hides real ACK scans; we only drop reply-shaped ones.
UDP to the traceroute ports 33434-33600 is left to the traceroute detector.

Look-alikes that stay silent: a busy web server's many clients (each source touches one host and
one or two ports), a client retrying one port, a resolver's answers.
"""
from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from ..findings import compress_lines, port_forms
from . import _bulk, _misc, zen

IDS = ("scan.vertical", "scan.horizontal", "scan.block", "scan.syn", "scan.fin", "scan.null",
       "scan.xmas", "scan.ack", "scan.udp", "ping.sweep")
ORDER = 20

# Tunables
SESSION_GAP = 900          # seconds of silence that end a source's session. Raise to join slow scans
                           # (nmap -T1 waits 15 s per probe, -T0 five minutes) at the cost of merging
                           # separate visits; lower to split them
VERTICAL_MIN_PORTS = 10    # distinct ports on one host that make a vertical scan. Lower catches short
                           # scans (e.g. a 5-port service check) but also clients using a few services
HORIZONTAL_MIN_HOSTS = 8   # distinct hosts on one port that make a horizontal scan (sweep). Lower for a
                           # small home network; raise on busy networks where clients legitimately
                           # reach many hosts on one port
BLOCK_MIN_HOSTS = 2        # hosts that must each get a vertical scan for a block scan
BLOCK_MIN_SWEPT = 3        # or: ports that must each be swept across HORIZONTAL_MIN_HOSTS hosts (a
                           # multi-port sweep such as 21-25 over a subnet). Kept above 2 because nmap's
                           # host discovery touches 80 and 443 of every host it pings
SWEEP_MIN_HOSTS = 8        # distinct hosts pinged in a session to call it a ping sweep
COUNT_ACCEPTED = False     # count records the firewall accepted as probes; turn on for captures or
                           # logs whose "accept" lines are pre-connection probes
TARGETS_LISTED = 64        # at most this many target addresses are listed (above: the count)
ANSWER_WAIT = 30           # seconds after a scan's last probe in which a SYN-ACK or reset from a probed
                           # port still counts as its answer (captures hold the answers; most logs do not)
TUNABLES = ("SESSION_GAP", "VERTICAL_MIN_PORTS", "HORIZONTAL_MIN_HOSTS", "BLOCK_MIN_HOSTS",
            "BLOCK_MIN_SWEPT", "SWEEP_MIN_HOSTS", "COUNT_ACCEPTED", "TARGETS_LISTED", "ANSWER_WAIT")

TRACEROUTE_PORTS = (33434, 33600)
FLAVOUR_IDS = {"syn": "scan.syn", "fin": "scan.fin", "null": "scan.null", "xmas": "scan.xmas",
               "ack": "scan.ack", "udp": "scan.udp"}
FLAVOUR_WORDS = {"syn": "TCP SYN", "fin": "TCP FIN", "null": "TCP NULL (no flags)",
                 "xmas": "TCP XMAS (FIN+PSH+URG)", "ack": "TCP ACK", "udp": "UDP", "echo": "ICMP echo"}
NMAP_WINDOWS = (1024, 2048, 3072, 4096)   # nmap raw SYN/ACK probes pick one of these windows


def _m() -> str:
    return __name__.rsplit(".", 1)[-1]


# The netfilter reader leaves tcp_flag_bits NULL when a TCP line carries no flag at all (a NULL
# scan): read an empty flag list as 0.
BITS = "COALESCE(tcp_flag_bits, CASE WHEN tcp_flags = '' THEN 0 ELSE NULL END)"


def flavour_sql() -> str:
    """SQL expression naming a record's probe flavour (NULL when the record is no probe)."""
    return f"""CASE
        WHEN proto = 'tcp' THEN CASE MOD({BITS}, 64)
            WHEN 2 THEN 'syn' WHEN 1 THEN 'fin' WHEN 0 THEN 'null' WHEN 41 THEN 'xmas' WHEN 16 THEN 'ack'
            ELSE NULL END
        WHEN proto = 'udp' THEN 'udp'
        WHEN (proto = 'icmp' AND icmp_type = 8) OR (proto = 'ipv6-icmp' AND icmp_type = 128) THEN 'echo'
        ELSE NULL END"""


def probe_filter(ctx) -> str:
    """SQL predicate on events: the record may be a probe (before the flavour test)."""
    acc = "" if ctx.tun(_m(), "COUNT_ACCEPTED") else "AND coalesce(action, 'other') <> 'accept'"
    lo, hi = TRACEROUTE_PORTS
    return f"""(src_ip IS NOT NULL AND dst_ip IS NOT NULL {acc}
        AND NOT (proto IN ('tcp', 'udp') AND dst_port IS NULL)
        AND NOT (proto = 'tcp' AND {BITS} IS NULL)
        AND NOT (proto = 'udp' AND dst_port BETWEEN {lo} AND {hi})
        AND NOT ((proto = 'udp' OR (proto = 'tcp' AND MOD({BITS}, 64) = 16))
                 AND src_port < 1024 AND dst_port >= 1024))"""


def probe_sql(ctx, echo: bool = True) -> str:
    """SQL predicate: the record is a probe (``probe_filter`` and a flavour; ``echo=False``: a probe
    of a flavour other than echo), written so that each record is tested once for its protocol."""
    acc = "" if ctx.tun(_m(), "COUNT_ACCEPTED") else "AND coalesce(action, 'other') <> 'accept'"
    lo, hi = TRACEROUTE_PORTS
    reply = "(src_port < 1024 AND dst_port >= 1024)"
    ping = ("OR ((proto = 'icmp' AND icmp_type = 8) OR (proto = 'ipv6-icmp' AND icmp_type = 128))" if echo else "")
    return f"""(src_ip IS NOT NULL AND dst_ip IS NOT NULL {acc}
        AND ((proto = 'tcp' AND dst_port IS NOT NULL
              AND (MOD({BITS}, 64) IN (2, 1, 0, 41) OR (MOD({BITS}, 64) = 16 AND NOT {reply})))
             OR (proto = 'udp' AND dst_port IS NOT NULL AND NOT (dst_port BETWEEN {lo} AND {hi}) AND NOT {reply})
             {ping}))"""


def min_session_probes(ctx) -> int:
    """Fewest probes a session needs for any scan finding: a vertical scan needs VERTICAL_MIN_PORTS
    probes, a horizontal one HORIZONTAL_MIN_HOSTS (SWEEP_MIN_HOSTS for a ping sweep), a block scan
    more than either."""
    m = _m()
    return max(1, min(int(ctx.tun(m, "VERTICAL_MIN_PORTS")), int(ctx.tun(m, "HORIZONTAL_MIN_HOSTS")),
                      int(ctx.tun(m, "SWEEP_MIN_HOSTS"))))


def _probes_cte(ctx, cols: str) -> str:
    """The CTE ``q``: the probes (``src_ip``, ``cols``, ``flavour``) that have a time stamp. On
    DuckDB it is not materialised (it is read twice: a second scan of the table costs less than
    holding every probe, which over a 10 M-line log spilled ~1 GB to disk)."""
    nm = "NOT MATERIALIZED " if _misc.is_duckdb(ctx) else ""
    return f"""q AS {nm}(SELECT src_ip, {cols}, {flavour_sql()} AS flavour
          FROM {ctx.table} WHERE {probe_sql(ctx)} AND ts IS NOT NULL)"""


def _buckets_cte(ctx) -> str:
    """The CTE ``qk``: each source's probes per bucket of SESSION_GAP seconds of time (``k``), with
    their count and first and last time. Within a bucket no two times are more than SESSION_GAP
    apart, so a bucket lies inside one session; a session goes on into the next bucket when that
    one's first probe comes within SESSION_GAP of this one's last, and never skips a bucket (two
    buckets apart, times are more than SESSION_GAP apart)."""
    gap = int(ctx.tun(_m(), "SESSION_GAP"))
    k = (f"CAST(floor({_misc.secs('ts')} / {gap}) AS BIGINT)" if gap > 0
         else f"CAST(floor({_misc.secs('ts')} * 1000000) AS BIGINT)")   # (no gap: every time its own session)
    return f"""qk AS (SELECT src_ip, {k} AS k, CAST(count(*) AS BIGINT) AS c, min(ts) AS lo, max(ts) AS hi
           FROM q GROUP BY src_ip, {k})"""


def _kept_buckets(ctx, qk: str) -> str:
    """CTEs ending in ``kb``: the buckets of ``qk`` that can be part of a session with enough
    probes for any scan finding (:func:`min_session_probes`): those that join a neighbouring
    bucket (an equality join: ~90 k of 4.6 M buckets over a 10 M-line log, most sources sending a
    probe now and then) and those with enough probes alone."""
    gap = int(ctx.tun(_m(), "SESSION_GAP"))
    m = min_session_probes(ctx)
    iv = f"INTERVAL '{max(gap, 0)}' SECOND"
    return f"""
    adj AS (SELECT a.src_ip, a.k AS k1, a.c AS c1, a.lo AS lo1, a.hi AS hi1, b.k AS k2, b.c AS c2, b.lo AS lo2, b.hi AS hi2
            FROM {qk} a JOIN {qk} b ON a.src_ip = b.src_ip AND b.k = a.k + 1 WHERE b.lo <= a.hi + {iv}),
    kb AS (SELECT src_ip, k1 AS k, c1 AS c, lo1 AS lo, hi1 AS hi FROM adj
           UNION SELECT src_ip, k2 AS k, c2 AS c, lo2 AS lo, hi2 AS hi FROM adj
           UNION SELECT src_ip, k, c, lo, hi FROM {qk} WHERE c >= {m})"""


def _sessions_from_buckets(ctx, kb: str) -> str:
    """CTEs ending in ``s``: the probes of ``q`` in the sessions of the buckets ``kb`` (see
    :func:`_kept_buckets`) that have enough probes, with their session number ``sess``: the few
    sessions big enough are joined back to their probes."""
    gap = int(ctx.tun(_m(), "SESSION_GAP"))
    m = min_session_probes(ctx)
    w = "PARTITION BY src_ip ORDER BY k"
    iv = f"INTERVAL '{max(gap, 0)}' SECOND"
    return f"""
    kw AS (SELECT src_ip, k, c, lo, hi, LAG(k) OVER ({w}) AS pk, LAG(hi) OVER ({w}) AS phi FROM {kb}),
    kc AS (SELECT src_ip, c, lo, hi,
                  SUM(CASE WHEN pk = k - 1 AND lo <= phi + {iv} THEN 0 ELSE 1 END)
                      OVER ({w} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sess
           FROM kw),
    big AS (SELECT src_ip, sess, min(lo) AS t0, max(hi) AS t1 FROM kc GROUP BY src_ip, sess HAVING sum(c) >= {m}),
    s AS (SELECT q.*, big.sess FROM q JOIN big ON q.src_ip = big.src_ip AND q.ts >= big.t0
                                               AND (big.t1 IS NULL OR q.ts <= big.t1))"""
    # (t1 is never NULL: the OR keeps DuckDB's plan a hash join on the source with the times as a
    # filter, as measured, rather than a join on the time ranges)


@contextlib.contextmanager
def sessions(ctx, cols: str = "dst_ip, dst_port, ts, tcp_window"):
    """``with sessions(ctx, cols) as (defs, s):`` a query starting ``WITH {defs}`` reads ``s``: the
    probes (``src_ip``, ``cols``, ``flavour``, ``sess``) of the sessions that have enough probes to
    make any scan finding (:func:`min_session_probes`). A session is a source's probes until it
    has been quiet for more than SESSION_GAP seconds; records without a time stamp belong to no
    session; ``sess`` tells a source's sessions apart (its value has no other meaning).

    On DuckDB the buckets and then the sessions' probes are computed once into temporary tables
    (within DuckDB's memory limit, spilled if need be: the old way, a window over every
    (source, time) pair, spilled ~1.9 GB over a 10 M-line log), ``defs`` is empty and ``s`` names
    the second table. On another engine (Spark) ``defs`` is the chain of CTEs and ``s`` is ``s``."""
    q = _probes_cte(ctx, cols)
    if not _misc.is_duckdb(ctx):
        yield f"{q}, {_buckets_cte(ctx)}, {_kept_buckets(ctx, 'qk')}, {_sessions_from_buckets(ctx, 'kb')},", "s"
        return
    con, qk, kb = ctx.con, _misc._temp_name("fwf_buckets"), _misc._temp_name("fwf_joined_buckets")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {qk} AS WITH {q}, {_buckets_cte(ctx)} SELECT * FROM qk")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {kb} AS WITH {_kept_buckets(ctx, qk)} SELECT * FROM kb")
        con.execute(f"DROP TABLE IF EXISTS {qk}")
        name = _misc._temp_name("fwf_sessions")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS WITH {q}, {_sessions_from_buckets(ctx, kb)} SELECT * FROM s")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {qk}")
        con.execute(f"DROP TABLE IF EXISTS {kb}")
    try:
        yield "", name
    finally:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _ports_text(ports: list[int], limit: int = 0, text: str | None = None) -> str:
    """Ports as ranges ("1-1024,3389"), cut after ``limit`` characters; ``text``: the uncut ranges
    when already known."""
    if text is None:
        text = compress_lines(ports) if ports else "-"
    if limit and len(text) > limit:
        text = text[:limit].rsplit(",", 1)[0] + ",..."
    return text


def _dur(a, b) -> str:
    if a is None or b is None:
        return ""
    s = int((b - a).total_seconds())
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def detect(ctx):
    grouped = _can_group(ctx)   # DuckDB: the probes of the big sessions, with their rowids, for _grouped
    with sessions(ctx, WIDE) if grouped else sessions(ctx) as (defs, s):
        return _detect(ctx, defs, s, grouped)


WIDE = "rowid AS __rid, dst_ip, dst_port, ts, tcp_window, source_file, line"


def _detect(ctx, defs: str, s: str, grouped: bool):
    """``WITH {defs}`` and the relation ``s`` (see :func:`sessions`): the probes of the sessions."""
    m = _m()
    V = int(ctx.tun(m, "VERTICAL_MIN_PORTS"))
    H = int(ctx.tun(m, "HORIZONTAL_MIN_HOSTS"))
    B = int(ctx.tun(m, "BLOCK_MIN_HOSTS"))
    BS = int(ctx.tun(m, "BLOCK_MIN_SWEPT"))
    SW = int(ctx.tun(m, "SWEEP_MIN_HOSTS"))
    listed = int(ctx.tun(m, "TARGETS_LISTED"))
    wins = ctx.lit(list(NMAP_WINDOWS))
    # The "*" group of a session (every non-echo flavour together) is the flavour's own group when
    # the session has one non-echo flavour, as most have: its (host, port) pairs are re-counted
    # only for the sessions that mix flavours, and the others copy their flavour's counts.
    rows = _sessions_found(ctx, defs, s, wins, V, H, SW)

    sessions: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        sessions.setdefault((r["src_ip"], r["sess"]), {})[r["flavour"]] = r
    specs = []
    for (src, sess), flv in sessions.items():
        counts: dict[str, int] = {}
        if "*" in flv:
            allf = flv["*"]
            counts = dict(sorted(((k, int(allf[f"n_{k}"])) for k in FLAVOUR_IDS if allf[f"n_{k}"]),
                                 key=lambda kv: (-kv[1], kv[0])))
        for key in sorted(flv, key=lambda k: (k != "*", k)):
            r = flv[key]
            shapes = _shapes(r, V, H, B, BS)
            if key == "echo":
                if r["hports"] >= 1:
                    specs.append(("ping.sweep", r, "horizontal", counts))
                continue
            for shape in shapes:
                fid = f"scan.{shape}" if key == "*" else FLAVOUR_IDS[key]
                specs.append((fid, r, shape, counts))
                if key != "*":
                    break   # one flavour finding per flavour and session, with its main shape
    star_n = {k: int(v["*"]["n"]) for k, v in sessions.items() if "*" in v}
    pre = _grouped(ctx, s, specs, listed, star_n) if len(specs) > 1 and grouped else None
    prof = zen.profile(ctx)
    if hasattr(prof, "prefetch"):
        prof.prefetch(r["src_ip"] for _, r, _, _ in specs)
    found = [_finding(ctx, fid, r, shape, counts, listed, pre) for fid, r, shape, counts in specs]
    _answers(ctx, found)
    return found


# TCP findings whose probes a SYN-ACK (open) or a reset (closed) answers
ANSWERED_IDS = ("scan.vertical", "scan.horizontal", "scan.block", "scan.syn")
OPEN_LISTED = 50   # open (host, port) pairs listed in details.answers.open
# Captures (_misc.CAPTURE_FORMATS) hold the answering SYN-ACK or reset itself (a Zeek connection
# record's reset may end a connection the other side opened; an IDS alert is no answer). These
# inputs instead say how the scanner's own connections ended: a Zeek connection that was
# established (action accept: S1, SF, S2, S3, RSTO, RSTR) reached an open port, one rejected (REJ:
# a reset answered the SYN) a closed one
OUTCOME_FORMATS = ("zeek_conn",)


def _answers(ctx, found) -> None:
    """What the scanned hosts answered, where the input holds it (a packet capture; a Zeek
    connection log, whose records say whether each connection was established or rejected):
    SYN-ACKs to the scanner from a probed port are open ports, resets closed ones, within the
    scan's time and ANSWER_WAIT seconds after. Goes into ``details.answers`` (``open``: host:port,
    at most OPEN_LISTED; ``open_count``, ``closed``) and the summary. A SYN, FIN, NULL or XMAS probe
    of a closed port gets a reset, so resets are counted for the shape findings and SYN scans only
    when their probes were SYNs."""
    fs = [f for f in found if f.id in ANSWERED_IDS and f.src and f.details.get("scan_type") == "syn"]
    if not fs:
        return
    has = ctx.formats()
    captured, outcome = has & set(_misc.CAPTURE_FORMATS), has & set(OUTCOME_FORMATS)
    if not captured and not outcome:
        return   # (no capture or Zeek log among the inputs: the usual firewall log)
    wait = max(int(ctx.tun(_m(), "ANSWER_WAIT")), 0)
    srcs = sorted({f.src for f in fs})
    scanners = _misc._value_set(ctx, srcs) if _misc.is_duckdb(ctx) and len(srcs) > 1000 else ctx.lit(srcs)
    rows = []
    if captured:
        rows += ctx.query(f"""
            SELECT dst_ip AS scanner, src_ip AS host, src_port AS port,
                   CASE WHEN {BITS} % 32 >= 16 AND {BITS} % 4 >= 2 THEN 'open' ELSE 'closed' END AS kind,
                   min(ts) AS a, max(ts) AS b
            FROM {ctx.table}
            WHERE {_misc.format_in(sorted(captured))} AND proto = 'tcp' AND src_port IS NOT NULL
              AND ts IS NOT NULL AND src_ip IS NOT NULL
              AND ((({BITS} % 32 >= 16) AND ({BITS} % 4 >= 2)) OR {BITS} % 8 >= 4)
              AND dst_ip IN {scanners}
            GROUP BY dst_ip, src_ip, src_port, kind""")
    if outcome:
        rows += ctx.query(f"""
            SELECT src_ip AS scanner, dst_ip AS host, dst_port AS port,
                   CASE WHEN action = 'accept' THEN 'open' ELSE 'closed' END AS kind,
                   min(ts) AS a, max(ts) AS b
            FROM {ctx.table}
            WHERE {_misc.format_in(sorted(outcome))} AND proto = 'tcp' AND action IN ('accept', 'reject') AND dst_port IS NOT NULL
              AND ts IS NOT NULL AND dst_ip IS NOT NULL AND src_ip IN {scanners}
            GROUP BY src_ip, dst_ip, dst_port, kind""")
    if not rows:
        return
    by_scanner: dict[str, list[dict]] = {}
    for r in rows:
        by_scanner.setdefault(r["scanner"], []).append(r)
    for f in fs:
        got = by_scanner.get(f.src)
        if not got or f.first_seen is None or f.last_seen is None:
            continue
        until = f.last_seen + timedelta(seconds=wait)
        hosts = set(f.targets) if isinstance(f.targets, list) else None
        opened, closed = set(), set()
        for r in got:
            if r["b"] < f.first_seen or r["a"] > until or r["port"] not in f.ports:
                continue
            if hosts is not None and r["host"] not in hosts:
                continue
            (opened if r["kind"] == "open" else closed).add((r["host"], int(r["port"])))
        closed -= opened   # (a port that answered both ways: its reset ended a connection)
        if not opened and not closed:
            continue
        listed = [f"{h}:{p}" if ":" not in h else f"[{h}]:{p}" for h, p in sorted(opened, key=lambda x: (x[1], x[0]))]
        f.details["answers"] = {"open": listed[:OPEN_LISTED], "open_count": len(opened), "closed": len(closed)}
        if opened:
            f.summary += (f"; {_misc.plural(len(opened), 'port')} answered open ({', '.join(listed[:5])}"
                          f"{', ...' if len(listed) > 5 else ''})" + (f" and {len(closed)} closed" if closed else ""))
        else:
            f.summary += f"; {_misc.plural(len(closed), 'port')} answered closed, none open"


def _flavours_sql(ag0: str) -> str:
    """How many non-echo flavours each session has (``k``), from ``ag0``."""
    return f"SELECT src_ip, sess, count(*) AS k FROM {ag0} WHERE flavour <> 'echo' GROUP BY src_ip, sess"


def _sessions_found(ctx, defs: str, s: str, wins: str, V: int, H: int, SW: int) -> list[dict]:
    """The (source, session, flavour) groups of the probes ``s`` (read ``WITH {defs}``) that make a
    scan finding, with their counts.

    Each step's result is read more than once or feeds a large aggregate: on DuckDB each is computed
    into a temporary table, which can spill (as one query, its common table expressions held in
    memory whole and several hash tables at once, it ran out of the detectors' 90 MB on two threads
    over a 10 M-line log: ~4 M probes, ~3.4 M distinct (host, port) pairs, and was rerun on one)."""
    steps = [
        ("ag0", lambda n: f"""SELECT src_ip, sess, flavour, count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen,
                   sum(CASE WHEN tcp_window IN {wins} THEN 1 ELSE 0 END) AS nmap_windows
            FROM {s} GROUP BY src_ip, sess, flavour"""),
        # the distinct (host, port) pairs of each group, and of the "*" group of the sessions that
        # mix non-echo flavours (the other sessions' "*" group is their one flavour's)
        ("dp", lambda n: f"""SELECT src_ip, sess, flavour, dst_ip, dst_port FROM {s}
            GROUP BY src_ip, sess, flavour, dst_ip, dst_port
           UNION ALL
           SELECT p.src_ip, p.sess, '*' AS flavour, p.dst_ip, p.dst_port
           FROM {s} p JOIN ({_flavours_sql(n['ag0'])}) nf ON p.src_ip = nf.src_ip AND p.sess = nf.sess
           WHERE p.flavour <> 'echo' AND nf.k > 1
           GROUP BY p.src_ip, p.sess, p.dst_ip, p.dst_port"""),
        ("hv1", lambda n: f"""SELECT src_ip, sess, flavour, sum(CASE WHEN np >= {V} THEN 1 ELSE 0 END) AS vhosts,
                   count(*) AS hosts
            FROM (SELECT src_ip, sess, flavour, dst_ip, count(dst_port) AS np FROM {n['dp']}
                  GROUP BY src_ip, sess, flavour, dst_ip) hp
            GROUP BY src_ip, sess, flavour"""),
        ("pv1", lambda n: f"""SELECT src_ip, sess, flavour, count(dst_port) AS ports,
                   sum(CASE WHEN nh >= (CASE WHEN flavour = 'echo' THEN {SW} ELSE {H} END) THEN 1 ELSE 0 END) AS hports
            FROM (SELECT src_ip, sess, flavour, dst_port, count(*) AS nh FROM {n['dp']}
                  GROUP BY src_ip, sess, flavour, dst_port) ph
            GROUP BY src_ip, sess, flavour"""),
    ]
    with _misc.kept_steps(ctx, defs, steps) as (defs, names):
        ag0, hv1, pv1 = names["ag0"], names["hv1"], names["pv1"]
        return ctx.query(f"""
    WITH {defs}
    nf AS ({_flavours_sql(ag0)}),
    hv AS (SELECT * FROM {hv1}
           UNION ALL
           SELECT hv1.src_ip, hv1.sess, '*' AS flavour, hv1.vhosts, hv1.hosts
           FROM {hv1} hv1 JOIN nf ON hv1.src_ip = nf.src_ip AND hv1.sess = nf.sess
           WHERE hv1.flavour NOT IN ('echo', '*') AND nf.k = 1),
    pv AS (SELECT * FROM {pv1}
           UNION ALL
           SELECT pv1.src_ip, pv1.sess, '*' AS flavour, pv1.ports, pv1.hports
           FROM {pv1} pv1 JOIN nf ON pv1.src_ip = nf.src_ip AND pv1.sess = nf.sess
           WHERE pv1.flavour NOT IN ('echo', '*') AND nf.k = 1),
    ag AS (SELECT src_ip, sess, flavour, n, first_seen, last_seen, nmap_windows,
                  {', '.join(f"CASE WHEN flavour = '{k}' THEN n ELSE 0 END AS n_{k}" for k in FLAVOUR_IDS)}
           FROM {ag0}
           UNION ALL
           SELECT src_ip, sess, '*' AS flavour, sum(n) AS n, min(first_seen) AS first_seen,
                  max(last_seen) AS last_seen, sum(nmap_windows) AS nmap_windows,
                  {', '.join(f"sum(CASE WHEN flavour = '{k}' THEN n ELSE 0 END) AS n_{k}" for k in FLAVOUR_IDS)}
           FROM {ag0} WHERE flavour <> 'echo' GROUP BY src_ip, sess)
    SELECT ag.*, hv.hosts, pv.ports, hv.vhosts, pv.hports FROM ag
      JOIN hv ON ag.src_ip = hv.src_ip AND ag.sess = hv.sess AND ag.flavour = hv.flavour
      JOIN pv ON ag.src_ip = pv.src_ip AND ag.sess = pv.sess AND ag.flavour = pv.flavour
    WHERE hv.vhosts >= 1 OR pv.hports >= 1 OR (ag.flavour <> 'echo' AND hv.hosts >= {H} AND pv.ports >= {V})
    ORDER BY ag.src_ip, ag.first_seen, ag.flavour""")


def _can_group(ctx) -> bool:
    """The grouped path needs DuckDB (temporary table, list functions, rowid); other engines (Spark)
    run one set of queries per finding, with the same results."""
    return _bulk.can_group(ctx)


def _group_key(r: dict, shape: str) -> tuple:
    return (r["src_ip"], int(r["sess"]), r["flavour"], 1 if shape == "horizontal" and r["flavour"] != "echo" else 0)


def _grouped(ctx, probes: str, specs: list, listed: int, star_n: dict[tuple, int]) -> dict[tuple, dict]:
    """Targets, ports, host count and evidence of every scan finding from a few grouped queries over
    the probes of the scanning sources (the table ``probes``, with ``WIDE`` columns) instead of five
    full-table queries per finding.

    A finding's records (``_finding``'s ``where``: the source's probes of one flavour, or of every
    non-echo flavour, between the first and last probe of the session) are exactly the rows of one
    (source, session, flavour) group: sessions of a source are separated by more than SESSION_GAP
    seconds of silence, so no other session's probe falls between them (records without a time stamp
    are in no session and outside every time range). Horizontal findings keep
    only the ports swept across enough hosts, as the per-finding path does."""
    from ..findings import Evidence
    H = int(ctx.tun(_m(), "HORIZONTAL_MIN_HOSTS"))
    import pyarrow as pa
    # A flavour's probes are among the session's probes of every flavour ("*"); when they are as
    # many, they are the same records, so the flavour finding reads the "*" group's answers.
    alias: dict[tuple, tuple] = {}
    for _, r, shape, _ in specs:
        key = _group_key(r, shape)
        src, se, k, hz = key
        if k not in ("*", "echo") and star_n.get((src, r["sess"])) == int(r["n"]):
            alias[key] = (src, se, "*", hz)
        else:
            alias[key] = key
    wanted = sorted(set(alias.values()))
    keys_tbl = pa.table({"src_ip": [w[0] for w in wanted], "sess": pa.array([w[1] for w in wanted], pa.int64()),
                         "k": [w[2] for w in wanted], "hz": pa.array([w[3] for w in wanted], pa.int32()),
                         "gid": pa.array(range(len(wanted)), pa.int32())})
    con, t, kt = ctx.con, "_fwf_scan_groups", "_fwf_scan_keys"
    con.register(kt, keys_tbl)
    try:
        # one row per record and finding group (gid: the group's index in ``wanted``)
        con.execute(f"""CREATE OR REPLACE TEMPORARY TABLE {t} AS
        WITH a AS (SELECT __rid, src_ip, sess, flavour AS k, dst_ip, dst_port, ts, source_file, line FROM {probes}
              UNION ALL
              SELECT __rid, src_ip, sess, '*' AS k, dst_ip, dst_port, ts, source_file, line FROM {probes}
              WHERE flavour <> 'echo'),
        w AS (SELECT kk.gid, kk.hz, a.__rid, a.dst_ip, a.dst_port, a.ts, a.source_file, a.line
              FROM a JOIN {kt} kk ON a.src_ip = kk.src_ip AND a.sess = kk.sess AND a.k = kk.k),
        sw AS (SELECT gid, dst_port FROM w WHERE hz = 1 GROUP BY gid, dst_port HAVING count(DISTINCT dst_ip) >= {H})
        SELECT gid, __rid, dst_ip, dst_port, ts, source_file, line FROM w WHERE hz = 0
        UNION ALL
        SELECT w.gid, w.__rid, w.dst_ip, w.dst_port, w.ts, w.source_file, w.line
        FROM w JOIN sw ON w.gid = sw.gid AND w.dst_port = sw.dst_port WHERE w.hz = 1""")
    finally:
        con.unregister(kt)
    try:
        out: dict[tuple, dict] = {}
        byid: list[dict | None] = [None] * len(wanted)
        # ports as Arrow, never as Python ints: a 10 M-line log's scans list 5.4 M ports, ~190 MB as
        # Python ints held all at once here (and the heap they fragmented stayed with the process)
        rel = con.sql(f"""
                SELECT gid, count(DISTINCT dst_ip) AS nh,
                       list_slice(list_sort(list_distinct(list(dst_ip))), 1, {listed + 1}) AS tg,
                       list_sort(list_distinct(list(CAST(dst_port AS INTEGER)))) AS ports
                FROM {t} GROUP BY gid""")
        tab = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
        gids, nhs, tgs = tab.column("gid").to_pylist(), tab.column("nh").to_pylist(), tab.column("tg").to_pylist()
        pl = tab.column("ports").combine_chunks()
        # (sorted and distinct by the query; list_distinct drops nulls): the kept form and the
        # range text of every group's ports at once
        forms = port_forms(pl.values.to_numpy(zero_copy_only=False), pl.offsets.to_numpy())
        for i, gid in enumerate(gids):
            kept, text = forms[i]
            out[wanted[gid]] = byid[gid] = {"nh": int(nhs[i]), "tg": list(tgs[i]), "ports": kept, "text": text,
                                            "ev": _bulk.empty()}
        del tab, pl, forms
        for gid, ev in _bulk.evidence(ctx, t).items():
            got = byid[gid]
            if got is not None:
                got["ev"] = ev
        for key, canon in alias.items():
            got = out.get(canon)
            if key != canon and got is not None:
                ev, span = got["ev"]
                out[key] = {"nh": got["nh"], "tg": list(got["tg"]), "ports": got["ports"], "text": got["text"],
                            "ev": (Evidence(records=ev.records, files=dict(ev.files),
                                            samples=[dict(x) for x in ev.samples]), dict(span))}
        return out
    finally:
        con.execute(f"DROP TABLE IF EXISTS {t}")


def _shapes(r: dict, V: int, H: int, B: int, BS: int) -> list[str]:
    if r["vhosts"] >= B or r["hports"] >= BS:
        return ["block"]
    shapes = []
    if r["vhosts"] == 1:
        shapes.append("vertical")
    if r["hports"] >= 1:
        shapes.append("horizontal")
    if not shapes and r["hosts"] >= H and r["ports"] >= V:
        shapes.append("block")
    return shapes


def _finding(ctx, fid: str, r: dict, shape: str, counts: dict[str, int], listed: int, pre: dict | None = None):
    src, key = r["src_ip"], r["flavour"]
    got = pre.get(_group_key(r, shape)) if pre is not None else None
    flav = f"({flavour_sql()})"
    if key == "*":
        fpred = f"{flav} <> 'echo'"
    else:
        fpred = f"{flav} = {ctx.lit(key)}"
    where = (f"{probe_filter(ctx)} AND src_ip = {ctx.lit(src)} AND ts >= {ctx.lit(r['first_seen'])} "
             f"AND ts <= {ctx.lit(r['last_seen'])} AND {fpred}")
    text = None
    if got is not None:   # answered by _grouped
        tg, ports, nhosts, text = got["tg"], got["ports"], got["nh"], got["text"] or None
    else:
        if shape == "horizontal":
            # only the ports that were swept across many hosts
            H = int(ctx.tun(_m(), "SWEEP_MIN_HOSTS" if key == "echo" else "HORIZONTAL_MIN_HOSTS"))
            swept = ctx.query(f"SELECT dst_port FROM {ctx.table} WHERE {where} GROUP BY dst_port "
                              f"HAVING count(DISTINCT dst_ip) >= {H} ORDER BY dst_port")
            sp = [x["dst_port"] for x in swept]
            if key != "echo":
                where += " AND dst_port IN " + ctx.lit(sp)
        tg = [x["dst_ip"] for x in ctx.query(
            f"SELECT DISTINCT dst_ip FROM {ctx.table} WHERE {where} ORDER BY dst_ip LIMIT {listed + 1}")]
        ports = [x["dst_port"] for x in ctx.query(
            f"SELECT DISTINCT dst_port FROM {ctx.table} WHERE {where} AND dst_port IS NOT NULL ORDER BY dst_port")]
        nhosts = len(tg) if len(tg) <= listed else ctx.query(
            f"SELECT count(DISTINCT dst_ip) AS n FROM {ctx.table} WHERE {where}")[0]["n"]
    targets: Any = tg if len(tg) <= listed else int(nhosts)
    main = key if key != "*" else (next(iter(counts)) if counts else None)
    z = zen.short(ctx, src)
    ranges = _ports_text(ports, text=text)
    details: dict[str, Any] = {
        "shape": shape, "scan_type": main, "scan_types": counts if key == "*" else {key: r["n"]},
        "hosts": int(nhosts), "ports": len(ports), "port_ranges": ranges,
        "session_gap_seconds": int(ctx.tun(_m(), "SESSION_GAP")), "zen": z,
    }
    hints = []
    if main in ("syn", "ack") and r["nmap_windows"] and r["nmap_windows"] >= 0.9 * r["n"]:
        hints.append("TCP windows of 1024/2048/3072/4096 only: nmap's raw-packet probes")
    prof = zen.profile(ctx).get(src) or {}
    if prof.get("nmap_ttl"):
        hints.append("TTLs random within 37-59: nmap's raw-packet default")
    if hints:
        details["tool_hint"] = "; ".join(hints)
    what = FLAVOUR_WORDS.get(main, "mixed") if main else "mixed"
    span = _dur(r["first_seen"], r["last_seen"])
    span = " within a second" if span == "0s" else f" over {span}" if span else ""
    tdesc = tg[0] if len(tg) == 1 else f"{nhosts} hosts"
    if fid == "ping.sweep":
        summary = f"{src} pinged {nhosts} hosts{span} (ICMP echo requests): a ping sweep looking for live addresses"
    elif shape == "vertical":
        summary = f"{src} probed {len(ports)} ports ({_ports_text(ports, 60, ranges)}) on {tdesc} with {what} packets{span}"
    elif shape == "horizontal":
        summary = f"{src} swept port(s) {_ports_text(ports, 60, ranges)} across {nhosts} hosts with {what} packets{span}"
    else:
        summary = f"{src} probed {len(ports)} ports ({_ports_text(ports, 60, ranges)}) across {nhosts} hosts with {what} packets{span}"
    if key not in ("*", "echo"):
        summary = f"{FLAVOUR_WORDS[key]} scan ({shape}): " + summary
    return ctx.finding(fid, src, where, summary, targets=targets, ports=ports, details=details,
                       evidence=got["ev"] if got is not None else None)
