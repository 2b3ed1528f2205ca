"""Evaluators that match the data: each dataset's dev split gets its natural evaluator, plus the dev loss."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from embedbench.models import load_model
from embedbench.train.config import parse_train_config
from embedbench.train.evaluation import natural_evaluators
from embedbench.train.run import train


def test_triplet_and_sts_evaluators_agree_with_numpy_and_scipy(toy):
    model = load_model("tiny")
    tri = toy("triplets")
    (retrieval, triplet) = natural_evaluators("t", tri, "triplets")
    assert retrieval.name == "t-dev-retrieval" and len(retrieval.queries) == 8 and len(retrieval.corpus) == 16

    def emb(col: pl.Series) -> np.ndarray:
        e = model.encode(col.to_list())
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    a, p, n = emb(tri["anchor"]), emb(tri["positive"]), emb(tri["negative"])
    expected = float(np.mean((a * p).sum(1) > (a * n).sum(1)))
    assert triplet(model)["t-dev-triplet_cosine_accuracy"] == pytest.approx(expected)
    scored = toy("scored")
    (sts,) = natural_evaluators("s", scored, "scored")
    cos = (emb(scored["sentence1"]) * emb(scored["sentence2"])).sum(1)
    assert sts(model)["s-dev-sts_spearman_cosine"] == pytest.approx(spearmanr(cos, scored["score"]).statistic, abs=1e-6)
    (binary,) = natural_evaluators("b", toy("binary-pairs"), "binary-pairs")
    assert "b-dev-binary_cosine_ap" in binary(model)
    assert natural_evaluators("l", toy("labelled"), "labelled") == []


@pytest.mark.slow
def test_each_dataset_is_evaluated_on_its_dev_split_with_its_loss(tmp_path, toy):
    for name, shape in (("qa", "triplets"), ("sts", "scored")):
        folder = tmp_path / "prepared" / name
        folder.mkdir(parents=True)
        toy(shape).write_parquet(folder / "train.parquet")
        toy(shape).reverse().write_parquet(folder / "dev.parquet")
    cfg = parse_train_config(
        {
            "run": "dev-eval", "base_model": "tiny", "max_steps": 2, "batch_size": 8, "save_steps": 1000,
            "datasets": [{"name": "qa", "set": "qa"}, {"name": "sts", "set": "sts"}],
            "eval": {"set": "qa", "steps": 1}, "prepared_dir": "prepared",
        },
        source=tmp_path / "bench.toml",
    )
    result = train(cfg)
    log = json.loads((cfg.run_dir / "train_log.json").read_text())
    names = [e["name"] for e in log["evaluators"]]
    assert names == ["dev", "qa-dev-triplet", "sts-dev-sts"]  # qa's retrieval is the `dev` evaluator
    for metrics in (result.eval_before, result.eval_after):
        for key in ("dev_cosine_ndcg@10", "qa-dev-triplet_cosine_accuracy", "sts-dev-sts_spearman_cosine", "qa_loss", "sts_loss"):
            assert key in metrics, sorted(metrics)
    during = [e for e in log["eval"] if "qa_loss" in e]
    assert during and all("dev_cosine_ndcg@10" in e or "sts_loss" in e for e in log["eval"])
    card = (cfg.run_dir / "README.md").read_text()
    assert "sts-dev-sts" in card and "qa-dev-triplet" in card
