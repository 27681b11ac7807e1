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
