"""Service-log detectors on real records: corpus logs and captures, and logs written by real
servers run in the test (BIND named, Postfix, Exim, Sendmail), each in private namespaces on
documentation addresses. Tests that need root or a server skip with the reason, and fail
instead under FWF_REQUIRE_LAB=1."""
from __future__ import annotations

import pytest

from service_helpers import (corpus, findings, once, run_exim, run_named, run_named_unasked, run_postfix, run_sendmail,
                             unavailable, write_lines)

SMTP_PCAP = "suricata-verify-pcaps/tests/firewall/ruletype-firewall-127-smtp-interactive-commands/smtp-interactive.pcap"
SERVICE_IDS = {"dns.version_query", "dns.axfr", "dns.unexpected_source", "http.proxy_attempt", "worm.http",
               "smtp.relay_attempt", "smtp.recon", "rpc.portmap"}


def by_src(fs):
    return {(f.id, f.src): f for f in fs}


@pytest.fixture(scope="module")
def named_logs():
    res = once(run_named)
    if res is None:
        unavailable("needs root, unshare, named and dig (apt-get install -y bind9 dnsutils)")
    return list(res)


def test_dns_version_query_from_real_named(named_logs):
    f = by_src(findings(named_logs, {"dns.version_query"}))
    hit = f[("dns.version_query", "198.51.100.7")]
    assert hit.details["refused"] is True and hit.count == 3  # query line, 'denied', 'query failed (REFUSED)'
    assert "version.bind ch txt" in hit.details["names"]
    assert hit.evidence.records == hit.count and hit.severity == "low"
    assert ("dns.version_query", "192.0.2.1") in f  # the allowed one is reported too (it still leaks the version)


def test_dns_axfr_from_real_named(named_logs):
    f = by_src(findings(named_logs, {"dns.axfr"}))
    hit = f[("dns.axfr", "198.51.100.7")]
    assert hit.details == {"zones": ["example.com"], "refused": True, "transferred": False}
    assert hit.severity == "medium" and hit.count == 2  # query-log line and security 'denied' line


def test_dns_unexpected_source_from_real_named(tmp_path):
    """BIND 9 writes 'client @0x.. 203.0.113.66#53: dropped request: unexpected response' (security,
    debug 10) for each answer that reaches its listening port unasked; the ordinary query from
    192.0.2.9 in the same run must give nothing."""
    log = once(run_named_unasked)
    if log is None:
        unavailable("needs root, unshare, named and dig (apt-get install -y bind9 dnsutils)")
    assert "dropped request: unexpected response" in open(log).read()
    f = by_src(findings([log], {"dns.unexpected_source", "dns.version_query", "dns.axfr"}))
    assert list(f) == [("dns.unexpected_source", "203.0.113.66")]
    hit = f[("dns.unexpected_source", "203.0.113.66")]
    assert hit.count == 3 and hit.details == {"from_other_address": 0, "unasked_answers": 3}
    assert hit.severity == "low" and "unasked" in hit.summary


def test_dns_unexpected_source_bind8_wording(tmp_path):
    """BIND 4/8's own message (what the FAQ quotes); no BIND that old runs here, so this reader
    check uses its documented wording."""
    p = write_lines(tmp_path, "named.log", [
        "Nov 22 03:40:01 ns1 named[312]: client 192.0.2.9#53211: query: www.example.com IN A + (192.0.2.1)",
        "Nov 22 03:40:02 ns1 named[312]: response from unexpected source ([203.0.113.66].53)"])
    f = by_src(findings([p], {"dns.unexpected_source"}))
    assert list(f) == [("dns.unexpected_source", "203.0.113.66")]
    assert f[("dns.unexpected_source", "203.0.113.66")].details == {"from_other_address": 1, "unasked_answers": 0}


def test_dns_silent_on_ordinary_queries():
    fs = findings([corpus("tcpdump-tests/dns_udp.pcap"), corpus("zeek-json-evanswj/conn.log")],
                  {"dns.version_query", "dns.axfr", "dns.unexpected_source"})
    assert fs == []


