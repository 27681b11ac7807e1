"""Knowing "us": the home networks and the outside interface, inferred when the user gave none.

Called by :func:`fwforensics.analysis.report` before any detector runs. Each guess is written
to ``ctx.assumptions`` in plain words so the reader knows what the findings rest on, and how
to correct it (``--home-net``, ``--outside-if`` or the config file).

* Home networks: where the dropped and rejected traffic was addressed. Unicast destinations of
  drops are grouped into /24s (IPv4) or /64s (IPv6); the groups that together receive
  ``HOME_SHARE`` of the drops (at most ``MAX_NETS``) are taken as ours, except a group whose drops
  all came from the groups already taken (our own hosts' connections out, dropped). When most
  drops went from private to public addresses (``EGRESS_SHARE``: a Zeek sensor's failed
  connections out, a firewall's blocked egress), the groups are those of the drops' sources. When
  nothing was dropped (a packet capture, a log of accepted traffic), the home networks are the
  busiest private /24s (/64s) that both sent and received records: a capture inside a LAN or
  behind NAT (forged private sources only send). A capture of public addresses only gets none.
* Outside interface: the input interface carrying most drops from public (non-bogon) sources;
  when every source is private or reserved (a lab, or a firewall inside a larger network), the
  interface carrying most drops. An interface whose name says so (wan, ppp, outside, untrust,
  ext) wins a tie.
"""
from __future__ import annotations

import ipaddress
import socket

from ..knowledge import kb
from ._misc import SpecialAddresses, _dotted, multicast

HOME_SHARE = 0.9
MAX_NETS = 8
EGRESS_SHARE = 0.5   # dropped records from private to public addresses, of all dropped records, from
                     # which the log is taken for one of our own traffic out (home: their sources)
PRIVATE_KINDS = ("private", "shared", "unique-local")   # the knowledge base's kinds _private() covers
SOURCES_ASKED = 100  # a candidate home net whose dropped records all came from the nets already
                     # taken is where we connect to, not us; this many of its sources are checked
OUTSIDE_NAMES = ("wan", "ppp", "outside", "untrust", "ext", "internet")


def _net(ip: str) -> ipaddress._BaseNetwork | None:
    """The /24 (IPv4) or /64 (IPv6) of a unicast destination; None for multicast, unspecified,
    loopback, broadcast-like (.255) and what is not an address."""
    if ":" not in ip and ip.count(".") == 3 and _dotted(ip):   # the usual case, without parsing twice
        n = int.from_bytes(socket.inet_aton(ip), "big")
        if n >> 28 == 0xE or n == 0 or n & 0xFF == 0xFF or n >> 24 == 127:   # (127/8: never a network of hosts)
            return None
        return ipaddress.IPv4Network((n & 0xFFFFFF00, 24))
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if a.is_multicast or a.is_unspecified or a.is_loopback or (a.version == 4 and (str(a).endswith(".255") or a == ipaddress.ip_address("255.255.255.255"))):
        return None
    return ipaddress.ip_network(f"{a}/{24 if a.version == 4 else 64}", strict=False)


def _drop_sources(ctx, drops: str, dsts: list[str]) -> list[dict]:
    """The SOURCES_ASKED busiest sources (``src_ip``, records ``n``) of the drops addressed to ``dsts``."""
    return ctx.query(f"""SELECT src_ip, count(*) AS n FROM {ctx.table} WHERE {drops} AND dst_ip IN {ctx.lit(dsts)}
                         AND src_ip IS NOT NULL GROUP BY src_ip ORDER BY n DESC, src_ip LIMIT {SOURCES_ASKED}""")


def _only_from(ctx, drops: str, dsts: list[str], nets: list) -> bool:
    """Did every dropped record addressed to ``dsts`` come from inside ``nets``? Then those are
    addresses our own hosts tried to reach (a monitored network's failed connections out, in a
    Zeek log; a firewall's dropped egress), not ours. Up to SOURCES_ASKED of their sources are
    looked at."""
    srcs = _drop_sources(ctx, drops, dsts)
    if not srcs:
        return False
    for r in srcs:
        try:
            a = ipaddress.ip_address(r["src_ip"])
        except ValueError:
            return False
        if not any(a.version == n.version and a in n for n in nets):
            return False
    return True


def _private(col: str) -> str:
    """SQL: the address is in private (RFC 1918), shared (RFC 6598) or unique-local (fc00::/7) space."""
    v4 = ["10.%", "192.168.%"] + [f"172.{o}.%" for o in range(16, 32)] + [f"100.{o}.%" for o in range(64, 128)]
    return "(" + " OR ".join(f"{col} LIKE '{p}'" for p in v4) + f" OR lower({col}) LIKE 'fc%' OR lower({col}) LIKE 'fd%')"


