"""Where the workplace's shared material (corpus, seeds, spec) is, for every test: ``FWF_SHARED``
when set, else ``shared`` beside the repository (``../shared``), else ``/work/shared``; the corpus
alone may be moved with ``FWF_CORPUS``. One answer wherever the repository is cloned (a clone
elsewhere once ran ~100 corpus tests fewer, silently, because each test looked in its own way)."""
from __future__ import annotations

import os
from pathlib import Path


def _shared() -> Path:
    beside = Path(__file__).resolve().parents[2] / "shared"
    for p in (os.environ.get("FWF_SHARED"), beside, "/work/shared"):
        if p and Path(p).is_dir():
            return Path(p)
    return beside


SHARED = _shared()
CORPUS = Path(os.environ.get("FWF_CORPUS") or SHARED / "corpus")
SEEDS = SHARED / "seeds"
SPEC = SHARED / "spec"
