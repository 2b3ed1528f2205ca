"""Leakage check: training rows whose text appears in an evaluation split are removed.

The evaluation texts are one frame ``(text, ref, split)`` (:func:`eval_texts`), normalised the same
way as the training texts. A kept row leaks when any of its text columns equals an evaluation text
(``leak_exact``) or, with a :class:`~prep.minhash.MinHasher`, near-duplicates one (``leak_near``:
LSH candidates verified by estimated Jaccard). Rows of the set's own ``test`` split are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from embedbench.prep.marks import KEPT, mark
from embedbench.prep.minhash import MinHasher

EVAL_TEXTS = {"text": pl.String, "ref": pl.String, "split": pl.String}

CHECKED = KEPT & (pl.col("split") != "test").fill_null(True)
"""Rows the leakage check applies to: kept, and not in the set's own test split."""


def eval_texts(frame: pl.DataFrame, columns: Sequence[str], *, name: str) -> pl.DataFrame:
    """Evaluation texts of one split: each text of ``columns``, with ``ref`` = ``<name>:<row>``, unique by text.

    ``frame`` should already be normalised; rows are numbered by the reader's ``row`` column when present.
    """
    row = (
        pl.col("row").cast(pl.String)
        if "row" in frame.columns
        else (pl.int_range(pl.len()) + 1).cast(pl.String)
    )
    parts = [
        frame.select(
            pl.col(c).alias("text"), (pl.lit(f"{name}:") + row).alias("ref"), pl.lit(name).alias("split")
        )
        for c in columns
    ]
    texts = pl.concat(parts) if parts else pl.DataFrame(schema=EVAL_TEXTS)
    return texts.filter(pl.col("text").str.len_chars() > 0).unique("text", keep="first", maintain_order=True)


def leak_exact(
    frame: pl.DataFrame, text_columns: Sequence[str], evals: pl.DataFrame, *, stage: str = "leakage"
) -> pl.DataFrame:
    """Stage: drop checked rows with any text column equal to an evaluation text (``leak_exact``)."""
    lookup = evals.unique("text", keep="first", maintain_order=True)
    for col in text_columns:
        hit = frame.select(pl.col(col).alias("text")).join(
            lookup, on="text", how="left", maintain_order="left"
        )
        frame = mark(
            frame.with_columns(_ref=hit["ref"], _split=hit["split"]),
            CHECKED & pl.col("_ref").is_not_null(),
            reason="leak_exact",
            stage=stage,
            duplicate_of=pl.col("_ref"),
            duplicate_text=pl.col(col),
            detail=pl.format(f"column={col}; split={{}}", pl.col("_split")),
        ).drop("_ref", "_split")
    return frame


def leak_near(
    frame: pl.DataFrame,
    text_columns: Sequence[str],
    evals: pl.DataFrame,
    *,
    hasher: MinHasher,
    stage: str = "leakage",
) -> pl.DataFrame:
    """Stage: drop checked rows with a text column that near-duplicates an evaluation text (``leak_near``)."""
    if not evals.height:
        return frame
    ref_sig = hasher.signatures(evals["text"])
    for col in text_columns:
        rows = frame.select("row_id", pl.col(col).alias("_t"), CHECKED.alias("_c")).filter(pl.col("_c"))
        if not rows.height:
            break
        pairs = hasher.cross_pairs(hasher.signatures(rows["_t"]), ref_sig)
        matches = pl.DataFrame(
            {
                "row_id": rows["row_id"].gather(pairs["doc"]),
                "_ref": evals["ref"].gather(pairs["match"]),
                "_text": evals["text"].gather(pairs["match"]),
                "_split": evals["split"].gather(pairs["match"]),
                "_sim": pairs["jaccard"],
            }
        )
        frame = mark(
            frame.join(matches, on="row_id", how="left", maintain_order="left"),
            pl.col("_ref").is_not_null(),
            reason="leak_near",
            stage=stage,
            duplicate_of=pl.col("_ref"),
            duplicate_text=pl.col("_text"),
            detail=pl.format(
                f"column={col}; split={{}}; jaccard={{}}", pl.col("_split"), pl.col("_sim").round(3)
            ),
        ).drop("_ref", "_text", "_split", "_sim")
    return frame
