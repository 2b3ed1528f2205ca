"""Dedupe stages: exact duplicates (row key or single columns) and MinHash-LSH near-duplicates.

Both are frame -> frame stages over a marked frame (:mod:`prep.marks`); the first occurrence (lowest
``row_id``) of a group is kept and every other member is marked with ``duplicate_of`` = the kept row's
``ref``. Near-duplicate groups are the connected components of verified LSH pairs, as in text-dedup:
a chain A~B~C keeps A and drops B and C even when A and C are further apart than the threshold
(``detail`` then shows their lower similarity).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from embedbench.prep.marks import KEPT, mark
from embedbench.prep.minhash import MinHasher

ROW = "row"
"""``on`` value meaning: all text columns of the row joined with a newline."""


def text_expr(on: str, text_columns: Sequence[str]) -> pl.Expr:
    """The text a dedupe step compares: one column, or the whole row (``on="row"``)."""
    if on == ROW:
        return pl.concat_str([pl.col(c) for c in text_columns], separator="\n", ignore_nulls=True)
    return pl.col(on)


def exact_dedupe(frame: pl.DataFrame, key: Sequence[str], *, stage: str = "exact") -> pl.DataFrame:
    """Stage: drop kept rows whose values in ``key`` equal those of an earlier kept row (``exact_duplicate``)."""
    first = pl.when(KEPT).then(pl.col("row_id")).min().over(list(key))
    out = frame.with_columns(_first=first)
    shown = pl.concat_str([pl.col(c).cast(pl.String) for c in key], separator=" | ", ignore_nulls=True)
    out = mark(
        out,
        pl.col("_first") != pl.col("row_id"),
        reason="exact_duplicate",
        stage=stage,
        duplicate_of=pl.col("ref").gather(pl.col("_first")),
        duplicate_text=shown.gather(pl.col("_first")),
        detail="key=" + ",".join(key),
    )
    return out.drop("_first")


def component_roots(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For ``n`` nodes and edges ``a[i]-b[i]``: each node's component root, the lowest node index in it."""
    if not a.size:
        return np.arange(n)
    graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    lowest = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(lowest, labels, np.arange(n))
    return lowest[labels]


def mark_groups(
    frame: pl.DataFrame,
    local_ids: np.ndarray,
    roots: np.ndarray,
    similarity: np.ndarray,
    *,
    text: pl.Expr,
    reason: str,
    stage: str,
    label: str,
) -> pl.DataFrame:
    """Mark every row ``local_ids[i]`` whose root ``roots[i]`` (a position in ``local_ids``) is not itself.

    ``similarity[i]`` (row vs its root) goes into ``detail`` as ``<label>=<value>``.
    """
    row_ids = local_ids.astype(np.int64)
    root_ids = row_ids[roots]
    groups = pl.DataFrame(
        {"row_id": row_ids, "_root": root_ids, "_sim": similarity.astype(np.float64)}
    ).filter(pl.col("_root") != pl.col("row_id"))
    out = frame.join(groups, on="row_id", how="left", maintain_order="left")
    out = mark(
        out,
        pl.col("_root").is_not_null(),
        reason=reason,
        stage=stage,
        duplicate_of=pl.col("ref").gather(pl.col("_root")),
        duplicate_text=text.gather(pl.col("_root")),
        detail=pl.format(f"{label}={{}}", pl.col("_sim").round(3)),
    )
    return out.drop("_root", "_sim")


def near_dedupe(
    frame: pl.DataFrame, text_columns: Sequence[str], *, hasher: MinHasher, on: str = ROW, stage: str = "near"
) -> pl.DataFrame:
    """Stage: drop kept rows that near-duplicate an earlier kept row (MinHash-LSH, ``near_duplicate``).

    ``on`` is a column name or ``"row"`` (all text columns joined). ``detail`` holds ``column`` and the
    estimated Jaccard similarity to the kept row.
    """
    text = text_expr(on, text_columns)
    kept = frame.select(pl.col("row_id"), text.alias("_t"), KEPT.alias("_k")).filter(pl.col("_k"))
    if kept.height < 2:
        return frame
    sig = hasher.signatures(kept["_t"])
    pairs = hasher.self_pairs(sig)
    roots = component_roots(kept.height, pairs["doc"].to_numpy(), pairs["root"].to_numpy())
    sim = hasher.similarity(sig, sig[roots])
    return mark_groups(
        frame,
        kept["row_id"].to_numpy(),
        roots,
        sim,
        text=text,
        reason="near_duplicate",
        stage=stage,
        label=f"column={on}; jaccard",
    )
