"""Shared SQL fragments of the smaller detectors (smurf, NetBIOS, ICMP, addresses, ...).

Not a detector itself (the leading underscore keeps it out of :func:`detectors.modules`).
Everything here returns SQL text that DuckDB and Spark SQL both accept, or plain data
taken from the knowledge base at run time (never a copy of it).
"""
from __future__ import annotations

import contextlib
import functools
import ipaddress
import itertools
import re
import socket
import sys
from typing import Iterable

BCAST_MAC = "ff:ff:ff:ff:ff:ff"
NOT_ACCEPTED = "coalesce(action, 'other') <> 'accept'"
DROPPED = "coalesce(action, 'other') IN ('drop', 'other')"   # silently discarded (reject answers)
# formats of sensors that watch the wire rather than decide: captures, and IDSs
CAPTURE_FORMATS = ("pcap",)
IDS_FORMATS = ("snort", "suricata_eve")


def format_in(formats) -> str:
    """SQL: the record is of one of ``formats`` (names of our readers, so safe to write as text)."""
    return "format IN (" + ", ".join(f"'{f}'" for f in formats) + ")"


def no_verdict(formats) -> str:
    """SQL: a record of one of ``formats`` without a verdict: the sensor saw the packet, not what a
    firewall did with it (a pflog capture, whose header gives pf's verdict, and an IDS's own drops
    have one)."""
    return f"({format_in(formats)} AND coalesce(action, 'other') = 'other')"


FATE_UNKNOWN = no_verdict(CAPTURE_FORMATS + IDS_FORMATS)


def multicast(col: str) -> str:
    """SQL: the address in ``col`` is IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast, as text."""
    return "(" + " OR ".join([f"{col} LIKE 'ff%'"] + [f"{col} LIKE '{o}.%'" for o in range(224, 240)]) + ")"
SYN_ONLY = "(tcp_flags IS NULL OR (tcp_flags LIKE '%SYN%' AND tcp_flags NOT LIKE '%ACK%'))"


def short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def v4_number(col: str) -> str:
    """SQL: a dotted-quad IPv4 address in ``col`` as a number (NULL for IPv6 and other text), in
    SQL that both engines read."""
    return "(" + " + ".join(f"TRY_CAST(split_part({col}, '.', {i + 1}) AS BIGINT) * {256 ** (3 - i)}"
                            for i in range(4)) + ")"


def secs(col: str) -> str:
    """Seconds since the epoch of a timestamp column, with their fraction (DuckDB ``epoch``; the
    Spark engine writes it as ``UNIX_MICROS`` over a million, see ``engines.spark.translate``)."""
    return f"epoch({col})"


def port_match(entries: Iterable, col: str = "dst_port") -> str:
    """SQL predicate for knowledge-base port entries (single ports, lists, ranges, per proto)."""
    by_proto: dict[str, set[int]] = {}
    ranges: list[tuple[str, int, int]] = []
    for e in entries:
        if e.ports:
            by_proto.setdefault(e.proto, set()).update(e.ports)
        elif e.hi - e.lo >= 8:
            ranges.append((e.proto, e.lo, e.hi))
        else:
            by_proto.setdefault(e.proto, set()).update(range(e.lo, e.hi + 1))
    parts = []
    for proto, ports in sorted(by_proto.items()):
        p = f"{col} IN ({', '.join(str(x) for x in sorted(ports))})"
        parts.append(p if proto == "both" else f"(proto = '{proto}' AND {p})")
    for proto, lo, hi in sorted(ranges):
        p = f"{col} BETWEEN {lo} AND {hi}"
        parts.append(p if proto == "both" else f"(proto = '{proto}' AND {p})")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def home_broadcasts(ctx) -> list[str]:
    """Broadcast and network addresses of the IPv4 home nets (only nets with room for hosts)."""
    out: set[str] = set()
    for net in ctx.home_nets:
        if net.version == 4 and net.prefixlen <= 30:
            out.add(str(net.broadcast_address))
            out.add(str(net.network_address))
    return sorted(out)


