"""Texts matched against reference texts by meaning: best match above a cosine threshold, and calibration.

Both the prep leakage stage (a training row close to an evaluation text) and the contamination audit
(an evaluation item close to a training text) ask the same question, answered here once: embed both
sides with one :class:`~embedbench.encode.Encoder` (through the shared cache when it is a
``CachedEncoder``), L2-normalise, and find every pair with cosine >= ``threshold`` by exact FAISS range
search (:func:`embedbench.index.range_search`); each query keeps its best reference.

A cosine threshold means different things for different models and data, so it is never a built-in
number: :func:`calibrate` shows, for a seeded sample of queries in each similarity band, the query
beside its nearest reference, so a person can see where copies and paraphrases stop and merely related
texts begin (``embedbench contamination --calibrate`` prints it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.index import exact_topk, l2_normalised, range_search

BAND_EDGES = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
"""Default calibration bands (the last one is closed: it holds cosine 1, the exact copies)."""

MATCHES = {"doc": pl.Int64, "match": pl.Int64, "cosine": pl.Float64}


def embed(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """Unit-length float32 embeddings of ``texts`` (input order); each distinct text is encoded once."""
    texts = list(texts)
    unique = list(dict.fromkeys(texts))
    if not unique:
        return np.zeros((0, 1), dtype=np.float32)
    emb = np.asarray(encoder.encode(unique), dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(unique):
        raise EmbedbenchError(
            f"encoder {encoder.name!r} returned shape {emb.shape} for {len(unique)} texts; expected ({len(unique)}, dim)"
        )
    pos = {t: i for i, t in enumerate(unique)}
    return l2_normalised(emb)[[pos[t] for t in texts]]


def semantic_matches(queries: np.ndarray, refs: np.ndarray, threshold: float) -> pl.DataFrame:
    """For each query with a reference at cosine >= ``threshold``, its best one: frame ``(doc, match, cosine)``.

    ``queries`` and ``refs`` are unit-length embeddings (:func:`embed`); ties keep the lowest reference.
    """
    if not 0.0 < threshold <= 1.0:
        raise EmbedbenchError(f"cosine threshold must be in (0, 1], got {threshold}")
    if len(queries) == 0 or len(refs) == 0:
        return pl.DataFrame(schema=MATCHES)
    # float32 inner products of identical unit vectors can fall just under 1: allow for the rounding
    q, i, s = range_search(refs, queries, threshold - 1e-6)
    hits = pl.DataFrame({"doc": q, "match": i, "cosine": np.minimum(s.astype(np.float64), 1.0)}, schema=MATCHES)
    return (
        hits.sort("doc", "cosine", "match", descending=[False, True, False])
        .unique("doc", keep="first", maintain_order=True)
    )


@dataclass(frozen=True)
class Calibration:
    """Nearest-reference similarity of every query, by band: counts, and a sample of pairs per band."""

    bands: pl.DataFrame
    """``low, high, queries, share``: how many queries have their nearest reference in ``[low, high)``."""
    examples: pl.DataFrame
    """``low, high, cosine, query, match``: up to ``per_band`` seeded examples of each band."""
    n_queries: int


def band_of(cosine: pl.Expr, edges: Sequence[float]) -> pl.Expr:
    """Index of the band ``[edges[k], edges[k+1])`` holding ``cosine`` (the last band is closed; below: null)."""
    expr = pl.lit(None, dtype=pl.Int64)
    for k in range(len(edges) - 1):
        upper = cosine <= edges[k + 1] if k == len(edges) - 2 else cosine < edges[k + 1]
        expr = pl.when((cosine >= edges[k]) & upper).then(pl.lit(k, dtype=pl.Int64)).otherwise(expr)
    return expr


def calibrate(
    queries: Sequence[str],
    refs: Sequence[str],
    encoder: Encoder,
    *,
    edges: Sequence[float] = BAND_EDGES,
    per_band: int = 5,
    seed: int = 0,
) -> Calibration:
    """Each query's nearest reference (exact top-1 by cosine), counted by band, with ``per_band`` examples each.

    Queries below the lowest edge are counted in a first band ``[0, edges[0])`` with no examples shown.
    """
    edges = sorted(float(e) for e in edges)
    if len(edges) < 2 or edges[0] < 0 or edges[-1] > 1:
        raise EmbedbenchError(f"calibration bands need at least two edges in [0, 1], got {list(edges)}")
    queries, refs = list(dict.fromkeys(queries)), list(dict.fromkeys(refs))
    if not queries or not refs:
        raise EmbedbenchError(f"calibration needs texts on both sides (got {len(queries)} and {len(refs)})")
    scores, ids = exact_topk(embed(encoder, refs), embed(encoder, queries), 1)
    near = pl.DataFrame(
        {"query": queries, "match": [refs[i] for i in ids[:, 0]], "cosine": np.minimum(scores[:, 0].astype(np.float64), 1.0)}
    ).with_columns(band=band_of(pl.col("cosine"), edges))
    lows = [0.0, *edges[:-1]]
    highs = [edges[0], *edges[1:]]
    counts = dict(near.group_by("band").len().iter_rows())
    bands = pl.DataFrame(
        {
            "low": lows,
            "high": highs,
            "queries": [int(counts.get(None, 0))] + [int(counts.get(k, 0)) for k in range(len(edges) - 1)],
        }
    ).with_columns(share=pl.col("queries") / len(queries))
    examples = (
        near.drop_nulls("band")
        .with_columns(_r=pl.int_range(pl.len()).shuffle(seed=seed).over("band"))
        .filter(pl.col("_r") < per_band)
        .sort("band", "cosine", descending=[True, True])
        .select(
            low=pl.col("band").replace_strict(list(range(len(edges) - 1)), edges[:-1], return_dtype=pl.Float64),
            high=pl.col("band").replace_strict(list(range(len(edges) - 1)), edges[1:], return_dtype=pl.Float64),
            cosine=pl.col("cosine"),
            query=pl.col("query"),
            match=pl.col("match"),
        )
    )
    return Calibration(bands, examples, len(queries))
