"""Mining on Ray gives the local miner's negatives (SciFact train slice, tiny model, a local 2-CPU cluster).

The Ray path builds the index the local miner builds (same plan and training sample, vectors added shard
by shard), serialises it once to search actors, and filters their candidates with the same code; so on
the same index the two agree exactly, and an IVF index probing every list agrees with exact search.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embedbench.data import beir_pairs, doc_text, read_beir
from embedbench.encode import load_encoder
from embedbench.errors import EmbedbenchError
from embedbench.index import IndexPlan, build_index, build_index_from_shards, l2_normalised, search
from embedbench.prep.negatives import MiningConfig, mine_hard_negatives
from embedbench.prep.negatives.ray_mine import array_shards, parquet_shards, shard_rows
from embedbench.ray_engine import vectors_to_arrow

N_PAIRS, N_DOCS = 200, 400


@pytest.fixture(scope="module")
def scifact(shared_data):
    data = read_beir(shared_data / "scifact", "train")
    pairs = beir_pairs(data).head(N_PAIRS).select("anchor", "positive", "query_id")
    corpus = data.corpus.head(N_DOCS).select(doc_text(pl.col("title"), pl.col("text"))).to_series().to_list()
    encoder = load_encoder("tiny", show_progress=False)
    encoder.encode(pairs["anchor"].to_list() + corpus + pairs["positive"].to_list())  # warm the cache once
    return pairs, corpus, encoder


CONFIGS = {
    "exact, top": dict(index="flat", relative_margin=None, output="n-tuples", shortfall="keep"),
    "ivf probing all lists, random": dict(index="ivf", nlist=12, nprobe=12, sampling="random", relative_margin=None,
                                          output="triplets", num_negatives=4),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ray_search_gives_the_local_negatives(scifact, ray_engine, name):
    pairs, corpus, encoder = scifact
    cfg = MiningConfig(model="tiny", range_max=30, batch_size=64, **CONFIGS[name])  # 4 batches over 2 actors
    on_ray = mine_hard_negatives(pairs, corpus, encoder, cfg)
    from embedbench import compute

    compute.activate(compute.ComputeConfig())
    local = mine_hard_negatives(pairs, corpus, encoder, cfg)
    assert on_ray.dataset.height > 0 and on_ray.dataset.equals(local.dataset)
    assert on_ray.dropped.equals(local.dropped)
    assert on_ray.stats.removed == local.stats.removed and on_ray.stats.short_anchors == local.stats.short_anchors
    assert on_ray.stats.index == local.stats.index + " on Ray (2 search actors)"
    if cfg.index == "ivf":  # probing every list is exact: the same negatives as a flat index
        flat = mine_hard_negatives(pairs, corpus, encoder, cfg.model_copy(update={"index": "flat"}))
        assert flat.dataset.equals(local.dataset)


def test_index_from_parquet_shards_is_the_in_memory_index(tmp_path):
    rng = np.random.default_rng(7)
    vectors = l2_normalised(rng.normal(size=(2500, 24)))
    queries = l2_normalised(rng.normal(size=(40, 24)))
    paths = []
    for i, start in enumerate(range(0, len(vectors), 600)):
        part = vectors[start : start + 600]
        paths.append(tmp_path / f"part-{i:03d}.parquet")
        pq.write_table(pa.table({"i": np.arange(start, start + len(part)), "vec": vectors_to_arrow(part)}), paths[-1])
    assert shard_rows(paths) == len(vectors)
    for plan in (IndexPlan("flat"), IndexPlan("ivf", 20, 3)):
        want = search(build_index(vectors, plan, seed=5), queries, 10)
        for shards in (parquet_shards(paths), array_shards(vectors, rows=333)):
            got = search(build_index_from_shards(shards, len(vectors), plan, seed=5), queries, 10)
            assert np.array_equal(got[1], want[1]) and np.array_equal(got[0], want[0])
    with pytest.raises(EmbedbenchError, match="shards hold 2500 vectors, expected 2600"):
        build_index_from_shards(parquet_shards(paths), 2600, IndexPlan("flat"))
    with pytest.raises(EmbedbenchError, match="does not run on from row 0"):
        build_index_from_shards(parquet_shards(paths[::-1]), 2500, IndexPlan("flat"))
