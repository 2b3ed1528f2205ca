"""Shape mined negatives into sentence-transformers frames and compute the mining statistics.

Outputs (column order is what sentence-transformers losses read):
``triplets`` = ``anchor, positive, negative`` (one row per negative; ``scores`` = [pos, neg]);
``n-tuples`` = ``anchor, positive, negative_1..negative_n`` (``scores`` = [pos, neg_1..neg_n]);
``binary-pairs`` = ``sentence1, sentence2, label`` (1 for each positive, 0 for each negative; with
scores, a ``score`` column replaces ``label``, as sentence-transformers does);
``labeled-list`` = ``anchor, documents, labels``, one row per anchor: its positives then its negatives
(with ``include_positives``: the mined ranking, positives in place, then any positive not retrieved),
labels 1 for a positive and 0 otherwise (with scores, ``scores`` replaces ``labels``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import polars as pl

from embedbench.data.shapes import ntuple
from embedbench.errors import EmbedbenchError
from embedbench.prep.negatives.config import MiningConfig
from embedbench.prep.negatives.types import MiningInputs, MiningResult, MiningStats, SearchOutcome

HIST_EDGES = np.linspace(-1.0, 1.0, 101)
EXAMPLE_TEXT_CHARS = 160


def score_summary(values: np.ndarray) -> dict[str, float]:
    """Count, mean, std, min, quartiles and max of ``values`` (NaN ignored; empty gives count 0)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"count": 0}
    q = np.quantile(v, [0.25, 0.5, 0.75])
    return {
        "count": int(v.size), "mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "min": float(v.min()), "p25": float(q[0]), "median": float(q[1]), "p75": float(q[2]), "max": float(v.max()),
    }


def _long_negatives(inp: MiningInputs, ids: np.ndarray, scores: np.ndarray, ranks: np.ndarray, padded: np.ndarray) -> pl.DataFrame:
    """One row per found negative: anchor_id, slot (1-based), negative text, score, rank, padded."""
    a, s = np.nonzero(ids >= 0)
    return pl.DataFrame({
        "anchor_id": a.astype(np.int64),
        "slot": (s + 1).astype(np.int64),
        "negative": inp.corpus.gather(ids[a, s]),
        "negative_score": scores[a, s].astype(np.float64),
        "rank": ranks[a, s],
        "padded": padded[a, s],
    }).with_columns(pl.when(pl.col("rank") >= 0).then(pl.col("rank")).alias("rank"))


def _labeled_list(rows: pl.DataFrame, negs: pl.DataFrame, cfg: MiningConfig) -> pl.DataFrame:
    ranking_first = cfg.include_positives
    pos = rows.select(
        "anchor_id", pl.lit(1 if ranking_first else 0).alias("part"), pl.col("row").cast(pl.Int64).alias("order"),
        pl.col("positive").alias("doc"), pl.col("positive_score").alias("score"),
    )
    neg = negs.select(
        "anchor_id", pl.lit(0 if ranking_first else 1).alias("part"), pl.col("slot").alias("order"),
        pl.col("negative").alias("doc"), pl.col("negative_score").alias("score"),
    )
    positives = pos.select("anchor_id", "doc").unique().with_columns(pl.lit(1, pl.Int64).alias("label"))
    docs = (
        pl.concat([pos, neg]).sort("anchor_id", "part", "order")
        .unique(["anchor_id", "doc"], keep="first", maintain_order=True)
        .join(positives, on=["anchor_id", "doc"], how="left", maintain_order="left")
        .with_columns(pl.col("label").fill_null(0))
        .group_by("anchor_id", maintain_order=True)
        .agg(pl.col("doc").alias("documents"), pl.col("label").alias("labels"), pl.col("score").alias("scores"))
    )
    first = rows.group_by("anchor_id").agg(pl.col("anchor").first(), pl.col("row").min().alias("first_row"))
    out = first.join(docs, on="anchor_id").sort("first_row")
    return out.select("anchor", "documents", "scores" if cfg.output_scores else "labels")


