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
_WORD = re.compile(r"[A-Za-z_]+")


def split_key(where: str) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """``(base, key columns, key values)`` of a predicate, or None when it has no key conjunct
    or is not a plain top-level conjunction (an OR or a CASE at the top level)."""
    conj: list[str] = []
    depth = 0
    i, n = 0, len(where)
    start = 0
    pending_between = False
    while i < n:
        c = where[i]
        if c == "'" or c == '"':
            j = i + 1
            while j < n:
                if where[j] == c:
                    if j + 1 < n and where[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                return None  # unterminated quote: leave it to the engine
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0 and (c.isalpha() or c == "_") and (i == 0 or not (where[i - 1].isalnum() or where[i - 1] in "_.")):
            m = _WORD.match(where, i)
            word = m.group(0).upper()
            if word in ("OR", "CASE", "UNION", "SELECT"):
                return None
            if word == "BETWEEN":
                pending_between = True
            elif word == "AND":
                if pending_between:
                    pending_between = False
                else:
                    conj.append(where[start:i])
                    start = m.end()
            i = m.end()
            continue
        i += 1
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
