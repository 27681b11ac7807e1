"""Mail: relaying refused (someone tried to use the server as an open relay) and SMTP
reconnaissance (VRFY/EXPN address probing, over-long command arguments). From mail server
logs (Postfix, Sendmail, Exim), Suricata smtp records and SMTP decoded from captures.
"""
from __future__ import annotations

from ._service import distinct_values, per_source

IDS = ("smtp.relay_attempt", "smtp.recon")
ORDER = 40

# Tunables
MIN_RECORDS = 1        # records per source before a finding; raise to ignore one mistyped VRFY from an admin
LONG_ARGUMENT = 512    # characters: a command line longer than this (RFC 5321 allows 512 with CRLF) is
                       # treated as an overflow attempt; lower it and long legitimate AUTH lines start to match
TUNABLES = ("MIN_RECORDS", "LONG_ARGUMENT")

SMTP_PORTS = "(25, 465, 587, 2525)"
# The client of a record: captured server replies travel server -> client.
CLIENT = (f"CASE WHEN format = 'pcap' AND src_port IN {SMTP_PORTS} AND dst_port NOT IN {SMTP_PORTS} "
          f"THEN dst_ip ELSE src_ip END")
RELAY = ("app_proto = 'smtp' AND app_status IS NOT NULL "
         "AND UPPER(COALESCE(app_detail, '')) NOT LIKE 'VRFY%' AND UPPER(COALESCE(app_detail, '')) NOT LIKE 'EXPN%' AND (LOWER(app_status) LIKE '%relay denied%' "
         "OR LOWER(app_status) LIKE '%relay access denied%' OR LOWER(app_status) LIKE '%relaying denied%' "
         "OR LOWER(app_status) LIKE '%relay not permitted%' OR LOWER(app_status) LIKE '%unable to relay%' "
         "OR LOWER(app_status) LIKE '%not permitted to relay%')")

RELAY_EXPLANATION = (
    "The client asked the server to accept mail for a domain the server does not handle, so the "
    "server would have to pass it on (relay) to someone else. Spammers hunt for servers that "
    "still do that; anti-spam services test for it too. A refusal means the server is set up "
    "right.")
RELAY_ADVICE = (
    "Nothing to fix while these are refusals. If you also see relayed mail accepted for outside "
    "domains from unknown clients, restrict relaying to your own networks and authenticated "
    "users at once.")
RECON_EXPLANATION = (
    "VRFY asks the server whether a mailbox exists and EXPN asks it to list a mailing list's "
    "members. Probing names like root, guest, demo, lp, bbs, debug or uudecode is how attackers "
    "collect valid accounts to guess passwords for; very long arguments to SMTP commands were "
    "the classic way to overflow old mail servers; quick bursts of such commands come from "
    "vulnerability scanners.")
RECON_ADVICE = (
    "Disable EXPN and make VRFY uninformative (Postfix disable_vrfy_command = yes, Sendmail "
    "PrivacyOptions=goaway, Exim acl_smtp_vrfy/expn deny). Long-argument attempts need nothing "
    "on a current server; on an old one, upgrade.")


def _short(probe: str, n: int = 60) -> str:
    return probe if len(probe) <= n else f"{probe[:n - 20]}... ({len(probe)} characters)"


def not_a_twin(ctx) -> str:
    """Exim writes each rejection to ``mainlog`` and again to ``rejectlog``: when both files of one
    server were read, the rejectlog's copies are left out (its mainlog has every one of them)."""
    files = {r["f"] for r in ctx.query(f"SELECT DISTINCT source_file AS f FROM {ctx.table} "
                                       f"WHERE app_proto = 'smtp' AND source_file IS NOT NULL")}
    twins = sorted(f for f in files if "rejectlog" in f and f.replace("rejectlog", "mainlog") in files)
    return f"source_file NOT IN {ctx.lit(twins)}" if twins else "TRUE"


def detect(ctx):
    mod = __name__.rsplit(".", 1)[-1]
    minimum = int(ctx.tun(mod, "MIN_RECORDS"))
    long_arg = int(ctx.tun(mod, "LONG_ARGUMENT"))
    twin = not_a_twin(ctx)
    out = []
    out += [f for f in per_source(
        ctx, "smtp.relay_attempt", f"{RELAY} AND {twin}", CLIENT,
        summary=lambda r, d: (f"{r['src']} tried to relay mail through the server and was refused {r['n']} time(s)"
                              + (f" (recipients: {', '.join(d['recipients'])})" if d["recipients"] else "")),
        details=lambda c, cond, r: {"recipients": [x[8:].strip("<>") for x in distinct_values(
            c, cond + " AND UPPER(app_detail) LIKE 'RCPT TO:%'", "app_detail", 10)]},
        severity="low", explanation=RELAY_EXPLANATION, advice=RELAY_ADVICE) if f.count >= minimum]

    # A refused over-long line may carry no command at all (Sendmail: 'SMTP violation, input too long')
    recon = (f"app_proto = 'smtp' AND ((app_detail IS NOT NULL AND (UPPER(app_detail) LIKE 'VRFY%' "
             f"OR UPPER(app_detail) LIKE 'EXPN%' OR UPPER(app_detail) LIKE 'SESSION %VRFY=%' "
             f"OR UPPER(app_detail) LIKE 'SESSION %EXPN=%' OR LENGTH(app_detail) > {long_arg})) "
             f"OR LOWER(COALESCE(app_status, '')) LIKE '%too long%') AND {twin}")

    def recon_details(c, cond, r):
        probes = distinct_values(c, cond + " AND (UPPER(app_detail) LIKE 'VRFY%' OR UPPER(app_detail) LIKE 'EXPN%')",
                                 "app_detail", 20)
        longs = c.query(f"SELECT count(*) AS n FROM {c.table} WHERE {cond} AND (LENGTH(app_detail) > {long_arg} "
                        f"OR LOWER(COALESCE(app_status, '')) LIKE '%too long%')")[0]["n"]
        return {"probes": probes, "long_arguments": int(longs)}

    out += [f for f in per_source(
        ctx, "smtp.recon", recon, CLIENT,
        summary=lambda r, d: (f"{r['src']} probed the mail server"
                              + (f" with {', '.join(_short(p) for p in d['probes'][:6])}" if d["probes"] else "")
                              + (f"; {d['long_arguments']} over-long command(s)" if d["long_arguments"] else "")),
        details=recon_details,
        severity=lambda c, cond, r, d: "medium" if d["long_arguments"] else "low",
        explanation=RECON_EXPLANATION, advice=RECON_ADVICE) if f.count >= minimum]
    return out
