"""Reading input: files, globs, directories, '-' for stdin, .gz/.bz2/.xz transparently.

Memory is bounded whatever the input size: bytes are read in blocks, cut at the
last newline, decoded (undecodable bytes become U+FFFD, never an exception) and
handed to the format's parser one batch of lines at a time.

    stats = ReadStats()
    for batch in read_events(["fw.log.gz"], stats=stats):
        ...                      # pyarrow.RecordBatch in fwforensics.schema.EVENT_SCHEMA
    stats.records_read, stats.records_unreadable
"""
from __future__ import annotations

import bisect
import bz2
import glob
import gzip
import hashlib
import io
import itertools
import lzma
import os
import re
import sys
from array import array
from dataclasses import dataclass, field
from typing import IO, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

try:  # Arrow's jemalloc pool hands freed block memory back sooner than its default (mimalloc):
    # the same speed with ~90 MB less peak memory when reading a large log
    pa.set_memory_pool(pa.jemalloc_memory_pool())
except (NotImplementedError, AttributeError):  # a pyarrow built without jemalloc
    pass

from . import formats
from .formats import ParseContext

BLOCK = 4 << 20          # bytes read at a time
# Worker threads that parse blocks at once (formats with prepare/finish halves: netfilter).
PARSE_THREADS = max(1, min(int(os.environ.get("FWF_PARSE_THREADS", os.cpu_count() or 1)), 8))
MAX_LINE_KEEP = 1 << 20  # a line longer than this is cut; the rest up to its newline is dropped (and counted)
SNIFF_LINES = 1000
UNREADABLE_DETAIL = 1000  # unreadable lines listed per file; all are counted

