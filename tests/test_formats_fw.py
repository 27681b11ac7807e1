"""Firewall vendor readers on real corpus files, Elastic / UCI expected values, Wazuh INI lines,
tcpdump-printed pflog, and robustness against garbage."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fwforensics.formats import ParseContext, detect, get
from fw_helpers import CORPUS, SAMPLES, ini_lines, read, rows

E = CORPUS / "elastic-integrations"
W = CORPUS / "wazuh-ruleset-tests"
O = CORPUS / "ossec-testing"

FW_FORMATS = ["pf", "filterlog", "windows_firewall", "cisco_asa", "cisco_ios", "juniper", "fortigate", "panos",
              "sonicwall", "checkpoint", "sophos", "watchguard", "cef", "barracuda", "ipfw", "ipmon", "uci_csv",
              "csv_generic", "json_generic"]

CORPUS_FILES = [
    ("elastic-integrations/barracuda/test-network-firewall.log", "barracuda"),
    ("elastic-integrations/cef/test-fp-ngfw-smc.log", "cef"),
    ("elastic-integrations/checkpoint/test-packet-drop.log", "checkpoint"),
    ("elastic-integrations/cisco_asa/test-733100-multiline.log", "cisco_asa"),
    ("elastic-integrations/cisco_asa/test-repeat-deny.log", "cisco_asa"),
    ("elastic-integrations/cisco_asa/test-sample.log", "cisco_asa"),
    ("elastic-integrations/cisco_ftd/test-security-connection.log", "cisco_asa"),
    ("elastic-integrations/cisco_ios/test-cisco-ios.log", "cisco_ios"),
    ("elastic-integrations/fortinet_fortigate/test-fortinet-7-4.first5lines.log", "fortigate"),
    ("elastic-integrations/juniper_srx/test-flow.first9lines.log", "juniper"),
    ("elastic-integrations/juniper_srx/test-ids.log", "juniper"),
    ("elastic-integrations/panw/test-panw-panos-traffic-sample.first27lines.log", "panos"),
    ("elastic-integrations/pfsense/test-pfsense-bsd.log", "filterlog"),
    ("elastic-integrations/sonicwall_firewall/test-general.log", "sonicwall"),
    ("elastic-integrations/sophos/test-sophos-utm-packetfilter.log", "sophos"),
    ("elastic-integrations/watchguard_firebox/test-traffic.first8lines.log", "watchguard"),
    ("ossec-testing/contrib/logtesting/44/log", "cisco_ios"),
    ("uci-internet-firewall/log2.csv", "uci_csv"),
    ("windows-firewall/pfirewall.log", "windows_firewall"),
]


@pytest.mark.parametrize("rel,fmt", CORPUS_FILES, ids=[c[0].split("/")[-1] for c in CORPUS_FILES])
def test_corpus_file_detected_and_read(rel, fmt):
    table, fs = read(CORPUS / rel)
    assert fs.format == fmt
    records = fs.records + fs.unreadable_count  # skipped lines are not records (headers, other messages)
    assert fs.records + fs.unreadable_count + fs.skipped == fs.lines
    assert records and fs.records / records >= 0.99, fs.unreadable[:5]
    assert table.num_rows == fs.records
    assert set(table.column("format").to_pylist()) == {fmt}
    assert set(table.column("action").to_pylist()) <= {"drop", "reject", "accept", "other"}


NOT_LOGS = ["elastic-integrations/MANIFEST.md", "elastic-integrations/cisco_asa/test-repeat-deny.log-expected.json",
            "elastic-integrations/sophos/test-sophos-utm-packetfilter.log-expected.json", "wazuh-ruleset-tests/MANIFEST.md",
            "ossec-testing/MANIFEST.md", "wazuh-ruleset-tests/cisco_asa.ini", "wazuh-ruleset-tests/SonicWall.ini",
            "wazuh-ruleset-tests/junos.ini", "ossec-testing/contrib/logtesting/44/res"]


@pytest.mark.parametrize("rel", NOT_LOGS)
def test_documents_quoting_log_lines_are_not_claimed(rel):
    sample = (CORPUS / rel).read_text(errors="replace").splitlines()[:1000]
    for name in FW_FORMATS:
        assert get(name).sniff(sample) == 0.0, name


def test_other_formats_files_not_claimed():
    for rel in ["elastic-integrations/iptables/test-iptables-raw.log", "elastic-integrations/snort/test-log-fast.log",
                "elastic-integrations/suricata/test-eve-small.log", "elastic-integrations/zeek/test-conn.log",
                "zeek-trickbot-tsv/conn.log", "web-access-logs/hackers-access.log", "psad/syn_scan_1000_1500"]:
        p = CORPUS / rel
        if not p.exists():
            continue
        fmt, _ = detect(p.read_text(errors="replace").splitlines()[:1000])
        assert fmt is None or fmt.name not in FW_FORMATS, (rel, fmt.name)


# ---------------------------------------------------------------------------------------------
# Elastic expected JSON, field by field
def test_cisco_asa_repeat_deny_matches_elastic_expected():
    exp = json.loads((E / "cisco_asa/test-repeat-deny.log-expected.json").read_text())["expected"][0]
    table, fs = read(E / "cisco_asa/test-repeat-deny.log", year=2026)
    (r,) = rows(table)
    assert r["raw"] == exp["event"]["original"]
    assert r["ts"].isoformat().replace("+00:00", ".000Z") == exp["@timestamp"]
    assert r["src_ip"] == exp["source"]["ip"] and r["src_port"] == exp["source"]["port"]
    assert r["dst_ip"] == exp["destination"]["ip"] and r["dst_port"] == exp["destination"]["port"]
    assert r["proto"] == exp["network"]["transport"] and str(r["proto_num"]) == exp["network"]["iana_number"]
    assert r["in_if"] == exp["observer"]["ingress"]["interface"]["name"]
    assert r["log_host"] == exp["host"]["hostname"]
    assert exp["event"]["outcome"] == "failure" and r["action"] == "drop"
    assert exp["event"]["code"] in r["rule"]


def test_sophos_utm_matches_elastic_expected():
    exp = json.loads((E / "sophos/test-sophos-utm-packetfilter.log-expected.json").read_text())["expected"]
    table, fs = read(E / "sophos/test-sophos-utm-packetfilter.log")
    got = rows(table)
    assert len(got) == len(exp) == 3
    for r, e in zip(got, exp):
        assert r["raw"].endswith(e["event"]["original"])
        assert r["src_ip"] == e["source"]["ip"] and r["dst_ip"] == e["destination"]["ip"]
        assert r["src_port"] == e["source"]["port"] and r["dst_port"] == e["destination"]["port"]
        assert r["mac_src"] == e["source"]["mac"].replace("-", ":").lower()
        assert r["mac_dst"] == e["destination"]["mac"].replace("-", ":").lower()
        assert str(r["proto_num"]) == e["network"]["iana_number"]
        assert r["rule"] == e["rule"]["id"]
        assert r["in_if"] == e["observer"]["ingress"]["interface"]["name"]
        assert r["ttl"] == e["sophos"]["utm"]["ttl"] and r["ip_len"] == e["sophos"]["utm"]["length"]
        assert r["action"] == ("drop" if e["event"]["action"] == "drop" else "other")
        flags = e["sophos"]["utm"].get("tcpflags")
        if flags:
            assert sorted(r["tcp_flags"].lower().split()) == sorted(flags)


def test_uci_action_column_row_by_row():
    table, fs = read(CORPUS / "uci-internet-firewall/log2.csv")
    want = {"allow": "accept", "deny": "drop", "drop": "drop", "reset-both": "reject"}
    with open(CORPUS / "uci-internet-firewall/log2.csv", newline="") as f:
        src = list(csv.DictReader(f))
    assert table.num_rows == len(src) == 65524
    got_action = table.column("action").to_pylist()
    got_sp, got_dp = table.column("src_port").to_pylist(), table.column("dst_port").to_pylist()
    for i, row in enumerate(src):
        assert got_action[i] == want[row["Action"]], i
        assert got_sp[i] == int(row["Source Port"]) and got_dp[i] == int(row["Destination Port"]), i


# ---------------------------------------------------------------------------------------------
# Hand-checked values (read by eye from the corpus lines)
def _row(table, line):
    return next(r for r in rows(table) if r["line"] == line)


def test_hand_checked_asa_and_ftd():
    t, _ = read(E / "cisco_asa/test-sample.log")
    r = _row(t, 1)  # Deny tcp src dmz:10.1.2.30/63016 dst outside:192.168.0.8/53 by access-group "acl_dmz"
    assert (r["action"], r["rule"], r["in_if"], r["out_if"]) == ("drop", "acl_dmz", "dmz", "outside")
    assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["proto"]) == ("10.1.2.30", 63016, "192.168.0.8", 53, "tcp")
    r = _row(t, 7)  # Built outbound TCP ... for outside:192.168.2.43/443 ... to outside:10.123.3.42/4952: initiator is the inside end
    assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["action"]) == ("10.123.3.42", 4952, "192.168.2.43", 443, "accept")
    r = next(x for x in rows(t) if "106015" in x["raw"])
    assert (r["tcp_flags"], r["tcp_flag_bits"], r["action"]) == ("RST", 4, "drop")
    r = next(x for x in rows(t) if "313001" in x["raw"])
    assert (r["proto"], r["icmp_type"], r["icmp_code"], r["src_ip"], r["in_if"]) == ("icmp", 3, 3, "10.2.3.5", "Outside")
    r = next(x for x in rows(t) if "106016" in x["raw"])
    assert (r["src_ip"], r["proto"], r["action"]) == ("0.0.0.0", None, "drop")
    r = next(x for x in rows(t) if "302021" in x["raw"] and "ff02::1" in x["raw"])
    # a teardown gives no direction and faddr is taken as the sender, but never a multicast one: this
    # is a router advertisement from the link-local address to all nodes
    assert (r["proto"], r["icmp_type"], r["src_ip"], r["dst_ip"], r["ip_version"]) == \
        ("ipv6-icmp", 134, "fe80::2205:baff:fe9d:f637", "ff02::1", 6)
    t, _ = read(E / "cisco_ftd/test-security-connection.log")
    r = _row(t, 1)
    assert (r["proto"], r["icmp_type"], r["icmp_code"], r["rule"], r["action"]) == ("icmp", 8, 0, "Rule-1", "accept")
    acts = {x["raw"].split("AccessControlRuleAction: ")[1].split(",")[0]: x["action"] for x in rows(t)}
    assert acts.get("Block", "drop") == "drop" and acts.get("Allow") == "accept"
    if "Block with reset" in acts:
        assert acts["Block with reset"] == "reject"


def test_hand_checked_asa_documented_messages():
    """313005 carries the quoted packet of the ICMP error; 106001 the flags of the refused packet
    (lines written in the layouts of Cisco's ASA syslog message guide)."""
    from fwforensics.formats import parse_line
    r = parse_line("%ASA-4-313005: No matching connection for ICMP error message: icmp src outside:192.0.2.1 dst "
                   "inside:198.51.100.2 (type 3, code 3) on outside interface.  Original IP payload: udp src "
                   "198.51.100.2/53 dst 192.0.2.1/4444.")
    assert (r["format"], r["icmp_type"], r["icmp_code"], r["inner_proto"], r["inner_src_port"], r["inner_dst_port"]) == \
        ("cisco_asa", 3, 3, "udp", 53, 4444)
    assert (r["inner_src_ip"], r["inner_dst_ip"], r["action"]) == ("198.51.100.2", "192.0.2.1", "drop")
    r = parse_line("Jul  1 12:00:00 fw %ASA-2-106001: Inbound TCP connection denied from 203.0.113.5/4000 to "
                   "192.0.2.9/23 flags FIN PSH URG  on interface outside", ctx=ParseContext(year=2024))
    assert (r["tcp_flags"], r["tcp_flag_bits"], r["in_if"], r["log_host"], r["ts_raw"]) == \
        ("URG PSH FIN", 41, "outside", "fw", "Jul  1 12:00:00")
    assert str(r["ts"]) == "2024-07-01 12:00:00+00:00"


def test_hand_checked_filterlog_windows_ios():
    t, _ = read(E / "pfsense/test-pfsense-bsd.log")
    r = _row(t, 1)  # 146,,,1535324496,igb1.12,match,block,in,4,0x0,,63,12617,0,DF,6,tcp,60,10.170.12.50,1.1.1.1,49724,853,0,S,1891286705,,64240
    assert (r["rule"], r["in_if"], r["action"], r["ttl"], r["ip_id"], r["df"], r["ip_len"]) == ("146", "igb1.12", "drop", 63, 12617, True, 60)
    assert (r["tcp_flags"], r["tcp_seq"], r["tcp_window"], r["dst_port"]) == ("SYN", 1891286705, 64240, 853)
    r = _row(t, 7)  # IPv6 UDP 546 -> 547, hop limit 1
    assert (r["ip_version"], r["src_ip"], r["dst_ip"], r["ttl"], r["proto"]) == (6, "fe80::208:9bff:fef3:652b", "ff02::1:2", 1, "udp")
    t, fs = read(CORPUS / "windows-firewall/pfirewall.log")
    r = _row(t, 6)  # 2021-06-22 12:19:41 DROP UDP 192.168.178.25 224.0.0.251 5353 5353 73 ... RECEIVE
    assert (str(r["ts"]), r["action"], r["proto"], r["src_ip"], r["dst_port"], r["ip_len"], r["rule"]) == \
        ("2021-06-22 12:19:41+00:00", "drop", "udp", "192.168.178.25", 5353, 73, "RECEIVE")
    # the log names no interface: what this host sent came in on none ('', as netfilter's "IN="),
    # what it received on one the log does not say (null)
    assert r["in_if"] is None
    assert {x["in_if"] for x in rows(t) if x["rule"] == "SEND"} == {""}
    assert {x["in_if"] for x in rows(t) if x["rule"] != "SEND"} == {None}
    icmp6 = [x for x in rows(t) if x["icmp_type"] == 134]
    assert icmp6 and icmp6[0]["proto"] == "ipv6-icmp" and icmp6[0]["src_port"] is None
    t, _ = read(E / "cisco_ios/test-cisco-ios.log")
    r = _row(t, 6)  # list 151 denied icmp 192.168.100.1 -> 192.168.100.2 (3/4)
    assert (r["rule"], r["action"], r["proto"], r["icmp_type"], r["icmp_code"]) == ("151", "drop", "icmp", 3, 4)
    r = _row(t, 28)  # IOS-XE with MAC and interface
    assert (r["in_if"], r["src_port"], r["dst_ip"], r["mac_src"]) == ("TenGigabitEthernet0/1/1", 56279, "203.0.113.20", "00-00-5E-00-53-23")


def test_hand_checked_kv_vendors():
    t, _ = read(E / "juniper_srx/test-flow.first9lines.log")
    r = _row(t, 2)
    assert (r["action"], r["rule"], r["proto"], r["dst_port"], r["in_if"]) == ("drop", "MgmtAccess-trust-cleanup", "udp", 161, ".local..0")
    assert str(r["ts"]) == "2019-11-14 10:12:46.573000+00:00"
    t, _ = read(E / "juniper_srx/test-ids.log")
    assert _row(t, 1)["rule"] == "TCP sweep!" and _row(t, 1)["proto"] == "tcp"
    assert _row(t, 9)["action"] == "other"  # alarm-without-drop
    t, _ = read(E / "fortinet_fortigate/test-fortinet-7-4.first5lines.log")
    r = _row(t, 5)  # tz="-0800"
    assert str(r["ts"]) == "2021-01-26 23:51:37+00:00" and (r["in_if"], r["dst_port"]) == ("port3", 80)
    t, _ = read(E / "panw/test-panw-panos-traffic-sample.first27lines.log")
    r = _row(t, 1)
    assert (r["src_ip"], r["src_port"], r["dst_port"], r["rule"], r["in_if"], r["log_host"]) == \
        ("192.168.15.207", 55113, 443, "new_outbound_from_trust", "ethernet1/2", "PA-220")
    t, _ = read(E / "sonicwall_firewall/test-general.log")
    r = next(x for x in rows(t) if "ICMP packet dropped" in x["raw"])
    assert (r["action"], r["proto"], r["icmp_type"], r["icmp_code"], r["src_port"]) == ("drop", "icmp", 3, 3, None)
    t, _ = read(E / "checkpoint/test-packet-drop.log")
    r = _row(t, 1)
    assert (r["action"], r["rule"], r["src_ip"], r["dst_port"], r["in_if"]) == ("drop", "Cleanup rule", "81.2.69.142", 1990, "eth0")
    t, _ = read(E / "watchguard_firebox/test-traffic.first8lines.log")
    r = _row(t, 1)
    assert (r["action"], r["tcp_flags"], r["tcp_seq"], r["tcp_window"], r["ttl"], r["rule"]) == ("accept", "SYN", 832026162, 8192, 127, "HTTP-00")
    t, _ = read(E / "cef/test-fp-ngfw-smc.log")
    r = next(x for x in rows(t) if "Connection_Discarded" in x["raw"])
    assert (r["action"], r["src_port"], r["dst_port"], r["proto"], r["rule"]) == ("drop", 68, 67, "udp", "605.0")
    assert next(x for x in rows(t) if "Connection_Refused" in x["raw"])["action"] == "reject"
    t, _ = read(E / "barracuda/test-network-firewall.log")
    r = _row(t, 1)
    assert (str(r["ts"]), r["action"], r["rule"], r["dst_port"]) == ("2023-03-09 12:56:18.404000+00:00", "drop", "SSH_ATTACK_SOURCES", 80)


# ---------------------------------------------------------------------------------------------
# Wazuh / OSSEC ruleset INI lines fed to the readers
INI_CASES = [  # (file, format, at least this many records)
    (W / "cisco_asa.ini", "cisco_asa", 20), (W / "cisco_ftd.ini", "cisco_asa", 10), (W / "pix.ini", "cisco_asa", 14),
    (W / "cisco_ios.ini", "cisco_ios", 11), (O / "cisco_ios.ini", "cisco_ios", 5), (W / "pfsense.ini", "filterlog", 2),
    (W / "fortigate.ini", "fortigate", 25), (W / "paloalto.ini", "panos", 2), (W / "junos.ini", "juniper", 2),
    (W / "netscreen.ini", "juniper", 1), (O / "netscreen.ini", "juniper", 1), (W / "SonicWall.ini", "sonicwall", 11),
    (W / "checkpoint_smart1.ini", "checkpoint", 6), (W / "sophos_fw.ini", "sophos", 10),
]


@pytest.mark.parametrize("path,fmt,at_least", INI_CASES, ids=[f"{c[0].parent.name}/{c[0].name}" for c in INI_CASES])
def test_wazuh_ini_lines(path, fmt, at_least):
    lines = ini_lines(path, outcome=None)
    res = get(fmt).parse(pa.array(lines, pa.string()), 1, ParseContext())
    assert res.batch.num_rows + len(res.unreadable) + res.skipped == len(lines)
    assert res.batch.num_rows >= at_least
    for r in res.batch.to_pylist():  # every record the reader took is claimed by its own sniffer
        assert detect([r["raw"]])[0].name == fmt, r["raw"]


# ---------------------------------------------------------------------------------------------
# pf: real tcpdump output of a pflog capture
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed (apt-get install -y tcpdump)")
def test_pf_from_tcpdump_of_generated_pflog(tmp_path):
    pcap = tmp_path / "pflog.pcap"
    subprocess.run([sys.executable, str(SAMPLES / "make_pflog.py"), str(pcap)], check=True)
    out = subprocess.run(["tcpdump", "-e", "-n", "-tttt", "-r", str(pcap)], capture_output=True, text=True,
                         check=True, env={"TZ": "UTC", "PATH": "/usr/bin:/usr/sbin:/bin"}).stdout
    (tmp_path / "pf.txt").write_text(out)
    table, fs = read(tmp_path / "pf.txt")
    assert fs.format == "pf" and fs.records == 6 and fs.unreadable_count == 0
    _check_pf(table)


def test_pf_checked_in_tcpdump_text():
    table, fs = read(SAMPLES / "pf-tcpdump.txt")
    assert fs.format == "pf" and fs.records == 6
    _check_pf(table)


def _check_pf(table):
    r = rows(table)
    assert (r[0]["rule"], r[0]["action"], r[0]["in_if"], r[0]["src_ip"], r[0]["dst_port"], r[0]["tcp_flags"]) == \
        ("5", "drop", "em0", "203.0.113.9", 23, "SYN")
    assert str(r[0]["ts"]) == "2023-11-14 22:13:20+00:00"
    assert r[1]["tcp_flag_bits"] == 1 | 8 | 32  # FIN PSH URG: an XMAS probe
    assert (r[2]["action"], r[2]["out_if"], r[2]["proto"], r[2]["dst_port"]) == ("accept", "em1", "udp", 53)
    assert (r[3]["proto"], r[3]["icmp_type"], r[3]["icmp_id"], r[3]["icmp_seq"]) == ("icmp", 8, 7, 1)
    assert (r[4]["ip_version"], r[4]["src_ip"], r[4]["dst_port"]) == (6, "2001:db8::9", 80)
    assert r[5]["tcp_flags"] == "ACK SYN"


# ---------------------------------------------------------------------------------------------
# ipfw / ipmon: no corpus samples exist; tests/fw_samples/{ipfw,ipmon}.log are written by us in
# the layouts of FreeBSD's ip_fw_log.c and ipmon.c (see the module docstrings).
def test_ipfw_documented_layout():
    t, fs = read(SAMPLES / "ipfw.log")
    assert fs.format == "ipfw" and fs.records == 8 and fs.skipped == 2 and fs.unreadable_count == 0
    r = rows(t)
    assert (r[0]["rule"], r[0]["action"], r[0]["proto"], r[0]["dst_port"], r[0]["in_if"]) == ("100", "drop", "tcp", 23, "em0")
    assert (r[2]["proto"], r[2]["icmp_type"], r[2]["icmp_code"], r[2]["action"]) == ("icmp", 8, 0, "accept")
    assert r[3]["action"] == "reject" and r[4]["action"] == "reject"
    assert (r[5]["src_ip"], r[5]["src_port"], r[5]["ip_version"]) == ("2001:db8::9", 40003, 6)
    assert (r[6]["proto"], r[6]["proto_num"]) == ("gre", 47)
    assert (r[7]["ip_id"], r[7]["frag_offset"]) == (12345, 185)


def test_ipmon_documented_layout():
    t, fs = read(SAMPLES / "ipmon.log")
    assert fs.format == "ipmon" and fs.records == 6 and fs.unreadable_count == 0
    r = rows(t)
    assert (str(r[0]["ts"]), r[0]["action"], r[0]["tcp_flags"], r[0]["ip_len"], r[0]["in_if"]) == \
        ("2024-07-17 12:00:00.123456+00:00", "drop", "SYN", 40, "le0")
    assert (r[2]["action"], r[2]["out_if"], r[2]["tcp_flags"]) == ("accept", "le0", "ACK PSH")
    assert (r[3]["proto"], r[3]["icmp_type"], r[3]["icmp_code"]) == ("icmp", 8, 0)
    assert r[4]["dst_port"] == 23  # 'telnet' resolved
    assert r[4]["tcp_flag_bits"] == 1 | 8 | 32


# ---------------------------------------------------------------------------------------------
# Generic CSV / JSON with a mapping
def test_csv_generic_with_mapping(tmp_path):
    p = tmp_path / "fw.csv"
    p.write_text("when,from,sport,to,dport,p,verdict\n"
                 "2024-01-02T03:04:05Z,192.0.2.1,40000,198.51.100.2,23,tcp,deny\n"
                 "2024-01-02 03:04:06,192.0.2.1,40001,198.51.100.2,53,17,allow\n"
                 "bad,row\n"
                 "\n"
                 "1704164647,2001:db8::1,1,2001:db8::2,2,icmp,reset-both\n")
    mapping = {"ts": "when", "src_ip": "from", "src_port": "sport", "dst_ip": "to", "dst_port": "dport",
               "proto": "p", "action": "verdict"}
    ctx = ParseContext(state={"mapping": mapping})
    fmt = get("csv_generic")
    assert fmt.sniff(p.read_text().splitlines()) == 0.0
    res = fmt.parse(pa.array(p.read_text().splitlines(), pa.string()), 1, ctx)
    got = res.batch.to_pylist()
    assert [u[0] for u in res.unreadable] == [4]
    assert len(got) + len(res.unreadable) + res.skipped == 6
    assert [g["action"] for g in got] == ["drop", "accept", "reject"]
    assert [g["proto"] for g in got] == ["tcp", "udp", "icmp"]
    assert str(got[0]["ts"]) == "2024-01-02 03:04:05+00:00" and str(got[2]["ts"]) == "2024-01-02 03:04:07+00:00"
    assert got[2]["ip_version"] == 6 and got[1]["line"] == 3


def test_json_generic_with_mapping():
    lines = ['{"t": "2024-01-02T03:04:05+01:00", "src": {"ip": "192.0.2.1"}, "dport": 23, "act": "blocked"}',
             'not json', '[1, 2]', '', '{"t": 1704164645000, "src": {"ip": "nonsense"}, "dport": "99999", "act": "pass"}']
    ctx = ParseContext(state={"mapping": {"ts": "t", "src_ip": "src.ip", "dst_port": "dport", "action": "act"}})
    res = get("json_generic").parse(pa.array(lines, pa.string()), 10, ctx)
    got = res.batch.to_pylist()
    assert [u[0] for u in res.unreadable] == [11, 12] and res.skipped == 1
    assert str(got[0]["ts"]) == "2024-01-02 02:04:05+00:00" and got[0]["src_ip"] == "192.0.2.1"
    assert got[0]["action"] == "drop" and got[1]["action"] == "accept"
    assert got[1]["src_ip"] is None and got[1]["dst_port"] is None  # bad values become null, not a crash
    assert str(got[1]["ts"]) == "2024-01-02 03:04:05+00:00"


def test_mapping_errors_are_clear():
    with pytest.raises(ValueError, match="mapping"):
        get("json_generic").parse(pa.array(["{}"]), 1, ParseContext())
    with pytest.raises(ValueError, match="unknown schema columns"):
        get("json_generic").parse(pa.array(["{}"]), 1, ParseContext(state={"mapping": {"nope": "x"}}))


# ---------------------------------------------------------------------------------------------
# Robustness: random text and truncated real lines never raise, and every line is counted
_REAL = [p.read_text(errors="replace").splitlines()[0] for p in [CORPUS / c[0] for c in CORPUS_FILES]]
_REAL += (SAMPLES / "pf-tcpdump.txt").read_text().splitlines()[:2] + (SAMPLES / "ipmon.log").read_text().splitlines()[:1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk=st.lists(st.text(max_size=200), max_size=8), cut=st.integers(0, 400), pick=st.integers(0, 10_000))
def test_parsers_never_raise(junk, cut, pick):
    real = _REAL[pick % len(_REAL)]
    lines = junk + [real[:cut], real[cut:], real + "\x00\ufffd" + real, "%ASA-4-106023: Deny", "CEF:0|a|b"]
    for name in FW_FORMATS:
        fmt = get(name)
        ctx = ParseContext(state={"mapping": {"src_ip": "a", "ts": "b", "action": "c"}} if name.endswith("generic") else {})
        if name == "csv_generic":
            ctx.state["csv_header"] = ["a", "b", "c"]
        fmt.sniff(lines)
        res = fmt.parse(pa.array(lines, pa.string()), 1, ctx)
        assert res.batch.num_rows + len(res.unreadable) + res.skipped == len(lines), name


def test_junos_plain_syslog_sessions():
    """tests/fw_samples/junos-bsd.log is written by us in the layout of Juniper's RT_FLOW_SESSION_*
    messages in plain (non-structured) syslog; the corpus holds only the structured form."""
    t, fs = read(SAMPLES / "junos-bsd.log")
    assert fs.format == "juniper" and fs.records == 3 and fs.skipped == 1 and fs.unreadable_count == 0
    r = rows(t)
    assert (r[0]["action"], r[0]["rule"], r[0]["proto"], r[0]["dst_port"]) == ("drop", "deny-all", "tcp", 23)
    assert (r[1]["action"], r[1]["proto"], r[1]["dst_ip"]) == ("accept", "udp", "198.51.100.53")
    assert (r[2]["rule"], r[2]["src_port"], r[2]["dst_port"]) == ("allow-web", 51300, 443)


# ---------------------------------------------------------------------------------------------
# pf: the other tcpdump print styles (-v, ICMP wordings, delta stamps), all from the real tcpdump
def _tcpdump_pflog(tmp_path, *opts, icmp=False):
    pcap = tmp_path / "pflog.pcap"
    args = ["--icmp", str(pcap)] if icmp else [str(pcap)]
    subprocess.run([sys.executable, str(SAMPLES / "make_pflog.py"), *args], check=True)
    out = subprocess.run(["tcpdump", "-e", "-n", *opts, "-r", str(pcap)], capture_output=True, text=True,
                         check=True, env={"TZ": "UTC", "PATH": "/usr/bin:/usr/sbin:/bin"}).stdout
    txt = tmp_path / f"pf{''.join(opts)}.txt"
    txt.write_text(out)
    return pcap, txt


_needs_tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None,
                                    reason="tcpdump not installed (apt-get install -y tcpdump)")


