"""Web requests (access logs, Suricata/Zeek http records, HTTP decoded from captures):
proxy probing (absolute-URL and CONNECT requests) and worm requests (CodeRed, Nimda, the
WebDAV SEARCH overflow of Welchia, and later worms and botnets that spread over HTTP).

Requests for /favicon.ico and /robots.txt are not findings: browsers fetch the first when a
page is bookmarked or opened, crawlers read the second before indexing (see BENIGN).
"""
from __future__ import annotations

from ._service import distinct_values, per_source

IDS = ("http.proxy_attempt", "worm.http")
ORDER = 40

# Tunables
MIN_RECORDS = 1   # requests per source before a finding; raise to ignore one stray absolute URL from a
                  # misconfigured client, at the cost of missing single probes
TUNABLES = ("MIN_RECORDS",)

REQ = "app_proto = 'http' AND app_detail IS NOT NULL"
PROXY = (f"{REQ} AND (UPPER(app_detail) LIKE 'CONNECT %' OR LOWER(app_detail) LIKE '% http://%' "
         f"OR LOWER(app_detail) LIKE '% https://%' OR LOWER(app_detail) LIKE '% ftp://%')")

# (SQL LIKE pattern on UPPER(app_detail), family). Sources: the worms' published request
# signatures (CERT advisories CA-2001-19 CodeRed, CA-2001-26 Nimda; Welchia/Nachi WebDAV;
# later IoT botnets' exploit URLs as listed in public IDS rule sets).
WORM_PATTERNS = [
    ("%/DEFAULT.IDA?N%", "CodeRed (I)"),
    ("%/DEFAULT.IDA?X%", "CodeRed II"),
    ("%/DEFAULT.IDA?%", "CodeRed"),
    ("%/SCRIPTS/ROOT.EXE%", "Nimda"),
    ("%/MSADC/ROOT.EXE%", "Nimda"),
    ("%/C/WINNT/SYSTEM32/CMD.EXE%", "Nimda"),
    ("%/D/WINNT/SYSTEM32/CMD.EXE%", "Nimda"),
    ("%/_VTI_BIN/..%", "Nimda"),
    ("%/_MEM_BIN/..%", "Nimda"),
    ("%/SCRIPTS/..%", "Nimda"),
    ("%..\\%255C..%", "Nimda"),
    ("%..\\%C0\\%AF..%", "Nimda"),
    ("%..\\%C1\\%1C..%", "Nimda"),
    ("%..\\%C1\\%9C..%", "Nimda"),
    ("%WINNT/SYSTEM32/CMD.EXE%", "Nimda (or a copy of its IIS traversal)"),
    ("%VIEWTOPIC.PHP%HIGHLIGHT=\\%2527%", "Santy (phpBB)"),
    ("%/GPONFORM/DIAG_FORM%", "GPON router botnet (Mirai/Hajime variants)"),
    ("%/BOAFORM/ADMIN/FORMLOGIN%", "Boa router botnet (Mirai variants)"),
    ("%/SETUP.CGI?NEXT_FILE=NETGEAR.CFG%", "Mozi (Netgear setup.cgi)"),
    ("%/SHELL?CD+/TMP%", "Mirai-family shell dropper"),
    ("%/HNAP1/%", "TheMoon (HNAP)"),
    ("%/CGI-BIN/;CD${IFS}%", "IoT botnet (shell injection)"),
]
SEARCH_OVERFLOW = "(UPPER(app_detail) LIKE 'SEARCH /%' AND (app_status = '411' OR LENGTH(app_detail) > 1000))"

BENIGN = {
    "/favicon.ico": ("The small icon a browser shows next to a page title. Browsers ask for it when a page is "
                     "opened or bookmarked, whether or not the site has one; a 404 for it is harmless."),
    "/robots.txt": ("The file that tells crawlers which paths to skip. Search engines fetch it before "
                    "indexing. Attackers read it too, to find paths the owner wanted unlisted, so it "
                    "should never be the only protection of anything."),
}

