"""Mail server logs: Postfix (``postfix/smtpd``), Sendmail and Exim, in syslog form (Exim's
own ``mainlog``/``rejectlog`` lines too).

Events (``app_proto`` = smtp, ``src_ip`` = the SMTP client):

* relaying refused: Postfix ``NOQUEUE: reject: RCPT from host[ip]: 554 5.7.1 <x>: Relay access
  denied``, Sendmail ``ruleset=check_rcpt ... relay=host [ip] ... reject=550 5.7.1 <x>... Relaying
  denied``, Exim ``H=host [ip] ... rejected RCPT <x>: relay not permitted`` ->
  ``app_detail`` = ``RCPT TO:<x>``, ``app_status`` = the reply with ``relay denied`` in it,
  ``action`` = reject;
* address probing: Postfix ``reject: VRFY from host[ip]``, Sendmail ``[ip]: VRFY x`` /
  ``EXPN x`` (the command as the client typed it, ``vrfy`` too), Exim ``rejected VRFY``/``EXPN``, and the per-session command counts of Postfix
  ``disconnect from host[ip] ... vrfy=1/2 expn=...`` -> ``app_detail`` = ``VRFY x`` (or
  ``session vrfy=1/2 ...``);
* Exim ``unqualified verify rejected: <root>`` -> ``VRFY root``; Exim ``SMTP syntax error in
  "<command>" H=... <reason>`` (and ``protocol error``, ``dropped: too many syntax or protocol
  errors (last command was "...")``) -> ``app_detail`` = the quoted command line in full (so an
  over-long argument shows its length), ``app_status`` = the reason;
* over-long commands: Postfix ``... line too long``/``too many errors``, Sendmail ``Command too
  long``/``Possible SMTP RCPT flood`` and ``[ip]: SMTP violation, input too long: 3007`` ->
  ``app_status`` says so;
* other ``reject``/``connect from``/``lost connection`` lines -> events with the text in ``app_status``.

Lines of other programs, and mail lines without a client address (queue manager, delivery
agents), are counted as skipped.
"""
from __future__ import annotations

import re

import pyarrow as pa

from . import Format, ParseContext
from ._rows import Lines, base, clip, ip

_PF_CLIENT = re.compile(r"(?:from|client=)\s*(?P<host>[^\s\[\]]*)\[(?P<ip>[0-9A-Fa-f:.]+)\](?::(?P<port>\d+))?")
_PF_REJECT = re.compile(r"reject: (?P<cmd>RCPT|MAIL|VRFY|EXPN|HELO|EHLO|CONNECT|DATA|END-OF-MESSAGE|ETRN|AUTH) from "
                        r"[^\s\[\]]*\[(?P<ip>[0-9A-Fa-f:.]+)\](?::\d+)?: (?P<reply>.*?)(?:; from=<(?P<from>[^>]*)>)?"
                        r"(?: to=<(?P<to>[^>]*)>)?(?: proto=\S+)?(?: helo=<[^>]*>)?\s*$")
_PF_DISCONNECT = re.compile(r"disconnect from [^\s\[\]]*\[(?P<ip>[0-9A-Fa-f:.]+)\](?::\d+)?(?P<counts>.*)$")
_SM_RELAY = re.compile(r"ruleset=check_rcpt, arg1=<?(?P<to>[^>,]*)>?, relay=(?P<relay>[^,]*?)\[(?P<ip>[0-9A-Fa-f:.]+)\][^,]*, "
                       r"reject=(?P<reply>.*)$")
_SM_CMD = re.compile(r"(?:^|: )(?P<host>[^\s\[\]]*) ?\[(?P<ip>[0-9A-Fa-f:.]+)\](?: \(may be forged\))?: (?P<cmd>(?i:VRFY|EXPN)) (?P<arg>.*?)(?P<rej> \[rejected\])?$")
_SM_TOOLONG = re.compile(r"(?:^|: )(?P<host>[^\s\[\]]*) ?\[(?P<ip>[0-9A-Fa-f:.]+)\](?: \(may be forged\))?: SMTP violation, input too long: (?P<n>\d+)")
_SM_LONG = re.compile(r"(?P<what>Command too long|Possible SMTP RCPT flood|too many bad commands|Possible SMTP relaying attempt|"
                      r"lost input channel|Syntax error)[^\[]*\[?(?P<ip>\d+\.\d+\.\d+\.\d+|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]+)?\]?")
