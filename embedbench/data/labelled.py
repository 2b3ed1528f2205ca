"""Labelled texts (Banking77-style CSV with a header ``text,category``) and pairs / triplets built from labels.

Quirks handled: texts with quoted commas (and, in Banking77, quoted newlines; line numbers in errors
still point at the right line); CRLF line ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from embedbench.data.common import ROW, SOURCE, where
from embedbench.data.shapes import LABELLED, PAIR, TRIPLET, check_schema
from embedbench.data.table import read_table
from embedbench.errors import EmbedbenchError


def read_labelled(
    path: str | Path,
    text_column: str = "text",
    label_column: str = "category",
    labels: Sequence[str] | None = None,
    **options: Any,
) -> pl.DataFrame:
    """A labelled table (CSV/TSV/JSON/JSONL/Parquet) -> ``text, label, source, row``.

    Args:
        path: the file (Banking77: ``train.csv`` / ``test.csv``).
        text_column: the file's text column.
        label_column: the file's label column.
        labels: the allowed labels (e.g. Banking77's ``categories.json``); a label outside them raises.
        options: passed to :func:`embedbench.data.table.read_table` (format, header, field, split, filters...).
    """
    path = Path(path)
    df = read_table(path, {"text": text_column, "label": label_column}, LABELLED, **options)
    empty = df.filter(pl.col("label").str.strip_chars() == "")
    if empty.height:
        raise EmbedbenchError(
            f"{where(path, empty.item(0, ROW), label_column)}: empty label; give every row a label or remove it"
        )
    if labels is not None:
        unknown = df.filter(~pl.col("label").is_in(list(labels)))
        if unknown.height:
            r = unknown.row(0, named=True)
            raise EmbedbenchError(
                f"{where(path, r[ROW], label_column)}: unknown label {r['label']!r} "
                f"({unknown['label'].n_unique()} unknown labels in {unknown.height} rows); "
                f"expected one of the {len(labels)} known labels, e.g. {list(labels)[:5]}; fix the label or the label list"
            )
    return df.select("text", "label", pl.lit(path.name).alias(SOURCE), ROW)


def require_classes(df: pl.DataFrame, path: str | Path, label_column: str, minimum: int = 2) -> None:
    """Raise unless ``df``'s ``label`` column holds at least ``minimum`` distinct labels (classification, clustering)."""
    found = df["label"].unique(maintain_order=True).to_list()
    if len(found) < minimum:
        raise EmbedbenchError(
            f"{where(Path(path), None, label_column)}: {len(found)} distinct label(s) {found[:5]} in {df.height} rows; "
            f"expected at least {minimum} classes; check the label column, the split and the filters"
        )


def _draw(df: pl.DataFrame, seed: int, negatives: bool) -> pl.DataFrame:
    """``df`` sorted by label with ``_pos``: the position of a random other row with the same label, and with
    ``negatives`` ``_neg``: the position of a random row with another label; ``_keep`` is False where no
    partner exists; ``_orig`` is the input order. Vectorised: one uniform draw per row, no rejection loop."""
    rng = np.random.default_rng(seed)
    srt = df.with_row_index("_orig").sort("label", "_orig")
    n = srt.height
    size = srt.select(pl.len().over("label")).to_series().to_numpy().astype(np.int64)
    pos_in_group = srt.select(pl.int_range(pl.len()).over("label")).to_series().to_numpy().astype(np.int64)
    start = np.arange(n) - pos_in_group
    # partner: uniform over the other (size - 1) members of the group, skipping the row itself
    u = (rng.random(n) * np.maximum(size - 1, 1)).astype(np.int64)
    own = np.arange(n)
    keep = size > 1
    cols = [pl.Series("_pos", np.where(keep, start + u + (u >= pos_in_group), own))]
    if negatives:
        # negative: uniform over the (n - size) rows outside the group, skipping the group's block
        v = (rng.random(n) * np.maximum(n - size, 1)).astype(np.int64)
        keep &= size < n
        cols.append(pl.Series("_neg", np.where(size < n, v + np.where(v >= start, size, 0), own)))
    return srt.with_columns(*cols, pl.Series("_keep", keep))


def _finish(drawn: pl.DataFrame, *columns: pl.Expr) -> pl.DataFrame:
    return (
        drawn.select(*columns, "label", "_orig", "_keep").filter("_keep").sort("_orig").drop("_orig", "_keep")
    )


def labelled_pairs(df: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """One pair per text: ``anchor`` (the text), ``positive`` (a random other text with the same label), ``label``.

    Deterministic for a given ``seed``; output follows input order; texts whose label occurs once are left out.
    """
    check_schema(df, LABELLED, "labelled_pairs")
    drawn = _draw(df, seed, negatives=False)
    out = _finish(drawn, pl.col("text").alias("anchor"), pl.col("text").gather("_pos").alias("positive"))
    check_schema(out, PAIR, "labelled_pairs")
    return out


def labelled_triplets(df: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """One triplet per text: ``anchor``, ``positive`` (same label), ``negative`` (another label), ``label``,
    ``negative_label``.

    Deterministic for a given ``seed``; output follows input order; texts whose label occurs once, or
    all texts when only one label exists, are left out.
    """
    check_schema(df, LABELLED, "labelled_triplets")
    drawn = _draw(df, seed, negatives=True)
    out = _finish(
        drawn,
        pl.col("text").alias("anchor"),
        pl.col("text").gather("_pos").alias("positive"),
        pl.col("text").gather("_neg").alias("negative"),
        pl.col("label").gather("_neg").alias("negative_label"),
    )
    check_schema(out, TRIPLET, "labelled_triplets")
    return out.select("anchor", "positive", "negative", "label", "negative_label")
