"""The knowledge base: what ports, ICMP messages, addresses, RPC numbers and packet fields mean.

All knowledge is data (TOML files and one TSV in ``knowledge/data/``); this module only loads
and looks it up. Each data file names its sources in its header comment.

Public API (detectors, reports and ``explain`` use exactly these names)::

    from fwforensics.knowledge import kb
    k = kb()                                   # loaded once, cached

    k.port(31789, "udp")        -> PortInfo | None   # our entry for a destination port (incl. ranges)
    k.ports(31789, "udp")       -> list[PortInfo]    # every entry that covers the port, best first
    k.registered(80, "tcp")     -> Registered | None # IANA-registered name (.name, .description, .source)
    k.srcport(61000, "tcp")     -> PortInfo | None   # our entry for a *source* port
    k.ports_in_category("trojan") -> frozenset[int]  # e.g. trojan, proxy, game, worm, chat, p2p ...
    k.trojan_ports() / k.proxy_ports() / k.game_ports()  # shortcuts for the above
    k.icmp(3, 4, v6=False)      -> IcmpInfo          # never None: unassigned types say so
    k.address("169.254.3.4")    -> AddrInfo | None   # None only for text that is not an address
    k.rpc_program(100232)       -> RpcProgram | None
    k.rpc_proc(5)               -> RpcProc | None
    k.rpc_range(n)              -> RpcProgram | None # the RFC 5531 block a number belongs to
    k.ttl(112)                  -> TtlGuess(initial_ttl, hops, os_family)
    k.ipid_order([64769, 65025, 65281, 2]) -> IpIdReading(order, detail)
    k.signature("scan.decoy")   -> SignatureInfo(id, title, severity, explanation, advice, faq)
    k.signatures()              -> dict[str, SignatureInfo]
    k.term("smurf")             -> Term | None

``PortInfo.proto`` is "tcp", "udp" or "both"; ``port()`` with ``proto=None`` ignores the
transport. Severity / worry levels are "info", "low", "medium", "high".

AddrInfo.category is one of CATEGORIES_ADDR (global, private, loopback, link-local,
documentation, shared, multicast, broadcast, unspecified, reserved, benchmarking,
this-network, ietf-protocol, translation, discard, unique-local, site-local, deprecated);
``bogon`` is true when the address should never appear as a source on the public Internet.
"""
from __future__ import annotations

import functools
import ipaddress
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

DATA_DIR = Path(__file__).resolve().parent / "data"

LEVELS = ("info", "low", "medium", "high")
PROTOS = ("tcp", "udp", "both")
PORT_CATEGORIES = (
    "service", "trojan", "backdoor", "worm", "game", "chat", "p2p", "multimedia", "dynamic",
    "proxy", "rpc", "broadcast", "traceroute", "adware", "remote-admin", "fingerprint",
    "discovery", "remapped",
)
CATEGORIES_ADDR = (
    "global", "private", "loopback", "link-local", "documentation", "shared", "multicast",
    "broadcast", "unspecified", "reserved", "benchmarking", "this-network", "ietf-protocol",
    "translation", "discard", "unique-local", "site-local", "deprecated",
)


# --------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class PortInfo:
    lo: int
    hi: int
    proto: str
    service: str
    category: str
    worry: str
    summary: str
    meaning: str
    advice: str = ""
    dated: str = ""
    refs: tuple[str, ...] = ()
    faq: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    kind: str = "dst"  # "dst" or "src"

    @property
    def is_range(self) -> bool:
        return self.hi > self.lo and not self.ports

    def covers(self, port: int, proto: str | None) -> bool:
        if proto is not None and self.proto != "both" and proto != self.proto:
            return False
        if self.ports:
            return port in self.ports
        return self.lo <= port <= self.hi

    @property
    def label(self) -> str:
        if self.ports and len(self.ports) == 1:
            p = str(self.ports[0])
        elif self.ports:
            p = ",".join(str(x) for x in self.ports)
        elif self.hi == 65535:
            p = f"{self.lo}+"
        else:
            p = f"{self.lo}-{self.hi}"
        return p if self.proto == "both" else f"{p}/{self.proto}"


@dataclass(frozen=True)
class Registered:
    port: int
    proto: str
    name: str
    description: str
    source: str  # "iana" or "netbase"


@dataclass(frozen=True)
class IcmpInfo:
    type: int
    code: int | None
    v6: bool
    type_name: str
    name: str  # the code's name when a code is known, else the type's
    meaning: str  # our reading (plain words)
    status: str  # current, deprecated, unassigned, reserved, experimental
    worry: str
    from_faq: bool
    code_known: bool


@dataclass(frozen=True)
class AddrInfo:
    ip: str
    version: int
    category: str
    name: str
    bogon: bool
    text: str
    cidr: str
    rfc: str = ""
    dated: str = ""
    is_network: bool = False


