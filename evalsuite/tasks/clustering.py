"""Clustering of labelled texts, following mteb's protocol (``AbsTaskClustering``), with per-subset data.

The texts' embeddings are sampled ``n_subsets`` times, ``subset_size`` texts each, with replacement
(mteb: ``random.Random(seed).choices``, one generator for all subsets); each sample is clustered by
``MiniBatchKMeans(n_clusters = number of labels, batch_size=512, init="k-means++", n_init=1,
random_state=seed)`` and scored by its V-measure against the labels. ``v_measure`` (main) is the mean
over subsets, as mteb reports it; ``ami`` (adjusted mutual information) likewise.

Per subset: ``v_measure`` and ``ami``, so the bootstrap CI and the paired test resample subsets (the
same subsets for every model: they depend only on the seed and the number of texts).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from embedbench.data.spec import SourceSpec
from embedbench.encode import Encoder
from embedbench.evalsuite.tasks.base import (
    SourceTask,
    build_result,
    encode_texts,
    require_encoder,
    source_label,
)
from embedbench.evalsuite.tasks.classification import label_frame
from embedbench.evalsuite.types import TaskResult


def cluster_subsets(
    emb: np.ndarray, labels: np.ndarray, *, n_subsets: int, subset_size: int, batch_size: int, seed: int
) -> dict[str, list[float]]:
    """mteb's ``_evaluate_clustering_bootstrapped`` for one level of labels: V-measure and AMI per subset."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics.cluster import adjusted_mutual_info_score, v_measure_score

    rng = random.Random(seed)
    n_clusters = np.unique(labels).size
    out: dict[str, list[float]] = {"v_measure": [], "ami": []}
    for _ in range(n_subsets):
        picked = rng.choices(range(len(emb)), k=subset_size)
        model = MiniBatchKMeans(
            n_clusters=n_clusters, batch_size=batch_size, init="k-means++", n_init=1, random_state=seed
        )
        assigned = model.fit_predict(emb[picked])
        out["v_measure"].append(float(v_measure_score(labels[picked], assigned)))
        out["ami"].append(float(adjusted_mutual_info_score(labels[picked], assigned)))
    return out


@dataclass(frozen=True)
class ClusteringTask(SourceTask):
    """k-means clusters of a labelled source's texts against its labels (mteb's protocol).

    Args:
        name: task name in results.
        source: a labelled source (``text``, ``label``), e.g. a split of a JSON object of splits.
        n_subsets: samples clustered (mteb: 10).
        subset_size: texts per sample, drawn with replacement (mteb: 16,384; its Banking77 task here: 2,048).
        batch_size: mini-batch k-means batch size (mteb: 512).
        seed: mteb's task seed (42).
    """

    name: str
    source: SourceSpec
    n_subsets: int = 10
    subset_size: int = 16_384
    batch_size: int = 512
    seed: int = 42
    task_type: str = "clustering"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("n_subsets", "subset_size", "batch_size")

    def frame(self) -> pl.DataFrame:
        """``text, label, id``."""
        return label_frame(self.name, self.source)

    def texts(self) -> list[str]:
        """Every text the task clusters."""
        return self.frame()["text"].to_list()

    def evaluate(self, encoder: Encoder) -> TaskResult:
        """Cluster ``n_subsets`` samples of the embeddings; V-measure per sample and its mean."""
        started = time.perf_counter()
        encoder = require_encoder(encoder, self.name)
        df = self.frame()
        emb = encode_texts(encoder, df["text"].to_list())
        codes = {name: i for i, name in enumerate(sorted(set(df["label"])))}
        labels = np.array([codes[x] for x in df["label"]])
        scores = cluster_subsets(
            emb, labels, n_subsets=self.n_subsets, subset_size=self.subset_size, batch_size=self.batch_size,
            seed=self.seed,
        )
        return build_result(
            self,
            encoder,
            dataset=source_label(self.source),
            dataset_hash=self.dataset_hash(),
            main_metric="v_measure",
            metrics={m: float(np.mean(v)) for m, v in scores.items()},
            per_item={"id": [str(i) for i in range(self.n_subsets)], **scores},
            aggregations={"v_measure": "mean:v_measure", "ami": "mean:ami"},
            started=started,
            extra={
                "n_texts": df.height,
                "n_labels": len(codes),
                "v_measure_std": float(np.std(scores["v_measure"])),
            },
        )