def in_home(ctx, col: str) -> str:
    return ctx.home_predicate(col)


def broadcast_pred(ctx, col: str = "dst_ip") -> tuple[str, bool]:
    """SQL predicate: the destination is a broadcast (limited, directed or IPv6 all-nodes).

    With home nets known, an address inside them is a directed broadcast only when it is the
    net's broadcast or network address; outside the home nets (or with none known) the
    classic guess applies: an IPv4 address ending in .255 or .0. Returns (predicate,
    used_guess) so the caller can say the guess was made.
    """
    parts = [f"{col} = '255.255.255.255'", f"mac_dst = '{BCAST_MAC}'", f"{col} LIKE 'ff02::1'"]
    bc = home_broadcasts(ctx)
    guess = f"({col} LIKE '%.255' OR ({col} LIKE '%.0' AND {col} NOT LIKE '%.0.0.0'))"
    if bc:
        parts.append(f"{col} IN {ctx.lit(bc)}")
        parts.append(f"(NOT {in_home(ctx, col)} AND {guess})")
    else:
        parts.append(guess)
    return "(" + " OR ".join(parts) + ")", not bool(bc)


# a capture's record that names no interface (a classic pcap has none): with an outside interface
# given, it is taken as inbound as when none is known (private-like sources only towards the home nets)
NO_IF_CAPTURED = f"(in_if IS NULL AND {format_in(CAPTURE_FORMATS)})"
NO_IF_NOTE = ("records of a capture that names no interface were taken as arriving from outside (private, "
              "shared and documentation sources only towards the home nets)")


def outside_pred(ctx) -> tuple[str, str | None]:
    """SQL predicate for records that came in on an outside interface, and a note when the
    outside interface had to be guessed. With outside interfaces given, a capture's records that
    name no interface are inbound too (NO_IF_CAPTURED)."""
    if ctx.outside_ifs:
        return f"(in_if IN {ctx.lit(list(ctx.outside_ifs))} OR {NO_IF_CAPTURED})", None
    return ("(in_if IS NULL OR (in_if <> '' AND in_if <> 'lo'))",
            "no outside interface known: every inbound record (any interface except loopback) "
            "was treated as arriving from outside; give --outside-if to narrow this")


def note_once(ctx, text: str) -> None:
    if text and text not in ctx.assumptions:
        ctx.assumptions.append(text)


def targets(ctx, where: str, col: str = "dst_ip", limit: int = 50) -> list[str]:
    return list(ctx.distinct(where, col, limit))


def ports(ctx, where: str, col: str = "dst_port", limit: int = 100) -> list[int]:
    return [int(v) for v in ctx.distinct(where, col, limit)]


def ip_ok(text: str | None) -> bool:
    try:
        ipaddress.ip_address(text or "")
        return True
    except ValueError:
        return False


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


# -- many sources of the same background noise -----------------------------------------------
# On a big log, noise detectors (NetBIOS lookups, ICMP backscatter, Slammer, ...) would report
# one finding per source: tens of thousands of findings that bury the few that matter and cost
# time and report size. Beyond MAX_SOURCES sources of one finding id, the TOP_SOURCES busiest
# sources (and every source inside the home nets) keep their own finding and the rest become one
# aggregate finding with ``src`` null, ``details.aggregated`` true, ``details.sources`` (how many)
# and ``details.top_sources`` (the busiest of them). Small logs are unchanged.
MAX_SOURCES = 100   # more sources than this for one finding id are aggregated; 0 turns it off
TOP_SOURCES = 20    # busiest sources that keep their own finding when aggregating
AGG_TUNABLES = ("MAX_SOURCES", "TOP_SOURCES")
AGG_LISTED = 10     # sources named in details.top_sources of an aggregate finding