@dataclass(frozen=True)
class RpcProgram:
    number: int
    name: str
    aliases: tuple[str, ...]
    description: str
    reading: str
    worry: str
    refs: tuple[str, ...]
    callit: bool
    source: str


@dataclass(frozen=True)
class RpcProc:
    number: int
    name: str
    reading: str
    worry: str


class TtlGuess(NamedTuple):
    initial_ttl: int
    hops: int
    os_family: str
    note: str = ""


@dataclass(frozen=True)
class IpIdReading:
    order: str  # 'big-endian counter', 'little-endian (byte-swapped) counter', 'random', 'zero', 'constant', 'too few'
    detail: str
    swapped: tuple[int, ...] = ()


@dataclass(frozen=True)
class SignatureInfo:
    id: str
    title: str
    severity: str
    explanation: str
    advice: str
    faq: tuple[str, ...] = ()


@dataclass(frozen=True)
class Term:
    name: str
    aliases: tuple[str, ...]
    text: str
    see: tuple[str, ...] = ()
    group: str = "term"


# --------------------------------------------------------------------------------- loading
def _load(name: str) -> dict:
    with open(DATA_DIR / name, "rb") as fh:
        return tomllib.load(fh)


def _port_entries(rows: list[dict], kind: str) -> list[PortInfo]:
    out = []
    for r in rows:
        ports = tuple(r.get("ports", ()))
        if "range" in r:
            lo, hi = r["range"]
        else:
            lo, hi = min(ports), max(ports)
        out.append(PortInfo(
            lo=lo, hi=hi, proto=r["proto"], service=r["service"], category=r["category"],
            worry=r["worry"], summary=r["summary"], meaning=r["meaning"], advice=r.get("advice", ""),
            dated=r.get("dated", ""), refs=tuple(r.get("refs", ())), faq=tuple(r.get("faq", ())),
            ports=ports, kind=kind,
        ))
    return out


