"""Local-data mteb tasks: each loads the real files offline with mteb's layout; mteb.evaluate runs through our
cached encoder (texts encoded once); results convert to our TaskResult and carry mteb's JSON apart."""

from __future__ import annotations

import json

import pytest

from embedbench.cache import EmbeddingCache
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.tasks import get_task
from embedbench.evalsuite.tasks.mteb_run import MtebTask, run_mteb
from embedbench.evalsuite.tasks.mteb_tasks import LOCAL_TASKS, mteb_task


@pytest.fixture
def tiny(tmp_path):
    from embedbench.encode import load_encoder

    return load_encoder("tiny", cache=EmbeddingCache(tmp_path / "emb.sqlite"), show_progress=False)


def test_local_tasks_load_offline_with_mteb_layout(shared_data):
    sizes = {}
    for name in ("STSBenchmark", "STS12", "STS13", "STS14", "STS15", "STS16"):
        task = mteb_task(name)
        task.load_data()
        assert task.metadata.dataset["revision"].startswith("local-")
        assert task.dataset["test"].column_names == ["sentence1", "sentence2", "score"]
        sizes[name] = task.dataset["test"].num_rows
    assert sizes == {
        "STSBenchmark": 1379,
        "STS12": 3108,
        "STS13": 1500,
        "STS14": 3750,
        "STS15": 3000,
        "STS16": 1186,
    }

    sci = mteb_task("SciFact")
    sci.load_data()
    split = sci.dataset["default"]["test"]
    assert (split["corpus"].num_rows, split["queries"].num_rows, len(split["relevant_docs"])) == (
        5183,
        300,
        300,
    )
    assert sum(len(v) for v in split["relevant_docs"].values()) == 339

    cls = mteb_task("Banking77Classification")
    cls.load_data()
    assert (cls.dataset["train"].num_rows, cls.dataset["test"].num_rows) == (10003, 3080)
    assert len(set(cls.dataset["test"]["label"])) == 77

    clu = mteb_task("Banking77Clustering")
    clu.load_data()
    assert (
        clu.dataset["test"].column_names == ["sentences", "labels"] and clu.dataset["test"].num_rows == 3080
    )
    assert set(LOCAL_TASKS) >= {"STSBenchmark", "SciFact", "Banking77Classification", "Banking77Clustering"}


def write_toy_data(root):
    """A 2-subset STS year folder and a 5-intent Banking77-style folder (10 train / 4 test texts per intent)."""
    sts = root / "STS99"
    sts.mkdir(parents=True)
    words = ["card", "cash", "rate", "top up", "pin"]
    (sts / "STS.input.a.txt").write_text(
        "".join(f"my {w} is late\tmy {v} is late\n" for w in words for v in words)
    )
    (sts / "STS.gs.a.txt").write_text("".join(f"{5 if w == v else 1}\n" for w in words for v in words))
    (sts / "STS.input.b.txt").write_text("a b\ta b\na b\tc d\n")
    (sts / "STS.gs.b.txt").write_text("5\n0\n")
    bank = root / "banking"
    bank.mkdir()
    (bank / "categories.json").write_text(json.dumps(words))
    for split, n in (("train", 10), ("test", 4)):
        rows = [f'"where is my {w}, {split} request {i}",{w}' for w in words for i in range(n)]
        (bank / f"{split}.csv").write_text("text,category\n" + "\n".join(rows) + "\n")
    return sts, bank


