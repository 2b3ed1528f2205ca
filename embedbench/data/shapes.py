"""The shape vocabulary: the names of the dataset shapes, their Polars schemas, and finding a frame's shape.

Every step says a shape by one of these names (configs, prep, mining, train):

================  ==============================================  ======================================
name              columns (in this order)                         where it comes from
================  ==============================================  ======================================
``pairs``         ``anchor, positive``                            sources (BEIR qrels, SNLI, MRPC, tables)
``triplets``      ``anchor, positive, negative``                  sources, or pairs with one mined negative
``n-tuples``      ``anchor, positive, negative_1 .. negative_n``  pairs with n mined negatives
``scored``        ``sentence1, sentence2, score``                 STS-style sources
``binary-pairs``  ``sentence1, sentence2, label`` (0/1)           MRPC, mined labelled pairs
``pair-class``    ``premise, hypothesis, label``                  NLI sources
``labelled``      ``text, label``                                 classification sources
``texts``         ``text``                                        single texts (unsupervised losses)
================  ==============================================  ======================================

Column order follows sentence-transformers (the loss reads columns by position). Frames may carry
extra provenance columns after the required ones (``query_id``, ``doc_id``, ``source``, ``row`` =
1-based line number in the source file, ``score_raw``, ``subset``); they are dropped on final write
by :func:`select_schema` and are not fed to a loss.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import polars as pl

from embedbench.errors import EmbedbenchError

Schema = Mapping[str, type[pl.DataType] | pl.DataType]

ShapeName = Literal["pairs", "triplets", "n-tuples", "scored", "binary-pairs", "pair-class", "labelled", "texts"]
SHAPE_NAMES: tuple[ShapeName, ...] = get_args(ShapeName)
"""Every shape name, in the order messages list them."""

PAIR: Schema = {"anchor": pl.String, "positive": pl.String}
TRIPLET: Schema = {"anchor": pl.String, "positive": pl.String, "negative": pl.String}
SCORED: Schema = {"sentence1": pl.String, "sentence2": pl.String, "score": pl.Float64}
PAIR_CLASS: Schema = {"premise": pl.String, "hypothesis": pl.String, "label": pl.String}
PAIR_CLASS_INT: Schema = {"premise": pl.String, "hypothesis": pl.String, "label": pl.Int64}
LABELLED: Schema = {"text": pl.String, "label": pl.String}
BINARY_PAIR: Schema = {"sentence1": pl.String, "sentence2": pl.String, "label": pl.Int64}
TEXTS: Schema = {"text": pl.String}

CORPUS: Schema = {"doc_id": pl.String, "title": pl.String, "text": pl.String}
QUERIES: Schema = {"query_id": pl.String, "text": pl.String}
QRELS: Schema = {"query_id": pl.String, "doc_id": pl.String, "score": pl.Int64}

SHAPES: dict[str, Schema] = {
    "pairs": PAIR,
    "triplets": TRIPLET,
    "scored": SCORED,
    "pair-class": PAIR_CLASS,
    "labelled": LABELLED,
    "texts": TEXTS,
}
"""The shapes a source is read into and a prepared set is written in (a source's ``output``), by name.

The other two names have their own schemas: ``n-tuples`` widen ``triplets`` when mining adds more
negatives (see :func:`ntuple`), ``binary-pairs`` is :data:`BINARY_PAIR`.
"""

_FIXED_SCHEMAS: dict[str, Schema] = {**SHAPES, "binary-pairs": BINARY_PAIR}
SHAPE_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(_FIXED_SCHEMAS[name]) if name in _FIXED_SCHEMAS else ("anchor", "positive", "negative_1", "..", "negative_n")
    for name in SHAPE_NAMES
}
"""Shape name -> its columns, for messages (``n-tuples`` has one or more numbered negatives)."""

_NEGATIVE = re.compile(r"^negative_(\d+)$")


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


@dataclass(frozen=True)
class Shape:
    """A frame's shape: its name, its text columns and its label/score column (if any)."""

    name: ShapeName
    texts: tuple[str, ...]
    target: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The shape's columns, in order (texts, then the target)."""
        return self.texts + ((self.target,) if self.target else ())


def detect_shape(columns: list[str]) -> Shape | None:
    """The shape whose columns are all in ``columns`` (most specific first), or None.

    Numbered negatives must run ``negative_1, negative_2, ...`` without a gap; any other columns are ignored.
    """
    cols = set(columns)
    negatives = sorted((int(m.group(1)), c) for c in columns if (m := _NEGATIVE.match(c)))
    if {"anchor", "positive"} <= cols:
        if negatives:
            numbers = [n for n, _ in negatives]
            if numbers != list(range(1, len(numbers) + 1)):
                return None
            return Shape("n-tuples", ("anchor", "positive", *(c for _, c in negatives)))
        if "negative" in cols:
            return Shape("triplets", ("anchor", "positive", "negative"))
        return Shape("pairs", ("anchor", "positive"))
    if {"sentence1", "sentence2", "score"} <= cols:
        return Shape("scored", ("sentence1", "sentence2"), "score")
    if {"sentence1", "sentence2", "label"} <= cols:
        return Shape("binary-pairs", ("sentence1", "sentence2"), "label")
    if {"premise", "hypothesis", "label"} <= cols:
        return Shape("pair-class", ("premise", "hypothesis"), "label")
    if {"text", "label"} <= cols:
        return Shape("labelled", ("text",), "label")
    if "text" in cols:
        return Shape("texts", ("text",))
    return None


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
