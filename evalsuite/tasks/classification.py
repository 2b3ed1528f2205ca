"""Classification on embeddings, following mteb's protocol (``AbsTaskClassification``), with per-text data.

For each of ``n_experiments`` experiments, the training texts are undersampled to ``samples_per_label``
per label (mteb: one ``np.random.RandomState(seed)`` shuffle of the index list per experiment, applied
to the list the previous experiment shuffled, then the first ``samples_per_label`` of each label in that
order); a classifier is fitted on their embeddings and predicts every test text. ``method = "logreg"``
is mteb's ``LogisticRegression(max_iter=100, random_state=seed)``; ``"knn"`` is a cosine k-nearest-
neighbours vote (sklearn's ``KNeighborsClassifier``). Metrics are averaged over experiments, as mteb
reports them: ``accuracy`` (main), macro ``f1``, ``f1_weighted``, macro ``precision`` and ``recall``.

Per test text: ``correct`` = the fraction of experiments that got it right, so its mean is the accuracy
and the bootstrap CI and paired test resample test texts. The per-experiment scores are kept in the
result's provenance (``per_experiment``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from embedbench.data.labelled import require_classes
from embedbench.data.spec import SourceSpec, label_list, resolve_path
from embedbench.encode import Encoder
from embedbench.errors import EmbedbenchError
from embedbench.evalsuite.tasks.base import (
    SourceTask,
    as_source,
    build_result,
    encode_texts,
    read_task_source,
    require_encoder,
    row_ids,
    source_hash,
    source_label,
)
from embedbench.evalsuite.types import TaskResult

CLASS_METRICS = ("accuracy", "f1", "f1_weighted", "precision", "recall")


def split_source(spec: SourceSpec, split: str | None) -> SourceSpec:
    """``spec`` reading ``split`` (unchanged when ``split`` is None)."""
    if split is None or spec.split == split:
        return spec
    return SourceSpec.model_validate({**spec.model_dump(exclude_unset=True), "split": split})


def label_frame(task: str, spec: SourceSpec) -> pl.DataFrame:
    """``text, label, id`` of a labelled source, with at least two classes."""
    df = read_task_source(task, spec, "labelled")
    require_classes(df, resolve_path(spec.path), str(spec.columns.get("label", "label" if spec.kind != "labelled" else "category")))
    return df.with_columns(pl.Series("id", row_ids(df))).select("text", "label", "id")


def label_index(spec: SourceSpec, *frames: pl.DataFrame) -> dict[str, int]:
    """Label -> class number: the source's ``labels`` list order when it has one (as mteb's datasets number
    them), else sorted."""
    listed = label_list(spec)
    names = listed if listed is not None else sorted({x for f in frames for x in f["label"].to_list()})
    return {name: i for i, name in enumerate(names)}


def undersample(labels: np.ndarray, n_experiments: int, samples_per_label: int, seed: int) -> list[list[int]]:
    """mteb's ``_undersample_data`` for experiments ``0..n-1``: training indices of each experiment."""
    idxs = list(range(len(labels)))
    out = []
    for _ in range(n_experiments):
        np.random.RandomState(seed).shuffle(idxs)  # mteb: the same seed, re-shuffling the shuffled list
        counts: dict[int, int] = defaultdict(int)
        chosen = []
        for i in idxs:
            if counts[labels[i]] < samples_per_label:
                chosen.append(i)
                counts[labels[i]] += 1
        out.append(chosen)
    return out


