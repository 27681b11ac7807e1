"""Own words: no explanation we print shares a run of 12+ consecutive words with the FAQ seeds."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from fwforensics.knowledge import DATA_DIR

from _shared import SEEDS as _SEEDS  # noqa: E402
SEEDS = sorted(_SEEDS.glob("0*.txt"))
SRC = Path(__file__).resolve().parent.parent / "src" / "fwforensics"
RUN = 12


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


@pytest.fixture(scope="module")
def seed_grams() -> set[tuple[str, ...]]:
    assert len(SEEDS) == 2
    grams: set[tuple[str, ...]] = set()
    for p in SEEDS:
        w = words(p.read_text(encoding="utf-8", errors="replace"))
        grams.update(tuple(w[i:i + RUN]) for i in range(len(w) - RUN + 1))
    return grams


def _toml_strings(obj, where: str):
    if isinstance(obj, str):
        yield where, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _toml_strings(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _toml_strings(v, f"{where}[{i}]")


def _py_strings(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield f"{path.name}:{node.lineno}", node.value
        elif isinstance(node, ast.JoinedStr):  # f-string: join its literal parts with a placeholder word
            parts = [v.value if isinstance(v, ast.Constant) else " X " for v in node.values]
            yield f"{path.name}:{node.lineno}", "".join(parts)


def all_strings():
    for p in sorted(DATA_DIR.glob("*.toml")):
        with open(p, "rb") as fh:
            yield from _toml_strings(tomllib.load(fh), p.name)
        # comments are text too (headers)
        yield p.name + ":comments", "\n".join(l for l in p.read_text().splitlines() if l.startswith("#"))
    tsv = DATA_DIR / "iana_services.tsv"
    for n, line in enumerate(tsv.read_text(encoding="utf-8").splitlines()):
        yield f"{tsv.name}:{n + 1}", line.replace("\t", " ")
    for name in ("explain.py", "decode.py", "knowledge/__init__.py", "commands/explain_cmd.py"):
        yield from _py_strings(SRC / name)


def test_the_check_itself_catches_a_copied_sentence(seed_grams):
    s = SEEDS[1].read_text(encoding="utf-8")
    copied = " ".join(s.split()[1000:1013])
    w = words(copied)
    assert any(tuple(w[i:i + RUN]) in seed_grams for i in range(len(w) - RUN + 1))


def test_no_run_of_12_words_from_the_faq(seed_grams):
    bad = []
    count = 0
    for where, text in all_strings():
        count += 1
        w = words(text)
        for i in range(len(w) - RUN + 1):
            if tuple(w[i:i + RUN]) in seed_grams:
                bad.append(f"{where}: ...{' '.join(w[i:i + RUN])}...")
                break
    assert count > 1000
    assert not bad, "\n".join(bad)


def test_no_run_in_explain_output(seed_grams):
    """What the program prints for the K-items (short and detail) is our own too."""
    from fwforensics.explain import explain
    queries = ["0", "1", "7", "11", "19", "21", "22", "23", "25", "53", "67", "69", "79", "80", "98", "110", "111", "113",
               "119", "135", "137", "139", "143", "161", "445", "515", "635", "1024", "1080", "1434", "1524", "2766",
               "3128", "5632", "6776", "13223", "17027", "27374", "31337", "31789/udp", "33434/udp", "icmp 0", "icmp 3/3",
               "icmp 3/4", "icmp 4", "icmp 5", "icmp 8", "icmp 9", "icmp 11", "icmp 12", "ICMP port 11", "10.0.0.1",
               "169.254.3.4", "255.255.255.255", "0.0.0.0", "rpc proc 5", "rpc 100083", "rpc 100232", "ttl 112",
               "ipid 64769 65025 65281 2", "sport 61000", "sport 4000/udp", "smurf", "fraggle", "netbios.nbstat",
               "identd.blocked", "firewall", "port", "scan"]
    for q in queries:
        for a in explain(q):
            w = words(a["short"] + " " + " ".join(a["detail"]))
            for i in range(len(w) - RUN + 1):
                assert tuple(w[i:i + RUN]) not in seed_grams, (q, " ".join(w[i:i + RUN]))
