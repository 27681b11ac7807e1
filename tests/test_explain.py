"""`explain` answers every K-item of spec/faq-coverage.md, plus the CLI commands."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fwforensics.commands.explain_cmd import explain_cmd
from fwforensics.explain import CERTAINTY, explain, group_args

from _shared import CORPUS, SPEC  # noqa: E402


def text_of(answers: list[dict]) -> str:
    return " ".join(a["short"] + " " + " ".join(a["detail"]) for a in answers).lower()


def check(query: str, *expect: str, kind: str | None = None) -> list[dict]:
    answers = explain(query)
    assert answers, query
    for a in answers:
        assert set(a) == {"query", "kind", "short", "detail", "certainty", "data"}
        assert a["certainty"] in CERTAINTY
        assert "\n" not in a["short"] and len(a["short"]) < 400, a["short"]
    if kind:
        assert any(a["kind"] == kind for a in answers), [a["kind"] for a in answers]
    t = text_of(answers)
    for e in expect:
        assert e.lower() in t, f"{query!r}: {e!r} not in {t[:400]!r}"
    return answers


# ---- K-PORT: every row of the table (query, words the answer must contain)
K_PORT = [
    ("0", ["fingerprint", "ack", "broadcast"]),
    ("1/tcp", ["tcpmux", "irix", "4Dgifts", "CA-1995-15"]),
    ("7", ["echo", "fraggle", ".255", "chargen", "DoubleClick", "Resonate Global Dispatch", "3130"]),
    ("11", ["systat", "process", "icmp type 11"]),
    ("19", ["chargen", "fraggle"]),
    ("21", ["ftp", "anonymous", "overflow"]),
    ("22/tcp", ["ssh", "make-ssh-known-hosts", "CA-2002-36", "2002"]),
    ("22/udp", ["pcanywhere", "5632", "0x1600"]),
    ("23", ["telnet", "banner", "cisco", "default"]),
    ("25", ["smtp", "open relay", "anti-spam"]),
    ("53/udp", ["dns", "version.bind", "stateless"]),
    ("53/tcp", ["zone", "axfr"]),
    ("67", ["dhcp", "255.255.255.255", "rogue", "middle"]),
    ("68/udp", ["dhcp"]),
    ("69", ["tftp", "any file"]),
    ("79", ["finger", "user"]),
    ("80", ["http", "codered", "nimda"]),
    ("98", ["linuxconf", "lang", "/tmp", "setuid"]),
    ("109", ["pop", "overflow"]),
    ("110", ["pop3", "overflow", "password"]),
    ("111", ["portmapper", "rpc", "first step"]),
    ("113", ["ident", "slow", "rst"]),
    ("119", ["nntp", "news server", "isp"]),
    ("135/udp", ["messenger", "spam"]),
    ("135/tcp", ["endpoint mapper", "epdump", "dos"]),
    ("137", ["netbios", "most common", "harmless"]),
    ("139", ["file", "shares", "nimda", "c$", "first character"]),
    ("143", ["imap", "admw0rm", "source port 0", "overflow"]),
    ("161", ["snmp", "public", "private", "jetdirect", "protos"]),
    ("162", ["trap", "wrong manager address"]),
    ("177", ["xdmcp", "6000"]),
    ("445", ["smb", "139", "worm"]),
    ("513/udp", ["rwho", "broadcast"]),
    ("515", ["lpd", "lprng", "ramen"]),
    ("535", ["corba", "iiop"]),
    ("600", ["pcserver", "ingreslock"]),
    ("635", ["mountd", "linux", "udp and tcp"]),
    ("1024", ["dynamic", "not a service", "netstat"]),
    ("1027", ["first ports", "any port"]),
    ("1080", ["socks", "proxy", "irc", "spammers", "wingate"]),
    ("1114", ["msql", "sscan"]),
    ("1243", ["subseven"]),
    ("6711", ["subseven"]),
    ("6776", ["subseven", "hangs up"]),
    ("1433", ["sql server", "worm"]),
    ("1434", ["slammer", "2003", "376"]),
    ("1524", ["ingreslock", "shell", "statd", "ttdbserverd", "cmsd", "sendmail", "IN-99-04"]),
    ("2049", ["nfs", "portmapper"]),
    ("2766", ["solaris", "nlps", "snmpxdmid", "shell"]),
    ("3128", ["squid", "proxy", "8080", "8888", "chat"]),
    ("5632", ["pcanywhere", "/24", "udp 22"]),
    ("6970/udp", ["realaudio", "7070"]),
    ("7170/udp", ["realaudio"]),
    ("13223", ["powwow", "heartbeat", "opng", "dial-up"]),
    ("17027", ["conducent", "ads.conducent.com", "outbound", "retry"]),
    ("27374", ["subseven", "ramen"]),
    ("30100", ["netsphere"]),
    ("31337", ["back orifice", "elite"]),
    ("31789/udp", ["hack'a'tack", "31790"]),
    ("32771", ["solaris", "rpc", "portmapper"]),
    ("33434/udp", ["traceroute", "33434 + 3 x hops"]),
    ("33600/udp", ["traceroute"]),
    ("41508/udp", ["inoculan", "broadcast"]),
]


@pytest.mark.parametrize("query,expect", K_PORT, ids=[q for q, _ in K_PORT])
def test_k_port(query, expect):
    check(query, *expect, kind="port")


TROJANS = [(555, "phase zero"), (1243, "subseven"), (6711, "subseven"), (27374, "subseven"), (3129, "masters paradise"),
           (6969, "gatecrasher"), (12345, "netbus"), (21544, "girlfriend"), (23456, "evilftp"), (30100, "netsphere"),
           (31337, "back orifice"), (31789, "hack'a'tack"), (50505, "sockets de troie")]


@pytest.mark.parametrize("port,name", TROJANS)
def test_k_port_trojan_list(port, name):
    a = check(str(port), name)
    assert any(x["data"].get("category") == "trojan" for x in a)


def test_k_port_subseven_other_ports():
    for p in (1999, 2773, 2774, 6712, 6713, 7000, 7215, 16959, 27573, 54283):
        check(f"{p}/tcp", "subseven")


GAMES = [("3074", "xbox live"), ("7777", "unreal"), ("7777", "klingon honor guard"), ("7778", "unreal tournament"),
         ("22450/udp", "sin"), ("26000/udp", "quake"), ("26900/udp", "hexen 2"), ("26950/udp", "hexenworld"),
         ("27015/udp", "half-life"), ("27500/udp", "quakeworld"), ("27910/udp", "quake 2"), ("28004/udp", "tribes"),
         ("28910/udp", "heretic 2"), ("7000/udp", "realaudio")]


@pytest.mark.parametrize("query,name", GAMES)
def test_k_port_games_and_multimedia(query, name):
    check(query, name)


@pytest.mark.parametrize("port", [81, 88, 8000, 8080, 8888, 1100, 12345, 23456, 34567, 42, 666, 31337])
def test_k_port_remapped(port):
    a = explain(str(port))
    t = text_of(a)
    assert any(w in t for w in ("remap", "alternative", "moved", "chosen", "pick", "echo 80", "elite")), t[:300]


def test_unknown_ports_answer_from_the_registry():
    a = check("9100/tcp", "registered to", "hp-pdl-datastr", kind="port")
    assert a[0]["certainty"] == "registered use"
    a = check("50000/udp", "dynamic")
    assert a[0]["certainty"] in ("registered use", "unknown")


def test_every_port_over_tcp_and_udp_answers():
    from fwforensics.explain import explain_port
    for proto in ("tcp", "udp"):
        for p in range(0, 65536, 1):
            a = explain_port(p, proto)
            assert a and a[0]["short"]


# ---- K-SRCPORT
K_SRC = [
    ("sport 3/tcp", ["sscan"]), ("sport 20/tcp", ["ftp data"]), ("sport 53", ["dns", "stale", "nat"]),
    ("sport 123", ["ntp"]), ("sport 137", ["windows", "137"]), ("sport 4000/udp", ["icq", "significant port is the source"]),
    ("sport 27960/udp", ["quake"]), ("sport 61000", ["masquerade", "linux"]), ("sport 3000", ["dynamic"]),
    ("source port 800", ["nat", "reserved"]),
]


@pytest.mark.parametrize("query,expect", K_SRC, ids=[q for q, _ in K_SRC])
def test_k_srcport(query, expect):
    check(query, *expect, kind="srcport")


# ---- K-ICMP
K_ICMP = [
    ("icmp 0", ["echo reply", "link speed", "decoy", "covert"]),
    ("icmp 3/0", ["net unreachable", "route"]),
    ("icmp 3/1", ["host unreachable", "arp"]),
    ("icmp 3/3", ["port unreachable", "decoy", "53", "137"]),
    ("icmp 3/4", ["fragmentation needed", "path mtu", "half way"]),
    ("icmp 4", ["source quench", "rfc 1122", "slow"]),
    ("icmp 5", ["redirect", "middle"]),
    ("icmp 8", ["ping", ".255", "smurf"]),
    ("icmp 9", ["router advertisement", "windows 9x", "solaris"]),
    ("icmp 11", ["time exceeded", "traceroute", "loop"]),
    ("icmp 11/0", ["ttl", "traceroute", "routing loop", "small ttl"]),
    ("icmp 11/1", ["reassembly", "fragments"]),
    ("icmp 12", ["parameter problem", "fingerprint"]),
    ("icmp 3/13", ["administratively prohibited"]),
    ("icmp 13", ["timestamp"]),
    ("icmp 17", ["address mask"]),
    ("icmp 42", ["extended echo"]),
    ("icmp 99", ["unassigned"]),
    ("icmpv6 2", ["packet too big"]),
    ("icmp6 1/4", ["port unreachable"]),
    ("icmpv6 135", ["neighbor solicitation"]),
]


@pytest.mark.parametrize("query,expect", K_ICMP, ids=[q for q, _ in K_ICMP])
def test_k_icmp(query, expect):
    check(query, *expect, kind="icmp")


def test_icmp_port_wording():
    a = check("ICMP port 11", "icmp type 11", "time exceeded", "no ports", kind="icmp")
    assert "port" in a[0]["short"].lower()
    check("icmp type 3 code 4", "fragmentation needed")


def test_every_icmp_type_and_code_answers():
    for v6 in (False, True):
        fam = "icmpv6" if v6 else "icmp"
        for t in range(256):
            assert explain(f"{fam} {t}")[0]["kind"] == "icmp"
            for c in (0, 1, 3, 16, 255):
                assert explain(f"{fam} {t}/{c}")[0]["short"]


# ---- K-ADDR
K_ADDR = [
    ("10.1.2.3", ["private", "two interfaces", "isp", "neighbour", "spoof"]),
    ("172.20.0.1", ["private"]), ("192.168.1.1", ["private"]),
    ("127.0.0.1", ["loopback", "never"]),
    ("192.0.2.7", ["documentation"]), ("198.51.100.7", ["documentation"]), ("203.0.113.7", ["documentation"]),
    ("0.0.0.0", ["port 0", "fingerprint"]),
    ("255.255.255.255", ["broadcast", "never forward", "dhcp", "iiop"]),
    ("169.254.3.4", ["link-local", "dhcp", "windows 98", "mac os 8.5"]),
    ("100.64.0.1", ["shared", "carrier-grade nat"]),
    ("224.0.0.251", ["multicast"]),
    ("240.1.2.3", ["reserved"]),
    ("198.18.0.1", ["benchmarking"]),
    ("8.8.8.8", ["whois", "abuse", "traceroute", "politely", "victim"]),
    ("24.1.2.3", ["cable", "1999-2003"]),
    ("fe80::1", ["link-local"]), ("fd12:3456::1", ["unique-local"]), ("2001:db8::1", ["documentation"]),
    ("::1", ["loopback"]), ("ff02::1", ["multicast"]), ("2606:4700::1111", ["global", "whois"]),
    ("10.0.0.0/8", ["private", "16777216"]),
    ("2001:db8::/32", ["documentation"]),
]


@pytest.mark.parametrize("query,expect", K_ADDR, ids=[q for q, _ in K_ADDR])
def test_k_addr(query, expect):
    check(query, *expect, kind="address")


def test_k_addr_directed_broadcast():
    check("93.184.216.255", "broadcast", "smurf", "mask")


# ---- K-RPC
K_RPC = [
    ("rpc proc 0", ["null"]), ("rpc proc 1", ["set", "plant"]), ("rpc proc 2", ["unset", "dos"]),
    ("rpc proc 3", ["getport", "normal"]), ("rpc proc 4", ["dump", "rpcinfo -p"]), ("rpc proc 5", ["callit", "broadcast"]),
    ("rpc 100001", ["rstatd"]), ("rpc 100002", ["rusersd", "user"]), ("rpc 100005", ["mountd", "CA-1998-12"]),
    ("rpc 100008", ["walld", "callit"]), ("rpc 100068", ["cmsd", "CA-1999-08"]), ("rpc 100083", ["tooltalk", "ttdbserverd"]),
    ("rpc 100232", ["sadmind", "CA-1999-16"]), ("rpc 100249", ["snmpxdmi", "2766"]), ("rpc 300019", ["amd", "automounter"]),
    ("rpc 1342177279", ["unixware", "callit"]), ("rpc 300004", ["framemaker", "callit"]),
    ("rpc 390109", ["legato", "networker"]), ("rpc 200100001", ["nextstep", "nibind_bind"]),
    ("rpc 100003", ["nfs"]), ("rpc 100017", ["rexd"]), ("rpc 100024", ["statd"]), ("rpc 150001", ["pcnfsd"]),
    ("rpc sadmind", ["100232"]),
]


@pytest.mark.parametrize("query,expect", K_RPC, ids=[q for q, _ in K_RPC])
def test_k_rpc(query, expect):
    check(query, *expect)


def test_rpc_unknown_number_says_so():
    a = explain("rpc 123456")
    assert a[0]["certainty"] == "unknown" and "no name known" in a[0]["short"]


# ---- K-ZEN
def test_k_zen_ttl():
    a = check("ttl 112", "128", "16 hops", "windows", kind="ttl")
    assert a[0]["data"]["initial_ttl"] == 128 and a[0]["data"]["hops"] == 16
    a = check("ttl 51", "64", "13 hops")
    assert a[0]["data"]["hops"] == 13
    assert explain("ttl 250")[0]["data"]["initial_ttl"] == 255
    assert explain("ttl 30")[0]["data"]["initial_ttl"] == 32
    check("ttl 112", "decoy")


def test_k_zen_ipid():
    a = check("ipid 64769 65025 65281 2", "little-endian", "01fd", kind="ipid")
    assert a[0]["data"]["order"].startswith("little-endian")
    a = check("ipid 0x01FD 0x01FE 0x01FF 0x0200", "big-endian")
    check("ipid 509 510 511 512", "big-endian")
    check("ip id 100 200 300", "big-endian")


def test_k_zen_host_link():
    check("host.link", "two", "ttl", "ip id")


# ---- K-LOGS, K-TERMS, K-QUASI
K_LOGS = [
    ("response from unexpected source", ["dns", "multi-homed"]), ("dns.unexpected_source", ["different address"]),
    ("name resolving to 127.0.0.1", ["127.0.0.1"]), ("axfr", ["zone"]), ("split dns", ["internal"]),
    ("version.bind", ["chaos", "txt"]), ("favicon.ico", ["icon", "bookmark"]), ("robots.txt", ["crawler", "attacker"]),
    ("get http://", ["proxy"]), ("relay denied", ["exactly right", "mail"]), ("expn", ["vrfy", "root", "uudecode", "debug"]),
    ("smtp.recon", ["long"]), ("no ident response", ["irc", "113"]),
]


@pytest.mark.parametrize("query,expect", K_LOGS, ids=[q for q, _ in K_LOGS])
def test_k_logs(query, expect):
    check(query, *expect)


K_TERMS = ["firewall", "port", "scan", "sweep", "decoy scan", "smurf", "fraggle", "amplifier", "directed broadcast",
           "trojan", "RAT", "worm", "covert channel", "source routing", "spoofing", "path MTU discovery", "identd",
           "NetBIOS node status", "PTR", "reverse lookup", "split DNS", "open relay", "open proxy", "zone transfer",
           "dynamic port", "background radiation"]


@pytest.mark.parametrize("term", K_TERMS)
def test_k_terms(term):
    a = explain(term)
    assert a and a[0]["kind"] in ("term", "finding"), (term, a[0]["kind"])
    assert len(" ".join(a[0]["detail"])) > 60


def test_every_finding_id_explains():
    import re
    ids = set()
    for line in (SPEC / "signatures.md").read_text().splitlines():
        m = re.match(r"^\| ([a-z0-9_. /]+?) \|", line)
        if m and m.group(1).strip() != "id":
            ids.update(p.strip() for p in m.group(1).split("/"))
    for i in ids:
        a = explain(i)
        assert a[0]["kind"] == "finding" and a[0]["data"]["id"] == i, i
        assert "What to do:" in " ".join(a[0]["detail"])


K_QUASI = [("search engine crawler", "robots.txt"), ("ad network", "distance"), ("copyright monitor", "rights"),
           ("isp scan", "own customers"), ("relay tester", "anti-spam"), ("irc proxy check", "socks"),
           ("research scanner", "censys")]


@pytest.mark.parametrize("query,word", K_QUASI)
def test_k_quasi(query, word):
    check(query, word, "not", kind="term") if word == "robots.txt" else check(query, word, kind="term")


# ---- certainty, several queries, junk
def test_certainty_words():
    assert explain("31789/udp")[0]["certainty"] == "in 2003 this was"
    assert explain("22/tcp")[0]["certainty"] == "commonly seen as"
    assert explain("9100/tcp")[0]["certainty"] == "registered use"
    assert explain("ttl 112")[0]["certainty"] == "best guess"


def test_group_args():
    assert group_args("icmp 3/4 ttl 112 31337 ICMP port 11 sport 61000 rpc proc 5 rpc 100083 ipid 1 2 3 icmp 3 4".split()) == [
        "icmp 3/4", "ttl 112", "31337", "ICMP port 11", "sport 61000", "rpc proc 5", "rpc 100083", "ipid 1 2 3", "icmp 3 4"]


@pytest.mark.parametrize("junk", ["", "   ", "\x00\x01", "what is this", "port 70000", "ttl 999", "icmp 300/1",
                                  "rpc 99999999999", "x" * 200_000, "1.2.3.4.5", "ipid 70000 1", "999999999999999999999"])
def test_junk_never_raises(junk):
    a = explain(junk)
    assert a and all(x["short"] for x in a)


# ---- whole log lines (real corpus lines, parsed by fwforensics.formats.parse_line)
def _corpus_line(path: Path, needle: str) -> str:
    for line in path.read_text(errors="replace").splitlines():
        if needle in line:
            return line
    pytest.skip(f"corpus line with {needle!r} not found")


def test_log_line_icmp_unreachable_with_quoted_packet():
    line = _corpus_line(CORPUS / "elastic-integrations/iptables/test-iptables-raw.log", "TYPE=3 CODE=3 [SRC=")
    a = explain(line)
    assert a[0]["kind"] == "record"
    t = text_of(a)
    assert "port unreachable" in t and "quoted packet" in t and "62936" in t
    assert a[0]["data"]["finding"] == "icmp.unreach_backscatter"


def test_log_line_smb_syn():
    line = _corpus_line(CORPUS / "elastic-integrations/iptables/test-iptables-raw.log", "DPT=445 WINDOW=8192")
    a = explain(line)
    assert a[0]["kind"] == "record"
    t = text_of(a)
    assert "445" in t and "smb" in t and "connection attempt" in t and "ttl 115" in t and "128" in t


def test_log_line_one_hop_in_the_singular():
    # the README sample's smurf ping, TTL 63: one router from a Linux sender ("1 hops" before)
    line = (Path(__file__).resolve().parents[1] / "examples" / "sample.log").read_text().splitlines()[717]
    assert "TTL=63 " in line
    t = text_of(explain(line))
    assert "about 1 hop away" in t and "1 hops" not in t


def test_log_line_netbios_and_trojan_shapes():
    base = ("Nov 22 03:00:01 fw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 "
            "SRC=198.51.100.7 DST=203.0.113.5 LEN=78 TOS=0x00 PREC=0x00 TTL=112 ID=54321 ")
    a = explain(base + "PROTO=UDP SPT=137 DPT=137 LEN=58")
    assert a[0]["data"]["finding"] == "netbios.nbstat" and "windows" in a[0]["short"].lower()
    a = explain(base + "PROTO=TCP SPT=4444 DPT=27374 WINDOW=1024 RES=0x00 SYN URGP=0")
    assert a[0]["data"]["finding"] == "trojan.probe"
    a = explain(base + "PROTO=TCP SPT=80 DPT=80 WINDOW=1024 RES=0x00 ACK URGP=0")
    assert a[0]["data"]["finding"] == "sscan"
    a = explain(base + "PROTO=UDP SPT=53 DPT=40312 LEN=120")
    assert a[0]["data"]["finding"] == "dns.stale"
    a = explain(base.replace("DST=203.0.113.5", "DST=255.255.255.255") + "PROTO=UDP SPT=68 DPT=67 LEN=300")
    assert a[0]["data"]["finding"] == "broadcast.local" and "dhcp" in a[0]["short"].lower()
    a = explain(base + "PROTO=ICMP TYPE=3 CODE=4 [SRC=203.0.113.5 DST=198.51.100.7 LEN=1500 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=443 DPT=51000 ] MTU=1400")
    assert a[0]["data"]["finding"] == "icmp.frag_needed"
    assert "documentation" in text_of(a)  # the source's class is always explained


# ---- the CLI commands (the real click commands)
def test_cli_explain_short_and_verbose():
    r = CliRunner().invoke(explain_cmd, ["31789/udp", "icmp", "3/4", "ttl", "112"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 3 and "Hack'a'Tack" in lines[0] and "[in 2003 this was]" in lines[0]
    r = CliRunner().invoke(explain_cmd, ["-v", "169.254.3.4"])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) > 2 and "DHCP" in r.output


def test_cli_explain_json():
    r = CliRunner().invoke(explain_cmd, ["--json", "rpc", "100232", "smurf"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [d["kind"] for d in data] == ["rpc", "finding"]
    assert data[0]["data"]["name"] == "sadmind"


def test_cli_explain_unknown_exit_code():
    r = CliRunner().invoke(explain_cmd, ["no-such-thing-here"])
    assert r.exit_code == 1 and "not something" in r.output


def test_cli_explain_strips_control_characters():
    r = CliRunner().invoke(explain_cmd, ["evil\x1b[31mred"])
    assert "\x1b" not in r.output


# ---- records of service logs (DNS, web, mail, portmapper, ident), as readers fill the app_* columns
from fwforensics.explain import explain_record  # noqa: E402


@pytest.mark.parametrize("app,detail,status,finding", [
    ("dns", "VERSION.BIND CHAOS TXT", "denied", "dns.version_query"),
    ("dns", "example.com IN AXFR", "denied", "dns.axfr"),
    ("dns", "example.com A", "response from unexpected source", "dns.unexpected_source"),
    ("dns", None, "unexpected-response", "dns.unexpected_source"),  # BIND 9: dropped request: unexpected response
    ("http", "GET http://www.example.com/ HTTP/1.0", "200", "http.proxy_attempt"),
    ("http", "CONNECT 192.0.2.1:25 HTTP/1.0", "405", "http.proxy_attempt"),
    ("http", "GET /default.ida?NNNNNNNN%u9090 HTTP/1.0", "404", "worm.http"),
    ("http", "GET /scripts/..%c0%af../winnt/system32/cmd.exe?/c+dir HTTP/1.0", "404", "worm.http"),
    ("http", "GET /favicon.ico HTTP/1.1", "404", None),
    ("smtp", "RCPT TO:<test@example.net>", "550 5.7.1 Relaying denied", "smtp.relay_attempt"),
    ("smtp", "VRFY root", "252", "smtp.recon"),
    ("smtp", "HELO " + "x" * 600, "501", "smtp.recon"),
    ("smtp", None, "command too long: 3007 bytes (SMTP violation)", "smtp.recon"),  # Sendmail: input too long
    ("rpc", "DUMP", "", "rpc.portmap"),
    ("rpc", "GETPORT program 100083", "", "rpc.portmap"),
    ("ident", "No Ident response", "", "identd.blocked"),
])
def test_service_log_records(app, detail, status, finding):
    rec = {"src_ip": "198.51.100.7", "dst_ip": "203.0.113.5", "app_proto": app, "app_detail": detail, "app_status": status}
    a = explain_record(rec)
    assert a[0]["kind"] == "record" and a[0]["data"]["finding"] == finding, a[0]["short"]
    if app == "http" and "favicon" in detail:
        assert "icon" in a[0]["short"]


# ---- bad input is normal input
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_explain_any_text_never_raises(text):
    for a in explain(text):
        assert a["short"] and a["certainty"] in CERTAINTY


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["icmp", "port", "rpc", "proc", "ttl", "ipid", "sport", "3/4", "11", "0x1f", "65536",
                                 "-1", "/udp", "tcp", "10.0.0.1", "::", "smurf"]), max_size=8))
def test_group_args_any_words(words):
    for q in group_args(words):
        assert explain(q)


def test_address_with_port():
    a = explain("198.51.100.7:31337")
    assert [x["kind"] for x in a][:2] == ["address", "port"] and "back orifice" in text_of(a)
    a = explain("[2001:db8::1]:22")
    assert a[0]["kind"] == "address" and any("ssh" in x["short"].lower() for x in a)


def test_firewall_line_with_icmp_type_in_port_field():
    a = explain("REJECT proto=1 from=192.0.2.1 to=198.51.100.2 port 11")
    assert a[0]["kind"] == "icmp" and a[0]["data"]["type"] == 11 and "no ports" in a[0]["short"]


@pytest.mark.parametrize("query,words,ref", [
    ("3389", ("remote desktop", "password guessing"), "CVE-2019-0708"),
    ("11211/udp", ("amplif", "2018"), "CVE-2018-1000115"),
    ("123/udp", ("monlist",), "CVE-2013-5211"),
    ("7547", ("tr-069", "mirai"), None),
    ("2323", ("mirai", "telnet"), None),
    ("37215", ("huawei", "satori"), "CVE-2017-17215"),
    ("6379", ("redis", "authorized_keys"), None),
    ("8291", ("mikrotik",), "CVE-2018-14847"),
])
def test_ports_of_todays_logs_are_known(query, words, ref):
    # ports that fill today's logs but postdate the FAQ: an entry of our own, not just the IANA name
    (a,) = explain(query)
    t = text_of([a])
    assert "nothing known about abuse" not in t and a["certainty"] == "commonly seen as"
    assert all(w in t for w in words), t
    if ref:
        assert ref in a["data"]["refs"]


def test_terms_of_todays_logs():
    (a,) = explain("mirai")
    assert a["kind"] == "term" and "2323" in text_of([a]) and "factory passwords" in text_of([a])
    (b,) = explain("brute force")
    assert b["kind"] == "term" and b["short"].startswith("password guessing:")
    for q in ("arp sweep", "arp-scan", "netdiscover"):
        (c,) = explain(q)
        assert c["kind"] == "term" and c["short"].startswith("ARP sweep: Host discovery on the local segment")
        assert "ping.sweep" in text_of([c]) or "ping.sweep" in str(c["data"])


def test_ipv4_mapped_address_is_shown_with_its_ipv4_part_dotted():
    # RFC 5952 section 5: the answer showed "::ffff:a00:1" for the "::ffff:10.0.0.1" asked about
    for q in ("::ffff:10.0.0.1", "::ffff:a00:1"):
        (a,) = explain(q)
        assert a["short"].startswith("::ffff:10.0.0.1: private address (IPv4-mapped Private-Use"), a["short"]


def test_log_line_telnet_attempt_is_the_telnet_worm():
    line = (CORPUS / "psad" / "mirai_default_credentials_scan").read_text().splitlines()[0]
    (a,) = explain(line)
    assert a["data"]["finding"] == "worm.telnet" and "mirai-family bot" in text_of([a])