@_needs_tcpdump
@pytest.mark.parametrize("opts", [("-tttt", "-v"), ("-tttt", "-vv"), ("-tt", "-v")])
def test_pf_verbose_records(tmp_path, opts):
    _pcap, txt = _tcpdump_pflog(tmp_path, *opts)
    assert len(txt.read_text().splitlines()) > 6          # the IPv4 packets are on lines of their own
    table, fs = read(txt)
    assert fs.format == "pf" and fs.records == 6 and fs.unreadable_count == 0
    assert fs.records + fs.skipped == fs.lines
    _check_pf(table)
    r = rows(table)
    assert [x["line"] for x in r] == [1, 3, 5, 7, 9, 10]
    assert (r[0]["ttl"], r[0]["ip_id"], r[0]["ip_len"], r[0]["ip_tos"], r[0]["df"]) == (64, 1, 40, 0, False)
    assert (r[5]["ttl"], r[5]["ip_id"]) == (50, 4242)
    assert (r[4]["ttl"], r[4]["ip_len"], r[4]["ip_id"]) == (64, 20, None)   # IPv6: hop limit, payload length
    assert r[0]["raw"].count("\n") == 1 and r[0]["raw"].endswith("length 0")


@_needs_tcpdump
@pytest.mark.parametrize("opts", [("-tttt",), ("-tttt", "-v")])
def test_pf_icmp_wordings(tmp_path, opts):
    """Every ICMP type/code tcpdump words differently: the type and code we put in come back."""
    sys.path.insert(0, str(SAMPLES))
    import make_pflog
    cases = make_pflog.icmp_cases()
    pcap, txt = _tcpdump_pflog(tmp_path, *opts, icmp=True)
    table, fs = read(txt)
    assert fs.format == "pf" and fs.records == len(cases) and fs.unreadable_count == 0
    got = [(x["icmp_type"], x["icmp_code"]) for x in rows(table)]
    # an unknown type is printed "type-#42" without its code: the code stays null
    assert got == [(t, None if t == 42 else c) for t, c, _p in cases]
    cap = rows(read(pcap)[0])                                      # the capture reader on the same file
    for t, c in zip(rows(table), cap):
        for k in ("icmp_mtu", "icmp_gateway", "icmp_parameter", "icmp_id", "icmp_seq", "inner_dst_ip",
                  "inner_dst_port", "inner_proto", "inner_src_ip", "inner_src_port", "inner_ttl", "inner_ip_id"):
            assert t[k] is None or t[k] == c[k], (t["raw"], k, t[k], c[k])
    r = rows(table)
    assert (r[3]["inner_dst_ip"], r[3]["inner_proto"], r[3]["inner_dst_port"]) == ("198.51.100.9", "udp", 33434)
    assert r[16]["icmp_mtu"] == 1280 and r[4]["icmp_mtu"] == 0
    assert r[19]["icmp_gateway"] == "203.0.113.254"
    assert r[24]["icmp_parameter"] == 20
    if "-v" in opts:                                               # the quoted packet, whole
        assert (r[22]["inner_src_ip"], r[22]["inner_src_port"], r[22]["inner_ttl"]) == ("192.0.2.10", 41000, 64)


