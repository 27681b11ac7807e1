"""Odd addresses and IP options: source_route, bogon.source, broadcast.local, broadcast.directed.

* source_route: packets with a loose or strict source-route option (the sender picks the path,
  classic for spoofing around filters); almost no legitimate traffic uses them today.
* bogon.source: sources that cannot be real on the outside of a firewall (loopback, 0.0.0.0,
  link-local, multicast, reserved; private, shared, documentation and benchmarking space unless
  our own side uses the same kind of address). The address kind comes from the knowledge base.
  A loopback source talking to a loopback or multicast address in a record that names no
  interface is a host talking to itself, not a forgery; so are DHCP requests from 0.0.0.0 and
  IPv6 duplicate address detection and listener reports from ::. Records reported as smurf or
  fraggle (whose forged source is the victim) are not reported again.
* broadcast.local: packets to 255.255.255.255 (DHCP, neighbours' service discovery).
* broadcast.directed: packets to a subnet's broadcast (or network) address; the mask comes from
  the home nets, else the .255/.0 guess (said in the finding). Echo packets already reported as
  smurf/fraggle are left out.
"""
from __future__ import annotations

from . import _misc as m

IDS = ("source_route", "bogon.source", "broadcast.local", "broadcast.directed")
ORDER = 55          # after smurf.py
NEEDS = ("smurf", "flood")  # reads smurf/fraggle findings, whose records broadcast.directed leaves
                            # out, and floods, whose forged sources bogon.source leaves out

# Tunables
ALWAYS_BOGON = ("loopback", "unspecified", "multicast", "link-local", "broadcast", "this-network",
                "reserved", "site-local", "deprecated")
                    # address kinds reported whatever our own addresses are
SAME_KIND_OK = ("private", "documentation", "shared", "benchmarking", "unique-local")
                    # kinds reported only when the destination is not of the same kind (a private
                    # source talking to a private address is an inside network, not spoofing)
MIN_RECORDS = 1     # records per source before a finding
MAX_SOURCES = m.MAX_SOURCES  # more source-routing sources than this: the rest share one aggregate finding
TOP_SOURCES = m.TOP_SOURCES  # busiest sources that keep their own finding then (see _misc.py)
TUNABLES = ("ALWAYS_BOGON", "SAME_KIND_OK", "MIN_RECORDS") + m.AGG_TUNABLES

DHCP = "(proto = 'udp' AND src_port = 68 AND dst_port = 67)"
# a loopback source to a loopback or multicast address, with no interface named: a host talking to
# itself (a capture of its loopback interface; a host firewall's log of the copies of its own
# multicast it hears back). A network firewall's record names the interface a packet came in by.
HOST_TO_ITSELF = f"(in_if IS NULL AND (dst_ip LIKE '127.%' OR dst_ip = '::1' OR {m.multicast('dst_ip')}))"
# from the unspecified address by design: IPv6 duplicate address detection (neighbour solicitation)
# and multicast listener reports of an interface that has no address yet
NO_ADDRESS_YET = "(proto = 'ipv6-icmp' AND icmp_type IN (131, 135, 143))"
SLICE = 100_000     # special-range sources classified (and their destinations read) at a time


def detect(ctx):
    return _source_route(ctx) + _bogons(ctx) + _local_bcast(ctx) + _directed(ctx)


def _by_src_sql(ctx, pred):
    return f"""
        SELECT src_ip, count(*) AS n, count(DISTINCT dst_ip) AS hosts FROM {ctx.table}
        WHERE {pred} AND src_ip IS NOT NULL GROUP BY src_ip
        HAVING count(*) >= {int(ctx.tun(m.short(__name__), 'MIN_RECORDS'))}"""


def _by_src(ctx, pred):
    return ctx.query(_by_src_sql(ctx, pred) + " ORDER BY src_ip")


def _source_route(ctx):
    pred = "(source_route = TRUE OR ip_options LIKE '%LSRR%' OR ip_options LIKE '%SSRR%')"
    rows, rest = m.split_sources(ctx, m.short(__name__), _by_src(ctx, pred))
    if not rows and not rest:
        return []
    with m.narrowed(ctx, pred):   # their records only: the look-ups below scan those
        return _source_route_findings(ctx, pred, rows, rest)


