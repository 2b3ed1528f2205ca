"""BM25 baseline: hand-checkable rankings, padding beyond the corpus, stemming, settings in the fingerprint,
and the SciFact figure through the retrieval task."""

from __future__ import annotations

import numpy as np
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.runner import resolve_model
from embedbench.evalsuite.tasks import get_task
from embedbench.evalsuite.tasks.bm25 import BM25Retriever
from embedbench.evalsuite.tasks.retrieval import Retriever

DOCS = ["the cat sat on the mat", "dogs chase cats", "a bird sings", "stock markets fell"]


def test_ranks_by_term_overlap_and_pads():
    index = BM25Retriever().index(DOCS)
    ids, scores = index.search(["cat mat", "singing birds", "zebra"], k=6)
    assert ids.shape == (3, 6) and scores.shape == (3, 6)
    assert ids[0, 0] == 0  # both terms in doc 0
    assert ids[1, 0] == 2  # "singing birds" -> sing, bird after stemming
    assert (ids[:, 4:] == -1).all()  # only 4 documents exist
    assert np.all(np.diff(scores[0, :4]) <= 0)  # best first
    assert scores[2, :4].max() == 0.0  # no query term in the corpus


def test_stemming_matters():
    ids, s = BM25Retriever(stemmer=None).index(DOCS).search(["cats"], k=2)
    assert ids[0, 0] == 1 and s[0, 0] > 0 and s[0, 1] == 0  # only the literal "cats"
    ids, s = BM25Retriever().index(DOCS).search(["cats"], k=2)
    assert sorted(ids[0]) == [0, 1] and s[0, 1] > 0  # stemmed, "cats" also matches "cat"


def test_settings_and_protocol():
    a, b = BM25Retriever(), BM25Retriever(k1=1.2)
    assert (
        a.name == "bm25" and a.fingerprint != b.fingerprint and a.fingerprint == BM25Retriever().fingerprint
    )
    assert isinstance(a, Retriever)
    bm25 = resolve_model("bm25")
    assert isinstance(bm25.get(), BM25Retriever)
    assert bm25.runs(get_task("scifact")) and not bm25.runs(get_task("stsb"))
    with pytest.raises(EmbedbenchError, match="empty"):
        a.index([])


def test_scifact_bm25(shared_data):
    r = get_task("scifact").evaluate(BM25Retriever())
    assert r.model == "bm25" and r.n_items == 300
    # bm25s reports 0.686 nDCG@10 on SciFact (Lucene variant, stemmed); BEIR's Anserini BM25 0.665
    assert 0.64 < r.metrics["ndcg@10"] < 0.70
