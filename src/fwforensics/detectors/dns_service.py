"""DNS server logs and captured DNS: version probes (VERSION.BIND CHAOS TXT and kin),
zone-transfer attempts (AXFR/IXFR) and answers from an unexpected source address.

Sources: BIND named query/security logs, dnsmasq query logs, Zeek dns.log, Suricata EVE dns
records and DNS decoded from captured packets (all spell ``app_detail`` ``name CLASS TYPE``).
"""
from __future__ import annotations

from ._service import DNS_QUERY, distinct_values, per_source

IDS = ("dns.version_query", "dns.axfr", "dns.unexpected_source")
ORDER = 40

# Tunables
MIN_RECORDS = 1   # records per source before a finding; one version probe is already the whole
                  # act (raising it hides single probes, lowering is not possible)
TUNABLES = ("MIN_RECORDS",)

VERSION_NAMES = ("version.bind", "version.server", "hostname.bind", "id.server", "authors.bind")

VERSION_EXPLANATION = (
    "A query for the TXT record of VERSION.BIND (class CHAOS) asks a BIND name server to say which "
    "release it runs; VERSION.SERVER, HOSTNAME.BIND and ID.SERVER ask the same of other servers. "
    "Scanners send it to every name server they find to match versions against known holes, so "
    "it is reconnaissance, usually automated and not aimed at you in particular.")
VERSION_ADVICE = (
    "Nothing urgent. Set 'version' (and 'hostname', 'server-id') to a neutral string or 'none' in "
    "named.conf options so the answer gives nothing away, and keep BIND patched: hiding the "
    "version does not fix an old one.")
AXFR_EXPLANATION = (
    "A zone transfer (AXFR, or incremental IXFR) copies every record of a zone in one answer. "
    "Secondary servers need it; anyone else asking is mapping your hosts and naming scheme. "
    "A transfer that was refused is the server doing its job.")
AXFR_ADVICE = (
    "Allow transfers only to your secondaries ('allow-transfer' with their addresses or a TSIG "
    "key) and keep internal names out of the public zone (split DNS). If a transfer to this "
    "source succeeded, treat the zone's contents as known to it.")
UNEXPECTED_EXPLANATION = (
    "The server received a DNS answer from an address it had not put the question to. Old BIND "
    "logged an answer that came back from another address than the one asked; BIND 9 logs an "
    "answer that arrives at its listening port unasked ('dropped request: unexpected response'). "
    "Harmless causes are multi-homed servers replying from another interface and transparent "
    "DNS proxies; an unasked answer is also what the backscatter of queries forged in this "
    "server's name, and a blind cache-poisoning attempt, look like.")
UNEXPECTED_ADVICE = (
    "Look up whether the answering address belongs to the server that was asked (another "
    "interface of the same host or a known proxy). If it does not and the messages are many, "
    "check that the resolver validates DNSSEC and randomises source ports, and look for "
    "queries someone sent with this server's address forged as the source.")


def _version_where() -> str:
    names = " OR ".join(f"LOWER(app_detail) LIKE '{n} %'" for n in VERSION_NAMES)
    return f"{DNS_QUERY} AND ({names}) AND UPPER(app_detail) LIKE '% TXT'"


def detect(ctx):
    mod = __name__.rsplit(".", 1)[-1]
    minimum = int(ctx.tun(mod, "MIN_RECORDS"))
    out = []

    def denied(c, cond):
        return bool(c.query(f"SELECT count(*) AS n FROM {c.table} WHERE {cond} AND "
                            f"(app_status IN ('denied', 'REFUSED') OR action = 'reject')")[0]["n"])

    vw = _version_where()
    out += [f for f in per_source(
        ctx, "dns.version_query", vw,
        summary=lambda r, d: (f"{r['src']} asked the name server which software version it runs "
                              f"({', '.join(d['names'])}; {r['n']} record(s))"
                              + ("; the server refused" if d["refused"] else "")),
        details=lambda c, cond, r: {"names": distinct_values(c, cond, "LOWER(app_detail)", 5),
                                    "refused": denied(c, cond)},
        severity="low", explanation=VERSION_EXPLANATION, advice=VERSION_ADVICE) if f.count >= minimum]

    aw = f"{DNS_QUERY} AND (UPPER(app_detail) LIKE '% AXFR' OR UPPER(app_detail) LIKE '% IXFR')"

    def axfr_details(c, cond, r):
        zones = [z.split(" ")[0] for z in distinct_values(c, cond, "app_detail", 10)]
        ok = c.query(f"SELECT count(*) AS n FROM {c.table} WHERE {cond} AND action = 'accept'")[0]["n"]
        return {"zones": sorted(set(zones)), "refused": denied(c, cond), "transferred": bool(ok)}

    out += [f for f in per_source(
        ctx, "dns.axfr", aw,
        summary=lambda r, d: (f"{r['src']} asked for a full copy (zone transfer) of {', '.join(d['zones']) or 'a zone'}"
                              + ("; the server refused" if d["refused"] and not d["transferred"] else "")
                              + ("; a transfer was started" if d["transferred"] else "")),
        details=axfr_details,
        severity=lambda c, cond, r, d: "high" if d["transferred"] else "medium",
        explanation=AXFR_EXPLANATION, advice=AXFR_ADVICE) if f.count >= minimum]

    uw = "app_proto = 'dns' AND app_status IN ('unexpected-source', 'unexpected-response')"

    def unexpected_details(c, cond, r):
        rows = c.query(f"SELECT app_status AS s, count(*) AS n FROM {c.table} WHERE {cond} GROUP BY 1")
        kinds = {x["s"]: int(x["n"]) for x in rows}
        return {"from_other_address": kinds.get("unexpected-source", 0),
                "unasked_answers": kinds.get("unexpected-response", 0)}

    out += [f for f in per_source(
        ctx, "dns.unexpected_source", uw,
        summary=lambda r, d: (f"{r['src']} sent DNS answers the server had not asked it for ({r['n']} time(s)"
                              + (f"; {d['unasked_answers']} arrived at the listening port unasked"
                                 if d["unasked_answers"] else "") + ")"),
        details=unexpected_details,
        severity="low", explanation=UNEXPECTED_EXPLANATION, advice=UNEXPECTED_ADVICE) if f.count >= minimum]
    return out