@_needs_tcpdump
@pytest.mark.parametrize("opts", [(), ("-ttt",), ("-ttttt",)])
def test_pf_undated_stamps_read_without_a_date(tmp_path, opts):
    """Time of day (the default) and the delta stamps have no date: read, ts null, not guessed."""
    _pcap, txt = _tcpdump_pflog(tmp_path, *opts)
    table, fs = read(txt)
    assert fs.format == "pf" and fs.records == 6 and fs.unreadable_count == 0
    assert table.column("ts").null_count == 6
    assert table.column("ts_raw").null_count == 0
    _r = rows(table)
    assert (_r[0]["src_ip"], _r[0]["dst_port"], _r[0]["tcp_flags"]) == ("203.0.113.9", 23, "SYN")


def test_pf_null_scan_flags_and_relative_numbers():
    lines = [  # real tcpdump 4.99 lines (lab nmap_null and background_noise, printed as pf logs)
        "2026-11-22 03:52:31.761663 rule 1/0(match): block in on eth0: 198.51.100.66.52000 > 192.0.2.10.80: "
        "Flags [none], win 1024, length 0",
        "2026-11-22 03:55:39.856925 rule 2/0(match): pass in on eth0: 198.51.100.80.52509 > 192.0.2.10.80: "
        "Flags [S], seq 353539499, win 64480, options [mss 1240,sackOK,TS val 1435300994 ecr 0,nop,wscale 10], length 0",
        "2026-11-22 03:55:39.856976 rule 3/0(match): pass out on eth0: 192.0.2.10.80 > 198.51.100.80.52509: "
        "Flags [S.], seq 2911527240, ack 353539500, win 65160, options [mss 1460,sackOK,TS val 3248977465 ecr "
        "1435300994,nop,wscale 10], length 0",
        "2026-11-22 03:55:39.857021 rule 2/0(match): pass in on eth0: 198.51.100.80.52509 > 192.0.2.10.80: "
        "Flags [.], ack 1, win 63, options [nop,nop,TS val 1435300994 ecr 3248977465], length 0",
        "2026-11-22 03:55:39.861543 rule 2/0(match): pass in on eth0: 198.51.100.80.52509 > 192.0.2.10.80: "
        "Flags [P.], seq 1:64, ack 1, win 63, options [nop,nop,TS val 1435300999 ecr 3248977465], length 63: "
        "HTTP: GET / HTTP/1.1",
    ]
    res = get("pf").parse(pa.array(lines), 1, ParseContext())
    r = res.batch.to_pylist()
    assert (r[0]["tcp_flags"], r[0]["tcp_flag_bits"]) == ("", 0)
    assert (r[1]["tcp_seq"], r[2]["tcp_seq"], r[2]["tcp_ack"]) == (353539499, 2911527240, 353539500)
    # tcpdump prints later numbers of a connection relative to its first: not the packet's own
    assert [(x["tcp_seq"], x["tcp_ack"]) for x in r[3:]] == [(None, None), (None, None)]
    assert r[4]["payload_len"] == 63


