"""Zeek (Bro) logs: ``conn.log`` above all, as TSV (with its ``#fields`` header) or JSON lines.

One event per connection (per record for the other Zeek logs: weird, dns, http, ssh, ssl and
any log with ``id.orig_h``/``id.resp_h``). The originator is ``src``, the responder ``dst``.

``action`` from ``conn_state`` (Zeek has no verdict; this says what the network did):

=========  ===============================================================  =========
state      meaning                                                          action
=========  ===============================================================  =========
S0         attempt seen, no reply at all (filtered port, dead host, scan)   drop
REJ        attempt rejected (RST answered the SYN: closed port)             reject
RSTOS0     originator sent SYN then RST, never a SYN-ACK (half-open scan)   drop
SH         originator sent SYN then FIN, no SYN-ACK                         drop
S1 SF S2   established (SF: closed normally; S2/S3: half-closed)            accept
S3 RSTO    established, then reset by one side                              accept
RSTR
RSTRH      responder SYN-ACK then RST, originator's SYN never seen          other
SHR        responder SYN-ACK then FIN, originator's SYN never seen          other
OTH        no SYN seen (midstream traffic)                                  other
=========  ===============================================================  =========

For ICMP Zeek stores the type in ``id.orig_p`` and the code in ``id.resp_p``; they go to
``icmp_type``/``icmp_code`` and the ports stay null. ``conn_state`` is kept in ``app_status``,
``service`` in ``app_proto``, the originator's payload bytes in ``payload_len`` and the
history in ``rule`` (``conn S0 history S``).
"""
from __future__ import annotations

import pyarrow as pa

from . import Format, ParseContext
from ._rows import MAX_LINE, clip, epoch_us, ip, iso_us, json_obj, port, proto, result, sniff_json_keys

CONN_ACTIONS = {"S0": "drop", "REJ": "reject", "RSTOS0": "drop", "SH": "drop", "S1": "accept", "SF": "accept",
                "S2": "accept", "S3": "accept", "RSTO": "accept", "RSTR": "accept", "RSTRH": "other",
                "SHR": "other", "OTH": "other"}
_FIRST_FLAG = {"S": "SYN", "F": "FIN", "R": "RST", "A": "ACK", "D": None}


def _event(o: dict, n: int, ctx: ParseContext, kind: str | None, raw: str) -> dict | None:
    src, dst = ip(o.get("id.orig_h")), ip(o.get("id.resp_h"))
    if src is None and dst is None:
        return None
    ts = o.get("ts")
    ts_us = epoch_us(ts) if not isinstance(ts, str) or ts.replace(".", "", 1).isdigit() else iso_us(ts, ctx.tz)
    pname, pnum = proto(o.get("proto"))
    r = {"line": n, "ts": ts_us, "ts_raw": str(ts) if ts is not None else None, "source_file": ctx.source_file,
         "format": "zeek_conn", "src_ip": src, "dst_ip": dst, "raw": raw,
         "ip_version": 6 if (src or dst or "").count(":") else 4}
    if pname:
        r["proto"], r["proto_num"] = pname, pnum
    sp, dp = port(o.get("id.orig_p")), port(o.get("id.resp_p"))
    if pname in ("icmp", "ipv6-icmp"):
        r["icmp_type"], r["icmp_code"] = sp, dp
    else:
        r["src_port"], r["dst_port"] = sp, dp
    state = o.get("conn_state")
    if state not in (None, "-"):
        state = str(state)
        r["action"] = CONN_ACTIONS.get(state, "other")
        r["app_status"] = state
        hist = o.get("history")
        hist = None if hist in (None, "-", "(empty)") else str(hist)
        r["rule"] = f"conn {state}" + (f" history {hist}" if hist else "")
        if pname == "tcp" and hist:
            r["tcp_flags"] = _FIRST_FLAG.get(hist[0])
            if r["tcp_flags"]:
                r["tcp_flag_bits"] = {"SYN": 2, "FIN": 1, "RST": 4, "ACK": 16}[r["tcp_flags"]]
        ob = o.get("orig_bytes")
        if isinstance(ob, (int, float)) or (isinstance(ob, str) and ob.isdigit()):
            r["payload_len"] = min(int(ob), 2**31 - 1)
        svc = o.get("service")
        if svc not in (None, "-", "(empty)"):
            r["app_proto"] = str(svc)
    else:
        r["action"] = "other"
        if kind == "dns" or "qtype_name" in o or "query" in o:
            r["app_proto"] = "dns"
            q = o.get("query")
            if q not in (None, "-"):
                r["app_detail"] = f"{q} {o.get('qclass_name') or 'IN'} {o.get('qtype_name') or '?'}"
            rc = o.get("rcode_name")
            r["app_status"] = None if rc in (None, "-") else str(rc)
        elif kind == "http" or "method" in o:
            r["app_proto"] = "http"
            uri = o.get("uri")
            if o.get("method") not in (None, "-"):
                r["app_detail"] = clip(f"{o.get('method')} {uri if uri not in (None, '-') else ''} HTTP/{o.get('version') or '1.1'}")
            sc = o.get("status_code")
            r["app_status"] = None if sc in (None, "-") else str(sc)
        elif kind == "weird" or "name" in o and "addl" in o:
            r["rule"] = f"weird {o.get('name')}"
            r["app_detail"] = clip(o.get("name"))
        else:
            eng = o.get("bro_engine") or o.get("_path") or kind
            if eng:
                r["app_proto"] = str(eng).lower()
            for k in ("client", "server_name", "version"):
                if o.get(k) not in (None, "-"):
                    r["app_detail"] = clip(o.get(k))
                    break
    return r