_SM_RELAYHOST = re.compile(r"relay=[^\[\s]*\s?\[(?P<ip>[0-9A-Fa-f:.]+)\]")
_EXIM_H = re.compile(r"\bH=(?:\S+ )?(?:\([^)]*\) )?\[(?P<ip>[0-9A-Fa-f:.]+)\](?::(?P<port>\d+))?")
_EXIM_REJ = re.compile(r"rejected (?P<cmd>RCPT|VRFY|EXPN|MAIL|EHLO|HELO|connection)\s*(?P<arg>[^:]*?)(?::\s*(?P<why>.*))?$")
_EXIM_UNQUAL = re.compile(r"^unqualified verify rejected: <(?P<arg>[^>]*)>")
_EXIM_SYNTAX = re.compile(r'^SMTP (?P<kind>syntax|protocol) error in "(?P<cmd>.*?)" H=(?:\S+ )?(?:\([^)]*\) )?\[[^\]]*\]'
                          r'(?::\d+)?(?: I=\[[^\]]*\](?::\d+)?)?(?: U=\S+)?\s*(?P<why>.*)$')
_EXIM_DROPPED = re.compile(r'^SMTP call from .*? dropped: (?P<why>too many [a-z ]*errors)(?: \(last command was "(?P<cmd>.*)")?')
_RELAY_WORDS = re.compile(r"(?i)relay(?:ing)? (?:access |temporarily )?(?:denied|not permitted|prohibited)|not permitted to relay|"
                          r"unable to relay|relaying denied|we do not relay|relay not permitted")

_MAIL_PROGS = ("postfix", "sendmail", "sm-mta", "exim", "exim4", "smtpd", "qmail", "courier", "opensmtpd", "mail")


def _prog_ok(prog: str) -> bool:
    p = prog.lower()
    return any(p.startswith(x) for x in _MAIL_PROGS)


def parse_message(msg: str, r: dict) -> bool:
    m = _PF_REJECT.search(msg)
    if m:
        r["src_ip"] = ip(m["ip"])
        cmd, reply = m["cmd"], m["reply"]
        if cmd == "RCPT":
            r["app_detail"] = clip(f"RCPT TO:<{m['to'] or ''}>")
        elif cmd in ("VRFY", "EXPN"):
            r["app_detail"] = clip(f"{cmd} {m['to'] or ''}".strip())
        else:
            r["app_detail"] = cmd
        r["app_status"] = clip(("relay denied: " if _RELAY_WORDS.search(reply) else "") + reply, 512)
        r["action"] = "reject"
        r["rule"] = "reject"
        return r["src_ip"] is not None
    m = _PF_DISCONNECT.search(msg)
    if m:
        r["src_ip"] = ip(m["ip"])
        counts = m["counts"].strip()
        r["app_detail"] = clip("session " + counts) if counts else "session"
        r["rule"] = "disconnect"
        return r["src_ip"] is not None
    m = _SM_RELAY.search(msg)
    if m:
        r["src_ip"] = ip(m["ip"])
        r["app_detail"] = clip(f"RCPT TO:<{m['to']}>")
        reply = m["reply"]
        r["app_status"] = clip(("relay denied: " if _RELAY_WORDS.search(reply) else "") + reply, 512)
        r["action"] = "reject"
        r["rule"] = "check_rcpt"
        return r["src_ip"] is not None
    m = _SM_CMD.search(msg)
    if m:
        r["src_ip"] = ip(m["ip"])
        r["app_detail"] = clip(f"{m['cmd'].upper()} {m['arg']}".strip())
        if m["rej"]:
            r["app_status"], r["action"] = "rejected", "reject"
        r["rule"] = m["cmd"].upper()
        return r["src_ip"] is not None
    m = _SM_TOOLONG.search(msg)
    if m:  # Sendmail hangs up on a command line longer than it accepts (and logs the length)
        r["src_ip"] = ip(m["ip"])
        r["app_status"] = f"command too long: {m['n']} bytes (SMTP violation)"
        r["action"] = "reject"
        r["rule"] = "input too long"
        return r["src_ip"] is not None
    m = _EXIM_H.search(msg)
    if m:
        r["src_ip"] = ip(m["ip"])
        u = _EXIM_UNQUAL.match(msg)
        if u:  # Exim: VRFY of a bare local part, refused before any ACL
            r["app_detail"] = clip(f"VRFY {u['arg']}".strip())
            r.update(app_status="rejected (unqualified)", action="reject", rule="VRFY")
            return r["src_ip"] is not None
        x = _EXIM_SYNTAX.match(msg) or _EXIM_DROPPED.match(msg)
        if x:  # Exim quotes the offending command line in full
            r["app_detail"] = clip(x["cmd"]) if x["cmd"] else None
            kind = x.groupdict().get("kind")
            r["app_status"] = clip((f"{kind} error: " if kind else "") + x["why"], 512)
            r["action"] = "reject"
            r["rule"] = f"SMTP {kind} error" if kind else "too many errors"
            return r["src_ip"] is not None
        j = _EXIM_REJ.search(msg)
        if j:
            cmd = j["cmd"]
            arg = j["arg"].strip().strip("<>")
            r["app_detail"] = clip(f"RCPT TO:<{arg}>" if cmd == "RCPT" else f"{cmd} {arg}".strip())
            why = j["why"] or "rejected"
            r["app_status"] = clip(("relay denied: " if _RELAY_WORDS.search(why) else "") + why, 512)
            r["action"] = "reject"
            r["rule"] = "rejected"
        else:
            r["app_status"] = clip(msg, 256)
            r["rule"] = "exim"
        return r["src_ip"] is not None
    m = _SM_LONG.search(msg)
    if m and m["ip"]:
        r["src_ip"] = ip(m["ip"])
        r["app_status"] = m["what"]
        r["rule"] = m["what"]
        return r["src_ip"] is not None
    m = _PF_CLIENT.search(msg)
    if m and ("connect from" in msg or "lost connection" in msg or "too long" in msg or "too many errors" in msg
              or "warning" in msg or "client=" in msg):
        r["src_ip"] = ip(m["ip"])
        r["app_status"] = clip(msg, 256)
        r["rule"] = "session"
        if "too long" in msg:
            r["app_status"] = "command too long: " + clip(msg, 200)
        return r["src_ip"] is not None
    if _RELAY_WORDS.search(msg):
        h = _SM_RELAYHOST.search(msg)
        if h:
            r["src_ip"] = ip(h["ip"])
            r["app_status"] = "relay denied: " + clip(msg, 256)
            r["action"] = "reject"
            return r["src_ip"] is not None
    return False


