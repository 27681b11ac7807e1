"""ICMP oddities: unsolicited unreachables (and what their quoted packet says), dropped
fragmentation-needed messages, source quench, redirects, router advertisements, parameter
problems, echo replies nobody asked for, timestamp and address-mask requests. ICMPv6 equivalents
are included where they exist (packet too big, redirect, parameter problem, echo reply, and
router advertisements that cannot come from a router on the link).
"""
from __future__ import annotations

from . import _misc as m

IDS = ("icmp.unreach_backscatter", "icmp.frag_needed", "icmp.source_quench", "icmp.redirect",
       "icmp.router_advert", "icmp.param_problem", "icmp.echo_reply_unsolicited", "icmp.timestamp",
       "icmp.addr_mask")
ORDER = 50

# Tunables
REPLY_WINDOW = 60        # seconds: an echo reply within this time after a logged request from the
                         # host it answers is solicited; longer windows excuse more replies
CONTACT_WINDOW = 600     # seconds: an unreachable is "from a host never contacted" when no record
                         # from our side to that host is in the log within this time before it
DECOY_PORTS = 3          # distinct quoted destination ports that make unreachables decoy-scan
                         # backscatter; lower to call it sooner, raise for fewer false calls
MIN_RECORDS = 1          # records per source and id before a finding
MAX_SOURCES = m.MAX_SOURCES  # more sources than this for one id: the rest share one aggregate finding
TOP_SOURCES = m.TOP_SOURCES  # busiest sources that keep their own finding then (see _misc.py)
TUNABLES = ("REPLY_WINDOW", "CONTACT_WINDOW", "DECOY_PORTS", "MIN_RECORDS") + m.AGG_TUNABLES

V4 = "proto = 'icmp'"
V6 = "proto = 'ipv6-icmp'"

# id -> (predicate, what it is in a few words)
SIMPLE = {
    "icmp.frag_needed": (f"(({V4} AND icmp_type = 3 AND icmp_code = 4) OR ({V6} AND icmp_type = 2)) "
                         f"AND {m.NOT_ACCEPTED} AND NOT {m.FATE_UNKNOWN}",   # dropped ones only
                         "fragmentation-needed (packet too big) message(s)"),
    "icmp.source_quench": (f"{V4} AND icmp_type = 4", "source quench message(s)"),
    "icmp.redirect": (f"(({V4} AND icmp_type = 5) OR ({V6} AND icmp_type = 137))", "redirect message(s)"),
    # an IPv6 router advertisement from a link-local address with hop limit 255 is routine
    "icmp.router_advert": (f"(({V4} AND icmp_type = 9) OR ({V6} AND icmp_type = 134 AND "
                           f"(src_ip NOT LIKE 'fe80:%' OR (ttl IS NOT NULL AND ttl <> 255))))",
                           "router advertisement(s)"),
    "icmp.param_problem": (f"(({V4} AND icmp_type = 12) OR ({V6} AND icmp_type = 4))",
                           "parameter-problem message(s)"),
    "icmp.timestamp": (f"{V4} AND icmp_type IN (13, 15)", "timestamp (or information) request(s)"),
    "icmp.addr_mask": (f"{V4} AND icmp_type = 17", "address-mask request(s)"),
}


def detect(ctx):
    out = []
    groups = _simple_groups(ctx)
    for fid, (pred, what) in SIMPLE.items():
        out.extend(_simple(ctx, fid, pred, what, groups.get(fid, [])))
    out.extend(_echo_replies(ctx))
    out.extend(_backscatter(ctx))
    return out


# what _simple reads of each source's records of one SIMPLE id
_SIMPLE_AGG = ("count(*) AS n, count(DISTINCT dst_ip) AS hosts, min(icmp_mtu) AS mtu, "
               "min(icmp_gateway) AS gw, min(inner_dst_ip) AS inner_dst")


def _simple_sql(ctx, pred):
    """Per source: the records of ``pred`` (one of SIMPLE's), as :func:`_simple` reads them."""
    return f"""
        SELECT src_ip, {_SIMPLE_AGG} FROM {ctx.table} WHERE {pred} AND src_ip IS NOT NULL
        GROUP BY src_ip HAVING count(*) >= {int(ctx.tun(m.short(__name__), 'MIN_RECORDS'))}"""


