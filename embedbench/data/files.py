"""Files to frames: each table format (CSV, TSV, JSON, JSON lines, Parquet, each optionally gzip-compressed)
read into a Polars frame with its ``row`` column, with located errors (file, line or row, column).

:mod:`embedbench.data.table` maps these frames onto a shape (columns, filters, score ranges).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import polars as pl

from embedbench.data.common import (
    ROW,
    decode,
    parse_jsonl,
    plain_suffix,
    read_bytes,
    require_file,
)
from embedbench.errors import EmbedbenchError

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}

def _csv_problem(text: str, separator: str, header: bool) -> tuple[int, str] | None:
    """The first line where ``text`` is not well-formed CSV (unclosed quote, wrong number of fields), or None.

    Uses Python's own ``csv`` module (strict), only to place an error Polars reports without a line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    width, start = None, 1
    try:
        for record in reader:
            if record:
                if width is None:
                    width = len(record)
                elif len(record) != width:
                    first = "the header" if header else "the first row"
                    return start, f"{len(record)} fields, but {first} has {width}"
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc) or "EOF" in str(exc):
            return start, "a quoted field is never closed (a \" without its closing \")"
        return start, f"malformed field ({exc})"
    return None


def _read_csv(path: Path, separator: str, header: bool = True) -> pl.DataFrame:
    kind = "TSV" if separator == "\t" else "CSV"
    data = read_bytes(path)

    def located() -> None:
        problem = _csv_problem(decode(path), separator, header)  # decode raises on bad bytes, with the line
        # (Python's csv module, only to name the line; Polars does the reading)
        if problem:
            line, what = problem
            raise EmbedbenchError(
                f"{path}, line {line}: cannot parse as {kind}: {what}; a field holding the separator, a quote "
                "or a newline must be in double quotes (a quote inside it doubled), and every row needs "
                "as many fields as the first"
            )

    try:
        df = pl.read_csv(
            io.BytesIO(data), separator=separator, infer_schema=False, empty_string_is_null=False,
            has_header=header,
        )
    except pl.exceptions.NoDataError:
        raise EmbedbenchError(f"{path}: file is empty; expected {'a header line and ' if header else ''}rows") from None
    except pl.exceptions.ComputeError as exc:
        located()
        first = str(exc).strip().splitlines()[0]
        raise EmbedbenchError(
            f"{path}: cannot parse as {kind} ({first}); check the quoting (a field with the separator, a quote "
            "or a newline must be in double quotes) and that every row has as many fields as the header"
        ) from None
    located()  # Polars fills a short row with nulls or empty strings: check the field counts line by line
    if not header:
        df = df.rename({c: str(i) for i, c in enumerate(df.columns, start=1)})
    # line of each record = header + records before it + newlines inside their quoted fields
    inner = (
        pl.sum_horizontal(pl.col(c).fill_null("").str.count_matches("\n") for c in df.columns)
        if df.width
        else pl.lit(0)
    )
    first_line = 2 if header else 1
    lines = (pl.int_range(first_line, pl.len() + first_line) + inner.cum_sum() - inner).cast(pl.Int64)
    return df.with_columns(lines.alias(ROW)).select(ROW, *df.columns)


def _json_rows(path: Path, field: str | None, split: str | None) -> list[Any]:
    """The list of rows in a JSON file: the top-level array, ``obj[field]``, or ``obj[split]`` of an object of splits."""
    text = decode(path, what="JSON")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EmbedbenchError(
            f"{path}, line {exc.lineno}, character {exc.colno}: malformed JSON ({exc.msg}); fix the file"
        ) from None
    if field is not None:
        if not isinstance(data, dict) or field not in data:
            keys = sorted(data) if isinstance(data, dict) else f"a JSON {type(data).__name__}"
            raise EmbedbenchError(
                f"{path}: no field {field!r} at the top level (found {keys}); set the source's `field` to the key holding the rows"
            )
        data = data[field]
    if isinstance(data, dict):
        if split is None or split not in data:
            problem = "set the source's `split`" if split is None else f"it has no split {split!r}"
            raise EmbedbenchError(
                f"{path}: a JSON object of splits {sorted(data)}; {problem} to one of them "
                "(or `field` to the key holding the rows)"
            )
        data = data[split]
    if not isinstance(data, list):
        raise EmbedbenchError(
            f"{path}: expected a JSON array of rows, got a JSON {type(data).__name__}; "
            "use an array, an object of splits, or set `field`"
        )
    return data