_MAGIC = [(b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz")]


class InputError(Exception):
    """A problem with the user's input that deserves one clear line, not a traceback."""


@dataclass
class FileStats:
    path: str
    format: str | None = None
    lines: int = 0
    records: int = 0
    skipped: int = 0
    unreadable_count: int = 0
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    bytes_read: int = 0
    note: str | None = None
    # records kept whose time stamp could not be placed on the calendar (29 February in a year
    # guessed as a common one, a garbled date, a kernel uptime alone): how many, and the first
    timeless: int = 0
    timeless_first: tuple[int, str] | None = None
    # line numbers and the byte offsets where they begin, every INDEX_STEP lines (and at each
    # block) of a plain (uncompressed, seekable) file: lines_at seeks there instead of reading the
    # file from its start. Two arrays of integers: ~16 bytes per INDEX_STEP lines.
    line_index: tuple[array, array] = field(default_factory=lambda: (array("q"), array("q")))

    def add_unreadable(self, items: Iterable[tuple[int, str]]) -> None:
        for it in items:
            self.unreadable_count += 1
            if len(self.unreadable) < UNREADABLE_DETAIL:
                self.unreadable.append(it)

    def as_dict(self) -> dict:
        return {"path": self.path, "format": self.format, "lines": self.lines, "records_read": self.records,
                "records_unreadable": self.unreadable_count, "lines_skipped": self.skipped, "note": self.note,
                "unreadable": [{"line": n, "reason": r} for n, r in self.unreadable]}


@dataclass
class ReadStats:
    files: list[FileStats] = field(default_factory=list)
    # inputs loaded without their records' text (the format's raw_is_line): path -> (inode, size)
    # when read, so that lines_at reads back only a file that is the same one, unshortened
    raw_deferred: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def records_read(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def records_unreadable(self) -> int:
        return sum(f.unreadable_count for f in self.files)

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files, directories (recursively, sorted) and glob patterns -> paths; '-' stays '-'."""
    out: list[str] = []
    for spec in inputs:
        if spec == "-":
            out.append("-")
            continue
        if os.path.isdir(spec):
            for root, dirs, files in os.walk(spec):
                dirs.sort()
                for f in sorted(files):
                    if not f.startswith("."):
                        out.append(os.path.join(root, f))
            continue
        if os.path.exists(spec):
            out.append(spec)
            continue
        matches = sorted(glob.glob(spec, recursive=True))
        if not matches:
            raise InputError(f"no such file: {spec}")
        out.extend(m for m in matches if os.path.isfile(m))
    return out


# How much of each input :func:`estimate` reads to guess its number of lines and its format.
ESTIMATE_HEAD_BYTES = 1 << 20


def estimate(inputs: Iterable[str], fmt_name: str | None = None, defer_raw: bool = True) -> tuple[int, int] | None:
    """About how many lines the inputs hold, and how many of their bytes a reader keeps as the
    records' text (none for a format whose text is read back by line number, Format.raw_is_line,
    when the caller reads it back: ``defer_raw``, as ``analysis.Options.defer_raw``):
    from the first ESTIMATE_HEAD_BYTES of each input (exact for smaller files). None when that
    cannot be told without reading them whole: standard input, a compressed or binary file (a
    capture), an unreadable one, or one no reader recognises from its head."""
    lines_total = kept = 0
    try:
        for p in expand_inputs(inputs):
            if p == "-" or not os.path.isfile(p):
                return None
            size = os.path.getsize(p)
            with open(p, "rb") as f:
                head = f.read(ESTIMATE_HEAD_BYTES)
            if any(head.startswith(magic) for magic, _ in _MAGIC) or b"\0" in head:
                return None
            fmt = formats.get(fmt_name) if fmt_name else \
                formats.detect(head.decode("utf-8", "replace").splitlines()[:SNIFF_LINES])[0]
            if fmt is None or fmt.binary:
                return None
            lines = head.count(b"\n") + (len(head) == size and bool(head) and not head.endswith(b"\n"))
            lines_total += lines if len(head) >= size else -(-size * max(lines, 1) // len(head))
            kept += 0 if defer_raw and fmt.raw_is_line else size
    except Exception:   # (the reader reports unreadable inputs and unknown formats, not this guess)
        return None
    return lines_total, kept


def open_binary(path: str) -> tuple[IO[bytes], Callable[[], int]]:
    """Open a path (or '-') as a decompressed byte stream; also return a function that
    tells how many raw bytes have been consumed (for progress)."""
    if path == "-":
        raw = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")
        except OSError as e:
            raise InputError(f"cannot open {path}: {e.strerror or e}") from None
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    head = buffered.peek(8)[:8]
    kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
    pos = (lambda: raw.tell()) if path != "-" else (lambda: 0)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=buffered), pos  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(buffered), pos  # type: ignore[return-value]
    if kind == "xz":
        return lzma.LZMAFile(buffered), pos  # type: ignore[return-value]
    return buffered, pos


def iter_line_blocks(stream: IO[bytes], stats: FileStats, start_line: int = 1,
                     hasher: "hashlib._Hash | None" = None) -> Iterator[tuple[int, pa.StringArray]]:
    """Yield (number of first line, lines as an Arrow string array) for consecutive blocks.

    Each block is read into a buffer of its own, behind the previous block's unfinished line, and
    its lines are cut from that buffer without a copy (the Arrow array keeps the buffer alive)."""
    carry = b""
    line_no = start_line
    dropping = False  # inside an over-long line whose kept part was already emitted
    # readinto1 / read1 hand over what is decompressed so far, so a damaged archive still yields
    # its good part
    readinto = getattr(stream, "readinto1", None) or getattr(stream, "readinto", None)
    read = getattr(stream, "read1", stream.read)
    consumed = None   # byte offset in the file after the last chunk (plain files only)
    if hasattr(stream, "raw") and stats.path != "-":
        try:
            consumed = stream.tell()
        except (OSError, ValueError):
            consumed = None
    while True:
        k = len(carry)
        try:
            if readinto is not None:
                buf = bytearray(k + BLOCK)
                buf[:k] = carry
                got = readinto(memoryview(buf)[k:]) or 0
            else:
                chunk = read(BLOCK)
                buf, got = carry + chunk, len(chunk)
        except Exception as e:  # zlib.error, LZMAError, EOFError, BadGzipFile...: a damaged input
            stats.note = f"input ended early (damaged or truncated): {type(e).__name__}: {e}"
            got = 0
        if hasher is not None and got:
            hasher.update(memoryview(buf)[k:k + got])
        if consumed is not None:
            consumed += got
        if not got:
            if carry and not dropping:
                yield line_no, pa.array([_decode(carry)], pa.string())
                line_no += 1
            break
        stats.bytes_read += got
        n = k + got
        cut = buf.rfind(b"\n", 0, n)
        if cut < 0:
            if dropping:
                carry = b""
            elif n > MAX_LINE_KEEP:
                yield line_no, pa.array([_decode(bytes(buf[:MAX_LINE_KEEP]))], pa.string())
                dropping, carry = True, b""
            else:
                carry = bytes(buf[:n])
            continue
        first = 0   # where the complete lines begin in buf
        start = consumed - n if consumed is not None else None   # offset of buf[0]
        if dropping:
            nl = buf.find(b"\n", 0, cut)
            if nl < 0:
                carry = bytes(buf[cut + 1:n])
                dropping = False
                line_no += 1
                continue
            first = nl + 1
            start = start + first if start is not None else None
            dropping = False
            line_no += 1
        carry = bytes(buf[cut + 1:n])
        cr, nul = buf.find(b"\r", first, cut) >= 0, buf.find(b"\x00", first, cut) >= 0
        lines = _split(memoryview(buf)[first:cut], cr, nul)
        if start is not None:
            _index_block(stats.line_index, line_no, start, lines, cut - first, cr or nul)
        yield line_no, lines
        line_no += len(lines)
        if len(carry) > MAX_LINE_KEEP:
            yield line_no, pa.array([_decode(carry[:MAX_LINE_KEEP])], pa.string())
            dropping, carry = True, b""


INDEX_STEP = 128   # lines between two entries of FileStats.line_index


def _index_block(index: tuple[array, array], first: int, start: int, lines: pa.StringArray, size: int,
                 repaired: bool) -> None:
    """Add the block's first line and, every INDEX_STEP lines, where a line begins: read from the
    offsets of the split lines, which are the bytes' own when the block needed no repair (valid
    UTF-8 - or repaired without a change of length -, no CR, no NUL); otherwise the block's start
    alone. ``size``: the block's length in bytes; ``repaired``: it holds a CR or a NUL."""
    nums, offs = index
    nums.append(first)
    offs.append(start)
    n = len(lines)
    if n <= INDEX_STEP or repaired:
        return
    o = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset:lines.offset + n + 1]
    if int(o[-1]) - int(o[0]) + n - 1 != size:   # text changed length: offsets are not bytes
        return
    ks = np.arange(INDEX_STEP, n, INDEX_STEP, dtype=np.int64)
    nums.extend((first + ks).tolist())
    offs.extend((start + (o[ks].astype(np.int64) - int(o[0])) + ks).tolist())