def test_http_proxy_attempt_access_log():
    f = by_src(findings([corpus("web-access-logs/hackers-access.log")], {"http.proxy_attempt"}))
    assert f[("http.proxy_attempt", "110.80.69.214")].count == 6
    assert f[("http.proxy_attempt", "113.215.0.130")].count == 5
    assert sum(x.count for x in f.values()) == 13
    assert all(len(x.ports) == 0 for x in f.values())


def test_http_proxy_attempt_captures():
    f = by_src(findings([corpus("zeek-testing-pcaps/Traces/http/proxy.pcap"),
                         corpus("zeek-testing-pcaps/Traces/http/connect-with-header.pcap")], {"http.proxy_attempt"}))
    assert f[("http.proxy_attempt", "192.168.56.1")].details["sample_requests"] == ["GET HTTP://bro.org/ HTTP/1.1"]
    assert f[("http.proxy_attempt", "::1")].details["connect_requests"] == 1


def test_worm_http_codered_and_benign_paths():
    fs = findings([corpus("web-access-logs/testglobal.log")], SERVICE_IDS)
    # AWStats' header: 80.8.55.9 is the worm attack (Code Red default.ida, then SEARCH /)
    assert [(f.id, f.src) for f in fs] == [("worm.http", "80.8.55.9")]
    w = fs[0]
    assert w.count == 2 and "CodeRed II" in w.details["families"]
    assert w.severity == "low"  # both answered 4xx: the server is not vulnerable IIS
    # favicon.ico and robots.txt requests (80.8.55.1, 80.8.55.5) gave no finding above


def test_http_silent_on_ordinary_requests(tmp_path):
    lines = [l for l in open(corpus("web-access-logs/hackers-access.log")) if " http://" not in l]
    p = write_lines(tmp_path, "access.log", [l.rstrip("\n") for l in lines])
    assert findings([p], {"http.proxy_attempt", "worm.http"}) == []


def test_smtp_recon_from_capture():
    f = by_src(findings([corpus(SMTP_PCAP)], {"smtp.recon", "smtp.relay_attempt"}))
    assert list(f) == [("smtp.recon", "172.22.0.1")]
    assert f[("smtp.recon", "172.22.0.1")].details["probes"] == ["EXPN staff", "VRFY bob"]
    assert f[("smtp.recon", "172.22.0.1")].targets == ["172.22.0.2"]


@pytest.fixture(scope="module")
def postfix_log():
    log = once(run_postfix)
    if log is None:
        unavailable("needs root, unshare, rsyslogd and a Postfix that starts here "
                    "(apt-get install -y postfix rsyslog); it did not answer SMTP in this run")
    return log


def test_smtp_relay_and_recon_from_real_postfix(postfix_log):
    """Postfix logging through syslog to a real rsyslogd (its default: maillog_file unset)."""
    fs = by_src(findings([postfix_log], {"smtp.relay_attempt", "smtp.recon"}))
    assert set(fs) == {("smtp.relay_attempt", "198.51.100.7"), ("smtp.recon", "198.51.100.7")}
    relay = fs[("smtp.relay_attempt", "198.51.100.7")]
    assert relay.details["recipients"] == ["victim@example.org"] and relay.count == 1
    recon = fs[("smtp.recon", "198.51.100.7")]
    # Postfix logs both refused VRFYs and counts them in the session summary (vrfy=0/2); it
    # does not know EXPN (counted as unknown=0/1, not named)
    assert recon.details["probes"] == ["VRFY " + "A" * 600, "VRFY root"]
    assert recon.details["long_arguments"] == 1 and recon.count == 3 and recon.severity == "medium"
    assert "(605 characters)" in recon.summary and "A" * 100 not in recon.summary


@pytest.fixture(scope="module")
def exim_logs():
    logs = once(run_exim)
    if logs is None:
        unavailable("needs root and Exim (scripts/fetch-mtas.sh unpacks Debian's exim4-daemon-light "
                    "into /opt/fwforensics-mta, or set FWF_MTA_ROOT)")
    return logs