def _source_route_findings(ctx, pred, rows, rest):
    out = []
    scope = m.own_scope(ctx, rows, rest)
    if rest:
        mn = int(ctx.tun(m.short(__name__), 'MIN_RECORDS'))
        where = m.rest_where(ctx, f"{pred} AND src_ip IS NOT NULL", rows, rest, _by_src_sql(ctx, pred) if mn > 1 else None)
        opts = list(ctx.distinct(where, "ip_options", 5))
        out.append(ctx.finding(
            "source_route", None, where, targets=m.targets(ctx, where), ports=m.ports(ctx, where),
            summary=f"{m.plural(sum(int(r['n']) for r in rest), 'source-routed packet')} from "
                    f"{m.more_sources(rest)}: senders that chose the path themselves, a way to slip forged "
                    f"packets past address filters",
            details=m.rest_details(rest, options=opts)))
    for r in rows:
        src = r["src_ip"]
        where = f"{pred}{scope} AND src_ip = {ctx.lit(src)}"
        opts = list(ctx.distinct(where, "ip_options", 5))
        kinds = sorted({k for o in opts for k in ("LSRR", "SSRR") if k in o})
        out.append(ctx.finding(
            "source_route", src, where, targets=m.targets(ctx, where), ports=m.ports(ctx, where),
            summary=f"{m.plural(int(r['n']), 'source-routed packet')} from {src}"
                    + (f" ({'/'.join(kinds)})" if kinds else "")
                    + ": the sender chose the path itself, a way to slip forged packets past address filters",
            details={"options": opts}))
    return out


def _bogons(ctx):
    from ..knowledge import kb
    k = kb()
    me = m.short(__name__)
    always = set(ctx.tun(me, "ALWAYS_BOGON"))
    same_ok = set(ctx.tun(me, "SAME_KIND_OK"))
    inbound, note = m.outside_pred(ctx)
    # a flood's forged sources are the flood's (see flood.py), not sources of their own
    floods = _flooded(ctx)
    if floods:
        inbound = f"{inbound} AND NOT {_any(floods)}"
    # one row per distinct source (groups, not events); the address kind comes from the kb
    special = m.SpecialAddresses(k)
    wanted = always | same_ok
    q = f"SELECT DISTINCT src_ip FROM {ctx.table} WHERE {inbound} AND src_ip IS NOT NULL"
    if m.is_duckdb(ctx):   # ordinary addresses set aside in one vectorised pass
        slices = special.unsure(ctx, q, SLICE)
    else:
        srcs = list(m.column(ctx, q))
        slices = (srcs[lo:lo + SLICE] for lo in range(0, len(srcs), SLICE))
    # private-like sources are judged by their destinations: towards an address of the same kind
    # (an inside network), to multicast/broadcast (the local segment) they are normal. Without an
    # outside interface, a private source towards a public address is just outbound LAN traffic,
    # so then only destinations inside the home nets count.
    local_kinds = {"multicast", "broadcast", "link-local"}
    home = m.in_home(ctx, "dst_ip") if ctx.home_nets else "FALSE"
    # (with an outside interface given, a capture's records without one: as if none were known)
    scope = f"(NOT {m.NO_IF_CAPTURED} OR {home})" if ctx.outside_ifs else home
    kinds: dict[str, str] = {}          # the sources judged: their address kind
    dst_ok: dict[str, list[str]] = {}   # judged by their destinations: those destinations
    said = False
    dst_kinds: dict[str, str] = {}

    def dst_kind(dst: str) -> str:
        dk = dst_kinds.get(dst)
        if dk is None:   # (a few destinations, met again and again)
            kd = special.kind(dst)
            dk = dst_kinds[dst] = kd[0] if kd else "?"
        return dk
    # A big log has hundreds of thousands of such sources (a whole documentation or link-local
    # range): they are taken a slice at a time, and only the sources judged are kept.
    for part in slices:
        relaxed: dict[str, str] = {}
        for src in part:
            kd = special.kind(src)
            if kd is None or not kd[1] or kd[0] not in wanted:
                continue
            if kd[0] in same_ok or (kd[0] == "link-local" and ":" in src):
                relaxed[src] = kd[0]
            else:
                kinds[src] = kd[0]
        if not relaxed:
            continue
        if not ctx.outside_ifs and not said:
            said = True
            m.note_once(ctx, "private, shared and documentation sources were judged only towards the home "
                             "nets (no outside interface known)" if ctx.home_nets else
                        "private, shared and documentation sources were not judged: neither an outside "
                        "interface nor a home net is known")
        for src, dst in ([] if scope == "FALSE" else _crossing(ctx, inbound, scope, relaxed, dst_kind, local_kinds)):
            dst_ok.setdefault(src, []).append(dst)
            kinds[src] = relaxed[src]
    if not kinds:
        return []
    judged = sorted(kinds)
    with m.sources_only(ctx, judged):   # their records only
        return _bogon_findings(ctx, k, inbound, note, kinds, dst_ok, judged)


