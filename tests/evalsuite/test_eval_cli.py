"""`embedbench eval / report / check / expected` end to end on small real-data slices with the tiny model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.runner import run_eval
from tests.helpers import write_scifact_slice, write_stsb_slice


@pytest.fixture
def workspace(tmp_path, shared_data, monkeypatch):
    """A config over a 40-pair STSB slice (used by two tasks) and a 12-query SciFact slice; a fresh cache."""
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "embeddings.sqlite"))
    write_stsb_slice(shared_data, tmp_path / "sts.csv")
    write_scifact_slice(shared_data, tmp_path / "beir", qrels=15, extra_docs=40)
    (tmp_path / "bench.toml").write_text(
        """
[eval]
models = ["tiny", "bm25"]
baseline = "tiny"
bootstrap = 200
report_name = "mini"
tasks = [
  { name = "stsb-mini", task = "stsb", path = "sts.csv" },
  { name = "stsb-again", task = "stsb", path = "sts.csv" },
  { name = "scifact-mini", task = "scifact", path = "beir" },
]

[eval.check]
candidate = "tiny"
tolerance = 0.0
"""
    )
    return tmp_path


def test_eval_encodes_each_text_once_and_then_nothing(workspace):
    cfg = load_eval_config(workspace / "bench.toml")
    first = run_eval(cfg, log=lambda s: None, show_progress=False)
    status = {(r.model, r.task): r.status for r in first.records}
    assert status[("tiny", "stsb-mini")] == "ran" and status[("bm25", "scifact-mini")] == "ran"
    assert status[("bm25", "stsb-mini")] == "not applicable"
    sts_texts = set()
    for line in (workspace / "sts.csv").read_text().splitlines():
        sts_texts.update(line.split("\t")[5:7])
    from embedbench.data import read_beir

    beir = read_beir(workspace / "beir", "test")
    n_docs, n_queries = beir.corpus.height, len({*beir.relevant_docs})
    # every unique text encoded exactly once across the three tasks (the second STS task adds nothing)
    assert first.encoded["tiny"] == len(sts_texts) + n_docs + n_queries
    assert sorted(p.name for p in (workspace / "results" / "tiny").iterdir()) == [
        "scifact-mini.json", "stsb-again.json", "stsb-mini.json"]

    # the statistics recompute every stored metric from its per-item data exactly
    from embedbench.evalsuite.results import ResultsStore
    from embedbench.evalsuite.statistics import aggregate

    for r in ResultsStore(cfg.results_dir).load_all():
        for metric in r.aggregations:
            assert aggregate(r, metric) == pytest.approx(r.metrics[metric], abs=1e-9), (r.model, r.task, metric)

    second = run_eval(cfg, log=lambda s: None, show_progress=False)
    assert {r.status for r in second.records} == {"skipped", "not applicable"}
    assert second.encoded == {}  # nothing to run: the model is not even loaded
    forced = run_eval(cfg, models=["tiny"], tasks=["stsb-mini"], force=True, log=lambda s: None, show_progress=False)
    assert [r.status for r in forced.records] == ["ran"] and forced.encoded["tiny"] == 0
    assert forced.cache_hits["tiny"] == len(sts_texts)


def test_cli_eval_report_check_expected(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped
    runner = CliRunner()
    out = runner.invoke(app, ["eval", "--config", "bench.toml"])
    assert out.exit_code == 0, out.output
    assert "4 task(s) evaluated" in flat(out.output)  # tiny x 3 tasks, bm25 x the retrieval task
    out = runner.invoke(app, ["eval", "--config", "bench.toml"])
    assert out.exit_code == 0 and "0 task(s) evaluated, 4 up to date" in flat(out.output)

    out = runner.invoke(app, ["report", "--config", "bench.toml"])
    assert out.exit_code == 0, out.output
    text = (workspace / "reports" / "mini.md").read_text()
    assert "## scifact-mini" in text and "| bm25 |" in text and "embedbench eval --config bench.toml" in text
    assert (workspace / "reports" / "mini_files" / "scifact-mini_diff_bm25.png").is_file()

    out = runner.invoke(app, ["check", "--config", "bench.toml", "--baseline", "tiny"])
    assert out.exit_code == 0 and "passed" in out.output  # a model against itself
    out = runner.invoke(app, ["expected", "expected.json", "--model", "tiny", "--config", "bench.toml"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["check", "--config", "bench.toml", "--expected", "expected.json"])
    assert out.exit_code == 0, out.output

    # bm25 vs the tiny model's expected retrieval: BM25 is far better, so the reverse check must fail
    doc = json.loads((workspace / "expected.json").read_text())
    bm25 = json.loads((workspace / "results" / "bm25" / "scifact-mini.json").read_text())
    doc["tasks"] = {"scifact-mini": {**doc["tasks"]["scifact-mini"], "value": bm25["metrics"]["ndcg@10"],
                                     "per_item": bm25["per_item"]}}
    (workspace / "bm25-expected.json").write_text(json.dumps(doc))
    out = runner.invoke(app, ["check", "--config", "bench.toml", "--expected", "bm25-expected.json"])
    assert out.exit_code == 1, out.output
    assert "regressed" in out.output and "FAILED" in out.output
    assert re.search(r"scifact-mini.*ndcg@10.*-0\.\d+", out.output)


def flat(text: str) -> str:
    return " ".join(text.split())


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.json")) if root.exists() else []


@pytest.mark.parametrize("case", ["unknown-doc", "nan-score", "out-of-range", "bad-model", "foreign-result"])
def test_bad_input_exits_1_without_results(workspace, monkeypatch, case):
    monkeypatch.chdir(workspace)
    runner = CliRunner()
    cmd = ["eval", "--config", "bench.toml", "--model", "tiny"]
    if case == "unknown-doc":
        with open(workspace / "beir" / "qrels" / "test.tsv", "a") as f:
            f.write("1\tno-such-doc\t1\n")
        cmd += ["--task", "scifact-mini"]
        match = "no-such-doc"
    elif case in ("nan-score", "out-of-range"):
        lines = (workspace / "sts.csv").read_text().splitlines()
        fields = lines[3].split("\t")
        fields[4] = "nan" if case == "nan-score" else "7.5"
        lines[3] = "\t".join(fields)
        (workspace / "sts.csv").write_text("\n".join(lines) + "\n")
        cmd += ["--task", "stsb-mini"]
        match = "line 4"
    elif case == "bad-model":
        (workspace / "broken").mkdir()
        (workspace / "broken" / "config.json").write_text("{not json")
        (workspace / "broken" / "modules.json").write_text("[]")
        cmd = ["eval", "--config", "bench.toml", "--model", str(workspace / "broken"), "--task", "stsb-mini"]
        match = "does not load"
    else:
        assert runner.invoke(app, cmd + ["--task", "stsb-mini"]).exit_code == 0
        src = workspace / "results" / "tiny" / "stsb-mini.json"
        (workspace / "results" / "tiny" / "scifact-mini.json").write_text(src.read_text())
        cmd = ["report", "--config", "bench.toml"]
        match = "holds task 'stsb-mini', not 'scifact-mini'"
    before = _files(workspace / "results")
    out = runner.invoke(app, cmd, terminal_width=300)
    assert out.exit_code == 2, out.output
    assert match in flat(out.output), out.output
    assert "Traceback" not in out.output
    assert _files(workspace / "results") == before
    assert not list(workspace.rglob("*.tmp"))


CI_PROFILE = Path(__file__).resolve().parents[2] / "bench-ci.toml"  # the one CI gate: its [eval] tasks against tests/e2e/expected.json


@pytest.mark.slow
def test_ci_gate_against_committed_expected(tmp_path, monkeypatch):
    """What CI gates on: base MiniLM passes the committed expectations (within tolerance of the fine-tuned
    model's); a random model fails on both tasks, with a table of regressions."""
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    results = str(tmp_path / "results")
    for model in ("all-MiniLM-L6-v2", "tiny"):
        out = runner.invoke(app, ["eval", "--config", str(CI_PROFILE), "--results", results, "--model", model])
        assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["check", "--config", str(CI_PROFILE), "--results", results,
                              "--candidate", "all-MiniLM-L6-v2"])
    assert out.exit_code == 0, out.output
    assert "passed" in out.output

    out = runner.invoke(app, ["check", "--config", str(CI_PROFILE), "--results", results, "--candidate", "tiny"])
    assert out.exit_code == 1, out.output
    assert flat(out.output).count("regressed │") == 2 and "FAILED: 2 task(s)" in flat(out.output)


