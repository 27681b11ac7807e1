"""The report options of `analyze` through the real CLI (runs once docs/cli-wiring.patch is applied)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fwforensics.cli import cli

ROOT = Path(__file__).resolve().parents[1]
LOG = "/work/shared/corpus/psad/topera_ipv6_syn_scan_no_ip_opts"
wired = pytest.mark.skipif("fail_on" not in {p.name for p in cli.commands["analyze"].params},
                           reason="analyze output options not wired yet (docs/cli-wiring.patch)")


def run(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "fwforensics", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@wired
def test_fail_on_exit_status():
    assert run("analyze", LOG, "--fail-on", "low").returncode == 1     # port.zero is low
    assert run("analyze", LOG, "--fail-on", "high").returncode == 0


@wired
def test_outputs_together(tmp_path):
    html, ev = tmp_path / "r.html", tmp_path / "e.ndjson"
    r = run("analyze", LOG, "--ndjson", "--html", str(html), "--events-out", str(ev))
    assert r.returncode == 0, r.stderr
    ids = [json.loads(x)["finding"]["id"] for x in r.stdout.splitlines()]
    assert "port.zero" in ids and len(ids) == len(set((i, n) for n, i in enumerate(ids)))
    assert "<svg" in html.read_text() and len(ev.read_text().splitlines()) == 1058


def test_commands_are_registered_when_wired():
    if "watch" not in cli.commands:
        pytest.skip("abuse/watch not registered yet (docs/cli-wiring.patch)")
    assert "abuse" in cli.commands
