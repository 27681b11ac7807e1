"""sscan: the old sscan/mscan scanner's phases (FAQ 5.2).

sscan (derived from mscan) works in phases that each leave a recognisable trace:

1. ACK "pings" to the common services with the source port equal to the destination port
   (23, 25, 80, 110, 143: ``ACK_PING_PORTS``);
2. connection attempts to its configured list (``SSCAN_PORTS``: the FAQ's list plus the ports
   seen in its recorded runs);
3. OS fingerprinting with odd flag combinations sent from source ports 1-5.

One finding per source and session (``SESSION_GAP``), naming the phases seen. A single phase
is enough when it is one of the distinctive ones (ACK pings with sport = dport on
``MIN_ACK_PINGS`` ports, or ``MIN_FINGERPRINT`` packets from source ports 1-5); the port list
alone only counts when the source probed little else (``LIST_SHARE``), so an nmap scan of the
top 1000 ports, which covers the whole list, is not called sscan.
"""
from __future__ import annotations

from . import _bulk, zen

IDS = ("sscan",)
ORDER = 40

# Tunables
ACK_PING_PORTS = (23, 25, 80, 110, 143)
SSCAN_PORTS = (1, 21, 22, 23, 25, 53, 79, 80, 110, 111, 139, 143, 1114, 2766, 6000, 31337)
SESSION_GAP = 900      # seconds of silence that end a source's session
MIN_ACK_PINGS = 2      # ACK pings (sport = dport) on distinct ports of ACK_PING_PORTS; 1 would flag a
                       # single stray packet from a mail or web server talking to its peer's same port
MIN_FINGERPRINT = 2    # TCP packets from source ports 1-5
MIN_LIST_PORTS = 8     # ports of SSCAN_PORTS probed for the list phase alone to count
LIST_SHARE = 0.5       # ... and the share of all the source's probed ports they must make up
TUNABLES = ("ACK_PING_PORTS", "SSCAN_PORTS", "SESSION_GAP", "MIN_ACK_PINGS", "MIN_FINGERPRINT",
            "MIN_LIST_PORTS", "LIST_SHARE")


def _m() -> str:
    return __name__.rsplit(".", 1)[-1]


