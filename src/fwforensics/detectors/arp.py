"""ping.sweep by ARP: one machine asking the local segment for the hardware addresses of many
IP addresses in a row, most of them unanswered (FAQ 2.8's ping sweep, done one layer down).

On its own Ethernet segment nmap finds live hosts with ARP requests, not ICMP echo (its default
for ``-sn`` and before any scan of local targets), and so do arp-scan, netdiscover and worms
spreading inside a LAN. Firewall logs never show ARP; packet captures do (the pcap reader turns
ARP frames into records with ``proto`` = ``arp`` and ``app_detail`` ``who-has X tell Y`` or
``X is-at MAC``). ARP does not cross routers, so the sender is on the capture's own segment:
the finding says so in ``details.local`` and the verdict counts it as a scan from inside.

A session is one sender's requests until it has been quiet for more than ``SESSION_GAP``
seconds. A session is a sweep when it asked for at least ``MIN_HOSTS`` addresses and at least
``UNANSWERED_SHARE`` of them got no ARP reply anywhere in the capture. Look-alikes that stay
silent: a router or server resolving its busy clients (they answer), ARP probes of address
conflict detection (sender 0.0.0.0) and gratuitous ARP (sender = target).
"""
from __future__ import annotations

from . import _misc as m
from ._us import _net

IDS = ("ping.sweep",)
ORDER = 35   # after scans (20) and decoys (30): the decoy detector reads only the scans' findings

# Tunables
SESSION_GAP = 300          # seconds without a request that end a sender's session; raise to join
                           # slow sweeps (arp-scan --interval, netdiscover's sleeps) into one
MIN_HOSTS = 16             # distinct addresses asked for in one session. Lower finds short sweeps of
                           # a small subnet, at the cost of flagging a busy router's look-ups
UNANSWERED_SHARE = 0.5     # of those addresses, the share that no ARP reply in the capture names.
                           # Raise on a network where most addresses are in use (a sweep there gets
                           # answers); lower if the capture saw only one direction
TARGETS_LISTED = 64        # at most this many addresses are listed (above: their count)
TUNABLES = ("SESSION_GAP", "MIN_HOSTS", "UNANSWERED_SHARE", "TARGETS_LISTED")

REQUESTS = ("proto = 'arp' AND app_detail LIKE 'who-has %' AND src_ip IS NOT NULL AND dst_ip IS NOT NULL "
            "AND src_ip <> '0.0.0.0' AND src_ip <> dst_ip AND ts IS NOT NULL")
REPLIES = "proto = 'arp' AND app_detail LIKE '% is-at %' AND src_ip IS NOT NULL"


def _nets(addrs: list[str]) -> list[str]:
    """The /24s (IPv4) the addresses fall in (``_us._net``: a broadcast-like .255 counts for none),
    busiest first, as text."""
    counts: dict[str, int] = {}
    for a in addrs:
        n = _net(a)
        if n is not None:
            counts[str(n)] = counts.get(str(n), 0) + 1
    return [n for n, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def detect(ctx):
    me = m.short(__name__)
    t = ctx.table
    gap = max(int(ctx.tun(me, "SESSION_GAP")), 0)
    least = int(ctx.tun(me, "MIN_HOSTS"))
    share = float(ctx.tun(me, "UNANSWERED_SHARE"))
    listed = int(ctx.tun(me, "TARGETS_LISTED"))
    w = "PARTITION BY src_ip ORDER BY ts"
    rows = ctx.query(f"""
        WITH r AS (SELECT src_ip, dst_ip, ts, LAG(ts) OVER ({w}) AS pts FROM {t} WHERE {REQUESTS}),
        s AS (SELECT src_ip, dst_ip, ts,
                     SUM(CASE WHEN pts IS NULL OR ts > pts + INTERVAL '{gap}' SECOND THEN 1 ELSE 0 END)
                         OVER ({w} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sess
              FROM r),
        big AS (SELECT src_ip, sess FROM s GROUP BY src_ip, sess HAVING count(DISTINCT dst_ip) >= {least}),
        ans AS (SELECT DISTINCT src_ip AS ip FROM {t} WHERE {REPLIES})
        SELECT s.src_ip, s.sess, count(*) AS n, count(DISTINCT s.dst_ip) AS hosts,
               count(DISTINCT CASE WHEN ans.ip IS NULL THEN s.dst_ip END) AS silent,
               min(s.ts) AS first_seen, max(s.ts) AS last_seen,
               {m.secs('max(s.ts)')} - {m.secs('min(s.ts)')} AS took
        FROM s JOIN big ON s.src_ip = big.src_ip AND s.sess = big.sess
        LEFT JOIN ans ON s.dst_ip = ans.ip
        GROUP BY s.src_ip, s.sess ORDER BY s.src_ip, first_seen""")
    out = []
    for r in rows:
        hosts, silent = int(r["hosts"]), int(r["silent"])
        if silent < share * hosts:
            continue
        src = r["src_ip"]
        where = (f"{REQUESTS} AND src_ip = {ctx.lit(src)} AND ts >= {ctx.lit(r['first_seen'])} "
                 f"AND ts <= {ctx.lit(r['last_seen'])}")
        asked = m.targets(ctx, where, limit=4096)
        nets = _nets(asked)
        took = float(r["took"] or 0)
        span = "within a second" if took < 1 else f"over {took:.0f} s" if took < 120 else f"over {took / 60:.0f} min"
        where_to = (f" of {nets[0]}" if len(nets) == 1 else f" in {len(nets)} /24 networks ({', '.join(nets[:3])}"
                    + (", ..." if len(nets) > 3 else "") + ")") if nets else ""
        answered = "none of them was answered" if silent == hosts else f"{silent} were not answered"
        summary = (f"{src} asked for the hardware addresses of {hosts} hosts{where_to} {span} (ARP requests) "
                   f"and {answered}: an ARP sweep, finding the live hosts of its own network segment")
        out.append(ctx.finding(
            "ping.sweep", src, where, summary, severity="medium",
            targets=asked if len(asked) <= listed else hosts,
            explanation=EXPLANATION, advice=ADVICE,
            details={"method": "arp", "local": True, "hosts": hosts, "unanswered": silent,
                     "requests": int(r["n"]), "networks": nets, "seconds": round(took, 3),
                     "session_gap_seconds": gap}))
    return out


EXPLANATION = (
    "ARP is how a machine learns which hardware (MAC) address on its own network segment holds an IP "
    "address. This machine asked about a long run of addresses in a short time, and most of them had no "
    "owner to answer: it was walking the address range to see which hosts are up, the first step "
    "before probing them. nmap does exactly this for targets on its own Ethernet segment (with -sn, and "
    "before any scan), as do arp-scan and netdiscover; worms spreading inside a LAN do it too. ARP "
    "requests never pass a router, so the sender sits on the same segment as the capture point: inside "
    "your network, or on a network you share with others (a hotel, a shared hosting VLAN, a provider's "
    "cable segment).")
ADVICE = (
    "Find the machine: its MAC address is in the capture's ARP requests, and a switch's address table "
    "or the DHCP leases tie it to a port or a name. Ask who ran the sweep; if nobody did, treat the "
    "machine as compromised and check it. An inventory or monitoring server that sweeps on schedule can "
    "be silenced with --suppress id=ping.sweep,src=ADDRESS.")