def lines_at(path: str, wanted: Iterable[int], index: tuple[array, array] | None = None) -> dict[int, str]:
    """{line number: line} of the wanted lines of an input, split and decoded as the reader does
    (so the text a record's ``raw`` would have held); lines past the end are left out. ``index``:
    the reader's :attr:`FileStats.line_index` of this file, to seek near each wanted line instead
    of reading the file from its start."""
    want = sorted(set(int(n) for n in wanted))
    out: dict[int, str] = {}
    if not want or path == "-":
        return out
    if not index or not index[0]:
        return _lines_from_start(path, want)
    nums, offs = index
    groups: dict[int, list[int]] = {}
    for n in want:
        groups.setdefault(bisect.bisect_right(nums, n) - 1, []).append(n)
    slow: list[int] = []
    with open(path, "rb") as f:
        for k, ns in groups.items():
            got = _lines_cut(f, ns, nums[k], offs[k]) if k >= 0 else None
            if got is None:
                slow += ns
            else:
                out.update(got)
    if slow:   # before the index, or near a line the reader cuts: read as the reader does
        out.update(_lines_from_start(path, sorted(slow)))
    return out


def _lines_cut(f: IO[bytes], want: list[int], start_line: int, offset: int) -> dict[int, str] | None:
    """The wanted lines (sorted, none before ``start_line``), cut out of the bytes from ``offset``
    (where line ``start_line`` begins) at their newlines and decoded one by one: the text the
    reader gives them, because a line no longer than MAX_LINE_KEEP is never cut and decoding is
    per line. None when the bytes up to the last wanted line hold a longer line or grow past a
    few blocks (the caller then reads blocks as the reader does)."""
    need = want[-1] - start_line + 1
    f.seek(offset)
    buf, newlines = bytearray(), 0
    while newlines < need:
        chunk = f.read(1 << 16)
        if not chunk:
            break
        buf += chunk
        newlines += chunk.count(b"\n")
        if len(buf) > 4 * BLOCK:
            return None
    parts = buf.split(b"\n", need)[:need]
    if newlines < need and parts and parts[-1] == b"":
        parts.pop()   # the file ends with a newline: nothing after it is a line
    if any(len(p) > MAX_LINE_KEEP for p in parts):
        return None
    return {n: _decode(parts[n - start_line]) for n in want if n - start_line < len(parts)}


