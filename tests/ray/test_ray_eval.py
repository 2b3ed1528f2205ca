"""``embedbench eval --engine ray`` fans the pairs out as Ray tasks and stores the local engine's results
(tiny model and BM25 on STS Benchmark and SciFact slices, each engine with its own empty cache)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedbench import compute
from embedbench.cli import app
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.fanout import run_pairs
from embedbench.evalsuite.runner import prepare_run
from tests.helpers import write_scifact_slice, write_stsb_slice

runner = CliRunner()


def write_workspace(folder: Path, shared_data: Path) -> Path:
    """A bench.toml over a 40-pair STS Benchmark slice and a 10-query SciFact slice, tiny and BM25."""
    folder.mkdir(parents=True, exist_ok=True)
    write_stsb_slice(shared_data, folder / "sts.csv")
    write_scifact_slice(shared_data, folder / "beir", qrels=10, extra_docs=30)
    (folder / "bench.toml").write_text(
        """
[eval]
models = ["tiny", "bm25"]
baseline = "tiny"
bootstrap = 100
results_dir = "results"
tasks = [
  { name = "stsb-mini", task = "stsb", path = "sts.csv" },
  { name = "scifact-mini", task = "scifact", path = "beir" },
]
"""
    )
    return folder / "bench.toml"


def stored_metrics(results: Path) -> dict[tuple[str, str], dict[str, float]]:
    """Every stored result's metrics, by (model folder, task file)."""
    out = {}
    for path in sorted(results.rglob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "metrics" in data:
            out[(path.parent.name, path.stem)] = data["metrics"]
    return out


def same_metrics(a: dict, b: dict, tol: float = 1e-6) -> bool:
    return a.keys() == b.keys() and all(
        a[k].keys() == b[k].keys() and all(math.isclose(a[k][m], b[k][m], abs_tol=tol) for m in a[k]) for k in a
    )


@pytest.mark.real  # 45-80 s of worker start-up; the failing-pair test below runs the fan-out in make test
def test_eval_on_ray_stores_the_local_results(tmp_path, shared_data, ray_cluster, monkeypatch):
    outputs = {}
    for engine in ("ray", "local"):
        config = write_workspace(tmp_path / engine, shared_data)
        monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / engine / "emb.sqlite"))
        result = runner.invoke(app, ["eval", "--config", str(config), "--engine", engine])
        assert result.exit_code == 0, result.output
        outputs[engine] = result.output
    assert compute.active().engine == "local"
    ray_metrics, local_metrics = stored_metrics(tmp_path / "ray" / "results"), stored_metrics(tmp_path / "local" / "results")
    assert sorted(local_metrics) == [("bm25", "scifact-mini"), ("tiny", "scifact-mini"), ("tiny", "stsb-mini")]
    assert same_metrics(ray_metrics, local_metrics)
    # the driver stored them through the one store: a second run on Ray finds them current
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "ray" / "emb.sqlite"))
    again = runner.invoke(app, ["eval", "--config", str(tmp_path / "ray" / "bench.toml"), "--engine", "ray"])
    assert again.exit_code == 0 and again.output.count("up to date, skipped") == 3, again.output


def test_a_failing_pair_raises_its_own_error(tmp_path, shared_data, ray_engine, monkeypatch):
    config = write_workspace(tmp_path, shared_data)
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "emb.sqlite"))
    _, pairs = prepare_run(load_eval_config(config), models=["bm25"], show_progress=False)
    (tmp_path / "beir" / "corpus.jsonl").write_text("")  # gone after planning: the worker's task fails
    with pytest.raises(EmbedbenchError) as err:
        list(run_pairs([p for p in pairs if p.status == "run"], ray_engine))
    assert "corpus" in str(err.value) and "Traceback" not in str(err.value)