def home_ip(ctx, text: str | None) -> bool:
    """Is the address ``text`` inside one of the home networks? (Called per source row: the
    networks are kept as integers, and the text is read by inet_pton, ~10x cheaper than
    ipaddress; what inet_pton refuses - a zone index - is left to ipaddress.)"""
    if not ctx.home_nets or not text:
        return False
    key = ("_misc.home_ip", tuple(ctx.home_nets))
    nets = ctx.shared.get(key)
    if nets is None:
        nets = ctx.shared[key] = {v: [(int(n.network_address), int(n.netmask)) for n in ctx.home_nets
                                      if n.version == v] for v in (4, 6)}
    try:
        if ":" in text:
            a, v = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big"), 6
        else:
            a, v = int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"), 4
    except (OSError, ValueError):
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(addr.version == n.version and addr in n for n in ctx.home_nets)
    return any(a & mask == net for net, mask in nets[v])


def split_sources(ctx, module: str, rows: list[dict], n_key: str = "n") -> tuple[list[dict], list[dict]]:
    """(rows that keep their own finding, rows to aggregate), each in the input order."""
    most = int(ctx.tun(module, "MAX_SOURCES"))
    if most <= 0 or len(rows) <= most:
        return rows, []
    top = max(int(ctx.tun(module, "TOP_SOURCES")), 0)
    ranked = sorted(rows, key=lambda r: (-int(r[n_key] or 0), str(r["src_ip"])))
    keep = {r["src_ip"] for r in ranked[:top]}
    if ctx.home_nets:
        keep |= {r["src_ip"] for r in rows if home_ip(ctx, r["src_ip"])}
    return [r for r in rows if r["src_ip"] in keep], [r for r in rows if r["src_ip"] not in keep]


def rest_where(ctx, pred: str, own: list[dict], rest: list[dict], groups_sql: str | None = None) -> str:
    """The records of the aggregated sources ``rest``: ``pred`` minus the sources with their own
    finding. ``groups_sql`` (the query with a ``src_ip`` column that ``rest`` came from) restricts
    to its sources, for detectors whose per-source query drops some sources (HAVING count(*) >=
    MIN_RECORDS > 1, a share of ports). On DuckDB the sources of ``rest``, at hand already, are
    used instead of running that query again (a grouped query over the whole log: ~0.2 s at 1 M
    lines); another engine runs it (thousands of addresses do not go into the SQL text)."""
    w = f"({pred})"
    if groups_sql and is_duckdb(ctx):
        w += f" AND src_ip IN {_value_set(ctx, [r['src_ip'] for r in rest])}"
    elif groups_sql:
        w += f" AND src_ip IN {src_set(ctx, groups_sql)}"
    if own:
        w += f" AND src_ip NOT IN {ctx.lit([r['src_ip'] for r in own])}"
    return w


def rest_details(rest: list[dict], n_key: str = "n", **extra) -> dict:
    ranked = sorted(rest, key=lambda r: (-int(r[n_key] or 0), str(r["src_ip"])))
    d = {"aggregated": True, "sources": len(rest), "records": sum(int(r[n_key] or 0) for r in rest),
         "top_sources": [{"src": r["src_ip"], "records": int(r[n_key] or 0)} for r in ranked[:AGG_LISTED]]}
    d.update(extra)
    return d


def more_sources(rest: list[dict]) -> str:
    return plural(len(rest), "more source")


# -- address kinds of many addresses ----------------------------------------------------------
def rows(ctx, sql: str):
    """Rows of a DuckDB query as tuples, streamed (run no other query while iterating)."""
    cur = ctx.con.execute(sql)
    while True:
        chunk = cur.fetchmany(4096)
        if not chunk:
            return
        yield from chunk


def column(ctx, sql: str):
    """The first column of a query, streamed (no dict per row, no list of millions of values). Run no
    other query on the connection while iterating."""
    import duckdb
    if isinstance(ctx.con, duckdb.DuckDBPyConnection):
        cur = ctx.con.execute(sql)
        while True:
            chunk = cur.fetchmany(4096)
            if not chunk:
                return
            for r in chunk:
                yield r[0]
    else:
        for r in ctx.query(sql):
            yield next(iter(r.values()))


