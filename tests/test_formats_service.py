"""Text formats (Zeek, Suricata EVE, Snort) and service logs (named, dnsmasq, web access, mail,
rpcbind, identd): corpus files end to end, Wazuh/OSSEC test lines, real named output,
hand-checked fields, and bad input that must never raise."""
from __future__ import annotations

import os

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from fwforensics import formats
from fwforensics.formats import ParseContext, parse_line

from service_helpers import (corpus, ini_lines, once, read, run_exim, run_named, run_named_unasked, run_postfix,
                             run_sendmail, unavailable, write_lines)

FILES = [
    ("zeek-trickbot-tsv/conn.log", "zeek_conn"),
    ("zeek-trickbot-tsv/weird.log", "zeek_conn"),
    ("zeek-json-evanswj/conn.log", "zeek_conn"),
    ("elastic-integrations/zeek/test-conn.log", "zeek_conn"),
    ("elastic-integrations/suricata/test-eve-small.log", "suricata_eve"),
    ("elastic-integrations/snort/test-log-fast.log", "snort"),
    ("elastic-integrations/snort/test-log-full.log", "snort"),
    ("web-access-logs/hackers-access.log", "web_access"),
    ("web-access-logs/testglobal.log", "web_access"),
    ("ossec-testing/contrib/logtesting/37/log", "named"),
]


@pytest.mark.parametrize("rel,fmt", FILES, ids=[f[0] for f in FILES])
def test_corpus_file_detected_and_read(rel, fmt):
    t, stats = read(corpus(rel))
    fs = stats.files[0]
    assert fs.format == fmt
    assert fs.records >= 1
    assert fs.records / (fs.records + fs.unreadable_count) >= 0.99, fs.unreadable[:5]
    assert set(t.column("format").to_pylist()) == {fmt}


INIS = [
    ("ossec-testing/named.ini", "named"), ("wazuh-ruleset-tests/named.ini", "named"),
    ("ossec-testing/dnsmasq.ini", "dnsmasq"), ("ossec-testing/snort.ini", "snort"),
    ("ossec-testing/web_rules.ini", "web_access"), ("wazuh-ruleset-tests/web_rules.ini", "web_access"),
    ("wazuh-ruleset-tests/web_appsec.ini", "web_access"), ("wazuh-ruleset-tests/owlh.ini", "zeek_conn"),
]


@pytest.mark.parametrize("rel,fmt", INIS, ids=[i[0] for i in INIS])
def test_ini_lines_detected_and_read(tmp_path, rel, fmt):
    lines = [raw for verdict, raw in ini_lines(rel) if verdict == "pass"]
    assert lines
    p = write_lines(tmp_path, "x.log", lines)
    t, stats = read(p)
    fs = stats.files[0]
    assert fs.format == fmt
    assert fs.records >= 0.99 * len(lines) - (1 if fmt == "dnsmasq" else 0), fs.unreadable[:5]


def test_zeek_conn_fields():
    t, _ = read(corpus("zeek-trickbot-tsv/conn.log"))
    r = t.slice(0, 1).to_pylist()[0]
    # 1541117137.618695 CYtJYz4gNk3t5ZEt2 172.16.9.233 49159 172.16.9.5 88 tcp krb_tcp ... RSTR ... ShADdFar
    assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["proto"]) == ("172.16.9.233", 49159, "172.16.9.5", 88, "tcp")
    assert (r["app_status"], r["action"], r["app_proto"], r["payload_len"]) == ("RSTR", "accept", "krb_tcp", 244)
    assert r["line"] == 9 and r["ts"].timestamp() == pytest.approx(1541117137.618695)
    states = dict(zip(t.column("app_status").to_pylist(), t.column("action").to_pylist()))
    assert states.get("S0") == "drop" and states.get("REJ", "reject") == "reject"


def test_zeek_json_fields():
    t, _ = read(corpus("zeek-json-evanswj/conn.log"))
    r = t.slice(0, 1).to_pylist()[0]
    assert (r["src_ip"], r["dst_ip"], r["dst_port"], r["app_status"], r["action"]) == \
        ("fe80::a179:b3ff:199:2314", "ff02::1:3", 5355, "S0", "drop")


def test_suricata_fields():
    t, stats = read(corpus("elastic-integrations/suricata/test-eve-small.log"))
    rows = t.to_pylist()
    alert = next(r for r in rows if r["rule"] and r["rule"].startswith("[1:2024833:3]"))
    assert (alert["src_ip"], alert["dst_port"], alert["action"], alert["in_if"]) == ("192.168.86.85", 443, "accept", "en0")
    dns = next(r for r in rows if r["app_proto"] == "dns")
    assert dns["app_detail"] == "clients.l.google.com IN A" and dns["app_status"] == "NOERROR"
    proxy = [r for r in rows if (r["app_detail"] or "").startswith("GET http://ctldl.windowsupdate.com/")]
    assert proxy and proxy[0]["dst_port"] == 8080
    assert stats.files[0].skipped == 1  # the stats record