def _tsv_value(v: str, unset: str, empty: str):
    if v == unset:
        return None
    if v == empty:
        return ""
    return v


class ZeekConn(Format):
    name = "zeek_conn"
    description = "Zeek conn.log (TSV with #fields header, or JSON lines); other Zeek logs with id.orig_h too"
    example = ("1541117137.618695\tCYtJYz4gNk3t5ZEt2\t172.16.9.233\t49159\t172.16.9.5\t88\ttcp\tkrb_tcp\t0.013561\t"
               "244\t292\tRSTR\tT\tT\t0\tShADdFar\t4\t416\t4\t464\t-\t6")
    priority = 10

    def sniff(self, sample: list[str]) -> float:
        for s in sample[:20]:
            if s.startswith("#fields\t") and "id.orig_h" in s:
                return 1.0
            if s.startswith("#path\t") or s.startswith("#separator \\x09"):
                return 0.9
        return 0.95 * sniff_json_keys(sample, {"id.orig_h", "id.resp_h"}, {"ts", "uid"})

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        st = ctx.state
        rows, bad, skipped = [], [], 0
        for i, line in enumerate(lines.to_pylist()):
            n = first_line + i
            if line is None or not line.strip():
                skipped += 1
                continue
            if len(line) > MAX_LINE:
                bad.append((n, f"line longer than {MAX_LINE} characters"))
                continue
            if line.startswith("#"):
                key, _, val = line.partition("\t")
                if line.startswith("#separator"):
                    try:
                        sep = line[len("#separator"):].strip().encode("latin-1", "replace").decode("unicode_escape")
                    except (UnicodeDecodeError, ValueError):
                        sep = "\t"
                    st["sep"] = sep or "\t"
                elif key == "#fields":
                    st["fields"] = line.split(st.get("sep", "\t"))[1:]
                elif key == "#path":
                    st["path"] = val.strip()
                elif key == "#unset_field":
                    st["unset"] = val
                elif key == "#empty_field":
                    st["empty"] = val
                skipped += 1
                continue
            if line.lstrip().startswith("{"):
                o = json_obj(line)
                if o is None:
                    bad.append((n, "not valid JSON"))
                    continue
                kind = o.get("_path")
            else:
                fields = st.get("fields")
                if not fields:
                    bad.append((n, "Zeek TSV record before any #fields header"))
                    continue
                vals = line.split(st.get("sep", "\t"))
                if len(vals) != len(fields):
                    bad.append((n, f"{len(vals)} columns where the #fields header has {len(fields)}"))
                    continue
                unset, empty = st.get("unset", "-"), st.get("empty", "(empty)")
                o = {k: _tsv_value(v, unset, empty) for k, v in zip(fields, vals)}
                kind = st.get("path")
            try:
                r = _event(o, n, ctx, kind, line)
            except (ValueError, TypeError, KeyError) as e:
                bad.append((n, f"unreadable Zeek record: {type(e).__name__}"))
                continue
            if r is None:
                bad.append((n, "Zeek record without id.orig_h/id.resp_h addresses"))
                continue
            rows.append(r)
        return result(rows, bad, skipped)


FORMAT = ZeekConn()
