"""Classification and clustering tasks: hand-worked 3-text cases, mteb's undersampling drawn index for index,
and agreement with mteb's own Banking77Classification / Banking77Clustering (a 10-intent slice in the
default run, all 77 intents in the slow run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.statistics import aggregate, bootstrap_ci
from embedbench.evalsuite.tasks import get_task
from embedbench.evalsuite.tasks.classification import ClassificationTask, undersample
from embedbench.evalsuite.tasks.clustering import ClusteringTask

# train: "a" -> x, "b" -> y; test: "a a" (x), "b b" (y), "a" (labelled y): predictions x, y, x
SPLITS = {"train": [["a", "x"], ["b", "y"]], "test": [["a a", "x"], ["b b", "y"], ["a", "y"]]}


@pytest.fixture
def splits(tmp_path):
    path = tmp_path / "intents.json"
    path.write_text(json.dumps(SPLITS))
    return {"kind": "table", "path": str(path), "output": "labelled", "columns": {"text": 1, "label": 2}}


@pytest.mark.parametrize("method", ["logreg", "knn"])
def test_hand_worked_classification(splits, bow, method):
    r = ClassificationTask("toy", splits, method=method, k=1, n_experiments=3).evaluate(bow)
    assert r.per_item["id"] == ["1", "2", "3"] and r.per_item["correct"] == [1.0, 1.0, 0.0]
    assert r.metrics["accuracy"] == pytest.approx(2 / 3) == aggregate(r, "accuracy")
    # x: tp 1, fp 1 -> P 1/2, R 1, F1 2/3; y: tp 1, fn 1 -> P 1, R 1/2, F1 2/3
    assert r.metrics["f1"] == pytest.approx(2 / 3) and r.metrics["precision"] == pytest.approx(0.75)
    assert r.main_metric == "accuracy" and r.task_type == "classification"
    assert len(r.provenance["per_experiment"]) == 3


def test_hand_worked_clustering(tmp_path, bow):
    path = tmp_path / "c.json"
    path.write_text(json.dumps([["a a", "x"], ["a", "x"], ["b", "y"]]))
    src = {"kind": "table", "path": str(path), "output": "labelled", "columns": {"text": 1, "label": 2}}
    r = ClusteringTask("toy", src, n_subsets=4, subset_size=3).evaluate(bow)
    # random.Random(42).choices draws rows [2,1,1], [1,3,3], [3,1,2], [1,1,2] (1-based). Vectors: "a a" = (2,0),
    # "a" = (1,0), "b" = (0,1); 2-means splits every subset in two. Subsets 1 and 4 hold label x only: two
    # clusters for one class, completeness 0, V = 0. Subset 2: {a a} | {b, b}: V = 1. Subset 3: {b} | {a a, a}
    # (SSE 0.5, against 1 for {a a} | {a, b}): V = 1. Mean 0.5.
    assert r.per_item["id"] == ["0", "1", "2", "3"] and r.per_item["v_measure"] == [0.0, 1.0, 1.0, 0.0]
    assert r.metrics["v_measure"] == 0.5 == aggregate(r, "v_measure")
    assert bootstrap_ci(r, "v_measure", n=200).n_items == 4  # the CI resamples subsets


def test_undersampling_is_mteb_index_for_index(shared_data):
    from datasets import Dataset
    from mteb.tasks.classification.eng.banking77_classification import Banking77Classification

    from embedbench.data import read_labelled

    labels = read_labelled(shared_data / "banking77" / "train.csv")["label"].to_list()
    ours = undersample(np.array(labels), n_experiments=3, samples_per_label=8, seed=42)
    task = Banking77Classification()
    ds, idxs = Dataset.from_dict({"label": labels}), None
    for i in range(3):
        _, idxs, picked = task._undersample_data(ds, i, idxs)
        assert ours[i] == picked


def test_bad_input_is_one_located_line(tmp_path, bow):
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"train": [["a", "x"], ["b", "x"]], "test": [["c", "x"]]}))
    src = {"kind": "table", "path": str(path), "output": "labelled", "columns": {"text": 1, "label": 2}}
    with pytest.raises(EmbedbenchError, match=r"one.json, column '2': 1 distinct label\(s\) \['x'\] in 2 rows; expected at least 2"):
        ClassificationTask("t", src).evaluate(bow)
    with pytest.raises(EmbedbenchError, match=r"task 't': source.kind: Input should be"):
        ClusteringTask("t", {"kind": "csv", "path": "x"})
    with pytest.raises(EmbedbenchError, match="method 'svm'"):
        ClassificationTask("t", src, method="svm")  # type: ignore[arg-type]
    with pytest.raises(EmbedbenchError, match=r"task kind 'clustering' needs a `source`"):
        get_task("clustering")


def _mteb_slice(task, keep):
    """An mteb Banking77 task restricted to the texts whose label is in ``keep`` (mteb's label numbers)."""
    task.load_data()
    task.dataset = type(task.dataset)({s: d.filter(lambda r: r[task.label_column_name] in keep) for s, d in task.dataset.items()})
    return task


@pytest.mark.slow
def test_banking77_slice_equals_mteb(shared_data, tmp_path):
    """5 intents of Banking77, the tiny model, 3 experiments / 3 subsets: our accuracy, F1 and V-measure equal
    mteb's own tasks on the same texts at the same seeds (mteb encodes through the same cache, so both see
    the same vectors)."""
    from embedbench.cache import EmbeddingCache
    from embedbench.encode import load_encoder
    from embedbench.evalsuite.tasks.mteb_run import run_mteb
    from embedbench.evalsuite.tasks.mteb_tasks import Banking77Clustering, LocalBanking77Classification

    enc = load_encoder("tiny", cache=EmbeddingCache(tmp_path / "emb.sqlite"), show_progress=False)
    cats = json.loads((shared_data / "banking77" / "categories.json").read_text())
    keep, where = set(range(5)), {"category": cats[:5]}
    cls = get_task("banking77", where=where, n_experiments=3).evaluate(enc)
    clu = get_task("banking77-clustering", where=where, subset_size=128, n_subsets=3).evaluate(enc)
    mteb_cls = _mteb_slice(LocalBanking77Classification(), keep)
    mteb_cls.n_experiments = 3
    mteb_clu = _mteb_slice(Banking77Clustering(), keep)
    mteb_clu.max_documents_per_cluster, mteb_clu.n_clusters = 128, 3
    a, b = (r.mteb_json["scores"]["test"][0] for r in run_mteb(enc, [mteb_cls, mteb_clu]))
    assert cls.provenance["n_test"] == 200 and clu.provenance["n_labels"] == 5
    assert cls.metrics["accuracy"] == pytest.approx(a["accuracy"], abs=1e-4)
    assert cls.metrics["f1"] == pytest.approx(a["f1"], abs=1e-4)
    assert [e["accuracy"] for e in cls.provenance["per_experiment"]] == pytest.approx(
        [e["accuracy"] for e in a["scores_per_experiment"]], abs=1e-4)
    assert clu.metrics["v_measure"] == pytest.approx(b["v_measure"], abs=1e-4)
    assert clu.per_item["v_measure"] == pytest.approx(b["v_measures"]["Level 0"], abs=1e-4)


@pytest.mark.real  # whole Banking77 (13k texts): minutes; the 5-intent slice above runs the same comparison in make test
@pytest.mark.parametrize("model", ["tiny", "all-MiniLM-L6-v2"])
def test_banking77_equals_mteb(shared_data, model):
    """All of Banking77: Banking77Classification's and Banking77Clustering's main scores, to 1e-4."""
    from embedbench.encode import load_encoder
    from embedbench.evalsuite.tasks.mteb_run import run_mteb
    from embedbench.evalsuite.tasks.mteb_tasks import Banking77Clustering, LocalBanking77Classification

    enc = load_encoder(model, show_progress=False)
    cls = get_task("banking77").evaluate(enc)
    clu = get_task("banking77-clustering").evaluate(enc)
    a, b = run_mteb(enc, [LocalBanking77Classification(), Banking77Clustering()])
    assert cls.metrics["accuracy"] == pytest.approx(a.metrics["accuracy"], abs=1e-4)
    assert clu.metrics["v_measure"] == pytest.approx(b.metrics["v_measure"], abs=1e-4)