def _dotted(s: str) -> bool:
    """Four decimal octets without leading zeros (the form ipaddress accepts)."""
    for part in s.split("."):
        if not (part.isascii() and part.isdigit()) or len(part) > 3 or (len(part) > 1 and part[0] == "0") \
                or int(part) > 255:
            return False
    return True


class SpecialAddresses:
    """Which addresses may fall in one of the knowledge base's address blocks (anything but plain
    global unicast). A prefilter for :meth:`KnowledgeBase.address`, which stays the one judge: an
    address left out here is one the knowledge base would call global (or not an address)."""

    def __init__(self, k):
        import bisect
        self._bisect, self._aton, self._pton = bisect.bisect_right, socket.inet_aton, socket.inet_pton
        self._k = k
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        # the blocks in the knowledge base's order (most specific first): the first that holds an
        # address gives its kind, as KnowledgeBase.address does
        self._blocks: dict[int, list[tuple[int, int, str, bool]]] = {4: [], 6: []}
        for net, r in k._blocks:
            lo, hi = int(net.network_address), int(net.broadcast_address)
            spans[net.version].append((lo, hi))
            self._blocks[net.version].append((lo, hi, r["category"], bool(r["bogon"])))
        self._lo, self._hi = {}, {}
        for v, sp in spans.items():
            merged: list[list[int]] = []
            for lo, hi in sorted(sp):
                if merged and lo <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], hi)
                else:
                    merged.append([lo, hi])
            self._lo[v] = [a for a, _ in merged]
            self._hi[v] = [b for _, b in merged]
        # An address's kind is that of its whole aligned chunk (IPv4 /16, IPv6 /32) unless a block
        # starts or ends inside that chunk: the kinds of such whole chunks are remembered (a big log
        # has ~500 k sources in one documentation range, each otherwise matched against every block).
        self._shift = {4: 16, 6: 96}
        self._split: dict[int, set[int]] = {4: set(), 6: set()}
        for v, blocks in self._blocks.items():
            sh = self._shift[v]
            for lo, hi, _, _ in blocks:
                if lo & ((1 << sh) - 1):
                    self._split[v].add(lo >> sh)
                if (hi + 1) & ((1 << sh) - 1):
                    self._split[v].add(hi >> sh)
        self._chunk_kinds: dict[tuple[int, int], tuple[str, bool]] = {}

    def _inside(self, v: int, n: int) -> bool:
        i = self._bisect(self._lo[v], n) - 1
        return i >= 0 and n <= self._hi[v][i]

    def maybe(self, text: str) -> bool:
        if ":" not in text:
            try:
                return self._inside(4, int.from_bytes(self._aton(text.strip()), "big"))
            except (OSError, ValueError):
                return True   # not a plain dotted quad: let the knowledge base decide
        try:
            ip = ipaddress.IPv6Address(text.strip().strip("[]").split("%")[0])
        except ValueError:
            return True
        return ip.ipv4_mapped is not None or self._inside(6, int(ip))

    def _safe(self, v: int, bits: int) -> list[int]:
        """First octets (IPv4) or first hextets (IPv6) whose whole block holds no knowledge-base block."""
        shift = (32 if v == 4 else 128) - bits
        bad = set()
        for lo, hi in zip(self._lo[v], self._hi[v]):
            bad.update(range(lo >> shift, (hi >> shift) + 1))
        return [x for x in range(1 << bits) if x not in bad]

    def unsure(self, ctx, sql: str, rows: int):
        """The values of the first column of ``sql`` (a DuckDB query of address strings) that may
        not be plain global unicast, as lists of at most ``rows``: all but the addresses in
        canonical form whose first octet (IPv4) or hextet (IPv6) starts a block that holds no
        knowledge-base block. For those :meth:`kind` would say ("global", False), or None for text
        that is no address: either way not a special address. A big log has hundreds of thousands
        of distinct sources: they are sorted out in DuckDB (within its memory limit) into a
        temporary table, read back a slice at a time (other queries may run between slices)."""
        import pyarrow as pa
        safe = getattr(self, "_safe_sets", None)
        if safe is None:
            safe = self._safe_sets = (pa.table({"o": pa.array([str(o) for o in self._safe(4, 8)], pa.string())}),
                                      pa.table({"h": pa.array([format(h, "x") for h in self._safe(6, 16)], pa.string())}))
        octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
        v4 = rf"^({octet})\.{octet}\.{octet}\.{octet}$"
        v6 = r"^([1-9a-f][0-9a-f]{0,3}):[0-9a-f:]*$"
        con, name = ctx.con, _temp_name("fwf_unsure")
        con.register("fwf_safe4", safe[0])
        con.register("fwf_safe6", safe[1])
        try:
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE {name} AS
                SELECT a, row_number() OVER () - 1 AS i FROM ({sql}) q(a)
                WHERE a IS NOT NULL
                  AND regexp_extract(a, '{v4}', 1) NOT IN (SELECT o FROM fwf_safe4)
                  AND regexp_extract(a, '{v6}', 1) NOT IN (SELECT h FROM fwf_safe6)""")
        finally:
            con.unregister("fwf_safe4")
            con.unregister("fwf_safe6")
        try:
            n = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            for lo in range(0, n, rows):
                # streamed a chunk at a time (a slice as one list of row tuples held ~12 MB): read
                # each to the end before the next query
                yield column(ctx, f"SELECT a FROM {name} WHERE i >= {lo} AND i < {lo + rows}")
        finally:
            con.execute(f"DROP TABLE IF EXISTS {name}")

    def _kb_kind(self, text: str) -> tuple[str, bool] | None:
        a = self._k.address(text)
        return (a.category, bool(a.bogon)) if a is not None else None

    def kind(self, text: str) -> tuple[str, bool] | None:
        """(category, bogon) of an address as KnowledgeBase.address gives them (None: not an address),
        without building its description."""
        plain = text.strip()
        v, n = 0, 0
        if ":" not in plain:
            # the form ipaddress accepts (inet_aton alone would also take odd ones: those go to the kb)
            if plain.count(".") == 3 and _dotted(plain):
                v, n = 4, int.from_bytes(self._aton(plain), "big")
        elif "/" not in plain and "%" not in plain and "[" not in plain and "." not in plain:
            try:   # inet_pton: the same addresses as ipaddress.IPv6Address, ~10x faster
                b = self._pton(socket.AF_INET6, plain)
                if b[:12] != b"\0" * 10 + b"\xff\xff":   # IPv4-mapped ones go to the kb
                    v, n = 6, int.from_bytes(b, "big")
            except (OSError, ValueError):
                pass
        if not v:   # anything unusual: ask the knowledge base itself
            return self._kb_kind(text)
        chunk = n >> self._shift[v]
        if chunk in self._split[v]:
            return self._block_kind(v, n)
        got = self._chunk_kinds.get((v, chunk))
        if got is None:
            got = self._chunk_kinds[(v, chunk)] = self._block_kind(v, n)
        return got

    def _block_kind(self, v: int, n: int) -> tuple[str, bool]:
        if not self._inside(v, n):
            return "global", False
        for lo, hi, cat, bogon in self._blocks[v]:
            if lo <= n <= hi:
                return cat, bogon
        return "global", False


def own_scope(ctx, own: list[dict], rest: list[dict]) -> str:
    """`` AND src_ip IN (...)`` naming the sources that keep their own finding, when the others were
    aggregated (else empty). Put in front of a per-source ``src_ip = ...`` predicate, it makes the
    grouped look-ups (detectors/_keyed.py) cover those few sources instead of every source."""
    if not rest:
        return ""
    return f" AND src_ip IN {ctx.lit(sorted(r['src_ip'] for r in own))}" if own else " AND FALSE"


# -- cheaper look-ups for big logs --------------------------------------------------------------
def is_duckdb(ctx) -> bool:
    import duckdb
    return isinstance(ctx.con, duckdb.DuckDBPyConnection)


@contextlib.contextmanager
def kept(ctx, ctes: str, last: str):
    """``WITH`` definitions (``ctes``, text without the ``WITH``) whose last one, ``last``, a query
    reads several times. Yields ``(defs, name)``: the query starts ``WITH {defs}`` its own
    definitions and reads ``name``. On DuckDB ``last`` is computed once into a temporary table,
    which DuckDB can spill to disk, and ``defs`` is empty (a common table expression read several
    times is materialised in memory whole: over a 10 M-line log it made a query fail a 150 MB
    limit). On another engine ``defs`` is ``ctes`` followed by a comma and ``name`` is ``last``."""
    if not is_duckdb(ctx):
        yield f"{ctes},", last
        return
    name = _temp_name("fwf_kept")
    ctx.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS WITH {ctes} SELECT * FROM {last}")
    try:
        yield "", name
    finally:
        ctx.con.execute(f"DROP TABLE IF EXISTS {name}")


@contextlib.contextmanager
def kept_steps(ctx, defs: str, steps):
    """:func:`kept` for a chain of steps: ``steps`` is a list of ``(name, sql)`` where ``sql(names)``
    gives the step's query, reading earlier steps through ``names[step]``. ``defs`` is what the
    first step may read (``WITH`` definitions ending in a comma, or empty). Yields ``(defs, names)``:
    the query starts ``WITH {defs}`` and reads each step as ``names[step]``; on DuckDB every step is
    a temporary table until the block ends."""
    names: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for name, sql in steps:
            defs, names[name] = stack.enter_context(kept(ctx, f"{defs}{name} AS ({sql(names)})", name))
        yield defs, names


def _kept_set(ctx, sql: str, cols: str, names: str, where: str, prefix: str) -> str:
    """``SELECT {cols} FROM (sql)`` (whose columns are called ``names``) as a sub-query text that many predicates repeat: on DuckDB the
    distinct rows are kept once in a temporary table named after the query (a run that asks again,
    as watch does every pass, replaces it); on another engine the query itself (portable)."""
    if not is_duckdb(ctx):
        return f"(SELECT {cols} FROM ({sql}) __s)"
    import hashlib
    made = ctx.__dict__.setdefault("_fwf_kept_sets", {})
    tname = f"{prefix}_{hashlib.sha1((ctx.table + sql).encode()).hexdigest()[:16]}"
    if made.get(tname) != sql:
        ctx.con.execute(f"CREATE OR REPLACE TEMP TABLE {tname} AS SELECT DISTINCT {cols} FROM ({sql}) __s WHERE {where}")
        made[tname] = sql
    return f"(SELECT {names} FROM {tname})"


def src_set(ctx, sql: str) -> str:
    """A sub-query text for "the ``src_ip`` values that ``sql`` returns", for use as
    ``src_ip [NOT] IN <this>`` in predicates that many queries repeat (evidence, targets, ports).
    On DuckDB the set is computed once into a temporary table (an aggregate over the whole log is
    then not re-run by every look-up); on another engine it is ``sql`` itself (portable)."""
    return _kept_set(ctx, sql, "src_ip", "src_ip", "src_ip IS NOT NULL", "fwf_set")


def record_set(ctx, sql: str) -> str:
    """A sub-query text for "the records (file, line) that ``sql`` returns" (its columns
    ``source_file, line``), for predicates of the form ``NOT ((coalesce(source_file, ''), line) IN
    <this>)`` that evidence, target and port look-ups repeat; kept once on DuckDB, as src_set's."""
    return _kept_set(ctx, sql, "coalesce(source_file, '') AS f, line", "f, line", "line IS NOT NULL", "fwf_recs")