def _simple_groups(ctx) -> dict[str, list[dict]]:
    """The per-source rows of every SIMPLE id from one pass over the ICMP records (the ids'
    predicates never overlap: each is its own ICMP type), instead of a query per id."""
    kinds = " ".join(f"WHEN {pred} THEN {ctx.lit(fid)}" for fid, (pred, _what) in SIMPLE.items())
    mn = int(ctx.tun(m.short(__name__), 'MIN_RECORDS'))
    rows = ctx.query(f"""
        SELECT fid, src_ip, {_SIMPLE_AGG}
        FROM (SELECT CASE {kinds} END AS fid, src_ip, dst_ip, icmp_mtu, icmp_gateway, inner_dst_ip
              FROM {ctx.table} WHERE ({V4} OR {V6}) AND src_ip IS NOT NULL) k
        WHERE fid IS NOT NULL
        GROUP BY fid, src_ip HAVING count(*) >= {mn} ORDER BY fid, src_ip""")
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r.pop("fid"), []).append(r)
    return out


def _simple(ctx, fid, pred, what, rows):
    me = m.short(__name__)
    mn = int(ctx.tun(me, 'MIN_RECORDS'))
    gsql = _simple_sql(ctx, pred)
    rows, rest = m.split_sources(ctx, me, rows)
    # many sources: the look-ups below read a copy of their records, not the whole log
    with m.narrowed(ctx, f"{pred} AND src_ip IS NOT NULL" if rest else None):
        return _simple_findings(ctx, fid, pred, what, gsql, mn, rows, rest)


def _simple_findings(ctx, fid, pred, what, gsql, mn, rows, rest):
    scope = m.own_scope(ctx, rows, rest)
    out = []
    if rest:
        where = m.rest_where(ctx, f"{pred} AND src_ip IS NOT NULL", rows, rest, gsql if mn > 1 else None)
        details = m.rest_details(rest)
        if fid == "icmp.frag_needed":
            mtus = sorted({r["mtu"] for r in rest if r["mtu"]})
            details["mtus"] = mtus[:20]
        out.append(ctx.finding(
            fid, None, where, evidence=m.evidence(ctx, where), targets=m.targets(ctx, where), details=details,
            summary=f"{details['records']} {what} from {m.more_sources(rest)}"
                    + (" were dropped by the firewall (path MTU discovery is broken for those paths)"
                       if fid == "icmp.frag_needed" else "")))
    for r in rows:
        src = r["src_ip"]
        where = f"{pred}{scope} AND src_ip = {ctx.lit(src)}"
        tg = m.targets(ctx, where)
        extra, details = "", {}
        if fid == "icmp.frag_needed":
            details["mtu"] = r["mtu"]
            extra = (f" (next-hop MTU {r['mtu']})" if r["mtu"] else "") + \
                " were dropped by the firewall: connections with large packets along that path will hang " \
                "(path MTU discovery is broken)"
        elif fid == "icmp.redirect" and r["gw"]:
            details["gateway"] = r["gw"]
            extra = f" pointing to gateway {r['gw']}"
        out.append(ctx.finding(
            fid, src, where, targets=tg, details=details,
            summary=f"{r['n']} {what} from {src} to {m.plural(int(r['hosts']), 'host')}{extra}"))
    return out


def _echo_replies(ctx):
    me = m.short(__name__)
    t = ctx.table
    window = float(ctx.tun(me, "REPLY_WINDOW"))
    rep = f"(({V4} AND icmp_type = 0) OR ({V6} AND icmp_type = 129)) AND {m.NOT_ACCEPTED}"
    req = f"(({V4} AND icmp_type = 8) OR ({V6} AND icmp_type = 128))"
    unanswered = (f"NOT EXISTS (SELECT 1 FROM {t} q WHERE {req.replace('proto', 'q.proto').replace('icmp_type', 'q.icmp_type')} "
                  f"AND q.src_ip = {t}.dst_ip AND q.dst_ip = {t}.src_ip AND {m.secs('q.ts')} <= {m.secs(t + '.ts')} "
                  f"AND {m.secs('q.ts')} >= {m.secs(t + '.ts')} - {window})")
    # the replies nobody asked for, found once; the look-ups below read a copy of those records
    lonely = f"{rep} AND src_ip IS NOT NULL AND {unanswered}"
    with m.narrowed(ctx, lonely) as nw:
        return _echo_findings(ctx, me, nw.pred)


