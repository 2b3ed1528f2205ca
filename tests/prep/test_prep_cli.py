"""`embedbench prep`: runs a config, skips unchanged sets, and turns bad input into one error line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from embedbench.cli import app

runner = CliRunner()


def write_config(tmp_path: Path, extra: str = "") -> Path:
    rows = [
        {"anchor": f"question {i} about topic {i * 3}", "positive": f"answer {i} with details"}
        for i in range(30)
    ]
    rows.append(rows[0])
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = tmp_path / "bench.toml"
    cfg.write_text(
        f"""
[prep]
output_dir = "prepared"
[prep.sets.toy]
train = [{{ kind = "table", path = "{tmp_path / "train.jsonl"}", output = "pairs" }}]
normalise = {{ token_count = "estimate", max_tokens = 64 }}
{extra}
""",
        encoding="utf-8",
    )
    return cfg


def test_prep_runs_then_skips_then_forces(tmp_path):
    cfg = write_config(tmp_path)
    first = runner.invoke(app, ["prep", "--config", str(cfg)])
    assert first.exit_code == 0, first.output
    assert "toy: 31 rows read -> 30 kept" in first.output and "exact_duplicate=1" in first.output
    assert (tmp_path / "prepared" / "toy" / "train.parquet").is_file()
    assert (tmp_path / "reports" / "prep.md").is_file()
    second = runner.invoke(app, ["prep", "--config", str(cfg), "--set", "toy"])
    assert second.exit_code == 0 and "unchanged" in second.output and "skipped" in second.output
    forced = runner.invoke(app, ["prep", "--config", str(cfg), "--force"])
    assert forced.exit_code == 0 and "31 rows read" in forced.output


def test_bad_config_exits_1_without_traceback(tmp_path):
    cfg = write_config(tmp_path, 'steps = ["normalise", "dedupe"]')
    result = runner.invoke(app, ["prep", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "prep.sets.toy.steps.1" in result.output and "'exact'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "prepared").exists()


def test_missing_source_and_unknown_set(tmp_path):
    cfg = write_config(tmp_path)
    (tmp_path / "train.jsonl").unlink()
    result = runner.invoke(app, ["prep", "--config", str(cfg)])
    assert result.exit_code == 2 and "prep.sets.toy.train[0].path" in result.output
    assert not (tmp_path / "prepared").exists()
    result = runner.invoke(app, ["prep", "--config", str(cfg), "--set", "nope"])
    assert result.exit_code == 2 and "unknown set(s) ['nope']" in result.output


def test_missing_config_file(tmp_path):
    result = runner.invoke(app, ["prep", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 2 and "not found" in result.output
