"""Every file of ../shared/corpus is either read as its real format (auto-detected, >= 99% of its
records) or listed as excluded with a reason, in tests/corpus_expect/*.toml."""
from __future__ import annotations

import glob
import os
import tomllib

import pytest

from fwforensics.reader import ReadStats, read_events

HERE = os.path.dirname(__file__)
from _shared import CORPUS  # noqa: E402
CORPUS = str(CORPUS)


def expectations() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for f in sorted(glob.glob(os.path.join(HERE, "corpus_expect", "*.toml"))):
        with open(f, "rb") as fh:
            for path, exp in tomllib.load(fh).items():
                out[path] = exp
    return out


EXP = expectations()
FILES = sorted(os.path.relpath(p, CORPUS) for p in glob.glob(os.path.join(CORPUS, "**", "*"), recursive=True)
               if os.path.isfile(p) and not p.endswith(("MANIFEST.md", "README.md"))) if os.path.isdir(CORPUS) else []


@pytest.mark.skipif(not FILES, reason="../shared/corpus not present")
def test_every_corpus_file_is_covered():
    missing = [f for f in FILES if f not in EXP]
    assert not missing, f"corpus files with no expectation: {missing}"


@pytest.mark.parametrize("rel", [f for f in FILES if f in EXP and "format" in EXP[f]])
def test_corpus_file_read_as_its_format(rel):
    exp = EXP[rel]
    stats = ReadStats()
    for _ in read_events([os.path.join(CORPUS, rel)], stats=stats):
        pass
    fs = stats.files[0]
    assert fs.format == exp["format"]
    total = fs.records + fs.unreadable_count
    assert total > 0 and fs.records / total >= exp.get("min_read_ratio", 0.99)
