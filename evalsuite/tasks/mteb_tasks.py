"""mteb tasks that read the local copies in the data folder instead of the Hugging Face hub.

Each class subclasses mteb's own task class (so metadata, score normalisation, evaluator and main
score are mteb's), swaps ``metadata.dataset`` for the local path with a content-hash revision
(``local-<sha>``), and overrides ``load_data`` to fill ``self.dataset`` through the prep readers.
``Banking77Clustering`` has no mteb counterpart: it clusters Banking77's test queries by intent
(mteb's fast clustering protocol: 10 k-means runs on samples, V-measure).

``mteb_task(name)`` returns the local task when there is one, else ``mteb.get_task(name)`` (the online
path: it downloads from the hub when evaluated, so never in tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from mteb.abstasks.clustering import AbsTaskClustering
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.tasks.classification.eng.banking77_classification import Banking77Classification
from mteb.tasks.retrieval.eng.sci_fact_retrieval import SciFact
from mteb.tasks.sts.eng.sts12_sts import STS12STS
from mteb.tasks.sts.eng.sts13_sts import STS13STS
from mteb.tasks.sts.eng.sts14_sts import STS14STS
from mteb.tasks.sts.eng.sts15_sts import STS15STS
from mteb.tasks.sts.eng.sts16_sts import STS16STS
from mteb.tasks.sts.eng.sts_benchmark_sts import STSBenchmarkSTS

from embedbench.data import read_beir, read_labelled, read_sts_gold, read_stsb
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.tasks.base import dataset_hash
from embedbench.paths import data_dir


class LocalDataMixin:
    """Points an mteb task at a local file or folder; subclasses implement ``_read() -> dataset``."""

    default_path: ClassVar[str]  # relative to the data folder
    hashed_files: ClassVar[tuple[str, ...]] = ()  # files (relative to path) whose bytes define the data
    metadata: TaskMetadata

    def __init__(self, path: str | Path | None = None, **kwargs: Any) -> None:
        self.path = Path(path) if path else data_dir() / self.default_path
        if not self.path.exists():
            raise EmbedbenchError(
                f"{self.path}: not found; mteb task {self.metadata.name} reads its local data there "
                f"(pass path=… or set EMBEDBENCH_DATA)"
            )
        files = [self.path / f for f in self.hashed_files] or [self.path]
        revision = "local-" + dataset_hash(*files)
        self.metadata = type(self).metadata.model_copy(
            update={"dataset": {"path": str(self.path), "revision": revision}, "superseded_by": None}
        )
        super().__init__(**kwargs)  # type: ignore[call-arg]

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Fill ``self.dataset`` from the local files (once)."""
        if self.data_loaded:  # type: ignore[has-type]
            return
        self.dataset = self._read()
        self.data_loaded = True

    def unload_data(self) -> None:
        """mteb's unload also drops instance metadata; keep ours (it names the local data)."""
        metadata = self.metadata
        super().unload_data()  # type: ignore[misc]
        self.metadata = metadata

    def _read(self) -> Any:
        raise NotImplementedError


def _sts_dataset(df: Any) -> Any:
    from datasets import Dataset, DatasetDict

    cols = df.select("sentence1", "sentence2", "score_raw").rename({"score_raw": "score"})
    return DatasetDict({"test": Dataset.from_dict(cols.to_dict(as_series=False))})


class LocalSTSBenchmark(LocalDataMixin, STSBenchmarkSTS):
    """mteb's STSBenchmark (test split, scores 0–5) from ``stsbenchmark/sts-test.csv``."""

    default_path = "stsbenchmark"
    hashed_files = ("sts-test.csv",)

    def _read(self) -> Any:
        return _sts_dataset(read_stsb(self.path / "sts-test.csv"))


class _LocalSemEvalSTS(LocalDataMixin):
    """One STS12–16 year folder, every sub-set pooled (as mteb's hub copies are), unscored pairs skipped."""

    def _read(self) -> Any:
        return _sts_dataset(read_sts_gold(self.path))


class LocalSTS12(_LocalSemEvalSTS, STS12STS):
    """mteb's STS12 from ``sts12-16/STS12``."""

    default_path = "sts12-16/STS12"


class LocalSTS13(_LocalSemEvalSTS, STS13STS):
    """mteb's STS13 from ``sts12-16/STS13``."""

    default_path = "sts12-16/STS13"


class LocalSTS14(_LocalSemEvalSTS, STS14STS):
    """mteb's STS14 from ``sts12-16/STS14``."""

    default_path = "sts12-16/STS14"


class LocalSTS15(_LocalSemEvalSTS, STS15STS):
    """mteb's STS15 from ``sts12-16/STS15``."""

    default_path = "sts12-16/STS15"


