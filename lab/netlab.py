"""The fwforensics traffic lab: network namespaces, a logging firewall, real tools.

Builds this network out of Linux network namespaces (all named ``fwflab-*``)::

    fwflab-attacker                fwflab-router               fwflab-switch (bridge br0)
    198.51.100.66/24 (+actors) ---- eth0 198.51.100.1          +-- fwflab-neighbour 203.0.113.77
    "the internet"      MTU 1280    eth1 203.0.113.1 ---------+-- fwflab-fw eth0 203.0.113.2  (outside)
                                                                      |  iptables LOG + default drop
                                                                  fwflab-fw eth1 192.0.2.1    (inside)
                                                                      |
                                                                  fwflab-lan eth0 192.0.2.10  (web on 80)

The firewall logs every packet it drops on INPUT and FORWARD with the prefix ``FWF-DROP `` and
every bogon-source or IP-options packet arriving on its outside interface (raw PREROUTING) with
``FWF-ANTISPOOF ``.  The kernel writes those LOG records to the ring buffer when
``net.netfilter.nf_log_all_netns=1``; :class:`KmsgCollector` reads them from ``/dev/kmsg`` and
turns them into RFC 3164 syslog lines.  ``tcpdump`` on the firewall's outside interface writes
a pcap of the same traffic.

Only the documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and the private
10.99.0.0/24 (used only as a spoofed source) appear anywhere; the namespaces have no route to
anything else, so nothing can leave the lab.
"""
from __future__ import annotations

import atexit
import datetime as _dt
import fcntl
import os
import select
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

NS_PREFIX = "fwflab-"
ATTACKER = "fwflab-attacker"
ROUTER = "fwflab-router"
SWITCH = "fwflab-switch"
NEIGHBOUR = "fwflab-neighbour"
FIREWALL = "fwflab-fw"
LAN = "fwflab-lan"
ALL_NS = [ATTACKER, ROUTER, SWITCH, NEIGHBOUR, FIREWALL, LAN]

# --- addresses (documentation ranges only) -------------------------------------------
ATTACKER_IP = "198.51.100.66"          # the scanner
ROUTER_OUT_IP = "198.51.100.1"         # router, attacker side
ROUTER_SEG_IP = "203.0.113.1"          # router, outside segment
FW_OUT_IP = "203.0.113.2"              # firewall, outside interface eth0
FW_IN_IP = "192.0.2.1"                 # firewall, inside interface eth1
NEIGHBOUR_IP = "203.0.113.77"          # a neighbour on the outside segment
LAN_HOST = "192.0.2.10"                # the one LAN host, web server on 80
OUTSIDE_NET = "203.0.113.0/24"
OUTSIDE_BCAST = "203.0.113.255"
HOME_NET = "192.0.2.0/24"
INTERNET_NET = "198.51.100.0/24"
PRIVATE_NET = "10.99.0.0/24"           # used only as a spoofed (bogon) source
OUTSIDE_IF = "eth0"                    # the firewall's outside interface name
INSIDE_IF = "eth1"

# Extra addresses on the attacker's interface: one per "actor", so each scenario's real
# source is distinct (all in 198.51.100.0/24).
ACTORS = {
    "scanner": ATTACKER_IP,
    "mailserver": "198.51.100.25",
    "dns": "198.51.100.53",
    "webclient": "198.51.100.80",
    "proxyhunter": "198.51.100.31",
    "slammer": "198.51.100.14",
    "nbt_windows": "198.51.100.137",
    "nbt_samba": "198.51.100.138",
    "backscatter": "198.51.100.99",
    "ttl64": "198.51.100.64",
    "ttl128": "198.51.100.128",
    "sscan": "198.51.100.5",
    "trojan": "198.51.100.33",
    "icmp": "198.51.100.12",
    "srcroute": "198.51.100.44",
    "powwow": "198.51.100.76",
    "sweeper": "198.51.100.17",
    "worm": "198.51.100.45",
    "mirai": "198.51.100.72",
    "mirai_seq": "198.51.100.73",
    "portzero": "198.51.100.9",
    "smurfer": "198.51.100.90",
    "icq": "198.51.100.40",
    "subseven": "198.51.100.67",
    "gnutella": "198.51.100.46",
}