def _read_json(path: Path, field: str | None, split: str | None) -> pl.DataFrame:
    rows = _json_rows(path, field, split)
    if not rows:
        raise EmbedbenchError(f"{path}: no rows{f' in split {split!r}' if split else ''}; expected at least one record")
    place = f"{path}" + (f", split {split!r}" if split and field is None else "")
    if all(isinstance(r, list) for r in rows):
        width = len(rows[0])
        for i, r in enumerate(rows, start=1):
            if len(r) != width:
                raise EmbedbenchError(
                    f"{place}, row {i}: expected {width} values (as in row 1), got {len(r)}: {json.dumps(r)[:80]}; "
                    "every row array needs the same columns, in the same positions"
                )
        records = [{str(j): v for j, v in enumerate(r, start=1)} for r in rows]
    elif all(isinstance(r, dict) for r in rows):
        records = rows
    else:
        i = next(i for i, r in enumerate(rows, start=1) if not isinstance(r, type(rows[0])))
        raise EmbedbenchError(
            f"{place}, row {i}: expected a JSON {'array' if isinstance(rows[0], list) else 'object'} like row 1, "
            f"got {type(rows[i - 1]).__name__}; every row must have the same form"
        )
    for i, r in enumerate(records, start=1):
        for key, value in r.items():
            if isinstance(value, dict | list):
                raise EmbedbenchError(
                    f"{place}, row {i}, column '{key}': expected a plain value, got a JSON {type(value).__name__}; "
                    "fix the value"
                )
    columns = list(dict.fromkeys(k for r in records for k in r))
    data = {c: [r.get(c) for r in records] for c in columns}
    try:
        df = pl.DataFrame(data, strict=False)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        df = pl.DataFrame({c: [None if v is None else str(v) for v in vals] for c, vals in data.items()})
    return df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def read_frame(
    path: str | Path,
    fmt: str | None = None,
    *,
    header: bool = True,
    field: str | None = None,
    split: str | None = None,
) -> pl.DataFrame:
    """Read a CSV, TSV, JSON, JSONL or Parquet file (``.gz`` too) as-is, with a ``row`` column first.

    Args:
        path: the file.
        fmt: ``csv``, ``tsv``, ``json``, ``jsonl`` or ``parquet``; default from the file suffix (before ``.gz``).
        header: CSV/TSV: the first line names the columns; False: columns are named by position ``"1"``, ``"2"``...
        field: JSON: the top-level key holding the rows.
        split: JSON: the key of an object of splits to read.
    """
    path = require_file(path, "a CSV, TSV, JSON, JSONL or Parquet table")
    fmt = fmt or FORMATS.get(plain_suffix(path))
    if fmt not in set(FORMATS.values()):
        raise EmbedbenchError(
            f"{path}: unknown table format {fmt or plain_suffix(path) or path.name!r}; use one of "
            f"{sorted(set(FORMATS.values()))} (by file suffix, optionally .gz, or the source's `format`)"
        )
    if fmt in ("csv", "tsv"):
        df = _read_csv(path, "," if fmt == "csv" else "\t", header)
    elif fmt == "json":
        df = _read_json(path, field, split)
    elif fmt == "jsonl":
        df = parse_jsonl(path, what="JSON lines")
    else:
        try:
            df = pl.read_parquet(io.BytesIO(read_bytes(path)))
        except pl.exceptions.PolarsError as exc:
            raise EmbedbenchError(
                f"{path}: not a readable Parquet file ({exc}); rewrite it with Polars or pandas"
            ) from None
        df = df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    if df.height == 0:
        raise EmbedbenchError(f"{path}: no rows; expected at least one record")
    return df