def scope(ctx, srcs) -> str:
    """`` AND src_ip IN (...)`` naming the sources that get their own finding (empty when none).
    Put in front of a per-source ``src_ip = ...`` predicate: the grouped look-ups then read those
    few sources' records only (a plain filter the engine applies first) instead of every source's."""
    srcs = sorted({s for s in srcs if s is not None})
    return f" AND src_ip IN {value_set(ctx, srcs)}" if srcs else " AND FALSE"


def evidence(ctx, where: str, samples: int = 3):
    """What :meth:`Context.evidence` returns for ``where`` (it builds line ranges in the engine)."""
    return ctx.evidence(where, samples)


_TEMP_TABLES = itertools.count(1)


# More values than this in a set that many predicates repeat (the sources a detector reports, the
# (source, destination) pairs it judged): on DuckDB the set goes to a temporary table, named in the
# predicates by a short sub-query, instead of into each predicate's text. A flood from forged random
# sources gives thousands of sources: each finding's predicate held all of them, and reading those
# predicates (the keyed look-ups split each one) grew with the square of their number (20 k lines of
# such a flood: 36 s in bogon.source).
LITERAL_SET_MAX = 200


def value_set(ctx, values) -> str:
    """The distinct ``values`` for ``x IN <this>``: a literal list, or on DuckDB past
    LITERAL_SET_MAX values a sub-query over a temporary table (another engine: always the list)."""
    vals = sorted(set(values))
    if len(vals) <= LITERAL_SET_MAX or not is_duckdb(ctx):
        return ctx.lit(vals)
    return _value_set(ctx, vals)


