"""The FAISS layer of mining: index choice, exact vs IVF search, batching, k clamped to the corpus."""

from __future__ import annotations

import numpy as np
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.index import IndexPlan, build_index, exact_topk, plan_index, recall_at_k, search_batches


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((20, 16))
    base = unit(centres[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 16)))
    queries = unit(centres[rng.integers(0, 20, 50)] + 0.3 * rng.standard_normal((50, 16)))
    return base, queries


def test_plan_index():
    assert plan_index(1000).kind == "flat"
    assert plan_index(1000, auto_threshold=999) == IndexPlan("ivf", nlist=25, nprobe=25)  # 1000 // 39 lists at most
    assert plan_index(1_000_000, nprobe=32) == IndexPlan("ivf", nlist=1000, nprobe=32)
    assert plan_index(1_000_000, "flat").kind == "flat"
    assert plan_index(500, "ivf", nlist=4, nprobe=64) == IndexPlan("ivf", nlist=4, nprobe=4)
    with pytest.raises(EmbedbenchError, match="empty corpus"):
        plan_index(0)


def test_exact_search_matches_numpy(clustered):
    base, queries = clustered
    scores, ids = exact_topk(base, queries, 10, batch_size=7)
    full = queries @ base.T
    expect = np.argsort(-full, axis=1)[:, :10]
    assert np.allclose(scores, np.take_along_axis(full, expect, axis=1), atol=1e-5)
    assert (np.sort(ids, axis=1) == np.sort(expect, axis=1)).mean() > 0.99  # ties aside


def test_ivf_recall_and_exhaustive_probe(clustered):
    base, queries = clustered
    _, exact = exact_topk(base, queries, 10)
    ivf = build_index(base, plan_index(len(base), "ivf", nlist=20, nprobe=20))
    ids = np.concatenate([b[2] for b in search_batches(ivf, queries, 10)])
    assert recall_at_k(ids, exact, 10) == 1.0  # every list probed: exact
    ivf.nprobe = 2
    ids = np.concatenate([b[2] for b in search_batches(ivf, queries, 10)])
    assert 0.5 < recall_at_k(ids, exact, 10) <= 1.0


def test_k_is_clamped_to_the_corpus_and_may_vary_per_query():
    base = unit(np.eye(4) + 0.01)
    index = build_index(base, IndexPlan("flat"))
    (start, scores, ids), = search_batches(index, base[:2], 100)
    assert start == 0 and ids.shape == (2, 4)  # no crash when k exceeds the corpus (sentence-transformers #3873)
    batches = list(search_batches(index, base, np.array([1, 2, 3, 1]), batch_size=2))
    assert [b[2].shape[1] for b in batches] == [2, 3]  # each batch searches with its largest k


def test_recall_at_k_by_hand():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    approx = np.array([[3, 2, 9], [-1, -1, -1]])
    assert recall_at_k(approx, exact, 3) == pytest.approx(2 / 6)
