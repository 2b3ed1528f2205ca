"""The one FAISS wrapper: index choice, exact vs IVF search, batching, k clamped or padded, range search."""

from __future__ import annotations

import numpy as np
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.index import (
    IndexPlan,
    build_index,
    exact_topk,
    l2_normalised,
    plan_index,
    range_pairs,
    recall_at_k,
    search,
    search_batches,
)


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


def test_search_pads_to_k_and_matches_exact_topk(clustered):
    base, queries = clustered
    index = build_index(base[:5], IndexPlan("flat"))
    scores, ids = search(index, queries[:3], 8, batch_size=2)
    assert ids.shape == scores.shape == (3, 8) and ids.dtype == np.int64
    assert (ids[:, 5:] == -1).all() and np.isneginf(scores[:, 5:]).all()  # only 5 vectors exist
    assert sorted(ids[0, :5]) == [0, 1, 2, 3, 4]
    s, i = exact_topk(base, queries, 10)
    s2, i2 = search(build_index(base, IndexPlan("flat")), queries, 10)
    assert (i == i2).all() and np.allclose(s, s2)


def test_range_pairs_match_numpy(clustered):
    base, _ = clustered
    x = base[:400]
    src, dst = range_pairs(x, 0.9, batch_size=64)
    sims = x @ x.T
    expect = {(i, j) for i, j in zip(*np.nonzero(sims >= 0.9), strict=True) if j < i}
    got = set(zip(src.tolist(), dst.tolist(), strict=True))
    assert (dst < src).all() and src.dtype == dst.dtype == np.int64
    # float32 sums may differ in the last bit at the threshold; nothing else may differ
    assert {p for p in got ^ expect if abs(sims[p] - 0.9) > 1e-5} == set()
    assert len(got) > 100


def test_l2_normalised_is_a_unit_copy():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = l2_normalised(x)
    assert out.dtype == np.float32 and np.allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert x[0, 0] == 3.0  # the input is untouched