def _group_dst() -> str:
    """SQL: the destination is a multicast or broadcast address (not one host's)."""
    return f"(dst_ip LIKE '%.255' OR {multicast('dst_ip')})"


def _egress(ctx, drops: str) -> tuple[int, int] | None:
    """(dropped records from a private to a public address, all dropped records to one host) when the first
    are at least EGRESS_SHARE of the second: a log of a network's own traffic out (a Zeek sensor's
    failed connections, a firewall's blocked egress), whose drops say where we are by their
    sources, not their destinations. Else None."""
    # (records to multicast and broadcast addresses are left out: every network has them, inwards or out)
    r = ctx.query(f"""SELECT count(*) AS n, sum(CASE WHEN {_private('src_ip')} AND NOT {_private('dst_ip')}
                                              THEN 1 ELSE 0 END) AS o
                      FROM {ctx.table} WHERE {drops} AND src_ip IS NOT NULL AND dst_ip IS NOT NULL
                        AND NOT {_group_dst()}""")
    n, o = int(r[0]["n"] or 0), int(r[0]["o"] or 0)
    return (o, n) if n and o >= EGRESS_SHARE * n else None


def _nets(rows: list[dict]) -> tuple[dict, dict]:
    """Records per /24 (/64) of the addresses of ``rows`` (address in ``dst_ip``, records in ``n``),
    and the addresses of each."""
    nets: dict = {}
    members: dict = {}
    for r in rows:
        n = _net(r["dst_ip"])
        if n is not None:
            nets[n] = nets.get(n, 0) + r["n"]
            members.setdefault(n, []).append(r["dst_ip"])
    return nets, members


def _from_private(ctx, drops: str, dsts: list[str], net) -> bool:
    """A first sign of a log of our own traffic out, cheap to ask of a big log: the busiest
    destination group of the drops (``net``, its addresses ``dsts``) is not private, and most of
    its dropped records came from private addresses (of its SOURCES_ASKED busiest sources)."""
    special = SpecialAddresses(kb())
    private = lambda a: (special.kind(a) or ("",))[0] in PRIVATE_KINDS   # noqa: E731
    if private(str(net.network_address)):
        return False
    got = _drop_sources(ctx, drops, dsts)
    return bool(got) and sum(r["n"] for r in got if private(r["src_ip"])) >= EGRESS_SHARE * sum(r["n"] for r in got)


