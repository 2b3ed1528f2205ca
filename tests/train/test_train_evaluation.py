"""The dev-split retrieval adapter: ids, corpus, relevance and the metric, worked out by hand."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from embedbench.data.corpus import read_corpus_texts
from embedbench.errors import EmbedbenchError
from embedbench.train.evaluation import _id, build_dev_evaluator, retrieval_data


def test_queries_corpus_and_relevance_from_pairs(tmp_path):
    dev = pl.DataFrame(
        {
            "anchor": ["q1", "q1", "q2", "q3"],
            "positive": ["d1", "d2", "d1", "d3"],
            "negative": ["n1", "n2", "d3", None],
        }
    )
    queries, docs, relevant = retrieval_data(dev, corpus=["extra", "d2"], max_queries=2)
    assert list(queries.values()) == ["q1", "q2"]
    assert sorted(docs.values()) == ["d1", "d2", "d3", "extra", "n1", "n2"]
    assert relevant == {_id("q1"): {_id("d1"), _id("d2")}, _id("q2"): {_id("d1")}}


def test_corpus_file_joins_title_and_text_like_mteb(tmp_path):
    pl.DataFrame({"_id": ["1", "2"], "title": ["T", ""], "text": ["body", "alone"]}).write_ndjson(tmp_path / "c.jsonl")
    assert read_corpus_texts(tmp_path / "c.jsonl").to_list() == ["T body", "alone"]
    pl.DataFrame({"text": ["x"]}).write_parquet(tmp_path / "c.parquet")
    assert read_corpus_texts(tmp_path / "c.parquet").to_list() == ["x"]
    pl.DataFrame({"body": ["x"]}).write_parquet(tmp_path / "bad.parquet")
    with pytest.raises(EmbedbenchError, match="a corpus needs a 'text' column; found \\(body\\)"):
        read_corpus_texts(tmp_path / "bad.parquet")


def test_dev_without_pairs_is_refused():
    with pytest.raises(EmbedbenchError, match=r"needs columns \(anchor, positive\); found \(text, label\)"):
        retrieval_data(pl.DataFrame({"text": ["a"], "label": ["b"]}), where="dev.parquet")


class _Fake:
    """A fake model whose geometry fixes the ranking: q1 ranks d2 first, x second, d1 third."""

    vectors = {"q1": [1, 0, 0], "d2": [0.9, 0.1, 0], "x": [0.8, 0.2, 0], "d1": [0.5, 0.5, 0]}


def test_ndcg_matches_a_hand_computed_value(tmp_path, monkeypatch):
    """q1 has relevant {d1, d2}, ranked 3rd and 1st (x, a corpus distractor, is 2nd):

    nDCG@10(q1) = (1/log2(2) + 1/log2(4)) / (1/log2(2) + 1/log2(3)) = 1.5 / 1.6309 = 0.91972
    """
    pl.DataFrame({"anchor": ["q1", "q1"], "positive": ["d1", "d2"]}).write_parquet(tmp_path / "dev.parquet")
    pl.DataFrame({"text": ["x"]}).write_parquet(tmp_path / "c.parquet")
    from embedbench.models import load_model

    model = load_model("tiny")

    def encode(*args, **kwargs):
        import torch

        texts = args[0] if args else kwargs.get("inputs", kwargs.get("sentences"))
        v = np.array([_Fake.vectors[t] for t in texts], dtype=np.float32)
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        return torch.from_numpy(v) if kwargs.get("convert_to_tensor") else v

    monkeypatch.setattr(model, "encode", encode)
    evaluator = build_dev_evaluator(tmp_path / "dev.parquet", corpus_file=tmp_path / "c.parquet")
    metrics = evaluator(model)
    assert metrics["dev_cosine_ndcg@10"] == pytest.approx(1.5 / (1 + 1 / np.log2(3)), abs=1e-6)
    assert metrics["dev_cosine_mrr@10"] == pytest.approx(1.0)