def class_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """mteb's classification metrics of one experiment (sklearn; macro averages unless ``_weighted``)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, average="macro")),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted")),
        "precision": float(precision_score(y_true, y_pred, average="macro", zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
    }


@dataclass(frozen=True)
class ClassificationTask(SourceTask):
    """Logistic regression (or kNN) on embeddings of labelled texts, mteb's undersampled protocol.

    Args:
        name: task name in results.
        source: a labelled source (``text``, ``label``); ``train_split`` and ``test_split`` pick its splits.
        train: a separate training source (default: ``source`` at ``train_split``).
        train_split: the split the classifier is fitted on.
        test_split: the split it is scored on.
        method: ``logreg`` (mteb's) or ``knn``.
        k: neighbours for ``knn``.
        n_experiments: undersampled training sets (mteb: 10).
        samples_per_label: training texts per label in each (mteb: 8).
        max_iter: logistic regression iterations (mteb: 100).
        seed: mteb's task seed (42).
    """

    name: str
    source: SourceSpec
    train: SourceSpec | None = None
    train_split: str | None = "train"
    test_split: str | None = "test"
    method: Literal["logreg", "knn"] = "logreg"
    k: int = 5
    n_experiments: int = 10
    samples_per_label: int = 8
    max_iter: int = 100
    seed: int = 42
    task_type: str = "classification"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.train is not None:
            object.__setattr__(self, "train", as_source(self.name, self.train, "train"))
        if self.method not in ("logreg", "knn"):
            raise EmbedbenchError(f"task {self.name!r}: method {self.method!r}; use 'logreg' or 'knn'")
        self.check_positive("k", "n_experiments", "samples_per_label", "max_iter")

    @property
    def train_source(self) -> SourceSpec:
        """Where the training texts come from."""
        return self.train if self.train is not None else split_source(self.source, self.train_split)

    @property
    def test_source(self) -> SourceSpec:
        """Where the test texts come from."""
        return split_source(self.source, self.test_split)

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Training and test frames (``text, label, id``)."""
        return label_frame(self.name, self.train_source), label_frame(self.name, self.test_source)

    def texts(self) -> list[str]:
        """The test texts (the training texts are encoded too; they are the training side)."""
        return self.frames()[1]["text"].to_list()

    def dataset_hash(self) -> str:
        """Content hash of the files the train and test sources read."""
        return source_hash(self.train_source, self.test_source)

    def _classifier(self) -> object:
        if self.method == "knn":
            from sklearn.neighbors import KNeighborsClassifier

            return KNeighborsClassifier(n_neighbors=self.k, metric="cosine")
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=self.max_iter, random_state=self.seed)

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Fit on each undersampled training set, predict the test texts, average the scores."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        train, test = self.frames()
        index = label_index(self.source, train, test)
        unknown = sorted(set(test["label"]) - set(train["label"]))
        y_train = np.array([index[x] for x in train["label"]])
        y_test = np.array([index[x] for x in test["label"]])
        chosen = undersample(y_train, self.n_experiments, self.samples_per_label, self.seed)
        union = sorted(set().union(*chosen))
        train_texts = train["text"].to_list()
        union_emb = encode_texts(encoder, [train_texts[i] for i in union])
        position = {j: p for p, j in enumerate(union)}
        test_emb = encode_texts(encoder, test["text"].to_list())
        per_experiment = []
        correct = np.zeros(len(y_test))
        for picked in chosen:
            model = self._classifier()
            model.fit(union_emb[[position[j] for j in picked]], y_train[picked])  # type: ignore[attr-defined]
            pred = model.predict(test_emb)  # type: ignore[attr-defined]
            correct += pred == y_test
            per_experiment.append(class_scores(y_test, pred))
        metrics = {m: float(np.mean([e[m] for e in per_experiment])) for m in CLASS_METRICS}
        return build_result(
            self,
            encoder,
            dataset=source_label(self.test_source),
            dataset_hash=self.dataset_hash(),
            main_metric="accuracy",
            metrics=metrics,
            per_item={"id": test["id"].to_list(), "correct": (correct / len(chosen)).tolist()},
            aggregations={"accuracy": "mean:correct"},
            started=started,
            extra={
                "n_train": train.height,
                "n_test": test.height,
                "n_labels": len(index),
                "test_labels_not_in_train": unknown,
                "per_experiment": per_experiment,
                "accuracy_std": float(np.std([e["accuracy"] for e in per_experiment])),
            },
        )