def test_snort_fast_and_full_fields():
    t, _ = read(corpus("elastic-integrations/snort/test-log-fast.log"))
    r = t.slice(0, 1).to_pylist()[0]
    assert (r["rule"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["proto"]) == \
        ("[1:527:8] BAD-TRAFFIC same SRC/DST", "0.0.0.0", 68, "255.255.255.255", 67, "udp")
    t, _ = read(corpus("elastic-integrations/snort/test-log-full.log"))
    r = t.slice(0, 1).to_pylist()[0]
    assert (r["ttl"], r["ip_id"], r["ip_len"], r["df"], r["tcp_flags"], r["tcp_window"], r["tcp_seq"]) == \
        (127, 53730, 108, True, "ACK PSH", 0x80B, 0x688E00E4)
    drop = parse_line("10/20-20:43:39.741995  [Drop] [**] [1:10000002:0] cmd.exe test detected [**] [Priority: 0] "
                      "{TCP} 10.1.4.2:59244 -> 10.1.7.2:80", "snort")
    assert drop["action"] == "drop" and drop["dst_port"] == 80


def test_snort_full_block_split_across_batches():
    fmt = formats.get("snort")
    lines = open(corpus("elastic-integrations/snort/test-log-full.log")).read().split("\n")
    ctx = ParseContext(source_file="x")
    a = fmt.parse(pa.array(lines[:3], pa.string()), 1, ctx)
    b = fmt.parse(pa.array(lines[3:], pa.string()), 4, ctx)
    whole = fmt.parse(pa.array(lines, pa.string()), 1, ParseContext(source_file="x"))
    assert a.batch.num_rows + b.batch.num_rows == whole.batch.num_rows == 7
    assert b.batch.slice(0, 1).to_pylist()[0]["line"] == 1


def test_named_ini_fields():
    pairs = ini_lines("ossec-testing/named.ini")
    r = parse_line(pairs[5][1])  # 'odcdavcxkvin.games.yuanyou8.com/A/IN' denied
    assert r["format"] == "named"
    assert (r["src_ip"], r["src_port"], r["app_detail"], r["app_status"], r["action"], r["log_host"]) == \
        ("31.150.218.239", 6173, "odcdavcxkvin.games.yuanyou8.com IN A", "denied", "reject", "net19")
    r = parse_line(pairs[6][1])  # newer 'client @0x...' form
    assert (r["src_ip"], r["app_detail"]) == ("173.27.216.50", "sl IN ANY")
    assert parse_line(pairs[3][1], "named") is None  # 'name[464]' is not named: the 'fail' case
    r = parse_line(open(corpus("ossec-testing/contrib/logtesting/37/log")).read())
    assert (r["src_ip"], r["src_port"], r["app_status"]) == ("64.211.251.254", 0, "dropped")  # logtest res: srcip


def test_dnsmasq_ini_fields():
    lines = [raw for _v, raw in ini_lines("ossec-testing/dnsmasq.ini")]
    r = parse_line(lines[0])
    assert r["format"] == "dnsmasq"
    assert (r["src_ip"], r["src_port"], r["app_detail"]) == ("10.10.10.33", 59490, "server.example.com ? A")


def test_web_access_fields():
    t, _ = read(corpus("web-access-logs/testglobal.log"))
    rows = {r["line"]: r for r in t.to_pylist()}
    cr = rows[82]
    assert cr["src_ip"] == "80.8.55.9" and cr["app_detail"].startswith("GET /default.ida?XXXX")
    assert cr["app_status"] == "404"
    assert cr["ts"].isoformat() == "2001-01-01T13:00:00+00:00"  # 15:00 +0200
    t, _ = read(corpus("web-access-logs/hackers-access.log"))
    absolute = [r for r in t.to_pylist() if " http://" in (r["app_detail"] or "")]
    assert len(absolute) == 13
    iis = parse_line(ini_lines("wazuh-ruleset-tests/web_rules.ini")[2][1], "web_access")
    assert (iis["src_ip"], iis["dst_ip"], iis["dst_port"], iis["app_status"]) == ("31.3.3.7", "1.2.3.4", 80, "302")


def test_iis_with_fields_header(tmp_path):
    p = write_lines(tmp_path, "u_ex.log", [
        "#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0", "#Date: 2026-11-22 00:00:00",
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
        "2026-11-22 00:00:01 192.0.2.10 GET /scripts/root.exe /c+dir 80 - 203.0.113.5 - - 404 0 2 15"])
    t, st_ = read(p)
    assert st_.files[0].format == "web_access"
    r = t.to_pylist()[0]
    assert (r["src_ip"], r["dst_ip"], r["app_detail"], r["app_status"]) == ("203.0.113.5", "192.0.2.10", "GET /scripts/root.exe?/c+dir", "404")


@pytest.fixture(scope="module")
def named_logs():
    res = once(run_named)
    if res is None:
        unavailable("needs root, unshare, named and dig (apt-get install -y bind9 dnsutils)")
    return res


def test_real_named_logs(named_logs):
    q, s = named_logs
    t, st_ = read([q, s])
    assert [f.format for f in st_.files] == ["named", "named"]
    rows = t.to_pylist()
    assert any(r["app_detail"] == "version.bind CH TXT" and r["src_ip"] == "198.51.100.7" and r["dst_ip"] == "192.0.2.1"
               for r in rows)
    assert any(r["app_detail"] == "version.bind CH TXT" and r["app_status"] == "denied" for r in rows)
    assert any(r["app_detail"] == "example.com IN AXFR" and r["app_status"] == "denied" and r["action"] == "reject" for r in rows)
    assert all(r["ts"] is not None for r in rows)


def test_real_named_unasked_answer_lines(tmp_path):
    """BIND 9 at security debug 10: the dropped unasked answers become events with the sender's
    address and port; debug-level client housekeeping ('UDP request', 'reset client') is skipped."""
    log = once(run_named_unasked)
    if log is None:
        unavailable("needs root, unshare, named and dig (apt-get install -y bind9 dnsutils)")
    t, st_ = read(log)
    assert st_.files[0].format == "named" and st_.files[0].unreadable_count == 0
    rows = t.to_pylist()
    unasked = [r for r in rows if r["app_status"] == "unexpected-response"]
    assert len(unasked) == 3
    assert {(r["src_ip"], r["src_port"], r["action"], r["app_proto"]) for r in unasked} == {("203.0.113.66", 53, "drop", "dns")}
    housekeeping = [r["raw"] for r in rows if r["rule"] == "client" and ": debug " in r["raw"]]
    assert housekeeping == []
    assert any(r["app_detail"] == "www.example.com IN A" and r["src_ip"] == "192.0.2.9" for r in rows)


def _mail_rows(run, why):
    logs = once(run)
    if logs is None:
        unavailable(why)
    t, st_ = read(list(logs) if isinstance(logs, tuple) else logs)
    assert {f.format for f in st_.files} == {"mail"} and all(f.unreadable_count == 0 for f in st_.files)
    return [r for r in t.to_pylist() if r["src_ip"] == "198.51.100.7"], logs


def test_real_exim_lines():
    rows, (mainlog, _) = _mail_rows(run_exim, "needs root and Exim (scripts/fetch-mtas.sh)")
    main = [r for r in rows if r["source_file"] == mainlog]
    got = [(r["rule"], r["app_detail"][:24], r["action"]) for r in main]
    assert got == [("rejected", "VRFY root@example.com", "reject"), ("VRFY", "VRFY root", "reject"),
                   ("rejected", "EXPN staff", "reject"), ("SMTP syntax error", "MAIL FROM:<" + "C" * 13, "reject"),
                   ("rejected", "RCPT TO:<victim@example.", "reject")]
    assert len(main[3]["app_detail"]) == len("MAIL FROM:<" + "C" * 700 + "@example.net>")
    assert main[3]["app_status"].startswith("syntax error: address is ridiculously long")
    assert main[4]["app_status"] == "relay denied: relay not permitted"
    assert all(r["ts"] is not None and r["app_proto"] == "smtp" for r in rows)


def test_real_sendmail_lines():
    rows, _ = _mail_rows(run_sendmail, "needs root, m4, rsyslogd and Sendmail (scripts/fetch-mtas.sh)")
    got = [(r["rule"], (r["app_detail"] or "")[:12], r["app_status"]) for r in rows]
    assert got[:2] == [("VRFY", "VRFY root", None), ("EXPN", "EXPN staff", "rejected")]
    assert got[3] == ("check_rcpt", "RCPT TO:<vic", "relay denied: 550 5.7.1 <victim@example.org>... Relaying denied")
    assert got[4] == ("input too long", "", "command too long: 3007 bytes (SMTP violation)")
    assert all(r["log_host"] == "mail" for r in rows)  # rsyslogd's host field (the namespace's hostname)


def test_real_postfix_lines():
    rows, _ = _mail_rows(run_postfix, "needs root, rsyslogd and Postfix (apt-get install -y postfix rsyslog)")
    rules = [r["rule"] for r in rows]
    assert rules == ["session", "reject", "reject", "reject", "disconnect"]
    assert rows[1]["app_detail"] == "VRFY root" and rows[3]["app_detail"] == "RCPT TO:<victim@example.org>"
    assert rows[4]["app_detail"].startswith("session ehlo=1 mail=1 rcpt=0/1 vrfy=0/2")


def test_sendmail_relaying_temporarily_denied():
    """Copied from a Sendmail 8.17 run of run_sendmail() before the client's PTR record was
    resolvable: the temporary refusal is a relay refusal too."""
    r = parse_line("Nov 22 08:15:22 mail sendmail[24509]: 6AM8FMwM024509: ruleset=check_rcpt, arg1=<victim@example.org>, "
                   "relay=[198.51.100.7], reject=450 4.4.0 <victim@example.org>... Relaying temporarily denied. "
                   "Cannot resolve PTR record for 198.51.100.7")
    assert (r["format"], r["src_ip"], r["app_detail"], r["action"]) == ("mail", "198.51.100.7", "RCPT TO:<victim@example.org>", "reject")
    assert r["app_status"].startswith("relay denied: 450 4.4.0")


def test_mail_rpc_identd_lines():
    r = parse_line("Nov 22 03:40:01 mx postfix/smtpd[2211]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1 "
                   "<victim@example.org>: Relay access denied; from=<spam@example.net> to=<victim@example.org> proto=ESMTP helo=<x>")
    assert r["format"] == "mail" and r["src_ip"] == "198.51.100.7" and r["app_detail"] == "RCPT TO:<victim@example.org>"
    assert r["app_status"].startswith("relay denied")
    r = parse_line("Nov 22 03:40:01 srv portmap[77]: refused connect from 203.0.113.9 to callit(sadmind)")
    assert (r["format"], r["app_detail"], r["action"]) == ("rpcbind", "portmap CALLIT sadmind (100232)", "reject")
    r = parse_line("Nov 22 03:40:01 gw oidentd[901]: Connection from irc.example.net (198.51.100.7):51433")
    assert (r["format"], r["src_ip"], r["dst_port"]) == ("identd", "198.51.100.7", 113)


TEXT_FORMATS = ["zeek_conn", "suricata_eve", "snort", "named", "dnsmasq", "web_access", "mail", "rpcbind", "identd"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=8), st.sampled_from(TEXT_FORMATS))
def test_garbage_lines_never_raise(lines, fmt):
    f = formats.get(fmt)
    res = f.parse(pa.array(lines, pa.string()), 1, ParseContext(source_file="g"))
    assert res.batch.num_rows + len(res.unreadable) + res.skipped <= len(lines) + 1
    f.sniff(lines)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 400), st.sampled_from(FILES))
