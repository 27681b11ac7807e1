"""Drafting a polite abuse report for one source address.

The draft says what was seen and when (with the time zone), quotes the evidence lines,
explains why it matters, and reminds the reader (and the recipient) that the owner of the
address is most likely a victim too: a compromised machine, a forged source address or a
shared address. All wording is fwforensics' own.
"""
from __future__ import annotations

from typing import Any

from . import common as C
from .text import clean
from .who import lookup

EVIDENCE_LINES = 20


def _records_of(con, src: str, limit: int) -> tuple[list[dict], dict]:
    cur = con.execute("""SELECT source_file, line, ts, raw FROM events WHERE src_ip = ?
                         ORDER BY ts, source_file, line LIMIT ?""", [src, limit])
    rows = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
    cur = con.execute("""SELECT count(*) AS n, min(ts) AS first, max(ts) AS last, count(DISTINCT dst_ip) AS hosts,
                                count(DISTINCT dst_port) AS ports FROM events WHERE src_ip = ?""", [src])
    agg = dict(zip([d[0] for d in cur.description], cur.fetchall()[0]))
    return rows, agg


def draft(rep: dict[str, Any], con, src: str, contact: dict | None = None, contact_error: str | None = None,
          reporter: str = "", tz_note: str = "UTC") -> str:
    """The text of an abuse report about ``src`` (plain text, ready to paste into an e-mail)."""
    info = lookup(src)
    rows, agg = _records_of(con, src, EVIDENCE_LINES)
    fs = [f for f in rep.get("findings") or [] if f.get("src") == src and f.get("id") != "verdict"]
    out: list[str] = []
    to = ", ".join((contact or {}).get("abuse_emails") or []) or "(abuse contact not looked up: see below)"
    net = (contact or {}).get("name") or info.get("as_name") or "your network"
    out.append(f"To: {clean(to)}")
    out.append(f"Subject: Unsolicited traffic from {src} ({agg['n']} record(s), "
               f"{C.fmt_ts(agg['first'])[:10]})")
    out.append("")
    out.append("Hello,")
    out.append("")
    out.append(f"Our firewall logged traffic from {src}, which your records show as part of "
               f"{clean(net)}. We are writing so that you can look into it; we are not asking for anything "
               "beyond that.")
    out.append("")
    out.append("What we saw")
    out.append(f"  - {agg['n']} record(s) from {src} to {agg['hosts']} of our address(es), "
               f"{agg['ports']} distinct destination port(s).")
    out.append(f"  - First: {C.fmt_ts(agg['first'])}  Last: {C.fmt_ts(agg['last'])}  "
               f"(all times UTC; logs without a zone were read as {clean(tz_note)}).")
    for f in fs:
        out.append(f"  - {clean(f.get('id'))}: {clean(f.get('summary'))}")
    if not agg["n"]:
        out.append("  - (no record from this address is in the logs given)")
    out.append("")
    out.append("Why it matters")
    if fs:
        seen = set()
        for f in fs:
            if f.get("explanation") and f["id"] not in seen:
                seen.add(f["id"])
                out.append(f"  {clean(f['explanation'])}")
    else:
        out.append("  Unrequested connection attempts like these usually come from automated scanning "
                   "that looks for services to break into.")
    out.append("")
    out.append("A note of caution")
    out.append("  The holder of this address is quite possibly not the person behind it: the machine may "
               "have been taken over, the source address may be forged, or the address may be shared "
               "(NAT, a proxy, a dynamic pool). Please treat this as a heads-up, not an accusation. If you "
               "find a compromised machine, its owner will want to know too.")
    out.append("")
    out.append(f"Log lines (first {min(len(rows), EVIDENCE_LINES)} of {agg['n']}, unchanged apart from "
               "control characters shown as \\xNN)")
    for r in rows:
        out.append(f"  {clean(r['raw'], 1000)}")
    out.append("")
    out.append("Thank you for your time.")
    if reporter:
        out.append(clean(reporter))
    out.append("")
    out.append("-- ")
    who_bits = [f"address class: {info.get('class_name')}"]
    if info.get("country"):
        who_bits.append(f"country: {info['country']}")
    if info.get("as_network"):
        who_bits.append(f"network: {info['as_network']}")
    out.append("Drafted with fwforensics; " + "; ".join(who_bits))
    if contact_error:
        out.append(f"Abuse contact: {clean(contact_error)}")
    elif contact:
        out.append(f"Abuse contact from RDAP ({'cached' if contact.get('cached') else 'live'}): "
                   f"{clean(contact.get('handle') or '')} {clean(contact.get('range') or '')}".rstrip())
    # what the verdict found about this source: a forged decoy, or a host of our own
    verdict = next((f for f in rep.get("findings") or [] if f.get("id") == "verdict"), None)
    vd = (verdict or {}).get("details") or {}
    forger = (vd.get("forged_decoys") or {}).get(src)
    if forger:
        out.insert(0, f"NOTE (not part of the report): {src} looks like a decoy, forged by "
                      f"{clean(forger)} in a decoy scan (see scan.decoy): its owner most likely sent "
                      f"nothing, and this report would reach the wrong people. Write about "
                      f"{clean(forger)} instead.\n")
    if src in (vd.get("scanning_segment") or []):
        out.insert(0, f"NOTE (not part of the report): {src} swept the network segment the capture was taken "
                      "on (see the verdict), so it is on that segment: a machine of yours, or a neighbour's on a "
                      "shared segment. Find out which before writing to anyone; its provider is likely yours.\n")
    elif src in (vd.get("scanning_inside") or []) or src in (vd.get("infected_inside") or []):
        out.insert(0, f"NOTE (not part of the report): {src} is a host of your own network (see the verdict): "
                      "it scanned others or behaved like a worm. Check that machine for malware and who uses it "
                      "before writing to anyone.\n")
    if info.get("bogon"):
        out.insert(0, f"NOTE (not part of the report): {src} is a {info.get('class_name')} address that is not "
                      "routed on the Internet; nobody outside your network can act on a report about it.\n")
    return "\n".join(out) + "\n"