def _lines_from_start(path: str, want: list[int]) -> dict[int, str]:
    """The wanted lines (sorted), reading the input from its start as the reader does."""
    out: dict[int, str] = {}
    stream, _ = open_binary(path)
    try:
        i = 0
        for first, lines in iter_line_blocks(stream, FileStats(path="-")):
            end = first + len(lines)
            j = i
            while j < len(want) and want[j] < end:
                j += 1
            if j > i:
                here = [n for n in want[i:j] if n >= first]
                out.update(zip(here, lines.take(pa.array([n - first for n in here], pa.int64())).to_pylist()))
                i = j
            if i >= len(want):
                break
    finally:
        stream.close()
    return out


def lines_array(b: bytes) -> pa.StringArray:
    """The lines of a block (without its final newline) as Arrow strings, split natively (no
    Python string per line); the same lines as ``_decode(b).split("\\n")``."""
    return _split(b, b"\r" in b, b"\x00" in b)


def _split(b, cr: bool, nul: bool) -> pa.StringArray:
    """lines_array of a block given as any buffer (not copied) whose CR and NUL the caller has
    looked for (``cr``, ``nul``)."""
    size = memoryview(b).nbytes
    whole = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, size], np.int32).tobytes()), pa.py_buffer(b))
    try:
        whole.validate(full=True)   # valid UTF-8?
    except pa.ArrowInvalid:
        return pa.array(_decode(bytes(b)).split("\n"), pa.string())
    lines = pc.split_pattern(whole, "\n").flatten()
    if cr:
        lines = pc.replace_substring_regex(lines, r"\r$", "")
    if nul:
        lines = pc.replace_substring(lines, "\x00", "\ufffd")
    return lines


def _decode(b: bytes) -> str:
    s = b.decode("utf-8", errors="replace")
    if "\r" in s:
        s = s.replace("\r\n", "\n")
        if s.endswith("\r"):
            s = s[:-1]
    if "\x00" in s:
        s = s.replace("\x00", "\ufffd")  # NUL breaks C-string consumers downstream
    return s


