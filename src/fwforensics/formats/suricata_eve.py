"""Suricata EVE JSON (``eve.json``): one JSON object per line, ``event_type`` says which.

Every record with addresses becomes one event: ``alert`` (``rule`` = ``[gid:sid:rev] signature``,
``action`` from ``alert.action``: allowed -> accept, blocked -> drop), ``drop`` (IPS drops),
``flow`` (one event per flow: ``action`` = drop when the flow got no packet back, the way an
unanswered probe looks; accept when both sides talked), ``dns`` (``app_detail`` =
``name IN TYPE``, ``app_status`` = rcode of answers), ``http`` (``app_detail`` = the request line
as sent, absolute URL kept; ``app_status`` = status code), ``smtp``, ``tls``, ``ssh``, ``fileinfo``
and others (``app_proto`` = event type). ``stats`` records have no addresses and are counted as
skipped.
"""
from __future__ import annotations

import pyarrow as pa

from . import Format, ParseContext
from ._rows import MAX_LINE, clip, ip, iso_us, json_obj, port, proto, result, sniff_json_keys

_ALERT_ACTIONS = {"allowed": "accept", "blocked": "drop", "drop": "drop", "pass": "accept", "reject": "reject"}


def _event(o: dict, n: int, ctx: ParseContext, raw: str) -> dict | None:
    src, dst = ip(o.get("src_ip")), ip(o.get("dest_ip"))
    if src is None and dst is None:
        return None
    et = str(o.get("event_type") or "")
    pname, pnum = proto(o.get("proto"))
    r = {"line": n, "ts": iso_us(o.get("timestamp"), ctx.tz), "ts_raw": o.get("timestamp") if isinstance(o.get("timestamp"), str) else None,
         "source_file": ctx.source_file, "format": "suricata_eve", "src_ip": src, "dst_ip": dst,
         "proto": pname, "proto_num": pnum, "raw": raw, "action": "other",
         "ip_version": 6 if ":" in (src or dst or "") else 4,
         "in_if": o.get("in_iface") if isinstance(o.get("in_iface"), str) else None}
    sp, dp = port(o.get("src_port")), port(o.get("dest_port"))
    if pname in ("icmp", "ipv6-icmp"):
        r["icmp_type"], r["icmp_code"] = port(o.get("icmp_type")), port(o.get("icmp_code"))
    else:
        r["src_port"], r["dst_port"] = sp, dp
    ap = o.get("app_proto")
    if isinstance(ap, str) and ap not in ("failed", "unknown"):
        r["app_proto"] = ap
    a = o.get("alert") if isinstance(o.get("alert"), dict) else None
    if et == "alert" and a:
        r["rule"] = clip(f"[{a.get('gid', 1)}:{a.get('signature_id')}:{a.get('rev', 0)}] {a.get('signature', '')}", 512)
        r["action"] = _ALERT_ACTIONS.get(str(a.get("action", "")).lower(), "other")
    elif et == "drop":
        r["action"] = "drop"
        d = o.get("drop") if isinstance(o.get("drop"), dict) else {}
        r["ttl"] = port(d.get("ttl")) if d.get("ttl") is not None else None
        r["ip_id"] = d.get("ipid") if isinstance(d.get("ipid"), int) else None
        r["tcp_window"] = d.get("window") if isinstance(d.get("window"), int) else None
        flags = [f for f, k in (("URG", "urg"), ("ACK", "ack"), ("PSH", "psh"), ("RST", "rst"), ("SYN", "syn"), ("FIN", "fin")) if d.get(k)]
        if pname == "tcp" and d:
            r["tcp_flags"] = " ".join(flags)
    elif et == "flow":
        f = o.get("flow") if isinstance(o.get("flow"), dict) else {}
        back = f.get("pkts_toclient")
        if isinstance(back, int):
            r["action"] = "drop" if back == 0 else "accept"
        r["rule"] = clip(f"flow {f.get('state', '?')} ({f.get('reason', '?')})", 128)
        b = f.get("bytes_toserver")
        if isinstance(b, int):
            r["app_status"] = f.get("state") if isinstance(f.get("state"), str) else None
    if et == "dns" and isinstance(o.get("dns"), dict):
        d = o["dns"]
        r["app_proto"] = "dns"
        q = d.get("rrname")
        qt = d.get("rrtype")
        if q is None and isinstance(d.get("queries"), list) and d["queries"] and isinstance(d["queries"][0], dict):
            q, qt = d["queries"][0].get("rrname"), d["queries"][0].get("rrtype")
        if q is not None:
            r["app_detail"] = clip(f"{q} IN {qt or '?'}")
        if d.get("type") in ("answer", "response") or "rcode" in d:
            r["app_status"] = d.get("rcode")
    h = o.get("http") if isinstance(o.get("http"), dict) else None
    if h and et in ("http", "alert", "fileinfo"):
        r["app_proto"] = "http"
        if h.get("http_method"):
            r["app_detail"] = clip(f"{h.get('http_method')} {h.get('url', '')} {h.get('protocol', '')}".strip())
        if h.get("status") is not None:
            r["app_status"] = str(h.get("status"))
    s = o.get("smtp") if isinstance(o.get("smtp"), dict) else None
    if s and et == "smtp":
        r["app_proto"] = "smtp"
        if s.get("helo"):
            r["app_detail"] = clip(f"HELO {s.get('helo')}")
        if s.get("mail_from"):
            r["app_detail"] = clip(f"MAIL FROM:{s.get('mail_from')}")
    if et == "tls" and isinstance(o.get("tls"), dict):
        r["app_proto"] = "tls"
        r["app_detail"] = clip(o["tls"].get("sni"))
    if et == "ssh" and isinstance(o.get("ssh"), dict):
        r["app_proto"] = "ssh"
        c = o["ssh"].get("client")
        r["app_detail"] = clip(c.get("software_version")) if isinstance(c, dict) else None
    if r.get("app_proto") is None and et not in ("alert", "flow", "drop", "netflow"):
        r["app_proto"] = et or None
    return r


class SuricataEve(Format):
    name = "suricata_eve"
    description = "Suricata EVE JSON (eve.json): alert, drop, flow, dns, http, smtp, tls, ssh records"
    example = ('{"timestamp":"2018-07-05T15:07:20.910626-0400","flow_id":904992230150281,"event_type":"alert",'
               '"src_ip":"192.168.86.85","src_port":55641,"dest_ip":"192.168.156.70","dest_port":443,"proto":"TCP",'
               '"alert":{"action":"allowed","gid":1,"signature_id":2024833,"rev":3,"signature":"ET POLICY ..."}}')
    priority = 10

    def sniff(self, sample: list[str]) -> float:
        return 0.95 * sniff_json_keys(sample, {"timestamp", "event_type"})

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        rows, bad, skipped = [], [], 0
        for i, line in enumerate(lines.to_pylist()):
            n = first_line + i
            if line is None or not line.strip():
                skipped += 1
                continue
            if len(line) > MAX_LINE:
                bad.append((n, f"line longer than {MAX_LINE} characters"))
                continue
            o = json_obj(line)
            if o is None:
                bad.append((n, "not valid JSON"))
                continue
            try:
                r = _event(o, n, ctx, line)
            except (ValueError, TypeError, AttributeError) as e:
                bad.append((n, f"unreadable EVE record: {type(e).__name__}"))
                continue
            if r is None:
                if "event_type" in o:
                    skipped += 1  # stats and other records without addresses
                else:
                    bad.append((n, "JSON without event_type or addresses"))
                continue
            rows.append(r)
        return result(rows, bad, skipped)


FORMAT = SuricataEve()
