"""Engines other than the embedded DuckDB that run the same detector SQL.

An engine adapter is any object with ``query_dicts(sql) -> list[dict]``; the detector
framework (:class:`fwforensics.detectors.Context`) sends it the DuckDB-dialect SQL every
detector writes, and the adapter translates it (sqlglot) for its engine. One definition
of each detector, several engines.
"""
