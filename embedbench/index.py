"""The one FAISS wrapper: inner-product top-k search (exact, or a trained IVF index for large corpora)
and range search (every neighbour above a score).

Mining, semantic dedupe and dense retrieval all search through here. Queries are searched in batches,
so memory beyond the index is ``batch_size × k`` scores and ids (or one batch's neighbours), never
``queries × corpus``. Vectors are expected L2-normalised (``l2_normalised``), so inner product is cosine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from embedbench.errors import EmbedbenchError

IndexKind = Literal["auto", "flat", "ivf"]

# Points per inverted list used to train IVF centroids (FAISS warns below 39 per list).
TRAIN_POINTS_PER_LIST = 64


@dataclass(frozen=True)
class IndexPlan:
    """The index actually used: ``flat`` (exact) or ``ivf`` with its list count and lists probed."""

    kind: Literal["flat", "ivf"]
    nlist: int = 0
    nprobe: int = 0

    def describe(self) -> str:
        """One line for logs and reports, e.g. ``IVF(nlist=1000, nprobe=32)``."""
        return "exact (IndexFlatIP)" if self.kind == "flat" else f"IVF(nlist={self.nlist}, nprobe={self.nprobe})"


def plan_index(
    n_vectors: int,
    kind: IndexKind = "auto",
    *,
    auto_threshold: int = 200_000,
    nlist: int | None = None,
    nprobe: int = 32,
) -> IndexPlan:
    """Choose the index for a corpus of ``n_vectors``.

    ``auto`` is exact search up to ``auto_threshold`` vectors and IVF beyond. IVF's list count defaults
    to ``round(sqrt(n))`` (FAISS's rule of thumb), capped so every list gets training points; ``nprobe``
    is capped at the list count.
    """
    if n_vectors < 1:
        raise EmbedbenchError("cannot build a search index over an empty corpus")
    chosen = ("flat" if n_vectors <= auto_threshold else "ivf") if kind == "auto" else kind
    if chosen == "flat":
        return IndexPlan("flat")
    lists = nlist if nlist is not None else max(1, round(math.sqrt(n_vectors)))
    lists = max(1, min(lists, n_vectors // 39 or 1))
    return IndexPlan("ivf", lists, max(1, min(nprobe, lists)))


def train_positions(n_vectors: int, plan: IndexPlan, *, seed: int = 0) -> np.ndarray | None:
    """The sorted positions of the vectors an IVF index is trained on (None: all of them).

    A seeded sample of ``TRAIN_POINTS_PER_LIST × nlist`` positions out of ``n_vectors``; every index
    builder (in memory, from shards) takes the same sample, so their indexes are identical.
    """
    n_train = min(n_vectors, TRAIN_POINTS_PER_LIST * max(plan.nlist, 1))
    if n_train == n_vectors:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_vectors, n_train, replace=False))


def trained_index(sample: np.ndarray, plan: IndexPlan, *, seed: int = 0) -> object:
    """An empty FAISS inner-product index of ``sample``'s width, its IVF centroids trained on ``sample``.

    Vectors are added afterwards (``index.add``, in one go or shard by shard: the result is the same).
    """
    import faiss  # a compiled extension, loaded only when an index is built

    sample = np.ascontiguousarray(sample, dtype=np.float32)
    if sample.ndim != 2 or len(sample) == 0:
        raise EmbedbenchError(f"vectors must be a non-empty 2D array, got shape {sample.shape}")
    dim = sample.shape[1]
    index: Any
    if plan.kind == "flat":
        return faiss.IndexFlatIP(dim)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, plan.nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(sample)
    index.nprobe = plan.nprobe  # FAISS's Python wrapper keeps ``quantizer`` alive with the index
    return index


def build_index(vectors: np.ndarray, plan: IndexPlan, *, seed: int = 0) -> object:
    """A FAISS inner-product index over ``vectors`` (float32, shape ``(n, d)``), trained if IVF.

    IVF centroids are trained on a seeded sample of ``TRAIN_POINTS_PER_LIST × nlist`` vectors
    (:func:`train_positions`).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise EmbedbenchError(f"vectors must be a non-empty 2D array, got shape {vectors.shape}")
    positions = train_positions(len(vectors), plan, seed=seed) if plan.kind == "ivf" else None
    index = trained_index(vectors if positions is None else vectors[positions], plan, seed=seed)
    index.add(vectors)  # type: ignore[attr-defined]
    return index


def build_index_from_shards(
    shards: Callable[[], Iterable[np.ndarray]], n_vectors: int, plan: IndexPlan, *, seed: int = 0
) -> object:
    """The same index as :func:`build_index` over the concatenation of ``shards()``, never holding it whole.

    ``shards`` is called twice (a list's ``__iter__``, or a function re-reading Parquet files): the
    first pass keeps only the training sample's rows, the second adds every shard in order, so vector
    ``i`` of the concatenation has id ``i``. Memory: the sample plus one shard (plus the index itself).
    """
    if plan.kind == "flat":
        sample = _gather_rows(shards(), np.zeros(1, np.int64))  # a flat index needs only the width
    else:
        positions = train_positions(n_vectors, plan, seed=seed)
        sample = _gather_rows(shards(), np.arange(n_vectors) if positions is None else positions)
    index = trained_index(sample, plan, seed=seed)
    added = 0
    for shard in shards():
        shard = np.ascontiguousarray(shard, dtype=np.float32)
        if len(shard):
            index.add(shard)  # type: ignore[attr-defined]
            added += len(shard)
    if added != n_vectors:
        raise EmbedbenchError(f"index shards hold {added} vectors, expected {n_vectors}; the shards are incomplete")
    return index


def _gather_rows(shards: Iterable[np.ndarray], positions: np.ndarray) -> np.ndarray:
    """Rows ``positions`` (sorted) of the concatenation of ``shards``, reading each shard once."""
    parts, offset = [], 0
    for shard in shards:
        lo, hi = np.searchsorted(positions, [offset, offset + len(shard)])
        if hi > lo:
            parts.append(np.asarray(shard, dtype=np.float32)[positions[lo:hi] - offset])
        offset += len(shard)
    if not parts:
        raise EmbedbenchError("index shards are empty: nothing to train or search")
    return np.concatenate(parts)


def serialize_index(index: object) -> np.ndarray:
    """The index as a uint8 array (to ship it to workers, e.g. once into Ray's object store)."""
    import faiss

    return faiss.serialize_index(index)  # type: ignore[arg-type]


def deserialize_index(data: np.ndarray) -> object:
    """The index :func:`serialize_index` turned into bytes, searchable again (nprobe included)."""
    import faiss

    return faiss.deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))