def read_file(path: str, stats: FileStats, fmt_name: str | None = None, year: int | None = None,
              tz=None, start_offset: int = 0, start_line: int = 1, hasher=None,
              on_progress: Callable[[int], None] | None = None,
              mapping: dict | None = None, keep_raw: bool = True,
              leave_out: Iterable[str] = ()) -> Iterator[pa.RecordBatch]:
    """Parse one input; yield record batches; fill ``stats`` as it goes. ``keep_raw`` false: a
    format whose ``raw`` is its line (Format.raw_is_line) may leave it null. ``leave_out``: event
    columns the caller drops, which a reader may leave null."""
    stream, consumed = open_binary(path)
    try:
        if start_offset:
            stream.seek(start_offset)
        ref_time = None
        if path != "-":
            try:
                ref_time = os.stat(path).st_mtime
            except OSError:
                pass
        ctx = ParseContext(source_file=path, year=year, tz=tz, reference_time=ref_time, keep_raw=keep_raw,
                           leave_out=frozenset(leave_out))
        if mapping:
            ctx.state["mapping"] = dict(mapping)
        fmt = formats.get(fmt_name) if fmt_name else None
        if fmt is None:
            try:
                head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
            except Exception:  # a damaged compressed stream: the line reader will report it
                head = b""
            fmt = _detect_binary(head)
        if fmt is not None and fmt.binary:
            stats.format = fmt.name
            for res in fmt.parse_file(stream, ctx):  # type: ignore[attr-defined]
                _account(stats, res)
                # a capture's "lines" are its records (packets): every one is read, unreadable or skipped
                stats.lines += res.batch.num_rows + len(res.unreadable) + res.skipped
                if res.batch.num_rows:
                    yield res.batch
            return
        last = start_line - 1
        blocks = iter_line_blocks(stream, stats, start_line, hasher)
        for first, lines in blocks:
            if lines and first + len(lines) - 1 > last:
                last = first + len(lines) - 1
            if fmt is None:
                fmt, _score = formats.detect(lines.slice(0, SNIFF_LINES).to_pylist())
                if fmt is None and len(lines) > SNIFF_LINES:
                    fmt, _score = formats.detect(lines.to_pylist())
                if fmt is None:
                    stats.format = None
                    stats.note = "no reader recognises this input"
                    items = [(first + i, "no reader recognises this input") for i, s in enumerate(lines.to_pylist()) if s.strip()]
                    stats.add_unreadable(items)
                    stats.skipped += len(lines) - len(items)
                    stats.lines += len(lines)
                    fmt = _Unrecognised
                    continue
                stats.format = fmt.name
            if fmt is _Unrecognised:
                items = [(first + i, "no reader recognises this input") for i, s in enumerate(lines.to_pylist()) if s.strip()]
                stats.add_unreadable(items)
                stats.skipped += len(lines) - len(items)
                stats.lines += len(lines)
                continue
            if PARSE_THREADS > 1 and hasattr(fmt, "prepare"):
                yield from _parallel(fmt, itertools.chain([(first, lines)], blocks), stats, ctx, consumed, on_progress)
                break
            stats.lines += len(lines)
            res = fmt.parse(lines, first, ctx)
            _account(stats, res)
            if on_progress:
                on_progress(consumed())
            if res.batch.num_rows:
                yield res.batch
        end = getattr(fmt, "end", None)
        if end is not None:
            res = end(ctx)
            if res is not None:
                _account(stats, res)
                if res.batch.num_rows:
                    yield res.batch
    finally:
        _timeless_note(stats)
        if path != "-":
            stream.close()


def _parallel(fmt, blocks, stats: FileStats, ctx: ParseContext, consumed, on_progress) -> Iterator[pa.RecordBatch]:
    """Run ``fmt.prepare`` (the stateless part of parsing) of up to PARSE_THREADS + 1 blocks at
    once on worker threads and ``fmt.finish`` of each, in input order, here: batches come out in
    the same order and with the same content as one ``parse`` per block, on every core."""
    from concurrent.futures import ThreadPoolExecutor
    from collections import deque
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=PARSE_THREADS, thread_name_prefix="fwforensics-parse") as pool:
        try:
            for first, lines in blocks:
                stats.lines += len(lines)
                pending.append(pool.submit(fmt.prepare, lines, first, ctx.keep_raw, ctx.leave_out))
                del lines
                if len(pending) > PARSE_THREADS:
                    res = fmt.finish(pending.popleft().result(), ctx)
                    _account(stats, res)
                    if on_progress:
                        on_progress(consumed())
                    if res.batch.num_rows:
                        yield res.batch
            while pending:
                res = fmt.finish(pending.popleft().result(), ctx)
                _account(stats, res)
                if on_progress:
                    on_progress(consumed())
                if res.batch.num_rows:
                    yield res.batch
        finally:
            for f in pending:
                f.cancel()


