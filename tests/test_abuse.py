"""`abuse`: a polite draft from real log lines; a clear message when RDAP cannot be reached."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fwforensics.reports.who import OfflineError, lookup, rdap_abuse

ROOT = Path(__file__).resolve().parents[1]
from _shared import CORPUS

LOG = str(CORPUS / "psad" / "topera_ipv6_syn_scan_no_ip_opts")
SRC = "2012:1234:1234::1"


def _run(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    code = "import sys; from fwforensics.commands.report_cmd import abuse_cmd; abuse_cmd.main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def test_abuse_draft_offline_message(tmp_path):
    r = _run([SRC, LOG, "--online", "--tz", "Europe/Berlin"], tmp_path)
    assert r.returncode == 0, r.stderr
    # this machine has no network: the user is told so in plain words, not with a traceback
    assert "seems to be offline" in r.stderr and "Traceback" not in r.stderr
    assert f"whois {SRC}" in r.stderr
    d = r.stdout
    # (after the notes for the reader: this psad source shares its /64 with its target, the home
    # net inferred, so the verdict took it for a host of our own)
    assert "NOTE (not part of the report): 2012:1234:1234::1 is a host of your own network" in d
    d = d[d.index("To: "):]
    assert d.startswith("To: (abuse contact not looked up")
    assert "all times UTC" in d and "Europe/Berlin" in d
    assert "port.zero" in d                               # what was seen
    assert "DPT=0" in d                                   # evidence lines, verbatim
    assert "not the person behind it" in d                # the owner is likely a victim
    assert "Why it matters" in d


def test_abuse_without_online_sends_nothing(tmp_path):
    r = _run([SRC, LOG], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "use --online" in r.stdout
    # no RDAP answer was asked for, so none was kept (the cache may hold the compact copy of the
    # offline country/AS tables, made without the network)
    assert not (tmp_path / "cache" / "fwforensics" / "rdap").exists()
    assert {p.name for p in (tmp_path / "cache").glob("*/*")} <= {"geo"}


def test_abuse_draft_about_a_decoy_says_it_was_forged(tmp_path):
    # the lab's nmap decoy scan after the same attacker's earlier scan: 198.51.100.66 is named as
    # real, 203.0.113.99 is one of the addresses it forged
    lab = ROOT / "tests" / "fixtures" / "lab"
    logs = [str(lab / "nmap_syn.log"), str(lab / "nmap_decoy.log")]
    r = _run(["203.0.113.99", *logs], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "203.0.113.99 looks like a decoy, forged by 198.51.100.66" in r.stdout
    assert "Write about 198.51.100.66 instead" in r.stdout
    r = _run(["198.51.100.66", *logs], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "looks like a decoy" not in r.stdout and "the real sender of a decoy scan" in r.stdout


def test_abuse_draft_about_a_host_of_our_own_says_to_check_it(tmp_path):
    # the Trickbot Zeek log: 172.16.9.5 is the LAN's infected host, scanning others
    r = _run(["172.16.9.5", str(CORPUS / "zeek-trickbot-tsv" / "conn.log")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "172.16.9.5 is a host of your own network (see the verdict)" in r.stdout
    r = _run(["198.51.100.66", str(ROOT / "tests" / "fixtures" / "lab" / "nmap_syn.log")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "host of your own network" not in r.stdout and r.stdout.startswith("NOTE (not part of the report): "
                                                                              "198.51.100.66 is a Documentation")


def test_rdap_uses_the_disk_cache(tmp_path):
    # an RDAP answer (RFC 9083 shape) already in the cache is used without any request
    cache = tmp_path / "rdap"
    cache.mkdir()
    (cache / "203.0.113.9.json").write_text(json.dumps({
        "objectClassName": "ip network", "handle": "NET-203-0-113-0-1", "name": "TEST-NET-3",
        "startAddress": "203.0.113.0", "endAddress": "203.0.113.255", "country": "AU",
        "entities": [{"roles": ["registrant"], "entities": [
            {"roles": ["abuse"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                                          ["email", {}, "text", "abuse@example.net"]]]}]}]}))
    res = rdap_abuse("203.0.113.9", cache_dir=str(cache), url="http://127.0.0.1:9/{ip}")
    assert res["cached"] and res["abuse_emails"] == ["abuse@example.net"] and res["name"] == "TEST-NET-3"
    try:
        rdap_abuse("203.0.113.10", cache_dir=str(cache), url="http://127.0.0.1:9/{ip}", timeout=2)
    except OfflineError as e:
        assert "offline" in str(e)
    else:
        raise AssertionError("nothing listens on port 9: the lookup must fail with OfflineError")


def test_who_offline_facts():
    g = lookup("8.8.8.8")
    assert g["class"] == "global" and g["country"] == "US" and g["as_name"]
    p = lookup("192.168.10.55")
    assert p["class"] == "private" and p["bogon"] and p["country"] is None
    assert "rdns" not in g  # reverse DNS only when asked


def test_abuse_draft_about_an_arp_sweeper_says_it_shares_the_segment(tmp_path):
    # the lab's neighbour swept the firewall's outside segment with ARP (in the capture only): it is
    # not a host of the home net, but it is on that segment, so nobody far away is to be written to
    pcap = ROOT / "tests" / "fixtures" / "lab" / "arp_sweep.pcap"
    r = _run(["203.0.113.77", str(pcap), "--home-net", "192.0.2.0/24"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "203.0.113.77 swept the network segment the capture was taken on" in r.stdout
    assert "host of your own network" not in r.stdout
