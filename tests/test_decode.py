"""The FAQ's two hex dumps decode to the values the FAQ gives; other layouts and junk."""
from __future__ import annotations


import dpkt
import pytest
from click.testing import CliRunner

from fwforensics.commands.explain_cmd import decode_cmd
from fwforensics.decode import DecodeError, decode, decode_bytes, decode_netbios_name, parse_hex

from _shared import SEEDS  # noqa: E402
SEED_2003 = SEEDS / "001_60906ea197078f32.txt"


def _dump(start: str, end: str) -> str:
    s = SEED_2003.read_text(encoding="utf-8")
    i = s.index(start)
    return s[i:s.index(end, i)]


@pytest.fixture(scope="module")
def icmp_dump() -> str:
    return _dump(" 00 00 BA 5E", "Where the bytes")


@pytest.fixture(scope="module")
def netbios_dump() -> str:
    return _dump("00000:  00 E0 18", "10.6 How do I")


def layer(res, name):
    return next(l["fields"] for l in res["layers"] if l["layer"] == name)


def test_faq_icmp_unreachable_dump(icmp_dump):
    res = decode(icmp_dump)
    assert res["bytes"] == 70 and res["link"] == "ethernet" and not res["errors"]
    icmp = layer(res, "icmp")
    assert (icmp["type"], icmp["code"]) == (3, 3)  # "the bytes 03 03 are the type/code"
    inner_ip = layer(res, "ip-inner")
    assert inner_ip["proto"] == 17
    udp = layer(res, "udp-inner")
    # the FAQ: source port 2215, destination port 31001, length 51, checksum 0xB836
    assert udp["sport"] == 2215
    assert udp["dport"] == 31001
    assert udp["length"] == 51
    assert udp["checksum"] == "0xb836"
    text = " ".join(res["lines"] + res["reveals"])
    assert "destination port 31001" in text and "Port Unreachable" in text
    assert any("port 31001" in r and "trying to reach" in r for r in res["reveals"])


def test_faq_netbios_node_status_dump(netbios_dump):
    res = decode(netbios_dump)
    assert res["bytes"] == 92 and not res["errors"]
    ip = layer(res, "ip")
    assert ip["id"] == 0x3E16 and ip["proto"] == 17 and ip["len"] == 78
    udp = layer(res, "udp")
    assert (udp["sport"], udp["dport"], udp["length"]) == (137, 137, 58)
    nb = layer(res, "netbios-ns")
    assert nb["transaction_id"] == 57032 and nb["flags"] == "0x0000" and nb["response"] is False
    assert (nb["questions"], nb["answers"], nb["authority"], nb["additional"]) == (1, 0, 0, 0)
    assert nb["question_name"] == "*"
    assert nb["question_encoded"] == "CK" + "A" * 30
    assert nb["question_type"] == 0x21 and nb["question_class"] == 1
    text = " ".join(res["lines"] + res["reveals"])
    assert "node status" in text.lower() and "0xDEC8" in text and "Windows" in text


def test_netbios_name_decoding():
    assert decode_netbios_name("CK" + "A" * 30)[0] == "*"
    # 'FRED' padded with spaces, suffix 0x20 (file server)
    raw = b"FRED".ljust(15, b" ") + b"\x20"
    enc = "".join(chr(65 + (b >> 4)) + chr(65 + (b & 15)) for b in raw)
    assert decode_netbios_name(enc) == ("FRED", 0x20, raw)
    with pytest.raises(ValueError):
        decode_netbios_name("XYZ")


def test_layouts_give_the_same_bytes(icmp_dump):
    b = parse_hex(icmp_dump)
    continuous = b.hex()
    assert parse_hex(continuous) == b
    assert parse_hex(continuous.upper()) == b
    with_offsets = "\n".join(f"{i:04x}  " + " ".join(f"{x:02x}" for x in b[i:i + 16]) + "  ascii..." for i in range(0, len(b), 16))
    assert parse_hex(with_offsets) == b
    tcpdump = "\n".join(f"\t0x{i:04x}:  " + " ".join(b[j:j + 2].hex() for j in range(i, min(i + 16, len(b)), 2)) for i in range(14, len(b), 16))
    assert parse_hex(tcpdump) == b[14:]
    assert decode(tcpdump)["link"] == "raw-ip"


def test_decodes_a_tcp_syn_built_with_dpkt():
    tcp = dpkt.tcp.TCP(sport=4444, dport=31337, flags=dpkt.tcp.TH_SYN, seq=1)
    ip = dpkt.ip.IP(src=bytes([198, 51, 100, 7]), dst=bytes([203, 0, 113, 5]), p=6, ttl=112, data=tcp)
    ip.len = len(bytes(ip))
    res = decode_bytes(bytes(ip))
    t = layer(res, "tcp")
    assert t["flags"] == "SYN" and t["dport"] == 31337
    assert any("Back Orifice" in r for r in res["reveals"])
    assert any("128" in r and "16 hops" in r for r in res["reveals"])


@pytest.mark.parametrize("junk", ["", "hello world", "zz zz", "00", "45 00 00", "ff" * 3000, "0x", "00:11:22"])
def test_junk_never_raises(junk):
    try:
        res = decode(junk)
    except DecodeError:
        return
    assert isinstance(res["lines"], list)


def test_truncated_dump_is_reported_not_crashed(icmp_dump):
    b = parse_hex(icmp_dump)
    for n in range(0, len(b)):
        res = decode_bytes(b[:n])
        assert isinstance(res, dict)


def test_cli_decode_from_argument_file_and_stdin(tmp_path, netbios_dump, icmp_dump):
    r = CliRunner().invoke(decode_cmd, [icmp_dump])
    assert r.exit_code == 0 and "31001" in r.output
    f = tmp_path / "dump.txt"
    f.write_text(netbios_dump)
    r = CliRunner().invoke(decode_cmd, ["-f", str(f)])
    assert r.exit_code == 0 and "NBSTAT" in r.output
    r = CliRunner().invoke(decode_cmd, ["--json"], input=icmp_dump)
    assert r.exit_code == 0 and '"dport": 31001' in r.output
    r = CliRunner().invoke(decode_cmd, ["not hex at all"])
    assert r.exit_code != 0 and "nothing to decode" in r.output


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_without_exceptions(data):
    res = decode_bytes(data)
    assert isinstance(res["lines"], list) and isinstance(res["errors"], list)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_decode_without_exceptions(text):
    try:
        decode(text)
    except DecodeError:
        pass