class KnowledgeBase:
    """Loaded knowledge; build it with :func:`kb` (cached) rather than directly."""

    def __init__(self) -> None:
        self._ports = _port_entries(_load("ports.toml")["port"], "dst")
        self._srcports = _port_entries(_load("srcports.toml")["srcport"], "src")
        icmp = _load("icmp.toml")
        self._icmp_types: dict[tuple[bool, int], dict] = {}
        self._icmp_codes: dict[tuple[bool, int, int], dict] = {}
        for v6, key in ((False, "v4"), (True, "v6")):
            for r in icmp[key]:
                if "code" in r:
                    self._icmp_codes[(v6, r["type"], r["code"])] = r
                else:
                    self._icmp_types[(v6, r["type"])] = r
        addr = _load("addresses.toml")
        self._blocks = []
        for r in addr["block"]:
            net = ipaddress.ip_network(r["cidr"])
            self._blocks.append((net, r))
        # most specific first
        self._blocks.sort(key=lambda t: (-t[0].prefixlen, t[0].version))
        rpc = _load("rpc.toml")
        self._rpc_progs = {r["number"]: RpcProgram(
            number=r["number"], name=r["name"], aliases=tuple(r.get("aliases", ())),
            description=r["description"], reading=r.get("reading", ""), worry=r.get("worry", "info"),
            refs=tuple(r.get("refs", ())), callit=r.get("callit", False), source=r["source"],
        ) for r in rpc["program"]}
        self._rpc_ranges = rpc.get("range", [])
        self._rpc_procs = {r["number"]: RpcProc(r["number"], r["name"], r["reading"], r["worry"]) for r in rpc["procedure"]}
        self.zen = _load("zen.toml")
        self._ttl_families = sorted(self.zen["ttl"], key=lambda r: r["initial"])
        self._terms: dict[str, Term] = {}
        for r in _load("terms.toml")["term"]:
            t = Term(r["name"], tuple(r.get("aliases", ())), r["text"], tuple(r.get("see", ())), r.get("group", "term"))
            for n in (t.name, *t.aliases):
                self._terms[_norm_term(n)] = t
        self._sigs = {r["id"]: SignatureInfo(r["id"], r["title"], r["severity"], r["explanation"], r["advice"], tuple(r.get("faq", ())))
                      for r in _load("signatures.toml")["signature"]}
        self._registered_table: dict | None = None   # the IANA table (~0.05 s to read): on first use
        self._dst_index = _index(self._ports)
        self._src_index = _index(self._srcports)

    # ---- ports
    @staticmethod
    def _rank(e: PortInfo, port: int) -> tuple:
        exact = 0 if (e.ports and port in e.ports) else 1
        return (exact, e.hi - e.lo)

    def ports(self, port: int, proto: str | None = None) -> list[PortInfo]:
        proto = _norm_proto(proto)
        hits = [e for e in self._dst_index.get(port, ()) if e.covers(port, proto)]
        return sorted(hits, key=lambda e: self._rank(e, port))

    def port(self, port: int, proto: str | None = None) -> PortInfo | None:
        hits = self.ports(port, proto)
        return hits[0] if hits else None

    def srcports(self, port: int, proto: str | None = None) -> list[PortInfo]:
        proto = _norm_proto(proto)
        hits = [e for e in self._src_index.get(port, ()) if e.covers(port, proto)]
        return sorted(hits, key=lambda e: self._rank(e, port))

    def srcport(self, port: int, proto: str | None = None) -> PortInfo | None:
        hits = self.srcports(port, proto)
        return hits[0] if hits else None

    def all_ports(self) -> list[PortInfo]:
        return list(self._ports)

    def all_srcports(self) -> list[PortInfo]:
        return list(self._srcports)

    def registered(self, port: int, proto: str | None = None) -> Registered | None:
        proto = _norm_proto(proto)
        table = self._registered_table
        if table is None:   # (two threads may both read it: the same table, kept once)
            table = self._registered_table = _load_registered()
        for p in ((proto,) if proto in ("tcp", "udp") else ("tcp", "udp")):
            r = table.get((port, p))
            if r:
                return Registered(port, p, *r)
        return None

    def ports_in_category(self, category: str) -> frozenset[int]:
        out: set[int] = set()
        for e in self._ports:
            if e.category == category:
                out.update(e.ports if e.ports else range(e.lo, e.hi + 1))
        return frozenset(out)

    def trojan_ports(self) -> frozenset[int]:
        return self.ports_in_category("trojan") | self.ports_in_category("backdoor")

    def proxy_ports(self) -> frozenset[int]:
        return self.ports_in_category("proxy")

    def game_ports(self) -> frozenset[int]:
        return self.ports_in_category("game")

    # ---- ICMP
    def icmp(self, type: int, code: int | None = None, v6: bool = False) -> IcmpInfo:
        t = self._icmp_types.get((v6, type))
        if t is None:
            status = "unassigned"
            name = "unassigned type"
            if v6 and type in (100, 101, 200, 201):
                status, name = "experimental", "private experimentation"
            elif not v6 and type in (253, 254):
                status, name = "experimental", "RFC 3692-style experiment"
            meaning = ("No message with this number is in use; a packet carrying it is malformed, "
                       "experimental, or crafted by a tool probing how your stack reacts.")
            if status == "experimental":
                meaning = "Set aside for experiments; nothing on the public Internet should send it."
            return IcmpInfo(type, code, v6, name, name, meaning, status, "low", False, False)
        c = self._icmp_codes.get((v6, type, code)) if code is not None else None
        meaning = (c or {}).get("reading") or t.get("reading", "")
        if code is not None and c is None and code != 0:
            meaning = (meaning + " " if meaning else "") + f"Code {code} is not a registered code for this type."
        return IcmpInfo(
            type=type, code=code, v6=v6, type_name=t["name"],
            name=(c or t)["name"], meaning=meaning.strip(),
            status=(c or {}).get("status", t.get("status", "current")),
            worry=(c or {}).get("worry", t.get("worry", "info")),
            from_faq=bool((c or {}).get("faq", t.get("faq", False))),
            code_known=c is not None,
        )

    def icmp_codes(self, type: int, v6: bool = False) -> list[IcmpInfo]:
        return [self.icmp(t, c, v6) for (v, t, c) in sorted(self._icmp_codes) if v == v6 and t == type]

    # ---- addresses
    def address(self, text: str) -> AddrInfo | None:
        text = text.strip().strip("[]")
        is_net = "/" in text
        try:
            if is_net:
                net = ipaddress.ip_network(text, strict=False)
                ip = net.network_address
            else:
                ip = ipaddress.ip_address(text.split("%")[0])
                net = None
        except ValueError:
            return None
        probe = ip
        if ip.version == 6 and ip.ipv4_mapped is not None:
            inner = self.address(str(ip.ipv4_mapped))
            if inner:
                # (shown as RFC 5952 writes it, with the IPv4 part dotted: ::ffff:10.0.0.1, not ::ffff:a00:1)
                return AddrInfo(f"::ffff:{ip.ipv4_mapped}", 6, inner.category, "IPv4-mapped " + inner.name, inner.bogon,
                                "An IPv4 address written in IPv6 form (::ffff:a.b.c.d). " + inner.text,
                                "::ffff:0:0/96", "RFC 4291", inner.dated, is_net)
        for blk, r in self._blocks:
            if blk.version != probe.version or probe not in blk:
                continue
            if net is not None and net.prefixlen < blk.prefixlen:
                continue
            return AddrInfo(str(net if net is not None else ip), ip.version, r["category"], r["name"], r["bogon"],
                            r["reading"], str(blk), r.get("rfc", ""), r.get("dated", ""), is_net)
        g = self.zen["global"]
        return AddrInfo(str(net if net is not None else ip), ip.version, "global",
                        "global unicast", False, g["v4" if ip.version == 4 else "v6"],
                        "0.0.0.0/0" if ip.version == 4 else "::/0", "", "", is_net)

    # ---- RPC
    def rpc_program(self, number: int) -> RpcProgram | None:
        return self._rpc_progs.get(number)

    def rpc_range(self, number: int) -> RpcProgram | None:
        """Which RFC 5531 block a program number falls in (for numbers we have no name for)."""
        for r in self._rpc_ranges:
            if r["lo"] <= number <= r["hi"]:
                return RpcProgram(number, r["name"], (), r["description"], r.get("reading", ""), "info", (), False, r["source"])
        return None

    def rpc_programs(self) -> dict[int, RpcProgram]:
        return dict(self._rpc_progs)

    def rpc_proc(self, number: int) -> RpcProc | None:
        return self._rpc_procs.get(number)

    # ---- packet Zen
    def ttl(self, ttl: int) -> TtlGuess:
        if not 0 <= ttl <= 255:
            raise ValueError("TTL must be 0-255")
        for fam in self._ttl_families:
            if ttl <= fam["initial"]:
                return TtlGuess(fam["initial"], fam["initial"] - ttl, fam["family"], fam.get("note", ""))
        raise AssertionError("zen.toml must have a 255 family")  # pragma: no cover

    def ipid_order(self, ids: list[int]) -> IpIdReading:
        ids = [int(i) for i in ids]
        if any(not 0 <= i <= 65535 for i in ids):
            raise ValueError("IP IDs are 16-bit values (0-65535)")
        if len(ids) < 2:
            return IpIdReading("too few", "Two or more IDs from the same source are needed to see a pattern.")
        if all(i == 0 for i in ids):
            return IpIdReading("zero", self.zen["ipid"]["zero"])
        if len(set(ids)) == 1:
            return IpIdReading("constant", self.zen["ipid"]["constant"])
        swapped = tuple(((i & 0xFF) << 8) | (i >> 8) for i in ids)

        def steady(seq) -> float:
            good = 0
            for a, b in zip(seq, seq[1:]):
                d = (b - a) % 65536
                if 0 < d <= 256:
                    good += 1
            return good / (len(seq) - 1)

        be, le = steady(ids), steady(swapped)
        if be >= 0.75 and be >= le:
            return IpIdReading("big-endian counter", self.zen["ipid"]["big"])
        if le >= 0.75:
            return IpIdReading("little-endian (byte-swapped) counter", self.zen["ipid"]["little"], swapped)
        return IpIdReading("random", self.zen["ipid"]["random"])

    # ---- signatures and terms
    def signature(self, id: str) -> SignatureInfo | None:
        return self._sigs.get(id)

    def signatures(self) -> dict[str, SignatureInfo]:
        return dict(self._sigs)

    def term(self, name: str) -> Term | None:
        return self._terms.get(_norm_term(name))

    def terms(self) -> list[Term]:
        seen, out = set(), []
        for t in self._terms.values():
            if t.name not in seen:
                seen.add(t.name)
                out.append(t)
        return out


