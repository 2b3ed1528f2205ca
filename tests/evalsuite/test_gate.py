"""Regression gate: one-sided, tolerance-aware, significance-aware; baseline results or an expected file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.gate import read_expected, run_check, write_expected
from embedbench.evalsuite.results import ResultsStore
from embedbench.evalsuite.types import TaskResult


def retrieval(model: str, values, task: str = "scifact", dataset_hash: str = "h") -> TaskResult:
    values = [float(v) for v in values]
    return TaskResult(
        task=task, task_type="retrieval", model=model, model_fingerprint=f"fp-{model}", dataset="scifact:test",
        dataset_hash=dataset_hash, main_metric="ndcg@10", metrics={"ndcg@10": float(np.mean(values))},
        per_item={"id": [f"q{i}" for i in range(len(values))], "ndcg@10": values},
        aggregations={"ndcg@10": "mean:ndcg@10"},
    )


@pytest.fixture
def base_values():
    return np.random.default_rng(0).uniform(0.2, 0.9, size=200)


def test_significant_drop_beyond_tolerance_fails(tmp_path, base_values):
    store = ResultsStore(tmp_path)
    noise = np.random.default_rng(1).normal(0, 0.05, size=200)
    store.save(retrieval("base", base_values))
    store.save(retrieval("cand", np.clip(base_values - 0.05 + noise, 0, 1)))
    report = run_check(store, "cand", baseline="base", tolerance=0.01, n=2000)
    (row,) = report.rows
    assert row.status == "regressed" and not report.passed
    assert row.diff == pytest.approx(row.candidate - row.reference)
    assert row.diff < -0.01 and row.high < 0 and row.p_value < 0.001
    # the same drop is allowed by a larger tolerance for that task
    assert run_check(store, "cand", baseline="base", tolerances={"scifact": 0.1}, n=2000).rows[0].status == "within tolerance"


def test_noisy_drop_is_not_significant(tmp_path):
    rng = np.random.default_rng(2)
    base = rng.uniform(0, 1, size=12)
    store = ResultsStore(tmp_path)
    store.save(retrieval("base", base))
    store.save(retrieval("cand", np.clip(base - 0.05 + rng.normal(0, 0.3, size=12), 0, 1)))
    (row,) = run_check(store, "cand", baseline="base", tolerance=0.01, n=2000).rows
    assert row.diff < -0.01
    assert row.status == "not significant" and row.p_value >= 0.05


def test_improvement_passes_and_missing_task_fails(tmp_path, base_values):
    store = ResultsStore(tmp_path)
    store.save(retrieval("base", base_values))
    store.save(retrieval("base", base_values, task="nfcorpus"))
    store.save(retrieval("cand", np.clip(base_values + 0.02, 0, 1)))
    report = run_check(store, "cand", baseline="base")
    status = {r.task: r.status for r in report.rows}
    assert status == {"scifact": "ok", "nfcorpus": "missing"}
    assert [r.task for r in report.failures] == ["nfcorpus"]
    assert run_check(store, "cand", baseline="base", tasks=["scifact"]).passed


def test_expected_file_paired_and_values_only(tmp_path, base_values):
    store = ResultsStore(tmp_path / "results")
    store.save(retrieval("base", base_values))
    paired = write_expected(store, "base", tmp_path / "expected.json")
    values = write_expected(store, "base", tmp_path / "values.json", per_item=False)
    exp = read_expected(paired)
    assert exp.model == "base" and exp.tasks["scifact"].value == pytest.approx(base_values.mean())
    assert "per_item" not in json.loads(values.read_text())["tasks"]["scifact"]

    noise = np.random.default_rng(1).normal(0, 0.05, size=200)
    store.save(retrieval("cand", np.clip(base_values - 0.05 + noise, 0, 1)))
    (row,) = run_check(store, "cand", expected=paired, n=2000).rows
    assert row.status == "regressed"
    (row_v,) = run_check(store, "cand", expected=values, n=2000).rows
    # without per-item data the test is the candidate's own bootstrap: still clearly significant
    assert row_v.status == "regressed" and row_v.p_value < 0.01
    assert row_v.diff == pytest.approx(row.diff)
    # a per-task tolerance inside the file wins over the config's
    doc = json.loads(values.read_text())
    doc["tasks"]["scifact"]["tolerance"] = 0.2
    values.write_text(json.dumps(doc))
    assert run_check(store, "cand", expected=values, tolerance=0.0).passed


def test_metric_without_items_uses_tolerance_alone(tmp_path):
    store = ResultsStore(tmp_path)
    for model, v in (("base", 0.80), ("cand", 0.78)):
        store.save(TaskResult("mteb-STSBenchmark", "mteb", model, "fp", "stsb", "h", "cosine_spearman",
                              {"cosine_spearman": v}))
    (row,) = run_check(store, "cand", baseline="base", tolerance=0.01).rows
    assert row.status == "regressed" and row.p_value is None
    assert run_check(store, "cand", baseline="base", tolerance=0.05).passed


def test_bad_references_are_clear_errors(tmp_path, base_values):
    store = ResultsStore(tmp_path)
    store.save(retrieval("base", base_values))
    store.save(retrieval("cand", base_values, dataset_hash="other"))
    with pytest.raises(EmbedbenchError, match="different data"):
        run_check(store, "cand", baseline="base")
    with pytest.raises(EmbedbenchError, match="exactly one reference"):
        run_check(store, "cand")
    with pytest.raises(EmbedbenchError, match="no stored results for baseline"):
        run_check(store, "cand", baseline="nobody")
    bad = tmp_path / "exp.json"
    bad.write_text(json.dumps({"format": "embedbench.expected/1", "model": "x", "tasks": {"scifact": {"value": 0.5}}}))
    with pytest.raises(EmbedbenchError, match=r"exp.json: tasks.scifact.metric: Field required"):
        run_check(store, "cand", expected=bad)
    bad.write_text("{")
    with pytest.raises(EmbedbenchError, match="malformed JSON"):
        read_expected(bad)
    with pytest.raises(EmbedbenchError, match="not found"):
        read_expected(tmp_path / "none.json")
