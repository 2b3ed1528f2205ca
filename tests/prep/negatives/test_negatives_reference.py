"""Agreement with ``sentence_transformers.util.mine_hard_negatives`` on real data (SciFact train, MiniLM).

Both miners get identical embeddings: ours come from the shared cache, and the reference reads the
same vectors through its ``cache_folder`` files, so any difference is a difference in mining, and
each one must fall in a named, deliberate category:

- ``same_text``: a corpus text equal (normalised) to the anchor or a positive scored among the
  reference's picks; we never return it and the reference does (sentence-transformers #2818).
  SciFact has no such texts, so a separate test plants 15 copies of anchors in the corpus;
- ``window_end``: we are short because our window ends after ``range_max`` ranks counted without
  the anchor's positives, while the reference's ends after ``range_max + max_positives`` retrieved
  texts (its window depends on the largest positive count in the whole dataset); our negatives are
  then a prefix of its own;
- ``both_short``: the reference drops the row (n-tuple output needs every negative) and we report
  the same anchor as short.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from embedbench.data import beir_pairs, doc_text, read_beir
from embedbench.encode import load_encoder
from embedbench.prep.negatives import MiningConfig, mine_hard_negatives

pytestmark = pytest.mark.slow

N_PAIRS = 300
NEG = 3


def _norm(text: str) -> str:
    import unicodedata

    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


@pytest.fixture(scope="module")
def scifact(shared_data):
    data = read_beir(shared_data / "scifact", "train")
    pairs = beir_pairs(data).head(N_PAIRS)
    corpus = data.corpus.select(doc_text(pl.col("title"), pl.col("text"))).to_series().to_list()
    return pairs, corpus, load_encoder("all-MiniLM-L6-v2", show_progress=False)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def _reference(pairs: pl.DataFrame, corpus: list[str], encoder, tmp_path, **kw) -> pl.DataFrame:
    """Run sentence-transformers' miner on our cached embeddings (written where its cache_folder looks)."""
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives as st_mine

    model = encoder.model
    queries = list(dict.fromkeys(pairs["anchor"].to_list()))
    st_corpus = list(dict.fromkeys(corpus + pairs["positive"].to_list()))
    name = model.model_card_data.base_model or ""
    for kind, texts in (("query", queries), ("corpus", st_corpus)):
        digest = hashlib.sha256(repr((name, None, None, texts)).encode(), usedforsecurity=False).hexdigest()
        np.save(tmp_path / f"{kind}_embeddings_{digest}.npy", _unit(encoder.encode(texts)))
    before = sorted(p.name for p in tmp_path.iterdir())
    ds = Dataset.from_dict({"anchor": pairs["anchor"].to_list(), "positive": pairs["positive"].to_list()})
    out = st_mine(
        ds, model, corpus=corpus, num_negatives=NEG, sampling_strategy="top", output_format="n-tuple",
        output_scores=True, use_faiss=True, cache_folder=str(tmp_path), verbose=False, **kw,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "the reference re-encoded: cache file names changed"
    return pl.from_arrow(out.data.table)


def _compare(ours: pl.DataFrame, ref: pl.DataFrame, pairs: pl.DataFrame, corpus: list[str], encoder) -> dict[str, int]:
    neg_cols = [f"negative_{i}" for i in range(1, NEG + 1)]
    mine = {(a, p): [n for n in negs if n is not None] for a, p, *negs in ours.select("anchor", "positive", *neg_cols).rows()}
    theirs = {(a, p): (list(negs), s) for a, p, *negs, s in ref.select("anchor", "positive", *neg_cols, "scores").rows()}
    positives = pairs.group_by("anchor").agg("positive").rows()
    own = {a: {_norm(a), *map(_norm, ps)} for a, ps in positives}
    exact = {a: set(ps) for a, ps in positives}
    texts = list(dict.fromkeys(corpus + pairs["positive"].to_list()))
    emb = _unit(encoder.encode(texts))
    counts = dict.fromkeys(("identical", "same_text", "window_end", "both_short", "unexplained"), 0)
    for (anchor, positive), got in mine.items():
        ref_row = theirs.get((anchor, positive))
        if ref_row is None:
            counts["both_short" if len(got) < NEG else "unexplained"] += 1
            continue
        want, scores = ref_row
        if got == want:
            counts["identical"] += 1
            continue
        dups = [i for i, t in enumerate(texts) if _norm(t) in own[anchor] and t not in exact[anchor]]
        q = _unit(encoder.encode([anchor]))[0]
        if dups and max(emb[dups] @ q) >= min(scores[1:]) - 1e-6:
            counts["same_text"] += 1
        elif len(got) < NEG and want[: len(got)] == got:
            counts["window_end"] += 1
        else:
            counts["unexplained"] += 1
    return counts


def test_planted_copies_of_anchors_are_the_only_difference(scifact, tmp_path):
    """Copies of 15 anchors (10 verbatim, 5 upper-cased) planted in the corpus: with no margin the
    reference returns each as its own anchor's top negative (#2818); we exclude them, and nothing else differs."""
    pairs, corpus, encoder = scifact
    anchors = pairs["anchor"].unique(maintain_order=True).to_list()
    planted = anchors[:10] + [a.upper() for a in anchors[10:15]]
    window = {"range_min": 0, "range_max": 30}
    cfg = MiningConfig(num_negatives=NEG, output="n-tuples", output_scores=True, shortfall="keep", relative_margin=None, **window)
    ours = mine_hard_negatives(pairs, corpus + planted, encoder, cfg)
    ref = _reference(pairs, corpus + planted, encoder, tmp_path, **window)
    counts = _compare(ours.dataset, ref, pairs, corpus + planted, encoder)
    affected = pairs.filter(pl.col("anchor").is_in(anchors[:15])).height
    print(f"planted: {counts}; same_text removed={ours.stats.removed['same_text']}")
    assert counts == {"identical": pairs.height - affected, "same_text": affected, "window_end": 0, "both_short": 0,
                      "unexplained": 0}
    assert ours.stats.removed["same_text"] == 15
    first = ref.filter(pl.col("anchor").is_in(anchors[:10])).select("anchor", "negative_1").unique()
    assert (first["anchor"] == first["negative_1"]).all()  # the reference mines each anchor as its own negative


@pytest.mark.parametrize(
    "window",
    [
        {"range_min": 0, "range_max": 30, "relative_margin": 0.05},  # NV-Retriever TopK-PercPos (95%)
        {"range_min": 0, "range_max": 30, "absolute_margin": 0.02},
        {"range_min": 3, "range_max": 40},  # a pure rank window: ranks skip the positives in both
    ],
)
def test_negatives_agree_with_sentence_transformers(scifact, tmp_path, window):
    pairs, corpus, encoder = scifact
    cfg = MiningConfig(
        num_negatives=NEG, output="n-tuples", output_scores=True, shortfall="keep", index="flat",
        **{"relative_margin": None, **window},
    )
    ours = mine_hard_negatives(pairs, corpus, encoder, cfg)
    assert ours.stats.encoded["misses"] == 0, "SciFact is pre-cached: mining must not encode"
    ref = _reference(pairs, corpus, encoder, tmp_path, **window)
    counts = _compare(ours.dataset, ref, pairs, corpus, encoder)
    print(f"{window}: {counts}; ours short={ours.stats.short_anchors}, removed={ours.stats.removed}")
    assert counts["unexplained"] == 0, counts
    assert counts["identical"] + counts["both_short"] >= 0.9 * pairs.height, counts
    assert sum(counts.values()) == pairs.height