class _UnrecognisedFormat:
    name = None
    binary = False


_Unrecognised = _UnrecognisedFormat()


def _account(stats: FileStats, res) -> None:
    stats.records += res.batch.num_rows
    stats.skipped += res.skipped
    stats.add_unreadable(res.unreadable)
    b = res.batch
    if b.num_rows and "ts" in b.schema.names and "ts_raw" in b.schema.names and b.column("ts").null_count:
        lost = pc.and_(pc.is_null(b.column("ts")), pc.is_valid(b.column("ts_raw")))
        n = int(pc.sum(pc.cast(lost, pa.int64())).as_py() or 0)
        if n:
            stats.timeless += n
            if stats.timeless_first is None:
                i = int(pc.index(lost, True).as_py())
                stats.timeless_first = (int(b.column("line")[i].as_py() or 0), str(b.column("ts_raw")[i].as_py()))


def _timeless_note(stats: FileStats) -> None:
    """Say in the file's note how many records were kept without a time, and where the first is."""
    if not stats.timeless or stats.timeless_first is None:
        return
    line, text = stats.timeless_first
    hint = ("; a kernel uptime, seconds since boot" if re.fullmatch(r"\[\s*\d+(\.\d+)?\]", text.strip()) else
            "; 29 February in a year guessed as a common year: give --year" if re.search(r"Feb\s+29\b", text) else "")
    said = (f"{stats.timeless} record(s) kept without a time: their time stamp could not be placed on the "
            f"calendar (first at line {line}: {text[:40]!r}{hint})")
    stats.note = f"{stats.note}; {said}" if stats.note else said


def _detect_binary(head: bytes):
    best, best_score = None, 0.0
    for fmt in formats.registry().values():
        if not fmt.binary:
            continue
        try:
            score = float(fmt.sniff_bytes(head))  # type: ignore[attr-defined]
        except Exception:
            score = 0.0
        if score > best_score:
            best, best_score = fmt, score
    return best


def read_events(inputs: Iterable[str], stats: ReadStats | None = None, fmt: str | None = None,
                year: int | None = None, tz=None, progress: bool = False,
                mapping: dict | None = None) -> Iterator[pa.RecordBatch]:
    """All events of all inputs, batch by batch, in input order."""
    stats = stats if stats is not None else ReadStats()
    paths = expand_inputs(inputs)
    bar = _Progress(paths) if progress else None
    try:
        for path in paths:
            fs = FileStats(path=path)
            stats.files.append(fs)
            if bar:
                bar.start_file(path)
            yield from read_file(path, fs, fmt, year, tz, on_progress=bar.update if bar else None, mapping=mapping)
            if bar:
                bar.finish_file()
    finally:
        if bar:
            bar.close()


class _Progress:
    """A Rich progress bar on stderr, by bytes of the current file."""

    def __init__(self, paths: list[str]):
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
        self.console = Console(stderr=True)
        self.p = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                          console=self.console, transient=True)
        self.p.start()
        self.task = None

    def start_file(self, path: str) -> None:
        total = os.path.getsize(path) if path != "-" and os.path.isfile(path) else None
        from rich.markup import escape
        self.task = self.p.add_task(escape(os.path.basename(path))[:40], total=total)

    def update(self, pos: int) -> None:
        if self.task is not None:
            self.p.update(self.task, completed=pos)

    def finish_file(self) -> None:
        if self.task is not None:
            self.p.remove_task(self.task)
            self.task = None

    def close(self) -> None:
        self.p.stop()
