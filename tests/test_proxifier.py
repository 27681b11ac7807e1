"""The Proxifier reader against Loghub's structured ground truth, row by row."""
import csv
import os

import pytest

from fwforensics.reader import ReadStats, read_events

from _shared import CORPUS  # noqa: E402
C = str(CORPUS / "loghub")


@pytest.mark.skipif(not os.path.isdir(C), reason="corpus not present")
def test_proxifier_matches_loghub_structured_csv():
    st = ReadStats()
    rows = [r for b in read_events([os.path.join(C, "Proxifier_2k.log")], stats=st) for r in b.to_pylist()]
    assert st.files[0].format == "proxifier" and st.records_read == 2000 and st.records_unreadable == 0
    with open(os.path.join(C, "Proxifier_2k.log_structured.csv"), newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    assert len(truth) == len(rows)
    for r, t in zip(rows, truth):
        assert r["line"] == int(t["LineId"]) and r["ts_raw"] == t["Time"]
        prog, target = r["app_detail"].split(" -> ")
        assert prog == t["Program"] and t["Content"].startswith(target + " ")
        assert r["action"] == {"open": "accept", "close": "other", "error": "reject"}[t["Content"].split()[1].rstrip(",")]