def test_mteb_evaluate_through_the_cache(tiny, tmp_path):
    from embedbench.evalsuite.tasks.mteb_tasks import (
        Banking77Clustering,
        LocalBanking77Classification,
        LocalSTS12,
    )

    sts, bank = write_toy_data(tmp_path / "data")
    tasks = [LocalSTS12(sts), LocalBanking77Classification(bank), Banking77Clustering(bank)]
    runs = run_mteb(tiny, tasks)
    assert [r.task for r in runs] == [
        "mteb-STS12",
        "mteb-Banking77Classification",
        "mteb-Banking77Clustering",
    ]
    for run, main in zip(runs, ("cosine_spearman", "accuracy", "v_measure"), strict=True):
        assert run.main_metric == main and run.task_type == "mteb"
        assert -1.0 <= run.metrics[main] <= 1.0
        assert run.per_item == {} and run.model == "tiny"
        assert (
            run.dataset_hash.startswith("local-")
            and run.dataset_hash == run.mteb_json["dataset_revision"]
        )
        assert run.mteb_json["task_name"] == run.config["mteb_task"]
        assert run.mteb_json["scores"]["test"][0]["main_score"] == pytest.approx(run.metrics[main])
        json.dumps(run.mteb_json)  # mteb's JSON, JSON-safe
        assert "mteb_json" not in run.to_dict()  # filed apart by the results store, never inside ours
    cls, clu = runs[1], runs[2]  # mteb's per-run scores are kept, so the report can show their spread
    assert len(cls.provenance["accuracy_per_run"]) == 10 and "accuracy_std" in cls.metrics
    assert len(clu.provenance["v_measure_per_run"]) == 10 and "v_measure_std" in clu.metrics
    # 25 + 2 STS pairs -> 7 distinct sentences; banking: 50 train + 20 test texts (clustering reuses the test ones)
    assert tiny.misses == 7 + 50 + 20
    run_mteb(tiny, [LocalSTS12(sts)])  # a second run finds every text in the cache
    assert tiny.misses == 77


def test_registry_entries_and_online_path(tiny, tmp_path):
    sts, _ = write_toy_data(tmp_path / "data")
    task = get_task("mteb-STS16", path=sts)
    assert isinstance(task, MtebTask) and task.mteb_name == "STS16" and not task.online
    result = task.evaluate(tiny)
    assert result.task == "mteb-STS16" and result.dataset_hash.startswith("local-")
    assert result.config["path"] == str(sts)
    online = get_task("mteb-ArguAna")  # no local class: mteb's own task (data from the hub when run)
    assert online.online and type(online.build()).__name__ == "ArguAna"
    with pytest.raises(EmbedbenchError, match="unknown mteb task"):
        get_task("mteb-NoSuchTask").build()
    with pytest.raises(EmbedbenchError, match="no local-data class"):
        mteb_task("ArguAna", path="/tmp")


def test_bm25_is_refused(tmp_path):
    from embedbench.evalsuite.tasks.bm25 import BM25Retriever

    with pytest.raises(EmbedbenchError, match="embedding model"):
        run_mteb(BM25Retriever(), [mteb_task("STS12")])


def test_wrapper_applies_the_models_query_and_document_prompts():
    from types import SimpleNamespace

    import numpy as np
    from mteb.types import PromptType

    from embedbench.evalsuite.tasks.mteb_run import mteb_encoder

    seen = []

    class Fake:
        name, fingerprint, dim = "fake", "fp", 2
        model = SimpleNamespace(prompts={"query": "query: ", "document": ""})

        def __init__(self, prompt=""):
            self.prompt = prompt

        def with_prompt(self, prompt):
            return Fake(prompt)

        def encode(self, texts):
            seen.append((self.prompt, list(texts)))
            return np.ones((len(texts), 2), dtype=np.float32)

    wrapper = mteb_encoder(Fake())
    kw = {"task_metadata": None, "hf_split": "test", "hf_subset": "default"}
    assert wrapper.encode(
        [{"text": ["a", "b"]}, {"text": ["a"]}], prompt_type=PromptType.query, **kw
    ).shape == (3, 2)
    wrapper.encode([{"text": ["c"]}], prompt_type=PromptType.document, **kw)
    wrapper.encode([{"text": ["d"]}], **kw)
    assert seen == [("query: ", ["a", "b"]), ("", ["c"]), ("", ["d"])]
    assert wrapper.mteb_model_meta.name == "embedbench/fake"


def test_one_list_of_local_mteb_tasks():
    """The registry's mteb-<Name> entries come from mteb_tasks.LOCAL_TASKS alone, keyed by mteb's own names."""
    from embedbench.evalsuite.tasks import is_builtin, task_names

    assert all(cls.metadata.name == name for name, cls in LOCAL_TASKS.items())
    mteb_names = [n for n in task_names() if n.startswith("mteb-")]
    assert mteb_names == [f"mteb-{n}" for n in LOCAL_TASKS]
    for name in mteb_names:
        assert is_builtin(name) and not get_task(name).online
    assert is_builtin("stsb") and not is_builtin("mteb-ArguAna") and not is_builtin("nope")
