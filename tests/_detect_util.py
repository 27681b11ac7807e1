"""Helpers for the detector tests: run the real pipeline (reader + every detector) on real files."""
from __future__ import annotations

from pathlib import Path

from fwforensics.analysis import Options, analyze

ROOT = Path(__file__).resolve().parent
LAB = ROOT / "fixtures" / "lab"
from _shared import CORPUS  # noqa: E402
# the lab's firewall: outside interface eth0, LAN 192.0.2.0/24 (lab/netlab.py)
LAB_HOME = dict(home_nets=["192.0.2.0/24"], outside_ifs=["eth0"])


def run(path, home: bool = True, **kw) -> list[dict]:
    opts = Options(**(LAB_HOME if home else {}), **kw)
    return analyze([str(path)], opts)["findings"]


def lab(name: str, home: bool = True) -> list[dict]:
    return run(LAB / f"{name}.log", home)


def ids(findings, fid: str) -> list[dict]:
    return [f for f in findings if f["id"] == fid]


def one(findings, fid: str, src: str | None) -> dict:
    got = [f for f in findings if f["id"] == fid and f["src"] == src]
    assert len(got) == 1, f"expected one {fid} from {src}, got {[(f['id'], f['src']) for f in findings]}"
    return got[0]
