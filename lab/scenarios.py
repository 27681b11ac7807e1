"""The lab's scenarios: which real tool runs where, and what the detectors must find.

Each scenario is a list of steps (a tool run inside one namespace, or a pause) plus its
ground truth: the real source, and the finding ids of ``signatures.md`` that ``analyze``
must report, each with the ``src`` it must name.  ``forbidden`` lists ids that must NOT be
reported (used by the background-noise scenario).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from netlab import (ACTORS, ATTACKER, ATTACKER_IP, FIREWALL, FW_OUT_IP, INTERNET_NET, LAN, LAN_HOST, LOG_PREFIX,
                    NEIGHBOUR, NEIGHBOUR_IP, OUTSIDE_BCAST, OUTSIDE_NET, ROUTER_SEG_IP)

HERE = Path(__file__).resolve().parent
UDPSEND = str(HERE / "udpsend.py")
ETHSEND = str(HERE / "ethsend.py")
FLOODSEND = str(HERE / "floodsend.py")

# nmap settings shared by the scans: no host discovery (the firewall answers nothing), no
# DNS, one try per port, fast timing, so a 300-port scan of a dropping firewall takes seconds
NMAP_FAST = ["-n", "-Pn", "-T4", "--max-retries", "0", "--host-timeout", "60s"]

SCAN_IDS = ["scan.vertical", "scan.horizontal", "scan.block", "scan.syn", "scan.fin",
            "scan.null", "scan.xmas", "scan.ack", "scan.udp", "scan.decoy", "ping.sweep",
            "sscan", "proxy.scan", "trojan.probe", "worm.slammer", "worm.mssql",
            "worm.fileshare"]


@dataclass
class Step:
    ns: str | None            # None = a pause of `seconds`
    argv: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timeout: float = 120.0
    stdin: bytes | None = None
    background: bool = False  # start and leave running until the scenario ends


@dataclass
class Scenario:
    name: str
    description: str
    real_src: str
    steps: list[Step]
    expected: list[dict]
    forbidden: list[str] = field(default_factory=list)
    notes: str = ""
    batch: int = 1
    extra: dict = field(default_factory=dict)


def run(ns: str, *argv: str, timeout: float = 120, stdin: bytes | None = None) -> Step:
    return Step(ns, list(argv), timeout=timeout, stdin=stdin)


def pause(seconds: float) -> Step:
    return Step(None, seconds=seconds)


def nmap(*args: str) -> Step:
    return run(ATTACKER, "nmap", *NMAP_FAST, *args, timeout=180)


def hping(*args: str, ns: str = ATTACKER, timeout: float = 60) -> Step:
    return run(ns, "hping3", "-n", "-q", *args, timeout=timeout)


def actor_nmap(actor: str, *args: str) -> Step:
    return nmap("-e", "eth0", "-S", ACTORS[actor], *args)


def nbstat(src: str, dst: str, sport: int, count: int = 1, interval: float = 1.0,
           ns: str = ATTACKER) -> Step:
    return run(ns, "python3", UDPSEND, "--src", src, "--sport", str(sport), "--dst", dst,
               "--dport", "137", "--payload", "nbstat", "--count", str(count),
               "--interval", str(interval))


def exp(fid: str, src: str, **kw) -> dict:
    return {"id": fid, "src": src, **kw}


SSCAN_PORTS = "21,22,23,25,53,79,80,110,111,113,139,143,512,513,514,515,540,1080,1114,2049,2766,6000,6667,12345,31337"
TROJAN_TCP = "555,1243,3129,6711,6969,12345,12346,20034,27374,30100,31337,31338,54320"
TROJAN_UDP = "31337,31338,31789,31791"
PROXY_PORTS = "80,8080,3128,8000,8001,8888,1080"
DECOY_TARGET = "192.0.2.20"
DECOYS = ["198.51.100.23", "203.0.113.99", "198.51.100.201"]
SMURF_VICTIM = "198.51.100.200"


def scenarios(workdir: Path) -> list[Scenario]:
    a = ACTORS
    opng = workdir / "opng.bin"
    opng.write_bytes(b"OPNG")
    sc: list[Scenario] = []

    # ---------------------------------------------------------------- batch 1: nmap scans
    for flag, name, fid, target, ports in (
        ("-sS", "nmap_syn", "scan.syn", LAN_HOST, "1-300"),
        ("-sF", "nmap_fin", "scan.fin", FW_OUT_IP, "1-200"),
        ("-sN", "nmap_null", "scan.null", LAN_HOST, "1-200"),
        ("-sX", "nmap_xmas", "scan.xmas", LAN_HOST, "1-200"),
        ("-sA", "nmap_ack", "scan.ack", LAN_HOST, "1-200"),
        ("-sU", "nmap_udp", "scan.udp", LAN_HOST, "1-200"),
    ):
        sc.append(Scenario(
            name, f"nmap {flag} scan of {target} ports {ports} from the attacker",
            ATTACKER_IP, [nmap(flag, "-p", ports, target)],
            [exp(fid, ATTACKER_IP), exp("scan.vertical", ATTACKER_IP, dst=target)],
            notes="nmap gives raw probes a random TTL; the firewall drops them all"
                  + (" (target is the firewall itself: INPUT chain)" if target == FW_OUT_IP else
                     " (port 80 is open and accepted, so it is missing from the log)")))
    decoy_argv = ["-sS", "-p", "1-100", "-D", ",".join(DECOYS[:2] + ["ME"] + DECOYS[2:]),
                  DECOY_TARGET]
    sc.append(Scenario(
        "nmap_decoy", "nmap SYN scan of ports 1-100 among three decoys (-D), nothing else",
        ATTACKER_IP, [nmap(*decoy_argv)],
        [exp("scan.decoy", None, decoys=DECOYS, dst=DECOY_TARGET,
             candidates=sorted([ATTACKER_IP, *DECOYS]), real_src_determinable=False),
         exp("scan.syn", ATTACKER_IP)],
        notes="nmap gives every copy of a probe a random TTL and nothing else in the log comes "
              "from the real scanner, so no log-only reading can tell which of the four is real: "
              "the expected decoy finding names the group and no single source (src null); "
              "the target address has no host, so nothing answers (a live target would send "
              "SYN-ACKs to the decoys and the router's host-unreachables would leak into later "
              "scenarios)", extra={"decoys": DECOYS}))
    sc.append(Scenario(
        "nmap_decoy_contact",
        "a ping from the real address, then the same nmap decoy scan (earlier contact)",
        ATTACKER_IP,
        [run(ATTACKER, "ping", "-n", "-c", "2", "-i", "0.5", "-W", "1", DECOY_TARGET, timeout=10),
         pause(2), nmap(*decoy_argv)],
        [exp("scan.decoy", ATTACKER_IP, decoys=DECOYS, dst=DECOY_TARGET),
         exp("scan.syn", ATTACKER_IP)],
        notes="the real scanner first pings the target from its own address: the earlier "
              "contact of FAQ 9.2 that singles it out among the decoys", extra={"decoys": DECOYS}))
    sc.append(Scenario(
        "ping_sweep", "nmap ICMP echo sweep (-sn -PE) of 192.0.2.16/28", a["sweeper"],
        [run(ATTACKER, "nmap", "-n", "-sn", "-PE", "-T4", "--max-retries", "1", "-e", "eth0",
             "-S", ACTORS["sweeper"], "192.0.2.16/28", timeout=60)],
        [exp("ping.sweep", a["sweeper"])]))
    sc.append(Scenario(
        "tcp_sweep", "nmap SYN sweep of port 22 across 192.0.2.16/28", a["sweeper"],
        [actor_nmap("sweeper", "-sS", "-p", "22", "192.0.2.16/28")],
        [exp("scan.horizontal", a["sweeper"]), exp("scan.syn", a["sweeper"])]))
    sc.append(Scenario(
        "block_scan", "nmap SYN scan of ports 21-25 across 192.0.2.16/28", a["sweeper"],
        [actor_nmap("sweeper", "-sS", "-p", "21-25", "192.0.2.16/28")],
        [exp("scan.block", a["sweeper"]), exp("scan.syn", a["sweeper"])]))

    # ---------------------------------------------------------------- batch 1: traceroute
    sc.append(Scenario(
        "traceroute_udp", "Linux traceroute (UDP, 33434 and up) from outside to the LAN host",
        ATTACKER_IP, [run(ATTACKER, "traceroute", "-n", "-m", "8", "-q", "3", "-w", "1",
                          LAN_HOST, timeout=60)],
        [exp("traceroute.unix", ATTACKER_IP)], forbidden=["traceroute.from_inside"],
        notes="hop 1 is the router, hop 2 the firewall (its time-exceeded is sent, not logged);"
              " probes with TTL 3..8 are forwarded and dropped on FORWARD"))
    sc.append(Scenario(
        "traceroute_icmp", "traceroute -I (ICMP echo, like Windows tracert) from outside",
        ATTACKER_IP, [run(ATTACKER, "traceroute", "-I", "-n", "-m", "8", "-q", "3", "-w", "1",
                          LAN_HOST, timeout=60)],
        [exp("traceroute.windows", ATTACKER_IP)], forbidden=["traceroute.from_inside"]))
    sc.append(Scenario(
        "traceroute_from_inside",
        "the LAN host traces out (UDP); time-exceeded and port-unreachable answers are dropped",
        LAN_HOST, [run(LAN, "traceroute", "-n", "-m", "6", "-q", "3", "-w", "1", ATTACKER_IP,
                       timeout=60)],
        [exp("traceroute.from_inside", LAN_HOST,
             src_alternatives=[ROUTER_SEG_IP, ATTACKER_IP])],
        notes="the firewall accepts only ESTABLISHED back in, so the RELATED ICMP answers "
              "(time exceeded from 203.0.113.1, port unreachable from 198.51.100.66 for UDP "
              "33434+) are dropped and logged; src is the inside host being answered, the "
              "alternatives are the answering hosts"))

    # ---------------------------------------------------------------- batch 1: smurf/fraggle
    sc.append(Scenario(
        "smurf", "ICMP echo to the outside directed broadcast with the victim's forged source",
        ATTACKER_IP,
        [hping("-1", "-a", SMURF_VICTIM, "-c", "5", "-i", "u200000", OUTSIDE_BCAST)],
        [exp("smurf", SMURF_VICTIM)],
        notes="the router forwards directed broadcasts (bc_forwarding=1), the amplifier's "
              "mistake; the neighbour 203.0.113.77 answers the victim; src is the victim",
        extra={"victim": SMURF_VICTIM, "broadcast": OUTSIDE_BCAST}))
    sc.append(Scenario(
        "fraggle", "UDP echo (7) and chargen (19) to the directed broadcast, forged source",
        ATTACKER_IP,
        [hping("-2", "-a", SMURF_VICTIM, "-p", "7", "-c", "3", "-i", "u200000", OUTSIDE_BCAST),
         hping("-2", "-a", SMURF_VICTIM, "-p", "19", "-c", "3", "-i", "u200000", OUTSIDE_BCAST)],
        [exp("fraggle", SMURF_VICTIM)],
        extra={"victim": SMURF_VICTIM, "broadcast": OUTSIDE_BCAST}))

    # ---------------------------------------------------------------- batch 1: ICMP types
    icmp_src = a["icmp"]
    icmp_steps = []
    # the error types quote a TCP packet "from" the LAN host's web server to the sender
    quoted = ["--icmp-ipsrc", LAN_HOST, "--icmp-ipdst", icmp_src, "--icmp-ipproto", "6",
              "--icmp-srcport", "80", "--icmp-dstport", "41000"]
    for typ, code, more in ((3, 4, quoted), (4, 0, quoted),
                            (5, 1, ["--icmp-gw", ATTACKER_IP, *quoted]),
                            (9, 0, []), (12, 0, quoted), (13, 0, []), (17, 0, []), (0, 0, [])):
        icmp_steps.append(hping("-1", "--force-icmp", "-C", str(typ), "-K", str(code), *more,
                                "-a", icmp_src, "-c", "2", "-i", "u200000", LAN_HOST))
    sc.append(Scenario(
        "icmp_types", "hping3 ICMP types 3/4, 4, 5, 9, 12, 13, 17 and unsolicited 0 to the LAN host",
        icmp_src, icmp_steps,
        [exp(i, icmp_src) for i in ("icmp.frag_needed", "icmp.source_quench", "icmp.redirect",
                                    "icmp.router_advert", "icmp.param_problem", "icmp.timestamp",
                                    "icmp.addr_mask", "icmp.echo_reply_unsolicited")],
        notes="hping3 builds the quoted header of the error types (a TCP packet 192.0.2.10:80 -> "
              "198.51.100.12:41000); its frag-needed carries MTU 0 (see pmtu_frag_needed for a "
              "real one)"))
    sc.append(Scenario(
        "icmp_backscatter",
        "port unreachables from a host we never contacted, quoting forged UDP probes 'from us'",
        a["backscatter"],
        [hping("-1", "--force-icmp", "-C", "3", "-K", "3", "--icmp-ipproto", "17",
               "--icmp-ipsrc", LAN_HOST, "--icmp-ipdst", a["backscatter"],
               "--icmp-srcport", "41000", "--icmp-dstport", str(port), "-a", a["backscatter"],
               "-c", "1", LAN_HOST) for port in (21, 111, 137, 161, 515, 2049)],
        [exp("icmp.unreach_backscatter", a["backscatter"])],
        notes="as if someone ran a UDP scan of 198.51.100.99 with our address as a decoy; the "
              "quoted destination port changes from record to record"))
    sc.append(Scenario(
        "pmtu_frag_needed",
        "the LAN host pings with DF across the router's 1280-byte link: real fragmentation-needed",
        ROUTER_SEG_IP,
        [run(LAN, "ping", "-n", "-M", "do", "-s", "1400", "-c", "3", "-i", "0.3", "-W", "1",
             ATTACKER_IP, timeout=20)],
        [exp("icmp.frag_needed", ROUTER_SEG_IP)],
        notes="the router sends type 3 code 4 with MTU 1280; the firewall drops it (RELATED is "
              "not accepted), the PMTU black hole of FAQ 8.1"))

    # ---------------------------------------------------------------- batch 2
    s_src = a["sscan"]
    sscan_steps = [hping("-A", "-a", s_src, "-s", p, "-k", "-p", p, "-c", "1", LAN_HOST)
                   for p in ("23", "25", "80", "110", "143")]
    for sport, flags in (("1", ["-S", "-F"]), ("2", ["-F", "-P", "-U"]), ("3", ["-S"]),
                         ("4", ["-A"]), ("5", ["-X", "-Y", "-S"])):
        sscan_steps.append(hping(*flags, "-a", s_src, "-s", sport, "-k", "-p", "21", "-c", "1",
                                 LAN_HOST))
    sscan_steps.append(actor_nmap("sscan", "-sS", "-p", SSCAN_PORTS, LAN_HOST))
    sc.append(Scenario(
        "sscan", "sscan's phases: ACK pings sport=dport, probes from source ports 1-5, its port list",
        s_src, sscan_steps, [exp("sscan", s_src)], batch=2,
        notes="sscan itself is not packaged; its three phases are replayed with hping3 and "
              "nmap (the port list as SYN probes)"))
    t_src = a["trojan"]
    sc.append(Scenario(
        "trojan_probe", "probes for trojan/backdoor ports (TCP and UDP)", t_src,
        [actor_nmap("trojan", "-sS", "-sU", "-p", f"T:{TROJAN_TCP},U:{TROJAN_UDP}", LAN_HOST)],
        [exp("trojan.probe", t_src)], batch=2))
    p_src = a["proxyhunter"]
    sc.append(Scenario(
        "proxy_scan", "proxy hunting on 80, 8080, 3128, 8000, 8001, 8888, 1080; RingZero's three",
        p_src,
        [actor_nmap("proxyhunter", "-sS", "-p", PROXY_PORTS, "192.0.2.20")]
        + [run(ATTACKER, "nc", "-z", "-w", "1", "-s", p_src, "192.0.2.21", port, timeout=10)
           for port in ("80", "8080", "3128")],
        [exp("proxy.scan", p_src)], batch=2))
    w_src = a["slammer"]
    sc.append(Scenario(
        "slammer", "SQL Slammer-sized UDP 1434 datagrams (376-byte payload) to three LAN addresses",
        w_src,
        [hping("-2", "-a", w_src, "-p", "1434", "-d", "376", "-c", "3", "-i", "u100000", dst)
         for dst in (LAN_HOST, "192.0.2.20", "192.0.2.30")],
        [exp("worm.slammer", w_src)], batch=2,
        notes="UDP payload 376 bytes: UDP length 384, IP length 404"))
    m_src = a["worm"]
    sc.append(Scenario(
        "worm_mssql", "TCP 1433 sweep of 192.0.2.32/28", m_src,
        [actor_nmap("worm", "-sS", "-p", "1433", "192.0.2.32/28")],
        [exp("worm.mssql", m_src), exp("scan.horizontal", m_src)], batch=2))
    mirai = a["mirai"]
    mirai_dsts = ("192.0.2.50", "192.0.2.51", "192.0.2.52", "192.0.2.53")

    def mirai_syns(src: str) -> list[Step]:
        # (Mirai's scanner puts the destination address in the SYN's sequence number: hping3 -M sets it)
        return [hping("-S", "-a", src, "-p", str(port), "-M", str(int(ipaddress.ip_address(d))), "-c", "1", d)
                for d, port in [(d, 23) for d in mirai_dsts] + [(mirai_dsts[0], 2323)]]
    sc.append(Scenario(
        "mirai_telnet", "telnet SYNs (23, one 2323) to 192.0.2.50-53, each with the destination "
        "address as its sequence number, as Mirai's scanner sends them", mirai, mirai_syns(mirai),
        [exp("worm.telnet", mirai)], batch=2,
        notes="the firewall's log has no sequence numbers (its LOG rule has no --log-tcp-sequence); "
              "the capture has them, and its worm.telnet finding names Mirai's scanner code"))
    # The same SYNs logged by a firewall rule with --log-tcp-sequence (SEQ= in each record): for
    # this scenario only, the firewall logs and drops the actor's telnet SYNs with a rule of its own
    # ahead of the usual ones, and takes it out afterwards.
    ms = a["mirai_seq"]
    seq_rule = ["FORWARD", "-s", ms, "-p", "tcp", "-m", "multiport", "--dports", "23,2323"]
    seq_log = ["-j", "LOG", "--log-prefix", LOG_PREFIX, "--log-level", "4", "--log-ip-options",
               "--log-tcp-options", "--log-tcp-sequence"]
    sc.append(Scenario(
        "mirai_telnet_seq", "the mirai_telnet SYNs from another address, logged by a firewall rule "
        "with --log-tcp-sequence", ms,
        [run(FIREWALL, "iptables", "-I", *seq_rule, "-j", "DROP"),
         run(FIREWALL, "iptables", "-I", *seq_rule, *seq_log)]
        + mirai_syns(ms)
        + [run(FIREWALL, "iptables", "-D", *seq_rule, *seq_log),
           run(FIREWALL, "iptables", "-D", *seq_rule, "-j", "DROP")],
        [exp("worm.telnet", ms)], batch=2,
        notes="the firewall's records carry SEQ= (the destination address as a number): the log's "
              "worm.telnet finding names Mirai's scanner code, as the capture's does"))
    f_src = a["nbt_samba"]
    fs_steps = []
    for dst in ("192.0.2.40", "192.0.2.41", "192.0.2.42"):
        fs_steps.append(nbstat(f_src, dst, 0))
        fs_steps += [run(ATTACKER, "nc", "-z", "-w", "1", "-s", f_src, dst, p, timeout=10)
                     for p in ("139", "445")]
    sc.append(Scenario(
        "worm_fileshare", "NetBIOS 137 node-status lookups followed by 139 and 445 connects",
        f_src, fs_steps, [exp("worm.fileshare", f_src), exp("netbios.nbstat", f_src)], batch=2))
    sc.append(Scenario(
        "netbios_nbstat",
        "NetBIOS node-status queries: Windows style (137->137) and Samba style (dynamic port)",
        a["nbt_windows"],
        [nbstat(a["nbt_windows"], LAN_HOST, 137, count=3, interval=1.0),
         nbstat(a["nbt_samba"], LAN_HOST, 0, count=2, interval=1.0)],
        [exp("netbios.nbstat", a["nbt_windows"], flavour="windows"),
         exp("netbios.nbstat", a["nbt_samba"], flavour="samba")], batch=2,
        notes="payload from the lab's udpsend.py (RFC 1002 NBSTAT for '*'), through the "
              "kernel's UDP stack"))
    sr_src = a["srcroute"]
    sc.append(Scenario(
        "source_route", "loose and strict source-routed packets (hping3 --lsrr / --ssrr)", sr_src,
        [hping("-S", "-a", sr_src, "-p", "80", "--lsrr", ROUTER_SEG_IP, "-c", "2", LAN_HOST),
         hping("-S", "-p", "80", "--ssrr", FW_OUT_IP, "-c", "2", LAN_HOST, ns=NEIGHBOUR)],
        [exp("source_route", sr_src), exp("source_route", NEIGHBOUR_IP)], batch=2,
        notes="logged by the firewall's raw-table anti-spoofing chain (prefix FWF-ANTISPOOF) "
              "with OPT (...) showing the option bytes (0x83 loose, 0x89 strict); the strict "
              "one comes from the neighbour on the outside segment because a Linux router "
              "refuses to forward a strict route whose next hop is not itself"))
    bogons = ["10.99.0.7", "127.0.0.1", "169.254.10.20", "192.0.2.99"]
    sc.append(Scenario(
        "bogon_source", "forged private, loopback, link-local, zero and own-network sources "
        "from the outside segment", NEIGHBOUR_IP,
        [hping("-S", "-a", b, "-p", "80", "-c", "2", "-i", "u200000", LAN_HOST, ns=NEIGHBOUR)
         for b in bogons]
        + [run(NEIGHBOUR, "python3", ETHSEND, "--iface", "eth0", "--via", FW_OUT_IP, "--src",
               "0.0.0.0", "--dst", LAN_HOST, "--dport", "80", "--count", "2")],
        [exp("bogon.source", b) for b in bogons[:3] + ["0.0.0.0"]], batch=2,
        notes="sent by the neighbour on the outside segment (a router drops martian sources "
              "before forwarding); hping3 for all but 0.0.0.0, which a raw IP socket cannot "
              "send (the kernel fills in its own address), so the lab's ethsend.py writes that "
              "SYN as a whole Ethernet frame; 192.0.2.99 is the home network forged from "
              "outside (spoofing, no id of its own)", extra={"bogons": bogons + ["0.0.0.0"], "forged_only": True}))
    sc.append(Scenario(
        "syn_flood", "a SYN flood at the LAN host's port 443: 1560 SYNs in about 3 s, three from "
        "each of 520 forged sources (the documentation ranges outside, and private 10.99.0.0/28)",
        NEIGHBOUR_IP,
        [run(NEIGHBOUR, "python3", FLOODSEND, "--dst", LAN_HOST, "--dport", "443", "--sources",
             f"{INTERNET_NET},{OUTSIDE_NET},10.99.0.0/28", "--skip", f"{ROUTER_SEG_IP},{FW_OUT_IP}",
             "--rounds", "3", "--rate", "500")],
        [exp("flood", None, real_src_determinable=False, kind="forged", target=LAN_HOST)],
        forbidden=["bogon.source"], batch=2,
        notes="what hping3 --rand-source sends, with the forged sources kept to the lab's ranges "
              "(the lab's floodsend.py writes the datagrams to a raw IP socket); sent by the "
              "neighbour on the outside segment, as for bogon_source, so that the private "
              "sources reach the firewall; those are the flood's, not background bogons",
        extra={"forged_only": True}))
    sc.append(Scenario(
        "ttl_families", "two senders with initial TTL 64 and 128 probing 12 ports each",
        a["ttl64"],
        [hping("-S", "-a", a["ttl64"], "--ttl", "64", "-p", "++20", "-c", "12", "-i", "u50000",
               LAN_HOST),
         hping("-S", "-a", a["ttl128"], "--ttl", "128", "-p", "++20", "-c", "12", "-i", "u50000",
               LAN_HOST)],
        [], batch=2,
        notes="for Packet Zen: both are two hops away (router, firewall); the log shows TTL "
              "62 and 126 on FORWARD",
        extra={"initial_ttl": {a["ttl64"]: 64, a["ttl128"]: 128}, "hops": 2}))
    i_src = a["mailserver"]
    sc.append(Scenario(
        "identd_blocked", "a mail server's identd lookup (113) dropped: the kernel retries the SYN",
        i_src, [run(ATTACKER, "nc", "-w", "4", "-s", i_src, LAN_HOST, "113", timeout=15)],
        [exp("identd.blocked", i_src)], batch=2,
        notes="Linux retransmits the SYN after 1 s and 3 s"))
    pw_src = a["powwow"]
    sc.append(Scenario(
        "powwow_dialup", "PowWow-like reconnects to 13223 and 'OPNG' heartbeats to a gone peer",
        pw_src,
        [run(ATTACKER, "nc", "-w", "2", "-s", pw_src, LAN_HOST, "13223", stdin=b"OPNG",
             timeout=10) for _ in range(3)]
        + [hping("-A", "-P", "-a", pw_src, "-s", "4391", "-k", "-p", "13223", "-d", "4",
                 "-E", str(opng), "-c", "3", "-i", "u300000", LAN_HOST)],
        [exp("dialup.leftover", pw_src)], batch=2,
        notes="the connects never get past the firewall, so OPNG only appears in the PSH/ACK "
              "heartbeats (visible in the pcap)"))
    sc.append(Scenario(
        "dialup_misc",
        "leftovers of a dial-up address's previous holder: ICQ server datagrams from UDP 4000, "
        "a SubSeven master calling 6776, a Gnutella peer trying 6346",
        a["icq"],
        [hping("-2", "-a", a["icq"], "-s", "4000", "-k", "-p", "1034", "-d", "40", "-c", "3",
               "-i", "u500000", LAN_HOST),
         run(ATTACKER, "nc", "-w", "2", "-s", a["subseven"], LAN_HOST, "6776", timeout=10),
         run(ATTACKER, "nc", "-w", "2", "-s", a["gnutella"], LAN_HOST, "6346", timeout=10)],
        [exp("dialup.leftover", a["icq"]), exp("dialup.leftover", a["subseven"]),
         exp("dialup.leftover", a["gnutella"])], batch=2,
        notes="the connects are the kernel's own SYN and its retry after 1 s"))
    d_src = a["dns"]
    sc.append(Scenario(
        "dns_stale", "datagrams from source port 53 to closed high ports (late DNS answers)",
        d_src, [hping("-2", "-a", d_src, "-s", "53", "-k", "-p", "++40123", "-d", "60", "-c",
                      "4", "-i", "u300000", LAN_HOST)],
        [exp("dns.stale", d_src)], batch=2))
    sc.append(Scenario(
        "broadcasts", "the neighbour's DHCP discover (255.255.255.255) and NetBIOS name "
        "query to the segment broadcast", NEIGHBOUR_IP,
        [run(NEIGHBOUR, "python3", UDPSEND, "--src", NEIGHBOUR_IP, "--sport", "68", "--dst",
             "255.255.255.255", "--dport", "67", "--payload", "dhcp", "--count", "2"),
         run(NEIGHBOUR, "python3", UDPSEND, "--src", NEIGHBOUR_IP, "--sport", "137", "--dst",
             OUTSIDE_BCAST, "--dport", "137", "--payload", "nbname", "--count", "2")],
        [exp("broadcast.local", NEIGHBOUR_IP), exp("broadcast.directed", NEIGHBOUR_IP)],
        batch=2))
    sc.append(Scenario(
        "arp_sweep", "the neighbour's nmap host discovery of 203.0.113.0/26 on its own segment (ARP), "
        "then a SYN probe of two ports of the firewall it found", NEIGHBOUR_IP,
        [run(NEIGHBOUR, "nmap", "-n", "-sn", "-T4", "--max-retries", "1", "203.0.113.0/26", timeout=60),
         run(NEIGHBOUR, "nmap", *NMAP_FAST, "-sS", "-p", "22,443", FW_OUT_IP, timeout=60)],
        [exp("ping.sweep", NEIGHBOUR_IP, method="arp", capture_only=True)], batch=2,
        notes="on its own Ethernet segment nmap finds hosts with ARP requests, which no firewall "
              "logs: the sweep is in the capture only (capture_only); the firewall's log holds the "
              "two probes that followed"))
    z_src = a["portzero"]
    sc.append(Scenario(
        "port_zero", "TCP and UDP to port 0", z_src,
        [hping("-S", "-a", z_src, "-p", "0", "-c", "2", LAN_HOST),
         hping("-2", "-a", z_src, "-p", "0", "-c", "2", LAN_HOST)],
        [exp("port.zero", z_src)], batch=2))
    web = a["webclient"]
    fetch = ("import http.client\n"
             "for p in ('/', '/index.html', '/'):\n"
             "    c = http.client.HTTPConnection('192.0.2.10', 80, timeout=5,"
             " source_address=('%s', 0))\n"
             "    c.request('GET', p); c.getresponse().read(); c.close()\n" % web)
    sc.append(Scenario(
        "background_noise",
        "ordinary traffic: three web fetches, two DNS lookups from the LAN, one NetBIOS lookup",
        web,
        [run(ATTACKER, "python3", "-c", fetch, timeout=20),
         run(LAN, "dig", "+time=2", "+tries=1", "@" + d_src, "www.example.com", timeout=10),
         run(LAN, "dig", "+time=2", "+tries=1", "@" + d_src, "mail.example.com", timeout=10),
         nbstat(web, LAN_HOST, 137, count=1)],
        [], forbidden=SCAN_IDS, batch=2,
        notes="web and DNS are accepted by the firewall (only in the pcap); the one NetBIOS "
              "lookup is dropped and logged; no scan, sweep or worm finding may appear"))
    return sc
