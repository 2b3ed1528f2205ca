"""How a prep stage says why it dropped a row: mark columns on one frame, split into kept and dropped.

Every filter stage is a function ``frame -> frame`` (so stages compose with ``.pipe()``). A stage never
deletes rows: it fills the mark columns of the rows it drops and leaves rows that an earlier stage
already dropped alone. :func:`partition` splits the result into the kept rows and the dropped rows,
each dropped row carrying

- ``reason``: why (``empty_text``, ``too_long``, ``exact_duplicate``, ``near_duplicate``,
  ``semantic_duplicate``, ``leak_exact``, ``leak_near``, ``leak_semantic``),
- ``stage``: the stage that dropped it,
- ``duplicate_of``: the reference (``source:row``) of the kept row, or ``<eval split>:<row>`` for a leak,
- ``duplicate_text``: the text it matched,
- ``detail``: the column, similarity or token count behind the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from embedbench.errors import EmbedbenchError

MARKS: dict[str, type[pl.DataType]] = {
    "reason": pl.String,
    "stage": pl.String,
    "duplicate_of": pl.String,
    "duplicate_text": pl.String,
    "detail": pl.String,
}
"""Mark columns; ``reason`` is null while a row is kept."""

REASONS = (
    "empty_text",
    "too_long",
    "exact_duplicate",
    "near_duplicate",
    "semantic_duplicate",
    "leak_exact",
    "leak_near",
    "leak_semantic",
)

KEPT = pl.col("reason").is_null()
"""Expression: the row has not been dropped by any stage so far."""


@dataclass(frozen=True)
class Partitioned:
    """A marked frame split in two: rows still kept, and dropped rows with their marks."""

    kept: pl.DataFrame
    dropped: pl.DataFrame


def init_marks(frame: pl.DataFrame, source_label: str | None = None) -> pl.DataFrame:
    """Add ``row_id`` (0-based position), ``ref`` (``source:row``) and empty mark columns.

    ``ref`` uses the reader's 1-based ``row`` column when there is one, else ``#row_id``.
    """
    out = frame.with_row_index("row_id").with_columns(pl.col("row_id").cast(pl.Int64))
    if source_label is not None:
        out = out.with_columns(source=pl.lit(source_label))
    elif "source" not in out.columns:
        out = out.with_columns(source=pl.lit("input"))
    row = (
        pl.col("row").cast(pl.String)
        if "row" in out.columns
        else pl.lit("#") + pl.col("row_id").cast(pl.String)
    )
    return out.with_columns(
        ref=pl.col("source").cast(pl.String) + pl.lit(":") + row,
        **{name: pl.lit(None, dtype=dtype) for name, dtype in MARKS.items()},
    )


def mark(
    frame: pl.DataFrame,
    drop: pl.Expr,
    *,
    reason: str,
    stage: str,
    duplicate_of: pl.Expr | None = None,
    duplicate_text: pl.Expr | None = None,
    detail: pl.Expr | str | None = None,
) -> pl.DataFrame:
    """Mark the kept rows where ``drop`` is true as dropped with ``reason`` by ``stage``.

    Rows already dropped keep their first reason. ``duplicate_of``, ``duplicate_text`` and ``detail``
    are expressions evaluated per row (or a constant string for ``detail``).
    """
    if reason not in REASONS:
        raise ValueError(f"unknown drop reason {reason!r}; expected one of {REASONS}")
    hit = KEPT & drop.fill_null(False)
    detail_expr = pl.lit(detail) if isinstance(detail, str) or detail is None else detail
    values = {
        "reason": pl.lit(reason),
        "stage": pl.lit(stage),
        "duplicate_of": duplicate_of if duplicate_of is not None else pl.lit(None, dtype=pl.String),
        "duplicate_text": duplicate_text if duplicate_text is not None else pl.lit(None, dtype=pl.String),
        "detail": detail_expr,
    }
    return frame.with_columns(
        pl.when(hit).then(expr.cast(pl.String)).otherwise(pl.col(name)).alias(name)
        for name, expr in values.items()
    )


def partition(frame: pl.DataFrame) -> Partitioned:
    """Split a marked frame into kept rows (mark columns removed) and dropped rows (marks kept)."""
    kept = frame.filter(KEPT).drop(list(MARKS))
    dropped = frame.filter(~KEPT)
    return Partitioned(kept=kept, dropped=dropped)


def count_kept(frame: pl.DataFrame) -> int:
    """Number of rows not dropped so far."""
    return int(frame.select(KEPT.sum()).item())


def drops_by_reason(frame: pl.DataFrame) -> dict[str, int]:
    """``{reason: rows}`` over the dropped rows of a marked frame, in :data:`REASONS` order."""
    counts = dict(frame.filter(~KEPT).group_by("reason").len().iter_rows())
    return {r: int(counts[r]) for r in REASONS if r in counts}


def require_columns(frame: pl.DataFrame, columns: list[str], *, key: str) -> None:
    """Raise ``EmbedbenchError`` naming the config ``key`` when a configured column is not in ``frame``."""
    present = [c for c in frame.columns if c not in MARKS and c not in ("row_id", "ref")]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EmbedbenchError(
            f"{key}: column(s) {missing} not in this set's rows; allowed columns are {present}; "
            f"fix the column name in bench.toml"
        )


def text_columns(shape: Mapping[str, Any]) -> list[str]:
    """The text columns of a shape: its String columns except ``label``, in shape order."""
    return [c for c, t in shape.items() if t == pl.String and c != "label"]