def _value_set(ctx, values: list) -> str:
    """``(SELECT src_ip FROM <a temporary table of values>)`` on DuckDB (the values given as an
    Arrow column, not as SQL text: thousands of addresses)."""
    import pyarrow as pa
    name = _temp_name("fwf_vals")
    ctx.con.register("fwf_values", pa.table({"src_ip": pa.array(sorted(set(values)), pa.string())}))
    try:
        ctx.con.execute(f"CREATE TEMP TABLE {name} AS SELECT src_ip FROM fwf_values")
    finally:
        ctx.con.unregister("fwf_values")
    return f"(SELECT src_ip FROM {name})"


def _temp_name(prefix: str) -> str:
    """A name for a temporary table that no other one of this run has."""
    return f"{prefix}_{next(_TEMP_TABLES)}"


class narrowed:
    """``with narrowed(ctx, where):`` the findings built inside read a copy of only the records of
    ``where`` (a temporary table on DuckDB; ``ctx.table`` names it meanwhile), so that their
    evidence, target and port look-ups scan those records instead of the whole log. The rows are
    the same rows, so the findings are the same. Another engine (Spark) reads the log itself.
    Predicates built inside must name the table as ``ctx.table`` read at that time (correlated
    sub-queries over the whole log should use the outer name given by :attr:`full`).

    The copy holds the columns that the detector creating it can name (:func:`named_columns`): the
    matching records are spread over the whole log, so each column copied is read from end to end
    (a 10 M-line log's ICMP errors: ~0.7-1.0 s with every column, ~0.4 s with the ones named). A
    detector that names a column some other way than by its name in its source would fail to bind a
    query: it is then run again with whole copies (``WHOLE_COPIES``, see ``detectors.run``)."""

    def __init__(self, ctx, where: str):
        self.ctx, self.where = ctx, where
        self.full = ctx.table
        self.name: str | None = None
        self.module = _calling_detector()

    @property
    def pred(self) -> str:
        """``where`` as the look-ups inside need it: ``TRUE`` over the copy (every row of it
        matches), ``where`` itself when nothing was copied (another engine)."""
        return "TRUE" if self.name else self.where

    def _select(self) -> str:
        """The columns to copy: those of the table that the detector names, else ``*``."""
        if not COPY_NAMED_COLUMNS or self.module is None or self.ctx.shared.get(WHOLE_COPIES):
            return "*"
        named = named_columns(self.module)
        if named is None:
            return "*"
        from .. import events
        return ", ".join(f'"{c}"' for c in events.table_columns(self.ctx.con, self.full) if c in named) or "*"

    def __enter__(self):
        if self.where is not None and is_duckdb(self.ctx):
            self.name = _temp_name("fwf_rows")
            # the matching rowids first: a filter that the engine turns into a join would otherwise
            # make the scan read every column of every row
            self.ctx.con.execute(f"CREATE OR REPLACE TEMP TABLE {self.name} AS SELECT {self._select()} "
                                 f"FROM {self.full} WHERE rowid IN (SELECT rowid FROM {self.full} WHERE {self.where})")
            self.ctx.subset_of_table(self.name)
            self.ctx.table = self.name
        return self

    def __exit__(self, *exc):
        if self.name:
            self.ctx.table = self.full
            self.ctx.con.execute(f"DROP TABLE IF EXISTS {self.name}")
        return False


