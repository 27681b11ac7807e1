"""Snort (and Suricata's compatible) text alerts: ``alert_fast`` one-liners and ``alert_full``
multi-line blocks, auto-told apart line by line.

alert_fast::

    05/30-19:09:10.917356  [Drop] [**] [1:527:8] BAD-TRAFFIC same SRC/DST [**] [Classification: ...] [Priority: 2] {UDP} 0.0.0.0:68 -> 255.255.255.255:67

alert_full (one block per alert; the IP and transport lines give TTL, ID, lengths, flags)::

    [**] [1:1000006:0] TCP connection [**]
    [Classification: Potentially Bad Traffic] [Priority: 2]
    09/04-21:53:15.301504 10.100.20.59:57263 -> 10.100.10.190:22
    TCP TTL:127 TOS:0x0 ID:61472 IpLen:20 DgmLen:40 DF
    ***A**** Seq: 0x68940D74  Ack: 0xBC811F16  Win: 0x80E  TcpLen: 20

``rule`` = ``[gid:sid:rev] message``; ``action`` = drop for ``[Drop]``/``[wDrop]`` lines and
``other`` otherwise (an IDS alert is not a verdict). Snort writes no year unless run with
``-y``: the year is the one given with ``--year``, else the file's modification year.
A block's event has the line number of its ``[**]`` header; its other lines count as skipped.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pyarrow as pa

from ..schema import TCP_FLAG_BITS
from . import Format, ParseContext
from ._rows import MAX_LINE, clip, dt_us, ip, port, proto, result

_TS = r"(?P<mon>\d\d)/(?P<day>\d\d)(?:/(?P<yr>\d\d))?-(?P<hms>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,6}))?"
_ADDR = r"(?P<src>[0-9A-Fa-f:.]+?)(?::(?P<sp>\d+))? -> (?P<dst>[0-9A-Fa-f:.]+?)(?::(?P<dp>\d+))?"
_FAST = re.compile(
    r"^" + _TS + r"\s+(?:\[(?P<act>[A-Za-z]+)\]\s+)?\[\*\*\]\s+\[(?P<gid>\d+):(?P<sid>\d+):(?P<rev>\d+)\]\s+"
    r"(?P<msg>.*?)\s+\[\*\*\]\s*(?:\[Classification:\s*(?P<cls>[^\]]*)\]\s*)?(?:\[Priority:\s*(?P<prio>\d+)\]\s*)?"
    r"\{(?P<proto>[^}]+)\}\s+" + _ADDR + r"\s*$")
_HEAD = re.compile(r"^(?:\[(?P<act>[A-Za-z]+)\]\s+)?\[\*\*\]\s+\[(?P<gid>\d+):(?P<sid>\d+):(?P<rev>\d+)\]\s+(?P<msg>.*?)\s+\[\*\*\]\s*$")
_WHEN = re.compile(r"^" + _TS + r"\s+" + _ADDR + r"\s*$")
_IPLINE = re.compile(r"^(?P<proto>[A-Z0-9]+|PROTO:?\d+)\s+TTL:(?P<ttl>\d+)\s+TOS:(?P<tos>0x[0-9A-Fa-f]+)\s+ID:(?P<id>\d+)\s+"
                     r"IpLen:(?P<iplen>\d+)\s+DgmLen:(?P<dgm>\d+)(?P<flags>(?:\s+(?:DF|MF|RB))*)"
                     r"(?:\s+Frag Offset:\s*0x(?P<fo>[0-9A-Fa-f]+)\s+Frag Size:\s*0x[0-9A-Fa-f]+)?")
_TCPLINE = re.compile(r"^(?P<f>[*CEUAPRSF12]{8})\s+Seq:\s*0x(?P<seq>[0-9A-Fa-f]+)\s+Ack:\s*0x(?P<ack>[0-9A-Fa-f]+)\s+"
                      r"Win:\s*0x(?P<win>[0-9A-Fa-f]+)\s+TcpLen:\s*(?P<tl>\d+)(?:\s+UrgPtr:\s*0x(?P<urg>[0-9A-Fa-f]+))?")
_UDPLINE = re.compile(r"^Len:\s*(?P<len>\d+)\s*$")
_ICMPLINE = re.compile(r"^Type:\s*(?P<t>\d+)\s+Code:\s*(?P<c>\d+)(?:\s+ID:\s*(?P<id>\d+)\s+Seq:\s*(?P<seq>\d+))?")
_FLAGPOS = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"]
_FLAGCHR = "12UAPRSF"


def _year(ctx: ParseContext, mon: int) -> int:
    if ctx.year:
        return ctx.year
    ref = datetime.fromtimestamp(ctx.reference_time, timezone.utc) if ctx.reference_time else datetime.now(timezone.utc)
    return ref.year - (1 if mon > ref.month else 0)


def _ts(m: re.Match, ctx: ParseContext) -> tuple[int | None, str]:
    raw = m.group(0).split()[0] if m.group(0) else ""
    try:
        mon, day = int(m["mon"]), int(m["day"])
        year = 2000 + int(m["yr"]) if m["yr"] else _year(ctx, mon)
        h, mi, s = (int(x) for x in m["hms"].split(":"))
        us = int((m["frac"] or "0").ljust(6, "0"))
        return dt_us(datetime(year, mon, day, h, mi, s, us), ctx.tz), raw
    except (ValueError, TypeError):
        return None, raw


def _fill_addr(r: dict, m: re.Match) -> bool:
    src, dst = ip(m["src"]), ip(m["dst"])
    if src is None or dst is None:
        return False
    r["src_ip"], r["dst_ip"] = src, dst
    r["ip_version"] = 6 if ":" in src else 4
    r["src_port"], r["dst_port"] = port(m["sp"]), port(m["dp"])
    return True


def _head(r: dict, m: re.Match) -> None:
    r["rule"] = clip(f"[{m['gid']}:{m['sid']}:{m['rev']}] {m['msg']}", 512)
    act = (m["act"] or "").lower()
    r["action"] = "drop" if act in ("drop", "wdrop", "block", "sdrop") else "other"
    r["app_detail"] = None


class Snort(Format):
    name = "snort"
    description = "Snort/Suricata alert_fast and alert_full text alerts"
    example = ("05/30-19:09:10.917356  [**] [1:527:8] BAD-TRAFFIC same SRC/DST [**] [Classification: Potentially Bad "
               "Traffic] [Priority: 2] {UDP} 0.0.0.0:68 -> 255.255.255.255:67")

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip()][:400]
        if not lines:
            return 0.0
        fast = sum(1 for s in lines if _FAST.match(s))
        full = sum(1 for s in lines if _HEAD.match(s))
        if fast:
            return 0.5 + 0.5 * fast / len(lines)
        if full:
            return min(1.0, 0.6 + 0.4 * full * 5 / len(lines))
        return 0.0

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        st = ctx.state
        rows, bad, skipped = [], [], 0
        blk = st.pop("block", None)  # the alert_full block being read: dict or None

        def flush(_complete: bool):
            nonlocal blk
            if blk is None:
                return
            if "src_ip" in blk:
                rows.append(blk)
            else:
                bad.append((blk["line"], "alert block without its address line"))
            blk = None

        for i, line in enumerate(lines.to_pylist()):
            n = first_line + i
            if line is None or not line.strip():
                if blk is not None:
                    flush(True)
                skipped += 1
                continue
            if len(line) > MAX_LINE:
                bad.append((n, f"line longer than {MAX_LINE} characters"))
                continue
            s = line.strip()
            m = _FAST.match(s)
            if m:
                flush(True)
                r = {"line": n, "source_file": ctx.source_file, "format": "snort", "raw": line}
                r["ts"], r["ts_raw"] = _ts(m, ctx)
                _head(r, m)
                if not _fill_addr(r, m):
                    bad.append((n, "alert with unreadable addresses"))
                    continue
                r["proto"], r["proto_num"] = proto(m["proto"])
                if r["proto"] in ("icmp", "ipv6-icmp"):
                    r["src_port"] = r["dst_port"] = None
                rows.append(r)
                continue
            m = _HEAD.match(s)
            if m:
                flush(True)
                blk = {"line": n, "source_file": ctx.source_file, "format": "snort", "raw": line}
                _head(blk, m)
                continue
            if blk is None:
                if s.startswith(("[Xref", "[Classification", "[Priority", "TCP Options", "(", "=+=")):
                    skipped += 1
                else:
                    bad.append((n, "not a Snort alert line"))
                continue
            skipped += 1  # a line inside a block
            blk["raw"] = blk["raw"] + "\n" + line
            m = _WHEN.match(s)
            if m and "src_ip" not in blk:
                blk["ts"], blk["ts_raw"] = _ts(m, ctx)
                if not _fill_addr(blk, m):
                    bad.append((blk["line"], "alert block with unreadable addresses"))
                    skipped -= 1
                    blk = None
                continue
            m = _IPLINE.match(s)
            if m and "src_ip" in blk and "ttl" not in blk:
                blk["proto"], blk["proto_num"] = proto(m["proto"].replace("PROTO:", "").replace("PROTO", ""))
                blk["ttl"], blk["ip_id"] = int(m["ttl"]), int(m["id"])
                blk["ip_tos"] = int(m["tos"], 16)
                blk["ip_len"] = int(m["dgm"])
                fl = (m["flags"] or "").split()
                blk["df"], blk["mf"], blk["ce"] = "DF" in fl, "MF" in fl, "RB" in fl
                blk["frag_offset"] = int(m["fo"], 16) if m["fo"] else 0
                if blk["proto"] in ("icmp", "ipv6-icmp"):
                    blk["src_port"] = blk["dst_port"] = None
                if blk["proto"] not in ("tcp", "udp", "icmp", "ipv6-icmp"):
                    flush(True)
                continue
            if "ttl" in blk:
                m = _TCPLINE.match(s)
                if m and blk["proto"] == "tcp":
                    names = [_FLAGPOS[k] for k, ch in enumerate(m["f"]) if ch == _FLAGCHR[k]]
                    blk["tcp_flags"] = " ".join(names)
                    blk["tcp_flag_bits"] = sum(TCP_FLAG_BITS[x] for x in names)
                    blk["tcp_seq"], blk["tcp_ack"] = int(m["seq"], 16), int(m["ack"], 16)
                    blk["tcp_window"] = int(m["win"], 16)
                    blk["tcp_urgp"] = int(m["urg"], 16) if m["urg"] else 0
                    flush(True)
                    continue
                m = _UDPLINE.match(s)
                if m and blk["proto"] == "udp":
                    blk["udp_len"] = int(m["len"]) + 8  # snort prints the payload length
                    blk["payload_len"] = int(m["len"])
                    flush(True)
                    continue
                m = _ICMPLINE.match(s)
                if m and blk["proto"] in ("icmp", "ipv6-icmp"):
                    blk["icmp_type"], blk["icmp_code"] = int(m["t"]), int(m["c"])
                    if m["id"]:
                        blk["icmp_id"], blk["icmp_seq"] = int(m["id"]), int(m["seq"])
                    flush(True)
                    continue
        if blk is not None:
            # unfinished block at the end of this batch: carry it over; its header line is
            # accounted for in the batch that completes it
            st["block"] = blk
        return result(rows, bad, skipped)

    def end(self, ctx: ParseContext):
        """An alert_full block cut off by the end of the input: a record when its address line was
        read (what follows only adds header details), unreadable otherwise. Its first line was
        left unaccounted when carried over; the lines inside it were counted as skipped."""
        blk = ctx.state.pop("block", None)
        if blk is None:
            return None
        if "src_ip" in blk:
            return result([blk], [], 0)
        return result([], [(blk["line"], "alert block cut off by the end of the input")], 0)


FORMAT = Snort()