def _bogon_findings(ctx, k, inbound, note, kinds, dst_ok, judged):
    me = m.short(__name__)
    out = []
    # (are there a capture's records without interface names, taken as inbound? asked once)
    no_if = bool(ctx.outside_ifs) and bool(ctx.formats() & set(m.CAPTURE_FORMATS))
    amplified = _amplified_by_src(ctx)   # a smurf's forged source (rsmurf6 forges ff02::1) is said there
    # the base names every judged source, so grouped look-ups cover those sources only; sources
    # judged by their destinations keep the (source, destination) pairs that crossed kinds
    judged_in = m.value_set(ctx, judged)
    pairs = [f"{s}|{d}" for s in judged for d in dst_ok.get(s, ())]
    crossed = f" AND concat(src_ip, '|', dst_ip) IN {m.value_set(ctx, pairs)}" if pairs else ""

    def where_of(cat: str, srcs: str, crossing: bool, amp: list[str] | None) -> str:
        w = f"{inbound} AND src_ip IN {judged_in}{srcs}{crossed if crossing else ''}"
        # (coalesce: a record whose protocol, interface or destination the log does not give is kept)
        if cat == "unspecified":
            w += f" AND NOT coalesce({DHCP} OR {NO_ADDRESS_YET}, FALSE)"
        elif cat == "loopback":
            w += f" AND NOT coalesce({HOST_TO_ITSELF}, FALSE)"
        if amp:
            w += f" AND NOT {_any(amp)}"
        return w

    def assumption(where: str, details: dict) -> None:
        said = note
        if said is None and no_if and ctx.count(f"{where} AND {m.NO_IF_CAPTURED}"):
            said = m.NO_IF_NOTE   # (this finding rests on records of a capture without interface names)
        if said:
            details["assumption"] = said
            m.note_once(ctx, said)

    wheres = {src: where_of(kinds[src], f" AND src_ip = {ctx.lit(src)}", src in dst_ok, amplified.get(src))
              for src in judged}
    rows = []
    for src in judged:
        n = int(ctx.count(wheres[src]) or 0)
        if n:
            rows.append({"src_ip": src, "n": n})
    # Many sources (a flood or a scan from forged random addresses): the busiest keep their own
    # finding, the others share one per address kind. Smurf victims keep theirs (their where
    # leaves out the records said there).
    own, rest = m.split_sources(ctx, me, rows)
    if rest and amplified:
        own += [r for r in rest if r["src_ip"] in amplified]
        rest = [r for r in rest if r["src_ip"] not in amplified]
    for r in own:
        src = r["src_ip"]
        where = wheres[src]
        a = k.address(src)
        details = {"category": kinds[src], "range": a.cidr, "name": a.name}
        assumption(where, details)
        out.append(ctx.finding(
            "bogon.source", src, where, targets=m.targets(ctx, where), ports=m.ports(ctx, where),
            summary=f"{m.plural(int(r['n']), 'packet')} from {src} ({a.name}, {a.cidr}) arrived from outside: "
                    f"an address that cannot be a real sender there (forged, leaked from a neighbour's "
                    f"network, or a misconfigured host)",
            details=details))
    groups: dict[tuple[str, bool], list[dict]] = {}
    for r in rest:
        groups.setdefault((kinds[r["src_ip"]], r["src_ip"] in dst_ok), []).append(r)
    for (cat, crossing), rs in sorted(groups.items()):
        where = where_of(cat, "", crossing, None) + f" AND src_ip IN {m.value_set(ctx, [r['src_ip'] for r in rs])}"
        details = m.rest_details(rs, category=cat)
        named = [k.address(t["src"]) for t in details["top_sources"]]
        details["ranges"] = sorted({f"{a.cidr} ({a.name})" for a in named if a is not None})
        assumption(where, details)
        out.append(ctx.finding(
            "bogon.source", None, where, targets=m.targets(ctx, where), ports=m.ports(ctx, where),
            summary=f"{m.plural(details['records'], 'packet')} from {m.more_sources(rs)} of {cat} address "
                    f"space arrived from outside: addresses that cannot be real senders there. So many "
                    f"different ones at once are forged, most likely picked at random (a flood, or a "
                    f"scan hiding where it comes from)",
            details=details))
    return out


