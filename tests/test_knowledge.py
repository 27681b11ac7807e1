"""The knowledge data files: schema, completeness and the lookup API."""
from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path

import pytest

from fwforensics.knowledge import (
    CATEGORIES_ADDR, DATA_DIR, LEVELS, PORT_CATEGORIES, KnowledgeBase, kb,
)

from _shared import SPEC as _SPEC  # noqa: E402
SPEC = _SPEC / "signatures.md"
TOML_FILES = sorted(p.name for p in DATA_DIR.glob("*.toml"))


def load(name: str) -> dict:
    with open(DATA_DIR / name, "rb") as fh:
        return tomllib.load(fh)


def _text(v) -> bool:
    return isinstance(v, str) and v.strip() == v and len(v) > 0


def test_expected_files_present():
    for name in ("ports.toml", "srcports.toml", "icmp.toml", "addresses.toml", "rpc.toml", "zen.toml",
                 "terms.toml", "signatures.toml", "iana_services.tsv"):
        assert (DATA_DIR / name).is_file(), name


@pytest.mark.parametrize("name", TOML_FILES)
def test_every_data_file_cites_its_sources(name):
    head = (DATA_DIR / name).read_text(encoding="utf-8").split("\n\n")[0]
    assert head.startswith("#")
    assert re.search(r"(?i)sources?:", head), f"{name} header names no source"


@pytest.mark.parametrize("fname,key", [("ports.toml", "port"), ("srcports.toml", "srcport")])
def test_port_schema(fname, key):
    rows = load(fname)[key]
    assert rows
    allowed = {"ports", "range", "proto", "service", "category", "worry", "summary", "meaning", "advice", "dated", "refs", "faq"}
    for r in rows:
        assert set(r) <= allowed, set(r) - allowed
        assert ("ports" in r) != ("range" in r), r.get("service")
        if "ports" in r:
            assert r["ports"] and all(isinstance(p, int) and 0 <= p <= 65535 for p in r["ports"])
        else:
            lo, hi = r["range"]
            assert 0 <= lo < hi <= 65535
        assert r["proto"] in ("tcp", "udp", "both")
        assert r["category"] in PORT_CATEGORIES, r["category"]
        assert r["worry"] in LEVELS
        for f in ("service", "summary", "meaning"):
            assert _text(r[f]), (r.get("service"), f)
        assert len(r["summary"]) <= 140, r["summary"]
        for f in ("advice", "dated"):
            if f in r:
                assert _text(r[f])
        for ref in r.get("refs", []):
            assert re.fullmatch(r"(CA-\d{4}-\d{2}|IN-\d{2}-\d{2}|RFC \d+|MSKB Q\d+|CVE-\d{4}-\d{4,}|TA\d{2}-\d{3}[A-Z])",
                                ref), ref
        for sec in r.get("faq", []):
            assert re.fullmatch(r"\d+(\.\d+)*", sec), sec


def test_icmp_schema():
    d = load("icmp.toml")
    seen = set()
    for fam in ("v4", "v6"):
        for r in d[fam]:
            assert set(r) <= {"type", "code", "name", "reading", "faq", "worry", "status"}
            assert 0 <= r["type"] <= 255 and 0 <= r.get("code", 0) <= 255
            assert _text(r["name"]) and _text(r["reading"])
            assert r.get("worry", "info") in LEVELS
            assert r.get("status", "current") in ("current", "deprecated", "reserved", "experimental")
            key = (fam, r["type"], r.get("code"))
            assert key not in seen, key
            seen.add(key)
            if "code" in r:
                assert (fam, r["type"], None) in seen, f"code before type {key}"
    # the registries' well-known entries are present
    for t in (0, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30, 40, 42, 43):
        assert ("v4", t, None) in seen
    for c in range(16):
        assert ("v4", 3, c) in seen
    for t in (1, 2, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 143, 160, 161):
        assert ("v6", t, None) in seen


def test_address_schema():
    rows = load("addresses.toml")["block"]
    cidrs = set()
    for r in rows:
        net = ipaddress.ip_network(r["cidr"])  # strict: host bits must be zero
        assert str(net) not in cidrs
        cidrs.add(str(net))
        assert r["category"] in CATEGORIES_ADDR
        assert isinstance(r["bogon"], bool)
        assert _text(r["name"]) and _text(r["reading"])
    # IANA special-purpose registries: the blocks every firewall admin meets
    for c in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
              "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
              "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
              "::1/128", "::/128", "64:ff9b::/96", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16",
              "fc00::/7", "fe80::/10", "ff00::/8"):
        assert c in cidrs, c


def test_rpc_schema():
    d = load("rpc.toml")
    nums = [p["number"] for p in d["program"]]
    assert len(nums) == len(set(nums))
    for p in d["program"]:
        assert 0 <= p["number"] < 2**32 and _text(p["name"]) and _text(p["description"]) and _text(p["source"])
        assert p.get("worry", "info") in LEVELS
    assert sorted(r["number"] for r in d["procedure"]) == [0, 1, 2, 3, 4, 5]
    # every name of the system's /etc/rpc (netbase) is known
    etc = Path("/etc/rpc")
    if etc.exists():
        for line in etc.read_text().splitlines():
            line = line.split("#")[0].split()
            if len(line) >= 2:
                assert int(line[1]) in nums, line