def _index(entries: list[PortInfo]) -> dict[int, list[PortInfo]]:
    idx: dict[int, list[PortInfo]] = {}
    for e in entries:
        for p in (e.ports if e.ports else range(e.lo, e.hi + 1)):
            idx.setdefault(p, []).append(e)
    return idx


def _norm_term(s: str) -> str:
    return " ".join(s.lower().replace("_", " ").replace("-", " ").split())


def _norm_proto(proto: str | None) -> str | None:
    if proto is None:
        return None
    p = proto.strip().lower()
    if p in ("", "any", "both", "*"):
        return None
    return p


def _load_registered() -> dict[tuple[int, str], tuple[str, str, str]]:
    out: dict[tuple[int, str], tuple[str, str, str]] = {}
    with open(DATA_DIR / "iana_services.tsv", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or line.startswith("port\t"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            out[(int(parts[0]), parts[1])] = (parts[2], parts[3], parts[4])
    return out


@functools.lru_cache(maxsize=1)
def kb() -> KnowledgeBase:
    """The loaded knowledge base (loaded on first use, then cached)."""
    return KnowledgeBase()


__all__ = [
    "kb", "KnowledgeBase", "PortInfo", "Registered", "IcmpInfo", "AddrInfo", "RpcProgram", "RpcProc",
    "TtlGuess", "IpIdReading", "SignatureInfo", "Term", "LEVELS", "PORT_CATEGORIES", "CATEGORIES_ADDR", "DATA_DIR",
]
