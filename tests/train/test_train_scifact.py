"""A real short run: all-MiniLM-L6-v2 on a few hundred SciFact train pairs improves in-domain nDCG@10.

Held-out SciFact *train* claims (not the test split the eval suite reports) form the dev set. Hard
negatives are mined from the whole SciFact corpus with the base model (``prep.negatives``; the
corpus embeddings come from the shared cache, as in the eval suite's and prep's SciFact tests): one
per training pair (triplets for MultipleNegativesRankingLoss), three per dev claim as distractors
in the dev corpus. The base model is scored by the same evaluator before training (``eval_before``).

"""

from __future__ import annotations

import json
import time

import polars as pl
import pytest

from embedbench.data import beir_pairs, doc_text, read_beir
from embedbench.prep.negatives import MiningConfig, mine_for_set
from embedbench.train.config import parse_train_config
from embedbench.train.run import train

N_DEV_QUERIES = 80
N_TRAIN_PAIRS = 400
STEPS = 20
KEY = "dev_cosine_ndcg@10"


@pytest.mark.slow
def test_short_scifact_run_improves_dev_ndcg(shared_data, tmp_path):
    data = read_beir(shared_data / "scifact", "train")
    pairs = beir_pairs(data).select("anchor", "positive", "query_id", "doc_id")
    corpus = data.corpus.select(doc_text(pl.col("title"), pl.col("text")).alias("doc"))["doc"]
    queries = pairs["query_id"].unique().sort().sample(fraction=1.0, shuffle=True, seed=7)
    dev_ids = queries.head(N_DEV_QUERIES).implode()
    dev = pairs.filter(pl.col("query_id").is_in(dev_ids))
    train_pairs = pairs.filter(~pl.col("query_id").is_in(dev_ids)).sample(N_TRAIN_PAIRS, seed=7)
    mined_train = mine_for_set(train_pairs, corpus, MiningConfig(num_negatives=1, output="triplets"))
    mined_dev = mine_for_set(dev, corpus, MiningConfig(num_negatives=3, output="n-tuples", shortfall="pad-random"))
    mined_train.dataset.write_parquet(tmp_path / "train.parquet")
    mined_dev.dataset.write_parquet(tmp_path / "dev.parquet")

    cfg = parse_train_config(
        {
            "run": "minilm-scifact", "base_model": "all-MiniLM-L6-v2",
            "datasets": [{"name": "scifact", "path": "train.parquet"}],
            "max_steps": STEPS, "batch_size": 16, "learning_rate": 5e-5, "max_seq_length": 128,
            "eval": {},
        },
        source=tmp_path / "bench.toml",
    )
    started = time.perf_counter()
    result = train(cfg)
    seconds = time.perf_counter() - started
    before, after = result.eval_before[KEY], result.eval_after[KEY]
    print(f"\nSciFact dev nDCG@10: base {before:.4f} -> fine-tuned {after:.4f} ({STEPS} steps, {seconds:.0f} s)")
    manifest = json.loads((cfg.run_dir / "manifest.json").read_text())
    assert manifest["datasets"]["scifact"]["shape"] == "triplets"
    assert manifest["datasets"]["scifact"]["loss"] == "MultipleNegativesRankingLoss"
    assert result.steps == STEPS
    assert "**Base model:** [sentence-transformers/all-MiniLM-L6-v2]" in (cfg.run_dir / "README.md").read_text()
    assert after > before + 0.02, (before, after)