def test_mteb_json_is_kept_in_mteb_layout(tmp_path, monkeypatch):
    """A task that carries mteb's own result JSON: it lands in results/<model>/mteb/, our file points to it."""
    from dataclasses import dataclass

    import embedbench.evalsuite.runner as runner_mod
    from embedbench.evalsuite.config import EvalConfig
    from embedbench.evalsuite.results import ResultsStore
    from embedbench.evalsuite.types import TaskResult

    @dataclass(frozen=True)
    class FakeMteb:
        name: str = "mteb-Fake"
        task_type: str = "mteb"

        def evaluate(self, model):
            native = {"task_name": "Fake", "mteb_version": "2.26", "scores": {"test": [{"main_score": 0.5}]}}
            return TaskResult(self.name, "mteb", "bm25", model.fingerprint, "fake", "h", "main_score",
                              {"main_score": 0.5}, mteb_json=native)

    monkeypatch.setattr(runner_mod, "build_task", lambda entry, where="": FakeMteb())
    monkeypatch.setattr(runner_mod, "LEXICAL_TASK_TYPES", ("mteb",))  # let the weightless bm25 model run it
    cfg = EvalConfig.model_validate({"models": ["bm25"], "tasks": ["mteb-Fake"], "results_dir": str(tmp_path)})
    run = run_eval(cfg, log=lambda s: None)
    assert [r.status for r in run.records] == ["ran"]
    native = json.loads((tmp_path / "bm25" / "mteb" / "Fake.json").read_text())
    assert native["scores"]["test"][0]["main_score"] == 0.5
    stored = ResultsStore(tmp_path).load("bm25", "mteb-Fake")
    assert stored.provenance["mteb_file"] == "bm25/mteb/Fake.json" and "mteb_result" not in stored.provenance
    assert [r.status for r in run_eval(cfg, log=lambda s: None).records] == ["skipped"]