def _crossing(ctx, inbound: str, scope: str, sources: dict[str, str], dst_kind, local: set[str]):
    """Distinct (source, destination) of the inbound records of ``sources`` (address -> its kind)
    within ``scope`` whose destination is of another kind (``dst_kind(address)``), not one of
    ``local``; in order of source and destination.

    On DuckDB the pairs go to a temporary table and only their distinct destinations (a few
    thousand) come back to be judged; the pairs that cross kinds are then picked there (a 10 M-line
    log has ~500 k pairs of documentation-range sources: streamed here one by one they took ~2 s).
    The sources are a joined Arrow table (as an IN list the query text alone took gigabytes)."""
    import duckdb
    if not isinstance(ctx.con, duckdb.DuckDBPyConnection):
        for r in ctx.query(f"""SELECT DISTINCT src_ip, dst_ip FROM {ctx.table}
                               WHERE {inbound} AND {scope} AND src_ip IN {ctx.lit(sorted(sources))}
                                 AND dst_ip IS NOT NULL ORDER BY src_ip, dst_ip"""):
            dk = dst_kind(r["dst_ip"])
            if dk != sources[r["src_ip"]] and dk not in local:
                yield r["src_ip"], r["dst_ip"]
        return
    import pyarrow as pa
    con, pairs = ctx.con, m._temp_name("fwf_pairs")
    con.register("fwf_sources", pa.table({"s_ip": pa.array(list(sources), pa.string()),
                                          "s_kind": pa.array(list(sources.values()), pa.string())}))
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {pairs} AS
                        SELECT DISTINCT src_ip AS p_src, dst_ip AS p_dst, s_kind AS p_kind FROM {ctx.table}
                        JOIN fwf_sources ON src_ip = s_ip
                        WHERE {inbound} AND {scope} AND dst_ip IS NOT NULL""")
    finally:
        con.unregister("fwf_sources")
    try:
        dsts = list(m.column(ctx, f"SELECT DISTINCT p_dst FROM {pairs}"))
        kinds = [dst_kind(d) for d in dsts]
        keep = [i for i, k in enumerate(kinds) if k not in local]
        con.register("fwf_dst_kinds", pa.table({"d_ip": pa.array([dsts[i] for i in keep], pa.string()),
                                                "d_kind": pa.array([kinds[i] for i in keep], pa.string())}))
        try:
            got = con.execute(f"""SELECT p_src, p_dst FROM {pairs} JOIN fwf_dst_kinds ON p_dst = d_ip
                                  WHERE d_kind <> p_kind ORDER BY p_src, p_dst""").fetchall()
        finally:
            con.unregister("fwf_dst_kinds")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {pairs}")
    yield from got


def _local_bcast(ctx):
    pred = "dst_ip = '255.255.255.255'"
    out = []
    for r in _by_src(ctx, pred):
        src = r["src_ip"]
        where = f"{pred} AND src_ip = {ctx.lit(src)}"
        pl = m.ports(ctx, where)
        dhcp = bool(set(pl) & {67, 68})
        what = ("DHCP requests" if dhcp else
                "NetBIOS broadcasts" if set(pl) & {137, 138} else "broadcasts")
        out.append(ctx.finding(
            "broadcast.local", src, where, targets=["255.255.255.255"], ports=pl,
            summary=f"{m.plural(int(r['n']), 'packet')} from {src} to 255.255.255.255 ({what}): a machine on the "
                    f"same network segment; such packets never cross a router",
            details={"dhcp": dhcp}))
    return out


def _directed(ctx):
    bc, guessed = m.broadcast_pred(ctx)
    # (ARP asks by Ethernet broadcast as a matter of course: not a directed broadcast)
    pred = f"({bc} AND dst_ip <> '255.255.255.255' AND dst_ip NOT LIKE '%:%' AND coalesce(proto, '') <> 'arp')"
    skip = _any([p for preds in _amplified_by_src(ctx).values() for p in preds])
    if skip:
        pred = f"{pred} AND NOT {skip}"
    out = []
    for r in _by_src(ctx, pred):
        src = r["src_ip"]
        where = f"{pred} AND src_ip = {ctx.lit(src)}"
        tg = m.targets(ctx, where)
        own = bool(tg) and all(_same_subnet(ctx, src, b) for b in tg)
        details = {"broadcast_addresses": tg, "own_subnet": own}
        if guessed:
            details["mask_assumption"] = ("no home network known: addresses ending in .255 or .0 were taken "
                                          "to be subnet broadcasts; give --home-net for the real mask")
        out.append(ctx.finding(
            "broadcast.directed", src, where, targets=tg, ports=m.ports(ctx, where),
            summary=f"{m.plural(int(r['n']), 'packet')} from {src} to the "
                    + ("broadcast address of its own subnet " if own else "subnet broadcast ")
                    + f"{', '.join(tg[:3])}{' ...' if len(tg) > 3 else ''}"
                    + (" (assuming .255/.0 are broadcasts)" if guessed else "")
                    + (": a machine on that segment announcing itself or looking for its neighbours "
                       "(NetBIOS, service discovery), routine there" if own else
                       ": amplifier hunting, or a neighbour's broadcast"),
            details=details))
    return out


def _amplified_by_src(ctx) -> dict[str, list[str]]:
    """SQL predicates for the records already reported as smurf/fraggle, by their (forged) source:
    their victim, said there. Empty when smurf.py is missing or changed (nothing is left out)."""
    try:
        from . import smurf
        preds = smurf.predicates(ctx)
    except Exception:
        return {}
    out: dict[str, list[str]] = {}
    for f in ctx.findings:
        if f.id in preds and f.src:
            out.setdefault(f.src, []).append(f"({preds[f.id]} AND src_ip = {ctx.lit(f.src)})")
    return out


def _flooded(ctx) -> list[str]:
    """Predicates for the records of the flood findings (empty when flood.py is missing)."""
    try:
        from . import flood
        return flood.predicates(ctx)
    except Exception:
        return []


def _any(preds: list[str]) -> str:
    """``preds`` or-ed, or "" for none (coalesce: a record a predicate cannot judge, a field being
    unknown, is not left out)."""
    return f"coalesce({' OR '.join(preds)}, FALSE)" if preds else ""


def _same_subnet(ctx, src: str, bcast: str) -> bool:
    """Is ``src`` inside the subnet whose broadcast (or network) address is ``bcast``: the home net
    holding it, else the /24 the .255/.0 guess takes it for?"""
    import ipaddress
    try:
        s, b = ipaddress.ip_address(src), ipaddress.ip_address(bcast)
    except ValueError:
        return False
    if s.version != b.version:
        return False
    for n in ctx.home_nets or ():
        n = ipaddress.ip_network(n, strict=False)
        if b in n:
            return s in n
    return b.version == 4 and int(s) >> 8 == int(b) >> 8