class Mail(Format):
    name = "mail"
    description = "mail server logs: Postfix smtpd, Sendmail, Exim (relay refusals, VRFY/EXPN, sessions)"
    example = ("Nov 22 03:40:01 mx postfix/smtpd[2211]: NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1 "
               "<victim@example.org>: Relay access denied; from=<spam@example.net> to=<victim@example.org> proto=ESMTP helo=<x>")

    def sniff(self, sample: list[str]) -> float:
        lines = [s for s in sample if s.strip()][:400]
        if not lines:
            return 0.0
        hits = sum(1 for s in lines if re.search(r" (?:postfix/\w+|sendmail|sm-mta|exim4?)\[\d+\]:", s)
                   or re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? (?:\[\d+\] )?(?:\w{6}-\w{6,11}-\w{2,4} |H=)", s))
        return 0.0 if hits == 0 else 0.5 + 0.45 * hits / len(lines)

    def parse(self, lines: pa.Array, first_line: int, ctx: ParseContext):
        acc = Lines()
        for n, line, m, ts, ts_raw in acc.each_syslog(lines, first_line, ctx):
            prog = m["prog"] or ""
            if prog and not _prog_ok(prog) and not m["iso"]:
                acc.skipped += 1
                continue
            host, msg = m["host"], m["msg"]
            if m["iso"] and not prog:  # Exim's own log: no host or program, the message follows the time
                host, msg = None, line[m.end("iso"):].strip()
            r = base(n, ctx, "mail", line, ts, ts_raw, host)
            r["app_proto"] = "smtp"
            try:
                ok = parse_message(msg, r)
            except (ValueError, TypeError) as e:
                acc.bad.append((n, f"unreadable mail line: {type(e).__name__}"))
                continue
            if not ok:
                acc.skipped += 1
                continue
            r["ip_version"] = 6 if ":" in r["src_ip"] else 4
            acc.rows.append(r)
        return acc.result()


FORMAT = Mail()
