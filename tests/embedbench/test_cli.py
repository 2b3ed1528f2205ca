"""The Typer app: help, models, bad model names, cache commands."""

from __future__ import annotations

from typer.testing import CliRunner

from embedbench.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("models", "cache", "resolve"):
        assert command in result.output


def test_models_table():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "all-MiniLM-L6-v2" in result.output and "paraphrase-MiniLM-L3-v2" in result.output


def test_bad_model_name_is_a_clear_error():
    result = runner.invoke(app, ["resolve", "no-such-model"])
    assert result.exit_code == 2
    assert "unknown model 'no-such-model'" in result.output
    assert "Traceback" not in result.output


def test_cache_stats_and_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "e.sqlite"))
    from embedbench.encode import load_encoder

    load_encoder("tiny").encode(["one", "two"])
    stats = runner.invoke(app, ["cache", "stats"])
    assert stats.exit_code == 0 and "tiny" in stats.output
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and "deleted 2" in cleared.output
