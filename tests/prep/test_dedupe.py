"""Exact and near-duplicate stages; MinHash/LSH checked against exact Jaccard and datasketch."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest

from embedbench.prep.dedupe import component_roots, exact_dedupe, near_dedupe
from embedbench.prep.marks import drops_by_reason, init_marks, mark, partition
from embedbench.prep.minhash import MinHasher, jaccard, optimal_bands
from embedbench.prep.semantic import semantic_dedupe


def pairs(anchors, positives):
    return init_marks(pl.DataFrame({"anchor": anchors, "positive": positives}), "src")


def test_exact_row_key_keeps_first_and_points_to_it():
    f = pairs(["a", "b", "a", "c", "b", "a"], ["x", "y", "x", "z", "y", "other"])
    out = exact_dedupe(f, ["anchor", "positive"])
    d = partition(out).dropped
    assert d["row_id"].to_list() == [2, 4]
    assert d["duplicate_of"].to_list() == ["src:#0", "src:#1"]
    assert d["duplicate_text"].to_list() == ["a | x", "b | y"]
    assert d["reason"].unique().to_list() == ["exact_duplicate"]


def test_exact_single_column():
    f = pairs(["a", "b", "a"], ["x", "y", "z"])
    d = partition(exact_dedupe(f, ["anchor"])).dropped
    assert d["row_id"].to_list() == [2] and d["detail"].to_list() == ["key=anchor"]


def test_rows_dropped_earlier_are_not_kept_copies():
    f = pairs(["a", "a", "a"], ["x", "x", "x"])
    f = mark(f, pl.col("row_id") == 0, reason="empty_text", stage="normalise")
    out = exact_dedupe(f, ["anchor", "positive"])
    d = partition(out).dropped.sort("row_id")
    assert d["row_id"].to_list() == [0, 2]
    assert d["reason"].to_list() == ["empty_text", "exact_duplicate"]
    assert d["duplicate_of"].to_list() == [None, "src:#1"]


def test_component_roots_by_hand():
    # 0-3, 3-5, 1-2 ; 4 alone
    roots = component_roots(6, np.array([3, 5, 2]), np.array([0, 3, 1]))
    assert roots.tolist() == [0, 1, 1, 0, 4, 0]


@pytest.mark.parametrize("threshold,num_perm", [(0.5, 128), (0.8, 128), (0.9, 256), (0.7, 64)])
def test_bands_match_datasketch(threshold, num_perm):
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert optimal_bands(threshold, num_perm) == (lsh.b, lsh.r)


def test_estimated_jaccard_tracks_exact_jaccard():
    rng = random.Random(3)
    words = [f"w{i}" for i in range(40)]
    a = [" ".join(rng.choice(words) for _ in range(30)) for _ in range(200)]
    b = [" ".join(t.split()[: rng.randint(5, 30)] + rng.sample(words, 5)) for t in a]
    mh = MinHasher(num_perm=256, shingle="word", ngram=2)
    est = mh.similarity(mh.signatures(pl.Series(a)), mh.signatures(pl.Series(b)))
    exact = np.array([jaccard(x, y, "word", 2) for x, y in zip(a, b, strict=True)])
    assert np.abs(est - exact).mean() < 0.03
    assert np.abs(est - exact).max() < 0.15


def test_identical_and_short_texts():
    mh = MinHasher(ngram=5)
    sig = mh.signatures(pl.Series(["abc", "ABC", "abcdefgh", "abcdefgh", ""]))
    assert (sig[0] == sig[1]).all()  # lower-cased, shorter than k: one whole-text shingle
    assert (sig[2] == sig[3]).all()
    assert (sig[4] == np.iinfo(np.uint32).max).all()  # no shingles: never a candidate


def planted(n=400, seed=0):
    """Distinct sentences plus, for the first 50, a copy with one word changed."""
    rng = random.Random(seed)
    vocab = [f"{w}{i}" for i, w in enumerate("alpha beta gamma delta omega sigma kappa theta".split() * 60)]
    base = [" ".join(rng.choice(vocab) for _ in range(20)) for _ in range(n)]
    near = []
    for t in base[:50]:
        w = t.split()
        w[rng.randrange(len(w))] = rng.choice(vocab)
        near.append(" ".join(w))
    return base + near


def test_near_dedupe_finds_planted_copies_and_nothing_else():
    texts = planted()
    f = pairs(texts, ["p"] * len(texts))
    out = near_dedupe(f, ["anchor", "positive"], hasher=MinHasher(threshold=0.7), on="anchor")
    d = partition(out).dropped
    assert sorted(d["row_id"].to_list()) == list(range(400, 450))
    assert d["duplicate_of"].to_list() == [f"src:#{i}" for i in range(50)]
    assert d["detail"].str.starts_with("column=anchor; jaccard=").all()
    exact = [jaccard(texts[i], texts[400 + i]) for i in range(50)]
    assert min(exact) >= 0.6


def test_near_dedupe_on_real_sentences_against_exact_jaccard(shared_data):
    """MRPC sentences + perturbed copies: every pair above the threshold by exact Jaccard is caught."""
    from embedbench.data import read_mrpc

    sents = (
        read_mrpc(shared_data / "mrpc" / "msr_paraphrase_train.txt")["sentence1"]
        .unique(maintain_order=True)
        .head(300)
        .to_list()
    )
    rng = random.Random(1)
    copies = [s.replace(" ", "  ", 1)[: len(s) - rng.randint(1, 6)] for s in sents[:60]]
    texts = sents + copies
    out = near_dedupe(
        pairs(texts, ["p"] * len(texts)), ["anchor"], hasher=MinHasher(threshold=0.8), on="anchor"
    )
    d = partition(out).dropped
    truth = {300 + i for i in range(60) if jaccard(sents[i], copies[i]) >= 0.9}
    assert len(truth) >= 20 and truth <= set(d["row_id"].to_list())
    # every drop is a real near-duplicate of the row it points to, by exact Jaccard
    by_ref = {f"src:#{i}": t for i, t in enumerate(texts)}
    for row, ref in d.select("row_id", "duplicate_of").iter_rows():
        assert jaccard(texts[row], by_ref[ref]) >= 0.7


class AxisEncoder:
    """Fake encoder: each text's first word picks an axis; 'twin' texts lean slightly off it."""

    name = "axis"
    fingerprint = "axis"

    def encode(self, texts):
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for i, t in enumerate(texts):
            head, *rest = t.split()
            out[i, int(head)] = 1.0
            if rest:
                out[i, 7] = 0.2
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_semantic_dedupe_with_fake_geometry():
    f = pairs(["0", "1", "0 twin", "2", "1"], ["a", "b", "c", "d", "e"])
    out = semantic_dedupe(f, ["anchor", "positive"], encoder=AxisEncoder(), threshold=0.95, on="anchor")
    d = partition(out).dropped
    assert d["row_id"].to_list() == [2, 4]
    assert d["duplicate_of"].to_list() == ["src:#0", "src:#1"]
    assert d["reason"].unique().to_list() == ["semantic_duplicate"]
    cos = 1 / np.sqrt(1 + 0.04)
    assert d["detail"].to_list() == [f"column=anchor; cosine={round(cos, 3)}", "column=anchor; cosine=1.0"]
    assert drops_by_reason(out) == {"semantic_duplicate": 2}
    strict = semantic_dedupe(f, ["anchor"], encoder=AxisEncoder(), threshold=0.99, on="anchor")
    assert partition(strict).dropped["row_id"].to_list() == [4]