def detect(ctx):
    m, t = _m(), ctx.table
    ack_ports = ctx.lit(list(ctx.tun(m, "ACK_PING_PORTS")))
    lst = ctx.lit(list(ctx.tun(m, "SSCAN_PORTS")))
    gap = int(ctx.tun(m, "SESSION_GAP"))
    bits = "COALESCE(tcp_flag_bits, CASE WHEN tcp_flags = '' THEN 0 ELSE NULL END)"
    ackping = f"(MOD({bits}, 64) = 16 AND src_port = dst_port AND dst_port IN {ack_ports})"
    fp = "(src_port BETWEEN 1 AND 5)"
    syn = f"(MOD({bits}, 64) = 2 AND src_port > 5)"
    w = f"PARTITION BY src_ip ORDER BY {ctx.record_order()}"
    tcp = "proto = 'tcp' AND src_ip IS NOT NULL AND dst_port IS NOT NULL AND coalesce(action, 'other') <> 'accept'"
    # Sessions only for the sources that could qualify: a session needs MIN_ACK_PINGS ACK-ping ports,
    # MIN_FINGERPRINT fingerprinting packets or MIN_LIST_PORTS list ports (and at least one of the
    # three), and never has more of them than its source.
    need = [int(ctx.tun(m, n)) for n in ("MIN_ACK_PINGS", "MIN_FINGERPRINT", "MIN_LIST_PORTS")]
    if min(need) < 1:   # a phase that needs nothing: any session with one sign of the three qualifies
        need = [1, 1, 1]
    rows = ctx.query(f"""
    WITH c AS (SELECT src_ip FROM {t} WHERE {tcp} AND ({ackping} OR {fp} OR ({syn} AND dst_port IN {lst}))
               GROUP BY src_ip
               HAVING count(DISTINCT CASE WHEN {ackping} THEN dst_port END) >= {need[0]}
                   OR sum(CASE WHEN {fp} THEN 1 ELSE 0 END) >= {need[1]}
                   OR count(DISTINCT CASE WHEN {syn} AND dst_port IN {lst} THEN dst_port END) >= {need[2]}),
    b AS (SELECT src_ip, dst_ip, dst_port, ts, source_file, line,
                      CASE WHEN {ackping} THEN 1 ELSE 0 END AS is_ack,
                      CASE WHEN {fp} THEN 1 ELSE 0 END AS is_fp,
                      CASE WHEN {syn} THEN 1 ELSE 0 END AS is_syn
               FROM {t} WHERE {tcp} AND src_ip IN (SELECT src_ip FROM c)),
    g AS (SELECT b.*, CASE WHEN LAG(ts) OVER ({w}) IS NULL OR ts > LAG(ts) OVER ({w}) + INTERVAL '{gap}' SECOND
                           THEN 1 ELSE 0 END AS brk FROM b),
    s AS (SELECT g.*, SUM(brk) OVER ({w} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sess FROM g)
    SELECT src_ip, sess, count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen,
           count(DISTINCT CASE WHEN is_ack = 1 THEN dst_port END) AS ack_pings,
           sum(is_fp) AS fingerprint,
           count(DISTINCT CASE WHEN is_syn = 1 AND dst_port IN {lst} THEN dst_port END) AS list_ports,
           count(DISTINCT CASE WHEN is_syn = 1 THEN dst_port END) AS syn_ports,
           count(DISTINCT dst_ip) AS hosts
    FROM s GROUP BY src_ip, sess
    HAVING count(DISTINCT CASE WHEN is_ack = 1 THEN dst_port END) >= 1 OR sum(is_fp) >= 1
        OR count(DISTINCT CASE WHEN is_syn = 1 AND dst_port IN {lst} THEN dst_port END) >= 1
    ORDER BY src_ip, min(ts)""")
    hits = []
    for r in rows:
        phases = []
        if r["ack_pings"] >= int(ctx.tun(m, "MIN_ACK_PINGS")):
            phases.append("ack-pings")
        if r["fingerprint"] >= int(ctx.tun(m, "MIN_FINGERPRINT")):
            phases.append("fingerprint")
        list_ok = (r["list_ports"] >= int(ctx.tun(m, "MIN_LIST_PORTS"))
                   and r["list_ports"] >= float(ctx.tun(m, "LIST_SHARE")) * max(1, r["syn_ports"]))
        if list_ok or (phases and r["list_ports"] >= 3):
            phases.append("port-list")
        if not phases or phases == ["port-list"] and not list_ok:
            continue
        hits.append((r, phases))
    base = f"proto = 'tcp' AND ({ackping} OR {fp} OR ({syn} AND dst_port IN {lst}))"
    pre = None
    if hits and _bulk.can_group(ctx):   # ports, targets and evidence of every finding at once
        _bulk.prefetch_zen(ctx, [r["src_ip"] for r, _ in hits])
        with _bulk.Groups(ctx, base, ["src_ip"], [(r["src_ip"], r["first_seen"], r["last_seen"]) for r, _ in hits],
                          ("dst_ip", "dst_port")) as g:
            ports_of, targets_of, ev_of = g.distinct("dst_port"), g.distinct("dst_ip", 65), g.evidence()
        pre = [(ports_of.get(i, []), targets_of.get(i, []), ev_of.get(i) or _bulk.empty()) for i in range(len(hits))]
    out = []
    for i, (r, phases) in enumerate(hits):
        src = r["src_ip"]
        conf = "high" if len(phases) >= 2 else "medium"
        parts = []
        if "ack-pings" in phases:
            parts.append(f"ACK pings with source port = destination port on {r['ack_pings']} service port(s)")
        if "fingerprint" in phases:
            parts.append(f"{r['fingerprint']} fingerprinting packet(s) from source ports 1-5")
        if "port-list" in phases:
            parts.append(f"connection attempts to {r['list_ports']} port(s) of sscan's usual list")
        where = (f"proto = 'tcp' AND src_ip = {ctx.lit(src)} AND ts >= {ctx.lit(r['first_seen'])} "
                 f"AND ts <= {ctx.lit(r['last_seen'])} AND ({ackping} OR {fp} OR ({syn} AND dst_port IN {lst}))")
        if pre is not None:
            ports, targets, ev = pre[i]
        else:
            ev = None
            ports = [x["dst_port"] for x in ctx.query(
                f"SELECT DISTINCT dst_port FROM {t} WHERE {where} ORDER BY dst_port")]
            targets = [x["dst_ip"] for x in ctx.query(
                f"SELECT DISTINCT dst_ip FROM {t} WHERE {where} ORDER BY dst_ip LIMIT 65")]
        out.append(ctx.finding(
            "sscan", src, where,
            summary=f"{src} behaved like the sscan scanner: " + "; ".join(parts),
            targets=targets if len(targets) <= 64 else r["hosts"], ports=ports,
            confidence=f"{conf}: {len(phases)} of sscan's 3 recognisable phases seen",
            details={"phases": phases, "ack_pings": r["ack_pings"], "fingerprint_packets": r["fingerprint"],
                     "list_ports": r["list_ports"], "zen": zen.short(ctx, src)}, evidence=ev))
    return out