def test_pf_verbose_record_cut_by_a_batch_boundary():
    head = ("2026-11-22 03:52:17.357775 rule 1/0(match): block in on eth0: (tos 0x0, ttl 51, id 63428, offset 0, "
            "flags [none], proto TCP (6), length 44)")
    pkt = ("    198.51.100.66.52131 > 192.0.2.10.135: Flags [S], cksum 0x60d0 (correct), seq 3517294853, win 1024, "
           "options [mss 1460], length 0")
    ctx, fmt = ParseContext(), get("pf")
    a = fmt.parse(pa.array([head, pkt, head]), 1, ctx)
    b = fmt.parse(pa.array([pkt]), 4, ctx)
    assert (a.batch.num_rows, len(a.unreadable), a.skipped) == (1, 0, 2)
    assert (b.batch.num_rows, len(b.unreadable), b.skipped) == (1, 0, 0)
    ra, rb = a.batch.to_pylist()[0], b.batch.to_pylist()[0]
    assert (ra["line"], rb["line"]) == (1, 3)
    assert (rb["ttl"], rb["ip_id"], rb["dst_port"], rb["tcp_flags"]) == (51, 63428, 135, "SYN")
    assert rb["raw"] == head + "\n" + pkt


def test_pf_verbose_record_cut_by_the_end_of_the_input(tmp_path):
    # The last -v head has no packet line (the file ends): it is accounted for, not silently
    # left as skipped, and what the head holds is read if it can be.
    head = ("2026-11-22 03:52:17.357775 rule 1/0(match): block in on eth0: (tos 0x0, ttl 51, id 63428, offset 0, "
            "flags [none], proto TCP (6), length 44)")
    pkt = ("    198.51.100.66.52131 > 192.0.2.10.135: Flags [S], cksum 0x60d0 (correct), seq 3517294853, win 1024, "
           "options [mss 1460], length 0")
    p = tmp_path / "pf.txt"
    p.write_text("\n".join([head, pkt, head]) + "\n")
    table, fs = read(p)
    assert fs.records == 1 and fs.unreadable_count == 1
    assert fs.records + fs.unreadable_count + fs.skipped == fs.lines == 3
    assert fs.unreadable[0][0] == 3

