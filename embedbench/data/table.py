"""Generic tables (CSV, TSV, JSON, JSON lines, Parquet, each optionally gzip-compressed) mapped onto a shape.

A user's own data needs no code: ``columns = {anchor = "question", positive = "answer"}`` in the
config maps the file's ``question`` and ``answer`` columns onto the ``pairs`` shape. Every frame
carries ``row``: the 1-based line number of the record in CSV/TSV/JSONL files (exact even when
quoted fields span lines), the 1-based row number in Parquet and JSON files.

Layouts read:

- CSV / TSV with a header line (columns by name) or without one (``header = false``: columns by
  position, named ``"1"``, ``"2"``, ...);
- JSON: an array of rows, an object of splits (``{"train": [...], "test": [...]}``, the source's
  ``split`` picks one) or an object with the rows under a named ``field``; rows are objects (columns by
  key) or arrays (columns by position, ``"1"``, ``"2"``, ...; every array the same length);
- JSON lines (one object per line) and Parquet;
- any of them gzip-compressed (``.csv.gz``, ``.json.gz``, ...).

Rows are selected by ``where = {column = value | [values]}`` and by a split column; scores are checked
against the declared ``score_range = [lo, hi]`` on the file's own column, then rescaled to [0, 1].
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from embedbench.data.common import (
    ROW,
    cast_column,
    decode,
    parse_jsonl,
    plain_suffix,
    raise_first_bad,
    read_bytes,
    require_file,
    require_not_null,
    where,
)
from embedbench.data.shapes import SHAPES, Schema, check_schema, ntuple
from embedbench.errors import EmbedbenchError

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
NEGATIVE = re.compile(r"negative(_\d+)?")
Scalar = str | int | float | bool
Filters = Mapping[str, Scalar | Sequence[Scalar]]


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


def _missing_column(path: Path, df: pl.DataFrame, column: str, what: str) -> EmbedbenchError:
    have = [c for c in df.columns if c != ROW]
    near = difflib.get_close_matches(column, have, 1)
    return EmbedbenchError(
        f"{path}: {what} column {column!r} not found"
        + (f" (did you mean {near[0]!r}?)" if near else "")
        + f"; the file has {have}"
    )


def select_rows(
    df: pl.DataFrame,
    path: Path,
    filters: Filters | None = None,
    split_column: str | None = None,
    split: str | None = None,
) -> pl.DataFrame:
    """Keep the rows whose ``filters`` columns hold one of the given values and, with ``split_column``, whose
    split column equals ``split``. Values compare as text (``1`` matches ``"1"``); a filter on a missing
    column, or one that keeps no row, raises naming the file, the column and the values it has."""
    conditions = dict(filters or {})
    if split_column is not None:
        if split is None:
            raise EmbedbenchError(f"{path}: `split_column` is {split_column!r} but no `split` is set; name the split to keep")
        conditions[split_column] = split
    for column, wanted in conditions.items():
        what = "split" if column == split_column else "filter (`where`)"
        if column not in df.columns:
            raise _missing_column(path, df, column, what)
        values = [wanted] if isinstance(wanted, str | int | float | bool) else list(wanted)
        as_text = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
        kept = df.filter(pl.col(column).cast(pl.String).is_in(as_text))
        if kept.height == 0:
            found = df[column].cast(pl.String).unique(maintain_order=True)
            raise EmbedbenchError(
                f"{where(path, None, column)}: {what} keeps no rows: expected {as_text if len(as_text) > 1 else as_text[0]!r}, "
                f"the column holds {found.head(8).to_list()}{' ...' if found.len() > 8 else ''}; fix the value"
            )
        df = kept
    return df


def shape_schema(shape: str | Schema, targets: list[str] | None = None) -> Schema:
    """The schema for ``shape`` (a name from ``embedbench.data.shapes.SHAPES`` or a schema); ``triplets`` widens to
    an n-tuple when ``targets`` names ``negative_1..negative_n``."""
    if not isinstance(shape, str):
        return shape
    if shape not in SHAPES:
        raise EmbedbenchError(f"unknown output shape {shape!r}; expected one of {sorted(SHAPES)}")
    if shape == "triplets" and targets:
        n = sum(1 for t in targets if NEGATIVE.fullmatch(t))
        if n > 1:
            return ntuple(n)
    return SHAPES[shape]


def _text_column(out: pl.DataFrame, src: str, path: Path) -> None:
    """Raise naming the first row of ``src`` (a non-text column) and its value: a text column must hold text."""
    actual = out.schema[src]
    first = out.filter(pl.col(src).is_not_null()).head(1)
    value = first.item(0, src) if first.height else None
    kind = "a JSON object" if isinstance(actual, pl.Struct) else "a JSON array" if isinstance(actual, pl.List) else f"{actual}"
    raise EmbedbenchError(
        f"{where(path, first.item(0, ROW) if first.height else None, src)}: expected text, got {kind} "
        f"{json.dumps(value, default=str)[:60] if value is not None else ''}".rstrip()
        + "; map a text column, or quote the value"
    )


def conform(
    df: pl.DataFrame,
    columns: Mapping[str, str | int] | None,
    shape: str | Schema,
    path: Path,
    *,
    score_max: float = 1.0,
    score_range: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Rename ``columns`` (target -> source column; an int is a position, counted from 1) and cast to ``shape``;
    keep ``row`` after the shape's columns.

    A missing source column, a null, or a value of the wrong type raises naming file, line and column.
    Scored shapes keep the file's score as ``score_raw``; it must lie in ``score_range`` (default
    ``[0, score_max]``), checked on the file's own column, and ``score = (score_raw - lo) / (hi - lo)``.
    """
    mapping = {t: str(s) for t, s in (columns or {}).items()}
    schema = shape_schema(shape, list(mapping) or list(df.columns))
    for target in schema:
        mapping.setdefault(target, target)
    unknown = [t for t in mapping if t not in schema]
    if unknown:
        raise EmbedbenchError(
            f"{path}: columns mapping names {unknown}, which the shape lacks; its columns are {list(schema)}"
        )
    missing = {t: s for t, s in mapping.items() if s not in df.columns}
    if missing:
        hints = "; ".join(
            f"{t} <- {s!r}"
            + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(s, df.columns, 1)) else "")
            for t, s in missing.items()
        )
        raise EmbedbenchError(
            f"{path}: column(s) not found: {hints}; the file has {[c for c in df.columns if c != ROW]}. "
            'Set the source\'s `columns` mapping (target = "source column", or a position counted from 1)'
        )
    sources = list(dict.fromkeys(mapping[t] for t in schema))
    out = df.select(ROW, *sources)  # checks and casts on the file's own column names, for the messages
    require_not_null(out, sources, path)
    for name, dtype in schema.items():
        src = mapping[name]
        actual = out.schema[src]
        if dtype == pl.String and actual != pl.String:
            if name == "label" and (actual.is_integer() or actual == pl.Boolean):
                out = out.with_columns(pl.col(src).cast(pl.String))
            else:
                _text_column(out, src, path)
        elif dtype != pl.String and actual != dtype:
            out = cast_column(out, src, dtype, path, f"a {'number' if dtype == pl.Float64 else 'integer'}")
    if schema.get("score") == pl.Float64:  # similarity scores (integer qrels grades are not rescaled)
        lo, hi = score_range if score_range is not None else (0.0, score_max)
        src = mapping["score"]
        raise_first_bad(
            out.filter(~pl.col(src).is_between(lo, hi)),
            path,
            src,
            lambda r: f"score {r[src]!r} is outside the declared score_range [{lo:g}, {hi:g}]",
            "fix the score, or set the source's `score_range` to the file's scale",
        )
    out = out.select(*[pl.col(mapping[t]).alias(t) for t in schema], ROW)
    if schema.get("score") == pl.Float64:  # similarity scores (integer qrels grades are not rescaled)
        out = out.with_columns(pl.col("score").alias("score_raw"), (pl.col("score") - lo) / (hi - lo))
    out = out.select(*schema, pl.exclude(*schema))
    check_schema(out, schema, str(path))
    return out