class LocalSTS16(_LocalSemEvalSTS, STS16STS):
    """mteb's STS16 from ``sts12-16/STS16``."""

    default_path = "sts12-16/STS16"


class LocalSciFact(LocalDataMixin, SciFact):
    """mteb's SciFact (test qrels) from the BEIR folder ``scifact``; mteb joins title and text itself."""

    default_path = "scifact"
    hashed_files = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")

    def _read(self) -> Any:
        from datasets import Dataset

        data = read_beir(self.path, "test")
        corpus = data.corpus.select(pl.col("doc_id").alias("id"), "title", "text")
        queries = data.queries.select(pl.col("query_id").alias("id"), "text")
        split = {
            "corpus": Dataset.from_dict(corpus.to_dict(as_series=False)),
            "queries": Dataset.from_dict(queries.to_dict(as_series=False)),
            "relevant_docs": data.relevant_docs,
            "top_ranked": None,
        }
        return {"default": {"test": split}}


def _banking_frames(path: Path) -> tuple[Any, Any, list[str]]:
    """Banking77 train and test frames (text, label) and the label list (``categories.json`` order)."""
    cats_path = path / "categories.json"
    labels = json.loads(cats_path.read_text(encoding="utf-8")) if cats_path.is_file() else None
    train = read_labelled(path / "train.csv", labels=labels)
    test = read_labelled(path / "test.csv", labels=labels)
    if labels is None:
        labels = sorted(set(train["label"]) | set(test["label"]))
    return train, test, labels


def _labelled_dataset(df: Any, labels: list[str], text: str, label: str) -> Any:
    from datasets import Dataset

    index = {name: i for i, name in enumerate(labels)}
    return Dataset.from_dict({text: df["text"].to_list(), label: [index[x] for x in df["label"]]})


class LocalBanking77Classification(LocalDataMixin, Banking77Classification):
    """mteb's Banking77Classification (logistic regression on embeddings, 10 undersampled runs) from ``banking77``."""

    default_path = "banking77"
    hashed_files = ("train.csv", "test.csv")

    def _read(self) -> Any:
        from datasets import DatasetDict

        train, test, labels = _banking_frames(self.path)
        return DatasetDict(
            {
                name: _labelled_dataset(df, labels, "text", "label")
                for name, df in (("train", train), ("test", test))
            }
        )


class Banking77Clustering(LocalDataMixin, AbsTaskClustering):
    """Banking77 test queries clustered into their 77 intents (local task; V-measure of k-means)."""

    default_path = "banking77"
    hashed_files = ("test.csv",)
    max_fraction_of_documents_to_embed = None  # embed all 3,080 test queries
    max_documents_per_cluster = 2048
    metadata = TaskMetadata(
        name="Banking77Clustering",
        description="Banking77 test queries clustered by intent (77 clusters); built locally by embedbench.",
        reference="https://arxiv.org/abs/2003.04807",
        dataset={"path": "banking77", "revision": "local"},
        type="Clustering",
        category="t2c",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score="v_measure",
        domains=["Written"],
        license="cc-by-4.0",
        annotations_creators="human-annotated",
        dialect=[],
        sample_creation="found",
        bibtex_citation="",
    )

    def _read(self) -> Any:
        from datasets import DatasetDict

        _, test, labels = _banking_frames(self.path)
        return DatasetDict({"test": _labelled_dataset(test, labels, "sentences", "labels")})


LOCAL_TASKS: dict[str, Callable[..., Any]] = {
    cls.metadata.name: cls
    for cls in (
        LocalSTSBenchmark,
        LocalSTS12,
        LocalSTS13,
        LocalSTS14,
        LocalSTS15,
        LocalSTS16,
        LocalSciFact,
        LocalBanking77Classification,
        Banking77Clustering,
    )
}
"""The one list of mteb tasks with local data: mteb's task name -> its class (the registry's ``mteb-<name>``)."""


def mteb_task(name: str, path: str | Path | None = None, online: bool = False) -> Any:
    """An mteb task by name: the local-data class when there is one (``path`` overrides its data), else
    (or with ``online=True``) mteb's own task, which downloads its data from the hub when evaluated."""
    if name in LOCAL_TASKS and not online:
        return LOCAL_TASKS[name](path)
    if path is not None:
        raise EmbedbenchError(
            f"mteb task {name!r} has no local-data class; local ones: {sorted(LOCAL_TASKS)}"
        )
    import mteb

    try:
        return mteb.get_task(name)
    except (KeyError, ValueError) as exc:
        raise EmbedbenchError(
            f"unknown mteb task {name!r}; local tasks: {sorted(LOCAL_TASKS)}; {exc}"
        ) from None
