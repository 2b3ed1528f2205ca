"""The whole pipeline on small slices (bench-ci.toml): prep -> mine -> train -> eval -> report -> check.

Runs in a temporary folder with the real data, the real all-MiniLM-L6-v2 and the real trainer; the
regression gate compares the fine-tuned model with the committed expectations in tests/e2e/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from embedbench.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"embedbench {' '.join(args)} failed:\n{result.output}"
    return result.output


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    shutil.copy(ROOT / "bench-ci.toml", work / "bench-ci.toml")
    shutil.copytree(ROOT / "evalsuite/data/scifact-mini", work / "evalsuite/data/scifact-mini")  # mining corpus
    shutil.copytree(ROOT / "tests/e2e", work / "tests/e2e")
    return work


@pytest.mark.slow
def test_pipeline_end_to_end(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    cfg = "bench-ci.toml"

    out = invoke("prep", "--config", cfg)
    assert "scifact-pairs" in out and "stsb-scored" in out
    scifact = workdir / "data/prepared-ci/scifact-pairs"
    train = pl.read_parquet(scifact / "train.parquet")
    assert train.columns == ["anchor", "positive", "negative"]  # mined hard negatives
    assert train.height > 0 and train.null_count().sum_horizontal().item() == 0
    assert (train["negative"] != train["positive"]).all()
    manifest = json.loads((scifact / "manifest.json").read_text())
    assert manifest["negatives"]["train"]["removed"]["known_positive"] > 0
    assert (scifact / "dropped.parquet").is_file()
    stsb = pl.read_parquet(workdir / "data/prepared-ci/stsb-scored/train.parquet")
    assert stsb.columns == ["sentence1", "sentence2", "score"]
    assert stsb["score"].is_between(0, 1).all()
    assert "skipped" in invoke("prep", "--config", cfg).lower()  # unchanged: nothing redone

    invoke("train", "--config", cfg)
    model_dir = workdir / "models/finetuned-ci"
    for name in ("modules.json", "model.safetensors", "README.md", "train_log.json", "manifest.json"):
        assert (model_dir / name).is_file(), name
    assert "up to date" in invoke("train", "--config", cfg)

    invoke("eval", "--config", cfg)
    results = sorted(p.relative_to(workdir / "results-ci").as_posix() for p in (workdir / "results-ci").glob("*/*.json"))
    assert results == [
        "all-MiniLM-L6-v2/scifact-mini.json", "all-MiniLM-L6-v2/stsb.json", "bm25/scifact-mini.json",
        "finetuned-ci/scifact-mini.json", "finetuned-ci/stsb.json",
    ]
    assert {"plan.json", "models.json"} <= {p.name for p in (workdir / "results-ci").glob("*.json")}  # for the report
    stored = json.loads((workdir / "results-ci/finetuned-ci/stsb.json").read_text())
    assert stored["provenance"]["versions"]["sentence-transformers"]
    again = invoke("eval", "--config", cfg)
    assert "0 task(s) evaluated" in again  # a second run of the same evaluation does nothing

    invoke("report", "--config", cfg)
    report = (workdir / "reports/ci/eval.md").read_text()
    assert "## Summary" in report and "finetuned-ci" in report and "bm25" in report
    assert list((workdir / "reports/ci").rglob("*.png"))

    check = runner.invoke(app, ["check", "--config", cfg])
    assert check.exit_code == 0, check.output
    assert "passed" in check.output

    # the CI recipe (docs/ci/gate.sh, what `make check` runs): every step up to date, then the gate's files
    summary = workdir / "step-summary.md"
    env = {**os.environ, "EMBEDBENCH": f"{sys.executable} -m embedbench", "EMBEDBENCH_CONFIG": cfg,
           "EMBEDBENCH_GATE_OUT": "gate", "GITHUB_STEP_SUMMARY": str(summary)}
    env.pop("EMBEDBENCH_PR", None)
    recipe = subprocess.run(["bash", str(ROOT / "docs/ci/gate.sh")], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=600)
    assert recipe.returncode == 0, recipe.stdout + recipe.stderr
    assert "up to date" in recipe.stdout and "passed" in recipe.stdout
    cases = ET.parse(workdir / "gate/junit.xml").getroot().findall("./testsuite/testcase")
    assert sorted(c.get("name") for c in cases) == ["scifact-mini", "stsb"]
    assert all(c.find("failure") is None for c in cases)
    assert json.loads((workdir / "gate/check.json").read_text())["passed"] is True
    assert summary.read_text() == (workdir / "gate/summary.md").read_text()
    assert "embedbench check: passed" in summary.read_text()