def search_batches(
    index: object, queries: np.ndarray, k: int | np.ndarray, *, batch_size: int = 1024
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(start, scores, ids)`` per batch of queries; each row is sorted by descending score.

    ``k`` is one value, or one per query (a batch then searches with its largest value). ``k`` is
    clamped to the index size; ids of ``-1`` (IVF lists too small to fill ``k``) mean "no result".
    """
    n_total = int(index.ntotal)  # type: ignore[attr-defined]
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    per_query = np.broadcast_to(np.asarray(k, dtype=np.int64), (len(queries),))
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        kk = int(min(n_total, max(1, int(per_query[start : start + batch_size].max()))))
        scores, ids = index.search(batch, kk)  # type: ignore[attr-defined]
        yield start, scores, ids


def search(index: object, queries: np.ndarray, k: int, *, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` scores and ids (int64) of every query, best first, exactly ``k`` columns.

    Columns beyond the index size are padded with id ``-1`` and score ``-inf``; memory is queries × k.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if len(queries) == 0:
        return np.zeros((0, k), dtype=np.float32), np.zeros((0, k), dtype=np.int64)
    parts = list(search_batches(index, queries, k, batch_size=batch_size))
    scores = np.concatenate([p[1] for p in parts])
    ids = np.concatenate([p[2] for p in parts]).astype(np.int64)
    if ids.shape[1] < k:
        pad = k - ids.shape[1]
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
    return scores, ids


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int, *, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` scores and ids of every query over ``vectors`` (memory is queries × k)."""
    return search(build_index(vectors, IndexPlan("flat")), queries, k, batch_size=batch_size)


def _range_batches(
    index: object, queries: np.ndarray, threshold: float, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(query, id, score)`` arrays per batch of queries: every hit with score >= ``threshold``."""
    x = np.ascontiguousarray(queries, dtype=np.float32)
    for start in range(0, len(x), batch_size):
        lims, scores, ids = index.range_search(x[start : start + batch_size], float(threshold))  # type: ignore[attr-defined]
        rows = np.repeat(np.arange(start, start + len(lims) - 1), np.diff(lims).astype(np.int64))
        yield rows, ids.astype(np.int64), scores


def range_pairs(vectors: np.ndarray, threshold: float, *, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)``, ``j < i``, of ``vectors`` with inner product >= ``threshold``, by exact range search.

    The vectors are their own queries, ``batch_size`` at a time; each batch keeps only its pairs with
    ``j < i``, so memory holds each pair once.
    """
    index = build_index(vectors, IndexPlan("flat"))
    src, dst = [], []
    for rows, ids, _ in _range_batches(index, vectors, threshold, batch_size):
        keep = ids < rows
        src.append(rows[keep])
        dst.append(ids[keep])
    return np.concatenate(src), np.concatenate(dst)


def range_search(
    vectors: np.ndarray, queries: np.ndarray, threshold: float, *, batch_size: int = 4096
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``(query, id, score)`` with inner product ``queries[query] . vectors[id] >= threshold`` (exact).

    Queries go ``batch_size`` at a time; memory beyond the index is the hits themselves.
    """
    if len(queries) == 0 or len(vectors) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    index = build_index(vectors, IndexPlan("flat"))
    parts = list(_range_batches(index, queries, threshold, batch_size))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]


def l2_normalised(vectors: np.ndarray) -> np.ndarray:
    """A float32 copy of ``vectors`` with unit-length rows (FAISS's ``normalize_L2``; zero rows stay zero)."""
    import faiss  # a compiled extension, loaded only when vectors are searched

    out = np.ascontiguousarray(vectors, dtype=np.float32).copy()
    faiss.normalize_L2(out)
    return out


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray, k: int) -> float:
    """Mean fraction of each query's exact top-``k`` ids that the approximate search also returned in its top ``k``."""
    a, e = approx_ids[:, :k], exact_ids[:, :k]
    hits = sum(len(np.intersect1d(a[i][a[i] >= 0], e[i])) for i in range(len(e)))
    return hits / float(e.size) if e.size else 0.0
