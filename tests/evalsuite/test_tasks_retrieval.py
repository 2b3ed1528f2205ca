"""Retrieval task: hand-worked rankings with a bag-of-words encoder, bad input, and agreement with
sentence-transformers' InformationRetrievalEvaluator and mteb's SciFact on the real data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.statistics import aggregate
from embedbench.evalsuite.tasks import get_task
from embedbench.evalsuite.tasks.bm25 import BM25Retriever
from embedbench.evalsuite.tasks.retrieval import RetrievalTask

CORPUS = {"d1": ("apple", "banana"), "d2": ("", "apple"), "d3": ("cherry", "date"), "d4": ("", "cherry")}
QUERIES = {"q1": "apple banana", "q2": "cherry", "q3": "date", "qx": "not in qrels"}
# q1: graded (d1 rel 2, d2 rel 1); q2: d3 is relevant but d4 ("cherry") ranks first; q3: only a 0 judgement
QRELS = [("q1", "d1", 2), ("q1", "d2", 1), ("q2", "d3", 1), ("q3", "d3", 0)]


@pytest.fixture
def beir(tmp_path, beir_writer):
    return beir_writer(tmp_path / "toy", CORPUS, QUERIES, QRELS)


def src(folder, split="test"):
    return {"kind": "beir", "path": str(folder), "split": split}


def test_hand_worked_ranking(beir, bow):
    enc = bow
    task = RetrievalTask("toy", src(beir), metrics=("ndcg@10", "mrr@10", "recall@1", "map@100"))
    r = task.evaluate(enc)
    # q1 ranks d1 (cos 1) then d2 (cos .71): ideal order; q2 ranks d4 (cos 1) then d3 (cos .71)
    assert r.per_item["id"] == ["q1", "q2"]
    assert r.per_item["ndcg@10"] == pytest.approx([1.0, 1 / math.log2(3)])
    assert r.per_item["mrr@10"] == pytest.approx([1.0, 0.5])
    assert r.per_item["recall@1"] == pytest.approx([0.5, 0.0])
    assert r.per_item["map@100"] == pytest.approx([1.0, 0.5])
    assert r.metrics["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert r.main_metric == "ndcg@10" and r.task_type == "retrieval" and r.model == "bow"
    assert r.provenance["skipped_queries_without_relevant"] == 1  # q3: judged 0 only
    assert r.dataset.endswith("toy:test") and len(r.dataset_hash) == 16
    for m in r.metrics:  # the aggregation strings reproduce every metric
        assert aggregate(r, m) == pytest.approx(r.metrics[m])
    # documents are "title text" stripped, and each distinct text is encoded once
    assert sorted(enc.encoded) == sorted(
        ["apple banana", "apple", "cherry date", "cherry", "apple banana", "cherry"]
    )
    assert len(enc.calls) == 2


def test_bm25_runs_the_same_task(beir):
    r = RetrievalTask("toy", src(beir), metrics=("mrr@10", "recall@10")).evaluate(BM25Retriever(stemmer=None))
    assert r.model == "bm25" and r.model_fingerprint
    assert r.per_item["mrr@10"][0] == 1.0  # "apple banana" matches d1 on both words
    assert r.per_item["recall@10"] == [1.0, 1.0]


def test_bad_input_raises(tmp_path, beir, beir_writer, bow):
    with pytest.raises(EmbedbenchError, match="unknown retrieval metric"):
        RetrievalTask("toy", src(beir), metrics=("ndcg",))
    unknown_doc = beir_writer(tmp_path / "u", CORPUS, QUERIES, [("q1", "d9", 1)])
    with pytest.raises(EmbedbenchError, match="d9"):
        RetrievalTask("u", src(unknown_doc)).evaluate(bow)
    no_relevant = beir_writer(tmp_path / "z", CORPUS, QUERIES, [("q1", "d1", 0)])
    with pytest.raises(EmbedbenchError, match="no query has a relevant document"):
        RetrievalTask("z", src(no_relevant)).evaluate(bow)
    with pytest.raises(EmbedbenchError, match="split 'dev'"):
        RetrievalTask("toy", src(beir, "dev")).evaluate(bow)
    with pytest.raises(EmbedbenchError, match="neither an Encoder"):
        RetrievalTask("toy", src(beir)).evaluate(object())


def test_registry_options(beir):
    task = get_task("scifact", path=beir, metrics=("ndcg@10",))
    assert task.source.path == str(beir) and task.metrics == ("ndcg@10",)
    with pytest.raises(EmbedbenchError, match="no option"):
        get_task("scifact", colour="red")
    with pytest.raises(EmbedbenchError, match="unknown task"):
        get_task("nope")


@pytest.mark.slow
def test_scifact_matches_sentence_transformers_and_mteb(shared_data, st_shim):
    """MiniLM-L6 on SciFact test: nDCG@10 and MRR@10 equal ST's evaluator and mteb's SciFact to 1e-4.

    Everything is encoded through the shared cache (the corpus at most once, by our task), so no
    reference run encodes the 5,183 documents again.
    """
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    from embedbench.data import read_beir
    from embedbench.encode import load_encoder
    from embedbench.evalsuite.tasks.mteb_run import run_mteb
    from embedbench.evalsuite.tasks.mteb_tasks import LocalSciFact
    from embedbench.evalsuite.tasks.retrieval import document_texts

    enc = load_encoder("all-MiniLM-L6-v2", show_progress=False)
    ours = get_task("scifact").evaluate(enc)
    encoded_by_ours = enc.misses  # 0 with a warm cache; the whole corpus once on a fresh machine

    data = read_beir(shared_data / "scifact", "test")
    docs = document_texts(data.corpus["title"].to_list(), data.corpus["text"].to_list())
    corpus = dict(zip(data.corpus["doc_id"].to_list(), docs, strict=True))
    queries = dict(zip(data.queries["query_id"].to_list(), data.queries["text"].to_list(), strict=True))
    relevant = {q: {d for d, s in rel.items() if s > 0} for q, rel in data.relevant_docs.items()}
    st = InformationRetrievalEvaluator(queries, corpus, relevant, name="scifact", write_csv=False)(
        st_shim(enc)
    )
    mteb_scores = run_mteb(enc, [LocalSciFact()])[0].mteb_json["scores"]["test"][0]

    assert ours.metrics["ndcg@10"] == pytest.approx(st["scifact_cosine_ndcg@10"], abs=1e-4)
    assert ours.metrics["mrr@10"] == pytest.approx(st["scifact_cosine_mrr@10"], abs=1e-4)
    assert ours.metrics["map@100"] == pytest.approx(st["scifact_cosine_map@100"], abs=1e-4)
    assert ours.metrics["ndcg@10"] == pytest.approx(mteb_scores["ndcg_at_10"], abs=1e-4)
    assert ours.metrics["mrr@10"] == pytest.approx(mteb_scores["mrr_at_10"], abs=1e-4)
    assert ours.metrics["recall@100"] == pytest.approx(mteb_scores["recall_at_100"], abs=1e-4)
    assert ours.metrics["ndcg@10"] == pytest.approx(0.6451, abs=1e-4)  # MTEB leaderboard figure for MiniLM-L6
    assert enc.misses == encoded_by_ours, "the reference runs must take every embedding from the shared cache"


def test_scifact_mini_is_a_builtin_task_on_shipped_data():
    """Profiles say "scifact-mini": the slice ships in evalsuite/data (not a test fixture), its bytes fixed."""
    from embedbench.evalsuite.tasks import PACKAGE_DATA
    from embedbench.evalsuite.tasks.base import dataset_hash

    task = get_task("scifact-mini")
    assert isinstance(task, RetrievalTask) and task.name == "scifact-mini" and task.source.split == "test"
    path = Path(task.source.path)
    assert path == PACKAGE_DATA / "scifact-mini" and "tests" not in path.parts
    files = [path / "corpus.jsonl", path / "queries.jsonl", path / "qrels" / "test.tsv"]
    assert dataset_hash(*files) == "f3bb13b3ddb502c9" == task.dataset_hash()  # the hash tests/e2e/expected.json records
    assert (path / "README.md").is_file()


def test_trio_of_tables_equals_the_beir_folder_and_threshold(tmp_path, beir, bow):
    """The same data as three tables with their own column names: the same per-query figures; a relevance
    threshold of 2 keeps only q1's grade-2 document; negative and below-threshold grades are counted."""
    import csv

    with open(tmp_path / "q.csv", "w", newline="") as f:
        csv.writer(f).writerows([["qid", "question"], *QUERIES.items()])
    with open(tmp_path / "docs.tsv", "w", newline="") as f:
        csv.writer(f, delimiter="\t").writerows([["id", "heading", "body"], *[(d, t, x) for d, (t, x) in CORPUS.items()]])
    (tmp_path / "j.json").write_text(json.dumps({"test": [list(r) for r in [*QRELS, ("q2", "d1", -1)]]}))
    trio = {
        "queries": {"path": str(tmp_path / "q.csv"), "columns": {"query_id": "qid", "text": "question"}},
        "corpus": {"path": str(tmp_path / "docs.tsv"), "columns": {"doc_id": "id", "title": "heading", "text": "body"}},
        "qrels": {"path": str(tmp_path / "j.json"), "split": "test", "columns": {"query_id": 1, "doc_id": 2, "score": 3}},
    }
    metrics = ("ndcg@10", "mrr@10")
    folder = RetrievalTask("f", src(beir), metrics=metrics).evaluate(bow)
    tables = get_task("retrieval", **trio, metrics=metrics).evaluate(bow)
    assert tables.per_item == folder.per_item
    assert tables.provenance["negative_judgements"] == 1 and tables.provenance["judgements_below_threshold"] == 2
    strict = get_task("retrieval", **trio, metrics=metrics, relevance_threshold=2).evaluate(bow)
    assert strict.per_item["id"] == ["q1"] and strict.per_item["mrr@10"] == [1.0]
    assert strict.provenance["judgements_below_threshold"] == 4
    dup = dict(trio, queries={**trio["queries"], "path": str(tmp_path / "dup.csv")})
    (tmp_path / "dup.csv").write_text("qid,question\nq1,a\nq1,b\n")
    with pytest.raises(EmbedbenchError, match=r"dup.csv, line 2, column 'qid': id 'q1' occurs on lines \[2, 3\]"):
        get_task("retrieval", **dup).evaluate(bow)