COPY_NAMED_COLUMNS = True   # False: every narrowed copy holds every column (to compare)
# ctx.shared key: set (by detectors.run) once a detector failed to bind a column left out of a
# narrowed copy; every copy is whole from then on
WHOLE_COPIES = "narrowed_whole_copies"
_PACKAGE = __name__.rsplit(".", 1)[0]   # fwforensics.detectors


def _calling_detector() -> str | None:
    """The detector module (not a helper: no leading underscore) nearest up the call stack of the
    caller (narrowed.__init__)."""
    f = sys._getframe(2)   # (0: this function, 1: narrowed.__init__)
    while f is not None:
        name = f.f_globals.get("__name__", "")
        if name.startswith(_PACKAGE + ".") and not name.rsplit(".", 1)[-1].startswith("_"):
            return name
        f = f.f_back
    return None


def _source_words(path: str | None) -> tuple[frozenset[str], frozenset[str]] | None:
    """(the identifiers in a module's source file ``path``, the modules of this package it imports);
    None when the source cannot be read (an installation without sources)."""
    try:
        with open(path, encoding="utf-8") as fh:   # type: ignore[arg-type]
            text = fh.read()
    except (OSError, TypeError, ValueError):
        return None
    imports = set()
    for names in re.findall(r"^\s*from \. import ([\w, ]+)", text, re.M):
        imports.update(f"{_PACKAGE}.{n.strip()}" for n in names.split(",") if n.strip())
    imports.update(f"{_PACKAGE}.{n}" for n in re.findall(r"^\s*from \.(\w+) import", text, re.M))
    return frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)), frozenset(imports)


@functools.lru_cache(maxsize=None)
def named_columns(module: str) -> frozenset[str] | None:
    """Every identifier in the source of ``module``, of the detector modules it imports (and those
    they import) and of this package's helpers (``__init__`` and the modules named ``_*``): a superset
    of the event columns that the SQL its findings are built from can name. None (copy every
    column) when one of those sources cannot be read."""
    import importlib
    import pkgutil
    mods = {f"{_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(sys.modules[_PACKAGE].__path__)}
    todo = [module, _PACKAGE] + sorted(m for m in mods if m.rsplit(".", 1)[-1].startswith("_"))
    words: set[str] = set()
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        got = _source_words(getattr(importlib.import_module(name), "__file__", None))
        if got is None:
            return None
        w, imports = got
        words |= w
        todo.extend(m for m in imports if m in mods and m not in seen)   # (not the names of __init__)
    return frozenset(words)


def sources_only(ctx, srcs) -> narrowed:
    """:class:`narrowed` to the records of the given sources (nothing copied when there are none)."""
    srcs = sorted({s for s in srcs if s is not None})
    return narrowed(ctx, f"src_ip IN {value_set(ctx, srcs)}" if srcs else None)
