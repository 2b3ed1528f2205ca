"""Leakage check: training rows whose text appears in an evaluation split are removed.

The evaluation texts are one frame ``(text, ref, split)`` (:func:`eval_texts`), normalised the same
way as the training texts. A kept row leaks when any of its text columns equals an evaluation text
(``leak_exact``) or, with a :class:`~prep.minhash.MinHasher`, near-duplicates one (``leak_near``:
LSH candidates verified by estimated Jaccard) or, with an encoder, lies within a cosine threshold of one
in embedding space (``leak_semantic``: :func:`embedbench.matching.semantic_matches`, FAISS range search;
dropped, or kept and flagged with ``action = "flag"``). Rows of the set's own ``test`` split are not checked.

The semantic threshold has no default: choose it from ``embedbench contamination --calibrate``, which
shows sampled (training, evaluation) pairs in each similarity band; the manifest records the threshold,
the model and what was matched (:func:`leakage_summary`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import polars as pl

from embedbench.encode import Encoder
from embedbench.matching import embed, semantic_matches
from embedbench.prep.marks import KEPT, mark
from embedbench.prep.minhash import MinHasher

EVAL_TEXTS = {"text": pl.String, "ref": pl.String, "split": pl.String}

FLAGS = {"leak_semantic_of": pl.String, "leak_semantic_text": pl.String, "leak_semantic_cosine": pl.Float64}
"""Columns a flagging semantic check adds: the evaluation text's ref, the text, and the cosine (null: no match)."""

Finder = Callable[[pl.Series], tuple[pl.Series, pl.Series, pl.Series]]
"""Texts -> ``(doc, match, score)``: each text's best evaluation text (positions) and its similarity."""

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


def _matches(frame: pl.DataFrame, col: str, evals: pl.DataFrame, find: Finder) -> pl.DataFrame | None:
    """Best evaluation match of each checked row's ``col``: ``row_id, _ref, _text, _split, _sim`` (None: no row checked)."""
    rows = frame.select("row_id", pl.col(col).alias("_t"), CHECKED.alias("_c")).filter(pl.col("_c"))
    if not rows.height:
        return None
    doc, match, sim = find(rows["_t"])
    return pl.DataFrame(
        {
            "row_id": rows["row_id"].gather(doc),
            "_ref": evals["ref"].gather(match),
            "_text": evals["text"].gather(match),
            "_split": evals["split"].gather(match),
            "_sim": sim,
        }
    )


def _mark_leaks(frame: pl.DataFrame, matches: pl.DataFrame, col: str, *, reason: str, score: str, stage: str) -> pl.DataFrame:
    """Drop the rows of ``matches`` as ``reason``: the evaluation text matched, and ``column; split; <score>=``."""
    return mark(
        frame.join(matches, on="row_id", how="left", maintain_order="left"),
        pl.col("_ref").is_not_null(),
        reason=reason,
        stage=stage,
        duplicate_of=pl.col("_ref"),
        duplicate_text=pl.col("_text"),
        detail=pl.format(f"column={col}; split={{}}; {score}={{}}", pl.col("_split"), pl.col("_sim").round(4 if score == "cosine" else 3)),
    ).drop("_ref", "_text", "_split", "_sim")


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

    def find(texts: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
        pairs = hasher.cross_pairs(hasher.signatures(texts), ref_sig)
        return pairs["doc"], pairs["match"], pairs["jaccard"]

    for col in text_columns:
        matches = _matches(frame, col, evals, find)
        if matches is None:
            break
        frame = _mark_leaks(frame, matches, col, reason="leak_near", score="jaccard", stage=stage)
    return frame


def leak_semantic(
    frame: pl.DataFrame,
    text_columns: Sequence[str],
    evals: pl.DataFrame,
    *,
    encoder: Encoder,
    threshold: float,
    action: Literal["drop", "flag"] = "drop",
    stage: str = "leakage",
) -> pl.DataFrame:
    """Stage: checked rows with a text column whose embedding has cosine >= ``threshold`` with an evaluation text.

    ``action="drop"`` marks them ``leak_semantic`` (``duplicate_of``/``duplicate_text``: the evaluation
    text, ``detail``: column, split and cosine); ``"flag"`` keeps them and fills :data:`FLAGS` with the
    best match over the columns. Evaluation texts are embedded once, training texts once per column.
    """
    if action == "flag":
        frame = frame.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in FLAGS.items() if c not in frame.columns)
    if not evals.height:
        return frame
    ref_emb = embed(encoder, evals["text"].to_list())

    def find(texts: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
        m = semantic_matches(embed(encoder, texts.to_list()), ref_emb, threshold)
        return m["doc"], m["match"], m["cosine"]

    for col in text_columns:
        matches = _matches(frame, col, evals, find)
        if matches is None:
            break
        if action == "drop":
            frame = _mark_leaks(frame, matches, col, reason="leak_semantic", score="cosine", stage=stage)
            continue
        joined = frame.join(matches, on="row_id", how="left", maintain_order="left")
        better = pl.col("_sim").is_not_null() & (
            pl.col("leak_semantic_cosine").is_null() | (pl.col("_sim") > pl.col("leak_semantic_cosine"))
        )
        frame = joined.with_columns(
            pl.when(better).then(new).otherwise(pl.col(old)).alias(old)
            for old, new in (
                ("leak_semantic_of", pl.col("_ref")),
                ("leak_semantic_text", pl.col("_text")),
                ("leak_semantic_cosine", pl.col("_sim")),
            )
        ).drop("_ref", "_text", "_split", "_sim")
    return frame


def leakage_summary(
    frame: pl.DataFrame, dropped: pl.DataFrame, semantic: dict[str, Any] | None, *, examples: int = 5
) -> dict[str, Any]:
    """The manifest's ``leakage`` entry: rows dropped per check and, for the semantic check, its settings
    (model, threshold, action) and what it matched (count, the first ``examples`` pairs)."""
    counts = dict(dropped.group_by("reason").len().iter_rows()) if dropped.height else {}
    out: dict[str, Any] = {r: int(counts.get(r, 0)) for r in ("leak_exact", "leak_near")}
    if semantic is None:
        return out
    if semantic["action"] == "drop":
        hits = dropped.filter(pl.col("reason") == "leak_semantic").select(
            "ref", match=pl.col("duplicate_of"), match_text=pl.col("duplicate_text"), detail=pl.col("detail")
        )
    elif "leak_semantic_cosine" in frame.columns:
        hits = frame.filter(KEPT & pl.col("leak_semantic_cosine").is_not_null()).select(
            "ref",
            match=pl.col("leak_semantic_of"),
            match_text=pl.col("leak_semantic_text"),
            detail=pl.format("cosine={}", pl.col("leak_semantic_cosine").round(4)),
        )
    else:
        hits = pl.DataFrame(schema={"ref": pl.String, "match": pl.String, "match_text": pl.String, "detail": pl.String})
    out["semantic"] = {**semantic, "matched": hits.height, "examples": hits.head(examples).to_dicts()}
    if semantic["action"] == "flag":
        out["semantic"]["flagged"] = hits.to_dicts()  # kept rows: the manifest is the only record of them
    return out