def test_signatures_cover_every_finding_id():
    ids = set()
    for line in SPEC.read_text().splitlines():
        m = re.match(r"^\| ([a-z0-9_. /]+?) \|", line)
        if m and m.group(1).strip() != "id":
            for part in m.group(1).split("/"):
                ids.add(part.strip())
    assert len(ids) >= 45
    d = {r["id"]: r for r in load("signatures.toml")["signature"]}
    missing = ids - set(d)
    assert not missing, missing
    for r in d.values():
        assert r["severity"] in LEVELS
        for f in ("title", "explanation", "advice"):
            assert _text(r[f]), (r["id"], f)
        assert len(r["explanation"]) >= 80, r["id"]
    k = kb()
    for i in ids:
        s = k.signature(i)
        assert s is not None and s.id == i


def test_terms_schema():
    rows = load("terms.toml")["term"]
    names = set()
    for r in rows:
        assert _text(r["name"]) and _text(r["text"])
        assert r.get("group", "term") in ("term", "quasi", "log")
        for n in (r["name"], *r.get("aliases", [])):
            assert n.lower() not in names, n
            names.add(n.lower())


def test_zen_schema():
    d = load("zen.toml")
    inits = sorted(r["initial"] for r in d["ttl"])
    assert inits == [32, 64, 128, 255]
    for key in ("big", "little", "random", "zero", "constant"):
        assert _text(d["ipid"][key])


def test_iana_table_header_and_rows():
    path = DATA_DIR / "iana_services.tsv"
    head = [l for l in path.read_text(encoding="utf-8").splitlines()[:10] if l.startswith("#")]
    assert any("Generated" in l and re.search(r"\d{4}-\d{2}-\d{2}", l) for l in head)
    assert any("iana.org" in l for l in head)
    from fwforensics.knowledge import KnowledgeBase
    fresh = KnowledgeBase()   # the table is read on first use only (analyze --json never asks)
    assert fresh._registered_table is None and fresh.registered(80, "tcp").name == "http"
    assert fresh._registered_table is not None
    k = kb()
    assert k.registered(80, "tcp").name == "http"
    assert k.registered(53, "udp").name == "domain"
    assert k.registered(443, "tcp").name == "https"
    n = sum(1 for p in range(65536) for proto in ("tcp", "udp") if k.registered(p, proto))
    assert n > 10000


def test_every_port_answers_fast():
    k = kb()
    for proto in ("tcp", "udp"):
        for p in range(65536):
            e = k.port(p, proto)
            r = k.registered(p, proto)
            s = k.srcport(p, proto)
            assert e is None or e.covers(p, proto)
            assert r is None or r.port == p
            assert s is None or s.covers(p, proto)


def test_lookup_api():
    k = kb()
    assert isinstance(k, KnowledgeBase) and kb() is k  # cached
    assert k.port(31789, "udp").service.startswith("Hack'a'Tack")
    assert k.port(31789, "tcp") is None
    assert k.port(33500, "udp").category == "traceroute"
    assert k.srcport(61000, "tcp").service.startswith("Linux IP Masquerade")
    assert k.srcport(3, "tcp").service == "sscan fingerprinting"
    assert {1243, 6711, 6776, 27374, 31337, 12345, 30100, 31789} <= k.trojan_ports()
    assert {8080, 3128, 1080, 8000, 8001, 8888} <= k.proxy_ports()
    assert {27015, 26000, 28000} <= k.game_ports()
    assert k.icmp(3, 4).name.startswith("Fragmentation Needed")
    assert k.icmp(77).status == "unassigned"
    assert k.icmp(2, None, v6=True).type_name == "Packet Too Big"
    assert k.address("169.254.3.4").category == "link-local"
    assert k.address("100.64.1.1").category == "shared"
    assert k.address("8.8.8.8").category == "global" and not k.address("8.8.8.8").bogon
    assert k.address("fe80::1").bogon
    assert k.address("::ffff:192.168.1.1").category == "private"
    assert k.address("not an address") is None
    assert k.rpc_program(100232).name == "sadmind"
    assert k.rpc_program(999) is None and k.rpc_range(999).name == "Sun-administered range"
    assert k.rpc_proc(4).name == "DUMP"
    assert k.ttl(112)[:2] == (128, 16)
    assert k.ttl(51)[:2] == (64, 13)
    assert k.ttl(250).initial_ttl == 255
    assert k.ipid_order([64769, 65025, 65281, 2]).order == "little-endian (byte-swapped) counter"
    assert k.ipid_order([0x01FD, 0x01FE, 0x01FF, 0x0200]).order == "big-endian counter"
    assert k.ipid_order([0, 0, 0]).order == "zero"
    assert k.ipid_order([7, 7, 7]).order == "constant"
    assert k.ipid_order([51234, 903, 40000, 17]).order == "random"
    assert k.term("Decoy") is k.term("decoy scan")


def test_addresses_agree_with_python_ipaddress():
    """Our categories never contradict the stdlib's classification."""
    k = kb()
    samples = ["10.1.2.3", "172.31.255.255", "192.168.0.1", "127.0.0.1", "169.254.9.9", "224.0.0.251",
               "239.255.255.250", "240.0.0.1", "0.0.0.0", "192.0.2.1", "8.8.8.8", "::1", "fe80::1", "fd00::1",
               "ff02::1", "2001:db8::1", "2606:4700::1111"]
    for s in samples:
        ip = ipaddress.ip_address(s)
        a = k.address(s)
        if ip.is_loopback:
            assert a.category == "loopback"
        if ip.is_link_local:
            assert a.category == "link-local"
        if ip.is_multicast:
            assert a.category == "multicast"
        if ip.is_global and not ip.is_multicast:
            assert a.category == "global" and not a.bogon, s
