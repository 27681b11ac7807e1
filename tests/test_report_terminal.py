"""The terminal report neutralises escape sequences and control characters from logs."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from fwforensics import analysis, events
from fwforensics.reports.terminal import render

from _shared import CORPUS as _CORPUS  # noqa: E402
CORPUS = _CORPUS / "psad" / "topera_ipv6_syn_scan_no_ip_opts"
SRC = Path(__file__).resolve().parents[1] / "src"

# Things a hostile log could try: clear screen, set the window title, move the cursor,
# ring the bell, a C1 CSI, a bidi override that reverses what follows, a backspace.
INJECT = "\x1b[2J\x1b]0;pwned\x07\x1b[1A\x9b31m\u202e\x08"


def hostile_log(tmp_path: Path) -> Path:
    """Real corpus lines (one of them a port-0 probe) with escapes injected into the host and prefix."""
    lines = CORPUS.read_text().splitlines()
    port0 = next(ln for ln in lines if "DPT=0 " in ln)
    other = next(ln for ln in lines if "DPT=0 " not in ln and "PROTO=TCP" in ln)
    bad = []
    for ln in (port0, other):
        ln = ln.replace(" rohan kernel:", f" ro{INJECT}han kernel:", 1)
        ln = ln.replace("DROP IN=", f"DROP{INJECT}evil IN=", 1)
        bad.append(ln)
    p = tmp_path / "hostile.log"
    p.write_text("\n".join(lines[:5] + bad) + "\n", encoding="utf-8")
    return p


def _assert_clean(out: str) -> None:
    for ch in out:
        o = ord(ch)
        assert ch == "\n" or not (o < 0x20 or 0x7f <= o <= 0x9f), f"control character {o:#x} reached the output"
        assert ch not in "\u202e\u202d\u2066\u2067\u2068\u2069", "bidi control reached the output"


def test_cli_output_has_no_control_characters(tmp_path):
    log = hostile_log(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(SRC), COLUMNS="80")
    r = subprocess.run([sys.executable, "-m", "fwforensics", "analyze", str(log), "-v", "--no-progress"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # The hostile record was read and is shown (as evidence of the port.zero finding) ...
    assert "port.zero" in out
    assert "\\x1b[2J" in out and "\\x07" in out and "\\u202e" in out
    # ... but none of its control characters reached the terminal.
    _assert_clean(out)
    assert max(len(ln) for ln in out.splitlines()) <= 80


def test_colour_output_only_has_our_own_sgr_codes(tmp_path):
    log = hostile_log(tmp_path)
    rep = analysis.analyze([str(log)], analysis.Options(), events.connect())
    buf = io.StringIO()
    render(rep, Console(file=buf, force_terminal=True, width=80, color_system="standard", highlight=False),
           verbose=True)
    out = buf.getvalue()
    assert "\x1b[" in out, "a terminal should get colour"
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", out)  # Rich's own colour codes (SGR only)
    _assert_clean(stripped)
    assert "2J" not in re.sub(r"\\x1b\[2J", "", stripped)


def test_no_color_is_respected(tmp_path, monkeypatch):
    log = hostile_log(tmp_path)
    rep = analysis.analyze([str(log)], analysis.Options(), events.connect())
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    render(rep, Console(file=buf, force_terminal=True, width=80), verbose=False)
    out = buf.getvalue()
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", out), "NO_COLOR set, yet colour codes were printed"


def test_not_a_terminal_gets_plain_text():
    rep = analysis.analyze([str(CORPUS)], analysis.Options(), events.connect())
    buf = io.StringIO()
    render(rep, Console(file=buf, width=80), verbose=False)
    out = buf.getvalue()
    assert "\x1b" not in out
    # verdict first, then findings by severity
    assert out.index("VERDICT") < out.index("FINDINGS") < out.index("RECORDS")
    assert "port.zero" in out and "2012:1234:1234::1" in out


def test_each_finding_is_one_indented_block_then_a_blank_line():
    """Each finding prints as one group (title, summary at 2 spaces, facts at 4, wrapped lines keep
    their indent) followed by one blank line; the blocks are what a reader scans down."""
    rep = analysis.analyze([str(CORPUS)], analysis.Options(), events.connect())
    # a long summary, to be wrapped at 60 columns under its indent
    next(f for f in rep["findings"] if f["id"] != "verdict")["summary"] = "word " * 40
    buf = io.StringIO()
    render(rep, Console(file=buf, width=60), verbose=True)
    out = buf.getvalue()
    body = out[out.index("FINDINGS"):out.index("RECORDS")].split("\n")[1:]
    ids = {f["id"] for f in rep["findings"]}
    titles = [i for i, ln in enumerate(body) if ln.split("  ")[0] in ids]
    assert len(titles) == sum(1 for f in rep["findings"] if f["id"] != "verdict")
    for i in titles:
        block = []
        for ln in body[i + 1:]:
            if not ln:
                break
            block.append(ln)
        assert block and block[0].startswith("  ") and not block[0].startswith("   ")
        assert all(ln.startswith("  ") for ln in block)
        assert any(ln.startswith("    seen") for ln in block)
    long = [ln for ln in body if ln.strip().startswith("word")]
    assert len(long) >= 3 and all(ln.startswith("  word") and len(ln.rstrip()) <= 60 for ln in long)
