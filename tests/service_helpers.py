"""Helpers for the service-log tests: corpus location, INI test-line extraction, reading files,
and running a real BIND named inside a private network namespace."""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pyarrow as pa

from fwforensics import events, detectors
from fwforensics.reader import ReadStats, read_events

CORPUS = os.environ.get("FWF_CORPUS", "/work/shared/corpus")


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
dig +short +tries=1 +time=2 @192.0.2.1 -b 192.0.2.9 www.example.com a
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
sleep 0.5
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


POSTFIX_RUN = """\
W={w}
readlink /proc/self/ns/net > $W/netns
mkdir -p $W/etc $W/spool $W/data
cp -a /etc/postfix/. $W/etc/
cat >> $W/etc/main.cf <<EOC
maillog_file_prefixes = /var, /dev/stdout, /tmp
maillog_file = $W/maillog
inet_interfaces = 192.0.2.25
inet_protocols = ipv4
myhostname = mail.example.com
mydestination = example.com
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
data_directory = $W/data
EOC
grep -q '^postlog' $W/etc/master.cf || echo 'postlog   unix-dgram n  -       n       -       1       postlogd' >> $W/etc/master.cf
chown postfix $W/data
mount --bind $W/etc /etc/postfix
mount --bind $W/spool /var/spool/postfix
ip link set lo up
ip addr add 192.0.2.25/24 dev lo
ip addr add 198.51.100.7/24 dev lo
postfix post-install create-missing >/dev/null 2>&1 || true
postfix check >/dev/null 2>&1 || true
timeout 20 postfix start >/dev/null 2>&1
sleep 2
python3 - <<'EOP'
import smtplib
s = smtplib.SMTP('192.0.2.25', 25, source_address=('198.51.100.7', 0), timeout=8)
s.ehlo('probe.example.net')
s.verify('root')
s.docmd('EXPN', 'staff')
s.mail('spam@example.net')
s.rcpt('victim@example.org')
s.quit()
EOP
sleep 1
timeout 10 postfix stop >/dev/null 2>&1 || true
M=$(cat /var/spool/postfix/pid/master.pid 2>/dev/null | tr -d ' ')
for i in $(seq 1 20); do [ -n "$M" ] && kill -0 "$M" 2>/dev/null || break; sleep 0.25; done
[ -n "$M" ] && kill -9 "$M" 2>/dev/null || true
"""


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


def run_postfix(dest) -> str | None:
    """Run a real Postfix in private mount and network namespaces (its configuration and spool
    are bind-mounted from a temporary directory, so the host's stay untouched), talk SMTP to it
    from 198.51.100.7: VRFY root, EXPN staff, then a relay attempt to victim@example.org.
    Returns the path of its mail log (copied into ``dest``), or None when Postfix, root or
    unshare are missing or Postfix did not answer."""
    import tempfile
    if os.geteuid() != 0 or not shutil.which("postfix") or not shutil.which("unshare") \
            or not os.path.isdir("/etc/postfix") or not os.path.isdir("/var/spool/postfix"):
        return None
    w = tempfile.mkdtemp(prefix="fwf-postfix-")
    os.chmod(w, 0o755)
    script = os.path.join(w, "run.sh")
    with open(script, "w") as f:
        f.write(POSTFIX_RUN.format(w=w))
    # Postfix's daemons misbehave when started with stdin at end of file (as under pytest):
    # give the run a pipe that stays open until it is over. Everything it starts is killed
    # afterwards: the script's process group, and the master daemon by the pid in its lock file.
    import signal
    with open(os.path.join(w, "run.out"), "w") as out:
        proc = subprocess.Popen(["unshare", "-m", "-n", "bash", script], stdin=subprocess.PIPE,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            pass
        finally:
            for pid_file in (os.path.join(w, "data", "master.lock"), os.path.join(w, "spool", "pid", "master.pid")):
                try:
                    os.kill(int(open(pid_file).read().split()[0]), signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            _kill_namespace(os.path.join(w, "netns"))
            proc.stdin.close()
            proc.wait()
    log = os.path.join(w, "maillog")
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    shutil.rmtree(w, ignore_errors=True)
    if "smtpd[" not in text:
        return None  # Postfix did not come up or did not answer here
    out = os.path.join(str(dest), "maillog")
    with open(out, "w") as f:
        f.write(text)
    return out
