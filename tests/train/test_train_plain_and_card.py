"""Training from a plain transformer (mean pooling added), model card fields and callbacks from the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedbench.errors import EmbedbenchError
from embedbench.models import REGISTRY
from embedbench.train.plan import plan_training
from embedbench.train.run import train


def plain_bert(folder: Path) -> Path:
    """A tiny BertModel saved as a plain transformers folder (no modules.json), with MiniLM's tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(REGISTRY["all-MiniLM-L6-v2"].folder()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_plain_transformer_trains_with_mean_pooling_card_and_early_stopping(make_config, toy, tmp_path):
    base = plain_bert(tmp_path / "plain-bert")
    assert not (base / "modules.json").exists()
    toy("pairs").write_parquet(tmp_path / "dev.parquet")
    cfg = make_config(
        {"qa": toy("pairs")}, base_model=str(base), max_steps=4, save_steps=2,
        eval={"steps": 2, "path": "dev.parquet"},
        card={"language": ["en"], "license": "apache-2.0", "model_name": "Plain BERT on toy pairs",
              "datasets": ["toy-qa"]},
        callbacks=[{"name": "EarlyStoppingCallback", "options": {"early_stopping_patience": 5}}],
    )
    result = train(cfg)
    modules = json.loads((cfg.run_dir / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling"]
    pooling = json.loads((cfg.run_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode"] == "mean"
    card = (cfg.run_dir / "README.md").read_text()
    assert "license: apache-2.0" in card and "- en" in card and "Plain BERT on toy pairs" in card and "toy-qa" in card
    assert result.steps == 4 and "dev_cosine_ndcg@10" in result.eval_after
    assert json.loads((cfg.run_dir / "manifest.json").read_text())["base_kind"].startswith("plain transformer")


def test_bad_callbacks_and_card_fail_before_a_model_loads(make_config, toy):
    cases = [
        ({"callbacks": [{"name": "NoSuchCallback"}]}, "not a transformers TrainerCallback"),
        ({"callbacks": [{"name": "EarlyStoppingCallback", "options": {"patience": 2}}]}, "allowed: early_stopping_patience"),
        ({"callbacks": [{"name": "EarlyStoppingCallback"}]}, r"needs evaluation during training: set \[train.eval\] steps"),
        ({"callbacks": [{"name": "EarlyStoppingCallback"}], "eval": {"steps": 3}, "save_steps": 4}, "multiple of"),
        ({"card": {"datasets": ["a", "b"]}}, r"\[train.card\] datasets lists 2 name\(s\) for 1"),
    ]
    for extra, message in cases:
        cfg = make_config({"qa": toy("pairs")}, **extra)
        with pytest.raises(EmbedbenchError, match=message):
            plan_training(cfg)