PROXY_EXPLANATION = (
    "A request line that names a whole URL (GET http://other.site/...) or asks to CONNECT to "
    "host:port is how a client talks to a proxy. Sent to a web server, it tests whether the "
    "server will fetch other sites on the sender's behalf: open proxies are wanted for spam, "
    "click fraud and hiding the sender's address. Most of it is automated scanning.")
PROXY_ADVICE = (
    "Check the status codes: 4xx/5xx answers or your own site's page mean the probe failed. "
    "If CONNECT or a foreign URL got 200 with another site's content, the server is an open "
    "proxy: disable forward proxying (mod_proxy ProxyRequests Off, no CONNECT) at once.")
WORM_EXPLANATION = (
    "These request lines are the calling cards of self-spreading programs: CodeRed sent "
    "/default.ida with a long run of N or X to overflow the IIS indexing service; Nimda tried "
    "root.exe and cmd.exe through IIS directory-traversal tricks; Welchia sent an oversized "
    "WebDAV SEARCH; later botnets hit router and camera URLs the same way. An infected machine "
    "tries every address it can reach, so the sender is a victim, not someone choosing you.")
WORM_ADVICE = (
    "Nothing to do if the server is not the software the worm targets (404/400/411 answers show "
    "it failed). If it is, patch it and check it for compromise. Tell the sender's network owner "
    "that the machine is infected if the requests keep coming.")


def _family_case() -> str:
    whens = " ".join(f"WHEN UPPER(app_detail) LIKE '{p}' ESCAPE '\\' THEN '{f}'" for p, f in WORM_PATTERNS)
    return f"CASE {whens} WHEN {SEARCH_OVERFLOW} THEN 'WebDAV SEARCH overflow (Welchia/Nachi)' ELSE NULL END"


def worm_where() -> str:
    likes = " OR ".join(f"UPPER(app_detail) LIKE '{p}' ESCAPE '\\'" for p, _f in WORM_PATTERNS)
    return f"{REQ} AND ({likes} OR {SEARCH_OVERFLOW})"


def detect(ctx):
    mod = __name__.rsplit(".", 1)[-1]
    minimum = int(ctx.tun(mod, "MIN_RECORDS"))
    out = []

    def proxy_details(c, cond, r):
        lines = distinct_values(c, cond, "app_detail", 5)
        ok = c.query(f"SELECT count(*) AS n FROM {c.table} WHERE {cond} AND app_status = '200'")[0]["n"]
        connect = c.query(f"SELECT count(*) AS n FROM {c.table} WHERE {cond} AND UPPER(app_detail) LIKE 'CONNECT %'")[0]["n"]
        return {"sample_requests": lines, "answered_200": int(ok), "connect_requests": int(connect)}

    def proxy_sev(c, cond, r, d):
        if d["connect_requests"] and d["answered_200"]:
            return "high"
        return "medium" if d["answered_200"] else "low"

    out += [f for f in per_source(
        ctx, "http.proxy_attempt", PROXY, "src_ip",
        summary=lambda r, d: (f"{r['src']} sent {r['n']} proxy-style request(s) (absolute URL or CONNECT) to a web server"
                              + (f"; {d['answered_200']} answered 200" if d["answered_200"] else "")),
        details=proxy_details, severity=proxy_sev, explanation=PROXY_EXPLANATION, advice=PROXY_ADVICE)
        if f.count >= minimum]

    fam = _family_case()

    def worm_details(c, cond, r):
        fams = distinct_values(c, cond, fam, 10)
        failed = c.query(f"SELECT count(*) AS n FROM {c.table} WHERE {cond} AND app_status IS NOT NULL "
                         f"AND (app_status LIKE '4%' OR app_status LIKE '5%')")[0]["n"]
        return {"families": fams, "failed": int(failed)}

    out += [f for f in per_source(
        ctx, "worm.http", worm_where(), "src_ip",
        summary=lambda r, d: f"{r['src']} sent {r['n']} worm request(s): {', '.join(d['families'])}",
        details=worm_details,
        severity=lambda c, cond, r, d: "low" if d["failed"] >= r["n"] else "medium",
        explanation=WORM_EXPLANATION, advice=WORM_ADVICE) if f.count >= minimum]
    return out