def read_table(
    path: str | Path,
    columns: Mapping[str, str | int] | None,
    shape: str | Schema,
    *,
    fmt: str | None = None,
    score_max: float = 1.0,
    score_range: tuple[float, float] | None = None,
    header: bool = True,
    field: str | None = None,
    split: str | None = None,
    filters: Filters | None = None,
    split_column: str | None = None,
) -> pl.DataFrame:
    """Read a table file into ``shape`` (``pairs``, ``triplets``, ``scored``, ``pair-class``, ``labelled``)
    using ``columns`` = {target column: source column}; unmapped targets use their own name.

    Args:
        path: the file (CSV, TSV, JSON, JSONL, Parquet; ``.gz`` too).
        columns: mapping from the shape's column names to the file's column names (or positions from 1).
        shape: output shape name or a schema from ``embedbench.data.shapes``.
        fmt: the format (default: from the suffix).
        score_max: the file's maximum score, for scored shapes (e.g. 5 for 0–5 scores).
        score_range: the file's score scale ``(lo, hi)`` instead of ``[0, score_max]``.
        header: CSV/TSV: whether the first line names the columns (see :func:`read_frame`).
        field: JSON: the top-level key holding the rows.
        split: JSON: the split key of an object of splits; with ``split_column``: the value rows must hold.
        filters: ``{column: value or values}`` rows must match (``where`` in the config).
        split_column: the column naming each row's split.
    """
    path = Path(path)
    is_json = (fmt or FORMATS.get(plain_suffix(path))) == "json"
    if split is not None and not is_json and split_column is None:
        raise EmbedbenchError(
            f"{path}: split {split!r} is set, but this file has no splits; set the source's `split_column` to the "
            "column naming each row's split, or remove `split`"
        )
    df = read_frame(path, fmt, header=header, field=field, split=None if split_column else split)
    df = select_rows(df, path, filters, split_column, split)
    return conform(df, columns, shape, path, score_max=score_max, score_range=score_range)