def test_smtp_relay_and_recon_from_real_exim(exim_logs):
    mainlog, rejectlog = exim_logs
    fs = by_src(findings([mainlog], {"smtp.relay_attempt", "smtp.recon"}))
    assert set(fs) == {("smtp.relay_attempt", "198.51.100.7"), ("smtp.recon", "198.51.100.7")}
    relay = fs[("smtp.relay_attempt", "198.51.100.7")]
    assert relay.details["recipients"] == ["victim@example.org"] and relay.count == 1
    recon = fs[("smtp.recon", "198.51.100.7")]
    # 'rejected VRFY root@example.com', 'unqualified verify rejected: <root>', 'rejected EXPN
    # staff' and the 'SMTP syntax error in "MAIL FROM:<CCC...>"' of the 724-character command
    assert recon.details == {"probes": ["EXPN staff", "VRFY root", "VRFY root@example.com"], "long_arguments": 1}
    assert recon.count == 4 and recon.severity == "medium"
    # the rejectlog repeats the rejections (Exim writes them to both files)
    fr = by_src(findings([rejectlog], {"smtp.relay_attempt", "smtp.recon"}))
    assert fr[("smtp.relay_attempt", "198.51.100.7")].count == 1
    assert fr[("smtp.recon", "198.51.100.7")].details["probes"] == ["EXPN staff", "VRFY root", "VRFY root@example.com"]
    # both files of the server read together (a whole log directory): each rejection counted once
    fb = by_src(findings([mainlog, rejectlog], {"smtp.relay_attempt", "smtp.recon"}))
    assert {k: (f.count, f.details) for k, f in fb.items()} == {k: (f.count, f.details) for k, f in fs.items()}


@pytest.fixture(scope="module")
def sendmail_log():
    log = once(run_sendmail)
    if log is None:
        unavailable("needs root, unshare, m4, rsyslogd and Sendmail (scripts/fetch-mtas.sh unpacks Debian's "
                    "sendmail-bin and sendmail-cf into /opt/fwforensics-mta, or set FWF_MTA_ROOT)")
    return log


def test_smtp_relay_and_recon_from_real_sendmail(sendmail_log):
    fs = by_src(findings([sendmail_log], {"smtp.relay_attempt", "smtp.recon"}))
    # the readiness probe from 192.0.2.25 ('did not issue MAIL/EXPN/VRFY/ETRN') gives nothing
    assert set(fs) == {("smtp.relay_attempt", "198.51.100.7"), ("smtp.recon", "198.51.100.7")}
    relay = fs[("smtp.relay_attempt", "198.51.100.7")]
    assert relay.details["recipients"] == ["victim@example.org"] and relay.count == 1  # 'Relaying denied'
    recon = fs[("smtp.recon", "198.51.100.7")]
    # 'vrfy root' (as smtplib types it), 'EXPN staff [rejected]', the 600-character VRFY that
    # Sendmail shortens to 203 characters in its log, and 'SMTP violation, input too long: 3007'
    probes = recon.details["probes"]
    assert probes[0] == "EXPN staff" and probes[2] == "VRFY root" and probes[1].startswith("VRFY AAAA")
    assert recon.details["long_arguments"] == 1 and recon.count == 4 and recon.severity == "medium"


def test_rpc_portmap_sadmind_capture():
    f = by_src(findings([corpus("zeek-testing-pcaps/Traces/rpc-portmap-sadmind.pcap")], {"rpc.portmap"}))
    hit = f[("rpc.portmap", "202.77.162.213")]
    # Zeek's baseline: portmap getport for program 100232 (sadmind), then sadmind calls
    assert hit.details["programs"] == ["sadmind"]
    assert hit.details["follow_up_calls"] and hit.severity == "high"
    assert "172.16.115.20" in hit.targets and 111 in hit.ports


def test_service_detectors_silent_on_scans():
    fs = findings([corpus("zeek-testing-pcaps/Traces/nmap-vsn.pcap"), corpus("zeek-testing-pcaps/Traces/socks.pcap"),
                   corpus("tcpdump-tests/mpls-traceroute.pcap")], SERVICE_IDS)
    assert fs == []
