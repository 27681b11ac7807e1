"""Any CSV log, with a user-given column mapping (``--map FILE``: schema column -> CSV column).

The first line of the input is the header. ``ParseContext.state["mapping"]`` holds the
mapping, e.g. ``{"ts": "time", "src_ip": "source", "dst_port": "dport", "action": "verdict"}``.
Rows are parsed by Arrow's CSV reader a batch at a time; a batch that Arrow refuses
(a ragged row) is read row by row with Python's ``csv`` so each bad row is reported by
line number. Never chosen by auto-detection: select it with ``--format csv_generic``.
"""
from __future__ import annotations

import csv
import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..schema import conform
from . import Format, ParseContext, ParseResult
from ._mapped import check_mapping, convert_mapped

_S = pa.string()


def _split(text: str, delimiter: str) -> list[str]:
    """One CSV line -> fields (quotes honoured); a line csv cannot read -> no fields."""
    try:
        return next(csv.reader([text.replace("\r", " ")], delimiter=delimiter), [])
    except csv.Error:
        return []


class CsvMapped(Format):
    name = "csv_generic"
    description = "generic CSV with a column mapping (--map): header line + one record per line"
    example = "time,source,sport,destination,dport,proto,verdict"
    delimiter = ","

    def mapping(self, ctx: ParseContext) -> dict[str, str]:
        return check_mapping(ctx.state.get("mapping"))

    def sniff(self, sample):
        return 0.0

    def parse(self, lines, first_line, ctx):
        mapping = self.mapping(ctx)
        texts = lines.to_pylist()
        n = len(texts)
        skipped, unreadable = 0, []
        start = 0
        if "csv_header" not in ctx.state:
            while start < n and not (texts[start] or "").strip():
                start += 1
                skipped += 1
            if start < n:
                ctx.state["csv_header"] = _split(texts[start], self.delimiter)
                start += 1
                skipped += 1
        header = ctx.state.get("csv_header", [])
        missing = [v for v in mapping.values() if v not in header]
        idx = [i for i in range(start, n) if (texts[i] or "").strip()]
        skipped += (n - start) - len(idx)
        if missing:  # not the CSV the mapping describes: every row is unreadable, nothing raises
            why = f"CSV header lacks the mapped column(s) {', '.join(missing)}"
            return ParseResult(conform({}, 0), [(first_line + i, why) for i in idx], skipped)
        body = [texts[i] for i in idx]
        rows_ok: list[int] = []
        table = None
        if body:
            try:
                table = pacsv.read_csv(io.BytesIO("\n".join(body).encode()),
                                       read_options=pacsv.ReadOptions(column_names=header),
                                       parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=False),
                                       convert_options=pacsv.ConvertOptions(column_types={h: _S for h in header}))
                if table.num_rows != len(body):
                    table = None
                else:
                    rows_ok = idx
            except (pa.ArrowInvalid, ValueError):
                table = None
            if table is None:
                recs = {h: [] for h in header}
                for i, text in zip(idx, body):
                    row = _split(text, self.delimiter)
                    if len(row) != len(header):
                        unreadable.append((first_line + i, f"{len(row)} fields where the header has {len(header)}"))
                        continue
                    rows_ok.append(i)
                    for h, v in zip(header, row):
                        recs[h].append(v)
                table = pa.table({h: pa.array(v, _S) for h, v in recs.items()}) if header else None
        m = len(rows_ok)
        if m == 0:
            return ParseResult(conform({}, 0), unreadable, skipped)
        values = {col: table.column(src).combine_chunks() for col, src in mapping.items()}
        cols = convert_mapped(values, m, ctx)
        cols["line"] = pa.array([first_line + i for i in rows_ok], pa.int64())
        cols["raw"] = pa.array([texts[i] for i in rows_ok], _S)
        cols["source_file"] = pa.array([ctx.source_file] * m, _S)
        cols["format"] = pa.array([self.name] * m, _S)
        cols["action"] = pc.fill_null(cols.get("action", pa.nulls(m, _S)), "other")
        if "src_ip" in cols:
            from ._fwbase import ip_version
            cols.setdefault("ip_version", ip_version(cols["src_ip"], cols.get("dst_ip")))
        return ParseResult(conform(cols, m), unreadable, skipped)


FORMAT = CsvMapped()
