"""Hard-negative search on Ray: one index built once, queries searched in parallel by actors that load it once.

The miner (:func:`embedbench.prep.negatives.mine.mine_hard_negatives`) hands its search here when the
compute engine is ``ray`` (:mod:`embedbench.compute`). The index is the one the local miner would
build (same plan, same training sample, vectors added in the same order; see
:func:`embedbench.index.build_index_from_shards`), built shard by shard, serialised once into Ray's
object store, and loaded once by each search actor. The anchors go to the actors in the local
miner's batches; their candidates come back in batch order, and the driver filters them with the
same :func:`~embedbench.prep.negatives.filters.select_negatives`. Same index, same batches, same
filters: the same negatives as the local engine (an IVF index with ``nprobe = nlist`` is exact).

The index can also be built from the Parquet shards of a streaming encode (:func:`parquet_shards`):
files holding a ``vector`` column, read in name order, so the corpus never sits whole in the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedbench.compute import ComputeConfig
from embedbench.errors import EmbedbenchError
from embedbench.index import (
    IndexPlan,
    build_index_from_shards,
    deserialize_index,
    search_batches,
    serialize_index,
)
from embedbench.ray_engine import ensure_ray, vectors_from_arrow

SHARD_ROWS = 65_536
"""Corpus vectors added to the index per shard when the corpus is an in-memory array."""

ACTOR_RETRIES = 3
"""Restarts of a dead search actor, and retries of the batch it was searching (Ray re-runs it)."""


def array_shards(vectors: np.ndarray, rows: int = SHARD_ROWS) -> Callable[[], Iterator[np.ndarray]]:
    """``vectors`` as shards of ``rows`` rows (views, no copy), re-iterable for the two-pass index build."""
    return lambda: (vectors[s : s + rows] for s in range(0, len(vectors), rows))


def parquet_shards(
    paths: Sequence[str | Path], column: str = "vec", position: str = "i"
) -> Callable[[], Iterator[np.ndarray]]:
    """Parquet files' ``column`` (fixed-size lists of float32, as :mod:`embedbench.ray_engine` writes them) as
    shards, one file at a time, in the given order.

    Row ``j`` of the concatenation becomes index id ``j``, so the files must hold the corpus in order; a
    ``position`` column, when present, is checked to run on from the previous file's last row.
    """
    import pyarrow.parquet as pq

    files = [Path(p) for p in paths]
    for f in files:
        if not f.is_file():
            raise EmbedbenchError(f"{f}: embedding shard not found; re-run the encode that writes the shards")

    def read() -> Iterator[np.ndarray]:
        offset = 0
        for f in files:
            table = pq.read_table(f)
            if column not in table.column_names:
                raise EmbedbenchError(f"{f}: no {column!r} column in the embedding shard (columns: {table.column_names})")
            if position in table.column_names:
                got = table.column(position).to_numpy()
                if not np.array_equal(got, np.arange(offset, offset + len(got))):
                    raise EmbedbenchError(
                        f"{f}: column {position!r} does not run on from row {offset} (first value {got[:1].tolist()}); "
                        "give the shards in corpus order"
                    )
            vectors = vectors_from_arrow(table.column(column))
            offset += len(vectors)
            yield vectors

    return read


def shard_rows(paths: Sequence[str | Path]) -> int:
    """Total rows of the Parquet files (from their footers, without reading the vectors)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)


class SearchActor:
    """Holds one copy of the index (loaded once from the object store) and searches batches of queries."""

    def __init__(self, index_data: np.ndarray, threads: int) -> None:
        import faiss

        faiss.omp_set_num_threads(max(1, threads))
        self.index = deserialize_index(index_data)

    def search(self, start: int, queries: np.ndarray, k: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
        """``(start, scores, ids)`` of one batch, exactly as :func:`embedbench.index.search_batches` yields it."""
        _, scores, ids = next(search_batches(self.index, queries, k, batch_size=max(1, len(queries))))
        return start, scores, ids

    def pid(self) -> int:
        """This actor's process id (the fault test kills it)."""
        import os

        return os.getpid()


def start_search_actors(index_data: Any, cfg: ComputeConfig, n: int) -> list[Any]:
    """``n`` search actors (at most ``cfg.actors``), each loading the index in ``index_data`` (an object ref) once."""
    import ray

    remote = ray.remote(SearchActor).options(
        num_cpus=cfg.cpus_per_actor, max_restarts=ACTOR_RETRIES, max_task_retries=ACTOR_RETRIES
    )
    return [remote.remote(index_data, int(max(1, cfg.cpus_per_actor))) for _ in range(max(1, min(cfg.actors, n)))]


def search_on_ray(
    shards: Callable[[], Iterable[np.ndarray]],
    n_corpus: int,
    queries: np.ndarray,
    k: int | np.ndarray,
    plan: IndexPlan,
    cfg: ComputeConfig,
    *,
    batch_size: int = 1024,
    seed: int = 0,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Build the index over ``shards`` now, then yield ``(start, scores, ids)`` per query batch, in order.

    The batches are those of :func:`embedbench.index.search_batches` (``batch_size`` queries each, ``k``
    one value or one per query), searched by up to ``cfg.actors`` actors in parallel; memory in the
    driver is the queries plus the batches in flight.
    """
    import ray
    from ray.util import ActorPool

    ensure_ray(cfg)
    index = build_index_from_shards(shards, n_corpus, plan, seed=seed)
    index_ref = ray.put(serialize_index(index))
    del index
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    per_query = np.ascontiguousarray(np.broadcast_to(np.asarray(k, dtype=np.int64), (len(queries),)))
    starts = list(range(0, len(queries), batch_size))
    actors = start_search_actors(index_ref, cfg, len(starts))
    pool = ActorPool(actors)
    work = [(s, queries[s : s + batch_size], per_query[s : s + batch_size]) for s in starts]  # views, no copies

    def results() -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        try:
            yield from pool.map(lambda actor, job: actor.search.remote(*job), work)
        finally:
            for actor in actors:
                ray.kill(actor)

    return results()
