"""Text normalisation stages: Unicode NFC, whitespace, empty texts dropped, over-long texts flagged.

All three are frame -> frame stages over a marked frame (see :mod:`prep.marks`), written as Polars
expressions. Token counts come either from the model's own tokenizer (exact, on unique texts) or from
a cheap estimate (one piece per word or punctuation mark plus ``[CLS]``/``[SEP]``), which is a lower
bound on word-piece counts: a text it flags is certainly too long, some long texts pass unflagged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import polars as pl

from embedbench.prep.marks import KEPT, mark
from embedbench.text import UnicodeForm, normalise_expr

TokenCount = Literal["tokenizer", "estimate"]
Counter = Callable[[Sequence[str]], np.ndarray]

_PIECE = r"\w+|[^\w\s]"


def normalise(
    frame: pl.DataFrame, columns: Sequence[str], *, form: UnicodeForm = "NFC", lowercase: bool = False
) -> pl.DataFrame:
    """Stage: normalise the text ``columns`` in place (drops nothing)."""
    return frame.with_columns(normalise_expr(pl.col(c), form, lowercase) for c in columns)


def drop_empty(frame: pl.DataFrame, columns: Sequence[str], *, stage: str = "normalise") -> pl.DataFrame:
    """Stage: drop rows where any text column is null or empty (after normalisation) as ``empty_text``."""
    empty = [(pl.col(c).is_null() | (pl.col(c).str.len_chars() == 0)) for c in columns]
    which = pl.concat_str(
        [pl.when(e).then(pl.lit(c)) for c, e in zip(columns, empty, strict=True)],
        separator=",",
        ignore_nulls=True,
    )
    return mark(
        frame, pl.any_horizontal(empty), reason="empty_text", stage=stage, detail=pl.lit("column=") + which
    )


def estimate_tokens(expr: pl.Expr) -> pl.Expr:
    """Cheap word-piece lower bound: words and punctuation marks, plus 2 special tokens."""
    return expr.str.count_matches(_PIECE).cast(pl.Int64) + 2


def tokenizer_counter(tokenizer: object) -> Counter:
    """A counter that returns each text's token count (with special tokens) from a HF fast tokenizer."""

    def count(texts: Sequence[str]) -> np.ndarray:
        ids = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]  # type: ignore[operator]
        return np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(texts))

    return count


def count_tokens(frame: pl.DataFrame, columns: Sequence[str], counter: Counter | None) -> pl.DataFrame:
    """Add ``n_tokens``: the largest token count over ``columns`` (``counter`` None = the estimate).

    With a tokenizer, each distinct text is tokenized once.
    """
    if counter is None:
        return frame.with_columns(n_tokens=pl.max_horizontal(estimate_tokens(pl.col(c)) for c in columns))
    texts = (
        pl.concat([frame.select(pl.col(c).alias("t")) for c in columns])
        .drop_nulls()
        .unique(maintain_order=True)
    )
    counts = texts.with_columns(n=pl.Series(counter(texts["t"].to_list()), dtype=pl.Int64))
    per_col = [
        pl.col(c).replace_strict(counts["t"], counts["n"], default=0, return_dtype=pl.Int64) for c in columns
    ]
    return frame.with_columns(n_tokens=pl.max_horizontal(per_col))


def flag_long(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    max_tokens: int,
    counter: Counter | None = None,
    drop: bool = False,
    stage: str = "normalise",
) -> pl.DataFrame:
    """Stage: add ``n_tokens`` and ``too_long`` (more tokens than ``max_tokens``); drop them if ``drop``.

    Flagged rows are kept by default: the model truncates them, which is often fine for documents.
    """
    out = count_tokens(frame, columns, counter).with_columns(
        too_long=KEPT & (pl.col("n_tokens") > max_tokens)
    )
    if drop:
        out = mark(
            out,
            pl.col("too_long"),
            reason="too_long",
            stage=stage,
            detail=pl.format("tokens={}>{}", pl.col("n_tokens"), pl.lit(max_tokens)),
        )
    return out
