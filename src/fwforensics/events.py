"""The events table: Arrow batches from the readers loaded into DuckDB.

One table, ``events``, with exactly the columns of :mod:`fwforensics.schema`. The
detectors and the summary only ever see this table (or a view of it), whether
it lives in memory (``analyze FILE``) or in a case file (``analyze --case``).
"""
from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from typing import Iterable

import duckdb
import pyarrow as pa

from .schema import EVENT_SCHEMA


# glibc's malloc adapts to a program that frees large blocks: each time one is freed it raises its
# mmap threshold (up to 32 MB) and its trim threshold (twice that). What goes through glibc here
# (DuckDB and Arrow have their own jemalloc) is the reader's 4 MB read blocks, numpy arrays, the C
# kernel's output and Python's larger objects: after the first freed read block they come from the
# heaps of the threads that made them, and what is freed stays there until reused. Setting the
# trim threshold turns the adaptation off (blocks of 128 KB and more are mapped and unmapped on
# their own, freed heap tops go back at once): measured, ~40 MB less at the peak of a 1 M- or
# 10 M-line analysis for ~0.6 s more system time at 1 M (wall within the benchmark's noise).
# FWF_MALLOC_TRIM_BYTES=-1 leaves glibc's own behaviour.
MALLOC_TRIM_BYTES = int(os.environ.get("FWF_MALLOC_TRIM_BYTES", 128 << 10))
# malloc_trim after each detector and insert statement (FWF_TRIM_AT_BOUNDARIES=0: not)
TRIM_AT_BOUNDARIES = os.environ.get("FWF_TRIM_AT_BOUNDARIES", "1") == "1"
_M_TRIM_THRESHOLD = -1   # mallopt's parameter number (malloc.h)


@functools.lru_cache(maxsize=1)
def _glibc():
    """The C library when it is glibc (mallopt, malloc_trim), else None."""
    try:
        if "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""):
            return None
        import ctypes
        return ctypes.CDLL(None)
    except (OSError, ValueError, AttributeError):
        return None


def fixed_trim_threshold(nbytes: int = MALLOC_TRIM_BYTES) -> bool:
    """Give glibc's malloc a fixed trim threshold (see MALLOC_TRIM_BYTES); True when it took it.
    A no-op elsewhere (another C library, or a negative value)."""
    libc = _glibc()
    return nbytes >= 0 and libc is not None and bool(libc.mallopt(_M_TRIM_THRESHOLD, int(nbytes)))


@functools.lru_cache(maxsize=1)
def _trim_threshold_once() -> bool:
    return fixed_trim_threshold()


