"""Apache Spark (PySpark) as a detector engine, over events stored as Parquet partitioned by day.

    eng = SparkEngine("events-parquet/")            # local[2] unless master= or a session is given
    ctx = detectors.Context(con=eng)
    findings = detectors.run(ctx)

Every detector query is written once, in DuckDB's SQL dialect; :meth:`SparkEngine.query_dicts`
translates it with sqlglot and runs it on Spark. Values come back as DuckDB gives them
(timestamps as UTC-aware datetimes) so findings compare equal across engines.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ..schema import EVENT_SCHEMA

PARTITION = "day"


def write_parquet(batches, out_dir: str) -> int:
    """Write event batches as a Parquet dataset partitioned by day (``day=YYYY-MM-DD``; records
    without a wall-clock time go to the null partition). Streams: memory stays bounded."""
    schema = EVENT_SCHEMA.append(pa.field(PARTITION, pa.date32()))
    n = [0]

    def with_day():
        for b in batches:
            n[0] += b.num_rows
            day = pc.cast(pc.cast(b.column("ts"), pa.timestamp("us")), pa.date32())
            yield pa.RecordBatch.from_arrays(list(b.columns) + [day], schema=schema)

    ds.write_dataset(with_day(), out_dir, schema=schema, format="parquet",
                     partitioning=ds.partitioning(pa.schema([(PARTITION, pa.date32())]), flavor="hive"),
                     existing_data_behavior="overwrite_or_ignore",
                     basename_template=f"part-{int(time.time() * 1e6)}-{{i}}.parquet")
    return n[0]


def session(master: str | None = None, app: str = "fwforensics"):
    """A Spark session: ``master`` (e.g. ``spark://host:7077``, ``yarn``, ``k8s://...``) or
    ``$FWF_SPARK_MASTER`` or ``local[2]``."""
    os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", "python3"))
    os.environ["TZ"] = "UTC"  # collect() turns timestamps into local-time datetimes
    time.tzset()
    from pyspark.sql import SparkSession
    b = SparkSession.builder.appName(app).master(master or os.environ.get("FWF_SPARK_MASTER", "local[2]"))
    b = b.config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
    b = b.config("spark.sql.shuffle.partitions", os.environ.get("FWF_SPARK_SHUFFLE_PARTITIONS", "4"))
    return b.getOrCreate()


class SparkEngine:
    """The adapter the detector framework talks to (``query_dicts``)."""

    def __init__(self, dataset: str, spark=None, master: str | None = None, table: str = "events"):
        import sqlglot  # noqa: F401 - fail early when missing
        self.spark = spark or session(master)
        df = self.spark.read.option("basePath", dataset).parquet(dataset)
        if PARTITION in df.columns:
            df = df.drop(PARTITION)
        df.createOrReplaceTempView(table)
        self.table = table
        self.queries = 0

    def translate(self, sql: str) -> str:
        return translate(sql)

    def query_dicts(self, sql: str) -> list[dict[str, Any]]:
        self.queries += 1
        rows = self.spark.sql(self.translate(sql)).collect()
        return [{k: _value(v) for k, v in r.asDict().items()} for r in rows]

    def count(self) -> int:
        return int(self.query_dicts(f"SELECT count(*) AS n FROM {self.table}")[0]["n"])


def translate(sql: str) -> str:
    """DuckDB SQL as Spark SQL. sqlglot writes DuckDB's ``epoch(ts)`` (seconds, with their fraction)
    as ``UNIX_TIMESTAMP(ts)``, which drops the fraction: Spark gets ``UNIX_MICROS(ts)`` as a double
    over 1000000 instead (DuckDB's arithmetic), so windows and sessions of sub-second times
    (captures, high-resolution syslog) come out as on DuckDB. Spark has no DISTINCT aggregate over
    a window: ``count(DISTINCT x) OVER (...)`` becomes ``size(collect_set(x) OVER (...))``."""
    import sqlglot
    from sqlglot import exp

    def spark_forms(node):
        if isinstance(node, exp.TimeToUnix):
            micros = exp.cast(exp.Anonymous(this="UNIX_MICROS", expressions=[node.this]), "double")
            return exp.Paren(this=exp.Div(this=micros, expression=exp.Literal.number(1000000)))
        if (isinstance(node, exp.Window) and isinstance(node.this, exp.Count)
                and isinstance(node.this.this, exp.Distinct) and len(node.this.this.expressions) == 1):
            w = node.copy()
            w.set("this", exp.Anonymous(this="COLLECT_SET", expressions=[node.this.this.expressions[0].copy()]))
            return exp.Anonymous(this="SIZE", expressions=[w])
        return node

    tree = sqlglot.parse_one(sql, read="duckdb").transform(spark_forms)
    return tree.sql(dialect="spark")


def _value(v):
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=timezone.utc)
    if isinstance(v, Decimal) and v == v.to_integral_value():
        return int(v)
    return v
