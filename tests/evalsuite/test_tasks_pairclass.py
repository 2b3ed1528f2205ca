"""Pair classification task: hand-worked AP and best F1 with a bag-of-words encoder, the MRPC file quirks,
and agreement with sentence-transformers' BinaryClassificationEvaluator on real MRPC pairs."""

from __future__ import annotations

import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.statistics import aggregate
from embedbench.evalsuite.tasks import get_task
from embedbench.evalsuite.tasks.pairclass import PairClassificationTask

# cosines 1, 1/sqrt(2), 1/2, 0 with labels 1, 0, 1, 0 -> AP = (1 + 2/3) / 2, best F1 0.8 at cosine 1/2
ROWS = [(1, "a b", "a b"), (0, "a b", "a"), (1, "a b", "a c"), (0, "a", "c")]


def write_mrpc(path, rows, bom=True):
    lines = [f"{q}\t{i}\t{i + 100}\t{a}\t{b}" for i, (q, a, b) in enumerate(rows)]
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return {"kind": "mrpc", "path": str(path), "output": "pair-class"}


def test_hand_worked_ap_and_f1(tmp_path, bow):
    r = PairClassificationTask("toy", write_mrpc(tmp_path / "msr.txt", ROWS)).evaluate(bow)
    assert r.per_item["label"] == [1, 0, 1, 0]
    assert r.per_item["score"] == pytest.approx([1.0, 2**-0.5, 0.5, 0.0])
    assert r.metrics["ap"] == pytest.approx((1 + 2 / 3) / 2)
    assert r.metrics["f1"] == pytest.approx(0.8)
    assert r.metrics["f1_threshold"] == pytest.approx(0.5)
    assert r.main_metric == "ap" and r.task_type == "pair-classification"
    for m in r.aggregations:
        assert aggregate(r, m) == pytest.approx(r.metrics[m])


def test_bad_input_raises(tmp_path, bow):
    with pytest.raises(EmbedbenchError, match="0 or 1"):
        PairClassificationTask("x", write_mrpc(tmp_path / "b.txt", [(2, "a", "b"), (0, "a", "c")])).evaluate(
            bow
        )
    with pytest.raises(EmbedbenchError, match="need both 0 and 1"):
        PairClassificationTask("x", write_mrpc(tmp_path / "c.txt", [(1, "a", "b"), (1, "a", "c")])).evaluate(
            bow
        )


@pytest.mark.slow
def test_mrpc_matches_sentence_transformers(shared_data, st_shim):
    """MiniLM-L6 on 300 MRPC test pairs: AP and best F1 equal ST's BinaryClassificationEvaluator."""
    from sentence_transformers.sentence_transformer.evaluation import BinaryClassificationEvaluator

    from embedbench.data import read_mrpc
    from embedbench.encode import load_encoder

    enc = load_encoder("all-MiniLM-L6-v2", show_progress=False)
    df = read_mrpc(shared_data / "mrpc" / "msr_paraphrase_test.txt").head(300)
    ours = get_task("mrpc", limit=300).evaluate(enc)
    assert ours.n_items == 300
    st = BinaryClassificationEvaluator(
        df["sentence1"].to_list(), df["sentence2"].to_list(), df["label"].to_list(), write_csv=False
    )(st_shim(enc))
    assert ours.metrics["ap"] == pytest.approx(st["cosine_ap"], abs=1e-6)
    assert ours.metrics["f1"] == pytest.approx(st["cosine_f1"], abs=1e-6)