def _dataset(rows: pl.DataFrame, negs: pl.DataFrame, cfg: MiningConfig) -> pl.DataFrame:
    n = cfg.num_negatives
    if cfg.output == "labeled-list":
        return _labeled_list(rows, negs, cfg)
    if cfg.output == "triplets":
        out = rows.join(negs, on="anchor_id", how="inner").sort("row", "slot")
        cols = [pl.col("anchor"), pl.col("positive"), pl.col("negative")]
        if cfg.output_scores:
            cols.append(pl.concat_list("positive_score", "negative_score").alias("scores"))
        return out.select(cols)
    if cfg.output == "n-tuples":
        lists = negs.sort("slot").group_by("anchor_id").agg("negative", "negative_score")
        out = rows.join(lists, on="anchor_id", how="left").sort("row")
        names = [c for c in ntuple(n) if c.startswith("negative")]
        cols = [pl.col("anchor"), pl.col("positive")]
        cols += [pl.col("negative").list.get(i, null_on_oob=True).alias(name) for i, name in enumerate(names)]
        if cfg.output_scores:
            cols.append(
                pl.concat_list(pl.col("positive_score"), pl.col("negative_score").fill_null([])).alias("scores")
            )
        return out.select(cols)
    # binary-pairs: per anchor (first appearance), its positives, then its negatives once.
    pos = rows.select(
        "anchor_id", pl.lit(0).alias("part"), pl.col("row").cast(pl.Int64).alias("order"),
        pl.col("anchor").alias("sentence1"), pl.col("positive").alias("sentence2"),
        pl.lit(1, pl.Int64).alias("label"), pl.col("positive_score").alias("score"),
    )
    first = rows.group_by("anchor_id").agg(pl.col("anchor").first())
    neg = negs.join(first, on="anchor_id").select(
        "anchor_id", pl.lit(1).alias("part"), pl.col("slot").alias("order"),
        pl.col("anchor").alias("sentence1"), pl.col("negative").alias("sentence2"),
        pl.lit(0, pl.Int64).alias("label"), pl.col("negative_score").alias("score"),
    )
    first_row = rows.group_by("anchor_id").agg(pl.col("row").min().alias("first_row"))
    out = pl.concat([pos, neg]).join(first_row, on="anchor_id").sort("first_row", "part", "order")
    return out.select("sentence1", "sentence2", "score" if cfg.output_scores else "label")


def _examples(rows: pl.DataFrame, negs: pl.DataFrame, n_anchors: int, cfg: MiningConfig) -> pl.DataFrame:
    """A seeded sample of anchors with their first positive and every mined negative, scores beside."""
    take = min(cfg.examples, n_anchors)
    chosen = np.sort(np.random.default_rng(cfg.seed).choice(n_anchors, size=take, replace=False)) if take else []
    first = (
        rows.filter(pl.col("anchor_id").is_in(list(map(int, chosen))))
        .group_by("anchor_id").agg(pl.all().sort_by("row").first())
        .select("anchor_id", "anchor", "positive", "positive_score")
    )
    return (
        first.join(negs, on="anchor_id", how="left").sort("anchor_id", "slot")
        .select("anchor", "positive", "positive_score", "slot", "negative", "negative_score", "rank", "padded")
    )


def _clip(text: Any) -> Any:
    if isinstance(text, str) and len(text) > EXAMPLE_TEXT_CHARS:
        return text[: EXAMPLE_TEXT_CHARS - 1] + "…"
    return text