def test_models_run_under_another_backend_are_filed_apart(workspace):
    """``NAME@BACKEND-PRECISION`` in [eval] models runs that backend; results carry its name and fingerprint."""
    cfg = load_eval_config(workspace / "bench.toml")
    run = run_eval(cfg, models=["tiny", "tiny@onnx-fp32"], tasks=["stsb-mini"], log=lambda s: None, show_progress=False)
    by_model = {r.model: r for r in run.records}
    assert set(by_model) == {"tiny", "tiny@onnx-fp32"}
    torch_res = json.loads((workspace / "results/tiny/stsb-mini.json").read_text())
    onnx_res = json.loads((workspace / "results/tiny_onnx-fp32/stsb-mini.json").read_text())
    assert onnx_res["model_fingerprint"] != torch_res["model_fingerprint"]
    assert abs(onnx_res["metrics"]["spearman"] - torch_res["metrics"]["spearman"]) < 1e-4


def test_bad_backend_spec_is_a_clear_error(workspace):
    from embedbench.errors import EmbedbenchError

    cfg = load_eval_config(workspace / "bench.toml")
    with pytest.raises(EmbedbenchError, match="unknown backend 'tensorrt'"):
        run_eval(cfg, models=["tiny@tensorrt-fp32"], tasks=["stsb-mini"], log=lambda s: None, show_progress=False)
