"""The case store: one DuckDB file holding the events of many inputs.

``ingest`` adds each input inside its own transaction, so an interrupted ingest
leaves the case as it was before that input. Inputs are identified by content:
a file whose bytes are already in the case adds nothing; a file that has grown
since it was ingested (same path, same first bytes) adds only its new lines.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from . import events
from .analysis import fix_future_years, prefetch
from .reader import FileStats, InputError, ReadStats, expand_inputs, open_binary, read_file

_TABLES = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT, sha256 TEXT, size BIGINT, first_line BIGINT, lines BIGINT, records BIGINT,
    unreadable BIGINT, skipped BIGINT, format TEXT, ingested_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS unreadable (path TEXT, line BIGINT, reason TEXT);
"""


@dataclass
class IngestResult:
    path: str
    status: str          # "added", "appended", "already in case", "failed"
    stats: FileStats


def _sha256(path: str, limit: int | None = None) -> str:
    h = hashlib.sha256()
    left = limit
    with open(path, "rb") as f:
        while True:
            n = 1 << 20 if left is None else min(1 << 20, left)
            if n == 0:
                break
            b = f.read(n)
            if not b:
                break
            h.update(b)
            if left is not None:
                left -= len(b)
    return h.hexdigest()


class Case:
    def __init__(self, path: str, read_only: bool = False):
        self.path = path
        if read_only and not os.path.exists(path):
            raise InputError(f"no such case: {path}")
        self.con = events.connect(path, read_only=read_only)
        if not read_only:
            events.ensure_table(self.con)
            self.con.execute(_TABLES)

    def close(self) -> None:
        self.con.close()

    def file_rows(self) -> list[dict]:
        cur = self.con.execute("SELECT * FROM files ORDER BY ingested_at, path, first_line")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def read_stats(self) -> ReadStats:
        """The ingest accounting of every file in the case, as the reader reports it."""
        st = ReadStats()
        for r in self.file_rows():
            fs = FileStats(path=r["path"], format=r["format"], lines=r["lines"], records=r["records"],
                           skipped=r["skipped"], unreadable_count=r["unreadable"])
            fs.unreadable = [(n, why) for n, why in self.con.execute(
                "SELECT line, reason FROM unreadable WHERE path = ? AND line >= ? AND line < ? ORDER BY line LIMIT 1000",
                [r["path"], r["first_line"], r["first_line"] + r["lines"]]).fetchall()]
            st.files.append(fs)
        return st

    def ingest(self, inputs: list[str], fmt: str | None = None, year: int | None = None, tz=None,
               on_file=None, mapping: dict | None = None) -> list[IngestResult]:
        results = []
        for path in expand_inputs(inputs):
            results.append(self._ingest_one(path, fmt, year, tz, mapping))
            if on_file:
                on_file(results[-1])
        return results

    def _ingest_one(self, path: str, fmt, year, tz, mapping=None) -> IngestResult:
        fs = FileStats(path=path)
        apath = os.path.abspath(path) if path != "-" else "-"
        offset, first_line = 0, 1
        digest = None
        if path != "-":
            digest = _sha256(path)
            if self.con.execute("SELECT 1 FROM files WHERE sha256 = ?", [digest]).fetchall():
                return IngestResult(path, "already in case", fs)
            size = os.path.getsize(path)
            stream, _ = open_binary(path)
            compressed = not hasattr(stream, "raw")
            stream.close()
            if not compressed:
                for prev_size, prev_hash, prev_first, prev_lines in self.con.execute(
                        "SELECT size, sha256, first_line, lines FROM files WHERE path = ? ORDER BY size DESC",
                        [apath]).fetchall():
                    if prev_size < size and _ends_with_newline(path, prev_size) and \
                            _sha256(path, prev_size) == prev_hash:
                        offset, first_line = prev_size, prev_first + prev_lines
                        break
        hasher = hashlib.sha256() if path == "-" else None
        self.con.execute("BEGIN TRANSACTION")
        try:
            def batches():
                for batch in read_file(path, fs, fmt, year, tz, start_offset=offset, start_line=first_line,
                                       hasher=hasher, mapping=mapping):
                    if apath != path:
                        import pyarrow as pa
                        batch = batch.set_column(batch.schema.get_field_index("source_file"), "source_file",
                                                 pa.array([apath] * batch.num_rows, pa.string()))
                    yield batch
            events.append_stream(self.con, prefetch(batches()))
            if hasher is not None:
                digest = hasher.hexdigest()
                if self.con.execute("SELECT 1 FROM files WHERE sha256 = ?", [digest]).fetchall():
                    self.con.execute("ROLLBACK")
                    return IngestResult(path, "already in case", fs)
            if year is None and fs.records:
                fix_future_years(self.con, apath, first_line,
                                 os.stat(path).st_mtime if path != "-" else None)
            self.con.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [apath, digest, os.path.getsize(path) if path != "-" else fs.bytes_read, first_line, fs.lines,
                 fs.records, fs.unreadable_count, fs.skipped, fs.format, datetime.now(timezone.utc).replace(tzinfo=None)])
            if fs.unreadable:
                self.con.executemany("INSERT INTO unreadable VALUES (?, ?, ?)",
                                     [[apath, n, why] for n, why in fs.unreadable])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return IngestResult(path, "appended" if offset else "added", fs)


def _ends_with_newline(path: str, size: int) -> bool:
    if size == 0:
        return True
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"
