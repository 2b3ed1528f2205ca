"""Reranking and paraphrase mining: 3-candidate / 4-sentence cases worked by hand with a bag-of-words encoder,
and agreement with sentence-transformers' RerankingEvaluator and ParaphraseMiningEvaluator on real data."""

from __future__ import annotations

import math

import polars as pl
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.statistics import aggregate
from embedbench.evalsuite.tasks import get_task
from embedbench.evalsuite.tasks.paraphrase import ParaphraseMiningTask
from embedbench.evalsuite.tasks.reranking import RerankingTask

# query "a b": positives "a b" (cos 1) and "c" (cos 0), negative "a" (cos 1/sqrt 2) -> ranks +, -, +
#   AP = (1/1 + 2/3) / 2 = 5/6, RR = 1, nDCG@10 = (1 + 1/log2 4) / (1 + 1/log2 3)
# query "c": positive "a" (cos 0), negative "c" (cos 1) -> ranks -, +: AP = 1/2, RR = 1/2
TRIPLETS = {"anchor": ["a b", "a b", "c"], "positive": ["a b", "c", "a"], "negative": ["a", "a", "c"]}


def test_hand_worked_reranking(tmp_path, bow, st_shim):
    from sentence_transformers.sentence_transformer.evaluation import RerankingEvaluator

    path = tmp_path / "t.parquet"
    pl.DataFrame(TRIPLETS).write_parquet(path)
    task = RerankingTask("toy", {"kind": "table", "path": str(path), "output": "triplets"})
    r = task.evaluate(bow)
    assert r.per_item["id"] == ["1", "3"]
    assert r.per_item["ap"] == pytest.approx([5 / 6, 1 / 2]) and r.per_item["mrr@10"] == pytest.approx([1, 1 / 2])
    assert r.per_item["ndcg@10"][0] == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert r.metrics["map"] == pytest.approx(2 / 3) == aggregate(r, "map")
    assert r.metrics["mrr@10"] == pytest.approx(3 / 4) and r.main_metric == "map"
    samples = [{"query": s.query, "positive": s.positive, "negative": s.negative} for s in task.samples()]
    st = RerankingEvaluator(samples, write_csv=False)(st_shim(bow))
    assert st["map"] == pytest.approx(r.metrics["map"]) and st["mrr@10"] == pytest.approx(r.metrics["mrr@10"])


# sentences 0 "a b", 1 "a c", 2 "b", 3 "b d"; gold (0,1) and (2,3). Cosines: (0,2) = (2,3) = 1/sqrt 2,
# (0,1) = (0,3) = 1/2, the rest 0. Mined groups of equal scores: {(0,2), (2,3)}: precision 1/2 for (2,3);
# {(0,1), (0,3)}: precision 2/4 for (0,1). AP = (1/2 + 1/2) / 2 = 1/2; F1 is 1/2 at the first cut (P = R = 1/2),
# 2/3 at the second (P = 1/2, R = 1).
PAIRS = {"anchor": ["a b", "b"], "positive": ["a c", "b d"]}


def test_hand_worked_paraphrase_mining(tmp_path, bow, st_shim):
    from sentence_transformers.sentence_transformer.evaluation import ParaphraseMiningEvaluator

    path = tmp_path / "p.jsonl"
    pl.DataFrame(PAIRS).write_ndjson(path)
    task = ParaphraseMiningTask("toy", {"kind": "table", "path": str(path), "output": "pairs"})
    assert task.texts() == ["a b", "a c", "b", "b d"]
    r = task.evaluate(bow)
    assert r.per_item == {"id": ["0-1", "2-3"], "precision_at_rank": [0.5, 0.5]}
    assert r.metrics["average_precision"] == pytest.approx(0.5) == aggregate(r, "average_precision")
    assert r.metrics["f1"] == pytest.approx(2 / 3) and r.metrics["recall"] == 1.0
    st = ParaphraseMiningEvaluator({str(i): t for i, t in enumerate(task.texts())}, [("0", "1"), ("2", "3")])(
        st_shim(bow)
    )
    assert st["average_precision"] == pytest.approx(0.5) and st["f1"] == pytest.approx(2 / 3)


def test_bad_input(tmp_path, bow):
    path = tmp_path / "t.csv"
    path.write_text("q,d,label\nx,y,0\nx,z,0\n")
    src = {"kind": "table", "path": str(path), "output": "pair-class", "columns": {"premise": "q", "hypothesis": "d"}}
    with pytest.raises(EmbedbenchError, match="no query has both a positive and a negative"):
        RerankingTask("r", src).evaluate(bow)
    with pytest.raises(EmbedbenchError, match="no duplicate pair"):
        ParaphraseMiningTask("p", src).evaluate(bow)
    path.write_text("q,d,label\nx,y,2\n")
    with pytest.raises(EmbedbenchError, match=r"t.csv, line 2, column 'label': label '2'; expected 0 or 1"):
        ParaphraseMiningTask("p", src).evaluate(bow)


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    from embedbench.cache import EmbeddingCache
    from embedbench.encode import load_encoder

    return load_encoder("tiny", cache=EmbeddingCache(tmp_path_factory.mktemp("c") / "e.sqlite"), show_progress=False)


def test_snli_reranking_equals_sentence_transformers(shared_data, st_shim, tiny_encoder):
    """SNLI test premises reranking their entailed (positive) and contradicted (negative) hypotheses, by config."""
    from sentence_transformers.sentence_transformer.evaluation import RerankingEvaluator

    task = get_task("reranking", source={
        "kind": "snli", "path": str(shared_data / "snli"), "split": "test", "output": "pair-class",
        "where": {"label": ["entailment", "contradiction"]}, "limit": 600,
    }, positive_label="entailment")
    r = task.evaluate(tiny_encoder)
    assert r.n_items > 150
    samples = [{"query": s.query, "positive": s.positive, "negative": s.negative} for s in task.samples()]
    st = RerankingEvaluator(samples, write_csv=False)(st_shim(tiny_encoder))
    assert r.metrics["map"] == pytest.approx(st["map"], abs=1e-4)
    assert r.metrics["mrr@10"] == pytest.approx(st["mrr@10"], abs=1e-4)
    assert r.metrics["ndcg@10"] == pytest.approx(st["ndcg@10"], abs=1e-4)


def test_mrpc_paraphrase_mining_equals_sentence_transformers(shared_data, st_shim, tiny_encoder):
    """MRPC test pairs (label 1: duplicates, the rest distractors), by config."""
    from sentence_transformers.sentence_transformer.evaluation import ParaphraseMiningEvaluator

    task = get_task("paraphrase-mining", source={
        "kind": "mrpc", "path": str(shared_data / "mrpc"), "split": "test", "output": "pair-class", "limit": 400,
    })
    r = task.evaluate(tiny_encoder)
    sentences, gold = task.pool()
    st = ParaphraseMiningEvaluator(
        {str(i): t for i, t in enumerate(sentences)}, [(str(i), str(j)) for i, j in gold]
    )(st_shim(tiny_encoder))
    assert r.provenance["n_duplicates"] == len(gold) > 200
    assert r.metrics["average_precision"] == pytest.approx(st["average_precision"], abs=1e-4)
    assert r.metrics["f1"] == pytest.approx(st["f1"], abs=1e-4)
