"""Metric functions on hand-worked cases, and the IR metrics against pytrec_eval (mteb's reference) on a real run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.metrics import (
    average_precision,
    best_f1,
    cosine_pairs,
    ir_metrics,
    parse_ir_metric,
    pearson,
    relevance,
    spearman,
    triplet_accuracy,
)

# q1: graded qrels, relevant docs at ranks 1 (rel 2) and 3 (rel 1)
# q2: one relevant doc at rank 3
# q3: only a short run (2 docs) and its relevant doc never retrieved; d9 judged 0 = not relevant
RANKED = [["d3", "d2", "d1", "d4"], ["d1", "d2", "d5"], ["d9", "d7"]]
QRELS = [{"d1": 1, "d3": 2}, {"d5": 1}, {"d9": 0, "d8": 1}]


def test_ir_metrics_hand_worked():
    rel = relevance(RANKED, QRELS, depth=3)
    assert rel.gains.tolist() == [[2, 0, 1], [0, 0, 1], [0, 0, 0]]
    assert rel.n_relevant.tolist() == [2, 1, 1]
    m = ir_metrics(
        rel,
        [
            "ndcg@3",
            "mrr@3",
            "mrr@2",
            "recall@1",
            "recall@3",
            "precision@3",
            "map@3",
            "accuracy@1",
            "accuracy@3",
        ],
    )
    # q1: DCG = 2/log2(2) + 1/log2(4) = 2.5; IDCG = 2 + 1/log2(3)
    assert m["ndcg@3"] == pytest.approx([2.5 / (2 + 1 / math.log2(3)), 0.5, 0.0])
    assert m["mrr@3"] == pytest.approx([1.0, 1 / 3, 0.0])
    assert m["mrr@2"] == pytest.approx([1.0, 0.0, 0.0])
    assert m["recall@1"] == pytest.approx([0.5, 0.0, 0.0])
    assert m["recall@3"] == pytest.approx([1.0, 1.0, 0.0])
    assert m["precision@3"] == pytest.approx([2 / 3, 1 / 3, 0.0])
    # AP@3 = (P@1 + P@3) / 2 = (1 + 2/3) / 2 for q1; P@3 / 1 = 1/3 for q2
    assert m["map@3"] == pytest.approx([(1 + 2 / 3) / 2, 1 / 3, 0.0])
    assert m["accuracy@1"] == pytest.approx([1.0, 0.0, 0.0])
    assert m["accuracy@3"] == pytest.approx([1.0, 1.0, 0.0])


def test_ndcg_uses_linear_graded_gain():
    # the rel-1 doc first and the rel-3 doc second: DCG = 1 + 3/log2(3); ideal = 3 + 1/log2(3)
    rel = relevance([["a", "b"]], [{"a": 1, "b": 3}], depth=2)
    assert ir_metrics(rel, ["ndcg@2"])["ndcg@2"][0] == pytest.approx(
        (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    )


def test_metric_names_and_depth_are_checked():
    assert parse_ir_metric("NDCG@10") == ("ndcg", 10)
    for bad in ("ndcg", "bleu@10", "ndcg@0", "ndcg@x"):
        with pytest.raises(EmbedbenchError, match="unknown retrieval metric"):
            parse_ir_metric(bad)
    with pytest.raises(ValueError, match="outside"):
        ir_metrics(relevance(RANKED, QRELS, depth=3), ["ndcg@10"])


def test_similarity_and_correlations_hand_worked():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert cosine_pairs(a, b) == pytest.approx([1.0, 1 / math.sqrt(2), 0.0])
    # ranks (1,3,2,4) vs (1,2,3,4): d^2 sum 2 -> rho = 1 - 6*2/(4*15) = 0.8
    assert spearman([0.1, 0.4, 0.35, 0.8], [1, 2, 3, 4]) == pytest.approx(0.8)
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    # a tie counts as wrong
    assert triplet_accuracy([0.9, 0.2, 0.5], [0.1, 0.3, 0.5]) == pytest.approx(1 / 3)


def test_pair_classification_hand_worked():
    scores, labels = [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]
    # positives at ranks 1 and 3: AP = (1/1 + 2/3) / 2
    assert average_precision(scores, labels) == pytest.approx((1 + 2 / 3) / 2)
    # thresholds .9 -> F1 2/3, .8 -> 1/2, .7 -> P 2/3 R 1 F1 0.8, .6 -> 2/3
    best = best_f1(scores, labels)
    assert (best.f1, best.precision, best.recall, best.threshold) == pytest.approx((0.8, 2 / 3, 1.0, 0.7))
    with pytest.raises(EmbedbenchError, match="0/1"):
        average_precision(scores, [0, 0, 0, 0])


def test_best_f1_with_ties_matches_sentence_transformers():
    from sentence_transformers.sentence_transformer.evaluation import BinaryClassificationEvaluator

    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=200), 1)
    labels = (scores + rng.normal(size=200) > 0).astype(int)
    ref = BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, True)
    ours = best_f1(scores, labels)
    assert (ours.f1, ours.precision, ours.recall) == pytest.approx(ref[:3], abs=1e-12)


def test_ir_metrics_match_pytrec_eval_on_bm25_scifact(shared_data):
    """Every per-query value equals pytrec_eval's (mteb's backend) on a real BM25 run over SciFact test."""
    import pytrec_eval

    from embedbench.data import read_beir
    from embedbench.evalsuite.tasks.bm25 import BM25Retriever
    from embedbench.evalsuite.tasks.retrieval import document_texts

    data = read_beir(shared_data / "scifact", "test")
    docs = document_texts(data.corpus["title"].to_list(), data.corpus["text"].to_list())
    doc_ids = data.corpus["doc_id"].to_list()
    qids = data.queries["query_id"].to_list()
    top, _ = BM25Retriever().index(docs).search(data.queries["text"].to_list(), 100)
    ranked = [[doc_ids[i] for i in row if i >= 0] for row in top]
    qrels = data.relevant_docs
    ours = ir_metrics(
        relevance(ranked, [qrels[q] for q in qids], 100),
        ["ndcg@10", "ndcg@100", "map@100", "recall@1", "recall@100", "precision@10", "accuracy@1", "mrr@10"],
    )

    # strictly decreasing scores so pytrec_eval keeps our order (it breaks ties by doc id)
    run = {q: {d: float(100 - i) for i, d in enumerate(r)} for q, r in zip(qids, ranked, strict=True)}
    run10 = {q: {d: float(100 - i) for i, d in enumerate(r[:10])} for q, r in zip(qids, ranked, strict=True)}
    ev = pytrec_eval.RelevanceEvaluator(
        qrels, {"ndcg_cut.10,100", "map_cut.100", "recall.1,100", "P.10", "success.1"}
    )
    ref = ev.evaluate(run)
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run10)
    pairs = {
        "ndcg@10": "ndcg_cut_10",
        "ndcg@100": "ndcg_cut_100",
        "map@100": "map_cut_100",
        "recall@1": "recall_1",
        "recall@100": "recall_100",
        "precision@10": "P_10",
        "accuracy@1": "success_1",
    }
    for ours_name, ref_name in pairs.items():
        np.testing.assert_allclose(
            ours[ours_name], [ref[q][ref_name] for q in qids], atol=1e-9, err_msg=ours_name
        )
    np.testing.assert_allclose(ours["mrr@10"], [rr[q]["recip_rank"] for q in qids], atol=1e-9)
    assert 0.6 < ours["ndcg@10"].mean() < 0.75  # BM25 on SciFact (BEIR reports 0.665 for Anserini BM25)
