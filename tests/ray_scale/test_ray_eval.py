"""Evaluation fanned out as Ray tasks stores the local engine's results (tiny model and BM25, real slices)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from embedbench import compute
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.config import load_eval_config
from embedbench.evalsuite.fanout import run_pairs
from embedbench.evalsuite.runner import prepare_run, run_eval


def write_workspace(folder: Path, shared_data: Path) -> Path:
    """A bench.toml over a 40-pair STS Benchmark slice and a 10-query SciFact slice, tiny and BM25."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = (shared_data / "stsbenchmark" / "sts-test.csv").read_text(encoding="utf-8").splitlines()[:40]
    (folder / "sts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    beir = folder / "beir"
    (beir / "qrels").mkdir(parents=True, exist_ok=True)
    qrels = (shared_data / "scifact" / "qrels" / "test.tsv").read_text().splitlines()
    kept = qrels[1:11]
    (beir / "qrels" / "test.tsv").write_text("\n".join([qrels[0], *kept]) + "\n")
    qids, rel = {q.split("\t")[0] for q in kept}, {q.split("\t")[1] for q in kept}
    queries = [q for q in (shared_data / "scifact" / "queries.jsonl").read_text().splitlines() if json.loads(q)["_id"] in qids]
    (beir / "queries.jsonl").write_text("\n".join(queries) + "\n")
    corpus = (shared_data / "scifact" / "corpus.jsonl").read_text().splitlines()
    docs = [d for d in corpus if json.loads(d)["_id"] in rel] + corpus[:30]
    (beir / "corpus.jsonl").write_text("\n".join(dict.fromkeys(docs)) + "\n")
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


def test_eval_on_ray_stores_the_local_results(tmp_path, shared_data, ray_engine, monkeypatch):
    config = write_workspace(tmp_path / "ray", shared_data)
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "ray" / "emb.sqlite"))
    lines: list[str] = []
    on_ray = run_eval(load_eval_config(config), log=lines.append, show_progress=False)
    assert sorted((r.model, r.task, r.status) for r in on_ray.records) == [
        ("bm25", "scifact-mini", "ran"), ("bm25", "stsb-mini", "not applicable"),
        ("tiny", "scifact-mini", "ran"), ("tiny", "stsb-mini", "ran"),
    ]
    again = run_eval(load_eval_config(config), log=lines.append, show_progress=False)  # stored by the driver: current
    assert {r.status for r in again.records} == {"skipped", "not applicable"}

    compute.activate(compute.ComputeConfig())
    local_config = write_workspace(tmp_path / "local", shared_data)
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "local" / "emb.sqlite"))
    run_eval(load_eval_config(local_config), log=lines.append, show_progress=False)
    ray_metrics, local_metrics = stored_metrics(tmp_path / "ray" / "results"), stored_metrics(tmp_path / "local" / "results")
    assert len(local_metrics) == 3 and same_metrics(ray_metrics, local_metrics)


def test_a_failing_pair_raises_its_own_error(tmp_path, shared_data, ray_engine, monkeypatch):
    config = write_workspace(tmp_path, shared_data)
    monkeypatch.setenv("EMBEDBENCH_EMBEDDINGS", str(tmp_path / "emb.sqlite"))
    _, pairs = prepare_run(load_eval_config(config), models=["bm25"], show_progress=False)
    (tmp_path / "beir" / "corpus.jsonl").write_text("")  # gone after planning: the worker's task fails
    with pytest.raises(EmbedbenchError) as err:
        list(run_pairs([p for p in pairs if p.status == "run"], ray_engine))
    assert "corpus" in str(err.value) and "Traceback" not in str(err.value)
