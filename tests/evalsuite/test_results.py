"""Results store: round trip with provenance, atomic writes, clear errors for bad or foreign files."""

from __future__ import annotations

import json

import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.results import FORMAT, ResultsStore, safe_name
from embedbench.evalsuite.types import TaskResult


def result(model="m1", task="stsb", score=(0.1, 0.5, 0.9), gold=(0.0, 0.6, 1.0)) -> TaskResult:
    return TaskResult(
        task=task, task_type="sts", model=model, model_fingerprint="fp1", dataset="stsbenchmark:test",
        dataset_hash="abc", main_metric="spearman", metrics={"spearman": 1.0, "pearson": 0.98},
        per_item={"id": ["a", "b", "c"], "score": list(score), "gold": list(gold)},
        aggregations={"spearman": "spearman:score,gold", "pearson": "pearson:score,gold"},
        config={"name": task, "path": "/data/stsb"}, seconds=1.5, provenance={"n_pairs": 3},
    )


def test_round_trip_with_provenance(tmp_path):
    store = ResultsStore(tmp_path)
    path = store.save(result(), inputs_hash="ih")
    assert path == tmp_path / "m1" / "stsb.json"
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT
    prov = data["provenance"]
    for key in ("versions", "model", "model_fingerprint", "dataset_hash", "task_config", "config_hash",
                "inputs_hash", "n_pairs"):
        assert key in prov, key
    assert list(data)[-1] == "timing" and set(data["timing"]) == {"created", "seconds", "task_seconds"}
    assert "created" not in prov and "seconds" not in prov and "seconds" not in data
    assert prov["versions"]["sentence-transformers"]
    loaded = store.load("m1", "stsb")
    assert loaded.per_item == result().per_item and loaded.metrics == result().metrics
    assert loaded.seconds == 1.5 and loaded.provenance["created"] == data["timing"]["created"]
    assert [r.model for r in store.load_all()] == ["m1"]
    assert store.is_current("m1", "stsb", fingerprint="fp1", inputs_hash="ih", config=result().config)
    assert not store.is_current("m1", "stsb", fingerprint="fp2", inputs_hash="ih", config=result().config)
    assert not store.is_current("m1", "stsb", fingerprint="fp1", inputs_hash="ih", config={"name": "other"})
    assert not list(tmp_path.rglob("*.tmp"))


def test_names_are_safe_path_components():
    assert safe_name("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers__all-MiniLM-L6-v2"
    assert safe_name("a b:c") == "a_b_c"


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"metrics": {"spearman": float("nan"), "pearson": 0.9}}, "finite number"),
        ({"per_item": {"id": ["a", "b", "c"], "score": [0.1, float("nan"), 0.3], "gold": [0, 1, 2]}}, "non-finite"),
        ({"main_metric": "ndcg@10"}, "main metric"),
        ({"per_item": {"id": ["a"], "score": [0.1, 0.2], "gold": [0, 1]}}, "differ in length"),
        ({"aggregations": {"spearman": "spearman:score,missing"}}, "lacks"),
    ],
)
def test_bad_results_write_nothing(tmp_path, bad, match):
    r = result()
    for k, v in bad.items():
        setattr(r, k, v)
    store = ResultsStore(tmp_path)
    with pytest.raises(EmbedbenchError, match=match):
        store.save(r)
    assert not list(tmp_path.rglob("*.json"))


def test_bad_files_are_clear_errors(tmp_path):
    store = ResultsStore(tmp_path)
    store.save(result(task="stsb"))
    store.save(result(task="sts12"))
    # a results file copied over another task's name
    (tmp_path / "m1" / "sts13.json").write_text((tmp_path / "m1" / "sts12.json").read_text())
    with pytest.raises(EmbedbenchError, match="holds task 'sts12', not 'sts13'"):
        store.load("m1", "sts13")
    with pytest.raises(EmbedbenchError, match="holds task"):
        store.load_all()
    (tmp_path / "m1" / "sts13.json").unlink()
    (tmp_path / "m1" / "bad.json").write_text('{"format": "embedbench.result/1",\n "task": }')
    with pytest.raises(EmbedbenchError, match=r"bad.json, line 2, column 10: malformed JSON"):
        store.load_all()
    data = json.loads((tmp_path / "m1" / "stsb.json").read_text())
    del data["metrics"], data["main_metric"]
    (tmp_path / "m1" / "bad.json").write_text(json.dumps(data))
    with pytest.raises(EmbedbenchError, match="missing field.*main_metric, metrics"):
        store.load_file(tmp_path / "m1" / "bad.json", task="stsb")
    (tmp_path / "m1" / "bad.json").write_text("[1, 2]")
    with pytest.raises(EmbedbenchError, match="expected a JSON object"):
        store.load_all()
    with pytest.raises(EmbedbenchError, match="no such results file"):
        store.load("m2", "stsb")
    with pytest.raises(EmbedbenchError, match="does not exist"):
        ResultsStore(tmp_path / "nowhere").load_all()


def test_load_all_filters(tmp_path):
    store = ResultsStore(tmp_path)
    for m in ("a", "b"):
        for t in ("stsb", "sts12"):
            store.save(result(model=m, task=t))
    assert [(r.model, r.task) for r in store.load_all()] == [("a", "sts12"), ("b", "sts12"), ("a", "stsb"), ("b", "stsb")]
    assert [(r.model, r.task) for r in store.load_all(models=["b"], tasks=["stsb"])] == [("b", "stsb")]


def test_non_finite_secondary_metric_is_dropped_and_recorded(tmp_path):
    r = result()
    r.metrics["nauc_recall_at_1000_max"] = float("nan")  # as mteb reports on tiny sets
    store = ResultsStore(tmp_path)
    store.save(r)
    loaded = store.load("m1", "stsb")
    assert "nauc_recall_at_1000_max" not in loaded.metrics
    assert loaded.provenance["non_finite_metrics"] == ["nauc_recall_at_1000_max"]
    r.main_metric = "nauc_recall_at_1000_max"
    with pytest.raises(EmbedbenchError, match="finite number"):
        store.save(r)


def test_display_name_is_pure(tmp_path, monkeypatch):
    """Naming a model for its results reads the spec (and a folder's recorded name), nothing else."""
    import embedbench.models
    from embedbench.evalsuite.results import display_name

    def refuse(*a, **k):
        raise AssertionError("naming must not resolve, build or fingerprint a model")

    monkeypatch.setattr(embedbench.models, "resolve", refuse)
    monkeypatch.setattr(embedbench.models, "model_fingerprint", refuse)
    folder = tmp_path / "runs" / "out"
    folder.mkdir(parents=True)
    (folder / "embedbench.json").write_text(json.dumps({"name": "run-1"}))
    before = sorted(tmp_path.rglob("*"))
    assert display_name(str(folder)) == "run-1"
    assert display_name(f"{folder}@onnx-int8") == "run-1@onnx-int8"
    assert display_name(str(tmp_path / "runs")) == "runs"
    assert display_name("all-MiniLM-L6-v2@onnx-int8") == "all-MiniLM-L6-v2@onnx-int8"
    assert display_name("bm25") == "bm25" and display_name("org/model") == "org/model"
    assert sorted(tmp_path.rglob("*")) == before