def _busiest(nets: dict, skip=None) -> tuple[list, int, int]:
    """The busiest of ``nets`` (net -> records) until they hold HOME_SHARE of the records (at most
    MAX_NETS): (those nets, their records, all records). ``skip(net, taken)`` true: a net after the
    first that is not ours; its records leave the total."""
    total = sum(nets.values())
    chosen, acc = [], 0
    for n, c in sorted(nets.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        if acc >= HOME_SHARE * total or len(chosen) >= MAX_NETS:
            break
        if chosen and skip is not None and skip(n, chosen):
            total -= c
            continue
        chosen.append(n)
        acc += c
    return chosen, acc, total


def _private_nets(ctx) -> list | None:
    """For a log without drops: the /24s (/64s) of private addresses (PRIVATE_KINDS) that both sent
    and received records, the busiest first until they hold HOME_SHARE of those nets' records (at
    most MAX_NETS). A private network that only sent (forged sources, bogons from outside) or only
    received is not taken. None when there is none."""
    t = ctx.table
    rows = ctx.query(f"""SELECT ip, sum(s) AS sent, sum(r) AS rcvd, sum(s + r) AS n FROM (
                             SELECT src_ip AS ip, count(*) AS s, 0 AS r FROM {t}
                             WHERE src_ip IS NOT NULL AND {_private('src_ip')} GROUP BY src_ip
                             UNION ALL
                             SELECT dst_ip AS ip, 0 AS s, count(*) AS r FROM {t}
                             WHERE dst_ip IS NOT NULL AND {_private('dst_ip')} GROUP BY dst_ip) x
                         GROUP BY ip ORDER BY n DESC, ip LIMIT 5000""")
    sent: dict = {}
    got: dict = {}
    for r in rows:
        n = _net(r["ip"])
        if n is not None:
            sent[n] = sent.get(n, 0) + int(r["sent"] or 0)
            got[n] = got.get(n, 0) + int(r["rcvd"] or 0)
    chosen = _busiest({n: sent[n] + got[n] for n in sent if sent[n] and got[n]})[0]
    return sorted(chosen, key=lambda n: (n.version, n)) or None


def infer(ctx) -> None:
    t = ctx.table
    drops = "action IN ('drop', 'reject')"
    asked: dict[str, tuple[int, int] | None] = {}

    def egress() -> tuple[int, int] | None:   # asked once, and only when a sign points that way
        if "out" not in asked:
            asked["out"] = _egress(ctx, drops)
        return asked["out"]
    out = None
    if not ctx.home_nets:
        rows = ctx.query(f"""SELECT dst_ip, count(*) AS n FROM {t} WHERE {drops} AND dst_ip IS NOT NULL
                             GROUP BY dst_ip ORDER BY n DESC, dst_ip LIMIT 5000""")
        nets, members = _nets(rows)
        if nets:
            top = min(nets.items(), key=lambda kv: (-kv[1], str(kv[0])))[0]
            if _from_private(ctx, drops, members[top], top):
                out = egress()
        if out:   # a log of our own traffic out: we are where the dropped records came from
            which = f"{drops} AND {_private('src_ip')} AND NOT {_private('dst_ip')} AND NOT {_group_dst()}"
            rows = ctx.query(f"""SELECT src_ip AS dst_ip, count(*) AS n FROM {t} WHERE {which} AND src_ip IS NOT NULL
                                 GROUP BY src_ip ORDER BY n DESC, src_ip LIMIT 5000""")
            nets, members = _nets(rows)
        # (a net whose drops all came from the nets already taken is our own traffic out, dropped:
        # not drops addressed to us)
        chosen, acc, total = _busiest(nets, None if out else
                                      lambda n, taken: _only_from(ctx, drops, members[n], taken))
        if chosen and out:
            ctx.home_nets = sorted(chosen, key=lambda n: (n.version, n))
            ctx.assumptions.append(
                "Home network(s) assumed to be " + ", ".join(str(n) for n in ctx.home_nets)
                + f": {out[0]} of the {out[1]} dropped records went from private addresses to public ones (a log "
                  f"of our own traffic out), and {acc} of those came from there (give --home-net to set them).")
        elif chosen:
            ctx.home_nets = sorted(chosen, key=lambda n: (n.version, n))
            ctx.assumptions.append(
                "Home network(s) assumed to be " + ", ".join(str(n) for n in ctx.home_nets)
                + f": {'the one dropped record was' if total == 1 else f'{acc} of the {total} dropped records were'}"
                  f" addressed there (give --home-net to set them).")
        elif not rows and (pn := _private_nets(ctx)):
            # nothing dropped (a capture, a log of accepted traffic): the private networks that both sent
            # and received records are ours
            ctx.home_nets = pn
            ctx.assumptions.append(
                "Home network(s) assumed to be " + ", ".join(str(n) for n in ctx.home_nets)
                + ": no record was dropped or rejected (a packet capture, or a log of accepted traffic), and "
                  "these are the busiest private networks that both sent and received records "
                  "(give --home-net to set them).")
        else:
            why = ("no record was dropped or rejected: a packet capture, or a log of accepted traffic" if not rows
                   else "the dropped records were addressed to broadcast or multicast addresses only")
            ctx.assumptions.append(
                f"No home network could be inferred ({why}): findings that depend on which side is ours "
                "(traceroutes from inside, private and documentation sources) are limited or tentative; "
                "give --home-net.")
    if not ctx.outside_ifs:
        rows = ctx.query(f"""SELECT in_if, src_ip, count(*) AS n FROM {t}
                             WHERE {drops} AND in_if IS NOT NULL AND in_if <> '' AND src_ip IS NOT NULL
                             GROUP BY in_if, src_ip ORDER BY n DESC, in_if, src_ip LIMIT 20000""")
        public: dict[str, int] = {}
        every: dict[str, int] = {}
        # public: what the knowledge base calls global unicast (not the interpreter's is_global,
        # whose answer for some IANA special blocks changed between Python releases)
        special = SpecialAddresses(kb())
        for r in rows:
            every[r["in_if"]] = every.get(r["in_if"], 0) + r["n"]
            kind = special.kind(r["src_ip"])
            if kind is not None and kind[0] == "global":
                public[r["in_if"]] = public.get(r["in_if"], 0) + r["n"]
        one = sum(every.values()) == 1
        pool, why = (public, "the one drop, from a public address, arrived there" if one else
                     "most drops from public addresses arrived there") if public else \
            (every, ("the one drop arrived there" if one else "most drops arrived there")
             + " (no public source address was seen)")
        if pool and not public and egress():
            # the drops are our own traffic out: the interface they came in by is an inside one
            ctx.assumptions.append("No outside interface could be inferred: the dropped records came from our own "
                                   "private addresses, on their way out (give --outside-if to set it).")
        elif pool:
            named = lambda i: any(i.lower().startswith(x) for x in OUTSIDE_NAMES)
            best = sorted(pool, key=lambda i: (-pool[i], not named(i), i))[0]
            ctx.outside_ifs = [best]
            ctx.assumptions.append(f"Outside interface assumed to be {best}: {why} (give --outside-if to set it).")
