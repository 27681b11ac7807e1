"""smurf / fraggle: echo requests (ICMP, or UDP echo 7 / chargen 19) sent to a broadcast address.

The source of such packets is forged: it is the victim who will receive every host's answer.
This network is the would-be amplifier, so the finding's ``src`` is the victim, not the
attacker (who never appears in the log). One finding per forged source and kind.
"""
from __future__ import annotations

from . import _misc as m

IDS = ("smurf", "fraggle")
ORDER = 45          # before ipaddr.py, which leaves these packets out of broadcast.directed

# Tunables
MIN_RECORDS = 2     # broadcast echoes from one forged source before a finding; a single one is
                    # more often someone hunting for amplifiers (reported as broadcast.directed).
                    # Lower to 1 to catch the first packet of an attack, raise to ignore probing.
FRAGGLE_PORTS = (7, 19)   # UDP echo and chargen; add 13 (daytime) or 17 (qotd) to widen the net
TUNABLES = ("MIN_RECORDS", "FRAGGLE_PORTS")

SMURF_PRED = ("((proto = 'icmp' AND icmp_type = 8) OR "
              "(proto = 'ipv6-icmp' AND icmp_type = 128 AND dst_ip LIKE 'ff%'))")


def fraggle_pred(ports) -> str:
    return f"(proto = 'udp' AND dst_port IN ({', '.join(str(int(p)) for p in ports)}))"


def predicates(ctx) -> dict[str, str]:
    """id -> SQL predicate of the records it covers (ipaddr.py uses this to skip them)."""
    bc, _ = m.broadcast_pred(ctx)
    ports = ctx.tun(m.short(__name__), "FRAGGLE_PORTS")
    return {"smurf": f"({SMURF_PRED} AND {bc})", "fraggle": f"({fraggle_pred(ports)} AND {bc})"}


def detect(ctx):
    me = m.short(__name__)
    minimum = int(ctx.tun(me, "MIN_RECORDS"))
    _, guessed = m.broadcast_pred(ctx)
    out = []
    for fid, pred in predicates(ctx).items():
        rows = ctx.query(f"""
            SELECT src_ip, count(*) AS n, count(DISTINCT dst_ip) AS bcasts,
                   sum(CASE WHEN coalesce(action, 'other') = 'accept' THEN 1 ELSE 0 END) AS passed,
                   sum(CASE WHEN {m.FATE_UNKNOWN} THEN 1 ELSE 0 END) AS unknown
            FROM {ctx.table}
            WHERE {pred} AND src_ip IS NOT NULL
            GROUP BY src_ip HAVING count(*) >= {minimum}
            ORDER BY src_ip""")
        for r in rows:
            src = r["src_ip"]
            where = f"{pred} AND src_ip = {ctx.lit(src)}"
            tg = m.targets(ctx, where)
            kind = "ICMP echo requests" if fid == "smurf" else "UDP echo/chargen datagrams"
            fate = ("some of them were let through, so hosts behind the firewall may have answered"
                    if r["passed"] else
                    "the capture does not show whether a firewall stopped them" if r["unknown"] == r["n"] else
                    "the firewall did not let them through")
            details = {"victim": src, "broadcast_addresses": tg, "passed": int(r["passed"] or 0),
                       "role": "this network was used as the amplifier; the source is the victim"}
            if guessed:
                details["mask_assumption"] = ("no home network known: addresses ending in .255 or .0 "
                                              "were taken to be subnet broadcasts")
            out.append(ctx.finding(
                fid, src, where,
                summary=(f"{r['n']} {kind} to "
                         f"{m.plural(r['bcasts'], 'broadcast address', 'broadcast addresses')} carried the "
                         f"forged source {src}: a {fid} attack on {src} using this network as amplifier; "
                         f"{fate}"),
                targets=tg, ports=m.ports(ctx, where) if fid == "fraggle" else [],
                details=details,
                severity="high" if r["passed"] else None))
    return out
