"""Frame shapes of prep, written once as Polars schema constants and checked at stage boundaries.

Column order follows sentence-transformers (the loss reads columns by position): ``anchor, positive
[, negative…]``, ``sentence1, sentence2, score``, ``premise, hypothesis, label``, ``text, label``.
Frames may carry extra provenance columns after the required ones (``query_id``, ``doc_id``,
``source``, ``row`` = 1-based line number in the source file, ``score_raw``, ``subset``); they are
dropped on final write by :func:`select_schema`.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from embedbench.errors import EmbedbenchError

Schema = Mapping[str, type[pl.DataType] | pl.DataType]

PAIR: Schema = {"anchor": pl.String, "positive": pl.String}
TRIPLET: Schema = {"anchor": pl.String, "positive": pl.String, "negative": pl.String}
SCORED: Schema = {"sentence1": pl.String, "sentence2": pl.String, "score": pl.Float64}
PAIR_CLASS: Schema = {"premise": pl.String, "hypothesis": pl.String, "label": pl.String}
PAIR_CLASS_INT: Schema = {"premise": pl.String, "hypothesis": pl.String, "label": pl.Int64}
LABELLED: Schema = {"text": pl.String, "label": pl.String}
BINARY_PAIR: Schema = {"sentence1": pl.String, "sentence2": pl.String, "label": pl.Int64}

CORPUS: Schema = {"doc_id": pl.String, "title": pl.String, "text": pl.String}
QUERIES: Schema = {"query_id": pl.String, "text": pl.String}
QRELS: Schema = {"query_id": pl.String, "doc_id": pl.String, "score": pl.Int64}

DROPPED: Schema = {"reason": pl.String}
"""A dropped-rows frame has at least a ``reason`` column (plus the row's own columns)."""

SHAPES: dict[str, Schema] = {
    "pairs": PAIR,
    "triplets": TRIPLET,
    "scored": SCORED,
    "pair-class": PAIR_CLASS,
    "labelled": LABELLED,
}
"""Output shape name (as used in configs) -> schema. n-tuples extend ``triplets`` (see :func:`ntuple`)."""

PROVENANCE_COLUMNS = ("query_id", "doc_id", "source", "row", "score_raw", "subset", "split")


def ntuple(n_negatives: int) -> Schema:
    """Schema of an n-tuple with ``n_negatives`` negatives: ``anchor, positive, negative_1..negative_n``.

    One negative is the plain triplet (column ``negative``), as sentence-transformers names it.
    """
    if n_negatives < 1:
        raise EmbedbenchError(f"an n-tuple needs at least 1 negative, got {n_negatives}")
    if n_negatives == 1:
        return dict(TRIPLET)
    cols: dict[str, type[pl.DataType] | pl.DataType] = {"anchor": pl.String, "positive": pl.String}
    cols.update({f"negative_{i}": pl.String for i in range(1, n_negatives + 1)})
    return cols


def _same_type(actual: pl.DataType, expected: type[pl.DataType] | pl.DataType) -> bool:
    return actual == expected or actual.base_type() == expected


def check_schema(df: pl.DataFrame | pl.LazyFrame, schema: Schema, where: str) -> None:
    """Raise ``EmbedbenchError`` unless ``df`` has every column of ``schema`` with its dtype.

    Extra columns are allowed. ``where`` names the stage or file in the message (e.g. ``"read_stsb(sts-train.csv)"``).
    """
    actual = df.collect_schema() if isinstance(df, pl.LazyFrame) else df.schema
    missing = [c for c in schema if c not in actual]
    mistyped = [
        f"{c} is {actual[c]}, expected {schema[c]}"
        for c in schema
        if c in actual and not _same_type(actual[c], schema[c])
    ]
    if not missing and not mistyped:
        return
    parts = []
    if missing:
        parts.append(f"missing column(s) {missing}")
    if mistyped:
        parts.append("; ".join(mistyped))
    raise EmbedbenchError(
        f"{where}: frame does not match the expected shape {list(schema)}: {'; '.join(parts)} "
        f"(present: {list(actual)}); map the source's columns onto these names"
    )


def select_schema(df: pl.DataFrame, schema: Schema, where: str) -> pl.DataFrame:
    """Check ``df`` against ``schema`` and keep only its columns, in schema order (the final-write shape)."""
    check_schema(df, schema, where)
    return df.select(list(schema))


def empty_frame(schema: Schema) -> pl.DataFrame:
    """An empty frame with ``schema``'s columns and types."""
    return pl.DataFrame(schema=dict(schema))
