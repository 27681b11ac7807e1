"""config.advice: configuration changes the other findings point to (S-ADVICE).

Decision: advice is reported as findings of its own, id ``config.advice`` (a new id, as
signatures.md allows), one per topic, with ``details.topic`` naming it and ``details.because``
listing the findings (id and src) it rests on. Those findings also get ``details.advice_topic``
so a report can link them. Topics:

* ``identd``: identd (113) SYNs are dropped, so mail/IRC/FTP servers wait: reject with a reset.
* ``pmtu``: fragmentation-needed / packet-too-big messages are dropped: path MTU discovery breaks.
* ``netbios-ptr``: many NetBIOS lookups: the reverse (PTR) zone of our addresses probably does
  not answer (classless RFC 2317 delegation missing at the ISP).
* ``stateless-dns``: new connections from source port 53 were let in: a stateless "allow DNS
  replies" rule admits anything that picks 53 as its source port.
"""
from __future__ import annotations

from . import _misc as m

IDS = ("config.advice",)
ORDER = 90

# Tunables
NETBIOS_FLOOD_RECORDS = 20   # NetBIOS lookups in the log that count as a flood worth fixing DNS for;
                             # lower it on small logs, raise it on busy sites where some are normal
NETBIOS_FLOOD_SOURCES = 5    # ... or this many distinct asking sources
STATELESS_MIN_RECORDS = 1    # accepted new connections from port 53 before the stateless-rule advice
TUNABLES = ("NETBIOS_FLOOD_RECORDS", "NETBIOS_FLOOD_SOURCES", "STATELESS_MIN_RECORDS")


def _because(fs):
    return [{"id": f.id, "src": f.src} for f in fs]


def _tag(fs, topic):
    for f in fs:
        f.details.setdefault("advice_topic", topic)


def detect(ctx):
    me = m.short(__name__)
    by_id: dict[str, list] = {}
    for f in ctx.findings:
        by_id.setdefault(f.id, []).append(f)
    out = []

    ident = by_id.get("identd.blocked", [])
    if ident:
        from . import identd
        servers = sorted({f.src for f in ident if f.src})
        if any(f.details.get("aggregated") for f in ident):   # (many servers: the rest share one finding)
            servers = sorted(r["src_ip"] for r in ctx.query(identd.rows_sql(ctx)))
        _tag(ident, "identd")
        out.append(ctx.finding(
            "config.advice", None, identd.PRED, evidence=m.evidence(ctx, identd.PRED), severity="medium",
            summary=f"Reject identd (TCP 113) with a reset instead of dropping it: "
                    f"{m.plural(len(servers), 'server')} had to wait for their identd lookups to time out",
            explanation=("Mail, IRC and some FTP servers ask the connecting machine's identd (port 113) who "
                         "opened the connection before they greet it. A dropped SYN gives them no answer, so "
                         "every login hangs until their lookup times out; a reset answers at once and reveals "
                         "nothing."),
            advice=("Change the rule for incoming TCP 113 from drop to reject with a TCP reset "
                    "(iptables: -p tcp --dport 113 -j REJECT --reject-with tcp-reset)."),
            targets=servers, ports=[113], details={"topic": "identd", "because": _because(ident)}))

    frag = by_id.get("icmp.frag_needed", [])
    if frag:
        from .icmp import SIMPLE
        _tag(frag, "pmtu")
        out.append(ctx.finding(
            "config.advice", None, SIMPLE["icmp.frag_needed"][0], evidence=m.evidence(ctx, SIMPLE["icmp.frag_needed"][0]), severity="high",
            summary="Let ICMP fragmentation-needed (type 3 code 4) and ICMPv6 packet-too-big in: dropping them "
                    "breaks path MTU discovery",
            explanation=("Hosts send large packets with the don't-fragment bit and shrink them when a router "
                         "says the packet is too big. If the firewall drops that message, large transfers over "
                         "such a path stall while small ones work: pages load half way, VPNs and mail hang."),
            advice=("Accept ICMP type 3 code 4 and ICMPv6 type 2 (at least as RELATED to existing "
                    "connections); do not rate-limit them to nothing."),
            targets=sorted({f.src for f in frag if f.src}), details={"topic": "pmtu", "because": _because(frag)}))

    nb = by_id.get("netbios.nbstat", [])
    total = sum(f.count for f in nb)
    # (a finding that groups many sources counts each of them)
    askers = sum(int(f.details.get("sources") or 0) if f.details.get("aggregated") else 1 for f in nb)
    if nb and (total >= int(ctx.tun(me, "NETBIOS_FLOOD_RECORDS"))
               or askers >= int(ctx.tun(me, "NETBIOS_FLOOD_SOURCES"))):
        from .netbios import lookup_pred
        hosts = sorted({t for f in nb for t in (f.targets if isinstance(f.targets, list) else [])})
        _tag(nb, "netbios-ptr")
        out.append(ctx.finding(
            "config.advice", None, lookup_pred(ctx), evidence=m.evidence(ctx, lookup_pred(ctx)), severity="low",
            summary=f"Check that reverse DNS (PTR) for your addresses answers: {total} NetBIOS lookups from "
                    f"{m.plural(askers, 'source')}",
            explanation=("Windows asks an address for its NetBIOS name only after a reverse DNS lookup failed. "
                         "Many such lookups usually mean the PTR records of your addresses do not resolve, "
                         "often because the ISP never delegated a classless block (RFC 2317 CNAME delegation)."),
            advice=("Look up the PTR record of the addresses below from outside (dig -x ADDRESS). If it fails, "
                    "publish PTR records and ask the ISP to delegate the reverse zone (RFC 2317 for blocks "
                    "smaller than a /24)."),
            targets=hosts[:50], ports=[137], details={"topic": "netbios-ptr", "lookups": total,
                                                      "because": _because(nb)}))

    stateless = (f"src_port = 53 AND coalesce(action, 'other') = 'accept' AND dst_port <> 53 AND "
                 f"((proto = 'tcp' AND tcp_flags LIKE '%SYN%' AND tcp_flags NOT LIKE '%ACK%') OR "
                 f"(proto = 'udp' AND dst_port < 1024))")
    n = ctx.query(f"SELECT count(*) AS n FROM {ctx.table} WHERE {stateless}")[0]["n"]
    if n and n >= int(ctx.tun(me, "STATELESS_MIN_RECORDS")):
        srcs = m.targets(ctx, stateless, col="src_ip")
        out.append(ctx.finding(
            "config.advice", None, stateless, evidence=m.evidence(ctx, stateless), severity="high",
            summary=f"{m.plural(int(n), 'new connection')} from source port 53 were let in: a rule admits "
                    f"anything that claims to be a DNS answer",
            explanation=("A stateless rule such as 'allow from port 53' is meant for DNS answers, but any "
                         "scanner can choose 53 as its source port and reach every service behind it. A TCP "
                         "SYN, or a UDP datagram to a low service port, from port 53 is not an answer."),
            advice=("Replace the rule with stateful matching (accept ESTABLISHED,RELATED) or a DNS proxy; "
                    "never admit traffic on the strength of its source port."),
            targets=srcs, ports=m.ports(ctx, stateless), details={"topic": "stateless-dns", "sources": srcs}))
    return out