def _echo_findings(ctx, me, lonely):
    mn = int(ctx.tun(me, 'MIN_RECORDS'))
    gsql = f"""
        SELECT src_ip, count(*) AS n, count(DISTINCT dst_ip) AS hosts
        FROM {ctx.table} WHERE {lonely} GROUP BY src_ip HAVING count(*) >= {mn}"""
    rows = ctx.query(gsql + " ORDER BY src_ip")
    # senders answering many of our addresses at once point to a decoy ping sweep
    rows, rest = m.split_sources(ctx, me, rows)
    scope = m.own_scope(ctx, rows, rest)
    out = []
    if rest:
        where = m.rest_where(ctx, lonely, rows, rest, gsql if mn > 1 else None)
        details = m.rest_details(rest)
        out.append(ctx.finding(
            "icmp.echo_reply_unsolicited", None, where, evidence=m.evidence(ctx, where), targets=m.targets(ctx, where), details=details,
            summary=f"{m.plural(details['records'], 'echo reply', 'echo replies')} from {m.more_sources(rest)} "
                    f"with no request in the log: answers to pings we did not log, or decoy ping sweeps"))
    for r in rows:
        src = r["src_ip"]
        where = f"{lonely}{scope} AND src_ip = {ctx.lit(src)}"
        hosts = int(r["hosts"])
        why = ("someone pinged this host with our addresses as decoys or forged sources"
               if hosts > 1 else
               "an answer to a ping we did not log, a decoy ping sweep, or a covert channel riding on echo replies")
        out.append(ctx.finding(
            "icmp.echo_reply_unsolicited", src, where, targets=m.targets(ctx, where),
            summary=f"{m.plural(int(r['n']), 'echo reply', 'echo replies')} from {src} to {m.plural(hosts, 'host')} "
                    f"with no request in the log: {why}",
            details={"hosts": hosts}))
    return out


def _backscatter(ctx):
    """Unreachables (other than fragmentation-needed) that answer nothing we sent."""
    me = m.short(__name__)
    t = ctx.table
    window = float(ctx.tun(me, "CONTACT_WINDOW"))
    unr = (f"((({V4} AND icmp_type = 3 AND (icmp_code IS NULL OR icmp_code <> 4)) OR ({V6} AND icmp_type = 1)) "
           f"AND {m.NOT_ACCEPTED})")
    # our side contacted the sender (or the host it speaks for) shortly before
    contacted = (f"EXISTS (SELECT 1 FROM {t} o WHERE o.src_ip = {{u}}.dst_ip "
                 f"AND (o.dst_ip = {{u}}.src_ip OR o.dst_ip = {{u}}.inner_dst_ip) "
                 f"AND NOT coalesce(o.proto IN ('icmp', 'ipv6-icmp') AND o.icmp_type IN (1, 3), FALSE) "
                 f"AND {m.secs('o.ts')} <= {m.secs('{u}.ts')} AND {m.secs('o.ts')} >= {m.secs('{u}.ts')} - {window})")
    # the unreachables that answer nothing we sent, found once: a copy of those records is what the
    # look-ups below read (on other engines the predicate itself, with its sub-query, is repeated)
    lonely = f"{unr} AND src_ip IS NOT NULL AND NOT {contacted.format(u=t)}"
    with m.narrowed(ctx, lonely) as nw:
        return _backscatter_findings(ctx, me, nw.pred)


