"""Knowing "us": the home networks and the outside interface, inferred when the user gave none.

Called by :func:`fwforensics.analysis.report` before any detector runs. Each guess is written
to ``ctx.assumptions`` in plain words so the reader knows what the findings rest on, and how
to correct it (``--home-net``, ``--outside-if`` or the config file).

* Home networks: where the dropped and rejected traffic was addressed. Unicast destinations of
  drops are grouped into /24s (IPv4) or /64s (IPv6); the groups that together receive
  ``HOME_SHARE`` of the drops (at most ``MAX_NETS``) are taken as ours.
* Outside interface: the input interface carrying most drops from public (non-bogon) sources;
  when every source is private or reserved (a lab, or a firewall inside a larger network), the
  interface carrying most drops. An interface whose name says so (wan, ppp, outside, untrust,
  ext) wins a tie.
"""
from __future__ import annotations

import ipaddress
import socket

from ..knowledge import kb
from ._misc import SpecialAddresses, _dotted

HOME_SHARE = 0.9
MAX_NETS = 8
OUTSIDE_NAMES = ("wan", "ppp", "outside", "untrust", "ext", "internet")


def _net(ip: str) -> ipaddress._BaseNetwork | None:
    """The /24 (IPv4) or /64 (IPv6) of a unicast destination; None for multicast, unspecified,
    broadcast-like (.255) and what is not an address."""
    if ":" not in ip and ip.count(".") == 3 and _dotted(ip):   # the usual case, without parsing twice
        n = int.from_bytes(socket.inet_aton(ip), "big")
        if n >> 28 == 0xE or n == 0 or n & 0xFF == 0xFF:
            return None
        return ipaddress.IPv4Network((n & 0xFFFFFF00, 24))
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if a.is_multicast or a.is_unspecified or (a.version == 4 and (str(a).endswith(".255") or a == ipaddress.ip_address("255.255.255.255"))):
        return None
    return ipaddress.ip_network(f"{a}/{24 if a.version == 4 else 64}", strict=False)


def infer(ctx) -> None:
    t = ctx.table
    drops = "action IN ('drop', 'reject')"
    if not ctx.home_nets:
        rows = ctx.query(f"""SELECT dst_ip, count(*) AS n FROM {t} WHERE {drops} AND dst_ip IS NOT NULL
                             GROUP BY dst_ip ORDER BY n DESC, dst_ip LIMIT 5000""")
        nets: dict = {}
        for r in rows:
            n = _net(r["dst_ip"])
            if n is not None:
                nets[n] = nets.get(n, 0) + r["n"]
        total = sum(nets.values())
        chosen, acc = [], 0
        for n, c in sorted(nets.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            if acc >= HOME_SHARE * total or len(chosen) >= MAX_NETS:
                break
            chosen.append(n)
            acc += c
        if chosen:
            ctx.home_nets = sorted(chosen, key=lambda n: (n.version, n))
            ctx.assumptions.append(
                "Home network(s) assumed to be " + ", ".join(str(n) for n in ctx.home_nets)
                + f": {acc} of the {total} dropped records were addressed there (give --home-net to set them).")
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
        pool, why = (public, "most drops from public addresses arrived there") if public else \
            (every, "most drops arrived there (no public source address was seen)")
        if pool:
            named = lambda i: any(i.lower().startswith(x) for x in OUTSIDE_NAMES)
            best = sorted(pool, key=lambda i: (-pool[i], not named(i), i))[0]
            ctx.outside_ifs = [best]
            ctx.assumptions.append(f"Outside interface assumed to be {best}: {why} (give --outside-if to set it).")
