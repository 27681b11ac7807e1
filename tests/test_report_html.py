"""The HTML report in a real headless Chromium: nothing from the log runs, nothing is fetched."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from fwforensics import analysis, events
from fwforensics.reports.html import write_html

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
from _shared import CORPUS as _CORPUS  # noqa: E402
CORPUS = _CORPUS / "psad"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pw = pytest.importorskip("playwright.sync_api", reason="pip install playwright (tests only)")
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason="apt-get install chromium (Debian's) for the browser tests")

# Each payload, if it ever ran, would set window.__pwned, open a dialog or fetch something.
PAYLOADS = [
    "<script>window.__pwned=1;alert(1)</script>",
    '"onload="window.__pwned=2',
    "'><img/src=x/onerror=window.__pwned=3>",
    "javascript:window.__pwned=4",
    "<svg/onload=window.__pwned=5>",
    '<img/src="http://198.51.100.7/beacon.png">',
    "<link/rel=stylesheet/href=http://198.51.100.7/x.css>",
]


def hostile_log(tmp: Path) -> Path:
    """A real SYN scan plus real records whose prefixes and host names carry the payloads."""
    scan = (CORPUS / "syn_scan_1000_1500").read_text().splitlines()
    v6 = (CORPUS / "topera_ipv6_syn_scan_no_ip_opts").read_text().splitlines()
    port0 = next(ln for ln in v6 if "DPT=0 " in ln)
    lines = list(scan)
    for i, p in enumerate(PAYLOADS):
        host = p.replace(" ", "")
        lines.append(port0.replace(" rohan kernel:", f" {host} kernel:", 1)
                     .replace("DROP IN=", f"DROP {p} IN=", 1).replace("SPT=28563", f"SPT={40000 + i}"))
    path = tmp / "hostile.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@needs_chromium
def test_html_report_in_chromium(tmp_path):
    log = hostile_log(tmp_path)
    con = events.connect()
    rep = analysis.analyze([str(log)], analysis.Options(year=2026), con)
    assert rep["records_read"] == 1002 + len(PAYLOADS)
    out = tmp_path / "report.html"
    write_html(rep, con, str(out))
    html_text = out.read_text(encoding="utf-8")
    for p in ("<script>window.__pwned", "<img/src=x", "<svg/onload", '<img/src="http'):
        assert p not in html_text, f"unescaped payload in the HTML: {p}"

    url = out.as_uri()
    requests, dialogs, console_errors = [], [], []
    with pw.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                   viewport={"width": 1200, "height": 900})
        try:
            page = ctx.new_page()

            def route(r):
                if r.request.url != url:
                    requests.append(r.request.url)
                    return r.abort()
                return r.continue_()

            ctx.route("**/*", route)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.goto(url, wait_until="load")
            page.wait_for_timeout(300)
            pwned = page.evaluate("() => window.__pwned")
            js_on = page.evaluate("() => document.documentElement.classList.contains('js')")
            text = page.inner_text("body")
            n_svg = page.locator("svg").count()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-hostile.png"), full_page=True)
            page.locator("#filter").fill("port.zero")
            shown = page.locator("details.finding:visible").count()
        finally:
            ctx.close()

    assert pwned is None, f"a script from the log ran (window.__pwned = {pwned})"
    assert not dialogs, f"a dialog opened: {dialogs}"
    assert not requests, f"the report made network requests: {requests}"
    assert js_on, "our own (nonce) script should run"
    # the payloads are there, as text
    assert "<script>window.__pwned=1;alert(1)</script>" in text
    assert "javascript:window.__pwned=4" in text
    assert "port.zero" in text and "Verdict" in text
    assert n_svg >= 5, "timeline, ports by hour, top sources/ports and a scan footprint"
    assert shown >= 1


@needs_chromium
def test_real_scan_report_screenshot(tmp_path):
    """The screenshot artefact of a report over a real scan (look at it)."""
    con = events.connect()
    inputs = [str(CORPUS / n) for n in ("syn_scan_1000_1500", "udp_scan_1000_1150", "xmas_scan_1000_1150",
                                        "topera_ipv6_syn_scan_no_ip_opts", "syn_sweep")]
    rep = analysis.analyze(inputs, analysis.Options(), con)
    out = tmp_path / "scan.html"
    write_html(rep, con, str(out))
    with pw.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                   viewport={"width": 1200, "height": 900})
        try:
            page = ctx.new_page()
            page.goto(out.as_uri(), wait_until="load")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-scan.png"), full_page=True)
            assert page.locator("#footprints svg circle").count() > 100
        finally:
            ctx.close()


def service_logs(tmp: Path) -> list[Path]:
    """Web, DNS and mail records whose URLs, query names and SMTP arguments carry the payloads.
    The line layouts are those of the real servers (Apache combined, BIND security channel,
    Postfix smtpd); the hostile strings are what an attacker would send them."""
    web, dns, mail = [], [], []
    for i, p in enumerate(PAYLOADS):
        q = p.replace(" ", "%20").replace('"', "%22")
        web.append(f'203.0.113.{10 + i} - - [22/Nov/2026:03:40:{10 + i:02d} +0000] '
                   f'"GET http://{q}.example/{q} HTTP/1.0" 404 199 "javascript:window.__pwned=9" "{q}"')
        # BIND prints a name's parentheses, quotes and slashes escaped, so they are left out here
        name = p.replace(" ", "").replace("'", "").replace("/", "").replace("(", "").replace(")", "")
        dns.append(f"Nov 22 03:41:{10 + i:02d} ns1 named[812]: client @0x7f0 203.0.113.{30 + i}#{41000 + i} ({name}): "
                   f"zone transfer '{name}/AXFR/IN' denied")
        arg = p.replace(" ", "")
        mail.append(f"Nov 22 03:42:{10 + i:02d} mx postfix/smtpd[2211]: NOQUEUE: reject: RCPT from unknown[203.0.113.{50 + i}]: "
                    f"554 5.7.1 <victim@{arg}>: Relay access denied; from=<{arg}@example.net> to=<victim@{arg}> "
                    f"proto=ESMTP helo=<{arg}>")
    out = []
    for name, lines in (("access.log", web), ("named.log", dns), ("mail.log", mail)):
        path = tmp / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.append(path)
    return out


@needs_chromium
def test_service_log_strings_do_not_run_in_chromium(tmp_path):
    logs = service_logs(tmp_path)
    con = events.connect()
    rep = analysis.analyze([str(p) for p in logs], analysis.Options(year=2026), con)
    assert rep["records_read"] == 3 * len(PAYLOADS) and rep["records_unreadable"] == 0
    ids = {f["id"] for f in rep["findings"]}
    assert {"http.proxy_attempt", "dns.axfr", "smtp.relay_attempt"} <= ids
    out = tmp_path / "service.html"
    write_html(rep, con, str(out))
    url = out.as_uri()
    requests, dialogs = [], []
    with pw.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = ctx.new_page()
            ctx.route("**/*", lambda r: (requests.append(r.request.url), r.abort()) if r.request.url != url
                      else r.continue_())
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url, wait_until="load")
            page.wait_for_timeout(300)
            pwned = page.evaluate("() => window.__pwned")
            text = page.inner_text("body")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-service-hostile.png"), full_page=True)
        finally:
            ctx.close()
    assert pwned is None, f"a script from a service log ran (window.__pwned = {pwned})"
    assert not dialogs and not requests
    assert "http.proxy_attempt" in text and "dns.axfr" in text and "smtp.relay_attempt" in text
    assert "<script>window.__pwned" in text or "&lt;script" in out.read_text()  # shown as text, never markup