def _backscatter_findings(ctx, me, lonely):
    t = ctx.table
    mn = int(ctx.tun(me, 'MIN_RECORDS'))
    gsql = f"""
        SELECT src_ip, count(*) AS n, count(DISTINCT dst_ip) AS hosts,
               count(DISTINCT inner_dst_port) AS dports,
               sum(CASE WHEN inner_src_port = 53 THEN 1 ELSE 0 END) AS dns,
               sum(CASE WHEN inner_dst_port = 137 THEN 1 ELSE 0 END) AS nbt,
               sum(CASE WHEN inner_dst_port BETWEEN 33434 AND 33600 AND inner_proto = 'udp' THEN 1 ELSE 0 END) AS trace,
               sum(CASE WHEN inner_proto IS NULL AND inner_dst_ip IS NULL THEN 1 ELSE 0 END) AS unquoted
        FROM {t} WHERE {lonely} GROUP BY src_ip HAVING count(*) >= {mn}"""
    rows = ctx.query(gsql + " ORDER BY src_ip")
    rows, rest = m.split_sources(ctx, me, rows)
    scope = m.own_scope(ctx, rows, rest)
    out = []
    if rest:
        where = m.rest_where(ctx, lonely, rows, rest, gsql if mn > 1 else None)
        reasons: dict[str, int] = {}
        for r in rest:
            reason = _reason(ctx, r)[0]
            reasons[reason] = reasons.get(reason, 0) + 1
        details = m.rest_details(rest, reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))))
        qports = m.ports(ctx, where, col="inner_dst_port")
        out.append(ctx.finding(
            "icmp.unreach_backscatter", None, where, evidence=m.evidence(ctx, where), targets=m.targets(ctx, where), ports=qports,
            summary=f"{m.plural(details['records'], 'unreachable')} from {m.more_sources(rest)}, hosts we never "
                    f"contacted (causes by source: "
                    + ", ".join(f"{k} {v}" for k, v in details["reasons"].items()) + ")",
            details=details,
            severity="info" if set(reasons) <= {"traceroute", "netbios", "stale-dns"} else None))
    for r in rows:
        src, n = r["src_ip"], int(r["n"])
        where = f"{lonely}{scope} AND src_ip = {ctx.lit(src)}"
        reason, why = _reason(ctx, r)
        qports = m.ports(ctx, where, col="inner_dst_port")
        out.append(ctx.finding(
            "icmp.unreach_backscatter", src, where, targets=m.targets(ctx, where), ports=qports,
            # (answers to our own traceroute: the quoted probes show we did contact it, off the log)
            summary=(f"{m.plural(n, 'unreachable')} from {src}, answering probes to the traceroute ports that the "
                     f"log does not show: someone inside ran traceroute" if reason == "traceroute" else
                     f"{m.plural(n, 'unreachable')} from {src}, a host we never contacted: {why}"),
            details={"reason": reason, "quoted_destination_ports": qports, "hosts": int(r["hosts"])},
            severity="info" if reason in ("traceroute", "netbios", "stale-dns") else None))
    return out


def _reason(ctx, r) -> tuple[str, str]:
    """Why one source's unreachables arrived: (reason, the words for it)."""
    me = m.short(__name__)
    src, n = r["src_ip"], int(r["n"])
    dports = int(r["dports"] or 0)
    if r["trace"] * 2 > n:
        reason, why = "traceroute", "they answer UDP probes to the traceroute ports: someone inside ran traceroute"
    elif r["dns"] * 2 > n:
        reason, why = "stale-dns", ("the quoted packets come from port 53: a DNS server here answered after the "
                                    "client had given up (late or duplicate DNS answers)")
    elif r["nbt"] * 2 > n:
        reason, why = "netbios", ("the quoted packets went to port 137: a Windows machine here tried to resolve "
                                  "that address by NetBIOS after DNS failed")
    elif dports >= int(ctx.tun(me, "DECOY_PORTS")):
        reason, why = "decoy-scan", (f"the quoted destination port changes ({dports} ports): someone scanned {src} "
                                     f"with our address among the forged sources")
    elif r["unquoted"] == n:
        reason, why = "unknown", "the log does not show the quoted packet, so the cause cannot be read"
    else:
        reason, why = "unknown", "the quoted packet does not match a known cause; a forged source is likely"
    return reason, why
