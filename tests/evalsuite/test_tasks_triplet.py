"""Triplet task: hand-worked accuracy with a bag-of-words encoder (ties count as wrong), SNLI triplets,
and agreement with sentence-transformers' TripletEvaluator."""

from __future__ import annotations

import polars as pl
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.statistics import aggregate
from embedbench.evalsuite.tasks import get_task
from embedbench.evalsuite.tasks.triplet import TripletTask

# cos(a,p) vs cos(a,n): 1 > 0 (right); 0 < 1 (wrong); 1/2 = 1/2 (tie: wrong)
TRIPLETS = {"anchor": ["a b", "a b", "a b"], "positive": ["a b", "c", "a c"], "negative": ["c", "a b", "b d"]}


def test_hand_worked_accuracy(tmp_path, bow):
    path = tmp_path / "triplets.parquet"
    pl.DataFrame(TRIPLETS).write_parquet(path)
    r = TripletTask("toy", {"kind": "table", "path": str(path), "output": "triplets"}).evaluate(bow)
    assert r.per_item["correct"] == [1, 0, 0]
    assert r.per_item["margin"] == pytest.approx([1.0, -1.0, 0.0])
    assert r.metrics["accuracy"] == pytest.approx(1 / 3)
    assert aggregate(r, "accuracy") == pytest.approx(1 / 3)
    assert r.main_metric == "accuracy" and r.task_type == "triplet" and r.per_item["id"] == ["0", "1", "2"]
    assert bow.encoded == ["a b", "c", "a c", "b d"]  # one call, each distinct text once


def test_snli_folder(tmp_path, bow):
    snli = tmp_path / "snli"
    snli.mkdir()
    (snli / "s1.test").write_text("a man sleeps \na man sleeps \na dog runs \n")
    (snli / "s2.test").write_text("a man rests \na man runs fast \na cat \n")
    (snli / "labels.test").write_text("entailment\ncontradiction\nneutral\n")
    r = TripletTask("snli", {"kind": "snli", "path": str(snli), "split": "test", "output": "triplets"}).evaluate(bow)
    # premise -> (rests, runs fast) and, both directions, entailment -> (premise, runs fast)
    assert r.n_items == 2
    assert r.dataset.endswith("snli:test")


def test_bad_input_raises(tmp_path, bow):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"anchor": ["a"], "positive": ["b"]}).write_parquet(path)
    with pytest.raises(EmbedbenchError, match="negative"):
        TripletTask("t", {"kind": "table", "path": str(path), "output": "triplets"}).evaluate(bow)
    with pytest.raises(EmbedbenchError, match=r"output 'scored' is not available for kind 'snli'"):
        TripletTask("t", {"kind": "snli", "path": str(path), "split": "test", "output": "scored"})


@pytest.mark.slow
def test_snli_matches_sentence_transformers(shared_data, st_shim):
    """MiniLM-L6 on the first 500 SNLI test triplets: the same accuracy as ST's TripletEvaluator."""
    from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

    from embedbench.encode import load_encoder
    enc = load_encoder("all-MiniLM-L6-v2", show_progress=False)
    df = get_task("snli-triplets").frame().head(500)
    ours = get_task("snli-triplets", limit=500).evaluate(enc)
    assert ours.n_items == 500
    st = TripletEvaluator(
        df["anchor"].to_list(), df["positive"].to_list(), df["negative"].to_list(), write_csv=False
    )(st_shim(enc))
    assert ours.metrics["accuracy"] == pytest.approx(st["cosine_accuracy"], abs=1e-6)
