"""Several base models, one recipe: one run per base, each skipped when up to date, GPU-only bases skipped on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import embedbench.config
from embedbench.errors import EmbedbenchError
from embedbench.models import model_meta, write_model_meta
from embedbench.train.config import load_train_config, parse_train_config
from embedbench.train.plan import _config_for_hash, plan_training
from embedbench.train.runs import train_all


def _write_config(tmp_path: Path, toy, bases: str) -> Path:
    toy("pairs").write_parquet(tmp_path / "qa.parquet")
    path = tmp_path / "bench.toml"
    path.write_text(
        f'[train]\nrun = "ft"\nbase_models = {bases}\nmax_steps = 1\nbatch_size = 8\nsave_steps = 1000\n'
        '[[train.datasets]]\nname = "qa"\npath = "qa.parquet"\n'
    )
    return path


def _run_lines(output: str, tmp_path: Path) -> list[str]:
    """The lines the command prints per run (the libraries' progress bars and logs left out)."""
    root = str(tmp_path / "models")
    return [root + line.split(root, 1)[1] for line in output.splitlines() if root in line]


@pytest.mark.slow  # two tiny runs, then the same command again: ~15 s, plus building the two tiny bases
def test_cli_trains_each_base_then_reports_each_up_to_date(tmp_path, toy, second_tiny, monkeypatch):
    from embedbench.cli import app

    monkeypatch.setattr(embedbench.config, "gpu_available", lambda: False)
    bases = f'["tiny", {{ model = "{second_tiny}", run = "ft-b" }}, {{ model = "all-mpnet-base-v2", requires = "gpu" }}]'
    config = _write_config(tmp_path, toy, bases)
    runner = CliRunner()
    first = runner.invoke(app, ["train", "--config", str(config)])
    assert first.exit_code == 0, first.output
    lines = _run_lines(first.output, tmp_path)
    assert len(lines) == 3, first.output
    assert lines[0].startswith(f"{tmp_path / 'models' / 'ft-tiny'}: trained 1 steps") and "from tiny" in lines[0]
    assert lines[1].startswith(f"{tmp_path / 'models' / 'ft-b'}: trained 1 steps") and "from tiny-b;" in lines[1]
    assert lines[2] == (
        f"{tmp_path / 'models' / 'ft-all-mpnet-base-v2'}: skipped: needs a GPU (base all-mpnet-base-v2 has "
        'requires = "gpu"; this machine has no CUDA GPU)'
    )
    assert not (tmp_path / "models" / "ft-all-mpnet-base-v2").exists()
    for run, base in (("ft-tiny", "tiny"), ("ft-b", "tiny-b")):
        meta = model_meta(tmp_path / "models" / run)
        assert (meta["name"], meta["base_model"]) == (run, base)
        manifest = json.loads((tmp_path / "models" / run / "manifest.json").read_text())
        assert meta["train_seconds"] == manifest["seconds"] > 0
    second = runner.invoke(app, ["train", "--config", str(config)])
    assert second.exit_code == 0, second.output
    assert [line.split(": ", 1)[1].split(" (")[0] for line in _run_lines(second.output, tmp_path)] == [
        "up to date", "up to date", "skipped: needs a GPU"
    ]


def test_a_base_added_to_the_list_leaves_the_other_runs_up_to_date(tmp_path, toy, second_tiny):
    one = load_train_config(_write_config(tmp_path, toy, '["tiny"]'))
    two = load_train_config(_write_config(tmp_path, toy, f'["tiny", "{second_tiny}"]'))
    a, b = plan_training(one.runs()[0].config), plan_training(two.runs()[0].config)
    assert (a.inputs_hash, a.config_hash) == (b.inputs_hash, b.config_hash)
    other = plan_training(two.runs()[1].config)
    assert other.config.run == "ft-tiny-b" and other.config_hash != a.config_hash
    # a single base_model keeps models/<run>, and the hash it had before base_models existed
    single = parse_train_config({"run": "ft-tiny", "base_model": "tiny", "max_steps": 1, "batch_size": 8,
                                 "datasets": [{"name": "qa", "path": "qa.parquet"}]}, source=tmp_path / "bench.toml")
    assert [r.config.run_dir for r in single.runs()] == [tmp_path / "models" / "ft-tiny"]
    assert "base_models" not in _config_for_hash(single)
    assert plan_training(single).config_hash == a.config_hash


def test_a_bad_base_fails_before_the_first_run_trains(tmp_path, toy):
    cfg = load_train_config(_write_config(tmp_path, toy, '["tiny", "no-such-model"]'))
    with pytest.raises(EmbedbenchError, match=r"train.base_models = 'no-such-model' \(run 'ft-no-such-model'\): unknown model"):
        next(train_all(cfg, source="bench.toml"))
    assert not (tmp_path / "models").exists()


def test_model_meta_reads_runs_recorded_before_base_model(tmp_path):
    folder = tmp_path / "old-run"
    folder.mkdir()
    write_model_meta(folder, name="old-run", base="all-MiniLM-L6-v2")
    (folder / "manifest.json").write_text(json.dumps({"step": "train", "seconds": 812.5}))
    assert model_meta(folder) == {"name": "old-run", "base": "all-MiniLM-L6-v2", "base_model": "all-MiniLM-L6-v2",
                                  "train_seconds": 812.5}
    assert model_meta(tmp_path / "none") == {}
