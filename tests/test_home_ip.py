"""_misc.home_ip (inet_pton and integers) answers as ipaddress does."""
from __future__ import annotations

import ipaddress
import random

import duckdb

from fwforensics.detectors import Context, _misc

NETS = [ipaddress.ip_network(x) for x in ("203.0.113.0/24", "10.0.0.0/8", "2001:db8::/64", "192.0.2.128/25")]


def _ipaddress(text):
    try:
        a = ipaddress.ip_address(text)
    except (ValueError, TypeError):
        return False
    return any(a.version == n.version and a in n for n in NETS)


def test_home_ip_agrees_with_ipaddress():
    ctx = Context(con=duckdb.connect(), home_nets=NETS)
    rnd = random.Random(3)
    cases = ["203.0.113.5", "203.0.114.5", "10.255.1.1", "2001:db8::1", "2001:db8:0:1::1", "::ffff:10.0.0.1",
             "fe80::1%eth0", "2001:db8::1%2", "01.2.3.4", "1.2.3", "garbage", "", None, "192.0.2.129", "192.0.2.127",
             "2001:DB8::ff"]
    cases += [str(ipaddress.ip_address(rnd.getrandbits(32))) for _ in range(5000)]
    cases += [str(ipaddress.ip_address(rnd.getrandbits(64) | (0x20010db8 << 96))) for _ in range(500)]
    cases += [f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}" for _ in range(500)]
    got = [_misc.home_ip(ctx, c) for c in cases]
    assert got == [_ipaddress(c) for c in cases]
    assert 1000 < sum(got) < len(cases) - 1000
    assert not _misc.home_ip(Context(con=duckdb.connect()), "10.0.0.1")   # no home networks


def test_special_addresses_take_odd_text_without_failing():
    # digits of other scripts pass str.isdigit(): the dotted-quad fast path must not hand them to
    # inet_aton (it raised); the knowledge base decides, as it does for any odd text
    from fwforensics.knowledge import kb
    s = _misc.SpecialAddresses(kb())
    for text in ("\u0663.1.1.1", "1.2.3.\u0663", "\uff11.2.3.4", "1.2.3.4\x00", " 192.0.2.1 "):
        assert s.kind(text) == (lambda a: (a.category, bool(a.bogon)) if a else None)(kb().address(text))
    assert s.kind("192.0.2.1") == ("documentation", True) and s.kind("8.8.8.8") == ("global", False)


def test_special_address_kinds_agree_with_the_knowledge_base_at_every_block_edge():
    """kind() remembers the kind of whole aligned chunks (IPv4 /16, IPv6 /32) that no block starts or
    ends inside: every block's edges, their neighbours and random addresses of the same chunks (asked
    in two orders, so a remembered chunk answers for addresses met later) match the knowledge base."""
    from fwforensics.knowledge import kb
    k = kb()
    rnd = random.Random(7)
    texts = []
    for net, _ in k._blocks:
        lo, hi = int(net.network_address), int(net.broadcast_address)
        top = 2 ** (32 if net.version == 4 else 128) - 1
        sh = 16 if net.version == 4 else 96
        for n in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, (lo >> sh << sh), (lo >> sh << sh) + rnd.getrandbits(sh)):
            if 0 <= n <= top:
                texts.append(str(ipaddress.ip_address(n) if net.version == 4 else ipaddress.IPv6Address(n)))
    texts += [str(ipaddress.ip_address(rnd.getrandbits(32))) for _ in range(3000)]
    texts += [str(ipaddress.IPv6Address((0x20010db8 << 96) | rnd.getrandbits(96))) for _ in range(300)]
    want = [(lambda a: (a.category, bool(a.bogon)) if a else None)(k.address(t)) for t in texts]
    assert len({w for w in want}) > 8
    for order in (texts, texts[::-1]):
        s = _misc.SpecialAddresses(k)
        got = {t: s.kind(t) for t in order}
        assert [got[t] for t in texts] == want
