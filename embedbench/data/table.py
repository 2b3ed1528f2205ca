"""Generic tables (CSV, TSV, JSON lines, Parquet) mapped onto one of prep's shapes by a column mapping.

A user's own data needs no code: ``columns = {anchor = "question", positive = "answer"}`` in the
config maps the file's ``question`` and ``answer`` columns onto the ``pairs`` shape. Every frame
carries ``row``: the 1-based line number of the record in CSV/TSV/JSONL files (exact even when
quoted fields span lines), the 1-based row number in Parquet.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from embedbench.data.common import (
    ROW,
    cast_column,
    decode,
    parse_jsonl,
    require_file,
    require_not_null,
    require_range,
    where,
)
from embedbench.data.shapes import SHAPES, Schema, check_schema, ntuple
from embedbench.errors import EmbedbenchError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
NEGATIVE = re.compile(r"negative(_\d+)?")


def _read_csv(path: Path, separator: str) -> pl.DataFrame:
    try:
        df = pl.read_csv(path, separator=separator, infer_schema=False, empty_string_is_null=False)
    except pl.exceptions.NoDataError:
        raise EmbedbenchError(f"{path}: file is empty; expected a header line and rows") from None
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower():
            decode(path)  # raises with the exact line and byte
        first = str(exc).strip().splitlines()[0]
        raise EmbedbenchError(
            f"{path}: cannot parse as {'TSV' if separator == chr(9) else 'CSV'} ({first}); check the quoting "
            "(a field with the separator, a quote or a newline must be in double quotes) and that every "
            "row has as many fields as the header"
        ) from None
    # line of each record = header + records before it + newlines inside their quoted fields
    inner = (
        pl.sum_horizontal(pl.col(c).str.count_matches("\n") for c in df.columns) if df.width else pl.lit(0)
    )
    lines = (pl.int_range(2, pl.len() + 2) + inner.cum_sum() - inner).cast(pl.Int64)
    return df.with_columns(lines.alias(ROW)).select(ROW, *df.columns)


def read_frame(path: str | Path, fmt: str | None = None) -> pl.DataFrame:
    """Read a CSV, TSV, JSONL or Parquet file as-is (CSV/TSV columns as strings), with a ``row`` column first.

    Args:
        path: the file.
        fmt: ``csv``, ``tsv``, ``jsonl`` or ``parquet``; default from the file suffix.
    """
    path = require_file(path, "a CSV, TSV, JSONL or Parquet table")
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt not in set(FORMATS.values()):
        raise EmbedbenchError(
            f"{path}: unknown table format {fmt or path.suffix!r}; use one of {sorted(set(FORMATS.values()))} "
            "(by file suffix or the source's `format`)"
        )
    if fmt in ("csv", "tsv"):
        df = _read_csv(path, "," if fmt == "csv" else "\t")
    elif fmt == "jsonl":
        df = parse_jsonl(path, what="JSON lines")
    else:
        try:
            df = pl.read_parquet(path)
        except pl.exceptions.PolarsError as exc:
            raise EmbedbenchError(
                f"{path}: not a readable Parquet file ({exc}); rewrite it with Polars or pandas"
            ) from None
        df = df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    if df.height == 0:
        raise EmbedbenchError(f"{path}: no rows; expected at least one record")
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


def conform(
    df: pl.DataFrame,
    columns: Mapping[str, str] | None,
    shape: str | Schema,
    path: Path,
    *,
    score_max: float = 1.0,
) -> pl.DataFrame:
    """Rename ``columns`` (target -> source column) and cast to ``shape``; keep ``row`` after the shape's columns.

    A missing source column, a null, or a value of the wrong type raises naming file, line and column.
    Scored shapes keep the file's score as ``score_raw`` and set ``score = score_raw / score_max``,
    which must lie in [0, 1].
    """
    mapping = dict(columns) if columns else {}
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
            'Set the source\'s `columns` mapping (target = "source column")'
        )
    sources = list(dict.fromkeys(mapping[t] for t in schema))
    out = df.select(ROW, *sources)  # checks and casts on the file's own column names, for the messages
    require_not_null(out, sources, path)
    for name, dtype in schema.items():
        src = mapping[name]
        actual = out.schema[src]
        if dtype == pl.String and actual != pl.String:
            if name == "label" and actual.is_integer():
                out = out.with_columns(pl.col(src).cast(pl.String))
            else:
                raise EmbedbenchError(
                    f"{where(path, None, src)}: expected text, got {actual}; map a text column"
                )
        elif dtype != pl.String and actual != dtype:
            out = cast_column(out, src, dtype, path, f"a {'number' if dtype == pl.Float64 else 'integer'}")
    out = out.select(*[pl.col(mapping[t]).alias(t) for t in schema], ROW)
    if "score" in schema:
        out = out.with_columns(pl.col("score").alias("score_raw"), pl.col("score") / score_max)
        require_range(out, "score", 0.0, 1.0, path)
    out = out.select(*schema, pl.exclude(*schema))
    check_schema(out, schema, str(path))
    return out


def read_table(
    path: str | Path,
    columns: Mapping[str, str] | None,
    shape: str | Schema,
    *,
    fmt: str | None = None,
    score_max: float = 1.0,
) -> pl.DataFrame:
    """Read a CSV/TSV/JSONL/Parquet file into ``shape`` (``pairs``, ``triplets``, ``scored``, ``pair-class``,
    ``labelled``) using ``columns`` = {target column: source column}; unmapped targets use their own name.

    Args:
        path: the file.
        columns: mapping from the shape's column names to the file's column names.
        shape: output shape name or a schema from ``embedbench.data.shapes``.
        fmt: ``csv``, ``tsv``, ``jsonl`` or ``parquet`` (default: from the suffix).
        score_max: the file's maximum score, for scored shapes (e.g. 5 for STS-style 0–5 scores).
    """
    path = Path(path)
    return conform(read_frame(path, fmt), columns, shape, path, score_max=score_max)
