"""Per-source look-ups answered by one grouped query instead of one query per finding.

Detectors build one finding per source (or per source and target) with a predicate of the
form ``<base> AND src_ip = '198.51.100.7'`` and ask for the evidence of each. Run one at a
time, those look-ups scan the whole events table once per finding: quadratic in practice
(thousands of findings x millions of rows). Here a predicate is split into its *base* and
its *key* (top-level ``src_ip``/``dst_ip``/``inner_*_ip = 'literal'`` conjuncts); from the
second look-up with the same base on, the answer for every key is computed by one
``GROUP BY key`` query over the base and kept, and later look-ups are dictionary reads.

The answers are the same rows the per-finding query returns, by construction: the rows of
``base AND key = v`` are the group ``v`` of ``base`` grouped by key. The test
``tests/test_speed_keyed.py`` runs every detector both ways and compares the findings.
"""
from __future__ import annotations

import re
from typing import Any, Callable

KEY_COLUMNS = ("src_ip", "dst_ip", "inner_src_ip", "inner_dst_ip")
_KEY_RE = re.compile(r"^(%s)\s*=\s*'((?:[^']|'')*)'$" % "|".join(KEY_COLUMNS))


_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[()'\"]|(?<![\w.])[A-Za-z_]\w*")


def split_key(where: str) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """``(base, key columns, key values)`` of a predicate, or None when it has no key conjunct
    or is not a plain top-level conjunction (an OR or a CASE at the top level)."""
    if "_ip" not in where:
        return None
    conj: list[str] = []
    depth = 0
    start = 0
    pending_between = False
    for m in _TOKEN.finditer(where):
        tok = m.group(0)
        c = tok[0]
        if c == "'" or c == '"':
            if len(tok) == 1:
                return None  # unterminated quote: leave it to the engine
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0:
            word = tok.upper()
            if word in ("OR", "CASE", "UNION", "SELECT"):
                return None
            if word == "BETWEEN":
                pending_between = True
            elif word == "AND":
                if pending_between:
                    pending_between = False
                else:
                    conj.append(where[start:m.start()])
                    start = m.end()
    if depth != 0:
        return None
    conj.append(where[start:])
    rest, cols, vals = [], [], []
    for c in conj:
        c = c.strip()
        mk = _KEY_RE.match(c)
        if mk and mk.group(1) not in cols:
            cols.append(mk.group(1))
            vals.append(mk.group(2).replace("''", "'"))
        else:
            rest.append(c)
    if not cols:
        return None
    order = sorted(range(len(cols)), key=lambda k: cols[k])
    base = " AND ".join(f"({r})" for r in rest) if rest else "TRUE"
    return base, tuple(cols[k] for k in order), tuple(vals[k] for k in order)


class KeyedCache:
    """Answers keyed look-ups; fills a grouped answer on the second look-up of a base."""

    def __init__(self, query: Callable[[str], list[dict[str, Any]]]):
        self.query = query
        self.seen: dict[tuple, set] = {}
        self.data: dict[tuple, dict[tuple, Any]] = {}
        self.enabled = True

    def get(self, entry: tuple, keyvals: tuple, fill: Callable[[], dict[tuple, Any]]):
        """The cached answer for ``keyvals`` (``None`` means: not cached, run the query yourself)."""
        if not self.enabled:
            return None
        if entry in self.data:
            return self.data[entry].get(keyvals, _MISSING)
        s = self.seen.setdefault(entry, set())
        s.add(keyvals)
        if len(s) < 2:
            return None
        self.data[entry] = fill()
        return self.data[entry].get(keyvals, _MISSING)


_MISSING = object()
MISSING = _MISSING


def key_select(cols: tuple[str, ...]) -> str:
    return ", ".join(f"{c} AS __k{i}" for i, c in enumerate(cols))


def key_names(cols: tuple[str, ...]) -> str:
    return ", ".join(f"__k{i}" for i in range(len(cols)))


def row_key(r: dict[str, Any], cols: tuple[str, ...]) -> tuple:
    return tuple(r[f"__k{i}"] for i in range(len(cols)))