def test_cut_corpus_lines_never_raise(cut, item):
    rel, fmt = item
    lines = open(corpus(rel), encoding="utf-8", errors="replace").read().split("\n")[:30]
    mangled = [l[: cut % (len(l) + 1)] for l in lines]
    formats.get(fmt).parse(pa.array(mangled, pa.string()), 1, ParseContext(source_file="g"))


def test_zeek_columnar_and_row_paths_agree():
    """Plain conn.log batches are read column-wise; a batch with a header in the middle goes line
    by line. Both must give the same events."""
    lines = open(corpus("zeek-trickbot-tsv/conn.log")).read().split("\n")
    heads = [l for l in lines if l.startswith("#") and not l.startswith("#close")]
    fmt = formats.get("zeek_conn")
    fast = fmt.parse(pa.array(lines, pa.string()), 1, ParseContext(source_file="x")).batch
    mixed = lines[:2000] + heads + lines[2000:]  # a second header block forces the row path
    slow = fmt.parse(pa.array(mixed, pa.string()), 1, ParseContext(source_file="x")).batch
    assert fast.num_rows == slow.num_rows == 13001
    drop = ["line"]
    assert fast.drop_columns(drop).to_pylist() == slow.drop_columns(drop).to_pylist()


def test_snort_full_block_cut_by_the_end_of_the_input(tmp_path):
    # A file that ends inside an alert_full block: the block is still read (its address line is
    # there) and every line is accounted for; one that ends before the address line is unreadable.
    lines = open(corpus("elastic-integrations/snort/test-log-full.log")).read().split("\n")
    for keep, rows, bad in ((9, 2, 0), (7, 1, 1)):
        p = tmp_path / f"cut{keep}.log"
        p.write_text("\n".join(lines[:keep]) + "\n")
        t, stats = read(str(p))
        f = stats.files[0]
        assert (t.num_rows, len(f.unreadable)) == (rows, bad)
        assert f.records + len(f.unreadable) + f.skipped == f.lines == keep
