"""Helpers for the service-log tests: corpus location, INI test-line extraction, reading files,
and running a real BIND named inside a private network namespace."""
from __future__ import annotations

import os
import shutil
import subprocess

import pyarrow as pa

from fwforensics import events, detectors
from fwforensics.reader import ReadStats, read_events

from _shared import CORPUS  # noqa: E402
CORPUS = str(CORPUS)


def unavailable(reason: str):
    """Skip a test whose real server software or privileges are missing here; under
    ``FWF_REQUIRE_LAB=1`` (CI, as for tests/lab) a missing prerequisite is a failure instead."""
    import pytest
    if os.environ.get("FWF_REQUIRE_LAB") == "1":
        pytest.fail(f"required by FWF_REQUIRE_LAB=1 but cannot run: {reason}")
    pytest.skip(reason)


def corpus(rel: str) -> str:
    return os.path.join(CORPUS, rel)


def ini_lines(rel: str) -> list[tuple[str, str]]:
    """('pass'|'fail', raw line) for every ``log N pass|fail = <line>`` of a Wazuh/OSSEC test INI."""
    out = []
    with open(corpus(rel), encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("log ") and " = " in line:
                head, raw = line.split(" = ", 1)
                out.append((head.split()[-1], raw.rstrip("\n")))
    return out


def write_lines(tmp_path, name: str, lines: list[str]) -> str:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def read(paths):
    st = ReadStats()
    batches = list(read_events(paths if isinstance(paths, list) else [paths], stats=st))
    t = pa.Table.from_batches(batches) if batches else None
    return t, st


def findings(paths, ids=None):
    con = events.connect(spill=False)
    events.load(con, read_events(paths if isinstance(paths, list) else [paths]))
    ctx = detectors.Context(con=con)
    out = []
    for m in detectors.modules():
        out += m.detect(ctx) or []
    return [f for f in out if ids is None or f.id in ids]


NAMED_CONF = """\
options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  listen-on port 53 {{ 192.0.2.1; }};
  listen-on-v6 {{ none; }};
  allow-query {{ 192.0.2.0/24; }};
  allow-transfer {{ none; }};
  recursion no;
  dnssec-validation no;
}};
logging {{
  channel q {{ file "{d}/query.log"; print-time yes; print-category yes; print-severity yes; severity info; }};
  channel s {{ file "{d}/security.log"; print-time yes; print-category yes; print-severity yes; severity {sev}; }};
  category queries {{ q; }};
  category security {{ s; }};
  category xfer-out {{ s; }};
  category default {{ s; }};
}};
zone "example.com" {{ type primary; file "{d}/example.com.zone"; }};
"""
ZONE = """\
$TTL 300
@ IN SOA ns.example.com. admin.example.com. 1 3600 600 86400 300
@ IN NS ns.example.com.
ns IN A 192.0.2.1
www IN A 192.0.2.80
"""
RUN = """\
ip link set lo up
ip addr add 192.0.2.1/24 dev lo
ip addr add 198.51.100.7/24 dev lo
named -c {d}/named.conf -u root -f &
P=$!
for i in $(seq 1 30); do dig +short +tries=1 +time=1 @192.0.2.1 ns.example.com a >/dev/null 2>&1 && break; sleep 0.2; done
dig +short +tries=1 +time=2 @192.0.2.1 version.bind chaos txt
dig +short +tries=1 +time=2 @192.0.2.1 -b 198.51.100.7 version.bind chaos txt
dig +tries=1 +time=2 @192.0.2.1 -b 198.51.100.7 example.com axfr
dig +short +tries=1 +time=2 @192.0.2.1 www.example.com a
kill $P; wait $P
"""


def run_named(tmp_path) -> tuple[str, str] | None:
    """Run named in a private namespace (documentation addresses only) and query it with dig:
    a version.bind CHAOS query from the server's own subnet and from 198.51.100.7 (refused), a
    refused AXFR and an ordinary query. Returns (query log, security log) or None when the tools
    or privileges are missing."""
    if os.geteuid() != 0 or not all(shutil.which(x) for x in ("named", "dig", "unshare")):
        return None
    d = str(tmp_path)
    (tmp_path / "named.conf").write_text(NAMED_CONF.format(d=d, sev="info"))
    (tmp_path / "example.com.zone").write_text(ZONE)
    (tmp_path / "run.sh").write_text(RUN.format(d=d))
    subprocess.run(["timeout", "60", "unshare", "-n", "bash", str(tmp_path / "run.sh")], capture_output=True)
    q, s = tmp_path / "query.log", tmp_path / "security.log"
    if not q.exists() or not s.exists():
        return None
    return str(q), str(s)


UNASKED_RUN = """\
ip link set lo up
ip addr add 192.0.2.1/24 dev lo
ip addr add 192.0.2.9/24 dev lo
ip addr add 203.0.113.66/24 dev lo
named -c {d}/named.conf -u root -f &
P=$!
for i in $(seq 1 30); do dig +short +tries=1 +time=1 @192.0.2.1 ns.example.com a >/dev/null 2>&1 && break; sleep 0.2; done
dig +short +tries=2 +time=3 @192.0.2.1 -b 192.0.2.9 www.example.com a
python3 - <<'EOP'
import socket, struct
# Three DNS answers (QR=1, www.example.com A 203.0.113.66) that named never asked for, sent
# from 203.0.113.66 port 53 to the server's listening port.
q = b"\\x03www\\x07example\\x03com\\x00" + struct.pack("!HH", 1, 1)
a = b"\\xc0\\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton("203.0.113.66")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.66", 53))
for qid in (0x1234, 0x1235, 0x1236):
    s.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + a, ("192.0.2.1", 53))
EOP
for i in $(seq 1 50); do [ "$(grep -c 'unexpected response' {d}/security.log)" -ge 3 ] && break; sleep 0.1; done
kill $P; wait $P
"""


def run_named_unasked(tmp_path) -> str | None:
    """Run named (security category at severity debug 10, where BIND 9 reports packets it
    drops) in a private namespace; an ordinary query from 192.0.2.9, then three DNS answers
    sent from 203.0.113.66#53 to the server's port 53 that it never asked for. Returns the
    security log, or None when the tools or privileges are missing."""
    if os.geteuid() != 0 or not all(shutil.which(x) for x in ("named", "dig", "unshare")):
        return None
    d = str(tmp_path)
    (tmp_path / "named.conf").write_text(NAMED_CONF.format(d=d, sev="debug 10"))
    (tmp_path / "example.com.zone").write_text(ZONE)
    (tmp_path / "run.sh").write_text(UNASKED_RUN.format(d=d))
    subprocess.run(["timeout", "60", "unshare", "-n", "bash", str(tmp_path / "run.sh")], capture_output=True)
    s = tmp_path / "security.log"
    return str(s) if s.exists() else None


PRIVATE_SYSLOG = """\
# A private /dev (the host's /dev stays untouched) with a real rsyslogd on /dev/log writing
# every message to $W/syslog in the traditional file format, as a mail host's syslog does.
mkdir -p $W/hostdev $W/rs
mount --rbind /dev $W/hostdev
mount -t tmpfs -o mode=755 fwfdev /dev
for x in null zero random urandom full tty; do touch /dev/$x; mount --bind $W/hostdev/$x /dev/$x; done
ln -s /proc/self/fd /dev/fd
mkdir /dev/pts /dev/shm
cat > $W/rsyslog.conf <<EOC
global(workDirectory="$W/rs")
module(load="imuxsock" SysSock.Name="/dev/log")
*.* action(type="omfile" file="$W/syslog" template="RSYSLOG_TraditionalFileFormat")
EOC
rsyslogd -n -f $W/rsyslog.conf -i $W/rs/rsyslogd.pid &
RS=$!
for i in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.1; done
"""

SMTP_PROBE = """\
python3 - <<'EOP'
import smtplib
s = smtplib.SMTP('192.0.2.25', 25, source_address=('198.51.100.7', 0), timeout=15)
s.ehlo('probe.example.net')
s.verify('root')
s.docmd('EXPN', 'staff')
s.docmd('VRFY', 'A' * 600)
s.mail('spam@example.net')
s.rcpt('victim@example.org')
s.quit()
EOP
"""


def run_in_namespaces(script: str, w: str, timeout: float = 60) -> None:
    """Run ``script`` (bash) in private mount, network and UTS namespaces. Mail daemons misbehave
    when started with stdin at end of file (as under pytest), so the run gets a pipe that stays
    open until it is over. Afterwards every process still in the run's network namespace (only
    processes this run started can be there) and the script's process group are killed."""
    import signal
    path = os.path.join(w, "run.sh")
    with open(path, "w") as f:
        f.write(script)
    with open(os.path.join(w, "run.out"), "w") as out:
        proc = subprocess.Popen(["unshare", "-m", "-n", "-u", "bash", path], stdin=subprocess.PIPE,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            _kill_namespace(os.path.join(w, "netns"))
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.stdin.close()
            proc.wait()


def _kill_namespace(netns_file: str) -> None:
    """Kill every process living in the private network namespace the run created (only
    processes this test started can be there)."""
    import signal
    try:
        ns = open(netns_file).read().strip()
    except OSError:
        return
    if not ns.startswith("net:["):
        return
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/ns/net") == ns:
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def _syslog_result(w: str, dest, marker: str) -> str | None:
    log = os.path.join(w, "syslog")
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    if marker not in text:
        return None
    out = os.path.join(str(dest), "maillog")
    with open(out, "w") as f:
        f.write(text)
    return out


POSTFIX_RUN = """\
W={w}
readlink /proc/self/ns/net > $W/netns
""" + PRIVATE_SYSLOG + """\
mkdir -p $W/etc $W/spool $W/data
cp -a /etc/postfix/. $W/etc/
sed -i '/^postlog/d' $W/etc/master.cf
postconf -c $W/etc -e inet_interfaces=192.0.2.25 inet_protocols=ipv4 myhostname=mail.example.com \
    mydestination=example.com mynetworks=127.0.0.0/8 maillog_file= \
    'smtpd_relay_restrictions=permit_mynetworks, reject_unauth_destination' data_directory=$W/data
chown postfix $W/data
mount --bind $W/etc /etc/postfix
mount --bind $W/spool /var/spool/postfix
ip link set lo up
ip addr add 192.0.2.25/24 dev lo
ip addr add 198.51.100.7/24 dev lo
postfix post-install create-missing >/dev/null 2>&1 || true
timeout 20 postfix start
for i in $(seq 1 40); do python3 -c "import socket; socket.create_connection(('192.0.2.25', 25), 0.5).close()" 2>/dev/null && break; sleep 0.25; done
""" + SMTP_PROBE + """\
sleep 1
timeout 10 postfix stop || true
sleep 0.5
kill $RS
"""


def run_postfix(dest) -> str | None:
    """Run a real Postfix in private mount and network namespaces (its configuration and spool
    are bind-mounted from a temporary directory, so the host's stay untouched), logging through
    syslog to a real rsyslogd on a private /dev/log. A client at 198.51.100.7 sends VRFY root,
    EXPN staff, a 600-character VRFY, then a relay attempt to victim@example.org. Returns the
    path of the syslog file (copied into ``dest``), or None when Postfix, rsyslogd, root or
    unshare are missing or Postfix did not answer."""
    import tempfile
    if os.geteuid() != 0 or not all(shutil.which(x) for x in ("postfix", "unshare", "rsyslogd")) \
            or not os.path.isdir("/etc/postfix") or not os.path.isdir("/var/spool/postfix"):
        return None
    w = tempfile.mkdtemp(prefix="fwf-postfix-")
    os.chmod(w, 0o755)
    try:
        run_in_namespaces(POSTFIX_RUN.format(w=w), w)
        return _syslog_result(w, dest, "smtpd[")
    finally:
        shutil.rmtree(w, ignore_errors=True)


MTA_ROOT = os.environ.get("FWF_MTA_ROOT", "/opt/fwforensics-mta")


def mta_path(rel: str) -> str | None:
    """A file of an unpacked mail server (scripts/fetch-mtas.sh), or of an installed one."""
    for root in (MTA_ROOT, "/"):
        p = os.path.join(root, rel.lstrip("/"))
        if os.path.exists(p):
            return p
    return None


EXIM_CONF = """\
keep_environment =
exim_user = mail
exim_group = mail
spool_directory = {w}/spool
log_file_path = {w}/%slog
log_selector = +smtp_syntax_error +smtp_protocol_error
primary_hostname = mail.example.com
domainlist local_domains = example.com
hostlist relay_from_hosts = 127.0.0.1
acl_smtp_rcpt = acl_rcpt
acl_smtp_vrfy = acl_vrfy
acl_smtp_expn = acl_expn
begin acl
acl_rcpt:
  accept hosts = +relay_from_hosts
  deny message = relay not permitted
       !domains = +local_domains
  accept
acl_vrfy:
  deny
acl_expn:
  deny
begin routers
begin transports
"""


def run_exim(dest) -> tuple[str, str] | None:
    """Run the real Exim 4 (Debian's exim4-daemon-light binary, unpacked by
    scripts/fetch-mtas.sh) with a private configuration: an SMTP session on stdin (``-bs``) that
    Exim treats as coming from 198.51.100.7 (``-oMa``, allowed to root): VRFY root@example.com,
    VRFY root (unqualified), EXPN staff, a 700-character MAIL FROM, a relay attempt to
    victim@example.org. Exim writes its own mainlog and rejectlog; returns both (copied into
    ``dest``), or None when root or the binary is missing or Exim wrote nothing."""
    import pwd
    import tempfile
    exim = mta_path("usr/sbin/exim4")
    if os.geteuid() != 0 or not exim:
        return None
    try:
        mail = pwd.getpwnam("mail")
    except KeyError:
        return None
    w = tempfile.mkdtemp(prefix="fwf-exim-")
    try:
        os.chmod(w, 0o755)
        os.mkdir(os.path.join(w, "spool"))
        for p in (w, os.path.join(w, "spool")):
            os.chown(p, mail.pw_uid, mail.pw_gid)  # Exim writes its logs and spool as its own user
        conf = os.path.join(w, "exim.conf")
        with open(conf, "w") as f:
            f.write(EXIM_CONF.format(w=w))
        long_from = "C" * 700 + "@example.net"
        session = ("EHLO probe.example.net\r\nVRFY root@example.com\r\nVRFY root\r\nEXPN staff\r\n"
                   f"MAIL FROM:<{long_from}>\r\nMAIL FROM:<spam@example.net>\r\nRCPT TO:<victim@example.org>\r\nQUIT\r\n")
        subprocess.run(["timeout", "30", exim, "-C", conf, "-bs", "-oMa", "198.51.100.7", "-oMi", "192.0.2.25"],
                       input=session.encode(), capture_output=True)
        out = []
        for name in ("mainlog", "rejectlog"):
            p = os.path.join(w, name)
            if not os.path.exists(p):
                return None
            shutil.copy(p, os.path.join(str(dest), name))
            out.append(os.path.join(str(dest), name))
        return out[0], out[1]
    finally:
        shutil.rmtree(w, ignore_errors=True)


SENDMAIL_MC = """\
divert(-1)
divert(0)dnl
include(`{cf}/m4/cf.m4')dnl
VERSIONID(`fwforensics test')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `mail.example.com')dnl
define(`QUEUE_DIR', `{w}/mqueue')dnl
define(`confPID_FILE', `{w}/sendmail.pid')dnl
define(`ALIAS_FILE', `')dnl
define(`STATUS_FILE', `{w}/statistics')dnl
define(`confCW_FILE', `{w}/local-host-names')dnl
define(`confPRIVACY_FLAGS', `authwarnings,noexpn')dnl
define(`confLOG_LEVEL', `9')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
FEATURE(`no_default_msa')dnl
DAEMON_OPTIONS(`Port=smtp, Addr=192.0.2.25, Name=MTA')dnl
FEATURE(`nocanonify')dnl
FEATURE(`accept_unresolvable_domains')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
"""

SENDMAIL_RUN = """\
W={w}
readlink /proc/self/ns/net > $W/netns
hostname mail.example.com
""" + PRIVATE_SYSLOG + """\
printf '127.0.0.1 localhost\\n192.0.2.25 mail.example.com mail\\n198.51.100.7 probe.example.net\\n' > $W/hosts
mount --bind $W/hosts /etc/hosts
ip link set lo up
ip addr add 192.0.2.25/24 dev lo
ip addr add 198.51.100.7/24 dev lo
{sendmail} -C $W/sendmail.cf -bD &
SM=$!
for i in $(seq 1 40); do python3 -c "import socket; socket.create_connection(('192.0.2.25', 25), 0.5).close()" 2>/dev/null && break; sleep 0.25; done
python3 - <<'EOP'
import smtplib
s = smtplib.SMTP('192.0.2.25', 25, source_address=('198.51.100.7', 0), timeout=15)
s.ehlo('probe.example.net')
s.verify('root')                 # smtplib sends it in lower case: 'vrfy root'
s.docmd('EXPN', 'staff')
s.docmd('VRFY', 'A' * 600)
s.mail('spam@example.net')
s.rcpt('victim@example.org')
try:
    s.docmd('VRFY', 'B' * 3000)  # longer than Sendmail's input line: it hangs up
except smtplib.SMTPException:
    pass
EOP
sleep 0.5
kill $SM
sleep 0.3
kill $RS
"""


def run_sendmail(dest) -> str | None:
    """Run the real Sendmail 8 daemon (Debian's sendmail-bin, unpacked by scripts/fetch-mtas.sh)
    with a sendmail.cf built by m4 from Debian's sendmail-cf (noexpn, LogLevel 9), in private
    mount/network/UTS namespaces, logging through syslog to a real rsyslogd on a private
    /dev/log. A client at 198.51.100.7 sends vrfy root, EXPN staff, a 600-character VRFY, a
    relay attempt to victim@example.org and a 3000-character VRFY. Returns the syslog file
    (copied into ``dest``) or None when root, m4, rsyslogd or the binaries are missing."""
    import tempfile
    sendmail = mta_path("usr/libexec/sendmail/sendmail")
    cf = mta_path("usr/share/sendmail/cf")
    if os.geteuid() != 0 or not sendmail or not cf or not all(shutil.which(x) for x in ("m4", "unshare", "rsyslogd")):
        return None
    w = tempfile.mkdtemp(prefix="fwf-sendmail-")
    try:
        os.chmod(w, 0o755)
        os.mkdir(os.path.join(w, "mqueue"), 0o700)
        for name in ("local-host-names", "statistics"):
            open(os.path.join(w, name), "w").close()
        with open(os.path.join(w, "sendmail.mc"), "w") as f:
            f.write(SENDMAIL_MC.format(cf=cf, w=w))
        with open(os.path.join(w, "sendmail.cf"), "w") as f:
            subprocess.run(["m4", os.path.join(w, "sendmail.mc")], stdout=f, timeout=30, check=True)
        run_in_namespaces(SENDMAIL_RUN.format(w=w, sendmail=sendmail), w)
        return _syslog_result(w, dest, "sendmail[")
    finally:
        shutil.rmtree(w, ignore_errors=True)


_ONCE: dict = {}


def once(run):
    """The result of ``run(dest)`` (run_named, run_postfix, run_exim, ...), run at most once per
    test process: the reader tests and the detector tests share one server run."""
    if run.__name__ not in _ONCE:
        import atexit
        import tempfile
        import pathlib
        dest = tempfile.mkdtemp(prefix="fwf-svc-")
        atexit.register(shutil.rmtree, dest, True)
        _ONCE[run.__name__] = run(pathlib.Path(dest))
    return _ONCE[run.__name__]