LOG_PREFIX = "FWF-DROP "
SPOOF_PREFIX = "FWF-ANTISPOOF "
OUR_PREFIXES = ("FWF-",)
SYSLOG_HOST = "fwflab"

NF_LOG_ALL_NETNS = Path("/proc/sys/net/netfilter/nf_log_all_netns")
LOCK_FILE = Path("/run/fwflab.lock")
NETNS_ETC = Path("/etc/netns")


class LabUnavailable(RuntimeError):
    """Namespaces (or the tools) cannot be used on this machine."""


def _run(argv: list[str], check: bool = True, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and cp.returncode != 0:
        raise RuntimeError(f"command failed ({cp.returncode}): {shlex.join(argv)}\n{cp.stderr.strip()}")
    return cp


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ip", *args], check=check)


def _nsx(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ip", "netns", "exec", ns, *argv], check=check)


def existing_namespaces() -> list[str]:
    cp = _run(["ip", "netns", "list"], check=False)
    out = []
    for line in cp.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(NS_PREFIX):
            out.append(name)
    return out


def cleanup_leftovers(kill_ns_processes: bool = False) -> list[str]:
    """Delete every ``fwflab-*`` namespace and stray ``fwfl-*`` veth left by an earlier run.

    With ``kill_ns_processes`` (the ``--cleanup`` flag), processes still running inside a
    ``fwflab-*`` namespace are ended by pid first: only the lab starts processes there.
    """
    removed = []
    for ns in existing_namespaces():
        if kill_ns_processes:
            cp = _run(["ip", "netns", "pids", ns], check=False)
            for tok in cp.stdout.split():
                if tok.isdigit():
                    try:
                        os.kill(int(tok), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        _run(["ip", "netns", "del", ns], check=False)
        removed.append(ns)
    if NETNS_ETC.is_dir():
        import shutil
        for d in NETNS_ETC.glob(NS_PREFIX + "*"):
            shutil.rmtree(d, ignore_errors=True)
    cp = _run(["ip", "-o", "link", "show"], check=False)
    for line in cp.stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            if name.startswith("fwfl-"):
                _run(["ip", "link", "del", name], check=False)
                removed.append(name)
    return removed


def lab_possible() -> tuple[bool, str]:
    """Can this machine run the lab?  Returns (ok, plain reason when not)."""
    if os.geteuid() != 0:
        return False, "the lab needs root (network namespaces, raw sockets)"
    if not NF_LOG_ALL_NETNS.exists():
        return False, f"{NF_LOG_ALL_NETNS} missing: the kernel cannot log from namespaces"
    if not os.access("/dev/kmsg", os.R_OK):
        return False, "/dev/kmsg is not readable"
    import shutil
    missing = [t for t in ("ip", "iptables", "tcpdump", "nmap", "hping3", "traceroute", "nc")
               if shutil.which(t) is None]
    if missing:
        return False, "missing tools: " + ", ".join(missing) + " (see lab/requirements-apt.txt)"
    probe = "fwflab-probe"
    cp = _run(["ip", "netns", "add", probe], check=False)
    if cp.returncode != 0:
        return False, "cannot create network namespaces: " + cp.stderr.strip()
    _run(["ip", "netns", "del", probe], check=False)
    return True, ""


# --- kernel log ------------------------------------------------------------------------

def boot_wall_time() -> float:
    """Wall-clock time of boot, to turn printk timestamps (monotonic) into dates."""
    return time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)


def kmsg_to_syslog(record: str, boot: float, host: str = SYSLOG_HOST) -> str | None:
    """One /dev/kmsg record ``pri,seq,usec,flags;message`` -> RFC 3164 line, or None."""
    head, sep, msg = record.partition(";")
    if not sep:
        return None
    fields = head.split(",")
    if len(fields) < 3 or not fields[2].isdigit():
        return None
    usec = int(fields[2])
    msg = msg.split("\n", 1)[0]           # continuation lines (" KEY=value") are dropped
    when = _dt.datetime.fromtimestamp(boot + usec / 1e6, tz=_dt.timezone.utc)
    stamp = f"{when:%b} {when.day:2d} {when:%H:%M:%S}"
    return f"{stamp} {host} kernel: [{usec // 1_000_000:5d}.{usec % 1_000_000:06d}] {msg}"


class KmsgCollector:
    """Reads /dev/kmsg from 'now' in a thread and keeps the lab's LOG records."""

    def __init__(self, prefixes: tuple[str, ...] = OUR_PREFIXES):
        self.prefixes = prefixes
        self.records: list[str] = []
        self.lost = 0
        self._stop = threading.Event()
        self._fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self._fd, 0, os.SEEK_END)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _drain(self) -> bool:
        got = False
        while True:
            try:
                data = os.read(self._fd, 16384)
            except BlockingIOError:
                return got
            except BrokenPipeError:        # ring buffer overran us; records were lost
                self.lost += 1
                continue
            if not data:
                return got
            got = True
            rec = data.decode("utf-8", "replace")
            msg = rec.partition(";")[2]
            if msg.startswith(self.prefixes):
                self.records.append(rec.rstrip("\n"))

    def _loop(self) -> None:
        while not self._stop.is_set():
            select.select([self._fd], [], [], 0.2)
            self._drain()

    def stop(self) -> list[str]:
        time.sleep(0.3)
        self._stop.set()
        self._thread.join(5)
        self._drain()
        os.close(self._fd)
        return self.records


# --- the lab ---------------------------------------------------------------------------

class Lab:
    """Context manager: builds the namespaces on enter, removes everything on exit."""

    def __init__(self, verbose: bool = False):
        self.verbose = verbose
        self.procs: list[subprocess.Popen] = []
        self._old_nf_log: str | None = None
        self._lock_fd: int | None = None
        self._built = False
        self._closed = False

    # -- lifecycle
    def __enter__(self) -> "Lab":
        ok, why = lab_possible()
        if not ok:
            raise LabUnavailable(why)
        self._lock_fd = os.open(str(LOCK_FILE), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)   # another lab run: wait for it
        atexit.register(self.close)
        cleanup_leftovers()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGTERM)
                    p.wait(3)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.kill(p.pid, signal.SIGKILL)
                        p.wait(3)
                    except (ProcessLookupError, subprocess.TimeoutExpired):
                        pass
        for ns in ALL_NS:
            _run(["ip", "netns", "del", ns], check=False)
        cleanup_leftovers()
        if self._old_nf_log is not None:
            NF_LOG_ALL_NETNS.write_text(self._old_nf_log)
            self._old_nf_log = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        try:
            atexit.unregister(self.close)
        except Exception:
            pass

    # -- building
    def _veth(self, a_ns: str, a_if: str, b_ns: str, b_if: str, tag: str) -> None:
        ta, tb = f"fwfl-{tag}a", f"fwfl-{tag}b"
        _ip("link", "add", ta, "type", "veth", "peer", "name", tb)
        _ip("link", "set", ta, "netns", a_ns)
        _ip("link", "set", tb, "netns", b_ns)
        _ip("-n", a_ns, "link", "set", ta, "name", a_if)
        _ip("-n", b_ns, "link", "set", tb, "name", b_if)

    def _build(self) -> None:
        for ns in ALL_NS:
            # `ip netns exec` bind-mounts /etc/netns/<ns>/*: every name lookup inside the lab
            # goes to the lab's own DNS answerer, never to the host's resolver
            etc = NETNS_ETC / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text(f"nameserver {ACTORS['dns']}\noptions timeout:1 attempts:1\n")
            (etc / "hosts").write_text("127.0.0.1 localhost\n")
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _nsx(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            _nsx(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        self._veth(ATTACKER, "eth0", ROUTER, "eth0", "1")
        self._veth(ROUTER, "eth1", SWITCH, "p-router", "2")
        self._veth(FIREWALL, "eth0", SWITCH, "p-fw", "3")
        self._veth(NEIGHBOUR, "eth0", SWITCH, "p-nb", "4")
        self._veth(FIREWALL, "eth1", LAN, "eth0", "5")
        # the outside segment is a bridge in its own namespace
        _ip("-n", SWITCH, "link", "add", "br0", "type", "bridge")
        for port in ("p-router", "p-fw", "p-nb"):
            _ip("-n", SWITCH, "link", "set", port, "master", "br0")
            _ip("-n", SWITCH, "link", "set", port, "up")
        _ip("-n", SWITCH, "link", "set", "br0", "up")
        # attacker: "the internet", one address per actor; a 1280-byte MTU link so that
        # big packets from the LAN earn real fragmentation-needed messages at the router
        _ip("-n", ATTACKER, "link", "set", "eth0", "mtu", "1280")
        for addr in dict.fromkeys(ACTORS.values()):
            _ip("-n", ATTACKER, "addr", "add", f"{addr}/24", "dev", "eth0")
        _ip("-n", ATTACKER, "link", "set", "eth0", "up")
        _ip("-n", ATTACKER, "route", "add", "default", "via", ROUTER_OUT_IP, "src", ATTACKER_IP)
        # router: forwards, forwards directed broadcasts (the smurf amplifier's mistake)
        # and source-routed packets
        _ip("-n", ROUTER, "link", "set", "eth0", "mtu", "1280")
        _ip("-n", ROUTER, "addr", "add", f"{ROUTER_OUT_IP}/24", "dev", "eth0")
        _ip("-n", ROUTER, "addr", "add", f"{ROUTER_SEG_IP}/24", "dev", "eth1")
        for ifc in ("eth0", "eth1"):
            _ip("-n", ROUTER, "link", "set", ifc, "up")
        for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.bc_forwarding=1",
                    "net.ipv4.conf.eth0.bc_forwarding=1", "net.ipv4.conf.eth1.bc_forwarding=1",
                    "net.ipv4.conf.all.accept_source_route=1",
                    "net.ipv4.conf.eth0.accept_source_route=1",
                    "net.ipv4.conf.eth1.accept_source_route=1",
                    "net.ipv4.conf.all.rp_filter=0"):
            _nsx(ROUTER, "sysctl", "-qw", key)
        _ip("-n", ROUTER, "route", "add", HOME_NET, "via", FW_OUT_IP)
        # neighbour on the outside segment; answers broadcast pings (a real amplifier)
        _ip("-n", NEIGHBOUR, "addr", "add", f"{NEIGHBOUR_IP}/24", "dev", "eth0")
        _ip("-n", NEIGHBOUR, "link", "set", "eth0", "up")
        _ip("-n", NEIGHBOUR, "route", "add", "default", "via", ROUTER_SEG_IP)
        _ip("-n", NEIGHBOUR, "route", "add", HOME_NET, "via", FW_OUT_IP)
        _nsx(NEIGHBOUR, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_broadcasts=0")
        # firewall
        _ip("-n", FIREWALL, "addr", "add", f"{FW_OUT_IP}/24", "dev", "eth0")
        _ip("-n", FIREWALL, "addr", "add", f"{FW_IN_IP}/24", "dev", "eth1")
        for ifc in ("eth0", "eth1"):
            _ip("-n", FIREWALL, "link", "set", ifc, "up")
        _ip("-n", FIREWALL, "route", "add", "default", "via", ROUTER_SEG_IP)
        _nsx(FIREWALL, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _nsx(FIREWALL, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
        _nsx(FIREWALL, "sysctl", "-qw", "net.ipv4.conf.eth0.rp_filter=0")
        self._firewall_rules()
        # LAN host
        _ip("-n", LAN, "addr", "add", f"{LAN_HOST}/24", "dev", "eth0")
        _ip("-n", LAN, "link", "set", "eth0", "up")
        _ip("-n", LAN, "route", "add", "default", "via", FW_IN_IP)
        # logging from namespaces on (restored on close)
        self._old_nf_log = NF_LOG_ALL_NETNS.read_text().strip()
        NF_LOG_ALL_NETNS.write_text("1")
        # services: the LAN web server, and a DNS answerer "on the internet"
        here = Path(__file__).resolve().parent
        self.spawn(LAN, ["python3", "-m", "http.server", "80", "--bind", LAN_HOST,
                         "--directory", str(here / "www")])
        self.spawn(ATTACKER, ["python3", str(here / "dnsresponder.py"), ACTORS["dns"]])
        self._wait_port(LAN, LAN_HOST, 80)
        # interfaces coming up send IGMP reports from 0.0.0.0 and the like: let them pass
        # before any scenario starts collecting
        time.sleep(2)
        self._built = True

    def _firewall_rules(self) -> None:
        log = ["--log-level", "4", "--log-ip-options", "--log-tcp-options"]
        rules = [
            # anti-spoofing on the outside interface, before routing drops martians silently
            ["-t", "raw", "-N", "ANTISPOOF"],
            ["-t", "raw", "-A", "ANTISPOOF", "-j", "LOG", "--log-prefix", SPOOF_PREFIX, *log],
            ["-t", "raw", "-A", "ANTISPOOF", "-j", "DROP"],
            ["-t", "raw", "-A", "PREROUTING", "-i", OUTSIDE_IF, "-s",
             "0.0.0.0/8,10.0.0.0/8,127.0.0.0/8,169.254.0.0/16,172.16.0.0/12,192.168.0.0/16,"
             + HOME_NET, "-j", "ANTISPOOF"],
            # IP header longer than 20 bytes = IP options (source route, record route, ...)
            ["-t", "raw", "-A", "PREROUTING", "-i", OUTSIDE_IF, "-m", "u32", "--u32",
             "0>>24&0xF=6:15", "-j", "ANTISPOOF"],
            # stateful but strict: ESTABLISHED only, so RELATED ICMP errors (time exceeded,
            # port unreachable, fragmentation needed) are dropped and logged, as in the FAQ
            ["-P", "INPUT", "DROP"],
            ["-P", "FORWARD", "DROP"],
            ["-P", "OUTPUT", "ACCEPT"],
            ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
            ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED", "-j", "ACCEPT"],
            ["-A", "INPUT", "-j", "LOG", "--log-prefix", LOG_PREFIX, *log],
            ["-A", "FORWARD", "-i", INSIDE_IF, "-o", OUTSIDE_IF, "-j", "ACCEPT"],
            ["-A", "FORWARD", "-m", "conntrack", "--ctstate", "ESTABLISHED", "-j", "ACCEPT"],
            ["-A", "FORWARD", "-i", OUTSIDE_IF, "-o", INSIDE_IF, "-d", LAN_HOST, "-p", "tcp",
             "--dport", "80", "--syn", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"],
            ["-A", "FORWARD", "-j", "LOG", "--log-prefix", LOG_PREFIX, *log],
        ]
        for r in rules:
            _nsx(FIREWALL, "iptables", *r)

    def firewall_ruleset(self) -> str:
        a = _nsx(FIREWALL, "iptables-save", check=False).stdout
        return a

    def _wait_port(self, ns: str, host: str, port: int, timeout: float = 10) -> None:
        end = time.time() + timeout
        while time.time() < end:
            cp = _nsx(ns, "nc", "-z", "-w", "1", host, str(port), check=False)
            if cp.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"service {host}:{port} in {ns} did not come up")

    # -- running things
    def spawn(self, ns: str, argv: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 5) -> None:
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout)
            except ProcessLookupError:
                pass

    def execute(self, ns: str, argv: list[str], timeout: float = 120,
                stdin: bytes | None = None) -> dict:
        """Run a tool to completion in a namespace; returns a record for the ground truth."""
        full = ["ip", "netns", "exec", ns, *argv]
        t0 = time.time()
        p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        self.procs.append(p)
        try:
            out, err = p.communicate(stdin, timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            self.stop(p, signal.SIGINT, 3)
            out, err = p.communicate()
            rc = "timeout"
        if self.verbose:
            print(f"  $ {shlex.join(full)}  -> {rc}")
        return {
            "ns": ns,
            "argv": argv,
            "command": shlex.join(full),
            "rc": rc,
            "started": _dt.datetime.fromtimestamp(t0, _dt.timezone.utc).isoformat(timespec="milliseconds"),
            "seconds": round(time.time() - t0, 2),
            "stdout_tail": out.decode("utf-8", "replace")[-400:],
            "stderr_tail": err.decode("utf-8", "replace")[-300:],
        }

    def start_capture(self, pcap: Path) -> subprocess.Popen:
        p = subprocess.Popen(["ip", "netns", "exec", FIREWALL, "tcpdump", "-i", OUTSIDE_IF, "-n",
                              "-U", "-s", "0", "-w", str(pcap), "not", "ip6"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(p)
        # wait for "listening on" so no packet is missed
        end = time.time() + 10
        buf = b""
        while time.time() < end and b"listening on" not in buf:
            r, _, _ = select.select([p.stderr], [], [], 0.2)
            if r:
                chunk = os.read(p.stderr.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        if b"listening on" not in buf:
            raise RuntimeError("tcpdump did not start: " + buf.decode("utf-8", "replace"))
        return p

    def stop_capture(self, p: subprocess.Popen) -> None:
        time.sleep(0.3)
        self.stop(p, signal.SIGINT)
