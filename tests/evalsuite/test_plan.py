"""The eval plan: exact text counts (cache hits subtracted), estimates, left-out pairs, plan.json / models.json."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from typer.testing import CliRunner

from embedbench.cli import app
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite import plan as plan_module
from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.model_facts import load_model_facts, load_plan
from embedbench.evalsuite.plan import RecordingEncoder, duration
from embedbench.evalsuite.progress import ProgressEncoder
from embedbench.evalsuite.runner import prepare_run, run_eval
from tests.helpers import write_scifact_slice, write_stsb_slice


@dataclass(frozen=True)
class FakeThroughput:
    short_per_s: float = 100.0
    long_per_s: float = 10.0
    machine: str = "test-machine"


def fake_estimate(tp: FakeThroughput, tokens) -> float:
    """1 ms per token: the estimate is a known function of the planned tokens."""
    return 0.001 * sum(tokens)


@pytest.fixture
def fake_throughput(monkeypatch):
    """Plans measure nothing: a fixed throughput and 1 ms per token."""
    measured: list[str] = []

    def functions(throughput, estimate):
        return (lambda enc: measured.append(enc.name) or FakeThroughput()), fake_estimate, None, "test-machine"

    monkeypatch.setattr(plan_module, "_throughput_functions", functions)
    return measured


CONFIG = """
[eval]
models = ["tiny", "bm25"]
baseline = "tiny"
bootstrap = 200
tasks = [
  {{ name = "stsb-mini", task = "stsb", path = "sts.csv" }},
  {{ name = "stsb-again", task = "stsb", path = "sts.csv" }},
  {{ name = "scifact-mini", task = "scifact", path = "beir" }},
]
{extra}
"""


@pytest.fixture
def workspace(tmp_path, shared_data, monkeypatch):
    """A 30-pair STS Benchmark slice (two tasks read it) and a 10-query SciFact slice; fresh caches."""
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "embeddings.sqlite"))
    monkeypatch.setenv("EMBEDBENCH_CACHE", str(tmp_path / "cache"))
    write_stsb_slice(shared_data, tmp_path / "sts.csv", pairs=30)
    write_scifact_slice(shared_data, tmp_path / "beir", qrels=10, extra_docs=30)
    (tmp_path / "bench.toml").write_text(CONFIG.format(extra=""))
    return tmp_path


def rows(plan):
    return {(p.model, p.task): p for p in plan.pairs}


def test_plan_counts_exactly_what_eval_encodes(workspace, fake_throughput):
    cfg = load_eval_config(workspace / "bench.toml")
    planned = run_eval(cfg, log=lambda s: None, show_progress=False, plan_only=True)
    assert not (workspace / "results" / "tiny").exists()  # --plan evaluates and writes nothing
    plan = rows(planned.plan)
    first, again, sci = plan[("tiny", "stsb-mini")], plan[("tiny", "stsb-again")], plan[("tiny", "scifact-mini")]
    assert first.texts == first.to_encode > 0 and first.cached == 0
    assert again.texts == first.texts and again.cached == again.texts and again.to_encode == 0  # encoded by stsb-mini
    assert again.est_seconds == pytest.approx(again.overhead_seconds)
    assert first.est_seconds == pytest.approx(0.001 * first.tokens + first.overhead_seconds)
    assert plan[("bm25", "stsb-mini")].status == "not applicable" and plan[("bm25", "scifact-mini")].to_encode == 0

    run = run_eval(cfg, log=lambda s: None, show_progress=True)
    assert run.encoded["tiny"] == first.to_encode + sci.to_encode  # the plan's count is exact
    stored = {(r.model, r.task): r for r in load_plan(cfg.results_dir).rows}
    assert stored[("tiny", "stsb-mini")].actual_seconds > 0 and stored[("tiny", "stsb-mini")].est_seconds is not None
    facts = load_model_facts(cfg.results_dir)
    assert facts["tiny"].dimension == run_dim(cfg) and facts["tiny"].machine == "test-machine"
    assert facts["tiny"].short_per_s == 100.0 and facts["bm25"].backend == "bm25"

    again_plan = run_eval(cfg, log=lambda s: None, show_progress=False, plan_only=True).plan
    assert {p.status for p in again_plan.pairs} == {"up to date", "not applicable"}
    forced = rows(run_eval(cfg, log=lambda s: None, show_progress=False, plan_only=True, force=True).plan)
    assert forced[("tiny", "scifact-mini")].cached == sci.texts and forced[("tiny", "scifact-mini")].to_encode == 0


def run_dim(cfg) -> int:
    from embedbench.encode import load_encoder

    return load_encoder("tiny", cache=False, show_progress=False).dim


def test_left_out_pairs_are_planned_not_run(workspace, fake_throughput, monkeypatch):
    extra = '[[eval.leave_out]]\nmodel = "tiny"\ntasks = ["scifact-mini"]\nreason = "too slow here"\n'
    (workspace / "bench.toml").write_text(CONFIG.format(extra=extra))
    result = CliRunner().invoke(app, ["eval", "--config", str(workspace / "bench.toml")])
    assert result.exit_code == 0, result.output
    assert "left out (too slow here)" in result.output and "total: " in result.output
    assert not (workspace / "results" / "tiny" / "scifact-mini.json").exists()
    row = next(r for r in load_plan(workspace / "results").rows if r.task == "scifact-mini" and r.model == "tiny")
    assert row.status == "left out" and row.reason == "too slow here" and row.texts > 0 and row.est_seconds > 0

    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(workspace / "empty.sqlite"))  # nothing cached yet
    both = '[[eval.leave_out]]\nmodel = "tiny"\ntasks = ["stsb-mini", "stsb-again"]\n'  # one file, two tasks
    (workspace / "bench.toml").write_text(CONFIG.format(extra=both))
    _, pairs = prepare_run(load_eval_config(workspace / "bench.toml"), show_progress=False)
    plan = {(r.model, r.task): r for r in plan_module.plan_pairs(pairs, log=lambda s: None).pairs}
    first, again = plan[("tiny", "stsb-mini")], plan[("tiny", "stsb-again")]
    assert first.status == again.status == "left out" and first.to_encode > 0
    assert again.to_encode == 0  # the left-out total counts each text once, as if they all ran

    bad = '[[eval.leave_out]]\nmodel = "tiny"\ntasks = ["scifact"]\n'
    (workspace / "bench.toml").write_text(CONFIG.format(extra=bad))
    with pytest.raises(EmbedbenchError, match=r"leave_out\[0\]\.tasks \['scifact'\] are not configured"):
        load_eval_config(workspace / "bench.toml")


def test_recording_encoder_records_per_prompt_and_is_deterministic():
    rec = RecordingEncoder(prompts={"query": "q: "})
    a = rec.encode(["x", "y", "x"])
    b = rec.with_prompt("q: ").encode(["x"])
    assert rec.asked == {"": {"x": None, "y": None}, "q: ": {"x": None}}
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0) and np.array_equal(a[0], a[2]) and np.array_equal(a[0], b[0])
    assert rec.model.prompts == {"query": "q: "}


class CountingEncoder:
    name, fingerprint = "count", "c"

    def __init__(self) -> None:
        self.misses, self.hits, self.calls = 0, 0, []

    def encode(self, texts):
        self.calls.append(len(texts))
        self.misses += len(set(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_progress_encoder_chunks_in_order_and_counts_misses():
    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    inner, bar = CountingEncoder(), Bar()
    texts = [f"text {'x' * (i % 7)} {i}" for i in range(25)] + ["text  0"]
    out = ProgressEncoder(inner, bar, chunk=10).encode(texts)
    assert np.array_equal(out, inner_reference(texts)) and inner.calls == [10, 10, 5] and bar.n == 25


def inner_reference(texts):
    return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_duration_reads():
    assert [duration(s) for s in (None, 12.4, 185, 3720)] == ["–", "12 s", "3 min 05 s", "1 h 02 min"]


def test_calibration_rescales_a_remembered_measurement(monkeypatch):
    """A measurement remembered from a slower moment is scaled to the speed a sample of the run's texts runs at now."""
    from embedbench import throughput as tp_module
    from embedbench.throughput import Throughput

    class Timed:
        name, fingerprint, batch_size = "timed", "t", 16

        def _encode_model(self, texts):
            import time

            time.sleep(0.002 * len(texts))  # 500 texts/s
            return np.zeros((len(texts), 2), dtype=np.float32)

        encode = _encode_model

    monkeypatch.setattr(tp_module, "probe_texts", lambda: (["a"] * 4, ["b"]))
    slow = Throughput(short_per_s=50.0, long_per_s=5.0, short_tokens=15, long_tokens=256, backend="torch",
                      precision="fp32", machine="m")
    texts = [f"t{i}" for i in range(200)]
    now = plan_module.calibrate_throughput(Timed(), slow, texts, [15] * 200, tp_module.estimate_seconds)
    assert 250 < now.short_per_s <= 500 and now.long_per_s / now.short_per_s == pytest.approx(0.1)
    assert plan_module.calibrate_throughput(Timed(), slow, [], [], tp_module.estimate_seconds) == slow


def test_models_json_facts_of_a_fine_tuned_folder(tmp_path):
    """A model folder's embedbench.json gives models.json its base model and training time."""
    import shutil
    from pathlib import Path

    from embedbench.evalsuite.run_facts import facts_of
    from embedbench.evalsuite.runner import resolve_model
    from embedbench.models import resolve, write_model_meta

    folder = tmp_path / "finetuned-tiny"
    shutil.copytree(Path(resolve("tiny").path), folder)
    write_model_meta(folder, base_model="tiny", train_seconds=12.5)
    facts = facts_of(resolve_model(str(folder), show_progress=False), FakeThroughput())
    assert (facts.base_model, facts.train_seconds, facts.short_per_s) == ("tiny", 12.5, 100.0)
    assert facts.dimension and facts.size_mb and facts.parameters and facts.max_seq_length
