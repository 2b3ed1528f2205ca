"""A run end to end on the tiny model: outputs, save/reload check, skip/force, resume, multi-dataset, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from transformers import TrainerCallback
from typer.testing import CliRunner

from embedbench.errors import EmbedbenchError
from embedbench.models import load_model, resolve
from embedbench.train.run import CHECKPOINTS, train, verify_reload


def test_outputs_log_manifest_and_registry(make_config, toy):
    cfg = make_config({"nli": toy("pair-class")}, max_steps=3)
    result = train(cfg)
    run = cfg.run_dir
    for name in ("modules.json", "model.safetensors", "README.md", "train_log.json", "manifest.json", "embedbench.json"):
        assert (run / name).is_file(), name
    assert not (run / CHECKPOINTS).exists()  # removed after success (keep_checkpoints = false)
    log = json.loads((run / "train_log.json").read_text())
    assert [s["step"] for s in log["steps"]] == [1, 2, 3]
    assert [s["loss"] for s in log["steps"]] == result.losses
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["datasets"]["nli"]["loss"] == "SoftmaxLoss"
    assert manifest["datasets"]["nli"]["label_map"] == {"contradiction": 0, "entailment": 1, "neutral": 2}
    assert manifest["inputs"]["nli"]["sha256"] and manifest["inputs"]["base_model"]["name"] == "tiny"
    assert manifest["seed"] == 42 and manifest["hardware"]["device"] == "cpu"
    assert manifest["versions"]["sentence-transformers"].startswith("6.")
    assert manifest["reload_max_abs_diff"] <= 1e-5
    card = (run / "README.md").read_text()
    assert "loss:SoftmaxLoss" in card and "# toy" in card
    # the trained folder joins the registry by its folder, under its run name
    resolved = resolve(str(run))
    assert resolved.name == "toy" and resolved.fingerprint == manifest["model_fingerprint"]


def test_reload_check_fails_when_the_folder_differs(make_config, toy):
    cfg = make_config({"d": toy("pairs")}, max_steps=1)
    train(cfg)
    model = load_model(str(cfg.run_dir))
    texts = ["one sentence", "another one"]
    assert verify_reload(model, cfg.run_dir, texts) <= 1e-5
    import torch

    with torch.no_grad():
        weight = dict(model.named_parameters())["0.model.encoder.layer.1.output.dense.weight"]
        weight.add_(0.1 * torch.randn_like(weight))
    with pytest.raises(EmbedbenchError, match="the saved model does not reproduce the trained one"):
        verify_reload(model, cfg.run_dir, texts)


def test_rerun_skips_force_retrains_changed_data_retrains(make_config, toy, tmp_path):
    cfg = make_config({"d": toy("pairs")}, max_steps=2)
    first = train(cfg)
    assert not first.skipped
    assert train(cfg).skipped
    assert not train(cfg, force=True).skipped
    toy("pairs").head(6).write_parquet(tmp_path / "d.parquet")
    assert not train(cfg).skipped
    (cfg.run_dir / "manifest.json").unlink()  # a run without a manifest is unfinished
    assert not train(cfg).skipped


class _Interrupt(TrainerCallback):
    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt("simulated interruption")


def test_interrupted_run_resumes_from_its_last_checkpoint(make_config, toy, tmp_path):
    frames = {"d": pl.concat([toy("pairs"), toy("pairs").with_columns(pl.col("anchor") + " (2)")])}
    cfg = make_config(frames, max_steps=6, save_steps=3, run="resumed")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callbacks=[_Interrupt(at_step=4)])
    assert (cfg.run_dir / CHECKPOINTS / "checkpoint-3").is_dir()
    assert not (cfg.run_dir / "manifest.json").exists()
    resumed = train(cfg)
    assert resumed.resumed_from is not None and Path(resumed.resumed_from).name == "checkpoint-3"
    assert resumed.steps == 6
    log = json.loads((cfg.run_dir / "train_log.json").read_text())
    assert [s["step"] for s in log["steps"]] == [1, 2, 3, 4, 5, 6]

    straight = train(cfg.model_copy(update={"run": "straight"}))
    assert straight.resumed_from is None
    np.testing.assert_allclose(resumed.losses, straight.losses, rtol=1e-5)
    texts = ["what do we know about cats?", "a short text about chess"]
    a = load_model(str(cfg.run_dir)).encode(texts)
    b = load_model(str(cfg.output_dir / "straight")).encode(texts)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_stale_checkpoints_of_another_config_are_not_resumed(make_config, toy):
    cfg = make_config({"d": toy("pairs")}, max_steps=2, save_steps=1, keep_checkpoints=True)
    train(cfg)
    assert (cfg.run_dir / CHECKPOINTS / "checkpoint-2").is_dir()
    assert train(cfg.model_copy(update={"save_steps": 5})).skipped  # checkpoint settings do not count
    (cfg.run_dir / "manifest.json").unlink()
    changed = cfg.model_copy(update={"learning_rate": 1e-3})
    assert train(changed).resumed_from is None


def test_multi_dataset_run_uses_a_loss_and_a_sampler_per_dataset(make_config, toy):
    from datasets import Dataset, DatasetDict
    from sentence_transformers.base.sampler import GroupByLabelBatchSampler, NoDuplicatesBatchSampler

    from embedbench.train.losses import build_loss
    from embedbench.train.trainer import PerDatasetSamplerTrainer, training_arguments

    cfg = make_config({"qa": toy("pairs"), "intents": toy("labelled")}, max_steps=4)
    result = train(cfg)
    manifest = json.loads((cfg.run_dir / "manifest.json").read_text())
    assert {k: (v["loss"], v["sampler"]) for k, v in manifest["datasets"].items()} == {
        "qa": ("MultipleNegativesRankingLoss", "no_duplicates"),
        "intents": ("BatchAllTripletLoss", "group_by_label"),
    }
    assert result.steps == 4

    model = load_model("tiny")
    qa = Dataset.from_polars(toy("pairs").select("anchor", "positive"))
    intents = Dataset.from_polars(toy("labelled").with_columns(pl.col("label").rank("dense").cast(pl.Int64)))
    trainer = PerDatasetSamplerTrainer(
        model=model, args=training_arguments(cfg, cfg.run_dir / "tmp", eval_steps=None),
        train_dataset=DatasetDict({"qa": qa, "intents": intents}),
        loss={"qa": build_loss("MultipleNegativesRankingLoss", model), "intents": build_loss("BatchAllTripletLoss", model)},
        samplers={id(qa): "no_duplicates", id(intents): "group_by_label"},
    )
    samplers = trainer.get_train_dataloader().batch_sampler.batch_samplers
    assert [type(s) for s in samplers] == [NoDuplicatesBatchSampler, GroupByLabelBatchSampler]


def test_evaluation_during_training_goes_to_the_log(make_config, toy, tmp_path):
    toy("pairs").head(6).write_parquet(tmp_path / "dev.parquet")
    pl.DataFrame({"doc_id": ["x1", "x2"], "title": ["Weather", ""], "text": ["rain today", "sunny"]}).write_parquet(
        tmp_path / "corpus.parquet"
    )
    cfg = make_config({"qa": toy("pairs")}, max_steps=4, eval={"steps": 2, "corpus": "corpus.parquet"})
    result = train(cfg)
    log = json.loads((cfg.run_dir / "train_log.json").read_text())
    assert [e["step"] for e in log["eval"]] == [2, 4]
    assert all(0.0 <= e["dev_cosine_ndcg@10"] <= 1.0 for e in log["eval"])
    assert "dev_cosine_ndcg@10" in result.eval_before and "dev_cosine_ndcg@10" in result.eval_after
    assert log["eval_after"]["dev_cosine_ndcg@10"] == pytest.approx(log["eval"][-1]["dev_cosine_ndcg@10"], abs=1e-6)


def test_cli_trains_then_reports_up_to_date(tmp_path, toy):
    from embedbench.cli import app

    toy("scored").write_parquet(tmp_path / "sts.parquet")
    (tmp_path / "bench.toml").write_text(
        '[train]\nrun = "cli-run"\nbase_model = "tiny"\nmax_steps = 2\nbatch_size = 4\n'
        '[[train.datasets]]\nname = "sts"\npath = "sts.parquet"\n'
    )
    runner = CliRunner()
    first = runner.invoke(app, ["train", "--config", str(tmp_path / "bench.toml")])
    assert first.exit_code == 0, first.output
    assert "trained 2 steps" in first.output
    second = runner.invoke(app, ["train", "--config", str(tmp_path / "bench.toml")])
    assert second.exit_code == 0 and "up to date" in second.output
    forced = runner.invoke(app, ["train", "--config", str(tmp_path / "bench.toml"), "--force"])
    assert forced.exit_code == 0 and "trained 2 steps" in forced.output
    (tmp_path / "bad.toml").write_text('[train]\n[[train.datasets]]\nname = "sts"\npath = "sts.parquet"\nloss = "SoftmaxLoss"\n')
    bad = runner.invoke(app, ["train", "--config", str(tmp_path / "bad.toml")])
    assert bad.exit_code == 2
    assert "loss SoftmaxLoss expects columns (premise, hypothesis, label)" in " ".join(bad.output.split())


def test_a_foreign_folder_is_never_cleared(make_config, toy):
    cfg = make_config({"d": toy("pairs")}, max_steps=1)
    cfg.run_dir.mkdir(parents=True)
    (cfg.run_dir / "thesis.tex").write_text("precious")
    with pytest.raises(EmbedbenchError, match="is not a training run folder"):
        train(cfg)
    assert (cfg.run_dir / "thesis.tex").read_text() == "precious"
