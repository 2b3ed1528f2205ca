"""Semantic near-duplicates: embeddings through the shared cache, FAISS range search, connected groups.

Texts are embedded with any :class:`embedbench.encode.Encoder` (``load_encoder`` gives the cached one,
L2-normalised, so inner product is cosine). ``embedbench.index.range_pairs`` returns every pair with cosine
>= ``threshold`` (exact search; queries go in batches so memory stays bounded); groups are the
connected components, and each keeps its first row, as in :func:`prep.dedupe.near_dedupe`.
The threshold must be calibrated per dataset and model: 0.95 drops reworded copies, 0.8 already drops
distinct paraphrases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from embedbench.encode import Encoder
from embedbench.index import range_pairs
from embedbench.prep.dedupe import ROW, component_roots, mark_groups, text_expr
from embedbench.prep.marks import KEPT


def semantic_dedupe(
    frame: pl.DataFrame,
    text_columns: Sequence[str],
    *,
    encoder: Encoder,
    threshold: float,
    on: str = ROW,
    stage: str = "semantic",
) -> pl.DataFrame:
    """Stage: drop kept rows whose embedding has cosine >= ``threshold`` with an earlier kept row.

    Identical texts are embedded once. ``detail`` holds the column and the cosine to the kept row.
    """
    text = text_expr(on, text_columns)
    kept = frame.select(pl.col("row_id"), text.alias("_t"), KEPT.alias("_k")).filter(pl.col("_k"))
    if kept.height < 2:
        return frame
    uniq = kept["_t"].unique(maintain_order=True)
    emb_u = np.asarray(encoder.encode(uniq.to_list()), dtype=np.float32)
    emb_u /= np.maximum(np.linalg.norm(emb_u, axis=1, keepdims=True), 1e-12)
    pos = (
        kept["_t"].replace_strict(uniq, pl.int_range(len(uniq), eager=True), return_dtype=pl.Int64).to_numpy()
    )
    emb = emb_u[pos]
    a, b = range_pairs(emb, threshold)
    roots = component_roots(kept.height, a, b)
    sim = np.einsum("ij,ij->i", emb, emb[roots])
    return mark_groups(
        frame,
        kept["row_id"].to_numpy(),
        roots,
        sim,
        text=text,
        reason="semantic_duplicate",
        stage=stage,
        label=f"column={on}; cosine",
    )
