"""A real short run: all-MiniLM-L6-v2 on a few hundred SciFact train pairs improves in-domain nDCG@10.

Held-out SciFact *train* queries (not the test split the eval suite reports) are the dev set; the
corpus is their relevant abstracts plus a random slice of the other abstracts as distractors. The
base model is scored by the same evaluator before training (``eval_before`` in the log).
"""

from __future__ import annotations

import json
import time

import polars as pl
import pytest

from prep.sources import beir_pairs, read_beir
from train.config import parse_train_config
from train.run import train

N_DEV_QUERIES = 100
N_TRAIN_PAIRS = 400
N_DISTRACTORS = 300
KEY = "dev_cosine_ndcg@10"


@pytest.mark.slow
def test_short_scifact_run_improves_dev_ndcg(shared_data, tmp_path):
    data = read_beir(shared_data / "scifact", "train")
    pairs = beir_pairs(data).select("anchor", "positive", "query_id", "doc_id")
    queries = pairs["query_id"].unique().sort().sample(fraction=1.0, shuffle=True, seed=7)
    dev_ids = queries.head(N_DEV_QUERIES)
    dev = pairs.filter(pl.col("query_id").is_in(dev_ids.implode()))
    train_pairs = pairs.filter(~pl.col("query_id").is_in(dev_ids.implode())).sample(N_TRAIN_PAIRS, seed=7)
    distractors = data.corpus.filter(~pl.col("doc_id").is_in(dev["doc_id"].implode())).sample(N_DISTRACTORS, seed=7)
    train_pairs.write_parquet(tmp_path / "train.parquet")
    dev.write_parquet(tmp_path / "dev.parquet")
    distractors.select("doc_id", "title", "text").write_parquet(tmp_path / "corpus.parquet")

    cfg = parse_train_config(
        {
            "run": "minilm-scifact", "base_model": "all-MiniLM-L6-v2",
            "datasets": [{"name": "scifact", "path": "train.parquet"}],
            "max_steps": 25, "batch_size": 16, "learning_rate": 1e-4, "max_seq_length": 128,
            "eval": {"corpus": "corpus.parquet"},
        },
        source=tmp_path / "bench.toml",
    )
    started = time.perf_counter()
    result = train(cfg)
    seconds = time.perf_counter() - started
    before, after = result.eval_before[KEY], result.eval_after[KEY]
    print(f"\nSciFact dev nDCG@10: base {before:.4f} -> fine-tuned {after:.4f} in {seconds:.0f} s")
    manifest = json.loads((cfg.run_dir / "manifest.json").read_text())
    assert manifest["datasets"]["scifact"]["loss"] == "MultipleNegativesRankingLoss"
    assert manifest["datasets"]["scifact"]["ignored_columns"] == ["query_id", "doc_id"]
    assert result.steps == 25
    assert after > before + 0.005, (before, after)
