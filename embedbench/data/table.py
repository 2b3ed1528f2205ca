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

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from embedbench.data.common import (
    ROW,
    cast_column,
    plain_suffix,
    raise_first_bad,
    require_not_null,
    where,
)
from embedbench.data.files import FORMATS, read_frame
from embedbench.data.shapes import SHAPES, Schema, check_schema, ntuple
from embedbench.errors import EmbedbenchError

NEGATIVE = re.compile(r"negative(_\d+)?")
Scalar = str | int | float | bool
Filters = Mapping[str, Scalar | Sequence[Scalar]]


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
