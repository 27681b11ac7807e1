"""Detectors on worker threads give exactly the report of detectors run one after another:
same findings in the same order, same assumptions (detectors.run merges in detector order)."""
from __future__ import annotations

import glob
import json
import os

import pytest

from fwforensics import analysis, detectors

HERE = os.path.dirname(__file__)
CORPUS = next((p for p in (os.path.join(HERE, "..", "..", "shared", "corpus"), "/work/shared/corpus")
               if os.path.isdir(p)), "")


def _report(paths, threads, monkeypatch, **opts) -> str:
    monkeypatch.setattr(detectors, "THREADS", threads)
    rep = analysis.analyze(paths, analysis.Options(**opts))
    return json.dumps({k: rep[k] for k in ("findings", "assumptions", "summary", "suppressed")}, default=str)


def _inputs():
    lab = sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.log")))
    yield pytest.param(lab, {"home_nets": ["192.0.2.0/24"], "outside_ifs": ["eth0"]}, id="lab-fixtures")
    yield pytest.param(lab, {}, id="lab-fixtures-inferred-home")   # assumptions written by detectors
    yield pytest.param(sorted(glob.glob(os.path.join(HERE, "fixtures", "lab", "*.pcap")))[:12], {}, id="lab-pcaps")
    if CORPUS:
        files = [p for p in glob.glob(os.path.join(CORPUS, "psad", "*")) if not p.endswith(("MANIFEST.md", "SCAN_LOG"))]
        yield pytest.param(sorted(files), {"year": 2013, "suppress": [{"id": "netbios.*"}]}, id="corpus-suppressed")


@pytest.mark.parametrize("paths,opts", list(_inputs()))
def test_threaded_detectors_give_the_same_report(paths, opts, monkeypatch):
    one = _report(paths, 1, monkeypatch, **opts)
    two = _report(paths, 2, monkeypatch, **opts)
    assert json.loads(one)["findings"], "no findings: the comparison would prove nothing"
    assert one == two


def test_readers_of_findings_are_known():
    names = {m.__name__.rsplit(".", 1)[-1] for m in detectors.modules() if detectors._reads_findings(m)}
    assert {"decoys", "advice", "verdict"} <= names