def connect(path: str | None = None, read_only: bool = False, spill: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (in memory when ``path`` is None) set up for our workloads."""
    _trim_threshold_once()
    con = duckdb.connect(path or ":memory:", read_only=read_only)
    con.execute("SET threads TO 2")
    con.execute("SET preserve_insertion_order = true")
    if spill:
        tmp = os.path.join(tempfile.gettempdir(), "fwforensics-spill")
        con.execute(f"SET temp_directory = '{tmp}'")
    con.execute("SET TimeZone = 'UTC'")
    return con


# Inputs larger than this (bytes, or of unknown size: stdin) are loaded into a temporary database
# file instead of memory: DuckDB compresses on-disk tables (a 1 M-line netfilter log is ~150 MB on
# disk, ~1 GB as an in-memory table) and keeps only WORK_MEMORY of them in memory, so the memory of
# a run stays bounded whatever the input size.
SPILL_BYTES = int(os.environ.get("FWF_SPILL_BYTES", 32 << 20))
# ... unless its table is expected to fit MEMORY_TABLE_BYTES (plain text inputs: see
# reader.estimate): DuckDB then keeps it in memory uncompressed, so loading skips the compression
# and the detectors read the columns as they are. The estimate counts MEMORY_ROW_BYTES per line (a
# narrow netfilter table in memory with the detectors' working memory: 1 M lines raise the run's
# peak from ~370 MB on disk to ~660 MB) and every byte of text a reader keeps. Measured on 1 M
# netfilter lines: wall 0.88x (0.77-0.95, 6 pairs), CPU 0.84x, peak 664 MB instead of 372 MB;
# 1.23 M lines (the largest such log) peak at 718 MB. Larger inputs go to disk, so the memory of a
# run stays bounded whatever the input size. FWF_MEMORY_TABLE_BYTES=0: always on disk.
MEMORY_TABLE_BYTES = int(os.environ.get("FWF_MEMORY_TABLE_BYTES", 560 << 20))
MEMORY_ROW_BYTES = 450
# The detectors' DuckDB memory over the work database, at most. A table that fits in it whole
# (a 1 M-line log's is ~55 MB on disk without its text) stays cached with room for the queries'
# hash tables. A table larger than BIG_TABLE_BYTES cannot be cached anyway: its blocks come back
# from the operating system's cache as the queries read them, and DuckDB gets WORK_MEMORY_BIG, so
# that the memory of a run does not grow with its input (10 M lines: peak ~480 MB instead of
# ~600 MB, ~5% slower; the smaller limit on a 1 M-line log would cost ~8% for nothing). 100 MB
# rather than 120 leaves room to the findings of a big log (~50 MB for 10 M lines) and to the
# late detectors' look-ups: 10 M-line peak 447 -> 428 MB, time within the machine's noise; 90 MB
# rather than 100: 408 -> 400 MB (the detectors then set the peak), time within the noise again.
# Back to 250 MB in the twenty-first session: a 1 M-line log now stays in memory (MEMORY_TABLE_BYTES)
# and peaks at ~690 MB, so the larger inputs' bound may be higher than ~365 MB. 10 M lines, two
# alternating pairs: wall 0.926x (88.7 against 95.8 s, both pairs alike), peak 530 MB instead of
# 364 MB. FWF_MEMORY_LIMIT_BIG=90MB gives the lower peak back.
WORK_MEMORY = os.environ.get("FWF_MEMORY_LIMIT", "250MB")
WORK_MEMORY_BIG = os.environ.get("FWF_MEMORY_LIMIT_BIG", "250MB")
BIG_TABLE_BYTES = int(os.environ.get("FWF_BIG_TABLE_BYTES", 128 << 20))
# While loading, the rows just written are on disk already, so DuckDB needs little memory of its
# own: a lower limit leaves room to the parser's blocks in flight and keeps the peak flat.
LOAD_MEMORY = os.environ.get("FWF_LOAD_MEMORY_LIMIT", "150MB")
# ... and once the table being loaded has outgrown LOAD_BIG_TABLE_BYTES (checked after each insert
# statement of INSERT_ROWS rows, so an input of up to ~1 M records never sees it), this lower limit
# for the rest of the load: a long load leaves more behind outside DuckDB's limit (the new row
# groups' metadata, the C library's heaps), which takes that room, so that the peak of a 10 M-line
# load stays near that of a 1 M-line one. Measured on 10 M lines: load peak 456 -> 438 MB with the
# switch at 128 MB of table, 430 -> 418 MB with it at 40 MB (after the first statement), and the
# load no slower (50.9 -> 46.6 s in that pair). The inserts need little of it: 110 -> 90 -> 70 MB
# gave load peaks of 412, 390 and 370 MB in 60.7, 61.4 and 59.7 s; 80 MB keeps a margin. (Tried
# again with the narrow work table: 70 MB lowered the 10 M run's peak by ~7 MB but made its load
# slower, 39 -> 48 s in the medians of a benchmark run, 43 -> 46 s in a pair.) Raised to 120 MB
# in the sixteenth session: an insert statement holds each of its two threads' row group being
# filled, and under 80 MB those of a narrow netfilter table spilled ~27 MB per million rows to disk
# and read it back (11 MB under 100 MB, none from 120 MB; DuckDB's insert of a million rows alone
# ~1.45 -> ~1.15 s). Whole 10 M-line runs, three alternating pairs: wall ratio 0.95 (0.87-0.98),
# peak 373 against 368 MB (the detectors set it, not the load).
LOAD_MEMORY_BIG = os.environ.get("FWF_LOAD_MEMORY_LIMIT_BIG", "120MB")
LOAD_BIG_TABLE_BYTES = int(os.environ.get("FWF_LOAD_BIG_TABLE_BYTES", 40 << 20))
# An input this large (bytes; a netfilter log's table is ~1/5 of its text, so its table would
# outgrow BIG_TABLE_BYTES) is loaded under LOAD_MEMORY_BIG from its first row: its first insert
# statement otherwise ran under LOAD_MEMORY and set the peak of a 10 M-line load, as high as that
# of a whole 1 M-line one.
LOAD_BIG_INPUT_BYTES = int(os.environ.get("FWF_LOAD_BIG_INPUT_BYTES", 5 * BIG_TABLE_BYTES))


@contextlib.contextmanager
def work_database(con: duckdb.DuckDBPyConnection, input_bytes: int | None,
                  estimate: tuple[int, int] | None = None):
    """Within the block, unqualified tables of ``con`` (``events``, the detectors' temporary tables)
    live in a temporary on-disk database when the input is large (or of unknown size) and ``con``
    is an in-memory connection; the file is deleted afterwards. Otherwise nothing changes.
    ``estimate``: (about how many lines the input holds, bytes of its text kept), when known
    (reader.estimate): the table stays in memory when that is expected to fit MEMORY_TABLE_BYTES."""
    if (input_bytes is not None and input_bytes <= SPILL_BYTES) or fits_memory(estimate):
        yield con
        return
    try:
        current, dbs = _databases(con)
    except Exception:
        yield con
        return
    if dbs.get(current) or "fwf_work" in dbs:   # already on disk (a case file)
        yield con
        return
    fd, path = tempfile.mkstemp(prefix="fwforensics-", suffix=".duckdb")
    os.close(fd)
    os.remove(path)   # DuckDB creates it
    try:
        con.execute(f"ATTACH '{path}' AS fwf_work")
        con.execute("USE fwf_work")
        big = input_bytes is not None and input_bytes > LOAD_BIG_INPUT_BYTES
        con.execute(f"SET memory_limit = '{LOAD_MEMORY_BIG if big else LOAD_MEMORY}'")
        yield con
    finally:
        try:
            con.execute(f"USE {current}")
            con.execute("DETACH fwf_work")
        except Exception:
            pass
        for f in (path, path + ".wal"):
            try:
                os.remove(f)
            except OSError:
                pass


def fits_memory(estimate: tuple[int, int] | None) -> bool:
    """Is an input of ``estimate`` (lines, bytes of text kept) expected to fit MEMORY_TABLE_BYTES?"""
    return estimate is not None and estimate[0] * MEMORY_ROW_BYTES + estimate[1] <= MEMORY_TABLE_BYTES


def _databases(con: duckdb.DuckDBPyConnection) -> tuple[str, dict[str, str | None]]:
    """(the database unqualified tables live in, {attached database: its file or None})."""
    current = con.execute("SELECT current_database()").fetchall()[0][0]
    return current, {name: path for _, name, path in con.execute("PRAGMA database_list").fetchall()}


def _current_file(con: duckdb.DuckDBPyConnection) -> str | None:
    """The file of the database the unqualified tables of ``con`` live in (None: in memory);
    raises when DuckDB cannot say."""
    current, dbs = _databases(con)
    return dbs.get(current) or None


def on_disk(con: duckdb.DuckDBPyConnection) -> bool:
    """Do the unqualified tables of ``con`` live in an on-disk database (the work database of a
    large input, or a case file)?"""
    try:
        return _current_file(con) is not None
    except Exception:
        return False


def cached_whole(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> bool:
    """Are the unqualified tables of ``con`` in memory, or in a database file no larger than
    ``limit`` bytes (default BIG_TABLE_BYTES, which DuckDB keeps cached whole within WORK_MEMORY)?"""
    try:
        path = _current_file(con)
        return path is None or os.path.getsize(path) <= (BIG_TABLE_BYTES if limit is None else limit)
    except Exception:   # (OSError included)
        return False


def release_memory() -> None:
    """Hand the memory Arrow's allocator keeps for reuse back to the system (after loading, the
    readers' batches; after a detector over a 10 M-line log, ~80 MB of query results)."""
    pa.default_memory_pool().release_unused()
    libc = _glibc() if TRIM_AT_BOUNDARIES else None
    if libc is not None:
        libc.malloc_trim(0)


def loaded(con: duckdb.DuckDBPyConnection) -> None:
    """Loading is over: in the temporary work database, give the detectors WORK_MEMORY (or
    WORK_MEMORY_BIG for a table larger than BIG_TABLE_BYTES); the memory Arrow kept from the
    readers' batches goes back to the system."""
    release_memory()
    _fit_work_limit(con, WORK_MEMORY, WORK_MEMORY_BIG)


def _fit_work_limit(con: duckdb.DuckDBPyConnection, cached: str, big: str, table_bytes: int | None = None) -> None:
    """In the temporary work database (else nothing): DuckDB's memory limit ``cached`` while its
    table is no larger than ``table_bytes`` (default BIG_TABLE_BYTES), ``big`` once it has outgrown it."""
    try:
        if "fwf_work" in _databases(con)[1]:
            con.execute(f"SET memory_limit = '{cached if cached_whole(con, table_bytes) else big}'")
    except Exception:
        pass


# Columns that no detector, summary or report reads: `analyze` (``Options.narrow``) leaves them
# out of its work table. DuckDB compresses every column it stores, even one of nulls: on a 1 M-line
# netfilter log these 25 cost ~0.35 s of a ~1.8 s insert. Left out rather than nulled, so that a
# query that starts reading one fails loudly (and the tests that compare narrow with full reports
# say so) instead of reading nulls.
WORK_OMITTED = ("uptime", "out_if", "phys_in", "phys_out", "mac_src", "mac_raw", "proto_num", "ip_tos",
                "ip_prec", "flow_label", "df", "mf", "ce", "frag_offset", "ip_options_raw",
                "tcp_ack", "tcp_urgp", "tcp_options", "icmp_id", "icmp_parameter", "inner_ip_id",
                "inner_len", "incomplete", "uid")


def ensure_table(con: duckdb.DuckDBPyConnection, name: str = "events", omit: Iterable[str] = ()) -> None:
    """Create the table ``name`` (if missing) with the event schema's columns, less ``omit``."""
    empty = EVENT_SCHEMA.empty_table()  # noqa: F841 - referenced by DuckDB's replacement scan
    omit = [c for c in omit if c in EVENT_SCHEMA.names]
    exclude = f" EXCLUDE ({', '.join(omit)})" if omit else ""
    con.execute(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT *{exclude} FROM empty LIMIT 0")


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    """The columns of the table (or view) ``name``, in order."""
    return [d[0] for d in con.execute(f"SELECT * FROM {name} LIMIT 0").description]


def _insert_list(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """What to select from a batch of the event schema to insert into ``name``: ``*`` when the table
    has every column, else the table's columns (a table made with ``ensure_table(omit=...)``)."""
    cols = table_columns(con, name)
    return "*" if cols == EVENT_SCHEMA.names else ", ".join(f'"{c}"' for c in cols)


def append(con: duckdb.DuckDBPyConnection, batch: pa.RecordBatch, name: str = "events") -> None:
    """Append one batch to a table of every column (``watch``'s, a few times a second: no look-up
    of the table's columns; a narrow table is loaded by :func:`append_stream`)."""
    con.register("_fwf_batch", batch)
    try:
        con.execute(f"INSERT INTO {name} SELECT * FROM _fwf_batch")
    finally:
        con.unregister("_fwf_batch")


# Rows appended per INSERT statement (one transaction each): a transaction's new row groups stay
# in memory until it commits, so one INSERT per input would make the peak memory of a load
# grow with the input; statements of this many rows keep it bounded and cost little.
INSERT_ROWS = 1 << 20


def append_stream(con: duckdb.DuckDBPyConnection, batches: Iterable[pa.RecordBatch], name: str = "events") -> int:
    """Append every batch with a few ``INSERT`` statements of up to INSERT_ROWS rows: DuckDB pulls
    the batches from a RecordBatchReader as it goes (bounded memory; no per-batch register/plan
    overhead, about 4x faster than one INSERT per batch). Returns the number of rows added."""
    count = [0]
    failed: list[BaseException] = []
    it = iter(batches)
    more = [True]

    def chunk():
        rows = 0
        try:
            while rows < INSERT_ROWS:
                try:
                    b = next(it)
                except StopIteration:
                    more[0] = False
                    return
                if b.num_rows:
                    if not b.schema.equals(EVENT_SCHEMA):
                        b = pa.RecordBatch.from_arrays(b.columns, schema=EVENT_SCHEMA)
                    count[0] += b.num_rows
                    rows += b.num_rows
                    yield b
        except BaseException as e:  # DuckDB wraps it in its own error: keep the original for the caller
            failed.append(e)
            raise

    # The rows' order in the table does not matter (every query that needs an order sorts by
    # ts, source_file, line): without it DuckDB compresses and writes row groups on both cores,
    # which makes loading a large input into the on-disk work database ~40% faster.
    cols = _insert_list(con, name)
    con.execute("SET preserve_insertion_order = false")
    try:
        while more[0]:
            rdr = pa.RecordBatchReader.from_batches(EVENT_SCHEMA, chunk())  # noqa: F841 - replacement scan
            try:
                con.execute(f"INSERT INTO {name} SELECT {cols} FROM rdr")
            except Exception:
                if failed:
                    raise failed[0] from None
                raise
            release_memory()
            _fit_work_limit(con, LOAD_MEMORY, LOAD_MEMORY_BIG, LOAD_BIG_TABLE_BYTES)
    finally:
        con.execute("SET preserve_insertion_order = true")
    return count[0]


def load(con: duckdb.DuckDBPyConnection, batches: Iterable[pa.RecordBatch], name: str = "events") -> int:
    """Create ``name`` if needed and append every batch; returns the number of rows added."""
    ensure_table(con, name)
    return append_stream(con, batches, name)