def assemble(inp: MiningInputs, cfg: MiningConfig, outcome: SearchOutcome) -> MiningResult:
    """Apply the shortfall policy, build the output, example and dropped frames, and the statistics."""
    o = outcome
    neg_ids, neg_scores, padded, removed, found, row_pos = o.neg_ids, o.neg_scores, o.padded, o.removed, o.found, o.row_pos
    n = cfg.num_negatives
    after = (neg_ids >= 0).sum(axis=1)  # after padding
    short = after < n
    rows = inp.rows.with_columns(pl.Series("positive_score", row_pos.astype(np.float64)))
    short_rows = rows.filter(pl.col("anchor_id").is_in(np.flatnonzero(short).tolist()))
    negs = _long_negatives(inp, neg_ids, neg_scores, o.neg_ranks, padded)
    keep_rows, negs_kept = rows, negs
    if cfg.shortfall == "drop":
        dropped = short_rows.with_columns(pl.lit("shortfall").alias("reason"))
        keep_rows = rows.join(dropped.select("row"), on="row", how="anti")
        negs_kept = negs.filter(~pl.col("anchor_id").is_in(np.flatnonzero(short).tolist()))
    elif cfg.output == "triplets":  # keep / pad-random: a pair without any negative cannot form a triplet
        dropped = short_rows.filter(pl.col("anchor_id").is_in(np.flatnonzero(after == 0).tolist())).with_columns(
            pl.lit("no_negative").alias("reason")
        )
    else:
        dropped = short_rows.clear().with_columns(pl.lit(None, pl.String).alias("reason"))
    counts = pl.DataFrame({"anchor_id": np.arange(len(after)), "negatives_found": after.astype(np.int64)})
    dropped = dropped.with_columns(pl.col("anchor_id").cast(pl.Int64)).join(counts, on="anchor_id", how="left").select(
        "anchor", "positive", "reason", "negatives_found", (pl.col("row").cast(pl.Int64) + 1).alias("row")
    )
    dataset = _dataset(keep_rows, negs_kept, cfg)
    if dataset.height == 0:
        raise EmbedbenchError(
            f"mining produced no rows: {int(short.sum())} of {len(short)} anchors found fewer than "
            f"num_negatives={n} negatives ({removed}); widen range_max, relax the margins or use shortfall='keep'"
        )
    examples = _examples(rows, negs, len(inp.anchors), cfg)
    mined = neg_scores[(neg_ids >= 0) & ~padded]
    diff = (_anchor_min(rows, len(inp.anchors))[:, None] - neg_scores)[(neg_ids >= 0) & ~padded]
    stats = MiningStats(
        pairs=inp.rows.height, anchors=len(inp.anchors), corpus_size=len(inp.corpus), corpus_given=inp.corpus_given,
        corpus_blank_removed=inp.blank_removed, index=o.index, removed=removed, candidates_in_window=o.in_window,
        positive=score_summary(row_pos), negative=score_summary(mined), difference=score_summary(diff),
        histogram={
            "edges": HIST_EDGES.tolist(),
            "positive": np.histogram(row_pos, HIST_EDGES)[0].tolist(),
            "negative": np.histogram(mined, HIST_EDGES)[0].tolist(),
        },
        short_anchors=int((found < n).sum()),
        short_pairs=int(np.isin(rows["anchor_id"].to_numpy(), np.flatnonzero(found < n)).sum()),
        missing_negatives=int((n - found).clip(min=0).sum()),
        anchors_without_negatives=int((found == 0).sum()),
        padded_negatives=int(padded.sum()),
        dropped_pairs=dropped.height,
        rows_out=dataset.height,
        encoded=o.encoded,
        timings={**{k: round(v, 3) for k, v in o.timings.items()}, "total_s": round(time.perf_counter() - o.started, 3)},
        config=cfg.model_dump(),
        notes=o.notes,
        examples=[{k: _clip(v) for k, v in r.items()} for r in examples.head(5 * n).to_dicts()],
    )
    return MiningResult(dataset=dataset, stats=stats, examples=examples, dropped=dropped)


def _anchor_min(rows: pl.DataFrame, n_anchors: int) -> np.ndarray:
    """Each anchor's lowest positive score (the one margins are measured against)."""
    out = np.full(n_anchors, np.nan)
    mins = rows.group_by("anchor_id").agg(pl.col("positive_score").min())
    out[mins["anchor_id"].to_numpy()] = mins["positive_score"].to_numpy()
    return out
