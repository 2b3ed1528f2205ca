"""`embedbench calibrate`: tolerances from measured noise on the CI slice, which a rerun stays within."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.evalsuite.calibrate import FLOOR, settings, tolerance_of
from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.gate import read_expected, write_expected
from embedbench.evalsuite.gate_formats import CheckDocument
from embedbench.evalsuite.results import ResultsStore
from embedbench.evalsuite.runner import run_eval

CI_PROFILE = Path(__file__).resolve().parents[2] / "bench-ci.toml"
runner = CliRunner()


def test_settings_and_rule():
    labels = [s.label for s in settings(64, threads=4)]
    assert labels == ["reference (batch 64, 4 threads, torch-fp32)", "batch 16", "batch 128", "1 thread(s)",
                      "2 thread(s)", "onnx-fp32", "openvino-fp32", "second run"]
    assert [s.label for s in settings(8, ("rerun",), threads=1)] == ["reference (batch 8, 1 threads, torch-fp32)",
                                                                     "second run"]
    assert tolerance_of(0.003) == 0.006 and tolerance_of(0.0) == FLOOR and tolerance_of(0.01, 3, 0.0) == 0.03


@pytest.fixture
def tiny_expected(tmp_path):
    """An expected file of the tiny model's results on the CI profile's tasks (values only: cheap to fake)."""
    doc = {"format": "embedbench.expected/1", "model": "tiny", "tasks": {
        "scifact-mini": {"metric": "ndcg@10", "value": 0.06}, "stsb": {"metric": "spearman", "value": 0.33}}}
    path = tmp_path / "expected.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("case", ["no-such-kind", "bm25", "unconfigured-task", "no-file", "int8"])
def test_bad_calibrate_input_exits_2(tiny_expected, case):
    args = ["calibrate", "--config", str(CI_PROFILE), "--expected", str(tiny_expected), "--model", "tiny"]
    match = {"no-such-kind": "--vary bogus", "bm25": "bm25 has none", "unconfigured-task": "'nfcorpus'",
             "no-file": "expected-results file not found", "int8": "give the torch fp32 model"}[case]
    if case == "no-such-kind":
        args += ["--vary", "batch,bogus"]
    elif case == "bm25":
        args[-1] = "bm25"
    elif case == "int8":
        args[-1] = "tiny@onnx-int8"
    elif case == "unconfigured-task":
        doc = json.loads(tiny_expected.read_text())
        doc["tasks"]["nfcorpus"] = {"metric": "ndcg@10", "value": 0.3}
        tiny_expected.write_text(json.dumps(doc))
    else:
        tiny_expected.unlink()
    before = tiny_expected.read_text() if tiny_expected.exists() else None
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    assert match in " ".join(out.output.split()) and "Traceback" not in out.output
    assert (tiny_expected.read_text() if tiny_expected.exists() else None) == before  # untouched


@pytest.mark.slow
def test_calibrated_tolerances_hold_a_rerun_on_the_ci_slice(tmp_path, monkeypatch):
    """Calibrate the tiny model on bench-ci.toml's tasks; a fresh rerun at another batch size passes the gate
    on those tolerances (and the outputs name the calibration as their source)."""
    monkeypatch.setenv("COLUMNS", "250")
    cfg = load_eval_config(CI_PROFILE)
    first = cfg.model_copy(update={"results_dir": tmp_path / "first"})
    run_eval(first, models=["tiny"], log=lambda s: None, show_progress=False)
    expected = write_expected(ResultsStore(first.results_dir), "tiny", tmp_path / "expected.json")

    out = runner.invoke(app, ["calibrate", "--config", str(CI_PROFILE), "--expected", str(expected), "--model", "tiny"])
    assert out.exit_code == 0, out.output
    exp = read_expected(expected)
    for task, entry in exp.tasks.items():
        cal = entry.calibration
        assert set(cal["runs"]) >= {"batch 16", "1 thread(s)", "onnx-fp32", "openvino-fp32", "second run"}, task
        values = list(cal["runs"].values())
        assert cal["spread"] == pytest.approx(max(values) - min(values))
        assert entry.tolerance == pytest.approx(max(2 * cal["spread"], FLOOR))
        assert abs(values[0] - entry.value) <= entry.tolerance  # the stored run agrees with the calibration runs
        assert entry.per_item  # the rest of the file is kept

    # a rerun: fresh embedding cache, another batch size, another results folder
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "fresh.sqlite"))
    rerun = cfg.model_copy(update={"results_dir": tmp_path / "rerun", "batch_size": 24})
    run_eval(rerun, models=["tiny"], log=lambda s: None, show_progress=False)
    out = runner.invoke(app, ["check", "--config", str(CI_PROFILE), "--results", str(rerun.results_dir),
                              "--candidate", "tiny", "--expected", str(expected), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = CheckDocument.model_validate_json(out.stdout)
    for t in doc.tasks:
        assert t.verdict in ("ok", "within tolerance") and abs(t.delta) <= t.tolerance
        assert t.tolerance_source.startswith(f"{expected} (calibrated: max(2 x spread")
