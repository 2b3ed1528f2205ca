"""Microsoft Research Paraphrase Corpus: ``quality TAB id1 TAB id2 TAB string1 TAB string2`` lines.

Quirks handled: this copy has no header line but starts with a UTF-8 byte-order mark glued to the
first label (read as ``utf-8-sig``); the original release's header line ``Quality #1 ID …`` is skipped
when present; sentences contain ``"`` (no quoting: fields are split on tabs).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from embedbench.data.common import ROW, SOURCE, cast_column, read_lines, require_file, split_fields, where
from embedbench.data.shapes import BINARY_PAIR, PAIR, check_schema
from embedbench.errors import EmbedbenchError

MRPC_FIELDS = ["quality", "id1", "id2", "sentence1", "sentence2"]


def read_mrpc(path: str | Path) -> pl.DataFrame:
    """One MRPC file -> ``sentence1, sentence2, label (Int64: 1 paraphrase, 0 not), id1, id2, source, row``."""
    path = require_file(path, "an MRPC TSV (quality, id1, id2, string1, string2)")
    lines = read_lines(path, what="MRPC lines")
    if lines.item(0, "line").lower().startswith("quality\t"):
        lines = lines.slice(1)
    df = split_fields(lines, path, MRPC_FIELDS)
    df = cast_column(df, "quality", pl.Int64, path, "a quality label 0 or 1")
    bad = df.filter(~pl.col("quality").is_in([0, 1]))
    if bad.height:
        r = bad.row(0, named=True)
        raise EmbedbenchError(
            f"{where(path, r[ROW], 'quality')}: expected 0 or 1, got {r['quality']}; fix the label or remove the line"
        )
    out = df.select(
        "sentence1",
        "sentence2",
        pl.col("quality").alias("label"),
        "id1",
        "id2",
        pl.lit(path.name).alias(SOURCE),
        ROW,
    )
    check_schema(out, BINARY_PAIR, str(path))
    return out


def mrpc_positive_pairs(df: pl.DataFrame) -> pl.DataFrame:
    """The paraphrase pairs (label 1) as ``anchor, positive`` (+ provenance columns), in file order."""
    check_schema(df, BINARY_PAIR, "mrpc_positive_pairs")
    extra = [c for c in ("id1", "id2", SOURCE, ROW) if c in df.columns]
    out = df.filter(pl.col("label") == 1).select(
        pl.col("sentence1").alias("anchor"), pl.col("sentence2").alias("positive"), *extra
    )
    check_schema(out, PAIR, "mrpc_positive_pairs")
    return out
